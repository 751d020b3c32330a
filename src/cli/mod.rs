//! The command line: clap definitions, turned into built options before the engine sees
//! them, and the one place that decides the exit status (0 clean, 1 violation, 2 error).
//! Each command lives in its own submodule; the global flags (`--color`, `--quiet`) live on
//! [`Cli`] and configure the report stage once.

mod check;
mod help;
mod policy_file;
mod rotate;
mod shell;

use crate::engine;
use crate::policy::{self, Policy};
use crate::report::{self, progress, scan as scan_report, Style};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "rekey",
    version,
    about = "Find, rotate and police Harness delegate tokens across an infra repo, byte for byte.",
    after_help = help::TOP
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
    /// When to colour the output: auto colours a terminal unless NO_COLOR is set (or
    /// CLICOLOR_FORCE forces it).
    #[arg(long, value_enum, default_value_t = ColorArg::Auto, global = true, value_name = "WHEN")]
    color: ColorArg,
    /// Print nothing but errors: the exit status tells the outcome.
    #[arg(short, long, global = true)]
    quiet: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
enum Command {
    /// List every place a delegate token lives (values redacted to fingerprints).
    #[command(after_help = help::SCAN)]
    Scan(ScanArgs),
    /// Rotate the token to a new one: a redacted dry-run diff unless --write or --commit.
    #[command(after_help = help::ROTATE)]
    Rotate(rotate::RotateArgs),
    /// Fail on revoked or stale tokens, legacy keys and malformed values (for CI and hooks).
    #[command(after_help = help::CHECK)]
    Check(check::CheckArgs),
    /// Write a commented .rekey.toml whose `current` lists the tokens the repo holds now.
    #[command(after_help = help::INIT)]
    Init(policy_file::InitArgs),
    /// Mark tokens as revoked in .rekey.toml (and remove them from `current`).
    #[command(after_help = help::REVOKE)]
    Revoke(policy_file::RevokeArgs),
    /// Print a shell completion script for bash, zsh, fish, powershell or elvish.
    #[command(after_help = help::COMPLETIONS)]
    Completions(shell::CompletionsArgs),
    /// Print the manual page (roff), or write one page per command into a directory.
    #[command(after_help = help::MAN)]
    Man(shell::ManArgs),
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
    report::configure(report::Output {
        color: match cli.color {
            ColorArg::Auto => report::ColorChoice::Auto,
            ColorArg::Always => report::ColorChoice::Always,
            ColorArg::Never => report::ColorChoice::Never,
        },
        quiet: cli.quiet,
    });
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(error) => {
            return ExitCode::from(fail(&format!("cannot read the current directory: {error}")))
        }
    };
    let code = match cli.command {
        Command::Scan(args) => {
            progress::start("scanning");
            scan(args, &cwd)
        }
        Command::Rotate(args) => {
            // A token typed at the terminal must not race the spinner's line.
            if !args.reads_stdin() {
                progress::start("rotating");
            }
            rotate::run(args, &cwd)
        }
        Command::Check(args) => {
            progress::start("checking");
            check::run(args, &cwd)
        }
        Command::Init(args) => policy_file::init(args, &cwd),
        Command::Revoke(args) => policy_file::revoke(args, &cwd),
        Command::Completions(args) => shell::completions(args),
        Command::Man(args) => shell::man(args),
    };
    progress::finish();
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

    fn is_policy_file(&self, absolute: &Path) -> bool {
        absolute.file_name() == self.path.file_name()
            && (absolute == self.path
                || matches!(
                    (absolute.canonicalize(), self.path.canonicalize()),
                    (Ok(a), Ok(b)) if a == b
                ))
    }

    /// Whether the policy's excludes name `absolute`. The policy file itself is never
    /// judged or counted: it holds fingerprints, not tokens, and a hook that is handed it
    /// must not report it as a checked file.
    fn excludes(&self, absolute: &Path) -> bool {
        let Some(policy) = &self.policy else {
            return false;
        };
        if self.is_policy_file(absolute) {
            return true;
        }
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
