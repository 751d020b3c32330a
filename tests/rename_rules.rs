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

#[test]
fn terraform_module_arguments_and_variable_names_keep_their_names_and_say_why() {
    let repo = copy_fixture("rename-rules/terraform");
    let run = rotate_to_new_token(repo.path(), &["--write"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_no_token(&run.stdout, "stdout");
    assert_no_token(&run.stderr, "stderr");
    // The values are rotated; module arguments, the variable's name and var. uses are not
    // renamed. The helm_release `set` of the delegate chart is the chart's, and is.
    assert_same_tree(repo.path(), &expected("terraform-rotated"));
    assert!(
        run.stdout
            .contains("in 2 files: 3 sites rotated, 0 placeholders filled, 1 legacy key migrated."),
        "{}",
        run.stdout
    );
    let module = "legacy key account_secret kept: a module argument is the module's variable name: renaming it breaks `terraform plan` for a module pinned at a version that knows only this name; the value is rotated, and the rename is the module author's, in a new module version";
    for at in ["main.tf:7:21", "main.tf:14:20"] {
        assert!(
            run.stderr.contains(&format!("note: {at}: {module}\n")),
            "{at}: {}",
            run.stderr
        );
    }
    assert!(
        run.stderr.contains("note: main.tf:21:16: legacy key account_secret kept: a Terraform variable name: every var. use of it and every caller (tfvars, module arguments) reads it by this name; the value is rotated, the name kept\n"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("note: prod.tfvars:1:19: legacy key account_secret kept:"),
        "{}",
        run.stderr
    );
}

#[test]
fn check_reports_the_kept_terraform_names_as_notes_with_the_reason() {
    let repo = copy_fixture("rename-rules/terraform");
    let run = rekey(repo.path(), &["check"]);
    assert_no_token(&run.stdout, "stdout");
    assert_no_token(&run.stderr, "stderr");
    assert!(
        run.stdout.contains("main.tf:7:3: note[legacy-key] legacy key account_secret kept: a module argument is the module's variable name"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("main.tf:18:11: note[legacy-key] legacy key account_secret kept: a Terraform variable name"),
        "{}",
        run.stdout
    );
    // The one legacy key rotate renames is the one error.
    assert!(
        run.stdout.contains(
            "main.tf:29:14: error[legacy-key] legacy key accountSecret: rename it to delegateToken"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("rekey check: 1 error, 0 warnings, 4 notes"),
        "{}",
        run.stdout
    );
    assert_eq!(run.status, 1);
}

#[test]
fn an_account_id_alone_is_no_evidence_of_a_delegate_but_a_delegate_image_in_the_file_is() {
    let repo = copy_fixture("rename-rules/evidence");
    let run = rotate_to_new_token(repo.path(), &["--write"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_no_token(&run.stdout, "stdout");
    assert_no_token(&run.stderr, "stderr");
    // other-product/: rotated, name kept; delegate/: the image makes the rename safe.
    assert_same_tree(repo.path(), &expected("evidence-rotated"));
    assert!(
        run.stderr.contains("note: other-product/values.yaml:3:16: legacy key accountSecret kept: beside an accountId alone, which every Harness integration has: nothing in the file (a delegate image, delegateName, managerEndpoint, MANAGER_HOST_AND_PORT, a harness-delegate chart) shows a delegate reads it\n"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("delegate/values.yaml:6"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_values_key_the_charts_templates_read_keeps_its_name_with_the_templates() {
    let chart = copy_fixture("rename-rules/chart");
    let run = rotate_to_new_token(chart.path(), &["--write"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_no_token(&run.stdout, "stdout");
    assert_no_token(&run.stderr, "stderr");
    // The values are rotated; the key and the templates are left as they are.
    assert_same_tree(chart.path(), &expected("chart-rotated"));
    assert!(
        run.stderr.contains("note: values.yaml:5:16: legacy key accountSecret kept: a template of its chart reads it (templates/secret.yaml:7:30), and rekey never rewrites a template expression; rename it in the values and every template together, by hand\n"),
        "{}",
        run.stderr
    );
    // `check` agrees: what rotate keeps is a note, never an error a rotation cannot clear.
    let check = rekey(chart.path(), &["check"]);
    assert_no_token(&check.stdout, "check");
    assert!(
        check.stdout.contains("values.yaml:5:1: note[legacy-key] legacy key accountSecret kept: a template of its chart reads it"),
        "{}",
        check.stdout
    );
    assert!(!check.stdout.contains("error["), "{}", check.stdout);

    // An umbrella chart's sub-chart key, read by the sub-chart vendored under charts/.
    let umbrella = copy_fixture("rename-rules/umbrella");
    let run = rotate_to_new_token(umbrella.path(), &["--write"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_no_token(&run.stderr, "stderr");
    assert_same_tree(umbrella.path(), &expected("umbrella-rotated"));
    assert!(
        run.stderr.contains("note: values.yaml:4:18: legacy key accountSecret kept: a template of its chart reads it (charts/harness-delegate-ng/templates/secret.yaml:6:37)"),
        "{}",
        run.stderr
    );
}

#[test]
fn hcl_and_jinja_in_yaml_files_are_read_as_what_they_are_and_expressions_never_rewritten() {
    let repo = copy_fixture("rename-rules/sniff");
    let scan = rekey(repo.path(), &["scan"]);
    assert_eq!(scan.status, 0, "{}", scan.stderr);
    assert_no_token(&scan.stdout, "scan");
    // HCL in delegate.tf.yaml is read by the Terraform scanner; in the Jinja files the
    // expressions (`{{ … }}`, `{% … %}`, quoted or not) are references, and the literal
    // token written plainly among them is still found.
    for line in [
        "  4:16     delegateToken    reference",
        "  6:16     delegateToken    literal     hex      sha256:ff25d2389ab7917a",
        "  8:17     UPGRADER_TOKEN   reference",
        "  8:14     delegateToken    literal     hex      sha256:ff25d2389ab7917a",
        "  3:17     delegateToken    reference",
        "  5:18     delegateToken    literal     hex      sha256:ff25d2389ab7917a",
    ] {
        assert!(scan.stdout.contains(line), "{line}:\n{}", scan.stdout);
    }
    // Placeholders are filled on request, but an expression is never one.
    let run = rotate_to_new_token(repo.path(), &["--write", "--fill-placeholders"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_no_token(&run.stdout, "stdout");
    assert!(
        run.stdout
            .contains("in 3 files: 3 sites rotated, 0 placeholders filled"),
        "{}",
        run.stdout
    );
    assert_same_tree(repo.path(), &expected("sniff-rotated"));
}
