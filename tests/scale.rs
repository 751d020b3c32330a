//! No cliff at scale: a run keeps each file's sites and digest, never its bytes, so a tree
//! whose files with sites add up to more than the 64 MiB a run holds is judged in full by
//! `scan`, `check` and a rotation; and a rotation, which reads each file again to verify,
//! show and write it, refuses a file edited since it was planned, by name, writing nothing.
//!
//! Peak RSS is the kernel's `ru_maxrss` over this test binary's finished children (every
//! rekey run of this file counts). A child counts what it shares with this process before
//! it runs rekey, so the test never holds the tree's bytes itself, only their digests.

mod common;

use common::{assert_no_token, rekey_with, tree, NEW_HEX, OLD_FINGERPRINT, OLD_HEX};
use rekey::find::ignore_rules::Ignore;
use rekey::model::fs::FileDigest;
use rekey::model::token::NewToken;
use rekey::report::rotate::{file_diff, Secrets};
use rekey::rotate::apply;
use rekey::rotate::plan::RotateOptions;
use rekey::rotate::rotation::{self, Mode, Request, TokenSource};
use std::fs;
use std::path::Path;

/// Files with a site each, every one just under a MiB (under the size parsed one at a time):
/// together past the 64 MiB a run holds.
const FILES: usize = 72;

/// The `i`th file of the tree, holding `token`: a generated `.env` or Helm values file, a
/// MiB of comments with the token key in the middle.
fn large_file(i: usize, token: &str) -> (String, String) {
    let comment = format!("# generated deployment notes for service {i}, kept with its config\n");
    let padding = comment.repeat((1_000_000 / 2) / comment.len());
    if i % 3 == 0 {
        let text = format!("{padding}delegateName: svc-{i}\ndelegateToken: {token}\n{padding}");
        (format!("charts/svc-{i}/values.yaml"), text)
    } else {
        let text = format!("{padding}DELEGATE_TOKEN={token}\nLOG_LEVEL=info\n{padding}");
        (format!("services/svc-{i}/.env"), text)
    }
}

fn write_tree(root: &Path, token: &str) {
    for i in 0..FILES {
        let (name, text) = large_file(i, token);
        let path = root.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
}

/// Every file below `root` with the digest of its bytes, sorted by path.
fn digests(root: &Path) -> Vec<(String, FileDigest)> {
    let mut found = Vec::new();
    let mut directories = vec![root.to_owned()];
    while let Some(directory) = directories.pop() {
        for entry in fs::read_dir(directory).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                directories.push(path);
            } else {
                let name = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                found.push((name, FileDigest::of(&fs::read(&path).unwrap())));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

fn rekey(cwd: &Path, args: &[&str]) -> common::Run {
    rekey_with(cwd, args, &[("NEW_TOKEN", NEW_HEX)], None)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The largest peak RSS of the rekey runs finished so far, in MiB.
fn peak_rss_of_children_mib() -> i64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes the struct it is given.
    let status = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(status, 0);
    usage.ru_maxrss / 1024
}

#[test]
fn a_tree_past_the_budget_is_judged_in_full_by_scan_check_and_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_tree(root, OLD_HEX);
    let policy = format!("[tokens]\ncurrent = [\"{OLD_FINGERPRINT}\"]\n");
    fs::write(root.join(".rekey.toml"), &policy).unwrap();
    let before = digests(root);
    let bytes: u64 = before.iter().map(|(_, digest)| digest.len()).sum();
    assert!(bytes > 64 << 20, "the tree holds only {bytes} bytes");

    let scan = rekey(root, &["scan", "--format", "json"]);
    assert_eq!(scan.status, 0, "{}", scan.stderr);
    let report = json(&scan.stdout);
    let mut paths: Vec<&str> = report["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|site| site["path"].as_str().unwrap())
        .collect();
    paths.dedup();
    assert_eq!(paths.len(), FILES, "{}", scan.stderr);
    assert_eq!(report["errors"], serde_json::json!([]));
    assert_eq!(report["skipped"], serde_json::json!([]));

    let check = rekey(root, &["check", "--format", "json"]);
    assert_eq!(check.status, 0, "{}", check.stdout);
    let report = json(&check.stdout);
    assert_eq!(report["findings"], serde_json::json!([]));
    assert_eq!(report["files_checked"], FILES);
    assert_eq!(report["sites"], FILES);

    let dry = rekey(
        root,
        &["rotate", "--new-token-env", "NEW_TOKEN", "--format", "json"],
    );
    assert_eq!(dry.status, 0, "{}", dry.stderr);
    assert_no_token(&dry.stdout, "dry run");
    let report = json(&dry.stdout);
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), FILES);
    assert!(files
        .iter()
        .all(|f| f["diff"].as_str().unwrap().contains("+DELEGATE_TOKEN=")
            || f["diff"].as_str().unwrap().contains("+delegateToken: ")));
    assert!(digests(root) == before, "a dry run changed the tree");
    // What was read is never all held: the runs peaked below the budget, let alone the tree.
    let peak = peak_rss_of_children_mib();
    assert!(peak < 64, "a rekey run peaked at {peak} MiB");

    let write = rekey(root, &["rotate", "--new-token-env", "NEW_TOKEN", "--write"]);
    assert_eq!(write.status, 0, "{}", write.stderr);
    let expected = tempfile::tempdir().unwrap();
    write_tree(expected.path(), NEW_HEX);
    let mut rotated = digests(root);
    rotated.retain(|(name, _)| name != ".rekey.toml");
    assert!(
        rotated == digests(expected.path()),
        "the rotated tree is not the expected one"
    );
}

/// Three files holding the old token, and the request that rotates them in `mode`.
fn small_tree(root: &Path, mode: Mode) -> Request {
    for name in ["a.env", "b.env", "c.env"] {
        let text = format!("# {name}\nDELEGATE_TOKEN={OLD_HEX}\n");
        fs::write(root.join(name), text).unwrap();
    }
    Request {
        roots: vec![root.to_owned()],
        cwd: root.to_owned(),
        new: NewToken::parse(NEW_HEX).unwrap(),
        options: RotateOptions::default(),
        mode,
        ignore: Ignore::Respect,
        source: TokenSource::Stdin,
    }
}

#[test]
fn a_file_edited_after_it_was_planned_is_refused_by_name_and_nothing_is_written() {
    for mode in [Mode::DryRun, Mode::Write(apply::Options::default())] {
        let dir = tempfile::tempdir().unwrap();
        let request = small_tree(dir.path(), mode);
        let prepared = rotation::prepare(&request).unwrap();
        // Edited after the scan planned from it: the same length, a comment changed.
        let edited = format!("# B.env\nDELEGATE_TOKEN={OLD_HEX}\n");
        fs::write(dir.path().join("b.env"), &edited).unwrap();
        let before = tree(dir.path());
        let error = match rotation::rotate(&request, &prepared) {
            Ok(_) => panic!("a file edited after it was planned was rotated"),
            Err(error) => error.to_string(),
        };
        assert_eq!(
            error,
            "b.env: changed since rekey read it (edited during the run?): run rekey again\nnothing was written"
        );
        assert!(
            tree(dir.path()) == before,
            "a refused rotation changed the tree"
        );
    }
}

#[test]
fn the_diff_is_read_again_and_after_a_write_is_the_diff_of_the_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let dry = small_tree(dir.path(), Mode::DryRun);
    let prepared = rotation::prepare(&dry).unwrap();
    let planned = rotation::rotate(&dry, &prepared).unwrap();
    let shown: Vec<String> = (0..3)
        .map(|i| file_diff(&planned, i, Secrets::Shown).unwrap())
        .collect();
    assert!(shown[1].contains(&format!(
        "-DELEGATE_TOKEN={OLD_HEX}\n+DELEGATE_TOKEN={NEW_HEX}\n"
    )));

    let write = small_tree(dir.path(), Mode::Write(apply::Options::default()));
    let prepared = rotation::prepare(&write).unwrap();
    let written = rotation::rotate(&write, &prepared).unwrap();
    let rotated = format!("# b.env\nDELEGATE_TOKEN={NEW_HEX}\n");
    assert_eq!(
        fs::read_to_string(dir.path().join("b.env")).unwrap(),
        rotated
    );
    // Shown from the new bytes and the bytes the edits replaced: the same diff, values and all.
    for (i, diff) in shown.iter().enumerate() {
        assert_eq!(&file_diff(&written, i, Secrets::Shown).unwrap(), diff);
    }
    // A file that holds neither what was planned from nor what was written has no diff.
    fs::write(dir.path().join("b.env"), rotated.replace("# b", "# B")).unwrap();
    let error = file_diff(&written, 1, Secrets::Redacted)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("b.env: changed since rekey read it"),
        "{error}"
    );
}
