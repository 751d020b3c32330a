//! `rekey history` and `check --history` on repositories the tests build: branches, tags,
//! a removed token, a release branch never rotated, a bare mirror, a shallow clone, a
//! corrupt object, a ref naming a tree, thousands of merges and a 100 MiB blob.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;

fn secret(token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: delegate-account-token\nstringData:\n  DELEGATE_TOKEN: \"{token}\"\n"
    )
}

fn policy(current: &[&str], revoked: &[&str]) -> String {
    let list = |items: &[&str]| {
        items
            .iter()
            .map(|f| format!("\"{f}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "[tokens]\ncurrent = [{}]\nrevoked = [{}]\n",
        list(current),
        list(revoked)
    )
}

/// main: the old token added, then rotated (with the policy saying so); a tag and a
/// release branch at the first commit, never rotated. Returns the two commits.
fn rotated_repo(dir: &Path, home: &Path) -> (String, String) {
    fs::create_dir_all(dir.join("k8s")).unwrap();
    fs::write(dir.join("k8s/secret.yaml"), secret(OLD_HEX)).unwrap();
    commit_all(dir, home);
    git(dir, home, &["tag", "v1"]);
    git(dir, home, &["branch", "release/1.0"]);
    let first = git(dir, home, &["rev-parse", "HEAD"]).trim().to_owned();
    fs::write(dir.join("k8s/secret.yaml"), secret(NEW_HEX)).unwrap();
    fs::write(
        dir.join(".rekey.toml"),
        policy(&[NEW_FINGERPRINT], &[OLD_FINGERPRINT]),
    )
    .unwrap();
    git(dir, home, &["add", "-A"]);
    git(dir, home, &["commit", "-q", "-m", "Rotate"]);
    let second = git(dir, home, &["rev-parse", "HEAD"]).trim().to_owned();
    (first, second)
}

fn history_json(cwd: &Path, args: &[&str]) -> Value {
    let mut all = vec!["history", "--format", "json"];
    all.extend_from_slice(args);
    let run = rekey(cwd, &all);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert_no_token(&run.stdout, "history json");
    assert_no_token(&run.stderr, "history stderr");
    serde_json::from_str(&run.stdout).unwrap()
}

fn token<'a>(report: &'a Value, fingerprint: &str) -> &'a Value {
    report["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["fingerprint"] == fingerprint)
        .unwrap_or_else(|| panic!("{fingerprint} not in {report:#}"))
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[test]
fn history_says_when_each_token_came_and_went_and_which_refs_still_hold_it() {
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (first, second) = rotated_repo(dir.path(), home.path());
    let report = history_json(dir.path(), &[]);
    assert_eq!(report["schema"], "rekey.history/v1");
    let old = token(&report, OLD_FINGERPRINT);
    assert_eq!(old["state"], "revoked");
    assert_eq!(old["first_seen"]["commit"], first.as_str());
    assert_eq!(old["first_seen"]["path"], "k8s/secret.yaml");
    assert_eq!(old["removed_in"]["commit"], second.as_str());
    assert_eq!(old["at_head"], false);
    assert_eq!(
        strings(&old["refs"]),
        ["refs/heads/release/1.0", "refs/tags/v1"]
    );
    assert_eq!(
        strings(&old["reachable_from"]),
        ["refs/heads/main", "refs/heads/release/1.0", "refs/tags/v1"]
    );
    let new = token(&report, NEW_FINGERPRINT);
    assert_eq!(new["state"], "current");
    assert_eq!(new["first_seen"]["commit"], second.as_str());
    assert_eq!(new["removed_in"], Value::Null);
    assert_eq!(new["at_head"], true);
    assert_eq!(strings(&new["refs"]), ["refs/heads/main"]);
    // Most urgent first: the revoked token still at a release branch's tip.
    assert_eq!(report["tokens"][0]["fingerprint"], OLD_FINGERPRINT);

    let text = rekey(dir.path(), &["history"]);
    assert_eq!(text.status, 0, "{}", text.stderr);
    assert_no_token(&text.stdout, "history text");
    assert!(
        text.stdout.contains(&format!("{OLD_FINGERPRINT}  revoked")),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("at the tip of   refs/heads/release/1.0, refs/tags/v1"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains(&format!("removed in      {}", &second[..12])),
        "{}",
        text.stdout
    );
}

#[test]
fn refs_narrow_the_walk_and_since_leaves_older_commits_out() {
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (_, second) = rotated_repo(dir.path(), home.path());
    let tags = history_json(dir.path(), &["--refs", "refs/tags/*"]);
    assert_eq!(
        strings(&token(&tags, OLD_FINGERPRINT)["refs"]),
        ["refs/tags/v1"]
    );
    let since = history_json(dir.path(), &["--since", "v1", "--refs", "refs/heads/main"]);
    let tokens = strings(&Value::Array(
        since["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["fingerprint"].clone())
            .collect(),
    ))
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    assert_eq!(tokens, [NEW_FINGERPRINT], "{since:#}");
    assert_eq!(since["repositories"][0]["commits"], 1);
    assert_eq!(
        token(&since, NEW_FINGERPRINT)["first_seen"]["commit"],
        second.as_str()
    );
}

#[test]
fn check_history_fails_on_a_token_nobody_revoked_and_warns_on_a_revoked_one_at_a_ref() {
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    rotated_repo(dir.path(), home.path());
    let clean = rekey(dir.path(), &["check", "--history"]);
    assert_eq!(clean.status, 0, "{}{}", clean.stdout, clean.stderr);
    assert!(
        clean.stdout.contains("warning[revoked-at-ref]"),
        "{}",
        clean.stdout
    );
    assert!(
        clean.stdout.contains("refs/heads/release/1.0"),
        "{}",
        clean.stdout
    );

    // A token a side branch once held, that the policy has never heard of.
    git(
        dir.path(),
        home.path(),
        &["checkout", "-q", "-b", "feature"],
    );
    fs::write(dir.path().join("k8s/secret.yaml"), secret(OTHER_HEX)).unwrap();
    git(
        dir.path(),
        home.path(),
        &["commit", "-qam", "Try another token"],
    );
    fs::write(dir.path().join("k8s/secret.yaml"), secret(NEW_HEX)).unwrap();
    git(dir.path(), home.path(), &["commit", "-qam", "Back"]);
    git(dir.path(), home.path(), &["checkout", "-q", "main"]);
    let failing = rekey(dir.path(), &["check", "--history", "--format", "json"]);
    assert_eq!(failing.status, 1, "{}{}", failing.stdout, failing.stderr);
    assert_no_token(&failing.stdout, "check --history");
    let findings: Value = serde_json::from_str(&failing.stdout).unwrap();
    let history = findings["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "history-token")
        .unwrap_or_else(|| panic!("{findings:#}"));
    assert_eq!(history["fingerprint"], OTHER_FINGERPRINT);
    assert_eq!(history["level"], "error");
    assert_eq!(history["path"], "k8s/secret.yaml");
    assert!(history["message"]
        .as_str()
        .unwrap()
        .contains("refs/heads/feature"));
    let sarif = rekey(dir.path(), &["check", "--history", "--format", "sarif"]);
    assert!(
        sarif.stdout.contains("\"ruleId\": \"history-token\""),
        "{}",
        sarif.stdout
    );

    fs::write(
        dir.path().join(".rekey.toml"),
        policy(&[NEW_FINGERPRINT], &[OLD_FINGERPRINT, OTHER_FINGERPRINT]),
    )
    .unwrap();
    let revoked = rekey(dir.path(), &["check", "--history"]);
    assert_eq!(revoked.status, 0, "{}{}", revoked.stdout, revoked.stderr);
}

#[test]
fn a_bare_mirror_reads_like_its_clone() {
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    rotated_repo(dir.path(), home.path());
    let mirror = home.path().join("mirror.git");
    git(
        home.path(),
        home.path(),
        &[
            "clone",
            "-q",
            "--mirror",
            dir.path().to_str().unwrap(),
            mirror.to_str().unwrap(),
        ],
    );
    let report = history_json(home.path(), &["--repo", "mirror.git"]);
    let old = token(&report, OLD_FINGERPRINT);
    assert_eq!(
        old["state"], "revoked",
        "the policy committed at HEAD applies"
    );
    assert_eq!(
        strings(&old["refs"]),
        ["refs/heads/release/1.0", "refs/tags/v1"]
    );
    assert_eq!(old["repository"], "mirror.git");
}

#[test]
fn a_shallow_clone_says_what_it_lacks_and_the_gate_fails() {
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    rotated_repo(dir.path(), home.path());
    let url = format!("file://{}", dir.path().display());
    let shallow = home.path().join("shallow");
    git(
        home.path(),
        home.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &url,
            shallow.to_str().unwrap(),
        ],
    );
    let text = rekey(&shallow, &["history"]);
    assert_eq!(text.status, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains("a shallow clone: 1 commit(s)"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("covers only the commits this clone holds"),
        "{}",
        text.stdout
    );
    let gate = rekey(&shallow, &["check", "--history"]);
    assert_eq!(gate.status, 1, "{}", gate.stdout);
    assert!(
        gate.stdout.contains("error[unchecked-file]")
            && gate.stdout.contains("git fetch --unshallow"),
        "{}",
        gate.stdout
    );
}

#[test]
fn a_truncated_object_in_history_is_an_error_naming_it() {
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    rotated_repo(dir.path(), home.path());
    let blob = git(
        dir.path(),
        home.path(),
        &["rev-parse", "v1:k8s/secret.yaml"],
    );
    let blob = blob.trim();
    let file = dir
        .path()
        .join(".git/objects")
        .join(&blob[..2])
        .join(&blob[2..]);
    let bytes = fs::read(&file).unwrap();
    let mut permissions = fs::metadata(&file).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    fs::set_permissions(&file, permissions).unwrap();
    fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    for args in [&["history"][..], &["check", "--history"][..]] {
        let run = rekey(dir.path(), args);
        assert_eq!(run.status, 2, "{args:?}: {}{}", run.stdout, run.stderr);
        assert_no_token(&run.stdout, "stdout of a walk over a corrupt store");
        assert_no_token(&run.stderr, "stderr of a walk over a corrupt store");
        assert!(
            run.stderr.contains(blob) && run.stderr.contains("git fsck --full"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn a_ref_naming_a_tree_or_a_blob_is_walked_too() {
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (first, _) = rotated_repo(dir.path(), home.path());
    git(dir.path(), home.path(), &["tag", "-d", "v1"]);
    git(
        dir.path(),
        home.path(),
        &["branch", "-q", "-D", "release/1.0"],
    );
    // Only a ref naming the old tree (and one naming the old file) still reach the token.
    let tree = git(
        dir.path(),
        home.path(),
        &["rev-parse", &format!("{first}^{{tree}}")],
    );
    git(
        dir.path(),
        home.path(),
        &["update-ref", "refs/tags/tree", tree.trim()],
    );
    let blob = git(
        dir.path(),
        home.path(),
        &["rev-parse", &format!("{first}:k8s/secret.yaml")],
    );
    git(
        dir.path(),
        home.path(),
        &["update-ref", "refs/tags/blob", blob.trim()],
    );
    let report = history_json(dir.path(), &["--refs", "refs/tags/*"]);
    let old = token(&report, OLD_FINGERPRINT);
    assert_eq!(strings(&old["refs"]), ["refs/tags/blob", "refs/tags/tree"]);
}

#[test]
fn thousands_of_merges_are_walked_once_each() {
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    git(dir.path(), home.path(), &["init", "-q", "-b", "main"]);
    // Built with fast-import: 2,000 merges of a side branch, each side commit a new file.
    let mut stream = String::new();
    let mut mark = 0;
    let mut commit = |stream: &mut String,
                      branch: &str,
                      from: Option<usize>,
                      merge: Option<usize>,
                      file: &str,
                      body: &str| {
        mark += 1;
        stream.push_str(&format!(
            "commit refs/heads/{branch}\nmark :{mark}\ncommitter T <t@example.com> {} +0000\ndata 1\nc\n",
            1_700_000_000 + mark
        ));
        if let Some(from) = from {
            stream.push_str(&format!("from :{from}\n"));
        }
        if let Some(merge) = merge {
            stream.push_str(&format!("merge :{merge}\n"));
        }
        stream.push_str(&format!(
            "M 100644 inline {file}\ndata {}\n{body}\n",
            body.len()
        ));
        mark
    };
    let mut main = commit(
        &mut stream,
        "main",
        None,
        None,
        "k8s/secret.yaml",
        &secret(OLD_HEX),
    );
    let mut side = main;
    for round in 0..2000 {
        side = commit(
            &mut stream,
            "side",
            Some(side),
            Some(main),
            &format!("notes/{round}.txt"),
            "n",
        );
        main = commit(
            &mut stream,
            "main",
            Some(main),
            Some(side),
            "README.md",
            &format!("round {round}"),
        );
    }
    main = commit(
        &mut stream,
        "main",
        Some(main),
        None,
        "k8s/secret.yaml",
        &secret(NEW_HEX),
    );
    let _ = main;
    let mut child = std::process::Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stream.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    git(dir.path(), home.path(), &["reset", "-q", "--hard", "main"]);
    let report = history_json(dir.path(), &[]);
    assert_eq!(report["repositories"][0]["commits"], 4002);
    let old = token(&report, OLD_FINGERPRINT);
    assert_eq!(strings(&old["refs"]), ["refs/heads/side"]);
    // Removed by the last commit on main, the one that rotated it.
    let tip = git(dir.path(), home.path(), &["rev-parse", "main"]);
    assert_eq!(old["removed_in"]["commit"], tip.trim());
    assert_eq!(
        token(&report, NEW_FINGERPRINT)["first_seen"]["commit"],
        tip.trim()
    );
}

#[test]
fn a_100_mib_blob_is_swept_in_bounded_chunks() {
    a_100_mib_blob_is_swept(false);
}

/// Packed: its size, read by rekey from its pack entry's header (the sizes are checked
/// against git's in `find::packs`), sends it to the sweep instead of the parsers; a pack is
/// not streamed, so it is swept from memory.
#[test]
fn a_100_mib_packed_blob_is_swept() {
    a_100_mib_blob_is_swept(true);
}

fn a_100_mib_blob_is_swept(packed: bool) {
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut log = "x".repeat(64).repeat(100 << 20 >> 6);
    log.push_str(&format!("\nDELEGATE_TOKEN={OLD_HEX}\n"));
    fs::write(dir.path().join("huge.log"), log).unwrap();
    commit_all(dir.path(), home.path());
    fs::write(
        dir.path().join(".rekey.toml"),
        policy(&[NEW_FINGERPRINT], &[OLD_FINGERPRINT]),
    )
    .unwrap();
    git(dir.path(), home.path(), &["add", "-A"]);
    git(dir.path(), home.path(), &["commit", "-q", "-m", "Policy"]);
    if packed {
        git(dir.path(), home.path(), &["repack", "-a", "-d", "-q"]);
        let loose = git(dir.path(), home.path(), &["count-objects"]);
        assert!(loose.starts_with("0 objects"), "{loose}");
    }
    let report = history_json(dir.path(), &[]);
    let old = token(&report, OLD_FINGERPRINT);
    assert_eq!(strings(&old["paths"]), ["huge.log"]);
    assert_eq!(old["state"], "revoked");
}

#[test]
fn check_history_walks_each_repo_named_under_its_own_policy() {
    let (top, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (clean, dirty) = (top.path().join("clean"), top.path().join("dirty"));
    fs::create_dir_all(&clean).unwrap();
    fs::create_dir_all(&dirty).unwrap();
    rotated_repo(&clean, home.path());
    // The dirty repository once held a token its committed policy has never heard of.
    rotated_repo(&dirty, home.path());
    fs::write(dirty.join("k8s/secret.yaml"), secret(OTHER_HEX)).unwrap();
    git(
        &dirty,
        home.path(),
        &["commit", "-qam", "Try another token"],
    );
    fs::write(dirty.join("k8s/secret.yaml"), secret(NEW_HEX)).unwrap();
    git(&dirty, home.path(), &["commit", "-qam", "Back"]);

    let args = ["check", "--history", "--repo", "clean", "--repo", "dirty"];
    let run = rekey(top.path(), &[&args[..], &["--format", "json"]].concat());
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    assert_no_token(&run.stdout, "check --history --repo");
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let history: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "history-token")
        .collect();
    assert_eq!(history.len(), 1, "{report:#}");
    assert_eq!(history[0]["path"], "dirty/k8s/secret.yaml");
    assert_eq!(history[0]["fingerprint"], OTHER_FINGERPRINT);
    let warned: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "revoked-at-ref")
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(warned, ["clean/k8s/secret.yaml", "dirty/k8s/secret.yaml"]);

    let only_clean = rekey(top.path(), &["check", "--history", "--repo", "clean"]);
    assert_eq!(
        only_clean.status, 0,
        "{}{}",
        only_clean.stdout, only_clean.stderr
    );
}
