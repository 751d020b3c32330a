//! `rekey history`: walks every commit of every ref of one or more repositories and lists
//! each token git holds, with its policy state, where it has been and which refs still
//! reach it; and the history part of `check --history`. Exit 2 when a repository cannot be
//! read or part of its history could not be judged.

use super::exit::{fail, EXIT_ERROR, EXIT_OK};
use super::inputs::RepoArgs;
use crate::error::Error;
use crate::find::git::GitRepo;
use crate::find::history::{self, History, Options};
use crate::find::repos::Repository;
use crate::judge::check::Finding;
use crate::judge::history::{judge, Judged};
use crate::judge::policy::{Policy, PolicyFile};
use crate::judge::repos::committed_policy;
use crate::report::{self, history as history_report, Style};
use clap::{Args, ValueEnum};
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub walk: WalkArgs,
    /// The policy file (default: the `.rekey.toml` committed at the top of HEAD).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// How to print the answer: text for people, json for machines (`rekey.history/v1`).
    #[arg(long, value_enum, default_value_t = HistoryFormat::Text)]
    format: HistoryFormat,
}

/// Which history is walked: shared by `history` and `check --history`.
#[derive(Args)]
pub struct WalkArgs {
    #[command(flatten)]
    repositories: RepoArgs,
    /// Walk only the refs whose full name matches GLOB (repeatable; `*` crosses `/`, so
    /// `refs/heads/*` is every branch). HEAD is always walked.
    #[arg(long = "refs", value_name = "GLOB")]
    refs: Vec<String>,
    /// Leave out the commits reachable from REF: walk only what came after it.
    #[arg(long, value_name = "REF")]
    since: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum HistoryFormat {
    Text,
    Json,
}

/// One repository's walked and judged history.
pub struct Judgement {
    pub label: String,
    pub history: History,
    pub tokens: Vec<Judged>,
    pub policy: Policy,
}

pub fn run(args: HistoryArgs, cwd: &Path) -> u8 {
    let judged = match walk_all(&args.walk, args.config.as_deref(), None, cwd) {
        Ok(judged) => judged,
        Err(message) => return fail(&message),
    };
    let walked: Vec<history_report::Walked> = judged
        .iter()
        .map(|j| history_report::Walked {
            label: &j.label,
            history: &j.history,
            tokens: &j.tokens,
        })
        .collect();
    match args.format {
        HistoryFormat::Json => report::json_to_stdout(&history_report::record(&walked)),
        HistoryFormat::Text => {
            report::to_stdout(&history_report::text(&walked, Style::for_stdout()))
        }
    }
    let mut status = EXIT_OK;
    for j in &judged {
        for (path, reason) in &j.history.unjudged {
            report::error(&format!(
                "{}: {path}: a blob in git history {reason}",
                j.label
            ));
            status = EXIT_ERROR;
        }
    }
    status
}

/// How far the running walk got, for the progress line.
pub fn walked() -> String {
    use std::sync::atomic::Ordering::Relaxed;
    format!(
        " ({} commits walked, {} files read)",
        history::COMMITS_WALKED.load(Relaxed),
        history::BLOBS_SCANNED.load(Relaxed)
    )
}

/// Walks and judges each repository named (or the one holding `cwd`).
/// `policy`: the one to judge by (else `--config`'s, else each HEAD's committed one).
pub fn walk_all(
    args: &WalkArgs,
    config: Option<&Path>,
    policy: Option<&Policy>,
    cwd: &Path,
) -> Result<Vec<Judgement>, Error> {
    let wanted = ref_globs(&args.refs)?;
    let named = match policy {
        Some(policy) => Some(policy.clone()),
        None => PolicyFile::named(cwd, config)?.map(|file| file.rules().clone()),
    };
    let repositories: Vec<(String, GitRepo)> = if args.repositories.any() {
        args.repositories
            .named(cwd)?
            .into_iter()
            .map(|r| {
                let repo = GitRepo::open_exact(&r.dir).map_err(|e| format!("{}: {e}", r.label))?;
                Ok((r.label, repo))
            })
            .collect::<Result<_, Error>>()?
    } else {
        vec![(".".to_owned(), GitRepo::open(cwd, &[PathBuf::from(".")])?)]
    };
    let mut judged = Vec::new();
    for (label, repo) in repositories {
        let in_repo = |e: Error| Error::new(format!("{label}: {e}"));
        let since = match &args.since {
            Some(name) => Some(repo.resolve(name).map_err(in_repo)?),
            None => None,
        };
        let refs = |name: &str| wanted.as_ref().is_none_or(|set| set.is_match(name));
        let options = Options { refs: &refs, since };
        let mut history = history::walk(&repo, &options).map_err(in_repo)?;
        let policy = match &named {
            Some(policy) => policy.clone(),
            None => head_policy(&repo, &history, &label)?,
        };
        let tokens = judge(&mut history, &policy);
        judged.push(Judgement {
            label,
            history,
            tokens,
            policy,
        });
    }
    Ok(judged)
}

/// `check --history`'s findings: for the repository holding `cwd` under the policy `check`
/// judged the working tree by, or for each repository `repositories` names under its own
/// committed policy (or `--config`'s), with paths shown under the repository's label.
pub fn findings(
    repositories: &RepoArgs,
    config: Option<&Path>,
    policy: &Policy,
    cwd: &Path,
) -> Result<Vec<Finding>, Error> {
    let many = repositories.any();
    let walk = WalkArgs {
        repositories: if many {
            repositories.clone()
        } else {
            RepoArgs::none()
        },
        refs: Vec::new(),
        since: None,
    };
    let judged = walk_all(&walk, config, (!many).then_some(policy), cwd)?;
    let mut found = Vec::new();
    for j in &judged {
        let mut own = crate::judge::history::findings(&j.history, &j.tokens, &j.policy);
        if many {
            for finding in &mut own {
                finding.path = format!("{}/{}", j.label, finding.path);
            }
        }
        found.extend(own);
    }
    Ok(found)
}

/// The `.rekey.toml` committed at the top of HEAD (none: the default policy).
fn head_policy(repo: &GitRepo, history: &History, label: &str) -> Result<Policy, Error> {
    let Some(head) = &history.head else {
        return Ok(Policy::default());
    };
    let repository = Repository {
        label: label.to_owned(),
        dir: repo.root(),
    };
    Ok(committed_policy(repo, head.commit, &repository)?.unwrap_or_default())
}

fn ref_globs(patterns: &[String]) -> Result<Option<GlobSet>, Error> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern).map_err(|e| format!("--refs {pattern}: {e}"))?;
        set.add(glob);
    }
    set.build()
        .map(Some)
        .map_err(|e| Error::new(format!("--refs: {e}")))
}
