//! Tokens under layers the sweep does not open: a long base64 string that decodes to text
//! or to gzip holding a token. Live state wraps tokens this way: a Secret's `data` holds a
//! whole `config.yaml` in base64, a ConfigMap's `binaryData` a file, and a Helm release
//! Secret (`sh.helm.release.v1.*`) the release's values as base64 of base64 of gzip of
//! JSON. `check --ready-to-revoke` opens every such layer of its stream, so a token kept
//! there keeps the answer at "not ready".
//!
//! Decoding is bounded: at most [`MAX_DEPTH`] layers, and at most [`MAX_INFLATED`] bytes
//! out of all gzip layers of one input together (a gzip bomb ends as "cannot tell").

use crate::find::sweep;
use crate::model::token::Fingerprint;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use std::io::Read as _;
use std::ops::Range;

/// How many layers (base64 or gzip) deep a token is looked for.
pub const MAX_DEPTH: usize = 6;

/// The most bytes all gzip layers of one input may inflate to.
pub const MAX_INFLATED: u64 = 64 << 20;

/// Base64 shorter than this is a token itself (or nothing), which the sweep already finds.
const SHORTEST_LAYER: usize = 65;

/// What the layers of one input hid.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Hidden {
    /// Where each layer holding a token starts and ends in the input, with the token's
    /// fingerprint. A layer holding a token twice is listed once per token.
    pub found: Vec<(Range<usize>, Fingerprint)>,
    /// The gzip layers inflated to more than [`MAX_INFLATED`]: the rest was not looked at.
    pub over_limit: bool,
}

/// Opens every base64 layer of `bytes` (and gzip inside it) and sweeps what it holds.
pub fn open(bytes: &[u8]) -> Hidden {
    open_within(bytes, MAX_INFLATED)
}

/// [`open`], inflating at most `budget` bytes.
fn open_within(bytes: &[u8], mut budget: u64) -> Hidden {
    let mut hidden = Hidden::default();
    for run in base64_runs(bytes) {
        let mut inside = Vec::new();
        open_layer(&bytes[run.clone()], 1, &mut budget, &mut inside);
        inside.sort();
        inside.dedup();
        hidden.found.extend(
            inside
                .into_iter()
                .map(|fingerprint| (run.clone(), fingerprint)),
        );
    }
    hidden.over_limit = budget == 0;
    hidden
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

/// Sweeps decoded bytes, inflates them when they are gzip, and opens the base64 layers
/// they hold in turn.
fn look_inside(decoded: &[u8], depth: usize, budget: &mut u64, found: &mut Vec<Fingerprint>) {
    if decoded.starts_with(&[0x1f, 0x8b]) {
        if let Some(inflated) = inflate(decoded, budget) {
            look_inside(&inflated, depth + 1, budget, found);
        }
        return;
    }
    found.extend(sweep::find(decoded).into_iter().map(|(_, f)| f));
    if depth < MAX_DEPTH {
        for run in base64_runs(decoded) {
            open_layer(&decoded[run], depth + 1, budget, found);
        }
    }
}

/// Inflates gzip data, taking what it yields from `budget`; `None` when it is not gzip.
fn inflate(gzip: &[u8], budget: &mut u64) -> Option<Vec<u8>> {
    let mut inflated = Vec::new();
    let mut decoder = flate2::read::MultiGzDecoder::new(gzip).take(*budget + 1);
    // A truncated stream still yields what came before the cut.
    let result = decoder.read_to_end(&mut inflated);
    if inflated.len() as u64 > *budget {
        *budget = 0;
        return None;
    }
    *budget -= inflated.len() as u64;
    (result.is_ok() || !inflated.is_empty()).then_some(inflated)
}

/// The runs of base64 characters (with their `=` padding) long enough to be a layer over
/// more than one token.
fn base64_runs(bytes: &[u8]) -> Vec<Range<usize>> {
    let is_base64 = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    let mut runs = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if !is_base64(bytes[at]) {
            at += 1;
            continue;
        }
        let start = at;
        while at < bytes.len() && is_base64(bytes[at]) {
            at += 1;
        }
        let mut end = at;
        while end < bytes.len() && end - at < 2 && bytes[end] == b'=' {
            end += 1;
        }
        if at - start >= SHORTEST_LAYER {
            runs.push(start..end);
        }
        at = end;
    }
    runs
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
