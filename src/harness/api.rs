//! The delegate-token resource of Harness NG, typed: list, create, revoke, and the delegate
//! groups on a token. A token value enters the run here and is remembered at once by the
//! redaction registry, so that no output can show it.
//!
//! What rekey cannot read is an error, never a default: revoking is irreversible, so a
//! field Harness sends in a shape rekey does not know must not read as "no delegate" or
//! "not connected".

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

/// What Harness shows of a token's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// No value: Harness shows values only to a key that may edit delegate tokens.
    Hidden,
    /// A value that is not a delegate token (32 hex digits, or base64 of them).
    NotAToken,
    /// The fingerprint of the value.
    Known(Fingerprint),
}

/// A delegate token as Harness lists it.
pub struct Token {
    pub name: String,
    pub status: Status,
    /// Epoch milliseconds.
    pub created_at: Option<i64>,
    pub revoke_after: Option<i64>,
    pub identity: Identity,
    /// Only when it is a delegate token.
    value: Option<Zeroizing<String>>,
}

impl Token {
    /// The value a delegate is configured with, when the key may read it.
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref().map(String::as_str)
    }

    /// The fingerprint of the value, when the key may read it and it is a token.
    pub fn fingerprint(&self) -> Option<&Fingerprint> {
        match &self.identity {
            Identity::Known(fingerprint) => Some(fingerprint),
            _ => None,
        }
    }
}

/// A delegate group, or one delegate of it, that uses a token.
pub struct Delegate {
    pub name: String,
    /// `activelyConnected`, when Harness sends it.
    pub connected: Option<bool>,
    /// Epoch milliseconds, as Harness sends it (its range is judged by `readiness`); `0`,
    /// Harness' "never", is `None`.
    pub last_heartbeat: Option<i64>,
    /// The spelling of the heartbeat field it came from, for messages.
    pub heartbeat_field: &'static str,
}

/// The delegate groups on a token, each with its instances.
pub struct Group {
    pub group: Delegate,
    pub instances: Vec<Delegate>,
}

/// The most tokens rekey takes in from one list: a larger list is refused before any
/// value in it is read, since every value read is remembered for masking.
pub const MAX_TOKENS: usize = 10_000;

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
    // A server that ignores `name=` or `status=` must not make another token stand for
    // this one, nor make rekey read (and remember) the values of thousands of others:
    // the list is narrowed before any token in it is read.
    let wanted: Vec<&Value> = items
        .iter()
        .filter(|item| name.is_none_or(|name| field(item, "name") == Some(name)))
        .filter(|item| status.is_none_or(|status| field(item, "status") == Some(status.name())))
        .collect();
    if wanted.len() > MAX_TOKENS {
        return Err(Error::new(format!(
            "Harness GET {TOKENS}: Harness lists {} tokens, more than rekey takes in ({MAX_TOKENS}): narrow the scope ([harness] org and project)",
            wanted.len()
        )));
    }
    wanted
        .into_iter()
        .map(|item| {
            parse_token(item).ok_or_else(|| shape("GET", TOKENS, "tokens with a name and a status"))
        })
        .collect()
}

/// The token called `name`, if Harness has it. Two tokens of that name are an error: one
/// of them could be revoked while the other stays active.
pub fn find(client: &Client, name: &str) -> Result<Option<Token>, Error> {
    let mut found = list(client, Some(name), None)?;
    if found.len() > 1 {
        return Err(Error::new(format!(
            "Harness lists {} tokens named {name}, so rekey cannot tell which one is meant: check the scope ([harness] org and project), in which a name is unique",
            found.len()
        )));
    }
    Ok(found.pop())
}

/// Creates token `name` (one POST, never repeated): the token with its value.
pub fn create(client: &Client, name: &str) -> Result<Token, Error> {
    let resource = client.change(Change::Post, TOKENS, &[("tokenName", name)])?;
    parse_token(&resource).ok_or_else(|| shape("POST", TOKENS, "the token created"))
}

/// Revokes token `name` (one PUT, never repeated): whether Harness confirms it, naming
/// `name` with status REVOKED.
pub fn revoke(client: &Client, name: &str) -> Result<bool, Error> {
    let resource = client.change(Change::Put, TOKENS, &[("tokenName", name)])?;
    Ok(field(&resource, "name") == Some(name)
        && field(&resource, "status") == Some(Status::Revoked.name()))
}

/// The delegate groups (and their delegates) that use token `name`. Anything but a list
/// of groups rekey can read is an error: "no list" must not read as "no delegate".
pub fn groups(client: &Client, name: &str) -> Result<Vec<Group>, Error> {
    let resource = client.get(GROUPS, &[("delegateTokenName", name)])?;
    let list = resource
        .get("delegateGroupDetails")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            Error::new(format!(
                "Harness GET {GROUPS}: the answer does not hold a list of delegate groups (resource.delegateGroupDetails), so rekey cannot tell which delegates use the token: check that HARNESS_ENDPOINT is the Harness gateway"
            ))
        })?;
    list.iter().map(|item| group(item, name)).collect()
}

/// One group of the list, with its instances.
fn group(item: &Value, token: &str) -> Result<Group, Error> {
    let name = name_of(item, "groupName");
    let what = format!("group {name}");
    let group = delegate(item, name.clone(), &what, token)?;
    let instances = match item.get("delegateInstanceDetails") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(instances)) => instances
            .iter()
            .map(|instance| {
                let host = name_of(instance, "hostName");
                let what = format!("delegate {host} of group {name}");
                delegate(instance, host, &what, token)
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            let problem = format!("delegateInstanceDetails is {}, not a list", kind(other));
            return Err(unreadable(token, &what, &problem));
        }
    };
    Ok(Group { group, instances })
}

fn name_of(item: &Value, key: &str) -> String {
    item.get(key)
        .and_then(Value::as_str)
        .unwrap_or("(unnamed)")
        .to_owned()
}

/// A group or instance (`what`, for messages): its connected flag and its heartbeat under
/// either spelling Harness uses, each absent or of the one type rekey reads.
fn delegate(item: &Value, name: String, what: &str, token: &str) -> Result<Delegate, Error> {
    if !item.is_object() {
        return Err(unreadable(
            token,
            what,
            &format!("is {}, not an object", kind(item)),
        ));
    }
    let connected = match item.get("activelyConnected") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(connected)) => Some(*connected),
        Some(other) => {
            let problem = format!("activelyConnected is {}, not true or false", kind(other));
            return Err(unreadable(token, what, &problem));
        }
    };
    let mut found = Delegate {
        name,
        connected,
        last_heartbeat: None,
        heartbeat_field: "lastHeartBeat",
    };
    for field in ["lastHeartBeat", "lastHeartbeat"] {
        let beat = match item.get(field) {
            None | Some(Value::Null) => continue,
            Some(Value::Number(number)) => number.as_i64().ok_or_else(|| {
                let problem = format!("{field} is not a whole number of epoch milliseconds");
                unreadable(token, what, &problem)
            })?,
            Some(other) => {
                let problem = format!(
                    "{field} is {}, not a number of epoch milliseconds",
                    kind(other)
                );
                return Err(unreadable(token, what, &problem));
            }
        };
        if beat != 0 && found.last_heartbeat.is_none_or(|seen| beat > seen) {
            found.last_heartbeat = Some(beat);
            found.heartbeat_field = field;
        }
    }
    Ok(found)
}

/// `a string`, `a number`...: what a JSON value is, never what it holds.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Why rekey cannot tell whether `what` (a group or delegate on `token`) is alive.
pub fn unreadable(token: &str, what: &str, problem: &str) -> Error {
    Error::new(format!(
        "Harness token {token}: {what}: {problem}, so rekey cannot tell whether it is still on the token"
    ))
}

/// The text under `key` of a JSON object, if it is text.
fn field<'a>(item: &'a Value, key: &str) -> Option<&'a str> {
    item.get(key).and_then(Value::as_str)
}

/// A token from the API's JSON. Its value is remembered before anything else happens.
fn parse_token(item: &Value) -> Option<Token> {
    let (identity, value) = match item.get("value") {
        None | Some(Value::Null) => (Identity::Hidden, None),
        Some(Value::String(text)) if text.trim().is_empty() => (Identity::Hidden, None),
        Some(Value::String(text)) => {
            let text = Zeroizing::new(text.trim().to_owned());
            secrets::remember(&text);
            match token::decode_token(&text) {
                Some((_, canonical)) => (
                    Identity::Known(Fingerprint::of_canonical(&canonical)),
                    Some(text),
                ),
                None => (Identity::NotAToken, None),
            }
        }
        Some(_) => (Identity::NotAToken, None),
    };
    let status = match item.get("status")?.as_str()? {
        "ACTIVE" => Status::Active,
        "REVOKED" => Status::Revoked,
        _ => return None,
    };
    Some(Token {
        name: item.get("name")?.as_str()?.to_owned(),
        status,
        created_at: item.get("createdAt").and_then(Value::as_i64),
        revoke_after: item.get("revokeAfter").and_then(Value::as_i64),
        identity,
        value,
    })
}

fn shape(method: &str, path: &str, expected: &str) -> Error {
    Error::new(format!(
        "Harness {method} {path}: the answer does not hold {expected}: is the endpoint the Harness gateway?"
    ))
}
