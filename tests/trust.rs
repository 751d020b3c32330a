//! The promises a credential tool and a CI gate make, tried as an adversary would: no token
//! in any output in any form (nor any 12-character piece of one), a gate that fails closed
//! on files it could not judge, hostile files that cannot hang rekey, and a policy that
//! refuses to rotate back to a revoked token.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::*;
use std::fs;
use std::path::Path;
use std::process::Command;

/// A policy in `root` that lists the old token as revoked.
fn revoke_old(root: &Path) {
    fs::write(
        root.join(".rekey.toml"),
        format!("[tokens]\nrevoked = [\"{OLD_FINGERPRINT}\"]\n"),
    )
    .unwrap();
}

/// The whole `check` text report of one revoked token found at `at` (`path:line:column`)
/// under `key`, in a run that checked `files` files under `policy`.
fn one_revoked(at: &str, key: &str, files: usize, policy: &str) -> String {
    let files = if files == 1 {
        "1 file".to_owned()
    } else {
        format!("{files} files")
    };
    format!(
        "{at}: error[revoked-token] {key} holds a token revoked in Harness: rotate it with `rekey rotate --only {OLD_FINGERPRINT} --new-token-env NEW_TOKEN` ({OLD_FINGERPRINT})\n\
rekey check: 1 error, 0 warnings, 0 notes in {files} checked (1 site in 1 file); policy {policy}\n"
    )
}

/// Every form of every token these tests use, upper-case hex included.
fn token_forms() -> Vec<String> {
    let mut forms = Vec::new();
    for hex in [OLD_HEX, OTHER_HEX, NEW_HEX] {
        for hex in [hex.to_owned(), hex.to_ascii_uppercase()] {
            let once = STANDARD.encode(&hex);
            forms.push(STANDARD.encode(&once));
            forms.push(once);
            forms.push(hex);
        }
    }
    forms
}

/// Fails when `text` holds any 12-character piece of any token form.
fn assert_no_piece(text: &str, context: &str) {
    for form in token_forms() {
        for start in 0..=form.len() - 12 {
            let piece = &form[start..start + 12];
            assert!(
                !text.contains(piece),
                "{context}: a piece of a token ({piece}) was printed:\n{text}"
            );
        }
    }
}

/// A repo holding tokens where the old mask missed them: glued to `=` in an ECS command,
/// in a comment beside an edited value, upper-case, in a Markdown file.
fn hostile_repo(root: &Path) {
    fs::create_dir_all(root.join("ecs")).unwrap();
    fs::write(
        root.join("ecs/task.json"),
        format!(
            "{{\"containerDefinitions\": [{{\"name\": \"d\", \"command\": [\"--token={OLD_HEX}\"], \"environment\": [{{\"name\": \"DELEGATE_TOKEN\", \"value\": \"{OLD_HEX}\"}}]}}]}}\n"
        ),
    )
    .unwrap();
    fs::write(
        root.join("values.yaml"),
        format!(
            "# was: export DELEGATE_TOKEN={}\ndelegateToken: {}\n# build: ab{OLD_HEX}ff\n",
            STANDARD.encode(OTHER_HEX),
            OLD_HEX.to_ascii_uppercase()
        ),
    )
    .unwrap();
    fs::write(
        root.join("broken.tf"),
        format!("delegate_token = \"{OLD_HEX}\"\nresource {{ oops\n"),
    )
    .unwrap();
    fs::write(root.join("NOTES.md"), format!("old token: {OLD_HEX}\n")).unwrap();
}

#[test]
fn no_output_holds_any_piece_of_a_token() {
    let token = new_token_file();
    let token = token.to_str().unwrap();
    let branch = format!("x/{NEW_HEX}");
    let message = format!("from={OLD_HEX}");
    let only = format!("--only={}", STANDARD.encode(OLD_HEX));
    let runs: Vec<Vec<&str>> = vec![
        vec!["scan"],
        vec!["scan", "--format", "json"],
        vec!["check"],
        vec!["check", "--format", "json"],
        vec!["check", "--format", "sarif"],
        vec!["check", "--format", "github"],
        vec!["rotate", "--new-token-file", token, "--all"],
        vec![
            "rotate",
            "--new-token-file",
            token,
            "--all",
            "--format",
            "json",
        ],
        vec!["rotate", "--new-token-file", token],
        // Tokens given where arguments go: refused without an echo.
        vec!["scan", "--format", OLD_HEX],
        vec![OLD_HEX],
        vec!["revoke", OLD_HEX],
        vec!["rotate", "--new-token-file", token, "--only", OLD_HEX],
        vec![
            "rotate",
            "--new-token-file",
            token,
            "--commit",
            "--branch",
            &branch,
        ],
        vec![
            "rotate",
            "--new-token-file",
            token,
            "--commit",
            "--message",
            &message,
        ],
        vec!["rotate", "--new-token-file", token, &only],
        vec!["init"],
        vec!["rotate", "--new-token-file", token, "--all", "--write"],
        vec!["check"],
    ];
    let repo = tempfile::tempdir().unwrap();
    hostile_repo(repo.path());
    // The broken file stops a rotation; the runs after it are on the fixed repo.
    for (index, args) in runs.iter().enumerate() {
        if index == 16 {
            fs::remove_file(repo.path().join("broken.tf")).unwrap();
        }
        let run = rekey(repo.path(), args);
        let context = format!("rekey {}", args.join(" ").replace(OLD_HEX, "<old>"));
        assert_no_piece(&run.stdout, &context);
        assert_no_piece(&run.stderr, &context);
        assert!(
            !run.stdout.is_empty() || !run.stderr.is_empty(),
            "{context} printed nothing"
        );
    }
    let policy = fs::read_to_string(repo.path().join(".rekey.toml")).unwrap();
    assert_no_piece(&policy, ".rekey.toml");
}

#[test]
fn commit_messages_and_branch_names_hold_no_token() {
    let home = tempfile::tempdir().unwrap();
    let repo = tempfile::tempdir().unwrap();
    hostile_repo(repo.path());
    fs::remove_file(repo.path().join("broken.tf")).unwrap();
    git(repo.path(), home.path(), &["init", "-q", "-b", "main"]);
    git(repo.path(), home.path(), &["add", "-A"]);
    git(repo.path(), home.path(), &["commit", "-qm", "base"]);
    let token = new_token_file();
    let run = rekey_with(
        repo.path(),
        &[
            "rotate",
            "--new-token-file",
            token.to_str().unwrap(),
            "--all",
            "--commit",
            "--message",
            "Rotate the delegate token",
        ],
        &IDENTITY,
        None,
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_no_piece(&run.stdout, "--commit");
    let log = git(
        repo.path(),
        home.path(),
        &["log", "--all", "--format=%B%n%D"],
    );
    let branches = git(repo.path(), home.path(), &["branch", "--list"]);
    assert!(log.contains("Rekey-Rotation:"), "{log}");
    assert_no_piece(&log, "commit messages");
    assert_no_piece(&branches, "branch names");
}

#[test]
fn check_fails_on_files_it_could_not_judge() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    revoke_old(root);
    // A revoked token at the end of a file over the parse limit: not judged as a site,
    // still swept.
    let padding = "# padding\n".repeat(900_000);
    fs::write(
        root.join("huge.yaml"),
        format!("{padding}delegateToken: {OLD_HEX}\n"),
    )
    .unwrap();
    // The same in UTF-16, and beside binary data: not judged as sites, their tokens still
    // swept (the UTF-16 one placed in its decoded text).
    let utf16: Vec<u8> = format!("DELEGATE_TOKEN={OLD_HEX}\n")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    fs::write(
        root.join("delegate.env"),
        [&[0xFF, 0xFE][..], &utf16].concat(),
    )
    .unwrap();
    fs::write(
        root.join("blob.bin"),
        format!("\0\0delegateToken={OLD_HEX}\0"),
    )
    .unwrap();
    // A leftover of a killed rotation.
    fs::write(
        root.join(".rekey-tmp.AbCd1234"),
        format!("delegateToken: {OLD_HEX}\n"),
    )
    .unwrap();
    let run = rekey(root, &["check"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    assert_eq!(
        run.stdout,
        format!(".rekey-tmp.AbCd1234:1:1: error[unchecked-file] a temp file left by an interrupted rotation (rotate --write): it may hold a copy of a rotated file. Rerun the rotation (it removes it) or delete it\n\
blob.bin:1:1: error[unchecked-file] holds a delegate-token key beside binary data (NUL bytes): rekey cannot judge it; exclude it in .rekey.toml [scan] exclude if it is a build artefact\n\
blob.bin:1:17: error[revoked-token] a token revoked in Harness, outside any key rekey rewrites (a comment, prose, a file it does not parse): remove it ({OLD_FINGERPRINT})\n\
delegate.env:1:1: error[unchecked-file] holds a delegate-token key in UTF-16, which rekey does not read: re-save it as UTF-8\n\
delegate.env:1:16: error[revoked-token] a token revoked in Harness, outside any key rekey rewrites (a comment, prose, a file it does not parse): remove it ({OLD_FINGERPRINT})\n\
huge.yaml:1:1: error[unchecked-file] holds a delegate-token key but is 8 MiB, over the 8 MiB rekey parses: split it, or exclude it in .rekey.toml [scan] exclude\n\
huge.yaml:900001:16: error[revoked-token] a token revoked in Harness, outside any key rekey rewrites (a comment, prose, a file it does not parse): remove it ({OLD_FINGERPRINT})\n\
rekey check: 7 errors, 0 warnings, 0 notes in 4 files checked (0 sites in 0 files); policy .rekey.toml\n")
    );
    // The level is configurable like any other rule's; the revoked tokens swept from the
    // large, UTF-16 and binary files are still errors.
    fs::write(
        root.join(".rekey.toml"),
        format!(
            "[tokens]\nrevoked = [\"{OLD_FINGERPRINT}\"]\n[rules]\nunchecked-file = \"warning\"\n"
        ),
    )
    .unwrap();
    let relaxed = rekey(root, &["check"]);
    assert_eq!(relaxed.status, 1);
    assert!(
        relaxed.stdout.ends_with(
            "rekey check: 3 errors, 4 warnings, 0 notes in 4 files checked (0 sites in 0 files); policy .rekey.toml\n"
        ),
        "{}",
        relaxed.stdout
    );
}

#[test]
fn check_finds_the_policy_from_a_subdirectory_and_says_when_there_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join(".git")).unwrap();
    fs::create_dir_all(root.join("k8s/prod")).unwrap();
    fs::write(
        root.join("k8s/prod/values.yaml"),
        format!("delegateToken: {OLD_HEX}\n"),
    )
    .unwrap();
    let none = rekey(&root.join("k8s/prod"), &["check"]);
    assert_eq!(none.status, 0);
    assert_eq!(
        none.stdout,
        "rekey check: 0 errors, 0 warnings, 0 notes in 1 file checked (1 site in 1 file)\n\
rekey check: warning: no .rekey.toml in this directory or above it: the revoked-token and stale-token rules are off. Run `rekey init` to list the tokens in force, or pass --config FILE\n"
    );
    revoke_old(root);
    let found = rekey(&root.join("k8s/prod"), &["check"]);
    assert_eq!(found.status, 1, "{}", found.stdout);
    assert_eq!(
        found.stdout,
        one_revoked("values.yaml:1:16", "delegateToken", 1, "../../.rekey.toml")
    );
}

#[test]
fn fifos_and_devices_are_refused_never_opened() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(
        root.join("values.yaml"),
        format!("delegateToken: {OLD_HEX}\n"),
    )
    .unwrap();
    let mkfifo = |name: &str| {
        assert!(Command::new("mkfifo")
            .arg(root.join(name))
            .status()
            .unwrap()
            .success());
    };
    mkfifo(".rekey.toml");
    mkfifo("pipe.yaml");
    let run = rekey(root, &["check"]);
    assert_eq!(run.status, 2);
    assert_eq!(
        run.stderr,
        "error: .rekey.toml: is a FIFO, not a regular file: a policy file must be a regular file; replace it with one (to share a policy, name the shared file in `extends`)\n"
    );
    fs::remove_file(root.join(".rekey.toml")).unwrap();
    let named = rekey(root, &["scan", "pipe.yaml"]);
    assert_eq!(named.status, 2);
    assert_eq!(
        named.stderr,
        "error: pipe.yaml: is a FIFO; rekey reads regular files and directories only\n"
    );
    // In a walk it is passed over; the regular file is still scanned.
    let walked = rekey(root, &["scan"]);
    assert_eq!(walked.status, 0, "{}", walked.stderr);
    assert!(walked.stdout.contains("values.yaml"));
    // A policy file given as a device is refused, and the device is left alone.
    let revoke = rekey(root, &["revoke", OLD_FINGERPRINT, "--config", "/dev/null"]);
    assert_eq!(revoke.status, 2);
    assert!(
        revoke.stderr.contains("is a device, not a regular file"),
        "{}",
        revoke.stderr
    );
}

#[test]
fn rotating_to_a_revoked_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("values.yaml"),
        format!("delegateToken: {OLD_HEX}\n"),
    )
    .unwrap();
    fs::write(
        dir.path().join(".rekey.toml"),
        format!("[tokens]\nrevoked = [\"{NEW_FINGERPRINT}\"]\n"),
    )
    .unwrap();
    let run = rotate_to_new_token(dir.path(), &["--write"]);
    assert_eq!(run.status, 2);
    assert_eq!(
        run.stderr,
        format!("error: .rekey.toml: the new token {NEW_FINGERPRINT} is listed under [tokens] revoked: rotating to it would put a revoked token back. Generate a new token in Harness\n")
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("values.yaml")).unwrap(),
        format!("delegateToken: {OLD_HEX}\n")
    );
}

#[test]
fn a_half_migrated_secret_and_its_reference_are_completed() {
    // An earlier run renamed the Secret's key, then stopped before the Deployment.
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("secret.yaml"),
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: farm\nstringData:\n  DELEGATE_TOKEN: {NEW_HEX}\n"),
    )
    .unwrap();
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: delegate\n        image: harness/delegate:25.10.87100\n        env:\n        - name: ACCOUNT_SECRET\n          valueFrom:\n            secretKeyRef:\n              name: farm\n              key: ACCOUNT_SECRET\n";
    fs::write(dir.path().join("deployment.yaml"), deployment).unwrap();
    let run = rotate_to_new_token(dir.path(), &["--write"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(
        fs::read_to_string(dir.path().join("deployment.yaml")).unwrap(),
        deployment.replace("ACCOUNT_SECRET", "DELEGATE_TOKEN")
    );
}

#[test]
fn a_policy_holding_a_raw_token_is_named_by_fingerprint_only() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(".rekey.toml"),
        format!("[tokens]\ncurrent = [\"{OLD_HEX}\"]\n"),
    )
    .unwrap();
    let run = rekey(dir.path(), &["check"]);
    assert_eq!(run.status, 2);
    assert_eq!(
        run.stderr,
        format!("error: .rekey.toml:2:11: [tokens] current holds a delegate token itself, not its fingerprint: write {OLD_FINGERPRINT} instead, and treat the token as exposed (it is in this file's history)\n")
    );
}

#[test]
fn hostile_ignore_files_cannot_hang_or_flood_the_walk() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("a")).unwrap();
    fs::create_dir_all(root.join("b")).unwrap();
    fs::write(
        root.join("a/values.yaml"),
        format!("delegateToken: {OLD_HEX}\n"),
    )
    .unwrap();
    fs::write(
        root.join("b/values.yaml"),
        format!("delegateToken: {OLD_HEX}\n"),
    )
    .unwrap();
    assert!(Command::new("mkfifo")
        .arg(root.join("a/.gitignore"))
        .status()
        .unwrap()
        .success());
    std::os::unix::fs::symlink("/dev/zero", root.join("b/.gitignore")).unwrap();
    // The test harness would hang with rekey; a finished run is the proof.
    let run = rekey(root, &["scan", "--format", "json"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let paths: Vec<&str> = report["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|site| site["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["a/values.yaml", "b/values.yaml"]);
}

#[test]
fn a_tracked_file_is_judged_even_when_gitignore_lists_it() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    revoke_old(root);
    fs::write(
        root.join("values.yaml"),
        format!("delegateToken: {OLD_HEX}\n"),
    )
    .unwrap();
    fs::write(
        root.join("untracked.yaml"),
        format!("delegateToken: {OLD_HEX}\n"),
    )
    .unwrap();
    git(root, home.path(), &["init", "-q", "-b", "main"]);
    git(root, home.path(), &["add", ".rekey.toml", "values.yaml"]);
    git(root, home.path(), &["commit", "-qm", "base"]);
    // Listed in .gitignore after it was committed: still in every clone and every push.
    fs::write(root.join(".gitignore"), "*.yaml\n").unwrap();
    // ripgrep's .ignore is no reason either.
    fs::write(root.join(".ignore"), "values.yaml\n").unwrap();
    let run = rekey(root, &["check"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    // The untracked, ignored one is not part of the repository: values.yaml, .gitignore
    // and .ignore are the files checked, and the ignored one is counted.
    assert_eq!(
        run.stdout,
        one_revoked("values.yaml:1:16", "delegateToken", 3, ".rekey.toml")
            + "rekey check: 1 file ignored by .gitignore; --no-ignore to include them\n"
    );
}

#[test]
fn anchored_ignore_rules_apply_however_the_root_is_spelt() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    revoke_old(root);
    let token = format!("DELEGATE_TOKEN={OLD_HEX}\n");
    for file in [
        "vendor/a.env",
        "k8s/x.env",
        "k8s/b.env",
        "k8s/keep.env",
        "k8s/sub/b.env",
    ] {
        fs::create_dir_all(root.join(file).parent().unwrap()).unwrap();
        fs::write(root.join(file), &token).unwrap();
    }
    git(root, home.path(), &["init", "-q", "-b", "main"]);
    git(root, home.path(), &["add", "k8s/keep.env"]);
    // Anchored patterns: relative to the directory of the file that holds them.
    fs::write(
        root.join(".gitignore"),
        "/vendor\n/k8s/x.env\n/k8s/keep.env\n",
    )
    .unwrap();
    fs::write(root.join("k8s/.gitignore"), "/b.env\n").unwrap();
    // What git itself ignores, as the answer every spelling must give.
    let ignored = git(
        root,
        home.path(),
        &[
            "status",
            "--porcelain",
            "--ignored",
            "--untracked-files=all",
        ],
    );
    for file in ["vendor/a.env", "k8s/x.env", "k8s/b.env"] {
        assert!(ignored.contains(&format!("!! {file}")), "{ignored}");
    }
    let absolute = root.display().to_string();
    // The paths judged, as plain paths relative to the repository (reports show them as
    // the root was typed).
    let judged = |args: &[&str]| -> Vec<String> {
        let run = rekey(root, args);
        assert_eq!(run.status, 1, "{:?}: {}", args, run.stderr);
        let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let mut paths: Vec<String> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let shown = f["path"].as_str().unwrap();
                let relative = shown.strip_prefix(&absolute).unwrap_or(shown);
                let parts: Vec<&str> = relative
                    .split('/')
                    .filter(|part| !part.is_empty() && *part != ".")
                    .collect();
                parts.join("/")
            })
            .collect();
        paths.sort();
        paths
    };
    // k8s/keep.env is listed too, but tracked: judged.
    let whole = ["k8s/keep.env", "k8s/sub/b.env"];
    let absolute_dot = format!("{absolute}/.");
    for spelling in ["", ".", "./", "./.", ".//", &absolute, &absolute_dot] {
        let mut args = vec!["check", "--format", "json"];
        args.extend((!spelling.is_empty()).then_some(spelling));
        assert_eq!(judged(&args), whole, "root {spelling:?}");
    }
    for spelling in ["k8s", "./k8s", "k8s/.", "k8s//", "./k8s/"] {
        assert_eq!(
            judged(&["check", "--format", "json", spelling]),
            whole,
            "root {spelling:?}"
        );
    }
}

#[test]
fn a_root_outside_the_repository_is_not_hidden_by_its_ignore_rules() {
    // `rekey check ../other` from inside a repository: the repository's `*.env` rule is
    // not the rule of a directory outside it.
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    fs::create_dir_all(repo.join("k8s")).unwrap();
    fs::create_dir_all(dir.path().join("other/sub")).unwrap();
    git(&repo, home.path(), &["init", "-q", "-b", "main"]);
    revoke_old(&repo);
    fs::write(repo.join(".gitignore"), "*.env\n").unwrap();
    fs::write(
        dir.path().join("other/sub/a.env"),
        format!("DELEGATE_TOKEN={OLD_HEX}\n"),
    )
    .unwrap();
    let absolute = dir.path().join("other/sub");
    for root in [
        "../other/sub",
        "k8s/../../other/sub",
        absolute.to_str().unwrap(),
    ] {
        let run = rekey(&repo, &["check", root]);
        assert_eq!(run.status, 1, "root {root}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains("a.env:1:16: error[revoked-token]"),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn a_literal_in_a_template_that_does_not_parse_is_still_a_site() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("chart/templates")).unwrap();
    revoke_old(root);
    let template = format!("kind: Secret\nmetadata:\n  name: {{{{ include \"x\" . }}}}\n{{{{- if .Values.on }}}}\nstringData:\n  DELEGATE_TOKEN: \"{OLD_HEX}\"\n{{{{- end }}}}\n");
    fs::write(root.join("chart/templates/secret.yaml"), &template).unwrap();
    let run = rekey(root, &["check"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    assert_eq!(
        run.stdout,
        one_revoked(
            "chart/templates/secret.yaml:6:20",
            "DELEGATE_TOKEN",
            1,
            ".rekey.toml"
        )
    );
    let rotate = rotate_to_new_token(root, &["--write"]);
    assert_eq!(rotate.status, 0, "{}", rotate.stderr);
    assert_eq!(
        fs::read_to_string(root.join("chart/templates/secret.yaml")).unwrap(),
        template.replace(OLD_HEX, NEW_HEX)
    );
}

#[test]
fn base64_made_with_a_line_break_is_the_token_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    revoke_old(root);
    // What `echo $TOKEN | base64` writes: the token and a line break.
    let encoded = STANDARD.encode(format!("{OLD_HEX}\n"));
    fs::write(
        root.join("secret.yaml"),
        format!("kind: Secret\nmetadata:\n  name: d\ndata:\n  DELEGATE_TOKEN: {encoded}\n"),
    )
    .unwrap();
    let run = rekey(root, &["check"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    assert_eq!(
        run.stdout,
        one_revoked("secret.yaml:5:19", "DELEGATE_TOKEN", 1, ".rekey.toml")
    );
    assert_no_piece(&run.stdout, "check");
}

#[test]
fn checking_a_repository_from_outside_it_uses_its_policy() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("infra");
    fs::create_dir_all(repo.join(".git")).unwrap();
    revoke_old(&repo);
    fs::write(
        repo.join("values.yaml"),
        format!("delegateToken: {OLD_HEX}\n"),
    )
    .unwrap();
    let run = rekey(dir.path(), &["check", "infra"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    assert_eq!(
        run.stdout,
        one_revoked(
            "infra/values.yaml:1:16",
            "delegateToken",
            1,
            "infra/.rekey.toml"
        )
    );
}

#[test]
fn tens_of_thousands_of_tokens_in_one_file_stay_linear_and_whole() {
    // Every value is a site and also a token-shaped string: the sweep must match them to
    // their sites without comparing every pair, and a string on a 1 KiB boundary must not
    // trip the line index.
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: delegate\n        image: harness/delegate:1\n        env:\n");
    for i in 0..20_000 {
        text.push_str(&format!(
            "        - name: DELEGATE_TOKEN\n          value: {OLD_HEX}  # {i:05}\n"
        ));
    }
    fs::write(dir.path().join("big.yaml"), &text).unwrap();
    let run = rotate_to_new_token(dir.path(), &["--write", "--stat"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with(" big.yaml | 20000 rotated\n"),
        "{}",
        run.stdout
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("big.yaml")).unwrap(),
        text.replace(OLD_HEX, NEW_HEX)
    );
}

#[test]
fn revoke_warns_about_unknown_repeated_and_last_current_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(
        root.join(".rekey.toml"),
        format!(
            "[tokens]\ncurrent = [\"{OLD_FINGERPRINT}\"]\nrevoked = [\"{OTHER_FINGERPRINT}\"]\n"
        ),
    )
    .unwrap();
    let unknown = "sha256:0000000000000000";
    let run = rekey(
        root,
        &["revoke", OTHER_FINGERPRINT, unknown, OLD_FINGERPRINT],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!("warning: {OTHER_FINGERPRINT} is already revoked in .rekey.toml\n\
warning: {unknown} is not listed under [tokens] current in .rekey.toml: check the fingerprint (`rekey scan` lists the tokens a repository holds)\n\
warning: this revokes the last token under [tokens] current in .rekey.toml: until a token in force is listed there, no token is judged stale. `rekey rotate --new-token-env NEW_TOKEN --write` lists the new one\n")
    );
    assert_eq!(
        fs::read_to_string(root.join(".rekey.toml")).unwrap(),
        format!("[tokens]\ncurrent = []\nrevoked = [\"{OTHER_FINGERPRINT}\", \"{unknown}\", \"{OLD_FINGERPRINT}\"]\n")
    );
}

#[test]
fn rotate_write_holds_no_descriptor_per_file() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for i in 0..300 {
        fs::write(
            root.join(format!("delegate-{i}.env")),
            format!("DELEGATE_TOKEN={OLD_HEX}\n"),
        )
        .unwrap();
    }
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rekey"));
    command
        .args(["rotate", "--new-token-file"])
        .arg(new_token_file())
        .args(["--write", "--stat"])
        .current_dir(root);
    // SAFETY: setrlimit is async-signal-safe; the child only lowers its own limit.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 64,
                rlim_max: 64,
            };
            match libc::setrlimit(libc::RLIMIT_NOFILE, &limit) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
    let run = command.output().unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for i in 0..300 {
        assert_eq!(
            fs::read_to_string(root.join(format!("delegate-{i}.env"))).unwrap(),
            format!("DELEGATE_TOKEN={NEW_HEX}\n")
        );
    }
}
