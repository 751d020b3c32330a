//! `rekey check` output: one line per finding for people, the `rekey.check/v1` JSON object,
//! SARIF 2.1.0 for code-scanning dashboards, GitHub Actions workflow commands, and a GitLab
//! Code Quality report (Code Climate issues). Messages carry fingerprints only; SARIF
//! results carry no snippets.

use super::scan::{ignored_line, plural, IgnoredRecord};
use super::{Streamed, Style};
use crate::find::ignore_rules::Ignored;
use crate::judge::check::Finding;
use crate::judge::policy::{Level, Rule};
use crate::model::token::Fingerprint;
use crate::report::redact;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// How much was looked at, so a check that looked at nothing says so.
pub struct Coverage {
    pub files_checked: usize,
    pub files_with_sites: usize,
    pub sites: usize,
    /// The policy file that applied, or `None` when there was none.
    pub policy: Option<String>,
    /// Inputs (repositories) that could not be read at all: their errors follow.
    pub unread: usize,
    /// What the working tree's ignore rules left out: said, never judged (git never
    /// commits an ignored file, so the gate holds without them).
    pub ignored: Ignored,
}

/// What a check without a policy file cannot do, said every time.
pub const NO_POLICY: &str = "no .rekey.toml in this directory or above it: the revoked-token and stale-token rules are off. Run `rekey init` to list the tokens in force, or pass --config FILE";

/// How the summary line ends: the policy that applied, or a warning line when none did.
fn policy_ending(coverage: &Coverage) -> String {
    match &coverage.policy {
        Some(policy) => format!("; policy {policy}\n"),
        None => format!("\nrekey check: warning: {NO_POLICY}\n"),
    }
}

fn count(findings: &[Finding], level: Level) -> usize {
    findings.iter().filter(|f| f.level == level).count()
}

pub fn text(findings: &[Finding], coverage: &Coverage, style: Style) -> String {
    let mut out = String::new();
    for finding in findings {
        let level = match finding.level {
            Level::Error => style.red("error"),
            Level::Warning => style.yellow("warning"),
            _ => style.dim(finding.level.name()),
        };
        let mut line = format!(
            "{}:{}:{}: {level}[{}] {}",
            style.bold(&finding.path),
            finding.line,
            finding.column,
            finding.rule.id(),
            finding.message
        );
        if let Some(fingerprint) = &finding.fingerprint {
            line.push_str(&format!(" ({})", style.cyan(fingerprint.as_str())));
        }
        out.push_str(&redact::mask(&line));
        out.push('\n');
    }
    out.push_str(&summary(findings, coverage));
    out
}

fn summary(findings: &[Finding], coverage: &Coverage) -> String {
    let mut out = counts(findings, coverage);
    if let Some(line) = ignored_line(coverage.ignored) {
        out.push_str(&format!("rekey check: {line}\n"));
    }
    out
}

fn counts(findings: &[Finding], coverage: &Coverage) -> String {
    if coverage.files_checked == 0 && coverage.unread > 0 {
        return format!(
            "rekey check: nothing was checked: {} could not be read (see the errors)\n",
            plural(coverage.unread, "input")
        );
    }
    if coverage.files_checked == 0 {
        return "rekey check: nothing was checked: no file under the given paths (after excludes)\n"
            .to_owned();
    }
    format!(
        "rekey check: {}, {}, {} in {} checked ({} in {}){}",
        plural(count(findings, Level::Error), "error"),
        plural(count(findings, Level::Warning), "warning"),
        plural(count(findings, Level::Note), "note"),
        plural(coverage.files_checked, "file"),
        plural(coverage.sites, "site"),
        plural(coverage.files_with_sites, "file"),
        policy_ending(coverage),
    )
}

#[derive(Serialize)]
struct FindingRecord<'a> {
    rule: &'static str,
    level: &'static str,
    path: &'a str,
    line: usize,
    column: usize,
    message: String,
    fingerprint: Option<&'a Fingerprint>,
}

#[derive(Serialize)]
#[serde(bound(serialize = "Streamed<Findings>: Serialize"))]
struct CheckReport<'a, Findings> {
    schema: &'static str,
    findings: Streamed<Findings>,
    files_checked: usize,
    sites: usize,
    /// The policy file that applied; null when there was none.
    policy: Option<&'a str>,
    ignored: IgnoredRecord,
}

/// The `rekey.check/v1` object.
pub fn record<'a>(findings: &'a [Finding], coverage: &'a Coverage) -> impl Serialize + 'a {
    CheckReport {
        schema: "rekey.check/v1",
        findings: Streamed(|| {
            findings.iter().map(|f| FindingRecord {
                rule: f.rule.id(),
                level: f.level.name(),
                path: &f.path,
                line: f.line,
                column: f.column,
                message: redact::mask(&f.message),
                fingerprint: f.fingerprint.as_ref(),
            })
        }),
        files_checked: coverage.files_checked,
        sites: coverage.sites,
        policy: coverage.policy.as_deref(),
        ignored: IgnoredRecord::from(coverage.ignored),
    }
}

/// `::error file=…,line=…,col=…,title=…::message` lines for GitHub Actions.
pub fn github(findings: &[Finding], coverage: &Coverage) -> String {
    let mut out = String::new();
    for finding in findings {
        let command = match finding.level {
            Level::Error => "error",
            Level::Warning => "warning",
            _ => "notice",
        };
        let mut message = finding.message.clone();
        if let Some(fingerprint) = &finding.fingerprint {
            message.push_str(&format!(" ({fingerprint})"));
        }
        out.push_str(&format!(
            "::{command} file={},line={},col={},endColumn={},title={}::{}\n",
            escape_property(&finding.path),
            finding.line,
            finding.column,
            finding.end_column,
            escape_property(&format!("rekey {}", finding.rule.id())),
            escape_data(&redact::mask(&message)),
        ));
    }
    if coverage.policy.is_none() {
        out.push_str(&format!("::warning title=rekey policy::{NO_POLICY}\n"));
    }
    out.push_str(&summary(findings, coverage));
    out
}

/// Workflow-command escaping: data escapes `%`, CR and LF; properties also `:` and `,`.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

fn rule_text(rule: Rule) -> (&'static str, &'static str, &'static str) {
    match rule {
        Rule::RevokedToken => (
            "RevokedDelegateToken",
            "A delegate token revoked in Harness is still in the repository.",
            "The value's fingerprint is listed under [tokens] revoked in .rekey.toml. A delegate using it can no longer connect. Rotate it with `rekey rotate --only FINGERPRINT --new-token-env NEW_TOKEN --write` (or --commit).",
        ),
        Rule::StaleToken => (
            "StaleDelegateToken",
            "A delegate token that is not in force is in the repository.",
            "The value's fingerprint is not under [tokens] current in .rekey.toml. Rotate it to the current token with `rekey rotate --only FINGERPRINT --new-token-env NEW_TOKEN --write`, or add its fingerprint to current if it is in force.",
        ),
        Rule::LegacyKey => (
            "LegacyDelegateTokenKey",
            "A delegate token is stored under a legacy key name.",
            "accountSecret / ACCOUNT_SECRET / account_secret are the legacy names of delegateToken / DELEGATE_TOKEN / delegate_token. `rekey rotate --new-token-env NEW_TOKEN --write` migrates them, keeping secretKeyRef references consistent.",
        ),
        Rule::UncheckedFile => (
            "UncheckedFile",
            "A file that could hold a delegate token could not be checked.",
            "The file holds a delegate-token key name but rekey could not judge it: it is over the size rekey parses, unreadable, binary or UTF-16 beside the key, or not UTF-8; or it is a temp file an interrupted rotation (rotate --write) left. A gate that cannot judge a file fails rather than pass it silently: fix the file, exclude it in .rekey.toml [scan] exclude, or set unchecked-file to a lower level.",
        ),
        Rule::MalformedToken => (
            "MalformedDelegateToken",
            "A delegate token key holds a value that is not a delegate token.",
            "A delegate token is 32 hex characters, or their base64 form as the Harness UI shows it (44 characters ending in =). Harness API keys (pat.…) and token names are not delegate tokens.",
        ),
        Rule::Unparseable => (
            "UnparseableFile",
            "A file holding a delegate-token key could not be parsed.",
            "rekey could not parse this file, so it cannot tell what the token key holds. Fix the syntax; the message gives the line and column.",
        ),
        Rule::ExternalToken => (
            "ExternalDelegateToken",
            "A delegate token is kept outside git or encrypted.",
            "The token lives in an external store (ExternalSecret, ECS secrets, Vault agent) or is encrypted (SOPS, SealedSecret). rekey cannot check it against the policy or rotate it: rotate it where it lives, as the message says.",
        ),
        Rule::HistoryToken => (
            "UnrevokedTokenInHistory",
            "Git history holds a delegate token nobody has revoked.",
            "A commit reachable from a ref holds this token, and .rekey.toml lists it neither under [tokens] current nor under revoked: it may still be live, and anyone who can clone the repository can read it. Revoke it in Harness and add its fingerprint with `rekey revoke FINGERPRINT`, or list it under current if it is the token in force. `rekey history` shows where it has been.",
        ),
        Rule::RevokedAtRef => (
            "RevokedTokenAtRefTip",
            "A branch or tag other than HEAD still holds a revoked delegate token.",
            "The tip of the ref holds a token listed under [tokens] revoked: deploying that branch or tag would start delegates that cannot connect. Rotate the ref (`rekey rotate --new-token-env NEW_TOKEN --write` on a checkout of it) or delete it.",
        ),
    }
}

/// A GitLab Code Quality report: a JSON array of Code Climate issues. GitLab reads
/// `description`, `check_name`, `fingerprint`, `severity` and `location.path` /
/// `location.lines.begin`; `type` and `categories` complete the Code Climate issue. The
/// fingerprint is stable when unrelated lines move, as SARIF's is, so merge requests show
/// only new and fixed findings.
pub fn gitlab(findings: &[Finding]) -> String {
    let mut occurrences: HashMap<String, usize> = HashMap::new();
    let issues: Vec<_> = findings
        .iter()
        .map(|finding| {
            let mut description = finding.message.clone();
            if let Some(fingerprint) = &finding.fingerprint {
                description.push_str(&format!(" ({fingerprint})"));
            }
            json!({
                "type": "issue",
                "check_name": finding.rule.id(),
                "description": redact::sweep(&description),
                "categories": ["Security"],
                "severity": match finding.level {
                    Level::Error => "critical",
                    Level::Warning => "minor",
                    Level::Note | Level::Off => "info",
                },
                "fingerprint": line_hash(finding, &mut occurrences),
                "location": {
                    "path": finding.path,
                    "lines": { "begin": finding.line },
                },
            })
        })
        .collect();
    super::json(&issues)
}

/// SARIF 2.1.0, shaped for GitHub code scanning: rules with help, results with
/// repository-relative locations and fingerprints that survive unrelated line moves.
pub fn sarif(findings: &[Finding]) -> String {
    let rules: Vec<_> = Rule::ALL
        .iter()
        .map(|&rule| {
            let (name, short, help) = rule_text(rule);
            json!({
                "id": rule.id(),
                "name": name,
                "shortDescription": { "text": short },
                "fullDescription": { "text": help },
                "help": { "text": help, "markdown": help },
                "defaultConfiguration": { "level": sarif_level(rule.default_level()) },
                "properties": {
                    "tags": ["security", "secrets"],
                    "precision": "very-high",
                    "problem.severity": sarif_level(rule.default_level()),
                },
            })
        })
        .collect();
    let mut occurrences: HashMap<String, usize> = HashMap::new();
    let results: Vec<_> = findings
        .iter()
        .map(|finding| {
            let index = Rule::ALL
                .iter()
                .position(|&r| r == finding.rule)
                .unwrap_or(0);
            let mut message = finding.message.clone();
            if let Some(fingerprint) = &finding.fingerprint {
                message.push_str(&format!(" ({fingerprint})"));
            }
            if !message.ends_with('.') {
                message.push('.');
            }
            json!({
                "ruleId": finding.rule.id(),
                "ruleIndex": index,
                "level": sarif_level(finding.level),
                "message": { "text": redact::mask(&message) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri(&finding.path), "uriBaseId": "%SRCROOT%" },
                        "region": {
                            "startLine": finding.line,
                            "startColumn": finding.column,
                            "endColumn": finding.end_column,
                        },
                    },
                }],
                "partialFingerprints": {
                    "primaryLocationLineHash": line_hash(finding, &mut occurrences),
                },
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "rekey",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://developer.harness.io/docs/platform/delegates/secure-delegates/secure-delegates-with-tokens/",
                    "rules": rules,
                },
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    super::json(&log)
}

fn sarif_level(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Note | Level::Off => "note",
    }
}

/// A relative URI reference: path segments percent-encoded where URIs need it.
fn uri(path: &str) -> String {
    let mut out = String::new();
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A hash of what the finding is about (rule, file, key, value fingerprint) and its
/// occurrence count, never of line numbers, so moving unrelated lines keeps it.
fn line_hash(finding: &Finding, occurrences: &mut HashMap<String, usize>) -> String {
    let identity = format!("{}|{}|{}", finding.rule.id(), finding.path, finding.subject);
    let occurrence = occurrences.entry(identity.clone()).or_insert(0);
    *occurrence += 1;
    let digest = Sha256::digest(identity.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}:{occurrence}")
}
