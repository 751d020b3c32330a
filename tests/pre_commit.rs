//! The `rekey-check` hook under the real pre-commit framework (installed from PyPI by
//! `.ci/run`): `pre-commit try-repo` builds rekey from this project and runs the hook in a
//! scratch repository. A staged revoked token fails and is named; a clean change passes.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn try_repo(scratch: &Path) -> (bool, String) {
    let project = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new("pre-commit")
        .args([
            "try-repo",
            project.to_str().unwrap(),
            "rekey-check",
            "--color",
            "never",
        ])
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

#[test]
fn the_hook_fails_a_staged_revoked_token_and_passes_a_clean_change() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    git(dir, dir, &["init", "-q"]);
    fs::copy(
        fixtures().join("policy/.rekey.toml"),
        dir.join(".rekey.toml"),
    )
    .unwrap();
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
