//! The rotation across many repositories (`rotate --repo DIR… --commit`): each repository
//! is opened exactly where it was named (a clone or a bare mirror), its base commit's tree
//! is rotated by the `rotation` stage and committed on a new branch there, all of them in
//! parallel. A repository that fails (not a repository, an existing branch, several tokens
//! and no `--only`/`--all`, a file that cannot be parsed, no git identity) fails alone,
//! with its reason; the others still run. Without `--commit` each repository's rotation is
//! planned and verified but nothing is committed.
//!
//! A rotation borrows its repository's scan, so it is rendered on the thread that made it
//! (by the caller's `render`) and only owned results leave the thread.

use crate::error::Error;
use crate::find::git::GitRepo;
use crate::find::repos::{self, Repository};
use crate::judge::policy::PolicyFile;
use crate::rotate::commit;
use crate::rotate::rotation::{self, Applied, Input, Mode, Prepared, Request, Rotation, Status};

/// What became of one repository, as the summary table shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Committed {
        branch: String,
        id: String,
        /// The id as `git rev-parse --short` prints it.
        short: String,
    },
    /// A dry run: the branch a `--commit` run would create.
    WouldCommit {
        branch: String,
    },
    AlreadyRotated,
    NothingToRotate,
    Failed(String),
}

/// One repository's rotation: its outcome, the counts the table shows and what `render`
/// made of it (`None` when it failed, rendering included).
pub struct RepoRotation<R> {
    pub repository: Repository,
    pub outcome: Outcome,
    pub files: usize,
    /// Sites changed: rotated, filled or migrated.
    pub sites: usize,
    pub rendered: Option<R>,
}

/// Rotates every repository, in parallel, in the order given. `named`: the policy
/// `--config` / `REKEY_CONFIG` names for all of them; otherwise each one's committed
/// `.rekey.toml` applies.
pub fn rotate_all<R: Send>(
    request: &Request,
    repositories: &[Repository],
    named: Option<&PolicyFile>,
    render: &(dyn Fn(&Repository, &Prepared, &Rotation) -> Result<R, Error> + Sync),
) -> Vec<RepoRotation<R>> {
    let results = repos::in_parallel(repositories, &|repository| {
        rotate_one(request, repository, named, render)
    });
    repositories
        .iter()
        .zip(results)
        .map(|(repository, result)| {
            result.unwrap_or_else(|reason| RepoRotation {
                repository: repository.clone(),
                outcome: Outcome::Failed(reason.to_string()),
                files: 0,
                sites: 0,
                rendered: None,
            })
        })
        .collect()
}

fn rotate_one<R>(
    request: &Request,
    repository: &Repository,
    named: Option<&PolicyFile>,
    render: &(dyn Fn(&Repository, &Prepared, &Rotation) -> Result<R, Error> + Sync),
) -> Result<RepoRotation<R>, Error> {
    let repo = GitRepo::open_exact(&repository.dir)?;
    let base = match &request.mode {
        Mode::Commit { base, .. } => base.as_str(),
        Mode::DryRun | Mode::Write(_) => "HEAD",
    };
    let prepared = rotation::prepare_commit(request, repo, base, named)?;
    let rotation = rotation::rotate(request, &prepared)?;
    let Input::Commit { repo, .. } = &prepared.input else {
        unreachable!("prepare_commit reads a commit")
    };
    let outcome = match (&rotation.status, &rotation.applied) {
        (Status::AlreadyRotated, _) => Outcome::AlreadyRotated,
        (Status::NothingToDo, _) => Outcome::NothingToRotate,
        (Status::Planned, Applied::Committed { branch, id }) => Outcome::Committed {
            branch: branch.clone(),
            short: git2::Oid::from_str(id).map_or_else(|_| id.clone(), |oid| repo.short_id(oid)),
            id: id.clone(),
        },
        (Status::Planned, _) => {
            // The commit a dry run promises must be one `--commit` can make.
            let branch = rotation::default_branch(request.new.fingerprint());
            commit::can_create_branch(repo, &branch)?;
            Outcome::WouldCommit { branch }
        }
    };
    let plan = &rotation.plan;
    Ok(RepoRotation {
        repository: repository.clone(),
        outcome,
        files: plan.files.len(),
        sites: plan.files.iter().map(|file| file.changes.len()).sum(),
        rendered: Some(render(repository, &prepared, &rotation)?),
    })
}
