//! `rekey rotate --repo … --commit` output: each repository's redacted diff (or `--stat`
//! lines) under a `==> repository <==` heading, a summary table (repository, branch, files,
//! sites, result), a count line and the next steps (push each branch, open the reviews,
//! roll out, revoke); or one `rekey.rotate-repos/v1` JSON object holding each repository's
//! `rekey.rotate/v1` object.

use super::rotate::{self as rotate_report, Secrets};
use super::rotate_json::{self, RotateReport};
use super::{next_steps, Style};
use crate::error::Error;
use crate::model::fs::display_path;

use crate::model::token::Fingerprint;
use crate::report::redact;
use crate::rotate::many::{Outcome, RepoRotation};
use crate::rotate::rotation::{Prepared, Rotation, Status};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::Path;

/// How each repository's rotation is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum View {
    Diff,
    Stat,
    Json,
}

/// One repository's share of the report, rendered on the thread that rotated it.
pub struct Part {
    body: Body,
    /// For stderr, each naming the repository: files not rotated, then (text only) notes.
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
    rotated: BTreeSet<Fingerprint>,
}

enum Body {
    Text(String),
    Json(Box<RotateReport>),
}

pub fn part(
    label: &str,
    prepared: &Prepared,
    rotation: &Rotation,
    secrets: Secrets,
    view: View,
    style: Style,
) -> Result<Part, Error> {
    let plan = &rotation.plan;
    let body = match view {
        View::Json => Body::Json(Box::new(rotate_json::record(rotation, secrets)?)),
        View::Diff | View::Stat => Body::Text(section(rotation, secrets, view, style)?),
    };
    let warnings = prepared
        .scan
        .skipped
        .iter()
        .map(|skipped| {
            format!(
                "{label}: {}: not rotated: {}; it may still hold the old token",
                skipped.display, skipped.reason
            )
        })
        .collect();
    let notes = match view {
        View::Json => Vec::new(),
        View::Diff | View::Stat => rotate_report::notes(rotation)
            .iter()
            .map(|n| format!("{label}: {n}"))
            .collect(),
    };
    Ok(Part {
        body,
        warnings,
        notes,
        rotated: plan.rotated.clone(),
    })
}

/// What the rotation changes in one repository: the diffs or `--stat` lines, the policy
/// file's update, the policy that applied.
fn section(
    rotation: &Rotation,
    secrets: Secrets,
    view: View,
    style: Style,
) -> Result<String, Error> {
    let plan = &rotation.plan;
    let mut out = match rotation.status {
        Status::AlreadyRotated => format!(
            "Already rotated: the sites hold {}; nothing left to rotate.\n",
            plan.new
        ),
        Status::NothingToDo => rotate_report::summary(plan, rotate_report::Outcome::DryRun),
        Status::Planned if view == View::Stat => rotate_report::stat_lines(plan),
        Status::Planned => (0..plan.files.len())
            .map(|index| {
                let diff = rotate_report::file_diff(rotation, index, secrets)?;
                Ok(rotate_report::colour_diff(&diff, style))
            })
            .collect::<Result<_, Error>>()?,
    };
    if let Some(update) = &rotation.policy_update {
        let applied = rotate_report::Outcome::of(&rotation.applied);
        out.push_str(&rotate_report::policy_updated(
            &update.display,
            plan,
            &BTreeSet::new(),
            applied,
        ));
    }
    out.push_str(&format!("Policy: {}\n", rotation.policy));
    Ok(out)
}

/// The whole text report. `cwd`: where the push commands run from.
pub fn text(
    rotations: &[RepoRotation<Part>],
    committing: bool,
    cwd: &Path,
    style: Style,
) -> String {
    let mut out = String::new();
    for rotation in rotations {
        if let Some(Part {
            body: Body::Text(section),
            ..
        }) = &rotation.rendered
        {
            let heading = format!("==> {} <==", rotation.repository.label);
            out.push_str(&format!("{}\n{section}\n", style.bold(&heading)));
        }
    }
    out.push_str(&table(rotations, style));
    out.push('\n');
    out.push_str(&counts(rotations));
    if !committing {
        out.push_str(
            "Dry run: nothing was committed; add --commit to commit on a new branch in each repository.\n",
        );
        return out;
    }
    let committed: Vec<(&RepoRotation<Part>, &str)> = rotations
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Committed { branch, .. } => Some((r, branch.as_str())),
            _ => None,
        })
        .collect();
    let Some((_, example)) = committed.first() else {
        return out;
    };
    out.push_str(
        "Next (rekey never pushes):\n  1. Push each new branch and open a pull request (merge request) from it:\n",
    );
    for (rotation, branch) in &committed {
        let dir = display_path(&rotation.repository.dir, cwd);
        out.push_str(&format!("       git -C {dir} push origin {branch}\n"));
    }
    out.push_str(&format!(
        "     then, in each: gh pr create --head {example} --fill, or glab mr create --source-branch {example} --fill\n     \
         (the README's \"Many repositories in one run\" loops over them).\n"
    ));
    let rotated: BTreeSet<Fingerprint> = committed
        .iter()
        .filter_map(|(r, _)| r.rendered.as_ref())
        .flat_map(|part| part.rotated.iter().cloned())
        .collect();
    out.push_str(&next_steps::after_review(&rotated));
    out
}

/// `REPOSITORY  BRANCH  FILES  SITES  RESULT`, one row per repository in the order given.
fn table(rotations: &[RepoRotation<Part>], style: Style) -> String {
    let header = ["REPOSITORY", "BRANCH", "FILES", "SITES", "RESULT"].map(str::to_owned);
    let rows: Vec<[String; 5]> = rotations
        .iter()
        .map(|rotation| {
            let (branch, result) = match &rotation.outcome {
                Outcome::Committed { branch, short, .. } => {
                    (branch.clone(), format!("committed {short}"))
                }
                Outcome::WouldCommit { branch } => (branch.clone(), "would commit".to_owned()),
                Outcome::AlreadyRotated => ("-".to_owned(), "already rotated".to_owned()),
                Outcome::NothingToRotate => ("-".to_owned(), "nothing to rotate".to_owned()),
                Outcome::Failed(reason) => {
                    ("-".to_owned(), format!("failed: {}", first_line(reason)))
                }
            };
            let (files, sites) = match rotation.outcome {
                Outcome::Failed(_) => ("-".to_owned(), "-".to_owned()),
                _ => (rotation.files.to_string(), rotation.sites.to_string()),
            };
            [
                rotation.repository.label.clone(),
                branch,
                files,
                sites,
                result,
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..4)
        .map(|column| {
            rows.iter()
                .chain([&header])
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |row: &[String; 5]| {
        let mut out = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            out.push_str(&format!("{cell:<width$}  "));
        }
        out.push_str(&row[4]);
        format!("{}\n", out.trim_end())
    };
    let mut out = style.bold(&line(&header));
    for row in &rows {
        out.push_str(&line(row));
    }
    out
}

/// The first line of a reason, without the colon that introduces a list.
fn first_line(reason: &str) -> &str {
    let line = reason.lines().next().unwrap_or_default();
    line.strip_suffix(':').unwrap_or(line)
}

/// `4 repositories: 2 committed, 1 already rotated, 0 with nothing to rotate, 1 failed.`
fn counts(rotations: &[RepoRotation<Part>]) -> String {
    let count =
        |wanted: fn(&Outcome) -> bool| rotations.iter().filter(|r| wanted(&r.outcome)).count();
    let done = count(|o| matches!(o, Outcome::Committed { .. } | Outcome::WouldCommit { .. }));
    let verb = if rotations
        .iter()
        .any(|r| matches!(r.outcome, Outcome::WouldCommit { .. }))
    {
        "would commit"
    } else {
        "committed"
    };
    let repositories = match rotations.len() {
        1 => "1 repository".to_owned(),
        n => format!("{n} repositories"),
    };
    format!(
        "{repositories}: {done} {verb}, {} already rotated, {} with nothing to rotate, {} failed.\n",
        count(|o| *o == Outcome::AlreadyRotated),
        count(|o| *o == Outcome::NothingToRotate),
        count(|o| matches!(o, Outcome::Failed(_))),
    )
}

#[derive(Serialize)]
struct ReposReport<'a> {
    schema: &'static str,
    mode: &'static str,
    repositories: Vec<RepoRecord<'a>>,
}

#[derive(Serialize)]
struct RepoRecord<'a> {
    repository: &'a str,
    /// `committed`, `would-commit`, `already-rotated`, `nothing-to-rotate` or `failed`.
    result: &'static str,
    branch: Option<&'a str>,
    files: usize,
    sites: usize,
    /// Why the repository failed.
    error: Option<String>,
    /// The repository's `rekey.rotate/v1` object; null when it failed.
    rotation: Option<&'a RotateReport>,
}

/// The `rekey.rotate-repos/v1` object.
pub fn json(rotations: &[RepoRotation<Part>], committing: bool) -> String {
    let repositories = rotations
        .iter()
        .map(|rotation| {
            let (result, branch) = match &rotation.outcome {
                Outcome::Committed { branch, .. } => ("committed", Some(branch.as_str())),
                Outcome::WouldCommit { branch } => ("would-commit", Some(branch.as_str())),
                Outcome::AlreadyRotated => ("already-rotated", None),
                Outcome::NothingToRotate => ("nothing-to-rotate", None),
                Outcome::Failed(_) => ("failed", None),
            };
            RepoRecord {
                repository: &rotation.repository.label,
                result,
                branch,
                files: rotation.files,
                sites: rotation.sites,
                error: match &rotation.outcome {
                    Outcome::Failed(reason) => Some(redact::mask(reason)),
                    _ => None,
                },
                rotation: match &rotation.rendered {
                    Some(Part {
                        body: Body::Json(record),
                        ..
                    }) => Some(record),
                    _ => None,
                },
            }
        })
        .collect();
    super::json(&ReposReport {
        schema: "rekey.rotate-repos/v1",
        mode: if committing { "commit" } else { "dry-run" },
        repositories,
    })
}
