//! Helm chart templates that do not parse as YAML: a line search that yields a reference
//! for `key: {{ … }}` and the literal of `key: value`, so a template never hides a token
//! from `check` or `rotate`.

use crate::model::keys;
use crate::model::site::{Limit, Reader, Role, Site, Span};
use crate::model::token;

/// Who reads a site of a chart template.
pub(super) const TEMPLATE_READER: &str =
    "a chart template: its keys are renamed together with the chart's values and templates, by hand";

/// Line search in a template that is not valid YAML: `key: {{ … }}` is a reference site.
/// The literal value of a `key: value` line in a template that does not parse as YAML:
/// plain or quoted on the line, a trailing comment left out. Values that a splice could
/// break (escapes, doubled quotes) are reported and refused.
fn template_literal(text: &str, key: &str, key_span: Span, value_start: usize) -> Option<Site> {
    let line_end = text[value_start..]
        .find('\n')
        .map_or(text.len(), |i| value_start + i);
    let rest = &text[value_start..line_end];
    let lead = rest.len() - rest.trim_start().len();
    let start = value_start + lead;
    let raw = text[start..line_end].trim_end_matches(['\r', ' ', '\t']);
    let (span, verbatim, plain) = match raw.as_bytes().first() {
        Some(&quote @ (b'"' | b'\'')) => {
            let close = raw[1..].find(quote as char)? + 1;
            let inner = &raw[1..close];
            let verbatim = !inner.contains('\\') && !raw[close + 1..].starts_with(quote as char);
            (start + 1..start + close, verbatim, false)
        }
        Some(_) => {
            let value = raw.find(" #").map_or(raw, |i| &raw[..i]).trim_end();
            (start..start + value.len(), true, true)
        }
        None => return None,
    };
    let value = token::classify(&text[span.clone()]);
    value.fingerprint()?;
    let mut site = Site::new(key, key_span, span, value).with_limit(Limit::refused_unless(
        verbatim,
        "a quoted value with escapes in a template: write it plainly",
    ));
    // The template renders to YAML, where a plain value's characters decide its type.
    site.bare_typed = plain;
    Some(site)
}

/// Every legacy key name a template expression reads (`{{ .Values.accountSecret }}`,
/// `{{ index .Values "accountSecret" }}`, `{{ .accountSecret }}` inside a `with`), as key
/// mentions: the chart's values key of that name is renamed only with them, and migration
/// keeps both (see `judge::migration`). Whole words only, so `accountSecretName` is not one.
pub(super) fn values_mentions(text: &str) -> Vec<Site> {
    let mut mentions = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("{{").map(|i| from + i) {
        let close = text[open..].find("}}").map_or(text.len(), |i| open + i);
        let expression = &text[open..close];
        for legacy in keys::ALL.iter().filter(|k| keys::current_name(k).is_some()) {
            for (at, _) in expression.match_indices(legacy) {
                let word =
                    |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
                let bytes = expression.as_bytes();
                let before = at.checked_sub(1).and_then(|i| bytes.get(i));
                if !word(before) && !word(bytes.get(at + legacy.len())) {
                    let start = open + at;
                    let span = start..start + legacy.len();
                    mentions.push(Site::reference(legacy, span, start).with_role(Role::KeyMention));
                }
            }
        }
        from = close;
    }
    mentions
}

pub(super) fn scan_template(text: &str) -> Vec<Site> {
    let mut sites = Vec::new();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let trimmed = trimmed.strip_prefix("- ").unwrap_or(trimmed);
        let key_start = line_start + (line.len() - trimmed.len()).max(indent);
        if let Some((key, rest)) = trimmed.split_once(':') {
            let key_text = key.trim_matches(['"', '\'']);
            let offset = key_start + key.find(key_text).unwrap_or(0);
            let key_span = offset..offset + key_text.len();
            let expression = [rest.find("{{"), rest.find("{%")]
                .into_iter()
                .flatten()
                .min();
            if let (true, Some(at)) = (keys::is_token_key(key_text), expression) {
                let value_at = line_start + line.len() - rest.len() + at;
                sites.push(
                    Site::reference(key_text, key_span, value_at)
                        .with_reader(Reader::unknown(TEMPLATE_READER)),
                );
            } else if keys::is_token_key(key_text) {
                // A literal written into a template is still a token: a template must
                // never hide one from `check` or `rotate`.
                let value_start = line_start + line.len() - rest.len();
                if let Some(site) = template_literal(text, key_text, key_span, value_start) {
                    sites.push(site.with_reader(Reader::unknown(TEMPLATE_READER)));
                }
            }
        }
        line_start += line.len();
    }
    sites
}
