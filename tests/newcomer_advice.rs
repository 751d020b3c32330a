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
fn masked(dir: &Path, args: &[&str]) -> Run {
    let run = rekey(dir, args);
    assert_no_token(&run.stdout, "stdout");
    assert_no_token(&run.stderr, "stderr");
    run
}

#[test]
fn a_secret_is_linked_to_the_statefulset_that_loads_it_from_another_file() {
    let dir = newcomer();
    let inventory = masked(dir.path(), &["inventory", "k8s"]);
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
    let before = masked(dir.path(), &ready);
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
    let after = masked(dir.path(), &ready);
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
    let inventory = masked(dir.path(), &["inventory", "k8s"]);
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
    let check = masked(dir.path(), &["check", "k8s"]);
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

/// `rekey args…` in `dir` committing as [`IDENTITY`], isolated from the machine's git
/// configuration by `home`; nothing it prints may hold a token.
fn masked_git(dir: &Path, home: &Path, args: &[&str]) -> Run {
    let home = home.to_str().unwrap();
    let mut env = vec![("HOME", home), ("GIT_CONFIG_NOSYSTEM", "1")];
    env.extend_from_slice(&IDENTITY);
    let run = rekey_with(dir, args, &env, None);
    assert_no_token(&run.stdout, "stdout");
    assert_no_token(&run.stderr, "stderr");
    run
}

/// The files outside `k8s` that hold the old token, as a partial rotation lists them.
const OUTSIDE_K8S: &str = "\
Not rotated: outside the rotated paths, 8 files of the repository still hold sha256:ff25d2389ab7917a:
  .env
  compose/docker-compose.yml
  docker/run.sh
  ecs/task.json
  helm/install.sh
  helm/values.yaml
  systemd/harness-delegate.service
  tf/main.tf
";

/// The command a partial rotation prints to rotate the rest, as words.
fn rotate_rest(stdout: &str) -> Vec<String> {
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("Rotate them too, before revoking it: rekey "))
        .unwrap_or_else(|| panic!("no command for the rest:\n{stdout}"));
    line.split(' ').map(str::to_owned).collect()
}

#[test]
fn a_partial_commit_never_says_revoke_and_keeps_the_old_token_current() {
    let dir = newcomer();
    let home = tempfile::tempdir().unwrap();
    commit_all(dir.path(), home.path());
    let token = new_token_file();
    let token = token.to_str().unwrap();
    let partial = [
        "rotate",
        "--new-token-file",
        token,
        "--commit",
        "--branch",
        "partial",
        "--stat",
        "k8s",
    ];
    let run = masked_git(dir.path(), home.path(), &partial);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.contains(&format!(
        "Updated .rekey.toml: [tokens] current now lists {NEW_FINGERPRINT}, and still {OLD_FINGERPRINT}: files outside the rotated paths hold it.\n{OUTSIDE_K8S}Rotate them too, before revoking it: rekey rotate --new-token-file {token} --only {OLD_FINGERPRINT} --commit --base partial --branch partial-rest .\n"
    )), "{}", run.stdout);
    assert!(
        !run.stdout.contains("Revoke the old token ("),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("rekey revoke"), "{}", run.stdout);
    assert_eq!(
        git(dir.path(), home.path(), &["show", "partial:.rekey.toml"]),
        format!("[tokens]\ncurrent = [\"{OLD_FINGERPRINT}\", \"{NEW_FINGERPRINT}\"]\n")
    );
    // The branch passes check: the files it did not rotate hold a token still in force.
    git(dir.path(), home.path(), &["checkout", "-q", "partial"]);
    let check = masked(dir.path(), &["check"]);
    assert_eq!(check.status, 0, "{}{}", check.stdout, check.stderr);

    // The command printed for the rest runs as printed and finishes the rotation: only
    // now is revoking advised, and the old token leaves `current`.
    let rest = rotate_rest(&run.stdout);
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let finished = masked_git(dir.path(), home.path(), &rest);
    assert_eq!(finished.status, 0, "{}", finished.stderr);
    assert!(
        !finished.stdout.contains("Not rotated"),
        "{}",
        finished.stdout
    );
    assert!(
        finished.stdout.contains(&format!(
            "4. Revoke the old token ({OLD_FINGERPRINT}) in Harness"
        )),
        "{}",
        finished.stdout
    );
    assert_eq!(
        git(
            dir.path(),
            home.path(),
            &["show", "partial-rest:.rekey.toml"]
        ),
        format!("[tokens]\ncurrent = [\"{NEW_FINGERPRINT}\"]\n")
    );
    git(dir.path(), home.path(), &["checkout", "-q", "partial-rest"]);
    let ready = ["check", "--ready-to-revoke", OLD_FINGERPRINT, "."];
    let ready = masked(dir.path(), &ready);
    assert_eq!(ready.status, 0, "{}{}", ready.stdout, ready.stderr);
}

#[test]
fn a_rotation_from_a_subdirectory_looks_at_the_rest_of_the_repository() {
    let dir = newcomer();
    let k8s = dir.path().join("k8s");
    let token = new_token_file();
    let token = token.to_str().unwrap();
    let write = ["rotate", "--new-token-file", token, "--write", "--stat"];
    let run = masked(&k8s, &write);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let outside: String = OUTSIDE_K8S
        .lines()
        .map(|line| match line.strip_prefix("  ") {
            Some(path) => format!("  ../{path}\n"),
            None => format!("{line}\n"),
        })
        .collect();
    assert!(
        run.stdout.contains(&format!(
            "{outside}Rotate them too, before revoking it: rekey rotate --new-token-file {token} --only {OLD_FINGERPRINT} --write ..\n"
        )),
        "{}",
        run.stdout
    );
    assert_eq!(
        fs::read_to_string(dir.path().join(".rekey.toml")).unwrap(),
        format!("[tokens]\ncurrent = [\"{OLD_FINGERPRINT}\", \"{NEW_FINGERPRINT}\"]\n")
    );
    // A rerun naming the old token says the same until the rest is rotated; then nothing
    // is left outside.
    let mut rerun = write.to_vec();
    rerun.extend(["--only", OLD_FINGERPRINT]);
    let again = rekey(&k8s, &rerun);
    assert!(again.stdout.contains("Already rotated"), "{}", again.stdout);
    assert!(again.stdout.contains(&outside), "{}", again.stdout);
    let rest = rotate_rest(&run.stdout);
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    assert_eq!(rekey(&k8s, &rest).status, 0);
    let last = rekey(&k8s, &rerun);
    assert!(!last.stdout.contains("Not rotated"), "{}", last.stdout);
    assert_eq!(
        fs::read_to_string(dir.path().join(".rekey.toml")).unwrap(),
        format!("[tokens]\ncurrent = [\"{NEW_FINGERPRINT}\"]\n")
    );
}

#[test]
fn revoke_after_a_rotation_is_quiet_and_revoke_of_a_held_token_names_the_files() {
    let dir = newcomer();
    let home = tempfile::tempdir().unwrap();
    commit_all(dir.path(), home.path());

    // Still held: revoking says which files check will now fail on.
    let held = masked(dir.path(), &["revoke", OLD_FINGERPRINT]);
    assert_eq!(held.status, 0, "{}", held.stderr);
    let files = "\
.env, compose/docker-compose.yml, docker/run.sh, ecs/task.json, helm/install.sh, helm/values.yaml, k8s/daemonset.yaml, k8s/secret.yaml, k8s/secret2.yaml, systemd/harness-delegate.service, tf/main.tf";
    assert!(
        held.stderr.contains(&format!(
            "warning: files in the repository still hold {OLD_FINGERPRINT}: rekey check will now fail on these 11 files: {files}; rotate them first"
        )),
        "{}",
        held.stderr
    );
    let check = masked(dir.path(), &["check", "--format", "json"]);
    assert_eq!(check.status, 1, "{}", check.stderr);
    for file in files.split(", ") {
        assert!(
            check.stdout.contains(&format!("\"path\": \"{file}\"")),
            "{file}: {}",
            check.stdout
        );
    }
    git(
        dir.path(),
        home.path(),
        &["checkout", "-q", "--", ".rekey.toml"],
    );

    // After a rotation the old token has left `current`, as expected: nothing to warn
    // about, whether the rotation was committed or only written.
    let token = new_token_file();
    let commit = [
        "rotate",
        "--new-token-file",
        token.to_str().unwrap(),
        "--commit",
    ];
    let committed = masked_git(dir.path(), home.path(), &commit);
    assert_eq!(committed.status, 0, "{}", committed.stderr);
    let branch = format!("rekey/rotate-{}", &NEW_FINGERPRINT["sha256:".len()..][..8]);
    git(dir.path(), home.path(), &["checkout", "-q", &branch]);
    let revoked = masked(dir.path(), &["revoke", OLD_FINGERPRINT]);
    assert_eq!((revoked.status, revoked.stderr.as_str()), (0, ""));
    assert_eq!(
        fs::read_to_string(dir.path().join(".rekey.toml")).unwrap(),
        format!("[tokens]\ncurrent = [\"{NEW_FINGERPRINT}\"]\nrevoked = [\"{OLD_FINGERPRINT}\"]\n")
    );
    git(dir.path(), home.path(), &["checkout", "-q", "-f", "main"]);
    let written = rotate_to_new_token(dir.path(), &["--write"]);
    assert_eq!(written.status, 0, "{}", written.stderr);
    let revoked = masked(dir.path(), &["revoke", OLD_FINGERPRINT]);
    assert_eq!((revoked.status, revoked.stderr.as_str()), (0, ""));

    // A fingerprint no version of the policy ever listed is still questioned.
    let typo = "sha256:ff25d2389ab7917b";
    let unknown = masked(dir.path(), &["revoke", typo]);
    assert!(
        unknown
            .stderr
            .contains(&format!("{typo} is not listed under [tokens] current")),
        "{}",
        unknown.stderr
    );
}

#[test]
fn the_next_steps_name_each_delegate_and_gate_the_revocation() {
    let dir = newcomer();
    let home = tempfile::tempdir().unwrap();
    commit_all(dir.path(), home.path());
    let home_text = home.path().to_str().unwrap();
    let mut env = vec![
        ("HOME", home_text),
        ("GIT_CONFIG_NOSYSTEM", "1"),
        ("NEW_TOKEN", NEW_HEX),
    ];
    env.extend_from_slice(&IDENTITY);
    let commit = |branch: &str, format: &str| {
        let mut args = vec!["rotate", "--new-token-env", "NEW_TOKEN", "--commit"];
        args.extend(["--branch", branch, "--format", format]);
        if format == "text" {
            args.push("--stat");
        }
        let run = rekey_with(dir.path(), &args, &env, None);
        assert_eq!(run.status, 0, "{}", run.stderr);
        assert_no_token(&run.stdout, "stdout");
        run
    };
    let run = commit("rotation", "text");
    let next = &run.stdout[run.stdout.find("Next:\n").expect("next steps")..];
    let expected = fs::read_to_string(fixtures().join("expected/newcomer-next-steps.txt")).unwrap();
    assert_eq!(next, expected);

    // JSON lists the same steps, one command each.
    let json = commit("rotation-json", "json");
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let steps = report["next_steps"].as_array().unwrap();
    let actions: Vec<&str> = steps
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    let restarts = actions.iter().filter(|a| **a == "restart").count();
    assert_eq!(restarts, 11, "{actions:?}");
    assert_eq!(actions.first(), Some(&"push"));
    assert_eq!(
        actions[actions.len() - 2..],
        ["revoke-in-harness", "record-revocation"]
    );
    for step in steps.iter().filter(|s| s["command"].is_string()) {
        let command = step["command"].as_str().unwrap();
        let line = format!("         {command}\n");
        let listed = format!("       {command}\n");
        assert!(
            expected.contains(&line)
                || expected.contains(&listed)
                || command.starts_with("git push")
                || command.starts_with("rekey revoke"),
            "{command} is not in the text"
        );
    }

    // The gate and the record run as printed, on the merged rotation.
    git(
        dir.path(),
        home.path(),
        &["merge", "-q", "--ff-only", "rotation"],
    );
    let gate = format!("rekey check --ready-to-revoke {OLD_FINGERPRINT} .");
    assert!(expected.contains(&format!("       {gate}\n")));
    let words: Vec<&str> = gate.split(' ').skip(1).collect();
    let ready = masked(dir.path(), &words);
    assert_eq!(ready.status, 0, "{}{}", ready.stdout, ready.stderr);
    let record = masked(dir.path(), &["revoke", OLD_FINGERPRINT]);
    assert_eq!((record.status, record.stderr.as_str()), (0, ""));
}

#[test]
fn names_from_the_files_are_quoted_in_the_commands_and_a_dry_run_has_no_steps() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(".rekey.toml"), "").unwrap();
    fs::create_dir(dir.path().join("odd dir")).unwrap();
    fs::write(
        dir.path().join("odd dir/docker-compose.yml"),
        format!("services:\n  \"edge;$(reboot)\":\n    image: harness/delegate:1\n    environment:\n      DELEGATE_TOKEN: {OLD_HEX}\n"),
    )
    .unwrap();
    let dry = rotate_to_new_token(dir.path(), &["--format", "json"]);
    assert_eq!(dry.status, 0, "{}", dry.stderr);
    assert!(dry.stdout.contains("\"next_steps\": []"), "{}", dry.stdout);
    let written = rotate_to_new_token(dir.path(), &["--write", "--stat"]);
    assert_eq!(written.status, 0, "{}", written.stderr);
    assert!(
        written.stdout.contains(
            "       compose service edge;$(reboot): recreate the service's container:\n         docker compose -f 'odd dir/docker-compose.yml' up -d 'edge;$(reboot)'\n"
        ),
        "{}",
        written.stdout
    );
}

#[test]
fn a_state_file_that_still_holds_the_old_token_comes_before_the_gate() {
    let dir = copy_fixture("demo");
    let run = rotate_to_new_token(dir.path(), &["--write", "--format", "json"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_no_token(&run.stdout, "stdout");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let steps = report["next_steps"].as_array().unwrap();
    let at = |action: &str| steps.iter().position(|s| s["action"] == action);
    let kept = at("refresh-kept").expect("a step for the state file");
    assert!(kept < at("check-ready").unwrap(), "{steps:?}");
    let text = steps[kept]["text"].as_str().unwrap();
    assert!(
        text.starts_with("terraform/terraform.tfstate still holds the old token")
            && text.contains("terraform apply"),
        "{text}"
    );
    assert_eq!(
        steps
            .iter()
            .filter(|s| s["action"] == "refresh-kept")
            .count(),
        1
    );

    // The gate it comes before fails on that file until it is refreshed.
    let gate = masked(
        dir.path(),
        &["check", "--ready-to-revoke", OLD_FINGERPRINT, "."],
    );
    assert_ne!(gate.status, 0);
    assert!(
        gate.stdout.contains("terraform/terraform.tfstate"),
        "{}",
        gate.stdout
    );
}
