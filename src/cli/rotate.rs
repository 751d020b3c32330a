//! `rekey rotate`: turns arguments into a rotation `Request` (the new token from the
//! environment, a file or stdin; the mode, chosen once), hands it to the library's
//! `rotation` stage and prints its outcome. Nothing here scans, plans or writes.

use super::exit::{fail, EXIT_ERROR, EXIT_OK, EXIT_WOULD_CHANGE};
use super::inputs::roots;
use super::inputs::RepoArgs;
use crate::error::Error;
use crate::find::ignore_rules::Ignore;
use crate::judge::policy::PolicyFile;
use crate::model::token::{Fingerprint, NewToken};
use crate::report::rotate::{self as rotate_report, Secrets};
use crate::report::rotate_json;
use crate::report::rotate_repos::{self as repos_report, View};
use crate::report::{self, redact, Reveal, Style};
use crate::rotate::apply;
use crate::rotate::many::{self, Outcome};
use crate::rotate::plan::RotateOptions;
use crate::rotate::rotation::{self, Mode, Request, TokenSource};
use crate::rotate::sign::Signing;
use clap::{Args, ValueEnum};
use std::io::Read;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

#[derive(Args)]
#[command(group(clap::ArgGroup::new("new-token").required(true)))]
pub struct RotateArgs {
    /// Files or directories to rotate in (default: the current directory).
    paths: Vec<PathBuf>,
    // Each repository on a new branch of its own with --commit; without it, a dry run.
    #[command(flatten)]
    repositories: RepoArgs,
    /// With --repo/--repos: the policy for every repository (default: each repository's
    /// committed .rekey.toml; REKEY_CONFIG names one too).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Read the new token from this environment variable.
    #[arg(long, value_name = "NAME", group = "new-token")]
    new_token_env: Option<String>,
    /// Read the new token from this file.
    #[arg(long, value_name = "FILE", group = "new-token")]
    new_token_file: Option<PathBuf>,
    /// Read the new token from standard input.
    #[arg(long, group = "new-token")]
    new_token_stdin: bool,
    /// Rotate to Harness delegate token NAME: with --write or --commit it is created in
    /// Harness first (an active NAME is reused); a dry run changes nothing in Harness.
    #[arg(long, value_name = "NAME", group = "new-token")]
    new_token_harness: Option<String>,
    #[command(flatten)]
    connection: super::harness::ConnectArgs,
    /// Rotate only the token with this fingerprint (repeatable).
    #[arg(long, value_name = "FINGERPRINT", conflicts_with = "all")]
    only: Vec<String>,
    /// Rotate every token found, whatever its fingerprint.
    #[arg(long)]
    all: bool,
    /// Keep legacy key names (accountSecret, ACCOUNT_SECRET) instead of migrating them.
    #[arg(long)]
    keep_legacy_keys: bool,
    /// Also write the new token where a placeholder or an empty value stands.
    #[arg(long)]
    fill_placeholders: bool,
    /// Write the rotated files (verified, atomically). Without it, a dry run.
    #[arg(long, conflicts_with = "commit")]
    write: bool,
    /// Commit the rotation on a new branch, from the base commit's tree; the working tree,
    /// the index and HEAD are left alone.
    #[arg(long)]
    commit: bool,
    /// The branch to create (default: rekey/rotate-<new fingerprint's first 8 hex>).
    #[arg(long, value_name = "NAME", requires = "commit")]
    branch: Option<String>,
    /// The commit to rotate from (default: HEAD).
    #[arg(long, value_name = "REF", requires = "commit")]
    base: Option<String>,
    /// The commit message's subject line (the details and trailer are always added).
    #[arg(long, value_name = "TEXT", requires = "commit")]
    message: Option<String>,
    /// Sign the commit as git would (gpg.format, user.signingkey), even where
    /// commit.gpgsign is off.
    #[arg(long, requires = "commit", conflicts_with = "no_sign")]
    sign: bool,
    /// Do not sign the commit, even where commit.gpgsign is true.
    #[arg(long, requires = "commit")]
    no_sign: bool,
    /// With --write: also replace read-only and hard-linked files (a hard link's other
    /// names keep the old content).
    #[arg(long, requires = "write")]
    force: bool,
    /// Also rotate in the files .gitignore and .git/info/exclude leave out (files git tracks
    /// are always rotated); --commit and --repo read commits, which hold no ignored file.
    #[arg(long, conflicts_with = "commit")]
    no_ignore: bool,
    /// Show token values in the diff instead of their fingerprints.
    #[arg(long)]
    show_secrets: bool,
    /// Print one line of counts per file instead of the diff (text format).
    #[arg(long)]
    stat: bool,
    /// Dry run: exit 1 when the rotation would change a file (the policy file included),
    /// 0 when it would not, as `git diff --exit-code` does; for CI jobs that watch for drift.
    #[arg(long, conflicts_with_all = ["write", "commit"])]
    exit_code: bool,
    /// How to print the rotation: text (the diff and a summary) for people, json for
    /// machines (`rekey.rotate/v1`; with --repo/--repos, `rekey.rotate-repos/v1`).
    #[arg(long, value_enum, default_value_t = RotateFormat::Text)]
    format: RotateFormat,
}

impl RotateArgs {
    /// Whether the new token comes from standard input (perhaps typed at a terminal).
    pub fn reads_stdin(&self) -> bool {
        self.new_token_stdin
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RotateFormat {
    Text,
    Json,
}

pub fn run(args: RotateArgs, cwd: &Path) -> u8 {
    if args.stat && args.format == RotateFormat::Json {
        return fail("--stat shapes the text report; the JSON report already lists each file's changes (drop --stat or --format json)");
    }
    let result = if args.repositories.any() {
        rotate_repositories(args, cwd)
    } else {
        rotate(args, cwd)
    };
    result.unwrap_or_else(|message| fail(&message))
}

fn rotate(args: RotateArgs, cwd: &Path) -> Result<u8, Error> {
    if args.config.is_some() {
        return Err(Error::new("--config names the policy of a --repo/--repos run; a rotation here uses the .rekey.toml found upwards (or REKEY_CONFIG), and --commit the one in the base commit".to_owned()));
    }
    let mode = mode(&args);
    if args.paths.iter().any(|p| p.as_os_str() == "-") {
        return Err(Error::new("-: rotate never rewrites a stream; rotate the files it was deployed from, then redeploy (`rekey inventory -` says which delegates hold the token)".to_owned()));
    }
    // Arguments first: a token created in Harness must not precede a refusal.
    let options = rotate_options(&args)?;
    let roots = roots(args.paths.clone(), cwd)?;
    let request = Request {
        new: read_new_token(&args, cwd)?,
        source: token_source(&args),
        options,
        roots,
        ignore: if args.no_ignore {
            Ignore::Include
        } else {
            Ignore::Respect
        },
        cwd: cwd.to_owned(),
        mode,
    };
    let prepared = rotation::prepare(&request).map_err(|e| e.to_string())?;
    let rotation = rotation::rotate(&request, &prepared).map_err(|e| e.to_string())?;
    let secrets = secrets(&args);
    // Written file by file as it is rendered: the diffs of huge files are never all held.
    // Each file is read again for its diff; one changed meanwhile stops the report there.
    let whole = report::stream_to_stdout(reveal(secrets), |out| match args.format {
        RotateFormat::Json => report::write_json(out, &rotate_json::streamed(&rotation, secrets)),
        RotateFormat::Text => {
            rotate_report::write_text(&rotation, secrets, args.stat, Style::for_stdout(), out)
        }
    });
    for skipped in &prepared.scan.skipped {
        report::warning(&format!(
            "{}: not rotated: {}; it may still hold the old token",
            skipped.display, skipped.reason
        ));
    }
    if args.format == RotateFormat::Text {
        for note in rotate_report::notes(&rotation) {
            report::note(&note);
        }
    }
    // An ignored file is never rotated: one holding the old token is the user's to know of.
    if let Some(line) = crate::report::scan::ignored_line(prepared.scan.ignored) {
        report::note(&format!("not rotated: {line}"));
    }
    if !whole {
        return Ok(EXIT_ERROR);
    }
    Ok(exit_status(&args, rotation.changes_files()))
}

/// `--exit-code` turns "the dry run would change a file" into exit 1.
fn exit_status(args: &RotateArgs, would_change: bool) -> u8 {
    if args.exit_code && would_change {
        EXIT_WOULD_CHANGE
    } else {
        EXIT_OK
    }
}

/// `--repo`/`--repos`: each repository's base commit rotated on a branch of its own (a dry
/// run without --commit), in parallel. Exit 2 when any repository failed.
fn rotate_repositories(args: RotateArgs, cwd: &Path) -> Result<u8, Error> {
    if !args.paths.is_empty() {
        return Err(Error::new("--repo/--repos rotate each repository whole; drop the paths (or rotate one repository's paths with --commit from inside it)".to_owned()));
    }
    if args.write {
        return Err(Error::new("--repo/--repos read each repository's commits, not a working tree: use --commit (a new branch in each repository) instead of --write".to_owned()));
    }
    if args.no_ignore {
        return Err(Error::new("--repo/--repos read each repository's commits, which hold no ignored file: drop --no-ignore".to_owned()));
    }
    let mode = mode(&args);
    let repositories = args.repositories.named(cwd)?;
    if repositories.is_empty() {
        return Err(Error::new(
            "--repos names no repository: list one path per line".to_owned(),
        ));
    }
    let named = PolicyFile::named(cwd, args.config.as_deref())?;
    let options = rotate_options(&args)?;
    let request = Request {
        new: read_new_token(&args, cwd)?,
        source: token_source(&args),
        options,
        roots: Vec::new(),
        ignore: Ignore::Respect,
        cwd: cwd.to_owned(),
        mode,
    };
    let secrets = secrets(&args);
    let view = match (args.format, args.stat) {
        (RotateFormat::Json, _) => View::Json,
        (RotateFormat::Text, true) => View::Stat,
        (RotateFormat::Text, false) => View::Diff,
    };
    let style = Style::for_stdout();
    let rotations = many::rotate_all(
        &request,
        &repositories,
        named.as_ref(),
        &|repository, prepared, rotation| {
            repos_report::part(&repository.label, prepared, rotation, secrets, view, style)
        },
    );
    let out = match view {
        View::Json => repos_report::json(&rotations, args.commit),
        View::Diff | View::Stat => repos_report::text(&rotations, args.commit, cwd, style),
    };
    print(&out, secrets);
    let mut failed = false;
    let would_change = rotations
        .iter()
        .any(|r| matches!(r.outcome, Outcome::WouldCommit { .. }));
    for rotation in &rotations {
        if let Some(part) = &rotation.rendered {
            part.warnings.iter().for_each(|w| report::warning(w));
            part.notes.iter().for_each(|n| report::note(n));
        }
        if let Outcome::Failed(reason) = &rotation.outcome {
            report::error(&format!("{}: {reason}", rotation.repository.label));
            failed = true;
        }
    }
    Ok(if failed {
        EXIT_ERROR
    } else {
        exit_status(&args, would_change)
    })
}

/// The mode, chosen once.
fn mode(args: &RotateArgs) -> Mode {
    if args.commit {
        Mode::Commit {
            branch: args.branch.clone(),
            base: args.base.clone().unwrap_or_else(|| "HEAD".to_owned()),
            message: args.message.clone(),
            words: rotate_report::commit_message,
            signing: match (args.sign, args.no_sign) {
                (true, _) => Signing::Always,
                (_, true) => Signing::Never,
                _ => Signing::AsConfigured,
            },
        }
    } else if args.write {
        Mode::Write(apply::Options { force: args.force })
    } else {
        Mode::DryRun
    }
}

fn secrets(args: &RotateArgs) -> Secrets {
    if args.show_secrets {
        Secrets::Shown
    } else {
        Secrets::Redacted
    }
}

fn print(out: &str, secrets: Secrets) {
    report::stream_to_stdout(reveal(secrets), |stdout| stdout.write_all(out.as_bytes()));
}

fn reveal(secrets: Secrets) -> Reveal {
    match secrets {
        Secrets::Shown => Reveal::Yes,
        Secrets::Redacted => Reveal::No,
    }
}

fn rotate_options(args: &RotateArgs) -> Result<RotateOptions, Error> {
    let only = args
        .only
        .iter()
        .map(|text| {
            Fingerprint::parse(text).ok_or_else(|| {
                "--only takes a fingerprint as `rekey scan` prints it: sha256: and 16 hex digits"
                    .to_owned()
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(RotateOptions {
        only,
        all: args.all,
        keep_legacy_keys: args.keep_legacy_keys,
        fill_placeholders: args.fill_placeholders,
    })
}

/// How the new token was given, to give it the same way in a command rekey suggests.
fn token_source(args: &RotateArgs) -> TokenSource {
    if let Some(name) = &args.new_token_env {
        TokenSource::Env(name.clone())
    } else if let Some(name) = &args.new_token_harness {
        TokenSource::Harness(name.clone())
    } else if let Some(path) = &args.new_token_file {
        TokenSource::File(path.display().to_string())
    } else {
        TokenSource::Stdin
    }
}

fn read_new_token(args: &RotateArgs, cwd: &Path) -> Result<NewToken, Error> {
    let (raw, origin) = if let Some(name) = &args.new_token_env {
        let value = std::env::var(name).map_err(|_| {
            format!(
                "--new-token-env {name}: the environment variable {name} is not set (or not UTF-8)"
            )
        })?;
        (
            Zeroizing::new(value),
            format!("environment variable {name}"),
        )
    } else if let Some(name) = &args.new_token_harness {
        let create = args.write || args.commit;
        let value = super::harness::new_token(name, cwd, &args.connection, create)?;
        (value, format!("Harness token {name}"))
    } else if let Some(path) = &args.new_token_file {
        let value = std::fs::read_to_string(path)
            .map_err(|e| format!("--new-token-file {}: cannot read: {e}", path.display()))?;
        (Zeroizing::new(value), path.display().to_string())
    } else {
        let mut value = Zeroizing::new(String::new());
        std::io::stdin()
            .read_to_string(&mut value)
            .map_err(|e| format!("--new-token-stdin: cannot read standard input: {e}"))?;
        (value, "standard input".to_owned())
    };
    let new = NewToken::parse(&raw).map_err(|error| format!("new token from {origin}: {error}"))?;
    // The new token enters the run here: from now on every output masks it.
    redact::remember(&raw);
    Ok(new)
}
