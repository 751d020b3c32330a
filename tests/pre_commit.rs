//! The hooks under the real pre-commit framework (installed from PyPI by `.ci/run`):
//! `pre-commit try-repo` runs them from this project in a scratch repository. `rekey-check`
//! builds rekey as pre-commit would; `rekey-check-system` runs the rekey on PATH (the test
//! binary). A staged revoked token fails and is named; a clean change passes; the summary
//! is one line per run and counts only the files judged.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn try_repo(scratch: &Path) -> (bool, String) {
    try_hook(scratch, "rekey-check")
}

fn try_hook(scratch: &Path, hook: &str) -> (bool, String) {
    let project = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new("pre-commit")
        .args([
            "try-repo",
            project.to_str().unwrap(),
            hook,
            "--color",
            "never",
        ])
        // The system hook finds the test build of rekey on PATH.
        .env("PATH", path_with_rekey())
        .current_dir(scratch)
        // Kept under target/ so the hook's build is reused across runs; the hook's behaviour,
        // not its speed, is under test, so its build skips optimisation.
        .env("PRE_COMMIT_HOME", project.join("target/pre-commit-home"))
        .env("CARGO_TARGET_DIR", project.join("target/pre-commit-build"))
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap_or_else(|e| {
            panic!("pre-commit is not installed ({e}): run .ci/run, which installs it from PyPI")
        });
    let text = String::from_utf8_lossy(&stdout).into_owned() + &String::from_utf8_lossy(&stderr);
    (status.success(), text)
}

/// A scratch git repository holding the policy fixture's `.rekey.toml`.
fn repo_with_policy() -> tempfile::TempDir {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    git(dir, dir, &["init", "-q"]);
    fs::copy(
        fixtures().join("policy/.rekey.toml"),
        dir.join(".rekey.toml"),
    )
    .unwrap();
    scratch
}

#[test]
fn the_hook_fails_a_staged_revoked_token_and_passes_a_clean_change() {
    let scratch = repo_with_policy();
    let dir = scratch.path();
    fs::write(
        dir.join("values.yaml"),
        format!("delegateToken: {OTHER_HEX}\n"),
    )
    .unwrap();
    git(dir, dir, &["add", ".rekey.toml", "values.yaml"]);

    let (passed, output) = try_repo(dir);
    assert!(!passed, "a revoked token passed the hook:\n{output}");
    assert!(
        output.contains("values.yaml:1:16: error[revoked-token]"),
        "{output}"
    );
    assert_no_token(&output, "pre-commit output");

    fs::write(
        dir.join("values.yaml"),
        format!("delegateToken: {OLD_HEX}\n"),
    )
    .unwrap();
    git(dir, dir, &["add", "values.yaml"]);
    let (passed, output) = try_repo(dir);
    assert!(passed, "a clean change failed the hook:\n{output}");
    assert!(
        output.contains("rekey check (Harness delegate tokens)"),
        "{output}"
    );
    assert!(output.contains("Passed"), "{output}");
}

#[test]
fn the_system_hook_runs_the_installed_rekey_once_with_one_summary_line() {
    let scratch = repo_with_policy();
    let dir = scratch.path();
    // Enough files that pre-commit would split them into batches across cores.
    for n in 0..11 {
        fs::write(
            dir.join(format!("values-{n:02}.yaml")),
            format!("replicas: {n}\ndelegateToken: {OLD_HEX}\n"),
        )
        .unwrap();
    }
    fs::write(
        dir.join("revoked.yaml"),
        format!("delegateToken: {OTHER_HEX}\n"),
    )
    .unwrap();
    git(dir, dir, &["add", "."]);

    let (passed, output) = try_hook(dir, "rekey-check-system");
    assert!(!passed, "a revoked token passed the hook:\n{output}");
    assert!(
        output.contains("revoked.yaml:1:16: error[revoked-token]"),
        "{output}"
    );
    let summaries: Vec<&str> = output
        .lines()
        .filter(|line| line.starts_with("rekey check:"))
        .collect();
    assert_eq!(
        summaries,
        ["rekey check: 1 error, 0 warnings, 0 notes in 12 files checked (12 sites in 12 files); policy .rekey.toml"],
        "one summary per run, not counting .rekey.toml:\n{output}"
    );
    assert_no_token(&output, "pre-commit output");
}
