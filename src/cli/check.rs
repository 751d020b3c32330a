//! `rekey check`: scans the working tree, or with `--staged` the git index, judges every
//! site against the policy and reports findings. Exit 1 when an error-level finding remains.

use super::exit::{fail, EXIT_ERROR, EXIT_OK, EXIT_VIOLATION};
use super::inputs::roots;
use super::inputs::{self, Gathering, SourceArgs};
use crate::error::Error;
use crate::find::git::GitRepo;
use crate::find::ignore_rules::Ignore;
use crate::find::scan::Scan;
use crate::find::walk::Sweep;
use crate::find::{layers, stdin};
use crate::judge::check::{check, Finding};
use crate::judge::policy::{Level, PolicyFile};
use crate::judge::readiness::{self, Verdict};
use crate::model::token::Fingerprint;
use crate::report::{self, check as check_report, readiness as readiness_report, Style};
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
    /// With --ready-to-revoke: also ask Harness which delegates use the token with this
    /// name; any that is connected, or sent a heartbeat in the last 10 minutes, holds it.
    #[arg(long, value_name = "NAME", requires = "ready_to_revoke")]
    harness_token: Option<String>,
    #[command(flatten)]
    connection: super::harness::ConnectArgs,
    #[arg(long, value_name = "FILE", help = super::help::config("The policy file that judges the inputs"))]
    config: Option<PathBuf>,
    /// Check the staged content in the git index instead of the working tree.
    #[arg(long)]
    staged: bool,
    /// Also walk the git history of the repository holding the current directory (or of
    /// each --repo, under its own committed policy): an error for each token a commit holds that [tokens] lists neither as current nor as
    /// revoked (`history-token`), a warning for a revoked token at the tip of a ref other
    /// than HEAD's branch (`revoked-at-ref`).
    #[arg(long, conflicts_with_all = ["staged", "ready_to_revoke"])]
    history: bool,
    /// How to print the findings: text for people, json for machines (`rekey.check/v1`),
    /// sarif for code scanning, github for workflow annotations, gitlab for Code Quality.
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
        if args.sources.ignore() == Ignore::Include {
            return fail(
                "--staged checks the git index, which holds no ignored file: drop --no-ignore",
            );
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
    let label = gathering.policy_named();
    let (scan, policy, failed) = gathering.merged();
    if args.history {
        let repositories = args.sources.repositories();
        let config = args.config.as_deref();
        match super::history::findings(repositories, config, policy.rules(), cwd) {
            Ok(found) => findings.extend(found),
            Err(message) => return fail(&message),
        }
    }
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
        // Counted as `scan` counts them: a secretKeyRef with the env entry it fills.
        sites: scan.sites().filter(|(_, s)| !s.fills_env_entry()).count(),
        policy,
        unread: failed.len(),
        ignored: scan.ignored,
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
        |_| sweeping,
    )
}

/// `--ready-to-revoke`: whether anything in the inputs still holds the token (exit 1),
/// might hold it unseen (exit 2), or nothing does and at least one delegate was read (0).
fn ready_to_revoke(args: &CheckArgs, fingerprint: &str, cwd: &Path) -> u8 {
    let Some(fingerprint) = Fingerprint::parse(fingerprint) else {
        return fail("--ready-to-revoke takes a fingerprint as `rekey scan` prints it: sha256: and 16 hex digits");
    };
    // The sweep finds the token wherever it stands, under a key rekey reads or not.
    let gathering = match gather(args, cwd, Sweep::On) {
        Ok(gathering) => gathering,
        Err(message) => return fail(&message),
    };
    let inventory = gathering.inventory();
    let live = gathering.stream.as_deref().map(stdin::live);
    let hidden = gathering.stream.as_deref().map(layers::open);
    let stream = match (&gathering.stream, &live, &hidden) {
        (Some(bytes), Some(live), Some(hidden)) => Some(readiness::Stream {
            bytes,
            live,
            hidden,
        }),
        _ => None,
    };
    let scans = gathering
        .inputs
        .iter()
        .map(|input| (input.repository.as_deref(), &input.scan))
        .collect();
    let evidence = readiness::Evidence {
        inventory: &inventory,
        scans,
        stream,
        failed: gathering.failed.iter().map(ToString::to_string).collect(),
    };
    let mut readiness = readiness::judge(&fingerprint, &evidence);
    readiness.harness = harness_side(args, &fingerprint, cwd);
    report::to_stdout(&readiness_report::text(
        &readiness,
        &fingerprint,
        Style::for_stdout(),
    ));
    match readiness.verdict() {
        Verdict::Ready => EXIT_OK,
        Verdict::Held => EXIT_VIOLATION,
        Verdict::CannotTell => EXIT_ERROR,
    }
}

/// `--harness-token`: the Harness side of the question, its lines shown first; its
/// verdict joins the inputs' (the worse one wins).
fn harness_side(args: &CheckArgs, fingerprint: &Fingerprint, cwd: &Path) -> Option<Verdict> {
    let name = args.harness_token.as_deref()?;
    let config = args.config.as_deref();
    let (lines, verdict) =
        super::harness::ready_side(fingerprint, name, cwd, config, &args.connection);
    report::to_stdout(&(lines.join("\n") + "\n"));
    Some(verdict)
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
    policy.rules().install_key_names();
    let scan = repo.scan_index(&|path| policy.excludes(&top.join(path)))?;
    Ok((scan, policy))
}
