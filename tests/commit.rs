//! `rekey rotate --commit` end to end: real repositories made with the git CLI, the binary
//! run in them, and every claim checked with the git CLI: one new commit on a new branch
//! whose parent is the base, exactly the rotated blobs replaced, HEAD, the index and the
//! working tree untouched, `git fsck --strict` clean, no token in the message.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::Command;

struct Repo {
    _dir: tempfile::TempDir,
    home: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl Repo {
    /// A repository holding the demo fixture in one commit on `main`.
    fn demo() -> Repo {
        let dir = copy_fixture("demo");
        let home = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        let repo = Repo {
            _dir: dir,
            home,
            path,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let script = repo.path.join("shell-delegate/config-delegate.yml");
            fs::set_permissions(script, fs::Permissions::from_mode(0o755)).unwrap();
        }
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-q", "-m", "Delegate manifests"]);
        repo
    }

    fn git(&self, args: &[&str]) -> String {
        git(&self.path, self.home.path(), args)
    }

    fn rekey(&self, extra: &[&str]) -> Run {
        self.rekey_in(&self.path, extra, &IDENTITY)
    }

    fn rekey_in(&self, dir: &Path, extra: &[&str], identity: &[(&str, &str)]) -> Run {
        rotate_commit(dir, self.home.path(), extra, identity)
    }

    /// Everything `--commit` promises not to touch.
    fn untouched_state(&self) -> UntouchedState {
        UntouchedState(
            self.git(&["rev-parse", "HEAD"]),
            self.git(&["status", "--porcelain", "--ignored"]),
            fs::read(self.path.join(".git/index")).unwrap(),
            tree(&self.path)
                .into_iter()
                .filter(|(name, _)| !name.starts_with(".git/"))
                .collect(),
        )
    }
}

/// HEAD, `git status`, the index file's bytes and the working tree's files.
#[derive(Debug, PartialEq)]
struct UntouchedState(String, String, Vec<u8>, Vec<(String, Vec<u8>)>);

const BRANCH: &str = "rekey/rotate-23e0bf16";

/// The files the demo rotation changes (the ignored override file is not tracked).
const ROTATED: [&str; 21] = [
    ".rekey.toml",
    "compose/.env",
    "compose/docker-compose.yml",
    "config/delegate.toml",
    "docker/launch-harness-delegate.sh",
    "ecs/minified-task.json",
    "ecs/task-spec.json",
    "helm/anchors-values.yaml",
    "helm/harness-delegate-values.yaml",
    "helm/install.sh",
    "helm/umbrella/values.yaml",
    "k8s/firstgen-statefulset.yaml",
    "k8s/harness-delegate.yaml",
    "k8s/legacy-secret-ref.yaml",
    "kustomize/kustomization.yaml",
    "rendered/delegate-secret.yaml",
    "shell-delegate/config-delegate.yml",
    "shell-delegate/config-watcher.yml",
    "shell-delegate/start.sh",
    "terraform/main.tf",
    "terraform/prod.tfvars",
];

fn assert_rotated_blobs(repo: &Repo, branch: &str) {
    for path in ROTATED {
        let blob = Command::new("git")
            .args(["cat-file", "blob", &format!("{branch}:{path}")])
            .current_dir(&repo.path)
            .output()
            .unwrap()
            .stdout;
        let expected = fs::read(fixtures().join("expected/demo-rotated").join(path)).unwrap();
        assert!(
            blob == expected,
            "{path} on {branch} differs from the expected bytes"
        );
    }
}

#[test]
fn commit_creates_one_commit_on_a_new_branch_and_touches_nothing_else() {
    let repo = Repo::demo();
    let base = repo.git(&["rev-parse", "HEAD"]);
    let before = repo.untouched_state();
    let run = repo.rekey(&[]);
    assert_eq!(run.status, 0, "{}", run.stderr);

    assert_eq!(repo.git(&["rev-parse", &format!("{BRANCH}^")]), base);
    assert_eq!(
        repo.git(&["rev-list", "--count", &format!("main..{BRANCH}")]),
        "1\n"
    );
    let changed = repo.git(&["diff", "--name-only", "main", BRANCH]);
    assert_eq!(changed.lines().collect::<Vec<_>>(), ROTATED);
    assert_rotated_blobs(&repo, BRANCH);
    let mode = repo.git(&["ls-tree", BRANCH, "shell-delegate/config-delegate.yml"]);
    assert!(
        mode.starts_with("100755 blob"),
        "the executable bit was lost: {mode}"
    );
    assert_eq!(
        repo.untouched_state(),
        before,
        "HEAD, status, index or working tree changed"
    );
    repo.git(&["fsck", "--strict"]);

    let message = repo.git(&["log", "-1", "--format=%B", BRANCH]);
    assert_no_token(&message, "commit message");
    assert!(message.starts_with(&format!(
        "Rotate Harness delegate token {OLD_FINGERPRINT} -> {NEW_FINGERPRINT}\n"
    )));
    assert!(message.contains(
        "27 sites rotated, 0 placeholders filled, 11 legacy keys migrated, in 20 files:"
    ));
    let trailer = repo.git(&[
        "log",
        "-1",
        "--format=%(trailers:key=Rekey-Rotation,valueonly)",
        BRANCH,
    ]);
    assert_eq!(
        trailer.trim(),
        format!("{OLD_FINGERPRINT} -> {NEW_FINGERPRINT}")
    );
    let author = repo.git(&["log", "-1", "--format=%an <%ae>", BRANCH]);
    assert_eq!(author, "Rotation Bot <rotation-bot@example.com>\n");

    let commit = repo.git(&["rev-parse", BRANCH]);
    // The steps between are each delegate's (tests/newcomer_advice.rs compares them whole).
    assert!(
        run.stdout.contains(&format!(
            "Committed {} on new branch {BRANCH}.\n\
Next:\n  \
1. git push origin {BRANCH}, then open a pull request (merge request) from it.\n  \
2. Once it is merged and deployed, make each delegate read the new token, and check in Harness that it reconnects:\n",
            commit.trim()
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.ends_with(&format!(
            "  5. Revoke the old token ({OLD_FINGERPRINT}) in Harness (Delegates > Tokens, where it was issued).\n  \
6. rekey revoke {OLD_FINGERPRINT}, so rekey check fails wherever it is still found.\n"
        )),
        "{}",
        run.stdout
    );
    assert!(
        !run.stderr.contains("uncommitted"),
        "a clean tree has nothing to warn about: {}",
        run.stderr
    );
    assert_no_token(&run.stdout, "stdout");
}

#[test]
fn an_existing_branch_is_refused_and_nothing_moves() {
    let repo = Repo::demo();
    repo.git(&["branch", BRANCH]);
    let tip = repo.git(&["rev-parse", BRANCH]);
    let run = repo.rekey(&[]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr
            .contains(&format!("branch {BRANCH} already exists")),
        "{}",
        run.stderr
    );
    assert_eq!(repo.git(&["rev-parse", BRANCH]), tip);

    let named = repo.rekey(&[
        "--branch",
        "ops/rotate-q4",
        "--message",
        "Rotate the Q4 delegate token",
    ]);
    assert_eq!(named.status, 0, "{}", named.stderr);
    let subject = repo.git(&["log", "-1", "--format=%s", "ops/rotate-q4"]);
    assert_eq!(subject, "Rotate the Q4 delegate token\n");
}

#[test]
fn base_can_be_another_branch() {
    let repo = Repo::demo();
    repo.git(&["checkout", "-q", "-b", "staging"]);
    fs::write(
        repo.path.join("staging.yaml"),
        format!("delegateToken: {OLD_HEX}\n"),
    )
    .unwrap();
    repo.git(&["add", "staging.yaml"]);
    repo.git(&["commit", "-q", "-m", "Staging values"]);
    let staging = repo.git(&["rev-parse", "staging"]);
    repo.git(&["checkout", "-q", "main"]);

    let run = repo.rekey(&["--base", "staging"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(repo.git(&["rev-parse", &format!("{BRANCH}^")]), staging);
    assert_eq!(
        repo.git(&["show", &format!("{BRANCH}:staging.yaml")]),
        format!("delegateToken: {NEW_HEX}\n")
    );
    assert_eq!(repo.git(&["rev-parse", "--abbrev-ref", "HEAD"]), "main\n");

    let missing = repo.rekey(&["--base", "no-such-branch", "--branch", "x"]);
    assert_eq!(missing.status, 2);
    assert!(
        missing
            .stderr
            .contains("--base no-such-branch: no such commit"),
        "{}",
        missing.stderr
    );
}

#[test]
fn a_bare_repository_gets_the_branch() {
    let repo = Repo::demo();
    let bare = tempfile::tempdir().unwrap();
    let bare_path = bare.path().join("infra.git");
    repo.git(&[
        "clone",
        "-q",
        "--bare",
        repo.path.to_str().unwrap(),
        bare_path.to_str().unwrap(),
    ]);
    let run = repo.rekey_in(&bare_path, &[], &IDENTITY);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let changed = git(
        &bare_path,
        repo.home.path(),
        &["diff", "--name-only", "main", BRANCH],
    );
    assert_eq!(changed.lines().collect::<Vec<_>>(), ROTATED);
    git(&bare_path, repo.home.path(), &["fsck", "--strict"]);
}

#[test]
fn a_detached_head_stays_detached() {
    let repo = Repo::demo();
    repo.git(&["checkout", "-q", "--detach"]);
    let before = repo.untouched_state();
    let run = repo.rekey(&[]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(repo.untouched_state(), before);
    assert_eq!(repo.git(&["rev-parse", "--abbrev-ref", "HEAD"]), "HEAD\n");
    assert_rotated_blobs(&repo, BRANCH);
}

#[test]
fn uncommitted_working_tree_changes_never_reach_the_commit() {
    let repo = Repo::demo();
    let manifest = repo.path.join("helm/harness-delegate-values.yaml");
    let edited = fs::read_to_string(&manifest)
        .unwrap()
        .replace("replicas: 2", "replicas: 5");
    fs::write(&manifest, &edited).unwrap();
    fs::write(
        repo.path.join("untracked.yaml"),
        format!("delegateToken: {OTHER_HEX}\n"),
    )
    .unwrap();
    let run = repo.rekey(&[]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_rotated_blobs(&repo, BRANCH);
    assert_eq!(
        fs::read_to_string(&manifest).unwrap(),
        edited,
        "the working tree was touched"
    );
    let files = repo.git(&["ls-tree", "-r", "--name-only", BRANCH]);
    assert!(!files.contains("untracked.yaml"));
    assert!(
        run.stderr.contains("note: 1 rotated file has uncommitted edits that the commit does not include (it rotates the committed version): helm/harness-delegate-values.yaml; commit them first and rerun, or carry them onto the new branch\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn staged_and_unstaged_edits_to_rotated_files_are_named_in_the_json_notes() {
    let repo = Repo::demo();
    let append = |path: &str| {
        let path = repo.path.join(path);
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, format!("{text}# edited\n")).unwrap();
    };
    append("compose/.env");
    repo.git(&["add", "compose/.env"]);
    append("terraform/prod.tfvars");
    // An edit to a file the rotation does not touch is none of its business.
    fs::write(repo.path.join("README.md"), "edited\n").unwrap();
    let run = repo.rekey(&["--format", "json"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let notes: Vec<&str> = report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .filter(|n| n.contains("uncommitted"))
        .collect();
    assert_eq!(
        notes,
        ["2 rotated files have uncommitted edits that the commit does not include (it rotates the committed version): compose/.env, terraform/prod.tfvars; commit them first and rerun, or carry them onto the new branch"]
    );
}

#[test]
fn paths_restrict_the_commit_to_part_of_the_repository() {
    let repo = Repo::demo();
    let run = repo.rekey_in(&repo.path.join("helm"), &["umbrella"], &IDENTITY);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let changed = repo.git(&["diff", "--name-only", "main", BRANCH]);
    assert_eq!(changed, ".rekey.toml\nhelm/umbrella/values.yaml\n");
}

#[test]
fn missing_identity_is_a_clear_error() {
    let repo = Repo::demo();
    let run = repo.rekey_in(&repo.path, &[], &[]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr
            .contains("no git identity to commit with: set GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL"),
        "{}",
        run.stderr
    );
    assert_eq!(repo.git(&["branch", "--list", "rekey/*"]), "");
}

#[test]
fn nothing_to_rotate_commits_nothing() {
    let repo = Repo::demo();
    assert_eq!(repo.rekey(&[]).status, 0);
    let again = repo.rekey(&["--base", BRANCH, "--branch", "rekey/again"]);
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert!(
        again.stdout.starts_with("Already rotated"),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.ends_with("No commit was made.\n"),
        "{}",
        again.stdout
    );
    assert_eq!(repo.git(&["branch", "--list", "rekey/again"]), "");
}

#[test]
fn write_and_commit_are_separate_modes() {
    let repo = Repo::demo();
    let run = repo.rekey(&["--write"]);
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
    let stray = rekey(
        &repo.path,
        &["rotate", "--new-token-stdin", "--branch", "x"],
    );
    assert_eq!(stray.status, 2);
    assert!(stray.stderr.contains("--commit"), "{}", stray.stderr);
}
