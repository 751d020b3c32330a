//! The JSON contracts under `schemas/` hold for real output: every JSON report rekey prints
//! (scan, check, inventory, rotate in each mode and over many repositories, the GitLab Code
//! Quality report) is validated against its schema by Python's `jsonschema` (Draft 2020-12;
//! `.ci/run` installs it from PyPI), and a report that breaks the contract is rejected.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const VALIDATE: &str = r#"
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
instance = json.load(open(sys.argv[2]))
errors = sorted(Draft202012Validator(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
for error in errors:
    print("/".join(str(p) for p in error.absolute_path) + ": " + error.message)
sys.exit(1 if errors else 0)
"#;

fn schema(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name)
}

/// The schema's complaints about `json` (empty when it is valid).
fn violations(schema_name: &str, json: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let instance = dir.path().join("instance.json");
    fs::write(&instance, json).unwrap();
    let output = Command::new("python3")
        .args(["-c", VALIDATE])
        .arg(schema(schema_name))
        .arg(&instance)
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.is_empty(),
        "the validator failed (is jsonschema installed? .ci/run installs it): {stderr}"
    );
    String::from_utf8(output.stdout).unwrap()
}

fn assert_valid(schema_name: &str, run: &Run) {
    assert_eq!(violations(schema_name, &run.stdout), "", "{}", run.stdout);
}

#[test]
fn scan_json_matches_its_schema() {
    let demo = rekey(&fixtures().join("demo"), &["scan", "--format", "json"]);
    assert_eq!(demo.status, 0, "{}", demo.stderr);
    assert_valid("rekey.scan.v1.json", &demo);
    // Errors (with and without a position) and notes.
    let broken = rekey(&fixtures().join("broken"), &["scan", "--format", "json"]);
    assert_eq!(broken.status, 2);
    assert!(broken.stdout.contains("\"errors\": [\n    {"));
    assert_valid("rekey.scan.v1.json", &broken);
    let block = rekey(
        &fixtures().join("block-scalar"),
        &["scan", "--format", "json"],
    );
    assert!(block.stdout.contains("\"note\": "), "{}", block.stdout);
    assert_valid("rekey.scan.v1.json", &block);
}

#[test]
fn check_json_and_the_gitlab_report_match_their_schemas() {
    let check = rekey(&fixtures().join("policy"), &["check", "--format", "json"]);
    assert_eq!(check.status, 1);
    assert_valid("rekey.check.v1.json", &check);
    let gitlab = rekey(&fixtures().join("policy"), &["check", "--format", "gitlab"]);
    assert_eq!(gitlab.status, 1);
    assert_valid("gitlab-code-quality.json", &gitlab);
}

#[test]
fn rotate_json_matches_its_schema_in_every_mode() {
    let token = new_token_file();
    let token = token.to_str().unwrap();
    let repo = copy_fixture("demo");
    for mode in [&[][..], &["--write"][..]] {
        let mut args = vec!["rotate", "--new-token-file", token, "--format", "json"];
        args.extend_from_slice(mode);
        let run = rekey(repo.path(), &args);
        assert_eq!(run.status, 0, "{}", run.stderr);
        assert_valid("rekey.rotate.v1.json", &run);
    }

    let home = tempfile::tempdir().unwrap();
    let repo = copy_fixture("demo");
    git(repo.path(), home.path(), &["init", "-q", "-b", "main"]);
    git(repo.path(), home.path(), &["add", "-A"]);
    git(
        repo.path(),
        home.path(),
        &["commit", "-q", "-m", "manifests"],
    );
    let home = home.path().to_str().unwrap();
    let mut env = vec![("HOME", home), ("GIT_CONFIG_NOSYSTEM", "1")];
    env.extend_from_slice(&IDENTITY);
    let run = rekey_with(
        repo.path(),
        &[
            "rotate",
            "--new-token-file",
            token,
            "--commit",
            "--format",
            "json",
        ],
        &env,
        None,
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.contains("\"commit\": {"), "{}", run.stdout);
    assert_valid("rekey.rotate.v1.json", &run);
}

#[test]
fn a_partial_rotation_lists_the_rest_of_the_repository_as_the_schema_says() {
    let repo = copy_fixture("newcomer");
    let run = rotate_to_new_token(repo.path(), &["--format", "json", "k8s"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("\"outside\": {\n    \"top\": \".\""),
        "{}",
        run.stdout
    );
    assert_valid("rekey.rotate.v1.json", &run);
}

#[test]
fn files_left_as_is_and_copies_left_behind_match_the_schemas() {
    // A rotation that leaves a broken file as is, and copies of a revoked token.
    let repo = copy_fixture("broken-files/expression");
    fs::write(
        repo.path().join("notes.txt"),
        format!("the old token was {OTHER_HEX}\n"),
    )
    .unwrap();
    let policy = repo.path().join(".rekey.toml");
    let text = fs::read_to_string(&policy).unwrap();
    fs::write(
        &policy,
        text.replace(
            "revoked = []",
            &format!("revoked = [\"{OTHER_FINGERPRINT}\"]"),
        ),
    )
    .unwrap();
    let rotate = rotate_to_new_token(repo.path(), &["--format", "json"]);
    assert_eq!(rotate.status, 0, "{}", rotate.stderr);
    assert!(
        rotate.stdout.contains("\"unparsed\": [\n    {"),
        "{}",
        rotate.stdout
    );
    assert!(
        rotate.stdout.contains("\"revoked\": true"),
        "{}",
        rotate.stdout
    );
    assert_valid("rekey.rotate.v1.json", &rotate);
    let scan = rekey(repo.path(), &["scan", "--format", "json"]);
    assert!(
        scan.stdout.contains("\"left_behind\": [\n    {"),
        "{}",
        scan.stdout
    );
    assert_valid("rekey.scan.v1.json", &scan);
}

#[test]
fn a_report_that_breaks_the_contract_is_rejected() {
    let scan = rekey(&fixtures().join("demo"), &["scan", "--format", "json"]);
    let mut report: serde_json::Value = serde_json::from_str(&scan.stdout).unwrap();
    report["sites"][0]["fingerprint"] = "sha256:XYZ".into();
    report["sites"][1]["kind"] = "secret".into();
    report["sites"][2]["extra"] = true.into();
    assert_eq!(
        violations("rekey.scan.v1.json", &report.to_string()),
        "sites/0/fingerprint: 'sha256:XYZ' is not valid under any of the given schemas\n\
sites/1/kind: 'secret' is not one of ['literal', 'placeholder', 'reference', 'encrypted', 'empty', 'mention']\n\
sites/2: Additional properties are not allowed ('extra' was unexpected)\n"
    );
}

#[test]
fn inventory_json_matches_its_schema() {
    let demo = rekey(&fixtures().join("demo"), &["inventory", "--format", "json"]);
    assert_eq!(demo.status, 0, "{}", demo.stderr);
    assert!(
        demo.stdout.contains("\"kind\": \"shell delegate\""),
        "{}",
        demo.stdout
    );
    assert_valid("rekey.inventory.v1.json", &demo);
    let policy = rekey(
        &fixtures().join("org-policy/app"),
        &["inventory", "--format", "json"],
    );
    assert!(
        policy.stdout.contains("\"state\": \"revoked\""),
        "{}",
        policy.stdout
    );
    assert_valid("rekey.inventory.v1.json", &policy);
    let broken = rekey(
        &fixtures().join("broken"),
        &["inventory", "--format", "json"],
    );
    assert_eq!(broken.status, 2);
    assert!(
        broken.stdout.contains("\"unjudged\": [\n    {"),
        "{}",
        broken.stdout
    );
    assert_valid("rekey.inventory.v1.json", &broken);
    let mut report: serde_json::Value = serde_json::from_str(&demo.stdout).unwrap();
    report["delegates"][0]["tokens"] =
        serde_json::json!([{"fingerprint": "sha256:1", "state": "gone"}]);
    assert_eq!(
        violations("rekey.inventory.v1.json", &report.to_string()),
        "delegates/0/tokens/0/fingerprint: 'sha256:1' does not match '^sha256:[0-9a-f]{16}$'\n\
delegates/0/tokens/0/state: 'gone' is not one of ['current', 'stale', 'revoked', 'unknown']\n"
    );
}

#[test]
fn rotate_repos_json_matches_its_schema_and_holds_rotate_objects() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs::create_dir(&home).unwrap();
    for name in ["api", "done"] {
        let repo = dir.path().join(name);
        copy_tree(&fixtures().join("repos").join(name), &repo);
        commit_all(&repo, &home);
    }
    fs::create_dir(dir.path().join("notrepo")).unwrap();
    let token = new_token_file();
    let home = home.to_str().unwrap();
    let mut env = vec![("HOME", home), ("GIT_CONFIG_NOSYSTEM", "1")];
    env.extend_from_slice(&IDENTITY);
    let rotate = |extra: &[&str]| {
        let mut args = vec!["rotate", "--new-token-file", token.to_str().unwrap()];
        args.extend_from_slice(&["--format", "json"]);
        args.extend_from_slice(extra);
        rekey_with(dir.path(), &args, &env, None)
    };
    for mode in [&[][..], &["--commit"][..]] {
        let mut args = vec!["--repo", "api", "--repo", "done", "--repo", "notrepo"];
        args.extend_from_slice(mode);
        let run = rotate(&args);
        assert_eq!(run.status, 2, "{}", run.stderr);
        assert_valid("rekey.rotate-repos.v1.json", &run);
        let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let results: Vec<&str> = report["repositories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["result"].as_str().unwrap())
            .collect();
        let done = if mode.is_empty() {
            "would-commit"
        } else {
            "committed"
        };
        assert_eq!(results, [done, "already-rotated", "failed"]);
        for entry in report["repositories"].as_array().unwrap() {
            if !entry["rotation"].is_null() {
                assert_eq!(
                    violations("rekey.rotate.v1.json", &entry["rotation"].to_string()),
                    ""
                );
            }
        }
    }
    let run = rotate(&["--repo", "notrepo"]);
    let mut report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    report["repositories"][0]["rotation"] = serde_json::json!({"schema": "rekey.rotate/v1"});
    report["repositories"][0]["branch"] = "rekey/x".into();
    report["repositories"][0]["mode"] = "commit".into();
    assert_eq!(
        violations("rekey.rotate-repos.v1.json", &report.to_string()),
        "repositories/0: Additional properties are not allowed ('mode' was unexpected)\n\
repositories/0/branch: 'rekey/x' is not of type 'null'\n\
repositories/0/rotation: {'schema': 'rekey.rotate/v1'} is not of type 'null'\n"
    );
}

#[test]
fn history_json_matches_its_schema() {
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::write(
        dir.path().join(".env"),
        format!("DELEGATE_TOKEN={OLD_HEX}\n"),
    )
    .unwrap();
    commit_all(dir.path(), home.path());
    git(dir.path(), home.path(), &["tag", "v1"]);
    std::fs::write(
        dir.path().join(".env"),
        format!("DELEGATE_TOKEN={NEW_HEX}\n"),
    )
    .unwrap();
    git(dir.path(), home.path(), &["commit", "-qam", "Rotate"]);
    let run = rekey(dir.path(), &["history", "--format", "json"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.contains("\"removed_in\": {"), "{}", run.stdout);
    assert_valid("rekey.history.v1.json", &run);
}
