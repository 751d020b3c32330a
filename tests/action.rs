//! The GitHub Action (`action.yml`) and its example workflow: actionlint (installed by
//! `.ci/run` from PyPI) accepts the workflow with the action's metadata, and rejects an
//! input the action does not define; the action's check step, run by bash as the runner
//! would, writes the SARIF, the annotations and the status; the README shows the example
//! workflow as it is in `examples/`.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::Command;

/// The example workflow, using the action from the repository root (`./`) so actionlint
/// checks its inputs against this `action.yml`.
fn example_using_local_action() -> String {
    let example = fs::read_to_string(project().join("examples/github/rekey-check.yml")).unwrap();
    let line = example
        .lines()
        .find(|line| line.contains("uses: your-org/rekey@"))
        .expect("the example uses the action");
    example.replace(line, "      - uses: ./")
}

#[test]
fn actionlint_accepts_the_example_workflow_and_the_action_metadata() {
    let (passed, output) = actionlint(&[("rekey-check.yml", &example_using_local_action())]);
    assert!(passed, "{output}");
    assert_eq!(output, "");
}

#[test]
fn actionlint_reads_the_action_inputs() {
    let broken = example_using_local_action().replace("paths: .", "pathz: .");
    let (passed, output) = actionlint(&[("rekey-check.yml", &broken)]);
    assert!(!passed);
    assert!(
        output.contains("input \"pathz\" is not defined in action \"rekey check\""),
        "{output}"
    );
}

#[test]
fn the_readme_shows_the_example_workflow_as_it_is() {
    let readme = fs::read_to_string(project().join("README.md")).unwrap();
    let example = fs::read_to_string(project().join("examples/github/rekey-check.yml")).unwrap();
    assert!(
        readme.contains(&format!("```yaml\n{example}```\n")),
        "README.md must quote examples/github/rekey-check.yml verbatim"
    );
}

/// The `run:` script of the action's step `id`.
fn action_step(id: &str) -> String {
    step_script(
        &yaml(&project().join("action.yml"))["runs"]["steps"],
        "id",
        id,
    )
}

/// Runs the check step as the runner would: bash, the inputs in the environment, rekey on
/// PATH. Returns stdout and the step's outputs.
fn run_check_step(dir: &Path, paths: &str, format: &str) -> (String, String) {
    let temp = tempfile::tempdir().unwrap();
    let outputs = temp.path().join("outputs");
    let output = Command::new("bash")
        .args(["-e", "-c", &action_step("check")])
        .current_dir(dir)
        .env("PATH", path_with_rekey())
        .env("PATHS", paths)
        .env("CONFIG", "")
        .env("FORMAT", format)
        .env("RUNNER_TEMP", temp.path())
        .env("GITHUB_OUTPUT", &outputs)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the step itself failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let written = fs::read_to_string(&outputs).unwrap();
    let written = written.replace(&temp.path().display().to_string(), "$RUNNER_TEMP");
    if format == "sarif" {
        let sarif = fs::read_to_string(temp.path().join("rekey.sarif")).unwrap();
        let sarif: serde_json::Value = serde_json::from_str(&sarif).unwrap();
        assert_eq!(sarif["version"], "2.1.0");
    }
    (String::from_utf8(output.stdout).unwrap(), written)
}

#[test]
fn the_check_step_writes_sarif_annotations_and_the_status() {
    let policy = fixtures().join("policy");
    let (stdout, outputs) = run_check_step(&policy, "k8s helm/typo-values.yaml", "sarif");
    assert_eq!(outputs, "sarif-file=$RUNNER_TEMP/rekey.sarif\nstatus=1\n");
    assert!(
        stdout.starts_with("::warning file=helm/typo-values.yaml,line=1,"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n::error file=k8s/old.yaml,line=3,"),
        "{stdout}"
    );

    let (stdout, outputs) = run_check_step(&policy, "k8s/prod.yaml", "text");
    assert_eq!(outputs, "status=0\n");
    assert_eq!(
        stdout,
        "rekey check: 0 errors, 0 warnings, 0 notes in 1 file checked (1 site in 1 file); policy .rekey.toml\n"
    );
}

#[test]
fn actionlint_accepts_the_fleet_matrix_workflow() {
    let fleet = fs::read_to_string(project().join("examples/github/rekey-fleet.yml")).unwrap();
    assert!(fleet.contains("rekey check --ready-to-revoke \"$FINGERPRINT\" --repo target-repo"));
    let (passed, output) = actionlint(&[("rekey-check.yml", &fleet)]);
    assert!(passed, "{output}");
}
