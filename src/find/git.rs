//! Git as a source, read only: a commit's tree or the index, read as blobs from the object
//! store (never the working tree, so uncommitted edits, untracked and ignored files cannot
//! leak in and autocrlf or filters play no part). Works in bare repositories and with a
//! detached HEAD. Writing a commit is `rotate::commit`'s.

use crate::error::Error;
use crate::find::scan::{self, Scan};
use crate::find::sweep::Stray;
use crate::find::walk::{self, Candidate, Skipped};
use crate::model::fs::display_path;
use crate::model::keys;
use crate::runtime::interrupt;
use git2::{ObjectType, Odb, Oid, Repository, Status, TreeWalkMode, TreeWalkResult};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// libgit2 re-hashes every object it reads with collision-detecting SHA-1, which was most
/// of the time of `check --staged` (git itself does not re-hash objects on an ordinary
/// read; `git fsck` is the tool for integrity). Turned off once, before any read.
fn read_objects_without_rehashing() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| git2::opts::strict_hash_verification(false));
}

/// A repository and the part of it the given paths select.
pub struct GitRepo {
    pub repo: Repository,
    /// Only files below these repository-relative prefixes are scanned (empty: all).
    prefixes: Vec<String>,
}

impl GitRepo {
    /// Opens the repository holding `roots[0]` (relative to `cwd`).
    pub fn open(cwd: &Path, roots: &[PathBuf]) -> Result<GitRepo, Error> {
        let path = cwd.join(&roots[0]);
        read_objects_without_rehashing();
        let repo = Repository::discover(&path).map_err(|e| {
            format!(
                "{}: not inside a git repository ({})",
                roots[0].display(),
                e.message()
            )
        })?;
        let prefixes = prefixes(&repo, cwd, roots)?;
        Ok(GitRepo { repo, prefixes })
    }

    /// Opens the repository at exactly `dir` (a clone's top or a bare repository), without
    /// searching the directories above it: `--repo DIR` names the repository itself.
    pub fn open_exact(dir: &Path) -> Result<GitRepo, Error> {
        let repo =
            Repository::open(dir).map_err(|e| format!("not a git repository ({})", e.message()))?;
        read_objects_without_rehashing();
        Ok(GitRepo {
            repo,
            prefixes: Vec::new(),
        })
    }

    /// The working tree's top (the repository directory itself when bare).
    pub fn root(&self) -> PathBuf {
        let top = self.repo.workdir().unwrap_or_else(|| self.repo.path());
        top.canonicalize().unwrap_or_else(|_| top.to_owned())
    }

    /// Resolves a branch, tag or commit id to a commit.
    pub fn resolve(&self, base: &str) -> Result<Oid, Error> {
        self.repo
            .revparse_single(base)
            .and_then(|object| object.peel_to_commit())
            .map(|commit| commit.id())
            .map_err(|e| {
                Error::new(format!(
                    "--base {base}: no such commit in this repository ({})",
                    e.message()
                ))
            })
    }

    fn wanted(&self, path: &str) -> bool {
        self.prefixes.is_empty()
            || self.prefixes.iter().any(|prefix| {
                path == prefix
                    || path
                        .strip_prefix(prefix.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
    }

    /// Scans every tracked regular file of `commit`'s tree. Paths are shown relative to the
    /// repository root; `exclude` takes such a path.
    pub fn scan_commit(&self, commit: Oid, exclude: &dyn Fn(&str) -> bool) -> Result<Scan, Error> {
        let tree = self
            .repo
            .find_commit(commit)
            .and_then(|commit| commit.tree())
            .map_err(|e| format!("cannot read the base commit's tree: {}", e.message()))?;
        let mut blobs = Vec::new();
        tree.walk(TreeWalkMode::PreOrder, |directory, entry| {
            if entry.kind() == Some(ObjectType::Blob) && is_regular(entry.filemode() as u32) {
                blobs.push(Blob {
                    path: format!("{directory}{}", entry.name().unwrap_or_default()),
                    id: entry.id(),
                    staged_size: None,
                });
            }
            TreeWalkResult::Ok
        })
        .map_err(|e| format!("cannot walk the base commit's tree: {}", e.message()))?;
        self.scan_blobs(blobs, exclude)
    }

    /// Scans the staged content of every regular file in the index: exactly what the next
    /// commit will hold, whatever the working tree says.
    pub fn scan_index(&self, exclude: &dyn Fn(&str) -> bool) -> Result<Scan, Error> {
        let index = self
            .repo
            .index()
            .map_err(|e| format!("cannot read the git index: {}", e.message()))?;
        let blobs = index
            .iter()
            .filter(|entry| is_regular(entry.mode) && (entry.flags >> 12) & 0x3 == 0)
            .map(|entry| Blob {
                path: String::from_utf8_lossy(&entry.path).into_owned(),
                id: entry.id,
                staged_size: Some(u64::from(entry.file_size)),
            })
            .collect();
        self.scan_blobs(blobs, exclude)
    }

    fn scan_blobs(&self, blobs: Vec<Blob>, exclude: &dyn Fn(&str) -> bool) -> Result<Scan, Error> {
        let blobs: Vec<Blob> = blobs
            .into_iter()
            .filter(|blob| self.wanted(&blob.path) && !exclude(&blob.path))
            .collect();
        let seen = blobs.len();
        let (leftover_blobs, blobs): (Vec<_>, Vec<_>) = blobs.into_iter().partition(|blob| {
            blob.path
                .rsplit('/')
                .next()
                .is_some_and(interrupt::is_leftover)
        });
        // Inflating blobs is the cost: each thread reads its share through its own handle
        // on the repository (a libgit2 repository is not shared between threads).
        let threads = crate::runtime::parallel::cores();
        let chunks: Vec<&[Blob]> = blobs.chunks(blobs.len().div_ceil(threads).max(1)).collect();
        let location = self.repo.path().to_owned();
        let workdir = self.repo.workdir().map(Path::to_owned);
        // Each blob is scanned as soon as it is read, against one budget for the run, so
        // that no more blobs are held than a working-tree scan would hold files.
        let budget = scan::Budget::default();
        let results = crate::runtime::parallel::map(&chunks, threads, |chunk| {
            let reopen = |e: git2::Error| {
                Error::new(format!("cannot open the repository again: {}", e.message()))
            };
            let repo = Repository::open(&location).map_err(reopen)?;
            let odb = repo.odb().map_err(reopen)?;
            let mut found = (Vec::new(), Vec::new(), Vec::new());
            let (outcomes, skipped, strays) = &mut found;
            // Blobs found to hold neither a key name nor a token-shaped string: the same
            // content under another path holds none either, and is not inflated again (a
            // repository holds many copies of a file; what a blob holds depends only on
            // its id).
            let mut clean: HashSet<Oid> = HashSet::new();
            for blob in chunk.iter() {
                if clean.contains(&blob.id) {
                    continue;
                }
                let mut judged = judge_blob(&repo, &odb, workdir.as_deref(), blob)?;
                match judged.candidate {
                    Candidate::Parse(file) => {
                        outcomes.push(budget.scan_file(file, &mut judged.strays))
                    }
                    Candidate::Unjudged(skip) => skipped.push(skip),
                    Candidate::Nothing if judged.strays.is_empty() => {
                        clean.insert(blob.id);
                    }
                    Candidate::Nothing => {}
                }
                budget.keep_strays(&mut judged.strays);
                strays.extend(judged.strays);
            }
            Ok::<_, Error>(found)
        });
        let mut outcomes = Vec::new();
        let mut skipped = Vec::new();
        let mut strays = Vec::new();
        for result in results {
            let (mut chunk_outcomes, mut chunk_skipped, mut chunk_strays) = result?;
            outcomes.append(&mut chunk_outcomes);
            skipped.append(&mut chunk_skipped);
            strays.append(&mut chunk_strays);
        }
        let mut scan = Scan::collect(outcomes, skipped);
        scan.files.sort_by(|a, b| a.display.cmp(&b.display));
        scan.skipped
            .sort_by(|a: &Skipped, b| a.display.cmp(&b.display));
        scan.files_seen = seen;
        scan.leftovers = leftover_blobs
            .into_iter()
            .map(|blob| (PathBuf::from(&blob.path), blob.path))
            .collect();
        scan.strays = strays;
        budget.settle(&mut scan, ".");
        Ok(scan)
    }

    /// Which of `paths` (repository-relative) have uncommitted edits: staged or in the
    /// working tree, compared with HEAD. A commit built from a commit's tree leaves those
    /// edits out, so the user must hear about them. A bare repository has none.
    pub fn uncommitted_edits(&self, paths: &[&str]) -> Vec<String> {
        if self.repo.is_bare() {
            return Vec::new();
        }
        let edited = Status::INDEX_MODIFIED
            | Status::INDEX_DELETED
            | Status::INDEX_RENAMED
            | Status::INDEX_TYPECHANGE
            | Status::WT_MODIFIED
            | Status::WT_DELETED
            | Status::WT_RENAMED
            | Status::WT_TYPECHANGE;
        paths
            .iter()
            .filter(|path| {
                self.repo
                    .status_file(Path::new(path))
                    .is_ok_and(|status| status.intersects(edited))
            })
            .map(|path| (*path).to_owned())
            .collect()
    }

    /// The bytes of `path` in `commit`'s tree, if it holds a regular file there.
    pub fn read_at(&self, commit: Oid, path: &str) -> Option<Vec<u8>> {
        let tree = self.repo.find_commit(commit).ok()?.tree().ok()?;
        let entry = tree.get_path(Path::new(path)).ok()?;
        let blob = self.repo.find_blob(entry.id()).ok()?;
        Some(blob.content().to_vec())
    }

    /// A commit's id as `git rev-parse --short` prints it: `core.abbrev` digits (7 by
    /// default), more when that many are ambiguous.
    pub fn short_id(&self, id: Oid) -> String {
        self.repo
            .find_object(id, None)
            .and_then(|object| object.short_id())
            .ok()
            .and_then(|short| short.as_str().map(str::to_owned))
            .unwrap_or_else(|| id.to_string())
    }
}

/// What one blob holds, for the scan.
/// The largest blob read from git: past the 8 MiB parsed, a blob is read whole to be
/// searched for key names and swept.
const MAX_BLOB_SIZE: u64 = 32 << 20;

struct JudgedBlob {
    candidate: Candidate,
    strays: Vec<Stray>,
}

/// Reads one blob and sorts it like a working-tree file; its bytes are copied only when a
/// scanner will parse it.
/// A blob over [`MAX_BLOB_SIZE`]: not read, and not judged.
fn too_large_blob(path: &str, size: usize) -> JudgedBlob {
    let reason = format!(
        "is {} MiB in git, over the {} MiB rekey reads from a blob: check the working tree \
         instead (where it is read in chunks), or exclude it in .rekey.toml [scan] exclude",
        size >> 20,
        MAX_BLOB_SIZE >> 20
    );
    JudgedBlob {
        candidate: Candidate::Unjudged(Skipped {
            display: path.to_owned(),
            reason,
        }),
        strays: Vec::new(),
    }
}

/// A regular file of a tree or the index, to be read from git.
struct Blob {
    path: String,
    id: Oid,
    /// The size the index recorded when the file was staged (its stat data, cut to 32 bits).
    staged_size: Option<u64>,
}

fn judge_blob(
    repo: &Repository,
    odb: &Odb,
    workdir: Option<&Path>,
    blob: &Blob,
) -> Result<JudgedBlob, Error> {
    let (path, id) = (blob.path.as_str(), blob.id);
    // A blob is read whole: one too large to hold is not read, and not judged. Its size
    // comes from the object's header, an extra read of a loose object, unless the index
    // and the working tree agree that the staged file is small (the index's size alone can
    // be anything: 0 for `git update-index --cacheinfo`, wrapped past 4 GiB).
    let cannot_read = |e: git2::Error| format!("{path}: cannot read the blob: {}", e.message());
    let known_small = blob.staged_size.is_some_and(|staged| {
        staged > 0
            && staged <= MAX_BLOB_SIZE / 2
            && workdir.is_some_and(|dir| {
                std::fs::symlink_metadata(dir.join(path)).is_ok_and(|m| m.len() == staged)
            })
    });
    if !known_small {
        let (size, _) = odb.read_header(id).map_err(cannot_read)?;
        if size as u64 > MAX_BLOB_SIZE {
            return Ok(too_large_blob(path, size));
        }
    }
    let blob = repo.find_blob(id).map_err(cannot_read)?;
    let content = blob.content();
    if content.len() as u64 > walk::MAX_FILE_SIZE {
        let candidate = if keys::has_marker(content) {
            Candidate::Unjudged(walk::too_large(content.len() as u64, path))
        } else {
            Candidate::Nothing
        };
        // Too large to parse, not to sweep: a revoked token pasted into it still counts.
        // Binary data is never swept, as in every other file.
        let strays = if memchr::memchr(0, content).is_some() {
            Vec::new()
        } else {
            crate::find::sweep::located(path, content, crate::find::sweep::find(content))
        };
        return Ok(JudgedBlob { candidate, strays });
    }
    let (candidate, strays) = walk::judge(
        Path::new(path),
        || path.to_owned(),
        content,
        walk::Sweep::On,
    );
    Ok(JudgedBlob { candidate, strays })
}

fn is_regular(mode: u32) -> bool {
    matches!(mode, 0o100644 | 0o100755)
}

/// The repository-relative paths `roots` name; the repository root itself means all files.
fn prefixes(repo: &Repository, cwd: &Path, roots: &[PathBuf]) -> Result<Vec<String>, Error> {
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
        prefixes.push(display_path(relative, Path::new("")));
    }
    Ok(prefixes)
}
