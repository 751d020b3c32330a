//! The registry of token values read in this run: every old value at a site, the new
//! token, anything refused on the command line. Each is remembered in all the forms it can
//! take (hex in any case, base64, base64x2, unpadded, and the exact text it was written as,
//! with every piece long enough to name it), so that output can be masked wherever any of
//! them stands: inside a longer word, after `=`, in a commit message. A stage remembers a
//! value where it enters the run; `report` masks every output against the registry.
//!
//! The registry also holds the Harness API key of the run (`remember_key`): the key in
//! any case, URL-encoded, in base64 or JSON-escaped, every piece of one of these and each
//! long `.`-separated segment of it (a PAT's secret part alone) is masked as `<api key>`.
//!
//! The registry is process-wide because output leaves from many places (reports, errors,
//! notes, commit messages) and none of them may be missed.

use crate::model::token::{self, Fingerprint};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::Mutex;
use zeroize::Zeroizing;

/// What a redacted view (a diff, a report, an edit's shown text) holds where a token stands.
pub fn label(fingerprint: &Fingerprint) -> String {
    format!("<redacted {fingerprint}>")
}

struct Known {
    /// Every form of every remembered token, and the label that replaces it.
    forms: Vec<(Zeroizing<String>, String)>,
    /// Every `PIECE`-character piece of every form, with its label.
    pieces: Vec<(Zeroizing<String>, String)>,
    /// Tokens already expanded, so remembering a token twice costs nothing.
    seen: BTreeSet<Fingerprint>,
    /// Hashes of the forms already held: remembering is a set lookup, not a search.
    held: BTreeSet<u64>,
    /// Built on first use after a change.
    matcher: Option<AhoCorasick>,
    /// Every form and piece of the API key.
    key: Vec<Zeroizing<String>>,
    /// Over `key`, built on first use after a change.
    key_matcher: Option<AhoCorasick>,
}

static KNOWN: Mutex<Known> = Mutex::new(Known {
    forms: Vec::new(),
    pieces: Vec::new(),
    seen: BTreeSet::new(),
    held: BTreeSet::new(),
    matcher: None,
    key: Vec::new(),
    key_matcher: None,
});

/// What stands where the API key, or a piece of it, was.
pub const KEY_LABEL: &str = "<api key>";

/// A `.`-separated segment of the key this long is masked on its own.
const KEY_SEGMENT: usize = 8;

/// The shortest piece of a token form that is masked on its own: no output may hold a
/// piece this long of any token rekey read, even a token split in two or stripped of its
/// base64 padding.
pub const PIECE: usize = 12;

/// Pieces are remembered for this many tokens; past that (a repository holding hundreds of
/// distinct tokens) whole forms and the shape sweep mask them, and the matcher stays small.
const TOKENS_WITH_PIECES: usize = 64;

/// Remembers a token value read in this run, as it was written (any encoding). Anything
/// that does not decode as a delegate token is ignored.
pub fn remember(written: &str) {
    let written = written.trim();
    let mut known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    // A form already held belongs to a token already remembered with all its forms: the
    // common case (one token in many files) costs a lookup, not a decode and a hash.
    if known.held.contains(&form_hash(written)) {
        return;
    }
    let Some((_, canonical)) = token::decode_token(written) else {
        return;
    };
    let fingerprint = Fingerprint::of_canonical(&canonical);
    let label = label(&fingerprint);
    let mut forms: Vec<Zeroizing<String>> = vec![Zeroizing::new(written.to_owned())];
    if !known.seen.contains(&fingerprint) {
        let upper = Zeroizing::new(canonical.to_ascii_uppercase());
        forms.push(Zeroizing::new(canonical.to_string()));
        for hex in [&canonical, &upper] {
            let once = Zeroizing::new(STANDARD.encode(hex.as_bytes()));
            let twice = Zeroizing::new(STANDARD.encode(once.as_bytes()));
            // Also without their padding, as people paste them.
            for layer in [once, twice] {
                forms.push(Zeroizing::new(layer.trim_end_matches('=').to_owned()));
                forms.push(layer);
            }
        }
        known.seen.insert(fingerprint);
    }
    let with_pieces = known.seen.len() <= TOKENS_WITH_PIECES;
    let mut added = false;
    for form in forms {
        if !known.held.insert(form_hash(&form)) {
            continue;
        }
        added = true;
        if !with_pieces || form.ends_with(|c: char| c != '=') && form.len() % 4 != 0 {
            // An unpadded form's pieces are those of its padded form.
            known.forms.push((form, label.clone()));
            continue;
        }
        // Every piece of PIECE characters, so that a part of a token is masked too; the
        // whole form is matched first where it stands whole (leftmost-longest).
        let bytes = form.as_bytes();
        for start in 0..bytes.len().saturating_sub(PIECE - 1) {
            let piece = &form[start..start + PIECE];
            known
                .pieces
                .push((Zeroizing::new(piece.to_owned()), label.clone()));
        }
        known.forms.push((form, label.clone()));
    }
    if added {
        known.matcher = None;
    }
}

fn form_hash(form: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    form.hash(&mut hasher);
    hasher.finish()
}

/// `text` with the API key (any form or piece of it) and every remembered token form
/// (and every piece of one) replaced by its label.
pub fn mask_known(text: &str) -> Cow<'_, str> {
    let mut known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    match without_key(&mut known, text) {
        Cow::Borrowed(text) => without_tokens(&mut known, text),
        Cow::Owned(text) => Cow::Owned(without_tokens(&mut known, &text).into_owned()),
    }
}

/// `text` with every remembered token form (and every piece of one) replaced by its label.
fn without_tokens<'a>(known: &mut Known, text: &'a str) -> Cow<'a, str> {
    if known.forms.is_empty() {
        return Cow::Borrowed(text);
    }
    if known.matcher.is_none() {
        // Hex may be written in any case; matching base64 without case only ever masks
        // more, never less.
        let matcher = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(
                known
                    .forms
                    .iter()
                    .chain(&known.pieces)
                    .map(|(form, _)| form.as_bytes()),
            )
            .expect("token forms are valid patterns");
        known.matcher = Some(matcher);
    }
    let matcher = known.matcher.as_ref().expect("just built");
    let mut out = String::new();
    let mut cursor = 0;
    let forms = known.forms.len();
    // Every form and piece is made of base64 characters and `=` only (a remembered value
    // decodes as a token), so no match crosses any other byte: the automaton runs only over
    // the words of those characters long enough to hold a piece. A report is mostly short
    // words, quotes and punctuation, which it then never looks at.
    for word in form_words(text.as_bytes()) {
        for found in matcher.find_iter(&text[word.clone()]) {
            let index = found.pattern().as_usize();
            let label = match index.checked_sub(forms) {
                Some(piece) => &known.pieces[piece].1,
                None => &known.forms[index].1,
            };
            if out.is_empty() {
                out.reserve(text.len());
            }
            out.push_str(&text[cursor..word.start + found.start()]);
            out.push_str(label);
            cursor = word.start + found.end();
        }
    }
    if cursor == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[cursor..]);
    Cow::Owned(out)
}

/// Remembers the Harness API key of this run, so that no output can show it: the key as
/// given, URL-encoded (the reserved characters, or every byte), in base64 (padded or not,
/// standard or URL-safe) and JSON-escaped, every `PIECE`-character piece of each of these
/// (matched in any case), and each `.`-separated segment of `KEY_SEGMENT` or more
/// characters, so that a PAT's secret part alone is masked too. A segment that is one of
/// `public` (the account, which rekey names in its messages) is not a secret.
pub fn remember_key(key: &str, public: &[&str]) {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let key = key.trim();
    if key.is_empty() {
        return;
    }
    let forms = [
        key.to_owned(),
        url_encoded(key, false),
        url_encoded(key, true),
        STANDARD.encode(key),
        STANDARD_NO_PAD.encode(key),
        URL_SAFE.encode(key),
        URL_SAFE_NO_PAD.encode(key),
        key.replace('/', "\\/"),
    ];
    let mut patterns: Vec<Zeroizing<String>> = Vec::new();
    for form in forms.into_iter().map(Zeroizing::new) {
        if form.is_ascii() {
            for piece in form.as_bytes().windows(PIECE) {
                let piece = std::str::from_utf8(piece).expect("ASCII");
                patterns.push(Zeroizing::new(piece.to_owned()));
            }
        }
        patterns.push(form);
    }
    for segment in key.split('.') {
        if segment.len() >= KEY_SEGMENT && !public.contains(&segment) {
            patterns.push(Zeroizing::new(segment.to_owned()));
        }
    }
    let mut known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    known.key.extend(patterns);
    known.key_matcher = None;
}

/// `text` percent-encoded: every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`),
/// or every byte when `all`.
fn url_encoded(text: &str, all: bool) -> String {
    text.bytes()
        .map(|b| {
            if !all && (b.is_ascii_alphanumeric() || b"-._~".contains(&b)) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `text` with every form and piece of the API key replaced by [`KEY_LABEL`]: each run of
/// text that overlapping pieces cover is one label, so that no tail of a piece (a half key
/// is two pieces that overlap) is left. The key's characters are not those of a token
/// (`.`, `%`, `\`), so the whole text is searched; without a key (every command but the
/// Harness ones) this costs nothing.
fn without_key<'a>(known: &mut Known, text: &'a str) -> Cow<'a, str> {
    if known.key.is_empty() {
        return Cow::Borrowed(text);
    }
    let matcher = known.key_matcher.get_or_insert_with(|| {
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .build(known.key.iter().map(|form| form.as_bytes()))
            .expect("key forms are valid patterns")
    });
    // Matches come in order of their ends; merged into covered runs by their starts.
    let mut runs: Vec<Range<usize>> = matcher
        .find_overlapping_iter(text)
        .map(|found| found.start()..found.end())
        .collect();
    if runs.is_empty() {
        return Cow::Borrowed(text);
    }
    runs.sort_by_key(|run| run.start);
    let mut out = String::with_capacity(text.len());
    // The end of the text copied or masked so far: a run starting after it opens a label.
    let mut cursor = 0;
    for run in runs {
        if run.start > cursor || cursor == 0 {
            out.push_str(&text[cursor..run.start]);
            out.push_str(KEY_LABEL);
        }
        cursor = cursor.max(run.end);
    }
    out.push_str(&text[cursor..]);
    Cow::Owned(out)
}

/// The maximal runs of base64 characters and `=` in `text` at least [`PIECE`] long.
fn form_words(text: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
    static IN_FORM: [bool; 256] = {
        let mut table = [false; 256];
        let mut byte = 0;
        while byte < 256 {
            let b = byte as u8;
            table[byte] = b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=';
            byte += 1;
        }
        table
    };
    let in_form = |at: usize| IN_FORM[text[at] as usize];
    // Invariant: the byte before `start` is not a form character. A run of PIECE or more
    // starting in `start..start + PIECE` covers `start + PIECE - 1`, so where that byte is
    // not a form character the whole stretch is skipped unread: most of a report is
    // short words, which this looks at about once in PIECE bytes.
    let mut start = 0;
    std::iter::from_fn(move || {
        while start + PIECE <= text.len() {
            let probe = start + PIECE - 1;
            if !in_form(probe) {
                start = probe + 1;
                continue;
            }
            let mut begin = probe;
            while begin > start && in_form(begin - 1) {
                begin -= 1;
            }
            let mut end = probe + 1;
            while end < text.len() && in_form(end) {
                end += 1;
            }
            start = end + 1;
            if end - begin >= PIECE {
                return Some(begin..end);
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_key_is_masked_in_its_forms_pieces_and_secret_segment() {
        let key = "pat.UnitAcct01.Zz+q/WX=uv.unitSECRETpart4242";
        remember_key(key, &["UnitAcct01"]);
        let masked = |text: &str| mask_known(text).into_owned();
        assert_eq!(masked(&format!("k={key}!")), "k=<api key>!");
        // Two overlapping pieces (half the key) are one label, with no tail left.
        assert_eq!(
            masked(&format!("({})", &key[..key.len() / 2])),
            "(<api key>)"
        );
        assert_eq!(
            masked("only UNITsecretPART4242 here"),
            "only <api key> here"
        );
        let url = url_encoded(key, false);
        assert_eq!(masked(&url.to_ascii_lowercase()), "<api key>");
        // The account is not a secret: rekey names it.
        assert_eq!(masked("account UnitAcct01"), "account UnitAcct01");
    }

    #[test]
    fn form_words_are_every_long_enough_run_of_form_characters() {
        // The naive reading: split at every byte outside the form alphabet.
        fn naive(text: &[u8]) -> Vec<Range<usize>> {
            let mut runs = Vec::new();
            let mut begin = None;
            for at in 0..=text.len() {
                let inside = text
                    .get(at)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b));
                match (inside, begin) {
                    (true, None) => begin = Some(at),
                    (false, Some(from)) => {
                        if at - from >= PIECE {
                            runs.push(from..at);
                        }
                        begin = None;
                    }
                    _ => {}
                }
            }
            runs
        }
        // Runs of every length around PIECE, at every alignment, glued by one or two
        // separators, from a fixed pseudo-random sequence.
        let mut state = 7u32;
        for _ in 0..2000 {
            let mut text = Vec::new();
            while text.len() < 120 {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let run = (state >> 16) as usize % (2 * PIECE + 2);
                text.resize(text.len() + run, b'a');
                text.extend_from_slice(if state & 1 == 0 { b"-" } else { b"\" \n" });
            }
            let text = &text[(state >> 8) as usize % 7..];
            assert_eq!(
                form_words(text).collect::<Vec<_>>(),
                naive(text),
                "{text:?}"
            );
        }
    }
}
