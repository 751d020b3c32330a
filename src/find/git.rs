//! Git as a source, read only: a commit's tree or the index, read as blobs from the object
//! store (never the working tree, so uncommitted edits, untracked and ignored files cannot
//! leak in and autocrlf or filters play no part). Works in bare repositories and with a
//! detached HEAD. Writing a commit is `rotate::commit`'s.

use crate::error::Error;
use crate::find::loose::{self, Objects};
use crate::find::objects::{
    is_regular, is_scanned, parse_tree, tree_line, Blob, Entry, Read, Store, MAX_BLOB_SIZE, SYMLINK,
};
use crate::find::scan::{self, Scan};
use crate::find::sweep::Stray;
use crate::find::walk::{self, Candidate, Skipped};
use crate::model::fs::display_path;
use crate::model::keys;
use crate::runtime::interrupt;
use git2::{ObjectType, Oid, Repository, Status};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Every object rekey reads is checked against its id by rekey itself, once per id and
/// thread (`find::loose` for loose objects, [`Store::packed`] for packed ones): a gate must
/// never judge another object's bytes as a file's. libgit2's own check (strict hash
/// verification) re-hashes with collision-detecting SHA-1 on every read, a blob holding a
/// key name once per path: a quarter of `check --staged` on a packed repository, for
/// nothing rekey does not check already. Turned off once, before any read.
fn verify_objects() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| git2::opts::strict_hash_verification(false));
}

/// A repository and the part of it the given paths select.
pub struct GitRepo {
    pub repo: Repository,
    /// The object store's directory, where loose objects are read from.
    objects: Objects,
    /// Only files below these repository-relative prefixes are scanned (empty: all).
    prefixes: Vec<String>,
}

impl GitRepo {
    /// Opens the repository holding `roots[0]` (relative to `cwd`).
    pub fn open(cwd: &Path, roots: &[PathBuf]) -> Result<GitRepo, Error> {
        let path = cwd.join(&roots[0]);
        verify_objects();
        let repo = Repository::discover(&path).map_err(|e| {
            format!(
                "{}: not inside a git repository ({})",
                roots[0].display(),
                e.message()
            )
        })?;
        let prefixes = prefixes(&repo, cwd, roots)?;
        Ok(GitRepo::new(repo, prefixes))
    }

    fn new(repo: Repository, prefixes: Vec<String>) -> GitRepo {
        let objects = Objects::new(repo.commondir().join("objects"));
        GitRepo {
            repo,
            objects,
            prefixes,
        }
    }

    /// Opens the repository at exactly `dir` (a clone's top or a bare repository), without
    /// searching the directories above it: `--repo DIR` names the repository itself.
    pub fn open_exact(dir: &Path) -> Result<GitRepo, Error> {
        let repo =
            Repository::open(dir).map_err(|e| format!("not a git repository ({})", e.message()))?;
        verify_objects();
        Ok(GitRepo::new(repo, Vec::new()))
    }

    /// The object store's directory, where loose objects are read from.
    pub(crate) fn objects(&self) -> &Objects {
        &self.objects
    }

    /// The working tree's top (the repository directory itself when bare).
    pub fn root(&self) -> PathBuf {
        let top = self.repo.workdir().unwrap_or_else(|| self.repo.path());
        top.canonicalize().unwrap_or_else(|_| top.to_owned())
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

    /// Every file of the repository, whatever paths it was opened with: the index is the
    /// whole next commit, wherever in the working tree `check --staged` runs.
    pub fn select_all(mut self) -> GitRepo {
        self.prefixes.clear();
        self
    }

    /// Resolves a branch, tag or commit id to a commit. The object a name points at is
    /// checked before libgit2 reads it: libgit2 never returns from reading a cut loose
    /// object.
    pub fn resolve(&self, base: &str) -> Result<Oid, Error> {
        let named = self
            .repo
            .resolve_reference_from_short_name(base)
            .ok()
            .and_then(|reference| reference.resolve().ok()?.target())
            .or_else(|| Oid::from_str(base).ok().filter(|_| base.len() == 40));
        if let Some(id) = named {
            self.object_bytes(id, ObjectType::Any)
                .map_err(|e| Error::new(format!("{base}: {e}")))?;
        }
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

    /// The content of the tree or commit `id`, checked against its id (see [`Store`]).
    fn object_bytes(&self, id: Oid, kind: ObjectType) -> Result<Vec<u8>, Error> {
        let odb = self
            .repo
            .odb()
            .map_err(|e| Error::new(format!("cannot open the object store: {}", e.message())))?;
        let store = Store::new(&odb, &self.objects, None);
        let object = store.object(id, kind)?;
        Ok(object.bytes().to_vec())
    }

    /// Every distinct content the file at the repository-relative `path` had in HEAD and
    /// the commits it descends from, newest first, reading at most `max_commits` commits:
    /// what a file said before it was edited. A commit or tree that cannot be read ends
    /// that line of the walk (a shallow clone's cut commits have no parents here).
    pub fn versions_of(&self, path: &str, max_commits: usize) -> Vec<Vec<u8>> {
        let Ok(head) = self.resolve("HEAD") else {
            return Vec::new();
        };
        let mut queue = std::collections::VecDeque::from([head]);
        let mut commits = HashSet::new();
        let mut blobs = HashSet::new();
        let mut versions = Vec::new();
        while let Some(id) = queue.pop_front() {
            if commits.len() >= max_commits || !commits.insert(id) {
                continue;
            }
            let Ok(commit) = self.object_bytes(id, ObjectType::Commit) else {
                continue;
            };
            // The header ends at the first empty line; parents are listed there.
            queue.extend(
                commit
                    .split(|b| *b == b'\n')
                    .take_while(|line| !line.is_empty())
                    .filter_map(|line| line.strip_prefix(b"parent "))
                    .filter_map(|hex| Oid::from_str(std::str::from_utf8(hex).ok()?).ok()),
            );
            let blob = tree_line(&commit).and_then(|tree| self.entry_at(tree, path));
            if let Some(blob) = blob.filter(|blob| blobs.insert(*blob)) {
                versions.extend(self.object_bytes(blob, ObjectType::Blob).ok());
            }
        }
        versions
    }

    /// The id of the entry at the `/`-separated `path` below the tree `tree`.
    fn entry_at(&self, tree: Oid, path: &str) -> Option<Oid> {
        let mut id = tree;
        for name in path.split('/') {
            let entries = self.tree_entries(id, path).ok()?;
            id = entries.into_iter().find(|entry| entry.name == name)?.id;
        }
        Some(id)
    }

    /// The tree of `commit`.
    fn tree_of(&self, commit: Oid) -> Result<Oid, Error> {
        let bytes = self.object_bytes(commit, ObjectType::Commit)?;
        tree_line(&bytes).ok_or_else(|| {
            Error::new(loose::corrupt(commit, "is a commit that names no tree").message)
        })
    }

    /// The entries of the tree `id` (at `display`).
    fn tree_entries(&self, id: Oid, display: &str) -> Result<Vec<Entry>, Error> {
        let bytes = self
            .object_bytes(id, ObjectType::Tree)
            .map_err(|e| Error::at(display, e.message))?;
        parse_tree(&bytes)
            .ok_or_else(|| Error::at(display, loose::corrupt(id, "is not a valid tree").message))
    }

    /// Every blob of `commit`'s tree that [`is_scanned`] takes, with its path.
    fn commit_blobs(&self, commit: Oid) -> Result<Vec<Blob>, Error> {
        let mut blobs = Vec::new();
        // Depth first with a stack of its own: a hostile tree nests deeper than a thread's
        // stack could recurse.
        let mut trees = vec![(String::new(), self.tree_of(commit)?)];
        while let Some((directory, id)) = trees.pop() {
            let display = if directory.is_empty() {
                "."
            } else {
                &directory
            };
            for entry in self.tree_entries(id, display)? {
                let path = format!("{directory}{}", entry.name);
                if entry.mode == 0o040000 {
                    trees.push((format!("{path}/"), entry.id));
                } else if is_scanned(entry.mode) {
                    blobs.push(Blob {
                        path,
                        id: entry.id,
                        mode: entry.mode,
                        staged_size: None,
                    });
                }
            }
        }
        Ok(blobs)
    }

    /// Scans every tracked regular file (and symlink) of `commit`'s tree. Paths are shown
    /// relative to the repository root; `exclude` takes such a path.
    pub fn scan_commit(&self, commit: Oid, exclude: &dyn Fn(&str) -> bool) -> Result<Scan, Error> {
        let blobs = self.commit_blobs(commit)?;
        self.scan_blobs(blobs, &|path| self.wanted(path) && !exclude(path))
    }

    /// Whether the paths it was opened with select less than the whole repository.
    pub fn is_narrowed(&self) -> bool {
        !self.prefixes.is_empty()
    }

    /// [`GitRepo::scan_commit`] of the files the paths it was opened with leave out: the
    /// rest of the repository.
    pub fn scan_commit_outside(
        &self,
        commit: Oid,
        exclude: &dyn Fn(&str) -> bool,
    ) -> Result<Scan, Error> {
        let blobs = self.commit_blobs(commit)?;
        self.scan_blobs(blobs, &|path| !self.wanted(path) && !exclude(path))
    }

    /// Scans the staged content of every regular file (and symlink) in the index: exactly
    /// what the next commit will hold, whatever the working tree says.
    pub fn scan_index(&self, exclude: &dyn Fn(&str) -> bool) -> Result<Scan, Error> {
        let index = self
            .repo
            .index()
            .map_err(|e| format!("cannot read the git index: {}", e.message()))?;
        let blobs = index
            .iter()
            .filter(|entry| is_scanned(entry.mode) && (entry.flags >> 12) & 0x3 == 0)
            .map(|entry| Blob {
                path: String::from_utf8_lossy(&entry.path).into_owned(),
                id: entry.id,
                mode: entry.mode,
                staged_size: Some(u64::from(entry.file_size)),
            })
            .collect();
        self.scan_blobs(blobs, &|path| self.wanted(path) && !exclude(path))
    }

    /// Scans the blobs whose path `selected` takes.
    fn scan_blobs(&self, blobs: Vec<Blob>, selected: &dyn Fn(&str) -> bool) -> Result<Scan, Error> {
        let blobs: Vec<Blob> = blobs
            .into_iter()
            .filter(|blob| selected(&blob.path))
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
        let objects = &self.objects;
        let workdir = self.repo.workdir().map(Path::to_owned);
        // Each blob is scanned as soon as it is read, against one budget for the run, so
        // that no more blobs are held than a working-tree scan would hold files.
        let budget = scan::Budget::default();
        let scan = keys::carried(|chunk: &&[Blob]| {
            scan_chunk(chunk, &location, objects, workdir.as_deref(), &budget)
        });
        let results = crate::runtime::parallel::map(&chunks, threads, scan);
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
        scan.swept = true;
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

    /// The bytes of `path` in `commit`'s tree, if it holds a regular file there. An object
    /// that cannot be read is an error, never "no such file": a policy file in a corrupt
    /// store must not read as no policy.
    pub fn read_at(&self, commit: Oid, path: &str) -> Result<Option<Vec<u8>>, Error> {
        let mut tree = self.tree_of(commit)?;
        let mut directory = String::new();
        let mut parts = path.split('/').peekable();
        while let Some(name) = parts.next() {
            let display = if directory.is_empty() {
                "."
            } else {
                &directory
            };
            let entries = self.tree_entries(tree, display)?;
            let Some(entry) = entries.into_iter().find(|entry| entry.name == name) else {
                return Ok(None);
            };
            directory = format!("{directory}{name}/");
            match (parts.peek().is_some(), entry.mode) {
                (true, 0o040000) => tree = entry.id,
                (false, mode) if is_regular(mode) => {
                    return self.read_blob(path, entry.id).map(Some);
                }
                // A policy committed as a symlink or a directory must not read as "none".
                (false, mode) => {
                    let kind = if mode == SYMLINK {
                        "a symlink"
                    } else {
                        "not a file"
                    };
                    return Err(Error::at(
                        path,
                        format!("is {kind} in the commit; rekey reads it only as a regular file: commit the file itself"),
                    ));
                }
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// The content of the blob `id` (at `path`), checked against its id.
    pub fn read_blob(&self, path: &str, id: Oid) -> Result<Vec<u8>, Error> {
        let odb = self.repo.odb().map_err(|e| Error::at(path, e.message()))?;
        let blob = Blob {
            path: path.to_owned(),
            id,
            mode: 0o100644,
            staged_size: None,
        };
        let store = Store::new(&odb, &self.objects, None);
        let read = store.read(&blob)?;
        let bytes = match read {
            Read::Loose(content) => content.bytes().to_vec(),
            Read::Packed(object) => object.data().to_vec(),
            Read::TooLarge(size) => {
                return Err(Error::at(
                    path,
                    format!(
                        "is {} MiB in git, over the {} MiB rekey reads from a blob",
                        size >> 20,
                        MAX_BLOB_SIZE >> 20
                    ),
                ))
            }
        };
        Ok(bytes)
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
pub(crate) struct JudgedBlob<'a> {
    pub candidate: Candidate<'a>,
    pub strays: Vec<Stray>,
}

/// A blob over [`MAX_BLOB_SIZE`]: not read, and not judged.
fn too_large_blob(path: &str, size: u64) -> JudgedBlob<'static> {
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

/// Sorts one blob's content as read, like a working-tree file's; what is parsed is parsed
/// from the content as read.
pub(crate) fn judge_read<'a>(blob: &Blob, read: &'a Read) -> JudgedBlob<'a> {
    let path = blob.path.as_str();
    let content = match read {
        Read::Loose(content) => content.bytes(),
        Read::Packed(packed) => packed.data(),
        Read::TooLarge(size) => return too_large_blob(path, *size),
    };
    // A symlink's blob is its target's path: no file to parse, but a token typed as the
    // target is still a token in the repository.
    if blob.mode == SYMLINK || content.len() as u64 > walk::MAX_FILE_SIZE {
        let candidate = if blob.mode != SYMLINK && keys::has_marker(content) {
            Candidate::Unjudged(walk::too_large(content.len() as u64, path))
        } else {
            Candidate::Nothing
        };
        // Too large to parse, not to sweep: a revoked token pasted into it still counts,
        // in UTF-16 text and binary data too, as in every other file.
        let strays = if memchr::memchr(0, content).is_some() {
            crate::find::binary::find(content).located(path, content)
        } else {
            crate::find::sweep::located(path, content, crate::find::sweep::find(content))
        };
        return JudgedBlob { candidate, strays };
    }
    let (candidate, strays) = walk::judge(
        Path::new(path),
        || path.to_owned(),
        content,
        walk::Sweep::On,
    );
    JudgedBlob { candidate, strays }
}

/// What one thread found in its share of the blobs: parsed files, unjudged ones, strays.
type Found = (Vec<scan::Outcome>, Vec<Skipped>, Vec<Stray>);

/// Reads and judges one thread's share of the blobs through its own handle on the
/// repository at `location` (a libgit2 repository is not shared between threads).
fn scan_chunk(
    chunk: &[Blob],
    location: &Path,
    objects: &Objects,
    workdir: Option<&Path>,
    budget: &scan::Budget,
) -> Result<Found, Error> {
    let reopen =
        |e: git2::Error| Error::new(format!("cannot open the repository again: {}", e.message()));
    let repo = Repository::open(location).map_err(reopen)?;
    let odb = repo.odb().map_err(reopen)?;
    let store = Store::new(&odb, objects, workdir);
    let mut found: Found = (Vec::new(), Vec::new(), Vec::new());
    let (outcomes, skipped, strays) = &mut found;
    // Blobs found to hold neither a key name nor a token-shaped string: the same content
    // under another path holds none either, and is not inflated again (a repository holds
    // many copies of a file; what a blob holds depends only on its id).
    let mut clean: HashSet<Oid> = HashSet::new();
    for blob in chunk {
        if clean.contains(&blob.id) {
            continue;
        }
        let read = store.read(blob)?;
        let mut judged = judge_read(blob, &read);
        match judged.candidate {
            Candidate::Parse(file) => {
                let mut scanned = budget.scan_file(file, &mut judged.strays);
                // Read again by its id when a rotation verifies and writes it.
                if let Ok(Some(file)) = &mut scanned {
                    file.blob = Some(blob.id);
                }
                outcomes.push(scanned);
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
    Ok(found)
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
