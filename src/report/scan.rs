//! `rekey scan` output: every site grouped by file, a summary, and the files that could not
//! be read or parsed; or the `rekey.scan/v1` JSON object. A token that lives elsewhere shows
//! where and how to rotate it there.

use super::{ErrorRecord, Streamed, Style};
use crate::find::scan::{Scan, ScannedFile};
use crate::find::sweep::Stray;
use crate::model::site::{Limit, Site};
use crate::model::token::{Encoding, Fingerprint, Kind};
use crate::report::redact;
use serde::Serialize;
use std::collections::BTreeSet;

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
}

#[derive(Serialize)]
struct StrayRecord<'a> {
    path: &'a str,
    line: usize,
    column: usize,
    fingerprint: &'a Fingerprint,
}

/// The `rekey.scan/v1` object; its sites are serialized one by one as they are written.
/// `left_behind`: the copies of revoked tokens outside every site.
pub fn record<'a>(scan: &'a Scan, left_behind: &'a [Stray]) -> impl Serialize + 'a {
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
    }
}

/// The sites by file, what was skipped, the summary, and the copies of revoked tokens
/// outside every site (`left_behind`), written to `sink` a file at a time: the list of a
/// tree with tens of thousands of files with sites is never held whole.
pub fn write_text(
    scan: &Scan,
    left_behind: &[Stray],
    style: Style,
    sink: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut out = String::new();
    for file in &scan.files {
        out.clear();
        out.push_str(&style.bold(&file.display));
        out.push('\n');
        for site in &file.sites {
            out.push_str(&site_line(file, site, style));
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
    out.push_str(&summary(scan));
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
    let mut out = format!("{}\n", line.trim_end());
    if let (Some(location), Some(how)) = (record.location, record.how_to_rotate) {
        out.push_str(&style.dim(&format!(
            "           lives in {location}; to rotate: {how}\n"
        )));
    }
    out
}

fn encoding_is_other(site: &Site) -> bool {
    site.value.encoding() == Some(Encoding::Other)
}

fn summary(scan: &Scan) -> String {
    let count = |kind: Kind| scan.sites().filter(|(_, s)| s.kind() == kind).count();
    let tokens: BTreeSet<&Fingerprint> = scan
        .sites()
        .filter(|(_, s)| s.value.is_token())
        .filter_map(|(_, s)| s.value.fingerprint())
        .collect();
    let sites = scan.sites().count();
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
    if !scan.errors.is_empty() {
        line.push_str(&format!(
            "; {} could not be read",
            plural(scan.errors.len(), "file")
        ));
    }
    line.push('\n');
    line
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
