//! `rekey harness tokens` in words and as `rekey.harness-tokens/v1` JSON, and the lines
//! that name the delegates still alive on a token. A token is shown by name and
//! fingerprint; its value never reaches this stage's output.

use crate::harness::api::{Group, Identity, Token};
use crate::harness::readiness::{rfc3339, Alive};
use serde::Serialize;

/// A token with the delegate groups on it.
pub struct Listed {
    pub token: Token,
    pub groups: Vec<Group>,
}

#[derive(Serialize)]
pub struct Record {
    schema: &'static str,
    tokens: Vec<TokenRecord>,
}

#[derive(Serialize)]
struct TokenRecord {
    name: String,
    status: &'static str,
    fingerprint: Option<String>,
    created_at: Option<String>,
    revoke_after: Option<String>,
    delegates: Vec<DelegateRecord>,
}

#[derive(Serialize)]
struct DelegateRecord {
    group: String,
    connected: bool,
    last_heartbeat: Option<String>,
}

pub fn record(listed: &[Listed]) -> Record {
    let tokens = listed
        .iter()
        .map(|Listed { token, groups }| TokenRecord {
            name: token.name.clone(),
            status: token.status.name(),
            fingerprint: token.fingerprint().map(|f| f.as_str().to_owned()),
            created_at: token.created_at.and_then(rfc3339),
            revoke_after: token.revoke_after.and_then(rfc3339),
            delegates: groups
                .iter()
                .map(|group| DelegateRecord {
                    group: group.group.name.clone(),
                    connected: group.group.connected == Some(true),
                    last_heartbeat: group.group.last_heartbeat.and_then(rfc3339),
                })
                .collect(),
        })
        .collect();
    Record {
        schema: "rekey.harness-tokens/v1",
        tokens,
    }
}

/// One block per token: name, status, fingerprint, dates, then its delegate groups.
pub fn text(listed: &[Listed]) -> String {
    if listed.is_empty() {
        return "No delegate token in this Harness scope.\n".to_owned();
    }
    let mut out = String::new();
    for Listed { token, groups } in listed {
        let fingerprint = match &token.identity {
            Identity::Known(fingerprint) => fingerprint.as_str(),
            Identity::Hidden => "fingerprint unknown",
            Identity::NotAToken => "value not a delegate token",
        };
        out.push_str(&format!(
            "{}  {}  {fingerprint}\n",
            token.name,
            token.status.name()
        ));
        let when = |ms: Option<i64>| ms.and_then(rfc3339).unwrap_or_else(|| "-".to_owned());
        out.push_str(&format!(
            "  created {}, revoke after {}\n",
            when(token.created_at),
            when(token.revoke_after)
        ));
        if groups.is_empty() {
            out.push_str("  no delegate group uses it\n");
        }
        for group in groups {
            let state = match group.group.connected {
                Some(true) => "connected",
                Some(false) => "not connected",
                None => "connection unknown",
            };
            out.push_str(&format!(
                "  group {}: {state}, last heartbeat {}\n",
                group.group.name,
                when(group.group.last_heartbeat)
            ));
        }
    }
    out
}

/// Whether some listed token's value could not be read (the key may not edit tokens).
pub fn note_unreadable(listed: &[Listed]) -> Option<String> {
    let hidden = |l: &Listed| l.token.identity == Identity::Hidden;
    listed.iter().any(hidden).then(|| {
        "a token without a fingerprint has a value this API key cannot read: Harness shows values only to a key that may edit delegate tokens".to_owned()
    })
}

/// `NAME: WHAT is connected, last heartbeat T` for each delegate still alive on a token.
pub fn alive_lines(name: &str, alive: &[Alive]) -> Vec<String> {
    alive
        .iter()
        .map(|alive| {
            let state = if alive.connected {
                "actively connected"
            } else {
                "not connected"
            };
            let beat = alive
                .last_heartbeat
                .and_then(rfc3339)
                .unwrap_or_else(|| "none".to_owned());
            format!(
                "Harness token {name}: {} is {state}, last heartbeat {beat}",
                alive.what
            )
        })
        .collect()
}
