//! The command line: clap definitions, turned into built options before the engine sees
//! them, and the one place that decides the exit status (0 clean, 1 violation, 2 error).

use crate::engine::{self, Scan};
use crate::plan::{self, RotateOptions};
use crate::report::{self, rotate as rotate_report, scan as scan_report, Style};
use crate::token::{Fingerprint, NewToken};
use crate::{git, verify, writer};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(
    name = "rekey",
    version,
    about = "Find and rotate Harness delegate tokens across an infra repo, byte for byte."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every place a delegate token lives (values redacted to fingerprints).
    Scan(ScanArgs),
    /// Rotate the token to a new one: a redacted dry-run diff unless --write is given.
    Rotate(RotateArgs),
}

#[derive(Args)]
struct ScanArgs {
    /// Files or directories to scan (default: the current directory).
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("new-token").required(true)))]
struct RotateArgs {
    /// Files or directories to rotate in (default: the current directory).
    paths: Vec<PathBuf>,
    /// Read the new token from this environment variable.
    #[arg(long, value_name = "NAME", group = "new-token")]
    new_token_env: Option<String>,
    /// Read the new token from this file.
    #[arg(long, value_name = "FILE", group = "new-token")]
    new_token_file: Option<PathBuf>,
    /// Read the new token from standard input.
    #[arg(long, group = "new-token")]
    new_token_stdin: bool,
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
    /// Show token values in the diff instead of their fingerprints.
    #[arg(long)]
    show_secrets: bool,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

/// How a rotation ends: one mode, chosen once.
enum RotateMode {
    DryRun,
    Write,
    Commit {
        branch: Option<String>,
        base: String,
        message: Option<String>,
    },
}

const EXIT_OK: u8 = 0;
const EXIT_ERROR: u8 = 2;

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                EXIT_ERROR
            } else {
                EXIT_OK
            });
        }
    };
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(error) => {
            report::error(&format!("cannot read the current directory: {error}"));
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let code = match cli.command {
        Command::Scan(args) => scan(args, &cwd),
        Command::Rotate(args) => rotate(args, &cwd),
    };
    ExitCode::from(code)
}

fn roots(paths: Vec<PathBuf>, cwd: &Path) -> Result<Vec<PathBuf>, String> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths
    };
    for path in &paths {
        if !cwd.join(path).exists() {
            return Err(format!("{}: no such file or directory", path.display()));
        }
    }
    Ok(paths)
}

fn scan(args: ScanArgs, cwd: &Path) -> u8 {
    let roots = match roots(args.paths, cwd) {
        Ok(roots) => roots,
        Err(message) => return fail(&message),
    };
    let scan = engine::scan_paths(&roots, cwd);
    match args.format {
        OutputFormat::Json => report::to_stdout(&scan_report::json(&scan)),
        OutputFormat::Text => {
            report::to_stdout(&scan_report::text(&scan, Style::for_stdout()));
            report_errors(&scan);
        }
    }
    if scan.errors.is_empty() {
        EXIT_OK
    } else {
        EXIT_ERROR
    }
}

fn rotate(args: RotateArgs, cwd: &Path) -> u8 {
    let mode = if args.commit {
        RotateMode::Commit {
            branch: args.branch.clone(),
            base: args.base.clone().unwrap_or_else(|| "HEAD".to_owned()),
            message: args.message.clone(),
        }
    } else if args.write {
        RotateMode::Write
    } else {
        RotateMode::DryRun
    };
    let new = match read_new_token(&args) {
        Ok(new) => new,
        Err(message) => return fail(&message),
    };
    let options = match rotate_options(&args) {
        Ok(options) => options,
        Err(message) => return fail(&message),
    };
    let roots = match roots(args.paths, cwd) {
        Ok(roots) => roots,
        Err(message) => return fail(&message),
    };
    let git_base = match &mode {
        RotateMode::Commit { base, .. } => match git::open(&cwd.join(&roots[0]), base, cwd, &roots)
        {
            Ok(git_base) => Some(git_base),
            Err(message) => return fail(&message),
        },
        _ => None,
    };
    let scan = match &git_base {
        Some(git_base) => match git_base.scan() {
            Ok(scan) => scan,
            Err(message) => return fail(&message),
        },
        None => engine::scan_paths(&roots, cwd),
    };
    if !scan.errors.is_empty() {
        report_errors(&scan);
        return fail(&format!(
            "{} could not be read; nothing was rotated",
            scan_report::plural(scan.errors.len(), "file")
        ));
    }
    let plan = match plan::plan(&scan, &new, &options) {
        Ok(plan) => plan,
        Err(error) => return fail(&error.to_string()),
    };
    let rewrites = match verify::rewrite_all(&plan) {
        Ok(rewrites) => rewrites,
        Err(failures) => {
            for failure in &failures {
                report::error(failure);
            }
            return fail("nothing was written");
        }
    };
    let secrets = if args.show_secrets {
        rotate_report::Secrets::Shown
    } else {
        rotate_report::Secrets::Redacted
    };
    let mut committed = None;
    let outcome = match (&mode, &git_base) {
        (
            RotateMode::Commit {
                branch, message, ..
            },
            Some(git_base),
        ) if !plan.is_empty() => {
            let branch = branch
                .clone()
                .unwrap_or_else(|| format!("rekey/rotate-{}", new.fingerprint().short()));
            let message = rotate_report::commit_message(&plan, message.as_deref());
            let files: Vec<(&str, &[u8])> = rewrites
                .iter()
                .map(|r| (r.plan.file.display.as_str(), r.bytes.as_slice()))
                .collect();
            match git_base.commit(&branch, &message, &files) {
                Ok(id) => committed = Some((branch, id.to_string())),
                Err(message) => return fail(&message),
            }
            rotate_report::Outcome::Committed
        }
        (RotateMode::Write, _) => {
            for rewrite in &rewrites {
                let file = rewrite.plan.file;
                if let Err(message) =
                    writer::write_atomically(&file.path, &file.display, &rewrite.bytes)
                {
                    return fail(&message);
                }
            }
            rotate_report::Outcome::Written
        }
        _ => rotate_report::Outcome::DryRun,
    };
    match args.format {
        OutputFormat::Json => {
            let committed = committed.as_ref().map(|(b, id)| (b.as_str(), id.as_str()));
            report::to_stdout(&rotate_report::json(&plan, outcome, secrets, committed));
        }
        OutputFormat::Text => {
            let style = Style::for_stdout();
            let mut out = String::new();
            for file_plan in &plan.files {
                out.push_str(&rotate_report::colour_diff(
                    &rotate_report::file_diff(file_plan, secrets),
                    style,
                ));
            }
            out.push_str(&rotate_report::summary(&plan, outcome));
            if let Some((branch, id)) = &committed {
                out.push_str(&rotate_report::committed(branch, id));
            } else if matches!(mode, RotateMode::Commit { .. }) {
                out.push_str("No commit was made.\n");
            }
            report::to_stdout(&out);
            for note in &plan.notes {
                report::note(note);
            }
        }
    }
    EXIT_OK
}

fn rotate_options(args: &RotateArgs) -> Result<RotateOptions, String> {
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

fn read_new_token(args: &RotateArgs) -> Result<NewToken, String> {
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
    NewToken::parse(&raw).map_err(|error| format!("new token from {origin}: {error}"))
}

fn report_errors(scan: &Scan) {
    for error in &scan.errors {
        report::error(&error.to_string());
    }
}

fn fail(message: &str) -> u8 {
    report::error(message);
    EXIT_ERROR
}
