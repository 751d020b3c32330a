//! A `Site` is one place in one file where a delegate token is (or could be) stored: the
//! byte span of its key, the byte span of its value (the token characters only, inside any
//! quotes), the value's classification and what a rotation may do there. Scanners produce
//! sites; the planner, the verifier and the reports consume them. A site holds no part of
//! the value itself, so it can be logged or debug-printed safely.

use crate::keys;
use crate::token::Value;
use std::ops::Range;

/// A byte range into a file's original buffer.
pub type Span = Range<usize>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// The key as written in the file (`DELEGATE_TOKEN`, `accountSecret`, …).
    pub key: String,
    /// Where the key name's characters are: a legacy key is renamed by replacing this span.
    pub key_span: Span,
    /// Where the value's characters are: a rotation replaces exactly this span.
    pub value_span: Span,
    /// The byte offset shown to the user (the value, or the alias that points at it).
    pub location: usize,
    pub value: Value,
    pub role: Role,
    /// Why the value cannot be rewritten in place, when it cannot.
    pub limit: Option<Limit>,
    /// The legacy key cannot be renamed because its current name already sits beside it.
    pub rename_conflict: bool,
}

/// Why a site's value is not rewritten in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Limit {
    /// rekey cannot rewrite this form safely (a block scalar, escapes, …): rotating a token
    /// here is refused, so the user fixes the form first.
    Refused(String),
    /// Reported but never rewritten (a commented-out line, Terraform state): a rotation
    /// passes over it with a note.
    ReportOnly(String),
}

impl Limit {
    /// `Refused(reason)` unless the value's characters in the file are its value, so that a
    /// splice cannot break escapes or line structure.
    pub fn refused_unless(verbatim: bool, reason: &str) -> Option<Limit> {
        (!verbatim).then(|| Limit::Refused(reason.to_owned()))
    }

    pub fn reason(&self) -> &str {
        match self {
            Limit::Refused(reason) | Limit::ReportOnly(reason) => reason,
        }
    }
}

/// What the site is part of, beyond its key: decides how a placeholder is filled and which
/// references must be renamed together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// A plain key/value or env entry.
    Plain,
    /// A key under a Kubernetes `Secret`: `data` entries are always base64.
    SecretEntry {
        secret: Option<String>,
        base64_data: bool,
    },
    /// `secretKeyRef: {name: SECRET, key: ACCOUNT_SECRET}`: renamed only together with the
    /// legacy key of the Secret it names.
    SecretKeyRef { secret: String },
    /// A legacy key named without a value (a script's `grep accountSecret …` guard): no
    /// token here, but migration renames it with the file's sites.
    KeyMention,
}

impl Site {
    /// A plain key/value site, pointing the user at the value.
    pub fn new(key: &str, key_span: Span, value_span: Span, value: Value) -> Site {
        Site {
            key: key.to_owned(),
            key_span,
            location: value_span.start,
            value_span,
            value,
            role: Role::Plain,
            limit: None,
            rename_conflict: false,
        }
    }

    /// A reference: the value lives elsewhere, and there is nothing to rewrite at `at`.
    pub fn reference(key: &str, key_span: Span, at: usize) -> Site {
        Site::new(key, key_span, at..at, Value::Reference)
    }

    pub fn with_limit(mut self, limit: Option<Limit>) -> Site {
        self.limit = limit;
        self
    }

    pub fn with_role(mut self, role: Role) -> Site {
        self.role = role;
        self
    }

    /// The current name this site's key migrates to, when it is a legacy key.
    pub fn legacy_target(&self) -> Option<&'static str> {
        keys::current_name(&self.key)
    }

    pub fn is_legacy(&self) -> bool {
        self.legacy_target().is_some()
    }
}
