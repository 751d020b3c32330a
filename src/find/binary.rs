//! The token sweep of bytes that hold a NUL: UTF-16 text (with or without a byte-order
//! mark) and binary data (images, archives, compiled code). Such a file is never parsed,
//! but a revoked token pasted into it must still fail `check`, and a copy of the old token
//! in it is still "left behind" by a rotation.
//!
//! The sweep reads the raw bytes (a token written as ASCII between binary data: a PNG
//! `tEXt` chunk, a string in an executable) and four UTF-16 views of them: each byte order,
//! from an even and from an odd offset (a UTF-16 string can start anywhere in binary data).
//! Each view is read in place, one code unit per character ([`Utf16`]), by the same
//! one-probe-in-32 pass as text: nothing is copied unless a token is found. A file that is
//! UTF-16 text has its tokens placed in its decoded text (line and column as an editor
//! shows them); any other hit is placed by its bytes.

use crate::find::sweep::{self, Chars, Stray};
use crate::model::token::Fingerprint;
use std::collections::BTreeMap;
use std::ops::Range;

/// The byte order of UTF-16 code units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Little,
    Big,
}

/// UTF-16 text: its byte order, and how many bytes its byte-order mark takes (0 or 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encoding {
    pub order: Order,
    pub mark: usize,
}

/// How many bytes of a file without a byte-order mark are looked at to tell UTF-16 text.
const SAMPLE: usize = 4096;

/// Whether `bytes` (a file's start) are UTF-16 text: a byte-order mark, or ASCII-heavy
/// text whose NUL bytes are nearly all at odd offsets (little-endian) or at even ones
/// (big-endian). Binary data has NULs at both.
pub fn utf16_text(bytes: &[u8]) -> Option<Encoding> {
    match bytes {
        [0xFF, 0xFE, ..] => {
            return Some(Encoding {
                order: Order::Little,
                mark: 2,
            })
        }
        [0xFE, 0xFF, ..] => {
            return Some(Encoding {
                order: Order::Big,
                mark: 2,
            })
        }
        _ => {}
    }
    let sample = &bytes[..bytes.len().min(SAMPLE) & !1];
    let units = sample.len() / 2;
    let (mut even, mut odd) = (0, 0);
    for pair in sample.chunks_exact(2) {
        even += usize::from(pair[0] == 0);
        odd += usize::from(pair[1] == 0);
    }
    let text = |nuls: usize, others: usize| units > 0 && nuls * 2 >= units && others * 16 <= nuls;
    if text(odd, even) {
        Some(Encoding {
            order: Order::Little,
            mark: 0,
        })
    } else if text(even, odd) {
        Some(Encoding {
            order: Order::Big,
            mark: 0,
        })
    } else {
        None
    }
}

/// A code unit as the sweep reads it: ASCII as itself, the second half of a surrogate pair
/// as a UTF-8 continuation byte (so that the pair counts as one character), anything else
/// as a byte that starts a character. Neither is a character any token holds.
pub fn narrow(unit: u16) -> u8 {
    match unit {
        0..=0x7F => unit as u8,
        0xDC00..=0xDFFF => 0x80,
        _ => 0xC0,
    }
}

fn unit(pair: [u8; 2], order: Order) -> u16 {
    match order {
        Order::Little => u16::from_le_bytes(pair),
        Order::Big => u16::from_be_bytes(pair),
    }
}

/// The UTF-16 code units of `bytes` in byte `order`, one [`narrow`]ed byte each, read in
/// place.
pub struct Utf16<'a> {
    pub bytes: &'a [u8],
    pub order: Order,
}

impl Chars for Utf16<'_> {
    #[inline]
    fn count(&self) -> usize {
        self.bytes.len() / 2
    }

    #[inline]
    fn at(&self, index: usize) -> u8 {
        let pair = [self.bytes[2 * index], self.bytes[2 * index + 1]];
        narrow(unit(pair, self.order))
    }
}

impl Utf16<'_> {
    /// The text as one byte per code unit, for the line index of what was found in it.
    fn narrowed(&self) -> Vec<u8> {
        (0..self.count()).map(|at| self.at(at)).collect()
    }
}

type Hit = (Range<usize>, Fingerprint);

/// What the sweep of bytes holding a NUL found: tokens in the decoded text when the bytes
/// are UTF-16 text (ranges of its code units), and any other tokens (ranges of bytes).
#[derive(Default)]
pub struct Found {
    text: Option<(Encoding, Vec<Hit>)>,
    bytes: Vec<Hit>,
}

/// Every token in `bytes`, as ASCII or as UTF-16 in either byte order at either offset;
/// one found by two views (UTF-16 text is also little-endian from the next byte on, one
/// character late) is kept once, as the text's own decoding, else as the raw bytes' hit.
pub fn find(bytes: &[u8]) -> Found {
    let encoding = utf16_text(bytes);
    // What is kept, by its byte range: start -> (end, where it came from).
    let mut kept: BTreeMap<usize, (usize, Option<Range<usize>>, Fingerprint)> = BTreeMap::new();
    if let Some(Encoding { order, mark }) = encoding {
        let text = Utf16 {
            bytes: &bytes[mark..],
            order,
        };
        for (units, fingerprint) in sweep::find_in(&text) {
            let span = mark + 2 * units.start..mark + 2 * units.end;
            keep(&mut kept, span, Some(units), fingerprint);
        }
    }
    for (span, fingerprint) in sweep::find(bytes) {
        keep(&mut kept, span, None, fingerprint);
    }
    for order in [Order::Little, Order::Big] {
        for offset in [0, 1] {
            if encoding.is_some_and(|e| e.order == order) && offset == 0 {
                continue; // The text's own decoding, read above.
            }
            let view = Utf16 {
                bytes: bytes.get(offset..).unwrap_or_default(),
                order,
            };
            for (units, fingerprint) in sweep::find_in(&view) {
                let span = offset + 2 * units.start..offset + 2 * units.end;
                keep(&mut kept, span, None, fingerprint);
            }
        }
    }
    let mut found = Found {
        text: encoding.map(|e| (e, Vec::new())),
        bytes: Vec::new(),
    };
    for (start, (end, units, fingerprint)) in kept {
        match (units, &mut found.text) {
            (Some(units), Some((_, text))) => text.push((units, fingerprint)),
            _ => found.bytes.push((start..end, fingerprint)),
        }
    }
    found
}

/// Keeps a hit unless it overlaps one kept before it.
fn keep(
    kept: &mut BTreeMap<usize, (usize, Option<Range<usize>>, Fingerprint)>,
    span: Range<usize>,
    units: Option<Range<usize>>,
    fingerprint: Fingerprint,
) {
    let before = kept.range(..span.end).next_back();
    if before.is_some_and(|(_, (end, _, _))| *end > span.start) {
        return;
    }
    kept.insert(span.start, (span.end, units, fingerprint));
}

impl Found {
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty() && self.text.as_ref().is_none_or(|(_, hits)| hits.is_empty())
    }

    /// The hits as strays of the file `display` names, whose bytes are `bytes`: those in
    /// UTF-16 text at their line and column in the decoded text, the others by the bytes.
    pub fn located(self, display: &str, bytes: &[u8]) -> Vec<Stray> {
        let mut strays = Vec::new();
        if let Some((Encoding { order, mark }, hits)) = self.text {
            if !hits.is_empty() {
                let text = Utf16 {
                    bytes: &bytes[mark..],
                    order,
                }
                .narrowed();
                strays = sweep::located(display, &text, hits);
            }
        }
        strays.extend(sweep::located(display, bytes, self.bytes));
        strays
    }
}

/// A reader of UTF-16 text that yields one [`narrow`]ed byte per code unit, its
/// byte-order mark left out: a file too large to read whole is swept through it as text.
pub struct Narrowed<R> {
    inner: R,
    order: Order,
    /// Bytes of the byte-order mark still to drop.
    mark: usize,
    wide: Vec<u8>,
    /// The first byte of a code unit whose second byte the next read brings.
    odd: Option<u8>,
}

impl<R> Narrowed<R> {
    pub fn new(inner: R, encoding: Encoding) -> Self {
        Narrowed {
            inner,
            order: encoding.order,
            mark: encoding.mark,
            wide: Vec::new(),
            odd: None,
        }
    }
}

impl<R: std::io::Read> std::io::Read for Narrowed<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        self.wide.resize(2 * out.len(), 0);
        loop {
            let mut have = 0;
            if let Some(byte) = self.odd.take() {
                self.wide[0] = byte;
                have = 1;
            }
            let read = self.inner.read(&mut self.wide[have..])?;
            have += read;
            let dropped = self.mark.min(have);
            self.mark -= dropped;
            let wide = &self.wide[dropped..have];
            let pairs = wide.chunks_exact(2);
            self.odd = pairs.remainder().first().copied();
            let units = pairs.len();
            for (slot, pair) in out.iter_mut().zip(pairs) {
                *slot = narrow(unit([pair[0], pair[1]], self.order));
            }
            // Zero only at the end of the input (a lone last byte is no code unit).
            if units > 0 || read == 0 {
                return Ok(units);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef";

    fn utf16(text: &str, order: Order) -> Vec<u8> {
        text.encode_utf16()
            .flat_map(|u| match order {
                Order::Little => u.to_le_bytes(),
                Order::Big => u.to_be_bytes(),
            })
            .collect()
    }

    #[test]
    fn utf16_text_is_told_from_binary_data() {
        let text = format!("caf\u{e9} {HEX}\r\n");
        let le = utf16(&text, Order::Little);
        let be = utf16(&text, Order::Big);
        let little = Encoding {
            order: Order::Little,
            mark: 0,
        };
        let big = Encoding {
            order: Order::Big,
            mark: 0,
        };
        assert_eq!(utf16_text(&le), Some(little));
        assert_eq!(utf16_text(&be), Some(big));
        assert_eq!(
            utf16_text(&[&[0xFF, 0xFE][..], &le].concat()).map(|e| e.mark),
            Some(2)
        );
        let binary: Vec<u8> = (0..4096u32).map(|i| (i * 31 % 7) as u8).collect();
        assert_eq!(utf16_text(&binary), None);
    }

    #[test]
    fn a_token_is_found_once_in_every_encoding_and_offset() {
        for order in [Order::Little, Order::Big] {
            for lead in 0..4 {
                let mut bytes = vec![7u8; lead];
                bytes.extend(utf16(&format!("\u{4e2d}={HEX}\n"), order));
                bytes.extend([0x89, 0, 0xFF]);
                let found = find(&bytes);
                let hits: Vec<&Hit> = found
                    .bytes
                    .iter()
                    .chain(found.text.iter().flat_map(|t| &t.1))
                    .collect();
                assert_eq!(hits.len(), 1, "{order:?} from {lead}");
            }
        }
        let png = [
            &b"\x89PNG\r\n\x1a\n\0\0\0\x2ctEXtComment\0"[..],
            HEX.as_bytes(),
            b"\0\xae",
        ]
        .concat();
        assert_eq!(find(&png).bytes.len(), 1);
    }

    #[test]
    fn the_narrowing_reader_reads_as_the_text_decodes() {
        use std::io::Read;
        let text = format!("\u{feff}a\u{1F600}b {HEX}\n");
        for order in [Order::Little, Order::Big] {
            let bytes = utf16(&text, order);
            let encoding = utf16_text(&bytes).unwrap();
            let whole = Utf16 {
                bytes: &bytes[2..],
                order,
            }
            .narrowed();
            // One byte at a time: code units split across reads.
            let one_at_a_time = std::io::Read::chain(&bytes[..3], &bytes[3..]);
            let mut out = Vec::new();
            let mut reader = Narrowed::new(one_at_a_time, encoding);
            let mut byte = [0];
            while reader.read(&mut byte).unwrap() == 1 {
                out.push(byte[0]);
            }
            assert_eq!(out, whole);
            assert_eq!(&out[..4], b"a\xC0\x80b");
        }
    }
}
