//! Files rekey cannot parse, and copies it cannot rewrite, end to end: a broken file that
//! holds none of the tokens being rotated is left as is and the rotation goes on; one that
//! holds one stops it, naming the file, the line and the exact `.rekey.toml` lines that
//! exclude it (and following them lets the rotation go on); `check` fails closed on a
//! broken file only where the byte sweep finds a token-shaped string in it; and after a
//! rotation and `rekey revoke`, a second `rotate` or `scan` still lists the copies of the
//! old token left behind, found by the revoked fingerprint.
//!
//! Fixtures under `fixtures/broken-files/`: `expression` (an ECS task definition whose
//! Harness `<+secrets.getValue(…)>` expression is not valid JSON, beside a Kubernetes
//! Secret holding the token), `holds-token` (the same task definition holding the token,
//! with a trailing comma), `left-behind` (a Helm values file, and copies of the token in a
//! README and a notes file), and the trees expected after each rotation under `expected/`.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;

fn fixture(name: &str) -> tempfile::TempDir {
    copy_fixture(&format!("broken-files/{name}"))
}

fn expected(name: &str) -> std::path::PathBuf {
    fixtures().join("broken-files/expected").join(name)
}

/// `rotate --new-token-file … EXTRA…`, its output checked for tokens.
fn rotate(cwd: &Path, extra: &[&str]) -> Run {
    let run = rotate_to_new_token(cwd, extra);
    assert_no_token(&run.stdout, "rotate stdout");
    assert_no_token(&run.stderr, "rotate stderr");
    run
}

fn checked(cwd: &Path, args: &[&str]) -> Run {
    let run = rekey(cwd, args);
    assert_no_token(&run.stdout, "stdout");
    assert_no_token(&run.stderr, "stderr");
    run
}

const LEFT_AS_IS: &str =
    "ecs/delegate_task.json:9:46: could not be parsed (holds no token being rotated): left as is\n";

#[test]
fn a_broken_file_holding_no_token_being_rotated_is_left_as_is_and_the_rotation_goes_on() {
    let repo = fixture("expression");
    let run = rotate(repo.path(), &["--write"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "");
    assert!(run.stdout.contains(LEFT_AS_IS), "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "Rotated sha256:ff25d2389ab7917a -> sha256:23e0bf16a8233d47 in 1 file: 1 site rotated"
        ),
        "{}",
        run.stdout
    );
    // The Secret and the policy rewritten byte for byte; the task definition untouched.
    assert_same_tree(repo.path(), &expected("expression-rotated"));

    // The JSON report lists it with its position and why it could not be parsed.
    let repo = fixture("expression");
    let json = rotate(repo.path(), &["--format", "json"]);
    assert_eq!(json.status, 0, "{}", json.stderr);
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    let unparsed = report["unparsed"].as_array().unwrap();
    assert_eq!(unparsed.len(), 1, "{}", json.stdout);
    assert_eq!(unparsed[0]["path"], "ecs/delegate_task.json");
    assert_eq!(
        (unparsed[0]["line"].as_u64(), unparsed[0]["column"].as_u64()),
        (Some(9), Some(46))
    );
    assert!(unparsed[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("cannot parse this JSON file"));
    assert_eq!(report["status"], "planned");
}

#[test]
fn a_broken_file_holding_the_token_being_rotated_stops_the_rotation_naming_it_and_the_exclude_lines(
) {
    let repo = fixture("holds-token");
    let run = rotate(repo.path(), &["--write"]);
    assert_eq!(run.status, 2, "{}", run.stdout);
    assert_eq!(
        run.stderr,
        format!(
            "\
error: ecs/delegate_task.json:9:80: cannot parse this JSON file: Trailing commas are not allowed; fix the syntax, then run rekey again
error: ecs/delegate_task.json:9:47: holds the token {OLD_FINGERPRINT} being rotated; rekey never rewrites a file it cannot parse
error: 1 file that could not be parsed holds a token being rotated; nothing was rotated.
error: Fix the syntax, or rotate without it (its copy then stays until you replace it by hand): add these lines to .rekey.toml:
error:   [scan]
error:   exclude = [\"ecs/delegate_task.json\"]
"
        )
    );
    assert_eq!(run.stdout, "");
    assert_same_tree(repo.path(), &fixtures().join("broken-files/holds-token"));

    // Naming the token with --only, or rotating every token, is refused the same way.
    for extra in [&["--only", OLD_FINGERPRINT][..], &["--all"]] {
        let run = rotate(repo.path(), extra);
        assert_eq!(run.status, 2, "{extra:?}: {}", run.stdout);
        assert!(
            run.stderr.contains(&format!(
                "ecs/delegate_task.json:9:47: holds the token {OLD_FINGERPRINT}"
            )),
            "{extra:?}: {}",
            run.stderr
        );
    }
}

/// The lines the refusal in `stderr` says to write, as the user would copy them.
fn advised_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|line| line.strip_prefix("error:   "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn adding_exactly_the_printed_lines_to_the_policy_lets_the_rotation_go_on() {
    let repo = fixture("holds-token");
    let refused = rotate(repo.path(), &["--write"]);
    assert_eq!(refused.status, 2);
    let lines = advised_lines(&refused.stderr);
    assert_eq!(lines, ["[scan]", "exclude = [\"ecs/delegate_task.json\"]"]);
    let policy_path = repo.path().join(".rekey.toml");
    let mut policy = fs::read_to_string(&policy_path).unwrap();
    for line in &lines {
        policy.push_str(&format!("{line}\n"));
    }
    fs::write(&policy_path, &policy).unwrap();

    let run = rotate(repo.path(), &["--write"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    // Excluded, the file is neither read nor reported, and keeps its bytes.
    assert!(!run.stdout.contains("delegate_task.json"), "{}", run.stdout);
    let source = fixtures().join("broken-files/holds-token");
    assert_eq!(
        fs::read(repo.path().join("ecs/delegate_task.json")).unwrap(),
        fs::read(source.join("ecs/delegate_task.json")).unwrap()
    );
    assert_eq!(
        fs::read(repo.path().join("k8s/harness-delegate.yaml")).unwrap(),
        fs::read(expected("expression-rotated/k8s/harness-delegate.yaml")).unwrap()
    );
    assert_eq!(
        fs::read_to_string(&policy_path).unwrap(),
        policy.replace(OLD_FINGERPRINT, NEW_FINGERPRINT)
    );
}

#[test]
fn an_exclude_list_the_policy_already_has_is_extended_not_written_twice() {
    let repo = fixture("holds-token");
    let policy_path = repo.path().join(".rekey.toml");
    let original = fs::read_to_string(&policy_path).unwrap();
    fs::write(
        &policy_path,
        format!("{original}\n[scan]\nexclude = [\"vendor/**\"]\n"),
    )
    .unwrap();
    let refused = rotate(repo.path(), &[]);
    assert_eq!(refused.status, 2);
    assert!(
        refused.stderr.contains(
            "replace the exclude at line 9 of .rekey.toml with this line:\nerror:   exclude = [\"vendor/**\", \"ecs/delegate_task.json\"]\n"
        ),
        "{}",
        refused.stderr
    );
    let lines = advised_lines(&refused.stderr);
    let policy = fs::read_to_string(&policy_path).unwrap();
    let mut edited: Vec<&str> = policy.lines().collect();
    edited[8] = &lines[0];
    fs::write(&policy_path, edited.join("\n") + "\n").unwrap();
    let run = rotate(repo.path(), &["--write"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        fs::read_to_string(repo.path().join("k8s/harness-delegate.yaml"))
            .unwrap()
            .contains(NEW_HEX)
    );
}

#[test]
fn check_fails_closed_on_a_broken_file_only_where_it_could_hold_a_token() {
    // No token-shaped string in it: nothing there could be judged, so it is a note.
    let repo = fixture("expression");
    let run = checked(repo.path(), &["check"]);
    assert_eq!(run.status, 0, "{}", run.stdout);
    assert_eq!(
        run.stdout,
        "ecs/delegate_task.json:9:46: note[unparseable] cannot parse this JSON file: Unexpected token; fix the syntax, then run rekey again (a note: the byte sweep finds no token in it, in any form)\n\
rekey check: 0 errors, 0 warnings, 1 note in 3 files checked (1 site in 1 file); policy .rekey.toml\n"
    );

    // The token in force in it: an error, though no rule judges a token in force.
    let repo = fixture("holds-token");
    let run = checked(repo.path(), &["check"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    assert!(
        run.stdout.starts_with("ecs/delegate_task.json:9:80: error[unparseable] cannot parse this JSON file: Trailing commas are not allowed; fix the syntax, then run rekey again\n"),
        "{}",
        run.stdout
    );

    // A token-shaped string no policy list names (a token, or a checksum): still an error.
    let repo = fixture("expression");
    let task = repo.path().join("ecs/delegate_task.json");
    let text = fs::read_to_string(&task).unwrap();
    fs::write(
        &task,
        text.replace(
            "\"ecs-delegate\" }",
            &format!("\"ecs-delegate\" }}, {{ \"name\": \"X\", \"value\": \"{OTHER_HEX}\" }}"),
        ),
    )
    .unwrap();
    let run = checked(repo.path(), &["check", "--format", "json"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let finding = &report["findings"][0];
    assert_eq!(
        (finding["rule"].as_str(), finding["level"].as_str()),
        (Some("unparseable"), Some("error"))
    );
}

#[test]
fn a_second_rotate_and_scan_list_what_the_first_left_behind_by_its_revoked_fingerprint() {
    let repo = fixture("left-behind");
    let first = rotate(repo.path(), &["--write"]);
    assert_eq!(first.status, 0, "{}", first.stderr);
    assert_same_tree(repo.path(), &expected("left-behind-rotated"));
    let copies =
        format!("  README.md:7:23 ({OLD_FINGERPRINT})\n  notes.txt:1:42 ({OLD_FINGERPRINT})\n");
    assert!(first.stdout.contains(&format!("Left behind: 2 copies of the old token outside any key rekey rewrites (a comment, prose, a file it does not parse); remove them before revoking it:\n{copies}")), "{}", first.stdout);

    // The token is revoked in Harness, then in the policy.
    let revoke = checked(repo.path(), &["revoke", OLD_FINGERPRINT]);
    assert_eq!(revoke.status, 0, "{}", revoke.stderr);

    let revoked_copies = format!("Left behind: 2 copies of a revoked token outside any key rekey rewrites (a comment, prose, a file it does not parse); remove them:\n{copies}");
    let second = rotate(repo.path(), &[]);
    assert_eq!(second.status, 0, "{}", second.stderr);
    assert_eq!(
        second.stdout,
        format!("Already rotated: the sites hold {NEW_FINGERPRINT}; nothing left to rotate.\n{revoked_copies}Policy: .rekey.toml\n")
    );
    let json = rotate(repo.path(), &["--format", "json"]);
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    let left: Vec<(&str, u64, bool)> = report["left_behind"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["path"].as_str().unwrap(),
                s["line"].as_u64().unwrap(),
                s["revoked"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(left, [("README.md", 7, true), ("notes.txt", 1, true)]);

    let scan = checked(repo.path(), &["scan"]);
    assert_eq!(scan.status, 0, "{}", scan.stderr);
    assert!(
        scan.stdout.ends_with(&format!(
            "0 legacy keys; policy .rekey.toml\n{revoked_copies}"
        )),
        "{}",
        scan.stdout
    );
    let scan = checked(repo.path(), &["scan", "--format", "json"]);
    let report: Value = serde_json::from_str(&scan.stdout).unwrap();
    let left: Vec<(&str, u64, u64, &str)> = report["left_behind"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["path"].as_str().unwrap(),
                s["line"].as_u64().unwrap(),
                s["column"].as_u64().unwrap(),
                s["fingerprint"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        left,
        [
            ("README.md", 7, 23, OLD_FINGERPRINT),
            ("notes.txt", 1, 42, OLD_FINGERPRINT)
        ]
    );
    // Nothing was rewritten by the later runs.
    assert!(fs::read_to_string(repo.path().join("README.md"))
        .unwrap()
        .contains(OLD_HEX));
}
