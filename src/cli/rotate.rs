//! `rekey rotate`: reads the new token, scans (working tree or a commit's tree), plans,
//! verifies, then ends in exactly one of three modes: dry run, write, or commit. The policy
//! file's `current` list follows the rotation in the write and commit modes.

use super::{fail, report_errors, roots, PolicyFile, EXIT_OK};
use crate::engine;
use crate::git::GitRepo;
use crate::plan::{self, Plan, RotateOptions};
use crate::policy;
use crate::report::{self, rotate as rotate_report, scan::plural, Style};
use crate::token::{Fingerprint, NewToken};
use crate::{verify, writer};
use clap::{Args, ValueEnum};
use std::io::Read;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

#[derive(Args)]
#[command(group(clap::ArgGroup::new("new-token").required(true)))]
pub struct RotateArgs {
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
    /// Print one line of counts per file instead of the diff (text format).
    #[arg(long)]
    stat: bool,
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

/// How a rotation ends: one mode, chosen once.
enum Mode {
    DryRun,
    Write,
    Commit {
        branch: Option<String>,
        base: String,
        message: Option<String>,
    },
}

/// Where the files come from, and where the policy file is.
enum Source {
    WorkingTree(PolicyFile),
    Commit { repo: GitRepo, base: git2::Oid },
}

/// A policy file edit that follows the rotation.
struct PolicyUpdate {
    display: String,
    path: PathBuf,
    text: String,
}

pub fn run(args: RotateArgs, cwd: &Path) -> u8 {
    if args.stat && args.format == RotateFormat::Json {
        return fail("--stat shapes the text report; the JSON report already lists each file's changes (drop --stat or --format json)");
    }
    match rotate(args, cwd) {
        Ok(()) => EXIT_OK,
        Err(message) => fail(&message),
    }
}

fn rotate(args: RotateArgs, cwd: &Path) -> Result<(), String> {
    let mode = if args.commit {
        Mode::Commit {
            branch: args.branch.clone(),
            base: args.base.clone().unwrap_or_else(|| "HEAD".to_owned()),
            message: args.message.clone(),
        }
    } else if args.write {
        Mode::Write
    } else {
        Mode::DryRun
    };
    let new = read_new_token(&args)?;
    let options = rotate_options(&args)?;
    let roots = roots(args.paths.clone(), cwd)?;
    let source = match &mode {
        Mode::Commit { base, .. } => {
            let repo = GitRepo::open(cwd, &roots)?;
            let base = repo.resolve(base)?;
            Source::Commit { repo, base }
        }
        _ => Source::WorkingTree(PolicyFile::load(cwd, None, cwd)?),
    };
    let scan = match &source {
        Source::WorkingTree(policy) => {
            engine::scan_paths(&roots, cwd, &|path| policy.excludes(&cwd.join(path)))
        }
        Source::Commit { repo, base } => {
            let policy = policy_in_commit(repo, *base)?;
            repo.scan_commit(*base, &|path| {
                policy.as_ref().is_some_and(|p| p.excludes(path))
            })?
        }
    };
    if !scan.errors.is_empty() {
        report_errors(&scan);
        return Err(format!(
            "{} could not be read; nothing was rotated",
            plural(scan.errors.len(), "file")
        ));
    }
    let mut plan = plan::plan(&scan, &new, &options).map_err(|e| e.to_string())?;
    if let Source::Commit { repo, .. } = &source {
        let rotated: Vec<&str> = plan.files.iter().map(|f| f.file.display.as_str()).collect();
        let dirty = repo.uncommitted_edits(&rotated);
        if !dirty.is_empty() {
            plan.notes.push(rotate_report::uncommitted_note(&dirty));
        }
    }
    let rewrites = verify::rewrite_all(&plan).map_err(|failures| {
        for failure in &failures {
            report::error(failure);
        }
        "nothing was written".to_owned()
    })?;
    let policy_update = if plan.is_empty() {
        None
    } else {
        policy_update(&source, &plan)?
    };
    let mut committed = None;
    let outcome = match (&mode, &source) {
        (
            Mode::Commit {
                branch, message, ..
            },
            Source::Commit { repo, base },
        ) if !plan.is_empty() => {
            let branch = branch
                .clone()
                .unwrap_or_else(|| format!("rekey/rotate-{}", new.fingerprint().short()));
            let message = rotate_report::commit_message(&plan, message.as_deref());
            let mut files: Vec<(&str, &[u8])> = rewrites
                .iter()
                .map(|r| (r.plan.file.display.as_str(), r.bytes.as_slice()))
                .collect();
            if let Some(update) = &policy_update {
                files.push((&update.display, update.text.as_bytes()));
            }
            let id = repo.commit(*base, &branch, &message, &files)?;
            committed = Some((branch, id.to_string()));
            rotate_report::Outcome::Committed
        }
        (Mode::Write, _) => {
            for rewrite in &rewrites {
                let file = rewrite.plan.file;
                writer::write_atomically(&file.path, &file.display, &rewrite.bytes)?;
            }
            if let Some(update) = &policy_update {
                writer::write_atomically(&update.path, &update.display, update.text.as_bytes())?;
            }
            rotate_report::Outcome::Written
        }
        _ => rotate_report::Outcome::DryRun,
    };
    let secrets = if args.show_secrets {
        rotate_report::Secrets::Shown
    } else {
        rotate_report::Secrets::Redacted
    };
    match args.format {
        RotateFormat::Json => {
            let committed = committed.as_ref().map(|(b, id)| (b.as_str(), id.as_str()));
            report::to_stdout(&rotate_report::json(&plan, outcome, secrets, committed));
        }
        RotateFormat::Text => {
            let mut out = if args.stat {
                rotate_report::stat(&plan, outcome)
            } else {
                text_report(&plan, outcome, secrets)
            };
            if let Some(update) = &policy_update {
                out.push_str(&rotate_report::policy_updated(
                    &update.display,
                    &plan,
                    outcome,
                ));
            }
            if let Some((branch, id)) = &committed {
                out.push_str(&rotate_report::committed(branch, id, &plan));
            } else if matches!(mode, Mode::Commit { .. }) {
                out.push_str("No commit was made.\n");
            }
            report::to_stdout(&out);
            for note in &plan.notes {
                report::note(note);
            }
        }
    }
    Ok(())
}

fn text_report(
    plan: &Plan,
    outcome: rotate_report::Outcome,
    secrets: rotate_report::Secrets,
) -> String {
    let style = Style::for_stdout();
    let mut out = String::new();
    for file_plan in &plan.files {
        let diff = rotate_report::file_diff(file_plan, secrets);
        out.push_str(&rotate_report::colour_diff(&diff, style));
    }
    out.push_str(&rotate_report::summary(plan, outcome));
    out
}

/// The policy file of the base commit, at the repository root.
fn policy_in_commit(repo: &GitRepo, base: git2::Oid) -> Result<Option<policy::Policy>, String> {
    match repo.read_at(base, policy::FILE_NAME) {
        Some(bytes) => {
            policy::Policy::parse(&String::from_utf8_lossy(&bytes), policy::FILE_NAME).map(Some)
        }
        None => Ok(None),
    }
}

/// The policy file with the rotated fingerprints replaced by the new one, when it exists
/// and changes.
fn policy_update(source: &Source, plan: &Plan) -> Result<Option<PolicyUpdate>, String> {
    let (display, path, text) = match source {
        Source::WorkingTree(policy) if policy.policy.is_some() => {
            let text = std::fs::read_to_string(&policy.path)
                .map_err(|e| format!("{}: cannot read: {e}", policy.display))?;
            (policy.display.clone(), policy.path.clone(), text)
        }
        Source::Commit { repo, base } => match repo.read_at(*base, policy::FILE_NAME) {
            Some(bytes) => (
                policy::FILE_NAME.to_owned(),
                PathBuf::from(policy::FILE_NAME),
                String::from_utf8_lossy(&bytes).into_owned(),
            ),
            None => return Ok(None),
        },
        Source::WorkingTree(_) => return Ok(None),
    };
    let updated = policy::rotate_current(&text, &display, &plan.rotated, &plan.new)?;
    Ok(updated.map(|text| PolicyUpdate {
        display,
        path,
        text,
    }))
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
