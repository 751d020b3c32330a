//! Edits and splicing: a rotation is a list of `Edit { span, replacement }` over a file's
//! original bytes, applied in one sorted pass. Nothing else in the file is touched, which is
//! how comments, quoting, indentation, CRLF, a BOM and a missing final newline survive.
//! [`unapply`] turns a spliced buffer back into the original, given the bytes each edit
//! replaced: a rotation that keeps only its edits can still show what it changed after
//! writing.

use crate::model::site::Span;
use std::fmt;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Replace the bytes of `span` with `replacement`. `shown` is what a redacted diff prints in
/// its place (the same text for a key rename; a fingerprint label for a token). Both are
/// shared: a file of 150,000 sites writes one new token in a few encodings.
#[derive(Clone, PartialEq, Eq)]
pub struct Edit {
    pub span: Span,
    pub replacement: Arc<Zeroizing<String>>,
    pub shown: Arc<str>,
}

impl fmt::Debug for Edit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Edit({:?} -> {:?})", self.span, self.shown)
    }
}

impl Edit {
    /// An edit whose replacement may be printed as it is (a key rename, a label).
    pub fn visible(span: Span, text: &str) -> Edit {
        Edit {
            span,
            replacement: Arc::new(Zeroizing::new(text.to_owned())),
            shown: text.into(),
        }
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpliceError {
    #[error("two edits overlap at bytes {0:?} and {1:?}")]
    Overlap(Span, Span),
    #[error("edit at bytes {0:?} lies outside the file")]
    OutOfBounds(Span),
    #[error("the edit at bytes {0:?} is not in the rewritten file")]
    NotSpliced(Span),
}

/// Which text of each edit to splice in.
#[derive(Clone, Copy)]
pub enum Text {
    Replacement,
    Shown,
}

/// Splices `edits` into `source`. Identical duplicate edits (an alias and its anchor) count
/// once; any other overlap is refused rather than guessed.
pub fn apply(source: &[u8], edits: &[Edit], text: Text) -> Result<Vec<u8>, SpliceError> {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|edit| (edit.span.start, edit.span.end));
    sorted.dedup_by(|a, b| a == b);
    let mut out = Vec::with_capacity(source.len() + 64);
    let mut cursor = 0;
    let mut previous: Option<&Span> = None;
    for edit in sorted {
        let span = &edit.span;
        if span.start > span.end || span.end > source.len() {
            return Err(SpliceError::OutOfBounds(span.clone()));
        }
        if let Some(previous) = previous {
            // Two insertions at one point would be ordered by chance: refuse them too.
            if span.start < previous.end || (span.start == previous.start && span.is_empty()) {
                return Err(SpliceError::Overlap(previous.clone(), span.clone()));
            }
        }
        out.extend_from_slice(&source[cursor..span.start]);
        out.extend_from_slice(match text {
            Text::Replacement => edit.replacement.as_bytes(),
            Text::Shown => edit.shown.as_bytes(),
        });
        cursor = span.end;
        previous = Some(span);
    }
    out.extend_from_slice(&source[cursor..]);
    Ok(out)
}

/// The buffer [`apply`] spliced `spliced` from, given the bytes each edit replaced
/// (`replaced[i]` for `edits[i]`). Refused where `spliced` does not hold an edit's
/// replacement where the splice put it.
pub fn unapply(spliced: &[u8], edits: &[Edit], replaced: &[&[u8]]) -> Result<Vec<u8>, SpliceError> {
    let mut sorted: Vec<(&Edit, &[u8])> = edits.iter().zip(replaced.iter().copied()).collect();
    sorted.sort_by_key(|(edit, _)| (edit.span.start, edit.span.end));
    sorted.dedup_by(|a, b| a.0 == b.0);
    let mut out = Vec::with_capacity(spliced.len());
    // Where the original and the spliced buffer are, in step.
    let (mut original, mut at) = (0, 0);
    for (edit, old) in sorted {
        let span = &edit.span;
        let kept = span.start.checked_sub(original);
        let replacement = edit.replacement.as_bytes();
        let Some(end) = kept
            .map(|kept| at + kept)
            .filter(|&end| end <= spliced.len())
        else {
            return Err(SpliceError::Overlap(span.clone(), span.clone()));
        };
        out.extend_from_slice(&spliced[at..end]);
        if spliced.get(end..end + replacement.len()) != Some(replacement) || old.len() != span.len()
        {
            return Err(SpliceError::NotSpliced(span.clone()));
        }
        out.extend_from_slice(old);
        at = end + replacement.len();
        original = span.end;
    }
    out.extend_from_slice(&spliced[at..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splice(source: &str, edits: &[(Span, &str)]) -> Result<String, SpliceError> {
        let edits: Vec<Edit> = edits
            .iter()
            .map(|(span, text)| Edit::visible(span.clone(), text))
            .collect();
        apply(source.as_bytes(), &edits, Text::Replacement)
            .map(|bytes| String::from_utf8(bytes).unwrap())
    }

    #[test]
    fn edits_at_the_start_and_the_end() {
        assert_eq!(splice("abcdef", &[(0..2, "XY")]).unwrap(), "XYcdef");
        assert_eq!(splice("abcdef", &[(4..6, "Z")]).unwrap(), "abcdZ");
        assert_eq!(splice("abc", &[(3..3, "!")]).unwrap(), "abc!");
    }

    #[test]
    fn edits_grow_and_shrink_in_any_order() {
        assert_eq!(
            splice("key: old\nother: x\n", &[(16..17, "ZZZ"), (5..8, "n")]).unwrap(),
            "key: n\nother: ZZZ\n"
        );
    }

    #[test]
    fn adjacent_edits_are_fine_and_overlaps_are_refused() {
        assert_eq!(splice("abcd", &[(0..2, "1"), (2..4, "2")]).unwrap(), "12");
        assert_eq!(
            splice("abcd", &[(0..3, "1"), (2..4, "2")]),
            Err(SpliceError::Overlap(0..3, 2..4))
        );
        assert_eq!(
            splice("abcd", &[(1..1, "x"), (1..1, "y")]),
            Err(SpliceError::Overlap(1..1, 1..1))
        );
        assert_eq!(
            splice("ab", &[(1..5, "x")]),
            Err(SpliceError::OutOfBounds(1..5))
        );
    }

    #[test]
    fn identical_edits_count_once() {
        assert_eq!(splice("abcd", &[(1..3, "X"), (1..3, "X")]).unwrap(), "aXd");
    }

    #[test]
    fn multi_byte_utf8_around_the_span_is_kept() {
        let source = "é: «ü»\nkey: 値\n";
        let start = source.find('値').unwrap();
        let out = splice(source, &[(start..start + '値'.len_utf8(), "value")]).unwrap();
        assert_eq!(out, "é: «ü»\nkey: value\n");
    }

    #[test]
    fn shown_text_is_spliced_for_redacted_views() {
        let edits = vec![Edit {
            span: 5..8,
            replacement: Zeroizing::new("secret".to_owned()).into(),
            shown: "<label>".into(),
        }];
        let shown = apply(b"key: old\n", &edits, Text::Shown).unwrap();
        assert_eq!(shown, b"key: <label>\n");
        assert!(!format!("{:?}", edits[0]).contains("secret"));
    }

    #[test]
    fn unapply_gives_back_the_original() {
        let source = b"key: old\nother: x\nkey: old\n";
        let edits = vec![
            Edit::visible(15..16, "ZZZ"),
            Edit::visible(5..8, "n"),
            Edit::visible(0..3, "renamed"),
            Edit::visible(0..3, "renamed"),
        ];
        let replaced: Vec<&[u8]> = edits.iter().map(|e| &source[e.span.clone()]).collect();
        let spliced = apply(source, &edits, Text::Replacement).unwrap();
        assert_eq!(unapply(&spliced, &edits, &replaced).unwrap(), source);
        // A buffer that does not hold the replacements is not taken for the spliced one.
        assert_eq!(
            unapply(source, &edits, &replaced),
            Err(SpliceError::NotSpliced(0..3))
        );
    }
}
