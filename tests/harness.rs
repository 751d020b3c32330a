//! Issue 20: rekey and the Harness NextGen API, driven against a fake Harness on
//! 127.0.0.1 (`harness_api`): `harness tokens`, the settings and their refusals, the
//! gated `revoke --harness-token`, `check --ready-to-revoke --harness-token` and
//! `rotate --new-token-harness`. No test reaches the network, and neither the API key nor
//! any token value is ever in an output.

mod common;
mod harness_api;

use common::*;
use harness_api::*;
use std::fs;
use std::path::Path;

const OLD_NAME: &str = "prod-2023";
const NEW_NAME: &str = "prod-2024";

/// A fake Harness holding token `prod-2023` (the fixtures' old token) used by `groups`.
fn harness(groups: Vec<serde_json::Value>) -> Fake {
    Fake::start(State {
        tokens: vec![(
            OLD_NAME.to_owned(),
            "ACTIVE".to_owned(),
            Some(OLD_BASE64.to_owned()),
            1_714_564_800_000,
        )],
        groups: groups
            .into_iter()
            .map(|g| (OLD_NAME.to_owned(), g))
            .collect(),
        created_value: NEW_BASE64.to_owned(),
        ..State::default()
    })
}

/// Runs rekey against `fake` with `extra` environment; nothing printed may hold a
/// token or the key.
fn run(fake: &Fake, cwd: &Path, args: &[&str], extra: &[(&str, &str)]) -> Run {
    let env = fake.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    let run = rekey_with(cwd, args, &all, None);
    assert_clean(&run);
    run
}

fn assert_clean(run: &Run) {
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert_no_token(text, name);
        for piece in KEY.as_bytes().windows(12) {
            let piece = std::str::from_utf8(piece).unwrap();
            assert!(!text.contains(piece), "{name} holds the API key:\n{text}");
        }
    }
}

const VALIDATE: &str = r#"
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
errors = list(Draft202012Validator(schema).iter_errors(json.loads(sys.argv[2])))
for error in errors:
    print("/".join(str(p) for p in error.absolute_path) + ": " + error.message)
sys.exit(1 if errors else 0)
"#;

fn assert_matches_schema(json: &str) {
    assert_matches(json, "rekey.harness-tokens.v1.json");
}

fn assert_matches(json: &str, schema: &str) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(schema);
    let output = std::process::Command::new("python3")
        .args(["-c", VALIDATE])
        .arg(schema)
        .arg(json)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

// 1. `rekey harness tokens` and the settings.

#[test]
fn harness_tokens_lists_each_token_with_its_fingerprint_and_delegate_groups() {
    let fake = harness(vec![group("k8s-prod", true, now_ms())]);
    let dir = tempfile::tempdir().unwrap();
    let text = run(&fake, dir.path(), &["harness", "tokens"], &[]);
    assert_eq!(text.status, 0, "{}", text.stderr);
    assert!(
        text.stdout.starts_with(&format!(
            "{OLD_NAME}  ACTIVE  {OLD_FINGERPRINT}\n  created 2024-05-01T12:00:00Z, revoke after -\n  group k8s-prod: connected, last heartbeat "
        )),
        "{}",
        text.stdout
    );
    let json = run(
        &fake,
        dir.path(),
        &[
            "harness", "tokens", "--status", "active", "--format", "json",
        ],
        &[],
    );
    assert_eq!(json.status, 0, "{}", json.stderr);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["schema"], "rekey.harness-tokens/v1");
    assert_eq!(value["tokens"][0]["fingerprint"], OLD_FINGERPRINT);
    assert_eq!(value["tokens"][0]["delegates"][0]["group"], "k8s-prod");
    assert_eq!(value["tokens"][0]["delegates"][0]["connected"], true);
    assert_matches_schema(&json.stdout);
    assert!(
        fake.log().iter().any(|r| r.contains("status=ACTIVE")),
        "{:?}",
        fake.log()
    );
}

#[test]
fn a_token_whose_value_the_key_cannot_read_has_a_null_fingerprint_and_a_note() {
    let fake = harness(vec![]);
    fake.state.lock().unwrap().tokens[0].2 = None;
    let dir = tempfile::tempdir().unwrap();
    let json = run(
        &fake,
        dir.path(),
        &["harness", "tokens", "--format", "json"],
        &[],
    );
    assert_eq!(json.status, 0, "{}", json.stderr);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(
        value["tokens"][0]["fingerprint"].is_null(),
        "{}",
        json.stdout
    );
    assert!(
        json.stderr.contains("this API key cannot read"),
        "{}",
        json.stderr
    );
    assert_matches_schema(&json.stdout);
}

#[test]
fn a_wrong_key_is_refused_with_401_and_neither_key_is_printed() {
    let fake = harness(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let wrong = "pat.FakeAccount.wrongKEY5678.notTheRightMaterial000";
    let run = run(
        &fake,
        dir.path(),
        &["harness", "tokens"],
        &[("HARNESS_PLATFORM_API_KEY", wrong)],
    );
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("Harness GET /ng/api/delegate-token-ng: 401: Invalid API key <api key>; the API key was refused: check HARNESS_PLATFORM_API_KEY"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("wrongKEY5678"), "{}", run.stderr);
    // A 4xx is not retried.
    assert_eq!(fake.count("GET "), 1, "{:?}", fake.log());
}

#[test]
fn a_503_once_on_a_read_is_retried() {
    let fake = harness(vec![]);
    fake.state.lock().unwrap().failures.push((
        "GET".into(),
        "/ng/api/delegate-token-ng".into(),
        503,
    ));
    let dir = tempfile::tempdir().unwrap();
    let run = run(&fake, dir.path(), &["harness", "tokens"], &[]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with(OLD_NAME), "{}", run.stdout);
    // Two token lists (the failed one and its retry), then the groups.
    assert_eq!(
        fake.count("GET /ng/api/delegate-token-ng?"),
        2,
        "{:?}",
        fake.log()
    );
}

#[test]
fn an_error_body_holding_a_token_value_is_masked() {
    let fake = harness(vec![]);
    // A server that answers a 500 with the old token's value in its message, three times.
    let dir = tempfile::tempdir().unwrap();
    fake.state.lock().unwrap().failure_message = Some(format!("token {OLD_HEX} is broken"));
    for _ in 0..3 {
        fake.state.lock().unwrap().failures.push((
            "GET".into(),
            "/ng/api/delegate-token-ng/delegate-groups".into(),
            500,
        ));
    }
    let run = run(&fake, dir.path(), &["harness", "tokens"], &[]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("Harness GET /ng/api/delegate-token-ng/delegate-groups: 500: token <redacted {OLD_FINGERPRINT}> is broken")),
        "{}",
        run.stderr
    );
    assert_eq!(
        fake.count("GET /ng/api/delegate-token-ng/delegate-groups"),
        3,
        "{:?}",
        fake.log()
    );
}

#[test]
fn plain_http_to_an_address_that_is_not_loopback_is_refused_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("HARNESS_ENDPOINT", "http://0.0.0.0:9"),
        ("HARNESS_ACCOUNT_ID", ACCOUNT),
        ("HARNESS_PLATFORM_API_KEY", KEY),
    ];
    let run = rekey_with(dir.path(), &["harness", "tokens"], &env, None);
    assert_clean(&run);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("HARNESS_ENDPOINT: http://0.0.0.0:9: http:// is refused except on a loopback address (127.0.0.0/8, ::1)"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("cannot reach"), "{}", run.stderr);
}

#[test]
fn the_harness_table_of_the_policy_names_the_endpoint_and_account() {
    let fake = harness(vec![]);
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(".rekey.toml"),
        format!(
            "[harness]\nendpoint = \"{}\"\naccount = \"{ACCOUNT}\"\n",
            fake.endpoint
        ),
    )
    .unwrap();
    let env = [("HARNESS_ENDPOINT", ""), ("HARNESS_PLATFORM_API_KEY", KEY)];
    let run = rekey_with(dir.path(), &["harness", "tokens"], &env, None);
    assert_clean(&run);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with(OLD_NAME), "{}", run.stdout);
}

#[test]
fn an_api_key_in_the_policy_file_is_an_error_naming_its_line() {
    let fake = harness(vec![]);
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(".rekey.toml"),
        format!(
            "[tokens]\ncurrent = []\n\n[harness]\naccount = \"{ACCOUNT}\"\napi_key = \"{KEY}\"\n"
        ),
    )
    .unwrap();
    let run = run(&fake, dir.path(), &["harness", "tokens"], &[]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            ".rekey.toml:6:11: [harness] api_key: an API key never stands in .rekey.toml"
        ),
        "{}",
        run.stderr
    );
    assert!(fake.log().is_empty(), "{:?}", fake.log());
}

#[test]
fn an_api_key_file_others_can_read_is_refused_and_a_private_one_is_used() {
    use std::os::unix::fs::PermissionsExt;
    let fake = harness(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("harness.key");
    fs::write(&key, format!("{KEY}\n")).unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let args = ["harness", "tokens", "--api-key-file", "harness.key"];
    let no_env_key = [("HARNESS_PLATFORM_API_KEY", "")];
    let open = run(&fake, dir.path(), &args, &no_env_key);
    assert_eq!(open.status, 2, "{}", open.stderr);
    assert!(
        open.stderr.contains("harness.key: --api-key-file: the key file is readable by others (mode 644): run chmod 600 on it"),
        "{}",
        open.stderr
    );
    assert!(fake.log().is_empty(), "{:?}", fake.log());
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let private = run(&fake, dir.path(), &args, &no_env_key);
    assert_eq!(private.status, 0, "{}", private.stderr);
}

#[test]
fn a_missing_key_says_where_to_give_it() {
    let fake = harness(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let run = run(
        &fake,
        dir.path(),
        &["harness", "tokens"],
        &[("HARNESS_PLATFORM_API_KEY", "")],
    );
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("no Harness API key: set HARNESS_PLATFORM_API_KEY, or name a file that holds it with --api-key-file"),
        "{}",
        run.stderr
    );
}

// 2. `rekey revoke FP --harness-token NAME`.

/// A directory whose `.rekey.toml` lists the old and the new token as current.
fn policy_dir() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("# the tokens in force\n[tokens]\ncurrent = [\"{OLD_FINGERPRINT}\", \"{NEW_FINGERPRINT}\"]\n");
    fs::write(dir.path().join(".rekey.toml"), &text).unwrap();
    (dir, text)
}

fn policy_text(dir: &Path) -> String {
    fs::read_to_string(dir.join(".rekey.toml")).unwrap()
}

const TWENTY_MINUTES: i64 = 20 * 60 * 1000;

#[test]
fn revoke_with_a_harness_token_revokes_it_in_harness_then_in_the_policy() {
    let fake = harness(vec![group("k8s-prod", false, now_ms() - TWENTY_MINUTES)]);
    let (dir, _) = policy_dir();
    let args = ["revoke", OLD_FINGERPRINT, "--harness-token", OLD_NAME];
    let run = run(&fake, dir.path(), &args, &[]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with(&format!("Revoked Harness token {OLD_NAME} ({OLD_FINGERPRINT}).\nRevoked in .rekey.toml: {OLD_FINGERPRINT}.")),
        "{}",
        run.stdout
    );
    assert_eq!(fake.status_of(OLD_NAME).as_deref(), Some("REVOKED"));
    assert_eq!(fake.count("PUT "), 1, "{:?}", fake.log());
    let policy = policy_text(dir.path());
    assert!(
        policy.contains(&format!("revoked = [\"{OLD_FINGERPRINT}\"]")),
        "{policy}"
    );
}

#[test]
fn revoke_is_refused_while_a_delegate_is_connected_or_beat_in_the_last_ten_minutes() {
    for (connected, beat, state) in [
        (true, now_ms() - TWENTY_MINUTES, "actively connected"),
        (false, now_ms() - 120_000, "not connected"),
    ] {
        let fake = harness(vec![group("k8s-prod", connected, beat)]);
        let (dir, before) = policy_dir();
        let args = ["revoke", OLD_FINGERPRINT, "--harness-token", OLD_NAME];
        let run = run(&fake, dir.path(), &args, &[]);
        assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains(&format!("Harness token {OLD_NAME}: delegate k8s-prod-0 of group k8s-prod is {state}, last heartbeat ")),
            "{}",
            run.stdout
        );
        assert!(
            run.stderr.contains(&format!(
                "not revoking Harness token {OLD_NAME}: 2 delegates on it may still be alive"
            )),
            "{}",
            run.stderr
        );
        assert_eq!(fake.count("PUT "), 0, "{:?}", fake.log());
        assert_eq!(fake.status_of(OLD_NAME).as_deref(), Some("ACTIVE"));
        assert_eq!(policy_text(dir.path()), before);
    }
}

#[test]
fn a_failed_put_revokes_nothing_and_leaves_the_policy_as_it_was() {
    let fake = harness(vec![]);
    fake.state.lock().unwrap().failures.push((
        "PUT".into(),
        "/ng/api/delegate-token-ng".into(),
        503,
    ));
    let (dir, before) = policy_dir();
    let args = ["revoke", OLD_FINGERPRINT, "--harness-token", OLD_NAME];
    let run = run(&fake, dir.path(), &args, &[]);
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!("Harness PUT /ng/api/delegate-token-ng: 503: Service Unavailable; Harness token {OLD_NAME} is not revoked, and the policy file was left as it was")),
        "{}",
        run.stderr
    );
    assert_eq!(fake.count("PUT "), 1, "{:?}", fake.log());
    assert_eq!(policy_text(dir.path()), before);
}

#[test]
fn revoking_an_unknown_harness_token_is_an_error() {
    let fake = harness(vec![]);
    let (dir, before) = policy_dir();
    let args = [
        "revoke",
        OLD_FINGERPRINT,
        "--harness-token",
        "no-such-token",
    ];
    let run = run(&fake, dir.path(), &args, &[]);
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!("Harness has no delegate token no-such-token in account {ACCOUNT}: check the name (`rekey harness tokens` lists them)")),
        "{}",
        run.stderr
    );
    assert_eq!(fake.count("PUT "), 0);
    assert_eq!(policy_text(dir.path()), before);
}

#[test]
fn revoking_a_harness_token_that_holds_another_fingerprint_is_an_error() {
    let fake = harness(vec![]);
    let (dir, before) = policy_dir();
    let args = ["revoke", NEW_FINGERPRINT, "--harness-token", OLD_NAME];
    let run = run(&fake, dir.path(), &args, &[]);
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "Harness token {OLD_NAME} is {OLD_FINGERPRINT}, not {NEW_FINGERPRINT}"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(fake.count("PUT "), 0);
    assert_eq!(policy_text(dir.path()), before);
}

// 3. `rekey check --ready-to-revoke FP --harness-token NAME`.

/// A directory holding one delegate's `.env`, on the new token.
fn rotated_inputs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(".env"),
        format!("DELEGATE_TOKEN={NEW_HEX}\n"),
    )
    .unwrap();
    dir
}

fn ready(fake: &Fake, dir: &Path, name: &str) -> Run {
    let args = [
        "check",
        "--ready-to-revoke",
        OLD_FINGERPRINT,
        "--harness-token",
        name,
        ".",
    ];
    run(fake, dir, &args, &[])
}

#[test]
fn ready_to_revoke_asks_harness_and_is_ready_when_no_delegate_is_alive() {
    let fake = harness(vec![group("k8s-prod", false, now_ms() - TWENTY_MINUTES)]);
    let dir = rotated_inputs();
    let run = ready(&fake, dir.path(), OLD_NAME);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.starts_with(&format!("Harness token {OLD_NAME}: no delegate on it is connected or sent a heartbeat in the last 10 minutes\n")),
        "{}",
        run.stdout
    );
    assert!(
        fake.log()
            .iter()
            .any(|r| r.contains("delegateTokenName=prod-2023")),
        "{:?}",
        fake.log()
    );
}

#[test]
fn ready_to_revoke_is_not_ready_while_harness_shows_a_connected_delegate() {
    let fake = harness(vec![group("k8s-prod", true, now_ms())]);
    let dir = rotated_inputs();
    let run = ready(&fake, dir.path(), OLD_NAME);
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!(
            "Harness token {OLD_NAME}: group k8s-prod is actively connected"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "Harness token {OLD_NAME}: delegate k8s-prod-0 of group k8s-prod is actively connected"
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn ready_to_revoke_cannot_tell_when_harness_cannot_be_read_or_holds_another_token() {
    let fake = harness(vec![]);
    let dir = rotated_inputs();
    let other = ready(&fake, dir.path(), OLD_NAME.replace("2023", "x").as_str());
    assert_eq!(other.status, 2, "{}{}", other.stdout, other.stderr);
    assert!(
        other
            .stdout
            .contains("Harness: cannot tell: Harness has no delegate token prod-x"),
        "{}",
        other.stdout
    );
    // Nothing listens on port 9: unreachable is "cannot tell", never "ready".
    let args = [
        "check",
        "--ready-to-revoke",
        OLD_FINGERPRINT,
        "--harness-token",
        OLD_NAME,
        ".",
    ];
    let down = run(
        &fake,
        dir.path(),
        &args,
        &[("HARNESS_ENDPOINT", "http://127.0.0.1:9")],
    );
    assert_eq!(down.status, 2, "{}{}", down.stdout, down.stderr);
    assert!(down.stdout.contains("Harness: cannot tell: Harness GET /ng/api/delegate-token-ng: cannot reach http://127.0.0.1:9"), "{}", down.stdout);
    let args = [
        "check",
        "--ready-to-revoke",
        NEW_FINGERPRINT,
        "--harness-token",
        OLD_NAME,
        ".",
    ];
    let mismatch = run(&fake, dir.path(), &args, &[]);
    assert_eq!(mismatch.status, 2, "{}{}", mismatch.stdout, mismatch.stderr);
    assert!(
        mismatch.stdout.contains(&format!(
            "Harness token {OLD_NAME} is {OLD_FINGERPRINT}, not {NEW_FINGERPRINT}"
        )),
        "{}",
        mismatch.stdout
    );
}

// 4. `rekey rotate --new-token-harness NAME`.

/// A directory holding one delegate's `.env`, on the old token.
fn old_inputs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(".env"),
        format!("DELEGATE_TOKEN={OLD_HEX}\n"),
    )
    .unwrap();
    dir
}

fn env_file(dir: &Path) -> String {
    fs::read_to_string(dir.join(".env")).unwrap()
}

#[test]
fn rotate_creates_the_harness_token_once_and_a_rerun_reuses_it() {
    let fake = harness(vec![]);
    let dir = old_inputs();
    let args = ["rotate", "--new-token-harness", NEW_NAME, "--write"];
    let first = run(&fake, dir.path(), &args, &[]);
    assert_eq!(first.status, 0, "{}{}", first.stdout, first.stderr);
    assert!(
        first.stderr.contains(&format!(
            "new token: Harness token {NEW_NAME} ({NEW_FINGERPRINT})"
        )),
        "{}",
        first.stderr
    );
    assert!(
        first
            .stdout
            .contains(&format!("Rotated {OLD_FINGERPRINT} -> {NEW_FINGERPRINT}")),
        "{}",
        first.stdout
    );
    assert_eq!(env_file(dir.path()), format!("DELEGATE_TOKEN={NEW_HEX}\n"));
    assert_eq!(fake.count("POST "), 1, "{:?}", fake.log());
    let again = run(&fake, dir.path(), &args, &[]);
    assert_eq!(again.status, 0, "{}{}", again.stdout, again.stderr);
    assert_eq!(
        fake.count("POST "),
        1,
        "a rerun created a second token: {:?}",
        fake.log()
    );
}

#[test]
fn a_dry_run_changes_nothing_in_harness() {
    let fake = harness(vec![]);
    let dir = old_inputs();
    let run = run(
        &fake,
        dir.path(),
        &["rotate", "--new-token-harness", NEW_NAME],
        &[],
    );
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!("Harness has no delegate token {NEW_NAME} yet, and a dry run creates nothing: rerun with --write or --commit")),
        "{}",
        run.stderr
    );
    assert_eq!(fake.count("POST "), 0);
    assert_eq!(env_file(dir.path()), format!("DELEGATE_TOKEN={OLD_HEX}\n"));
}

#[test]
fn rotating_to_a_revoked_harness_token_is_an_error() {
    let fake = harness(vec![]);
    fake.state.lock().unwrap().tokens[0].1 = "REVOKED".into();
    let dir = old_inputs();
    let run = run(
        &fake,
        dir.path(),
        &["rotate", "--new-token-harness", OLD_NAME, "--write"],
        &[],
    );
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "Harness token {OLD_NAME} is revoked: name a new token for --new-token-harness"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(fake.count("POST "), 0);
}

#[test]
fn a_failed_post_is_never_repeated_and_a_token_it_created_anyway_is_used() {
    let args = ["rotate", "--new-token-harness", NEW_NAME, "--write"];
    // The POST fails and created nothing: nothing is written.
    let fake = harness(vec![]);
    fake.state.lock().unwrap().failures.push((
        "POST".into(),
        "/ng/api/delegate-token-ng".into(),
        503,
    ));
    let dir = old_inputs();
    let failed = run(&fake, dir.path(), &args, &[]);
    assert_eq!(failed.status, 2, "{}{}", failed.stdout, failed.stderr);
    assert!(
        failed.stderr.contains(&format!("Harness POST /ng/api/delegate-token-ng: 503: Service Unavailable; Harness token {NEW_NAME} was not created and nothing was written")),
        "{}",
        failed.stderr
    );
    assert_eq!(fake.count("POST "), 1, "{:?}", fake.log());
    assert_eq!(env_file(dir.path()), format!("DELEGATE_TOKEN={OLD_HEX}\n"));
    // The POST landed but its answer was lost: the list by name finds the token.
    let fake = harness(vec![]);
    {
        let mut state = fake.state.lock().unwrap();
        state
            .failures
            .push(("POST".into(), "/ng/api/delegate-token-ng".into(), 503));
        state.post_lands_anyway = true;
    }
    let landed = run(&fake, dir.path(), &args, &[]);
    assert_eq!(landed.status, 0, "{}{}", landed.stdout, landed.stderr);
    assert_eq!(fake.count("POST "), 1, "{:?}", fake.log());
    assert_eq!(env_file(dir.path()), format!("DELEGATE_TOKEN={NEW_HEX}\n"));
}

#[test]
fn inventory_json_names_each_token_as_harness_does_when_an_account_is_set() {
    let fake = harness(vec![]);
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(".env"),
        format!("DELEGATE_TOKEN={OLD_HEX}\n"),
    )
    .unwrap();
    let named = run(&fake, dir.path(), &["inventory", "--format", "json"], &[]);
    assert_eq!(named.status, 0, "{}", named.stderr);
    assert!(
        named.stdout.contains(&format!(
            "\"fingerprint\": \"{OLD_FINGERPRINT}\",\n          \"state\": \"unknown\",\n          \"harness_token\": \"{OLD_NAME}\""
        )),
        "{}",
        named.stdout
    );
    assert_matches(&named.stdout, "rekey.inventory.v1.json");
    assert_eq!(fake.count("GET "), 1, "{:?}", fake.log());
    // Text output, and JSON without an account, never ask Harness.
    let text = run(&fake, dir.path(), &["inventory"], &[]);
    assert_eq!(text.status, 0, "{}", text.stderr);
    let plain = run(
        &fake,
        dir.path(),
        &["inventory", "--format", "json"],
        &[("HARNESS_ACCOUNT_ID", "")],
    );
    assert_eq!(plain.status, 0, "{}", plain.stderr);
    assert!(!plain.stdout.contains("harness_token"), "{}", plain.stdout);
    assert_eq!(fake.count("GET "), 1, "{:?}", fake.log());
}

#[test]
fn inventory_json_without_harness_says_so_and_still_lists_the_delegates() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(".env"),
        format!("DELEGATE_TOKEN={OLD_HEX}\n"),
    )
    .unwrap();
    let env = [
        ("HARNESS_ENDPOINT", "http://127.0.0.1:9"),
        ("HARNESS_ACCOUNT_ID", ACCOUNT),
        ("HARNESS_PLATFORM_API_KEY", KEY),
    ];
    let run = rekey_with(dir.path(), &["inventory", "--format", "json"], &env, None);
    assert_clean(&run);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("Harness token names are not shown: "),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains(OLD_FINGERPRINT) && !run.stdout.contains("harness_token"));
}
