//! The plan stage: turns the sites of a scan into edits. It decides which tokens a rotation
//! touches (refusing to guess between several), writes the new token in each site's own
//! encoding, fills placeholders on request and migrates legacy keys where a delegate reads
//! them (`migration` says where), keeping `secretKeyRef.key` references in step with the
//! Secret keys they name. Tokens that live elsewhere (external stores, encrypted values)
//! get a note saying where and how to rotate them.

use crate::find::scan::{Scan, ScannedFile};
use crate::judge::migration::Migration;
use crate::model::edit::Edit;
use crate::model::keys;
use crate::model::secrets;
use crate::model::site::{Limit, Role, Site};
use crate::model::token::{self, Encoding, Fingerprint, Kind, NewToken};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use zeroize::Zeroizing;

/// What the user asked a rotation to do, already validated.
#[derive(Clone, Debug, Default)]
pub struct RotateOptions {
    /// Rotate only these tokens; empty means "the one token the repo holds".
    pub only: Vec<Fingerprint>,
    /// Rotate every token found.
    pub all: bool,
    pub keep_legacy_keys: bool,
    pub fill_placeholders: bool,
}

/// What a rotation does to one site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub site: usize,
    pub value: Option<ValueChange>,
    pub renamed_to: Option<&'static str>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueChange {
    Rotated { encoding: Encoding },
    Filled { encoding: Encoding },
}

impl ValueChange {
    pub fn encoding(&self) -> Encoding {
        match self {
            ValueChange::Rotated { encoding } | ValueChange::Filled { encoding } => *encoding,
        }
    }
}

/// What a rotation changes in one file: the changes only. Its edits are made from them
/// whenever the file's bytes are at hand ([`Plan::edits`]), so that a rotation of tens of
/// thousands of files holds one small list per file.
pub struct FilePlan<'a> {
    pub file: &'a ScannedFile,
    pub changes: Vec<Change>,
}

pub struct Plan<'a> {
    pub files: Vec<FilePlan<'a>>,
    /// The old tokens being replaced.
    pub rotated: BTreeSet<Fingerprint>,
    pub new: Fingerprint,
    /// Things the user should know that do not stop the rotation.
    pub notes: Vec<String>,
    /// Files that hold a token being replaced at a site rekey reports but never rewrites
    /// (Terraform state), with why: the old token is still there after the rotation.
    pub kept: Vec<(String, String)>,
    pub writer: Writer,
}

/// The new token as each edit writes it: in every encoding, plain and in double quotes,
/// with its label in diffs, made once and shared by every edit (a file of 150,000 sites
/// writes one token in a few encodings).
pub struct Writer {
    encoded: HashMap<(Encoding, bool), Arc<Zeroizing<String>>>,
    label: Arc<str>,
    quoted_label: Arc<str>,
}

impl Writer {
    pub fn new(new: &NewToken) -> Writer {
        let mut encoded = HashMap::new();
        for encoding in [
            Encoding::Hex,
            Encoding::Base64,
            Encoding::Base64x2,
            Encoding::Other,
        ] {
            let plain = new.encode(encoding);
            let quoted = Zeroizing::new(format!("\"{}\"", plain.as_str()));
            encoded.insert((encoding, false), Arc::new(plain));
            encoded.insert((encoding, true), Arc::new(quoted));
        }
        let label = secrets::label(new.fingerprint());
        Writer {
            encoded,
            quoted_label: format!("\"{label}\"").into(),
            label: label.into(),
        }
    }

    /// The edit that writes the new token in `encoding` over a site's value: in double
    /// quotes where the value is a plain YAML scalar and the new token would read as a
    /// number there, so it keeps the string type the old value had.
    fn value_edit(&self, site: &Site, encoding: Encoding) -> Edit {
        let plain = &self.encoded[&(encoding, false)];
        let quoted = site.bare_typed && token::plain_reads_as_number(plain);
        Edit {
            span: site.value_span.clone(),
            replacement: self.encoded[&(encoding, quoted)].clone(),
            shown: if quoted {
                self.quoted_label.clone()
            } else {
                self.label.clone()
            },
        }
    }
}

impl Plan<'_> {
    /// The edits of one file's changes, over the bytes it was planned from: for each
    /// change, the new value, then the new key name.
    pub fn edits(&self, file_plan: &FilePlan) -> Vec<Edit> {
        let mut edits = Vec::with_capacity(file_plan.changes.len());
        for change in &file_plan.changes {
            let site = &file_plan.file.sites[change.site];
            if let Some(value) = &change.value {
                edits.push(self.writer.value_edit(site, value.encoding()));
            }
            if let Some(name) = change.renamed_to {
                edits.push(Edit::visible(site.key_span.clone(), name));
            }
        }
        edits
    }

    pub fn count(&self, what: impl Fn(&Change) -> bool) -> usize {
        self.files
            .iter()
            .flat_map(|f| &f.changes)
            .filter(|c| what(c))
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Each token with the files that hold it, sorted.
    #[error("{}", multiple_tokens_message(.0))]
    MultipleTokens(Vec<(Fingerprint, Vec<String>)>),
    #[error(
        "--only {0}: no literal site holds this token; run `rekey scan` to list the fingerprints"
    )]
    UnknownOnly(Fingerprint),
    #[error("{} site(s) hold the token but cannot be rewritten in place:\n{}", .0.len(), .0.join("\n"))]
    Blocked(Vec<String>),
}

fn multiple_tokens_message(tokens: &[(Fingerprint, Vec<String>)]) -> String {
    let mut message = format!(
        "the literal sites hold {} different tokens; say which to rotate with --only FINGERPRINT (repeatable) or rotate them all with --all:",
        tokens.len()
    );
    for (fingerprint, files) in tokens {
        let plural = if files.len() == 1 { "" } else { "s" };
        message.push_str(&format!(
            "\n  {fingerprint}  in {} file{plural}: {}",
            files.len(),
            some_files(files)
        ));
    }
    message
}

/// Up to [`FILES_NAMED`] of `files`, then how many more: enough to tell the tokens apart
/// without burying the choice under a long list.
fn some_files(files: &[String]) -> String {
    let mut named = files[..files.len().min(FILES_NAMED)].join(", ");
    if files.len() > FILES_NAMED {
        named.push_str(&format!(" and {} more", files.len() - FILES_NAMED));
    }
    named
}

/// How many files the multiple-token refusal names per token.
const FILES_NAMED: usize = 5;

/// Plans a rotation of `scan` to `new`.
pub fn plan<'a>(
    scan: &'a Scan,
    new: &NewToken,
    options: &RotateOptions,
) -> Result<Plan<'a>, PlanError> {
    let selected = select_tokens(scan, new.fingerprint(), options)?;
    let mut planner = Planner {
        migrated_secrets: migrated_secrets(scan, &selected, options),
        selected,
        migration: Migration::of(scan),
        new,
        options,
        blocked: Vec::new(),
        notes: Vec::new(),
        kept: Vec::new(),
    };
    // At most one plan per file: reserved once, so that a rotation of tens of thousands of
    // files never holds the list twice while it grows.
    let mut files = Vec::with_capacity(scan.files.len());
    files.extend(scan.files.iter().filter_map(|file| planner.plan_file(file)));
    files.shrink_to_fit();
    if !planner.blocked.is_empty() {
        return Err(PlanError::Blocked(planner.blocked));
    }
    Ok(Plan {
        files,
        rotated: planner.selected,
        new: new.fingerprint().clone(),
        notes: planner.notes,
        kept: planner.kept,
        writer: Writer::new(new),
    })
}

/// What planning one file needs from the whole scan, and what it collects.
struct Planner<'n> {
    selected: BTreeSet<Fingerprint>,
    migrated_secrets: HashSet<String>,
    migration: Migration,
    new: &'n NewToken,
    options: &'n RotateOptions,
    /// Sites that refuse the rotation: the plan fails with all of them.
    blocked: Vec<String>,
    notes: Vec<String>,
    kept: Vec<(String, String)>,
}

impl Planner<'_> {
    /// The changes of one file, if it has any.
    fn plan_file<'a>(&mut self, file: &'a ScannedFile) -> Option<FilePlan<'a>> {
        let mut changes = Vec::new();
        for (index, site) in file.sites.iter().enumerate() {
            let at = || {
                let (line, column) = file.line_col(site.location);
                format!("{}:{line}:{column}", file.display)
            };
            let Some((value, renamed_to)) = self.plan_site(file, site, &at) else {
                continue;
            };
            if value.is_some() || renamed_to.is_some() {
                changes.push(Change {
                    site: index,
                    value,
                    renamed_to,
                });
            }
        }
        if changes.is_empty() {
            return None;
        }
        // Held until the run ends, beside every other file's plan.
        changes.shrink_to_fit();
        Some(FilePlan { file, changes })
    }

    /// What changes at one site: its value and its key's new name; `None` when nothing
    /// about the site may be rewritten. `at` names the site for notes.
    fn plan_site(
        &mut self,
        file: &ScannedFile,
        site: &Site,
        at: &dyn Fn() -> String,
    ) -> Option<(Option<ValueChange>, Option<&'static str>)> {
        let options = self.options;
        let mut value = value_change(site, &self.selected, self.new, options);
        if let Some(note) = elsewhere_note(site, &self.migration) {
            self.notes.push(format!("{}: {note}", at()));
        }
        if let (Some(change), Some(limit)) = (&value, &site.limit) {
            match (change, limit) {
                (ValueChange::Rotated { .. }, Limit::Refused(reason)) => {
                    self.blocked.push(format!("  {}: {reason}", at()));
                }
                (ValueChange::Rotated { .. }, Limit::ReportOnly(reason)) => {
                    self.notes
                        .push(format!("{}: {} not rotated: {reason}", at(), site.key));
                    if self
                        .kept
                        .last()
                        .is_none_or(|(path, _)| *path != file.display)
                    {
                        self.kept.push((file.display.clone(), reason.to_string()));
                    }
                }
                (ValueChange::Filled { .. }, limit) => {
                    let reason = limit.reason();
                    self.notes
                        .push(format!("{}: {} not filled: {reason}", at(), site.key));
                }
            }
            // A placeholder that cannot be filled still has its key migrated, so a run
            // with --fill-placeholders renames exactly what a plain run renames.
            if !matches!(value, Some(ValueChange::Filled { .. })) {
                return None;
            }
            value = None;
        }
        if matches!(site.limit, Some(Limit::ReportOnly(_))) {
            // Nothing about a report-only site is rewritten, its key included.
            return None;
        }
        let kept = self
            .migration
            .kept_because(file, site, &self.migrated_secrets);
        let renamed_to = rename_target(site, &self.selected, kept.is_none(), options, &value);
        if renamed_to.is_none() && !options.keep_legacy_keys {
            if let Some(why) = kept {
                self.notes.push(format!("{}: {why}", at()));
            }
        }
        Some((value, renamed_to))
    }
}

/// The old tokens to replace: the only one there is, or the ones `--only`/`--all` name.
fn select_tokens(
    scan: &Scan,
    new: &Fingerprint,
    options: &RotateOptions,
) -> Result<BTreeSet<Fingerprint>, PlanError> {
    let mut files_per_token: BTreeMap<Fingerprint, BTreeSet<&str>> = BTreeMap::new();
    // Report-only sites (comments, Terraform state) are never rewritten, so they do not make
    // the choice of token ambiguous.
    let rewritable = scan
        .sites()
        .filter(|(_, site)| !matches!(site.limit, Some(Limit::ReportOnly(_))));
    for (file, site) in rewritable {
        if let (true, Some(fingerprint)) = (site.value.is_token(), site.value.fingerprint()) {
            if fingerprint != new {
                files_per_token
                    .entry(fingerprint.clone())
                    .or_default()
                    .insert(&file.display);
            }
        }
    }
    if !options.only.is_empty() {
        // A token that is gone while the new one is present was rotated already (by an
        // earlier run of this same command, perhaps interrupted): not an error.
        let holds_new = scan
            .sites()
            .any(|(_, site)| site.value.is_token() && site.value.fingerprint() == Some(new));
        for wanted in &options.only {
            if !files_per_token.contains_key(wanted) && !holds_new {
                return Err(PlanError::UnknownOnly(wanted.clone()));
            }
        }
        return Ok(options
            .only
            .iter()
            .filter(|wanted| files_per_token.contains_key(*wanted))
            .cloned()
            .collect());
    }
    if files_per_token.len() > 1 && !options.all {
        let tokens = files_per_token
            .into_iter()
            .map(|(fingerprint, files)| {
                (fingerprint, files.into_iter().map(str::to_owned).collect())
            })
            .collect();
        return Err(PlanError::MultipleTokens(tokens));
    }
    Ok(files_per_token.into_keys().collect())
}

fn value_change(
    site: &Site,
    selected: &BTreeSet<Fingerprint>,
    new: &NewToken,
    options: &RotateOptions,
) -> Option<ValueChange> {
    match site.value.kind() {
        Kind::Literal => {
            let fingerprint = site.value.fingerprint()?;
            (site.value.is_token() && selected.contains(fingerprint)).then(|| {
                ValueChange::Rotated {
                    encoding: site.value.encoding().unwrap_or(Encoding::Hex),
                }
            })
        }
        Kind::Placeholder | Kind::Empty if options.fill_placeholders => {
            let encoding = match site.role {
                Role::SecretEntry {
                    base64_data: true, ..
                } => Encoding::Base64,
                _ => new.given_encoding(),
            };
            Some(ValueChange::Filled { encoding })
        }
        _ => None,
    }
}

/// Secrets whose legacy keys this rotation renames, or an earlier one already renamed:
/// references to them follow. A Secret that holds only the current key names counts as
/// migrated, so that a run interrupted between the Secret and the workloads that read it
/// completes the pair instead of leaving it split.
fn migrated_secrets(
    scan: &Scan,
    selected: &BTreeSet<Fingerprint>,
    options: &RotateOptions,
) -> HashSet<String> {
    if options.keep_legacy_keys {
        return HashSet::new();
    }
    let secret_of = |site: &Site| match &site.role {
        Role::SecretEntry {
            secret: Some(name), ..
        } => Some(name.clone()),
        _ => None,
    };
    let migrating = scan
        .sites()
        .filter(|(_, site)| site.is_legacy() && !site.rename_conflict)
        .filter(|(_, site)| !holds_unselected_token(site, selected))
        .filter_map(|(_, site)| secret_of(site));
    let still_legacy: HashSet<String> = scan
        .sites()
        .filter(|(_, site)| site.is_legacy())
        .filter_map(|(_, site)| secret_of(site))
        .collect();
    let is_migrated_name = |key: &str| {
        keys::ALL
            .iter()
            .any(|legacy| keys::current_name(legacy) == Some(key))
    };
    let already_migrated = scan
        .sites()
        .filter(|(_, site)| is_migrated_name(&site.key))
        .filter_map(|(_, site)| secret_of(site))
        .filter(|name| !still_legacy.contains(name));
    migrating.chain(already_migrated).collect()
}

/// A literal token this rotation leaves alone: its key is left alone too.
fn holds_unselected_token(site: &Site, selected: &BTreeSet<Fingerprint>) -> bool {
    site.value.is_token()
        && site
            .value
            .fingerprint()
            .is_some_and(|f| !selected.contains(f))
}

/// Where a token this rotation cannot reach lives and how to rotate it there. A
/// `secretKeyRef` to a Secret among the scanned files needs no note: the Secret is rotated.
fn elsewhere_note(site: &Site, migration: &Migration) -> Option<String> {
    let elsewhere = site.elsewhere.as_ref()?;
    if migration.rotated_with_its_secret(site) {
        return None;
    }
    Some(format!(
        "{} lives in {}; rotate it there: {}",
        site.key, elsewhere.location, elsewhere.how_to_rotate
    ))
}

/// The name a legacy key is renamed to, when migration may rename it (`migrates`) and
/// this rotation touches it.
fn rename_target(
    site: &Site,
    selected: &BTreeSet<Fingerprint>,
    migrates: bool,
    options: &RotateOptions,
    value: &Option<ValueChange>,
) -> Option<&'static str> {
    let target = site.legacy_target()?;
    if options.keep_legacy_keys {
        return None;
    }
    if value.is_none() && holds_unselected_token(site, selected) {
        return None;
    }
    migrates.then_some(target)
}
