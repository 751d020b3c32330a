//! Git as a source fails closed (issue 19): a corrupt object store (a loose object cut
//! short, a loose object holding another object's bytes) makes every command that reads
//! git end in seconds with exit 2, naming the object, the path and `git fsck`, never 0 and
//! never a hang; `check --staged` checks the whole index from a subdirectory, under the
//! root policy; a staged symlink whose target is a token is judged like a file's text.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longer than any of these runs takes on a loaded machine; a run past it hung.
const TIMEOUT: Duration = Duration::from_secs(30);

/// `rekey args…` in `cwd`, failed past [`TIMEOUT`].
fn rekey_bounded(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    common::rekey_bounded(cwd, args, env, None, TIMEOUT)
}

/// A committed (and so staged) repository: `deploy/delegate.env` holds a token under its
/// key name, `notes.txt` holds neither.
struct Repo {
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
        };
        fs::create_dir(repo.path().join("deploy")).unwrap();
        fs::write(
            repo.path().join("deploy/delegate.env"),
            format!("DELEGATE_TOKEN={OLD_HEX}\nDELEGATE_NAME=prod\n"),
        )
        .unwrap();
        fs::write(repo.path().join("notes.txt"), "Nothing to see here.\n").unwrap();
        commit_all(repo.path(), repo.home.path());
        repo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn git(&self, args: &[&str]) -> String {
        git(self.path(), self.home.path(), args)
    }

    /// The id of `path`'s blob (or tree) at HEAD.
    fn id(&self, path: &str) -> String {
        self.git(&["rev-parse", &format!("HEAD:{path}")])
            .trim()
            .to_owned()
    }

    /// The loose object file of `id`.
    fn object(&self, id: &str) -> PathBuf {
        self.path()
            .join(".git/objects")
            .join(&id[..2])
            .join(&id[2..])
    }

    /// Overwrites the loose object `id` (git writes them read-only).
    fn overwrite(&self, id: &str, bytes: &[u8]) {
        let file = self.object(id);
        let mut permissions = fs::metadata(&file).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        permissions.set_readonly(false);
        fs::set_permissions(&file, permissions).unwrap();
        fs::write(&file, bytes).unwrap();
    }

    /// Cuts the loose object `id` to half its length: its zlib stream ends early.
    fn truncate(&self, id: &str) {
        let bytes = fs::read(self.object(id)).unwrap();
        self.overwrite(id, &bytes[..bytes.len() / 2]);
    }

    /// `rekey rotate --new-token-file … --commit` in the repository, as `tests/commit.rs`
    /// runs it.
    fn rotate_commit(&self) -> Run {
        let token = new_token_file();
        let mut env = isolated_home(self.home.path().to_str().unwrap());
        env.extend_from_slice(&IDENTITY);
        let args = [
            "rotate",
            "--new-token-file",
            token.to_str().unwrap(),
            "--commit",
        ];
        rekey_bounded(self.path(), &args, &env)
    }
}

/// Every command that reads the repository's objects, run on it: each must exit 2, with a
/// message naming `object`, `path` and `git fsck`, and `what` (the kind of damage).
fn assert_every_reader_refuses(repo: &Repo, object: &str, path: &str, what: &str, staged: bool) {
    let dir = repo.path().to_str().unwrap();
    let parent = repo.path().parent().unwrap();
    let mut runs = vec![
        (
            "scan --repo",
            rekey_bounded(parent, &["scan", "--repo", dir], &[]),
        ),
        (
            "check --repo",
            rekey_bounded(parent, &["check", "--repo", dir], &[]),
        ),
        (
            "inventory --repo",
            rekey_bounded(parent, &["inventory", "--repo", dir], &[]),
        ),
        (
            "check --ready-to-revoke --repo",
            rekey_bounded(
                parent,
                &["check", "--ready-to-revoke", OLD_FINGERPRINT, "--repo", dir],
                &[],
            ),
        ),
        ("rotate --commit", repo.rotate_commit()),
    ];
    if staged {
        runs.push((
            "check --staged",
            rekey_bounded(repo.path(), &["check", "--staged"], &[]),
        ));
    }
    for (command, run) in runs {
        let output = format!("{}{}", run.stdout, run.stderr);
        assert_eq!(run.status, 2, "{command}: {output}");
        for needle in [object, path, what, "git fsck --full"] {
            assert!(
                output.contains(needle),
                "{command}: does not say {needle:?}:\n{output}"
            );
        }
        assert_no_token(&output, command);
    }
    // Nothing was committed by the refused rotation.
    assert_eq!(repo.git(&["branch", "--list"]).lines().count(), 1);
}

/// The fingerprint `rekey scan` prints for the repository's token, read before the damage.
fn fingerprint_scanned(repo: &Repo) -> String {
    let dir = repo.path().to_str().unwrap();
    let run = rekey_bounded(repo.path(), &["scan", "--repo", dir], &[]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.contains(OLD_FINGERPRINT), "{}", run.stdout);
    OLD_FINGERPRINT.to_owned()
}

#[test]
fn a_truncated_loose_blob_holding_the_token_is_exit_2_for_every_reader_never_a_hang() {
    let repo = Repo::new();
    assert_eq!(fingerprint_scanned(&repo), OLD_FINGERPRINT);
    let blob = repo.id("deploy/delegate.env");
    repo.truncate(&blob);
    assert_every_reader_refuses(&repo, &blob, "deploy/delegate.env", "is truncated", true);
}

#[test]
fn a_truncated_loose_blob_holding_nothing_is_exit_2_too_never_read_as_empty() {
    let repo = Repo::new();
    let blob = repo.id("notes.txt");
    repo.truncate(&blob);
    assert_every_reader_refuses(&repo, &blob, "notes.txt", "is truncated", true);
}

#[test]
fn a_loose_blob_holding_another_objects_bytes_is_exit_2_not_that_objects_content() {
    // The token's blob replaced by the (valid, complete) object of `notes.txt`: read as
    // it is, the file would hold no token and every gate would say yes.
    let repo = Repo::new();
    let blob = repo.id("deploy/delegate.env");
    let other = fs::read(repo.object(&repo.id("notes.txt"))).unwrap();
    repo.overwrite(&blob, &other);
    assert_every_reader_refuses(
        &repo,
        &blob,
        "deploy/delegate.env",
        "does not match its id",
        true,
    );
}

#[test]
fn a_truncated_loose_tree_is_exit_2_for_every_commit_reader_never_a_hang() {
    // `--staged` reads the index, not trees: the commit readers are the ones at risk.
    let repo = Repo::new();
    let tree = repo.id("deploy");
    repo.truncate(&tree);
    assert_every_reader_refuses(&repo, &tree, "deploy", "is truncated", false);
}

/// A repository whose root `.rekey.toml` revokes the token.
fn revoking_repo() -> Repo {
    let repo = Repo {
        dir: tempfile::tempdir().unwrap(),
        home: tempfile::tempdir().unwrap(),
    };
    fs::write(
        repo.path().join(".rekey.toml"),
        format!("[tokens]\nrevoked = [\"{OLD_FINGERPRINT}\"]\n"),
    )
    .unwrap();
    repo.git(&["init", "-q", "-b", "main"]);
    repo
}

#[test]
fn staged_from_a_subdirectory_checks_the_whole_index_under_the_root_policy() {
    let repo = revoking_repo();
    fs::create_dir_all(repo.path().join("app/src")).unwrap();
    fs::write(repo.path().join("app/src/main.txt"), "hello\n").unwrap();
    fs::create_dir(repo.path().join("deploy")).unwrap();
    fs::write(
        repo.path().join("deploy/delegate.env"),
        format!("DELEGATE_TOKEN={OLD_HEX}\n"),
    )
    .unwrap();
    repo.git(&["add", "-A"]);
    let run = rekey_bounded(&repo.path().join("app/src"), &["check", "--staged"], &[]);
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("deploy/delegate.env:1:16: error[revoked-token]"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(OLD_FINGERPRINT), "{}", run.stdout);
    assert_no_token(&format!("{}{}", run.stdout, run.stderr), "check --staged");
}

#[test]
fn staged_symlink_whose_target_is_a_revoked_token_is_an_error() {
    let repo = revoking_repo();
    std::os::unix::fs::symlink(OLD_HEX, repo.path().join("link")).unwrap();
    fs::write(repo.path().join("README.md"), "docs\n").unwrap();
    repo.git(&["add", "-A"]);
    let run = rekey_bounded(repo.path(), &["check", "--staged"], &[]);
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("link:1:1: error[revoked-token]"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(OLD_FINGERPRINT), "{}", run.stdout);
    assert_no_token(&format!("{}{}", run.stdout, run.stderr), "check --staged");
}

#[test]
fn a_committed_policy_that_is_a_symlink_is_refused_not_read_as_no_policy() {
    let repo = Repo::new();
    fs::write(repo.path().join("real.toml"), "[tokens]\nrevoked = []\n").unwrap();
    std::os::unix::fs::symlink("real.toml", repo.path().join(".rekey.toml")).unwrap();
    commit_all(repo.path(), repo.home.path());
    let dir = repo.path().to_str().unwrap();
    // From elsewhere: the committed file is what is read, not the working tree's.
    let elsewhere = tempfile::tempdir().unwrap();
    let check = rekey_bounded(elsewhere.path(), &["check", "--repo", dir], &[]);
    assert_eq!(check.status, 2, "{}{}", check.stdout, check.stderr);
    assert!(
        check.stderr.contains(".rekey.toml: is a symlink in the commit; rekey reads it only as a regular file: commit the file itself"),
        "{}",
        check.stderr
    );
    assert_eq!(
        check.stdout,
        "rekey check: nothing was checked: 1 input could not be read (see the errors)\n"
    );
    let rotate = repo.rotate_commit();
    assert_eq!(rotate.status, 2, "{}{}", rotate.stdout, rotate.stderr);
    assert!(
        rotate.stderr.contains("is a symlink in the commit"),
        "{}",
        rotate.stderr
    );
    assert_no_token(
        &format!("{}{}{}", check.stdout, check.stderr, rotate.stderr),
        "output",
    );
    assert!(!repo.git(&["branch", "--list"]).contains("rekey/"));
}

#[test]
fn a_working_tree_symlink_whose_target_is_a_revoked_token_is_an_error_and_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(".rekey.toml"),
        format!("[tokens]\nrevoked = [\"{OLD_FINGERPRINT}\"]\n"),
    )
    .unwrap();
    std::os::unix::fs::symlink(OLD_HEX, dir.path().join("link")).unwrap();
    // A link to a file holding the token is not followed: only its target text counts.
    fs::create_dir(dir.path().join("outside")).unwrap();
    fs::write(
        dir.path().join("outside/t.env"),
        format!("DELEGATE_TOKEN={OLD_HEX}\n"),
    )
    .unwrap();
    std::os::unix::fs::symlink("outside/t.env", dir.path().join("via.env")).unwrap();
    let run = rekey_bounded(dir.path(), &["check"], &[]);
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("link:1:1: error[revoked-token]"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("via.env"), "{}", run.stdout);
    assert_no_token(&format!("{}{}", run.stdout, run.stderr), "check");
}
