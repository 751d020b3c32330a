//! The apply stage for the working tree: a transaction over every file a command rewrites
//! (the rotated files and the policy file).
//!
//! 1. **Check** every target before anything is written: a regular file (never a symlink,
//!    FIFO, device or socket), not hard-linked and not read-only unless forced, still
//!    holding exactly the bytes the plan was made from (its digest: the bytes are not kept).
//! 2. **Stage** every new content in a temp file beside its target (same directory, so the
//!    rename is atomic), with the target's mode and owner, synced to disk. A rotated file's
//!    new content is spliced from its bytes read once more, checked against the digest
//!    first: the same bytes the rewrite was verified from.
//! 3. **Rename** each temp file over its target in order, re-reading the target right
//!    before: a file changed underneath is never overwritten. The run stops there, names
//!    the file, and says what was and was not written; rerunning finishes the job.
//! 4. **Sync** the directories, so the renames survive a power loss.
//!
//! Durability comes from `syncfs` (one call per filesystem after staging, one after the
//! renames) rather than an `fsync` per file, which on thousands of files cost more than
//! the rotation itself; where `syncfs` fails, each file is synced on its own.
//!
//! Temp files are named `.rekey-tmp.XXXXXXXX` so that leftovers of a process killed with
//! SIGKILL are recognisable: the next `rotate --write` removes them and `check` reports
//! them. Every other exit path rekey controls (errors, SIGINT, SIGTERM, SIGHUP) removes
//! them itself.

use crate::error::Error;
use crate::model::edit::{self, Edit, Text};
use crate::model::fs::{kind_of, read_regular, FileDigest, ReadError};

use crate::runtime::interrupt::{self, is_leftover, TransactionGuard, TEMP_PREFIX};
use crate::runtime::parallel;
use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use tempfile::TempPath;
use zeroize::Zeroizing;

/// One file to replace.
pub struct Target<'a> {
    pub path: &'a Path,
    pub display: &'a str,
    /// What the new content is made from: the file must still hold exactly these bytes.
    pub original: FileDigest,
    pub content: Content<'a>,
}

/// A target's new content.
pub enum Content<'a> {
    /// These bytes (the policy file's new text).
    Bytes(&'a [u8]),
    /// The target's own bytes with the edits this makes spliced in (made when it is
    /// staged: a rotation holds no file's edits longer than it needs them).
    Edits(Box<dyn Fn() -> Vec<Edit> + Sync + 'a>),
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Also replace hard-linked and read-only files.
    pub force: bool,
}

/// Why a transaction did not complete.
#[derive(Debug)]
pub enum ApplyError {
    /// A check failed before anything was written.
    Refused(Vec<Error>),
    /// Stopped part way: some files may already hold their new content.
    Stopped {
        reason: String,
        written: Vec<String>,
        not_written: Vec<String>,
        signal: Option<i32>,
    },
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApplyError::Refused(problems) => {
                for problem in problems {
                    writeln!(f, "{problem}")?;
                }
                write!(f, "nothing was written")
            }
            ApplyError::Stopped {
                reason,
                written,
                not_written,
                ..
            } => {
                writeln!(f, "{reason}")?;
                let list = |files: &[String]| {
                    if files.is_empty() {
                        "none".to_owned()
                    } else {
                        files.join(", ")
                    }
                };
                writeln!(f, "written: {}", list(written))?;
                writeln!(f, "not written: {}", list(not_written))?;
                write!(
                    f,
                    "run the same command again to finish: rekey reads every file afresh and rotates what is left"
                )
            }
        }
    }
}

/// Temp files are written and synced on this many threads at once.
const STAGING_THREADS: usize = 8;

/// Why a target was not staged.
enum Stage {
    Interrupted(i32),
    Failed(Error),
}

struct Staged<'a> {
    target: &'a Target<'a>,
    /// Closed once written: a rotation of thousands of files must not hold a descriptor
    /// for each until its rename (the usual limit is 1,024).
    temp: TempPath,
}

/// Replaces every target's content, all or, when stopped part way, a reported prefix.
pub fn apply(targets: &[Target], options: Options) -> Result<(), ApplyError> {
    let problems: Vec<Error> = targets
        .iter()
        .filter_map(|target| check(target, options).err())
        .collect();
    if !problems.is_empty() {
        return Err(ApplyError::Refused(problems));
    }
    let _guard = TransactionGuard::begin();
    let staged = stage_all(targets)?;
    if let Err(problem) = sync_staged(&staged) {
        staged.into_iter().for_each(|s| forget(s.temp));
        return Err(ApplyError::Refused(vec![problem]));
    }
    pause_for_tests();
    let directories = rename_all(staged, targets)?;
    sync_directories(directories);
    Ok(())
}

/// A temp file beside every target, all of them or none.
fn stage_all<'a>(targets: &'a [Target<'a>]) -> Result<Vec<Staged<'a>>, ApplyError> {
    // Staging waits on fsync more than on the CPU: more threads than cores pay off.
    let outcomes = parallel::map(
        targets,
        STAGING_THREADS,
        |target| match interrupt::interrupted() {
            Some(signal) => Err(Stage::Interrupted(signal)),
            None => stage(target).map_err(Stage::Failed),
        },
    );
    let mut staged = Vec::with_capacity(targets.len());
    let mut problem = None;
    for (target, outcome) in targets.iter().zip(outcomes) {
        match outcome {
            Ok(temp) => staged.push(Staged { target, temp }),
            Err(error) => problem = problem.or(Some(error)),
        }
    }
    let Some(problem) = problem else {
        return Ok(staged);
    };
    // Every temp file staged is removed before anything is renamed.
    staged.into_iter().for_each(|s| forget(s.temp));
    Err(match problem {
        Stage::Interrupted(signal) => {
            stopped(interrupted_reason(signal), &[], targets, Some(signal))
        }
        Stage::Failed(problem) => ApplyError::Refused(vec![problem]),
    })
}

/// Renames each staged file over its target, in order, each re-checked against what was
/// read right before its rename; returns the directories renamed in.
fn rename_all(staged: Vec<Staged>, targets: &[Target]) -> Result<BTreeSet<PathBuf>, ApplyError> {
    let mut written: Vec<String> = Vec::with_capacity(targets.len());
    let mut directories = BTreeSet::new();
    let mut remaining = staged.into_iter();
    while let Some(Staged { target, temp }) = remaining.next() {
        let stop = |reason: String, signal: Option<i32>| {
            let not_written: Vec<String> = std::iter::once(target.display.to_owned())
                .chain(
                    targets
                        .iter()
                        .skip(written.len() + 1)
                        .map(|t| t.display.to_owned()),
                )
                .collect();
            ApplyError::Stopped {
                reason,
                written: written.clone(),
                not_written,
                signal,
            }
        };
        if let Some(signal) = interrupt::interrupted() {
            forget(temp);
            remaining.for_each(|s| forget(s.temp));
            return Err(stop(interrupted_reason(signal), Some(signal)));
        }
        if let Err(problem) = unchanged(target) {
            forget(temp);
            remaining.for_each(|s| forget(s.temp));
            return Err(stop(problem.to_string(), None));
        }
        let temp_path = temp.to_path_buf();
        if let Err(error) = temp.persist(target.path) {
            forget(error.path);
            remaining.for_each(|s| forget(s.temp));
            return Err(stop(
                format!("{}: cannot replace: {}", target.display, error.error),
                None,
            ));
        }
        interrupt::unregister_temp(&temp_path);
        written.push(target.display.to_owned());
        directories.insert(parent(target.path).to_owned());
    }
    Ok(directories)
}

/// A rename is durable once its directory is synced (one `syncfs` per filesystem, as for
/// the staged files). A failure here cannot undo anything, and the files themselves are
/// complete.
fn sync_directories(directories: BTreeSet<PathBuf>) {
    let mut synced_devices = BTreeSet::new();
    for directory in directories {
        let Ok(handle) = fs::File::open(&directory) else {
            continue;
        };
        let device = handle.metadata().map(|m| m.dev()).ok();
        if device.is_some_and(|device| synced_devices.contains(&device)) {
            continue;
        }
        if syncfs(&handle) {
            synced_devices.extend(device);
        } else {
            let _ = handle.sync_all();
        }
    }
}

/// `syncfs(2)` on the filesystem holding `file`: whether it succeeded.
#[cfg(target_os = "linux")]
fn syncfs(file: &fs::File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: syncfs only reads the descriptor, which `file` keeps open for the call.
    unsafe { libc::syncfs(file.as_raw_fd()) == 0 }
}

/// macOS and the BSDs have no `syncfs(2)`: each file is synced with `fsync` instead.
#[cfg(not(target_os = "linux"))]
fn syncfs(_file: &fs::File) -> bool {
    false
}

/// A seam for the tests that race rekey (a concurrent edit, a kill at a known moment):
/// with `REKEY_PAUSE_BEFORE_APPLY=FILE` set, rekey creates FILE once every check has passed
/// and every new content is staged, before the first rename, and waits (at most a minute)
/// until the test removes it. Unset, this does nothing.
fn pause_for_tests() {
    let Some(marker) = std::env::var_os("REKEY_PAUSE_BEFORE_APPLY") else {
        return;
    };
    if fs::write(&marker, b"").is_err() {
        return;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while Path::new(&marker).exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Makes every staged temp file durable before the first rename. One `syncfs` per
/// filesystem does it for all of them at once (thousands of `fsync`s cost more than the
/// rotation itself); where `syncfs` fails, each file is synced on its own.
fn sync_staged(staged: &[Staged]) -> Result<(), Error> {
    let mut synced_devices = BTreeSet::new();
    for Staged { target, temp } in staged {
        let cannot = |e| format!("{}: cannot sync its new content: {e}", target.display);
        let device = fs::symlink_metadata(temp).map_err(cannot)?.dev();
        if synced_devices.contains(&device) {
            continue;
        }
        // Never through a symlink put where the temp file was.
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(temp)
            .map_err(cannot)?;
        if syncfs(&file) {
            synced_devices.insert(device);
            continue;
        }
        file.sync_all().map_err(cannot)?;
    }
    Ok(())
}

fn interrupted_reason(signal: i32) -> String {
    format!("interrupted by signal {signal}; stopped before the next file")
}

/// Removes a temp file that will not be renamed, and forgets it.
fn forget(temp: TempPath) {
    let path = temp.to_path_buf();
    drop(temp);
    interrupt::unregister_temp(&path);
}

fn stopped(
    reason: String,
    written: &[String],
    targets: &[Target],
    signal: Option<i32>,
) -> ApplyError {
    ApplyError::Stopped {
        reason,
        written: written.to_vec(),
        not_written: targets.iter().map(|t| t.display.to_owned()).collect(),
        signal,
    }
}

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Everything that can be known to fail before the first write.
fn check(target: &Target, options: Options) -> Result<(), Error> {
    let display = target.display;
    let metadata =
        fs::symlink_metadata(target.path).map_err(|e| format!("{display}: cannot read: {e}"))?;
    let file_type = metadata.file_type();
    if file_type.is_symlink() {
        return Err(Error::new(format!(
            "{display}: is a symlink; rekey never writes through one: rotate its target instead"
        )));
    }
    if !file_type.is_file() {
        return Err(Error::new(format!(
            "{display}: is {}; rekey only ever replaces regular files",
            kind_of(&file_type)
        )));
    }
    if metadata.nlink() > 1 && !options.force {
        return Err(Error::new(format!(
            "{display}: has {} hard links; replacing it would leave the other names holding the old content. Rotate each name, or pass --force to replace this name only",
            metadata.nlink()
        )));
    }
    if metadata.mode() & 0o200 == 0 && !options.force {
        return Err(Error::new(format!(
            "{display}: is read-only (mode {:o}); make it writable, or pass --force to replace it keeping its mode",
            metadata.mode() & 0o7777
        )));
    }
    unchanged(target)
}

/// The target still holds the bytes the plan was made from.
fn unchanged(target: &Target) -> Result<(), Error> {
    current(target).map(drop)
}

/// The target's bytes, when they are still the ones the plan was made from.
fn current(target: &Target) -> Result<Zeroizing<Vec<u8>>, Error> {
    let display = target.display;
    match read_regular(target.path, target.original.len()) {
        Ok(bytes) if FileDigest::of(&bytes) == target.original => Ok(Zeroizing::new(bytes)),
        Ok(_) | Err(ReadError::TooLarge(_)) => Err(Error::new(format!(
            "{display}: changed since rekey read it; it was not overwritten"
        ))),
        Err(error) => Err(Error::new(format!("{display}: {error}"))),
    }
}

/// A target's new bytes: spliced from its current bytes (checked first) for a rotated file.
fn new_content<'a>(target: &Target<'a>) -> Result<std::borrow::Cow<'a, [u8]>, Error> {
    match &target.content {
        Content::Bytes(bytes) => Ok(std::borrow::Cow::Borrowed(bytes)),
        Content::Edits(edits) => {
            let original = current(target)?;
            let spliced = edit::apply(&original, &edits(), Text::Replacement)
                .map_err(|error| format!("{}: {error}", target.display))?;
            Ok(std::borrow::Cow::Owned(spliced))
        }
    }
}

/// Writes a target's new content to a temp file beside it, with its mode and owner, and
/// closes it ([`sync_staged`] makes it durable).
fn stage(target: &Target) -> Result<TempPath, Error> {
    let display = target.display;
    let fail = |what: &str, error: std::io::Error| format!("{display}: cannot {what}: {error}");
    let metadata = fs::symlink_metadata(target.path).map_err(|e| fail("read", e))?;
    let bytes = Zeroizing::new(new_content(target)?.into_owned());
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .rand_bytes(8)
        .tempfile_in(parent(target.path))
        .map_err(|e| fail("create a temporary file beside it", e))?;
    interrupt::register_temp(temp.path());
    let written = (|| {
        temp.write_all(&bytes)?;
        fs::set_permissions(temp.path(), metadata.permissions())
    })();
    if let Err(error) = written {
        forget(temp.into_temp_path());
        return Err(Error::new(fail("stage its new content", error)));
    }
    // The replacement keeps the file's owner and group. As root that always works; anyone
    // else can keep only a group they belong to, and a file that would change hands is
    // refused rather than replaced.
    let (uid, gid) = (metadata.uid(), metadata.gid());
    let staged = fs::metadata(temp.path()).map(|m| (m.uid(), m.gid()));
    if staged.ok() != Some((uid, gid)) {
        if let Err(error) = std::os::unix::fs::fchown(temp.as_file(), Some(uid), Some(gid)) {
            forget(temp.into_temp_path());
            return Err(Error::new(format!(
                "{display}: cannot keep its owner and group ({uid}:{gid}): {error}; rekey never replaces a file it would hand to another owner. Run as its owner, in its group, or as root"
            )));
        }
    }
    Ok(temp.into_temp_path())
}

/// Removes rekey's own leftover temp files (see [`is_leftover`]) and returns the ones
/// removed. Anything else is never touched.
pub fn remove_leftovers(paths: &[(PathBuf, String)]) -> Result<Vec<String>, Error> {
    let mut removed = Vec::new();
    for (path, display) in paths {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let regular = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
        if !is_leftover(name) || !regular {
            continue;
        }
        fs::remove_file(path)
            .map_err(|e| format!("{display}: cannot remove this leftover temp file: {e}"))?;
        removed.push(display.clone());
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn target<'a>(path: &'a Path, original: &[u8], bytes: &'a [u8]) -> Target<'a> {
        Target {
            path,
            display: path.file_name().unwrap().to_str().unwrap(),
            original: FileDigest::of(original),
            content: Content::Bytes(bytes),
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn leftovers_are_removed_and_other_files_kept() {
        let dir = tempfile::tempdir().unwrap();
        let leftover = dir.path().join(".rekey-tmp.AbCd1234");
        let other = dir.path().join(".rekey.toml");
        fs::write(&leftover, "x").unwrap();
        fs::write(&other, "x").unwrap();
        let removed = remove_leftovers(&[
            (leftover.clone(), "l".to_owned()),
            (other.clone(), "o".to_owned()),
        ])
        .unwrap();
        assert_eq!(removed, ["l"]);
        assert!(!leftover.exists() && other.exists());
    }

    #[test]
    fn writes_every_file_keeping_the_mode_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.yaml");
        let b = dir.path().join("start.sh");
        fs::write(&a, "old a\n").unwrap();
        fs::write(&b, "old b\n").unwrap();
        fs::set_permissions(&b, fs::Permissions::from_mode(0o750)).unwrap();
        apply(
            &[
                target(&a, b"old a\n", b"new a\n"),
                target(&b, b"old b\n", b"new b\n"),
            ],
            Options::default(),
        )
        .unwrap();
        assert_eq!(fs::read(&a).unwrap(), b"new a\n");
        assert_eq!(fs::read(&b).unwrap(), b"new b\n");
        let mode = fs::metadata(&b).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o750);
        assert_eq!(names(dir.path()), ["a.yaml", "start.sh"]);
    }

    #[test]
    fn a_bad_target_refuses_the_whole_transaction_before_any_write() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.yaml");
        let real = dir.path().join("real.yaml");
        let link = dir.path().join("link.yaml");
        let changed = dir.path().join("changed.yaml");
        let linked = dir.path().join("linked.yaml");
        let read_only = dir.path().join("read-only.yaml");
        for path in [&good, &real, &changed, &linked, &read_only] {
            fs::write(path, "old\n").unwrap();
        }
        std::os::unix::fs::symlink(&real, &link).unwrap();
        fs::hard_link(&linked, dir.path().join("other-name.yaml")).unwrap();
        fs::set_permissions(&read_only, fs::Permissions::from_mode(0o444)).unwrap();
        let error = apply(
            &[
                target(&good, b"old\n", b"new\n"),
                target(&link, b"old\n", b"new\n"),
                target(&changed, b"older\n", b"new\n"),
                target(&linked, b"old\n", b"new\n"),
                target(&read_only, b"old\n", b"new\n"),
            ],
            Options::default(),
        )
        .unwrap_err();
        let text = error.to_string();
        for expected in [
            "link.yaml: is a symlink",
            "changed.yaml: changed since rekey read it",
            "linked.yaml: has 2 hard links",
            "read-only.yaml: is read-only (mode 444)",
            "nothing was written",
        ] {
            assert!(text.contains(expected), "{expected} in:\n{text}");
        }
        assert!(!text.contains("good.yaml"), "{text}");
        assert_eq!(fs::read(&good).unwrap(), b"old\n");
        assert!(names(dir.path()).iter().all(|n| !n.starts_with(".rekey")));
        // --force replaces the hard-linked and read-only names, keeping the mode.
        apply(
            &[
                target(&linked, b"old\n", b"new\n"),
                target(&read_only, b"old\n", b"new\n"),
            ],
            Options { force: true },
        )
        .unwrap();
        assert_eq!(fs::read(&read_only).unwrap(), b"new\n");
        let mode = fs::metadata(&read_only).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o444);
        assert_eq!(
            fs::read(dir.path().join("other-name.yaml")).unwrap(),
            b"old\n"
        );
    }

    #[test]
    fn edits_are_spliced_into_the_bytes_planned_from_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.env");
        fs::write(&path, "KEY=old\n").unwrap();
        let edits = || vec![Edit::visible(4..7, "new")];
        let target = |original: &[u8]| Target {
            path: &path,
            display: "a.env",
            original: FileDigest::of(original),
            content: Content::Edits(Box::new(edits)),
        };
        // Edited after it passed the checks: the staging reads it again and refuses it.
        let error = stage(&target(b"KEY=older\n")).unwrap_err().to_string();
        assert_eq!(
            error,
            "a.env: changed since rekey read it; it was not overwritten"
        );
        assert_eq!(names(dir.path()), ["a.env"]);
        apply(&[target(b"KEY=old\n")], Options::default()).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"KEY=new\n");
    }

    #[test]
    fn the_owner_and_group_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("values.yaml");
        fs::write(&path, "old\n").unwrap();
        let owner = fs::metadata(&path).unwrap();
        // As root (CI), hand the file to another user and group first: the rotation must
        // give it back to them, not to root.
        let (uid, gid) = if owner.uid() == 0 {
            (4242, 4343)
        } else {
            (owner.uid(), owner.gid())
        };
        std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
        apply(&[target(&path, b"old\n", b"new\n")], Options::default()).unwrap();
        let after = fs::metadata(&path).unwrap();
        assert_eq!((after.uid(), after.gid()), (uid, gid));
        assert_eq!(fs::read(&path).unwrap(), b"new\n");
    }

    #[test]
    fn a_fifo_is_refused_without_being_opened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join(".rekey.toml");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let error = apply(&[target(&fifo, b"", b"x")], Options::default()).unwrap_err();
        assert!(
            error.to_string().contains(".rekey.toml: is a FIFO"),
            "{error}"
        );
    }
}
