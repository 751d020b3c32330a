//! What a rotation narrower than its repository leaves: a rotation of some paths (or run
//! from a subdirectory) rewrites only those, while the rest of the repository — the
//! directory holding its own `.rekey.toml`, else the git top; with `--commit`, the whole
//! base tree — may still hold the old token. The rest is scanned too, so that the old token
//! stays under `[tokens] current` while a file there holds it, and so that nobody is told
//! to revoke a token the repository still uses.

use crate::error::Error;
use crate::find::git::GitRepo;
use crate::find::ignore_rules::Ignore;
use crate::find::scan::{self, Scan};
use crate::find::walk::Sweep;
use crate::judge::policy::{Policy, PolicyFile};
use crate::model::fs::{normalized, relative_path};
use crate::model::token::Fingerprint;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The rest of the repository, as far as the rotation's tokens go.
#[derive(Debug, Default)]
pub struct Outside {
    /// The repository's top as a path from the current directory (`.`, `..`): a rotation
    /// given it reaches every file.
    pub top: String,
    /// The files outside the rotation's paths that still hold a token it replaces (at a
    /// site, or anywhere in their bytes), sorted by path.
    pub holders: Vec<Holder>,
    /// Files there that could not be judged (too large, binary beside a key name, past the
    /// run's budget): they may hold the token too.
    pub unjudged: Vec<String>,
}

#[derive(Debug)]
pub struct Holder {
    /// As reports show paths: relative to the current directory (to the repository's top
    /// with `--commit`).
    pub path: String,
    pub tokens: BTreeSet<Fingerprint>,
}

impl Outside {
    /// The replaced tokens some file outside the rotation still holds.
    pub fn still_held(&self) -> BTreeSet<Fingerprint> {
        self.holders
            .iter()
            .flat_map(|holder| holder.tokens.iter().cloned())
            .collect()
    }
}

/// The rest of the repository a working-tree rotation of `roots` leaves out, or `None`
/// when the roots cover it (or no policy file or git top says where it ends).
pub fn of_working_tree(
    policy: &PolicyFile,
    roots: &[PathBuf],
    cwd: &Path,
    replaced: &BTreeSet<Fingerprint>,
    ignore: Ignore,
) -> Option<Outside> {
    let top = normalized(&policy.repository(cwd)?);
    let roots: Vec<PathBuf> = roots
        .iter()
        .map(|root| normalized(&cwd.join(root)))
        .collect();
    if roots.iter().any(|root| top.starts_with(root)) {
        return None;
    }
    let rotated = |path: &Path| {
        let path = normalized(&cwd.join(path));
        roots.iter().any(|root| path.starts_with(root))
    };
    let exclude = |path: &Path| rotated(path) || policy.excludes_walked(cwd, path);
    let top_shown = relative_path(cwd, &top);
    let scan = scan::scan_paths(
        &[PathBuf::from(&top_shown)],
        cwd,
        &exclude,
        Sweep::On,
        ignore,
    );
    Some(Outside::of(top_shown, &scan, replaced))
}

/// The rest of the base commit's tree a `--commit` rotation of some paths leaves out, or
/// `None` when it rotates the whole tree.
pub fn of_commit(
    repo: &GitRepo,
    base: git2::Oid,
    policy: Option<&Policy>,
    cwd: &Path,
    replaced: &BTreeSet<Fingerprint>,
) -> Result<Option<Outside>, Error> {
    if !repo.is_narrowed() {
        return Ok(None);
    }
    let scan = repo.scan_commit_outside(base, &|path| policy.is_some_and(|p| p.excludes(path)))?;
    let top = relative_path(cwd, &repo.root());
    Ok(Some(Outside::of(top, &scan, replaced)))
}

impl Outside {
    fn of(top: String, scan: &Scan, replaced: &BTreeSet<Fingerprint>) -> Outside {
        Outside {
            top,
            holders: scan
                .files_holding(replaced)
                .into_iter()
                .map(|(path, tokens)| Holder { path, tokens })
                .collect(),
            unjudged: scan.skipped.iter().map(|s| s.display.clone()).collect(),
        }
    }
}
