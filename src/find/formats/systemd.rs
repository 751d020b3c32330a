//! systemd unit scanner (`*.service`): `Environment=KEY=value` lines, each holding one or
//! more assignments separated by spaces, bare or `"quoted"` whole (`Environment="KEY=value"`).
//! Comment lines start with `#` or `;`. An entry is read by the delegate when the unit's
//! `ExecStart=` runs one (a `harness/delegate` image or the shell delegate's scripts).
//! A line-oriented format with no span-reporting parser on crates.io: a few lines of lexing.

use super::common::{self, ParseError};
use crate::model::keys;
use crate::model::site::{Limit, Reader, Site};

pub fn scan(text: &str) -> Result<Vec<Site>, ParseError> {
    let mut sites = Vec::with_capacity(common::expected_sites(text));
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        let indent = content.len() - content.trim_start().len();
        let Some(rest) = content[indent..].strip_prefix("Environment=") else {
            continue;
        };
        let from = start + indent + "Environment=".len();
        environment(text, from, from + rest.len(), &mut sites)?;
    }
    let delegate = runs_a_delegate(text);
    for site in &mut sites {
        site.reader = if used_elsewhere(text, site) {
            Reader::Unknown(format!(
                "the unit also uses {} by name (say, `docker run -e {}`): a name is renamed with every use or not at all",
                site.key, site.key
            ).into())
        } else if delegate {
            Reader::Delegate
        } else {
            Reader::unknown("the unit's ExecStart= does not run a Harness delegate")
        };
    }
    common::mark_conflicts(&mut sites);
    Ok(sites)
}

fn runs_a_delegate(text: &str) -> bool {
    text.lines()
        .filter_map(|line| line.trim_start().strip_prefix("ExecStart="))
        .any(|command| {
            command.split_whitespace().any(keys::is_delegate_image)
                || command.contains("delegate.sh")
                || command.contains("start.sh")
        })
}

/// Whether the unit names the site's key anywhere but at the site (a whole word, outside
/// comment lines).
fn used_elsewhere(text: &str, site: &Site) -> bool {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut line_start = 0;
    text.split_inclusive('\n').any(|line| {
        let start = line_start;
        line_start += line.len();
        if line.trim_start().starts_with(['#', ';']) {
            return false;
        }
        line.match_indices(&*site.key).any(|(i, key)| {
            let at = start + i;
            let before = at.checked_sub(1).map(|b| text.as_bytes()[b]);
            let after = text.as_bytes().get(at + key.len()).copied();
            at != site.key_span.start && !before.is_some_and(is_word) && !after.is_some_and(is_word)
        })
    })
}

/// The assignments of one `Environment=` value between `from` and `end`.
fn environment(
    text: &str,
    from: usize,
    end: usize,
    sites: &mut Vec<Site>,
) -> Result<(), ParseError> {
    let bytes = text.as_bytes();
    let mut at = from;
    while at < end {
        while at < end && matches!(bytes[at], b' ' | b'\t') {
            at += 1;
        }
        if at >= end {
            break;
        }
        let (inner, next) = match bytes[at] {
            quote @ (b'"' | b'\'') => {
                let close = text[at + 1..end]
                    .find(quote as char)
                    .map(|i| at + 1 + i)
                    .ok_or_else(|| ParseError {
                        offset: at,
                        message: "a quoted Environment= assignment is never closed".to_owned(),
                    })?;
                (at + 1..close, close + 1)
            }
            _ => {
                let stop = text[at..end].find([' ', '\t']).map_or(end, |i| at + i);
                (at..stop, stop)
            }
        };
        at = next;
        let Some(equals) = text[inner.clone()].find('=') else {
            continue;
        };
        let key = inner.start..inner.start + equals;
        let name = &text[key.clone()];
        if !keys::is_token_key(name) {
            continue;
        }
        let value = key.end + 1..inner.end;
        let limit = Limit::refused_unless(
            !text[value.clone()].contains(['\\', '%']),
            "the value uses escapes or specifiers: write the token as a plain word",
        );
        let (value_span, classified) = common::classify_value(text, value);
        sites.push(Site::new(name, key, value_span, classified).with_limit(limit));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::token::Kind;

    const HEX: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn bare_and_quoted_assignments_in_a_delegate_unit() {
        let text = format!(
            "[Unit]\nDescription=Harness delegate\n\n[Service]\n# Environment=DELEGATE_TOKEN=old\nEnvironment=ACCOUNT_ID=x DELEGATE_TOKEN={HEX}\nEnvironment=\"UPGRADER_TOKEN={HEX}\" \"DELEGATE_NAME=a b\"\r\nExecStart=/usr/bin/docker run --rm harness/delegate:25.10.87100\n"
        );
        let sites = scan(&text).unwrap();
        assert_eq!(sites.len(), 2);
        for (site, key) in sites.iter().zip(["DELEGATE_TOKEN", "UPGRADER_TOKEN"]) {
            assert_eq!(site.key, key);
            assert_eq!(&text[site.value_span.clone()], HEX);
            assert_eq!(site.value.kind(), Kind::Literal);
            assert_eq!(site.reader, Reader::Delegate);
        }
    }

    #[test]
    fn a_name_passed_on_by_the_command_is_not_renamed() {
        let text = "[Service]\nEnvironment=ACCOUNT_SECRET=x\nExecStart=/usr/bin/docker run -e ACCOUNT_SECRET harness/delegate\n";
        let sites = scan(text).unwrap();
        assert!(matches!(&sites[0].reader, Reader::Unknown(why) if why.contains("by name")));
    }

    #[test]
    fn another_program_is_not_a_delegate_and_quotes_must_close() {
        let sites =
            scan("[Service]\nEnvironment=ACCOUNT_SECRET=${T}\nExecStart=/opt/installer\n").unwrap();
        assert_eq!(sites[0].value.kind(), Kind::Reference);
        assert!(matches!(sites[0].reader, Reader::Unknown(_)));
        assert_eq!(
            scan("Environment=\"DELEGATE_TOKEN=x\n").unwrap_err().offset,
            12
        );
    }
}
