//! `rekey scan` output: a table of every site grouped by file under column headers, a
//! summary, and the files that could not be read or parsed; or the `rekey.scan/v1` JSON
//! object. A token that lives elsewhere shows where and how to rotate it there; an env entry
//! filled by a `secretKeyRef` is one reference, shown on one line with the Secret key it
//! reads and where that Secret is defined among the scanned files (JSON lists each key).

use super::{ErrorRecord, Streamed, Style};
use crate::find::ignore_rules::Ignored;
use crate::find::scan::{Scan, ScannedFile};
use crate::find::sweep::Stray;
use crate::model::site::{Limit, Owner, Role, Site, Span, Store};
use crate::model::token::{Encoding, Fingerprint, Kind};
use crate::report::redact;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

#[derive(Serialize)]
pub struct SiteRecord<'a> {
    pub path: &'a str,
    pub line: usize,
    pub column: usize,
    pub format: &'static str,
    pub key: &'a str,
    pub kind: Kind,
    pub encoding: Option<Encoding>,
    pub legacy: bool,
    pub fingerprint: Option<&'a Fingerprint>,
    /// Why rotate cannot rewrite this value in place, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'a str>,
    /// Where the value really lives (an ARN, a remote key, a SOPS key path), when elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// How to rotate the value where it lives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub how_to_rotate: Option<String>,
}

impl<'a> SiteRecord<'a> {
    pub fn new(file: &'a ScannedFile, site: &'a Site) -> Self {
        let (line, column) = file.line_col(site.location);
        SiteRecord {
            path: &file.display,
            line,
            column,
            format: file.format.name(),
            key: &site.key,
            kind: site.kind(),
            encoding: site.value.encoding(),
            legacy: site.is_legacy(),
            fingerprint: site.value.fingerprint(),
            note: site.limit.as_ref().map(Limit::reason),
            // Swept like every other text bound for output: a location is never a token, but
            // it is read from the user's file.
            location: site.elsewhere.as_ref().map(|e| redact::sweep(&e.location)),
            how_to_rotate: site
                .elsewhere
                .as_ref()
                .map(|e| redact::sweep(&e.how_to_rotate)),
        }
    }
}

#[derive(Serialize)]
struct SkippedRecord<'a> {
    path: &'a str,
    reason: &'a str,
}

#[derive(Serialize)]
#[serde(bound(serialize = "Streamed<Sites>: Serialize"))]
struct ScanReport<'a, Sites> {
    schema: &'static str,
    sites: Streamed<Sites>,
    errors: Vec<ErrorRecord<'a>>,
    skipped: Vec<SkippedRecord<'a>>,
    /// Copies of revoked tokens outside every site.
    left_behind: Vec<StrayRecord<'a>>,
    /// The policy file that applied; null when there was none.
    policy: Option<&'a str>,
    ignored: IgnoredRecord,
}

/// What the ignore rules left out, in JSON.
#[derive(Serialize)]
pub struct IgnoredRecord {
    files: usize,
    directories: usize,
}

impl From<Ignored> for IgnoredRecord {
    fn from(ignored: Ignored) -> Self {
        IgnoredRecord {
            files: ignored.files,
            directories: ignored.directories,
        }
    }
}

/// What the ignore rules left out and how to include it; `None` when they left out nothing.
pub fn ignored_line(ignored: Ignored) -> Option<String> {
    let directories = |count: usize| match count {
        1 => "1 directory".to_owned(),
        count => format!("{count} directories"),
    };
    let what = match (ignored.files, ignored.directories) {
        (0, 0) => return None,
        (files, 0) => plural(files, "file"),
        (0, count) => directories(count),
        (files, count) => format!("{} and {}", plural(files, "file"), directories(count)),
    };
    Some(format!(
        "{what} ignored by .gitignore; --no-ignore to include them"
    ))
}

#[derive(Serialize)]
struct StrayRecord<'a> {
    path: &'a str,
    line: usize,
    column: usize,
    fingerprint: &'a Fingerprint,
}

/// The `rekey.scan/v1` object; its sites are serialized one by one as they are written.
/// `left_behind`: the copies of revoked tokens outside every site; `policy`: the policy
/// file that applied.
pub fn record<'a>(
    scan: &'a Scan,
    left_behind: &'a [Stray],
    policy: Option<&'a str>,
) -> impl Serialize + 'a {
    ScanReport {
        schema: "rekey.scan/v1",
        sites: Streamed(|| scan.sites().map(|(f, s)| SiteRecord::new(f, s))),
        errors: scan.errors.iter().map(ErrorRecord::from).collect(),
        skipped: scan
            .skipped
            .iter()
            .map(|s| SkippedRecord {
                path: &s.display,
                reason: &s.reason,
            })
            .collect(),
        left_behind: left_behind
            .iter()
            .map(|stray| StrayRecord {
                path: &stray.display,
                line: stray.line,
                column: stray.column,
                fingerprint: &stray.fingerprint,
            })
            .collect(),
        policy,
        ignored: IgnoredRecord::from(scan.ignored),
    }
}

/// The sites by file, what was skipped, the summary (naming `policy`, the policy that
/// applied), and the copies of revoked tokens outside every site (`left_behind`), written
/// to `sink` a file at a time: the list of a tree with tens of thousands of files with
/// sites is never held whole.
pub fn write_text(
    scan: &Scan,
    left_behind: &[Stray],
    policy: &str,
    style: Style,
    sink: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    if !scan.files.is_empty() {
        sink.write_all(format!("{}\n", style.dim(HEADER)).as_bytes())?;
    }
    let mut out = String::new();
    let secrets = DefinedSecrets::of(scan);
    for file in &scan.files {
        out.clear();
        out.push_str(&style.bold(&file.display));
        out.push('\n');
        let fills: HashMap<&Span, &Site> = file
            .sites
            .iter()
            .filter_map(|site| match &site.role {
                Role::SecretKeyRef {
                    env_entry: Some(span),
                    ..
                } => Some((span, site)),
                _ => None,
            })
            .collect();
        for site in file.sites.iter().filter(|site| !site.fills_env_entry()) {
            out.push_str(&site_line(file, site, style));
            let detail = match fills.get(&site.key_span) {
                Some(reference) => secret_key_ref_detail(file, reference, true, &secrets),
                None => lives_in(file, site, &secrets),
            };
            if let Some(detail) = detail {
                out.push_str(&style.dim(&format!("{DETAIL_INDENT}{detail}\n")));
            }
        }
        sink.write_all(out.as_bytes())?;
    }
    out.clear();
    for skipped in &scan.skipped {
        out.push_str(&format!(
            "{}: {}\n",
            skipped.display,
            style.dim(&skipped.reason)
        ));
    }
    if !scan.files.is_empty() || !scan.skipped.is_empty() {
        out.push('\n');
    }
    out.push_str(&summary(scan, policy));
    out.push_str(&revoked_left_behind(left_behind));
    sink.write_all(out.as_bytes())
}

fn site_line(file: &ScannedFile, site: &Site, style: Style) -> String {
    let record = SiteRecord::new(file, site);
    let position = format!("{}:{}", record.line, record.column);
    let kind_name = format!("{:<11}", record.kind.name());
    let kind = match record.kind {
        Kind::Literal if site.value.is_token() => style.yellow(&kind_name),
        Kind::Literal => style.red(&kind_name),
        _ => style.dim(&kind_name),
    };
    let mut line = format!("  {position:<8} {:<16} {kind}", record.key);
    if let Some(encoding) = record.encoding {
        line.push_str(&format!(" {:<8}", encoding.name()));
    }
    if let Some(fingerprint) = record.fingerprint {
        line.push_str(&format!(" {}", style.cyan(fingerprint.as_str())));
    }
    if encoding_is_other(site) {
        line.push_str(&style.red(" (not a delegate token)"));
    }
    if record.legacy {
        line.push_str(&style.magenta(" legacy"));
    }
    if let Some(note) = record.note {
        line.push_str(&style.dim(&format!(" ({note})")));
    }
    format!("{}\n", line.trim_end())
}

/// The column headers, over the columns [`site_line`] writes.
const HEADER: &str = "  LINE:COL KEY              KIND        ENCODING FINGERPRINT";

/// Where the line under a site starts: below its key.
const DETAIL_INDENT: &str = "           ";

/// Where a token that is not in the file as plain text lives, and how to rotate it there.
fn lives_in(file: &ScannedFile, site: &Site, secrets: &DefinedSecrets) -> Option<String> {
    if matches!(site.role, Role::SecretKeyRef { .. }) {
        return secret_key_ref_detail(file, site, false, secrets);
    }
    let record = SiteRecord::new(file, site);
    let (location, how) = (record.location?, record.how_to_rotate?);
    Some(format!("lives in {location}; to rotate: {how}"))
}

/// The Secret key a `secretKeyRef` reads, and whether rekey rotates it: it does when that
/// Secret, with that key, is among the scanned files. `filled`: the line is the env entry's
/// the reference fills, so the reference's own key and position are named too.
fn secret_key_ref_detail(
    file: &ScannedFile,
    reference: &Site,
    filled: bool,
    secrets: &DefinedSecrets,
) -> Option<String> {
    let (Role::SecretKeyRef { secret, .. }, Some(elsewhere)) =
        (&reference.role, reference.elsewhere.as_deref())
    else {
        return None;
    };
    if elsewhere.store != Store::KubernetesSecret {
        return None;
    }
    let mut out = format!("lives in Secret {secret}, key {}", reference.key);
    if filled {
        let (line, column) = file.line_col(reference.location);
        out.push_str(&format!(" at {line}:{column}"));
        if reference.is_legacy() {
            out.push_str(" (legacy)");
        }
    }
    match secrets.find(secret, &reference.key, namespace(reference)) {
        Some((defined_in, entry)) => {
            let (line, column) = defined_in.line_col(entry.location);
            out.push_str(&format!(
                ", defined in {}:{line}:{column}: rekey rotates it there",
                defined_in.display
            ));
        }
        None => out.push_str(&format!(
            ", which is not among the scanned files; to rotate: update Secret {secret} where it is managed"
        )),
    }
    Some(out)
}

fn namespace(site: &Site) -> Option<&str> {
    match site.owner.as_deref() {
        Some(Owner::Kubernetes { namespace, .. }) => namespace.as_deref(),
        _ => None,
    }
}

/// The Secret entries the scan holds, by Secret name and key.
struct DefinedSecrets<'a>(HashMap<(&'a str, &'a str), Vec<(&'a ScannedFile, &'a Site)>>);

impl<'a> DefinedSecrets<'a> {
    fn of(scan: &'a Scan) -> DefinedSecrets<'a> {
        let mut defined: HashMap<_, Vec<_>> = HashMap::new();
        for (file, site) in scan.sites() {
            if let Role::SecretEntry {
                secret: Some(name), ..
            } = &site.role
            {
                defined
                    .entry((name.as_str(), &*site.key))
                    .or_default()
                    .push((file, site));
            }
        }
        DefinedSecrets(defined)
    }

    /// The entry `key` of Secret `secret` in `namespace`: a manifest that names no namespace
    /// is applied to whichever one it is given, so it matches any.
    fn find(
        &self,
        secret: &str,
        key: &str,
        namespace: Option<&str>,
    ) -> Option<(&'a ScannedFile, &'a Site)> {
        self.0
            .get(&(secret, key))?
            .iter()
            .copied()
            .find(|(_, entry)| match (namespace, self::namespace(entry)) {
                (Some(wanted), Some(defined)) => wanted == defined,
                _ => true,
            })
    }
}

fn encoding_is_other(site: &Site) -> bool {
    site.value.encoding() == Some(Encoding::Other)
}

fn summary(scan: &Scan, policy: &str) -> String {
    // A secretKeyRef is counted with the env entry it fills: one reference.
    let shown = || scan.sites().filter(|(_, s)| !s.fills_env_entry());
    let count = |kind: Kind| shown().filter(|(_, s)| s.kind() == kind).count();
    let tokens: BTreeSet<&Fingerprint> = scan
        .sites()
        .filter(|(_, s)| s.value.is_token())
        .filter_map(|(_, s)| s.value.fingerprint())
        .collect();
    let sites = shown().count();
    let legacy = scan.sites().filter(|(_, s)| s.is_legacy()).count();
    let mut line = format!(
        "{} in {}: {} literal ({}), {}, {}, {} encrypted, {} empty, {}; {}",
        plural(sites, "site"),
        plural(scan.files.len(), "file"),
        count(Kind::Literal),
        plural(tokens.len(), "distinct token"),
        plural(count(Kind::Placeholder), "placeholder"),
        plural(count(Kind::Reference), "reference"),
        count(Kind::Encrypted),
        count(Kind::Empty),
        plural(count(Kind::Mention), "key mention"),
        plural(legacy, "legacy key"),
    );
    line.push_str(&format!("; policy {policy}\n"));
    if let Some(ignored) = ignored_line(scan.ignored) {
        line.push_str(&ignored);
        line.push('\n');
    }
    line.push_str(&unparsed(scan));
    line
}

/// The files that hold a key name but could not be parsed, each with where and why: one
/// on the summary's next line, more below it.
fn unparsed(scan: &Scan) -> String {
    match scan.errors.as_slice() {
        [] => String::new(),
        [error] => format!("1 file could not be parsed: {error}\n"),
        errors => {
            let mut out = format!("{} files could not be parsed:\n", errors.len());
            for error in errors {
                out.push_str(&format!("  {error}\n"));
            }
            out
        }
    }
}

/// The copies of tokens the policy lists as revoked outside any key: what a rotation left
/// behind, found again by their fingerprints on every later run.
pub fn revoked_left_behind(strays: &[Stray]) -> String {
    left_behind(strays, "a revoked token", "remove them")
}

/// Token copies outside any key rekey rewrites, one per line: "Left behind: N copies of
/// `what` …; `advice`:".
pub fn left_behind(strays: &[Stray], what: &str, advice: &str) -> String {
    if strays.is_empty() {
        return String::new();
    }
    let copies = match strays.len() {
        1 => "1 copy".to_owned(),
        count => format!("{count} copies"),
    };
    let mut out = format!(
        "Left behind: {copies} of {what} outside any key rekey rewrites (a comment, prose, a file it does not parse); {advice}:\n"
    );
    for stray in strays {
        out.push_str(&format!(
            "  {}:{}:{} ({})\n",
            stray.display, stray.line, stray.column, stray.fingerprint
        ));
    }
    out
}

pub fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
