//! The command line: clap definitions, turned into built options before the engine sees
//! them, and the one place that decides the exit status (0 clean, 1 violation, 2 error).
//! Each command lives in its own submodule; the global flags (`--color`, `--quiet`) live on
//! [`Cli`] and configure the report stage once.

mod check;
mod exit;
mod harness;
mod help;
mod history;
mod inputs;
mod inventory;
mod policy_file;
mod rotate;
mod shell;

use crate::error::Error;
use crate::find::scan;
use crate::find::walk::Sweep;
use crate::judge::policy::Policy;
use crate::report::redact;
use crate::report::{self, progress, scan as scan_report, Style};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use exit::{fail, EXIT_ERROR, EXIT_OK};
use std::ffi::OsString;
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
    /// List the delegates that hold each token (and its policy state), across working
    /// trees, live state on stdin and repositories.
    #[command(after_help = help::INVENTORY)]
    Inventory(inventory::InventoryArgs),
    /// Walk every commit of every ref: each token git history holds, its policy state, when
    /// it was added and removed, and which refs still reach it.
    #[command(after_help = help::HISTORY)]
    History(history::HistoryArgs),
    /// Write a commented .rekey.toml whose `current` lists the tokens the repo holds now.
    #[command(after_help = help::INIT)]
    Init(policy_file::InitArgs),
    /// Mark tokens as revoked in .rekey.toml (and remove them from `current`).
    #[command(after_help = help::REVOKE)]
    Revoke(policy_file::RevokeArgs),
    /// Ask the Harness NextGen API about delegate tokens (`rekey harness tokens`).
    #[command(after_help = help::HARNESS)]
    Harness(harness::HarnessArgs),
    /// Print a shell completion script for bash, zsh, fish, powershell or elvish, or write
    /// it into a directory.
    #[command(after_help = help::COMPLETIONS)]
    Completions(shell::CompletionsArgs),
    /// Print the manual page (roff), or write one page per command into a directory.
    #[command(after_help = help::MAN)]
    Man(shell::ManArgs),
}

#[derive(Args)]
struct ScanArgs {
    /// Files or directories to scan, `-` for a stream on standard input (default: the
    /// current directory, unless --repo names repositories).
    paths: Vec<PathBuf>,
    #[command(flatten)]
    sources: inputs::SourceArgs,
    #[arg(long, value_name = "FILE", help = help::config("The policy file whose excludes, key names and revoked tokens apply"))]
    config: Option<PathBuf>,
    /// How to print the sites: text for people, json for machines (`rekey.scan/v1`).
    #[arg(long, value_enum, default_value_t = ScanFormat::Text)]
    format: ScanFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ScanFormat {
    Text,
    Json,
}

pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    if let Err(message) = refuse_tokens_in_args(&args) {
        return ExitCode::from(fail(&message));
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => {
            // Rendered to text first, so that it passes the mask like every other output.
            let text = error.render().to_string();
            if error.use_stderr() {
                report::to_stderr(&text);
                return ExitCode::from(EXIT_ERROR);
            }
            report::to_stdout(&text);
            return ExitCode::from(EXIT_OK);
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
    if let Err(error) = crate::runtime::interrupt::install() {
        return ExitCode::from(fail(format!("cannot watch for interrupts: {error}")));
    }
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(error) => {
            return ExitCode::from(fail(format!("cannot read the current directory: {error}")))
        }
    };
    let code = match cli.command {
        Command::Scan(args) => {
            progress::start("scanning", cli.quiet);
            scan(args, &cwd)
        }
        Command::Rotate(args) => {
            // A token typed at the terminal must not race the spinner's line.
            if !args.reads_stdin() {
                progress::start("rotating", cli.quiet);
            }
            rotate::run(args, &cwd)
        }
        Command::Check(args) => {
            progress::start("checking", cli.quiet);
            check::run(args, &cwd)
        }
        Command::Inventory(args) => {
            progress::start("reading", cli.quiet);
            inventory::run(args, &cwd)
        }
        Command::History(args) => {
            progress::start_with("walking history", cli.quiet, history::walked);
            history::run(args, &cwd)
        }
        Command::Init(args) => policy_file::init(args, &cwd),
        Command::Revoke(args) => policy_file::revoke(args, &cwd),
        Command::Harness(args) => harness::run(args, &cwd),
        Command::Completions(args) => shell::completions(args, Cli::command()),
        Command::Man(args) => shell::man(args, Cli::command()),
    };
    progress::finish();
    // A signal that stopped a transaction ends the run like the signal would have.
    match crate::runtime::interrupt::interrupted() {
        Some(signal) => ExitCode::from(128 + signal as u8),
        None => ExitCode::from(code),
    }
}

/// A token on the command line is kept by shell history and shown in process lists, and
/// clap would echo it in its errors: any argument holding one is refused before clap sees
/// it, naming the argument by position and the token by fingerprint only.
fn refuse_tokens_in_args(args: &[OsString]) -> Result<(), Error> {
    for (position, arg) in args.iter().enumerate().skip(1) {
        let text = arg.to_string_lossy();
        let found = redact::token_shapes(&text);
        let Some((span, fingerprint)) = found.first() else {
            continue;
        };
        for (span, _) in &found {
            redact::remember(&text[span.clone()]);
        }
        let what = if span.len() == text.len() {
            format!("is a delegate token ({fingerprint}), not a fingerprint")
        } else {
            format!("holds a delegate token ({fingerprint})")
        };
        return Err(Error::new(format!(
            "argument {position} {what}: rekey never takes a token on its command line, where shell history and process lists keep it. \
             Name a token by its fingerprint (--only {fingerprint}, rekey revoke {fingerprint}); \
             give a new token with --new-token-env, --new-token-file or --new-token-stdin. \
             Treat this token as exposed."
        )));
    }
    Ok(())
}

fn scan(args: ScanArgs, cwd: &Path) -> u8 {
    // Copies of a revoked token outside every key are what a rotation left behind: when
    // the policy lists revoked tokens, the tree is swept to list them on every run.
    let sweeping = |policy: &Policy| {
        if policy.revoked.is_empty() {
            Sweep::Off
        } else {
            Sweep::On
        }
    };
    let (scan, left_behind, (policy_named, policy_shown), failed) = match inputs::gather(
        &args.paths,
        &args.sources,
        args.config.as_deref(),
        cwd,
        sweeping,
    ) {
        Ok(gathering) => {
            let left_behind = gathering.revoked_strays();
            let policy = (gathering.policy_named(), gathering.policy_shown());
            let (scan, _, failed) = gathering.merged();
            (scan, left_behind, policy, failed)
        }
        Err(message) => return fail(&message),
    };
    for message in &failed {
        report::error(message);
    }
    match args.format {
        ScanFormat::Json => report::json_to_stdout(&scan_report::record(
            &scan,
            &left_behind,
            policy_named.as_deref(),
        )),
        ScanFormat::Text => {
            report::stream_to_stdout(report::Reveal::No, |out| {
                scan_report::write_text(
                    &scan,
                    &left_behind,
                    &policy_shown,
                    Style::for_stdout(),
                    out,
                )
            });
            report_errors(&scan);
        }
    }
    // What those paths hold was not listed: a partial list is no answer.
    for input in &scan.over_budget {
        report::error(&format!("{input}: {}", scan::Budget::over_budget_reason()));
    }
    let status = if scan.errors.is_empty() && failed.is_empty() && scan.over_budget.is_empty() {
        EXIT_OK
    } else {
        EXIT_ERROR
    };
    // The process ends next: freeing every file and site one allocation at a time would
    // only delay the exit (a few milliseconds on a large tree). Nothing in a scan holds a
    // resource other than memory.
    std::mem::forget(scan);
    status
}

fn report_errors(scan: &scan::Scan) {
    for error in &scan.errors {
        report::error(&error.to_string());
    }
}
