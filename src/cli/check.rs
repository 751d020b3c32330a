//! `rekey check`: scans the working tree, or with `--staged` the git index, judges every
//! site against the policy and reports findings. Exit 1 when an error-level finding remains.

use super::exit::{fail, EXIT_ERROR, EXIT_OK, EXIT_VIOLATION};
use super::inputs::roots;
use super::inputs::{self, Gathering, SourceArgs};
use crate::error::Error;
use crate::find::git::GitRepo;
use crate::find::scan::Scan;
use crate::find::walk::Sweep;
use crate::judge::check::{check, Finding};
use crate::judge::policy::{Level, PolicyFile};
use crate::model::token::Fingerprint;
use crate::report::{self, check as check_report, inventory as inventory_report, Style};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct CheckArgs {
    /// Files or directories to check, `-` for a stream on standard input (default: the
    /// current directory, unless --repo names repositories). Files named here are still
    /// subject to the policy's excludes.
    paths: Vec<PathBuf>,
    #[command(flatten)]
    sources: SourceArgs,
    /// Exit 0 only when nothing in the inputs still holds the token with this fingerprint;
    /// otherwise list the delegates that do and exit 1.
    #[arg(long, value_name = "FINGERPRINT", conflicts_with = "staged")]
    ready_to_revoke: Option<String>,
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
    if let Some(fingerprint) = &args.ready_to_revoke {
        return ready_to_revoke(&args, fingerprint, cwd);
    }
    if args.staged {
        if inputs::reads_stdin(&args.paths) {
            return fail("--staged checks the git index: it takes no `-`");
        }
        return match staged(&args, cwd) {
            Ok((scan, policy)) => {
                let findings = check(&scan, policy.rules());
                let label = policy.path.is_some().then(|| policy.display.clone());
                finish(&args, &findings, &scan, label, &[])
            }
            Err(message) => fail(&message),
        };
    }
    let gathering = match gather(&args, cwd, Sweep::On) {
        Ok(gathering) => gathering,
        Err(message) => return fail(&message),
    };
    // Each input is judged under its own policy; repository paths are shown under the
    // repository's label.
    let mut findings: Vec<Finding> = Vec::new();
    for input in &gathering.inputs {
        let mut found = check(&input.scan, gathering.policy_of(input));
        if let Some(label) = &input.repository {
            for finding in &mut found {
                finding.path = format!("{label}/{}", finding.path);
            }
        }
        findings.extend(found);
    }
    let own_policies = gathering.inputs.iter().any(|i| i.policy.is_some());
    let (scan, policy, failed) = gathering.merged();
    let label = if own_policies {
        Some("each repository's committed .rekey.toml".to_owned())
    } else {
        policy.path.is_some().then(|| policy.display.clone())
    };
    finish(&args, &findings, &scan, label, &failed)
}

fn finish(
    args: &CheckArgs,
    findings: &[Finding],
    scan: &Scan,
    policy: Option<String>,
    failed: &[Error],
) -> u8 {
    let coverage = check_report::Coverage {
        files_checked: scan.files_seen,
        files_with_sites: scan.files.len(),
        sites: scan.sites().count(),
        policy,
    };
    match args.format {
        CheckFormat::Text => report::to_stdout(&check_report::text(
            findings,
            &coverage,
            Style::for_stdout(),
        )),
        CheckFormat::Json => report::json_to_stdout(&check_report::record(findings, &coverage)),
        CheckFormat::Sarif => report::to_stdout(&check_report::sarif(findings)),
        CheckFormat::Github => report::to_stdout(&check_report::github(findings, &coverage)),
        CheckFormat::Gitlab => report::to_stdout(&check_report::gitlab(findings)),
    }
    for message in failed {
        report::error(message);
    }
    if !failed.is_empty() {
        EXIT_ERROR
    } else if findings.iter().any(|f| f.level == Level::Error) {
        EXIT_VIOLATION
    } else {
        EXIT_OK
    }
}

fn gather(args: &CheckArgs, cwd: &Path, sweeping: Sweep) -> Result<Gathering, Error> {
    inputs::gather(
        &args.paths,
        &args.sources,
        args.config.as_deref(),
        cwd,
        sweeping,
    )
}

/// `--ready-to-revoke`: which delegates of the inputs still hold the token. Anything that
/// could not be read might hold it too, so it also keeps the answer at "not ready".
fn ready_to_revoke(args: &CheckArgs, fingerprint: &str, cwd: &Path) -> u8 {
    let Some(fingerprint) = Fingerprint::parse(fingerprint) else {
        return fail("--ready-to-revoke takes a fingerprint as `rekey scan` prints it: sha256: and 16 hex digits");
    };
    // Which delegates hold the token: the sites say, the sweep has nothing to add.
    let gathering = match gather(args, cwd, Sweep::Off) {
        Ok(gathering) => gathering,
        Err(message) => return fail(&message),
    };
    let inventory = gathering.inventory();
    let holders: Vec<_> = inventory.holding(&fingerprint).collect();
    let mut out = String::new();
    if !holders.is_empty() {
        out.push_str(&inventory_report::table(&holders, Style::for_stdout()));
        out.push('\n');
    }
    for unjudged in &inventory.unjudged {
        let prefix = unjudged
            .repository
            .as_ref()
            .map_or_else(String::new, |r| format!("{r}/"));
        out.push_str(&format!(
            "not judged (it may hold the token): {prefix}{}: {}\n",
            unjudged.path, unjudged.reason
        ));
    }
    for message in &gathering.failed {
        out.push_str(&format!("not read (it may hold the token): {message}\n"));
    }
    let ready = holders.is_empty() && inventory.unjudged.is_empty() && gathering.failed.is_empty();
    out.push_str(&if ready {
        format!("rekey check: ready to revoke {fingerprint}: no delegate in the inputs holds it\n")
    } else if holders.is_empty() {
        format!("rekey check: not ready to revoke {fingerprint}: some inputs could not be read\n")
    } else {
        format!(
            "rekey check: not ready to revoke {fingerprint}: {} still {} it; rotate them first (`rekey rotate --only {fingerprint}`)\n",
            report::scan::plural(holders.len(), "delegate"),
            if holders.len() == 1 { "holds" } else { "hold" }
        )
    });
    report::to_stdout(&out);
    if ready {
        EXIT_OK
    } else if holders.is_empty() && !gathering.failed.is_empty() {
        // Nothing was seen to hold it, but what was not read could: an error, not a no.
        EXIT_ERROR
    } else {
        EXIT_VIOLATION
    }
}

fn staged(args: &CheckArgs, cwd: &Path) -> Result<(Scan, PolicyFile), Error> {
    let roots = roots(args.paths.clone(), cwd)?;
    let repo = GitRepo::open(cwd, &roots)?;
    // With no path given, the whole index: the next commit, wherever the hook runs from.
    let repo = if args.paths.is_empty() {
        repo.select_all()
    } else {
        repo
    };
    let top = repo.root();
    let policy = PolicyFile::discover_for(cwd, args.config.as_deref(), &roots)?;
    let scan = repo.scan_index(&|path| policy.excludes(&top.join(path)))?;
    Ok((scan, policy))
}
