//! Key names as projects write them, end to end: a variant of a core name (any prefix, case
//! and separator: `harnessDelegateToken`, `HARNESS_DELEGATE_TOKEN`, `harness-account-secret`)
//! is a site in every format when it holds a token, a key mention when it holds a
//! placeholder or nothing, and nothing otherwise; `scan` lists it, `check` judges it,
//! `rotate` rewrites its value (same layers) and never its name. `[keys] extra` in
//! `.rekey.toml` adds a project's own names, per repository.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;

fn scan_json(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["scan", "--format", "json"];
    all.extend_from_slice(args);
    let run = rekey(dir, &all);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_no_token(&run.stdout, "scan stdout");
    assert_no_token(&run.stderr, "scan stderr");
    serde_json::from_str(&run.stdout).expect("scan prints JSON")
}

/// `path:line key kind encoding` of every site, in the report's order.
fn listed(report: &Value) -> Vec<String> {
    report["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}:{} {} {} {}",
                s["path"].as_str().unwrap(),
                s["line"],
                s["key"].as_str().unwrap(),
                s["kind"].as_str().unwrap(),
                s["encoding"].as_str().unwrap_or("-"),
            )
        })
        .collect()
}

/// Every site of `fixtures/key-names/repo`: one variant holding the token and one holding a
/// placeholder or nothing per format; the names that only look alike
/// (`harnessAccountSecretName`, `existingDelegateToken`, `delegateTokenName`,
/// `…_TOKEN_FILE`, `…_TOKEN_NAME`) are absent.
const SITES: [&str; 32] = [
    ".env:1 HARNESS_DELEGATE_TOKEN literal hex",
    ".env:2 HARNESS_ACCOUNT_SECRET mention -",
    "compose/docker-compose.yml:5 HARNESS_DELEGATE_TOKEN literal hex",
    "compose/docker-compose.yml:6 HARNESS_UPGRADER_TOKEN mention -",
    "compose/docker-compose.yml:10 harness_delegate_token literal hex",
    "compose/docker-compose.yml:11 harness_account_secret mention -",
    "config/delegate.toml:3 harness_delegate_token literal hex",
    "config/delegate.toml:4 backup_delegate_token mention -",
    "docker/Dockerfile:2 HARNESS_DELEGATE_TOKEN literal hex",
    "docker/Dockerfile:3 HARNESS_UPGRADER_TOKEN mention -",
    "ecs/task.json:8 HARNESS_DELEGATE_TOKEN literal hex",
    "ecs/task.json:9 HARNESS_UPGRADER_TOKEN mention -",
    "helm/values.yaml:4 harnessDelegateToken literal hex",
    "helm/values.yaml:5 harnessAccountSecret literal base64",
    "helm/values.yaml:9 harnessUpgraderToken mention -",
    "helm/values.yaml:11 harness_delegate_token mention -",
    "k8s/delegate.yaml:13 HARNESS_DELEGATE_TOKEN literal hex",
    "k8s/delegate.yaml:15 BACKUP_DELEGATE_TOKEN mention -",
    "k8s/delegate.yaml:25 HARNESS_DELEGATE_TOKEN literal base64",
    "k8s/delegate.yaml:27 harness-account-secret literal hex",
    "k8s/delegate.yaml:28 harness-upgrader-token mention -",
    "scripts/run.sh:4 HARNESS_DELEGATE_TOKEN literal hex",
    "scripts/run.sh:5 BACKUP_DELEGATE_TOKEN mention -",
    "scripts/run.sh:7 PLATFORM_ACCOUNT_SECRET literal hex",
    "scripts/run.sh:8 global.harness.harnessDelegateToken literal base64",
    "systemd/platform-delegate.service:5 HARNESS_DELEGATE_TOKEN literal hex",
    "systemd/platform-delegate.service:6 HARNESS_ACCOUNT_SECRET mention -",
    "terraform/main.tf:7 harnessDelegateToken literal base64x2",
    "terraform/main.tf:13 harness_delegate_token literal hex",
    "terraform/main.tf:14 harness_account_secret mention -",
    "terraform/prod.tfvars:1 harness_delegate_token literal hex",
    "terraform/prod.tfvars:2 harness_upgrader_token mention -",
];

#[test]
fn scan_lists_a_variant_holding_a_token_in_every_format_and_a_placeholder_as_a_mention() {
    let dir = copy_fixture("key-names/repo");
    let report = scan_json(dir.path(), &[]);
    assert_eq!(report["errors"], Value::Array(vec![]));
    assert_eq!(listed(&report), SITES);
    for site in report["sites"].as_array().unwrap() {
        assert_eq!(site["legacy"], false, "a variant is never legacy: {site}");
        if site["kind"] == "literal" {
            assert_eq!(site["fingerprint"], OLD_FINGERPRINT, "{site}");
        }
    }
    let text = rekey(dir.path(), &["scan"]);
    assert_no_token(&text.stdout, "scan text");
    assert!(
        text.stdout.contains(
            "32 sites in 11 files: 18 literal (1 distinct token), 0 placeholders, 0 references, 0 encrypted, 0 empty, 14 key mentions; 0 legacy keys"
        ),
        "{}",
        text.stdout
    );
}

#[test]
fn check_judges_every_variant_holding_a_token_and_nothing_else() {
    let dir = copy_fixture("key-names/repo");
    // No policy: a Secret's name or a number under a variant is no malformed token.
    let clean = rekey(dir.path(), &["check", "--format", "json"]);
    assert_no_token(&clean.stdout, "check stdout");
    assert_eq!(clean.status, 0, "{}{}", clean.stdout, clean.stderr);
    let report: Value = serde_json::from_str(&clean.stdout).unwrap();
    assert_eq!(report["findings"], Value::Array(vec![]));

    let policy = format!("[tokens]\nrevoked = [\"{OLD_FINGERPRINT}\"]\n");
    fs::write(dir.path().join(".rekey.toml"), policy).unwrap();
    let run = rekey(dir.path(), &["check", "--format", "json"]);
    assert_no_token(&run.stdout, "check stdout");
    assert_no_token(&run.stderr, "check stderr");
    assert_eq!(run.status, 1, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let found: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["fingerprint"], OLD_FINGERPRINT, "{f}");
            format!(
                "{} {}:{}",
                f["rule"].as_str().unwrap(),
                f["path"].as_str().unwrap(),
                f["line"]
            )
        })
        .collect();
    let expected: Vec<String> = SITES
        .iter()
        .filter(|site| site.contains(" literal "))
        .map(|site| format!("revoked-token {}", site.split(' ').next().unwrap()))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn rotate_rewrites_the_value_at_a_variant_byte_for_byte_and_never_its_name() {
    let dir = copy_fixture("key-names/repo");
    // Placeholders under a variant are mentions: --fill-placeholders leaves them alone.
    let run = rotate_to_new_token(dir.path(), &["--write", "--fill-placeholders"]);
    assert_no_token(&run.stdout, "rotate stdout");
    assert_no_token(&run.stderr, "rotate stderr");
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "in 11 files: 18 sites rotated, 0 placeholders filled, 0 legacy keys migrated"
        ),
        "{}",
        run.stdout
    );
    assert_same_tree(dir.path(), &fixtures().join("key-names/expected"));
    let again = rotate_to_new_token(dir.path(), &["--write"]);
    assert_no_token(&again.stdout, "second rotate stdout");
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert_same_tree(dir.path(), &fixtures().join("key-names/expected"));
}

#[test]
fn a_variant_of_a_legacy_name_is_not_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let values = format!(
        "harnessAccountSecret: \"{OLD_HEX}\"\naccountSecret: \"{OLD_HEX}\"\ndelegateName: d\n"
    );
    fs::write(dir.path().join("values.yaml"), &values).unwrap();
    let run = rotate_to_new_token(dir.path(), &["--write"]);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert_no_token(&run.stdout, "rotate stdout");
    assert_eq!(
        fs::read_to_string(dir.path().join("values.yaml")).unwrap(),
        format!(
            "harnessAccountSecret: \"{NEW_HEX}\"\ndelegateToken: \"{NEW_HEX}\"\ndelegateName: d\n"
        )
    );
}

#[test]
fn extra_key_names_from_the_policy_are_matched_without_case_or_separators() {
    let dir = copy_fixture("key-names/extra/repo");
    let report = scan_json(dir.path(), &[]);
    assert_eq!(
        listed(&report),
        [
            "app/.env:1 MY_TOKEN literal hex",
            "app/.env:2 PLATFORM_KEY literal hex",
            "app/values.yaml:2 myToken literal hex",
            "app/values.yaml:3 platformKey mention -",
        ]
    );
    let run = rotate_to_new_token(dir.path(), &["--write"]);
    assert_no_token(&run.stdout, "rotate stdout");
    assert_no_token(&run.stderr, "rotate stderr");
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert_same_tree(dir.path(), &fixtures().join("key-names/extra/expected"));

    // Without the policy's names the same files hold no site.
    let bare = copy_fixture("key-names/extra/repo");
    fs::remove_file(bare.path().join(".rekey.toml")).unwrap();
    assert_eq!(listed(&scan_json(bare.path(), &[])), Vec::<String>::new());
}

#[test]
fn each_repository_scans_with_its_own_extra_key_names() {
    let home = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    for (name, policy) in [("api", true), ("web", false)] {
        let repo = root.path().join(name);
        fs::create_dir_all(&repo).unwrap();
        fs::write(
            repo.join("values.yaml"),
            format!("myToken: \"{OLD_HEX}\"\n"),
        )
        .unwrap();
        if policy {
            fs::write(repo.join(".rekey.toml"), "[keys]\nextra = [\"my_token\"]\n").unwrap();
        }
        commit_all(&repo, home.path());
    }
    let report = scan_json(root.path(), &["--repo", "web", "--repo", "api"]);
    assert_eq!(listed(&report), ["api/values.yaml:1 myToken literal hex"]);
}

#[test]
fn a_bad_extra_key_name_is_an_error_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join(".rekey.toml");
    fs::write(
        &policy,
        format!("[keys]\nextra = [\"myToken\", \"{OLD_HEX} x\"]\n"),
    )
    .unwrap();
    let run = rekey(dir.path(), &["check"]);
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    assert_no_token(&run.stderr, "check stderr");
    assert!(
        run.stderr
            .contains(".rekey.toml:2:9: entry 2 of [keys] extra is not a key name"),
        "{}",
        run.stderr
    );
    fs::write(&policy, "[keys]\nnames = [\"myToken\"]\n").unwrap();
    let run = rekey(dir.path(), &["scan"]);
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains(".rekey.toml:2:1: unknown key names in [keys]; it takes extra"),
        "{}",
        run.stderr
    );
}

#[test]
fn live_state_on_stdin_reads_a_variant_env_name() {
    let dir = tempfile::tempdir().unwrap();
    let stream = format!(
        "{{\"Config\": {{\"Image\": \"harness/delegate:25.10.87100\", \"Env\": [\"HARNESS_DELEGATE_TOKEN={OLD_HEX}\", \"HARNESS_DELEGATE_TOKEN_NAME=default_token\"]}}}}\n"
    );
    let run = rekey_with(
        dir.path(),
        &["scan", "--format", "json", "-"],
        &[],
        Some(&stream),
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_no_token(&run.stdout, "scan stdout");
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(listed(&report), ["-:1 HARNESS_DELEGATE_TOKEN literal hex"]);
}

#[test]
fn inventory_attributes_variant_sites_to_their_delegates() {
    let dir = copy_fixture("key-names/repo");
    let run = rekey(dir.path(), &["inventory"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_no_token(&run.stdout, "inventory stdout");
    for row in [
        "Deployment           platform-delegate (container delegate)",
        "ECS task             platform-delegate (container delegate)",
        "compose service      delegate",
        "Terraform            module.delegate",
    ] {
        assert!(run.stdout.contains(row), "{row}:\n{}", run.stdout);
    }
    assert!(
        run.stdout
            .contains("15 delegates holding 1 distinct token; 0 hold a revoked token"),
        "{}",
        run.stdout
    );
}
