//! Memory stays bounded: one file of 150,000 sites rotates in every format under 256 MiB of
//! peak RSS, and a run whose files with sites would take more than rekey holds at once is
//! refused whole (nothing written, the file named) instead of growing without bound.
//!
//! Peak RSS is the kernel's `ru_maxrss` over this test binary's finished children: every
//! rekey run of this file counts, so any one of them over the bound fails the suite.

mod common;

use common::{assert_no_token, rekey_with, Run};
use std::fs;
use std::path::Path;

const OLD: &str = "0123456789abcdef0123456789abcdef";
const NEW: &str = "fedcba9876543210fedcba9876543210";
const SITES: usize = 150_000;
const BOUND_KIB: i64 = 256 * 1024;

/// One file holding `SITES` sites of `token`, as small as each format allows (about 7.5 MB:
/// under the 8 MiB a file may have to be parsed).
fn sites_file(format: &str, token: &str) -> (String, String) {
    match format {
        "env" => (
            "sites.env".into(),
            format!("DELEGATE_TOKEN={token}\n").repeat(SITES),
        ),
        "yaml" => (
            "sites.yaml".into(),
            format!("---\nDELEGATE_TOKEN: {token}\n").repeat(SITES),
        ),
        "json" => (
            "sites.json".into(),
            format!(
                "[{}]",
                vec![format!(r#"{{"delegateToken":"{token}"}}"#); SITES].join(",")
            ),
        ),
        _ => unreachable!(),
    }
}

fn rekey(cwd: &Path, args: &[&str]) -> Run {
    rekey_with(cwd, args, &[("NEW_TOKEN", NEW)], None)
}

/// The largest peak RSS of the rekey runs finished so far, in KiB.
fn peak_rss_of_children_kib() -> i64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes the struct it is given.
    let status = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(status, 0);
    usage.ru_maxrss
}

fn assert_bounded(context: &str) {
    let peak = peak_rss_of_children_kib();
    assert!(
        peak < BOUND_KIB,
        "{context}: a rekey run peaked at {} MiB",
        peak / 1024
    );
}

/// Runs `check .` in `root` `runs` times: each run must fail with the one `unchecked-file`
/// finding for the whole input past the budget, and the summary ending in `summary_tail`
/// (the same answer every time, whichever files the threads read first).
fn check_judges_nothing(root: &Path, runs: usize, summary_tail: &str) {
    for _ in 0..runs {
        let check = rekey(root, &["check", "."]);
        assert_eq!(check.status, 1, "{}", check.stderr);
        assert_eq!(
            check.stdout,
            format!(
                ".:1:1: error[unchecked-file] {}\nrekey check: 1 error, 0 warnings, 0 notes in {summary_tail}",
                rekey::find::scan::Budget::over_budget_reason()
            )
        );
    }
}

#[test]
fn one_file_of_150k_sites_rotates_in_every_format_within_256_mib() {
    for format in ["env", "yaml", "json"] {
        let dir = tempfile::tempdir().unwrap();
        let (name, text) = sites_file(format, OLD);
        fs::write(dir.path().join(&name), &text).unwrap();
        let run = rekey(
            dir.path(),
            &[
                "rotate",
                "--new-token-env",
                "NEW_TOKEN",
                "--write",
                "--format",
                "json",
                ".",
            ],
        );
        assert_eq!(run.status, 0, "{format}: {}", run.stderr);
        assert_no_token(&run.stdout, format);
        let rotated = fs::read(dir.path().join(&name)).unwrap();
        assert!(
            rotated == sites_file(format, NEW).1.as_bytes(),
            "{format}: the rotated file is not the expected file"
        );
        assert_bounded(format);
    }
}

#[test]
fn more_files_with_sites_than_rekey_holds_are_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text) = sites_file("yaml", OLD);
    for i in 0..2 {
        fs::write(dir.path().join(format!("sites-{i}.yaml")), &text).unwrap();
    }
    let run = rekey(
        dir.path(),
        &["rotate", "--new-token-env", "NEW_TOKEN", "--write", "."],
    );
    assert_eq!(run.status, 2, "{}", run.stdout);
    // One answer for the whole input, whichever file the threads read last.
    assert_eq!(
        run.stderr,
        format!(
            "error: .: {}; nothing was rotated\n",
            rekey::find::scan::Budget::over_budget_reason()
        )
    );
    for i in 0..2 {
        let file = fs::read_to_string(dir.path().join(format!("sites-{i}.yaml"))).unwrap();
        assert!(file == text, "sites-{i}.yaml was changed");
    }
    assert_bounded("rotate of two files of 150k sites");

    // The gate cannot judge what it does not hold: it fails, even with the rule for files
    // that do not parse turned off, and judges nothing it happened to read.
    fs::write(
        dir.path().join(".rekey.toml"),
        "[tokens]\nrevoked = [\"sha256:3eb1bd439947eb76\"]\n[rules]\nunparseable = \"off\"\n",
    )
    .unwrap();
    check_judges_nothing(
        dir.path(),
        3,
        "2 files checked (0 sites in 0 files); policy .rekey.toml\n",
    );
    assert_bounded("check of two files of 150k sites");
}

#[test]
fn what_cannot_be_held_is_not_judged_and_fails_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    common::git(root, root, &["init", "-q"]);
    // A checksum list over the parse limit with more token-shaped strings than one run
    // keeps (the sweep stops keeping them), and a staged blob too large to inflate.
    let mut checksums = String::new();
    let mut i: u64 = 0;
    while checksums.len() < 18 << 20 {
        checksums.push_str(&format!("{:032x}\n", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
        i += 1;
    }
    fs::write(root.join("checksums.md5"), &checksums).unwrap();
    let line = "a line of a large generated file, no token here\n";
    fs::write(
        root.join("bundle.txt"),
        line.repeat((33 << 20) / line.len()),
    )
    .unwrap();
    common::git(root, root, &["add", "-A"]);

    let worktree = rekey(root, &["check", "--format", "json", "checksums.md5"]);
    assert_eq!(worktree.status, 1, "{}", worktree.stderr);
    let report: serde_json::Value = serde_json::from_str(&worktree.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["rule"], "unchecked-file");
    assert_eq!(findings[0]["path"], "checksums.md5");
    assert!(
        findings[0]["message"]
            .as_str()
            .unwrap()
            .contains("more token-shaped strings than rekey keeps for one run"),
        "{findings:?}"
    );

    let staged = rekey(root, &["check", "--staged", "--format", "json"]);
    assert_eq!(staged.status, 1, "{}", staged.stderr);
    let report: serde_json::Value = serde_json::from_str(&staged.stdout).unwrap();
    let unchecked: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "unchecked-file")
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(unchecked.contains(&"bundle.txt"), "{}", staged.stdout);
    assert_bounded("checks of what rekey cannot hold");
}

#[test]
fn more_token_shaped_strings_than_a_run_keeps_fail_the_gate_the_same_way_every_time() {
    // Three checksum lists, each small enough to parse, together past what a run keeps.
    let dir = tempfile::tempdir().unwrap();
    let mut i: u64 = 0;
    for list in 0..3 {
        let mut checksums = String::new();
        while checksums.len() < 6_500_000 {
            checksums.push_str(&format!("{:032x}\n", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
            i += 1;
        }
        fs::write(dir.path().join(format!("sums-{list}.md5")), &checksums).unwrap();
    }
    check_judges_nothing(
        dir.path(),
        2,
        "3 files checked (0 sites in 0 files)\n\
rekey check: warning: no .rekey.toml in this directory or above it: the revoked-token and stale-token rules are off. Run `rekey init` to list the tokens in force, or pass --config FILE\n",
    );
    assert_bounded("check of 590,000 token-shaped strings");
}
