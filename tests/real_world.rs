//! Real-looking repos end to end (`fixtures/real-world`, `fixtures/bom`,
//! `fixtures/format-errors`): legacy keys renamed only where a delegate reads them, copies
//! in Terraform heredocs, state, Dockerfiles and systemd units, tokens that live in external
//! stores or encrypted, a BOM in every format, and files that must be errors, not silence.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;

fn rotate_all(dir: &Path, extra: &[&str]) -> Run {
    let token = new_token_file();
    let mut args = vec![
        "rotate",
        "--all",
        "--new-token-file",
        token.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    rekey(dir, &args)
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).expect("the command prints JSON")
}

#[test]
fn scan_reports_every_copy_with_its_kind_and_where_it_lives() {
    let run = rekey(
        &fixtures().join("real-world"),
        &["scan", "--format", "json"],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let expected = fs::read_to_string(fixtures().join("expected/real-world-scan.json")).unwrap();
    assert_eq!(
        json(&run),
        serde_json::from_str::<Value>(&expected).unwrap()
    );
    assert_no_token(&run.stdout, "scan --format json");
}

#[test]
fn scan_text_says_where_an_external_token_lives_and_how_to_rotate_it() {
    let run = rekey(
        &fixtures().join("real-world/gitops"),
        &["scan", "external-delegate-token.yaml"],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "  LINE:COL KEY              KIND        ENCODING FINGERPRINT\nexternal-delegate-token.yaml\n  16:9     DELEGATE_TOKEN   reference\n           lives in remote key platform/harness/delegate-token, property token, through ClusterSecretStore aws-secrets-manager; to rotate: write the new token at that remote key in the store behind ClusterSecretStore aws-secrets-manager; the External Secrets operator syncs it into Secret eso-delegate-account-token on its next refresh\n\n1 site in 1 file: 0 literal (0 distinct tokens), 0 placeholders, 1 reference, 0 encrypted, 0 empty, 0 key mentions; 0 legacy keys; policy none (no .rekey.toml in this directory or above it, up to the repository's top)\n"
    );
}

#[test]
fn rotate_all_renames_only_delegate_keys_and_leaves_no_legacy_key_error() {
    let repo = copy_fixture("real-world");
    let run = rotate_all(repo.path(), &["--write"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_same_tree(repo.path(), &fixtures().join("expected/real-world-rotated"));
    assert!(
        run.stdout.contains(
            "in 10 files: 16 sites rotated, 0 placeholders filled, 9 legacy keys migrated."
        ),
        "{}",
        run.stdout
    );
    // Every key left alone says why, and every external copy says how to rotate it there.
    for note in [
        "note: installer/install-delegate.sh:6:16: legacy key account_secret kept: ",
        "note: server-chart/values.yaml:6:18: legacy key accountSecret kept: not beside delegateName / managerEndpoint",
        "note: k8s/delegate-env-from.yaml:15:19: legacy key ACCOUNT_SECRET kept: no delegate container in the scanned files refers to Secret platform-secrets",
        "note: terraform/bootstrap.tf:16:25: legacy key account_secret kept: a templatefile variable",
        "note: gitops/sealed-delegate-token.yaml:8:21: DELEGATE_TOKEN lives in SealedSecret sealed-delegate-token in namespace harness-delegate-ng, key DELEGATE_TOKEN; rotate it there: seal the new token with kubeseal",
        "note: gitops/vault-delegate.yaml:15:18: DELEGATE_TOKEN lives in Vault path secret/data/harness/delegate",
        "note: gitops/delegate-token.enc.yaml:8:21: DELEGATE_TOKEN lives in SOPS-encrypted in this file at [\"stringData\"][\"DELEGATE_TOKEN\"]",
    ] {
        assert!(run.stderr.contains(note), "missing {note:?} in:\n{}", run.stderr);
    }
    assert_no_token(&run.stderr, "rotate notes");

    let check = rekey(repo.path(), &["check", "--format", "json"]);
    assert_eq!(check.status, 0, "{}", check.stdout);
    let findings = json(&check)["findings"].as_array().unwrap().clone();
    let legacy_levels: Vec<&str> = findings
        .iter()
        .filter(|f| f["rule"] == "legacy-key")
        .map(|f| f["level"].as_str().unwrap())
        .collect();
    // The two server-chart keys, the installer variable, the platform Secret with its env
    // name and secretKeyRef, the templatefile variable and the state: nothing a rotation renames.
    assert_eq!(legacy_levels.len(), 8, "{findings:#?}");
    assert!(
        legacy_levels.iter().all(|level| *level == "note"),
        "{findings:#?}"
    );
    // Prose in a comment is never a site, so never a finding.
    assert!(!findings
        .iter()
        .any(|f| f["path"] == "installer/install-delegate.sh" && f["line"] == 3));
}

#[test]
fn check_before_a_rotation_errs_exactly_on_the_keys_a_rotation_renames() {
    let check = rekey(
        &fixtures().join("real-world"),
        &["check", "--format", "json"],
    );
    assert_eq!(check.status, 1);
    let findings = json(&check)["findings"].as_array().unwrap().clone();
    let errors = findings
        .iter()
        .filter(|f| f["rule"] == "legacy-key" && f["level"] == "error")
        .count();
    assert_eq!(errors, 9, "as many as the rotation migrates");
}

#[test]
fn fill_placeholders_renames_exactly_what_a_plain_run_renames() {
    let keys_after = |extra: &[&str]| {
        let repo = copy_fixture("real-world");
        let run = rotate_all(repo.path(), &[&["--write"], extra].concat());
        assert_eq!(run.status, 0, "{}", run.stderr);
        let scan = json(&rekey(repo.path(), &["scan", "--format", "json"]));
        scan["sites"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| format!("{}:{}:{}", s["path"], s["line"], s["key"]))
            .collect::<Vec<_>>()
    };
    assert_eq!(keys_after(&[]), keys_after(&["--fill-placeholders"]));
}

#[test]
fn external_token_is_a_note_by_default_and_configurable() {
    let repo = copy_fixture("real-world");
    let run = rekey(&repo.path().join("gitops"), &["check"]);
    assert_eq!(run.status, 0, "{}", run.stdout);
    assert!(run.stdout.contains(
        "external-delegate-token.yaml:16:9: note[external-token] DELEGATE_TOKEN is a delegate token kept outside git (remote key platform/harness/delegate-token, property token, through ClusterSecretStore aws-secrets-manager)"
    ), "{}", run.stdout);
    assert_eq!(
        run.stdout.matches("[external-token]").count(),
        4,
        "{}",
        run.stdout
    );
    fs::write(
        repo.path().join("strict.toml"),
        "[rules]\nexternal-token = \"error\"\n",
    )
    .unwrap();
    let strict = rekey(repo.path(), &["check", "--config", "strict.toml", "gitops"]);
    assert_eq!(strict.status, 1, "{}", strict.stdout);
    fs::write(
        repo.path().join("off.toml"),
        "[rules]\nexternal-token = \"off\"\n",
    )
    .unwrap();
    let off = rekey(repo.path(), &["check", "--config", "off.toml", "gitops"]);
    assert!(!off.stdout.contains("external-token"), "{}", off.stdout);
}

#[test]
fn a_bom_is_read_in_every_format_and_kept_byte_for_byte() {
    let (status, report) = {
        let run = rekey(&fixtures().join("bom"), &["scan", "--format", "json"]);
        (run.status, json(&run))
    };
    assert_eq!(status, 0);
    let found: Vec<(String, u64, u64)> = report["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["format"].as_str().unwrap().to_owned(),
                s["line"].as_u64().unwrap(),
                s["column"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("dotenv", 1, 16),
        ("dockerfile", 2, 20),
        ("systemd", 2, 28),
        ("terraform", 1, 19),
        ("toml", 1, 19),
        ("shell", 2, 30),
        ("json", 1, 115),
        ("yaml", 3, 16),
    ]
    .map(|(f, l, c)| (f.to_owned(), l, c));
    assert_eq!(found, expected);
    let repo = copy_fixture("bom");
    let run = rotate_all(repo.path(), &["--write"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_same_tree(repo.path(), &fixtures().join("expected/bom-rotated"));
    for (name, bytes) in tree(repo.path()) {
        assert!(bytes.starts_with(b"\xef\xbb\xbf"), "{name} lost its BOM");
        assert!(
            !String::from_utf8(bytes).unwrap().contains(OLD_HEX),
            "{name}"
        );
    }
}

#[test]
fn broken_or_mislabelled_yaml_is_an_error_never_zero_sites() {
    // delegate.yaml holds .env lines (HCL saved as .yaml is read as HCL: see rename_rules).
    let run = rekey(
        &fixtures().join("format-errors"),
        &["scan", "--format", "json"],
    );
    assert_eq!(run.status, 2);
    let errors: Vec<(String, u64, u64)> = json(&run)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_owned(),
                e["line"].as_u64().unwrap(),
                e["column"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            ("delegate.yaml".to_owned(), 1, 1),
            ("values.yaml".to_owned(), 3, 16)
        ]
    );
    assert!(
        run.stdout.contains("is not a YAML mapping"),
        "{}",
        run.stdout
    );
}
