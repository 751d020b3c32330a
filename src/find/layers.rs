//! Tokens under layers the sweep does not open: a base64 string that decodes to text, or
//! to gzip or zlib data, holding a token. Live state and manifests wrap tokens this way: a
//! Secret's `data` holds a whole `config.yaml` or `.env` in base64, a ConfigMap's
//! `binaryData` a file, and a Helm release Secret (`sh.helm.release.v1.*`) the release's
//! values as base64 of base64 of gzip of JSON. `check --ready-to-revoke` opens every such
//! layer of its stream, and `walk::judge` those of files that look like such objects, so a
//! token kept there fails the gate.
//!
//! A run of base64 is opened from 40 characters on (`delegateToken: <hex>` is 64), and a
//! run wrapped over lines (GNU `base64` wraps at 76 columns, a block scalar keeps the
//! breaks, JSON writes them as `\n` escapes) is joined and opened whole as well as line by
//! line: Kubernetes drops the line breaks of base64 wherever they stand.
//!
//! Decoding is bounded: at most [`MAX_DEPTH`] layers, and at most [`MAX_INFLATED`] bytes
//! out of all gzip and zlib layers of one input together (a bomb ends as "cannot tell").

use crate::find::sweep;
use crate::model::token::Fingerprint;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use std::borrow::Cow;
use std::io::Read as _;
use std::ops::Range;

/// How many layers (base64, gzip or zlib) deep a token is looked for.
pub const MAX_DEPTH: usize = 6;

/// The most bytes all gzip and zlib layers of one input may inflate to.
pub const MAX_INFLATED: u64 = 64 << 20;

/// Base64 shorter than this holds less than a token and a few characters around it.
const SHORTEST_LAYER: usize = 40;

/// The shortest line of base64 a wrapped run is followed from onto the next line: shorter
/// words ending a line are ordinary text.
const SHORTEST_LINE: usize = 16;

/// What the layers of one input hid.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Hidden {
    /// Where each layer holding a token starts and ends in the input, with the token's
    /// fingerprint. A layer holding a token twice is listed once per token; a token the
    /// sweep finds as it stands (a run that is itself a token) is not listed.
    pub found: Vec<(Range<usize>, Fingerprint)>,
    /// The gzip or zlib layers inflated to more than [`MAX_INFLATED`]: the rest was not
    /// looked at.
    pub over_limit: bool,
}

/// Opens every base64 layer of `bytes` (and gzip or zlib inside it) and sweeps what it
/// holds.
pub fn open(bytes: &[u8]) -> Hidden {
    open_within(bytes, MAX_INFLATED)
}

/// [`open`], inflating at most `budget` bytes.
fn open_within(bytes: &[u8], mut budget: u64) -> Hidden {
    let mut hidden = Hidden::default();
    for run in base64_runs(bytes) {
        let mut inside = Vec::new();
        if run.joined {
            // A token split over lines is a token the sweep of the lines does not see.
            inside.extend(sweep::find(&run.text).into_iter().map(|(_, f)| f));
        }
        open_layer(&run.text, 1, &mut budget, &mut inside);
        inside.sort();
        inside.dedup();
        hidden.found.extend(
            inside
                .into_iter()
                .map(|fingerprint| (run.span.clone(), fingerprint)),
        );
    }
    drop_doubles(bytes, &mut hidden.found);
    hidden.over_limit = budget == 0;
    hidden
}

/// Lists each token once: a layer hit that holds a plain find of the same token (the run
/// is itself that token) or lies inside a wider hit of it (a line of a wrapped run) goes.
fn drop_doubles(bytes: &[u8], found: &mut Vec<(Range<usize>, Fingerprint)>) {
    if found.is_empty() {
        return;
    }
    let plain = sweep::find(bytes);
    let within = |outer: &Range<usize>, inner: &Range<usize>| {
        outer.start <= inner.start && inner.end <= outer.end
    };
    found.retain(|(span, f)| !plain.iter().any(|(p, g)| g == f && within(span, p)));
    found.sort_by(|a, b| (a.0.start, b.0.end).cmp(&(b.0.start, a.0.end)));
    let mut kept: Vec<(Range<usize>, Fingerprint)> = Vec::with_capacity(found.len());
    for (span, f) in found.drain(..) {
        if !kept.iter().any(|(k, g)| *g == f && within(k, &span)) {
            kept.push((span, f));
        }
    }
    *found = kept;
}

/// The tokens a base64 layer holds at any depth, into `found`.
fn open_layer(layer: &[u8], depth: usize, budget: &mut u64, found: &mut Vec<Fingerprint>) {
    let trimmed = layer
        .strip_suffix(b"==")
        .or_else(|| layer.strip_suffix(b"="));
    let Ok(decoded) = STANDARD_NO_PAD.decode(trimmed.unwrap_or(layer)) else {
        return;
    };
    look_inside(&decoded, depth, budget, found);
}

/// Sweeps decoded bytes, inflates them when they are gzip or zlib, and opens the base64
/// layers they hold in turn.
fn look_inside(decoded: &[u8], depth: usize, budget: &mut u64, found: &mut Vec<Fingerprint>) {
    if let Some(inflated) = inflate(decoded, budget) {
        if depth < MAX_DEPTH {
            look_inside(&inflated, depth + 1, budget, found);
        }
        return;
    }
    found.extend(sweep::find(decoded).into_iter().map(|(_, f)| f));
    if depth < MAX_DEPTH {
        for run in base64_runs(decoded) {
            open_layer(&run.text, depth + 1, budget, found);
        }
    }
}

/// Whether `bytes` start as zlib data: the header byte of deflate with a 32 KiB window,
/// then one of the check bytes zlib writes (no, fast, default, best compression).
fn is_zlib(bytes: &[u8]) -> bool {
    matches!(bytes, [0x78, 0x01 | 0x5e | 0x9c | 0xda, ..])
}

/// Inflates gzip or zlib data, taking what it yields from `budget`; `None` when it is
/// neither (or inflates to nothing).
fn inflate(compressed: &[u8], budget: &mut u64) -> Option<Vec<u8>> {
    let decoder: Box<dyn std::io::Read + '_> = if compressed.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(compressed))
    } else if is_zlib(compressed) {
        Box::new(flate2::read::ZlibDecoder::new(compressed))
    } else {
        return None;
    };
    let mut inflated = Vec::new();
    // A truncated stream still yields what came before the cut.
    let result = decoder.take(*budget + 1).read_to_end(&mut inflated);
    if inflated.len() as u64 > *budget {
        *budget = 0;
        return None;
    }
    *budget -= inflated.len() as u64;
    (result.is_ok() || !inflated.is_empty()).then_some(inflated)
}

/// A run of base64 to open: where it stands, and its characters (a wrapped run's lines
/// joined, without the breaks).
struct Run<'a> {
    span: Range<usize>,
    text: Cow<'a, [u8]>,
    joined: bool,
}

fn is_base64(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'+' || byte == b'/'
}

/// The runs of base64 characters (with their `=` padding) long enough to be a layer over
/// more than one token, and every run wrapped over lines, joined (its lines also stand
/// alone when long enough). A JSON escape glued before a run (`\n`, `\u003c`) is not part
/// of it.
///
/// Only runs of [`SHORTEST_LINE`] characters or more matter, and each covers one of the
/// bytes at 15, 31, 47, …: only those are looked at until one falls inside a run, so
/// ordinary text costs one byte in 16.
fn base64_runs(bytes: &[u8]) -> Vec<Run<'_>> {
    let mut runs = Vec::new();
    let mut probe = SHORTEST_LINE - 1;
    // The end of the last wrapped run: its lines do not start another.
    let mut joined_to = 0;
    while probe < bytes.len() {
        if !is_base64(bytes[probe]) {
            probe += SHORTEST_LINE;
            continue;
        }
        let mut at = probe;
        while at > 0 && is_base64(bytes[at - 1]) {
            at -= 1;
        }
        if at > 0 && bytes[at - 1] == b'\\' {
            at = (at - 1 + escape_len(&bytes[at - 1..])).max(at);
        }
        let (chars, end) = piece(bytes, at);
        if chars.saturating_sub(at) >= SHORTEST_LAYER {
            runs.push(Run {
                span: at..end,
                text: Cow::Borrowed(&bytes[at..end]),
                joined: false,
            });
        }
        if at >= joined_to && at < chars {
            if let Some(wrapped) = follow_lines(bytes, at..chars, end) {
                joined_to = wrapped.span.end;
                runs.push(wrapped);
            }
        }
        probe = end.max(chars) + SHORTEST_LINE;
    }
    runs
}

/// How many bytes the JSON or shell escape at the start of `bytes` takes (`\n`: 2,
/// `\u003c`: 6), 0 when it is none.
fn escape_len(bytes: &[u8]) -> usize {
    match bytes {
        [b'\\', b'u', rest @ ..]
            if rest.len() >= 4 && rest[..4].iter().all(u8::is_ascii_hexdigit) =>
        {
            6
        }
        [b'\\', b'n' | b't' | b'r' | b'b' | b'f' | b'\\' | b'"' | b'/', ..] => 2,
        _ => 0,
    }
}

/// The run of base64 characters at `at`: where its characters end, and where its `=`
/// padding (at most two) ends.
fn piece(bytes: &[u8], at: usize) -> (usize, usize) {
    let chars = at + bytes[at..].iter().take_while(|&&b| is_base64(b)).count();
    let padding = bytes[chars..]
        .iter()
        .take(2)
        .take_while(|&&b| b == b'=')
        .count();
    (chars, chars + padding)
}

/// The run wrapped over lines that starts with the line `first` (padded to `end`): each
/// line without padding, of at least [`SHORTEST_LINE`] characters and ending its line,
/// continues at the start of the next one. `None` when it does not continue.
fn follow_lines(bytes: &[u8], first: Range<usize>, mut end: usize) -> Option<Run<'_>> {
    let mut text = Vec::new();
    let mut line = first.clone();
    while end == line.end && line.len() >= SHORTEST_LINE {
        let Some(next) = next_line(bytes, line.end) else {
            break;
        };
        let (chars, padded) = piece(bytes, next);
        if !ends_a_line(bytes.get(padded).copied()) {
            break;
        }
        text.extend_from_slice(&bytes[line.clone()]);
        line = next..chars;
        end = padded;
    }
    if text.is_empty() {
        return None;
    }
    text.extend_from_slice(&bytes[line.start..end]);
    Some(Run {
        span: first.start..end,
        text: Cow::Owned(text),
        joined: true,
    })
}

/// Whether a line of a wrapped run may end before `byte`: at the end of the input, a
/// blank, a line break (or its JSON escape), or a closing quote or comma.
fn ends_a_line(byte: Option<u8>) -> bool {
    matches!(
        byte,
        None | Some(b' ' | b'\t' | b'\r' | b'\n' | b'\\' | b'"' | b'\'' | b',')
    )
}

/// Where the next line of a wrapped run starts after a line ending at `end`: after one
/// line break (or a `\n` or `\r\n` escape) and the blanks around it, at a base64
/// character.
fn next_line(bytes: &[u8], end: usize) -> Option<usize> {
    let blanks = |at: usize| {
        at + bytes[at..]
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count()
    };
    let at = blanks(end);
    let rest = &bytes[at..];
    let break_len = [&b"\r\n"[..], b"\n", b"\\r\\n", b"\\n"]
        .iter()
        .find(|brk| rest.starts_with(brk))
        .map(|brk| brk.len())?;
    let at = blanks(at + break_len);
    bytes.get(at).is_some_and(|&b| is_base64(b)).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use std::io::Write as _;

    const TOKEN: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    const FINGERPRINT: &str = "sha256:3eb1bd439947eb76";

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn a_token_under_base64_and_gzip_layers_is_found_at_the_outer_layer() {
        let config = format!("delegateName: prod\ndelegateToken: {TOKEN}\n");
        let once = STANDARD.encode(&config);
        let release = STANDARD.encode(STANDARD.encode(gzip(config.as_bytes())));
        let text = format!("a: {once}\nb: {release}\n");
        let hidden = open(text.as_bytes());
        let found: Vec<(&str, &str)> = hidden
            .found
            .iter()
            .map(|(span, f)| (&text[span.clone()], f.as_str()))
            .collect();
        assert_eq!(found, [(&*once, FINGERPRINT), (&*release, FINGERPRINT)]);
        assert!(!hidden.over_limit);
    }

    #[test]
    fn ordinary_base64_hides_nothing() {
        let text = STANDARD.encode(gzip(&[7u8; 10_000]));
        assert_eq!(open(text.as_bytes()), Hidden::default());
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit_and_says_so() {
        let bomb = STANDARD.encode(gzip(&vec![b'a'; 1 << 20]));
        let hidden = open_within(bomb.as_bytes(), 1 << 16);
        assert!(hidden.over_limit);
        assert!(hidden.found.is_empty());
    }
}
