//! `rekey check`: scans the working tree, or with `--staged` the git index, judges every
//! site against the policy and reports findings. Exit 1 when an error-level finding remains.

use super::{fail, roots, EXIT_OK, EXIT_VIOLATION};
use crate::check::check;
use crate::engine::{self, Scan};
use crate::git::GitRepo;
use crate::policy::{Level, PolicyFile};
use crate::report::{self, check as check_report, Style};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct CheckArgs {
    /// Files or directories to check (default: the current directory). Files named here are
    /// still subject to the policy's excludes.
    paths: Vec<PathBuf>,
    /// The policy file (default: .rekey.toml in the current directory, or at the
    /// repository root with --staged).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Check the staged content in the git index instead of the working tree.
    #[arg(long)]
    staged: bool,
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    format: CheckFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CheckFormat {
    Text,
    Json,
    Sarif,
    Github,
    Gitlab,
}

pub fn run(args: CheckArgs, cwd: &Path) -> u8 {
    let scan_and_policy = if args.staged {
        staged(&args, cwd)
    } else {
        working_tree(&args, cwd)
    };
    let (scan, policy) = match scan_and_policy {
        Ok(found) => found,
        Err(message) => return fail(&message),
    };
    let findings = check(&scan, policy.rules());
    let coverage = check_report::Coverage {
        files_checked: scan.files_seen,
        files_with_sites: scan.files.len(),
        sites: scan.sites().count(),
        policy: policy.path.is_some().then(|| policy.display.clone()),
    };
    let output = match args.format {
        CheckFormat::Text => check_report::text(&findings, &coverage, Style::for_stdout()),
        CheckFormat::Json => check_report::json(&findings, &coverage),
        CheckFormat::Sarif => check_report::sarif(&findings),
        CheckFormat::Github => check_report::github(&findings, &coverage),
        CheckFormat::Gitlab => check_report::gitlab(&findings),
    };
    report::to_stdout(&output);
    if findings.iter().any(|f| f.level == Level::Error) {
        EXIT_VIOLATION
    } else {
        EXIT_OK
    }
}

fn working_tree(args: &CheckArgs, cwd: &Path) -> Result<(Scan, PolicyFile), String> {
    let roots = roots(args.paths.clone(), cwd)?;
    let policy = PolicyFile::discover(cwd, args.config.as_deref())?;
    let scan = engine::scan_paths(&roots, cwd, &|path| policy.excludes(&cwd.join(path)));
    Ok((scan, policy))
}

fn staged(args: &CheckArgs, cwd: &Path) -> Result<(Scan, PolicyFile), String> {
    let roots = roots(args.paths.clone(), cwd)?;
    let repo = GitRepo::open(cwd, &roots)?;
    let top = repo.root();
    let policy = PolicyFile::discover(cwd, args.config.as_deref())?;
    let scan = repo.scan_index(&|path| policy.excludes(&top.join(path)))?;
    Ok((scan, policy))
}
