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

// 5. What a hostile tester found (issue 20): every answer rekey cannot read is "cannot
// tell" (exit 2), never "no delegate", and nothing is revoked on it.

/// `revoke OLD --harness-token prod-2023` in a policy directory: refused with exit 2, no
/// PUT sent and the policy file as it was; the run, for its message.
fn revoke_refused(fake: &Fake) -> Run {
    let (dir, before) = policy_dir();
    let args = ["revoke", OLD_FINGERPRINT, "--harness-token", OLD_NAME];
    let run = run(fake, dir.path(), &args, &[]);
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    assert_eq!(fake.count("PUT "), 0, "{:?}", fake.log());
    assert_eq!(policy_text(dir.path()), before);
    run
}

/// `check --ready-to-revoke OLD --harness-token prod-2023`: cannot tell (exit 2), and
/// the Harness line says `why`.
fn assert_cannot_tell(fake: &Fake, why: &str) {
    let dir = rotated_inputs();
    let check = ready(fake, dir.path(), OLD_NAME);
    assert_eq!(check.status, 2, "{}{}", check.stdout, check.stderr);
    assert!(
        check
            .stdout
            .contains(&format!("Harness: cannot tell: {why}")),
        "{}",
        check.stdout
    );
    let revoke = revoke_refused(fake);
    assert!(revoke.stderr.contains(why), "{}", revoke.stderr);
}

fn answering(groups: Vec<serde_json::Value>, answers: Vec<Answer>) -> Fake {
    let fake = harness(groups);
    fake.state.lock().unwrap().answers = answers;
    fake
}

#[test]
fn a_delegate_groups_answer_without_a_list_of_groups_cannot_tell() {
    let no_list = "Harness GET /ng/api/delegate-token-ng/delegate-groups: the answer does not hold a list of delegate groups (resource.delegateGroupDetails), so rekey cannot tell which delegates use the token";
    for body in [
        r#"{"resource":{}}"#,
        r#"{"resource":null}"#,
        "{}",
        r#"{"resource":"garbage"}"#,
        r#"{"resource":{"delegateGroupDetails":null}}"#,
        r#"{"data":{"delegateGroupDetails":[{"groupName":"g","activelyConnected":true}]}}"#,
    ] {
        let fake = answering(vec![], vec![answer("GET", GROUPS_PATH, 200, body)]);
        assert_cannot_tell(&fake, no_list);
    }
}

#[test]
fn an_envelope_with_status_error_is_an_error_for_every_call() {
    let body = r#"{"metaData":null,"status":"ERROR","message":"boom"}"#;
    let fake = answering(vec![], vec![answer("GET", GROUPS_PATH, 200, body)]);
    assert_cannot_tell(
        &fake,
        "Harness GET /ng/api/delegate-token-ng/delegate-groups: Harness answered with status ERROR: boom",
    );
    let listed = r#"{"status":"ERROR","message":"denied","resource":[{"name":"prod-2023","status":"ACTIVE"}]}"#;
    let fake = answering(vec![], vec![answer("GET", TOKENS_PATH, 200, listed)]);
    let dir = tempfile::tempdir().unwrap();
    let tokens = run(&fake, dir.path(), &["harness", "tokens"], &[]);
    assert_eq!(tokens.status, 2, "{}{}", tokens.stdout, tokens.stderr);
    assert!(
        tokens.stderr.contains(
            "Harness GET /ng/api/delegate-token-ng: Harness answered with status ERROR: denied"
        ),
        "{}",
        tokens.stderr
    );
    // A PUT answered so revokes nothing in the policy.
    let put =
        r#"{"status":"ERROR","message":"nope","resource":{"name":"prod-2023","status":"REVOKED"}}"#;
    let fake = answering(vec![], vec![answer("PUT", TOKENS_PATH, 200, put)]);
    let (dir, before) = policy_dir();
    let args = ["revoke", OLD_FINGERPRINT, "--harness-token", OLD_NAME];
    let revoke = run(&fake, dir.path(), &args, &[]);
    assert_eq!(revoke.status, 2, "{}{}", revoke.stdout, revoke.stderr);
    assert!(
        revoke.stderr.contains(
            "Harness PUT /ng/api/delegate-token-ng: Harness answered with status ERROR: nope"
        ),
        "{}",
        revoke.stderr
    );
    assert_eq!(policy_text(dir.path()), before);
}

#[test]
fn a_paged_answer_with_more_pages_cannot_tell() {
    let body = r#"{"status":"SUCCESS","resource":{"delegateGroupDetails":[],"pageIndex":0,"totalPages":2,"totalItems":1}}"#;
    let fake = answering(vec![], vec![answer("GET", GROUPS_PATH, 200, body)]);
    assert_cannot_tell(
        &fake,
        "Harness GET /ng/api/delegate-token-ng/delegate-groups: the answer is one page of 2, and rekey reads only whole lists, so it cannot tell from this one",
    );
    let listed = r#"{"status":"SUCCESS","resource":[{"name":"prod-2023","status":"ACTIVE","value":"YTFiMmMzZDRlNWY2MDcxODI5M2E0YjVjNmQ3ZThmOTA="}],"metaData":{"totalPages":3}}"#;
    let fake = answering(vec![], vec![answer("GET", TOKENS_PATH, 200, listed)]);
    assert_cannot_tell(
        &fake,
        "Harness GET /ng/api/delegate-token-ng: the answer is one page of 3, and rekey reads only whole lists",
    );
}

#[test]
fn delegate_fields_rekey_cannot_read_cannot_tell() {
    use serde_json::json;
    let now = now_ms();
    let range = "is not a time from 2015 to tomorrow in epoch milliseconds";
    let whole = "is not a whole number of epoch milliseconds";
    let cases = [
        (json!({"groupName": "g-sec", "activelyConnected": false, "lastHeartBeat": now / 1000}), format!("group g-sec: lastHeartBeat {range}")),
        (json!({"groupName": "g-ns", "activelyConnected": false, "lastHeartBeat": now * 1_000_000}), format!("group g-ns: lastHeartBeat {range}")),
        (json!({"groupName": "g-future", "activelyConnected": false, "lastHeartBeat": now + 1_000_000_000}), format!("group g-future: lastHeartBeat {range}")),
        (json!({"groupName": "g-neg", "activelyConnected": false, "lastHeartBeat": i64::MIN}), format!("group g-neg: lastHeartBeat {range}")),
        (json!({"groupName": "g-float", "activelyConnected": false, "lastHeartBeat": now as f64}), format!("group g-float: lastHeartBeat {whole}")),
        (json!({"groupName": "g-u64", "activelyConnected": false, "lastHeartBeat": (1u64 << 63) + 5}), format!("group g-u64: lastHeartBeat {whole}")),
        (json!({"groupName": "g-str", "activelyConnected": false, "lastHeartBeat": now.to_string()}), "group g-str: lastHeartBeat is a string, not a number of epoch milliseconds".to_owned()),
        (json!({"groupName": "g-iso", "activelyConnected": false, "lastHeartBeat": "2024-05-01T12:00:00Z"}), "group g-iso: lastHeartBeat is a string, not a number of epoch milliseconds".to_owned()),
        (json!({"groupName": "g-strbool", "activelyConnected": "true", "lastHeartBeat": 0}), "group g-strbool: activelyConnected is a string, not true or false".to_owned()),
        (json!({"groupName": "g-one", "activelyConnected": 1, "lastHeartBeat": 0}), "group g-one: activelyConnected is a number, not true or false".to_owned()),
        (json!({"groupName": "g-missing"}), "group g-missing: Harness shows neither activelyConnected nor a heartbeat".to_owned()),
        (json!({"groupName": "g-instobj", "activelyConnected": false, "lastHeartBeat": 0, "delegateInstanceDetails": {"hostName": "h", "activelyConnected": true}}), "group g-instobj: delegateInstanceDetails is an object, not a list".to_owned()),
        (json!({"groupName": "g-inst", "activelyConnected": false, "lastHeartBeat": 0, "delegateInstanceDetails": [{"hostName": "h", "activelyConnected": false, "lastHeartbeat": "now"}]}), "delegate h of group g-inst: lastHeartbeat is a string, not a number of epoch milliseconds".to_owned()),
    ];
    for (group, why) in cases {
        let fake = harness(vec![group]);
        assert_cannot_tell(
            &fake,
            &format!(
                "Harness token {OLD_NAME}: {why}, so rekey cannot tell whether it is still on the token"
            ),
        );
    }
}

#[test]
fn either_spelling_of_the_heartbeat_and_a_heartbeat_up_to_a_day_ahead_count_as_alive() {
    use serde_json::json;
    let now = now_ms();
    let cases = [
        (
            json!({"groupName": "g", "activelyConnected": false, "lastHeartbeat": now}),
            "group g is not connected",
        ),
        (
            json!({"groupName": "g", "activelyConnected": false, "lastHeartBeat": 0, "delegateInstanceDetails": [{"hostName": "h", "activelyConnected": false, "lastHeartBeat": now}]}),
            "delegate h of group g is not connected",
        ),
        (
            json!({"groupName": "g", "activelyConnected": false, "lastHeartBeat": now + 3_600_000}),
            "group g is not connected",
        ),
        (
            json!({"groupName": "g", "activelyConnected": false, "lastHeartBeat": 0, "delegateInstanceDetails": [{"hostName": "h", "activelyConnected": true, "lastHeartbeat": 0}]}),
            "delegate h of group g is actively connected, last heartbeat none",
        ),
    ];
    for (group, line) in cases {
        let fake = harness(vec![group]);
        let dir = rotated_inputs();
        let check = ready(&fake, dir.path(), OLD_NAME);
        assert_eq!(check.status, 1, "{}{}", check.stdout, check.stderr);
        assert!(
            check
                .stdout
                .contains(&format!("Harness token {OLD_NAME}: {line}")),
            "{}",
            check.stdout
        );
    }
}

#[test]
fn a_harness_value_that_is_not_a_delegate_token_is_a_mismatch() {
    let fake = harness(vec![]);
    fake.state.lock().unwrap().tokens[0].2 = Some("not-a-token-value-xyz".into());
    assert_cannot_tell(
        &fake,
        &format!("Harness token {OLD_NAME} holds a value that is not a delegate token (32 hex digits, or base64 of them), so it is not {OLD_FINGERPRINT}: name the Harness token that holds {OLD_FINGERPRINT}"),
    );
}

#[test]
fn a_key_that_cannot_read_values_cannot_prove_the_token_so_revoke_refuses() {
    let fake = harness(vec![]);
    fake.state.lock().unwrap().tokens[0].2 = None;
    assert_cannot_tell(
        &fake,
        &format!("this API key cannot read token values, so rekey cannot check that {OLD_NAME} is {OLD_FINGERPRINT}: use a key that may edit delegate tokens"),
    );
}

#[test]
fn a_put_answer_that_does_not_name_the_token_revoked_leaves_the_policy_as_it_was() {
    for body in [
        r#"{"status":"SUCCESS","resource":{"name":"prod-2023","status":"ACTIVE"}}"#,
        r#"{"status":"SUCCESS","resource":{"name":"other","status":"REVOKED"}}"#,
        r#"{"status":"SUCCESS","resource":{"status":"REVOKED"}}"#,
    ] {
        let fake = answering(vec![], vec![answer("PUT", TOKENS_PATH, 200, body)]);
        let (dir, before) = policy_dir();
        let args = ["revoke", OLD_FINGERPRINT, "--harness-token", OLD_NAME];
        let revoke = run(&fake, dir.path(), &args, &[]);
        assert_eq!(
            revoke.status, 2,
            "{body}: {}{}",
            revoke.stdout, revoke.stderr
        );
        assert!(
            revoke.stderr.contains(&format!("Harness did not confirm that token {OLD_NAME} is revoked; the policy file was left as it was")),
            "{}",
            revoke.stderr
        );
        assert_eq!(fake.count("PUT "), 1, "{:?}", fake.log());
        assert_eq!(policy_text(dir.path()), before);
    }
}

#[test]
fn a_list_holding_the_name_twice_is_an_error() {
    let fake = harness(vec![]);
    fake.state.lock().unwrap().tokens.insert(
        0,
        (
            OLD_NAME.to_owned(),
            "REVOKED".to_owned(),
            Some(OLD_BASE64.to_owned()),
            1_714_564_800_000,
        ),
    );
    assert_cannot_tell(
        &fake,
        &format!(
            "Harness lists 2 tokens named {OLD_NAME}, so rekey cannot tell which one is meant"
        ),
    );
}

// The key the tester used: a PAT whose segments hold characters URL and JSON escape.
const TESTER_KEY: &str = "pat.FakeAcct.Ab+c/DEF=xyz.s3cr3tKEYmaterial987";

/// Every form of the key an answer may echo.
fn key_forms() -> Vec<String> {
    use base64::Engine as _;
    let url = |all: bool| -> String {
        TESTER_KEY
            .bytes()
            .map(|b| {
                if !all && (b.is_ascii_alphanumeric() || b"-._~".contains(&b)) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    vec![
        TESTER_KEY.to_owned(),
        TESTER_KEY.to_ascii_uppercase(),
        TESTER_KEY.to_ascii_lowercase(),
        url(false),
        url(true),
        base64::engine::general_purpose::STANDARD.encode(TESTER_KEY),
        TESTER_KEY.replace('/', "\\/"),
    ]
}

/// No output holds 12 characters of any form of the key, in any case, or its secret
/// segment.
fn assert_no_tester_key(run: &Run) {
    for text in [&run.stdout, &run.stderr] {
        let lower = text.to_ascii_lowercase();
        assert!(!lower.contains("s3cr3tkeymaterial987"), "{text}");
        for form in key_forms() {
            for piece in form.as_bytes().windows(12) {
                let piece = std::str::from_utf8(piece).unwrap().to_ascii_lowercase();
                assert!(!lower.contains(&piece), "{piece} of {form} in:\n{text}");
            }
        }
    }
}

fn tester_run(fake: &Fake, cwd: &Path, args: &[&str]) -> Run {
    fake.state.lock().unwrap().key = Some(TESTER_KEY.to_owned());
    let run = run(fake, cwd, args, &[("HARNESS_PLATFORM_API_KEY", TESTER_KEY)]);
    assert_no_tester_key(&run);
    run
}

#[test]
fn the_api_key_is_masked_in_any_case_and_encoding_and_its_secret_segment_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut echoed = key_forms();
    echoed.push("s3cr3tKEYmaterial987".into());
    echoed.push(TESTER_KEY[..TESTER_KEY.len() / 2].to_owned());
    for form in echoed {
        let body = serde_json::json!({ "message": format!("invalid key {form}") }).to_string();
        let fake = answering(vec![], vec![answer("GET", TOKENS_PATH, 401, body)]);
        let run = tester_run(&fake, dir.path(), &["harness", "tokens"]);
        assert_eq!(run.status, 2, "{}", run.stderr);
        assert!(
            run.stderr
                .contains("Harness GET /ng/api/delegate-token-ng: 401: invalid key <api key>; the API key was refused"),
            "{form}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_200_answer_echoing_the_key_is_masked_in_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let fake = harness(vec![]);
    fake.state.lock().unwrap().tokens[0].0 = TESTER_KEY.to_owned();
    let text = tester_run(&fake, dir.path(), &["harness", "tokens"]);
    assert_eq!(text.status, 0, "{}", text.stderr);
    assert!(
        text.stdout.starts_with("<api key>  ACTIVE"),
        "{}",
        text.stdout
    );
    let json = tester_run(
        &fake,
        dir.path(),
        &["harness", "tokens", "--format", "json"],
    );
    assert_eq!(json.status, 0, "{}", json.stderr);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["tokens"][0]["name"], "<api key>");
    let host = format!("h-{TESTER_KEY}");
    let fake = harness(vec![serde_json::json!({
        "groupName": TESTER_KEY, "activelyConnected": true, "lastHeartBeat": now_ms(),
        "delegateInstanceDetails": [{"hostName": host, "activelyConnected": true, "lastHeartbeat": now_ms()}]
    })]);
    let listed = tester_run(&fake, dir.path(), &["harness", "tokens"]);
    assert_eq!(listed.status, 0, "{}", listed.stderr);
    assert!(
        listed.stdout.contains("group <api key>: connected"),
        "{}",
        listed.stdout
    );
    let inputs = rotated_inputs();
    let args = [
        "check",
        "--ready-to-revoke",
        OLD_FINGERPRINT,
        "--harness-token",
        OLD_NAME,
        ".",
    ];
    let check = tester_run(&fake, inputs.path(), &args);
    assert_eq!(check.status, 1, "{}{}", check.stdout, check.stderr);
    assert!(
        check
            .stdout
            .contains("delegate h-<api key> of group <api key> is actively connected"),
        "{}",
        check.stdout
    );
    let (policy, _) = policy_dir();
    let args = ["revoke", OLD_FINGERPRINT, "--harness-token", OLD_NAME];
    let revoke = tester_run(&fake, policy.path(), &args);
    assert_eq!(revoke.status, 1, "{}{}", revoke.stdout, revoke.stderr);
    assert!(
        revoke
            .stdout
            .contains("group <api key> is actively connected"),
        "{}",
        revoke.stdout
    );
}

/// A fake holding `prod-2023` and `others` more tokens, each with its own value.
fn crowded(others: usize) -> Fake {
    use base64::Engine as _;
    let fake = harness(vec![]);
    let mut state = fake.state.lock().unwrap();
    for i in 0..others {
        let value = format!("{:032x}", 0x1000_0000_0000_0000u128 + i as u128);
        let value = base64::engine::general_purpose::STANDARD.encode(value);
        state.tokens.push((
            format!("t{i}"),
            "ACTIVE".into(),
            Some(value),
            1_714_564_800_000,
        ));
    }
    drop(state);
    fake
}

#[test]
fn a_list_that_ignores_the_name_is_filtered_before_any_other_token_is_read() {
    let fake = crowded(20_000);
    {
        let mut state = fake.state.lock().unwrap();
        state.ignore_name = true;
        // A token of another name that rekey cannot read must not matter.
        state.tokens[5].1 = "BOGUS".into();
    }
    let dir = rotated_inputs();
    let check = ready(&fake, dir.path(), OLD_NAME);
    assert_eq!(check.status, 0, "{}{}", check.stdout, check.stderr);
}

#[test]
fn more_tokens_than_rekey_takes_in_is_an_error_that_says_narrow_the_scope() {
    let dir = tempfile::tempdir().unwrap();
    let fake = crowded(10_000);
    let many = run(&fake, dir.path(), &["harness", "tokens"], &[]);
    assert_eq!(many.status, 2, "{}", many.stderr);
    assert!(
        many.stderr.contains("Harness GET /ng/api/delegate-token-ng: Harness lists 10001 tokens, more than rekey takes in (10000): narrow the scope ([harness] org and project)"),
        "{}",
        many.stderr
    );
    let fake = crowded(1_000);
    let groups = run(&fake, dir.path(), &["harness", "tokens"], &[]);
    assert_eq!(groups.status, 2, "{}", groups.stderr);
    assert!(
        groups.stderr.contains("Harness lists 1001 tokens in scope, and rekey asks for the delegate groups of 1000 at most: narrow the list with --status, or the scope ([harness] org and project)"),
        "{}",
        groups.stderr
    );
    assert_eq!(
        fake.count("GET /ng/api/delegate-token-ng/delegate-groups"),
        0
    );
}

#[test]
fn an_api_key_file_over_4_kib_is_refused_unsent() {
    use std::os::unix::fs::PermissionsExt;
    let fake = harness(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("harness.key");
    fs::write(&key, format!("{KEY}{}\n", "A".repeat(5000))).unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let args = ["harness", "tokens", "--api-key-file", "harness.key"];
    let run = run(
        &fake,
        dir.path(),
        &args,
        &[("HARNESS_PLATFORM_API_KEY", "")],
    );
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "harness.key: --api-key-file: the file is over 4 KiB; an API key is one line"
        ),
        "{}",
        run.stderr
    );
    assert!(fake.log().is_empty(), "{:?}", fake.log());
}

#[test]
fn times_out_of_range_are_null_and_the_json_is_valid() {
    let listed = serde_json::json!({"status": "SUCCESS", "resource": [{
        "name": OLD_NAME, "status": "ACTIVE", "value": OLD_BASE64,
        "createdAt": i64::MIN, "revokeAfter": i64::MAX
    }]})
    .to_string();
    let fake = answering(
        vec![
            serde_json::json!({"groupName": "g", "activelyConnected": false, "lastHeartBeat": i64::MIN}),
        ],
        vec![answer("GET", TOKENS_PATH, 200, listed)],
    );
    let dir = tempfile::tempdir().unwrap();
    let json = run(
        &fake,
        dir.path(),
        &["harness", "tokens", "--format", "json"],
        &[],
    );
    assert_eq!(json.status, 0, "{}", json.stderr);
    assert_matches_schema(&json.stdout);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let token = &value["tokens"][0];
    assert!(
        token["created_at"].is_null() && token["revoke_after"].is_null(),
        "{token}"
    );
    assert!(token["delegates"][0]["last_heartbeat"].is_null(), "{token}");
    let text = run(&fake, dir.path(), &["harness", "tokens"], &[]);
    assert!(
        text.stdout
            .contains("  created -, revoke after -\n  group g: not connected, last heartbeat -\n"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_redirect_is_not_followed_and_only_its_host_is_named() {
    let mut redirect = answer("GET", TOKENS_PATH, 302, "");
    redirect.headers.push((
        "location".into(),
        "http://elsewhere.invalid:8443/gateway/ng?x-api-key={KEY}".into(),
    ));
    let fake = answering(vec![], vec![redirect]);
    let dir = tempfile::tempdir().unwrap();
    let run = tester_run(&fake, dir.path(), &["harness", "tokens"]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("Harness GET /ng/api/delegate-token-ng: Harness answered with a redirect to another address (elsewhere.invalid:8443), which rekey does not follow: set HARNESS_ENDPOINT to the address it names"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("gateway/ng"), "{}", run.stderr);
    assert_eq!(fake.count("GET "), 1, "{:?}", fake.log());
}

#[test]
fn a_revoke_cut_off_after_harness_revoked_the_token_marks_the_policy_on_the_rerun() {
    // The first run's PUT landed, but it stopped (interrupted, timed out) before it wrote
    // the policy: the rerun sends no second PUT and finishes the job.
    let fake = harness(vec![group("k8s-prod", false, now_ms() - TWENTY_MINUTES)]);
    let (dir, _) = policy_dir();
    let args = ["revoke", OLD_FINGERPRINT, "--harness-token", OLD_NAME];
    assert_eq!(run(&fake, dir.path(), &args, &[]).status, 0);
    fs::write(dir.path().join(".rekey.toml"), "[tokens]\ncurrent = []\n").unwrap();
    let rerun = run(&fake, dir.path(), &args, &[]);
    assert_eq!(rerun.status, 0, "{}", rerun.stderr);
    assert!(
        rerun
            .stderr
            .contains(&format!("Harness token {OLD_NAME} is already revoked")),
        "{}",
        rerun.stderr
    );
    assert_eq!(fake.count("PUT "), 1, "{:?}", fake.log());
    let policy = policy_text(dir.path());
    assert!(
        policy.contains(&format!("revoked = [\"{OLD_FINGERPRINT}\"]")),
        "{policy}"
    );
}
