//! Many repositories in one run (`--repo DIR`, `--repos FILE`): which repositories are
//! named, and running work on each of them in parallel. Each repository's `HEAD` tree is
//! read from its object store (a clone or a bare mirror, never its working tree); which
//! policy applies to each is `judge::repos`'. A repository that cannot be read fails
//! alone: the others are still scanned, and the caller's exit status says that one failed.

use crate::error::Error;
use crate::model::fs::{display_path, read_regular};
use crate::model::keys;

use std::path::{Path, PathBuf};

/// A repository named on the command line.
#[derive(Clone, Debug)]
pub struct Repository {
    /// As reports show it: the path as given.
    pub label: String,
    pub dir: PathBuf,
}

/// The most a `--repos` list may hold: a path per line, for thousands of repositories.
const MAX_LIST_SIZE: u64 = 4 << 20;

/// The repositories `--repo` names and those listed in `--repos FILE` (one path per line,
/// relative to the list file; blank lines and `#` comments skipped).
pub fn named(dirs: &[PathBuf], list: Option<&Path>, cwd: &Path) -> Result<Vec<Repository>, Error> {
    let mut repositories: Vec<Repository> = dirs
        .iter()
        .map(|dir| Repository {
            label: display_path(dir, Path::new("")),
            dir: cwd.join(dir),
        })
        .collect();
    if let Some(list) = list {
        let path = cwd.join(list);
        let display = display_path(list, Path::new(""));
        // A regular file only, bounded: a FIFO named here would otherwise block the run.
        let bytes = read_regular(&path, MAX_LIST_SIZE)
            .map_err(|e| Error::new(format!("--repos {display}: {e}")))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::new(format!("--repos {display}: is not UTF-8")))?;
        let listed = repositories.len();
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
        // An empty list judges nothing; it must never fall back to the current directory.
        if repositories.len() == listed {
            return Err(Error::new(format!(
                "--repos {display}: lists no repository (one path per line): add the repositories to judge"
            )));
        }
    }
    Ok(repositories)
}

/// Runs `work` on each repository on its own thread, at most as many at once as there are
/// cores, and returns the results in the order given. Each result is built whole on its
/// thread, so nothing one repository prints can interleave with another's.
pub fn in_parallel<T: Send>(
    repositories: &[Repository],
    work: &(dyn Fn(&Repository) -> Result<T, Error> + Sync),
) -> Vec<Result<T, Error>> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut results = Vec::with_capacity(repositories.len());
    for chunk in repositories.chunks(workers.max(1)) {
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|repository| {
                    // A repository without a policy of its own scans with the run's names.
                    let work = keys::carried(work);
                    scope.spawn(move || work(repository))
                })
                .collect();
            for (handle, repository) in handles.into_iter().zip(chunk) {
                results.push(handle.join().unwrap_or_else(|_| {
                    Err(Error::new(format!(
                        "{}: stopped unexpectedly",
                        repository.label
                    )))
                }));
            }
        });
    }
    results
}
