//! A fake Harness NG API for the tests: a real HTTP server on 127.0.0.1 (std's
//! TcpListener in a thread) that answers the delegate-token calls rekey makes, records
//! every request, and can be told to fail a call once with a given status.

#![allow(dead_code)] // each test binary uses its own subset

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// The API key the fake accepts (made up, shaped like a Harness PAT).
pub const KEY: &str = "pat.FakeAccount.abcdEFGH1234.s3cr3tKeyMaterialXYZ987";
pub const ACCOUNT: &str = "FakeAccount";

#[derive(Default)]
pub struct State {
    /// Each token: name, status, value (None: the key may not read it), created_at.
    pub tokens: Vec<(String, String, Option<String>, i64)>,
    /// Delegate groups per token name (the `delegateGroupDetails` list).
    pub groups: Vec<(String, Value)>,
    /// Every request as `METHOD path?query`.
    pub log: Vec<String>,
    /// Calls to fail once: (method, path, status).
    pub failures: Vec<(String, String, u16)>,
    /// The `message` of a failed call's body (default: Service Unavailable).
    pub failure_message: Option<String>,
    /// The value a POST creates.
    pub created_value: String,
    /// Whether a failed POST still creates the token (the answer lost on the way).
    pub post_lands_anyway: bool,
    /// The key accepted (default: [`KEY`]).
    pub key: Option<String>,
    /// Fixed answers to a call, given every time it is made.
    pub answers: Vec<Answer>,
    /// Whether the token list ignores `name=` (a server that lists everything).
    pub ignore_name: bool,
}

/// A fixed answer: to `method` `path`, `status` with `body` (raw text) and `headers`.
#[derive(Clone)]
pub struct Answer {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

/// A fixed answer to `method` `path` (every time it is called).
pub fn answer(method: &str, path: &str, status: u16, body: impl Into<String>) -> Answer {
    Answer {
        method: method.to_owned(),
        path: path.to_owned(),
        status,
        body: body.into(),
        headers: Vec::new(),
    }
}

pub const TOKENS_PATH: &str = "/ng/api/delegate-token-ng";
pub const GROUPS_PATH: &str = "/ng/api/delegate-token-ng/delegate-groups";

pub struct Fake {
    pub state: Arc<Mutex<State>>,
    pub endpoint: String,
}

impl Fake {
    pub fn start(state: State) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(state));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                serve(stream, &shared);
            }
        });
        Fake { state, endpoint }
    }

    /// The environment rekey needs to reach this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("HARNESS_ENDPOINT", self.endpoint.clone()),
            ("HARNESS_ACCOUNT_ID", ACCOUNT.to_owned()),
            ("HARNESS_PLATFORM_API_KEY", KEY.to_owned()),
        ]
    }

    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    /// How many requests started with `prefix` (`"POST "`, `"PUT "`...).
    pub fn count(&self, prefix: &str) -> usize {
        self.log().iter().filter(|r| r.starts_with(prefix)).count()
    }

    pub fn status_of(&self, name: &str) -> Option<String> {
        let state = self.state.lock().unwrap();
        state
            .tokens
            .iter()
            .find(|t| t.0 == name)
            .map(|t| t.1.clone())
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A delegate group as Harness lists it.
pub fn group(name: &str, connected: bool, heartbeat: i64) -> Value {
    json!({
        "groupName": name,
        "activelyConnected": connected,
        "lastHeartBeat": heartbeat,
        "delegateInstanceDetails": [
            {"hostName": format!("{name}-0"), "activelyConnected": connected, "lastHeartbeat": heartbeat}
        ]
    })
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut key = None;
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((&header, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "x-api-key" => key = Some(value.trim().to_owned()),
            "content-length" => length = value.trim().parse().unwrap_or(0),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let fixed = fixed_answer(&method, &target, key.as_deref(), state);
    let (status, text, headers) = fixed.map_or_else(
        || {
            let (status, answer) = respond(&method, &target, key.as_deref(), state);
            (status, answer.to_string(), Vec::new())
        },
        |fixed| (fixed.status, fixed.body, fixed.headers),
    );
    let mut extra = String::new();
    for (name, value) in headers {
        extra.push_str(&format!("{name}: {value}\r\n"));
    }
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n{text}",
        text.len()
    );
}

/// The fixed answer set for this call, if any (the call is logged either way).
fn fixed_answer(
    method: &str,
    target: &str,
    key: Option<&str>,
    state: &Mutex<State>,
) -> Option<Answer> {
    let mut state = state.lock().unwrap();
    let path = target.split('?').next().unwrap_or_default();
    let mut found = state
        .answers
        .iter()
        .find(|a| a.method == method && a.path == path)?
        .clone();
    // The answer may echo the key it was sent, as careless servers do.
    let key = key.unwrap_or_default();
    found.body = found.body.replace("{KEY}", key);
    for (_, value) in &mut found.headers {
        *value = value.replace("{KEY}", key);
    }
    state.log.push(format!("{method} {target}"));
    Some(found)
}

fn query(target: &str) -> (String, Vec<(String, String)>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let pairs = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k.to_owned(), v.replace("%2D", "-").replace('+', " "))
        })
        .collect();
    (path.to_owned(), pairs)
}

fn respond(method: &str, target: &str, key: Option<&str>, state: &Mutex<State>) -> (u16, Value) {
    let mut state = state.lock().unwrap();
    state.log.push(format!("{method} {target}"));
    let (path, pairs) = query(target);
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if key != Some(state.key.as_deref().unwrap_or(KEY)) {
        // Echoes what it was sent, as careless servers do: rekey must mask it.
        let sent = key.unwrap_or_default();
        return (
            401,
            json!({"message": format!("Invalid API key {sent}"), "code": "INVALID_TOKEN"}),
        );
    }
    if get("accountIdentifier").as_deref() != Some(ACCOUNT) {
        return (400, json!({"message": "accountIdentifier missing"}));
    }
    if let Some(at) = state
        .failures
        .iter()
        .position(|(m, p, _)| m == method && *p == path)
    {
        let (_, _, status) = state.failures.remove(at);
        if method == "POST" && state.post_lands_anyway {
            create(&mut state, &get("tokenName").unwrap_or_default());
        }
        let message = state
            .failure_message
            .clone()
            .unwrap_or("Service Unavailable".into());
        return (status, json!({"message": message}));
    }
    match (method, path.as_str()) {
        ("GET", "/ng/api/delegate-token-ng") => {
            let name = get("name").filter(|_| !state.ignore_name);
            let status = get("status");
            let list: Vec<Value> = state
                .tokens
                .iter()
                .filter(|t| name.as_ref().is_none_or(|n| *n == t.0))
                .filter(|t| status.as_ref().is_none_or(|s| *s == t.1))
                .map(token_json)
                .collect();
            (200, envelope(json!(list)))
        }
        ("POST", "/ng/api/delegate-token-ng") => {
            let name = get("tokenName").unwrap_or_default();
            let token = create(&mut state, &name);
            (200, envelope(token))
        }
        ("PUT", "/ng/api/delegate-token-ng") => {
            let name = get("tokenName").unwrap_or_default();
            match state.tokens.iter_mut().find(|t| t.0 == name) {
                Some(token) => {
                    token.1 = "REVOKED".to_owned();
                    (200, envelope(token_json(token)))
                }
                None => (
                    404,
                    json!({"message": format!("Delegate token {name} not found")}),
                ),
            }
        }
        ("GET", "/ng/api/delegate-token-ng/delegate-groups") => {
            let name = get("delegateTokenName").unwrap_or_default();
            let groups: Vec<Value> = state
                .groups
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, g)| g.clone())
                .collect();
            (200, envelope(json!({"delegateGroupDetails": groups})))
        }
        _ => (404, json!({"message": "no such resource"})),
    }
}

fn create(state: &mut State, name: &str) -> Value {
    let value = state.created_value.clone();
    state
        .tokens
        .push((name.to_owned(), "ACTIVE".to_owned(), Some(value), now_ms()));
    token_json(state.tokens.last().unwrap())
}

fn token_json(token: &(String, String, Option<String>, i64)) -> Value {
    let mut value = json!({
        "accountIdentifier": ACCOUNT,
        "name": token.0,
        "status": token.1,
        "createdAt": token.3,
        "createdBy": {"type": "USER", "name": "someone"},
        "revokeAfter": null,
    });
    if let Some(v) = &token.2 {
        value["value"] = json!(v);
    }
    value
}

fn envelope(resource: Value) -> Value {
    json!({"status": "SUCCESS", "metaData": {}, "resource": resource, "responseMessages": []})
}
