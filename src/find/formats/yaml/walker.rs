//! The state of a walk through one YAML object: the object (kind, name, namespace), where
//! in it the walk is (`Context`), and how a key and its value become a `Site`: who reads
//! it, whether its characters can be spliced, what a SealedSecret or SOPS value says about
//! where the token lives. The traversal is `walk`'s; the Kubernetes kinds are
//! `kubernetes`'.

use super::super::common;
use super::tree::{inner_span, Node, Scalar};
use crate::model::keys;
use crate::model::site::{Elsewhere, Limit, Owner, Reader, Role, Site, Span, Store, Workload};
use crate::model::token::{self, Value};
use granit_parser::ScalarStyle;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Where a walk is inside a document: decides the role, reader and kind of the sites found
/// there.
#[derive(Clone)]
pub(super) struct Context<'c> {
    pub(super) place: Place,
    pub(super) at_root: bool,
    /// The env names declared by the sequence the node is an item of.
    pub(super) env_names: Option<&'c HashSet<String>>,
    /// Inside a container's `env` / `environment` / `envFrom`: who reads them.
    pub(super) container: Option<Reader>,
    /// Directly the `environment:` map (compose) or a `literals:` / env list: who reads
    /// the entries.
    pub(super) entries_reader: Option<Reader>,
    /// Under a `harness-delegate*` key (an umbrella chart's delegate sub-chart).
    pub(super) under_delegate_chart: bool,
    /// The context of the enclosing node and the step from it to this one: the key path is
    /// built from them only when a site needs it (no allocation per node).
    pub(super) parent: Option<&'c Context<'c>>,
    pub(super) step: Step<'c>,
    /// The mapping key the node sits under (a sequence's items share their sequence's).
    pub(super) key: Option<&'c str>,
    /// Inside a container's env: the container's name, or the compose service's key.
    pub(super) container_name: Option<String>,
    /// Under an umbrella chart's `harness-delegate*` key: that key.
    pub(super) subchart: Option<String>,
    /// Directly an env entry's `valueFrom:` when that entry is a site of its own (its name is
    /// a token key): the span of the name, which a `secretKeyRef` here is shown with.
    pub(super) env_entry: Option<Span>,
}

#[derive(Clone, Copy)]
pub(super) enum Step<'c> {
    Root,
    Key(&'c str),
    Index(usize),
}

impl Context<'_> {
    /// The key path from the document root, SOPS style: `["data"]["DELEGATE_TOKEN"]`.
    pub(super) fn path(&self) -> String {
        let mut steps = Vec::new();
        let mut at = Some(self);
        while let Some(context) = at {
            steps.push(context.step);
            at = context.parent;
        }
        let mut path = String::new();
        for step in steps.iter().rev() {
            match step {
                Step::Root => {}
                Step::Key(key) => path.push_str(&format!("[\"{key}\"]")),
                Step::Index(index) => path.push_str(&format!("[{index}]")),
            }
        }
        path
    }
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Place {
    Elsewhere,
    /// Directly under a Secret's `data:` (base64) or `stringData:`.
    SecretEntries {
        base64_data: bool,
    },
    /// Directly under a SealedSecret's `encryptedData:`.
    SealedEntries,
    /// Directly under pod `annotations:` (Vault agent injection).
    Annotations,
}

pub(super) struct Walker<'a> {
    pub(super) text: &'a str,
    pub(super) anchors: &'a HashMap<usize, Scalar<'a>>,
    pub(super) kind: Option<&'a str>,
    pub(super) name: Option<String>,
    pub(super) namespace: Option<String>,
    /// Secrets a delegate container of this file loads whole (`envFrom: secretRef`).
    pub(super) delegate_secrets: &'a HashSet<String>,
    /// The workloads that load each Secret whole (`envFrom`), for the Secret's owner.
    pub(super) loaders: &'a HashMap<String, Vec<Workload>>,
    /// The owner given last, shared with every following site that has the same one: a
    /// stream of 150,000 documents then holds one owner, not 150,000.
    pub(super) last_owner: &'a RefCell<Option<Arc<Owner>>>,
    pub(super) root: &'a Node<'a>,
    /// Something in the file shows a delegate (`has_delegate_evidence`): what makes a token
    /// key beside an `accountId` the delegate's.
    pub(super) delegate_evidence: bool,
}

/// What sits beside a token key in its mapping.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Beside {
    /// A key only a delegate's configuration has (`delegateName`, `managerEndpoint`, …).
    DelegateKeys,
    /// An `accountId`, and none of those.
    AccountId,
    Nothing,
}

/// Evidence of a delegate anywhere under `node`: a key only a delegate's configuration has
/// (also as an env list's `name:` or a `NAME=value` item), a `harness-delegate*` key, a
/// delegate image (`image:`, `repository:`) or the delegate chart (`chart:`).
pub(super) fn has_delegate_evidence(node: &Node) -> bool {
    match node {
        Node::Map { entries, .. } => entries.iter().any(|(key, value)| {
            let Some(key) = key.as_scalar() else {
                return has_delegate_evidence(value);
            };
            let name = key.value.as_ref();
            let text = value.as_scalar().map(|s| s.value.as_ref());
            keys::is_delegate_sibling(name)
                || name.starts_with("harness-delegate")
                || match (name, text) {
                    ("image" | "repository", Some(image)) => keys::is_delegate_image(image),
                    ("chart", Some(chart)) => keys::is_delegate_chart(chart),
                    ("name", Some(env)) => keys::is_delegate_sibling(env),
                    _ => false,
                }
                || has_delegate_evidence(value)
        }),
        Node::Seq { items } => items.iter().any(has_delegate_evidence),
        Node::Scalar(scalar) => scalar
            .value
            .split_once('=')
            .is_some_and(|(name, _)| keys::is_delegate_sibling(name)),
        Node::Alias { .. } => false,
    }
}

impl<'a> Walker<'a> {
    pub(super) fn new(
        text: &'a str,
        anchors: &'a HashMap<usize, Scalar<'a>>,
        root: &'a Node<'a>,
        delegate_secrets: &'a HashSet<String>,
        last_owner: &'a RefCell<Option<Arc<Owner>>>,
    ) -> Self {
        let metadata = root.get("metadata");
        Walker {
            text,
            anchors,
            kind: root.get_str("kind"),
            name: metadata.and_then(|m| m.get_str("name")).map(str::to_owned),
            namespace: metadata
                .and_then(|m| m.get_str("namespace"))
                .map(str::to_owned),
            delegate_secrets,
            loaders: &NO_LOADERS,
            last_owner,
            root,
            delegate_evidence: false,
        }
    }

    /// Who reads a token key of a mapping, given the keys beside it.
    pub(super) fn map_key_reader(&self, context: &Context, beside: Beside) -> Reader {
        match context.place {
            Place::SecretEntries { .. } => self.secret_reader(),
            Place::SealedEntries => Reader::unknown(
                "a SealedSecret entry: re-seal the Secret under the new key name",
            ),
            _ => match &context.entries_reader {
                Some(reader) => reader.clone(),
                None if beside == Beside::DelegateKeys || context.under_delegate_chart => {
                    Reader::Delegate
                }
                None if beside == Beside::AccountId && self.delegate_evidence => Reader::Delegate,
                None if beside == Beside::AccountId => Reader::unknown(
                    "beside an accountId alone, which every Harness integration has: nothing in the file (a delegate image, delegateName, managerEndpoint, MANAGER_HOST_AND_PORT, a harness-delegate chart) shows a delegate reads it",
                ),
                None => Reader::unknown(
                    "not beside delegateName / managerEndpoint, nor under a harness-delegate* chart key, so not known to be the delegate's values",
                ),
            },
        }
    }

    /// Who reads the entries of this Secret: a delegate when a delegate container of this
    /// file loads it, else whatever the scanned files show refers to it.
    pub(super) fn secret_reader(&self) -> Reader {
        match &self.name {
            Some(name) if self.delegate_secrets.contains(name) => Reader::Delegate,
            Some(name) => Reader::Secret(name.clone()),
            None => Reader::unknown("a Secret without a name"),
        }
    }

    /// The scalar's characters are its value: no escapes, folding or block indicators, so
    /// a rewrite can splice them.
    pub(super) fn is_verbatim(&self, scalar: &Scalar) -> bool {
        self.text[inner_span(scalar)] == scalar.value
            && !matches!(scalar.style, ScalarStyle::Literal | ScalarStyle::Folded)
    }

    pub(super) fn push_site(
        &self,
        found: Found,
        value: &Node,
        sealed: bool,
        sites: &mut Vec<Site>,
    ) {
        let key = found.key;
        let (scalar, location) = match value {
            Node::Scalar(scalar) => (scalar, inner_span(scalar).start),
            Node::Alias { anchor, start } => match self.anchors.get(anchor) {
                Some(scalar) => (scalar, *start),
                None => return,
            },
            Node::Map { start, .. } if self.text[*start..].starts_with("{{") => {
                // `key: {{ .Values.x }}` parses as a flow mapping inside a flow mapping.
                let mut site = Site::reference(&key.value, found.key_span, *start)
                    .with_role(found.role)
                    .with_reader(found.reader);
                site.rename_conflict = found.conflict;
                sites.push(site);
                return;
            }
            Node::Map { .. } | Node::Seq { .. } => return,
        };
        let mut value_span = inner_span(scalar);
        let verbatim = self.is_verbatim(scalar);
        let is_null = scalar.style == ScalarStyle::Plain
            && matches!(scalar.value.as_ref(), "~" | "null" | "Null" | "NULL" | "");
        // A value narrowed to a `${NAME:-default}` default is part of a longer string.
        let mut whole_plain = scalar.style == ScalarStyle::Plain && !sealed;
        let (value, limit) = if sealed {
            (Value::Encrypted, None)
        } else if is_null {
            let reason =
                "the value is missing (null): write an empty quoted value (\"\") to have it filled";
            (Value::Empty, Some(Limit::Refused(reason.into())))
        } else if let Some((span, value)) = verbatim
            .then(|| common::literal_default(self.text, value_span.clone()))
            .flatten()
        {
            value_span = span;
            whole_plain = false;
            (value, None)
        } else {
            let mut value = classify_scalar_text(&scalar.value, scalar.style);
            if !verbatim && !value.is_token() && matches!(found.role, Role::SecretEntry { .. }) {
                value = token_across_lines(&scalar.value).unwrap_or(value);
            }
            let limit = (!verbatim).then(|| Limit::Refused(unverbatim_reason(scalar).into()));
            (value, limit)
        };
        let mut site = Site::new(&key.value, found.key_span, value_span, value)
            .with_limit(limit)
            .with_role(found.role)
            .with_reader(found.reader);
        site.location = location;
        site.rename_conflict = found.conflict;
        site.bare_typed = whole_plain;
        if sealed {
            site = self.sealed(site);
        }
        sites.push(sops_located(site, found.path));
    }

    pub(super) fn sealed(&self, site: Site) -> Site {
        let name = self.name.as_deref().unwrap_or("?");
        let mut location = format!("SealedSecret {name}");
        if let Some(namespace) = &self.namespace {
            location.push_str(&format!(" in namespace {namespace}"));
        }
        location.push_str(&format!(", key {}", site.key));
        let how_to_rotate = format!(
            "seal the new token with kubeseal (kubectl create secret generic {name} --from-literal={}=<new token> --dry-run=client -o yaml | kubeseal -o yaml) and replace this entry",
            site.key
        );
        site.with_elsewhere(Elsewhere {
            store: Store::SealedSecret,
            location,
            how_to_rotate,
        })
    }
}

/// What `push_site` needs to know about a key that holds a value.
pub(super) struct Found<'k> {
    pub(super) key: &'k Scalar<'k>,
    pub(super) key_span: Span,
    pub(super) role: Role,
    pub(super) reader: Reader,
    pub(super) conflict: bool,
    pub(super) path: &'k str,
}

/// A SOPS value names its key path, so the user knows where to put the new token.
pub(super) fn sops_located(site: Site, path: &str) -> Site {
    if site.value == Value::Encrypted && site.elsewhere.is_none() {
        common::sops_site(site, path)
    } else {
        site
    }
}

static NO_LOADERS: std::sync::LazyLock<HashMap<String, Vec<Workload>>> =
    std::sync::LazyLock::new(HashMap::new);

pub(super) fn container_reader(image: &str) -> Reader {
    if keys::is_delegate_image(image) {
        Reader::Delegate
    } else {
        Reader::Unknown(
            format!("the container's image {image} is not a Harness delegate image").into(),
        )
    }
}

/// A plain scalar that YAML would read as a number is not the string a token must be.
pub(super) fn classify_scalar_text(text: &str, style: ScalarStyle) -> Value {
    let value = token::classify(text);
    if style == ScalarStyle::Plain && value.is_token() && token::plain_reads_as_number(text) {
        return token::classify_as_other(text);
    }
    value
}

/// A Secret value written over several lines that is not a token as it stands but holds
/// one: base64 wrapped over the lines of a `|` block (Kubernetes' base64 decoder skips line
/// breaks), a token split by `>` folding, or a token on a line of its own among others. It
/// is judged as that token, so a revoked one fails `check`; being a block, it is never
/// rewritten in place.
fn token_across_lines(text: &str) -> Option<Value> {
    let joined: zeroize::Zeroizing<String> =
        zeroize::Zeroizing::new(text.split_ascii_whitespace().collect());
    std::iter::once(joined.as_str())
        .chain(text.split_ascii_whitespace())
        .map(token::classify)
        .find(Value::is_token)
}

pub(super) fn unverbatim_reason(scalar: &Scalar) -> String {
    match scalar.style {
        ScalarStyle::Literal | ScalarStyle::Folded => {
            "the value is a block scalar (| or >): rewrite it as a one-line value".to_owned()
        }
        _ => {
            "the value uses escapes or spans lines: write it as one plain or quoted line".to_owned()
        }
    }
}
