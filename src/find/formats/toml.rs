//! TOML scanner: any `delegateToken` / `delegate_token` (or legacy) key holding a string, in
//! tables, inline tables and arrays of tables. Parsed with `toml_edit`'s read-only
//! `Document`, which keeps the byte span of every key and value (`DocumentMut` drops them).
//! A key is read by a delegate when `delegateName` / `managerEndpoint` (or their snake_case
//! forms) sit beside it in its table; an `accountId` alone is no evidence of a delegate.

use super::common::{self, ParseError};
use crate::model::keys;
use crate::model::site::{Limit, Reader, Site, Span};
use crate::model::token;
use toml_edit::{Document, Item, Key, TableLike, Value};

pub fn scan(text: &str) -> Result<Vec<Site>, ParseError> {
    let document = Document::parse(text).map_err(|error| ParseError {
        offset: error.span().map_or(0, |span| span.start),
        message: error.message().trim().to_owned(),
    })?;
    let mut sites = Vec::with_capacity(common::expected_sites(text));
    table(text, document.as_table(), &mut sites);
    common::mark_conflicts(&mut sites);
    Ok(sites)
}

fn table(text: &str, table: &dyn TableLike, sites: &mut Vec<Site>) {
    let reader = if table
        .iter()
        .any(|(name, _)| keys::is_delegate_sibling(name))
    {
        Reader::Delegate
    } else {
        Reader::unknown("not beside delegateName / managerEndpoint in its table (an accountId alone is no evidence of a delegate), so not known to be a delegate's setting")
    };
    for (name, item) in table.iter() {
        match item {
            Item::Value(value) => {
                if let (Some(key), true) = (table.key(name), keys::is_token_key(name)) {
                    if let Some(site) = site(text, key, value) {
                        sites.push(site.with_reader(reader.clone()));
                    }
                }
                value_children(text, value, sites);
            }
            Item::Table(child) => self::table(text, child, sites),
            Item::ArrayOfTables(array) => {
                for child in array.iter() {
                    self::table(text, child, sites);
                }
            }
            Item::None => {}
        }
    }
}

fn value_children(text: &str, value: &Value, sites: &mut Vec<Site>) {
    match value {
        Value::InlineTable(inline) => table(text, inline, sites),
        Value::Array(array) => {
            for element in array.iter() {
                value_children(text, element, sites);
            }
        }
        _ => {}
    }
}

fn site(text: &str, key: &Key, value: &Value) -> Option<Site> {
    let Value::String(string) = value else {
        return None;
    };
    let key_span = unquoted(text, key.span()?);
    let span = value.span()?;
    let raw = &text[span.clone()];
    let quote = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
        3
    } else {
        1
    };
    let value_span = span.start + quote..span.end - quote;
    let limit = Limit::refused_unless(
        quote == 1 && text[value_span.clone()] == *string.value(),
        "the value uses escapes or a multi-line string: write it as one \"basic\" or 'literal' string",
    );
    let value = token::classify(string.value());
    Some(Site::new(key.get(), key_span, value_span, value).with_limit(limit))
}

/// A key's span without its quotes, when it is quoted.
fn unquoted(text: &str, span: Span) -> Span {
    match text.as_bytes().get(span.start) {
        Some(b'"' | b'\'') if span.len() >= 2 => span.start + 1..span.end - 1,
        _ => span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn keys_in_tables_inline_tables_and_arrays_of_tables() {
        let text = format!(
            "[delegate]\ndelegateToken = \"{HEX}\" # prod\n\n[[delegates]]\nname = \"eu\"\n\"account_secret\" = '{HEX}'\n\n[cfg]\nd = {{ delegate_token = \"{HEX}\" }}\n"
        );
        let sites = scan(&text).unwrap();
        let found: Vec<(&str, &str, &str)> = sites
            .iter()
            .map(|s| {
                (
                    &*s.key,
                    &text[s.key_span.clone()],
                    &text[s.value_span.clone()],
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                ("delegateToken", "delegateToken", HEX),
                ("account_secret", "account_secret", HEX),
                ("delegate_token", "delegate_token", HEX),
            ]
        );
    }

    #[test]
    fn escaped_and_multi_line_strings_are_refused() {
        let text = "a = { delegateToken = \"\\u0030\" }\nb = { delegateToken = '''x''' }\n";
        let sites = scan(text).unwrap();
        assert!(sites
            .iter()
            .all(|s| matches!(s.limit, Some(Limit::Refused(_)))));
    }
}
