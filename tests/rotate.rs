//! `rekey rotate` end to end: the binary on scratch copies of the fixture repos, results
//! compared byte for byte with the expected trees under `fixtures/expected/`.

mod common;

use common::*;
use std::fs;

fn rotate_args<'a>(extra: &[&'a str], token_file: &'a str) -> Vec<&'a str> {
    let mut args = vec!["rotate", "--new-token-file", token_file];
    args.extend_from_slice(extra);
    args
}

/// Runs `rekey rotate --new-token-file fixtures/new-token.txt EXTRA…` in a scratch copy of
/// `fixtures/<fixture>`.
fn rotate_copy(fixture: &str, extra: &[&str]) -> (tempfile::TempDir, Run) {
    let repo = copy_fixture(fixture);
    let token = new_token_file();
    let run = rekey(repo.path(), &rotate_args(extra, token.to_str().unwrap()));
    (repo, run)
}

#[test]
fn write_rotates_the_demo_repo_to_the_expected_tree_byte_for_byte() {
    let (repo, run) = rotate_copy("demo", &["--write"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_same_tree(repo.path(), &fixtures().join("expected/demo-rotated"));
    assert!(run.stdout.contains(
        "Rotated sha256:ff25d2389ab7917a -> sha256:23e0bf16a8233d47 in 20 files: 27 sites rotated, 0 placeholders filled, 11 legacy keys migrated."
    ), "{}", run.stdout);
    #[cfg(unix)]
    for script in [
        "shell-delegate/start.sh",
        "docker/launch-harness-delegate.sh",
        "helm/install.sh",
    ] {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(repo.path().join(script))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "{script} lost its executable bits");
    }
}

#[test]
fn dry_run_prints_the_redacted_diff_and_changes_nothing() {
    let (repo, run) = rotate_copy("demo", &[]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_same_tree(repo.path(), &fixtures().join("demo"));
    let expected = fs::read_to_string(fixtures().join("expected/demo-dry-run.txt")).unwrap();
    assert_eq!(run.stdout, expected);
    assert_eq!(
        run.stderr,
        "note: ecs/task-spec.json:14:50: UPGRADER_TOKEN lives in arn:aws:secretsmanager:eu-west-1:111122223333:secret:upgrader; rotate it there: put the new token in AWS Secrets Manager (aws secretsmanager put-secret-value --secret-id arn:aws:secretsmanager:eu-west-1:111122223333:secret:upgrader …), then restart the ECS service's tasks\n\
note: k8s/legacy-secret-ref.yaml:28:62: ACCOUNT_SECRET lives in Secret vault-synced-upgrader, key ACCOUNT_SECRET; rotate it there: update Secret vault-synced-upgrader where it is managed (rekey rotates it when that Secret is among the scanned files)\n\
note: k8s/legacy-secret-ref.yaml:28:62: secretKeyRef key ACCOUNT_SECRET kept: Secret vault-synced-upgrader is not migrated in the scanned files; rename its key first\n\
note: kustomize/kustomization.yaml:7:24: legacy key ACCOUNT_SECRET kept: no delegate container in the scanned files refers to Secret delegate-extra, so its readers may still need ACCOUNT_SECRET\n\
note: shell-delegate/start.sh:18:24: legacy key ACCOUNT_SECRET kept: a shell variable, or the env of a command that is not a Harness delegate: what reads it is not known\n\
note: terraform/terraform.tfstate:12:68: accountSecret not rotated: Terraform state: refresh it with terraform apply after rotating the configuration; rekey never rewrites state\n"
    );
}

#[test]
fn a_second_identical_run_is_a_no_op() {
    let repo = copy_fixture("demo");
    let token = new_token_file();
    let args = rotate_args(&["--write"], token.to_str().unwrap());
    assert_eq!(rekey(repo.path(), &args).status, 0);
    let second = rekey(repo.path(), &args);
    assert_eq!(second.status, 0, "{}", second.stderr);
    assert!(
        second.stdout.starts_with(&format!(
            "Already rotated: the sites hold {NEW_FINGERPRINT}"
        )),
        "{}",
        second.stdout
    );
    assert_same_tree(repo.path(), &fixtures().join("expected/demo-rotated"));
    // The same with --only naming the token that is gone now.
    let only = rotate_args(
        &["--write", "--only", OLD_FINGERPRINT],
        token.to_str().unwrap(),
    );
    let third = rekey(repo.path(), &only);
    assert_eq!(third.status, 0, "{}", third.stderr);
    assert!(
        third.stdout.starts_with("Already rotated"),
        "{}",
        third.stdout
    );
}

#[test]
fn the_new_token_is_read_from_env_or_stdin_in_either_form() {
    for (env, stdin, args) in [
        (
            vec![("NEW_DELEGATE_TOKEN", NEW_HEX)],
            None,
            vec!["--new-token-env", "NEW_DELEGATE_TOKEN"],
        ),
        (
            vec![("NEW_DELEGATE_TOKEN", NEW_BASE64)],
            None,
            vec!["--new-token-env", "NEW_DELEGATE_TOKEN"],
        ),
        (vec![], Some(NEW_BASE64), vec!["--new-token-stdin"]),
    ] {
        let repo = copy_fixture("demo");
        let mut all = vec!["rotate", "--write"];
        all.extend(args);
        let run = rekey_with(repo.path(), &all, &env, stdin);
        assert_eq!(run.status, 0, "{}", run.stderr);
        // Rotation writes each site's own encoding, whatever form the token came in.
        assert_same_tree(repo.path(), &fixtures().join("expected/demo-rotated"));
    }
}

#[test]
fn bad_new_tokens_are_refused_without_echoing_them() {
    let repo = copy_fixture("demo");
    for (value, message) in [
        (
            "pat.Xy7ArcXnR1uv3TfcmGxQ2w.6565f1b1f.s3cr3tv4lu3",
            "looks like a Harness API key",
        ),
        ("default_token", "not a delegate token"),
        ("a1b2c3d4e5f60718293a4b5c6d7e8f9", "not a delegate token"),
        ("", "is empty"),
    ] {
        let run = rekey_with(
            repo.path(),
            &["rotate", "--write", "--new-token-env", "T"],
            &[("T", value)],
            None,
        );
        assert_eq!(run.status, 2, "{value}");
        assert!(run.stderr.contains(message), "{value}: {}", run.stderr);
        assert!(
            run.stderr.contains("environment variable T"),
            "{}",
            run.stderr
        );
        if !value.is_empty() {
            assert!(!run.stderr.contains(value), "the refused value was echoed");
        }
    }
    let unset = rekey(
        repo.path(),
        &["rotate", "--new-token-env", "REKEY_TEST_UNSET"],
    );
    assert_eq!(unset.status, 2);
    assert!(
        unset.stderr.contains("REKEY_TEST_UNSET is not set"),
        "{}",
        unset.stderr
    );
    assert_same_tree(repo.path(), &fixtures().join("demo"));
}

#[test]
fn a_token_is_never_accepted_as_an_argument() {
    let repo = copy_fixture("demo");
    let run = rekey(repo.path(), &["rotate", "--new-token", NEW_HEX]);
    assert_eq!(run.status, 2);
    assert_eq!(
        run.stderr.lines().next().unwrap(),
        format!("error: argument 3 is a delegate token ({NEW_FINGERPRINT}), not a fingerprint: rekey never takes a token on its command line, where shell history and process lists keep it. Name a token by its fingerprint (--only {NEW_FINGERPRINT}, rekey revoke {NEW_FINGERPRINT}); give a new token with --new-token-env, --new-token-file or --new-token-stdin. Treat this token as exposed.")
    );
    assert_no_token(&run.stderr, "a token given as an argument");
    let missing = rekey(repo.path(), &["rotate"]);
    assert_eq!(missing.status, 2);
    assert!(
        missing.stderr.contains("--new-token-env"),
        "{}",
        missing.stderr
    );
}

#[test]
fn several_tokens_are_refused_until_only_or_all_says_which() {
    let repo = copy_fixture("multi-token");
    let token = new_token_file();
    let token = token.to_str().unwrap();
    let refused = rekey(repo.path(), &rotate_args(&["--write"], token));
    assert_eq!(refused.status, 2);
    assert!(
        refused.stderr.contains("2 different tokens"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains(&format!(
            "{OTHER_FINGERPRINT}  in 2 files: staging/compose.yaml, staging/values.yaml\n"
        )),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains(&format!("{OLD_FINGERPRINT}  in 1 file: prod/values.yaml\n")),
        "{}",
        refused.stderr
    );
    assert_same_tree(repo.path(), &fixtures().join("multi-token"));

    let only = rekey(
        repo.path(),
        &rotate_args(&["--write", "--only", OTHER_FINGERPRINT], token),
    );
    assert_eq!(only.status, 0, "{}", only.stderr);
    let files = tree(repo.path());
    let text = |name: &str| {
        String::from_utf8(files.iter().find(|(n, _)| n == name).unwrap().1.clone()).unwrap()
    };
    assert_eq!(
        text("prod/values.yaml"),
        format!("delegateToken: {OLD_HEX}\n")
    );
    assert_eq!(
        text("staging/values.yaml"),
        format!("delegateToken: '{NEW_HEX}'\n")
    );
    assert_eq!(
        text("staging/compose.yaml"),
        format!("services:\n  delegate:\n    environment:\n      DELEGATE_TOKEN: {NEW_HEX}\n")
    );

    // An unknown fingerprint is an error while the new token is not in place yet.
    let unknown = rekey_with(
        repo.path(),
        &[
            "rotate",
            "--new-token-env",
            "T",
            "--only",
            "sha256:0000000000000000",
        ],
        &[("T", "0123456789abcdef0123456789abcdef")],
        None,
    );
    assert_eq!(unknown.status, 2);
    assert!(
        unknown.stderr.contains("no literal site holds this token"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn all_rotates_every_token() {
    let (repo, run) = rotate_copy("multi-token", &["--write", "--all"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let joined: String = tree(repo.path())
        .into_iter()
        .map(|(_, bytes)| String::from_utf8(bytes).unwrap())
        .collect();
    assert_eq!(joined.matches(NEW_HEX).count(), 3);
    assert!(!joined.contains(OLD_HEX) && !joined.contains(OTHER_HEX));
}

#[test]
fn an_unparseable_file_stops_the_rotation_and_nothing_is_written() {
    let (repo, run) = rotate_copy("broken", &["--write"]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.starts_with("error: bad.yaml:3:"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("cannot parse this YAML file"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was rotated"), "{}", run.stderr);
    assert_same_tree(repo.path(), &fixtures().join("broken"));
}

#[test]
fn a_block_scalar_token_is_refused_rather_than_guessed() {
    let (repo, run) = rotate_copy("block-scalar", &["--write"]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr
            .contains("values.yaml:3:3: the value is a block scalar"),
        "{}",
        run.stderr
    );
    assert_same_tree(repo.path(), &fixtures().join("block-scalar"));
}

#[test]
fn keep_legacy_keys_rotates_values_only() {
    let (repo, run) = rotate_copy("demo", &["--write", "--keep-legacy-keys"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("27 sites rotated, 0 placeholders filled, 0 legacy keys migrated."),
        "{}",
        run.stdout
    );
    let watcher = fs::read(repo.path().join("shell-delegate/config-watcher.yml")).unwrap();
    assert_eq!(
        watcher,
        format!("accountId: Xy7ArcXnR1uv3TfcmGxQ2w\r\naccountSecret: {NEW_HEX}\r\nmanagerUrl: https://app.harness.io/api/\r\ndoUpgrade: true\r\nupgradeCheckLocation: https://app.harness.io/public/prod/premium/watchers/current.version\r\n").into_bytes()
    );
}

#[test]
fn fill_placeholders_writes_base64_into_secret_data() {
    let (repo, run) = rotate_copy("demo", &["--write", "--fill-placeholders"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("27 sites rotated, 2 placeholders filled, 11 legacy keys migrated."),
        "{}",
        run.stdout
    );
    let template = fs::read_to_string(repo.path().join("examples/install-template.yaml")).unwrap();
    let original =
        fs::read_to_string(fixtures().join("demo/examples/install-template.yaml")).unwrap();
    assert_eq!(
        template,
        original.replace("PUT_YOUR_DELEGATE_TOKEN", NEW_BASE64)
    );
}

#[cfg(unix)]
#[test]
fn permissions_survive_a_write() {
    use std::os::unix::fs::PermissionsExt;
    let repo = copy_fixture("demo");
    let path = repo.path().join("shell-delegate/config-delegate.yml");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    let token = new_token_file();
    let run = rekey(
        repo.path(),
        &rotate_args(&["--write"], token.to_str().unwrap()),
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn an_all_digit_new_token_is_quoted_where_yaml_would_read_a_number() {
    // All digits is a valid token, but YAML reads it as a number in a plain scalar: it is
    // written quoted there, and the run (which re-scans every rewrite) succeeds. That a
    // rewrite failing verification is never written is `verify`'s own tests.
    let repo = copy_fixture("demo");
    let digits = "12345678901234567890123456789012";
    let run = rekey_with(
        repo.path(),
        &["rotate", "--write", "--new-token-env", "T"],
        &[("T", digits)],
        None,
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(!run.stdout.contains("12345678"), "{}", run.stdout);
    let values = fs::read_to_string(repo.path().join("helm/umbrella/values.yaml")).unwrap();
    let line = values.lines().nth(8).unwrap();
    assert_eq!(
        line,
        format!("  delegateToken: \"{digits}\"   # legacy key, pre-2023 chart")
    );
}

#[test]
fn a_legacy_key_beside_its_current_name_is_kept_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let env = format!("ACCOUNT_SECRET={OLD_HEX}\nDELEGATE_TOKEN={OLD_HEX}\n");
    fs::write(dir.path().join("delegate.env"), &env).unwrap();
    let token = new_token_file();
    let run = rekey(
        dir.path(),
        &rotate_args(&["--write"], token.to_str().unwrap()),
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "note: delegate.env:1:16: legacy key ACCOUNT_SECRET kept: DELEGATE_TOKEN already sits beside it\n"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("delegate.env")).unwrap(),
        env.replace(OLD_HEX, NEW_HEX)
    );
}

#[test]
fn stat_prints_per_file_counts_instead_of_the_diff() {
    let (dir, run) = rotate_copy("demo", &["--stat"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            " compose/.env                       | 2 rotated
 compose/docker-compose.yml         | 2 rotated
 config/delegate.toml               | 1 rotated
 docker/launch-harness-delegate.sh  | 2 rotated
 ecs/minified-task.json             | 1 rotated
 ecs/task-spec.json                 | 1 rotated, 1 migrated
 helm/anchors-values.yaml           | 2 rotated
 helm/harness-delegate-values.yaml  | 1 rotated
 helm/install.sh                    | 1 rotated
 helm/umbrella/values.yaml          | 1 rotated, 1 migrated
 k8s/firstgen-statefulset.yaml      | 1 rotated, 1 migrated
 k8s/harness-delegate.yaml          | 2 rotated
 k8s/legacy-secret-ref.yaml         | 1 rotated, 3 migrated
 kustomize/kustomization.yaml       | 1 rotated
 rendered/delegate-secret.yaml      | 1 rotated
 shell-delegate/config-delegate.yml | 1 rotated
 shell-delegate/config-watcher.yml  | 1 rotated, 1 migrated
 shell-delegate/start.sh            | 3 rotated, 3 migrated
 terraform/main.tf                  | 1 rotated, 1 migrated
 terraform/prod.tfvars              | 1 rotated
Would rotate {OLD_FINGERPRINT} -> {NEW_FINGERPRINT} in 20 files: 27 sites rotated, 0 placeholders filled, 11 legacy keys migrated. Dry run: nothing was written; add --write to apply.
Would update .rekey.toml: [tokens] current now lists {NEW_FINGERPRINT}.
Policy: .rekey.toml
"
        )
    );
    assert_same_tree(dir.path(), &fixtures().join("demo"));

    let json = rotate_copy("demo", &["--stat", "--format", "json"]).1;
    assert_eq!(json.status, 2);
    assert_eq!(json.stdout, "");
    assert_eq!(
        json.stderr,
        "error: --stat shapes the text report; the JSON report already lists each file's changes (drop --stat or --format json)\n"
    );
}

/// The README's first command, run as written from the top of rekey's own clone: the demo's
/// policy makes it a repository of its own, so the dry run is the demo's alone (no list of
/// rekey's fixtures that also hold the made-up token) and writes nothing.
#[test]
fn the_readmes_first_command_dry_runs_the_demo_alone() {
    let top = fixtures().join("..");
    let before = tree(&fixtures().join("demo"));
    let run = rekey(
        &top,
        &[
            "rotate",
            "fixtures/demo",
            "--new-token-file",
            "fixtures/new-token.txt",
        ],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(tree(&fixtures().join("demo")), before);
    let expected = fs::read_to_string(fixtures().join("expected/demo-dry-run.txt")).unwrap();
    let expected = expected
        .replace("--- a/", "--- a/fixtures/demo/")
        .replace("+++ b/", "+++ b/fixtures/demo/")
        .replace(
            "Would update .rekey.toml",
            "Would update fixtures/demo/.rekey.toml",
        )
        .replace("Policy: .rekey.toml", "Policy: fixtures/demo/.rekey.toml");
    assert_eq!(run.stdout, expected);
    assert_no_token(&run.stdout, "stdout");
    assert_no_token(&run.stderr, "stderr");
}
