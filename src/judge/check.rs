//! `check`'s rules: turns a scan and a policy into findings with stable rule ids
//! (`revoked-token`, `stale-token`, `legacy-key`, `malformed-token`, `unparseable`,
//! `unchecked-file`, `external-token`) and the level the policy gives each. Rules judge
//! sites; reports decide how findings look. A legacy key that `rekey rotate` would not rename
//! (its reader is not known to be a delegate, it is only reported, …) is a note whatever the
//! policy's level, so an error is always one a rotation clears.

use crate::find::scan::{FileError, Scan, ScannedFile};
use crate::judge::migration::Migration;
use crate::judge::policy::{Level, Policy, Rule};
use crate::model::site::Site;
use crate::model::token::{Encoding, Fingerprint};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: Rule,
    pub level: Level,
    pub path: String,
    pub line: usize,
    pub column: usize,
    /// One past the last highlighted column, on the same line.
    pub end_column: usize,
    pub message: String,
    pub fingerprint: Option<Fingerprint>,
    /// What the finding is about, stable when unrelated lines move (for SARIF fingerprints).
    pub subject: String,
}

/// Every finding of `scan` under `policy`, in path and line order, `off` rules left out.
pub fn check(scan: &Scan, policy: &Policy) -> Vec<Finding> {
    let mut findings = Vec::new();
    let migration = Migration::of(scan);
    for (file, site) in scan.sites() {
        for (rule, message, at_most_note) in judge(file, site, policy, &migration) {
            let level = match policy.level(rule) {
                Level::Error | Level::Warning if at_most_note => Level::Note,
                level => level,
            };
            if level != Level::Off {
                findings.push(site_finding(file, site, rule, level, message));
            }
        }
    }
    findings.extend(unparseable_findings(scan, policy));
    let level = policy.level(Rule::UncheckedFile);
    if level != Level::Off {
        let unjudged = scan
            .skipped
            .iter()
            .map(|skipped| (skipped.display.as_str(), skipped.reason.clone()));
        let leftovers = scan.leftovers.iter().map(|(_, display)| {
            (
                display.as_str(),
                "a temp file left by an interrupted rotation (rotate --write): it may hold a copy of a rotated file. Rerun the rotation (it removes it) or delete it".to_owned(),
            )
        });
        for (path, message) in unjudged.chain(leftovers) {
            findings.push(Finding {
                rule: Rule::UncheckedFile,
                level,
                path: path.to_owned(),
                line: 1,
                column: 1,
                end_column: 2,
                message,
                fingerprint: None,
                subject: "unchecked-file".to_owned(),
            });
        }
    }
    findings.extend(stray_findings(scan, policy));
    findings.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    findings
}

/// Token-shaped strings outside every site, judged by fingerprint alone. A revoked one is
/// always a finding; one that is not in force is a finding when it is known to be a
/// delegate token (a site somewhere holds it): an unknown 32-hex string may be a checksum.
fn stray_findings(scan: &Scan, policy: &Policy) -> Vec<Finding> {
    let known: std::collections::HashSet<&Fingerprint> = scan
        .sites()
        .filter(|(_, site)| site.value.is_token())
        .filter_map(|(_, site)| site.value.fingerprint())
        .collect();
    let mut findings = Vec::new();
    for stray in &scan.strays {
        let fingerprint = &stray.fingerprint;
        let (rule, message) = if policy.revoked.contains(fingerprint) {
            (
                Rule::RevokedToken,
                format!(
                    "a token revoked in Harness, outside any key rekey rewrites (a comment, prose, a file it does not parse): remove it{}",
                    listed_in(policy, fingerprint)
                ),
            )
        } else if known.contains(fingerprint)
            && !policy.current.is_empty()
            && !policy.current.contains(fingerprint)
        {
            (
                Rule::StaleToken,
                "a copy of a token that is not in [tokens] current, outside any key rekey rewrites: remove it".to_owned(),
            )
        } else {
            continue;
        };
        let level = policy.level(rule);
        if level == Level::Off {
            continue;
        }
        let width = stray.span.len();
        findings.push(Finding {
            rule,
            level,
            path: stray.display.to_string(),
            line: stray.line,
            column: stray.column,
            end_column: stray.column + width,
            message,
            fingerprint: Some(fingerprint.clone()),
            subject: format!("stray|{fingerprint}"),
        });
    }
    findings
}

/// The rules `site` breaks, each with its message and whether it is at most a note.
fn judge(
    file: &ScannedFile,
    site: &Site,
    policy: &Policy,
    migration: &Migration,
) -> Vec<(Rule, String, bool)> {
    let mut verdicts = Vec::new();
    let key = &site.key;
    if let Some(fingerprint) = site.value.fingerprint() {
        if site.value.encoding() == Some(Encoding::Other) {
            verdicts.push((
                Rule::MalformedToken,
                format!("{key} holds a literal that is not a delegate token (32 hex characters or their base64 form): an API key or a typo?"),
                false,
            ));
        } else if policy.revoked.contains(fingerprint) {
            verdicts.push((
                Rule::RevokedToken,
                format!("{key} holds a token revoked in Harness{}: rotate it with `rekey rotate --only {fingerprint} --new-token-env NEW_TOKEN`", listed_in(policy, fingerprint)),
                false,
            ));
        } else if !policy.current.is_empty() && !policy.current.contains(fingerprint) {
            verdicts.push((
                Rule::StaleToken,
                format!("{key} holds a token that is not in [tokens] current: rotate it, or add its fingerprint to current if it is in force"),
                false,
            ));
        }
    }
    if let Some(target) = site.legacy_target() {
        let verdict = match migration.kept_by_full_rotation(file, site) {
            None => (
                format!("legacy key {key}: rename it to {target} (`rekey rotate --new-token-env NEW_TOKEN` migrates it)"),
                false,
            ),
            Some(why) => (why, true),
        };
        verdicts.push((Rule::LegacyKey, verdict.0, verdict.1));
    }
    if let Some(elsewhere) = site.elsewhere.as_ref().filter(|e| e.store.is_outside_git()) {
        verdicts.push((
            Rule::ExternalToken,
            format!(
                "{key} is a delegate token kept outside git ({}), so rekey cannot check it against the policy; when rotating: {}",
                elsewhere.location, elsewhere.how_to_rotate
            ),
            false,
        ));
    }
    verdicts
}

/// ` (listed in org.toml)` for a fingerprint an extended policy file listed.
fn listed_in(policy: &Policy, fingerprint: &Fingerprint) -> String {
    policy
        .listed_in
        .get(fingerprint)
        .map_or_else(String::new, |file| format!(" (listed in {file})"))
}

fn site_finding(
    file: &ScannedFile,
    site: &Site,
    rule: Rule,
    level: Level,
    message: String,
) -> Finding {
    // Highlight the key for key findings, the value for value findings (the key when the
    // value has no characters of its own).
    let span = if rule == Rule::LegacyKey || site.value_span.is_empty() {
        &site.key_span
    } else {
        &site.value_span
    };
    let at = if rule == Rule::LegacyKey {
        span.start
    } else {
        site.location
    };
    let (line, column) = file.line_col(at);
    let (end_line, end) = file.line_col(at + span.len());
    let end_column = if end_line == line {
        end.max(column + 1)
    } else {
        column + 1
    };
    let fingerprint = site.value.fingerprint().cloned();
    let subject = format!(
        "{}|{}|{}",
        site.key,
        site.value.kind().name(),
        fingerprint.as_ref().map_or("", Fingerprint::as_str)
    );
    Finding {
        rule,
        level,
        path: file.display.clone(),
        line,
        column,
        end_column,
        message,
        fingerprint,
        subject,
    }
}

/// The files that hold a key name but could not be parsed. One where the byte sweep finds
/// a token-shaped string (current, revoked or unknown: 32 hex digits or a base64 layer over
/// them) could hide a token the policy judges, and fails closed at the rule's level. One
/// where it finds none holds no delegate token in any form rekey knows (a Harness
/// `<+secrets.getValue(…)>` expression is not one): at most a note.
fn unparseable_findings(scan: &Scan, policy: &Policy) -> Vec<Finding> {
    let level = policy.level(Rule::Unparseable);
    if level == Level::Off || scan.errors.is_empty() {
        return Vec::new();
    }
    let swept: std::collections::HashSet<&str> =
        scan.strays.iter().map(|stray| &*stray.display).collect();
    scan.errors
        .iter()
        .map(|error| {
            if !scan.swept || swept.contains(error.display.as_str()) {
                return error_finding(error, level, error.message.clone());
            }
            let message = format!(
                "{} (a note: the byte sweep finds no token in it, in any form)",
                error.message
            );
            let level = match level {
                Level::Error | Level::Warning => Level::Note,
                level => level,
            };
            error_finding(error, level, message)
        })
        .collect()
}

fn error_finding(error: &FileError, level: Level, message: String) -> Finding {
    let (line, column) = error.position.unwrap_or((1, 1));
    Finding {
        rule: Rule::Unparseable,
        level,
        path: error.display.clone(),
        line,
        column,
        end_column: column + 1,
        message,
        fingerprint: None,
        subject: "unparseable".to_owned(),
    }
}
