//! Files too large to parse (and git blobs too large to hold): read one bounded chunk at a
//! time, searched for key names (one that holds a key name is reported as not judged) and
//! swept for token-shaped strings, with a carry between chunks so that no token or key
//! name is cut at a chunk's edge; UTF-16 text is found by its encoded key names too.

use crate::find::binary;
use crate::find::sweep::{self, Stray, Sweep};
use crate::model::fs::{open_without_following, ReadError};
use crate::model::keys;
use aho_corasick::AhoCorasick;
use std::path::Path;
use std::sync::{Arc, LazyLock};

/// Reads a file too large to parse one bounded chunk at a time: whether it holds a key
/// name (then it is reported as not judged), and the token-shaped strings in it, which are
/// judged like those of any other file (a revoked token pasted into a large log still
/// fails `check`).
pub fn stream_large(
    path: &Path,
    display: &dyn Fn() -> String,
    sweeping: Sweep,
) -> std::io::Result<LargeFile> {
    stream_in_chunks(path, display, sweeping, 1024 * 1024)
}

/// Sweeps a stream too large to hold (a large git blob) one bounded chunk at a time:
/// whether it holds a key name, and the token-shaped strings in it (`None`: more than a
/// run keeps).
pub fn sweep_stream(
    stream: &mut dyn std::io::Read,
    display: &str,
) -> std::io::Result<(bool, Option<Vec<Stray>>)> {
    let (large, _) = stream_reader(stream, &|| display.to_owned(), Sweep::On, 1024 * 1024)?;
    Ok((
        large.holds_key_name,
        (!large.strays_not_kept).then_some(large.strays),
    ))
}

/// What reading a file too large to parse found.
#[derive(Debug)]
pub struct LargeFile {
    pub holds_key_name: bool,
    pub strays: Vec<Stray>,
    /// It held more token-shaped strings than a run keeps: none are kept.
    pub strays_not_kept: bool,
}

/// How far a chunk of `chunk.len()` bytes read so far (swept up to `swept`) can be swept:
/// up to the last byte no token goes past, all of it at the end of the file (`last`).
fn sweep_end(chunk: &[u8], swept: usize, last: bool) -> usize {
    let filled = chunk.len();
    if last {
        return filled;
    }
    let run_end = chunk[swept..]
        .iter()
        .rposition(|&b| sweep::ends_a_run(b))
        .map_or(swept, |at| swept + at + 1);
    if filled - run_end <= CARRY {
        return run_end;
    }
    let tail = filled - CARRY;
    // A run too long to be a token can still end in one after the `+` and `/` it starts
    // with (the sweep tries a word without them): it is cut before that word, never in it.
    let leading = chunk[run_end..]
        .iter()
        .take_while(|&&b| b == b'+' || b == b'/')
        .count();
    if run_end + leading >= tail {
        return run_end + leading;
    }
    // Otherwise it is cut after a byte that is not a hex digit, so that a 32-hex token
    // inside it is never cut in two.
    let last = chunk[tail..].iter().rposition(|b| !b.is_ascii_hexdigit());
    last.map_or(tail, |at| tail + at + 1)
}

/// What a chunk hands on to the next: the longest key name, so that a name across the
/// boundary is still seen, and an unfinished base64 run, so that a token across it is. A
/// run longer than CARRY is no token; it is swept in pieces.
const CARRY: usize = 128;

/// Sweeps the file at `path` `chunk_size` bytes at a time; when it starts as UTF-16 text,
/// its decoded text is swept a second time the same way (one byte per code unit, see
/// `binary::Narrowed`), its strays placed in the decoded text.
fn stream_in_chunks(
    path: &Path,
    display: &dyn Fn() -> String,
    sweeping: Sweep,
    chunk_size: usize,
) -> std::io::Result<LargeFile> {
    // Never through a symlink, never blocking on a FIFO swapped in since the walk saw it.
    let open = || {
        open_without_following(path).map_err(|error| match error {
            ReadError::Io(error) => error,
            other => std::io::Error::other(other.to_string()),
        })
    };
    let (mut large, utf16) = stream_reader(&mut open()?, display, sweeping, chunk_size)?;
    let Some(encoding) = utf16.filter(|_| sweeping == Sweep::On && !large.strays_not_kept) else {
        return Ok(large);
    };
    let mut text = binary::Narrowed::new(open()?, encoding);
    let (decoded, _) = stream_reader(&mut text, display, sweeping, chunk_size)?;
    large.holds_key_name |= decoded.holds_key_name;
    if decoded.strays_not_kept {
        large.strays.clear();
        large.strays_not_kept = true;
    } else {
        large.strays.extend(decoded.strays);
    }
    Ok(large)
}

/// Reads `file` one bounded chunk at a time, searching it for key names and sweeping it;
/// also says whether its first chunk is UTF-16 text.
fn stream_reader(
    file: &mut dyn std::io::Read,
    display: &dyn Fn() -> String,
    sweeping: Sweep,
    chunk_size: usize,
) -> std::io::Result<(LargeFile, Option<binary::Encoding>)> {
    let overlap = keys::longest_marker();
    let mut buffer = vec![0; chunk_size + CARRY.max(overlap)];
    let (mut kept, mut base, mut swept) = (0, 0, 0);
    let mut marked = false;
    let mut utf16 = None;
    let mut position = sweep::StreamPosition::default();
    let mut strays = Vec::new();
    let mut shown: Option<Arc<str>> = None;
    loop {
        let read = file.read(&mut buffer[kept..])?;
        let filled = kept + read;
        let chunk = &buffer[..filled];
        if base == 0 && kept == 0 {
            utf16 = binary::utf16_text(chunk);
        }
        marked = marked || keys::has_marker(chunk) || has_utf16_marker(chunk);
        let end = sweep_end(chunk, swept, read == 0);
        if strays.len() > sweep::MAX_STRAYS {
            // More than a run keeps: not judged, and the rest is not held either.
            let large = LargeFile {
                holds_key_name: marked,
                strays: Vec::new(),
                strays_not_kept: true,
            };
            return Ok((large, utf16));
        }
        let found = match sweeping {
            Sweep::On => sweep::find(&chunk[swept..end]),
            Sweep::Off => Vec::new(),
        };
        for (span, fingerprint) in found {
            let start = base + swept + span.start;
            position.advance(chunk, base, start);
            let (line, column) = position.line_col();
            strays.push(Stray {
                display: shown.get_or_insert_with(|| display().into()).clone(),
                span: start..base + swept + span.end,
                line,
                column,
                fingerprint,
            });
        }
        if read == 0 {
            let large = LargeFile {
                holds_key_name: marked,
                strays,
                strays_not_kept: false,
            };
            return Ok((large, utf16));
        }
        let keep_from = end.min(filled - overlap.min(filled));
        position.advance(chunk, base, base + keep_from);
        buffer.copy_within(keep_from..filled, 0);
        base += keep_from;
        swept = end - keep_from;
        kept = filled - keep_from;
    }
}

static UTF16_MARKERS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    let encode = |name: &str, big_endian: bool| -> Vec<u8> {
        name.encode_utf16()
            .flat_map(|unit| {
                if big_endian {
                    unit.to_be_bytes()
                } else {
                    unit.to_le_bytes()
                }
            })
            .collect()
    };
    let patterns = keys::MARKER_PATTERNS
        .iter()
        .flat_map(|name| [encode(name, false), encode(name, true)]);
    AhoCorasick::new(patterns).expect("key names are valid patterns")
});

/// True when `bytes` holds a key name encoded as UTF-16 (either byte order).
pub fn has_utf16_marker(bytes: &[u8]) -> bool {
    UTF16_MARKERS.is_match(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_streamed_in_chunks_is_swept_as_if_read_whole() {
        let token = "0123456789abcdef0123456789abcdef";
        let ui = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
        let long_run = format!("p/{}/", "g".repeat(150));
        let mut text = String::from("\u{feff}");
        for i in 0..40 {
            text.push_str(&format!("line {i} caf\u{e9} {token}\r\n"));
            text.push_str(&format!("{long_run}{token}/{long_run}\n+{ui}\n/{ui}/\n"));
            text.push_str(&format!("{}{token}\n", "x".repeat(i * 7)));
            // A base64 word after a run of `/` too long to be a token.
            text.push_str(&format!(" {}{ui}\n", "/".repeat(130 + i * 5)));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.log");
        std::fs::write(&path, &text).unwrap();
        let display = || "big.log".to_owned();
        let whole = sweep::located("big.log", text.as_bytes(), sweep::find(text.as_bytes()));
        assert_eq!(whole.len(), 240);
        for chunk_size in (16..600).chain([4096, 1 << 20]) {
            let large = stream_in_chunks(&path, &display, Sweep::On, chunk_size).unwrap();
            assert!(!large.holds_key_name && !large.strays_not_kept);
            assert_eq!(large.strays, whole, "read {chunk_size} bytes at a time");
        }
        // The same text in UTF-16 (its BOM included): found in its decoded text, at the
        // same lines and columns, as when it is read whole.
        let wide: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        std::fs::write(&path, &wide).unwrap();
        let whole_wide = binary::find(&wide).located("big.log", &wide);
        let lines = |strays: &[Stray]| {
            strays
                .iter()
                .map(|s| (s.line, s.column))
                .collect::<Vec<_>>()
        };
        assert_eq!(lines(&whole_wide), lines(&whole));
        for chunk_size in (16..300).step_by(7).chain([4096, 1 << 20]) {
            let large = stream_in_chunks(&path, &display, Sweep::On, chunk_size).unwrap();
            assert_eq!(
                large.strays, whole_wide,
                "read {chunk_size} bytes at a time"
            );
        }
    }
}
