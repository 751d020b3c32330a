//! `rekey rotate --repo/--repos --commit` end to end: a fleet built with the git CLI from
//! `fixtures/repos` (a clone with its own policy, a bare mirror, one already rotated, one
//! with nothing to rotate, one broken, and a directory that is no repository), one command
//! run over all of them, its whole output compared, and each repository checked with the
//! git CLI: the new branch, its parent, the changed files byte for byte against
//! `fixtures/expected/repos-rotated`, and HEAD, the index and the working tree untouched.

mod common;

use common::*;
use std::fs;
use std::path::PathBuf;

const BRANCH: &str = "rekey/rotate-23e0bf16";

struct Fleet {
    dir: tempfile::TempDir,
    home: PathBuf,
}

impl Fleet {
    /// `api`, `done`, `docs` and `broken` are clones; `web.git` is a bare mirror of the
    /// `web` fixture; `notrepo` is a plain directory. `repos.txt` lists them all.
    fn new() -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        fs::create_dir(&home).unwrap();
        for name in ["api", "web", "done", "docs", "broken"] {
            let repo = dir.path().join(name);
            copy_tree(&fixtures().join("repos").join(name), &repo);
            commit_all(&repo, &home);
        }
        git(
            dir.path(),
            &home,
            &["clone", "-q", "--bare", "web", "web.git"],
        );
        fs::remove_dir_all(dir.path().join("web")).unwrap();
        fs::create_dir(dir.path().join("notrepo")).unwrap();
        fs::write(
            dir.path().join("repos.txt"),
            "# The delegate fleet\napi\nweb.git\n\ndone\ndocs\nbroken\nnotrepo\n",
        )
        .unwrap();
        Fleet { dir, home }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn git(&self, name: &str, args: &[&str]) -> String {
        git(&self.path(name), &self.home, args)
    }

    fn rotate(&self, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let token = new_token_file();
        let mut args = vec!["rotate", "--new-token-file", token.to_str().unwrap()];
        args.extend_from_slice(extra);
        let home = self.home.to_str().unwrap();
        let mut all = vec![
            ("HOME", home),
            ("XDG_CONFIG_HOME", home),
            ("GIT_CONFIG_NOSYSTEM", "1"),
        ];
        all.extend_from_slice(env);
        let run = rekey_with(self.dir.path(), &args, &all, None);
        assert_no_token(&run.stdout, "stdout");
        assert_no_token(&run.stderr, "stderr");
        run
    }

    /// Everything a rotation promises not to touch: HEAD, every ref but rekey's branches,
    /// and for a clone `git status`, the index's bytes and the working tree's files.
    fn state(&self, name: &str) -> Vec<u8> {
        let path = self.path(name);
        let mut state = self.git(name, &["rev-parse", "HEAD"]).into_bytes();
        state.extend(
            self.git(name, &["for-each-ref", "--exclude=refs/heads/rekey/"])
                .bytes(),
        );
        if path.join(".git").exists() {
            state.extend(
                self.git(name, &["status", "--porcelain", "--ignored"])
                    .bytes(),
            );
            state.extend(fs::read(path.join(".git/index")).unwrap());
            for (file, bytes) in tree(&path) {
                if !file.starts_with(".git/") {
                    state.extend(file.bytes());
                    state.extend(bytes);
                }
            }
        }
        state
    }

    fn branches(&self, name: &str) -> String {
        self.git(name, &["branch", "--list", "rekey/*"])
    }
}

/// The new branch of `name` is one commit on `base` that changes exactly `files`, each
/// holding the bytes of `fixtures/expected/repos-rotated/<fixture>/<file>`.
fn assert_committed(fleet: &Fleet, name: &str, fixture: &str, base: &str, files: &[&str]) {
    assert_eq!(fleet.git(name, &["rev-parse", &format!("{BRANCH}^")]), base);
    let changed = fleet.git(name, &["diff", "--name-only", "main", BRANCH]);
    assert_eq!(changed.lines().collect::<Vec<_>>(), files, "{name}");
    for file in files {
        let blob = fleet.git(name, &["cat-file", "blob", &format!("{BRANCH}:{file}")]);
        let expected = fs::read(
            fixtures()
                .join("expected/repos-rotated")
                .join(fixture)
                .join(file),
        )
        .unwrap();
        assert!(
            blob.as_bytes() == expected,
            "{name}: {file} on {BRANCH} differs from the expected bytes:\n{blob}"
        );
    }
    fleet.git(name, &["fsck", "--strict"]);
    let message = fleet.git(name, &["log", "-1", "--format=%B", BRANCH]);
    assert_no_token(&message, "commit message");
}

fn short(fleet: &Fleet, name: &str) -> String {
    fleet
        .git(name, &["rev-parse", "--short", BRANCH])
        .trim()
        .to_owned()
}

#[test]
fn one_command_commits_a_branch_in_each_repository_and_reports_every_one() {
    let fleet = Fleet::new();
    // Uncommitted work in a clone is neither read nor touched.
    fs::write(fleet.path("api/helm/values.yaml"), "replicas: 9\n").unwrap();
    fs::write(
        fleet.path("api/untracked.env"),
        format!("DELEGATE_TOKEN={OTHER_HEX}\n"),
    )
    .unwrap();
    let names = ["api", "web.git", "done", "docs", "broken"];
    let bases: Vec<String> = names
        .iter()
        .map(|name| fleet.git(name, &["rev-parse", "HEAD"]))
        .collect();
    let before: Vec<Vec<u8>> = names.iter().map(|name| fleet.state(name)).collect();

    let run = fleet.rotate(&["--repos", "repos.txt", "--commit"], &IDENTITY);
    assert_eq!(run.status, 2, "{}", run.stderr);
    let (api, web) = (short(&fleet, "api"), short(&fleet, "web.git"));
    assert_eq!(
        run.stdout,
        format!(
            "\
==> api <==
--- a/helm/values.yaml
+++ b/helm/values.yaml
@@ -2,4 +2,4 @@
 delegateName: api-delegate
 accountId: Ab1Cd2Ef3Gh4
-accountSecret: \"<redacted {OLD_FINGERPRINT}>\"
+delegateToken: \"<redacted {NEW_FINGERPRINT}>\"
 replicas: 2
--- a/k8s/delegate-secret.yaml
+++ b/k8s/delegate-secret.yaml
@@ -7,3 +7,3 @@
 data:
   # base64 of the token the Harness UI shows
-  DELEGATE_TOKEN: <redacted {OLD_FINGERPRINT}>
+  DELEGATE_TOKEN: <redacted {NEW_FINGERPRINT}>
Updated .rekey.toml: [tokens] current now lists {NEW_FINGERPRINT}.
Policy: .rekey.toml

==> web.git <==
--- a/compose/docker-compose.yml
+++ b/compose/docker-compose.yml
@@ -4,4 +4,4 @@
     environment:
       - DELEGATE_NAME=web-delegate
-      - DELEGATE_TOKEN=<redacted {OLD_FINGERPRINT}>
+      - DELEGATE_TOKEN=<redacted {NEW_FINGERPRINT}>
       - MANAGER_HOST_AND_PORT=https://app.harness.io
Policy: no .rekey.toml in the base commit

==> done <==
Already rotated: the sites hold {NEW_FINGERPRINT}; nothing left to rotate.
Policy: no .rekey.toml in the base commit

==> docs <==
Nothing to rotate: no site holds a token other than {NEW_FINGERPRINT} and no legacy key needs migrating.
Policy: no .rekey.toml in the base commit

REPOSITORY  BRANCH                 FILES  SITES  RESULT
api         {BRANCH}  2      2      committed {api}
web.git     {BRANCH}  1      1      committed {web}
done        -                      0      0      already rotated
docs        -                      0      0      nothing to rotate
broken      -                      -      -      failed: helm/values.yaml:3:9: cannot parse this YAML file: illegal placement of ':' indicator; fix the syntax, then run rekey again
notrepo     -                      -      -      failed: not a git repository (could not find repository at '{notrepo}')

6 repositories: 2 committed, 1 already rotated, 1 with nothing to rotate, 2 failed.
Next (rekey never pushes):
  1. Push each new branch and open a pull request (merge request) from it:
       git -C api push origin {BRANCH}
       git -C web.git push origin {BRANCH}
     then, in each: gh pr create --head {BRANCH} --fill, or glab mr create --source-branch {BRANCH} --fill
     (the README's \"Many repositories in one run\" loops over them).
  2. Once it is merged and deployed, restart or re-apply the delegates so they read the new token
     (kubectl apply / helm upgrade / docker run again), and check they reconnect in Harness.
  3. Revoke the old token ({OLD_FINGERPRINT}) in Harness (Delegates > Tokens, where it was issued).
  4. rekey revoke {OLD_FINGERPRINT}, so rekey check fails wherever it is still found.
",
            notrepo = fleet.path("notrepo").display(),
        )
    );
    assert_eq!(
        run.stderr,
        format!(
            "\
note: api: 1 rotated file has uncommitted edits that the commit does not include (it rotates the committed version): helm/values.yaml; commit them first and rerun, or carry them onto the new branch
error: broken: helm/values.yaml:3:9: cannot parse this YAML file: illegal placement of ':' indicator; fix the syntax, then run rekey again
error: helm/values.yaml:2:17: holds the token {OLD_FINGERPRINT}, and no file rekey could parse holds a token to rotate (it may be the one meant); rekey never rewrites a file it cannot parse
error: 1 file that could not be parsed holds a token being rotated; nothing was rotated.
error: Fix the syntax, or rotate without it (its copy then stays until you replace it by hand): create .rekey.toml holding these lines, and commit it (--commit reads the base commit's policy):
error:   [scan]
error:   exclude = [\"helm/values.yaml\"]
error: notrepo: not a git repository (could not find repository at '{}')
",
            fleet.path("notrepo").display()
        )
    );

    assert_committed(
        &fleet,
        "api",
        "api",
        &bases[0],
        &[
            ".rekey.toml",
            "helm/values.yaml",
            "k8s/delegate-secret.yaml",
        ],
    );
    assert_committed(
        &fleet,
        "web.git",
        "web",
        &bases[1],
        &["compose/docker-compose.yml"],
    );
    for name in ["done", "docs", "broken"] {
        assert_eq!(fleet.branches(name), "", "{name} got a branch");
    }
    for (name, state) in names.iter().zip(&before) {
        assert!(
            &fleet.state(name) == state,
            "{name}: HEAD, refs, index or working tree changed"
        );
    }
}

#[test]
fn without_commit_it_is_a_dry_run_that_checks_each_branch_can_be_made() {
    let fleet = Fleet::new();
    fleet.git("web.git", &["branch", BRANCH]);
    let before = [fleet.state("api"), fleet.state("web.git")];
    let run = fleet.rotate(&["--repo", "api", "--repo", "web.git", "--stat"], &[]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "\
==> api <==
 helm/values.yaml         | 1 rotated, 1 migrated
 k8s/delegate-secret.yaml | 1 rotated
Would update .rekey.toml: [tokens] current now lists {NEW_FINGERPRINT}.
Policy: .rekey.toml

REPOSITORY  BRANCH                 FILES  SITES  RESULT
api         {BRANCH}  2      2      would commit
web.git     -                      -      -      failed: branch {BRANCH} already exists; nothing was committed: delete it or choose another name with --branch

2 repositories: 1 would commit, 0 already rotated, 0 with nothing to rotate, 1 failed.
Dry run: nothing was committed; add --commit to commit on a new branch in each repository.
"
        )
    );
    assert_eq!(fleet.branches("api"), "");
    assert_eq!(fleet.state("api"), before[0]);
    assert_eq!(fleet.state("web.git"), before[1]);
}

#[test]
fn a_failing_repository_does_not_stop_the_others() {
    let fleet = Fleet::new();
    // An existing branch in one, no identity anywhere but the environment: the branch is
    // refused there alone.
    fleet.git("api", &["branch", BRANCH]);
    let tip = fleet.git("api", &["rev-parse", BRANCH]);
    let run = fleet.rotate(
        &["--repo", "api", "--repo", "web.git", "--commit"],
        &IDENTITY,
    );
    assert_eq!(run.status, 2);
    assert_eq!(
        run.stderr,
        format!("error: api: branch {BRANCH} already exists; nothing was committed: delete it or choose another name with --branch\n")
    );
    assert_eq!(fleet.git("api", &["rev-parse", BRANCH]), tip);
    assert_eq!(fleet.branches("web.git"), format!("  {BRANCH}\n"));

    // Without an identity every repository fails, each saying what to set.
    let anonymous = fleet.rotate(
        &["--repo", "web.git", "--commit", "--branch", "rekey/q4"],
        &[],
    );
    assert_eq!(anonymous.status, 2);
    assert!(
        anonymous.stdout.contains("web.git     -       -      -      failed: no git identity to commit with: set GIT_AUTHOR_NAME"),
        "{}",
        anonymous.stdout
    );
    assert!(!anonymous.stdout.contains("Next"), "{}", anonymous.stdout);
    assert!(!fleet.branches("web.git").contains("rekey/q4"));

    // Several tokens in a repository: refused there until --only says which.
    let two = fleet.path("two");
    fs::create_dir(&two).unwrap();
    fs::write(two.join("a.env"), format!("DELEGATE_TOKEN={OLD_HEX}\n")).unwrap();
    fs::write(two.join("b.env"), format!("DELEGATE_TOKEN={OTHER_HEX}\n")).unwrap();
    commit_all(&two, &fleet.home);
    let refused = fleet.rotate(&["--repo", "two", "--repo", "done", "--commit"], &IDENTITY);
    assert_eq!(refused.status, 2);
    assert!(refused.stdout.ends_with("\
REPOSITORY  BRANCH  FILES  SITES  RESULT
two         -       -      -      failed: the literal sites hold 2 different tokens; say which to rotate with --only FINGERPRINT (repeatable) or rotate them all with --all
done        -       0      0      already rotated

2 repositories: 0 committed, 1 already rotated, 0 with nothing to rotate, 1 failed.
"), "{}", refused.stdout);
    assert!(refused.stderr.contains(&format!("error: two: the literal sites hold 2 different tokens; say which to rotate with --only FINGERPRINT (repeatable) or rotate them all with --all:\nerror:   {OTHER_FINGERPRINT}  in 1 file: b.env\nerror:   {OLD_FINGERPRINT}  in 1 file: a.env\n")), "{}", refused.stderr);
    let only = fleet.rotate(
        &["--repo", "two", "--commit", "--only", OLD_FINGERPRINT],
        &IDENTITY,
    );
    assert_eq!(only.status, 0, "{}", only.stderr);
    assert_eq!(
        fleet.git("two", &["diff", "--name-only", "main", BRANCH]),
        "a.env\n"
    );
}

#[test]
fn a_named_policy_governs_every_repository() {
    let fleet = Fleet::new();
    fs::write(
        fleet.path("org.toml"),
        format!("[tokens]\nrevoked = [\"{NEW_FINGERPRINT}\"]\n"),
    )
    .unwrap();
    for (args, env, origin) in [
        (&["--config", "org.toml"][..], &[][..], "--config"),
        (&[][..], &[("REKEY_CONFIG", "org.toml")][..], "REKEY_CONFIG"),
    ] {
        let mut all = vec!["--repo", "api", "--repo", "web.git", "--commit"];
        all.extend_from_slice(args);
        let run = fleet.rotate(&all, env);
        assert_eq!(run.status, 2);
        let reason = format!("org.toml ({origin}): the new token {NEW_FINGERPRINT} is listed under [tokens] revoked: rotating to it would put a revoked token back. Generate a new token in Harness");
        assert_eq!(
            run.stderr,
            format!("error: api: {reason}\nerror: web.git: {reason}\n")
        );
        assert_eq!(fleet.branches("api"), "");
    }
}

#[test]
fn repositories_combine_with_commit_only() {
    let fleet = Fleet::new();
    for (args, message) in [
        (
            &["--repo", "api", "--write"][..],
            "error: --repo/--repos read each repository's commits, not a working tree: use --commit",
        ),
        (
            &["--repo", "api", "--commit", "k8s"][..],
            "error: --repo/--repos rotate each repository whole; drop the paths",
        ),
        (
            &["--config", "org.toml"][..],
            "error: --config names the policy of a --repo/--repos run",
        ),
        (
            &["--repos", "missing.txt", "--commit"][..],
            "error: --repos missing.txt: cannot read",
        ),
    ] {
        let run = fleet.rotate(args, &IDENTITY);
        assert_eq!(run.status, 2, "{args:?}");
        assert!(run.stderr.starts_with(message), "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "");
    }
    assert_eq!(fleet.branches("api"), "");
}
