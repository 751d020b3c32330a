//! Where files come from: a parallel walk of the working tree with the `ignore` crate
//! (`.gitignore` respected even outside a git repository, hidden files included, `.git` never
//! entered, symlinks not followed), with each file read, size-checked, binary-checked and
//! prefiltered on its worker thread. Yields `(path, bytes)` for the engine to scan.

use crate::apply;
use crate::keys;
use aho_corasick::AhoCorasick;
use ignore::{WalkBuilder, WalkState};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

/// Files larger than this are reported as skipped rather than read.
pub const MAX_FILE_SIZE: u64 = 8 * 1024 * 1024;

/// One candidate file: it holds at least one key name.
pub struct SourceFile {
    /// The path to open.
    pub path: PathBuf,
    /// The path as reports show it: relative to the current directory, with `/`.
    pub display: String,
    pub bytes: Vec<u8>,
}

/// A file the walk could not or would not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub display: String,
    pub reason: String,
    /// A read failure is an error; a size skip is a notice.
    pub is_error: bool,
}

/// What a walk found: whatever `inspect` made of each candidate file, and the skips.
pub struct Walked<T> {
    pub files: Vec<T>,
    pub skipped: Vec<Skipped>,
    /// Regular files looked at, candidates or not (excluded ones not counted).
    pub seen: usize,
    /// rekey's own temp files left by an interrupted run: never scanned, always reported.
    pub leftovers: Vec<(PathBuf, String)>,
}

static MARKERS: LazyLock<AhoCorasick> =
    LazyLock::new(|| AhoCorasick::new(keys::ALL).expect("key names are valid patterns"));

/// True when `bytes` contains any key name: only such files are parsed.
pub fn has_marker(bytes: &[u8]) -> bool {
    MARKERS.is_match(bytes)
}

/// Walks `roots` in parallel, passes over files `exclude` names, runs `inspect` on each
/// candidate file on the worker thread that read it, and returns the results sorted by
/// `sort_key` so output never depends on timing.
pub fn walk<T: Send>(
    roots: &[PathBuf],
    cwd: &Path,
    exclude: &(dyn Fn(&Path) -> bool + Sync),
    inspect: &(dyn Fn(SourceFile) -> T + Sync),
    sort_key: fn(&T) -> &str,
) -> Walked<T> {
    let found = Mutex::new(Walked {
        files: Vec::new(),
        skipped: Vec::new(),
        seen: 0,
        leftovers: Vec::new(),
    });
    let mut builder = WalkBuilder::new(&roots[0]);
    for root in &roots[1..] {
        builder.add(root);
    }
    builder
        .hidden(false)
        .require_git(false)
        .follow_links(false)
        .filter_entry(|entry| entry.file_name() != ".git");
    builder.build_parallel().run(|| {
        let found = &found;
        Box::new(move |entry| {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    let display = error_path(&error)
                        .map(|p| display_path(p, cwd))
                        .unwrap_or_default();
                    let skipped = Skipped {
                        display,
                        reason: error.to_string(),
                        is_error: true,
                    };
                    found.lock().unwrap().skipped.push(skipped);
                    return WalkState::Continue;
                }
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) || exclude(entry.path()) {
                return WalkState::Continue;
            }
            if entry.file_name().to_str().is_some_and(apply::is_leftover) {
                let display = display_path(entry.path(), cwd);
                let leftover = (entry.path().to_owned(), display);
                found.lock().unwrap().leftovers.push(leftover);
                return WalkState::Continue;
            }
            let outcome = read_candidate(entry.path(), cwd).map(|file| file.map(inspect));
            let mut found = found.lock().unwrap();
            found.seen += 1;
            match outcome {
                Ok(Some(result)) => found.files.push(result),
                Ok(None) => {}
                Err(skipped) => found.skipped.push(skipped),
            }
            WalkState::Continue
        })
    });
    let mut walked = found.into_inner().unwrap();
    walked.files.sort_by(|a, b| sort_key(a).cmp(sort_key(b)));
    // A file named twice (`rekey scan k8s k8s/a.yaml`) is reported once.
    walked.files.dedup_by(|a, b| sort_key(a) == sort_key(b));
    walked.skipped.sort_by(|a, b| a.display.cmp(&b.display));
    walked.leftovers.sort();
    walked
}

fn read_candidate(path: &Path, cwd: &Path) -> Result<Option<SourceFile>, Skipped> {
    let display = display_path(path, cwd);
    let unreadable = |e: std::io::Error| Skipped {
        display: display.clone(),
        reason: format!("cannot read: {e}"),
        is_error: true,
    };
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if let Some(skipped) = too_large(size, &display) {
        return Err(skipped);
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    Ok(candidate(path.to_owned(), display, bytes))
}

/// Why a path could not be read as a regular file.
#[derive(Debug)]
pub enum ReadError {
    /// A FIFO, device, socket, directory or symlink: never opened for reading, so it can
    /// neither block rekey nor feed it endless bytes.
    NotRegular(&'static str),
    /// Larger than the limit the caller gave.
    TooLarge(u64),
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotRegular(what) => write!(f, "is {what}, not a regular file"),
            ReadError::TooLarge(size) => write!(f, "is {size} bytes, over the limit"),
            ReadError::Io(error) => write!(f, "cannot read: {error}"),
        }
    }
}

/// Reads a regular file of at most `limit` bytes. The file is opened without following a
/// symlink and without blocking (a FIFO would otherwise wait forever for a writer), then
/// checked to be a regular file on the open descriptor, and read no further than `limit`.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|error| match error.raw_os_error() {
            Some(libc::ELOOP) => ReadError::NotRegular("a symlink"),
            _ => ReadError::Io(error),
        })?;
    let metadata = file.metadata().map_err(ReadError::Io)?;
    if !metadata.is_file() {
        return Err(ReadError::NotRegular(kind_of(&metadata.file_type())));
    }
    if metadata.len() > limit {
        return Err(ReadError::TooLarge(metadata.len()));
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    // The file may grow between the stat and the read: never read past the limit.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

/// What kind of thing a non-regular file is, for messages.
pub fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symlink"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "a device"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// The size check every source applies before reading a file.
pub fn too_large(size: u64, display: &str) -> Option<Skipped> {
    (size > MAX_FILE_SIZE).then(|| Skipped {
        display: display.to_owned(),
        reason: format!(
            "skipped: {} MiB is over the {} MiB limit",
            size / (1024 * 1024),
            MAX_FILE_SIZE / (1024 * 1024)
        ),
        is_error: false,
    })
}

/// A file worth parsing: not binary (no NUL byte) and holding a key name.
pub fn candidate(path: PathBuf, display: String, bytes: Vec<u8>) -> Option<SourceFile> {
    (!bytes.contains(&0) && has_marker(&bytes)).then_some(SourceFile {
        path,
        display,
        bytes,
    })
}

fn error_path(error: &ignore::Error) -> Option<&Path> {
    match error {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => None,
    }
}

/// `path` relative to `cwd` when it lies below it, with `/` separators and no `./`.
pub fn display_path(path: &Path, cwd: &Path) -> String {
    let relative = path.strip_prefix(cwd).unwrap_or(path);
    let text = relative
        .to_string_lossy()
        .replace(std::path::MAIN_SEPARATOR, "/");
    let mut trimmed = text.as_str();
    while let Some(rest) = trimmed.strip_prefix("./") {
        trimmed = rest;
    }
    trimmed.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_paths_are_relative_with_slashes() {
        let cwd = Path::new("/repo");
        assert_eq!(
            display_path(Path::new("/repo/k8s/a.yaml"), cwd),
            "k8s/a.yaml"
        );
        assert_eq!(display_path(Path::new("./k8s/a.yaml"), cwd), "k8s/a.yaml");
        assert_eq!(
            display_path(Path::new("/other/a.yaml"), cwd),
            "/other/a.yaml"
        );
    }

    #[test]
    fn prefilter_matches_key_names_only() {
        assert!(has_marker(b"x:\n  delegateToken: abc\n"));
        assert!(has_marker(b"- name: ACCOUNT_SECRET"));
        assert!(!has_marker(b"existingDelegateToken: my-secret\n"));
    }
}
