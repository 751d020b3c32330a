//! Which policy applies to a command: `--config FILE`, else `REKEY_CONFIG`, else the
//! nearest `.rekey.toml` from the current directory up to the repository's top; and what
//! that policy excludes from a walk.

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
    /// Excludes are relative to this directory.
    root: PathBuf,
    pub policy: Option<Policy>,
}

impl PolicyFile {
    /// The policy for a command run in `cwd`: `--config FILE`, else `REKEY_CONFIG`, else the
    /// nearest `.rekey.toml` from `cwd` up to the repository's top (the directory holding
    /// `.git`), or up to the filesystem root outside a repository.
    pub fn discover(cwd: &Path, config: Option<&Path>) -> Result<PolicyFile, Error> {
        if let Some(named) = PolicyFile::named(cwd, config)? {
            return Ok(named);
        }
        match find_upwards(cwd, cwd) {
            Found::Policy(path, display) => PolicyFile::load(path, display, cwd),
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
            if let Found::Policy(path, display) = find_upwards(&start, cwd) {
                return PolicyFile::load(path, display, cwd);
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
            root: cwd.to_owned(),
            policy: None,
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
        Ok(Some(file))
    }

    fn load(path: PathBuf, display: String, cwd: &Path) -> Result<PolicyFile, Error> {
        let text = read_text(&path, &display)?;
        let policy = Policy::parse_extending(&text, &display, &path)?;
        let root = path.parent().map_or_else(|| cwd.to_owned(), Path::to_owned);
        Ok(PolicyFile {
            display,
            root: root.canonicalize().unwrap_or(root),
            path: Some(path),
            policy: Some(policy),
        })
    }

    /// The policy, or the default one (no token lists, default levels) when none was found.
    pub fn rules(&self) -> &Policy {
        static DEFAULT: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
        self.policy
            .as_ref()
            .unwrap_or_else(|| DEFAULT.get_or_init(Policy::default))
    }

    fn is_policy_file(&self, absolute: &Path) -> bool {
        let Some(path) = &self.path else {
            return false;
        };
        absolute.file_name() == path.file_name()
            && (absolute == path
                || matches!(
                    (absolute.canonicalize(), path.canonicalize()),
                    (Ok(a), Ok(b)) if a == b
                ))
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

enum Found {
    Policy(PathBuf, String),
    Nothing { in_repository: bool },
}

/// The nearest policy file from `start` up to its repository's top (or the filesystem
/// root), named relative to `cwd`.
fn find_upwards(start: &Path, cwd: &Path) -> Found {
    for directory in start.ancestors() {
        let candidate = directory.join(FILE_NAME);
        if std::fs::symlink_metadata(&candidate).is_ok() {
            let display = display_path(&candidate, cwd);
            let display = if display.starts_with('/') {
                relative_upwards(cwd, directory, &display)
            } else {
                display
            };
            return Found::Policy(candidate, display);
        }
        if directory.join(".git").exists() {
            return Found::Nothing {
                in_repository: true,
            };
        }
    }
    Found::Nothing {
        in_repository: false,
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
