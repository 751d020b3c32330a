//! Shell-script scanner: `docker run` launchers, `start.sh` / `delegate.sh`, one-line
//! install commands. A byte lexer splits the script into words the way the shell does
//! (quotes, `\` escapes and line continuations, `$(…)`, comments, heredocs), remembering
//! for every character of a word the byte it came from. Sites are then found in words:
//! `KEY=value` (assignments, `export`, `-e`, `--env`, `--env=`, `helm --set`), and
//! `"delegateToken: value"` as the shell delegate's `echo … >> config-watcher.yml` writes
//! it. Heredoc bodies are scanned as YAML, or as `.env` lines. A commented-out line is
//! reported, never rewritten; prose in comments is nothing. Every whole-word `accountSecret`
//! outside comments (grep guards included) is a mention that migration renames along with
//! the sites.
//!
//! Who reads a key decides whether its legacy name may be renamed: `-e KEY=…` of a command
//! that runs a `harness/delegate` image, `--set KEY=…` of a command installing the delegate
//! chart and `echo "KEY: …" >> config-watcher.yml` are read by a delegate; any other
//! assignment is a shell variable whose readers are not known. All the occurrences of one
//! legacy name in a script are renamed together or not at all.
//!
//! A hand lexer, because the shell parsers available report characters, not bytes, or
//! mishandle heredocs; the property tests in `tests/properties.rs` exercise it.

mod mentions;
mod readers;

use super::common::{self, ParseError};
use super::{dotenv, yaml};
use crate::model::keys;
use crate::model::site::{Limit, Owner, Site, Span};
use crate::model::token::{self, Value};
use keys::has_marker;
use mentions::{add_mentions, rename_together};
use readers::{command_reader, docker_run_owner, Form};
use std::sync::Arc;

pub fn scan(text: &str) -> Result<Vec<Site>, ParseError> {
    let mut lexer = Lexer::new(text, 0, text.len());
    lexer.lex()?;
    let mut sites = lexer.sites;
    add_mentions(text, &lexer.comments, &mut sites);
    sites.sort_by_key(|site| (site.location, site.key_span.start));
    common::mark_conflicts(&mut sites);
    rename_together(text, &lexer.comments, &mut sites);
    Ok(sites)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Quote {
    Bare,
    Single,
    Double,
    /// `$(…)`, `${…}`, `` `…` ``, `$NAME`: whatever it expands to lives elsewhere.
    Substitution,
}

/// One character of a word after quote removal, and where it came from.
#[derive(Clone, Copy, Debug)]
struct Char {
    byte: u8,
    at: usize,
    quote: Quote,
    escaped: bool,
}

#[derive(Default)]
struct Word {
    chars: Vec<Char>,
    /// Where quotes opened, by the logical index they opened at: `KEY=""` has an empty
    /// value inside the quotes.
    quote_opens: Vec<(usize, usize)>,
}

impl Word {
    /// The word after quote removal, written into `buffer` (whose allocation is reused).
    fn logical(&self, buffer: String) -> String {
        let mut bytes = buffer.into_bytes();
        bytes.clear();
        bytes.extend(self.chars.iter().map(|c| c.byte));
        String::from_utf8(bytes)
            .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
    }
}

/// A byte that `Lexer::lex` gives a meaning of its own inside a word.
fn ends_a_bare_run(byte: u8) -> bool {
    matches!(
        byte,
        b'\\'
            | b'\n'
            | b';'
            | b'&'
            | b'|'
            | b'('
            | b')'
            | b' '
            | b'\t'
            | b'\r'
            | b'>'
            | b'<'
            | b'\''
            | b'"'
            | b'$'
            | b'`'
    )
}

struct Heredoc {
    delimiter: String,
    strip_tabs: bool,
}

struct Lexer<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    end: usize,
    word: Option<Word>,
    heredocs: Vec<Heredoc>,
    sites: Vec<Site>,
    /// The `#` comments met, as byte ranges in source order (they never overlap): prose
    /// there is never a mention.
    comments: Vec<Span>,
    /// The words of the simple command being read, and the sites it wrote with their form.
    command: Vec<String>,
    command_sites: Vec<(usize, Form)>,
    /// Emptied words and command words kept for their allocations: a script of a thousand
    /// lines is lexed without an allocation per word.
    spare_word: Word,
    spare_strings: Vec<String>,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str, start: usize, end: usize) -> Self {
        Lexer {
            text,
            bytes: text.as_bytes(),
            at: start,
            end,
            word: None,
            heredocs: Vec::new(),
            sites: Vec::new(),
            comments: Vec::new(),
            command: Vec::new(),
            command_sites: Vec::new(),
            spare_word: Word::default(),
            spare_strings: Vec::new(),
        }
    }

    /// The word being read, started when there is none.
    fn word_mut(&mut self) -> &mut Word {
        self.word
            .get_or_insert_with(|| std::mem::take(&mut self.spare_word))
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        let at = self.at + ahead;
        (at < self.end).then(|| self.bytes[at])
    }

    fn push(&mut self, byte: u8, at: usize, quote: Quote, escaped: bool) {
        self.word_mut().chars.push(Char {
            byte,
            at,
            quote,
            escaped,
        });
    }

    fn open_quote(&mut self) {
        let at = self.at;
        let word = self.word_mut();
        word.quote_opens.push((word.chars.len(), at));
    }

    fn run(mut self) -> Result<Vec<Site>, ParseError> {
        self.lex()?;
        Ok(self.sites)
    }

    /// Ends the simple command being read: its sites learn who reads them.
    fn end_command(&mut self) {
        self.finish_word();
        if self.command_sites.is_empty() {
            self.spare_strings.append(&mut self.command);
            return;
        }
        let owner = docker_run_owner(&self.command).map(Arc::new);
        for (index, form) in std::mem::take(&mut self.command_sites) {
            self.sites[index].reader = command_reader(&self.command, form);
            self.sites[index].owner = match form {
                Form::Assignment => owner.clone(),
                // A line the shell delegate's scripts write into its config files.
                Form::ConfigLine => Some(Arc::new(Owner::Values {
                    subchart: None,
                    delegate_name: None,
                })),
            };
        }
        self.spare_strings.append(&mut self.command);
    }

    fn lex(&mut self) -> Result<(), ParseError> {
        while self.at < self.end {
            let byte = self.bytes[self.at];
            match byte {
                // A line continuation vanishes, as in the shell: `KEY=0123\<newline>4567` is
                // one word, `KEY=01234567`; the blank before a ` \` already ended a word.
                b'\\' if self.peek(1) == Some(b'\n') => self.at += 2,
                b'\\' if self.peek(1) == Some(b'\r') && self.peek(2) == Some(b'\n') => {
                    self.at += 3;
                }
                b'\\' => {
                    if let Some(next) = self.peek(1) {
                        self.push(next, self.at + 1, Quote::Bare, true);
                    }
                    self.at += 2;
                }
                b'\n' => {
                    self.end_command();
                    self.at += 1;
                    self.heredoc_bodies();
                }
                b';' | b'&' | b'|' | b'(' | b')' => {
                    self.end_command();
                    self.at += 1;
                }
                b' ' | b'\t' | b'\r' | b'>' => {
                    self.finish_word();
                    self.at += 1;
                }
                b'#' if self.word.is_none() => self.comment(),
                b'<' => {
                    self.finish_word();
                    match (self.peek(1), self.peek(2)) {
                        // `<<<` is a here-string: its word follows on the same line.
                        (Some(b'<'), Some(b'<')) => self.at += 3,
                        (Some(b'<'), _) => self.heredoc_start(),
                        _ => self.at += 1,
                    }
                }
                b'\'' => self.single_quoted()?,
                b'"' => self.double_quoted()?,
                b'$' | b'`' => self.substitution(Quote::Bare),
                _ => self.bare_run(),
            }
        }
        self.end_command();
        Ok(())
    }

    /// Bytes with no meaning to the lexer, up to the next one that has some, taken into the
    /// word at once (most of a script).
    fn bare_run(&mut self) {
        let (bytes, end, mut at) = (self.bytes, self.end, self.at);
        let word = self.word_mut();
        loop {
            word.chars.push(Char {
                byte: bytes[at],
                at,
                quote: Quote::Bare,
                escaped: false,
            });
            at += 1;
            // Inside a word `#` is an ordinary character.
            if at == end || ends_a_bare_run(bytes[at]) {
                break;
            }
        }
        self.at = at;
    }

    fn unclosed(&self, what: &str) -> ParseError {
        ParseError {
            offset: self.at,
            message: format!("{what} is never closed"),
        }
    }

    fn single_quoted(&mut self) -> Result<(), ParseError> {
        self.open_quote();
        let close = self.text[self.at + 1..self.end]
            .find('\'')
            .map(|i| self.at + 1 + i)
            .ok_or_else(|| self.unclosed("a single quote"))?;
        for at in self.at + 1..close {
            self.push(self.bytes[at], at, Quote::Single, false);
        }
        self.at = close + 1;
        Ok(())
    }

    fn double_quoted(&mut self) -> Result<(), ParseError> {
        self.open_quote();
        let open = self.at;
        self.at += 1;
        loop {
            let Some(byte) = self.peek(0) else {
                self.at = open;
                return Err(self.unclosed("a double quote"));
            };
            match byte {
                b'"' => {
                    self.at += 1;
                    return Ok(());
                }
                b'\\' if matches!(self.peek(1), Some(b'$' | b'`' | b'"' | b'\\')) => {
                    self.push(self.bytes[self.at + 1], self.at + 1, Quote::Double, true);
                    self.at += 2;
                }
                b'\\' if self.peek(1) == Some(b'\n') => self.at += 2,
                b'$' | b'`' => self.substitution(Quote::Double),
                _ => {
                    self.push(byte, self.at, Quote::Double, false);
                    self.at += 1;
                }
            }
        }
    }

    /// `$(…)`, `${…}`, `` `…` `` or `$NAME` (a lone `$` is a character like any other).
    fn substitution(&mut self, around: Quote) {
        let start = self.at;
        let end = match (self.bytes[start], self.peek(1)) {
            (b'`', _) => self.text[start + 1..self.end]
                .find('`')
                .map_or(self.end, |i| start + 1 + i + 1),
            (b'$', Some(b'(')) => self.balanced(start + 1, b'(', b')'),
            (b'$', Some(b'{')) => self.balanced(start + 1, b'{', b'}'),
            (b'$', Some(next)) if next == b'_' || next.is_ascii_alphanumeric() => self.text
                [start + 1..self.end]
                .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
                .map_or(self.end, |i| start + 1 + i),
            _ => {
                self.push(b'$', start, around, false);
                self.at += 1;
                return;
            }
        };
        for at in start..end {
            self.push(self.bytes[at], at, Quote::Substitution, false);
        }
        self.at = end;
    }

    /// The end (exclusive) of a bracketed group opening at `open`, nesting and quotes
    /// respected; the end of the input when it never closes.
    fn balanced(&self, open: usize, opener: u8, closer: u8) -> usize {
        let mut depth = 0;
        let mut at = open;
        let mut quote: Option<u8> = None;
        while at < self.end {
            let byte = self.bytes[at];
            match (quote, byte) {
                (Some(q), b) if b == q => quote = None,
                (Some(b'"'), b'\\') => at += 1,
                (Some(_), _) => {}
                (None, b'\'' | b'"') => quote = Some(byte),
                (None, b) if b == opener => depth += 1,
                (None, b) if b == closer => {
                    depth -= 1;
                    if depth == 0 {
                        return at + 1;
                    }
                }
                _ => {}
            }
            at += 1;
        }
        self.end
    }

    /// `# …` to the end of the line. A commented-out assignment is reported, never
    /// rewritten.
    fn comment(&mut self) {
        let start = self.at + 1;
        let end = self.text[start..self.end]
            .find('\n')
            .map_or(self.end, |i| start + i);
        self.at = end;
        self.comments.push(start - 1..end);
        if !has_marker(&self.bytes[start..end]) {
            return;
        }
        // A comment is free text: what does not lex is simply not a site.
        if let Ok(sites) = Lexer::new(self.text, start, end).run() {
            for mut site in sites {
                site.limit = Some(Limit::ReportOnly("commented out".into()));
                self.sites.push(site);
            }
        }
    }

    /// `<<EOF`, `<<-EOF`, `<<'EOF'`, `<<"EOF"`: the body starts after this line.
    fn heredoc_start(&mut self) {
        self.at += 2;
        let strip_tabs = self.peek(0) == Some(b'-');
        if strip_tabs {
            self.at += 1;
        }
        while matches!(self.peek(0), Some(b' ' | b'\t')) {
            self.at += 1;
        }
        let start = self.at;
        let end = self.text[start..self.end]
            .find(|c: char| c.is_whitespace() || ";&|<>()".contains(c))
            .map_or(self.end, |i| start + i);
        let delimiter: String = self.text[start..end]
            .chars()
            .filter(|c| !matches!(c, '\'' | '"' | '\\'))
            .collect();
        self.at = end;
        if !delimiter.is_empty() {
            self.heredocs.push(Heredoc {
                delimiter,
                strip_tabs,
            });
        }
    }

    /// Scans the bodies of the heredocs opened on the line that just ended.
    fn heredoc_bodies(&mut self) {
        for heredoc in std::mem::take(&mut self.heredocs) {
            let body_start = self.at;
            let mut line_start = body_start;
            let mut body_end = self.end;
            let mut after = self.end;
            while line_start < self.end {
                let line_end = self.text[line_start..self.end]
                    .find('\n')
                    .map_or(self.end, |i| line_start + i);
                let mut line = self.text[line_start..line_end].trim_end_matches('\r');
                if heredoc.strip_tabs {
                    line = line.trim_start_matches('\t');
                }
                if line == heredoc.delimiter {
                    body_end = line_start;
                    after = (line_end + 1).min(self.end);
                    break;
                }
                line_start = line_end + 1;
            }
            self.sites
                .extend(embedded_sites(self.text, body_start, body_end));
            self.at = after;
        }
    }

    fn finish_word(&mut self) {
        let Some(mut word) = self.word.take() else {
            return;
        };
        let logical = word.logical(self.spare_strings.pop().unwrap_or_default());
        if logical.len() >= keys::shortest_marker() && has_marker(logical.as_bytes()) {
            self.word_sites(&word, &logical);
        }
        self.command.push(logical);
        word.chars.clear();
        word.quote_opens.clear();
        self.spare_word = word;
    }

    /// The sites written in one word (its text after quote removal is `logical`): a core
    /// name where it stands, and any other name that is a variant where a name can start
    /// (`HARNESS_DELEGATE_TOKEN=…`, `--env=harness-delegate-token=…`, `--set
    /// harness.delegateToken=…`).
    fn word_sites(&mut self, word: &Word, logical: &str) {
        for key in keys::ALL {
            let mut from = 0;
            while let Some(found) = logical[from..].find(key) {
                let start = from + found;
                from = start + key.len();
                self.key_in_word(word, logical, start, from);
            }
        }
        let bytes = logical.as_bytes();
        let mut start = 0;
        loop {
            let end = start
                + bytes[start..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
                    .count();
            if keys::is_variant(&logical[start..end]) {
                self.key_in_word(word, logical, start, end);
            }
            match bytes[end..].iter().position(|b| matches!(b, b',' | b'=')) {
                Some(at) => start = end + at + 1,
                None => break,
            }
        }
    }

    /// The site of the key name at `start..end` of a word, when it starts the word or
    /// follows a `,` or `=` and an `=` (or, starting the word, `: `) follows it.
    fn key_in_word(&mut self, word: &Word, logical: &str, start: usize, end: usize) {
        let key = &logical[start..end];
        let before = logical[..start].bytes().last();
        let after = logical.as_bytes().get(end).copied();
        if !matches!(before, None | Some(b',' | b'=')) {
            return;
        }
        match after {
            // KEY=value, up to a `,` of a `helm --set a=b,KEY=value` list.
            Some(b'=') => {
                let value_start = end + 1;
                let value_end = logical[value_start..]
                    .find(',')
                    .map_or(logical.len(), |i| value_start + i);
                self.site(word, key, start, value_start..value_end, Form::Assignment);
            }
            // `echo "delegateToken: value" >> config-watcher.yml`
            Some(b':') if before.is_none() => {
                let rest = &logical[end + 1..];
                let value = rest.trim();
                if !value.is_empty() && rest.starts_with([' ', '\t']) {
                    let value_start = end + 1 + (rest.len() - rest.trim_start().len());
                    let value = value_start..value_start + value.len();
                    self.site(word, key, start, value, Form::ConfigLine);
                }
            }
            _ => {}
        }
    }

    /// A site from logical ranges of `word`.
    fn site(&mut self, word: &Word, key: &str, key_start: usize, value: Span, form: Form) {
        let key_chars = &word.chars[key_start..key_start + key.len()];
        let Some(key_span) = contiguous(key_chars) else {
            return;
        };
        let value_chars = &word.chars[value.clone()];
        let (value_span, classified, limit) = if value_chars.is_empty() {
            // `KEY=` or `KEY=""`: empty, inside the quotes when there are some.
            let at = word
                .quote_opens
                .iter()
                .find(|(index, _)| *index == value.start)
                .map_or_else(
                    || word.chars[value.start - 1].at + 1,
                    |(_, quote)| quote + 1,
                );
            (at..at, Value::Empty, None)
        } else if value_chars.iter().any(|c| c.quote == Quote::Substitution) {
            // `${VAR:-default}` standing alone: its default is a literal.
            let at = value_chars[0].at;
            let default = contiguous(value_chars)
                .filter(|_| value_chars.iter().all(|c| c.quote == Quote::Substitution))
                .and_then(|span| common::literal_default(self.text, span));
            match default {
                Some((span, value)) => (span, value, None),
                None => (at..at, Value::Reference, None),
            }
        } else {
            let first = value_chars[0].quote;
            let uniform = value_chars.iter().all(|c| c.quote == first && !c.escaped);
            match contiguous(value_chars).filter(|_| uniform) {
                Some(span) => {
                    let classified = token::classify(&self.text[span.clone()]);
                    (span, classified, None)
                }
                None => {
                    let at = value_chars[0].at;
                    let text: Vec<u8> = value_chars.iter().map(|c| c.byte).collect();
                    let reason = if continued(self.text, value_chars) {
                        "the value is continued over lines with `\\`: write it on one line"
                    } else {
                        "the value mixes quoting styles or uses escapes: write it as one bare, \"double\" or 'single' quoted word"
                    };
                    (
                        at..at,
                        token::classify(&String::from_utf8_lossy(&text)),
                        Some(Limit::Refused(reason.into())),
                    )
                }
            }
        };
        self.command_sites.push((self.sites.len(), form));
        self.sites
            .push(Site::new(key, key_span, value_span, classified).with_limit(limit));
    }
}

/// The source span of `chars` when they are consecutive unescaped bytes of the source.
fn contiguous(chars: &[Char]) -> Option<Span> {
    let first = chars.first()?;
    let ok = chars
        .iter()
        .enumerate()
        .all(|(i, c)| c.at == first.at + i && !c.escaped);
    ok.then(|| first.at..first.at + chars.len())
}

/// Whether a `\` line continuation falls inside `chars`: the source between two of them is
/// a backslash and a line break.
fn continued(text: &str, chars: &[Char]) -> bool {
    chars.windows(2).any(|pair| {
        let between = text.as_bytes().get(pair[0].at + 1..pair[1].at);
        matches!(between, Some(b"\\\n" | b"\\\r\n"))
    })
}

/// Sites in a heredoc body: YAML (a config written with `cat <<EOF > config.yml`), else
/// `.env` lines. A body that is neither yields nothing.
fn embedded_sites(text: &str, start: usize, end: usize) -> Vec<Site> {
    let body = &text[start..end];
    if !has_marker(body.as_bytes()) {
        return Vec::new();
    }
    let sites = match yaml::scan(body) {
        Ok(sites) if !sites.is_empty() => sites,
        _ => dotenv::scan(body).unwrap_or_default(),
    };
    sites.into_iter().map(|site| site.shifted(start)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::site::Role;
    use crate::model::token::Kind;

    const HEX: &str = "0123456789abcdef0123456789abcdef";

    fn found(text: &str) -> Vec<(String, String, Kind)> {
        scan(text)
            .unwrap()
            .into_iter()
            .map(|s| {
                (
                    s.key.into_owned(),
                    text[s.value_span].to_owned(),
                    s.value.kind(),
                )
            })
            .collect()
    }

    fn literal(key: &str) -> (String, String, Kind) {
        (key.to_owned(), HEX.to_owned(), Kind::Literal)
    }

    #[test]
    fn docker_run_flags_with_continuations_and_quotes() {
        let text = format!(
            "docker run -d --restart unless-stopped \\\n  -e DELEGATE_TOKEN={HEX} \\\r\n  --env \"UPGRADER_TOKEN={HEX}\" \\\n  --env=ACCOUNT_SECRET='{HEX}' \\\n  -e DELEGATE_NAME=x harness/delegate:latest\n"
        );
        assert_eq!(
            found(&text),
            vec![
                literal("DELEGATE_TOKEN"),
                literal("UPGRADER_TOKEN"),
                literal("ACCOUNT_SECRET")
            ]
        );
    }

    #[test]
    fn assignments_exports_and_helm_set() {
        let text = format!(
            "export DELEGATE_TOKEN=\"{HEX}\"\nDELEGATE_TOKEN={HEX}; helm upgrade -i d harness/delegate --set delegateToken={HEX} --set-string accountId=x,accountSecret={HEX}\n"
        );
        assert_eq!(
            found(&text),
            vec![
                literal("DELEGATE_TOKEN"),
                literal("DELEGATE_TOKEN"),
                literal("delegateToken"),
                literal("accountSecret"),
            ]
        );
    }

    #[test]
    fn references_empties_and_odd_quoting() {
        let text = format!(
            "-e DELEGATE_TOKEN=$TOKEN -e DELEGATE_TOKEN=\"${{TOKEN}}\" -e DELEGATE_TOKEN=$(cat /run/t)\nDELEGATE_TOKEN=\"\"\nDELEGATE_TOKEN=ab\"{}\"\n",
            &HEX[2..]
        );
        let sites = scan(&text).unwrap();
        let kinds: Vec<Kind> = sites.iter().map(|s| s.value.kind()).collect();
        assert_eq!(
            kinds,
            [
                Kind::Reference,
                Kind::Reference,
                Kind::Reference,
                Kind::Empty,
                Kind::Literal
            ]
        );
        let empty = &sites[3];
        assert_eq!(
            &text[empty.value_span.start - 1..empty.value_span.start + 1],
            "\"\""
        );
        assert!(matches!(sites[4].limit, Some(Limit::Refused(_))));
    }

    #[test]
    fn shell_delegate_echo_lines_guards_and_mentions() {
        let text = format!(
            "if ! grep -q \"^accountSecret:\" config-watcher.yml; then\n  echo \"accountSecret: {HEX}\" >> config-watcher.yml\nfi\nsed -i \"s|^accountSecret:.*|accountSecret: $TOKEN|\" config-delegate.yml\necho $accountSecret\n"
        );
        let sites = scan(&text).unwrap();
        let roles: Vec<(&str, Kind, &Role)> = sites
            .iter()
            .map(|s| (&*s.key, s.value.kind(), &s.role))
            .collect();
        assert_eq!(
            roles,
            [
                ("accountSecret", Kind::Reference, &Role::KeyMention),
                ("accountSecret", Kind::Literal, &Role::Plain),
                ("accountSecret", Kind::Reference, &Role::KeyMention),
                ("accountSecret", Kind::Reference, &Role::KeyMention),
            ]
        );
        assert_eq!(&text[sites[1].value_span.clone()], HEX);
    }

    #[test]
    fn commented_lines_are_report_only() {
        let text = format!("# old: -e DELEGATE_TOKEN={HEX}\necho ok # DELEGATE_TOKEN={HEX}\n");
        let sites = scan(&text).unwrap();
        assert_eq!(sites.len(), 2);
        assert!(sites
            .iter()
            .all(|s| matches!(s.limit, Some(Limit::ReportOnly(_)))
                && &text[s.value_span.clone()] == HEX));
    }

    #[test]
    fn heredoc_bodies_are_scanned_as_yaml_or_env() {
        let text = format!(
            "cat <<EOF > config-watcher.yml\naccountId: x\ndelegateToken: {HEX}\nEOF\ncat <<-'ENV' > .env\n\tDELEGATE_TOKEN={HEX}\n\tENV\necho DELEGATE_TOKEN=not-here-either\n"
        );
        let sites = found(&text);
        assert_eq!(sites[0], literal("delegateToken"));
        assert_eq!(sites[1], literal("DELEGATE_TOKEN"));
        assert_eq!(sites.len(), 3);
    }

    #[test]
    fn a_here_string_is_not_a_heredoc() {
        let text = format!("read -r t <<< \"$x\"\ndocker run -e DELEGATE_TOKEN={HEX} img\n");
        assert_eq!(found(&text), vec![literal("DELEGATE_TOKEN")]);
    }

    #[test]
    fn a_line_continuation_inside_a_value_joins_it_as_the_shell_does() {
        let text = format!("export DELEGATE_TOKEN={}\\\n{}\n", &HEX[..10], &HEX[10..]);
        let sites = scan(&text).unwrap();
        assert_eq!(sites.len(), 1);
        assert!(sites[0].value.is_token());
        assert!(
            matches!(&sites[0].limit, Some(Limit::Refused(reason)) if reason.contains("continued over lines")),
            "{:?}",
            sites[0].limit
        );
    }

    #[test]
    fn an_unclosed_quote_is_an_error() {
        let error = scan("docker run -e \"DELEGATE_TOKEN=abc\n").unwrap_err();
        assert_eq!(error.offset, 14);
    }

    #[test]
    fn docker_run_sites_name_their_container_and_image() {
        let text = "docker run -d --name=edge -e DELEGATE_TOKEN=abc harness/delegate:25.10.87100\ndocker run --rm -e DELEGATE_TOKEN=abc harness/delegate:25.10.87100\nexport DELEGATE_TOKEN=abc\n";
        let owners: Vec<Option<Owner>> = scan(text)
            .unwrap()
            .into_iter()
            .map(|s| s.owner.as_deref().cloned())
            .collect();
        let image = Some("harness/delegate:25.10.87100".to_owned());
        assert_eq!(
            owners,
            [
                Some(Owner::Docker {
                    name: Some("edge".to_owned()),
                    image: image.clone()
                }),
                Some(Owner::Docker { name: None, image }),
                None,
            ]
        );
    }
}
