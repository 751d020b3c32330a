//! The HTTP client of the Harness NextGen API: every call sends the key in `x-api-key` and
//! the account (and scope) in the query, follows no redirect (the key must not follow one
//! elsewhere), and returns the envelope's `resource`. Reads are retried on connection
//! errors and 5xx; a POST or PUT is sent once, since repeating one could act twice: the
//! caller learns what happened by reading afterwards. A 2xx answer whose envelope says
//! anything but SUCCESS, or that is one page of several, is an error: never part of an
//! answer read as the whole.

use super::settings::Settings;
use crate::error::Error;
use crate::model::secrets;
use serde_json::Value;
use std::time::Duration;
use ureq::http::Response;
use ureq::{Agent, Body};

pub struct Client {
    agent: Agent,
    settings: Settings,
}

/// A call that did not succeed, and whether trying the same read again may.
struct Failure {
    error: Error,
    retryable: bool,
}

/// How many times a read is sent, and the pause before each retry.
const TRIES: usize = 3;
const BACKOFF: [Duration; TRIES - 1] = [Duration::from_millis(100), Duration::from_millis(300)];

/// The connect timeout, at most.
const CONNECT: Duration = Duration::from_secs(10);

/// A response body is a page of JSON; anything larger is refused.
const MAX_BODY: u64 = 16 * 1024 * 1024;

/// The error body shown, at most (after redaction).
const SHOWN_BODY: usize = 300;

/// The method of a call that changes something in Harness.
#[derive(Clone, Copy)]
pub enum Change {
    Post,
    Put,
}

impl Client {
    pub fn new(settings: Settings) -> Client {
        let loopback = settings.endpoint.starts_with("http://");
        let config = Agent::config_builder()
            .timeout_connect(Some(CONNECT.min(settings.timeout)))
            .timeout_recv_response(Some(settings.timeout))
            .timeout_recv_body(Some(settings.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            // A test server on this machine is reached directly, whatever proxy is set.
            .proxy(if loopback {
                None
            } else {
                ureq::Proxy::try_from_env()
            })
            .user_agent(concat!("rekey/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            agent: config.into(),
            settings,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// GET `path` with `query` (besides the account and scope), retried with backoff on a
    /// connection error or a 5xx: the `resource` of the answer.
    pub fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, Error> {
        let mut attempt = 0;
        loop {
            let request = self.scoped(self.agent.get(self.url(path)), query);
            let result = request.call();
            match self.answer("GET", path, result) {
                Ok(resource) => return Ok(resource),
                Err(failure) if failure.retryable && attempt + 1 < TRIES => {
                    std::thread::sleep(BACKOFF[attempt]);
                    attempt += 1;
                }
                Err(failure) => return Err(failure.error),
            }
        }
    }

    /// POST or PUT `path` once, never retried: the `resource` of the answer.
    pub fn change(
        &self,
        change: Change,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Value, Error> {
        let (method, builder) = match change {
            Change::Post => ("POST", self.agent.post(self.url(path))),
            Change::Put => ("PUT", self.agent.put(self.url(path))),
        };
        let result = self.scoped(builder, query).send_empty();
        self.answer(method, path, result)
            .map_err(|failure| failure.error)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.endpoint)
    }

    /// The key header and the account and scope parameters every call carries.
    fn scoped<B>(
        &self,
        builder: ureq::RequestBuilder<B>,
        query: &[(&str, &str)],
    ) -> ureq::RequestBuilder<B> {
        let settings = &self.settings;
        let mut builder = builder
            .header("x-api-key", settings.key.as_str())
            .header("accept", "application/json")
            .query("accountIdentifier", &settings.account);
        for (name, value) in [
            ("orgIdentifier", &settings.org),
            ("projectIdentifier", &settings.project),
        ] {
            if let Some(value) = value {
                builder = builder.query(name, value);
            }
        }
        for (name, value) in query {
            builder = builder.query(*name, *value);
        }
        builder
    }

    /// The `resource` of a 2xx answer, or what went wrong in words that name the call and
    /// what to fix.
    fn answer(
        &self,
        method: &str,
        path: &str,
        result: Result<Response<Body>, ureq::Error>,
    ) -> Result<Value, Failure> {
        let call = format!("Harness {method} {path}");
        let mut response = result.map_err(|error| Failure {
            retryable: matches!(error, ureq::Error::Io(_) | ureq::Error::ConnectionFailed),
            error: Error::new(format!(
                "{call}: cannot reach {}: {}; check HARNESS_ENDPOINT (or [harness] endpoint in .rekey.toml) and the network",
                self.settings.endpoint,
                redacted(&error.to_string())
            )),
        })?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            let location = response
                .headers()
                .get("location")
                .and_then(|value| value.to_str().ok());
            let host = location
                .and_then(host_of)
                .map_or_else(String::new, |host| format!(" ({host})"));
            return Err(Failure {
                retryable: false,
                error: Error::new(format!(
                    "{call}: Harness answered with a redirect to another address{host}, which rekey does not follow: set HARNESS_ENDPOINT to the address it names"
                )),
            });
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|error| Failure {
                retryable: true,
                error: Error::new(format!("{call}: cannot read the answer: {error}")),
            })?;
        if !(200..300).contains(&status) {
            return Err(Failure {
                retryable: status >= 500,
                error: Error::new(format!(
                    "{call}: {status}{}{}",
                    error_text(&body),
                    hint(status)
                )),
            });
        }
        let mut envelope: Value = serde_json::from_str(&body).map_err(|_| Failure {
            retryable: false,
            error: Error::new(format!(
                "{call}: the answer is not JSON: is {} the Harness gateway?",
                self.settings.endpoint
            )),
        })?;
        if let Some(problem) = refused(&envelope) {
            return Err(Failure {
                retryable: false,
                error: Error::new(format!("{call}: {problem}")),
            });
        }
        Ok(envelope
            .get_mut("resource")
            .map(Value::take)
            .unwrap_or(Value::Null))
    }
}

/// What makes a 2xx answer no answer: an envelope whose `status` is not SUCCESS (an
/// error Harness sends with 200), or one page of several (`totalPages` in the
/// envelope, its `metaData` or its `resource`), since part of a list of delegates
/// could miss the one still alive.
fn refused(envelope: &Value) -> Option<String> {
    if let Some(status) = envelope.get("status").and_then(Value::as_str) {
        if status != "SUCCESS" {
            let message = envelope
                .get("message")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|message| !message.is_empty())
                .map_or_else(String::new, |message| format!(": {}", shown(message)));
            return Some(format!("Harness answered with status {status}{message}"));
        }
    }
    let holders = [
        Some(envelope),
        envelope.get("metaData"),
        envelope.get("resource"),
    ];
    let pages = holders
        .into_iter()
        .flatten()
        .filter_map(|holder| holder.get("totalPages")?.as_u64())
        .max()?;
    (pages > 1).then(|| {
            format!("the answer is one page of {pages}, and rekey reads only whole lists, so it cannot tell from this one")
        })
}

/// `: MESSAGE` from an error body (its `message`, else its first characters), with the
/// key and every token value masked.
fn error_text(body: &str) -> String {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|value| value.get("message")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| body.to_owned());
    let message = message.trim();
    if message.is_empty() {
        return String::new();
    }
    format!(": {}", shown(message))
}

/// A message from Harness as shown: masked, and cut to its first characters.
fn shown(message: &str) -> String {
    redacted(message).chars().take(SHOWN_BODY).collect()
}

/// `text` with the API key (registered with the redaction when the settings were read)
/// and every remembered token masked.
fn redacted(text: &str) -> String {
    secrets::mask_known(text).into_owned()
}

/// The `host[:port]` a redirect's `Location` names, without any user name or password
/// (which could hold the key): the path and query, which could too, are never shown.
fn host_of(location: &str) -> Option<&str> {
    let (_, rest) = location.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    (!host.is_empty()).then_some(host)
}

/// What to fix for a status that says it.
fn hint(status: u16) -> &'static str {
    match status {
        401 => "; the API key was refused: check HARNESS_PLATFORM_API_KEY (or the file --api-key-file names) and that the key is not expired",
        403 => "; the API key may not do this: give it the delegate permissions in the account (or scope) named",
        404 => "; check the name, the account (HARNESS_ACCOUNT_ID) and the scope ([harness] org and project)",
        _ => "",
    }
}
