//! `.env` scanner (docker-compose `env_file`s, `.env`, `*.env`): a hand lexer over lines,
//! since the dotenv parsers expose no spans. It follows dotenvy's rules, which the tests
//! cross-check: `KEY=value` with an optional `export`, values bare, `'single'` (verbatim)
//! or `"double"` (escapes, may span lines), `#` comments on their own line or after a bare
//! value. A commented-out assignment of a token key is reported and never rewritten. A
//! `${VAR:-default}` value's default is a literal. Whatever loads a `.env` file reads its
//! variables by name (compose `${NAME}` interpolation, `env_file:`), so a legacy key here is
//! never renamed.

use super::common::{self, ParseError};
use crate::model::keys;
use crate::model::site::{Limit, Reader, Site};

pub fn scan(text: &str) -> Result<Vec<Site>, ParseError> {
    let mut sites = Vec::with_capacity(common::expected_sites(text));
    let mut offset = 0;
    while offset < text.len() {
        let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
        let next = lex_line(text, offset, line_end, &mut sites)?;
        offset = next.max(line_end + 1);
    }
    Ok(sites)
}

/// Lexes the assignment starting at `start` (the line ends at `line_end`); returns where
/// the next line starts (past a multi-line double-quoted value).
fn lex_line(
    text: &str,
    start: usize,
    line_end: usize,
    sites: &mut Vec<Site>,
) -> Result<usize, ParseError> {
    let line = &text[start..line_end];
    let indent = line.len() - line.trim_start().len();
    let mut at = start + indent;
    let mut commented = false;
    if text[at..].starts_with('#') {
        // `# DELEGATE_TOKEN=…`: a commented-out assignment is still worth reporting.
        commented = true;
        at += 1;
        at += text[at..line_end].len() - text[at..line_end].trim_start().len();
    }
    if let Some(rest) = text[at..line_end].strip_prefix("export ") {
        at = line_end - rest.trim_start().len();
    }
    let key_len = text[at..line_end]
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        .unwrap_or(line_end - at);
    let key = &text[at..at + key_len];
    let mut cursor = at + key_len;
    cursor += text[cursor..line_end].len() - text[cursor..line_end].trim_start().len();
    if key.is_empty() || !text[cursor..line_end].starts_with('=') {
        return Ok(line_end + 1);
    }
    cursor += 1;
    cursor +=
        text[cursor..line_end].len() - text[cursor..line_end].trim_start_matches([' ', '\t']).len();
    let quote = text.as_bytes().get(cursor);
    // Another variable's value matters only when it is double-quoted: it may run on over
    // the lines that follow.
    if !keys::is_token_key(key) && quote != Some(&b'"') {
        return Ok(line_end + 1);
    }
    let (value_span, next, limit) = match quote {
        Some(b'\'') => match text[cursor + 1..line_end].find('\'') {
            Some(close) => (cursor + 1..cursor + 1 + close, line_end + 1, None),
            None => return unterminated(commented, key, cursor, line_end),
        },
        Some(b'"') => {
            let Some(close) = closing_double_quote(text, cursor + 1) else {
                return unterminated(commented, key, cursor, line_end);
            };
            let inner = cursor + 1..close;
            let limit = Limit::refused_unless(
                !text[inner.clone()].contains(['\\', '\n']),
                "the value uses escapes or spans lines: write it on one line without backslashes",
            );
            let next = text[close..].find('\n').map_or(text.len(), |i| close + i) + 1;
            (inner, next, limit)
        }
        _ => {
            let value = text[cursor..line_end].trim_end_matches('\r');
            // A ` #` ends a bare value: the rest is a comment.
            let value = value.find(" #").map_or(value, |i| &value[..i]).trim_end();
            (cursor..cursor + value.len(), line_end + 1, None)
        }
    };
    if keys::is_token_key(key) {
        let limit = if commented {
            Some(Limit::ReportOnly("commented out".into()))
        } else {
            limit
        };
        let (value_span, value) = common::classify_value(text, value_span);
        let reader = Reader::unknown(
            "a .env variable is read by name (compose ${NAME} interpolation, env_file:): rename it with every reader by hand",
        );
        sites.push(
            Site::new(key, at..at + key_len, value_span, value)
                .with_limit(limit)
                .with_reader(reader),
        );
    }
    Ok(next)
}

fn unterminated(
    commented: bool,
    key: &str,
    quote: usize,
    line_end: usize,
) -> Result<usize, ParseError> {
    if commented || !keys::is_token_key(key) {
        return Ok(line_end + 1);
    }
    Err(ParseError {
        offset: quote,
        message: format!("the quoted value of {key} is never closed"),
    })
}

/// The `"` closing a double-quoted value that opened before `from`, skipping `\"`.
fn closing_double_quote(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = from;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return Some(at),
            _ => at += 1,
        }
    }
    None
}

/// `scan` with conflicts marked: the entry point the format table uses.
pub fn scan_file(text: &str) -> Result<Vec<Site>, ParseError> {
    let mut sites = scan(text)?;
    common::mark_conflicts(&mut sites);
    Ok(sites)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::token::Kind;

    const HEX: &str = "0123456789abcdef0123456789abcdef";

    fn found(text: &str) -> Vec<(String, String, Kind, bool)> {
        scan_file(text)
            .unwrap()
            .into_iter()
            .map(|s| {
                let report_only = matches!(s.limit, Some(Limit::ReportOnly(_)));
                (
                    s.key.into_owned(),
                    text[s.value_span].to_owned(),
                    s.value.kind(),
                    report_only,
                )
            })
            .collect()
    }

    #[test]
    fn quoting_export_comments_and_crlf() {
        let text = format!(
            "# delegate\r\nACCOUNT_ID=abc\r\nexport DELEGATE_TOKEN=\"{HEX}\"\r\nUPGRADER_TOKEN='{HEX}' \r\nACCOUNT_SECRET={HEX} # old key\r\n# DELEGATE_TOKEN={HEX}\r\nDELEGATE_TOKEN=${{TOKEN}}\r\n"
        );
        let literal = |key: &str| (key.to_owned(), HEX.to_owned(), Kind::Literal, false);
        assert_eq!(
            found(&text),
            vec![
                literal("DELEGATE_TOKEN"),
                literal("UPGRADER_TOKEN"),
                literal("ACCOUNT_SECRET"),
                (
                    "DELEGATE_TOKEN".to_owned(),
                    HEX.to_owned(),
                    Kind::Literal,
                    true
                ),
                (
                    "DELEGATE_TOKEN".to_owned(),
                    "${TOKEN}".to_owned(),
                    Kind::Reference,
                    false
                ),
            ]
        );
    }

    #[test]
    fn a_braced_default_is_a_literal_site() {
        let text = format!("DELEGATE_TOKEN=${{T:-{HEX}}}\nUPGRADER_TOKEN=\"${{T-{HEX}}}\"\n");
        let found = found(&text);
        assert_eq!(found.len(), 2);
        assert!(found
            .iter()
            .all(|(_, value, kind, _)| value == HEX && *kind == Kind::Literal));
    }

    #[test]
    fn multi_line_values_of_other_keys_are_skipped_whole() {
        let text =
            format!("CERT=\"line one\nDELEGATE_TOKEN=inside-the-cert\"\nDELEGATE_TOKEN={HEX}\n");
        assert_eq!(found(&text).len(), 1);
        assert_eq!(found(&text)[0].1, HEX);
    }

    #[test]
    fn an_unclosed_quote_on_a_token_key_is_an_error() {
        let error = scan_file("A=1\nDELEGATE_TOKEN='abc\n").unwrap_err();
        assert_eq!(error.offset, 19);
    }

    #[test]
    fn a_legacy_key_beside_its_current_name_conflicts() {
        let sites = scan_file("ACCOUNT_SECRET=a\nDELEGATE_TOKEN=b\n").unwrap();
        assert!(sites[0].rename_conflict);
        assert!(!sites[1].rename_conflict);
    }
}
