//! Redaction: how a token is shown when it must not be (its fingerprint label), and the mask
//! every text bound for output passes through. The mask works in two layers:
//!
//! 1. By the bytes rekey knows: every token value read in this run (each old value at a
//!    site, the new token, anything refused on the command line) is remembered in all the
//!    forms it can take (hex in any case, base64, base64x2, and the exact text it was written
//!    as), and every occurrence of any of them is replaced by its label, wherever it stands:
//!    inside a longer word, after `=`, in a commit message.
//! 2. By shape, for tokens rekey never read as a value (one in a comment beside an edited
//!    line): a run of exactly 32 hex digits, or a 44- or 60-character base64 word ending in
//!    `=`, that decodes to a delegate token.
//!
//! The remembered forms live in one process-wide registry because output leaves from many
//! places (reports, errors, notes, commit messages) and none of them may be missed.

use crate::token::{self, Fingerprint};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::Mutex;
use zeroize::Zeroizing;

/// What a diff or report prints where a token stands.
pub fn label(fingerprint: &Fingerprint) -> String {
    format!("<redacted {fingerprint}>")
}

struct Known {
    /// Every form of every remembered token, and the label that replaces it.
    forms: Vec<(Zeroizing<String>, String)>,
    /// Tokens already expanded, so remembering a token twice costs nothing.
    seen: BTreeSet<Fingerprint>,
    /// Built on first use after a change.
    matcher: Option<AhoCorasick>,
}

static KNOWN: Mutex<Known> = Mutex::new(Known {
    forms: Vec::new(),
    seen: BTreeSet::new(),
    matcher: None,
});

/// Remembers a token value read in this run, as it was written (any encoding). Anything
/// that does not decode as a delegate token is ignored.
pub fn remember(written: &str) {
    let written = written.trim();
    let Some((_, canonical)) = token::decode_token(written) else {
        return;
    };
    let mut known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    let fingerprint = Fingerprint::of_canonical(&canonical);
    let label = label(&fingerprint);
    if !known.seen.contains(&fingerprint) {
        let upper = Zeroizing::new(canonical.to_ascii_uppercase());
        let mut forms = vec![Zeroizing::new(canonical.to_string())];
        for hex in [&canonical, &upper] {
            let once = Zeroizing::new(STANDARD.encode(hex.as_bytes()));
            forms.push(Zeroizing::new(STANDARD.encode(once.as_bytes())));
            forms.push(once);
        }
        known
            .forms
            .extend(forms.into_iter().map(|form| (form, label.clone())));
        known.seen.insert(fingerprint);
    }
    if !known.forms.iter().any(|(form, _)| form.as_str() == written) {
        known
            .forms
            .push((Zeroizing::new(written.to_owned()), label));
    }
    known.matcher = None;
}

/// `text` with every remembered token form and every token-shaped word replaced by its
/// label. Everything rekey prints or writes outside the rotated files passes through here.
pub fn mask(text: &str) -> String {
    sweep(&mask_known(text))
}

fn mask_known(text: &str) -> String {
    let mut known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    if known.forms.is_empty() {
        return text.to_owned();
    }
    if known.matcher.is_none() {
        // Hex may be written in any case; matching base64 without case only ever masks
        // more, never less.
        let matcher = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(known.forms.iter().map(|(form, _)| form.as_bytes()))
            .expect("token forms are valid patterns");
        known.matcher = Some(matcher);
    }
    let matcher = known.matcher.as_ref().expect("just built");
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    for found in matcher.find_iter(text) {
        out.push_str(&text[cursor..found.start()]);
        out.push_str(&known.forms[found.pattern().as_usize()].1);
        cursor = found.end();
    }
    out.push_str(&text[cursor..]);
    out
}

/// Masks every token-shaped word that decodes as a delegate token: a run of exactly 32 hex
/// digits, or a base64 word of 44 or 60 characters ending in `=` (one or two layers over
/// the hex), wherever it stands.
pub fn sweep(text: &str) -> String {
    let found = token_shapes(text);
    if found.is_empty() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    for (span, fingerprint) in found {
        out.push_str(&text[cursor..span.start]);
        out.push_str(&label(&fingerprint));
        cursor = span.end;
    }
    out.push_str(&text[cursor..]);
    out
}

/// Where token-shaped words that decode as delegate tokens stand in `text`, in order and
/// not overlapping, with their fingerprints.
pub fn token_shapes(text: &str) -> Vec<(Range<usize>, Fingerprint)> {
    let bytes = text.as_bytes();
    let mut found: Vec<(Range<usize>, Fingerprint)> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if !bytes[at].is_ascii_hexdigit() {
            at += 1;
            continue;
        }
        let start = at;
        while at < bytes.len() && bytes[at].is_ascii_hexdigit() {
            at += 1;
        }
        if at - start == 32 {
            found.push((start..at, token_fingerprint(&text[start..at])));
        }
    }
    let is_base64 = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    for (end, _) in text.match_indices('=') {
        for length in [44, 60] {
            let Some(start) = (end + 1).checked_sub(length) else {
                continue;
            };
            if bytes[start..end].iter().all(|&b| is_base64(b)) {
                let value = token::classify(&text[start..=end]);
                if let (true, Some(fingerprint)) = (value.is_token(), value.fingerprint()) {
                    found.push((start..end + 1, fingerprint.clone()));
                }
            }
        }
    }
    // Longest first at each start; a span inside one already taken is dropped.
    found.sort_by(|a, b| a.0.start.cmp(&b.0.start).then(b.0.end.cmp(&a.0.end)));
    let mut kept: Vec<(Range<usize>, Fingerprint)> = Vec::with_capacity(found.len());
    for (span, fingerprint) in found {
        if kept.last().map_or(true, |(last, _)| span.start >= last.end) {
            kept.push((span, fingerprint));
        }
    }
    kept
}

fn token_fingerprint(hex: &str) -> Fingerprint {
    Fingerprint::of_canonical(&hex.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef";
    const UI: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    const LABEL: &str = "<redacted sha256:3eb1bd439947eb76>";

    #[test]
    fn sweep_masks_tokens_in_any_encoding_and_keeps_the_rest() {
        let text = format!("# old: {HEX}\nvalue: \"{UI}\" # keep=this\n");
        assert_eq!(
            sweep(&text),
            format!("# old: {LABEL}\nvalue: \"{LABEL}\" # keep=this\n")
        );
    }

    #[test]
    fn sweep_finds_tokens_glued_to_keys_and_flags() {
        let ui2 = STANDARD.encode(UI);
        for (text, want) in [
            (
                format!("\"--token={HEX}\","),
                format!("\"--token={LABEL}\","),
            ),
            (
                format!("# was: export DELEGATE_TOKEN={UI}"),
                format!("# was: export DELEGATE_TOKEN={LABEL}"),
            ),
            (format!("x={ui2}"), format!("x={LABEL}")),
            (HEX.to_ascii_uppercase(), LABEL.to_owned()),
        ] {
            assert_eq!(sweep(&text), want);
        }
        // A git commit id is 40 hex digits, not a token.
        let commit = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(sweep(commit), commit);
    }

    #[test]
    fn remembered_tokens_are_masked_even_inside_words() {
        let hex = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
        remember(hex);
        let label = label(&Fingerprint::of_canonical(hex));
        let ui = STANDARD.encode(hex);
        let masked = mask(&format!("abc{hex}def {} {ui}x", hex.to_ascii_uppercase()));
        assert_eq!(masked, format!("abc{label}def {label} {label}x"));
    }

    #[test]
    fn token_shapes_name_spans_and_fingerprints() {
        let text = format!("--branch=rekey/{HEX}");
        let found = token_shapes(&text);
        assert_eq!(found.len(), 1);
        assert_eq!(&text[found[0].0.clone()], HEX);
        assert_eq!(found[0].1.as_str(), "sha256:3eb1bd439947eb76");
        assert!(token_shapes("sha256:3eb1bd439947eb76").is_empty());
    }
}
