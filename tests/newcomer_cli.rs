//! What a newcomer meets at the command line: every command a message suggests runs as
//! printed, refusals name the files they are about, the scan text reads as a table, what
//! the walk left out is counted, and a dry run can tell a CI job whether it would change
//! anything.

mod common;

use common::*;
use std::fs;

#[test]
fn the_multiple_token_refusal_names_up_to_five_files_per_token() {
    let dir = tempfile::tempdir().unwrap();
    for index in 1..=7 {
        fs::write(
            dir.path().join(format!("prod-{index}.env")),
            format!("DELEGATE_TOKEN={OLD_HEX}\n"),
        )
        .unwrap();
    }
    fs::write(
        dir.path().join("staging.env"),
        format!("DELEGATE_TOKEN={OTHER_HEX}\n"),
    )
    .unwrap();
    let refused = rotate_to_new_token(dir.path(), &[]);
    assert_eq!(refused.status, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.ends_with(&format!(
            "error:   {OTHER_FINGERPRINT}  in 1 file: staging.env\n\
             error:   {OLD_FINGERPRINT}  in 7 files: prod-1.env, prod-2.env, prod-3.env, prod-4.env, prod-5.env and 2 more\n"
        )),
        "{}",
        refused.stderr
    );
    assert_no_token(&refused.stderr, "stderr");
}

#[test]
fn exit_code_makes_a_dry_run_say_whether_it_would_change_anything() {
    let repo = copy_fixture("demo");
    let drift = rotate_to_new_token(repo.path(), &["--exit-code", "--stat"]);
    assert_eq!(drift.status, 1, "{}", drift.stderr);
    assert!(drift.stdout.contains(" rotated"), "{}", drift.stdout);
    assert_same_tree(repo.path(), &fixtures().join("demo"));
    let plain = rotate_to_new_token(repo.path(), &["--stat"]);
    assert_eq!(plain.status, 0, "{}", plain.stderr);

    let written = rotate_to_new_token(repo.path(), &["--write"]);
    assert_eq!(written.status, 0, "{}", written.stderr);
    let settled = rotate_to_new_token(repo.path(), &["--exit-code"]);
    assert_eq!(settled.status, 0, "{}{}", settled.stdout, settled.stderr);
    assert!(
        settled.stdout.contains("Already rotated"),
        "{}",
        settled.stdout
    );

    // Only a dry run has something to report: with --write or --commit it is a usage error.
    let misused = rotate_to_new_token(repo.path(), &["--exit-code", "--write"]);
    assert_eq!(misused.status, 2);
    assert!(
        misused.stderr.contains("cannot be used with"),
        "{}",
        misused.stderr
    );
}

#[test]
fn exit_code_covers_every_repository_of_a_dry_run() {
    let home = tempfile::tempdir().unwrap();
    let fleet = tempfile::tempdir().unwrap();
    for (name, token) in [("drifted", OLD_HEX), ("settled", NEW_HEX)] {
        let repo = fleet.path().join(name);
        fs::create_dir(&repo).unwrap();
        fs::write(repo.join(".env"), format!("DELEGATE_TOKEN={token}\n")).unwrap();
        commit_all(&repo, home.path());
    }
    let settled = rotate_to_new_token(fleet.path(), &["--repo", "settled", "--exit-code"]);
    assert_eq!(settled.status, 0, "{}{}", settled.stdout, settled.stderr);
    let both = ["--repo", "settled", "--repo", "drifted", "--exit-code"];
    let drifted = rotate_to_new_token(fleet.path(), &both);
    assert_eq!(drifted.status, 1, "{}{}", drifted.stdout, drifted.stderr);
}

#[test]
fn exit_code_is_in_the_manual_page() {
    let dir = tempfile::tempdir().unwrap();
    let run = rekey(dir.path(), &["man", "--out-dir", "."]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let page = fs::read_to_string(dir.path().join("rekey-rotate.1")).unwrap();
    assert!(page.contains("\\-\\-exit\\-code"), "{page}");
    assert!(page.contains("the dry run would change a file"), "{page}");
}
