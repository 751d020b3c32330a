//! `rekey rotate` output: the unified diff of every file the rotation changes (token values
//! redacted to fingerprint labels unless `--show-secrets`) or, with `--stat`, one count line
//! per file; the summary line and the policy file's. `rotate_json` makes the
//! `rekey.rotate/v1` object, `next_steps` what to do after the rotation.

use super::scan::{plural, revoked_left_behind};
use super::{next_steps, Style};
use crate::error::Error;
use crate::find::scan::FileError;
use crate::find::sweep::Stray;
use crate::model::edit::{self, Edit, Text};
use crate::model::token::Fingerprint;
use crate::report::redact;
use crate::rotate::plan::{Change, FilePlan, Plan, ValueChange};
use crate::rotate::rotation::{Applied, Rotation, Status};
use similar::TextDiff;
use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use zeroize::Zeroizing;

/// Whether the diff may show token values.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    Redacted,
    Shown,
}

/// What happened, for the summary line.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    DryRun,
    Written,
    Committed,
}

impl Outcome {
    pub fn of(applied: &Applied) -> Outcome {
        match applied {
            Applied::Written => Outcome::Written,
            Applied::Committed { .. } => Outcome::Committed,
            Applied::DryRun | Applied::NotCommitted => Outcome::DryRun,
        }
    }
}

/// The whole text report of a rotation: each file's diff, the summary, the policy file and
/// where a commit went.
/// `stat` prints one line of counts per file instead of each diff.
pub fn text(rotation: &Rotation, secrets: Secrets, stat_only: bool, style: Style) -> String {
    let mut out = Vec::new();
    write_text(rotation, secrets, stat_only, style, &mut out).expect("writes to memory");
    String::from_utf8(out).expect("reports are text")
}

/// [`text`], written to `sink` one file's diff at a time.
pub fn write_text(
    rotation: &Rotation,
    secrets: Secrets,
    stat_only: bool,
    style: Style,
    sink: &mut dyn Write,
) -> std::io::Result<()> {
    let plan = &rotation.plan;
    let outcome = Outcome::of(&rotation.applied);
    let mut out = String::new();
    match rotation.status {
        Status::AlreadyRotated => out.push_str(&format!(
            "Already rotated: the sites hold {}; nothing left to rotate.\n",
            plan.new
        )),
        Status::Planned | Status::NothingToDo if stat_only => {
            write_stat_lines(plan, sink)?;
            out.push_str(&summary(plan, outcome));
        }
        Status::Planned | Status::NothingToDo => {
            for index in 0..plan.files.len() {
                let diff = file_diff(rotation, index, secrets).map_err(std::io::Error::other)?;
                sink.write_all(colour_diff(&diff, style).as_bytes())?;
            }
            out.push_str(&summary(plan, outcome));
        }
    }
    if let Some(update) = &rotation.policy_update {
        let kept = next_steps::still_held(rotation);
        out.push_str(&policy_updated(&update.display, plan, &kept, outcome));
    }
    out.push_str(&left_behind(&rotation.left_behind));
    out.push_str(&next_steps::outside(rotation));
    out.push_str(&revoked_left_behind(&rotation.revoked_left_behind));
    out.push_str(&unparsed(&rotation.unparsed));
    out.push_str(&format!("Policy: {}\n", rotation.policy));
    if !rotation.leftovers.is_empty() {
        let what = plural(rotation.leftovers.len(), "leftover temp file");
        let list = rotation.leftovers.join(", ");
        out.push_str(&match rotation.applied {
            Applied::Written => format!("Removed {what} of an interrupted run: {list}\n"),
            _ => format!(
                "Found {what} of an interrupted run (rotate --write removes them): {list}\n"
            ),
        });
    }
    if rotation.applied == Applied::NotCommitted {
        out.push_str("No commit was made.\n");
    }
    out.push_str(&next_steps::text(rotation));
    sink.write_all(out.as_bytes())
}

/// The unified diff of the rotation of the plan's `index`th file, read again (a rotation
/// keeps no file's bytes): refused when the file no longer holds what was planned, or
/// what was written.
pub fn file_diff(rotation: &Rotation, index: usize, secrets: Secrets) -> Result<String, Error> {
    let file_plan = &rotation.plan.files[index];
    let file = rotation.before_and_after(index)?;
    let (old, new) = match secrets {
        Secrets::Shown => (file.before, file.after),
        Secrets::Redacted => redacted_views(&rotation.plan, file_plan, &file.before),
    };
    let old = String::from_utf8_lossy(&old);
    let new = String::from_utf8_lossy(&new);
    let diff = unified_diff(&old, &new, &file_plan.file.display);
    Ok(match secrets {
        Secrets::Shown => diff,
        Secrets::Redacted => redact::mask(&diff),
    })
}

/// Lines of context around each change.
const CONTEXT: usize = 2;

/// The unified diff of a file whose edits never add or remove a line break (token values
/// and key names hold none): line `i` before is line `i` after, so the changed lines are
/// found in one pass, however many thousands of sites the file holds. Should the line
/// counts ever differ, a general diff takes over.
fn unified_diff(old: &str, new: &str, display: &str) -> String {
    let old_lines: Vec<&str> = old.split_inclusive('\n').collect();
    let new_lines: Vec<&str> = new.split_inclusive('\n').collect();
    if old_lines.len() != new_lines.len() {
        return TextDiff::from_lines(old, new)
            .unified_diff()
            .context_radius(CONTEXT)
            .header(&format!("a/{display}"), &format!("b/{display}"))
            .to_string();
    }
    let changed: Vec<usize> = (0..old_lines.len())
        .filter(|&i| old_lines[i] != new_lines[i])
        .collect();
    if changed.is_empty() {
        return String::new();
    }
    let mut out = format!("--- a/{display}\n+++ b/{display}\n");
    // Changes closer than twice the context share a hunk.
    let mut hunks: Vec<(usize, usize)> = Vec::new();
    for &line in &changed {
        match hunks.last_mut() {
            Some((_, last)) if line - *last <= 2 * CONTEXT + 1 => *last = line,
            _ => hunks.push((line, line)),
        }
    }
    let count = old_lines.len();
    let push_line = |out: &mut String, sign: char, line: &str| {
        out.push(sign);
        out.push_str(line);
        if !line.ends_with('\n') {
            out.push_str("\n\\ No newline at end of file\n");
        }
    };
    for (first, last) in hunks {
        let start = first.saturating_sub(CONTEXT);
        let end = (last + CONTEXT + 1).min(count);
        let range = |length: usize| match length {
            1 => format!("{}", start + 1),
            _ => format!("{},{length}", start + 1),
        };
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(end - start),
            range(end - start)
        ));
        let mut line = start;
        while line < end {
            if old_lines[line] == new_lines[line] {
                push_line(&mut out, ' ', old_lines[line]);
                line += 1;
                continue;
            }
            let block_end = (line..end)
                .find(|&i| old_lines[i] == new_lines[i])
                .unwrap_or(end);
            for old_line in &old_lines[line..block_end] {
                push_line(&mut out, '-', old_line);
            }
            for new_line in &new_lines[line..block_end] {
                push_line(&mut out, '+', new_line);
            }
            line = block_end;
        }
    }
    out
}

/// The file (`before` the rotation) before and after with every literal value replaced by
/// its fingerprint label.
fn redacted_views(
    plan: &Plan,
    file_plan: &FilePlan,
    before: &[u8],
) -> (Zeroizing<Vec<u8>>, Zeroizing<Vec<u8>>) {
    let file = file_plan.file;
    let labels: Vec<Edit> = file
        .sites
        .iter()
        .filter_map(|site| {
            let fingerprint = site.value.fingerprint()?;
            Some(Edit::visible(
                site.value_span.clone(),
                &redact::label(fingerprint),
            ))
        })
        .collect();
    let mut after = plan.edits(file_plan);
    let edited: HashSet<_> = after.iter().map(|e| e.span.clone()).collect();
    after.extend(labels.iter().filter(|l| !edited.contains(&l.span)).cloned());
    // The planner's spans never overlap, so neither can these; an empty view is still safe.
    let old = edit::apply(before, &labels, Text::Shown).unwrap_or_default();
    let new = edit::apply(before, &after, Text::Shown).unwrap_or_default();
    (Zeroizing::new(old), Zeroizing::new(new))
}

pub fn colour_diff(diff: &str, style: Style) -> String {
    diff.split_inclusive('\n')
        .map(|line| {
            let (body, end) = match line.strip_suffix('\n') {
                Some(body) => (body, "\n"),
                None => (line, ""),
            };
            let painted = if body.starts_with("+++") || body.starts_with("---") {
                style.bold(body)
            } else if body.starts_with('+') {
                style.green(body)
            } else if body.starts_with('-') {
                style.red(body)
            } else if body.starts_with("@@") {
                style.cyan(body)
            } else {
                body.to_owned()
            };
            painted + end
        })
        .collect()
}

/// `Rotated sha256:… -> sha256:… in 6 files: 9 sites rotated, …`.
pub fn summary(plan: &Plan, outcome: Outcome) -> String {
    if plan.is_empty() {
        return format!(
            "Nothing to rotate: no site holds a token other than {} and no legacy key needs migrating.\n",
            plan.new
        );
    }
    let action = match (outcome, old_tokens(plan)) {
        (Outcome::DryRun, Some(old)) => format!("Would rotate {old} -> {}", plan.new),
        (Outcome::Written | Outcome::Committed, Some(old)) => {
            format!("Rotated {old} -> {}", plan.new)
        }
        (Outcome::DryRun, None) => format!("Would write {}", plan.new),
        (Outcome::Written | Outcome::Committed, None) => format!("Wrote {}", plan.new),
    };
    let mut line = format!(
        "{action} in {}: {}.",
        plural(plan.files.len(), "file"),
        counts(all_changes(plan))
    );
    match outcome {
        Outcome::DryRun => line.push_str(" Dry run: nothing was written; add --write to apply."),
        Outcome::Written => line.push_str(" Every file was verified before it was written."),
        Outcome::Committed => line.push_str(" Every file was verified before it was committed."),
    }
    line.push('\n');
    line
}

/// The fingerprints being replaced, or `None` when only placeholders are filled.
fn old_tokens(plan: &Plan) -> Option<String> {
    let old: Vec<&str> = plan.rotated.iter().map(Fingerprint::as_str).collect();
    (!old.is_empty()).then(|| old.join(", "))
}

fn all_changes<'p>(plan: &'p Plan) -> impl Iterator<Item = &'p Change> {
    plan.files.iter().flat_map(|file_plan| &file_plan.changes)
}

/// How many sites a set of changes rotates, fills and migrates.
fn tally<'c>(changes: impl IntoIterator<Item = &'c Change>) -> [usize; 3] {
    let mut counts = [0; 3];
    for change in changes {
        match change.value {
            Some(ValueChange::Rotated { .. }) => counts[0] += 1,
            Some(ValueChange::Filled { .. }) => counts[1] += 1,
            None => {}
        }
        if change.renamed_to.is_some() {
            counts[2] += 1;
        }
    }
    counts
}

/// `27 sites rotated, 0 placeholders filled, 13 legacy keys migrated`.
fn counts<'c>(changes: impl IntoIterator<Item = &'c Change>) -> String {
    let [rotated, filled, renamed] = tally(changes);
    format!(
        "{} rotated, {} filled, {} migrated",
        plural(rotated, "site"),
        plural(filled, "placeholder"),
        plural(renamed, "legacy key"),
    )
}

/// The per-file lines of `--stat`: what changes in each file (zero counts left out), in
/// place of the diff, so a rotation across thousands of files stays readable.
pub fn stat_lines(plan: &Plan) -> String {
    let mut out = Vec::new();
    write_stat_lines(plan, &mut out).expect("writes to memory");
    String::from_utf8(out).expect("reports are text")
}

/// [`stat_lines`], written to `sink` a line at a time (tens of thousands of files).
fn write_stat_lines(plan: &Plan, sink: &mut dyn Write) -> std::io::Result<()> {
    let width = plan
        .files
        .iter()
        .map(|file_plan| file_plan.file.display.chars().count())
        .max()
        .unwrap_or(0);
    for file_plan in &plan.files {
        let [rotated, filled, renamed] = tally(&file_plan.changes);
        let parts: Vec<String> = [
            (rotated, "rotated"),
            (filled, "filled"),
            (renamed, "migrated"),
        ]
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, verb)| format!("{count} {verb}"))
        .collect();
        let line = format!(
            " {:<width$} | {}\n",
            file_plan.file.display,
            parts.join(", ")
        );
        sink.write_all(redact::mask(&line).as_bytes())?;
    }
    Ok(())
}

/// The copies of the old token a rotation cannot reach, to remove before revoking it.
fn left_behind(strays: &[Stray]) -> String {
    super::scan::left_behind(strays, "the old token", "remove them before revoking it")
}

/// The files the rotation could not parse and left alone: none holds a token it rotates.
fn unparsed(errors: &[FileError]) -> String {
    errors
        .iter()
        .map(|error| match error.position {
            Some((line, column)) => format!(
                "{}:{line}:{column}: could not be parsed (holds no token being rotated): left as is\n",
                error.display
            ),
            None => format!(
                "{}: could not be parsed (holds no token being rotated): left as is\n",
                error.display
            ),
        })
        .collect()
}

/// The policy file line: `current` now lists the new token, and still the old ones in
/// `kept` (the rest of the repository holds them).
pub fn policy_updated(
    display: &str,
    plan: &Plan,
    kept: &BTreeSet<Fingerprint>,
    outcome: Outcome,
) -> String {
    let verb = match outcome {
        Outcome::DryRun => "Would update",
        Outcome::Written | Outcome::Committed => "Updated",
    };
    let still = if kept.is_empty() {
        String::new()
    } else {
        let kept: Vec<&str> = kept.iter().map(Fingerprint::as_str).collect();
        format!(
            ", and still {}: files outside the rotated paths hold it",
            kept.join(", ")
        )
    };
    format!(
        "{verb} {display}: [tokens] current now lists {}{still}.\n",
        plan.new
    )
}

/// The plan's notes, then the note for rotated files whose working-tree copy has edits the
/// commit does not hold.
pub fn notes(rotation: &Rotation) -> Vec<String> {
    let mut notes = rotation.plan.notes.clone();
    if !rotation.uncommitted.is_empty() {
        notes.push(uncommitted_note(&rotation.uncommitted));
    }
    notes
}

/// `--commit` rotates the base commit's version, never the working tree's.
fn uncommitted_note(paths: &[String]) -> String {
    let has = if paths.len() == 1 { "has" } else { "have" };
    format!(
        "{} {has} uncommitted edits that the commit does not include (it rotates the committed version): {}; commit them first and rerun, or carry them onto the new branch",
        plural(paths.len(), "rotated file"),
        paths.join(", ")
    )
}

/// The commit message of a `--commit` rotation: what happened, in fingerprints only, and a
/// `Rekey-Rotation:` trailer that tooling can search for.
pub fn commit_message(plan: &Plan, subject: Option<&str>) -> String {
    let from = old_tokens(plan).unwrap_or_else(|| "placeholders".to_owned());
    let default_subject = format!("Rotate Harness delegate token {from} -> {}", plan.new);
    let subject = subject.map(str::trim).filter(|s| !s.is_empty());
    let mut message = format!("{}\n\n", subject.unwrap_or(&default_subject));
    message.push_str(&format!(
        "Old: {from}\nNew: {}\n\n{}, in {}:\n",
        plan.new,
        counts(all_changes(plan)),
        plural(plan.files.len(), "file"),
    ));
    for file_plan in &plan.files {
        message.push_str(&format!(
            "  {} ({})\n",
            file_plan.file.display,
            plural(file_plan.changes.len(), "change")
        ));
    }
    message.push_str(&format!("\nRekey-Rotation: {from} -> {}\n", plan.new));
    redact::mask(&message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The general diff, for comparison.
    fn similar_diff(old: &str, new: &str) -> String {
        TextDiff::from_lines(old, new)
            .unified_diff()
            .context_radius(CONTEXT)
            .header("a/f", "b/f")
            .to_string()
    }

    #[test]
    fn the_line_aligned_diff_matches_the_general_one() {
        let lines: Vec<String> = (0..30).map(|i| format!("line {i}\n")).collect();
        // Changes at the edges, close together (sharing a hunk) and just far enough apart
        // to split, and a last line without a line break.
        for changed in [
            vec![0],
            vec![29],
            vec![3, 4, 5],
            vec![3, 8],
            vec![3, 9],
            vec![3, 10],
            vec![0, 14, 29],
        ] {
            for final_newline in [true, false] {
                let mut old = lines.concat();
                if !final_newline {
                    old.pop();
                }
                let new: String = old
                    .split_inclusive('\n')
                    .enumerate()
                    .map(|(i, line)| {
                        if changed.contains(&i) {
                            line.replacen("line", "LINE", 1)
                        } else {
                            line.to_owned()
                        }
                    })
                    .collect();
                assert_eq!(
                    unified_diff(&old, &new, "f"),
                    similar_diff(&old, &new),
                    "changed {changed:?}, final newline {final_newline}"
                );
            }
        }
    }
}
