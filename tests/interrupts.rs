//! The apply transaction under attack: SIGKILL at random moments, SIGINT mid-run, a file
//! edited while rekey runs. Every file stays whole, nothing is lost, no temp file outlives
//! the run (or the next one), and rerunning the same command finishes the job.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const FILES: usize = 300;
const TRIALS: usize = 50;

/// A repo of `FILES` manifests holding the old token, and the tree an uninterrupted
/// rotation makes of it.
fn many_files(root: &Path) {
    for i in 0..FILES {
        let dir = root.join(format!("team-{}", i % 10));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join(format!("delegate-{i}.yaml")),
            format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: d{i}\nstringData:\n  DELEGATE_TOKEN: {OLD_HEX}  # {i}\n"),
        )
        .unwrap();
    }
    fs::write(
        root.join(".rekey.toml"),
        format!("[tokens]\ncurrent = [\"{OLD_FINGERPRINT}\"]\n"),
    )
    .unwrap();
}

fn write_args() -> Vec<String> {
    let token = new_token_file();
    [
        "rotate",
        "--write",
        "--new-token-file",
        token.to_str().unwrap(),
    ]
    .map(str::to_owned)
    .to_vec()
}

fn spawn(cwd: &Path, pause: Option<&Path>) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rekey"));
    command
        .args(write_args())
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(marker) = pause {
        command.env("REKEY_PAUSE_BEFORE_APPLY", marker);
    }
    command.spawn().unwrap()
}

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "rekey never reached the apply stage"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn temp_files(root: &Path) -> Vec<String> {
    tree(root)
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| name.contains(".rekey-tmp."))
        .collect()
}

/// Each file holds exactly its old bytes or exactly its rotated bytes.
fn assert_whole(actual: &Path, old: &Path, new: &Path, context: &str) {
    let old = tree(old);
    let new = tree(new);
    for (((name, got), (_, before)), (_, after)) in tree(actual)
        .into_iter()
        .filter(|(name, _)| !name.contains(".rekey-tmp."))
        .zip(&old)
        .zip(&new)
    {
        assert!(
            &got == before || &got == after,
            "{context}: {name} is torn:\n{}",
            String::from_utf8_lossy(&got)
        );
    }
}

/// Small pseudo-random numbers from a seed: each trial's moment is reproducible.
fn moments(seed: u64, count: usize, below: u64) -> Vec<u64> {
    let mut state = seed;
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % below.max(1)
        })
        .collect()
}

#[test]
fn sigkill_at_any_moment_leaves_whole_files_and_the_rerun_finishes() {
    let base = tempfile::tempdir().unwrap();
    let old = base.path().join("old");
    many_files(&old);
    let expected = base.path().join("expected");
    copy_tree(&old, &expected);
    let start = Instant::now();
    let run = rekey(
        &expected,
        &write_args().iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let full_run = start.elapsed().as_micros() as u64;

    for (trial, delay) in moments(7, TRIALS, full_run).into_iter().enumerate() {
        let repo = base.path().join(format!("trial-{trial}"));
        copy_tree(&old, &repo);
        // Half the trials kill at a random moment of the whole run, half at a random
        // moment of the apply stage itself, where the renames happen.
        let marker = base.path().join(format!("marker-{trial}"));
        let mut child = if trial % 2 == 0 {
            let child = spawn(&repo, None);
            std::thread::sleep(Duration::from_micros(delay));
            child
        } else {
            let child = spawn(&repo, Some(&marker));
            wait_for(&marker);
            fs::remove_file(&marker).unwrap();
            std::thread::sleep(Duration::from_micros(delay / 2));
            child
        };
        child.kill().unwrap();
        child.wait().unwrap();
        let context = format!("trial {trial} killed after {delay} µs");
        assert_whole(&repo, &old, &expected, &context);

        let rerun = rekey(
            &repo,
            &write_args().iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert_eq!(rerun.status, 0, "{context}: {}", rerun.stderr);
        assert!(
            temp_files(&repo).is_empty(),
            "{context}: {:?}",
            temp_files(&repo)
        );
        assert_same_tree(&repo, &expected);
        fs::remove_dir_all(&repo).unwrap();
    }
}

#[test]
fn a_signal_during_the_transaction_writes_nothing_and_leaves_no_temp_file() {
    for (signal, number) in [("INT", 2), ("TERM", 15), ("HUP", 1)] {
        let base = tempfile::tempdir().unwrap();
        let repo = base.path().join("repo");
        many_files(&repo);
        let before = tree(&repo);
        let marker = base.path().join("marker");
        let child = spawn(&repo, Some(&marker));
        wait_for(&marker);
        let pid = child.id().to_string();
        assert!(Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap()
            .success());
        // Give the signal thread its moment, then let the transaction go on: it must see it.
        std::thread::sleep(Duration::from_millis(100));
        fs::remove_file(&marker).unwrap();
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(
            output.status.code(),
            Some(128 + number),
            "SIG{signal}: {stderr}"
        );
        assert!(
            stderr.starts_with(&format!(
                "error: interrupted by signal {number}; stopped before the next file\nerror: written: none\nerror: not written: .rekey.toml, team-0/delegate-0.yaml, "
            )),
            "SIG{signal}: {stderr}"
        );
        assert!(
            stderr.ends_with("error: run the same command again to finish: rekey reads every file afresh and rotates what is left\n"),
            "SIG{signal}: {stderr}"
        );
        assert_eq!(tree(&repo), before, "SIG{signal}: nothing may change");
        assert!(temp_files(&repo).is_empty());
        assert_no_token(&stderr, "signal");
    }
}

#[test]
fn a_file_edited_during_the_run_is_never_overwritten() {
    let base = tempfile::tempdir().unwrap();
    let repo = base.path().join("repo");
    many_files(&repo);
    let marker = base.path().join("marker");
    let child = spawn(&repo, Some(&marker));
    wait_for(&marker);
    // Someone appends to a file after rekey read it.
    let edited: PathBuf = repo.join("team-5/delegate-155.yaml");
    let mut text = fs::read_to_string(&edited).unwrap();
    text.push_str("# appended while rekey ran\n");
    fs::write(&edited, &text).unwrap();
    fs::remove_file(&marker).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "error: team-5/delegate-155.yaml: changed since rekey read it; it was not overwritten"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: not written: team-5/delegate-155.yaml"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: run the same command again to finish"),
        "{stderr}"
    );
    assert_eq!(
        fs::read_to_string(&edited).unwrap(),
        text,
        "the edit survives"
    );
    assert!(temp_files(&repo).is_empty());
    // The rerun rotates what is left, the edited file included, keeping the edit.
    let rerun = rekey(
        &repo,
        &write_args().iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(rerun.status, 0, "{}", rerun.stderr);
    let rotated = fs::read_to_string(&edited).unwrap();
    assert!(rotated.ends_with("# appended while rekey ran\n") && rotated.contains(NEW_HEX));
    let check = rekey(&repo, &["check"]);
    assert_eq!(check.status, 0, "{}", check.stdout);
}
