//! The credential promise: no command prints a token value, in any encoding, on stdout or
//! stderr, unless `--show-secrets` is given, and then only in the diff.

mod common;

use common::*;

#[test]
fn no_command_prints_a_token() {
    let token = new_token_file();
    let token = token.to_str().unwrap();
    let runs: Vec<(&str, Vec<&str>)> = vec![
        ("demo", vec!["scan"]),
        ("demo", vec!["scan", "--format", "json"]),
        ("demo", vec!["rotate", "--new-token-file", token]),
        (
            "demo",
            vec!["rotate", "--new-token-file", token, "--format", "json"],
        ),
        (
            "demo",
            vec!["rotate", "--new-token-file", token, "--fill-placeholders"],
        ),
        ("demo", vec!["rotate", "--new-token-file", token, "--write"]),
        ("multi-token", vec!["rotate", "--new-token-file", token]),
        (
            "multi-token",
            vec!["rotate", "--new-token-file", token, "--all"],
        ),
        ("broken", vec!["scan"]),
        ("broken", vec!["rotate", "--new-token-file", token]),
        ("block-scalar", vec!["rotate", "--new-token-file", token]),
        ("policy", vec!["check"]),
        ("policy", vec!["check", "--format", "json"]),
        ("policy", vec!["check", "--format", "sarif"]),
        ("policy", vec!["check", "--format", "github"]),
        ("policy", vec!["revoke", OLD_FINGERPRINT]),
        ("demo", vec!["check"]),
        ("demo", vec!["init"]),
    ];
    for (fixture, args) in runs {
        let repo = copy_fixture(fixture);
        let run = rekey(repo.path(), &args);
        let context = format!("rekey {} in {fixture}", args.join(" "));
        assert_no_token(&run.stdout, &context);
        assert_no_token(&run.stderr, &context);
        assert!(
            !run.stdout.is_empty() || !run.stderr.is_empty(),
            "{context} printed nothing"
        );
    }
}

#[test]
fn a_token_in_a_comment_beside_an_edit_is_swept_from_the_diff() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("values.yaml"),
        format!("# previous token: {OTHER_HEX}\ndelegateToken: {OLD_HEX}\n"),
    )
    .unwrap();
    let run = rekey(
        dir.path(),
        &[
            "rotate",
            "--new-token-file",
            new_token_file().to_str().unwrap(),
        ],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_no_token(&run.stdout, "dry run");
    assert!(
        run.stdout.contains(&format!(
            " # previous token: <redacted {OTHER_FINGERPRINT}>\n"
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn show_secrets_shows_the_values_in_the_diff() {
    let repo = copy_fixture("demo");
    let run = rekey(
        repo.path(),
        &[
            "rotate",
            "--new-token-file",
            new_token_file().to_str().unwrap(),
            "--show-secrets",
        ],
    );
    assert_eq!(run.status, 0);
    assert!(run
        .stdout
        .contains(&format!("-      - DELEGATE_TOKEN={OLD_HEX}")));
    assert!(run
        .stdout
        .contains(&format!("+      - DELEGATE_TOKEN={NEW_HEX}")));
    assert_no_token(&run.stderr, "stderr with --show-secrets");
}
