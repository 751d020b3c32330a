//! `rekey history` output: one block per token, most urgent first, for people, and the
//! `rekey.history/v1` JSON object (`schemas/rekey.history.v1.json`). Values are
//! fingerprints only; commits are shown by their first 12 digits in text, whole in JSON.

use super::Style;
use crate::find::history::History;
use crate::harness::readiness::rfc3339;
use crate::judge::history::{short_id, Judged, State};
use serde_json::{json, Value};

/// One repository's history, judged.
pub struct Walked<'a> {
    pub label: &'a str,
    pub history: &'a History,
    pub tokens: &'a [Judged],
}

/// A commit time (seconds) as an RFC 3339 UTC time; `None` outside what RFC 3339 writes
/// (a hostile or damaged commit can claim any time).
pub fn date(seconds: i64) -> Option<String> {
    rfc3339(seconds.checked_mul(1000)?)
}

pub fn text(walked: &[Walked], style: Style) -> String {
    let mut out = String::new();
    for repo in walked {
        for judged in repo.tokens {
            out.push_str(&block(repo.label, judged, walked.len() > 1, style));
        }
        let unknown = repo
            .tokens
            .iter()
            .filter(|t| t.state == State::Unknown)
            .count();
        let history = repo.history;
        out.push_str(&format!(
            "{}: {} token(s) in {} commit(s) from {} ref(s), {} distinct file(s) read; {} listed neither as current nor as revoked\n",
            repo.label, repo.tokens.len(), history.commits, history.refs_walked, history.blobs, unknown
        ));
        if let Some(cut) = history.shallow.first() {
            out.push_str(&format!(
                "{}: a shallow clone: {} commit(s) (first {}) are here without their parents; the answer covers only the commits this clone holds\n",
                repo.label,
                history.shallow.len(),
                short_id(*cut)
            ));
        }
    }
    out
}

fn block(label: &str, judged: &Judged, many: bool, style: Style) -> String {
    let token = &judged.token;
    let state = match judged.state {
        State::Unknown => style.red("unknown"),
        State::Revoked => style.yellow("revoked"),
        State::Current => style.green("current"),
    };
    let mut out = format!("{}  {state}", style.bold(token.fingerprint.as_str()));
    if many {
        out.push_str(&format!("  in {label}"));
    }
    out.push('\n');
    let first = match token.first_seen.commit {
        Some((commit, time)) => format!(
            "{} {} {}",
            short_id(commit),
            shown(date(time)),
            token.first_seen.path
        ),
        None => format!("(no commit) {}", token.first_seen.path),
    };
    out.push_str(&format!("  first seen      {first}\n"));
    let removed = match (token.at_head, token.removed_in) {
        (true, _) => "not removed: HEAD holds it".to_owned(),
        (false, Some((commit, time))) => format!("{} {}", short_id(commit), shown(date(time))),
        (false, None) => "never on HEAD's first-parent line".to_owned(),
    };
    out.push_str(&format!("  removed in      {removed}\n"));
    let list = |names: &[String]| {
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    };
    out.push_str(&format!("  at the tip of   {}\n", list(&token.refs)));
    out.push_str(&format!(
        "  reachable from  {}\n",
        list(&token.reachable_from)
    ));
    out.push_str(&format!("  paths           {}\n\n", token.paths.join(", ")));
    out
}

fn shown(date: Option<String>) -> String {
    date.unwrap_or_else(|| "(no valid date)".to_owned())
}

pub fn record(walked: &[Walked]) -> Value {
    let mut repositories = Vec::new();
    let mut tokens = Vec::new();
    for repo in walked {
        let history = repo.history;
        repositories.push(json!({
            "repository": repo.label,
            "head": history.head.as_ref().map(|head| json!({
                "commit": head.commit.to_string(),
                "branch": head.branch,
            })),
            "commits": history.commits,
            "refs": history.refs_walked,
            "blobs": history.blobs,
            "shallow": history.shallow.iter().map(|id| id.to_string()).collect::<Vec<_>>(),
            "unjudged": history.unjudged.iter().map(|(path, reason)| json!({"path": path, "reason": reason})).collect::<Vec<_>>(),
        }));
        for judged in repo.tokens {
            let token = &judged.token;
            tokens.push(json!({
                "fingerprint": token.fingerprint.as_str(),
                "state": judged.state.name(),
                "repository": repo.label,
                "first_seen": {
                    "commit": token.first_seen.commit.map(|(id, _)| id.to_string()),
                    "date": token.first_seen.commit.and_then(|(_, time)| date(time)),
                    "path": token.first_seen.path,
                },
                "removed_in": token.removed_in.map(|(id, time)| json!({"commit": id.to_string(), "date": date(time)})),
                "at_head": token.at_head,
                "paths": token.paths,
                "refs": token.refs,
                "reachable_from": token.reachable_from,
            }));
        }
    }
    json!({"schema": "rekey.history/v1", "repositories": repositories, "tokens": tokens})
}

#[cfg(test)]
mod tests {
    use super::date;

    #[test]
    fn commit_times_read_as_utc_dates_and_impossible_ones_as_none() {
        assert_eq!(date(1_796_212_800).as_deref(), Some("2026-12-02T12:00:00Z"));
        assert_eq!(date(-1), None);
        assert_eq!(date(i64::MAX), None);
    }
}
