//! The verify stage: every rewritten buffer is spliced, re-parsed and re-scanned before
//! anything is written. The file must still parse, every changed site must now hold the new
//! token in the encoding planned (under its new key name when renamed), and every other site
//! must be exactly as it was. A file that fails is never written.

use crate::error::Error;
use crate::model::edit::{self, Edit, Text};
use crate::model::position::line_col;
use crate::model::site::{Role, Site};
use crate::model::token::Fingerprint;
use crate::rotate::plan::{Change, FilePlan};
use std::collections::HashMap;
use zeroize::Zeroizing;

/// Splices `edits` (those of `file_plan`'s changes) into `original` (the bytes the file was
/// planned from) and verifies the result: the new bytes, or an error naming the file and
/// where it failed.
pub fn rewrite(
    file_plan: &FilePlan,
    edits: &[Edit],
    original: &[u8],
    new: &Fingerprint,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let file = file_plan.file;
    let fail = |offset: usize, what: &str| {
        let (line, column) = line_col(original, offset);
        format!(
            "{}:{line}:{column}: the rewrite failed verification ({what}); the file was left as it is",
            file.display
        )
    };
    let bytes = Zeroizing::new(
        edit::apply(original, edits, Text::Replacement)
            .map_err(|error| fail(0, &error.to_string()))?,
    );
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
        return Err(Error::new(fail(
            0,
            &format!("{} sites before, {} after", before.len(), after.len()),
        )));
    }
    let changes: HashMap<usize, &Change> = file_plan.changes.iter().map(|c| (c.site, c)).collect();
    for ((index, before), after) in before.into_iter().zip(after) {
        let change = changes.get(&index);
        let expected_key = change.and_then(|c| c.renamed_to).unwrap_or(&before.key);
        if after.key != expected_key {
            return Err(Error::new(fail(
                before.location,
                "a key changed that was not meant to",
            )));
        }
        match change.and_then(|c| c.value.as_ref()) {
            Some(value) => {
                let holds_new = after.value.fingerprint() == Some(new)
                    && after.value.encoding() == Some(value.encoding())
                    && after.limit.is_none();
                if !holds_new {
                    return Err(Error::new(fail(
                        before.location,
                        "the site does not read back as the new token",
                    )));
                }
            }
            None if after.value != before.value => {
                return Err(Error::new(fail(
                    before.location,
                    "a value changed that was not meant to",
                )));
            }
            None => {}
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    //! Each test hands `verify` a rewrite that breaks one promise; each fails if the check
    //! that catches it is removed.

    use super::*;
    use crate::find::scan::{scan_file, ScannedFile};
    use crate::find::walk::SourceFile;
    use crate::model::token::{Encoding, NewToken};
    use crate::rotate::plan::ValueChange;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use std::path::PathBuf;

    const OLD: &str = "0123456789abcdef0123456789abcdef";
    const NEW: &str = "fedcba9876543210fedcba9876543210";
    const TEXT: &str =
        "delegateToken: 0123456789abcdef0123456789abcdef\nother:\n  delegateToken: 0123456789abcdef0123456789abcdef\n";

    fn scanned() -> ScannedFile {
        let file = SourceFile::new(
            PathBuf::from("values.yaml"),
            "values.yaml".to_owned(),
            TEXT.as_bytes().to_vec(),
        );
        scan_file(file).unwrap().unwrap()
    }

    /// Runs verify on `edits` claimed to rotate only the first site.
    fn verify(file: &ScannedFile, edits: Vec<Edit>) -> Result<(), String> {
        let new = NewToken::parse(NEW).unwrap();
        let file_plan = FilePlan {
            file,
            changes: vec![Change {
                site: 0,
                value: Some(ValueChange::Rotated {
                    encoding: Encoding::Hex,
                }),
                renamed_to: None,
            }],
        };
        rewrite(&file_plan, &edits, TEXT.as_bytes(), new.fingerprint())
            .map(|_| ())
            .map_err(|f| f.to_string())
    }

    fn at(text: &str, nth: usize) -> std::ops::Range<usize> {
        let start = TEXT.match_indices(text).nth(nth).unwrap().0;
        start..start + text.len()
    }

    fn first_value() -> Edit {
        Edit::visible(at(OLD, 0), NEW)
    }

    #[test]
    fn the_planned_rewrite_verifies() {
        verify(&scanned(), vec![first_value()]).unwrap();
    }

    #[test]
    fn a_rewrite_that_does_not_parse_is_refused() {
        let broken = Edit::visible(at("other:", 0), "other: [");
        let error = verify(&scanned(), vec![first_value(), broken]).unwrap_err();
        assert!(error.contains("does not parse"), "{error}");
    }

    #[test]
    fn a_rewrite_that_adds_a_site_is_refused() {
        let added = Edit::visible(at("other:", 0), "accountSecret: x\nother:");
        let error = verify(&scanned(), vec![first_value(), added]).unwrap_err();
        assert!(error.contains("2 sites before, 3 after"), "{error}");
    }

    #[test]
    fn a_rewrite_that_renames_an_unplanned_key_is_refused() {
        let renamed = Edit::visible(at("delegateToken", 1), "accountSecret");
        let error = verify(&scanned(), vec![first_value(), renamed]).unwrap_err();
        assert!(error.contains("values.yaml:3:18: the rewrite failed verification (a key changed that was not meant to)"), "{error}");
    }

    #[test]
    fn a_rewrite_that_changes_an_unplanned_value_is_refused() {
        let changed = Edit::visible(at(OLD, 1), NEW);
        let error = verify(&scanned(), vec![first_value(), changed]).unwrap_err();
        assert!(
            error.contains("(a value changed that was not meant to)"),
            "{error}"
        );
    }

    #[test]
    fn a_rotated_site_that_does_not_read_back_as_the_new_token_is_refused() {
        let wrong = Edit::visible(at(OLD, 0), "0000000000000000ffffffffffffffff");
        let error = verify(&scanned(), vec![wrong]).unwrap_err();
        assert!(error.contains("values.yaml:1:16: the rewrite failed verification (the site does not read back as the new token)"), "{error}");
        // The planned encoding counts too: the new token in base64 where hex was planned.
        let encoded = Edit::visible(at(OLD, 0), &STANDARD.encode(NEW));
        let error = verify(&scanned(), vec![encoded]).unwrap_err();
        assert!(
            error.contains("does not read back as the new token"),
            "{error}"
        );
    }
}
