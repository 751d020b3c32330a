//! The walk's ignore rules: `.gitignore` files in every directory from a file up to the
//! repository's top (the directory holding `.git`; the filesystem root outside a
//! repository), and `.git/info/exclude`, with git's precedence: the rules nearest the file
//! decide, `.gitignore` over `info/exclude`, the last matching line wins. As in git, a file
//! the index tracks is never ignored (a committed file listed in `.gitignore` later is still
//! in every checkout and every push), and ripgrep's `.ignore` files play no part: what a
//! gate judges is what git holds.
//!
//! The `ignore` crate reads these files itself with a plain open and read, so a FIFO named
//! `.gitignore` hangs the walk and a committed symlink `.gitignore -> /dev/zero` grows
//! without bound. Here every rule file is read like any other file rekey reads: regular
//! files only (as git, which no longer follows a symlinked `.gitignore`), bounded in size.
//! The matching itself is the `ignore` crate's `Gitignore`. A user's global excludes file
//! is not read: what a CI gate judges must not depend on the machine it runs on.

use crate::model::fs::{read_regular, ReadError};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

/// Whether a walk leaves out what the ignore rules name, as git does (`Respect`), or walks
/// it too (`Include`, `--no-ignore` as in ripgrep). `.git` is never entered either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ignore {
    Respect,
    Include,
}

/// What the ignore rules left out of a walk: the entries passed over, not what lies below an
/// ignored directory (the walk never enters one, so that counting costs nothing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ignored {
    pub files: usize,
    pub directories: usize,
}

impl Ignored {
    pub fn is_empty(self) -> bool {
        self.files == 0 && self.directories == 0
    }

    pub fn add(&mut self, other: Ignored) {
        self.files += other.files;
        self.directories += other.directories;
    }
}

/// Rule files larger than this are not read (a real one is a few kilobytes).
const MAX_RULES_SIZE: u64 = 1024 * 1024;

/// The rules of every directory seen so far, shared by the walker's threads.
#[derive(Clone)]
pub struct IgnoreRules {
    /// Relative paths are taken from here, so that the rules of directories above the
    /// current one apply too.
    cwd: PathBuf,
    /// The walk's roots, whose repositories' indexes say which files are tracked.
    roots: Vec<PathBuf>,
    by_directory: Arc<RwLock<HashMap<PathBuf, Chain>>>,
    /// Unique to this set of rules and its clones.
    id: u64,
    /// Read on the first ignored path only: most walks never need it.
    tracked: Arc<OnceLock<BTreeSet<PathBuf>>>,
}

impl IgnoreRules {
    pub fn new(cwd: &Path, roots: &[PathBuf]) -> IgnoreRules {
        IgnoreRules {
            cwd: cwd.to_owned(),
            roots: roots.iter().map(|root| cwd.join(root)).collect(),
            by_directory: Arc::default(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            tracked: Arc::default(),
        }
    }

    /// Whether `path` (a file, or a directory when `is_dir`) is ignored.
    pub fn is_ignored(&self, path: &Path, is_dir: bool) -> bool {
        // Asked for every entry of the tree: the absolute path is built in a buffer each
        // thread reuses, not a new allocation per entry.
        JOINED.with_borrow_mut(|joined| {
            absolute_plain(&self.cwd, path, joined);
            let joined = Path::new(OsStr::from_bytes(joined));
            self.ignored_by_rules(joined, is_dir) && !self.is_tracked(joined, is_dir)
        })
    }

    /// Whether the index tracks `path`, or any file below it for a directory.
    fn is_tracked(&self, path: &Path, is_dir: bool) -> bool {
        let tracked = self.tracked.get_or_init(|| tracked_files(&self.roots));
        if is_dir {
            tracked
                .range(path.to_owned()..)
                .next()
                .is_some_and(|first| first.starts_with(path))
        } else {
            tracked.contains(path)
        }
    }

    fn ignored_by_rules(&self, path: &Path, is_dir: bool) -> bool {
        let Some(directory) = parent_of(path) else {
            return false;
        };
        for rules in self.chain(directory).iter() {
            match rules.matched(path, is_dir) {
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
                Match::None => {}
            }
        }
        false
    }

    /// The rules that apply in `directory`, nearest first: its own, then its parent's, up
    /// to the repository's top. Built once per directory and shared by the walker's threads.
    /// The walker asks about a directory's entries one after another on the thread that
    /// read it, so each thread keeps the last chain it used: no lock or hash per entry.
    fn chain(&self, directory: &Path) -> Chain {
        let cached = LAST_CHAIN.with_borrow(|last| match last {
            // Compared as bytes: `Path` equality walks components, for every entry.
            Some((rules, dir, chain))
                if *rules == self.id && dir.as_os_str() == directory.as_os_str() =>
            {
                Some(chain.clone())
            }
            _ => None,
        });
        if let Some(chain) = cached {
            return chain;
        }
        let chain = self.shared_chain(directory);
        LAST_CHAIN.with_borrow_mut(|last| {
            *last = Some((self.id, directory.to_owned(), chain.clone()));
        });
        chain
    }

    fn shared_chain(&self, directory: &Path) -> Chain {
        if let Some(chain) = self.read().get(directory) {
            return chain.clone();
        }
        let mut chain = Vec::new();
        if let Some(rules) = read_rules(directory) {
            chain.push(Arc::new(rules));
        }
        let is_top = directory.join(".git").exists();
        if let (false, Some(parent)) = (is_top, directory.parent()) {
            chain.extend(self.shared_chain(parent).iter().cloned());
        }
        let chain = Arc::new(chain);
        self.by_directory
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(directory.to_owned(), chain.clone());
        chain
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<PathBuf, Chain>> {
        self.by_directory.read().unwrap_or_else(|e| e.into_inner())
    }
}

type Chain = Arc<Vec<Arc<Gitignore>>>;

/// `path` made absolute from `cwd` into `out`, without `.` or `..` components or repeated
/// slashes. The walk's paths begin with the root as it was typed (`.`, `./k8s`, `k8s//`,
/// `../other`), and rules are matched against the plain path a rules file's directory
/// prefixes: an anchored pattern (`/vendor`) must apply however the root was spelt, as it
/// does in git, and `../other` must not pick up the rules of the directory it steps out of
/// (a `*.env` there would hide `../other/a.env` from `check`). `..` is resolved by its
/// spelling, as the walk itself reads the path.
fn absolute_plain(cwd: &Path, path: &Path, out: &mut Vec<u8>) {
    let bytes = path.as_os_str().as_bytes();
    out.clear();
    if !bytes.starts_with(b"/") {
        out.extend_from_slice(cwd.as_os_str().as_bytes());
    }
    for part in bytes.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => out.truncate(memchr::memrchr(b'/', out).unwrap_or(0)),
            _ => {
                out.push(b'/');
                out.extend_from_slice(part);
            }
        }
    }
    if out.is_empty() {
        out.push(b'/');
    }
}

/// The directory holding `path`, an absolute path the walk built: everything before its
/// last `/`, found without parsing the path into components (asked for every entry).
fn parent_of(path: &Path) -> Option<&Path> {
    let bytes = path.as_os_str().as_bytes();
    // The walk never builds a path ending in `/`; anything else is `Path::parent`'s.
    if bytes.ends_with(b"/") {
        return path.parent();
    }
    match memchr::memrchr(b'/', bytes)? {
        0 => Some(Path::new("/")),
        slash => Some(Path::new(OsStr::from_bytes(&bytes[..slash]))),
    }
}

/// Tells one set of rules from another in [`LAST_CHAIN`] (a walk's rules may differ from
/// an earlier walk's on the same thread).
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The last directory this thread asked about, with the rules (by id) and the chain.
    static LAST_CHAIN: RefCell<Option<(u64, PathBuf, Chain)>> = const { RefCell::new(None) };
    static JOINED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Every file the indexes of the repositories holding `roots` track, as absolute paths.
fn tracked_files(roots: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut tracked = BTreeSet::new();
    let mut seen = Vec::new();
    for root in roots {
        let Ok(repo) = git2::Repository::discover(root) else {
            continue;
        };
        let Some(top) = repo.workdir().map(Path::to_owned) else {
            continue;
        };
        if seen.contains(&top) {
            continue;
        }
        // The walk reaches files through the path it was given, the index through the
        // repository's own: both spellings, when symlinks make them differ.
        let mut tops = vec![top.clone()];
        if let Ok(canonical) = top.canonicalize() {
            if canonical != top {
                tops.push(canonical);
            }
        }
        if let Ok(index) = repo.index() {
            for entry in index.iter() {
                let relative = String::from_utf8_lossy(&entry.path).into_owned();
                for top in &tops {
                    tracked.insert(top.join(&relative));
                }
            }
        }
        seen.push(top);
    }
    tracked
}

/// The rules one directory's files give, lowest precedence first; `None` when it has none.
fn read_rules(directory: &Path) -> Option<Gitignore> {
    let files = [
        directory.join(".git/info/exclude"),
        directory.join(".gitignore"),
    ];
    let mut builder = GitignoreBuilder::new(directory);
    let mut any = false;
    for file in &files {
        let text = match read_regular(file, MAX_RULES_SIZE) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            // Absent, or not a regular file (a FIFO, a symlink, a device): no rules from it.
            Err(ReadError::NotRegular(_) | ReadError::Io(_) | ReadError::TooLarge(_)) => continue,
        };
        for line in text.lines() {
            // A line that is not a valid pattern is passed over, as git does.
            let _ = builder.add_line(Some(file.clone()), line);
            any = true;
        }
    }
    if !any {
        return None;
    }
    builder.build().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn walked_paths_are_matched_as_plain_absolute_paths() {
        let cwd = Path::new("/repo");
        for (walked, plain) in [
            ("./k8s/a.yaml", "/repo/k8s/a.yaml"),
            ("k8s//a.yaml", "/repo/k8s/a.yaml"),
            ("k8s/./a.yaml", "/repo/k8s/a.yaml"),
            ("././x", "/repo/x"),
            (".", "/repo"),
            ("/elsewhere/./y", "/elsewhere/y"),
            ("../other/a.env", "/other/a.env"),
            ("k8s/../../x", "/x"),
            ("/..", "/"),
            ("/", "/"),
        ] {
            let mut out = Vec::new();
            absolute_plain(cwd, Path::new(walked), &mut out);
            assert_eq!(OsStr::from_bytes(&out), plain, "{walked}");
        }
    }

    #[test]
    fn the_parent_of_a_walked_path_is_the_one_path_gives() {
        for path in [
            "/repo/./k8s/a.yaml",
            "/repo/k8s",
            "/a",
            "/repo/./x",
            "/repo/dir/",
        ] {
            let path = Path::new(path);
            assert_eq!(
                parent_of(path).map(|p| p.components().collect::<Vec<_>>()),
                path.parent().map(|p| p.components().collect::<Vec<_>>()),
                "{path:?}"
            );
        }
        assert_eq!(parent_of(Path::new("/")), None);
    }

    #[test]
    fn nearer_rules_win_and_negations_re_include() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join(".git/info")).unwrap();
        fs::create_dir_all(root.join("k8s/vendor")).unwrap();
        fs::write(root.join(".git/info/exclude"), "*.local\n").unwrap();
        fs::write(root.join(".gitignore"), "*.yaml\n!keep.yaml\n").unwrap();
        fs::write(root.join("k8s/.gitignore"), "!prod.yaml\nvendor/\n").unwrap();
        // ripgrep's .ignore is not git's: it hides nothing from the gate.
        fs::write(root.join("k8s/.ignore"), "prod.yaml\n").unwrap();
        let rules = IgnoreRules::new(root, &[PathBuf::from(".")]);
        let ignored = |path: &str, is_dir: bool| rules.is_ignored(Path::new(path), is_dir);
        assert!(ignored("a.yaml", false));
        assert!(!ignored("keep.yaml", false));
        assert!(ignored("notes.local", false));
        assert!(ignored("k8s/staging.yaml", false));
        assert!(!ignored("k8s/prod.yaml", false));
        assert!(ignored("k8s/vendor", true));
        assert!(!ignored("k8s/run.sh", false));
    }

    #[test]
    fn a_fifo_or_symlink_rules_file_is_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::create_dir_all(root.join("a")).unwrap();
        let fifo = root.join("a/.gitignore");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        std::os::unix::fs::symlink("/dev/zero", root.join(".gitignore")).unwrap();
        let rules = IgnoreRules::new(root, &[PathBuf::from(".")]);
        assert!(!rules.is_ignored(&root.join("a/values.yaml"), false));
    }
}
