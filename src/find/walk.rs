//! Where files come from: a parallel walk of the working tree with the `ignore` crate
//! (`.gitignore` respected even outside a git repository, hidden files included, `.git` never
//! entered, symlinks not followed), with each file read, size-checked, binary-checked and
//! prefiltered on its worker thread. Yields `(path, bytes)` for the engine to scan.

use crate::find::binary;
use crate::find::formats::Format;
use crate::find::hidden;
use crate::find::ignore_rules::IgnoreRules;
use crate::find::sweep::{self, Stray};
use crate::model::fs::{display_path, open_without_following, ReadError};
use crate::model::keys;
use crate::runtime::interrupt;
use aho_corasick::AhoCorasick;
use ignore::{WalkBuilder, WalkState};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

/// Files larger than this are not parsed: they are read in bounded chunks, searched for
/// key names (one that holds a key name is reported as not judged) and swept.
pub const MAX_FILE_SIZE: u64 = 8 * 1024 * 1024;

/// One candidate file: it holds at least one key name. Its bytes are borrowed from the
/// buffer they were read into when they can be: a file is parsed where it was read, and
/// what the run keeps of it never includes them.
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
}

/// Whether files are swept for token-shaped strings outside sites: `check` judges them
/// and `rotate` lists the copies it leaves behind; `scan`, `inventory` and `init` list
/// sites only, and pass over the sweep's cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sweep {
    On,
    Off,
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
    sweeping: Sweep,
    sort_key: fn(&T) -> &str,
) -> Walked<T> {
    let found = Mutex::new(Walked::default());
    let visitor = Visitor {
        cwd,
        exclude,
        inspect,
        keep_strays,
        sweeping,
    };
    // The project's extra key names go with the scan onto the walker's threads.
    let names = keys::installed();
    builder(roots, cwd).build_parallel().run(|| {
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
/// entered, and the ignore rules `ignore_rules` reads applied below each root.
fn builder(roots: &[PathBuf], cwd: &Path) -> WalkBuilder {
    let mut builder = WalkBuilder::new(&roots[0]);
    for root in &roots[1..] {
        builder.add(root);
    }
    // Ignore files are read by `ignore_rules`, never by the walker itself (see there).
    let rules = IgnoreRules::new(cwd, roots);
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
            last_component(entry.path()) != b".git"
                && (entry.depth() == 0
                    || !rules
                        .is_ignored(entry.path(), entry.file_type().is_some_and(|t| t.is_dir())))
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
    if found.is_empty() && !marked {
        return (Candidate::Nothing, Vec::new());
    }
    let display = display.get().to_owned();
    let strays = sweep::located(&display, bytes, found);
    let candidate = if !marked {
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

/// Reads a file too large to parse one bounded chunk at a time: whether it holds a key
/// name (then it is reported as not judged), and the token-shaped strings in it, which are
/// judged like those of any other file (a revoked token pasted into a large log still
/// fails `check`).
fn stream_large(
    path: &Path,
    display: &dyn Fn() -> String,
    sweeping: Sweep,
) -> std::io::Result<LargeFile> {
    stream_in_chunks(path, display, sweeping, 1024 * 1024)
}

/// Sweeps a stream too large to hold (a large git blob) one bounded chunk at a time:
/// whether it holds a key name, and the token-shaped strings in it (`None`: more than a
/// run keeps).
pub fn sweep_stream(
    stream: &mut dyn std::io::Read,
    display: &str,
) -> std::io::Result<(bool, Option<Vec<Stray>>)> {
    let (large, _) = stream_reader(stream, &|| display.to_owned(), Sweep::On, 1024 * 1024)?;
    Ok((
        large.holds_key_name,
        (!large.strays_not_kept).then_some(large.strays),
    ))
}

/// What reading a file too large to parse found.
#[derive(Debug)]
struct LargeFile {
    holds_key_name: bool,
    strays: Vec<Stray>,
    /// It held more token-shaped strings than a run keeps: none are kept.
    strays_not_kept: bool,
}

/// How far a chunk of `chunk.len()` bytes read so far (swept up to `swept`) can be swept:
/// up to the last byte no token goes past, all of it at the end of the file (`last`).
fn sweep_end(chunk: &[u8], swept: usize, last: bool) -> usize {
    let filled = chunk.len();
    if last {
        return filled;
    }
    let run_end = chunk[swept..]
        .iter()
        .rposition(|&b| sweep::ends_a_run(b))
        .map_or(swept, |at| swept + at + 1);
    if filled - run_end <= CARRY {
        return run_end;
    }
    let tail = filled - CARRY;
    // A run too long to be a token can still end in one after the `+` and `/` it starts
    // with (the sweep tries a word without them): it is cut before that word, never in it.
    let leading = chunk[run_end..]
        .iter()
        .take_while(|&&b| b == b'+' || b == b'/')
        .count();
    if run_end + leading >= tail {
        return run_end + leading;
    }
    // Otherwise it is cut after a byte that is not a hex digit, so that a 32-hex token
    // inside it is never cut in two.
    let last = chunk[tail..].iter().rposition(|b| !b.is_ascii_hexdigit());
    last.map_or(tail, |at| tail + at + 1)
}

/// What a chunk hands on to the next: the longest key name, so that a name across the
/// boundary is still seen, and an unfinished base64 run, so that a token across it is. A
/// run longer than CARRY is no token; it is swept in pieces.
const CARRY: usize = 128;

/// Sweeps the file at `path` `chunk_size` bytes at a time; when it starts as UTF-16 text,
/// its decoded text is swept a second time the same way (one byte per code unit, see
/// `binary::Narrowed`), its strays placed in the decoded text.
fn stream_in_chunks(
    path: &Path,
    display: &dyn Fn() -> String,
    sweeping: Sweep,
    chunk_size: usize,
) -> std::io::Result<LargeFile> {
    // Never through a symlink, never blocking on a FIFO swapped in since the walk saw it.
    let open = || {
        open_without_following(path).map_err(|error| match error {
            ReadError::Io(error) => error,
            other => std::io::Error::other(other.to_string()),
        })
    };
    let (mut large, utf16) = stream_reader(&mut open()?, display, sweeping, chunk_size)?;
    let Some(encoding) = utf16.filter(|_| sweeping == Sweep::On && !large.strays_not_kept) else {
        return Ok(large);
    };
    let mut text = binary::Narrowed::new(open()?, encoding);
    let (decoded, _) = stream_reader(&mut text, display, sweeping, chunk_size)?;
    large.holds_key_name |= decoded.holds_key_name;
    if decoded.strays_not_kept {
        large.strays.clear();
        large.strays_not_kept = true;
    } else {
        large.strays.extend(decoded.strays);
    }
    Ok(large)
}

/// Reads `file` one bounded chunk at a time, searching it for key names and sweeping it;
/// also says whether its first chunk is UTF-16 text.
fn stream_reader(
    file: &mut dyn std::io::Read,
    display: &dyn Fn() -> String,
    sweeping: Sweep,
    chunk_size: usize,
) -> std::io::Result<(LargeFile, Option<binary::Encoding>)> {
    let overlap = keys::longest_marker();
    let mut buffer = vec![0; chunk_size + CARRY.max(overlap)];
    let (mut kept, mut base, mut swept) = (0, 0, 0);
    let mut marked = false;
    let mut utf16 = None;
    let mut position = sweep::StreamPosition::default();
    let mut strays = Vec::new();
    let mut shown: Option<Arc<str>> = None;
    loop {
        let read = file.read(&mut buffer[kept..])?;
        let filled = kept + read;
        let chunk = &buffer[..filled];
        if base == 0 && kept == 0 {
            utf16 = binary::utf16_text(chunk);
        }
        marked = marked || keys::has_marker(chunk) || has_utf16_marker(chunk);
        let end = sweep_end(chunk, swept, read == 0);
        if strays.len() > sweep::MAX_STRAYS {
            // More than a run keeps: not judged, and the rest is not held either.
            let large = LargeFile {
                holds_key_name: marked,
                strays: Vec::new(),
                strays_not_kept: true,
            };
            return Ok((large, utf16));
        }
        let found = match sweeping {
            Sweep::On => sweep::find(&chunk[swept..end]),
            Sweep::Off => Vec::new(),
        };
        for (span, fingerprint) in found {
            let start = base + swept + span.start;
            position.advance(chunk, base, start);
            let (line, column) = position.line_col();
            strays.push(Stray {
                display: shown.get_or_insert_with(|| display().into()).clone(),
                span: start..base + swept + span.end,
                line,
                column,
                fingerprint,
            });
        }
        if read == 0 {
            let large = LargeFile {
                holds_key_name: marked,
                strays,
                strays_not_kept: false,
            };
            return Ok((large, utf16));
        }
        let keep_from = end.min(filled - overlap.min(filled));
        position.advance(chunk, base, base + keep_from);
        buffer.copy_within(keep_from..filled, 0);
        base += keep_from;
        swept = end - keep_from;
        kept = filled - keep_from;
    }
}

static UTF16_MARKERS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    let encode = |name: &str, big_endian: bool| -> Vec<u8> {
        name.encode_utf16()
            .flat_map(|unit| {
                if big_endian {
                    unit.to_be_bytes()
                } else {
                    unit.to_le_bytes()
                }
            })
            .collect()
    };
    let patterns = keys::MARKER_PATTERNS
        .iter()
        .flat_map(|name| [encode(name, false), encode(name, true)]);
    AhoCorasick::new(patterns).expect("key names are valid patterns")
});

/// True when `bytes` holds a key name encoded as UTF-16 (either byte order).
fn has_utf16_marker(bytes: &[u8]) -> bool {
    UTF16_MARKERS.is_match(bytes)
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

    #[test]
    fn a_file_streamed_in_chunks_is_swept_as_if_read_whole() {
        let token = "0123456789abcdef0123456789abcdef";
        let ui = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
        let long_run = format!("p/{}/", "g".repeat(150));
        let mut text = String::from("\u{feff}");
        for i in 0..40 {
            text.push_str(&format!("line {i} caf\u{e9} {token}\r\n"));
            text.push_str(&format!("{long_run}{token}/{long_run}\n+{ui}\n/{ui}/\n"));
            text.push_str(&format!("{}{token}\n", "x".repeat(i * 7)));
            // A base64 word after a run of `/` too long to be a token.
            text.push_str(&format!(" {}{ui}\n", "/".repeat(130 + i * 5)));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.log");
        std::fs::write(&path, &text).unwrap();
        let display = || "big.log".to_owned();
        let whole = sweep::located("big.log", text.as_bytes(), sweep::find(text.as_bytes()));
        assert_eq!(whole.len(), 240);
        for chunk_size in (16..600).chain([4096, 1 << 20]) {
            let large = stream_in_chunks(&path, &display, Sweep::On, chunk_size).unwrap();
            assert!(!large.holds_key_name && !large.strays_not_kept);
            assert_eq!(large.strays, whole, "read {chunk_size} bytes at a time");
        }
        // The same text in UTF-16 (its BOM included): found in its decoded text, at the
        // same lines and columns, as when it is read whole.
        let wide: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        std::fs::write(&path, &wide).unwrap();
        let whole_wide = binary::find(&wide).located("big.log", &wide);
        let lines = |strays: &[Stray]| {
            strays
                .iter()
                .map(|s| (s.line, s.column))
                .collect::<Vec<_>>()
        };
        assert_eq!(lines(&whole_wide), lines(&whole));
        for chunk_size in (16..300).step_by(7).chain([4096, 1 << 20]) {
            let large = stream_in_chunks(&path, &display, Sweep::On, chunk_size).unwrap();
            assert_eq!(
                large.strays, whole_wide,
                "read {chunk_size} bytes at a time"
            );
        }
    }
}
