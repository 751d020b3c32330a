//! What a rotation must not break in the files it rewrites: a legacy key is renamed only
//! where what reads the file accepts the new name (a Terraform module's variables, a chart's
//! own templates and a lone `accountSecret` keep theirs, each with a note saying why),
//! template expressions and HCL written in `.yaml` files are never rewritten, and a new
//! token keeps the string type of the value it replaces. The binary runs on scratch copies
//! of `fixtures/rename-rules/`; rewritten files are compared byte for byte with the expected
//! trees there.

mod common;

use common::*;
use std::path::Path;

/// A made-up new token of 32 decimal digits: a plain YAML scalar of it is an integer.
const DIGITS: &str = "48213907561234987650123498765012";
/// A made-up new token of digits with one `e`: a plain YAML scalar of it is a float.
const FLOAT: &str = "1234567890123456e890123456789012";

fn expected(name: &str) -> std::path::PathBuf {
    fixtures().join("rename-rules/expected").join(name)
}

/// `rekey rotate --new-token-env NEW_TOKEN EXTRA…` in `cwd`, the new token `token`.
fn rotate_to(cwd: &Path, token: &str, extra: &[&str]) -> Run {
    let mut args = vec!["rotate", "--new-token-env", "NEW_TOKEN"];
    args.extend_from_slice(extra);
    rekey_with(cwd, &args, &[("NEW_TOKEN", token)], None)
}

/// Neither the old token nor `token` (in any 8 characters of it) is in `text`.
fn assert_no_secret(text: &str, token: &str, context: &str) {
    assert_no_token(text, context);
    for piece in token.as_bytes().windows(8) {
        let piece = std::str::from_utf8(piece).unwrap();
        assert!(
            !text.contains(piece),
            "{context}: 8 characters of the new token were printed ({piece}):\n{text}"
        );
    }
}

#[test]
fn a_new_token_that_would_read_as_a_number_is_written_quoted_where_bare_values_have_a_type() {
    for (token, tree) in [(DIGITS, "quoting-digits"), (FLOAT, "quoting-float")] {
        let repo = copy_fixture("rename-rules/quoting");
        let run = rotate_to(repo.path(), token, &["--write"]);
        assert_eq!(run.status, 0, "{token}: {}{}", run.stdout, run.stderr);
        assert_no_secret(&run.stdout, token, "stdout");
        assert_no_secret(&run.stderr, token, "stderr");
        assert!(
            run.stdout
                .contains("in 5 files: 9 sites rotated, 0 placeholders filled"),
            "{}",
            run.stdout
        );
        // Plain YAML scalars (a map value, an anchor, a flow value) gain double quotes; a
        // quoted one keeps its quotes; `KEY=value` items, .env, JSON and HCL strings are
        // untyped or already quoted and stay as they were written.
        assert_same_tree(repo.path(), &expected(tree));
    }
}

#[test]
fn a_quoted_rewrite_reads_back_as_the_new_token_on_the_next_run() {
    let repo = copy_fixture("rename-rules/quoting");
    let run = rotate_to(repo.path(), DIGITS, &["--write"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let again = rotate_to(repo.path(), DIGITS, &["--write"]);
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert_no_secret(&again.stdout, DIGITS, "stdout");
    assert_same_tree(repo.path(), &expected("quoting-digits"));
    let scan = rekey(repo.path(), &["scan", "--format", "json"]);
    assert_no_secret(&scan.stdout, DIGITS, "scan");
    assert!(!scan.stdout.contains("\"other\""), "{}", scan.stdout);
}
