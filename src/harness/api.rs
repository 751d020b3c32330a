//! The delegate-token resource of Harness NG, typed: list, create, revoke, and the delegate
//! groups on a token. A token value enters the run here and is remembered at once by the
//! redaction registry, so that no output can show it.

use super::client::{Change, Client};
use crate::error::Error;
use crate::model::secrets;
use crate::model::token::{self, Fingerprint};
use serde_json::Value;
use zeroize::Zeroizing;

const TOKENS: &str = "/ng/api/delegate-token-ng";
const GROUPS: &str = "/ng/api/delegate-token-ng/delegate-groups";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Active,
    Revoked,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Active => "ACTIVE",
            Status::Revoked => "REVOKED",
        }
    }
}

/// A delegate token as Harness lists it.
pub struct Token {
    pub name: String,
    pub status: Status,
    /// Epoch milliseconds.
    pub created_at: Option<i64>,
    pub revoke_after: Option<i64>,
    /// Of the value, when the key may read it (`None` otherwise).
    pub fingerprint: Option<Fingerprint>,
    value: Option<Zeroizing<String>>,
}

impl Token {
    /// The value a delegate is configured with, when the key may read it.
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref().map(String::as_str)
    }
}

/// A delegate group, or one delegate of it, that uses a token.
pub struct Delegate {
    pub name: String,
    pub connected: bool,
    /// Epoch milliseconds.
    pub last_heartbeat: Option<i64>,
}

/// The delegate groups on a token, each with its instances.
pub struct Group {
    pub group: Delegate,
    pub instances: Vec<Delegate>,
}

/// Every token in scope, or those with `status`, or the one called `name`.
pub fn list(
    client: &Client,
    name: Option<&str>,
    status: Option<Status>,
) -> Result<Vec<Token>, Error> {
    let mut query = Vec::new();
    if let Some(name) = name {
        query.push(("name", name));
    }
    if let Some(status) = status {
        query.push(("status", status.name()));
    }
    let resource = client.get(TOKENS, &query)?;
    let items = resource
        .as_array()
        .ok_or_else(|| shape("GET", TOKENS, "a list of tokens"))?;
    let tokens = items
        .iter()
        .map(|item| {
            parse_token(item).ok_or_else(|| shape("GET", TOKENS, "tokens with a name and a status"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // A server that ignores `name=` must not make another token stand for this one.
    Ok(tokens
        .into_iter()
        .filter(|token| name.map_or(true, |name| token.name == name))
        .collect())
}

/// The token called `name`, if Harness has it.
pub fn find(client: &Client, name: &str) -> Result<Option<Token>, Error> {
    Ok(list(client, Some(name), None)?.into_iter().next())
}

/// Creates token `name` (one POST, never repeated): the token with its value.
pub fn create(client: &Client, name: &str) -> Result<Token, Error> {
    let resource = client.change(Change::Post, TOKENS, &[("tokenName", name)])?;
    parse_token(&resource).ok_or_else(|| shape("POST", TOKENS, "the token created"))
}

/// Revokes token `name` (one PUT, never repeated): whether Harness confirms it revoked.
pub fn revoke(client: &Client, name: &str) -> Result<bool, Error> {
    let resource = client.change(Change::Put, TOKENS, &[("tokenName", name)])?;
    Ok(resource.get("status").and_then(Value::as_str) == Some(Status::Revoked.name()))
}

/// The delegate groups (and their delegates) that use token `name`.
pub fn groups(client: &Client, name: &str) -> Result<Vec<Group>, Error> {
    let resource = client.get(GROUPS, &[("delegateTokenName", name)])?;
    let list = match resource.get("delegateGroupDetails") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(list) => list
            .as_array()
            .ok_or_else(|| shape("GET", GROUPS, "a list of delegate groups"))?,
    };
    Ok(list
        .iter()
        .map(|group| Group {
            group: delegate(group, "groupName", "lastHeartBeat"),
            instances: group
                .get("delegateInstanceDetails")
                .and_then(Value::as_array)
                .map(|instances| {
                    instances
                        .iter()
                        .map(|i| delegate(i, "hostName", "lastHeartbeat"))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect())
}

fn delegate(item: &Value, name: &str, heartbeat: &str) -> Delegate {
    Delegate {
        name: item
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("(unnamed)")
            .to_owned(),
        connected: item.get("activelyConnected").and_then(Value::as_bool) == Some(true),
        last_heartbeat: item.get(heartbeat).and_then(Value::as_i64),
    }
}

/// A token from the API's JSON. Its value is remembered before anything else happens.
fn parse_token(item: &Value) -> Option<Token> {
    let value = item
        .get("value")
        .and_then(Value::as_str)
        .map(|v| Zeroizing::new(v.trim().to_owned()));
    if let Some(value) = &value {
        secrets::remember(value);
    }
    let status = match item.get("status")?.as_str()? {
        "ACTIVE" => Status::Active,
        "REVOKED" => Status::Revoked,
        _ => return None,
    };
    let fingerprint = value.as_deref().and_then(|value| {
        let (_, canonical) = token::decode_token(value)?;
        Some(Fingerprint::of_canonical(&canonical))
    });
    Some(Token {
        name: item.get("name")?.as_str()?.to_owned(),
        status,
        created_at: item.get("createdAt").and_then(Value::as_i64),
        revoke_after: item.get("revokeAfter").and_then(Value::as_i64),
        fingerprint,
        value,
    })
}

fn shape(method: &str, path: &str, expected: &str) -> Error {
    Error::new(format!(
        "Harness {method} {path}: the answer does not hold {expected}: is the endpoint the Harness gateway?"
    ))
}
