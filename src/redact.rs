//! Redaction: how a token is shown when it must not be (its fingerprint label), and a last
//! sweep over any text bound for output that masks whatever still decodes as a token, such as
//! a token in a comment beside an edited line in a diff.

use crate::token::{self, Fingerprint};

/// What a diff or report prints where a token stands.
pub fn label(fingerprint: &Fingerprint) -> String {
    format!("<redacted {fingerprint}>")
}

/// Masks every run of base64 characters in `text` that decodes as a delegate token.
pub fn sweep(text: &str) -> String {
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(is_token_char) {
        out.push_str(&rest[..start]);
        let run = &rest[start..];
        let end = run.find(|c: char| !is_token_char(c)).unwrap_or(run.len());
        let word = &run[..end];
        let value = token::classify(word);
        match value.fingerprint() {
            Some(fingerprint) if value.is_token() => out.push_str(&label(fingerprint)),
            _ => out.push_str(word),
        }
        rest = &run[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_masks_tokens_in_any_encoding_and_keeps_the_rest() {
        let hex = "0123456789abcdef0123456789abcdef";
        let ui = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
        let text = format!("# old: {hex}\nvalue: \"{ui}\" # keep=this\n");
        let swept = sweep(&text);
        assert!(!swept.contains(hex) && !swept.contains(ui));
        assert_eq!(
            swept,
            "# old: <redacted sha256:3eb1bd439947eb76>\nvalue: \"<redacted sha256:3eb1bd439947eb76>\" # keep=this\n"
        );
    }
}
