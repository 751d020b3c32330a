//! Dockerfile / Containerfile scanner: `ENV KEY=value …`, the older `ENV KEY value`, and
//! `ARG KEY=value`. Instructions are read the way the builder reads them: keywords in any
//! case, `\` line continuations, comment lines (also inside a continued instruction), values
//! bare, `"double"` or `'single'` quoted. No Dockerfile parser on crates.io reports byte
//! spans, and these three forms are all rekey needs.
//!
//! An `ENV` of a stage built `FROM` a delegate image is read by the delegate; an `ARG` is a
//! build variable, and an `ENV` that the file also expands (`$KEY`) is a variable of the
//! file: neither is renamed.

use super::common::{self, ParseError};
use crate::model::keys;
use crate::model::site::{Limit, Reader, Site, Span};

/// `Dockerfile`, `Containerfile`, `Dockerfile.<variant>`, `<name>.dockerfile`.
pub fn is_dockerfile_name(lowercase_name: &str) -> bool {
    // Asked for every candidate file: no allocation.
    ["dockerfile", "containerfile"].iter().any(|base| {
        lowercase_name == *base
            || lowercase_name
                .strip_prefix(base)
                .is_some_and(|rest| rest.starts_with('.'))
            || lowercase_name
                .strip_suffix(base)
                .is_some_and(|rest| rest.ends_with('.'))
    })
}

pub fn scan(text: &str) -> Result<Vec<Site>, ParseError> {
    let mut sites = Vec::with_capacity(common::expected_sites(text));
    let mut delegate_stage = false;
    for instruction in instructions(text) {
        let keyword = text[instruction.keyword.clone()].to_ascii_uppercase();
        match keyword.as_str() {
            "FROM" => {
                let image = words(text, instruction.args.clone())
                    .into_iter()
                    .find(|w| !text[w.clone()].starts_with("--"));
                delegate_stage = image.is_some_and(|w| keys::is_delegate_image(&text[w]));
            }
            "ENV" | "ARG" => {
                let is_env = keyword == "ENV";
                for mut site in assignments(text, instruction.args.clone(), is_env)? {
                    site.reader = reader(text, &site.key, is_env, delegate_stage);
                    sites.push(site);
                }
            }
            _ => {}
        }
    }
    common::mark_conflicts(&mut sites);
    Ok(sites)
}

fn reader(text: &str, key: &str, is_env: bool, delegate_stage: bool) -> Reader {
    let expanded = text.contains(&format!("${key}")) || text.contains(&format!("${{{key}"));
    if !is_env {
        Reader::unknown("a build argument (ARG): what reads it is not known")
    } else if expanded {
        Reader::unknown("the Dockerfile expands this variable itself; it is renamed with every use or not at all")
    } else if delegate_stage {
        Reader::Delegate
    } else {
        Reader::unknown("the stage is not built FROM a Harness delegate image")
    }
}

struct Instruction {
    keyword: Span,
    /// Everything after the keyword, continuations included.
    args: Span,
}

/// The instructions of the file, with comment lines and blank lines left out.
fn instructions(text: &str) -> Vec<Instruction> {
    let mut found = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let line_end = line_end(text, at);
        let line = &text[at..line_end];
        let indent = line.len() - line.trim_start().len();
        let start = at + indent;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            at = line_end + 1;
            continue;
        }
        // The instruction runs on while its lines end in `\`.
        let mut end = line_end;
        while text[..end]
            .trim_end_matches([' ', '\t', '\r'])
            .ends_with('\\')
            && end < text.len()
        {
            end = line_end_after_comments(text, end + 1);
        }
        let keyword_len = text[start..end]
            .find(|c: char| c.is_whitespace())
            .unwrap_or(end - start);
        found.push(Instruction {
            keyword: start..start + keyword_len,
            args: start + keyword_len..end,
        });
        at = end + 1;
    }
    found
}

fn line_end(text: &str, from: usize) -> usize {
    text[from..].find('\n').map_or(text.len(), |i| from + i)
}

/// The end of the next line that is not a comment (comment lines inside a continued
/// instruction are dropped by the builder).
fn line_end_after_comments(text: &str, mut from: usize) -> usize {
    loop {
        let end = line_end(text, from);
        if !text[from..end].trim_start().starts_with('#') || end >= text.len() {
            return end;
        }
        from = end + 1;
    }
}

/// Whitespace-separated words of `span`, `\` continuations and comment lines skipped.
fn words(text: &str, span: Span) -> Vec<Span> {
    let mut words = Vec::new();
    let mut at = span.start;
    while at < span.end {
        at = skip_blank(text, at, span.end);
        let start = at;
        while at < span.end && !text.as_bytes()[at].is_ascii_whitespace() {
            at += 1;
        }
        if at > start && &text[start..at] != "\\" {
            words.push(start..at);
        }
    }
    words
}

/// Skips spaces, continuations and the comment lines inside them.
fn skip_blank(text: &str, mut at: usize, end: usize) -> usize {
    let bytes = text.as_bytes();
    loop {
        while at < end && matches!(bytes[at], b' ' | b'\t' | b'\r' | b'\n') {
            if bytes[at] == b'\n' && text[at + 1..end].trim_start().starts_with('#') {
                at = line_end(text, at + 1);
                continue;
            }
            at += 1;
        }
        let continued = bytes.get(at) == Some(&b'\\')
            && text[at + 1..end]
                .trim_start_matches([' ', '\t', '\r'])
                .starts_with('\n');
        if at < end && continued {
            at += 1;
            continue;
        }
        return at;
    }
}

/// The `KEY=value` pairs (or the one `KEY value` of the older `ENV` form) of an `ENV` or
/// `ARG` instruction that name a token key.
fn assignments(text: &str, args: Span, is_env: bool) -> Result<Vec<Site>, ParseError> {
    let mut sites = Vec::new();
    let mut at = skip_blank(text, args.start, args.end);
    let key_len = |from: usize| {
        text[from..args.end]
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
            .unwrap_or(args.end - from)
    };
    let first_len = key_len(at);
    let older_form = is_env && text.as_bytes().get(at + first_len) != Some(&b'=');
    if older_form {
        // `ENV KEY value`: the value is the rest of the instruction.
        let key = at..at + first_len;
        let value_start = skip_blank(text, key.end, args.end);
        let raw = text[value_start..args.end].trim_end();
        let value = unquote(value_start..value_start + raw.len(), text);
        push(text, key, value, &mut sites);
        return Ok(sites);
    }
    while at < args.end {
        let len = key_len(at);
        let key = at..at + len;
        at += len;
        if text.as_bytes().get(at) != Some(&b'=') {
            // `ARG KEY` without a default, or a word rekey does not read: move on.
            at = next_word(text, at, args.end);
            continue;
        }
        at += 1;
        let value_end = match text.as_bytes().get(at) {
            Some(&quote @ (b'"' | b'\'')) => text[at + 1..args.end]
                .find(quote as char)
                .map(|i| at + 1 + i + 1)
                .ok_or_else(|| ParseError {
                    offset: at,
                    message: format!("the quoted value of {} is never closed", &text[key.clone()]),
                })?,
            _ => text[at..args.end]
                .find(|c: char| c.is_whitespace())
                .map_or(args.end, |i| at + i),
        };
        push(text, key, unquote(at..value_end, text), &mut sites);
        at = skip_blank(text, value_end, args.end);
    }
    Ok(sites)
}

fn next_word(text: &str, at: usize, end: usize) -> usize {
    let rest = text[at..end]
        .find(|c: char| c.is_whitespace())
        .map_or(end, |i| at + i);
    skip_blank(text, rest, end)
}

/// The characters inside a surrounding pair of quotes, when there is one.
fn unquote(span: Span, text: &str) -> Span {
    let raw = &text[span.clone()];
    let quoted = raw.len() >= 2
        && ((raw.starts_with('"') && raw.ends_with('"'))
            || (raw.starts_with('\'') && raw.ends_with('\'')));
    if quoted {
        span.start + 1..span.end - 1
    } else {
        span
    }
}

fn push(text: &str, key: Span, value: Span, sites: &mut Vec<Site>) {
    let name = &text[key.clone()];
    if !keys::is_token_key(name) {
        return;
    }
    let limit = Limit::refused_unless(
        !text[value.clone()].contains(['\\', '\n']),
        "the value uses escapes or spans lines: write it as one word on the instruction's line",
    );
    let (value_span, classified) = common::classify_value(text, value);
    sites.push(Site::new(name, key, value_span, classified).with_limit(limit));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::token::Kind;

    const HEX: &str = "0123456789abcdef0123456789abcdef";

    fn found(text: &str) -> Vec<(String, String, Kind, bool)> {
        scan(text)
            .unwrap()
            .into_iter()
            .map(|s| {
                let delegate = s.reader == Reader::Delegate;
                (
                    s.key.into_owned(),
                    text[s.value_span].to_owned(),
                    s.value.kind(),
                    delegate,
                )
            })
            .collect()
    }

    #[test]
    fn env_and_arg_in_every_form() {
        let text = format!(
            "# syntax=docker/dockerfile:1\nARG DELEGATE_TOKEN={HEX}\nFROM harness/delegate:25.10.87100\nenv ACCOUNT_ID=x \\\n    # the token\n    DELEGATE_TOKEN=\"{HEX}\"\nENV UPGRADER_TOKEN {HEX}\nENV ACCOUNT_SECRET='{HEX}' NAME=a\nRUN echo DELEGATE_TOKEN=not-a-site\n"
        );
        let literal =
            |key: &str, delegate| (key.to_owned(), HEX.to_owned(), Kind::Literal, delegate);
        assert_eq!(
            found(&text),
            vec![
                literal("DELEGATE_TOKEN", false),
                literal("DELEGATE_TOKEN", true),
                literal("UPGRADER_TOKEN", true),
                literal("ACCOUNT_SECRET", true),
            ]
        );
    }

    #[test]
    fn defaults_references_and_other_images() {
        let text = format!(
            "FROM alpine:3\nENV DELEGATE_TOKEN=${{TOKEN:-{HEX}}} UPGRADER_TOKEN=$DELEGATE_TOKEN\n"
        );
        let sites = found(&text);
        assert_eq!(
            sites[0],
            (
                "DELEGATE_TOKEN".to_owned(),
                HEX.to_owned(),
                Kind::Literal,
                false
            )
        );
        assert_eq!(sites[1].2, Kind::Reference);
    }

    #[test]
    fn an_unclosed_quote_is_an_error() {
        let error = scan("FROM x\nENV DELEGATE_TOKEN=\"abc\n").unwrap_err();
        assert_eq!(error.offset, 26);
    }
}
