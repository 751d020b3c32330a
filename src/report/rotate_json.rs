//! The `rekey.rotate/v1` JSON object of a rotation: mode, status, policy, each file's
//! changes with its redacted diff, what was left behind or left as is, the rest of the
//! repository's holders of the old token, notes and the commit.

use super::next_steps;
use super::rotate::{file_diff, notes, Secrets};
use super::Streamed;
use crate::error::Error;
use crate::model::token::Fingerprint;
use crate::report::redact;
use crate::rotate::plan::ValueChange;
use crate::rotate::rotation::{Applied, Rotation, Status};
use serde::Serialize;

#[derive(Serialize)]
struct ChangeRecord {
    line: usize,
    column: usize,
    key: String,
    action: &'static str,
    encoding: Option<&'static str>,
    renamed_to: Option<&'static str>,
}

#[derive(Serialize)]
pub struct FileRecord {
    path: String,
    changes: Vec<ChangeRecord>,
    diff: String,
}

/// The `rekey.rotate/v1` object. It owns its data, so that a rotation rendered on one
/// thread (one of many repositories) can be serialized on another.
#[derive(Serialize)]
pub struct RotateReport<Files = Vec<FileRecord>> {
    schema: &'static str,
    mode: &'static str,
    /// `planned`, `already-rotated` or `nothing-to-do`.
    status: &'static str,
    /// The policy file that applies, or where rekey looked for one.
    policy: String,
    /// Whether `[tokens] current` changes (or would, in a dry run).
    policy_updated: bool,
    /// rekey's own temp files left by an interrupted run.
    leftovers: Vec<String>,
    /// Copies of a rotated or revoked token outside every site.
    left_behind: Vec<StrayRecord>,
    /// Files that could not be parsed and hold no token being rotated: left as is.
    unparsed: Vec<UnparsedRecord>,
    old: Vec<Fingerprint>,
    new: Fingerprint,
    files: Files,
    notes: Vec<String>,
    /// A rotation of less than the whole repository: what the rest still holds.
    outside: Option<OutsideRecord>,
    /// What finishes the rotation, in order (none after a dry run).
    next_steps: Vec<next_steps::NextStep>,
    #[serde(skip_serializing_if = "Option::is_none")]
    commit: Option<CommitRecord>,
}

#[derive(Serialize)]
struct OutsideRecord {
    /// The repository's top, from the current directory.
    top: String,
    files: Vec<HolderRecord>,
    unjudged: Vec<String>,
    /// The command that rotates them, in the rotation's mode.
    command: Option<String>,
}

#[derive(Serialize)]
struct HolderRecord {
    path: String,
    fingerprints: Vec<Fingerprint>,
}

#[derive(Serialize)]
struct StrayRecord {
    path: String,
    line: usize,
    column: usize,
    fingerprint: Fingerprint,
    /// Listed under `[tokens] revoked` rather than rotated by this run.
    revoked: bool,
}

/// A file left as is: the scan's error record, owned (a report outlives its scan).
#[derive(Serialize)]
struct UnparsedRecord {
    path: String,
    line: Option<usize>,
    column: Option<usize>,
    message: String,
}

#[derive(Serialize)]
struct CommitRecord {
    branch: String,
    id: String,
}

/// The `rekey.rotate/v1` object of a rotation, owning its data (see [`RotateReport`]).
pub fn record(rotation: &Rotation, secrets: Secrets) -> Result<RotateReport, Error> {
    let files = (0..rotation.plan.files.len())
        .map(|index| file_record(rotation, index, secrets))
        .collect::<Result<_, _>>()?;
    Ok(report_with(rotation, files))
}

/// The `rekey.rotate/v1` object of a rotation, each file's record made as it is written;
/// serializing it fails where a file's diff cannot be shown (see [`file_diff`]).
pub fn streamed<'a>(rotation: &'a Rotation<'a>, secrets: Secrets) -> impl Serialize + 'a {
    report_with(
        rotation,
        Streamed(move || {
            (0..rotation.plan.files.len())
                .map(move |index| Shown(file_record(rotation, index, secrets)))
        }),
    )
}

/// A file's record, or why it cannot be shown: an error of the serializer, which stops the
/// report there.
struct Shown(Result<FileRecord, Error>);

impl Serialize for Shown {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Ok(record) => record.serialize(serializer),
            Err(error) => Err(serde::ser::Error::custom(error)),
        }
    }
}

fn file_record(rotation: &Rotation, index: usize, secrets: Secrets) -> Result<FileRecord, Error> {
    let file_plan = &rotation.plan.files[index];
    Ok(FileRecord {
        path: file_plan.file.display.clone(),
        changes: file_plan
            .changes
            .iter()
            .map(|change| {
                let site = &file_plan.file.sites[change.site];
                let (line, column) = file_plan.file.line_col(site.location);
                ChangeRecord {
                    line,
                    column,
                    key: site.key.to_string(),
                    action: match change.value {
                        Some(ValueChange::Rotated { .. }) => "rotated",
                        Some(ValueChange::Filled { .. }) => "filled",
                        None => "renamed",
                    },
                    encoding: change.value.as_ref().map(|v| v.encoding().name()),
                    renamed_to: change.renamed_to,
                }
            })
            .collect(),
        diff: file_diff(rotation, index, secrets)?,
    })
}

fn report_with<Files>(rotation: &Rotation, files: Files) -> RotateReport<Files> {
    let plan = &rotation.plan;
    RotateReport {
        schema: "rekey.rotate/v1",
        mode: match rotation.applied {
            Applied::DryRun => "dry-run",
            Applied::Written => "write",
            Applied::Committed { .. } | Applied::NotCommitted => "commit",
        },
        status: match rotation.status {
            Status::Planned => "planned",
            Status::AlreadyRotated => "already-rotated",
            Status::NothingToDo => "nothing-to-do",
        },
        policy: rotation.policy.clone(),
        policy_updated: rotation.policy_update.is_some(),
        leftovers: rotation.leftovers.clone(),
        left_behind: [
            (&rotation.left_behind, false),
            (&rotation.revoked_left_behind, true),
        ]
        .into_iter()
        .flat_map(|(strays, revoked)| strays.iter().map(move |stray| (stray, revoked)))
        .map(|(stray, revoked)| StrayRecord {
            path: stray.display.to_string(),
            line: stray.line,
            column: stray.column,
            fingerprint: stray.fingerprint.clone(),
            revoked,
        })
        .collect(),
        unparsed: rotation
            .unparsed
            .iter()
            .map(|error| UnparsedRecord {
                path: error.display.clone(),
                line: error.position.map(|p| p.0),
                column: error.position.map(|p| p.1),
                message: redact::mask(&error.message),
            })
            .collect(),
        old: plan.rotated.iter().cloned().collect(),
        new: plan.new.clone(),
        files,
        notes: notes(rotation).iter().map(|n| redact::mask(n)).collect(),
        outside: rotation.outside.as_ref().map(|outside| OutsideRecord {
            top: outside.top.clone(),
            files: outside
                .holders
                .iter()
                .map(|holder| HolderRecord {
                    path: holder.path.clone(),
                    fingerprints: holder.tokens.iter().cloned().collect(),
                })
                .collect(),
            unjudged: outside.unjudged.clone(),
            command: next_steps::rotate_rest_command(rotation).map(|c| redact::mask(&c)),
        }),
        next_steps: next_steps::steps(rotation)
            .into_iter()
            .map(|step| next_steps::NextStep {
                command: step.command.map(|c| redact::mask(&c)),
                text: redact::mask(&step.text),
                ..step
            })
            .collect(),
        commit: match &rotation.applied {
            Applied::Committed { branch, id } => Some(CommitRecord {
                branch: branch.clone(),
                id: id.clone(),
            }),
            _ => None,
        },
    }
}
