//! The repository's policy file, `.rekey.toml`: which tokens are in force and which are
//! revoked (as fingerprints, safe to commit), per-rule levels and extra excludes. Reading it
//! and every edit rekey makes to it (`init`, `revoke`, a rotation updating `current`) go
//! through `toml_edit`, so the user's comments and layout survive byte for byte outside the
//! values that change.
//!
//! `extends = ["../policy/org.toml"]` includes other policy files (paths relative to the
//! file that names them; a missing file is an error, a cycle is refused), so an
//! organisation writes a revocation once and every repository's `check` sees it. Their
//! token lists, rule levels and excludes are merged in; the including file's own rule
//! levels win. `listed_in` remembers which included file listed each fingerprint, so a
//! finding can say where a revocation came from.

use crate::position::line_col;
use crate::source::{self, ReadError};
use crate::token::Fingerprint;
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use toml_edit::{Array, DocumentMut, Item, Value};

pub const FILE_NAME: &str = ".rekey.toml";

/// The stable rule ids `check` reports under; SARIF and JSON consumers key on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    RevokedToken,
    StaleToken,
    LegacyKey,
    MalformedToken,
    Unparseable,
    /// A file that could hold a site but was not judged (too large, unreadable, binary or
    /// UTF-16 beside a key name, not UTF-8), or a temp file an interrupted rotation left.
    UncheckedFile,
    /// A delegate token kept in an external store or encrypted (ExternalSecret, ECS
    /// `secrets`, Vault agent, SOPS, SealedSecret): rekey can neither judge nor rotate it.
    ExternalToken,
}

impl Rule {
    pub const ALL: [Rule; 7] = [
        Rule::RevokedToken,
        Rule::StaleToken,
        Rule::LegacyKey,
        Rule::MalformedToken,
        Rule::Unparseable,
        Rule::UncheckedFile,
        Rule::ExternalToken,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Rule::RevokedToken => "revoked-token",
            Rule::StaleToken => "stale-token",
            Rule::LegacyKey => "legacy-key",
            Rule::MalformedToken => "malformed-token",
            Rule::Unparseable => "unparseable",
            Rule::UncheckedFile => "unchecked-file",
            Rule::ExternalToken => "external-token",
        }
    }

    pub fn default_level(self) -> Level {
        match self {
            Rule::MalformedToken => Level::Warning,
            // Keeping the token out of git is good practice, not a violation: the note lists
            // the copies a rotation must reach by hand without failing CI.
            Rule::ExternalToken => Level::Note,
            _ => Level::Error,
        }
    }

    fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|rule| rule.id() == id)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warning,
    Note,
    Off,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Note => "note",
            Level::Off => "off",
        }
    }

    fn parse(text: &str) -> Option<Level> {
        [Level::Error, Level::Warning, Level::Note, Level::Off]
            .into_iter()
            .find(|level| level.name() == text)
    }
}

/// A parsed policy. The default (no file) has no token lists and default levels.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub current: BTreeSet<Fingerprint>,
    pub revoked: BTreeSet<Fingerprint>,
    levels: BTreeMap<Rule, Level>,
    excludes: Option<GlobSet>,
    exclude_patterns: Vec<String>,
    /// For each fingerprint listed by a file this one extends: that file.
    pub listed_in: BTreeMap<Fingerprint, String>,
}

impl Policy {
    pub fn level(&self, rule: Rule) -> Level {
        self.levels
            .get(&rule)
            .copied()
            .unwrap_or(rule.default_level())
    }

    /// Whether `path` (relative to the policy's directory, with `/`) is excluded.
    pub fn excludes(&self, path: &str) -> bool {
        self.excludes.as_ref().is_some_and(|set| set.is_match(path))
    }

    /// Parses the text of a policy file; `display` names it in errors.
    pub fn parse(text: &str, display: &str) -> Result<Policy, String> {
        // The read-only `Document` keeps spans, for errors that name a line.
        let document = toml_edit::Document::parse(text.to_owned())
            .map_err(|error| toml_error(text, display, &error))?;
        let error = |message: String| format!("{display}: {message}");
        let mut policy = Policy::default();
        if let Some(tokens) = document.get("tokens") {
            let tokens = tokens
                .as_table_like()
                .ok_or_else(|| error("[tokens] must be a table".to_owned()))?;
            for (name, list) in [
                ("current", &mut policy.current),
                ("revoked", &mut policy.revoked),
            ] {
                if let Some(item) = tokens.get(name) {
                    *list = fingerprints(item, text, display, name)?;
                }
            }
        }
        if let Some(rules) = document.get("rules").and_then(Item::as_table_like) {
            for (id, item) in rules.iter() {
                let at = located(text, display, item);
                let rule = Rule::from_id(id).ok_or_else(|| {
                    format!(
                        "{at}: unknown rule {id}; rules are {}",
                        Rule::ALL.map(Rule::id).join(", ")
                    )
                })?;
                let level = item.as_str().and_then(Level::parse).ok_or_else(|| {
                    format!("{at}: rule {id} takes \"error\", \"warning\", \"note\" or \"off\"")
                })?;
                policy.levels.insert(rule, level);
            }
        }
        if let Some(item) = document.get("scan").and_then(|scan| scan.get("exclude")) {
            let at = located(text, display, item);
            let patterns = item
                .as_array()
                .ok_or_else(|| format!("{at}: [scan] exclude must be an array of glob patterns"))?;
            let mut builder = GlobSetBuilder::new();
            for pattern in patterns.iter() {
                let pattern = pattern.as_str().ok_or_else(|| {
                    format!("{at}: [scan] exclude holds a value that is not a string")
                })?;
                let glob = Glob::new(pattern)
                    .map_err(|e| format!("{at}: bad exclude pattern {pattern:?}: {e}"))?;
                builder.add(glob);
                policy.exclude_patterns.push(pattern.to_owned());
            }
            let set = builder
                .build()
                .map_err(|e| format!("{at}: bad exclude patterns: {e}"))?;
            policy.excludes = Some(set);
        }
        Ok(policy)
    }

    /// Parses a policy file at `path` (shown as `display`) and the files it extends.
    pub fn parse_extending(text: &str, display: &str, path: &Path) -> Result<Policy, String> {
        let mut chain = vec![canonical(path)];
        Policy::parse_chain(text, display, path, &mut chain)
    }

    fn parse_chain(
        text: &str,
        display: &str,
        path: &Path,
        chain: &mut Vec<PathBuf>,
    ) -> Result<Policy, String> {
        let mut policy = Policy::parse(text, display)?;
        let document = toml_edit::Document::parse(text.to_owned())
            .map_err(|error| toml_error(text, display, &error))?;
        let Some(item) = document.get("extends") else {
            return Ok(policy);
        };
        let at = located(text, display, item);
        let entries = item
            .as_array()
            .ok_or_else(|| format!("{at}: extends must be an array of policy file paths"))?;
        let directory = path.parent().unwrap_or(Path::new(""));
        for entry in entries.iter() {
            let relative = entry
                .as_str()
                .ok_or_else(|| format!("{at}: extends holds a value that is not a path string"))?;
            let included = directory.join(relative);
            let included_display = beside(display, relative);
            if !included.exists() {
                return Err(format!(
                    "{at}: extends {relative:?}: no such file ({}); fix the path, which is relative to {display}",
                    included.display()
                ));
            }
            let resolved = canonical(&included);
            if chain.contains(&resolved) {
                return Err(format!(
                    "{at}: extends {relative:?} includes a policy file that is already being read ({included_display}): remove the cycle"
                ));
            }
            let included_text = read_text(&included, &included_display)?;
            chain.push(resolved);
            let base = Policy::parse_chain(&included_text, &included_display, &included, chain)?;
            chain.pop();
            policy.merge(base, &included_display)?;
        }
        Ok(policy)
    }

    /// Adds what an extended policy (`display`) says; this policy's own levels win.
    fn merge(&mut self, base: Policy, display: &str) -> Result<(), String> {
        for (own, theirs) in [
            (&mut self.current, &base.current),
            (&mut self.revoked, &base.revoked),
        ] {
            for fingerprint in theirs {
                if own.insert(fingerprint.clone()) {
                    let source = base
                        .listed_in
                        .get(fingerprint)
                        .cloned()
                        .unwrap_or_else(|| display.to_owned());
                    self.listed_in.insert(fingerprint.clone(), source);
                }
            }
        }
        for (rule, level) in base.levels {
            self.levels.entry(rule).or_insert(level);
        }
        if !base.exclude_patterns.is_empty() {
            self.exclude_patterns.extend(base.exclude_patterns);
            let mut builder = GlobSetBuilder::new();
            for pattern in &self.exclude_patterns {
                builder.add(Glob::new(pattern).map_err(|e| format!("{display}: {e}"))?);
            }
            self.excludes = Some(builder.build().map_err(|e| format!("{display}: {e}"))?);
        }
        Ok(())
    }
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}

/// How to show `relative`, named by the policy file shown as `display`: beside it, with
/// `dir/../` folded away.
fn beside(display: &str, relative: &str) -> String {
    let mut parts: Vec<&str> = match display.rsplit_once('/') {
        Some((directory, _)) => directory.split('/').collect(),
        None => Vec::new(),
    };
    for part in relative.split('/') {
        match part {
            "." | "" => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

/// A policy file is small; anything larger is refused rather than read.
const MAX_POLICY_SIZE: u64 = 1024 * 1024;

/// Reads a policy file's text: a regular file only (a FIFO or device named `.rekey.toml`
/// is refused, never opened for reading), bounded, UTF-8.
pub fn read_text(path: &Path, display: &str) -> Result<String, String> {
    let bytes = source::read_regular(path, MAX_POLICY_SIZE).map_err(|error| match error {
        ReadError::TooLarge(_) => format!("{display}: is over 1 MiB; a policy file is a few lines"),
        error => format!("{display}: {error}"),
    })?;
    String::from_utf8(bytes).map_err(|_| format!("{display}: is not UTF-8"))
}

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
    pub fn discover(cwd: &Path, config: Option<&Path>) -> Result<PolicyFile, String> {
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
    ) -> Result<PolicyFile, String> {
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
    pub fn named(cwd: &Path, config: Option<&Path>) -> Result<Option<PolicyFile>, String> {
        let from_env = std::env::var_os("REKEY_CONFIG").filter(|v| !v.is_empty());
        let (path, origin) = match (config, &from_env) {
            (Some(config), _) => (cwd.join(config), "--config"),
            (None, Some(path)) => (cwd.join(path), "REKEY_CONFIG"),
            (None, None) => return Ok(None),
        };
        let display = source::display_path(&path, cwd);
        if std::fs::symlink_metadata(&path).is_err() {
            return Err(format!("{origin} {display}: no such file"));
        }
        let mut file = PolicyFile::load(path, display, cwd)?;
        file.display = format!("{} ({origin})", file.display);
        Ok(Some(file))
    }

    fn load(path: PathBuf, display: String, cwd: &Path) -> Result<PolicyFile, String> {
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
                .ends_with(source::last_component(own))
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
        policy.excludes(&source::display_path(&relative, Path::new("")))
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
            let display = source::display_path(&candidate, cwd);
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

fn parse_document(text: &str, display: &str) -> Result<DocumentMut, String> {
    text.parse::<DocumentMut>()
        .map_err(|error| toml_error(text, display, &error))
}

fn toml_error(text: &str, display: &str, error: &toml_edit::TomlError) -> String {
    let (line, column) = line_col(text.as_bytes(), error.span().map_or(0, |s| s.start));
    let message = error.message().trim();
    format!("{display}:{line}:{column}: not valid TOML: {message}")
}

/// `path:line:column` of an item, for errors about its value.
fn located(text: &str, display: &str, item: &Item) -> String {
    match item.span() {
        Some(span) => {
            let (line, column) = line_col(text.as_bytes(), span.start);
            format!("{display}:{line}:{column}")
        }
        None => display.to_owned(),
    }
}

fn fingerprints(
    item: &Item,
    text: &str,
    display: &str,
    name: &str,
) -> Result<BTreeSet<Fingerprint>, String> {
    let at = located(text, display, item);
    let array = item
        .as_array()
        .ok_or_else(|| format!("{at}: [tokens] {name} must be an array of fingerprints"))?;
    array
        .iter()
        .map(|value| {
            value.as_str().and_then(Fingerprint::parse).ok_or_else(|| {
                let token = value.as_str().map(crate::token::classify);
                match token.as_ref().and_then(|t| t.is_token().then(|| t.fingerprint()).flatten()) {
                    Some(fingerprint) => format!("{at}: [tokens] {name} holds a delegate token itself, not its fingerprint: write {fingerprint} instead, and treat the token as exposed (it is in this file's history)"),
                    None => format!("{at}: [tokens] {name} holds {}, which is not a fingerprint (sha256: and 16 hex digits, as `rekey scan` prints them)", value.to_string().trim()),
                }
            })
        })
        .collect()
}

/// The text `rekey init` writes: commented, with `current` set to the tokens held now.
pub fn initial_text(current: &BTreeSet<Fingerprint>) -> String {
    let mut list = String::new();
    for fingerprint in current {
        list.push_str(&format!("  \"{fingerprint}\",\n"));
    }
    format!(
        r#"# rekey policy: which delegate tokens may appear in this repository.
# Tokens are listed by fingerprint (sha256: + 16 hex digits of SHA-256 of the token), which
# is safe to commit. `rekey scan` prints them; `rekey rotate --write/--commit` updates
# `current`; `rekey revoke FINGERPRINT` moves one to `revoked`.

[tokens]
# Tokens in force. Any other literal token is reported as stale-token.
current = [
{list}]
# Tokens revoked in Harness. Any occurrence is reported as revoked-token.
revoked = []

# Levels per rule: "error" (fails check), "warning", "note" or "off".
[rules]
# revoked-token = "error"
# stale-token = "error"
# legacy-key = "error"
# malformed-token = "warning"
# unparseable = "error"
# unchecked-file = "error"

[scan]
# Extra excludes (globs relative to this file), applied to explicitly given paths too.
exclude = []
"#
    )
}

/// Moves `revoked` into `[tokens] revoked` (once each) and out of `current`.
pub fn revoke(text: &str, display: &str, revoked: &[Fingerprint]) -> Result<String, String> {
    let mut document = parse_document(text, display)?;
    Policy::parse(text, display)?;
    let tokens = tokens_table(&mut document, display)?;
    for fingerprint in revoked {
        let current = array(tokens, "current", display)?;
        remove_keeping_layout(current, |value| {
            value.as_str().and_then(Fingerprint::parse).as_ref() == Some(fingerprint)
        });
        let list = array(tokens, "revoked", display)?;
        if !contains(list, fingerprint) {
            push_like_last(list, fingerprint.as_str());
        }
    }
    Ok(document.to_string())
}

/// After a rotation: the rotated fingerprints leave `current` and the new one takes the
/// place of the first of them (or is added). `None` when nothing changes.
pub fn rotate_current(
    text: &str,
    display: &str,
    rotated: &BTreeSet<Fingerprint>,
    new: &Fingerprint,
) -> Result<Option<String>, String> {
    let mut document = parse_document(text, display)?;
    Policy::parse(text, display)?;
    let tokens = tokens_table(&mut document, display)?;
    let current = array(tokens, "current", display)?;
    let is_rotated = |value: &Value| {
        value
            .as_str()
            .and_then(Fingerprint::parse)
            .is_some_and(|f| rotated.contains(&f))
    };
    let first_rotated = current.iter().position(is_rotated);
    let holds_new = contains(current, new);
    match first_rotated {
        Some(first) if !holds_new => {
            let slot = current.get_mut(first).expect("position is in range");
            let decor = slot.decor().clone();
            *slot = Value::from(new.as_str());
            *slot.decor_mut() = decor;
        }
        Some(_) => {}
        None if holds_new => return Ok(None),
        None => push_like_last(current, new.as_str()),
    }
    remove_keeping_layout(current, is_rotated);
    let updated = document.to_string();
    Ok((updated != text).then_some(updated))
}

fn tokens_table<'d>(
    document: &'d mut DocumentMut,
    display: &str,
) -> Result<&'d mut dyn toml_edit::TableLike, String> {
    document
        .entry("tokens")
        .or_insert(toml_edit::table())
        .as_table_like_mut()
        .ok_or_else(|| format!("{display}: [tokens] must be a table"))
}

fn array<'t>(
    tokens: &'t mut dyn toml_edit::TableLike,
    name: &str,
    display: &str,
) -> Result<&'t mut Array, String> {
    tokens
        .entry(name)
        .or_insert(toml_edit::value(Array::new()))
        .as_array_mut()
        .ok_or_else(|| format!("{display}: [tokens] {name} must be an array"))
}

fn contains(array: &Array, fingerprint: &Fingerprint) -> bool {
    array
        .iter()
        .any(|value| value.as_str().and_then(Fingerprint::parse).as_ref() == Some(fingerprint))
}

/// Removes the matching items. A comment trailing a removed item goes with it: toml_edit
/// keeps it in the next item's prefix, or in the array's trailing text for the last item.
fn remove_keeping_layout(array: &mut Array, remove: impl Fn(&Value) -> bool) {
    let mut index = 0;
    while index < array.len() {
        if !remove(array.get(index).expect("index is in range")) {
            index += 1;
            continue;
        }
        let prefix = array.get(index).and_then(|v| v.decor().prefix().cloned());
        array.remove(index);
        match (prefix, array.get_mut(index)) {
            (Some(prefix), Some(next)) => next.decor_mut().set_prefix(prefix),
            (_, None) => {
                let (_, rest) = split_trailing_comment(array);
                array.set_trailing(rest);
            }
            (None, Some(_)) => {}
        }
    }
}

/// The array's trailing text split at its first line break: the comment on the last item's
/// line, and the rest.
fn split_trailing_comment(array: &Array) -> (String, String) {
    let trailing = array.trailing().as_str().unwrap_or_default();
    match trailing.find('\n') {
        Some(at) => (trailing[..at].to_owned(), trailing[at..].to_owned()),
        None => (String::new(), trailing.to_owned()),
    }
}

/// Appends keeping the array's own layout: on a line of its own when the last item sits on
/// one, and leaving the comment that trailed the old last item beside it.
fn push_like_last(array: &mut Array, text: &str) {
    let last_prefix = array
        .iter()
        .last()
        .and_then(|last| last.decor().prefix()?.as_str().map(str::to_owned));
    let (comment, rest) = split_trailing_comment(array);
    array.push(text);
    let Some(last_prefix) = last_prefix else {
        return;
    };
    if last_prefix.contains('\n') {
        // The old last item's comment now precedes the new item's line break.
        let pushed = array.iter_mut().last().expect("just pushed");
        pushed
            .decor_mut()
            .set_prefix(format!("{comment}{last_prefix}"));
        array.set_trailing(rest);
        array.set_trailing_comma(true);
    } else {
        let pushed = array.iter_mut().last().expect("just pushed");
        pushed.decor_mut().set_prefix(last_prefix);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:ff25d2389ab7917a";
    const B: &str = "sha256:261a3b41c39377c6";
    const NEW: &str = "sha256:23e0bf16a8233d47";

    fn fp(text: &str) -> Fingerprint {
        Fingerprint::parse(text).unwrap()
    }

    #[test]
    fn parses_tokens_levels_and_excludes() {
        let text = format!("[tokens]\ncurrent = [\"{A}\"]\nrevoked = [\"{B}\"]\n[rules]\nlegacy-key = \"warning\"\n[scan]\nexclude = [\"vendor/**\"]\n");
        let policy = Policy::parse(&text, ".rekey.toml").unwrap();
        assert!(policy.current.contains(&fp(A)));
        assert!(policy.revoked.contains(&fp(B)));
        assert_eq!(policy.level(Rule::LegacyKey), Level::Warning);
        assert_eq!(policy.level(Rule::MalformedToken), Level::Warning);
        assert_eq!(policy.level(Rule::StaleToken), Level::Error);
        assert!(policy.excludes("vendor/charts/values.yaml"));
        assert!(!policy.excludes("k8s/values.yaml"));
    }

    #[test]
    fn malformed_files_name_the_line_and_column() {
        let error =
            Policy::parse("[tokens]\ncurrent = [\"sha256:ff\"\n", ".rekey.toml").unwrap_err();
        assert!(error.starts_with(".rekey.toml:2:"), "{error}");
        let error = Policy::parse("[tokens]\ncurrent = [\"nope\"]\n", ".rekey.toml").unwrap_err();
        assert!(
            error.starts_with(".rekey.toml:2:11: [tokens] current holds \"nope\""),
            "{error}"
        );
        let error = Policy::parse("[rules]\nstale = \"error\"\n", "p.toml").unwrap_err();
        assert!(
            error.starts_with("p.toml:2:9: unknown rule stale"),
            "{error}"
        );
    }

    #[test]
    fn revoke_moves_a_token_and_keeps_comments() {
        let text = format!("# policy\n[tokens]\ncurrent = [\n  \"{A}\", # prod\n  \"{B}\",\n]\nrevoked = [] # none yet\n");
        let updated = revoke(&text, ".rekey.toml", &[fp(A)]).unwrap();
        assert_eq!(
            updated,
            format!(
                "# policy\n[tokens]\ncurrent = [\n  \"{B}\",\n]\nrevoked = [\"{A}\"] # none yet\n"
            )
        );
        assert_eq!(revoke(&updated, ".rekey.toml", &[fp(A)]).unwrap(), updated);
    }

    #[test]
    fn rotation_replaces_the_old_fingerprint_in_place() {
        let text =
            format!("[tokens]\n# in force\ncurrent = [\n  \"{A}\",  # prod\n  \"{B}\",\n]\n");
        let rotated = BTreeSet::from([fp(A)]);
        let updated = rotate_current(&text, ".rekey.toml", &rotated, &fp(NEW))
            .unwrap()
            .unwrap();
        assert_eq!(
            updated,
            format!("[tokens]\n# in force\ncurrent = [\n  \"{NEW}\",  # prod\n  \"{B}\",\n]\n")
        );
        assert_eq!(
            rotate_current(&updated, ".rekey.toml", &rotated, &fp(NEW)).unwrap(),
            None
        );
        let added = rotate_current("[tokens]\ncurrent = []\n", "p", &rotated, &fp(NEW))
            .unwrap()
            .unwrap();
        assert_eq!(added, format!("[tokens]\ncurrent = [\"{NEW}\"]\n"));
    }

    #[test]
    fn initial_text_parses_back_to_its_tokens() {
        let current = BTreeSet::from([fp(A), fp(B)]);
        let policy = Policy::parse(&initial_text(&current), ".rekey.toml").unwrap();
        assert_eq!(policy.current, current);
        assert!(policy.revoked.is_empty());
    }
}
