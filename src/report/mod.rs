//! The report stage, the only code that prints. It turns scans and plans into text for
//! people (grouped, concise, coloured as `--color` says) or JSON for machines. Sites carry
//! fingerprints, never values; a diff shows token values only with `--show-secrets`, and
//! every text bound for output passes the redaction mask (see `redact`).
//!
//! How output looks is set once per run by [`configure`] (the `--color` choice and
//! `--quiet`), so every printing function obeys the global flags without each command
//! passing them along.

pub mod check;
pub mod harness;
pub mod history;
pub mod inventory;
pub mod next_steps;
pub mod progress;
pub mod readiness;
pub mod redact;
pub mod rotate;
pub mod rotate_json;
pub mod rotate_repos;
pub mod scan;

use crate::find::scan::FileError;
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::sync::OnceLock;

/// The `--color` choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorChoice {
    /// Colour on a terminal, unless `NO_COLOR` says no or `CLICOLOR_FORCE` says yes.
    #[default]
    Auto,
    Always,
    Never,
}

/// The global output flags of one run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Output {
    pub color: ColorChoice,
    /// Errors and the exit status only: nothing on stdout, no notes, no progress.
    pub quiet: bool,
}

static OUTPUT: OnceLock<Output> = OnceLock::new();

/// Sets the run's output flags; the first call wins (the command line calls it once).
pub fn configure(output: Output) {
    let _ = OUTPUT.set(output);
}

pub fn output() -> Output {
    OUTPUT.get().copied().unwrap_or_default()
}

/// Whether to colour a stream, following the `NO_COLOR` and `CLICOLOR` conventions for
/// `auto`: a non-empty `NO_COLOR` turns colour off, then `CLICOLOR_FORCE` (non-empty, not
/// `0`) turns it on, then `CLICOLOR=0` off; otherwise colour only a terminal.
pub fn colour_enabled(
    choice: ColorChoice,
    is_terminal: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> bool {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto if set("NO_COLOR").is_some() => false,
        ColorChoice::Auto if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") => true,
        ColorChoice::Auto if set("CLICOLOR").is_some_and(|v| v == "0") => false,
        ColorChoice::Auto => is_terminal,
    }
}

/// ANSI styling, on as [`colour_enabled`] decides for the stream.
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
        let env = |name: &str| std::env::var(name).ok();
        Style {
            enabled: colour_enabled(output().color, is_terminal, &env),
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

/// Writes a whole report to stdout, masked (nothing with `--quiet`). A closed pipe
/// (`rekey scan | head`) is not an error worth a message.
pub fn to_stdout(text: &str) {
    stream_to_stdout(Reveal::No, |out| out.write_all(text.as_bytes()));
}

/// Writes a report object to stdout as pretty JSON, masked, without first building its
/// text: the report of a file with 150,000 sites is streamed.
pub fn json_to_stdout<T: Serialize>(value: &T) {
    stream_to_stdout(Reveal::No, |out| write_json(out, value));
}

/// Writes `value` as pretty JSON with a final newline.
pub fn write_json<T: Serialize>(out: &mut dyn Write, value: &T) -> std::io::Result<()> {
    // The serializer writes a few bytes at a time: gathered into blocks first.
    let mut buffered = std::io::BufWriter::with_capacity(64 * 1024, out);
    serde_json::to_writer_pretty(&mut buffered, value)?;
    buffered.write_all(b"\n")?;
    buffered.flush()
}

/// Whether a report may show token values: only `rotate --show-secrets` says yes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Reveal {
    No,
    Yes,
}

/// Lets `write` write a report to stdout as it goes, masked unless `reveal` says otherwise.
/// Whether it was written whole (or its reader went away): a report `write` could not
/// finish is an error, said on stderr.
pub fn stream_to_stdout<F>(reveal: Reveal, write: F) -> bool
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    progress::finish();
    if output().quiet {
        return true;
    }
    let result = match reveal {
        Reveal::No => write_masked(std::io::stdout(), write).map(drop),
        Reveal::Yes => {
            let mut out = std::io::BufWriter::with_capacity(BLOCK, std::io::stdout().lock());
            write(&mut out).and_then(|()| out.flush())
        }
    };
    match result {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            to_stderr(&format!("rekey: error: cannot write the report: {error}\n"));
            false
        }
        _ => true,
    }
}

/// How much report text is masked and written at once.
const BLOCK: usize = 64 * 1024;

/// Writes what `write` produces to `out`, masked a block at a time on a second thread: a
/// long report is neither held whole nor copied whole to be masked, and producing it and
/// masking it overlap instead of adding up. Returns `out` once everything is written.
fn write_masked<W, F>(out: W, write: F) -> std::io::Result<W>
where
    W: Write + Send,
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    std::thread::scope(|scope| {
        // A few blocks in flight at most: the report is still streamed.
        let (send, blocks) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let masker = scope.spawn(move || -> std::io::Result<W> {
            let mut out = out;
            for block in blocks {
                out.write_all(masked_block(&block).as_bytes())?;
            }
            out.flush()?;
            Ok(out)
        });
        let mut cut = Blocks {
            send,
            pending: Vec::new(),
        };
        let written = write(&mut cut).and_then(|()| cut.flush());
        drop(cut);
        let masked = masker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        // When the reader goes away the masker stops first, and its error says why.
        let out = masked?;
        written.map(|()| out)
    })
}

/// `block` masked; reports are UTF-8, anything else is masked as its lossy text.
fn masked_block(block: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(block) {
        Ok(text) => redact::masked(text),
        Err(_) => std::borrow::Cow::Owned(redact::mask(&String::from_utf8_lossy(block))),
    }
}

/// A writer that cuts what passes through it into blocks for the masker. A block ends
/// after an ASCII byte that no form of a token holds (a token, its base64 forms, their
/// pieces and every token shape `redact` masks are runs of `[A-Za-z0-9+/=_-]`), so no
/// token straddles two blocks.
struct Blocks {
    send: std::sync::mpsc::SyncSender<Vec<u8>>,
    pending: Vec<u8>,
}

impl Blocks {
    fn send(&mut self, block: Vec<u8>) -> std::io::Result<()> {
        self.send.send(block).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the report's reader is gone",
            )
        })
    }
}

impl Write for Blocks {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        // A block at a time (`write_all` calls again for the rest).
        let taken = &bytes[..bytes.len().min(BLOCK)];
        let before = self.pending.len();
        self.pending.extend_from_slice(taken);
        if self.pending.len() >= BLOCK {
            // A full block left pending holds no boundary: only the new bytes can.
            let from = if before >= BLOCK { before } else { 0 };
            let last = self.pending[from..].iter().rposition(|&b| ends_a_block(b));
            if let Some(at) = last {
                let rest = self.pending.split_off(from + at + 1);
                let block = std::mem::replace(&mut self.pending, rest);
                self.send(block)?;
            }
        }
        Ok(taken.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let block = std::mem::take(&mut self.pending);
        self.send(block)
    }
}

/// An ASCII byte outside every token form: a block may end after it.
fn ends_a_block(byte: u8) -> bool {
    byte.is_ascii() && !byte.is_ascii_alphanumeric() && !b"+/=_-".contains(&byte)
}

/// Serializes what an iterator yields as a sequence without collecting it first: the sites
/// of a scan are written one by one, not held twice.
pub struct Streamed<F>(pub F);

impl<F, I> Serialize for Streamed<F>
where
    F: Fn() -> I,
    I: IntoIterator,
    I::Item: Serialize,
{
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq((self.0)())
    }
}

/// Writes to stderr, masked.
pub fn to_stderr(text: &str) {
    progress::finish();
    // Nothing sensible is left to do when stderr itself is gone.
    let _ = std::io::stderr()
        .lock()
        .write_all(redact::masked(text).as_bytes());
}

/// An error line for people: `rekey: error: path:line:col: message`.
/// One `error:` line per line of `message`.
pub fn error(message: &(impl std::fmt::Display + ?Sized)) {
    let style = Style::for_stderr();
    let mut out = String::new();
    for line in message.to_string().lines() {
        out.push_str(&format!("{} {line}\n", style.red("error:")));
    }
    to_stderr(&out);
}

/// A warning for people: skipped with `--quiet`, which keeps errors only.
pub fn warning(message: &str) {
    if output().quiet {
        return;
    }
    let style = Style::for_stderr();
    to_stderr(&format!("{} {}\n", style.yellow("warning:"), message));
}

/// A note for people: skipped with `--quiet`.
pub fn note(message: &str) {
    if output().quiet {
        return;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(choice: ColorChoice, is_terminal: bool, vars: &[(&str, &str)]) -> bool {
        let env = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        colour_enabled(choice, is_terminal, &env)
    }

    #[test]
    fn block_masking_masks_a_token_split_across_blocks_like_the_whole() {
        const TOKEN: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
        redact::remember(TOKEN);
        // A token across the first block's end, then tokens glued to `=` and quotes as
        // reports print them, between stretches without any byte a block may end after.
        let block = BLOCK;
        let mut text = format!("{}={TOKEN}\n", "x".repeat(block - 10));
        for i in 0..199 {
            text.push_str(&"x".repeat(block / 7 + i));
            text.push_str(&format!(" DELEGATE_TOKEN={TOKEN}\\n\"{TOKEN}\","));
        }
        // Written in pieces of every size up to a block and a half, as serializers write.
        let out = write_masked(Vec::new(), |out| {
            let mut rest = text.as_bytes();
            let mut size = 1;
            while !rest.is_empty() {
                let (piece, after) = rest.split_at(size.min(rest.len()));
                out.write_all(piece)?;
                rest = after;
                size = size * 7 % (block * 3 / 2) + 1;
            }
            Ok(())
        })
        .unwrap();
        let written = String::from_utf8(out).unwrap();
        assert!(!written.contains(&TOKEN[..12]));
        assert_eq!(written, redact::mask(&text));
        assert_eq!(written.matches("<redacted sha256:").count(), 399);
    }

    #[test]
    fn auto_follows_the_terminal_and_the_colour_variables() {
        use ColorChoice::*;
        assert!(decide(Auto, true, &[]));
        assert!(!decide(Auto, false, &[]));
        assert!(!decide(Auto, true, &[("NO_COLOR", "1")]));
        assert!(
            decide(Auto, true, &[("NO_COLOR", "")]),
            "an empty NO_COLOR is unset"
        );
        assert!(decide(Auto, false, &[("CLICOLOR_FORCE", "1")]));
        assert!(!decide(Auto, false, &[("CLICOLOR_FORCE", "0")]));
        assert!(!decide(
            Auto,
            false,
            &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]
        ));
        assert!(!decide(Auto, true, &[("CLICOLOR", "0")]));
        assert!(decide(Always, false, &[("NO_COLOR", "1")]));
        assert!(!decide(Never, true, &[("CLICOLOR_FORCE", "1")]));
    }
}
