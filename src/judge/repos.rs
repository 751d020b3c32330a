//! Many repositories' `HEAD`s judged in one run, each under the policy that applies to it:
//! the one named by `--config` / `REKEY_CONFIG` (an organisation's list), or else the
//! `.rekey.toml` committed at the repository's root. Which repositories are named, and
//! running work on each in parallel, is `find::repos`'.

use crate::error::Error;
use crate::find::git::GitRepo;
use crate::find::repos::{in_parallel, Repository};
use crate::find::scan::Scan;
use crate::judge::policy::{self, Policy};

/// One repository's `HEAD`, scanned.
pub struct Scanned {
    pub scan: Scan,
    /// The repository's own policy, when `--config` / `REKEY_CONFIG` named none.
    pub policy: Option<Policy>,
    pub head: git2::Oid,
}

/// Scans each repository's `HEAD`, in parallel, in the order given. `own_policy`: read each
/// repository's committed `.rekey.toml`.
pub fn scan_all(repositories: &[Repository], own_policy: bool) -> Vec<Result<Scanned, Error>> {
    in_parallel(repositories, &|repository| scan_one(repository, own_policy))
}

fn scan_one(repository: &Repository, own_policy: bool) -> Result<Scanned, Error> {
    let label = &repository.label;
    let repo = GitRepo::open_exact(&repository.dir).map_err(|e| format!("{label}: {e}"))?;
    let head = repo
        .resolve("HEAD")
        .map_err(|_| format!("{label}: HEAD does not name a commit (an empty repository?)"))?;
    let policy = if own_policy {
        committed_policy(&repo, head, repository)?
    } else {
        None
    };
    if own_policy {
        // Its own key names, or none: never another repository's.
        Policy::install_key_names_of(policy.as_ref());
    }
    let scan = repo
        .scan_commit(head, &|path| {
            path == policy::FILE_NAME || policy.as_ref().is_some_and(|p| p.excludes(path))
        })
        .map_err(|e| format!("{label}: {e}"))?;
    Ok(Scanned { scan, policy, head })
}

/// The `.rekey.toml` committed at the root of `HEAD`; the files it extends are read from
/// the disk, relative to the repository's directory.
pub fn committed_policy(
    repo: &GitRepo,
    head: git2::Oid,
    repository: &Repository,
) -> Result<Option<Policy>, Error> {
    let read = repo
        .read_at(head, policy::FILE_NAME)
        .map_err(|e| format!("{}: {e}", repository.label))?;
    let Some(bytes) = read else {
        return Ok(None);
    };
    let display = format!("{}:{}", repository.label, policy::FILE_NAME);
    let text = String::from_utf8(bytes).map_err(|_| format!("{display}: is not UTF-8"))?;
    let base = repository.dir.join(policy::FILE_NAME);
    Policy::parse_extending(&text, &display, &base).map(Some)
}
