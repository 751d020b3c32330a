//! The report stage, the only code that prints. It turns scans and plans into text for
//! people (grouped, concise, coloured on a terminal unless `NO_COLOR` is set) or JSON for
//! machines. Sites carry fingerprints, never values; a diff shows token values only with
//! `--show-secrets`, and every text bound for output passes the redaction mask.

pub mod check;
pub mod rotate;
pub mod scan;

use crate::engine::FileError;
use crate::redact;
use serde::Serialize;
use std::io::{IsTerminal, Write};

/// ANSI styling, on only for a terminal without `NO_COLOR`.
#[derive(Clone, Copy)]
pub struct Style {
    enabled: bool,
}

impl Style {
    pub fn for_stdout() -> Style {
        Style::detect(std::io::stdout().is_terminal())
    }

    pub fn for_stderr() -> Style {
        Style::detect(std::io::stderr().is_terminal())
    }

    fn detect(is_terminal: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            enabled: is_terminal && !no_color,
        }
    }

    pub fn plain() -> Style {
        Style { enabled: false }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
    pub fn red(self, text: &str) -> String {
        self.paint("31", text)
    }
    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }
    pub fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }
    pub fn magenta(self, text: &str) -> String {
        self.paint("35", text)
    }
    pub fn cyan(self, text: &str) -> String {
        self.paint("36", text)
    }
}

/// Writes a whole report to stdout at once, masked (see `redact`). A closed pipe
/// (`rekey scan | head`) is not an error worth a message.
pub fn to_stdout(text: &str) {
    write_stdout(&redact::mask(text));
}

/// Writes a report that may show token values: only `rotate --show-secrets` calls this.
pub fn to_stdout_revealing(text: &str) {
    write_stdout(text);
}

fn write_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(error) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if error.kind() != std::io::ErrorKind::BrokenPipe {
            to_stderr(&format!("rekey: error: cannot write the report: {error}\n"));
        }
    }
}

/// Writes to stderr, masked.
pub fn to_stderr(text: &str) {
    // Nothing sensible is left to do when stderr itself is gone.
    let _ = std::io::stderr()
        .lock()
        .write_all(redact::mask(text).as_bytes());
}

/// An error line for people: `rekey: error: path:line:col: message`.
/// One `error:` line per line of `message`.
pub fn error(message: &str) {
    let style = Style::for_stderr();
    let mut out = String::new();
    for line in message.lines() {
        out.push_str(&format!("{} {line}\n", style.red("error:")));
    }
    to_stderr(&out);
}

pub fn warning(message: &str) {
    let style = Style::for_stderr();
    to_stderr(&format!("{} {}\n", style.yellow("warning:"), message));
}

pub fn note(message: &str) {
    let style = Style::for_stderr();
    to_stderr(&format!("{} {}\n", style.yellow("note:"), message));
}

/// A file error as JSON consumers see it.
#[derive(Serialize)]
pub struct ErrorRecord<'a> {
    pub path: &'a str,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl<'a> From<&'a FileError> for ErrorRecord<'a> {
    fn from(error: &'a FileError) -> Self {
        ErrorRecord {
            path: &error.display,
            line: error.position.map(|p| p.0),
            column: error.position.map(|p| p.1),
            message: redact::mask(&error.message),
        }
    }
}

/// Serializes a report object as pretty JSON with a final newline.
pub fn json<T: Serialize>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("reports serialize");
    text.push('\n');
    text
}
