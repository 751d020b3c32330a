//! Which policy applies to a command: `--config FILE`, else `REKEY_CONFIG`, else the
//! repository's own `.rekey.toml` (the outermost one from the current directory up to the
//! repository's top), with any nested one between it and the current directory adding to
//! it (`nested`); outside a repository, the nearest one. And what that policy excludes
//! from a walk.

use super::file::{read_text, Policy, FILE_NAME};
use crate::error::Error;
use crate::find::walk;
use crate::model::fs::display_path;
use std::path::{Path, PathBuf};

/// The policy that applies to a command, and where it came from.
pub struct PolicyFile {
    /// The file, when one was found or named.
    pub path: Option<PathBuf>,
    /// How reports name it: the file, or where rekey looked for one.
    pub display: String,
    /// The file that governs, as a path to edit: the repository's own (never a nested one),
    /// the one named, or the `.rekey.toml` to create in the current directory.
    pub file_display: String,
    /// Excludes are relative to this directory.
    root: PathBuf,
    pub policy: Option<Policy>,
    /// The nested policy files merged in (see `nested`): policy files, never judged.
    nested: Vec<PathBuf>,
    /// Named by `--config` or `REKEY_CONFIG` rather than found: it may govern many
    /// repositories, and says nothing of where this one's top is.
    named: bool,
}

impl PolicyFile {
    /// The policy for a command run in `cwd`: `--config FILE`, else `REKEY_CONFIG`, else the
    /// repository's `.rekey.toml` (the outermost from `cwd` up to the repository's top, the
    /// directory holding `.git`) with the nested ones below it adding to it, or the nearest
    /// one up to the filesystem root outside a repository.
    pub fn discover(cwd: &Path, config: Option<&Path>) -> Result<PolicyFile, Error> {
        if let Some(named) = PolicyFile::named(cwd, config)? {
            return Ok(named);
        }
        match find_upwards(cwd, cwd) {
            Found::Policies(files) => PolicyFile::load_nested(files, cwd),
            Found::Nothing { in_repository } => Ok(PolicyFile::none(cwd, in_repository)),
        }
    }

    /// [`PolicyFile::discover`], and when the current directory has none, the nearest
    /// policy above the first path given: `rekey check ../infra` from outside the
    /// repository still judges it by its own policy.
    pub fn discover_for(
        cwd: &Path,
        config: Option<&Path>,
        roots: &[PathBuf],
    ) -> Result<PolicyFile, Error> {
        let file = PolicyFile::discover(cwd, config)?;
        if file.path.is_some() {
            return Ok(file);
        }
        for root in roots {
            let start = cwd.join(root);
            let start = if start.is_dir() {
                start
            } else {
                start
                    .parent()
                    .map_or_else(|| cwd.to_owned(), Path::to_owned)
            };
            if let Found::Policies(files) = find_upwards(&start, cwd) {
                return PolicyFile::load_nested(files, cwd);
            }
        }
        Ok(file)
    }

    fn none(cwd: &Path, in_repository: bool) -> PolicyFile {
        let top = if in_repository {
            "the repository's top"
        } else {
            "the filesystem root"
        };
        PolicyFile {
            path: None,
            display: format!("none (no {FILE_NAME} in this directory or above it, up to {top})"),
            file_display: FILE_NAME.to_owned(),
            root: cwd.to_owned(),
            policy: None,
            nested: Vec::new(),
            named: false,
        }
    }

    /// The policy `--config FILE` or else `REKEY_CONFIG` names for the run, if either does:
    /// one policy for every input (an organisation's list), found nowhere else.
    pub fn named(cwd: &Path, config: Option<&Path>) -> Result<Option<PolicyFile>, Error> {
        let from_env = std::env::var_os("REKEY_CONFIG").filter(|v| !v.is_empty());
        let (path, origin) = match (config, &from_env) {
            (Some(config), _) => (cwd.join(config), "--config"),
            (None, Some(path)) => (cwd.join(path), "REKEY_CONFIG"),
            (None, None) => return Ok(None),
        };
        let display = display_path(&path, cwd);
        if std::fs::symlink_metadata(&path).is_err() {
            return Err(Error::new(format!("{origin} {display}: no such file")));
        }
        let mut file = PolicyFile::load(path, display, cwd)?;
        file.display = format!("{} ({origin})", file.display);
        file.named = true;
        Ok(Some(file))
    }

    fn load(path: PathBuf, display: String, cwd: &Path) -> Result<PolicyFile, Error> {
        let text = read_text(&path, &display)?;
        let policy = Policy::parse_extending(&text, &display, &path)?;
        let root = path.parent().map_or_else(|| cwd.to_owned(), Path::to_owned);
        Ok(PolicyFile {
            file_display: display.clone(),
            display,
            root: root.canonicalize().unwrap_or(root),
            path: Some(path),
            policy: Some(policy),
            nested: Vec::new(),
            named: false,
        })
    }

    /// The outermost of `files` (listed nearest first), with the others, outermost first,
    /// adding to it: the display names them all, so a report says what it ran under.
    fn load_nested(mut files: Vec<(PathBuf, String)>, cwd: &Path) -> Result<PolicyFile, Error> {
        let (path, display) = files.pop().expect("find_upwards lists at least one file");
        let mut file = PolicyFile::load(path, display, cwd)?;
        let Some(policy) = file.policy.as_mut() else {
            return Ok(file);
        };
        let mut names = Vec::new();
        for (path, display) in files.into_iter().rev() {
            let text = read_text(&path, &display)?;
            let nested = Policy::parse_extending(&text, &display, &path)?;
            policy.add_nested(nested, &display, &file.display)?;
            file.nested.push(path);
            names.push(display);
        }
        // Edits go to the repository's file, which the display keeps naming first.
        match names.len() {
            0 => {}
            1 => file.display = format!("{} (nested {} adds to it)", file.display, names[0]),
            _ => file.display = format!("{} (nested {} add to it)", file.display, names.join(", ")),
        }
        Ok(file)
    }

    /// The directory the policy governs when it was found rather than named: the one that
    /// holds the repository's own `.rekey.toml`.
    pub fn scope(&self) -> Option<&Path> {
        (self.path.is_some() && !self.named).then_some(self.root.as_path())
    }

    /// The directory of the repository a command in `cwd` works in: the one its own
    /// policy file governs ([`PolicyFile::scope`]), else the git top above `cwd`; `None`
    /// outside both.
    pub fn repository(&self, cwd: &Path) -> Option<PathBuf> {
        match self.scope() {
            Some(scope) => Some(scope.to_owned()),
            None => cwd
                .ancestors()
                .find(|dir| dir.join(".git").exists())
                .map(Path::to_owned),
        }
    }

    /// The policy, or the default one (no token lists, default levels) when none was found.
    pub fn rules(&self) -> &Policy {
        static DEFAULT: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
        self.policy
            .as_ref()
            .unwrap_or_else(|| DEFAULT.get_or_init(Policy::default))
    }

    fn is_policy_file(&self, absolute: &Path) -> bool {
        self.path
            .iter()
            .chain(&self.nested)
            .any(|path| is_same_file(absolute, path))
    }

    /// [`PolicyFile::excludes`] for a walked `path`, relative to `cwd` or absolute. Called
    /// for every file of the tree: when the policy excludes nothing and the file does not
    /// bear the policy file's name, it answers without building the absolute path.
    pub fn excludes_walked(&self, cwd: &Path, path: &Path) -> bool {
        use std::os::unix::ffi::OsStrExt;
        let (Some(policy), Some(own)) = (&self.policy, &self.path) else {
            return false;
        };
        if policy.exclude_patterns.is_empty()
            && !path
                .as_os_str()
                .as_bytes()
                .ends_with(walk::last_component(own))
        {
            return false;
        }
        self.excludes(&cwd.join(path))
    }

    /// The `[scan] exclude` pattern that names the file at `absolute` (and nothing else),
    /// relative to the policy's directory; `None` when the file lies outside it.
    pub fn exclude_pattern(&self, absolute: &Path) -> Option<String> {
        let relative = match absolute.strip_prefix(&self.root) {
            Ok(relative) => relative.to_owned(),
            Err(_) => {
                let root = self.root.canonicalize().ok()?;
                let resolved = absolute.canonicalize().ok()?;
                resolved.strip_prefix(root).ok()?.to_owned()
            }
        };
        Some(Policy::exclude_pattern(&display_path(
            &relative,
            Path::new(""),
        )))
    }

    /// Whether the policy's excludes name `absolute`. The policy file itself is never
    /// judged or counted: it holds fingerprints, not tokens, and a hook that is handed it
    /// must not report it as a checked file.
    pub fn excludes(&self, absolute: &Path) -> bool {
        let Some(policy) = &self.policy else {
            return false;
        };
        if self.is_policy_file(absolute) {
            return true;
        }
        // Called for every walked file: resolve symlinks only when the plain path does not
        // already lie below the policy's directory.
        let relative = match absolute.strip_prefix(&self.root) {
            Ok(relative) => relative.to_owned(),
            Err(_) => match absolute.canonicalize() {
                Ok(resolved) => match resolved.strip_prefix(&self.root) {
                    Ok(relative) => relative.to_owned(),
                    Err(_) => return false,
                },
                Err(_) => return false,
            },
        };
        policy.excludes(&display_path(&relative, Path::new("")))
    }
}

/// Whether `absolute` is the policy file at `path`, spelt either way.
fn is_same_file(absolute: &Path, path: &Path) -> bool {
    absolute.file_name() == path.file_name()
        && (absolute == path
            || matches!(
                (absolute.canonicalize(), path.canonicalize()),
                (Ok(a), Ok(b)) if a == b
            ))
}

enum Found {
    /// Policy files with how to show them, nearest first: the last one governs.
    Policies(Vec<(PathBuf, String)>),
    Nothing {
        in_repository: bool,
    },
}

/// The policy files from `start` up to its repository's top, named relative to `cwd`.
/// Outside a repository there is no top to govern, so only the nearest one (up to the
/// filesystem root) counts.
fn find_upwards(start: &Path, cwd: &Path) -> Found {
    let mut found = Vec::new();
    for directory in start.ancestors() {
        let candidate = directory.join(FILE_NAME);
        // Seen without being followed or opened: reading it refuses anything but a file.
        if std::fs::symlink_metadata(&candidate).is_ok() {
            let display = display_path(&candidate, cwd);
            let display = if display.starts_with('/') {
                relative_upwards(cwd, directory, &display)
            } else {
                display
            };
            found.push((candidate, display));
        }
        if directory.join(".git").exists() {
            return Found::of(found, true);
        }
    }
    found.truncate(1);
    Found::of(found, false)
}

impl Found {
    fn of(found: Vec<(PathBuf, String)>, in_repository: bool) -> Found {
        if found.is_empty() {
            Found::Nothing { in_repository }
        } else {
            Found::Policies(found)
        }
    }
}

/// `../../.rekey.toml` for a policy file `levels` directories above `cwd`.
fn relative_upwards(cwd: &Path, directory: &Path, display: &str) -> String {
    let levels = cwd
        .strip_prefix(directory)
        .map_or(0, |rest| rest.components().count());
    if levels == 0 {
        return display.to_owned();
    }
    format!("{}{FILE_NAME}", "../".repeat(levels))
}
