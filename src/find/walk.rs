//! Where files come from: a parallel walk of the working tree with the `ignore` crate
//! (`.gitignore` respected even outside a git repository, hidden files included, `.git` never
//! entered, symlinks not followed), with each file read, size-checked, binary-checked and
//! prefiltered on its worker thread. Yields `(path, bytes)` for the engine to scan.

use crate::find::binary;
use crate::find::formats::Format;
use crate::find::hidden;
use crate::find::ignore_rules::{Ignore, IgnoreRules, Ignored};
use crate::find::large::{has_utf16_marker, stream_large};
pub use crate::find::sweep::Sweep;
use crate::find::sweep::{self, Stray};
use crate::model::fs::{display_path, open_without_following, ReadError};
use crate::model::keys;
use crate::runtime::interrupt;
use ignore::{WalkBuilder, WalkState};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Files larger than this are not parsed: they are read in bounded chunks, searched for
/// key names (one that holds a key name is reported as not judged) and swept.
pub const MAX_FILE_SIZE: u64 = 8 * 1024 * 1024;

/// One candidate file: it holds at least one key name, or (with none) loads Secrets whole.
/// Its bytes are borrowed from the buffer they were read into when they can be: a file is
/// parsed where it was read, and what the run keeps of it never includes them.
pub struct SourceFile<'a> {
    /// The path to open.
    pub path: PathBuf,
    /// The path as reports show it: relative to the current directory, with `/`.
    pub display: String,
    pub bytes: Cow<'a, [u8]>,
    /// How many key names stand in `bytes` (see [`keys::marker_count`]): counted once, where the
    /// file is judged.
    pub key_names: usize,
}

impl<'a> SourceFile<'a> {
    pub fn new(path: PathBuf, display: String, bytes: impl Into<Cow<'a, [u8]>>) -> SourceFile<'a> {
        let bytes = bytes.into();
        let key_names = keys::marker_count(&bytes);
        SourceFile {
            path,
            display,
            bytes,
            key_names,
        }
    }
}

/// A file that could hold a site but that rekey could not judge: unreadable, over the
/// size it parses, binary or UTF-16 beside a key name, not UTF-8. `check` reports each as
/// an `unchecked-file` finding; it is never passed over silently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub display: String,
    pub reason: String,
}

/// What a walk found: whatever `inspect` made of each candidate file, and the skips.
pub struct Walked<T> {
    pub files: Vec<T>,
    pub skipped: Vec<Skipped>,
    /// Regular files looked at, candidates or not (excluded ones not counted).
    pub seen: usize,
    /// rekey's own temp files left by an interrupted run: never scanned, always reported.
    pub leftovers: Vec<(PathBuf, String)>,
    /// Token-shaped strings in every file (text, UTF-16 or binary), sites included (the
    /// engine leaves those out).
    pub strays: Vec<Stray>,
    /// What the ignore rules left out.
    pub ignored: Ignored,
}

/// How a walk reads the tree: whether it sweeps every file, whether it keeps to the
/// ignore rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalkOptions {
    pub sweep: Sweep,
    pub ignore: Ignore,
}

/// Walks `roots` in parallel, passes over files `exclude` names, runs `inspect` on each
/// candidate file on the worker thread that read it (with the file's strays, which it may
/// thin), hands every file's strays to `keep_strays` (which may drop them), and returns the results sorted by `sort_key` so output never
/// depends on timing.
pub fn walk<T: Send>(
    roots: &[PathBuf],
    cwd: &Path,
    exclude: &(dyn Fn(&Path) -> bool + Sync),
    inspect: &(dyn Fn(SourceFile<'_>, &mut Vec<Stray>) -> T + Sync),
    keep_strays: &(dyn Fn(&mut Vec<Stray>) + Sync),
    options: WalkOptions,
    sort_key: fn(&T) -> &str,
) -> Walked<T> {
    let found = Mutex::new(Walked::default());
    let visitor = Visitor {
        cwd,
        exclude,
        inspect,
        keep_strays,
        sweeping: options.sweep,
    };
    let ignored: Arc<[AtomicUsize; 2]> = Arc::default();
    // The project's extra key names go with the scan onto the walker's threads.
    let names = keys::installed();
    builder(roots, cwd, options.ignore, &ignored)
        .build_parallel()
        .run(|| {
            // Each thread gathers its own results and hands them over once, when it is done:
            // no lock per file.
            let mut local = ThreadResults {
                shared: &found,
                walked: Walked::default(),
                sort_key,
            };
            let visitor = &visitor;
            let names = names.clone();
            let mut installed = false;
            Box::new(move |entry| {
                if !installed {
                    keys::install(names.clone());
                    installed = true;
                }
                visitor.visit(&mut local.walked, entry);
                WalkState::Continue
            })
        });
    let mut walked = found.into_inner().unwrap();
    walked.ignored = Ignored {
        files: ignored[0].load(Ordering::Relaxed),
        directories: ignored[1].load(Ordering::Relaxed),
    };
    // One sorted run per thread: this sort merges them.
    walked.files.sort_by(|a, b| sort_key(a).cmp(sort_key(b)));
    // A file named twice (`rekey scan k8s k8s/a.yaml`) is reported once.
    walked.files.dedup_by(|a, b| sort_key(a) == sort_key(b));
    walked.skipped.sort_by(|a, b| a.display.cmp(&b.display));
    walked.leftovers.sort();
    walked.strays.sort_by(stray_order);
    walked
}

/// The walker over `roots`: hidden files included, symlinks not followed, `.git` never
/// entered, and unless `ignore` says otherwise the ignore rules `ignore_rules` reads applied
/// below each root, each file and directory they leave out counted in `ignored`.
fn builder(
    roots: &[PathBuf],
    cwd: &Path,
    ignore: Ignore,
    ignored: &Arc<[AtomicUsize; 2]>,
) -> WalkBuilder {
    let mut builder = WalkBuilder::new(&roots[0]);
    for root in &roots[1..] {
        builder.add(root);
    }
    // Ignore files are read by `ignore_rules`, never by the walker itself (see there).
    let rules = IgnoreRules::new(cwd, roots);
    let ignored = ignored.clone();
    builder
        .hidden(false)
        .parents(false)
        .ignore(false)
        .git_ignore(false)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .follow_links(false)
        .filter_entry(move |entry| {
            if last_component(entry.path()) == b".git" {
                return false;
            }
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            let left_out = ignore == Ignore::Respect
                && entry.depth() > 0
                && rules.is_ignored(entry.path(), is_dir);
            if left_out {
                ignored[usize::from(is_dir)].fetch_add(1, Ordering::Relaxed);
            }
            !left_out
        });
    builder
}

/// What the walk does with each entry, on the thread that found it.
struct Visitor<'a, T> {
    cwd: &'a Path,
    exclude: &'a (dyn Fn(&Path) -> bool + Sync),
    inspect: &'a (dyn Fn(SourceFile<'_>, &mut Vec<Stray>) -> T + Sync),
    keep_strays: &'a (dyn Fn(&mut Vec<Stray>) + Sync),
    sweeping: Sweep,
}

impl<T> Visitor<'_, T> {
    fn visit(&self, walked: &mut Walked<T>, entry: Result<ignore::DirEntry, ignore::Error>) {
        let cwd = self.cwd;
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                let display = error_path(&error)
                    .map(|p| display_path(p, cwd))
                    .unwrap_or_default();
                walked.skipped.push(Skipped {
                    display,
                    reason: error.to_string(),
                });
                return;
            }
        };
        let symlink = entry.file_type().is_some_and(|t| t.is_symlink());
        if symlink && self.sweeping == Sweep::On && !(self.exclude)(entry.path()) {
            walked
                .strays
                .extend(hidden::symlink_target_strays(entry.path(), cwd));
            return;
        }
        if !entry.file_type().is_some_and(|t| t.is_file()) || (self.exclude)(entry.path()) {
            return;
        }
        walked.seen += 1;
        let name = last_component(entry.path());
        if std::str::from_utf8(name).is_ok_and(interrupt::is_leftover) {
            let display = display_path(entry.path(), cwd);
            walked.leftovers.push((entry.path().to_owned(), display));
            return;
        }
        read_candidate(
            entry.path(),
            cwd,
            self.sweeping,
            &mut |candidate, mut strays| {
                match candidate {
                    Candidate::Parse(file) => walked.files.push((self.inspect)(file, &mut strays)),
                    Candidate::Unjudged(skipped) => walked.skipped.push(skipped),
                    Candidate::Nothing => {}
                }
                (self.keep_strays)(&mut strays);
                walked.strays.extend(strays);
            },
        );
    }
}

/// Strays by file, then by where they stand.
fn stray_order(a: &Stray, b: &Stray) -> std::cmp::Ordering {
    (&a.display, a.span.start).cmp(&(&b.display, b.span.start))
}

/// The last component of a walked path (a root given as `k8s/` included): its file name,
/// found without parsing the path into components (asked for every entry of the tree).
pub fn last_component(path: &Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    let end = bytes
        .iter()
        .rposition(|&b| b != b'/')
        .map_or(0, |last| last + 1);
    let bytes = &bytes[..end];
    memchr::memrchr(b'/', bytes).map_or(bytes, |slash| &bytes[slash + 1..])
}

impl<T> Default for Walked<T> {
    fn default() -> Self {
        Walked {
            files: Vec::new(),
            skipped: Vec::new(),
            seen: 0,
            leftovers: Vec::new(),
            strays: Vec::new(),
            ignored: Ignored::default(),
        }
    }
}

/// One walker thread's results, merged into the shared ones when the thread's visitor is
/// dropped at the end of the walk. Each thread sorts its own files first, in parallel: the
/// main thread then only merges the sorted runs (a sort moves whole scanned files).
struct ThreadResults<'a, T> {
    shared: &'a Mutex<Walked<T>>,
    walked: Walked<T>,
    sort_key: fn(&T) -> &str,
}

impl<T> Drop for ThreadResults<'_, T> {
    fn drop(&mut self) {
        let mut mine = std::mem::take(&mut self.walked);
        let sort_key = self.sort_key;
        mine.files.sort_by(|a, b| sort_key(a).cmp(sort_key(b)));
        mine.strays.sort_by(stray_order);
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        shared.files.extend(mine.files);
        shared.skipped.extend(mine.skipped);
        shared.seen += mine.seen;
        shared.leftovers.extend(mine.leftovers);
        shared.strays.extend(mine.strays);
    }
}

/// What the walk makes of one file.
pub enum Candidate<'a> {
    /// Holds a key name: the engine parses it.
    Parse(SourceFile<'a>),
    /// Could hold a site but cannot be judged.
    Unjudged(Skipped),
    /// Holds no key name.
    Nothing,
}

thread_local! {
    /// Each walker thread reads every file into the same buffer, and parses it there: a file
    /// costs no allocation for its bytes.
    static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Reads one walked file and hands what it holds to `take`: parsed where it was read, in the
/// thread's buffer (see [`BUFFER`]).
fn read_candidate(
    path: &Path,
    cwd: &Path,
    sweeping: Sweep,
    take: &mut dyn FnMut(Candidate<'_>, Vec<Stray>),
) {
    let display = || display_path(path, cwd);
    let read = BUFFER.with_borrow_mut(|buffer| {
        read_walked(path, buffer)?;
        let (candidate, strays) = judge(path, display, buffer, sweeping);
        take(candidate, strays);
        Ok(())
    });
    let candidate = match read {
        Ok(()) => return,
        // A large file is searched for key names in bounded chunks, never skipped unread.
        Err(ReadError::TooLarge(size)) => match stream_large(path, &display, sweeping) {
            Ok(large) => {
                let candidate = if large.holds_key_name {
                    Candidate::Unjudged(too_large(size, &display()))
                } else if large.strays_not_kept {
                    Candidate::Unjudged(Skipped {
                        display: display(),
                        reason: format!("is {} MiB and holds more token-shaped strings than rekey keeps for one run, so they were not judged: exclude checksum lists and other generated files in .rekey.toml [scan] exclude", size >> 20),
                    })
                } else {
                    Candidate::Nothing
                };
                return take(candidate, large.strays);
            }
            Err(error) => Candidate::Unjudged(unreadable(&display(), &error)),
        },
        // Replaced by something else since the walk saw a regular file: not a file to read.
        Err(ReadError::NotRegular(_)) => Candidate::Nothing,
        Err(ReadError::Io(error)) => Candidate::Unjudged(unreadable(&display(), &error)),
    };
    take(candidate, Vec::new())
}

/// Sorts a file's bytes, whatever source they came from (the walk, a git blob, stdin), in
/// one look at each property: every file is swept for token-shaped strings (one holding a
/// NUL byte as UTF-16 text or binary data, see `binary`); binary data is judged only when a
/// key name (or a UTF-16 one) stands in it, and never parsed; text is parsed when it holds
/// a key name and is UTF-8 (or is a format rekey reads that is not: unjudged).
/// `display` is built only when something is found; the bytes are borrowed, never copied.
pub fn judge<'a>(
    path: &Path,
    display: impl FnOnce() -> String,
    bytes: &'a [u8],
    sweeping: Sweep,
) -> (Candidate<'a>, Vec<Stray>) {
    let unjudged = |display: String, reason: &str| {
        Candidate::Unjudged(Skipped {
            display,
            reason: reason.to_owned(),
        })
    };
    if memchr::memchr(0, bytes).is_some() {
        let reason = if has_utf16_marker(bytes) {
            Some("holds a delegate-token key in UTF-16, which rekey does not read: re-save it as UTF-8")
        } else if keys::has_marker(bytes) {
            Some("holds a delegate-token key beside binary data (NUL bytes): rekey cannot judge it; exclude it in .rekey.toml [scan] exclude if it is a build artefact")
        } else {
            None
        };
        let found = match sweeping {
            Sweep::On => binary::find(bytes),
            Sweep::Off => binary::Found::default(),
        };
        if reason.is_none() && found.is_empty() {
            return (Candidate::Nothing, Vec::new());
        }
        let display = display();
        let strays = found.located(&display, bytes);
        let candidate = reason.map_or(Candidate::Nothing, |reason| unjudged(display, reason));
        return (candidate, strays);
    }
    let mut found = match sweeping {
        Sweep::On => sweep::find(bytes),
        Sweep::Off => Vec::new(),
    };
    let display = Lazy::new(display);
    if sweeping == Sweep::On
        && hidden::may_hold_layers(path, bytes)
        && !hidden::is_stream(path, display.get())
    {
        hidden::add_layers(bytes, &mut found);
    }
    if sweeping == Sweep::On && hidden::may_continue_lines(path, bytes) {
        hidden::add_continued(bytes, &mut found);
    }
    let key_names = keys::marker_count(bytes);
    let marked = key_names > 0;
    // A manifest that loads a Secret whole holds no key name, but names who reads the
    // Secret's entries: parsed for that link alone (an error there is not reported).
    let links = !marked && Format::may_load_secrets(path, bytes);
    if found.is_empty() && !marked && !links {
        return (Candidate::Nothing, Vec::new());
    }
    let display = display.get().to_owned();
    let strays = sweep::located(&display, bytes, found);
    let parsed_for_links = links && std::str::from_utf8(bytes).is_ok();
    let candidate = if !marked && !parsed_for_links {
        Candidate::Nothing
    } else if std::str::from_utf8(bytes).is_err() && Format::detect(path, "").is_some() {
        unjudged(
            display,
            "holds a delegate-token key but is not valid UTF-8: re-save it as UTF-8",
        )
    } else {
        Candidate::Parse(SourceFile {
            path: path.to_owned(),
            display,
            bytes: Cow::Borrowed(bytes),
            key_names,
        })
    };
    (candidate, strays)
}

/// A file's name as reports show it, built once, and only when asked for.
struct Lazy<F> {
    make: std::cell::Cell<Option<F>>,
    made: std::cell::OnceCell<String>,
}

impl<F: FnOnce() -> String> Lazy<F> {
    fn new(make: F) -> Self {
        Lazy {
            make: std::cell::Cell::new(Some(make)),
            made: std::cell::OnceCell::new(),
        }
    }

    fn get(&self) -> &str {
        self.made
            .get_or_init(|| self.make.take().map_or_else(String::new, |make| make()))
    }
}

fn unreadable(display: &str, error: &std::io::Error) -> Skipped {
    Skipped {
        display: display.to_owned(),
        reason: format!("cannot read: {error}"),
    }
}

/// A file over the size rekey parses that holds a key name.
pub fn too_large(size: u64, display: &str) -> Skipped {
    Skipped {
        display: display.to_owned(),
        reason: format!(
            "holds a delegate-token key but is {} MiB, over the {} MiB rekey parses: split it, or exclude it in .rekey.toml [scan] exclude",
            size / (1024 * 1024),
            MAX_FILE_SIZE / (1024 * 1024)
        ),
    }
}

/// Reads a file the walk found as a regular file, at most [`MAX_FILE_SIZE`] bytes, into a
/// reused buffer. Opened without following a symlink and without blocking, and read no
/// further than the limit: should the file be swapped for a FIFO or a device meanwhile,
/// the read still ends (a FIFO without a writer reads as empty). No `fstat` per file: the
/// walk already knows the type, and the bounded read is what keeps rekey safe.
fn read_walked(path: &Path, bytes: &mut Vec<u8>) -> Result<(), ReadError> {
    use std::io::Read;
    bytes.clear();
    let file = open_without_following(path)?;
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(bytes)
        .map_err(|error| match error.raw_os_error() {
            // A FIFO that has a writer but nothing written yet.
            Some(libc::EAGAIN) => ReadError::NotRegular("a FIFO"),
            _ => ReadError::Io(error),
        })?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        let size = std::fs::metadata(path).map_or(bytes.len() as u64, |m| m.len());
        return Err(ReadError::TooLarge(size));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_component_is_the_file_name_path_gives() {
        use std::os::unix::ffi::OsStrExt;
        for path in ["./k8s/a.yaml", "a.yaml", "k8s/", "/repo/.git", ".git//"] {
            let path = Path::new(path);
            assert_eq!(
                last_component(path),
                path.file_name().unwrap().as_bytes(),
                "{path:?}"
            );
        }
        // The walk's root `.`, which the walker names by its whole path too.
        assert_eq!(last_component(Path::new(".")), b".");
    }
}
