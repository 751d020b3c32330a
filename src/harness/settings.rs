//! Where the Harness API is and who rekey is there: the endpoint, account and scope (from
//! the environment names the Harness Terraform provider reads, else the `[harness]` table
//! of `.rekey.toml`), and the API key, which comes only from `HARNESS_PLATFORM_API_KEY` or a
//! key file that only its owner can read. A key written in the policy file is an error:
//! that file is committed.

use crate::error::Error;
use crate::model::fs::{open_without_following, ReadError};
use crate::model::secrets;
use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;
use zeroize::Zeroizing;

/// The endpoint when neither the environment nor the policy names one.
pub const DEFAULT_ENDPOINT: &str = "https://app.harness.io/gateway";

/// The settings the `[harness]` table of a policy file may hold (none of them secret).
#[derive(Clone, Debug, Default)]
pub struct FileSettings {
    pub endpoint: Option<String>,
    pub account: Option<String>,
    pub org: Option<String>,
    pub project: Option<String>,
    /// `path:line:column` of the endpoint, for errors about it.
    pub endpoint_at: Option<String>,
}

/// Everything a client needs. The key never leaves this struct but into a request header.
pub struct Settings {
    pub endpoint: String,
    pub account: String,
    pub org: Option<String>,
    pub project: Option<String>,
    pub(super) key: Zeroizing<String>,
    /// How long to wait for a response (and for a connection, at most 10 s).
    pub timeout: Duration,
}

/// The read timeout when `--timeout` is not given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The names under `[harness]` that would hold a key: refused with their own message.
const KEY_NAMES: &[&str] = &[
    "key",
    "api_key",
    "api-key",
    "apikey",
    "platform_api_key",
    "token",
    "secret",
];

/// Reads the `[harness]` table of a policy file's text (`display` names the file). A key
/// in it is an error that names its line, never its value.
pub fn from_policy(text: &str, display: &str) -> Result<FileSettings, Error> {
    let document = toml_edit::Document::parse(text.to_owned())
        .map_err(|e| Error::at(display, format!("not valid TOML: {}", e.message().trim())))?;
    let Some(table) = document.get("harness") else {
        return Ok(FileSettings::default());
    };
    let table = table
        .as_table_like()
        .ok_or_else(|| Error::at(display, "[harness] must be a table"))?;
    let mut settings = FileSettings::default();
    for (name, item) in table.iter() {
        let at = located(text, display, item.as_value());
        if KEY_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(Error::new(format!(
                "{at}: [harness] {name}: an API key never stands in .rekey.toml, which is committed: remove it, give the key in HARNESS_PLATFORM_API_KEY or --api-key-file, and treat it as exposed (it is in this file's history)"
            )));
        }
        if name == "endpoint" {
            settings.endpoint_at = Some(at.clone());
        }
        let slot = match name {
            "endpoint" => &mut settings.endpoint,
            "account" => &mut settings.account,
            "org" => &mut settings.org,
            "project" => &mut settings.project,
            _ => {
                return Err(Error::new(format!(
                    "{at}: unknown setting [harness] {name}; the settings are endpoint, account, org and project"
                )))
            }
        };
        let value = item
            .as_str()
            .ok_or_else(|| Error::new(format!("{at}: [harness] {name} must be a string")))?;
        *slot = Some(value.to_owned());
    }
    Ok(settings)
}

/// `path:line:column` of a value, or the file alone.
fn located(text: &str, display: &str, value: Option<&toml_edit::Value>) -> String {
    let Some(start) = value.and_then(toml_edit::Value::span).map(|s| s.start) else {
        return display.to_owned();
    };
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |at| at + 1) + 1;
    format!("{display}:{line}:{column}")
}

/// An environment variable, an empty one counting as unset.
fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// The settings in force: the environment over the policy file, the key from the
/// environment or `key_file`. Every missing piece is named with where to give it.
pub fn resolve(
    file: FileSettings,
    key_file: Option<&Path>,
    timeout: Option<Duration>,
) -> Result<Settings, Error> {
    let where_ = file.endpoint_at.clone().unwrap_or_default();
    let (endpoint, origin) = match (env("HARNESS_ENDPOINT"), file.endpoint) {
        (Some(endpoint), _) => (endpoint, "HARNESS_ENDPOINT".to_owned()),
        (None, Some(endpoint)) => (endpoint, format!("{where_}: [harness] endpoint")),
        (None, None) => (
            DEFAULT_ENDPOINT.to_owned(),
            "the default endpoint".to_owned(),
        ),
    };
    let endpoint = check_endpoint(&endpoint, &origin)?;
    let account = env("HARNESS_ACCOUNT_ID").or(file.account).ok_or_else(|| {
        Error::new(
            "no Harness account: set HARNESS_ACCOUNT_ID, or account under [harness] in .rekey.toml",
        )
    })?;
    let key = read_key(key_file)?;
    // From here on no output may show the key, in any form: not an error body that echoes
    // it, nor a token or group name a careless server fills with it.
    secrets::remember_key(&key, &[account.as_str()]);
    Ok(Settings {
        endpoint,
        account,
        org: file.org,
        project: file.project,
        key,
        timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
    })
}

/// The endpoint without its trailing `/`: `https://`, or `http://` on a loopback address
/// only (how tests run), refused before any connection otherwise. A user name or password
/// in it is refused without echoing the endpoint.
fn check_endpoint(endpoint: &str, origin: &str) -> Result<String, Error> {
    let endpoint = endpoint.trim().trim_end_matches('/');
    let (scheme, rest) = endpoint.split_once("://").ok_or_else(|| {
        Error::new(format!(
            "{origin}: the Harness endpoint must start with https:// (like {DEFAULT_ENDPOINT})"
        ))
    })?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(Error::new(format!("{origin}: the Harness endpoint holds a user name or password; give only the address (the API key goes in HARNESS_PLATFORM_API_KEY or --api-key-file)")));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" if !authority.is_empty() => Ok(endpoint.to_owned()),
        "http" if is_loopback(authority) => Ok(endpoint.to_owned()),
        "http" => Err(Error::new(format!(
            "{origin}: {endpoint}: http:// is refused except on a loopback address (127.0.0.0/8, ::1), since the API key would cross the network in clear; use https://"
        ))),
        _ => Err(Error::new(format!(
            "{origin}: {endpoint}: the Harness endpoint must start with https://"
        ))),
    }
}

/// Whether `host[:port]` names a loopback address by number (a name could resolve
/// anywhere).
fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => v6 == Ipv6Addr::LOCALHOST,
        Err(_) => false,
    }
}

/// A key file is small: a larger one is refused, never cut to this size and sent.
const MAX_KEY_FILE: u64 = 4096;

/// The API key: from `key_file` (a regular file, not a symlink, that neither group nor
/// others may read: it is a credential), else from `HARNESS_PLATFORM_API_KEY`.
fn read_key(key_file: Option<&Path>) -> Result<Zeroizing<String>, Error> {
    let Some(path) = key_file else {
        return env("HARNESS_PLATFORM_API_KEY")
            .map(|key| Zeroizing::new(key.trim().to_owned()))
            .ok_or_else(|| Error::new("no Harness API key: set HARNESS_PLATFORM_API_KEY, or name a file that holds it with --api-key-file"));
    };
    let display = path.display().to_string();
    let refuse = |error: ReadError| Error::at(&display, format!("--api-key-file {error}"));
    let file = open_without_following(path).map_err(refuse)?;
    let metadata = file.metadata().map_err(|e| refuse(ReadError::Io(e)))?;
    if !metadata.is_file() {
        return Err(refuse(ReadError::NotRegular(crate::model::fs::kind_of(
            &metadata.file_type(),
        ))));
    }
    use std::os::unix::fs::MetadataExt;
    if metadata.mode() & 0o077 != 0 {
        return Err(Error::at(&display, format!(
            "--api-key-file: the key file is readable by others (mode {:o}): run chmod 600 on it, and treat the key as exposed if others could read it",
            metadata.mode() & 0o777
        )));
    }
    let mut bytes = Zeroizing::new(Vec::new());
    use std::io::Read;
    // One byte past the limit tells a file over it, without reading any further.
    file.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| refuse(ReadError::Io(e)))?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(Error::at(
            &display,
            "--api-key-file: the file is over 4 KiB; an API key is one line: write only the key in it",
        ));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Error::at(
            &display,
            "--api-key-file: the file is not UTF-8 text; write only the key in it",
        )
    })?;
    let key = Zeroizing::new(text.trim().to_owned());
    if key.is_empty() {
        return Err(Error::at(
            &display,
            "--api-key-file: the file is empty; write the API key in it",
        ));
    }
    Ok(key)
}
