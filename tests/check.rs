//! `rekey check` end to end: every rule and level, the policy file (levels, excludes, edits
//! by init / revoke / rotate that keep comments), `--staged` against a different working
//! tree, and each output format. SARIF is validated by the official SARIF Multitool, which
//! `.ci/run` installs from npm.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;
use std::process::Command;

#[test]
fn every_rule_fires_at_its_default_level() {
    let run = rekey(&fixtures().join("policy"), &["check"]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "broken.yaml:1:16: error[unparseable] cannot parse this YAML file: unclosed bracket '['; fix the syntax, then run rekey again\n\
helm/stale-values.yaml:2:16: error[stale-token] delegateToken holds a token that is not in [tokens] current: rotate it, or add its fingerprint to current if it is in force (sha256:01166fc1623d7286)\n\
helm/typo-values.yaml:1:16: warning[malformed-token] delegateToken holds a literal that is not a delegate token (32 hex characters or their base64 form): an API key or a typo? (sha256:a3c660cb9d2bab8e)\n\
k8s/old.yaml:3:11: error[revoked-token] DELEGATE_TOKEN holds a token revoked in Harness: rotate it with `rekey rotate --only sha256:261a3b41c39377c6 --new-token-env NEW_TOKEN` (sha256:261a3b41c39377c6)\n\
shell/config-watcher.yml:1:1: error[legacy-key] legacy key accountSecret: rename it to delegateToken (`rekey rotate --new-token-env NEW_TOKEN` migrates it) (sha256:ff25d2389ab7917a)\n\
rekey check: 4 errors, 1 warning, 0 notes in 6 files checked (5 sites in 5 files); policy .rekey.toml\n"
    );
    assert_eq!(run.stderr, "");
}

#[test]
fn levels_come_from_the_rules_table_and_decide_the_exit_code() {
    let repo = copy_fixture("policy");
    fs::remove_file(repo.path().join("broken.yaml")).unwrap();
    let policy = fs::read_to_string(repo.path().join(".rekey.toml")).unwrap();
    let relaxed = format!("{policy}\n[rules]\nrevoked-token = \"warning\"\nstale-token = \"off\"\nlegacy-key = \"note\"\n");
    fs::write(repo.path().join("relaxed.toml"), relaxed).unwrap();
    let run = rekey(
        repo.path(),
        &["check", "--config", "relaxed.toml", "--format", "json"],
    );
    assert_eq!(
        run.status, 0,
        "only warnings and notes remain: {}",
        run.stdout
    );
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let levels: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_owned(),
                f["level"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        levels,
        [
            ("malformed-token".to_owned(), "warning".to_owned()),
            ("revoked-token".to_owned(), "warning".to_owned()),
            ("legacy-key".to_owned(), "note".to_owned()),
        ]
    );
}

#[test]
fn stale_needs_a_current_list() {
    let repo = copy_fixture("policy");
    fs::write(repo.path().join(".rekey.toml"), "[tokens]\nrevoked = []\n").unwrap();
    let run = rekey(repo.path(), &["check", "helm/stale-values.yaml", "k8s"]);
    assert_eq!(run.status, 0, "{}", run.stdout);
    assert_eq!(
        run.stdout,
        "rekey check: 0 errors, 0 warnings, 0 notes in 3 files checked (3 sites in 3 files); policy .rekey.toml\n"
    );
}

#[test]
fn a_bad_rule_level_or_policy_syntax_is_an_error_with_line_and_column() {
    let repo = copy_fixture("policy");
    fs::write(
        repo.path().join(".rekey.toml"),
        "[rules]\nlegacy-key = \"fatal\"\n",
    )
    .unwrap();
    let run = rekey(repo.path(), &["check"]);
    assert_eq!(run.status, 2);
    assert_eq!(run.stderr, "error: .rekey.toml:2:14: rule legacy-key takes \"error\", \"warning\", \"note\" or \"off\"\n");
    fs::write(repo.path().join(".rekey.toml"), "[tokens\ncurrent = []\n").unwrap();
    let run = rekey(repo.path(), &["check"]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr
            .starts_with("error: .rekey.toml:1:8: not valid TOML"),
        "{}",
        run.stderr
    );
}

#[test]
fn excludes_apply_to_explicitly_given_paths() {
    let policy = fixtures().join("policy");
    let run = rekey(&policy, &["check", "vendor/chart/values.yaml"]);
    assert_eq!(run.status, 0, "{}", run.stdout);
    assert_eq!(
        run.stdout,
        "rekey check: nothing was checked: no file under the given paths (after excludes)\n"
    );
    let direct = rekey(&policy, &["check", "k8s/old.yaml"]);
    assert_eq!(direct.status, 1);
    assert!(direct
        .stdout
        .contains("k8s/old.yaml:3:11: error[revoked-token]"));
}

#[test]
fn no_policy_file_still_reports_legacy_and_malformed() {
    let run = rekey(
        &fixtures().join("demo"),
        &["check", "shell-delegate", "--format", "json"],
    );
    assert_eq!(run.status, 1);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["schema"], "rekey.check/v1");
    assert_eq!(
        report["findings"][0],
        serde_json::json!({
            "rule": "legacy-key",
            "level": "error",
            "path": "shell-delegate/config-watcher.yml",
            "line": 2,
            "column": 1,
            "message": "legacy key accountSecret: rename it to delegateToken (`rekey rotate --new-token-env NEW_TOKEN` migrates it)",
            "fingerprint": OLD_FINGERPRINT,
        })
    );
}

#[test]
fn github_format_emits_workflow_commands() {
    let run = rekey(
        &fixtures().join("policy"),
        &["check", "k8s", "--format", "github"],
    );
    assert_eq!(run.status, 1);
    assert_eq!(
        run.stdout,
        "::error file=k8s/old.yaml,line=3,col=11,endColumn=43,title=rekey revoked-token::DELEGATE_TOKEN holds a token revoked in Harness: rotate it with `rekey rotate --only sha256:261a3b41c39377c6 --new-token-env NEW_TOKEN` (sha256:261a3b41c39377c6)\n\
rekey check: 1 error, 0 warnings, 0 notes in 2 files checked (2 sites in 2 files); policy .rekey.toml\n"
    );
}

#[test]
fn gitlab_format_is_a_code_quality_report() {
    let run = rekey(
        &fixtures().join("policy"),
        &[
            "check",
            "k8s",
            "helm/typo-values.yaml",
            "--format",
            "gitlab",
        ],
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).expect("the report is JSON");
    assert_eq!(
        report,
        serde_json::json!([
            {
                "type": "issue",
                "check_name": "malformed-token",
                "description": "delegateToken holds a literal that is not a delegate token (32 hex characters or their base64 form): an API key or a typo? (sha256:a3c660cb9d2bab8e)",
                "categories": ["Security"],
                "severity": "minor",
                "fingerprint": report[0]["fingerprint"],
                "location": { "path": "helm/typo-values.yaml", "lines": { "begin": 1 } },
            },
            {
                "type": "issue",
                "check_name": "revoked-token",
                "description": "DELEGATE_TOKEN holds a token revoked in Harness: rotate it with `rekey rotate --only sha256:261a3b41c39377c6 --new-token-env NEW_TOKEN` (sha256:261a3b41c39377c6)",
                "categories": ["Security"],
                "severity": "critical",
                "fingerprint": report[1]["fingerprint"],
                "location": { "path": "k8s/old.yaml", "lines": { "begin": 3 } },
            },
        ])
    );
    // Fingerprints are distinct, and survive unrelated lines moving.
    assert_ne!(report[0]["fingerprint"], report[1]["fingerprint"]);
    let repo = copy_fixture("policy");
    let old = repo.path().join("k8s/old.yaml");
    let text = fs::read_to_string(&old).unwrap();
    fs::write(&old, format!("# moved\n{text}")).unwrap();
    let moved = rekey(repo.path(), &["check", "k8s", "--format", "gitlab"]);
    let moved: Value = serde_json::from_str(&moved.stdout).unwrap();
    assert_eq!(moved[0]["location"]["lines"]["begin"], 4);
    assert_eq!(moved[0]["fingerprint"], report[1]["fingerprint"]);

    let empty = tempfile::tempdir().unwrap();
    let clean = rekey(empty.path(), &["check", "--format", "gitlab"]);
    assert_eq!((clean.status, clean.stdout.as_str()), (0, "[]\n"));
}

fn sarif_of(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["check", "--format", "sarif"];
    all.extend_from_slice(args);
    let run = rekey(dir, &all);
    assert_ne!(run.status, 2, "{}", run.stderr);
    serde_json::from_str(&run.stdout).expect("SARIF is JSON")
}

#[test]
fn sarif_results_carry_rules_regions_and_stable_fingerprints() {
    let sarif = sarif_of(&fixtures().join("policy"), &[]);
    let run = &sarif["runs"][0];
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(run["columnKind"], "unicodeCodePoints");
    let rule_ids: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        rule_ids,
        [
            "revoked-token",
            "stale-token",
            "legacy-key",
            "malformed-token",
            "unparseable",
            "unchecked-file",
            "external-token",
            "history-token",
            "revoked-at-ref"
        ]
    );
    let revoked = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "revoked-token")
        .unwrap();
    assert_eq!(revoked["level"], "error");
    let location = &revoked["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "k8s/old.yaml");
    assert_eq!(
        location["region"],
        serde_json::json!({"startLine": 3, "startColumn": 11, "endColumn": 43})
    );

    // Moving unrelated lines keeps every fingerprint.
    let repo = copy_fixture("policy");
    let old = repo.path().join("k8s/old.yaml");
    let shifted = format!(
        "# moved down\n# by two lines\n{}",
        fs::read_to_string(&old).unwrap()
    );
    fs::write(&old, shifted).unwrap();
    let moved = sarif_of(repo.path(), &[]);
    let hashes = |sarif: &Value| -> Vec<String> {
        sarif["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["partialFingerprints"]["primaryLocationLineHash"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(hashes(&moved), hashes(&sarif));
    let moved_line = moved["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "revoked-token")
        .unwrap()["locations"][0]["physicalLocation"]["region"]["startLine"]
        .clone();
    assert_eq!(moved_line, 5);
}

/// The SARIF Multitool's validator, as `.ci/run` installs it.
fn multitool() -> std::path::PathBuf {
    let path = std::env::var_os("REKEY_SARIF_MULTITOOL")
        .map(Into::into)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(
                "target/ci-tools/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool",
            )
        });
    assert!(
        path.exists(),
        "the SARIF Multitool is not installed at {}: run .ci/run, which installs it from npm",
        path.display()
    );
    path
}

#[test]
fn sarif_passes_the_sarif_multitool_validator_with_no_error_or_warning() {
    let validator = multitool();
    let scratch = tempfile::tempdir().unwrap();
    for (name, dir) in [
        ("findings", fixtures().join("policy")),
        ("clean", fixtures().join("multi-token")),
    ] {
        let run = rekey(&dir, &["check", "--format", "sarif"]);
        assert_no_token(&run.stdout, "SARIF");
        let file = scratch.path().join(format!("{name}.sarif"));
        fs::write(&file, &run.stdout).unwrap();
        let output = Command::new(&validator)
            .args(["validate", "--rule-kind", "Gh;Sarif"])
            .arg(&file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{text}");
        assert!(text.contains("Analysis completed successfully"), "{text}");
        let complaints: Vec<&str> = text
            .lines()
            .filter(|line| {
                line.contains(": error ")
                    || line.contains(": warning ")
                    || line.contains(" error ERR")
            })
            .collect();
        assert!(
            complaints.is_empty(),
            "{name}.sarif:\n{}",
            complaints.join("\n")
        );
    }
}

#[test]
fn init_lists_the_tokens_held_now_and_never_overwrites() {
    let repo = copy_fixture("multi-token");
    let run = rekey(repo.path(), &["init"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!("Wrote .rekey.toml: [tokens] current lists 2 tokens.\n  {OTHER_FINGERPRINT}\n  {OLD_FINGERPRINT}\n")
    );
    let written = fs::read_to_string(repo.path().join(".rekey.toml")).unwrap();
    assert!(written.contains(&format!(
        "current = [\n  \"{OTHER_FINGERPRINT}\",\n  \"{OLD_FINGERPRINT}\",\n]\n"
    )));
    assert!(written.starts_with("# rekey policy"));
    assert_eq!(rekey(repo.path(), &["check"]).status, 0);

    let again = rekey(repo.path(), &["init"]);
    assert_eq!(again.status, 2);
    assert!(
        again.stderr.contains(".rekey.toml already exists"),
        "{}",
        again.stderr
    );
    assert_eq!(
        fs::read_to_string(repo.path().join(".rekey.toml")).unwrap(),
        written
    );
}

#[test]
fn revoke_keeps_comments_and_makes_check_fail() {
    let repo = copy_fixture("policy");
    let run = rekey(repo.path(), &["revoke", OLD_FINGERPRINT]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(
        fs::read_to_string(repo.path().join(".rekey.toml")).unwrap(),
        "# Delegate tokens for the platform team's repo.\n[tokens]\ncurrent = [\n]\nrevoked = [\n  \"sha256:261a3b41c39377c6\", # leaked in a build log\n  \"sha256:ff25d2389ab7917a\",\n]\n\n[scan]\nexclude = [\"vendor/**\"]\n"
    );
    let check = rekey(repo.path(), &["check", "k8s/prod.yaml"]);
    assert_eq!(check.status, 1);
    assert!(
        check
            .stdout
            .contains("k8s/prod.yaml:3:10: error[revoked-token]"),
        "{}",
        check.stdout
    );

    let bad = rekey(repo.path(), &["revoke", "not-a-fingerprint"]);
    assert_eq!(bad.status, 2);
    // Named by position, never echoed: what was typed may be part of a token (issue 19).
    assert!(
        bad.stderr
            .contains("FINGERPRINT 1 of 1 is not a fingerprint")
            && !bad.stderr.contains("not-a-fingerprint"),
        "{}",
        bad.stderr
    );
}

#[test]
fn rotate_write_moves_current_to_the_new_token_keeping_comments() {
    let repo = copy_fixture("policy");
    for file in [
        "broken.yaml",
        "k8s/old.yaml",
        "helm/stale-values.yaml",
        "helm/typo-values.yaml",
    ] {
        fs::remove_file(repo.path().join(file)).unwrap();
    }
    let token = new_token_file();
    let run = rekey(
        repo.path(),
        &[
            "rotate",
            "--new-token-file",
            token.to_str().unwrap(),
            "--write",
        ],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!(
            "Updated .rekey.toml: [tokens] current now lists {NEW_FINGERPRINT}.\n"
        )),
        "{}",
        run.stdout
    );
    let original = fs::read_to_string(fixtures().join("policy/.rekey.toml")).unwrap();
    assert_eq!(
        fs::read_to_string(repo.path().join(".rekey.toml")).unwrap(),
        original.replace(OLD_FINGERPRINT, NEW_FINGERPRINT)
    );
    let check = rekey(repo.path(), &["check"]);
    assert_eq!(check.status, 0, "{}", check.stdout);
}

#[test]
fn staged_judges_the_index_not_the_working_tree() {
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    git(dir, dir, &["init", "-q"]);
    fs::copy(
        fixtures().join("policy/.rekey.toml"),
        dir.join(".rekey.toml"),
    )
    .unwrap();
    let manifest = dir.join("values.yaml");
    fs::write(&manifest, format!("delegateToken: {OTHER_HEX}\n")).unwrap();
    git(dir, dir, &["add", ".rekey.toml", "values.yaml"]);
    fs::write(&manifest, format!("delegateToken: {OLD_HEX}\n")).unwrap();

    let staged = rekey(dir, &["check", "--staged"]);
    assert_eq!(
        staged.status, 1,
        "the staged revoked token is caught: {}",
        staged.stdout
    );
    assert!(
        staged
            .stdout
            .starts_with("values.yaml:1:16: error[revoked-token]"),
        "{}",
        staged.stdout
    );
    let working = rekey(dir, &["check"]);
    assert_eq!(
        working.status, 0,
        "the working tree is clean: {}",
        working.stdout
    );

    git(dir, dir, &["add", "values.yaml"]);
    fs::write(&manifest, format!("delegateToken: {OTHER_HEX}\n")).unwrap();
    assert_eq!(rekey(dir, &["check", "--staged"]).status, 0);
    assert_eq!(rekey(dir, &["check"]).status, 1);
}

#[test]
fn rotate_commit_carries_the_policy_update() {
    let dir = copy_fixture("policy");
    let dir = dir.path();
    for file in [
        "broken.yaml",
        "k8s/old.yaml",
        "helm/stale-values.yaml",
        "helm/typo-values.yaml",
    ] {
        fs::remove_file(dir.join(file)).unwrap();
    }
    git(dir, dir, &["init", "-q"]);
    git(dir, dir, &["add", "-A"]);
    git(dir, dir, &["commit", "-q", "-m", "init"]);
    let token = new_token_file();
    let run = rekey_with(
        dir,
        &[
            "rotate",
            "--new-token-file",
            token.to_str().unwrap(),
            "--commit",
            "--branch",
            "rotate",
        ],
        &IDENTITY,
        None,
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let shown = git(dir, dir, &["show", "rotate:.rekey.toml"]);
    let original = fs::read_to_string(fixtures().join("policy/.rekey.toml")).unwrap();
    assert_eq!(shown, original.replace(OLD_FINGERPRINT, NEW_FINGERPRINT));
    assert_eq!(
        fs::read_to_string(dir.join(".rekey.toml")).unwrap(),
        original,
        "the working tree is untouched"
    );
}

#[test]
fn an_empty_repos_list_or_one_that_is_a_fifo_is_an_error_not_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    // A revoked token in the current directory: falling back to it would answer about the
    // wrong input, whatever it found.
    fs::write(dir.path().join("repos.txt"), "# none yet\n\n").unwrap();
    let fifo = dir.path().join("repos.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    for command in ["check", "inventory", "scan"] {
        let empty = rekey(dir.path(), &[command, "--repos", "repos.txt"]);
        assert_eq!(empty.status, 2, "{command}: {}", empty.stderr);
        assert_eq!(
            empty.stderr,
            "error: --repos repos.txt: lists no repository (one path per line): add the repositories to judge\n",
            "{command}"
        );
        // Never opened for reading, so it cannot block the run waiting for a writer.
        let blocked = rekey(dir.path(), &[command, "--repos", "repos.fifo"]);
        assert_eq!(blocked.status, 2, "{command}: {}", blocked.stderr);
        assert_eq!(
            blocked.stderr, "error: --repos repos.fifo: is a FIFO, not a regular file\n",
            "{command}"
        );
    }
}
