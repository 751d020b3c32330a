//! What `scan`, `check` and `inventory` read: paths of the working tree, `-` for a stream on
//! standard input, and `--repo DIR` / `--repos FILE` for repositories' `HEAD` trees, each
//! with the policy that governs it. A repository that fails is reported and left out; the
//! command's exit status says so. `rotate` takes the same `--repo` / `--repos` ([`RepoArgs`]).

use crate::error::Error;
use crate::find::ignore_rules::{Ignore, Ignored};
use crate::find::repos;
use crate::find::scan::{self, Scan};
use crate::find::stdin::{self, StreamFormat};
use crate::find::sweep::Stray;
use crate::find::walk::Sweep;
use crate::judge::inventory::{self, Input, Inventory};
use crate::judge::policy::{Policy, PolicyFile};
use crate::judge::repos as judge_repos;
use clap::{Args, ValueEnum};
use std::path::{Component, Path, PathBuf};

#[derive(Args)]
pub struct SourceArgs {
    #[command(flatten)]
    repositories: RepoArgs,
    /// The format of the stream `-` reads from standard input (default: sniffed).
    #[arg(long, value_enum, value_name = "FORMAT")]
    stdin_format: Option<StdinFormatArg>,
    /// Also read the files .gitignore and .git/info/exclude leave out (files git tracks are
    /// always read).
    #[arg(long)]
    no_ignore: bool,
}

/// `--repo DIR` and `--repos FILE`, shared by every command that reads many repositories.
#[derive(Args, Clone)]
pub struct RepoArgs {
    /// Read this repository's HEAD tree from its object store (a clone or a bare mirror),
    /// instead of a working tree (repeatable).
    #[arg(long = "repo", value_name = "DIR")]
    repo: Vec<PathBuf>,
    /// Read the repositories listed in FILE (one path per line, relative to FILE).
    #[arg(long = "repos", value_name = "FILE")]
    repos: Option<PathBuf>,
}

impl SourceArgs {
    pub fn repositories(&self) -> &RepoArgs {
        &self.repositories
    }

    /// Whether the working tree's ignore rules apply (`--no-ignore` says no).
    pub fn ignore(&self) -> Ignore {
        if self.no_ignore {
            Ignore::Include
        } else {
            Ignore::Respect
        }
    }
}

impl RepoArgs {
    /// No repository named: the one holding the current directory.
    pub fn none() -> RepoArgs {
        RepoArgs {
            repo: Vec::new(),
            repos: None,
        }
    }

    /// Whether any repository is named.
    pub fn any(&self) -> bool {
        !self.repo.is_empty() || self.repos.is_some()
    }

    /// The repositories named, in order: `--repo`s first, then the list file's lines.
    pub fn named(&self, cwd: &Path) -> Result<Vec<repos::Repository>, Error> {
        repos::named(&self.repo, self.repos.as_deref(), cwd)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StdinFormatArg {
    Yaml,
    Json,
}

/// One input, scanned.
pub struct Gathered {
    /// The repository's label, for `--repo` inputs.
    pub repository: Option<String>,
    pub scan: Scan,
    /// The repository's own committed policy; `None`: the command's policy applies.
    pub policy: Option<Policy>,
}

pub struct Gathering {
    pub inputs: Vec<Gathered>,
    /// The policy of paths and streams, and of repositories when `--config` or
    /// `REKEY_CONFIG` names one.
    pub policy: PolicyFile,
    /// Repositories that could not be read, with why.
    pub failed: Vec<Error>,
    /// The stream read from standard input, for `--ready-to-revoke` to look into further.
    pub stream: Option<Vec<u8>>,
}

impl Gathering {
    /// How reports name the policy the inputs were judged by: each repository's own when
    /// any repository has one, else the policy file; `None` when there is none.
    pub fn policy_named(&self) -> Option<String> {
        if self.inputs.iter().any(|i| i.policy.is_some()) {
            Some("each repository's committed .rekey.toml".to_owned())
        } else {
            self.policy
                .path
                .is_some()
                .then(|| self.policy.display.clone())
        }
    }

    /// [`Gathering::policy_named`], or where rekey looked for a policy file and found none.
    pub fn policy_shown(&self) -> String {
        self.policy_named()
            .unwrap_or_else(|| self.policy.display.clone())
    }

    /// What the working tree's ignore rules left out of the inputs.
    pub fn ignored(&self) -> Ignored {
        let mut all = Ignored::default();
        self.inputs.iter().for_each(|i| all.add(i.scan.ignored));
        all
    }

    pub fn policy_of<'a>(&'a self, input: &'a Gathered) -> &'a Policy {
        input.policy.as_ref().unwrap_or_else(|| self.policy.rules())
    }

    /// The delegates of every input, each judged under its own policy.
    pub fn inventory(&self) -> Inventory {
        let inputs: Vec<Input> = self
            .inputs
            .iter()
            .map(|input| Input {
                repository: input.repository.clone(),
                scan: &input.scan,
                policy: self.policy_of(input),
            })
            .collect();
        inventory::build(&inputs)
    }

    /// The token-shaped strings outside every site whose fingerprint the input's policy
    /// lists as revoked, repository files shown under the repository's label.
    pub fn revoked_strays(&self) -> Vec<Stray> {
        let mut found = Vec::new();
        for input in &self.inputs {
            let revoked = &self.policy_of(input).revoked;
            let strays = input.scan.strays.iter();
            for stray in strays.filter(|s| revoked.contains(&s.fingerprint)) {
                let mut stray = stray.clone();
                if let Some(label) = &input.repository {
                    stray.display = format!("{label}/{}", stray.display).into();
                }
                found.push(stray);
            }
        }
        found
    }

    /// Every input as one scan, repository files shown under the repository's label.
    pub fn merged(self) -> (Scan, PolicyFile, Vec<Error>) {
        let mut all = Scan::default();
        for input in self.inputs {
            let mut scan = input.scan;
            if let Some(label) = &input.repository {
                let under = |path: &mut String| *path = format!("{label}/{path}");
                scan.files.iter_mut().for_each(|f| under(&mut f.display));
                scan.loads.iter_mut().for_each(|(file, _)| under(file));
                scan.errors.iter_mut().for_each(|e| under(&mut e.display));
                scan.skipped.iter_mut().for_each(|s| under(&mut s.display));
                scan.over_budget.iter_mut().for_each(under);
            }
            all.files.extend(scan.files);
            all.loads.extend(scan.loads);
            all.errors.extend(scan.errors);
            all.skipped.extend(scan.skipped);
            all.leftovers.extend(scan.leftovers);
            all.files_seen += scan.files_seen;
            all.ignored.add(scan.ignored);
            all.over_budget.extend(scan.over_budget);
        }
        (all, self.policy, self.failed)
    }
}

/// Whether `paths` names standard input.
pub fn reads_stdin(paths: &[PathBuf]) -> bool {
    paths.iter().any(|p| p.as_os_str() == "-")
}

/// Scans every input the arguments name. No path, no `-` and no repository: the current
/// directory. `sweeping` says, from the policy of the paths, whether the working tree is
/// swept for token-shaped strings (streams and repositories always are).
pub fn gather(
    paths: &[PathBuf],
    sources: &SourceArgs,
    config: Option<&Path>,
    cwd: &Path,
    sweeping: impl Fn(&Policy) -> Sweep,
) -> Result<Gathering, Error> {
    let from_stdin = reads_stdin(paths);
    let mut tree: Vec<PathBuf> = paths
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .cloned()
        .collect();
    let repositories = sources.repositories.named(cwd)?;
    if tree.is_empty() && !from_stdin && repositories.is_empty() {
        tree.push(PathBuf::from("."));
    }
    let policy = PolicyFile::discover_for(cwd, config, &tree)?;
    // Its key names are the run's: a repository with a policy of its own installs its own.
    policy.rules().install_key_names();
    let mut inputs = Vec::new();
    let mut stream = None;
    if !tree.is_empty() {
        let roots = roots(tree, cwd)?;
        let exclude = |path: &Path| policy.excludes_walked(cwd, path);
        let sweep = sweeping(policy.rules());
        let scan = scan::scan_paths(&roots, cwd, &exclude, sweep, sources.ignore());
        inputs.push(Gathered {
            repository: None,
            scan,
            policy: None,
        });
    }
    if from_stdin {
        let format = sources.stdin_format.map(|f| match f {
            StdinFormatArg::Yaml => StreamFormat::Yaml,
            StdinFormatArg::Json => StreamFormat::Json,
        });
        let bytes = stdin::read()?;
        inputs.push(Gathered {
            repository: None,
            scan: stdin::scan(&bytes, format),
            policy: None,
        });
        stream = Some(bytes);
    }
    // A policy named for the run (an organisation's) governs every repository; otherwise
    // each repository's own committed .rekey.toml does.
    let named = config.is_some() || std::env::var_os("REKEY_CONFIG").is_some_and(|v| !v.is_empty());
    let mut failed = Vec::new();
    for (repository, scanned) in repositories
        .iter()
        .zip(judge_repos::scan_all(&repositories, !named))
    {
        match scanned {
            Ok(scanned) => inputs.push(Gathered {
                repository: Some(repository.label.clone()),
                scan: scanned.scan,
                policy: scanned.policy,
            }),
            Err(message) => failed.push(message),
        }
    }
    Ok(Gathering {
        inputs,
        policy,
        failed,
        stream,
    })
}

/// The paths to walk: those given, or the current directory. Each must exist.
pub fn roots(paths: Vec<PathBuf>, cwd: &Path) -> Result<Vec<PathBuf>, Error> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths
    };
    for path in &paths {
        refuse_symlinks(path, cwd)?;
        // A FIFO or device named here would otherwise be passed over without a word.
        let metadata = std::fs::metadata(cwd.join(path))
            .map_err(|_| format!("{}: no such file or directory", path.display()))?;
        if !metadata.is_file() && !metadata.is_dir() {
            return Err(Error::new(format!(
                "{}: is {}; rekey reads regular files and directories only",
                path.display(),
                crate::model::fs::kind_of(&metadata.file_type())
            )));
        }
    }
    Ok(paths)
}

/// A path that is a symlink, or reaches its files through one (`link/k8s`), is refused by
/// every command, as the walk never follows a symlink it meets: what `scan` and `check`
/// judge is then always what `rotate --write` may replace, a rotation never writes through
/// a symlinked directory into files outside the tree, and `check link.env` never passes on
/// a file it did not read.
fn refuse_symlinks(path: &Path, cwd: &Path) -> Result<(), Error> {
    let mut prefix = PathBuf::new();
    let components: Vec<Component> = path.components().collect();
    for (index, component) in components.iter().enumerate() {
        prefix.push(component);
        let is_link = matches!(component, Component::Normal(_))
            && std::fs::symlink_metadata(cwd.join(&prefix))
                .is_ok_and(|m| m.file_type().is_symlink());
        if !is_link {
            continue;
        }
        let what = if index + 1 == components.len() {
            "is a symlink".to_owned()
        } else {
            format!("goes through the symlink {}", prefix.display())
        };
        return Err(Error::new(format!(
            "{}: {what}; rekey never follows one, given as a path or met in the walk: give the path of its target instead",
            path.display()
        )));
    }
    Ok(())
}
