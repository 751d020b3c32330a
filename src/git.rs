//! GitOps mode: the source is a commit's tree read as blobs from the object store (never the
//! working tree, so uncommitted edits, untracked and ignored files cannot leak in and
//! autocrlf or filters play no part), and the apply stage writes a new commit whose tree is
//! the base tree with exactly the rotated blobs replaced, on a new branch. HEAD, the index
//! and the working tree are never touched, so this works in bare repositories and with a
//! detached HEAD too.

use crate::engine::{self, Scan};
use crate::source::{self, Skipped};
use git2::build::TreeUpdateBuilder;
use git2::{FileMode, ObjectType, Oid, Repository, Signature, TreeWalkMode, TreeWalkResult};
use std::path::{Path, PathBuf};

/// A repository and the commit a rotation starts from.
pub struct Base {
    pub repo: Repository,
    pub commit: Oid,
    /// Only files below these repository-relative prefixes are scanned (empty: all).
    prefixes: Vec<String>,
}

/// Opens the repository holding `path` and resolves `base` (a branch, tag or commit id).
pub fn open(path: &Path, base: &str, cwd: &Path, roots: &[PathBuf]) -> Result<Base, String> {
    let repo = Repository::discover(path).map_err(|e| {
        format!(
            "{}: not inside a git repository ({}); --commit needs one",
            path.display(),
            e.message()
        )
    })?;
    let commit = repo
        .revparse_single(base)
        .and_then(|object| object.peel_to_commit())
        .map_err(|e| {
            format!(
                "--base {base}: no such commit in this repository ({})",
                e.message()
            )
        })?
        .id();
    let prefixes = prefixes(&repo, cwd, roots)?;
    Ok(Base {
        repo,
        commit,
        prefixes,
    })
}

/// The repository-relative paths `roots` name; the repository root itself means all files.
fn prefixes(repo: &Repository, cwd: &Path, roots: &[PathBuf]) -> Result<Vec<String>, String> {
    let top = repo.workdir().unwrap_or_else(|| repo.path());
    let top = top.canonicalize().unwrap_or_else(|_| top.to_owned());
    let mut prefixes = Vec::new();
    for root in roots {
        let absolute = cwd.join(root);
        let absolute = absolute.canonicalize().unwrap_or(absolute);
        let relative = absolute.strip_prefix(&top).map_err(|_| {
            format!(
                "{}: lies outside the repository at {}",
                root.display(),
                top.display()
            )
        })?;
        if relative.as_os_str().is_empty() {
            return Ok(Vec::new());
        }
        prefixes.push(source::display_path(relative, Path::new("")));
    }
    Ok(prefixes)
}

impl Base {
    fn wanted(&self, path: &str) -> bool {
        self.prefixes.is_empty()
            || self.prefixes.iter().any(|prefix| {
                path == prefix
                    || path
                        .strip_prefix(prefix.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
    }

    /// Scans every tracked regular file of the base commit's tree. Paths are shown
    /// relative to the repository root.
    pub fn scan(&self) -> Result<Scan, String> {
        let tree = self
            .repo
            .find_commit(self.commit)
            .and_then(|commit| commit.tree())
            .map_err(|e| format!("cannot read the base commit's tree: {}", e.message()))?;
        let mut blobs = Vec::new();
        tree.walk(TreeWalkMode::PreOrder, |directory, entry| {
            let regular = matches!(entry.filemode(), 0o100644 | 0o100755);
            if entry.kind() == Some(ObjectType::Blob) && regular {
                let path = format!("{directory}{}", entry.name().unwrap_or_default());
                if self.wanted(&path) {
                    blobs.push((path, entry.id()));
                }
            }
            TreeWalkResult::Ok
        })
        .map_err(|e| format!("cannot walk the base commit's tree: {}", e.message()))?;
        let mut outcomes = Vec::new();
        let mut skipped = Vec::new();
        for (path, id) in blobs {
            let blob = self
                .repo
                .find_blob(id)
                .map_err(|e| format!("{path}: cannot read the blob: {}", e.message()))?;
            if let Some(skip) = source::too_large(blob.size() as u64, &path) {
                skipped.push(skip);
                continue;
            }
            let file = source::candidate(PathBuf::from(&path), path, blob.content().to_vec());
            if let Some(file) = file {
                outcomes.push(engine::scan_file(file));
            }
        }
        let mut scan = Scan::collect(outcomes, skipped);
        scan.files.sort_by(|a, b| a.display.cmp(&b.display));
        scan.skipped
            .sort_by(|a: &Skipped, b| a.display.cmp(&b.display));
        Ok(scan)
    }

    /// Commits `files` (repository-relative path and new bytes) on top of the base commit
    /// and points a new branch `branch` at the commit. Nothing else is moved.
    pub fn commit(
        &self,
        branch: &str,
        message: &str,
        files: &[(&str, &[u8])],
    ) -> Result<Oid, String> {
        let reference = format!("refs/heads/{branch}");
        if !git2::Branch::name_is_valid(branch).unwrap_or(false) {
            return Err(format!("--branch {branch}: not a valid branch name"));
        }
        if self.repo.find_reference(&reference).is_ok() {
            return Err(format!(
                "branch {branch} already exists; nothing was committed: delete it or choose another name with --branch"
            ));
        }
        let (author, committer) = identity(&self.repo)?;
        let base = self
            .repo
            .find_commit(self.commit)
            .map_err(|e| format!("cannot read the base commit: {}", e.message()))?;
        let base_tree = base
            .tree()
            .map_err(|e| format!("cannot read the base commit's tree: {}", e.message()))?;
        let mut update = TreeUpdateBuilder::new();
        for (path, bytes) in files {
            let entry = base_tree
                .get_path(Path::new(path))
                .map_err(|e| format!("{path}: not in the base tree ({})", e.message()))?;
            let mode = if entry.filemode() == 0o100755 {
                FileMode::BlobExecutable
            } else {
                FileMode::Blob
            };
            let blob = self
                .repo
                .blob(bytes)
                .map_err(|e| format!("{path}: cannot store the rotated blob: {}", e.message()))?;
            update.upsert(*path, blob, mode);
        }
        let fail = |what: &str, e: git2::Error| format!("cannot {what}: {}", e.message());
        let tree_id = update
            .create_updated(&self.repo, &base_tree)
            .map_err(|e| fail("build the new tree", e))?;
        let tree = self
            .repo
            .find_tree(tree_id)
            .map_err(|e| fail("read the new tree", e))?;
        let commit = self
            .repo
            .commit(None, &author, &committer, message, &tree, &[&base])
            .map_err(|e| fail("write the commit", e))?;
        self.repo
            .reference(&reference, commit, false, "rekey: rotate delegate token")
            .map_err(|e| fail(&format!("create branch {branch}"), e))?;
        Ok(commit)
    }
}

/// Author and committer as git itself finds them: `GIT_AUTHOR_*` / `GIT_COMMITTER_*`, then
/// `user.name` / `user.email` from the repository, global and system config. No identity
/// is ever invented.
fn identity(repo: &Repository) -> Result<(Signature<'static>, Signature<'static>), String> {
    let config = repo.config().ok();
    let configured = |key: &str| config.as_ref().and_then(|c| c.get_string(key).ok());
    let from_env = |key: &str| std::env::var(key).ok().filter(|v| !v.trim().is_empty());
    let person = |role: &str| -> Option<Signature<'static>> {
        let upper = role.to_ascii_uppercase();
        let name = from_env(&format!("GIT_{upper}_NAME")).or_else(|| configured("user.name"))?;
        let email = from_env(&format!("GIT_{upper}_EMAIL")).or_else(|| configured("user.email"))?;
        Signature::now(&name, &email).ok()
    };
    match (person("author"), person("committer")) {
        (Some(author), Some(committer)) => Ok((author, committer)),
        _ => Err("no git identity to commit with: set GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL, GIT_COMMITTER_NAME and GIT_COMMITTER_EMAIL, or run `git config user.name …` and `git config user.email …`; nothing was committed".to_owned()),
    }
}
