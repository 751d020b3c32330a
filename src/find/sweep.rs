//! The token sweep: every token-shaped string in a file, under a key rekey reads or not. A
//! delegate token is 32 hex digits, or one or two base64 layers over them (43-44 and 59-60
//! characters, padded or not, a little longer when the hex was encoded with a line break).
//! One pass over the bytes finds the runs of hex digits and of base64 characters; only
//! runs of those lengths are decoded.
//!
//! Bytes holding a NUL (UTF-16 text, binary data) are swept by `binary`, which reads them
//! through [`Chars`] views with the same pass.
//!
//! `check` judges every string found against the policy, so a revoked token pasted into a
//! README, a Dockerfile comment or a file rekey does not parse still fails the gate; a
//! rotation lists the copies of the old token it could not rewrite ("left behind"); and
//! `redact` masks whatever it finds in output (by shape: a stray is never remembered by its
//! bytes, so a tree full of checksums costs nothing to mask).

use crate::model::position::LineIndex;
use crate::model::site::Span;
use crate::model::token::{self, Fingerprint};
use std::ops::Range;
use std::sync::Arc;

/// Whether files are swept for token-shaped strings outside sites: `check` judges them
/// and `rotate` lists the copies it leaves behind; `scan`, `inventory` and `init` list
/// sites only, and pass over the sweep's cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sweep {
    On,
    Off,
}

/// The most strays one run keeps: 64 MiB of the run's memory at 128 bytes a stray (the
/// stray and its finding). A file read in chunks stops keeping them there.
pub const MAX_STRAYS: usize = (64 << 20) / 128;

/// A token-shaped string outside every site of its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stray {
    /// Shared by the strays of one file: a checksum list can hold 100,000.
    pub display: Arc<str>,
    /// Where it stands: bytes of the file, or, in UTF-16 text, code units of the decoded
    /// text (after the byte-order mark), so that its width is its characters'.
    pub span: Span,
    pub line: usize,
    pub column: usize,
    pub fingerprint: Fingerprint,
}

const HEX: u8 = 1;
const BASE64: u8 = 2;

/// The character classes of every byte.
static CLASS: [u8; 256] = {
    let mut table = [0; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        let mut class = 0;
        if b.is_ascii_hexdigit() {
            class |= HEX;
        }
        if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' {
            class |= BASE64;
        }
        table[byte] = class;
        byte += 1;
    }
    table
};

/// The shortest run of base64 characters a token can be: 32 hex digits.
const SHORTEST: usize = 32;

/// Whether a token-shaped string can end just before `byte`: it is neither a base64
/// character nor padding. A file read in chunks is swept up to such a byte.
pub fn ends_a_run(byte: u8) -> bool {
    CLASS[byte as usize] & BASE64 == 0 && byte != b'='
}

/// Line and column (1-based, in characters, as [`LineIndex`] counts them) of offsets met in
/// increasing order while a file streams past: for files too large to index whole.
#[derive(Default)]
pub struct StreamPosition {
    /// The absolute offset counted up to, and the 0-based line and column there.
    at: usize,
    line: usize,
    column: usize,
}

impl StreamPosition {
    /// Counts `chunk` (which starts at absolute offset `base`) up to absolute offset `to`.
    pub fn advance(&mut self, chunk: &[u8], base: usize, to: usize) {
        if to <= self.at {
            return;
        }
        for (at, &byte) in chunk[self.at - base..to - base].iter().enumerate() {
            let absolute = self.at + at;
            if byte == b'\n' {
                self.line += 1;
                self.column = 0;
            } else if absolute == 0 && chunk.starts_with(b"\xEF\xBB\xBF") {
                // A BOM is not a character of the first line.
            } else if (byte & 0xC0) != 0x80 {
                self.column += 1;
            }
        }
        self.at = to;
    }

    pub fn line_col(&self) -> (usize, usize) {
        (self.line + 1, self.column + 1)
    }
}

/// What [`find_in`] reads: one byte per character. A file's own bytes, or the code units of
/// UTF-16 text (see `find::binary`), each as the byte it is when ASCII and as a byte no
/// token holds otherwise.
pub trait Chars {
    fn count(&self) -> usize;
    fn at(&self, index: usize) -> u8;
}

impl Chars for [u8] {
    #[inline]
    fn count(&self) -> usize {
        self.len()
    }

    #[inline]
    fn at(&self, index: usize) -> u8 {
        self[index]
    }
}

/// Where token-shaped strings that decode as delegate tokens stand in `bytes`, in order
/// and not overlapping, with their fingerprints.
pub fn find(bytes: &[u8]) -> Vec<(Range<usize>, Fingerprint)> {
    find_in(bytes)
}

/// [`find`] over any [`Chars`]: the ranges count its characters.
///
/// Every token is a run of at least 32 base64-class characters (hex digits are among
/// them), and any such run covers one of the characters at 31, 63, 95, …: only those are
/// looked at until one falls inside a run, so ordinary text costs one byte in 32.
pub fn find_in<C: Chars + ?Sized>(text: &C) -> Vec<(Range<usize>, Fingerprint)> {
    let is_base64 = |at: usize| CLASS[text.at(at) as usize] & BASE64 != 0;
    let len = text.count();
    let mut found: Vec<(Range<usize>, Fingerprint)> = Vec::new();
    let mut probe = SHORTEST - 1;
    while probe < len {
        if !is_base64(probe) {
            probe += SHORTEST;
            continue;
        }
        let mut start = probe;
        while start > 0 && is_base64(start - 1) {
            start -= 1;
        }
        let mut end = probe + 1;
        while end < len && is_base64(end) {
            end += 1;
        }
        if end - start >= SHORTEST {
            run_tokens(text, start..end, &mut found);
        }
        // The next run starts after `end`; one of at least 32 characters covers this probe.
        probe = end + SHORTEST;
    }
    // Longest first at each start; a span inside one already taken is dropped.
    found.sort_by(|a, b| a.0.start.cmp(&b.0.start).then(b.0.end.cmp(&a.0.end)));
    let mut kept: Vec<(Range<usize>, Fingerprint)> = Vec::with_capacity(found.len());
    for (span, fingerprint) in found {
        if kept.last().is_none_or(|(last, _)| span.start >= last.end) {
            kept.push((span, fingerprint));
        }
    }
    kept
}

/// The longest word [`run_tokens`] decodes as base64.
const LONGEST_WORD: usize = 64;

/// The tokens in one maximal run of base64 characters: each run of exactly 32 hex digits
/// inside it, and the run itself (with any `=` padding after it), or the run without the
/// `+` and `/` at its ends, when it decodes as one.
fn run_tokens<C: Chars + ?Sized>(
    text: &C,
    run: Range<usize>,
    found: &mut Vec<(Range<usize>, Fingerprint)>,
) {
    let mut hex_start = run.start;
    for at in run.clone().chain(std::iter::once(run.end)) {
        if at == run.end || CLASS[text.at(at) as usize] & HEX == 0 {
            if at - hex_start == 32 {
                let hex = gather::<C, 32>(text, hex_start..at);
                found.push((hex_start..at, hex_fingerprint(&hex)));
            }
            hex_start = at + 1;
        }
    }
    let mut padded = run.end;
    while padded < text.count() && padded - run.end < 2 && text.at(padded) == b'=' {
        padded += 1;
    }
    // `+` and `/` are base64 characters, so a word glued to one (a diff's `+` line, a
    // path's `/`) makes a longer run: the word is also tried without them.
    let slash_or_plus = |at: usize| matches!(text.at(at), b'+' | b'/');
    let mut start = run.start;
    while start < run.end && slash_or_plus(start) {
        start += 1;
    }
    let mut stop = run.end;
    while stop > start && slash_or_plus(stop - 1) {
        stop -= 1;
    }
    // A JSON escape glued before a token (`\nYTFi…`, Go's `\u003ca1b2…`) is part of the
    // run: the word after it is tried too.
    let escaped = escaped_start(text, run.clone());
    if let Some(after) = escaped {
        let hex_end = (after..run.end)
            .find(|&at| CLASS[text.at(at) as usize] & HEX == 0)
            .unwrap_or(run.end);
        if hex_end - after == 32 {
            let hex = gather::<C, 32>(text, after..hex_end);
            found.push((after..hex_end, hex_fingerprint(&hex)));
        }
    }
    let after = escaped.unwrap_or(run.start);
    let words = [
        run.start..run.end,
        start..run.end,
        run.start..stop,
        start..stop,
        after..run.end,
        after..stop.max(after),
    ];
    for (tried, word) in words.iter().enumerate() {
        if !(40..=LONGEST_WORD).contains(&word.len()) || words[..tried].contains(word) {
            continue;
        }
        let bytes = gather::<C, LONGEST_WORD>(text, word.clone());
        if let Some(fingerprint) = base64_fingerprint(&bytes[..word.len()]) {
            let end = if word.end == run.end {
                padded
            } else {
                word.end
            };
            found.push((word.start..end, fingerprint));
            break;
        }
    }
}

/// Where the word after a JSON escape starts when the run starts with one's letters: `\n`,
/// `\t`, `\r`, `\b`, `\f` (one letter) or `\uXXXX` (five).
fn escaped_start<C: Chars + ?Sized>(text: &C, run: Range<usize>) -> Option<usize> {
    if run.start == 0 || text.at(run.start - 1) != b'\\' {
        return None;
    }
    let skip = match text.at(run.start) {
        b'n' | b't' | b'r' | b'b' | b'f' => 1,
        b'u' if run.len() > 5
            && (run.start + 1..run.start + 5).all(|at| text.at(at).is_ascii_hexdigit()) =>
        {
            5
        }
        _ => return None,
    };
    Some(run.start + skip)
}

/// The characters of `range` (at most `N`), copied out of `text` to be decoded.
fn gather<C: Chars + ?Sized, const N: usize>(text: &C, range: Range<usize>) -> [u8; N] {
    let mut bytes = [0; N];
    for (slot, at) in bytes.iter_mut().zip(range) {
        *slot = text.at(at);
    }
    bytes
}

fn hex_fingerprint(hex: &[u8]) -> Fingerprint {
    let canonical = String::from_utf8_lossy(hex).to_ascii_lowercase();
    Fingerprint::of_canonical(&canonical)
}

/// The token a base64 word decodes to, padded or not.
///
/// Most words tried are not tokens (a tree's sha1 and sha256 checksums are runs of this
/// length), so this only decodes: `token::classify` would also fingerprint what is not a
/// token, as an `other` literal, which costs a SHA-256 per word.
fn base64_fingerprint(word: &[u8]) -> Option<Fingerprint> {
    let word = std::str::from_utf8(word).ok()?;
    // Canonical base64 is a multiple of 4 characters long: only one padding can fit.
    let padding = match word.len() % 4 {
        0 => "",
        3 => "=",
        2 => "==",
        _ => return None,
    };
    let (_, canonical) = token::decode_token(&format!("{word}{padding}"))?;
    Some(Fingerprint::of_canonical(&canonical))
}

/// Where the token-shaped strings [`find`] found in a file stand, as strays; the engine
/// leaves out those at a site of the file (see `scan::Budget::scan_file`).
pub fn located(display: &str, bytes: &[u8], found: Vec<(Range<usize>, Fingerprint)>) -> Vec<Stray> {
    // One line index for all of a file's strays: a file can hold thousands.
    let lines = (!found.is_empty()).then(|| LineIndex::new(bytes));
    let display: Arc<str> = display.into();
    found
        .into_iter()
        .map(|(span, fingerprint)| {
            let (line, column) = lines
                .as_ref()
                .map_or((1, 1), |lines| lines.line_col(bytes, span.start));
            Stray {
                display: display.clone(),
                span,
                line,
                column,
                fingerprint,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;

    const HEX: &str = "0123456789abcdef0123456789abcdef";
    const FINGERPRINT: &str = "sha256:3eb1bd439947eb76";

    fn found(text: &str) -> Vec<(&str, String)> {
        find(text.as_bytes())
            .into_iter()
            .map(|(span, f)| (&text[span], f.to_string()))
            .collect()
    }

    #[test]
    fn every_form_is_found_wherever_it_stands() {
        let ui = STANDARD.encode(HEX);
        let twice = STANDARD.encode(&ui);
        let with_newline = STANDARD.encode(format!("{HEX}\n"));
        let unpadded = ui.trim_end_matches('=');
        let upper = HEX.to_ascii_uppercase();
        let text = format!(
            "# {HEX}\nx=\"--token={ui}\"\n{twice} {with_newline}\nkey:{unpadded}\n{upper}\n"
        );
        let hits = found(&text);
        let forms: Vec<&str> = hits.iter().map(|(form, _)| *form).collect();
        assert_eq!(forms, [HEX, &ui, &twice, &with_newline, unpadded, &upper]);
        assert!(hits.iter().all(|(_, f)| f == FINGERPRINT));
    }

    #[test]
    fn tokens_are_found_at_every_offset_and_length_of_padding() {
        // The probes fall every 32 bytes: a token must be found wherever it starts.
        for lead in 0..70 {
            let text = format!("{}{HEX}.", " ".repeat(lead));
            assert_eq!(found(&text).len(), 1, "lead {lead}");
            let text = format!("{}x={}\n", "ab ".repeat(lead), STANDARD.encode(HEX));
            assert_eq!(found(&text).len(), 1, "lead {lead}");
        }
        assert_eq!(found(HEX).len(), 1);
    }

    #[test]
    fn near_misses_are_not_tokens() {
        for text in [
            // 31 and 33 hex digits, a 40-digit commit id, a longer base64 blob.
            &HEX[1..],
            &format!("{HEX}a"),
            "0123456789abcdef0123456789abcdef01234567",
            &STANDARD.encode(format!("{HEX}{HEX}")),
            "sha256:3eb1bd439947eb76",
        ] {
            assert!(found(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn strays_carry_their_positions() {
        let text = format!("delegateToken: {HEX} # was {HEX}\n");
        let strays = located("values.yaml", text.as_bytes(), find(text.as_bytes()));
        let positions: Vec<(Range<usize>, usize, usize)> = strays
            .iter()
            .map(|s| (s.span.clone(), s.line, s.column))
            .collect();
        assert_eq!(positions, [(15..47, 1, 16), (54..86, 1, 55)]);
        assert!(strays.iter().all(|s| s.fingerprint.as_str() == FINGERPRINT));
    }
}
