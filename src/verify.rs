//! The verify stage: every rewritten buffer is spliced, re-parsed and re-scanned before
//! anything is written. The file must still parse, every changed site must now hold the new
//! token in the encoding planned (under its new key name when renamed), and every other site
//! must be exactly as it was. A file that fails is never written.

use crate::edit::{self, Text};
use crate::plan::{Change, FilePlan, Plan};
use crate::site::{Role, Site};
use crate::token::Fingerprint;
use std::collections::HashMap;

/// A file's new bytes, verified.
pub struct Rewrite<'p, 'a> {
    pub plan: &'p FilePlan<'a>,
    pub bytes: Vec<u8>,
}

/// Splices and verifies every file of `plan`; all of them or an error naming each failure.
pub fn rewrite_all<'p, 'a>(plan: &'p Plan<'a>) -> Result<Vec<Rewrite<'p, 'a>>, Vec<String>> {
    let mut rewrites = Vec::new();
    let mut failures = Vec::new();
    for file_plan in &plan.files {
        match rewrite(file_plan, &plan.new) {
            Ok(bytes) => rewrites.push(Rewrite {
                plan: file_plan,
                bytes,
            }),
            Err(failure) => failures.push(failure),
        }
    }
    if failures.is_empty() {
        Ok(rewrites)
    } else {
        Err(failures)
    }
}

fn rewrite(file_plan: &FilePlan, new: &Fingerprint) -> Result<Vec<u8>, String> {
    let file = file_plan.file;
    let fail = |offset: usize, what: &str| {
        let (line, column) = file.line_col(offset);
        format!(
            "{}:{line}:{column}: the rewrite failed verification ({what}); the file was left as it is",
            file.display
        )
    };
    let bytes = edit::apply(&file.bytes, &file_plan.edits, Text::Replacement)
        .map_err(|error| fail(0, &error.to_string()))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| fail(0, "not UTF-8 after the splice"))?;
    let after = file
        .format
        .scan(text)
        .map_err(|error| fail(error.offset, &format!("does not parse: {}", error.message)))?;
    // A renamed mention is no longer a legacy mention: mentions are compared by the splice
    // alone, every other site by re-scanning.
    let before: Vec<(usize, &Site)> = file
        .sites
        .iter()
        .enumerate()
        .filter(|(_, s)| s.role != Role::KeyMention)
        .collect();
    let after: Vec<&Site> = after
        .iter()
        .filter(|s| s.role != Role::KeyMention)
        .collect();
    if after.len() != before.len() {
        return Err(fail(
            0,
            &format!("{} sites before, {} after", before.len(), after.len()),
        ));
    }
    let changes: HashMap<usize, &Change> = file_plan.changes.iter().map(|c| (c.site, c)).collect();
    for ((index, before), after) in before.into_iter().zip(after) {
        let change = changes.get(&index);
        let expected_key = change
            .and_then(|c| c.renamed_to)
            .unwrap_or(before.key.as_str());
        if after.key != expected_key {
            return Err(fail(before.location, "a key changed that was not meant to"));
        }
        match change.and_then(|c| c.value.as_ref()) {
            Some(value) => {
                let holds_new = after.value.fingerprint() == Some(new)
                    && after.value.encoding() == Some(value.encoding())
                    && after.limit.is_none();
                if !holds_new {
                    return Err(fail(
                        before.location,
                        "the site does not read back as the new token",
                    ));
                }
            }
            None if after.value != before.value => {
                return Err(fail(
                    before.location,
                    "a value changed that was not meant to",
                ));
            }
            None => {}
        }
    }
    Ok(bytes)
}
