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
