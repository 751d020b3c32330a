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
//! The remembered forms live in the run's registry (`model::secrets`), which every stage
//! fills where a token value enters the run.

use crate::find::sweep;
use crate::model::secrets::mask_known;
pub use crate::model::secrets::{label, remember};
use crate::model::token::Fingerprint;
use std::borrow::Cow;
use std::ops::Range;

/// `text` with every remembered token form and every token-shaped word replaced by its
/// label. Everything rekey prints or writes outside the rotated files passes through here.
pub fn mask(text: &str) -> String {
    masked(text).into_owned()
}

/// [`mask`] without a copy when nothing needs masking: for whole reports.
pub fn masked(text: &str) -> Cow<'_, str> {
    match mask_known(text) {
        Cow::Borrowed(text) => swept(text),
        Cow::Owned(text) => Cow::Owned(swept(&text).into_owned()),
    }
}

/// Masks every token-shaped word that decodes as a delegate token: a run of exactly 32 hex
/// digits, or a base64 word of 44 or 60 characters ending in `=` (one or two layers over
/// the hex), wherever it stands.
pub fn sweep(text: &str) -> String {
    swept(text).into_owned()
}

fn swept(text: &str) -> Cow<'_, str> {
    let found = token_shapes(text);
    if found.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    for (span, fingerprint) in found {
        out.push_str(&text[cursor..span.start]);
        out.push_str(&label(&fingerprint));
        cursor = span.end;
    }
    out.push_str(&text[cursor..]);
    Cow::Owned(out)
}

/// Where token-shaped words that decode as delegate tokens stand in `text`, in order and
/// not overlapping, with their fingerprints (see `sweep`).
pub fn token_shapes(text: &str) -> Vec<(Range<usize>, Fingerprint)> {
    sweep::find(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::secrets::PIECE;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;

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
            // A diff's added line, a path: `+` and `/` are base64 characters too.
            (format!("+{UI}"), format!("+{LABEL}")),
            (
                format!("see /{}/ and /{ui2}", UI.trim_end_matches('=')),
                format!("see /{LABEL}/ and /{LABEL}"),
            ),
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
    fn pieces_and_unpadded_forms_of_remembered_tokens_are_masked() {
        let hex = "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b";
        remember(hex);
        let label = label(&Fingerprint::of_canonical(hex));
        let ui = STANDARD.encode(hex);
        let unpadded = ui.trim_end_matches('=');
        let masked = mask(&format!("# {} {}\n# {unpadded}\n", &hex[..16], &hex[16..]));
        assert_eq!(
            masked,
            format!(
                "# {label}{} {label}{}\n# {label}\n",
                &hex[12..16],
                &hex[28..]
            )
        );
        for piece_start in 0..ui.len() - PIECE {
            assert!(!mask(&ui[piece_start..]).contains(&ui[piece_start..piece_start + PIECE]));
        }
    }

    #[test]
    fn pieces_between_punctuation_and_at_either_end_are_masked() {
        let hex = "7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c";
        remember(hex);
        let label = label(&Fingerprint::of_canonical(hex));
        let piece = &hex[3..3 + PIECE];
        assert_eq!(
            mask(&format!("{piece}(\"{piece}\"),x/{piece}")),
            format!("{label}(\"{label}\"),x/{label}")
        );
        // One character short of a piece is no piece.
        let short = &hex[3..2 + PIECE];
        assert_eq!(mask(&format!("({short})")), format!("({short})"));
    }

    #[test]
    fn sweep_finds_unpadded_and_newline_encoded_base64() {
        let unpadded = UI.trim_end_matches('=');
        assert_eq!(sweep(&format!("# {unpadded}\n")), format!("# {LABEL}\n"));
        let with_newline = STANDARD.encode(format!("{HEX}\n"));
        assert_eq!(sweep(&format!("v: {with_newline}")), format!("v: {LABEL}"));
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
