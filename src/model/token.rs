//! The delegate-token model: how a value found in a file is classified (literal token,
//! placeholder, reference, encrypted, empty), the 0/1/2 base64 layers a literal token can wear over its
//! 32 hex characters, its canonical form and its fingerprint, and the new token a rotation
//! writes. A token's value never leaves this module except through [`NewToken::encode`];
//! everything else handles fingerprints.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;
use zeroize::Zeroizing;

/// How many base64 layers a literal token wears over its 32 hex characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// The raw 32 hex characters.
    Hex,
    /// One base64 layer: the form the Harness UI shows, and what `Secret.data` holds.
    Base64,
    /// Two base64 layers: a rendered Helm Secret (`b64enc` over the UI form).
    Base64x2,
    /// A literal that is not a delegate token in any encoding (an API key, say).
    Other,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Hex => "hex",
            Encoding::Base64 => "base64",
            Encoding::Base64x2 => "base64x2",
            Encoding::Other => "other",
        }
    }
}

/// What kind of value a site holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Literal,
    Placeholder,
    Reference,
    /// Encrypted in the file (SOPS `ENC[…]`, SealedSecret `encryptedData`): never rewritten.
    Encrypted,
    Empty,
    /// A key named without a value (a comment-free grep guard): no token here.
    Mention,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Literal => "literal",
            Kind::Placeholder => "placeholder",
            Kind::Reference => "reference",
            Kind::Encrypted => "encrypted",
            Kind::Empty => "empty",
            Kind::Mention => "mention",
        }
    }
}

/// `sha256:` + the first 16 hex digits of SHA-256 of a token's canonical form.
/// Safe to print, log and commit: the token has 128 bits of entropy. Kept inline, without a
/// heap allocation: a scan holds one per site, and a file can hold 150,000 sites.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; FINGERPRINT_LEN]);

const FINGERPRINT_PREFIX: &str = "sha256:";
const FINGERPRINT_LEN: usize = FINGERPRINT_PREFIX.len() + 16;

impl Fingerprint {
    fn of(bytes: &[u8]) -> Fingerprint {
        let digest = Sha256::digest(bytes);
        let mut hex = [0u8; 16];
        for (pair, byte) in hex.chunks_mut(2).zip(&digest[..8]) {
            pair[0] = HEX_DIGITS[usize::from(byte >> 4)];
            pair[1] = HEX_DIGITS[usize::from(byte & 0xf)];
        }
        Fingerprint::from_digits(&hex)
    }

    /// From 16 lowercase hex digits.
    fn from_digits(digits: &[u8]) -> Fingerprint {
        let mut text = [0u8; FINGERPRINT_LEN];
        text[..FINGERPRINT_PREFIX.len()].copy_from_slice(FINGERPRINT_PREFIX.as_bytes());
        text[FINGERPRINT_PREFIX.len()..].copy_from_slice(digits);
        Fingerprint(text)
    }

    /// The fingerprint of a canonical (lowercase 32-hex) token.
    pub fn of_canonical(canonical: &str) -> Fingerprint {
        Fingerprint::of(canonical.as_bytes())
    }

    /// Accepts `sha256:` followed by 16 hex digits, and nothing else. The prefix is
    /// required: 16 bare hex digits are as likely the first half of a token pasted by
    /// mistake as a fingerprint, and writing them into `.rekey.toml` would publish it.
    pub fn parse(text: &str) -> Option<Fingerprint> {
        let digits = text.strip_prefix(FINGERPRINT_PREFIX)?;
        (digits.len() == 16 && digits.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Fingerprint::from_digits(digits.to_ascii_lowercase().as_bytes()))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a fingerprint is ASCII")
    }

    /// The first 8 hex digits, for branch names and short labels.
    pub fn short(&self) -> &str {
        &self.as_str()[FINGERPRINT_PREFIX.len()..FINGERPRINT_PREFIX.len() + 8]
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.as_str())
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The classification of one value as written in a file. Holds no part of the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A literal token, or a literal that should have been one (`Encoding::Other`).
    Literal {
        encoding: Encoding,
        fingerprint: Fingerprint,
    },
    Placeholder,
    Reference,
    Encrypted,
    Empty,
}

impl Value {
    pub fn kind(&self) -> Kind {
        match self {
            Value::Literal { .. } => Kind::Literal,
            Value::Placeholder => Kind::Placeholder,
            Value::Reference => Kind::Reference,
            Value::Encrypted => Kind::Encrypted,
            Value::Empty => Kind::Empty,
        }
    }

    pub fn encoding(&self) -> Option<Encoding> {
        match self {
            Value::Literal { encoding, .. } => Some(*encoding),
            _ => None,
        }
    }

    pub fn fingerprint(&self) -> Option<&Fingerprint> {
        match self {
            Value::Literal { fingerprint, .. } => Some(fingerprint),
            _ => None,
        }
    }

    /// A literal that is a delegate token in one of its three encodings.
    pub fn is_token(&self) -> bool {
        matches!(self, Value::Literal { encoding, .. } if *encoding != Encoding::Other)
    }
}

/// Whether YAML (1.1 or 1.2 core schema) resolves this plain, unquoted scalar to a number
/// rather than a string. Of the characters a token is made of, that is: all digits (an
/// integer, octal in 1.1), digits with one `e` between digits (a 1.2 float) and 1.1's
/// `0b1010` binary. A plain scalar that reads as a number is not the string a token must be,
/// so a token like that is written quoted.
pub fn plain_reads_as_number(text: &str) -> bool {
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if all_digits(text) {
        return true;
    }
    if let Some((mantissa, exponent)) = text.split_once(['e', 'E']) {
        if all_digits(mantissa) && all_digits(exponent) {
            return true;
        }
    }
    text.strip_prefix("0b")
        .is_some_and(|bits| !bits.is_empty() && bits.bytes().all(|b| b == b'0' || b == b'1'))
}

/// Classifies a value exactly as it stands in the file (quotes already removed).
pub fn classify(text: &str) -> Value {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Value::Empty;
    }
    if is_reference(trimmed) {
        return Value::Reference;
    }
    if is_sops_value(trimmed) {
        return Value::Encrypted;
    }
    if let Some((encoding, canonical)) = decode_token(trimmed) {
        return Value::Literal {
            encoding,
            fingerprint: Fingerprint::of(canonical.as_bytes()),
        };
    }
    if is_placeholder(trimmed) {
        return Value::Placeholder;
    }
    classify_as_other(trimmed)
}

/// A literal that is not a delegate token as written (an API key, or a value the file's
/// syntax would read as a number). Its fingerprint is over its raw bytes.
pub fn classify_as_other(text: &str) -> Value {
    Value::Literal {
        encoding: Encoding::Other,
        fingerprint: Fingerprint::of(text.trim().as_bytes()),
    }
}

/// Peels up to two base64 layers off `text` until 32 hex characters appear.
/// Returns the encoding and the canonical (lowercase hex) token.
pub fn decode_token(text: &str) -> Option<(Encoding, Zeroizing<String>)> {
    if is_hex32(text) {
        return Some((Encoding::Hex, Zeroizing::new(text.to_ascii_lowercase())));
    }
    let once = decode_base64_text(text)?;
    if is_hex32(&once) {
        return Some((Encoding::Base64, Zeroizing::new(once.to_ascii_lowercase())));
    }
    let twice = decode_base64_text(&once)?;
    is_hex32(&twice).then(|| {
        (
            Encoding::Base64x2,
            Zeroizing::new(twice.to_ascii_lowercase()),
        )
    })
}

/// Decodes one base64 layer. A trailing line break inside it is dropped: `echo $TOKEN |
/// base64`, the most common way a Secret's `data` is made by hand, encodes one.
fn decode_base64_text(text: &str) -> Option<Zeroizing<String>> {
    let bytes = Zeroizing::new(STANDARD.decode(text).ok()?);
    let text = std::str::from_utf8(&bytes).ok()?;
    Some(Zeroizing::new(
        text.trim_end_matches(['\n', '\r']).to_owned(),
    ))
}

fn is_hex32(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `${VAR}`, `$VAR`, `$(cmd)`, `{{ .Values.x }}`, Harness `<+secrets...>`, Terraform
/// `var.x` / `local.x`: the value lives somewhere else.
fn is_reference(text: &str) -> bool {
    text.starts_with('$')
        || text.contains("{{")
        || text.contains("{%")
        || text.starts_with("<+")
        || text.starts_with("var.")
        || text.starts_with("local.")
}

/// SOPS writes every encrypted value as `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`.
fn is_sops_value(text: &str) -> bool {
    text.starts_with("ENC[AES256_GCM,") && text.ends_with(']')
}

/// Words that only stand in for a token: installation templates and docs use them.
fn is_placeholder(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let bracketed = (text.starts_with('<') && text.ends_with('>'))
        || (text.starts_with('[') && text.ends_with(']'));
    let shouting = text
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b == b'_' || b == b'-')
        && text.bytes().any(|b| b.is_ascii_uppercase());
    let crosses = text.len() >= 3 && lower.bytes().all(|b| b == b'x' || b == b'*');
    const WORDS: [&str; 7] = [
        "changeme",
        "change_me",
        "replace",
        "your",
        "placeholder",
        "token here",
        "todo",
    ];
    bracketed || shouting || crosses || WORDS.iter().any(|w| lower.contains(w))
}

/// Why a new token was refused. The message never repeats the value.
#[derive(Debug, thiserror::Error)]
pub enum NewTokenError {
    #[error("the new token is empty")]
    Empty,
    #[error("the new token looks like a Harness API key (pat.…), not a delegate token: generate a delegate token under Project/Org/Account Settings → Delegates → Tokens")]
    ApiKey,
    #[error("the new token is not a delegate token: expected 32 hex characters or the 44-character base64 form the Harness UI shows ({length} characters given; a token's name is not its value)")]
    Malformed { length: usize },
}

/// The token a rotation writes. Held as a secret; printed only as its fingerprint.
pub struct NewToken {
    canonical: SecretString,
    /// The form the user supplied: placeholders are filled in that form.
    given: Encoding,
    fingerprint: Fingerprint,
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NewToken({})", self.fingerprint)
    }
}

impl NewToken {
    /// Trims and validates a token read from the environment, a file or stdin.
    pub fn parse(raw: &str) -> Result<NewToken, NewTokenError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(NewTokenError::Empty);
        }
        if text.starts_with("pat.") || text.starts_with("sat.") {
            return Err(NewTokenError::ApiKey);
        }
        match decode_token(text) {
            Some((given @ (Encoding::Hex | Encoding::Base64), canonical)) => {
                let fingerprint = Fingerprint::of(canonical.as_bytes());
                Ok(NewToken {
                    canonical: SecretString::from(canonical.as_str().to_owned()),
                    given,
                    fingerprint,
                })
            }
            _ => Err(NewTokenError::Malformed {
                length: text.chars().count(),
            }),
        }
    }

    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The encoding a placeholder is filled with outside `Secret.data`.
    pub fn given_encoding(&self) -> Encoding {
        self.given
    }

    /// The new token wearing `encoding`'s layers. `Other` is never asked for.
    pub fn encode(&self, encoding: Encoding) -> Zeroizing<String> {
        let hex = self.canonical.expose_secret();
        Zeroizing::new(match encoding {
            Encoding::Hex | Encoding::Other => hex.to_owned(),
            Encoding::Base64 => STANDARD.encode(hex),
            Encoding::Base64x2 => STANDARD.encode(STANDARD.encode(hex)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made-up tokens: never issued by anyone.
    const HEX: &str = "0123456789abcdef0123456789abcdef";

    fn b64(text: &str) -> String {
        STANDARD.encode(text)
    }

    #[test]
    fn every_encoding_has_the_same_canonical_fingerprint() {
        let hex = classify(HEX);
        let once = classify(&b64(HEX));
        let twice = classify(&b64(&b64(HEX)));
        let upper = classify(&HEX.to_ascii_uppercase());
        assert_eq!(hex.encoding(), Some(Encoding::Hex));
        assert_eq!(once.encoding(), Some(Encoding::Base64));
        assert_eq!(twice.encoding(), Some(Encoding::Base64x2));
        assert_eq!(upper.encoding(), Some(Encoding::Hex));
        let fp = hex.fingerprint().unwrap();
        assert_eq!(once.fingerprint(), Some(fp));
        assert_eq!(twice.fingerprint(), Some(fp));
        assert_eq!(upper.fingerprint(), Some(fp));
    }

    #[test]
    fn fingerprint_is_sha256_of_the_canonical_form() {
        // sha256("0123456789abcdef0123456789abcdef") starts with these 16 digits
        // (computed independently with `printf %s … | sha256sum`).
        let fp = classify(HEX).fingerprint().unwrap().clone();
        assert_eq!(fp.as_str(), "sha256:3eb1bd439947eb76");
        assert_eq!(fp.short(), "3eb1bd43");
        assert_eq!(
            Fingerprint::parse("sha256:3EB1BD439947EB76"),
            Some(fp.clone())
        );
        assert_eq!(Fingerprint::parse("sha256:3eb1bd439947eb76"), Some(fp));
        assert_eq!(Fingerprint::parse("sha256:3eb1"), None);
        // Bare digits may be half a token, not a fingerprint.
        assert_eq!(Fingerprint::parse("3eb1bd439947eb76"), None);
        assert_eq!(Fingerprint::parse("SHA256:3eb1bd439947eb76"), None);
    }

    #[test]
    fn non_tokens_are_classified_by_kind() {
        assert_eq!(classify(""), Value::Empty);
        assert_eq!(classify("   "), Value::Empty);
        for reference in [
            "${DELEGATE_TOKEN}",
            "$TOKEN",
            "$(cat /run/token)",
            "{{ .Values.delegateToken }}",
            "<+secrets.getValue(\"t\")>",
            "var.delegate_token",
        ] {
            assert_eq!(classify(reference), Value::Reference, "{reference}");
        }
        for placeholder in [
            "PUT_YOUR_DELEGATE_TOKEN",
            "YOUR_DELEGATE_TOKEN",
            "<DELEGATE_TOKEN>",
            "<your token>",
            "[enter new token here]",
            "XXXX",
            "changeme",
        ] {
            assert_eq!(classify(placeholder), Value::Placeholder, "{placeholder}");
        }
        assert_eq!(
            classify("ENC[AES256_GCM,data:Zm9v,iv:YmFy,tag:YmF6,type:str]"),
            Value::Encrypted
        );
        let api_key = classify("pat.AbCdEf123.0123456789abcdef.XyZ");
        assert_eq!(api_key.encoding(), Some(Encoding::Other));
        assert!(!api_key.is_token());
    }

    #[test]
    fn new_token_accepts_hex_and_ui_form_and_encodes_each_layer() {
        let from_hex = NewToken::parse(&format!("  {HEX}\n")).unwrap();
        let from_ui = NewToken::parse(&b64(HEX)).unwrap();
        assert_eq!(from_hex.fingerprint(), from_ui.fingerprint());
        assert_eq!(from_hex.given_encoding(), Encoding::Hex);
        assert_eq!(from_ui.given_encoding(), Encoding::Base64);
        assert_eq!(from_ui.encode(Encoding::Hex).as_str(), HEX);
        assert_eq!(from_hex.encode(Encoding::Base64).as_str(), b64(HEX));
        assert_eq!(from_hex.encode(Encoding::Base64x2).as_str(), b64(&b64(HEX)));
        for encoding in [Encoding::Hex, Encoding::Base64, Encoding::Base64x2] {
            let written = from_hex.encode(encoding);
            assert_eq!(classify(&written).encoding(), Some(encoding));
            assert_eq!(
                classify(&written).fingerprint(),
                Some(from_hex.fingerprint())
            );
        }
    }

    #[test]
    fn new_token_refuses_what_is_not_a_delegate_token() {
        assert!(matches!(NewToken::parse(" \n"), Err(NewTokenError::Empty)));
        assert!(matches!(
            NewToken::parse("pat.acct.0123.abc"),
            Err(NewTokenError::ApiKey)
        ));
        assert!(matches!(
            NewToken::parse("default_token"),
            Err(NewTokenError::Malformed { length: 13 })
        ));
        assert!(matches!(
            NewToken::parse(&HEX[..31]),
            Err(NewTokenError::Malformed { .. })
        ));
        // The doubly encoded form is what a rendered Secret holds, never what a user pastes.
        assert!(NewToken::parse(&b64(&b64(HEX))).is_err());
    }

    #[test]
    fn debug_output_shows_only_the_fingerprint() {
        let token = NewToken::parse(HEX).unwrap();
        let debug = format!("{token:?}");
        assert!(!debug.contains(HEX));
        assert!(debug.contains("sha256:"));
    }
}
