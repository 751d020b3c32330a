//! `rekey inventory` output: one row per delegate (kind, name, where it is configured, the
//! tokens it holds with their policy state) as an aligned table for people, a Markdown table
//! for a pull-request comment or a CI step summary, or the `rekey.inventory/v1` JSON object
//! (`schemas/rekey.inventory.v1.json`). `check --ready-to-revoke` reuses the rows. Rows
//! carry fingerprints only.

use super::scan::plural;
use super::{Streamed, Style};
use crate::judge::few::FewSet;
use crate::judge::inventory::{Delegate, Inventory, TokenState};
use crate::model::token::Fingerprint;
use crate::report::redact;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The cells of one row, as text.
struct Row {
    repository: String,
    kind: String,
    name: String,
    place: String,
    tokens: String,
}

fn row(delegate: &Delegate) -> Row {
    let id = &delegate.id;
    let mut name = id.name.clone();
    if let Some(detail) = &id.detail {
        name.push_str(&format!(" ({detail})"));
    }
    for delegate_name in &delegate.delegate_names {
        name.push_str(&format!(" (delegateName {delegate_name})"));
    }
    let mut place = delegate
        .files
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    for via in &delegate.via {
        place.push_str(&format!(" via {via}"));
    }
    let mut tokens: Vec<String> = delegate
        .tokens
        .iter()
        .map(|(fingerprint, state)| format!("{fingerprint} {}", state.name()))
        .collect();
    tokens.extend(delegate.elsewhere.iter().map(|e| format!("kept in {e}")));
    if tokens.is_empty() {
        tokens.push("no literal token".to_owned());
    }
    Row {
        repository: id.repository.clone().unwrap_or_default(),
        kind: id.kind.clone(),
        name,
        place,
        tokens: tokens.join(", "),
    }
}

fn has_repositories(delegates: &[&Delegate]) -> bool {
    delegates.iter().any(|d| d.id.repository.is_some())
}

/// An aligned table of `delegates`, with a repository column when any came from one.
pub fn table(delegates: &[&Delegate], style: Style) -> String {
    let with_repository = has_repositories(delegates);
    let rows: Vec<Row> = delegates.iter().map(|d| row(d)).collect();
    let header = Row {
        repository: "REPOSITORY".to_owned(),
        kind: "KIND".to_owned(),
        name: "DELEGATE".to_owned(),
        place: "WHERE".to_owned(),
        tokens: "TOKENS".to_owned(),
    };
    let width = |cell: fn(&Row) -> &str| {
        rows.iter()
            .chain([&header])
            .map(|r| cell(r).chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths = [
        width(|r| &r.repository),
        width(|r| &r.kind),
        width(|r| &r.name),
        width(|r| &r.place),
    ];
    let line = |r: &Row, tokens: String| {
        let mut out = String::new();
        if with_repository {
            out.push_str(&format!("{:<w$}  ", r.repository, w = widths[0]));
        }
        out.push_str(&format!(
            "{:<k$}  {:<n$}  {:<p$}  {tokens}",
            r.kind,
            r.name,
            r.place,
            k = widths[1],
            n = widths[2],
            p = widths[3]
        ));
        format!("{}\n", out.trim_end())
    };
    let mut out = style.bold(&line(&header, header.tokens.clone()));
    for r in &rows {
        out.push_str(&line(r, paint_states(&r.tokens, style)));
    }
    out
}

/// Colours the policy states in a tokens cell.
fn paint_states(tokens: &str, style: Style) -> String {
    tokens
        .split(", ")
        .map(|cell| match cell.rsplit_once(' ') {
            Some((fingerprint, "revoked")) => {
                format!("{} {}", style.cyan(fingerprint), style.red("revoked"))
            }
            Some((fingerprint, "stale")) => {
                format!("{} {}", style.cyan(fingerprint), style.yellow("stale"))
            }
            Some((fingerprint, state @ ("current" | "unknown")))
                if fingerprint.starts_with("sha256:") =>
            {
                format!("{} {state}", style.cyan(fingerprint))
            }
            _ => cell.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The table of delegates and the summary, which names `policy`, the policy their tokens
/// were judged by.
pub fn text(inventory: &Inventory, policy: &str, style: Style) -> String {
    let delegates: Vec<&Delegate> = inventory.delegates.iter().collect();
    let mut out = String::new();
    if !delegates.is_empty() {
        out.push_str(&table(&delegates, style));
        out.push('\n');
    }
    out.push_str(&summary(inventory, policy));
    for unjudged in &inventory.unjudged {
        out.push_str(&format!(
            "not judged: {}{}: {}\n",
            repository_prefix(&unjudged.repository),
            unjudged.path,
            unjudged.reason
        ));
    }
    // Masked on its way out, like every report (`report::to_stdout`).
    out
}

fn repository_prefix(repository: &Option<String>) -> String {
    repository
        .as_ref()
        .map_or_else(String::new, |r| format!("{r}: "))
}

fn summary(inventory: &Inventory, policy: &str) -> String {
    let tokens: BTreeSet<(&Fingerprint, TokenState)> = inventory
        .delegates
        .iter()
        .flat_map(|d| d.tokens.iter().map(|(f, s)| (f, *s)))
        .collect();
    let distinct: BTreeSet<&Fingerprint> = tokens.iter().map(|(f, _)| *f).collect();
    let holding = |state: TokenState| {
        inventory
            .delegates
            .iter()
            .filter(|d| d.tokens.values().any(|s| *s == state))
            .count()
    };
    format!(
        "{} holding {}; {} a revoked token, {} a stale one; policy {policy}\n",
        plural(inventory.delegates.len(), "delegate"),
        plural(distinct.len(), "distinct token"),
        holds(holding(TokenState::Revoked)),
        holds(holding(TokenState::Stale)),
    )
}

fn holds(count: usize) -> String {
    if count == 1 {
        "1 holds".to_owned()
    } else {
        format!("{count} hold")
    }
}

/// A Markdown table for a pull-request comment or `$GITHUB_STEP_SUMMARY`; the summary names
/// `policy`.
pub fn markdown(inventory: &Inventory, policy: &str) -> String {
    let with_repository = has_repositories(&inventory.delegates.iter().collect::<Vec<_>>());
    let mut out = String::from("### rekey inventory\n\n");
    if inventory.delegates.is_empty() {
        out.push_str("No delegate holds a delegate token in the inputs.\n");
    } else {
        let cells = |r: &Row| {
            let mut cells = Vec::new();
            if with_repository {
                cells.push(r.repository.clone());
            }
            cells.extend([
                r.kind.clone(),
                r.name.clone(),
                r.place.clone(),
                r.tokens.clone(),
            ]);
            cells
        };
        let header = Row {
            repository: "Repository".to_owned(),
            kind: "Kind".to_owned(),
            name: "Delegate".to_owned(),
            place: "Where".to_owned(),
            tokens: "Tokens".to_owned(),
        };
        let heading = cells(&header);
        out.push_str(&format!("| {} |\n", heading.join(" | ")));
        out.push_str(&format!("|{}\n", " --- |".repeat(heading.len())));
        for delegate in &inventory.delegates {
            let cells: Vec<String> = cells(&row(delegate))
                .iter()
                .map(|c| escape_markdown(c))
                .collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
    }
    out.push('\n');
    out.push_str(&summary(inventory, &escape_markdown(policy)));
    for unjudged in &inventory.unjudged {
        out.push_str(&format!(
            "\n- not judged: `{}{}`: {}",
            repository_prefix(&unjudged.repository),
            unjudged.path,
            escape_markdown(&unjudged.reason)
        ));
    }
    if !inventory.unjudged.is_empty() {
        out.push('\n');
    }
    redact::mask(&out)
}

/// Table cells cannot hold a `|` or a line break; `` ` `` and `*` would start markup.
fn escape_markdown(cell: &str) -> String {
    let mut out = String::with_capacity(cell.len());
    for c in cell.chars() {
        match c {
            '|' | '*' | '_' | '`' | '<' | '>' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[derive(Serialize)]
struct TokenRecord<'a> {
    fingerprint: &'a Fingerprint,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    harness_token: Option<&'a str>,
}

/// The Harness token name of each fingerprint Harness was asked about.
pub type HarnessNames = BTreeMap<Fingerprint, String>;

#[derive(Serialize)]
struct DelegateRecord<'a> {
    repository: Option<&'a str>,
    kind: &'a str,
    name: &'a str,
    detail: Option<&'a str>,
    delegate_names: Vec<&'a str>,
    files: Vec<&'a str>,
    via: Vec<&'a str>,
    tokens: Vec<TokenRecord<'a>>,
    elsewhere: Vec<String>,
    sites: usize,
}

#[derive(Serialize)]
struct UnjudgedRecord<'a> {
    repository: Option<&'a str>,
    path: &'a str,
    reason: String,
}

#[derive(Serialize)]
#[serde(bound(serialize = "Streamed<Delegates>: Serialize, Streamed<Unjudged>: Serialize"))]
struct InventoryReport<'a, Delegates, Unjudged> {
    schema: &'static str,
    delegates: Streamed<Delegates>,
    unjudged: Streamed<Unjudged>,
    /// The policy file the tokens were judged by; null when there was none.
    policy: Option<&'a str>,
}

/// The `rekey.inventory/v1` object; each delegate's record is made as it is written, its
/// tokens named as in Harness where `names` knows them.
/// `policy`: the policy file the tokens were judged by.
pub fn json_record<'a>(
    inventory: &'a Inventory,
    names: &'a HarnessNames,
    policy: Option<&'a str>,
) -> impl Serialize + 'a {
    InventoryReport {
        schema: "rekey.inventory/v1",
        delegates: Streamed(move || inventory.delegates.iter().map(|d| record(d, names))),
        unjudged: Streamed(|| {
            inventory.unjudged.iter().map(|u| UnjudgedRecord {
                repository: u.repository.as_deref(),
                path: &u.path,
                reason: redact::mask(&u.reason),
            })
        }),
        policy,
    }
}

fn strs(set: &FewSet<String>) -> Vec<&str> {
    set.iter().map(String::as_str).collect()
}

fn record<'a>(delegate: &'a Delegate, names: &'a HarnessNames) -> DelegateRecord<'a> {
    DelegateRecord {
        repository: delegate.id.repository.as_deref(),
        kind: &delegate.id.kind,
        name: &delegate.id.name,
        detail: delegate.id.detail.as_deref(),
        delegate_names: strs(&delegate.delegate_names),
        files: strs(&delegate.files),
        via: strs(&delegate.via),
        tokens: delegate
            .tokens
            .iter()
            .map(|(fingerprint, state)| TokenRecord {
                fingerprint,
                state: state.name(),
                harness_token: names.get(fingerprint).map(String::as_str),
            })
            .collect(),
        elsewhere: delegate
            .elsewhere
            .iter()
            .map(|e| redact::sweep(e))
            .collect(),
        sites: delegate.sites,
    }
}
