//! The command line: clap definitions, turned into built options before the engine sees
//! them, and the one place that decides the exit status (0 clean, 1 violation, 2 error).
//! Each command lives in its own submodule.

mod check;
mod policy_file;
mod rotate;

use crate::engine;
use crate::policy::{self, Policy};
use crate::report::{self, scan as scan_report, Style};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "rekey",
    version,
    about = "Find, rotate and police Harness delegate tokens across an infra repo, byte for byte."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every place a delegate token lives (values redacted to fingerprints).
    Scan(ScanArgs),
    /// Rotate the token to a new one: a redacted dry-run diff unless --write or --commit.
    Rotate(rotate::RotateArgs),
    /// Fail on revoked or stale tokens, legacy keys and malformed values (for CI and hooks).
    Check(check::CheckArgs),
    /// Write a commented .rekey.toml whose `current` lists the tokens the repo holds now.
    Init(policy_file::InitArgs),
    /// Mark tokens as revoked in .rekey.toml (and remove them from `current`).
    Revoke(policy_file::RevokeArgs),
}

#[derive(Args)]
struct ScanArgs {
    /// Files or directories to scan (default: the current directory).
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = ScanFormat::Text)]
    format: ScanFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ScanFormat {
    Text,
    Json,
}

const EXIT_OK: u8 = 0;
const EXIT_VIOLATION: u8 = 1;
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
            return ExitCode::from(fail(&format!("cannot read the current directory: {error}")))
        }
    };
    let code = match cli.command {
        Command::Scan(args) => scan(args, &cwd),
        Command::Rotate(args) => rotate::run(args, &cwd),
        Command::Check(args) => check::run(args, &cwd),
        Command::Init(args) => policy_file::init(args, &cwd),
        Command::Revoke(args) => policy_file::revoke(args, &cwd),
    };
    ExitCode::from(code)
}

/// The paths to walk: those given, or the current directory. Each must exist.
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

/// The policy that applies: `--config FILE`, or `.rekey.toml` in `root`.
struct PolicyFile {
    path: PathBuf,
    display: String,
    /// Excludes are relative to this directory.
    root: PathBuf,
    policy: Option<Policy>,
}

impl PolicyFile {
    fn load(root: &Path, config: Option<&Path>, cwd: &Path) -> Result<PolicyFile, String> {
        let path = match config {
            Some(config) => cwd.join(config),
            None => root.join(policy::FILE_NAME),
        };
        if config.is_some() && !path.exists() {
            return Err(format!("--config {}: no such file", path.display()));
        }
        let display = crate::source::display_path(&path, cwd);
        let policy = Policy::load(&path, &display)?;
        let root = path
            .parent()
            .map_or_else(|| root.to_owned(), Path::to_owned);
        Ok(PolicyFile {
            path,
            display,
            root: root.canonicalize().unwrap_or(root),
            policy,
        })
    }

    /// Whether the policy's excludes name `absolute`.
    fn excludes(&self, absolute: &Path) -> bool {
        let Some(policy) = &self.policy else {
            return false;
        };
        // Called for every walked file: resolve symlinks only when the plain path does not
        // already lie below the policy's directory.
        let relative = match absolute.strip_prefix(&self.root) {
            Ok(relative) => relative.to_owned(),
            Err(_) => match absolute.canonicalize() {
                Ok(resolved) => match resolved.strip_prefix(&self.root) {
                    Ok(relative) => relative.to_owned(),
                    Err(_) => return false,
                },
                Err(_) => return false,
            },
        };
        policy.excludes(&crate::source::display_path(&relative, Path::new("")))
    }
}

fn scan(args: ScanArgs, cwd: &Path) -> u8 {
    let roots = match roots(args.paths, cwd) {
        Ok(roots) => roots,
        Err(message) => return fail(&message),
    };
    let policy = match PolicyFile::load(cwd, None, cwd) {
        Ok(policy) => policy,
        Err(message) => return fail(&message),
    };
    let scan = engine::scan_paths(&roots, cwd, &|path| policy.excludes(&cwd.join(path)));
    match args.format {
        ScanFormat::Json => report::to_stdout(&scan_report::json(&scan)),
        ScanFormat::Text => {
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

fn report_errors(scan: &engine::Scan) {
    for error in &scan.errors {
        report::error(&error.to_string());
    }
}

fn fail(message: &str) -> u8 {
    report::error(message);
    EXIT_ERROR
}
