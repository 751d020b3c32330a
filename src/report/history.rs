//! `rekey history` output: one block per token, most urgent first, for people, and the
//! `rekey.history/v1` JSON object (`schemas/rekey.history.v1.json`). Values are
//! fingerprints only; commits are shown by their first 12 digits in text, whole in JSON.

use super::Style;
use crate::find::history::History;
use crate::judge::history::{short_id, Judged, State};
use serde_json::{json, Value};

/// One repository's history, judged.
pub struct Walked<'a> {
    pub label: &'a str,
    pub history: &'a History,
    pub tokens: &'a [Judged],
}

/// A commit time as an ISO 8601 date and time in UTC.
pub fn date(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
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
            date(time),
            token.first_seen.path
        ),
        None => format!("(no commit) {}", token.first_seen.path),
    };
    out.push_str(&format!("  first seen      {first}\n"));
    let removed = match (token.at_head, token.removed_in) {
        (true, _) => "not removed: HEAD holds it".to_owned(),
        (false, Some((commit, time))) => format!("{} {}", short_id(commit), date(time)),
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
                    "date": token.first_seen.commit.map(|(_, time)| date(time)),
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
    fn commit_times_read_as_utc_dates() {
        assert_eq!(date(0), "1970-01-01T00:00:00Z");
        assert_eq!(date(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(date(1_796_212_800), "2026-12-02T12:00:00Z");
    }
}
