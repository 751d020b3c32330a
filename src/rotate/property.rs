//! The rotate property, stated once for the cargo-fuzz target (`fuzz/`) and the property
//! tests (`tests/properties.rs`): for any file, under any name rekey recognises,
//!
//! 1. scanning, planning, verifying and splicing never panic;
//! 2. a rotation (`--all`) changes nothing but token values and legacy key names: every
//!    other byte is where it was, and each changed span holds the new token in its site's
//!    encoding or the key's current name;
//! 3. a second rotation of the result changes nothing.
//!
//! A rotation that is refused (an ambiguous or unrewritable value, a rewrite that fails
//! verification) satisfies the property: nothing is written.

use crate::error::Error;
use crate::find::scan::{scan_file, Scan, ScannedFile};
use crate::find::walk::SourceFile;
use crate::model::site::Span;
use crate::model::token::NewToken;
use crate::rotate::plan::{self, RotateOptions};
use crate::rotate::verify;
use std::path::PathBuf;
use zeroize::Zeroizing;

/// One file name per scanner: the property is tried under each (the fuzz target picks one
/// by the input's first byte).
pub const FILE_NAMES: [&str; 11] = [
    "x.yaml",
    "x.json",
    "x.toml",
    "x.tf",
    "x.tfstate",
    "x.sh",
    ".env",
    "Dockerfile",
    "x.service",
    "templates/x.yaml",
    "config-watcher.yml",
];

/// The made-up token every property run rotates to.
const NEW: &str = "5eed5eed5eed5eed5eed5eed5eed5eed";

/// Checks the property on `bytes` read as a file called `name`; the error says which part
/// broke.
pub fn check(name: &str, bytes: &[u8]) -> Result<(), Error> {
    let new = NewToken::parse(NEW).expect("a valid token");
    let Some(file) = scanned(name, bytes) else {
        return Ok(());
    };
    let Some(rotated) = rotate(file, bytes, &new) else {
        return Ok(());
    };
    let file = scanned(name, bytes).expect("scanned once already");
    only_sites_changed(&file, bytes, &rotated, &new)?;
    if let Some(again) = scanned(name, &rotated).and_then(|file| rotate(file, &rotated, &new)) {
        if again != rotated {
            return Err(Error::new(
                "a second rotation changed the file again".to_owned(),
            ));
        }
    }
    Ok(())
}

fn scanned(name: &str, bytes: &[u8]) -> Option<ScannedFile> {
    let file = SourceFile::new(PathBuf::from(name), name.to_owned(), bytes.to_vec());
    scan_file(file).ok().flatten()
}

/// The rotated bytes of `file`, scanned from `bytes`, or `None` when the rotation changes
/// nothing or is refused.
fn rotate(file: ScannedFile, bytes: &[u8], new: &NewToken) -> Option<Zeroizing<Vec<u8>>> {
    let scan = Scan {
        files: vec![Box::new(file)],
        ..Scan::default()
    };
    let options = RotateOptions {
        all: true,
        ..RotateOptions::default()
    };
    let plan = plan::plan(&scan, new, &options).ok()?;
    let file_plan = plan.files.first()?;
    verify::rewrite(file_plan, &plan.edits(file_plan), bytes, &plan.new).ok()
}

/// `rotated` is `original` (which `file` was scanned from) with some site spans replaced by
/// what a rotation may write there, and no other byte changed.
fn only_sites_changed(
    file: &ScannedFile,
    original: &[u8],
    rotated: &[u8],
    new: &NewToken,
) -> Result<(), Error> {
    let mut spans: Vec<(Span, Vec<u8>)> = Vec::new();
    for site in &file.sites {
        if let (true, Some(encoding)) = (site.value.is_token(), site.value.encoding()) {
            spans.push((
                site.value_span.clone(),
                new.encode(encoding).as_bytes().to_vec(),
            ));
        }
        if let Some(target) = site.legacy_target() {
            spans.push((site.key_span.clone(), target.as_bytes().to_vec()));
        }
    }
    spans.sort_by_key(|(span, _)| (span.start, span.end));
    spans.dedup();
    let mut from = 0;
    let mut at = 0;
    for (span, replacement) in &spans {
        if span.start < from {
            return Err(Error::new(format!(
                "site spans overlap at byte {}",
                span.start
            )));
        }
        let kept = &original[from..span.start];
        if rotated.get(at..at + kept.len()) != Some(kept) {
            return Err(Error::new(format!(
                "a byte outside every site changed near byte {from}"
            )));
        }
        at += kept.len();
        let old = &original[span.clone()];
        // The span holds its old text or exactly what a rotation writes there; when both
        // fit, the old text is taken (the bytes after the span decide on the next turn).
        if rotated.get(at..at + old.len()) == Some(old) {
            at += old.len();
        } else if rotated.get(at..at + replacement.len()) == Some(replacement.as_slice()) {
            at += replacement.len();
        } else {
            return Err(Error::new(format!(
                "the site at bytes {span:?} holds neither its old value nor the new one"
            )));
        }
        from = span.end;
    }
    if rotated.get(at..) != Some(&original[from..]) {
        return Err(Error::new(format!(
            "a byte after the last site changed (from byte {from})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_of_a_real_file_keeps_the_property() {
        let text =
            "# values\naccountSecret: 0123456789abcdef0123456789abcdef # old\ndelegateName: d\n";
        check("values.yaml", text.as_bytes()).unwrap();
    }

    #[test]
    fn a_change_outside_the_sites_breaks_it() {
        let new = NewToken::parse(NEW).unwrap();
        let text = "delegateToken: 0123456789abcdef0123456789abcdef\nx: 1\n";
        let file = scanned("values.yaml", text.as_bytes()).unwrap();
        let good = format!("delegateToken: {NEW}\nx: 1\n");
        let original = text.as_bytes();
        only_sites_changed(&file, original, good.as_bytes(), &new).unwrap();
        let bad = format!("delegateToken: {NEW}\nx: 2\n");
        assert!(only_sites_changed(&file, original, bad.as_bytes(), &new).is_err());
        let wrong_value = "delegateToken: ffffffffffffffffffffffffffffffff\nx: 1\n";
        assert!(only_sites_changed(&file, original, wrong_value.as_bytes(), &new).is_err());
    }
}
