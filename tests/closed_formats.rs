//! Issue 19, the format holes: the gates never pass on a token a format hides, and a shell
//! script of 150,000 legacy keys rotates in linear time. A Secret value wrapped over the
//! lines of a YAML block scalar, a shell value continued with `\`, a bare 16-hex "fingerprint"
//! (the start of a token), and a symlinked directory given as a path.

mod common;

use common::{assert_no_token, new_token_file, rekey, OLD_BASE64, OLD_FINGERPRINT, OLD_HEX};
use std::fs;
use std::path::Path;
use std::time::Duration;

/// A policy that lists the fixtures' old token as revoked.
fn revoked_policy(root: &Path) {
    fs::write(
        root.join(".rekey.toml"),
        format!("[tokens]\nrevoked = [\"{OLD_FINGERPRINT}\"]\n"),
    )
    .unwrap();
}

fn rotate(root: &Path, extra: &[&str]) -> common::Run {
    let token = new_token_file();
    let mut args = vec!["rotate", "--new-token-file", token.to_str().unwrap()];
    args.extend_from_slice(extra);
    rekey(root, &args)
}

/// Runs rekey in `root`, failing the test past `limit` (see `common::rekey_bounded`).
fn rekey_within(root: &Path, args: &[&str], limit: Duration) -> (i32, String, String) {
    let run = common::rekey_bounded(root, args, &[], None, limit);
    (run.status, run.stdout, run.stderr)
}

// Case 1: a shell file with 150,000 `accountSecret` lines rotates in linear time.

#[test]
fn a_shell_file_of_150k_account_secret_lines_rotates_in_seconds() {
    const LINES: usize = 150_000;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(
        root.join("start.sh"),
        format!("accountSecret={OLD_HEX}\n").repeat(LINES),
    )
    .unwrap();
    let token = new_token_file();
    let token = token.to_str().unwrap();
    // Quadratic, the dry run alone took minutes (41 s at 100,000 lines in a release build).
    let limit = Duration::from_secs(60);
    let summary = format!("{LINES} sites rotated, 0 placeholders filled, 0 legacy keys migrated.");
    let (status, stdout, stderr) = rekey_within(
        root,
        &["rotate", "--new-token-file", token, "--stat", "start.sh"],
        limit,
    );
    assert_eq!(status, 0, "{stderr}");
    assert!(
        stdout.starts_with(&format!(" start.sh | {LINES} rotated\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&summary) && stdout.contains("Dry run"),
        "{stdout}"
    );
    // Who reads a shell variable is not known: each legacy name is kept, with a note.
    assert_eq!(
        stderr.lines().count(),
        LINES,
        "one note per kept legacy key"
    );
    assert!(stderr.starts_with("note: start.sh:1:15: legacy key accountSecret kept"));
    assert_no_token(&stdout, "dry run");
    assert_no_token(&stderr, "dry run");

    let (status, stdout, stderr) = rekey_within(
        root,
        &[
            "rotate",
            "--new-token-file",
            token,
            "--stat",
            "--write",
            "start.sh",
        ],
        limit,
    );
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.contains(&summary), "{stdout}");
    assert_no_token(&stdout, "--write");
    assert_no_token(&stderr, "--write");
    let new = fs::read_to_string(new_token_file()).unwrap();
    assert_eq!(
        fs::read_to_string(root.join("start.sh")).unwrap(),
        format!("accountSecret={}\n", new.trim()).repeat(LINES)
    );
}

// Case 2: a Secret value written as a YAML block scalar over several lines.

#[test]
fn check_fails_on_a_revoked_token_in_secret_data_written_as_a_block_scalar() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    revoked_policy(root);
    let (b1, b2) = OLD_BASE64.split_at(20);
    let (h1, h2) = OLD_HEX.split_at(16);
    let secret = |name: &str, body: &str| {
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n{body}")
    };
    let text = [
        // One line in a block: judged as the token already.
        secret(
            "one-line",
            &format!("stringData:\n  DELEGATE_TOKEN: |\n    {OLD_HEX}\n"),
        ),
        // base64 wrapped over the lines of a `|-` block: Kubernetes skips the line break.
        secret(
            "wrapped",
            &format!("data:\n  DELEGATE_TOKEN: |-\n    {b1}\n    {b2}\n"),
        ),
        // Folded by `>`.
        secret(
            "folded",
            &format!("data:\n  DELEGATE_TOKEN: >\n    {b1}\n    {b2}\n"),
        ),
        // stringData split over two lines, and a token on a line among others.
        secret(
            "split",
            &format!("stringData:\n  DELEGATE_TOKEN: |-\n    {h1}\n    {h2}\n"),
        ),
        secret(
            "among",
            &format!("stringData:\n  DELEGATE_TOKEN: |\n    # token:\n    {OLD_HEX}\n"),
        ),
    ]
    .join("---\n");
    fs::write(root.join("secret.yaml"), &text).unwrap();

    let check = rekey(root, &["check", "."]);
    assert_eq!(check.status, 1, "{}\n{}", check.stdout, check.stderr);
    let errors: Vec<&str> = check
        .stdout
        .lines()
        .filter(|l| l.contains("error[revoked-token] DELEGATE_TOKEN holds a token revoked"))
        .map(|l| l.split(": error").next().unwrap())
        .collect();
    assert_eq!(
        errors,
        [
            "secret.yaml:7:5",
            "secret.yaml:15:5",
            "secret.yaml:24:5",
            "secret.yaml:33:5",
            "secret.yaml:42:5"
        ],
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("rekey check: 5 errors"),
        "{}",
        check.stdout
    );
    assert_no_token(&check.stdout, "check");
    assert_no_token(&check.stderr, "check");

    let scan = rekey(root, &["scan", "."]);
    assert_eq!(scan.status, 0, "{}", scan.stderr);
    assert_eq!(
        scan.stdout.matches(OLD_FINGERPRINT).count(),
        5,
        "{}",
        scan.stdout
    );
    assert_no_token(&scan.stdout, "scan");
}

#[test]
fn rotate_refuses_a_secret_value_written_as_a_block_scalar_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (b1, b2) = OLD_BASE64.split_at(20);
    let text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: d\ndata:\n  DELEGATE_TOKEN: |-\n    {b1}\n    {b2}\n"
    );
    fs::write(root.join("secret.yaml"), &text).unwrap();
    let run = rotate(root, &["--write", "."]);
    assert_eq!(run.status, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(
            "secret.yaml:7:5: the value is a block scalar (| or >): rewrite it as a one-line value"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(fs::read_to_string(root.join("secret.yaml")).unwrap(), text);
    assert_no_token(&run.stdout, "rotate");
    assert_no_token(&run.stderr, "rotate");
}

// Case 3: a shell value continued with backslash-newline.

#[test]
fn check_fails_on_a_revoked_token_split_by_a_shell_line_continuation() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    revoked_policy(root);
    let (h1, h2) = OLD_HEX.split_at(16);
    let (d1, d2) = OLD_HEX.split_at(12);
    let text = format!(
        "#!/bin/sh\nexport DELEGATE_TOKEN={h1}\\\n{h2}\ndocker run -d \\\n  -e DELEGATE_TOKEN={d1}\\\r\n{d2} \\\n  harness/delegate:latest\n"
    );
    fs::write(root.join("launch.sh"), &text).unwrap();

    let check = rekey(root, &["check", "."]);
    assert_eq!(check.status, 1, "{}\n{}", check.stdout, check.stderr);
    for at in ["launch.sh:2:23", "launch.sh:5:21"] {
        assert!(
            check.stdout.contains(&format!(
                "{at}: error[revoked-token] DELEGATE_TOKEN holds a token revoked in Harness"
            )),
            "{at} in:\n{}",
            check.stdout
        );
    }
    assert_no_token(&check.stdout, "check");
    assert_no_token(&check.stderr, "check");

    let run = rotate(root, &["--write", "."]);
    assert_eq!(run.status, 2, "{}\n{}", run.stdout, run.stderr);
    for at in ["launch.sh:2:23", "launch.sh:5:21"] {
        assert!(
            run.stderr.contains(&format!(
                "{at}: the value is continued over lines with `\\`: write it on one line"
            )),
            "{at} in:\n{}",
            run.stderr
        );
    }
    assert_eq!(fs::read_to_string(root.join("launch.sh")).unwrap(), text);
    assert_no_token(&run.stdout, "rotate");
    assert_no_token(&run.stderr, "rotate");
}

// Case 4: a fingerprint is `sha256:` and 16 hex digits, never 16 bare digits.

#[test]
fn revoke_refuses_the_bare_16_hex_start_of_a_token_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let policy = format!("[tokens]\ncurrent = [\"{OLD_FINGERPRINT}\"]\nrevoked = []\n");
    fs::write(root.join(".rekey.toml"), &policy).unwrap();
    let start = &OLD_HEX[..16];
    let run = rekey(root, &["revoke", OLD_FINGERPRINT, start]);
    assert_eq!(run.status, 2, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stderr,
        "error: FINGERPRINT 2 of 2 is not a fingerprint (16 hex digits without `sha256:` may be the start of a token rather than its fingerprint): give each as `rekey scan` prints it, sha256: and 16 hex digits; nothing was written\n"
    );
    assert_eq!(run.stdout, "");
    assert_eq!(
        fs::read_to_string(root.join(".rekey.toml")).unwrap(),
        policy
    );

    // Anything else that is not a fingerprint is not echoed either.
    let run = rekey(root, &["revoke", &format!("sha256:{}", &OLD_HEX[..12])]);
    assert_eq!(run.status, 2);
    assert!(run
        .stderr
        .starts_with("error: FINGERPRINT 1 of 1 is not a fingerprint: "));
    assert_no_token(&run.stderr, "revoke");
    assert_eq!(
        fs::read_to_string(root.join(".rekey.toml")).unwrap(),
        policy
    );
}

#[test]
fn only_ready_to_revoke_and_policy_files_refuse_a_fingerprint_without_its_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(root.join(".env"), format!("DELEGATE_TOKEN={OLD_HEX}\n")).unwrap();
    let bare = OLD_FINGERPRINT.strip_prefix("sha256:").unwrap();

    let run = rotate(root, &["--only", bare, "--write"]);
    assert_eq!(run.status, 2, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stderr,
        "error: --only takes a fingerprint as `rekey scan` prints it: sha256: and 16 hex digits\n"
    );
    assert_eq!(
        fs::read_to_string(root.join(".env")).unwrap(),
        format!("DELEGATE_TOKEN={OLD_HEX}\n")
    );

    let run = rekey(root, &["check", "--ready-to-revoke", bare, "."]);
    assert_eq!(run.status, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("--ready-to-revoke takes a fingerprint"),
        "{}",
        run.stderr
    );

    fs::write(
        root.join(".rekey.toml"),
        format!("[tokens]\nrevoked = [\"{bare}\"]\n"),
    )
    .unwrap();
    let run = rekey(root, &["check", "."]);
    assert_eq!(run.status, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(".rekey.toml:2:")
            && run.stderr.contains(
                "entry 1 of [tokens] revoked is not a fingerprint: write sha256: and 16 hex digits"
            ),
        "{}",
        run.stderr
    );
    assert_no_token(&run.stdout, "check");
    assert_no_token(&run.stderr, "check");
    assert!(!run.stderr.contains(bare), "{}", run.stderr);
}

// Case 5: a symlinked directory given as a path is refused, as a symlinked file is.

#[test]
fn a_symlinked_directory_path_is_refused_and_never_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("real/k8s")).unwrap();
    let env = format!("DELEGATE_TOKEN={OLD_HEX}\n");
    fs::write(root.join("real/k8s/.env"), &env).unwrap();
    std::os::unix::fs::symlink("real", root.join("link-to-dir")).unwrap();
    std::os::unix::fs::symlink("real/k8s/.env", root.join("link.env")).unwrap();
    let refused = |path: &str, what: &str| {
        format!("error: {path}: {what}; rekey never follows one, given as a path or met in the walk: give the path of its target instead\n")
    };

    for path in ["link-to-dir", "link-to-dir/"] {
        let run = rotate(root, &["--write", path]);
        assert_eq!(run.status, 2, "{}\n{}", run.stdout, run.stderr);
        assert_eq!(run.stderr, refused(path, "is a symlink"));
    }
    let run = rotate(root, &["--write", "link-to-dir/k8s"]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        refused("link-to-dir/k8s", "goes through the symlink link-to-dir")
    );
    assert_eq!(fs::read_to_string(root.join("real/k8s/.env")).unwrap(), env);

    // scan and check refuse the same paths: what they judge is what rotate may write, and a
    // symlinked file was passed over (check said yes on a file it never read).
    revoked_policy(root);
    for command in ["scan", "check"] {
        for (path, what) in [
            ("link-to-dir", "is a symlink"),
            ("link.env", "is a symlink"),
        ] {
            let run = rekey(root, &[command, path]);
            assert_eq!(run.status, 2, "{command} {path}: {}", run.stdout);
            assert!(
                run.stderr.starts_with(&refused(path, what)),
                "{}",
                run.stderr
            );
            assert_no_token(&run.stdout, command);
        }
    }
    // The target itself is read and rotated as ever.
    let run = rekey(root, &["check", "real"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("real/k8s/.env:1:16: error[revoked-token]"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_token_split_by_a_line_continuation_outside_any_key_fails_check() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    revoked_policy(root);
    let (head, tail) = OLD_HEX.split_at(12);
    fs::write(
        root.join("start.sh"),
        format!("#!/bin/sh\nTOKEN={head}\\\n{tail}\n./start --token \"$TOKEN\"\n"),
    )
    .unwrap();
    fs::write(
        root.join("Dockerfile"),
        format!("FROM harness/delegate:1\nRUN echo {head}\\\r\n{tail} > /token\n"),
    )
    .unwrap();
    let run = rekey(root, &["check"]);
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    for place in [
        "start.sh:2:7: error[revoked-token]",
        "Dockerfile:2:10: error[revoked-token]",
    ] {
        assert!(run.stdout.contains(place), "{place}:\n{}", run.stdout);
    }
    assert_no_token(&format!("{}{}", run.stdout, run.stderr), "check");
}
