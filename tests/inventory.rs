//! `rekey inventory`, live state on stdin, many repositories, `check --ready-to-revoke` and
//! the organisation policy chain, run end to end on the fixtures under `fixtures/live` and
//! `fixtures/org-policy` and on repositories (one bare) built here with the git CLI.
//! Outputs are compared whole.

mod common;

use common::*;
use std::fs;

fn live(name: &str) -> String {
    fs::read_to_string(fixtures().join("live").join(name)).unwrap()
}

/// `rekey args…` reading `input` on stdin, from a directory without a policy file.
fn piped(args: &[&str], input: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let run = rekey_with(dir.path(), args, &[], Some(input));
    assert_no_token(&run.stdout, "stdout");
    assert_no_token(&run.stderr, "stderr");
    run
}

#[test]
fn a_kubectl_list_attributes_secrets_to_the_workloads_that_load_them() {
    let run = piped(&["inventory", "-"], &live("kubectl-list.yaml"));
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "\
KIND         DELEGATE                                                                         WHERE                                                     TOKENS
Deployment   harness-delegate-ng/prod-eu-1 (container delegate)                               - via Secret harness-delegate-ng/prod-eu-1-account-token  sha256:ff25d2389ab7917a unknown
Secret       harness-delegate-ng/old-upgrader-token (referenced by no workload in the input)  -                                                         sha256:261a3b41c39377c6 unknown
StatefulSet  ci/build-farm (container build-farm)                                             - via Secret ci/build-farm-token                          sha256:261a3b41c39377c6 unknown

3 delegates holding 2 distinct tokens; 0 hold a revoked token, 0 hold a stale one; policy none (no .rekey.toml in this directory or above it, up to the filesystem root)
"
    );
}

#[test]
fn an_ecs_task_definition_is_read_as_json_with_its_family_and_container() {
    let run = piped(
        &["inventory", "-", "--format", "json"],
        &live("ecs-task-definition.json"),
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        r#"{
  "schema": "rekey.inventory/v1",
  "delegates": [
    {
      "repository": null,
      "kind": "ECS task",
      "name": "harness-delegate-ecs",
      "detail": "container delegate",
      "delegate_names": [],
      "files": [
        "-"
      ],
      "via": [],
      "tokens": [
        {
          "fingerprint": "sha256:261a3b41c39377c6",
          "state": "unknown"
        }
      ],
      "elsewhere": [
        "arn:aws:secretsmanager:eu-west-1:111122223333:secret:harness/upgrader-token-AbCdEf"
      ],
      "sites": 2
    }
  ],
  "unjudged": [],
  "policy": null
}
"#
    );
}

#[test]
fn docker_inspect_env_strings_are_sites_and_markdown_is_a_table() {
    let input = live("docker-inspect.json");
    let run = piped(&["inventory", "-", "--format", "markdown"], &input);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "\
### rekey inventory

| Kind | Delegate | Where | Tokens |
| --- | --- | --- | --- |
| docker container | edge-delegate (image harness/delegate:25.10.87100) | - | sha256:ff25d2389ab7917a unknown |

1 delegate holding 1 distinct token; 0 hold a revoked token, 0 hold a stale one; policy none (no .rekey.toml in this directory or above it, up to the filesystem root)
"
    );
    // `scan -` reads the same stream, with the position inside the JSON string.
    let scan = piped(&["scan", "-", "--stdin-format", "json"], &input);
    assert_eq!(scan.status, 0, "{}", scan.stderr);
    assert_eq!(
        scan.stdout,
        "\
\x20 LINE:COL KEY              KIND        ENCODING FINGERPRINT
-
  29:33    DELEGATE_TOKEN   literal     hex      sha256:ff25d2389ab7917a

1 site in 1 file: 1 literal (1 distinct token), 0 placeholders, 0 references, 0 encrypted, 0 empty, 0 key mentions; 0 legacy keys; policy none (no .rekey.toml in this directory or above it, up to the filesystem root)
"
    );
}

#[test]
fn ready_to_revoke_lists_the_delegates_that_still_hold_the_token() {
    let input = live("kubectl-list.yaml");
    let held = piped(
        &["check", "--ready-to-revoke", OTHER_FINGERPRINT, "-"],
        &input,
    );
    assert_eq!(held.status, 1, "{}", held.stderr);
    assert_eq!(
        held.stdout,
        "\
KIND         DELEGATE                                                                         WHERE                             TOKENS
Secret       harness-delegate-ng/old-upgrader-token (referenced by no workload in the input)  -                                 sha256:261a3b41c39377c6 unknown
StatefulSet  ci/build-farm (container build-farm)                                             - via Secret ci/build-farm-token  sha256:261a3b41c39377c6 unknown

rekey check: not ready to revoke sha256:261a3b41c39377c6: 2 delegates still hold it; rotate them first (`rekey rotate --only sha256:261a3b41c39377c6 --new-token-env NEW_TOKEN`)
"
    );
    let gone = piped(
        &["check", "--ready-to-revoke", "sha256:0000000000000000", "-"],
        &input,
    );
    assert_eq!(gone.status, 0, "{}", gone.stderr);
    assert_eq!(
        gone.stdout,
        "rekey check: ready to revoke sha256:0000000000000000: no delegate in the inputs holds it\n"
    );
    let bad = piped(&["check", "--ready-to-revoke", "sha256:nope", "-"], &input);
    assert_eq!(bad.status, 2);
}

#[test]
fn ready_to_revoke_cannot_tell_while_an_input_cannot_be_read() {
    let run = piped(
        &[
            "check",
            "--ready-to-revoke",
            OTHER_FINGERPRINT,
            "-",
            "--stdin-format",
            "yaml",
        ],
        "kind: List\nitems:\n- DELEGATE_TOKEN: [unclosed\n",
    );
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("not judged (it may hold the token): -: cannot parse this YAML file"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.ends_with(
        "rekey check: cannot tell whether sha256:261a3b41c39377c6 is ready to revoke: it may be in 1 place rekey could not judge; add or fix what is said above and ask again\n"
    ));
}

#[test]
fn a_stream_is_never_rotated() {
    let run = piped(
        &["rotate", "-", "--new-token-env", "NEW"],
        &live("docker-inspect.json"),
    );
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("-: rotate never rewrites a stream"),
        "{}",
        run.stderr
    );
}

/// Two repositories with their own policies (a clone and a bare mirror) and a directory
/// that is not one, in a scratch directory.
fn repositories() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs::create_dir(&home).unwrap();
    let api = dir.path().join("api");
    copy_tree(&fixtures().join("org-policy/app/k8s"), &api.join("k8s"));
    fs::write(
        api.join(".rekey.toml"),
        format!(
            "[tokens]\ncurrent = [\"{OLD_FINGERPRINT}\"]\nrevoked = [\"{OTHER_FINGERPRINT}\"]\n"
        ),
    )
    .unwrap();
    let web = dir.path().join("web-src");
    fs::create_dir_all(web.join("compose")).unwrap();
    fs::write(
        web.join("compose/docker-compose.yml"),
        format!("services:\n  delegate:\n    image: harness/delegate:25.10.87100\n    environment:\n      DELEGATE_TOKEN: {OLD_HEX}\n"),
    )
    .unwrap();
    for repo in [&api, &web] {
        git(repo, &home, &["init", "-q", "-b", "main"]);
        git(repo, &home, &["add", "-A"]);
        git(repo, &home, &["commit", "-q", "-m", "delegates"]);
    }
    git(
        dir.path(),
        &home,
        &["clone", "-q", "--bare", "web-src", "web.git"],
    );
    fs::remove_dir_all(&web).unwrap();
    // An uncommitted edit is not read: --repo reads HEAD from the object store.
    fs::write(
        api.join("k8s/uncommitted.yaml"),
        format!("delegateToken: {OTHER_HEX}\n"),
    )
    .unwrap();
    fs::create_dir(dir.path().join("notrepo")).unwrap();
    dir
}

#[test]
fn many_repositories_are_read_from_their_object_stores_with_a_repository_column() {
    let dir = repositories();
    let run = rekey(
        dir.path(),
        &["inventory", "--repo", "api", "--repo", "web.git"],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "\
REPOSITORY  KIND             DELEGATE                            WHERE                       TOKENS
api         StatefulSet      ci/build-farm (container delegate)  k8s/delegate.yaml           sha256:261a3b41c39377c6 revoked, sha256:ff25d2389ab7917a current
web.git     compose service  delegate                            compose/docker-compose.yml  sha256:ff25d2389ab7917a unknown

2 delegates holding 2 distinct tokens; 1 holds a revoked token, 0 hold a stale one; policy each repository's committed .rekey.toml
"
    );
    // A list file names the same repositories; one that fails does not stop the others.
    fs::write(
        dir.path().join("repos.txt"),
        "# fleet\napi\n\nweb.git\nnotrepo\n",
    )
    .unwrap();
    let listed = rekey(dir.path(), &["inventory", "--repos", "repos.txt"]);
    assert_eq!(listed.status, 2);
    assert_eq!(listed.stdout, run.stdout);
    assert!(
        listed
            .stderr
            .starts_with("error: notrepo: not a git repository"),
        "{}",
        listed.stderr
    );
    let check = rekey(dir.path(), &["check", "--repo", "api", "--repo", "web.git"]);
    assert_eq!(check.status, 1, "{}", check.stderr);
    assert_eq!(
        check.stdout,
        "\
api/k8s/delegate.yaml:14:22: error[revoked-token] DELEGATE_TOKEN holds a token revoked in Harness: rotate it with `rekey rotate --only sha256:261a3b41c39377c6 --new-token-env NEW_TOKEN` (sha256:261a3b41c39377c6)
rekey check: 1 error, 0 warnings, 0 notes in 2 files checked (3 sites in 2 files); policy each repository's committed .rekey.toml
"
    );
    let ready = rekey(
        dir.path(),
        &[
            "check",
            "--ready-to-revoke",
            OLD_FINGERPRINT,
            "--repo",
            "web.git",
        ],
    );
    assert_eq!(ready.status, 1);
    assert!(ready.stdout.starts_with("REPOSITORY  KIND             DELEGATE  WHERE                       TOKENS\nweb.git     compose service  delegate  compose/docker-compose.yml  sha256:ff25d2389ab7917a unknown\n"), "{}", ready.stdout);
}

#[test]
fn an_organisation_policy_is_extended_and_named_in_findings() {
    let app = fixtures().join("org-policy/app");
    let run = rekey(&app, &["check"]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "\
k8s/delegate.yaml:14:22: error[revoked-token] DELEGATE_TOKEN holds a token revoked in Harness (listed in ../policy/org.toml): rotate it with `rekey rotate --only sha256:261a3b41c39377c6 --new-token-env NEW_TOKEN` (sha256:261a3b41c39377c6)
rekey check: 1 error, 0 warnings, 0 notes in 1 file checked (2 sites in 1 file); policy .rekey.toml
"
    );
    // The same chain named from the environment, from another directory: base.toml's
    // `current` comes through org.toml.
    let policy = fixtures().join("org-policy/policy");
    let inventory = rekey_with(
        &policy,
        &["inventory", "../app"],
        &[("REKEY_CONFIG", "org.toml")],
        None,
    );
    assert_eq!(inventory.status, 0, "{}", inventory.stderr);
    assert_eq!(
        inventory.stdout,
        "\
KIND         DELEGATE                            WHERE                     TOKENS
StatefulSet  ci/build-farm (container delegate)  ../app/k8s/delegate.yaml  sha256:261a3b41c39377c6 revoked, sha256:ff25d2389ab7917a current

1 delegate holding 2 distinct tokens; 1 holds a revoked token, 0 hold a stale one; policy org.toml (REKEY_CONFIG)
"
    );
}

#[test]
fn policy_cycles_and_missing_files_are_errors() {
    let org = fixtures().join("org-policy");
    let cycle = rekey(&org.join("app"), &["check", "--config", "../cycle/a.toml"]);
    assert_eq!(cycle.status, 2);
    assert_eq!(
        cycle.stderr,
        "error: ../cycle/b.toml:2:11: extends \"a.toml\" includes a policy file that is already being read (../cycle/a.toml): remove the cycle\n"
    );
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(".rekey.toml"),
        "extends = [\"../nowhere/org.toml\"]\n",
    )
    .unwrap();
    let missing = rekey(dir.path(), &["check"]);
    assert_eq!(missing.status, 2);
    assert!(
        missing.stderr.starts_with(
            "error: .rekey.toml:1:11: extends \"../nowhere/org.toml\": no such file ("
        ),
        "{}",
        missing.stderr
    );
}

#[test]
fn a_flood_of_same_named_secrets_is_not_judged_rather_than_attributed_square() {
    // 400 files, each a Secret `s` without a namespace and a workload that refers to `s`:
    // every workload could load any of them (160,000 pairs). rekey says it cannot tell,
    // and does not answer "ready to revoke".
    let dir = tempfile::tempdir().unwrap();
    for i in 0..400 {
        fs::write(
            dir.path().join(format!("m{i:03}.yaml")),
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData: {{DELEGATE_TOKEN: \"{OLD_HEX}\"}}\n---\n\
apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d{i}}}\nspec: {{template: {{spec: {{containers: [{{name: delegate, image: harness/delegate, env: [{{name: DELEGATE_TOKEN, valueFrom: {{secretKeyRef: {{name: s, key: DELEGATE_TOKEN}}}}}}]}}]}}}}}}\n"
            ),
        )
        .unwrap();
    }
    let run = rekey(dir.path(), &["check", "--ready-to-revoke", OLD_FINGERPRINT]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stdout.contains("not judged (it may hold the token): m000.yaml: Secret s is in 400 files and 400 workloads refer to it, too many to tell which holds which"),
        "{}",
        run.stdout
    );
    // The token is in every one of those Secrets: that much is known.
    assert!(
        run.stdout.contains("m000.yaml:4:31: holds the token\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("… and 380 more places\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .ends_with("it still stands in 400 places; rotate or remove it there first\n"),
        "{}",
        run.stdout
    );
}
