//! Where the command line meets Harness: `rekey harness tokens`, and the Harness steps of
//! the other commands, each a function the command calls at one point: the new token of
//! `rotate --new-token-harness`, the Harness side of `check --ready-to-revoke
//! --harness-token`, and the gated revocation of `revoke --harness-token`.

use super::exit::{fail, EXIT_OK, EXIT_VIOLATION};
use crate::error::Error;
use crate::harness::api::{self, Identity, Status, Token};
use crate::harness::client::Client;
use crate::harness::readiness::{alive, now_ms, RECENT_MS};
use crate::harness::settings;
use crate::judge::policy::{self, PolicyFile};
use crate::judge::readiness::Verdict;
use crate::model::token::Fingerprint;
use crate::report::inventory::HarnessNames;
use crate::report::{self, harness as harness_report};
use clap::{Args, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::time::Duration;
use zeroize::Zeroizing;

/// How to reach Harness: the key file and the timeout (the rest is settings).
#[derive(Args, Clone, Default)]
pub struct ConnectArgs {
    /// A file holding the Harness API key, readable by its owner only (default: the
    /// environment variable HARNESS_PLATFORM_API_KEY).
    #[arg(long, value_name = "FILE")]
    api_key_file: Option<PathBuf>,
    /// Seconds to wait for Harness to answer (default 30; to connect, at most 10).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=600))]
    timeout: Option<u64>,
}

#[derive(Args)]
pub struct HarnessArgs {
    #[command(subcommand)]
    command: HarnessCommand,
}

#[derive(Subcommand)]
enum HarnessCommand {
    /// List the delegate tokens in scope: status, fingerprint, dates, delegate groups.
    Tokens(TokensArgs),
}

#[derive(Args)]
struct TokensArgs {
    /// Only the tokens with this status.
    #[arg(long, value_enum)]
    status: Option<StatusArg>,
    /// How to print the tokens: text for people, json for machines
    /// (`rekey.harness-tokens/v1`).
    #[arg(long, value_enum, default_value_t = TokensFormat::Text)]
    format: TokensFormat,
    #[arg(long, value_name = "FILE", help = super::help::config_found("The policy file whose [harness] settings apply"))]
    config: Option<PathBuf>,
    #[command(flatten)]
    connection: ConnectArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StatusArg {
    Active,
    Revoked,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TokensFormat {
    Text,
    Json,
}

pub fn run(args: HarnessArgs, cwd: &Path) -> u8 {
    let HarnessCommand::Tokens(args) = args.command;
    tokens(&args, cwd).unwrap_or_else(|message| fail(&message))
}

/// `harness tokens` asks for the groups of each token, one call each: past this many, the
/// list would take minutes (and a server listing everything could make it take hours).
const MAX_GROUP_CALLS: usize = 1000;

fn tokens(args: &TokensArgs, cwd: &Path) -> Result<u8, Error> {
    let client = connect(cwd, args.config.as_deref(), &args.connection)?;
    let status = args.status.map(|status| match status {
        StatusArg::Active => Status::Active,
        StatusArg::Revoked => Status::Revoked,
    });
    let tokens = api::list(&client, None, status)?;
    if tokens.len() > MAX_GROUP_CALLS {
        return Err(Error::new(format!(
            "Harness lists {} tokens in scope, and rekey asks for the delegate groups of {MAX_GROUP_CALLS} at most: narrow the list with --status, or the scope ([harness] org and project)",
            tokens.len()
        )));
    }
    let mut listed = Vec::new();
    for token in tokens {
        let groups = api::groups(&client, &token.name)?;
        listed.push(harness_report::Listed { token, groups });
    }
    match args.format {
        TokensFormat::Json => report::json_to_stdout(&harness_report::record(&listed)),
        TokensFormat::Text => report::to_stdout(&harness_report::text(&listed)),
    }
    if let Some(note) = harness_report::note_unreadable(&listed) {
        report::note(&note);
    }
    Ok(EXIT_OK)
}

/// A client for the settings in force: the environment over the `[harness]` table of the
/// policy file that applies in `cwd` (or `config`), the key from the environment or
/// `--api-key-file`.
pub fn connect(cwd: &Path, config: Option<&Path>, args: &ConnectArgs) -> Result<Client, Error> {
    client_for(file_settings(cwd, config)?, cwd, args)
}

/// The `[harness]` table of the policy file that applies in `cwd` (or `config`).
fn file_settings(cwd: &Path, config: Option<&Path>) -> Result<settings::FileSettings, Error> {
    let file = PolicyFile::discover(cwd, config)?;
    match &file.path {
        Some(path) => {
            settings::from_policy(&policy::read_text(path, &file.display)?, &file.display)
        }
        None => Ok(settings::FileSettings::default()),
    }
}

/// For `inventory --format json`: the Harness name of each token whose value the key may
/// read. Harness is asked only when an account is configured (`HARNESS_ACCOUNT_ID` or
/// `[harness] account`); otherwise no name is known.
pub fn token_names(
    cwd: &Path,
    config: Option<&Path>,
    args: &ConnectArgs,
) -> Result<HarnessNames, Error> {
    let file = file_settings(cwd, config)?;
    let account_in_env = std::env::var("HARNESS_ACCOUNT_ID").is_ok_and(|v| !v.trim().is_empty());
    if file.account.is_none() && !account_in_env {
        return Ok(HarnessNames::new());
    }
    let client = client_for(file, cwd, args)?;
    Ok(api::list(&client, None, None)?
        .into_iter()
        .filter_map(|token| Some((token.fingerprint()?.clone(), token.name)))
        .collect())
}

fn client_for(
    from_file: settings::FileSettings,
    cwd: &Path,
    args: &ConnectArgs,
) -> Result<Client, Error> {
    let key_file = args.api_key_file.as_ref().map(|path| cwd.join(path));
    let timeout = args.timeout.map(Duration::from_secs);
    Ok(Client::new(settings::resolve(
        from_file,
        key_file.as_deref(),
        timeout,
    )?))
}

/// The token called `name`, or an error naming what to check.
fn named(client: &Client, name: &str) -> Result<Token, Error> {
    api::find(client, name)?.ok_or_else(|| {
        Error::new(format!(
            "Harness has no delegate token {name} in account {}{}: check the name (`rekey harness tokens` lists them) and the scope",
            client.settings().account,
            scope(client)
        ))
    })
}

fn scope(client: &Client) -> String {
    let settings = client.settings();
    match (&settings.org, &settings.project) {
        (Some(org), Some(project)) => format!(", org {org}, project {project}"),
        (Some(org), None) => format!(", org {org}"),
        _ => String::new(),
    }
}

/// An error unless Harness shows token `name` holding `fingerprint`: another token, a
/// value that is no token, or a value this key may not read (so nothing is proven).
fn same_token(token: &Token, fingerprint: &Fingerprint) -> Result<(), Error> {
    let name = &token.name;
    match &token.identity {
        Identity::Known(found) if found == fingerprint => Ok(()),
        Identity::Known(found) => Err(Error::new(format!(
            "Harness token {name} is {found}, not {fingerprint}: name the Harness token that holds {fingerprint} (`rekey harness tokens` lists each with its fingerprint)"
        ))),
        Identity::NotAToken => Err(Error::new(format!(
            "Harness token {name} holds a value that is not a delegate token (32 hex digits, or base64 of them), so it is not {fingerprint}: name the Harness token that holds {fingerprint} (`rekey harness tokens` lists each with its fingerprint)"
        ))),
        Identity::Hidden => Err(Error::new(format!(
            "this API key cannot read token values, so rekey cannot check that {name} is {fingerprint}: use a key that may edit delegate tokens"
        ))),
    }
}

/// The Harness side of a readiness question: the lines to show and the verdict. Any
/// failure to reach or read Harness is "cannot tell", never "ready".
pub fn ready_side(
    fingerprint: &Fingerprint,
    name: &str,
    cwd: &Path,
    config: Option<&Path>,
    args: &ConnectArgs,
) -> (Vec<String>, Verdict) {
    let asked = connect(cwd, config, args).and_then(|client| {
        let token = named(&client, name)?;
        same_token(&token, fingerprint)?;
        api::groups(&client, name)
    });
    let alive = match asked.and_then(|groups| alive(name, &groups, now_ms())) {
        Ok(alive) => alive,
        Err(error) => {
            return (
                vec![format!("Harness: cannot tell: {error}")],
                Verdict::CannotTell,
            )
        }
    };
    if !alive.is_empty() {
        return (harness_report::alive_lines(name, &alive), Verdict::Held);
    }
    let line = format!(
        "Harness token {name}: no delegate on it is connected or sent a heartbeat in the last {} minutes",
        RECENT_MS / 60_000
    );
    (vec![line], Verdict::Ready)
}

/// `revoke --harness-token NAME`: refuses (exit 1) while a delegate is alive on NAME,
/// else revokes NAME in Harness with one PUT. `Ok` only once Harness confirms it revoked,
/// so that the caller marks the fingerprint revoked in the policy only then.
pub fn revoke(
    fingerprint: &Fingerprint,
    name: &str,
    cwd: &Path,
    config: Option<&Path>,
    args: &ConnectArgs,
) -> Result<(), u8> {
    let client = connect(cwd, config, args).map_err(fail)?;
    let token = named(&client, name).map_err(fail)?;
    same_token(&token, fingerprint).map_err(fail)?;
    if token.status == Status::Revoked {
        report::note(&format!("Harness token {name} is already revoked"));
        return Ok(());
    }
    let groups = api::groups(&client, name).map_err(fail)?;
    let alive = alive(name, &groups, now_ms()).map_err(fail)?;
    if !alive.is_empty() {
        report::to_stdout(&(harness_report::alive_lines(name, &alive).join("\n") + "\n"));
        report::error(&format!(
            "not revoking Harness token {name}: {} on it may still be alive, and Harness would send each a self-destruct; roll the new token out to them first (`rekey check --ready-to-revoke {fingerprint} --harness-token {name}` tells when). Nothing was revoked",
            crate::report::scan::plural(alive.len(), "delegate")
        ));
        return Err(EXIT_VIOLATION);
    }
    let confirmed = match api::revoke(&client, name) {
        Ok(confirmed) => confirmed,
        // The PUT may have landed before the answer was lost: read what Harness holds.
        Err(error) => match api::find(&client, name) {
            Ok(Some(token)) if token.status == Status::Revoked => true,
            _ => return Err(fail(format!("{error}; Harness token {name} is not revoked, and the policy file was left as it was: try again"))),
        },
    };
    if !confirmed {
        return Err(fail(format!("Harness did not confirm that token {name} is revoked; the policy file was left as it was: check `rekey harness tokens --status revoked` and try again")));
    }
    report::to_stdout(&format!("Revoked Harness token {name} ({fingerprint}).\n"));
    Ok(())
}

/// `rotate --new-token-harness NAME`: the value of token NAME, created in Harness when
/// `create` (a --write or --commit run) and it does not exist yet. An active NAME is
/// reused (a rerun after a failure creates nothing); a revoked one is an error.
pub fn new_token(
    name: &str,
    cwd: &Path,
    args: &ConnectArgs,
    create: bool,
) -> Result<Zeroizing<String>, Error> {
    let client = connect(cwd, None, args)?;
    let token = match api::find(&client, name)? {
        Some(token) => token,
        None if !create => return Err(Error::new(format!(
            "Harness has no delegate token {name} yet, and a dry run creates nothing: rerun with --write or --commit to create it and rotate to it"
        ))),
        None => created(&client, name)?,
    };
    if token.status == Status::Revoked {
        return Err(Error::new(format!(
            "Harness token {name} is revoked: name a new token for --new-token-harness"
        )));
    }
    let (Some(value), Some(fingerprint)) = (token.value(), token.fingerprint()) else {
        return Err(Error::new(match token.identity {
            Identity::NotAToken => format!("Harness token {name} holds a value that is not a delegate token (32 hex digits, or base64 of them): name a new token for --new-token-harness"),
            _ => format!("Harness token {name}: this API key cannot read token values: use a key that may edit delegate tokens"),
        }));
    };
    report::note(&format!("new token: Harness token {name} ({fingerprint})"));
    Ok(Zeroizing::new(value.to_owned()))
}

/// Creates token `name` with one POST; when the POST fails, lists by name to learn
/// whether it was created anyway, instead of sending it again.
fn created(client: &Client, name: &str) -> Result<Token, Error> {
    match api::create(client, name) {
        Ok(token) => {
            report::note(&format!("created Harness token {name}"));
            Ok(token)
        }
        Err(error) => match api::find(client, name) {
            Ok(Some(token)) => Ok(token),
            _ => Err(Error::new(format!(
                "{error}; Harness token {name} was not created and nothing was written: try again"
            ))),
        },
    }
}
