//! `rekey scan` end to end: the `rekey.scan/v1` JSON contract (README, schemas/), the text
//! report, discovery rules (.gitignore, hidden files, prose skipped), errors and exit codes.

mod common;

use common::*;
use serde_json::Value;
use std::fs;

fn scan_json(dir: &std::path::Path, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["scan", "--format", "json"];
    all.extend_from_slice(args);
    let run = rekey(dir, &all);
    (
        run.status,
        serde_json::from_str(&run.stdout).expect("scan prints JSON"),
    )
}

#[test]
fn json_lists_every_site_with_the_contract_fields() {
    let (status, report) = scan_json(&fixtures(), &["demo"]);
    assert_eq!(status, 0);
    assert_eq!(report["schema"], "rekey.scan/v1");
    assert_eq!(report["errors"], Value::Array(vec![]));
    let sites = report["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 41);
    let secret = sites
        .iter()
        .find(|s| s["path"] == "demo/rendered/delegate-secret.yaml")
        .unwrap();
    assert_eq!(
        secret,
        &serde_json::json!({
            "path": "demo/rendered/delegate-secret.yaml",
            "line": 10,
            "column": 20,
            "format": "yaml",
            "key": "DELEGATE_TOKEN",
            "kind": "literal",
            "encoding": "base64x2",
            "legacy": false,
            "fingerprint": OLD_FINGERPRINT,
        })
    );
    let legacy: Vec<_> = sites
        .iter()
        .filter(|s| s["legacy"] == true)
        .map(|s| format!("{}:{}", s["path"].as_str().unwrap(), s["line"]))
        .collect();
    assert_eq!(
        legacy,
        [
            "demo/ecs/task-spec.json:10",
            "demo/helm/umbrella/values.yaml:9",
            "demo/k8s/firstgen-statefulset.yaml:17",
            "demo/k8s/legacy-secret-ref.yaml:7",
            "demo/k8s/legacy-secret-ref.yaml:23",
            "demo/k8s/legacy-secret-ref.yaml:25",
            "demo/k8s/legacy-secret-ref.yaml:28",
            "demo/kustomize/kustomization.yaml:7",
            "demo/shell-delegate/config-watcher.yml:2",
            "demo/shell-delegate/start.sh:8",
            "demo/shell-delegate/start.sh:9",
            "demo/shell-delegate/start.sh:14",
            "demo/shell-delegate/start.sh:18",
            "demo/terraform/main.tf:15",
            "demo/terraform/terraform.tfstate:12",
        ]
    );
    let kinds = |kind: &str| sites.iter().filter(|s| s["kind"] == kind).count();
    assert_eq!(
        (
            kinds("literal"),
            kinds("placeholder"),
            kinds("reference"),
            kinds("mention")
        ),
        (30, 2, 8, 1)
    );
    let formats: std::collections::BTreeSet<&str> = sites
        .iter()
        .map(|s| s["format"].as_str().unwrap())
        .collect();
    assert_eq!(
        formats.into_iter().collect::<Vec<_>>(),
        [
            "dotenv",
            "json",
            "shell",
            "terraform",
            "tfstate",
            "toml",
            "yaml"
        ]
    );
    let placeholder = sites.iter().find(|s| s["kind"] == "placeholder").unwrap();
    assert_eq!(placeholder["encoding"], Value::Null);
    assert_eq!(placeholder["fingerprint"], Value::Null);
}

#[test]
fn ignored_files_and_prose_are_not_scanned_but_hidden_files_are() {
    let repo = copy_fixture("demo");
    fs::write(
        repo.path().join(".hidden-values.yaml"),
        format!("delegateToken: {OLD_HEX}\n"),
    )
    .unwrap();
    // A developer's local override, listed in the demo's .gitignore (and, like it, never
    // committed: a tracked file is judged whatever .gitignore says).
    fs::write(
        repo.path().join("k8s/override.local.yaml"),
        format!("delegateToken: {OTHER_HEX}\n"),
    )
    .unwrap();
    let (_, report) = scan_json(repo.path(), &[]);
    let paths: Vec<&str> = report["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&".hidden-values.yaml"));
    assert!(
        !paths.iter().any(|p| p.ends_with(".local.yaml")),
        "a .gitignore'd file was scanned"
    );
    assert!(!paths.contains(&"README.md"));
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted, "sites are reported in path order");
}

#[test]
fn the_git_directory_is_never_entered() {
    let repo = copy_fixture("multi-token");
    fs::create_dir_all(repo.path().join(".git/refs")).unwrap();
    fs::write(
        repo.path().join(".git/config.yaml"),
        format!("delegateToken: {OLD_HEX}\n"),
    )
    .unwrap();
    let (_, report) = scan_json(repo.path(), &[]);
    assert_eq!(report["sites"].as_array().unwrap().len(), 3);
}

#[test]
fn text_groups_sites_by_file_with_a_summary() {
    let run = rekey(
        &fixtures().join("demo"),
        &["scan", "shell-delegate", "helm/umbrella"],
    );
    assert_eq!(run.status, 0);
    assert_eq!(
        run.stdout,
        "  LINE:COL KEY              KIND        ENCODING FINGERPRINT\nhelm/umbrella/values.yaml\n  9:18     accountSecret    literal     hex      sha256:ff25d2389ab7917a legacy\nshell-delegate/config-delegate.yml\n  2:17     delegateToken    literal     hex      sha256:ff25d2389ab7917a\nshell-delegate/config-watcher.yml\n  2:16     accountSecret    literal     hex      sha256:ff25d2389ab7917a legacy\nshell-delegate/start.sh\n  8:16     accountSecret    mention     legacy\n  9:24     accountSecret    literal     hex      sha256:ff25d2389ab7917a legacy\n  14:16    accountSecret    literal     hex      sha256:ff25d2389ab7917a legacy\n  18:24    ACCOUNT_SECRET   literal     hex      sha256:ff25d2389ab7917a legacy\n\n7 sites in 4 files: 6 literal (1 distinct token), 0 placeholders, 0 references, 0 encrypted, 0 empty, 1 key mention; 6 legacy keys; policy .rekey.toml\n"

    );
    assert_eq!(run.stderr, "");
}

#[test]
fn an_unparseable_file_is_listed_under_errors_with_exit_2() {
    let (status, report) = scan_json(&fixtures().join("broken"), &[]);
    assert_eq!(status, 2);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["path"], "bad.yaml");
    assert_eq!(errors[0]["line"], 3);
    assert!(errors[0]["message"]
        .as_str()
        .unwrap()
        .contains("cannot parse this YAML file"));
    assert_eq!(
        report["sites"].as_array().unwrap().len(),
        1,
        "the good file is still scanned"
    );

    let text = rekey(&fixtures().join("broken"), &["scan"]);
    assert_eq!(text.status, 2);
    assert!(
        text.stderr.starts_with("error: bad.yaml:3:"),
        "{}",
        text.stderr
    );
}

#[test]
fn helm_templates_yield_references_only() {
    let (status, report) = scan_json(&fixtures().join("demo/helm/chart"), &[]);
    assert_eq!(status, 0);
    let sites = report["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 1);
    assert_eq!(sites[0]["kind"], "reference");
    assert_eq!(sites[0]["line"], 8);
}

#[test]
fn oversized_files_with_a_key_name_are_reported_as_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let padding = "# padding\n".repeat(900_000);
    // The key name sits at the very end, far past the first chunk a search reads.
    fs::write(
        dir.path().join("huge.yaml"),
        format!("{padding}delegateToken: {OLD_HEX}\n"),
    )
    .unwrap();
    fs::write(dir.path().join("huge-without-key.yaml"), &padding).unwrap();
    let (status, report) = scan_json(dir.path(), &[]);
    assert_eq!(status, 0);
    assert_eq!(report["skipped"].as_array().unwrap().len(), 1);
    assert_eq!(report["skipped"][0]["path"], "huge.yaml");
    assert_eq!(
        report["skipped"][0]["reason"],
        "holds a delegate-token key but is 8 MiB, over the 8 MiB rekey parses: split it, or exclude it in .rekey.toml [scan] exclude"
    );
}

#[test]
fn a_missing_path_is_a_clear_error() {
    let run = rekey(&fixtures(), &["scan", "no/such/dir"]);
    assert_eq!(run.status, 2);
    assert_eq!(
        run.stderr,
        "error: no/such/dir: no such file or directory\n"
    );
}

#[test]
fn a_reader_that_goes_away_mid_report_ends_the_run_quietly() {
    // A report of many blocks is masked on a second thread while it is written: when the
    // reader closes the pipe (`rekey scan | head`), both threads must stop, the run must
    // end with its own status, and what was read must hold no token.
    use std::io::Read;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("many.env"),
        format!("DELEGATE_TOKEN={OLD_HEX}\n").repeat(6000),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rekey"))
        .args(["scan", "--format", "json", "."])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = vec![0; 4096];
    let mut stdout = child.stdout.take().unwrap();
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "rekey still runs a minute after its reader left"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "", "a closed pipe is not an error worth a message");
    let first = String::from_utf8(first).unwrap();
    assert!(first.contains("\"path\": \"many.env\""), "{first}");
    assert!(!first.contains(&OLD_HEX[..12]), "{first}");
}
