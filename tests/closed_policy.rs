//! The policy a gate runs under cannot be loosened from the side (issue 19): a nested
//! `.rekey.toml` only adds to the repository's own, an included file cannot lower a level
//! the including file relies on, an `extends` diamond is read once per file, and a policy
//! or ignore file that is a FIFO or a symlink (to `/dev/zero`, to a FIFO) is refused or
//! passed over in seconds, never read without bound. Every run is given 20 seconds: a
//! regression fails the test instead of hanging the suite.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `rekey args…` in `cwd`, failing the test after 20 seconds; nothing it prints
/// may hold a token.
fn rekey_within(cwd: &Path, args: &[&str]) -> Run {
    let run = rekey_bounded(cwd, args, &[], None, Duration::from_secs(20));
    assert_no_token(&run.stdout, "stdout");
    assert_no_token(&run.stderr, "stderr");
    run
}

/// A repository whose top-level policy revokes the old token, with `sub/app.env` holding
/// it and `sub/.rekey.toml` holding `nested`; everything staged.
fn repository_with_nested(nested: &str) -> (tempfile::TempDir, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("sub")).unwrap();
    fs::write(
        root.join(".rekey.toml"),
        format!("[tokens]\nrevoked = [\"{OLD_FINGERPRINT}\"]\n"),
    )
    .unwrap();
    fs::write(
        root.join("sub/app.env"),
        format!("DELEGATE_TOKEN={OLD_HEX}\n"),
    )
    .unwrap();
    fs::write(root.join("sub/.rekey.toml"), nested).unwrap();
    git(root, home.path(), &["init", "-q", "-b", "main"]);
    git(root, home.path(), &["add", "-A"]);
    (dir, home)
}

const REVOKED_IN_SUB: &str = "error[revoked-token] DELEGATE_TOKEN holds a token revoked in Harness: rotate it with `rekey rotate --only sha256:ff25d2389ab7917a --new-token-env NEW_TOKEN` (sha256:ff25d2389ab7917a)";

#[test]
fn an_empty_or_emptied_nested_policy_never_replaces_the_root_policy() {
    for nested in [
        "",
        "[tokens]\nrevoked = []\n",
        "[tokens]\nrevoked = []\ncurrent = []\n",
    ] {
        let (dir, _home) = repository_with_nested(nested);
        let root = dir.path();
        let sub = root.join("sub");
        let from_sub = rekey_within(&sub, &["check"]);
        assert_eq!(from_sub.status, 1, "{nested:?}: {}", from_sub.stderr);
        assert_eq!(
            from_sub.stdout,
            format!("app.env:1:16: {REVOKED_IN_SUB}\nrekey check: 1 error, 0 warnings, 0 notes in 1 file checked (1 site in 1 file); policy ../.rekey.toml (nested .rekey.toml adds to it)\n"),
            "{nested:?}"
        );
        let named = rekey_within(root, &["check", "sub/"]);
        assert_eq!(named.status, 1, "{nested:?}: {}", named.stderr);
        assert!(named.stdout.contains(REVOKED_IN_SUB), "{}", named.stdout);
        let staged = rekey_within(&sub, &["check", "--staged"]);
        assert_eq!(staged.status, 1, "{nested:?}: {}", staged.stderr);
        assert!(staged.stdout.contains(REVOKED_IN_SUB), "{}", staged.stdout);
        assert!(
            staged
                .stdout
                .contains("policy ../.rekey.toml (nested .rekey.toml adds to it)"),
            "{}",
            staged.stdout
        );
    }
}

#[test]
fn a_nested_policy_that_lowers_a_rule_is_refused_naming_both_files() {
    for (level, default) in [("off", "error"), ("warning", "error")] {
        let (dir, _home) =
            repository_with_nested(&format!("[rules]\nrevoked-token = \"{level}\"\n"));
        let sub = dir.path().join("sub");
        for args in [&["check"][..], &["check", "--staged"], &["scan"]] {
            let run = rekey_within(&sub, args);
            assert_eq!(run.status, 2, "{args:?}: {}", run.stdout);
            assert_eq!(
                run.stderr,
                format!("error: .rekey.toml:2:17: rule revoked-token = \"{level}\" would lower the level the repository's policy ../.rekey.toml gives it ({default}, the default): a nested .rekey.toml may only add revoked tokens and raise levels; change the level in ../.rekey.toml, or remove this line\n"),
                "{args:?}"
            );
        }
    }
}

#[test]
fn a_nested_policy_adds_revoked_tokens_and_raises_levels() {
    let (dir, _home) = repository_with_nested(&format!(
        "[tokens]\nrevoked = [\"{OTHER_FINGERPRINT}\"]\n[rules]\nmalformed-token = \"error\"\n"
    ));
    let sub = dir.path().join("sub");
    fs::write(
        sub.join("other.env"),
        format!("DELEGATE_TOKEN={OTHER_HEX}\nACCOUNT_SECRET=not-a-token\n"),
    )
    .unwrap();
    let run = rekey_within(&sub, &["check"]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stdout
            .contains(&format!("app.env:1:16: {REVOKED_IN_SUB}")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("other.env:1:16: error[revoked-token] DELEGATE_TOKEN holds a token revoked in Harness (listed in .rekey.toml)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("other.env:2:16: error[malformed-token]"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_nested_policy_cannot_put_a_token_in_force_or_exclude_files() {
    let (dir, _home) =
        repository_with_nested(&format!("[tokens]\ncurrent = [\"{OLD_FINGERPRINT}\"]\n"));
    let sub = dir.path().join("sub");
    let run = rekey_within(&sub, &["check"]);
    assert_eq!(run.status, 2, "{}", run.stdout);
    assert_eq!(
        run.stderr,
        format!("error: .rekey.toml:2:11: [tokens] current lists {OLD_FINGERPRINT}, which the repository's policy ../.rekey.toml does not: a nested .rekey.toml cannot put a token in force; list it under current in ../.rekey.toml, or remove it here\n")
    );
    fs::write(sub.join(".rekey.toml"), "[scan]\nexclude = [\"*.env\"]\n").unwrap();
    let run = rekey_within(&sub, &["check"]);
    assert_eq!(run.status, 2, "{}", run.stdout);
    assert_eq!(
        run.stderr,
        "error: .rekey.toml:2:11: [scan] exclude in a nested .rekey.toml would hide files from the repository's policy ../.rekey.toml: move the patterns to ../.rekey.toml (relative to its directory), or remove them here\n"
    );
}

/// `repo/.rekey.toml` extending `policy/org.toml`, whose `[rules]` say `org_rules`.
fn organisation(own_rules: &str, org_rules: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("repo/.git")).unwrap();
    fs::create_dir_all(root.join("policy")).unwrap();
    fs::write(
        root.join("repo/.rekey.toml"),
        format!("extends = [\"../policy/org.toml\"]\n[tokens]\nrevoked = [\"{OLD_FINGERPRINT}\"]\n[rules]\n{own_rules}"),
    )
    .unwrap();
    fs::write(
        root.join("policy/org.toml"),
        format!("# shared\n[rules]\n{org_rules}"),
    )
    .unwrap();
    fs::write(
        root.join("repo/values.yaml"),
        format!("delegateToken: {OLD_HEX}\naccountSecret: x\n"),
    )
    .unwrap();
    dir
}

#[test]
fn an_included_file_that_lowers_a_level_the_includer_relies_on_is_refused() {
    for org in ["legacy-key = \"off\"\n", "legacy-key = \"warning\"\n"] {
        let dir = organisation("", org);
        let run = rekey_within(&dir.path().join("repo"), &["check"]);
        assert_eq!(run.status, 2, "{}", run.stdout);
        let level = org.split('"').nth(1).unwrap();
        assert_eq!(
            run.stderr,
            format!("error: ../policy/org.toml:3:14: rule legacy-key = \"{level}\" would lower the level .rekey.toml gives it (error, the default) through extends: to accept it, write legacy-key = \"{level}\" under [rules] in .rekey.toml; otherwise remove it from ../policy/org.toml\n")
        );
    }
}

#[test]
fn an_includer_that_states_a_level_keeps_it_and_an_included_file_may_raise_one() {
    // The includer says error: the organisation's "off" does not turn the rule off.
    let dir = organisation("revoked-token = \"error\"\n", "revoked-token = \"off\"\n");
    let run = rekey_within(&dir.path().join("repo"), &["check"]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stdout.contains("error[revoked-token]"),
        "{}",
        run.stdout
    );
    // Accepting the lower level is written in the including file itself.
    let dir = organisation("legacy-key = \"off\"\n", "legacy-key = \"off\"\n");
    let run = rekey_within(&dir.path().join("repo"), &["check"]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(!run.stdout.contains("legacy-key"), "{}", run.stdout);
    // An included file may make a rule stricter.
    let dir = organisation("", "malformed-token = \"error\"\n");
    let run = rekey_within(&dir.path().join("repo"), &["check"]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stdout.contains("error[malformed-token]"),
        "{}",
        run.stdout
    );
}

/// A diamond `levels` deep: `.rekey.toml` extends `a0` and `b0`, each of `aN`/`bN` extends
/// both `aN+1` and `bN+1`, and the last level's files extend `last`.
fn diamond(root: &Path, levels: usize, last: &str) {
    fs::create_dir_all(root.join(".git")).unwrap();
    fs::create_dir_all(root.join("p")).unwrap();
    fs::write(
        root.join(".rekey.toml"),
        "extends = [\"p/a0.toml\", \"p/b0.toml\"]\n",
    )
    .unwrap();
    for level in 0..levels {
        let next = if level + 1 == levels {
            format!("extends = [\"{last}\"]\n")
        } else {
            format!(
                "extends = [\"a{}.toml\", \"b{}.toml\"]\n",
                level + 1,
                level + 1
            )
        };
        for side in ["a", "b"] {
            fs::write(root.join(format!("p/{side}{level}.toml")), &next).unwrap();
        }
    }
    fs::write(
        root.join("values.yaml"),
        format!("delegateToken: {OLD_HEX}\n"),
    )
    .unwrap();
}

#[test]
fn an_extends_diamond_30_levels_deep_reads_each_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    diamond(root, 30, "end.toml");
    fs::write(
        root.join("p/end.toml"),
        format!("[tokens]\nrevoked = [\"{OLD_FINGERPRINT}\"]\n"),
    )
    .unwrap();
    let started = Instant::now();
    let run = rekey_within(root, &["check"]);
    let took = started.elapsed();
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("revoked in Harness (listed in p/end.toml)"),
        "{}",
        run.stdout
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[test]
fn an_extends_diamond_that_closes_a_cycle_is_still_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    diamond(root, 30, "a0.toml");
    let run = rekey_within(root, &["check"]);
    assert_eq!(run.status, 2, "{}", run.stdout);
    assert_eq!(
        run.stderr,
        "error: p/a29.toml:1:11: extends \"a0.toml\" includes a policy file that is already being read (p/a0.toml): remove the cycle\n"
    );
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// Makes `path` a FIFO, a symlink to `/dev/zero`, or a symlink to a FIFO beside it.
fn make_hostile(path: &Path, kind: &str) {
    match kind {
        "fifo" => mkfifo(path),
        "zero" => std::os::unix::fs::symlink("/dev/zero", path).unwrap(),
        _ => {
            let fifo = path.with_extension("fifo");
            mkfifo(&fifo);
            std::os::unix::fs::symlink(&fifo, path).unwrap();
        }
    }
}

const KINDS: [(&str, &str); 3] = [
    ("fifo", "a FIFO"),
    ("zero", "a symlink"),
    ("fifolink", "a symlink"),
];

/// Every command that discovers the policy, run in `cwd`.
fn every_command(cwd: &Path) -> Vec<(String, Run)> {
    let token = new_token_file();
    let token = token.to_str().unwrap();
    [
        vec!["scan"],
        vec!["check"],
        vec!["check", "--staged"],
        vec!["inventory"],
        vec!["rotate", "--new-token-file", token],
        vec!["revoke", NEW_FINGERPRINT],
    ]
    .into_iter()
    .map(|args| (args.join(" "), rekey_within(cwd, &args)))
    .collect()
}

#[test]
fn a_policy_file_that_is_a_fifo_or_a_symlink_is_refused_by_every_command() {
    for (kind, what) in KINDS {
        for policy in [".rekey.toml", "sub/.rekey.toml"] {
            let (dir, _home) = repository_with_nested("");
            let root = dir.path();
            fs::remove_file(root.join(policy)).unwrap();
            make_hostile(&root.join(policy), kind);
            for (command, run) in every_command(&root.join("sub")) {
                assert_eq!(run.status, 2, "{kind} {policy} {command}: {}", run.stdout);
                let shown = if policy == ".rekey.toml" {
                    "../.rekey.toml"
                } else {
                    ".rekey.toml"
                };
                assert_eq!(
                    run.stderr,
                    format!("error: {shown}: is {what}, not a regular file: a policy file must be a regular file; replace it with one (to share a policy, name the shared file in `extends`)\n"),
                    "{kind} {policy} {command}"
                );
            }
        }
    }
}

#[test]
fn an_extended_policy_file_that_is_a_fifo_or_a_symlink_is_refused() {
    for (kind, what) in KINDS {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::write(root.join(".rekey.toml"), "extends = [\"org.toml\"]\n").unwrap();
        make_hostile(&root.join("org.toml"), kind);
        let run = rekey_within(root, &["check"]);
        assert_eq!(run.status, 2, "{kind}: {}", run.stdout);
        assert_eq!(
            run.stderr,
            format!("error: org.toml: is {what}, not a regular file: a policy file must be a regular file; replace it with one (to share a policy, name the shared file in `extends`)\n"),
            "{kind}"
        );
    }
}

#[test]
fn ignore_files_that_are_fifos_or_symlinks_are_not_followed() {
    for (kind, _) in KINDS {
        for ignore in [".gitignore", "sub/.gitignore", ".git/info/exclude"] {
            let (dir, _home) = repository_with_nested("");
            let root = dir.path();
            fs::remove_file(root.join("sub/.rekey.toml")).unwrap();
            fs::create_dir_all(root.join(".git/info")).unwrap();
            let _ = fs::remove_file(root.join(ignore));
            make_hostile(&root.join(ignore), kind);
            for (command, run) in every_command(root) {
                // Not followed: nothing is ignored, so the revoked token is still found.
                let expected = match command.as_str() {
                    "check" | "check --staged" => 1,
                    _ => 0,
                };
                assert_eq!(
                    run.status, expected,
                    "{kind} {ignore} {command}: {}{}",
                    run.stdout, run.stderr
                );
            }
        }
    }
}

#[test]
fn a_misspelt_key_in_the_policy_is_an_error_not_a_rule_turned_off() {
    for (policy, at, key) in [
        (
            format!("[tokens]\nrevokd = [\"{OLD_FINGERPRINT}\"]\n"),
            ".rekey.toml:2:1",
            "unknown key revokd in [tokens]; it takes current, revoked",
        ),
        (
            format!("[token]\nrevoked = [\"{OLD_FINGERPRINT}\"]\n"),
            ".rekey.toml:1:2",
            "unknown key token; a policy file has tokens, rules, scan, keys, extends, harness",
        ),
        (
            "[scan]\nexcludes = [\"vendor/**\"]\n".to_owned(),
            ".rekey.toml:2:1",
            "unknown key excludes in [scan]; it takes exclude",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".rekey.toml"), &policy).unwrap();
        fs::write(
            dir.path().join("prod.env"),
            format!("DELEGATE_TOKEN={OLD_HEX}\n"),
        )
        .unwrap();
        let run = rekey_within(dir.path(), &["check"]);
        assert_eq!(run.status, 2, "{policy}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains(&format!("{at}: {key}")),
            "{}",
            run.stderr
        );
        assert_no_token(&run.stdout, "stdout");
        assert_no_token(&run.stderr, "stderr");
    }
}

#[test]
fn an_api_key_in_the_policy_is_refused_by_every_command_so_no_hook_lets_it_be_committed() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let key = "pat.FakeAcct.Ab+c/DEF=xyz.s3cr3tKEYmaterial987";
    fs::write(
        dir.path().join(".rekey.toml"),
        format!("[tokens]\ncurrent = []\n[harness]\naccount = \"FakeAcct\"\napi_key = \"{key}\"\n"),
    )
    .unwrap();
    fs::write(
        dir.path().join("prod.env"),
        format!("DELEGATE_TOKEN={OLD_HEX}\n"),
    )
    .unwrap();
    commit_all(dir.path(), home.path());
    let token = new_token_file();
    for args in [
        vec!["check"],
        vec!["check", "--staged"],
        vec!["scan"],
        vec!["inventory"],
        vec!["rotate", "--new-token-file", token.to_str().unwrap()],
    ] {
        let run = rekey_within(dir.path(), &args);
        assert_eq!(run.status, 2, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains(
                ".rekey.toml:5:11: [harness] api_key: an API key never stands in .rekey.toml"
            ),
            "{args:?}: {}",
            run.stderr
        );
        for output in [&run.stdout, &run.stderr] {
            assert!(!output.contains("s3cr3tKEY"), "{args:?}: {output}");
        }
    }
}
