//! `rekey init` and `rekey revoke`: the commands that write the policy file. Both edit it
//! through `policy`, which keeps the user's comments and layout.

use super::exit::{fail, EXIT_OK};
use super::inputs::roots;
use crate::error::Error;
use crate::find::git::GitRepo;
use crate::find::ignore_rules::Ignore;
use crate::find::scan;
use crate::find::walk::Sweep;
use crate::judge::policy;
use crate::judge::policy::{Policy, PolicyFile};
use crate::model::fs::FileDigest;
use crate::model::token::Fingerprint;
use crate::report::{self, scan::plural};
use crate::rotate::apply;
use clap::Args;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct InitArgs {
    /// Files or directories whose tokens are in force (default: the current directory).
    paths: Vec<PathBuf>,
    /// Where to write the policy (default: .rekey.toml in the current directory). Run it at
    /// the repository's top: every command finds that one from any directory below it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Args)]
pub struct RevokeArgs {
    /// Fingerprints of the revoked tokens, as `rekey scan` prints them.
    #[arg(required = true, value_name = "FINGERPRINT")]
    fingerprints: Vec<String>,
    #[arg(long, value_name = "FILE", help = super::help::config_found("The policy file to write"))]
    config: Option<PathBuf>,
    /// Also revoke this token in Harness, first, and only while no delegate is alive on it
    /// (give one FINGERPRINT: the token's own).
    #[arg(long, value_name = "NAME")]
    harness_token: Option<String>,
    #[command(flatten)]
    connection: super::harness::ConnectArgs,
}

pub fn init(args: InitArgs, cwd: &Path) -> u8 {
    let path = cwd.join(
        args.config
            .unwrap_or_else(|| PathBuf::from(policy::FILE_NAME)),
    );
    let display = crate::model::fs::display_path(&path, cwd);
    if std::fs::symlink_metadata(&path).is_ok() {
        return fail(format!(
            "{display} already exists; rekey init never overwrites it (edit it, or use `rekey revoke FINGERPRINT`)"
        ));
    }
    let roots = match roots(args.paths, cwd) {
        Ok(roots) => roots,
        Err(message) => return fail(&message),
    };
    let scan = scan::scan_paths(&roots, cwd, &|_| false, Sweep::Off, Ignore::Respect);
    for error in &scan.errors {
        report::note(&format!("{error} (its tokens are not listed)"));
    }
    let current: BTreeSet<Fingerprint> = scan
        .sites()
        .filter(|(_, site)| site.value.is_token())
        .filter_map(|(_, site)| site.value.fingerprint().cloned())
        .collect();
    // create_new: never through a symlink or over anything that appeared meanwhile.
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut file| {
            use std::io::Write;
            file.write_all(policy::initial_text(&current).as_bytes())?;
            file.sync_all()
        });
    if let Err(error) = written {
        return fail(format!("{display}: cannot write: {error}"));
    }
    let mut out = format!(
        "Wrote {display}: [tokens] current lists {}.\n",
        plural(current.len(), "token")
    );
    for fingerprint in &current {
        out.push_str(&format!("  {fingerprint}\n"));
    }
    report::to_stdout(&out);
    EXIT_OK
}

/// The FINGERPRINT arguments of `revoke`. One that is not `sha256:` + 16 hex digits is
/// refused by its position, never echoed: what was typed may be part of a token (16 bare
/// hex digits are the first half of one as often as a fingerprint without its prefix).
fn parse_fingerprints(texts: &[String]) -> Result<Vec<Fingerprint>, Error> {
    texts
        .iter()
        .enumerate()
        .map(|(index, text)| {
            Fingerprint::parse(text).ok_or_else(|| {
                let bare_digits = text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit());
                let hint = if bare_digits {
                    " (16 hex digits without `sha256:` may be the start of a token rather than its fingerprint)"
                } else {
                    ""
                };
                Error::new(format!(
                    "FINGERPRINT {} of {} is not a fingerprint{hint}: give each as `rekey scan` prints it, sha256: and 16 hex digits; nothing was written",
                    index + 1,
                    texts.len()
                ))
            })
        })
        .collect()
}

/// How many commits of the policy file's history `revoke` reads for the tokens it listed
/// before: years of a repository's commits, read in well under a second.
const POLICY_HISTORY: usize = 10_000;

/// What to say before the policy marks `revoked`: a token already revoked; one the policy
/// never listed under `current` (a typo, most likely: a token a rotation moved out of
/// `current` was listed there in an earlier commit, and is expected); one files of the
/// repository still hold, which `check` will fail on from now.
fn warn_before_revoking(revoked: &[Fingerprint], file: &PolicyFile, path: &Path, cwd: &Path) {
    let policy = file.rules();
    let unlisted: Vec<&Fingerprint> = revoked
        .iter()
        .filter(|f| !policy.revoked.contains(f) && !policy.current.contains(f))
        .collect();
    let listed_before = if unlisted.is_empty() {
        BTreeSet::new()
    } else {
        listed_in_history(path, cwd)
    };
    for fingerprint in revoked {
        if policy.revoked.contains(fingerprint) {
            report::warning(&format!(
                "{fingerprint} is already revoked in {}",
                file.display
            ));
        } else if unlisted.contains(&fingerprint) && !listed_before.contains(fingerprint) {
            report::warning(&format!(
                "{fingerprint} is not listed under [tokens] current in {}: check the fingerprint (`rekey scan` lists the tokens a repository holds)",
                file.display
            ));
        }
    }
    let wanted: BTreeSet<Fingerprint> = revoked.iter().cloned().collect();
    let holding = files_holding(file, cwd, &wanted);
    for fingerprint in revoked {
        let files: Vec<&str> = holding
            .iter()
            .filter(|(_, held)| held.contains(fingerprint))
            .map(|(path, _)| path.as_str())
            .collect();
        if files.is_empty() {
            continue;
        }
        let shown = files.len().min(HOLDERS_LISTED);
        let more = match files.len() - shown {
            0 => String::new(),
            rest => format!(" and {rest} more"),
        };
        report::warning(&format!(
            "files in the repository still hold {fingerprint}: rekey check will now fail on these {}: {}{more}; rotate them first unless that is what you want",
            plural(files.len(), "file"),
            files[..shown].join(", ")
        ));
    }
}

/// How many of the files that still hold a revoked token are named.
const HOLDERS_LISTED: usize = 20;

/// The tokens an earlier committed version of the policy file listed under `current`.
fn listed_in_history(path: &Path, cwd: &Path) -> BTreeSet<Fingerprint> {
    let directory = path.parent().unwrap_or(cwd).to_owned();
    let Ok(repo) = GitRepo::open(cwd, &[directory]) else {
        return BTreeSet::new();
    };
    let absolute = cwd.join(path);
    let absolute = absolute.canonicalize().unwrap_or(absolute);
    let Ok(relative) = absolute.strip_prefix(repo.root()) else {
        return BTreeSet::new();
    };
    let relative = crate::model::fs::display_path(relative, Path::new(""));
    repo.versions_of(&relative, POLICY_HISTORY)
        .iter()
        .filter_map(|bytes| Policy::parse(std::str::from_utf8(bytes).ok()?, &relative).ok())
        .flat_map(|policy| policy.current)
        .collect()
}

/// The files of the repository the policy governs that hold a token of `tokens`.
fn files_holding(
    file: &PolicyFile,
    cwd: &Path,
    tokens: &BTreeSet<Fingerprint>,
) -> BTreeMap<String, BTreeSet<Fingerprint>> {
    let Some(top) = file.repository(cwd) else {
        return BTreeMap::new();
    };
    file.rules().install_key_names();
    let exclude = |walked: &Path| file.excludes_walked(cwd, walked);
    let top = PathBuf::from(crate::model::fs::relative_path(cwd, &top));
    scan::scan_paths(&[top], cwd, &exclude, Sweep::On, Ignore::Respect).files_holding(tokens)
}

pub fn revoke(args: RevokeArgs, cwd: &Path) -> u8 {
    let revoked = match parse_fingerprints(&args.fingerprints) {
        Ok(revoked) => revoked,
        Err(message) => return fail(&message),
    };
    let file = match PolicyFile::discover(cwd, args.config.as_deref()) {
        Ok(file) => file,
        Err(message) => return fail(&message),
    };
    let (Some(path), Some(policy)) = (&file.path, &file.policy) else {
        return fail(format!("{}; create one with `rekey init`", file.display));
    };
    warn_before_revoking(&revoked, &file, path, cwd);
    if let Some(name) = &args.harness_token {
        let [fingerprint] = revoked.as_slice() else {
            return fail(
                "--harness-token revokes one Harness token: give the one FINGERPRINT it holds",
            );
        };
        let config = args.config.as_deref();
        if let Err(code) = super::harness::revoke(fingerprint, name, cwd, config, &args.connection)
        {
            return code;
        }
    }
    let left_current = policy
        .current
        .iter()
        .filter(|f| !revoked.contains(f))
        .count();
    if !policy.current.is_empty() && left_current == 0 {
        report::warning(&format!(
            "this revokes the last token under [tokens] current in {}: until a token in force is listed there, no token is judged stale. `rekey rotate --new-token-env NEW_TOKEN --write` lists the new one",
            file.display
        ));
    }
    let updated = policy::read_text(path, &file.display).and_then(|text| {
        let updated = policy::revoke(&text, &file.display, &revoked)?;
        let target = apply::Target {
            path,
            display: &file.display,
            original: FileDigest::of(text.as_bytes()),
            content: apply::Content::Bytes(updated.as_bytes()),
        };
        let applied = apply::apply(&[target], apply::Options::default());
        applied.map_err(|e| Error::new(e.to_string()))
    });
    if let Err(message) = updated {
        if let Some(name) = &args.harness_token {
            return fail(format!("{message}; Harness token {name} is revoked already: fix this and rerun `rekey revoke {}` without --harness-token to mark it in the policy", revoked[0]));
        }
        return fail(&message);
    }
    let list: Vec<&str> = revoked.iter().map(Fingerprint::as_str).collect();
    report::to_stdout(&format!(
        "Revoked in {}: {}. rekey check now fails where a revoked token appears.\n",
        file.display,
        list.join(", ")
    ));
    EXIT_OK
}
