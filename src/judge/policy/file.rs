//! The policy file's format: the rules and their levels, the token lists, the excludes,
//! the project's extra key names, parsed from TOML with errors that name the line; and
//! reading a policy file safely.

use crate::error::Error;
use crate::model::fs::{read_regular, ReadError};
use crate::model::keys;
use crate::model::position::line_col;
use crate::model::token::Fingerprint;
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use toml_edit::{DocumentMut, Item, TableLike};

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
    /// A token git history holds that the policy lists neither as current nor as revoked
    /// (`check --history`): it may still be live, and anyone who clones can read it.
    HistoryToken,
    /// A revoked token still at the tip of a ref other than `HEAD`'s (`check --history`):
    /// a branch that would deploy a dead token.
    RevokedAtRef,
}

impl Rule {
    pub const ALL: [Rule; 9] = [
        Rule::RevokedToken,
        Rule::StaleToken,
        Rule::LegacyKey,
        Rule::MalformedToken,
        Rule::Unparseable,
        Rule::UncheckedFile,
        Rule::ExternalToken,
        Rule::HistoryToken,
        Rule::RevokedAtRef,
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
            Rule::HistoryToken => "history-token",
            Rule::RevokedAtRef => "revoked-at-ref",
        }
    }

    pub fn default_level(self) -> Level {
        match self {
            Rule::MalformedToken | Rule::RevokedAtRef => Level::Warning,
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
    pub(super) levels: BTreeMap<Rule, Level>,
    pub(super) excludes: Option<GlobSet>,
    pub(super) exclude_patterns: Vec<String>,
    /// `[keys] extra`: the project's own names for the token key, as written.
    pub(super) extra_keys: Vec<String>,
    /// For each fingerprint listed by a file this one extends: that file.
    pub listed_in: BTreeMap<Fingerprint, String>,
    /// Where each rule's level was set, for errors about a level that would loosen.
    pub(super) level_at: BTreeMap<Rule, Origin>,
    /// Where `[tokens] current` and `[scan] exclude` were written (`path:line:column`).
    pub(super) current_at: Option<String>,
    pub(super) exclude_at: Option<String>,
}

/// The file that set a value, and its `path:line:column`.
#[derive(Clone, Debug)]
pub(super) struct Origin {
    pub file: String,
    pub at: String,
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

    /// The `[scan] exclude` pattern that names `path` (relative to the policy's directory,
    /// with `/`) and nothing else: glob characters in it match themselves.
    pub fn exclude_pattern(path: &str) -> String {
        let mut pattern = String::with_capacity(path.len());
        for c in path.chars() {
            match c {
                '*' | '?' | '[' | ']' | '{' | '}' | '\\' => {
                    pattern.push('[');
                    pattern.push(c);
                    pattern.push(']');
                }
                c => pattern.push(c),
            }
        }
        pattern
    }

    /// The project's extra key names, for the scanners ([`keys::install`]).
    pub fn key_names(&self) -> Arc<keys::Names> {
        Arc::new(keys::Names::new(&self.extra_keys))
    }

    /// Makes this policy's extra key names the ones this thread scans with.
    pub fn install_key_names(&self) {
        keys::install(self.key_names());
    }

    /// [`Policy::install_key_names`] of `policy`, or no extra names without one.
    pub fn install_key_names_of(policy: Option<&Policy>) {
        keys::install(policy.map(Policy::key_names).unwrap_or_default());
    }

    /// Parses the text of a policy file; `display` names it in errors.
    pub fn parse(text: &str, display: &str) -> Result<Policy, Error> {
        // The read-only `Document` keeps spans, for errors that name a line.
        let document = toml_edit::Document::parse(text.to_owned())
            .map_err(|error| toml_error(text, display, &error))?;
        refuse_unknown_keys(&document, text, display)?;
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
                    if name == "current" {
                        policy.current_at = Some(located(text, display, item));
                    }
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
                let file = display.to_owned();
                policy.level_at.insert(rule, Origin { file, at });
            }
        }
        if let Some(item) = document.get("keys").and_then(|keys| keys.get("extra")) {
            policy.extra_keys = extra_keys(item, text, display)?;
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
            policy.exclude_at = Some(at);
        }
        Ok(policy)
    }
}

/// The tables of a policy file and the keys each takes (`None`: its own parser checks
/// them). A key rekey does not know is an error, never passed over: `revokd = […]` read
/// as nothing would turn the revoked-token rule off without a word.
const KNOWN_KEYS: &[(&str, Option<&[&str]>)] = &[
    ("tokens", Some(&["current", "revoked"])),
    ("rules", None),
    ("scan", Some(&["exclude"])),
    ("keys", Some(&["extra"])),
    ("extends", Some(&[])),
    ("harness", Some(&["endpoint", "account", "org", "project"])),
];

/// Whether a name under `[harness]` would hold an API key: refused with its own message by
/// every command, so that `check --staged` fails the commit that adds one.
fn names_a_key(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["key", "token", "secret"]
        .iter()
        .any(|word| name.contains(word))
}

fn refuse_unknown_keys(
    document: &toml_edit::Document<String>,
    text: &str,
    display: &str,
) -> Result<(), Error> {
    let at =
        |table: &dyn TableLike, name: &str| match table.key(name).and_then(toml_edit::Key::span) {
            Some(span) => {
                let (line, column) = line_col(text.as_bytes(), span.start);
                format!("{display}:{line}:{column}")
            }
            None => display.to_owned(),
        };
    let tables: Vec<&str> = KNOWN_KEYS.iter().map(|(name, _)| *name).collect();
    let top = document.as_table();
    for (name, item) in top.iter() {
        let Some((_, keys)) = KNOWN_KEYS.iter().find(|(known, _)| *known == name) else {
            return Err(Error::new(format!(
                "{}: unknown key {name}; a policy file has {}",
                at(top, name),
                tables.join(", ")
            )));
        };
        let (Some(keys), Some(table)) = (keys, item.as_table_like()) else {
            continue;
        };
        if let Some((inner, value)) = table.iter().find(|(inner, _)| !keys.contains(inner)) {
            if name == "harness" && names_a_key(inner) {
                return Err(Error::new(format!(
                    "{}: [harness] {inner}: an API key never stands in .rekey.toml, which is committed: remove it, give the key in HARNESS_PLATFORM_API_KEY or --api-key-file, and treat it as exposed (it is in this file's history)",
                    located(text, display, value)
                )));
            }
            return Err(Error::new(format!(
                "{}: unknown key {inner} in [{name}]; it takes {}",
                at(table, inner),
                keys.join(", ")
            )));
        }
    }
    Ok(())
}

/// A policy file is small; anything larger is refused rather than read.
const MAX_POLICY_SIZE: u64 = 1024 * 1024;

/// Reads a policy file's text: a regular file only (a FIFO, a device or a symlink named
/// `.rekey.toml` is refused, never opened for reading or followed: a committed symlink to
/// `/dev/zero` or to a FIFO must not hang the gate), bounded, UTF-8.
pub fn read_text(path: &Path, display: &str) -> Result<String, Error> {
    let bytes = read_regular(path, MAX_POLICY_SIZE).map_err(|error| match error {
        ReadError::TooLarge(_) => Error::at(display, "is over 1 MiB; a policy file is a few lines"),
        error @ ReadError::NotRegular(_) => Error::at(
            display,
            format!("{error}: a policy file must be a regular file; replace it with one (to share a policy, name the shared file in `extends`)"),
        ),
        error => Error::at(display, error.to_string()),
    })?;
    String::from_utf8(bytes).map_err(|_| Error::at(display, "is not UTF-8"))
}

pub(super) fn parse_document(text: &str, display: &str) -> Result<DocumentMut, Error> {
    text.parse::<DocumentMut>()
        .map_err(|error| toml_error(text, display, &error))
}

pub(super) fn toml_error(text: &str, display: &str, error: &toml_edit::TomlError) -> Error {
    let position = line_col(text.as_bytes(), error.span().map_or(0, |s| s.start));
    Error {
        position: Some(position),
        ..Error::at(
            display,
            format!("not valid TOML: {}", error.message().trim()),
        )
    }
}

/// `path:line:column` of an item, for errors about its value.
pub(super) fn located(text: &str, display: &str, item: &Item) -> String {
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
) -> Result<BTreeSet<Fingerprint>, Error> {
    let at = located(text, display, item);
    let array = item
        .as_array()
        .ok_or_else(|| format!("{at}: [tokens] {name} must be an array of fingerprints"))?;
    array
        .iter()
        .enumerate()
        .map(|(index, value)| {
            value.as_str().and_then(Fingerprint::parse).ok_or_else(|| {
                let token = value.as_str().map(crate::model::token::classify);
                Error::new(match token.as_ref().and_then(|t| t.is_token().then(|| t.fingerprint()).flatten()) {
                    Some(fingerprint) => format!("{at}: [tokens] {name} holds a delegate token itself, not its fingerprint: write {fingerprint} instead, and treat the token as exposed (it is in this file's history)"),
                    // Never echoed: what stands there may be part of a token.
                    None => format!("{at}: entry {} of [tokens] {name} is not a fingerprint: write sha256: and 16 hex digits, as `rekey scan` prints them", index + 1),
                })
            })
        })
        .collect()
}

/// `[keys] extra`: key names (letters, digits, `_`, `-`, `.`), each with a letter or digit.
fn extra_keys(item: &Item, text: &str, display: &str) -> Result<Vec<String>, Error> {
    let at = located(text, display, item);
    let array = item
        .as_array()
        .ok_or_else(|| format!("{at}: [keys] extra must be an array of key names"))?;
    array
        .iter()
        .enumerate()
        .map(|(index, value)| {
            let name = value.as_str().filter(|name| {
                name.bytes().any(|b| b.is_ascii_alphanumeric())
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            });
            // Never echoed: a token pasted here by mistake must not reach a log.
            name.map(str::to_owned).ok_or_else(|| {
                Error::new(format!(
                    "{at}: entry {} of [keys] extra is not a key name: write the name as files spell it (letters, digits, _, - and .)",
                    index + 1
                ))
            })
        })
        .collect()
}
