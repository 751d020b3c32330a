//! Many repositories in one run (`--repo DIR`, `--repos FILE`): each repository's `HEAD`
//! tree is read from its object store (a clone or a bare mirror, never its working tree),
//! all of them in parallel, each under the policy that applies to it: the one named by
//! `--config` / `REKEY_CONFIG` (an organisation's list), or else the `.rekey.toml` committed
//! at the repository's root. A repository that cannot be read fails alone: the others are
//! still scanned, and the caller's exit status says that one failed.

use crate::engine::Scan;
use crate::git::GitRepo;
use crate::policy::{self, Policy};
use crate::source;
use std::path::{Path, PathBuf};

/// A repository named on the command line.
#[derive(Clone, Debug)]
pub struct Repository {
    /// As reports show it: the path as given.
    pub label: String,
    pub dir: PathBuf,
}

/// One repository's `HEAD`, scanned.
pub struct Scanned {
    pub scan: Scan,
    /// The repository's own policy, when `--config` / `REKEY_CONFIG` named none.
    pub policy: Option<Policy>,
    pub head: git2::Oid,
}

/// The repositories `--repo` names and those listed in `--repos FILE` (one path per line,
/// relative to the list file; blank lines and `#` comments skipped).
pub fn named(dirs: &[PathBuf], list: Option<&Path>, cwd: &Path) -> Result<Vec<Repository>, String> {
    let mut repositories: Vec<Repository> = dirs
        .iter()
        .map(|dir| Repository {
            label: source::display_path(dir, Path::new("")),
            dir: cwd.join(dir),
        })
        .collect();
    if let Some(list) = list {
        let path = cwd.join(list);
        let display = source::display_path(list, Path::new(""));
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("--repos {display}: cannot read: {e}"))?;
        let base = path.parent().unwrap_or(cwd).to_owned();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            repositories.push(Repository {
                label: line.to_owned(),
                dir: base.join(line),
            });
        }
    }
    Ok(repositories)
}

/// Scans each repository's `HEAD`, in parallel, in the order given. `own_policy`: read each
/// repository's committed `.rekey.toml`.
pub fn scan_all(repositories: &[Repository], own_policy: bool) -> Vec<Result<Scanned, String>> {
    in_parallel(repositories, &|repository| scan_one(repository, own_policy))
}

/// Runs `work` on each repository on its own thread, at most as many at once as there are
/// cores, and returns the results in the order given. Each result is built whole on its
/// thread, so nothing one repository prints can interleave with another's.
pub fn in_parallel<T: Send>(
    repositories: &[Repository],
    work: &(dyn Fn(&Repository) -> Result<T, String> + Sync),
) -> Vec<Result<T, String>> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut results = Vec::with_capacity(repositories.len());
    for chunk in repositories.chunks(workers.max(1)) {
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|repository| scope.spawn(move || work(repository)))
                .collect();
            for (handle, repository) in handles.into_iter().zip(chunk) {
                results.push(handle.join().unwrap_or_else(|_| {
                    Err(format!("{}: stopped unexpectedly", repository.label))
                }));
            }
        });
    }
    results
}

fn scan_one(repository: &Repository, own_policy: bool) -> Result<Scanned, String> {
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
    let scan = repo
        .scan_commit(head, &|path| {
            path == policy::FILE_NAME || policy.as_ref().is_some_and(|p| p.excludes(path))
        })
        .map_err(|e| format!("{label}: {e}"))?;
    Ok(Scanned { scan, policy, head })
}

/// The `.rekey.toml` committed at the root of `HEAD`; the files it extends are read from
/// the disk, relative to the repository's directory.
fn committed_policy(
    repo: &GitRepo,
    head: git2::Oid,
    repository: &Repository,
) -> Result<Option<Policy>, String> {
    let Some(bytes) = repo.read_at(head, policy::FILE_NAME) else {
        return Ok(None);
    };
    let display = format!("{}:{}", repository.label, policy::FILE_NAME);
    let text = String::from_utf8(bytes).map_err(|_| format!("{display}: is not UTF-8"))?;
    let base = repository.dir.join(policy::FILE_NAME);
    Policy::parse_extending(&text, &display, &base).map(Some)
}
