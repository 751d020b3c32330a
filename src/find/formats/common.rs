//! What the scanners share: the parse error they return, a `${VAR:-default}` default read
//! as a literal, a SOPS value's location, room for the sites a file may hold, and the
//! rename conflicts of flat formats, and the key rule every site passes.

use crate::model::keys;
use crate::model::site::{Elsewhere, Role, Site, Span, Store};
use crate::model::token::{self, Value};

/// A file that holds a key name but could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

/// Room for the sites a scanner may find in `text`, one per key name: a file of 150,000
/// sites then never holds a vector twice the size it needs while it grows.
pub(crate) fn expected_sites(text: &str) -> usize {
    keys::marker_count(text.as_bytes())
}

/// Classifies the value at `span` of `text`: the default of a lone `${VAR:-default}` (with
/// its own span), or the characters as they stand.
pub(crate) fn classify_value(text: &str, span: Span) -> (Span, Value) {
    literal_default(text, span.clone())
        .unwrap_or_else(|| (span.clone(), token::classify(&text[span])))
}

/// `${NAME:-default}`, `${NAME-default}`, `${NAME:=default}` or `${NAME=default}` standing
/// alone: the span of its default inside `span` and the default's classification. The
/// default is what the value is whenever `NAME` is unset, so it is a literal site; a default
/// that itself expands, quotes or is empty is left a reference.
pub(crate) fn literal_default(text: &str, span: Span) -> Option<(Span, Value)> {
    let inner = text[span.clone()].strip_prefix("${")?.strip_suffix('}')?;
    let name_len = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|&n| n > 0)?;
    let rest = &inner[name_len..];
    let operator = [":-", ":=", "-", "="]
        .into_iter()
        .find(|op| rest.starts_with(op))?;
    let default = &rest[operator.len()..];
    let plain = !default.is_empty()
        && !default.contains(|c: char| c.is_whitespace() || "${}\"'`\\".contains(c));
    if !plain {
        return None;
    }
    let start = span.start + 2 + name_len + operator.len();
    Some((start..start + default.len(), token::classify(default)))
}

/// Marks legacy-key sites whose current name is also a key in the same file, so that
/// migration never produces a duplicate key. For formats without nesting, where the file
/// is the scope (`.env`, scripts, flat JSON and TOML).
pub(crate) fn mark_conflicts(sites: &mut [Site]) {
    let names: std::collections::HashSet<String> = sites
        .iter()
        .filter(|s| s.role != Role::KeyMention)
        .map(|s| s.key.to_string())
        .collect();
    for site in sites.iter_mut() {
        if let Some(current) = keys::current_name(&site.key) {
            site.rename_conflict |= names.contains(current);
        }
    }
}

/// The one key rule over a scanner's sites (see [`keys::standing`]): a variant key keeps its
/// site only with a token-shaped value, becomes a key mention with a placeholder or an empty
/// value (named, never filled: a project's name may not be read as a token), and is dropped
/// otherwise. Core keys, and the mentions a scanner made itself, pass unchanged.
pub(crate) fn key_rule(mut site: Site) -> Option<Site> {
    if site.role == Role::KeyMention {
        return Some(site);
    }
    match keys::standing(&site.key, &site.value) {
        keys::Standing::Site => Some(site),
        keys::Standing::Mention => {
            let at = site.value_span.start;
            site.value = Value::Reference;
            site.value_span = at..at;
            site.role = Role::KeyMention;
            site.limit = None;
            site.elsewhere = None;
            Some(site)
        }
        keys::Standing::Nothing => None,
    }
}

/// Marks `site` as encrypted by SOPS at the key path `path` (`["data"]["DELEGATE_TOKEN"]`).
pub(crate) fn sops_site(site: Site, path: &str) -> Site {
    let elsewhere = Elsewhere {
        store: Store::Sops,
        location: format!("SOPS-encrypted in this file at {path}"),
        how_to_rotate: format!(
            "run `sops edit` on this file and replace the value at {path} with the new token"
        ),
    };
    site.with_elsewhere(elsewhere)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_braced_default_is_a_literal_with_the_default_span() {
        let text = "${DELEGATE_TOKEN:-0123456789abcdef0123456789abcdef}";
        let (span, value) = literal_default(text, 0..text.len()).unwrap();
        assert_eq!(&text[span], "0123456789abcdef0123456789abcdef");
        assert!(value.is_token());
        for op in ["-", ":=", "="] {
            let text = format!("${{T{op}changeme}}");
            let (span, value) = literal_default(&text, 0..text.len()).unwrap();
            assert_eq!(&text[span], "changeme");
            assert_eq!(value, Value::Placeholder);
        }
        for reference in [
            "${T}",
            "${T:-}",
            "${T:-$U}",
            "${T:-${U}}",
            "${T:+x}",
            "$T",
            "${T:-a b}",
        ] {
            assert_eq!(
                literal_default(reference, 0..reference.len()),
                None,
                "{reference}"
            );
        }
    }
}
