//! Nothing left behind: every token-shaped string in every text file is judged by `check`
//! and listed by `rotate` when it is a copy of the token being rotated, wherever it stands
//! (prose, comments, files rekey does not parse).

mod common;

use common::*;
use std::fs;
use std::path::Path;

/// A repo where the old token is at a site and also pasted where no scanner rewrites it.
fn pasted(root: &Path) {
    fs::write(
        root.join("values.yaml"),
        format!("delegateToken: {OLD_HEX}  # was {OLD_HEX}\n"),
    )
    .unwrap();
    fs::write(
        root.join("README.md"),
        format!("Run with DELEGATE_TOKEN={OLD_HEX} locally.\n"),
    )
    .unwrap();
    fs::write(
        root.join("notes.txt"),
        format!("old one: {OTHER_HEX}\nchecksum: 0123456789abcdef0123456789abcdef\n"),
    )
    .unwrap();
}

#[test]
fn check_judges_tokens_outside_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    pasted(root);
    fs::write(
        root.join(".rekey.toml"),
        format!(
            "[tokens]\ncurrent = [\"{OLD_FINGERPRINT}\"]\nrevoked = [\"{OTHER_FINGERPRINT}\"]\n"
        ),
    )
    .unwrap();
    let run = rekey(root, &["check"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    // The revoked token pasted into a text file is an error; the current one is fine; an
    // unknown 32-hex string (a checksum) is not judged.
    assert_eq!(
        run.stdout,
        format!("notes.txt:1:10: error[revoked-token] a token revoked in Harness, outside any key rekey rewrites (a comment, prose, a file it does not parse): remove it ({OTHER_FINGERPRINT})\n\
rekey check: 1 error, 0 warnings, 0 notes in 3 files checked (1 site in 1 file); policy .rekey.toml\n")
    );
    // Once the token at the site is rotated, its copies are stale.
    fs::write(
        root.join(".rekey.toml"),
        format!("[tokens]\ncurrent = [\"{NEW_FINGERPRINT}\"]\n"),
    )
    .unwrap();
    let stale = rekey(root, &["check", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&stale.stdout).unwrap();
    let found: Vec<(String, String, u64)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_owned(),
                f["path"].as_str().unwrap().to_owned(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("stale-token".to_owned(), "README.md".to_owned(), 1),
            ("stale-token".to_owned(), "values.yaml".to_owned(), 1),
            ("stale-token".to_owned(), "values.yaml".to_owned(), 1),
        ]
    );
    assert_no_token(&stale.stdout, "check json");
}

#[test]
fn rotate_lists_the_copies_it_cannot_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    pasted(root);
    let token = new_token_file();
    let run = rotate_to_new_token(root, &["--write"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!(
            "Left behind: 2 copies of the old token outside any key rekey rewrites (a comment, prose, a file it does not parse); remove them before revoking it:\n  README.md:1:25 ({OLD_FINGERPRINT})\n  values.yaml:1:56 ({OLD_FINGERPRINT})\n"
        )),
        "{}",
        run.stdout
    );
    assert_no_token(&run.stdout, "rotate");
    // The site was rotated; the copies were not touched.
    assert_eq!(
        fs::read_to_string(root.join("values.yaml")).unwrap(),
        format!("delegateToken: {NEW_HEX}  # was {OLD_HEX}\n")
    );
    let json = rekey(
        root,
        &[
            "rotate",
            "--new-token-file",
            token.to_str().unwrap(),
            "--only",
            OLD_FINGERPRINT,
            "--format",
            "json",
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["status"], "already-rotated");
    // A rerun naming the old token still lists what is left of it.
    let left: Vec<&str> = report["left_behind"]
        .as_array()
        .unwrap()
        .iter()
        .map(|stray| stray["path"].as_str().unwrap())
        .collect();
    assert_eq!(left, ["README.md", "values.yaml"]);
}

/// The 1-based line and character column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (u64, u64) {
    let line_start = text[..offset].rfind('\n').map_or(0, |at| at + 1);
    (
        text[..offset].matches('\n').count() as u64 + 1,
        text[line_start..offset].chars().count() as u64 + 1,
    )
}

#[test]
fn files_too_large_to_parse_are_still_swept_in_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(
        root.join(".rekey.toml"),
        format!("[tokens]\nrevoked = [\"{OTHER_FINGERPRINT}\"]\n"),
    )
    .unwrap();
    // 9 MiB of log lines, too large to parse, with the revoked token on every line for
    // 2 KiB either side of 1 MiB (where the first chunk read ends, whatever it carries
    // over), after multi-byte characters on its line, and at the very end.
    let mut text = String::new();
    let mut planted = Vec::new();
    let mut plant = |text: &mut String, before: &str| {
        text.push_str(before);
        planted.push(text.len());
        text.push_str(OTHER_HEX);
        text.push('\n');
    };
    while text.len() < (1 << 20) - 2048 {
        text.push_str(
            "2026-11-28 info: request served in 12 ms, checksum 0123456789abcdef0123456789abcdef\n",
        );
    }
    while text.len() < (1 << 20) + 2048 {
        plant(&mut text, "t=");
    }
    while text.len() < 5 << 20 {
        text.push_str("2026-11-28 info: a line of a large log file\n");
    }
    plant(&mut text, "café ünïcode: ");
    while text.len() < 9 << 20 {
        text.push_str("2026-11-28 info: another line of a large log\n");
    }
    plant(&mut text, "last=");
    fs::write(root.join("big.log"), &text).unwrap();
    // The same with a key name: reported as not judged, and its strays judged too.
    fs::write(root.join("big.env"), format!("DELEGATE_TOKEN=x\n{text}")).unwrap();

    let mut expected = vec![("big.env".to_owned(), "unchecked-file".to_owned(), 1, 1)];
    for (path, shift) in [("big.env", "DELEGATE_TOKEN=x\n".len()), ("big.log", 0)] {
        let whole = format!("{}{text}", &"DELEGATE_TOKEN=x\n"[..shift]);
        for &offset in &planted {
            let (line, column) = line_col(&whole, offset + shift);
            expected.push((path.to_owned(), "revoked-token".to_owned(), line, column));
        }
    }
    expected.sort();
    assert_eq!(findings(root, &["check", "--format", "json"]), expected);
    // The same files staged: read from git's blobs, swept the same way.
    git(root, root, &["init", "-q"]);
    git(root, root, &["add", "-A"]);
    assert_eq!(
        findings(root, &["check", "--staged", "--format", "json"]),
        expected
    );
}

#[test]
fn copies_of_one_blob_are_each_judged_under_their_own_path() {
    // `--staged` does not inflate a blob again that held nothing: every copy of a file with
    // a token still counts, under each of its paths, as in the working tree.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(
        root.join(".rekey.toml"),
        format!("[tokens]\nrevoked = [\"{OLD_FINGERPRINT}\"]\n"),
    )
    .unwrap();
    let clean = "image: nginx\nreplicas: 2\n";
    let token = format!("delegateToken: {OLD_HEX}\n");
    let pasted = format!("was {OLD_HEX}\n");
    for team in ["a", "b", "c"] {
        fs::create_dir(root.join(team)).unwrap();
        fs::write(root.join(team).join("clean.yaml"), clean).unwrap();
        // The same clean bytes under a name a scanner reads and one it does not.
        fs::write(root.join(team).join("notes.md"), clean).unwrap();
        fs::write(root.join(team).join("values.yaml"), &token).unwrap();
        // The bytes of a site, where no scanner reads them: a stray.
        fs::write(root.join(team).join("values.md"), &token).unwrap();
        fs::write(root.join(team).join("log.txt"), &pasted).unwrap();
    }
    let working = findings(root, &["check", "--format", "json"]);
    let mut expected = Vec::new();
    for team in ["a", "b", "c"] {
        for (file, column) in [("log.txt", 5), ("values.md", 16), ("values.yaml", 16)] {
            expected.push((
                format!("{team}/{file}"),
                "revoked-token".to_owned(),
                1,
                column,
            ));
        }
    }
    assert_eq!(working, expected);
    git(root, root, &["init", "-q"]);
    git(root, root, &["add", "-A"]);
    assert_eq!(
        findings(root, &["check", "--staged", "--format", "json"]),
        expected
    );
}

/// The findings of a failing `check` JSON run as (path, rule, line, column), sorted.
fn findings(root: &Path, args: &[&str]) -> Vec<(String, String, u64, u64)> {
    let run = rekey(root, args);
    assert_eq!(run.status, 1, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let mut found: Vec<(String, String, u64, u64)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["rule"].as_str().unwrap().to_owned(),
                f["line"].as_u64().unwrap(),
                f["column"].as_u64().unwrap(),
            )
        })
        .collect();
    found.sort();
    found
}
