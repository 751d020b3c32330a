//! Every edit rekey makes to a policy file (`init`, `revoke`, a rotation updating
//! `current`) goes through `toml_edit`, so the user's comments and layout survive byte for
//! byte outside the values that change.

use super::file::{parse_document, Policy};
use crate::error::Error;
use crate::model::token::Fingerprint;
use std::collections::BTreeSet;
use toml_edit::{Array, DocumentMut, Value};

/// The text `rekey init` writes: commented, with `current` set to the tokens held now.
pub fn initial_text(current: &BTreeSet<Fingerprint>) -> String {
    let mut list = String::new();
    for fingerprint in current {
        list.push_str(&format!("  \"{fingerprint}\",\n"));
    }
    format!(
        r#"# rekey policy: which delegate tokens may appear in this repository.
# Tokens are listed by fingerprint (sha256: + 16 hex digits of SHA-256 of the token), which
# is safe to commit. `rekey scan` prints them; a rotation (rotate --write or --commit)
# updates `current`; `rekey revoke FINGERPRINT` moves one to `revoked`.

[tokens]
# Tokens in force. Any other literal token is reported as stale-token.
current = [
{list}]
# Tokens revoked in Harness. Any occurrence is reported as revoked-token.
revoked = []

# Levels per rule: "error" (fails check), "warning", "note" or "off".
[rules]
# revoked-token = "error"
# stale-token = "error"
# legacy-key = "error"
# malformed-token = "warning"
# unparseable = "error"
# unchecked-file = "error"

[scan]
# Extra excludes (globs relative to this file), applied to explicitly given paths too.
exclude = []
"#
    )
}

/// Moves `revoked` into `[tokens] revoked` (once each) and out of `current`.
pub fn revoke(text: &str, display: &str, revoked: &[Fingerprint]) -> Result<String, Error> {
    let mut document = parse_document(text, display)?;
    Policy::parse(text, display)?;
    let tokens = tokens_table(&mut document, display)?;
    for fingerprint in revoked {
        let current = array(tokens, "current", display)?;
        remove_keeping_layout(current, |value| {
            value.as_str().and_then(Fingerprint::parse).as_ref() == Some(fingerprint)
        });
        let list = array(tokens, "revoked", display)?;
        if !contains(list, fingerprint) {
            push_like_last(list, fingerprint.as_str());
        }
    }
    Ok(document.to_string())
}

/// After a rotation: the rotated fingerprints leave `current` and the new one takes the
/// place of the first of them (or is added). `None` when nothing changes.
pub fn rotate_current(
    text: &str,
    display: &str,
    rotated: &BTreeSet<Fingerprint>,
    new: &Fingerprint,
) -> Result<Option<String>, Error> {
    let mut document = parse_document(text, display)?;
    Policy::parse(text, display)?;
    let tokens = tokens_table(&mut document, display)?;
    let current = array(tokens, "current", display)?;
    let is_rotated = |value: &Value| {
        value
            .as_str()
            .and_then(Fingerprint::parse)
            .is_some_and(|f| rotated.contains(&f))
    };
    let first_rotated = current.iter().position(is_rotated);
    let holds_new = contains(current, new);
    match first_rotated {
        Some(first) if !holds_new => {
            let slot = current.get_mut(first).expect("position is in range");
            let decor = slot.decor().clone();
            *slot = Value::from(new.as_str());
            *slot.decor_mut() = decor;
        }
        Some(_) => {}
        None if holds_new => return Ok(None),
        None => push_like_last(current, new.as_str()),
    }
    remove_keeping_layout(current, is_rotated);
    let updated = document.to_string();
    Ok((updated != text).then_some(updated))
}

fn tokens_table<'d>(
    document: &'d mut DocumentMut,
    display: &str,
) -> Result<&'d mut dyn toml_edit::TableLike, Error> {
    document
        .entry("tokens")
        .or_insert(toml_edit::table())
        .as_table_like_mut()
        .ok_or_else(|| Error::at(display, "[tokens] must be a table"))
}

fn array<'t>(
    tokens: &'t mut dyn toml_edit::TableLike,
    name: &str,
    display: &str,
) -> Result<&'t mut Array, Error> {
    tokens
        .entry(name)
        .or_insert(toml_edit::value(Array::new()))
        .as_array_mut()
        .ok_or_else(|| Error::at(display, format!("[tokens] {name} must be an array")))
}

fn contains(array: &Array, fingerprint: &Fingerprint) -> bool {
    array
        .iter()
        .any(|value| value.as_str().and_then(Fingerprint::parse).as_ref() == Some(fingerprint))
}

/// Removes the matching items. A comment trailing a removed item goes with it: toml_edit
/// keeps it in the next item's prefix, or in the array's trailing text for the last item.
fn remove_keeping_layout(array: &mut Array, remove: impl Fn(&Value) -> bool) {
    let mut index = 0;
    while index < array.len() {
        if !remove(array.get(index).expect("index is in range")) {
            index += 1;
            continue;
        }
        let prefix = array.get(index).and_then(|v| v.decor().prefix().cloned());
        array.remove(index);
        match (prefix, array.get_mut(index)) {
            (Some(prefix), Some(next)) => next.decor_mut().set_prefix(prefix),
            (_, None) => {
                let (_, rest) = split_trailing_comment(array);
                array.set_trailing(rest);
            }
            (None, Some(_)) => {}
        }
    }
}

/// The array's trailing text split at its first line break: the comment on the last item's
/// line, and the rest.
fn split_trailing_comment(array: &Array) -> (String, String) {
    let trailing = array.trailing().as_str().unwrap_or_default();
    match trailing.find('\n') {
        Some(at) => (trailing[..at].to_owned(), trailing[at..].to_owned()),
        None => (String::new(), trailing.to_owned()),
    }
}

/// Appends keeping the array's own layout: on a line of its own when the last item sits on
/// one, and leaving the comment that trailed the old last item beside it.
fn push_like_last(array: &mut Array, text: &str) {
    let last_prefix = array
        .iter()
        .last()
        .and_then(|last| last.decor().prefix()?.as_str().map(str::to_owned));
    let (comment, rest) = split_trailing_comment(array);
    array.push(text);
    let Some(last_prefix) = last_prefix else {
        return;
    };
    if last_prefix.contains('\n') {
        // The old last item's comment now precedes the new item's line break.
        let pushed = array.iter_mut().last().expect("just pushed");
        pushed
            .decor_mut()
            .set_prefix(format!("{comment}{last_prefix}"));
        array.set_trailing(rest);
        array.set_trailing_comma(true);
    } else {
        // The first item's prefix says nothing of how items are separated: after it, an
        // item is written `, "…"`, as a person writes it.
        let only_one_before = array.len() == 2;
        let pushed = array.iter_mut().last().expect("just pushed");
        if only_one_before && last_prefix.is_empty() {
            pushed.decor_mut().set_prefix(" ");
        } else {
            pushed.decor_mut().set_prefix(last_prefix);
        }
    }
}

/// How a policy file comes to exclude some paths, as lines to write: what the user adds by
/// hand when rekey refuses a file it cannot parse. Worked out from the file's text so that
/// following it never writes a second `[scan]` table or drops an exclude already listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExcludeEdit {
    /// No `[scan]` table (or no policy file yet): these lines, appended.
    Append(Vec<String>),
    /// `[scan]`, at this line, has no `exclude`: this line, added under it.
    UnderScan { line: usize, exclude: String },
    /// `exclude`, at this line, becomes this line (what it listed, then the new paths).
    Replace { line: usize, exclude: String },
}

/// The edit that makes the policy file whose text is `text` (`None`: there is none yet)
/// exclude `patterns` too.
pub fn exclude_edit(text: Option<&str>, patterns: &[String]) -> ExcludeEdit {
    let document = text.and_then(|text| toml_edit::Document::parse(text.to_owned()).ok());
    let scan = document.as_ref().and_then(|d| d.get("scan"));
    let line_of = |item: &toml_edit::Item| {
        let at = item.span().map_or(0, |span| span.start);
        let text = text.unwrap_or_default();
        crate::model::position::line_col(text.as_bytes(), at).0
    };
    let exclude = |listed: Vec<String>| {
        let mut list = Array::new();
        for pattern in listed.iter().chain(patterns) {
            if !list.iter().any(|v| v.as_str() == Some(pattern)) {
                list.push(pattern.as_str());
            }
        }
        list.fmt();
        format!("exclude = {list}")
    };
    match scan {
        Some(scan) => match scan
            .get("exclude")
            .and_then(|item| Some((item, item.as_array()?)))
        {
            Some((item, listed)) => ExcludeEdit::Replace {
                line: line_of(item),
                exclude: exclude(
                    listed
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                ),
            },
            None => ExcludeEdit::UnderScan {
                line: line_of(scan),
                exclude: exclude(Vec::new()),
            },
        },
        None => ExcludeEdit::Append(vec!["[scan]".to_owned(), exclude(Vec::new())]),
    }
}
