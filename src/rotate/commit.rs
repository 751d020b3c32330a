//! The git write side of a `--commit` rotation: a new commit whose tree is the base tree
//! with exactly the rotated blobs replaced, on a new branch. HEAD, the index and the
//! working tree are never touched, so this works in bare repositories and with a detached
//! HEAD too. The commit is signed as git would sign it (see `sign`). Reading trees and
//! blobs is `find::git`'s.

use crate::error::Error;
use crate::find::git::GitRepo;
use crate::rotate::sign::{self, Signing};
use git2::build::TreeUpdateBuilder;
use git2::{FileMode, Oid, Repository, Signature};
use std::path::Path;
use zeroize::Zeroizing;

/// Refuses a branch name git would refuse, and a branch that already exists.
pub fn can_create_branch(repo: &GitRepo, branch: &str) -> Result<(), Error> {
    if !git2::Branch::name_is_valid(branch).unwrap_or(false) {
        return Err(Error::new(format!(
            "--branch {branch}: not a valid branch name"
        )));
    }
    if repo
        .repo
        .find_reference(&format!("refs/heads/{branch}"))
        .is_ok()
    {
        return Err(Error::new(format!(
            "branch {branch} already exists; nothing was committed: delete it or choose another name with --branch"
        )));
    }
    Ok(())
}

/// Commits `files` (repository-relative paths) on top of the base commit, each with the new
/// bytes `content` gives for its index (made one at a time: a rotation holds no file's
/// bytes longer than it needs them), and points a new branch `branch` at the commit, signed
/// when `signing` and git's configuration say so. Nothing else is moved; when signing
/// fails, no commit is written and no branch made (the new blobs and trees stay
/// unreachable, as after a failed `git commit -S`, until git's garbage collection).
pub fn commit(
    repo: &GitRepo,
    base: Oid,
    branch: &str,
    message: &str,
    files: &[&str],
    content: &dyn Fn(usize) -> Result<Zeroizing<Vec<u8>>, Error>,
    signing: Signing,
) -> Result<Oid, Error> {
    can_create_branch(repo, branch)?;
    let (author, committer) = identity(&repo.repo)?;
    let signer = signer(&repo.repo, signing, &committer)?;
    let base = repo
        .repo
        .find_commit(base)
        .map_err(|e| format!("cannot read the base commit: {}", e.message()))?;
    let base_tree = base
        .tree()
        .map_err(|e| format!("cannot read the base commit's tree: {}", e.message()))?;
    let mut update = TreeUpdateBuilder::new();
    for (index, path) in files.iter().enumerate() {
        let bytes = content(index)?;
        let entry = base_tree
            .get_path(Path::new(path))
            .map_err(|e| format!("{path}: not in the base tree ({})", e.message()))?;
        let mode = if entry.filemode() == 0o100755 {
            FileMode::BlobExecutable
        } else {
            FileMode::Blob
        };
        let blob = repo
            .repo
            .blob(&bytes)
            .map_err(|e| format!("{path}: cannot store the rotated blob: {}", e.message()))?;
        update.upsert(*path, blob, mode);
    }
    let fail = |what: &str, e: git2::Error| format!("cannot {what}: {}", e.message());
    let tree_id = update
        .create_updated(&repo.repo, &base_tree)
        .map_err(|e| fail("build the new tree", e))?;
    let tree = repo
        .repo
        .find_tree(tree_id)
        .map_err(|e| fail("read the new tree", e))?;
    let commit = match signer {
        None => repo
            .repo
            .commit(None, &author, &committer, message, &tree, &[&base])
            .map_err(|e| fail("write the commit", e))?,
        Some(signer) => {
            let buffer = repo
                .repo
                .commit_create_buffer(&author, &committer, message, &tree, &[&base])
                .map_err(|e| fail("build the commit", e))?;
            // The identity and message are UTF-8 strings, so the buffer is too.
            let buffer = String::from_utf8_lossy(&buffer);
            let signature = signer.sign(&buffer)?;
            // libgit2 ends the header with a newline of its own; one left on the signature
            // would add a blank continuation line git does not write.
            repo.repo
                .commit_signed(&buffer, signature.trim_end_matches('\n'), None)
                .map_err(|e| fail("write the signed commit", e))?
        }
    };
    repo.repo
        .reference(
            &format!("refs/heads/{branch}"),
            commit,
            false,
            "rekey: rotate delegate token",
        )
        .map_err(|e| fail(&format!("create branch {branch}"), e))?;
    Ok(commit)
}

/// The signer git's configuration names, read before anything is written so that a
/// signing setup that cannot work refuses first.
fn signer(
    repo: &Repository,
    signing: Signing,
    committer: &Signature,
) -> Result<Option<sign::Signer>, Error> {
    let config = repo
        .config()
        .map_err(|e| format!("cannot read git's configuration: {}", e.message()))?;
    let ident = format!(
        "{} <{}>",
        String::from_utf8_lossy(committer.name_bytes()),
        String::from_utf8_lossy(committer.email_bytes())
    );
    let dir = repo.workdir().unwrap_or_else(|| repo.path());
    sign::signer(&config, signing, &ident, dir)
}

/// Author and committer as git itself finds them: `GIT_AUTHOR_*` / `GIT_COMMITTER_*`, then
/// `user.name` / `user.email` from the repository, global and system config. No identity
/// is ever invented.
fn identity(repo: &Repository) -> Result<(Signature<'static>, Signature<'static>), Error> {
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
        _ => Err(Error::new("no git identity to commit with: set GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL, GIT_COMMITTER_NAME and GIT_COMMITTER_EMAIL, or run `git config user.name …` and `git config user.email …`; nothing was committed".to_owned())),
    }
}
