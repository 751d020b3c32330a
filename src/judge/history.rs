//! What the policy makes of a repository's history: each token git holds gets its state
//! (current, revoked, or unknown: listed in neither), tokens are put most urgent first, and
//! `check --history` turns them into findings: an error for a token nobody has revoked
//! (`history-token`), a warning for a revoked one still at the tip of a ref other than
//! `HEAD`'s branch (`revoked-at-ref`).
//!
//! A token-shaped string the byte sweep found outside every key is a token only when the
//! policy lists it: an unknown 32-hex string in old history may be a checksum. A token
//! held only at paths the policy excludes is left out, as `check` leaves those files out.

use crate::find::history::{History, Token};
use crate::judge::check::Finding;
use crate::judge::policy::{Level, Policy, Rule};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Current,
    Revoked,
    Unknown,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Current => "current",
            State::Revoked => "revoked",
            State::Unknown => "unknown",
        }
    }
}

/// One token of the history, judged.
pub struct Judged {
    pub token: Token,
    pub state: State,
    /// The refs holding it at their tip, other than the branch `HEAD` is on.
    pub other_refs: Vec<String>,
}

/// The tokens of `history` under `policy`, most urgent first: unknown and reachable from a
/// ref, then revoked but at a ref tip, then the rest unknown, current, revoked; within each,
/// by the time they were first added.
pub fn judge(history: &mut History, policy: &Policy) -> Vec<Judged> {
    let head_branch = history.head.as_ref().and_then(|head| head.branch.clone());
    let mut judged: Vec<Judged> = std::mem::take(&mut history.tokens)
        .into_iter()
        .filter_map(|mut token| {
            let state = state(policy, &token);
            if state == State::Unknown && !token.at_key {
                return None;
            }
            token.paths.retain(|path| !policy.excludes(path));
            if token.paths.is_empty() {
                return None;
            }
            if policy.excludes(&token.first_seen.path) {
                token.first_seen.path = token.paths[0].clone();
            }
            let other_refs = token
                .refs
                .iter()
                .filter(|name| Some(*name) != head_branch.as_ref())
                .cloned()
                .collect();
            Some(Judged {
                token,
                state,
                other_refs,
            })
        })
        .collect();
    judged.sort_by_key(|judged| {
        let added = judged
            .token
            .first_seen
            .commit
            .map_or(i64::MIN, |(_, time)| time);
        (urgency(judged), added, judged.token.fingerprint.clone())
    });
    judged
}

fn state(policy: &Policy, token: &Token) -> State {
    if policy.revoked.contains(&token.fingerprint) {
        State::Revoked
    } else if policy.current.contains(&token.fingerprint) {
        State::Current
    } else {
        State::Unknown
    }
}

fn urgency(judged: &Judged) -> u8 {
    let reachable = !judged.token.reachable_from.is_empty() || judged.token.at_head;
    match judged.state {
        State::Unknown if reachable => 0,
        State::Revoked if !judged.other_refs.is_empty() => 1,
        State::Unknown => 2,
        State::Current => 3,
        State::Revoked => 4,
    }
}

/// `check --history`'s findings, each at the path where the token was first added.
pub fn findings(history: &History, judged: &[Judged], policy: &Policy) -> Vec<Finding> {
    let mut findings = unwalked(history, policy);
    for entry in judged {
        let token = &entry.token;
        let added = match token.first_seen.commit {
            Some((commit, _)) => format!("first added in commit {}", short_id(commit)),
            None => "held only by a ref that names a tree or file".to_owned(),
        };
        let (rule, message) = match entry.state {
            State::Unknown if token.at_head => (
                Rule::HistoryToken,
                format!(
                    "HEAD and its history hold a token that .rekey.toml lists neither as current nor as revoked ({added}): list it under [tokens] current if it is the token in force (`rekey init`), else revoke it and rotate"
                ),
            ),
            State::Unknown => (
                Rule::HistoryToken,
                format!(
                    "git history holds a token that .rekey.toml lists neither as current nor as revoked ({added}; reachable from {}): it may still be live. Revoke it in Harness, then `rekey revoke {}`",
                    list(&token.reachable_from, token.at_head),
                    token.fingerprint
                ),
            ),
            State::Revoked if !entry.other_refs.is_empty() => (
                Rule::RevokedAtRef,
                format!(
                    "a revoked token is still at the tip of {} ({added}): deploying it would start delegates that cannot connect",
                    list(&entry.other_refs, false)
                ),
            ),
            _ => continue,
        };
        let level = policy.level(rule);
        if level == Level::Off {
            continue;
        }
        findings.push(Finding {
            rule,
            level,
            path: token.first_seen.path.clone(),
            line: 1,
            column: 1,
            end_column: 2,
            message,
            fingerprint: Some(token.fingerprint.clone()),
            subject: format!("{}|{}", rule.id(), token.fingerprint),
        });
    }
    findings
}

/// What the walk could not cover, as `unchecked-file` findings: a gate that could not
/// judge part of the history fails rather than pass it.
fn unwalked(history: &History, policy: &Policy) -> Vec<Finding> {
    let level = policy.level(Rule::UncheckedFile);
    if level == Level::Off {
        return Vec::new();
    }
    let mut gaps: Vec<(String, String)> = history
        .unjudged
        .iter()
        .map(|(path, reason)| {
            (
                path.clone(),
                format!("a blob in git history {reason}: its tokens were not judged"),
            )
        })
        .collect();
    if let Some(cut) = history.shallow.first() {
        gaps.push((
            ".".to_owned(),
            format!(
                "a shallow clone: {} commit(s) (first {}) are here without their parents, so the history before them was not checked; fetch it whole (`git fetch --unshallow`, or `fetch-depth: 0` for actions/checkout)",
                history.shallow.len(),
                short_id(*cut)
            ),
        ));
    }
    gaps.into_iter()
        .map(|(path, message)| Finding {
            rule: Rule::UncheckedFile,
            level,
            path,
            line: 1,
            column: 1,
            end_column: 2,
            message,
            fingerprint: None,
            subject: "unchecked-file|history".to_owned(),
        })
        .collect()
}

/// A commit id cut to 12 digits, as reports show it.
pub fn short_id(id: git2::Oid) -> String {
    id.to_string()[..12].to_owned()
}

/// Up to three ref names, then how many more.
fn list(refs: &[String], at_head: bool) -> String {
    let mut names: Vec<&str> = refs.iter().take(3).map(String::as_str).collect();
    if names.is_empty() && at_head {
        names.push("HEAD");
    }
    let mut text = names.join(", ");
    if refs.len() > 3 {
        text.push_str(&format!(" and {} more", refs.len() - 3));
    }
    text
}
