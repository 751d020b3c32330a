//! What rekey tells a newcomer on the way to revoking a token must be true: run end to end
//! on `fixtures/newcomer`, a small infra repository as a new user has one (a Secret and the
//! StatefulSet that loads it in two files, a Deployment with a `secretKeyRef`, Helm values,
//! compose, Terraform, `.env`, a `docker run` script, an ECS task definition, a systemd
//! unit), rotated in part and whole, from the working tree and with `--commit`.

mod common;

use common::*;
use std::fs;
use std::path::Path;

/// A scratch copy of `fixtures/newcomer`.
fn newcomer() -> tempfile::TempDir {
    copy_fixture("newcomer")
}

/// `rekey args…` in `dir`; nothing it prints may hold a token.
fn run(dir: &Path, args: &[&str]) -> Run {
    let run = rekey(dir, args);
    assert_no_token(&run.stdout, "stdout");
    assert_no_token(&run.stderr, "stderr");
    run
}

#[test]
fn a_secret_is_linked_to_the_statefulset_that_loads_it_from_another_file() {
    let dir = newcomer();
    let inventory = run(dir.path(), &["inventory", "k8s"]);
    assert_eq!(inventory.status, 0, "{}", inventory.stderr);
    let row = inventory
        .stdout
        .lines()
        .find(|line| line.starts_with("StatefulSet"))
        .unwrap_or_else(|| panic!("no StatefulSet row:\n{}", inventory.stdout));
    assert!(
        row.contains("harness/harness-delegate (container delegate)")
            && row.contains("k8s/secret.yaml, k8s/sts.yaml via Secret harness/delegate-token")
            && row.contains(&format!("{OLD_FINGERPRINT} current")),
        "{row}"
    );
    assert!(
        !inventory.stdout.contains("referenced by no workload"),
        "{}",
        inventory.stdout
    );

    // Readiness: the StatefulSet is a delegate read, and it holds the token.
    let ready = ["check", "--ready-to-revoke", OLD_FINGERPRINT, "k8s"];
    let before = run(dir.path(), &ready);
    assert_eq!(before.status, 1, "{}{}", before.stdout, before.stderr);
    assert!(before.stdout.contains("StatefulSet"), "{}", before.stdout);

    // Migration: the Secret's ACCOUNT_SECRET is its delegate's env, so it is renamed.
    let rotated = rotate_to_new_token(dir.path(), &["--write", "k8s"]);
    assert_eq!(rotated.status, 0, "{}", rotated.stderr);
    assert!(
        rotated.stdout.contains("1 legacy key migrated"),
        "{}",
        rotated.stdout
    );
    assert!(!rotated.stderr.contains("kept"), "{}", rotated.stderr);
    assert_same_tree(
        &dir.path().join("k8s"),
        &fixtures().join("expected/newcomer-k8s-rotated/k8s"),
    );
    let after = run(dir.path(), &ready);
    assert_eq!(after.status, 0, "{}{}", after.stdout, after.stderr);
}

#[test]
fn a_workload_of_another_namespace_or_a_broken_manifest_links_nothing() {
    let dir = newcomer();
    let k8s = dir.path().join("k8s");
    // The same Secret name loaded from another namespace is another Secret.
    let sts = fs::read_to_string(k8s.join("sts.yaml")).unwrap();
    fs::write(
        k8s.join("sts.yaml"),
        sts.replace("namespace: harness", "namespace: elsewhere"),
    )
    .unwrap();
    // A manifest with no key name that does not parse is read for its links alone: it is
    // never reported, and never blocks a rotation.
    fs::write(
        k8s.join("broken.yaml"),
        "kind: StatefulSet\nspec: [\n  envFrom:\n",
    )
    .unwrap();
    let inventory = run(dir.path(), &["inventory", "k8s"]);
    assert_eq!(inventory.status, 0, "{}", inventory.stderr);
    assert!(
        inventory
            .stdout
            .contains("harness/delegate-token (referenced by no workload in the input)"),
        "{}",
        inventory.stdout
    );
    assert!(
        !inventory.stdout.contains("StatefulSet"),
        "{}",
        inventory.stdout
    );
    let check = run(dir.path(), &["check", "k8s"]);
    assert!(!check.stdout.contains("broken.yaml"), "{}", check.stdout);
    let rotated = rotate_to_new_token(dir.path(), &["k8s"]);
    assert_eq!(rotated.status, 0, "{}", rotated.stderr);
    assert!(
        rotated.stdout.contains("0 legacy keys migrated"),
        "{}",
        rotated.stdout
    );
    assert!(
        rotated.stderr.contains("legacy key ACCOUNT_SECRET kept"),
        "{}",
        rotated.stderr
    );
}
