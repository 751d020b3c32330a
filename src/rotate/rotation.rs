//! The rotation as one library stage: scan (working tree or a commit's tree) → plan →
//! verify → apply (a transaction over the files and the policy file, or a commit on a new
//! branch), returning a typed outcome that `report` renders. The command line only builds
//! a [`Request`] and picks the exit status.
//!
//! A file that could not be parsed stops the rotation only where the byte sweep finds a
//! token being rotated in it (see `unparsed`); otherwise it is left as is and listed.
//!
//! Reruns are part of the contract: a run interrupted at any point is finished by running
//! the same command again (files already rotated are left alone, a stale `[tokens] current`
//! is repaired, a half-migrated Secret/`secretKeyRef` pair is completed), and a rerun after
//! success says the token is already rotated and exits 0.

use crate::error::Error;
use crate::find::git::GitRepo;
use crate::find::ignore_rules::Ignore;
use crate::find::scan::{self, FileError, Scan, ScannedFile};
use crate::find::sweep::Stray;
use crate::find::walk::Sweep;
use crate::judge::inventory;
use crate::judge::policy::{self, Policy, PolicyFile};
use crate::judge::rollout::{self, Rollout};
use crate::model::fs::FileDigest;
use crate::model::site::Site;
use crate::model::token::{Fingerprint, NewToken};
use crate::rotate::apply::{self, Content, Target};
use crate::rotate::commit;
use crate::rotate::outside::{self, Outside};
use crate::rotate::plan::{self, Plan, RotateOptions};
use crate::rotate::reread::{self, BeforeAndAfter, Reader, Source, Verified, Writes};
use crate::rotate::sign::Signing;
use crate::rotate::unparsed::{self, Advice, AllBut, Taken};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// How a rotation ends: one mode, chosen once.
pub enum Mode {
    DryRun,
    Write(apply::Options),
    Commit {
        branch: Option<String>,
        base: String,
        /// The subject `--message` gives, if any.
        message: Option<String>,
        /// Whether the commit is signed: as git's configuration says, or overridden.
        signing: Signing,
        /// Words the commit message from the plan and the subject: `report` owns how
        /// rekey speaks, and masks what it writes.
        words: CommitMessage,
    },
}

/// Words a commit message for a plan, given `--message`'s subject.
pub type CommitMessage = fn(&Plan, Option<&str>) -> String;

/// How the new token was given: a command rekey suggests gives it the same way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// `--new-token-env NAME`.
    Env(String),
    /// `--new-token-file PATH`, as typed.
    File(String),
    Stdin,
    /// `--new-token-harness NAME`.
    Harness(String),
}

pub struct Request {
    pub roots: Vec<PathBuf>,
    /// Whether the working tree's ignore rules apply (a commit's tree has none to apply).
    pub ignore: Ignore,
    pub cwd: PathBuf,
    pub new: NewToken,
    pub source: TokenSource,
    pub options: RotateOptions,
    pub mode: Mode,
}

/// Where the files come from, with the policy that governs them.
pub enum Input {
    WorkingTree(PolicyFile),
    Commit {
        repo: GitRepo,
        base: git2::Oid,
        policy: Option<Policy>,
        /// How reports name `policy`: the committed `.rekey.toml`, or the file `--config` /
        /// `REKEY_CONFIG` named for every repository of a `--repo` run.
        policy_display: String,
        /// That policy file's text, for the lines a refusal says to add to it.
        policy_text: Option<String>,
    },
}

/// The scan a rotation plans from; the outcome borrows from it.
pub struct Prepared {
    pub input: Input,
    pub scan: Scan,
}

/// What the rotation found to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Sites to rotate, fill or migrate.
    Planned,
    /// Nothing left to change, and the new token is in place.
    AlreadyRotated,
    /// No site holds a token to rotate.
    NothingToDo,
}

/// What the rotation did about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    DryRun,
    Written,
    Committed {
        branch: String,
        id: String,
    },
    /// `--commit` with nothing to commit.
    NotCommitted,
}

/// The policy file's `[tokens] current` after the rotation.
pub struct PolicyUpdate {
    pub display: String,
    path: PathBuf,
    original: String,
    pub text: String,
}

pub struct Rotation<'s> {
    pub plan: Plan<'s>,
    pub status: Status,
    pub applied: Applied,
    /// Which policy file applies, as reports name it.
    pub policy: String,
    pub policy_update: Option<PolicyUpdate>,
    /// Leftover temp files of an interrupted run: removed by a write, listed otherwise.
    pub leftovers: Vec<String>,
    /// Copies of a rotated token outside every site (a comment, prose, a file no scanner
    /// reads): the rotation is not finished while they remain.
    pub left_behind: Vec<Stray>,
    /// Copies of a token the policy lists as revoked, outside every site, that are not
    /// among `left_behind`: what an earlier rotation left, found again on every run.
    pub revoked_left_behind: Vec<Stray>,
    /// Files that could not be parsed and hold no token being rotated: left as is.
    pub unparsed: Vec<FileError>,
    /// `--commit`: rotated files whose working-tree copy has edits the commit does not
    /// hold (it rotates the base commit's version, never the working tree's).
    pub uncommitted: Vec<String>,
    /// A rotation of less than the whole repository: what the rest still holds.
    pub outside: Option<Outside>,
    /// How the new token was given, for the commands that finish the rotation.
    pub source: TokenSource,
    /// How each delegate the rotation touched comes to read the new token (none for a dry
    /// run, whose report has no next steps).
    pub rollouts: Vec<Rollout>,
    /// What verifying each file of the plan left, in the plan's order, for a rotation
    /// that writes (empty otherwise).
    verified: Vec<Verified>,
    /// Reads the planned files again, for their diffs.
    reader: Reader,
}

impl Rotation<'_> {
    /// Whether writing this rotation changes a file: a site to rewrite, or the policy
    /// file's `[tokens] current`.
    pub fn changes_files(&self) -> bool {
        !self.plan.is_empty() || self.policy_update.is_some()
    }

    /// The plan's `index`th file before and after the rotation, read again (see
    /// `reread::before_and_after`).
    pub fn before_and_after(&self, index: usize) -> Result<BeforeAndAfter, Error> {
        reread::before_and_after(&self.reader, &self.plan, index, self.verified.get(index))
    }
}

/// Finds the policy and scans the input. Refuses a new token the policy lists as revoked,
/// and an input past what one run holds.
pub fn prepare(request: &Request) -> Result<Prepared, Error> {
    let cwd = &request.cwd;
    let (input, scan) = match &request.mode {
        Mode::Commit { base, .. } => read_commit(GitRepo::open(cwd, &request.roots)?, base, None)?,
        Mode::DryRun | Mode::Write(_) => {
            let policy = PolicyFile::discover_for(cwd, None, &request.roots)?;
            // Installed for the whole rotation: verifying a rewrite scans it again.
            policy.rules().install_key_names();
            let exclude = |path: &Path| policy.excludes_walked(cwd, path);
            let scan = scan::scan_paths(&request.roots, cwd, &exclude, Sweep::On, request.ignore);
            (Input::WorkingTree(policy), scan)
        }
    };
    refuse_unsafe(request, input, scan)
}

/// Prepares the rotation of the commit `base` names in a repository the caller opened
/// (`--repo DIR`), under `named` (the policy `--config` or `REKEY_CONFIG` names for every
/// repository) or else the `.rekey.toml` committed at the repository's root.
pub fn prepare_commit(
    request: &Request,
    repo: GitRepo,
    base: &str,
    named: Option<&PolicyFile>,
) -> Result<Prepared, Error> {
    let (input, scan) = read_commit(repo, base, named)?;
    refuse_unsafe(request, input, scan)
}

/// The commit's tree, scanned under its policy.
fn read_commit(
    repo: GitRepo,
    base: &str,
    named: Option<&PolicyFile>,
) -> Result<(Input, Scan), Error> {
    let base = repo.resolve(base)?;
    let (policy, policy_display, policy_text) = match named {
        Some(file) => {
            let text = match &file.path {
                Some(path) => Some(policy::read_text(path, &file.file_display)?),
                None => None,
            };
            (file.policy.clone(), file.display.clone(), text)
        }
        None => {
            let text = repo
                .read_at(base, policy::FILE_NAME)?
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
            let policy = policy_in_commit(&repo, text.as_deref())?;
            (policy, policy::FILE_NAME.to_owned(), text)
        }
    };
    Policy::install_key_names_of(policy.as_ref());
    let scan = repo.scan_commit(base, &|path| {
        policy.as_ref().is_some_and(|p| p.excludes(path))
    })?;
    let input = Input::Commit {
        repo,
        base,
        policy,
        policy_display,
        policy_text,
    };
    Ok((input, scan))
}

/// Refuses a new token the policy lists as revoked, and an input past the run's budget.
fn refuse_unsafe(request: &Request, input: Input, scan: Scan) -> Result<Prepared, Error> {
    let (rules, display) = match &input {
        Input::WorkingTree(file) => (file.policy.as_ref(), file.display.clone()),
        Input::Commit {
            policy,
            policy_display,
            ..
        } => (policy.as_ref(), policy_display.clone()),
    };
    let new = request.new.fingerprint();
    if rules.is_some_and(|p| p.revoked.contains(new)) {
        return Err(Error::at(
            &display,
            format!("the new token {new} is listed under [tokens] revoked: rotating to it would put a revoked token back. Generate a new token in Harness"),
        ));
    }
    if let Some(input) = scan.over_budget.first() {
        return Err(Error::new(format!(
            "{input}: {}; nothing was rotated",
            scan::Budget::over_budget_reason()
        )));
    }
    Ok(Prepared { input, scan })
}

/// Plans, verifies and applies the rotation of a prepared scan.
pub fn rotate<'s>(request: &Request, prepared: &'s Prepared) -> Result<Rotation<'s>, Error> {
    let scan = &prepared.scan;
    let new = request.new.fingerprint();
    let only: BTreeSet<Fingerprint> = request.options.only.iter().cloned().collect();
    let plan = match plan::plan(scan, &request.new, &request.options) {
        Ok(plan) => plan,
        Err(error) => {
            // A token named with --only that a broken file holds says more than the plan.
            unparsed::judge(scan, &Taken::These(&only), &|| {
                advice_for(request, prepared)
            })?;
            return Err(Error::new(error.to_string()));
        }
    };
    let status = status(scan, &plan, new);
    // The fingerprints leaving `current`: those rotated now, and on a rerun those the
    // user named that are already gone.
    let mut replaced: BTreeSet<Fingerprint> = plan.rotated.clone();
    replaced.extend(only);
    let unparsed = judge_unparsed(request, prepared, &replaced, holds_new(scan, new))?;
    let uncommitted = match &prepared.input {
        // --commit rotates the committed version: say when the working tree holds more.
        Input::Commit { repo, .. } => {
            let rotated: Vec<&str> = plan.files.iter().map(|f| f.file.display.as_str()).collect();
            repo.uncommitted_edits(&rotated)
        }
        Input::WorkingTree(_) => Vec::new(),
    };
    // Every file is read again and its rewrite verified before anything is written.
    let source = source_of(&prepared.input);
    let writes = match request.mode {
        Mode::Write(_) => Writes::Yes,
        Mode::DryRun | Mode::Commit { .. } => Writes::No,
    };
    let verified = reread::verify_all(&plan, &source, writes).map_err(|failures| {
        let failures: Vec<String> = failures.iter().map(Error::to_string).collect();
        Error::new(format!("{}\nnothing was written", failures.join("\n")))
    })?;
    let outside = match status {
        Status::NothingToDo => None,
        _ => outside(request, prepared, &replaced)?,
    };
    // A token the rest of the repository still holds stays in force there.
    let held = outside
        .as_ref()
        .map(Outside::still_held)
        .unwrap_or_default();
    let leaving: BTreeSet<Fingerprint> = replaced.difference(&held).cloned().collect();
    let policy_update = match status {
        Status::NothingToDo => None,
        _ => policy_update(&prepared.input, &leaving, new)?,
    };
    let (left_behind, revoked_left_behind) = left_behind(scan, &replaced, rules(&prepared.input));
    // The commands that make each delegate read the new token follow a write or a commit:
    // a dry run reports none, and on a monorepo the inventory behind them is as large as
    // the scan.
    let rollouts = match request.mode {
        Mode::DryRun => Vec::new(),
        Mode::Write(_) | Mode::Commit { .. } => rollouts(prepared, &plan),
    };
    let mut rotation = Rotation {
        plan,
        status,
        applied: Applied::DryRun,
        policy: policy_display(&prepared.input),
        policy_update,
        leftovers: scan.leftovers.iter().map(|(_, d)| d.clone()).collect(),
        left_behind,
        revoked_left_behind,
        unparsed,
        uncommitted,
        outside,
        source: request.source.clone(),
        rollouts,
        verified,
        reader: source.open()?,
    };
    rotation.applied = finish(request, prepared, &rotation)?;
    Ok(rotation)
}

/// What the rest of the repository holds of the tokens `replaced`, when the rotation
/// covers less than all of it.
fn outside(
    request: &Request,
    prepared: &Prepared,
    replaced: &BTreeSet<Fingerprint>,
) -> Result<Option<Outside>, Error> {
    if replaced.is_empty() {
        return Ok(None);
    }
    let cwd = &request.cwd;
    match &prepared.input {
        Input::WorkingTree(file) => Ok(outside::of_working_tree(
            file,
            &request.roots,
            cwd,
            replaced,
            request.ignore,
        )),
        Input::Commit {
            repo, base, policy, ..
        } => outside::of_commit(repo, *base, policy.as_ref(), cwd, replaced),
    }
}

/// The files that could not be parsed, left as is; or the refusal when one holds a token
/// the rotation takes away: those `replaced`, every one with `--all`, and any one when the
/// files parsed hold neither a token to rotate nor the new one (`holds_new`).
fn judge_unparsed(
    request: &Request,
    prepared: &Prepared,
    replaced: &BTreeSet<Fingerprint>,
    holds_new: bool,
) -> Result<Vec<FileError>, Error> {
    let new = request.new.fingerprint();
    let taken = if request.options.all {
        Taken::AllBut {
            new,
            why: AllBut::All,
        }
    } else if replaced.is_empty() && !holds_new {
        Taken::AllBut {
            new,
            why: AllBut::NothingElse,
        }
    } else {
        Taken::These(replaced)
    };
    unparsed::judge(&prepared.scan, &taken, &|| advice_for(request, prepared))
}

/// Where a refusal tells the user to exclude a file: the policy file that governs the
/// input, and each path as its `[scan] exclude` pattern.
fn advice_for<'p>(request: &'p Request, prepared: &'p Prepared) -> Advice<'p> {
    let cwd = &request.cwd;
    match &prepared.input {
        Input::WorkingTree(file) => Advice {
            file: &file.file_display,
            // Read when the policy was found; a file that cannot be read now gets the
            // lines of a new one.
            text: file
                .path
                .as_ref()
                .and_then(|path| policy::read_text(path, &file.file_display).ok()),
            committed: false,
            pattern: Box::new(move |display: &str| file.exclude_pattern(&cwd.join(display))),
        },
        Input::Commit {
            policy_display,
            policy_text,
            ..
        } => Advice {
            file: policy_display,
            text: policy_text.clone(),
            committed: policy_display == policy::FILE_NAME,
            pattern: Box::new(|display: &str| Some(Policy::exclude_pattern(display))),
        },
    }
}

/// The copies of the tokens `replaced` outside every site, and apart from them the copies
/// of the tokens `policy` lists as revoked.
fn left_behind(
    scan: &Scan,
    replaced: &BTreeSet<Fingerprint>,
    policy: Option<&Policy>,
) -> (Vec<Stray>, Vec<Stray>) {
    let revoked = |stray: &&Stray| policy.is_some_and(|p| p.revoked.contains(&stray.fingerprint));
    let (rotated, others): (Vec<&Stray>, Vec<&Stray>) = scan
        .strays
        .iter()
        .partition(|stray| replaced.contains(&stray.fingerprint));
    (
        rotated.into_iter().cloned().collect(),
        others.into_iter().filter(revoked).cloned().collect(),
    )
}

/// How each delegate of the input whose sites the plan changes comes to read the new
/// token, by the inventory of the scan.
fn rollouts(prepared: &Prepared, plan: &Plan) -> Vec<Rollout> {
    let default = Policy::default();
    let input = inventory::Input {
        repository: None,
        scan: &prepared.scan,
        policy: rules(&prepared.input).unwrap_or(&default),
    };
    let changed: Vec<(&ScannedFile, &Site)> = plan
        .files
        .iter()
        .flat_map(|file_plan| {
            let file = file_plan.file;
            file_plan
                .changes
                .iter()
                .map(move |change| (file, &file.sites[change.site]))
        })
        .collect();
    rollout::plan(inventory::build(&[input]), &changed)
}

/// The policy that governs the input, if any.
fn rules(input: &Input) -> Option<&Policy> {
    match input {
        Input::WorkingTree(file) => file.policy.as_ref(),
        Input::Commit { policy, .. } => policy.as_ref(),
    }
}

/// Whether a site holds the new token.
fn holds_new(scan: &Scan, new: &Fingerprint) -> bool {
    scan.sites()
        .any(|(_, site)| site.value.is_token() && site.value.fingerprint() == Some(new))
}

/// What the rotation found to do.
fn status(scan: &Scan, plan: &Plan, new: &Fingerprint) -> Status {
    if !plan.is_empty() {
        Status::Planned
    } else if holds_new(scan, new) {
        Status::AlreadyRotated
    } else {
        Status::NothingToDo
    }
}

/// Which policy file applies, as reports name it.
fn policy_display(input: &Input) -> String {
    match input {
        Input::WorkingTree(file) => file.display.clone(),
        Input::Commit {
            policy: Some(_),
            policy_display,
            ..
        } => policy_display.clone(),
        Input::Commit { policy: None, .. } => {
            format!("no {} in the base commit", policy::FILE_NAME)
        }
    }
}

/// Where the planned files are read again from: where they were scanned.
fn source_of(input: &Input) -> Source {
    match input {
        Input::WorkingTree(_) => Source::WorkingTree,
        Input::Commit { repo, .. } => Source::Repository(repo.repo.path().to_owned()),
    }
}

/// Ends the rotation as its mode says: nothing, the working-tree transaction, or a commit.
fn finish(request: &Request, prepared: &Prepared, rotation: &Rotation) -> Result<Applied, Error> {
    match (&request.mode, &prepared.input) {
        (Mode::DryRun, _) => Ok(Applied::DryRun),
        (Mode::Write(options), _) => {
            apply::remove_leftovers(&prepared.scan.leftovers)?;
            write(&rotation.plan, rotation.policy_update.as_ref(), *options)?;
            Ok(Applied::Written)
        }
        (
            Mode::Commit {
                branch,
                message,
                words,
                signing,
                ..
            },
            Input::Commit { repo, base, .. },
        ) => {
            if rotation.plan.is_empty() {
                return Ok(Applied::NotCommitted);
            }
            let branch = branch
                .clone()
                .unwrap_or_else(|| default_branch(request.new.fingerprint()));
            let message = words(&rotation.plan, message.as_deref());
            let files = &rotation.plan.files;
            let mut paths: Vec<&str> = files.iter().map(|f| f.file.display.as_str()).collect();
            if let Some(update) = &rotation.policy_update {
                paths.push(&update.display);
            }
            // Each rotated blob is read again and spliced as it is stored: none is held.
            let content = |index: usize| match &rotation.policy_update {
                Some(update) if index == files.len() => {
                    Ok(Zeroizing::new(update.text.as_bytes().to_vec()))
                }
                _ => rotation.before_and_after(index).map(|file| file.after),
            };
            let id = commit::commit(repo, *base, &branch, &message, &paths, &content, *signing)?;
            Ok(Applied::Committed {
                branch,
                id: id.to_string(),
            })
        }
        (Mode::Commit { .. }, Input::WorkingTree(_)) => {
            unreachable!("prepare reads a commit for --commit")
        }
    }
}

/// The branch `--commit` creates unless `--branch` names one.
pub fn default_branch(new: &Fingerprint) -> String {
    format!("rekey/rotate-{}", new.short())
}

/// The working-tree transaction: the policy file first, so that an interrupted run never
/// leaves rotated files beside a policy that calls their token stale; then every file.
fn write(
    plan: &Plan,
    policy_update: Option<&PolicyUpdate>,
    options: apply::Options,
) -> Result<(), Error> {
    let mut targets: Vec<Target> = Vec::with_capacity(plan.files.len() + 1);
    if let Some(update) = policy_update {
        targets.push(Target {
            path: &update.path,
            display: &update.display,
            original: FileDigest::of(update.original.as_bytes()),
            content: Content::Bytes(update.text.as_bytes()),
        });
    }
    targets.extend(plan.files.iter().map(|file_plan| Target {
        path: &file_plan.file.path,
        display: &file_plan.file.display,
        original: file_plan.file.digest,
        content: Content::Edits(Box::new(|| plan.edits(file_plan))),
    }));
    apply::apply(&targets, options).map_err(|error| Error::new(error.to_string()))
}

/// The policy file of the base commit, at the repository root, from its text.
fn policy_in_commit(repo: &GitRepo, text: Option<&str>) -> Result<Option<Policy>, Error> {
    match text {
        // `extends` paths are relative to the policy file: the repository's top on disk.
        Some(text) => Policy::parse_extending(
            text,
            policy::FILE_NAME,
            &repo.root().join(policy::FILE_NAME),
        )
        .map(Some),
        None => Ok(None),
    }
}

/// The policy file with `replaced` fingerprints swapped for the new one, when it exists and
/// changes.
fn policy_update(
    input: &Input,
    replaced: &BTreeSet<Fingerprint>,
    new: &Fingerprint,
) -> Result<Option<PolicyUpdate>, Error> {
    let (display, path, text) = match input {
        Input::WorkingTree(file) => match &file.path {
            Some(path) => (
                file.display.clone(),
                path.clone(),
                policy::read_text(path, &file.display)?,
            ),
            None => return Ok(None),
        },
        Input::Commit { repo, base, .. } => match repo.read_at(*base, policy::FILE_NAME)? {
            Some(bytes) => (
                policy::FILE_NAME.to_owned(),
                PathBuf::from(policy::FILE_NAME),
                String::from_utf8_lossy(&bytes).into_owned(),
            ),
            None => return Ok(None),
        },
    };
    let updated = policy::rotate_current(&text, &display, replaced, new)?;
    Ok(updated.map(|updated| PolicyUpdate {
        display,
        path,
        original: text,
        text: updated,
    }))
}
