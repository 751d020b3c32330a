//! YAML scanner: Kubernetes manifests (env lists, Secrets, ConfigMaps), kustomize
//! `secretGenerator` literals, docker-compose `environment:`, Helm values at any depth and the
//! shell delegate's `config-*.yml`. It parses with `granit-parser`, which reports byte spans,
//! builds a small tree per document and walks it with the rules of GUIDE §2. Helm chart
//! templates, which are often not YAML at all, fall back to a line search that only ever
//! yields references.

use super::ParseError;
use crate::keys;
use crate::site::{Limit, Role, Site, Span};
use crate::token::{self, Value};
use granit_parser::{Event, Options, Parser, ScalarStyle};
use std::collections::{HashMap, HashSet};

pub fn scan(text: &str) -> Result<Vec<Site>, ParseError> {
    match parse(text) {
        Ok(documents) => {
            let mut sites = Vec::new();
            for document in &documents.roots {
                Walker::new(text, &documents.anchors, document).walk(document, &mut sites);
            }
            Ok(sites)
        }
        // A Helm template: `{{ … }}` makes most of them invalid YAML, and what they hold
        // are references to values, never literals.
        Err(_) if text.contains("{{") => Ok(scan_template(text)),
        Err(error) => Err(error),
    }
}

struct Scalar {
    value: String,
    style: ScalarStyle,
    span: Span,
}

enum Node {
    Scalar(Scalar),
    Map {
        start: usize,
        entries: Vec<(Node, Node)>,
    },
    Seq {
        items: Vec<Node>,
    },
    Alias {
        anchor: usize,
        start: usize,
    },
}

impl Node {
    fn as_scalar(&self) -> Option<&Scalar> {
        match self {
            Node::Scalar(scalar) => Some(scalar),
            _ => None,
        }
    }

    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map { entries, .. } => entries
                .iter()
                .find(|(k, _)| k.as_scalar().is_some_and(|k| k.value == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_scalar().map(|s| s.value.as_str())
    }
}

struct Documents {
    roots: Vec<Node>,
    /// Anchored scalars by anchor id: an alias to one edits the anchored literal.
    anchors: HashMap<usize, Scalar>,
}

enum Frame {
    Map {
        start: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
    Seq {
        items: Vec<Node>,
    },
}

fn parse(text: &str) -> Result<Documents, ParseError> {
    let mut options = Options::default();
    options.emit_comments = false;
    let mut documents = Documents {
        roots: Vec::new(),
        anchors: HashMap::new(),
    };
    let mut stack: Vec<Frame> = Vec::new();
    for event in Parser::new_from_str_with_options(text, options) {
        let (event, span) = event.map_err(|error| ParseError {
            offset: error.marker().byte_offset().unwrap_or(0),
            message: error.info(),
        })?;
        let range = span.byte_range().unwrap_or(0..0);
        let node = match event {
            Event::MappingStart(..) => {
                stack.push(Frame::Map {
                    start: range.start,
                    entries: Vec::new(),
                    key: None,
                });
                continue;
            }
            Event::SequenceStart(..) => {
                stack.push(Frame::Seq { items: Vec::new() });
                continue;
            }
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map { start, entries, .. }) => Node::Map { start, entries },
                _ => continue,
            },
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { items }) => Node::Seq { items },
                _ => continue,
            },
            Event::Scalar(value, style, anchor, _) => {
                if anchor != 0 {
                    documents.anchors.insert(
                        anchor,
                        Scalar {
                            value: value.to_string(),
                            style,
                            span: range.clone(),
                        },
                    );
                }
                Node::Scalar(Scalar {
                    value: value.into_owned(),
                    style,
                    span: range,
                })
            }
            Event::Alias(anchor) => Node::Alias {
                anchor,
                start: range.start,
            },
            _ => continue,
        };
        match stack.last_mut() {
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => *key = Some(node),
            },
            Some(Frame::Seq { items }) => items.push(node),
            None => documents.roots.push(node),
        }
    }
    Ok(documents)
}

/// Where a walk is inside a document: decides the role of the sites found there.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    Elsewhere,
    /// Directly under a Secret's `data:` (base64) or `stringData:`.
    SecretEntries {
        base64_data: bool,
    },
}

struct Walker<'a> {
    text: &'a str,
    anchors: &'a HashMap<usize, Scalar>,
    is_secret: bool,
    secret_name: Option<String>,
}

impl<'a> Walker<'a> {
    fn new(text: &'a str, anchors: &'a HashMap<usize, Scalar>, root: &Node) -> Self {
        Walker {
            text,
            anchors,
            is_secret: root.get_str("kind") == Some("Secret"),
            secret_name: root
                .get("metadata")
                .and_then(|m| m.get_str("name"))
                .map(str::to_owned),
        }
    }

    fn walk(&self, root: &Node, sites: &mut Vec<Site>) {
        self.visit(root, Place::Elsewhere, true, &HashSet::new(), sites);
    }

    /// `env_names`: the env names declared by the sequence `node` is an item of.
    fn visit(
        &self,
        node: &Node,
        place: Place,
        at_root: bool,
        env_names: &HashSet<String>,
        sites: &mut Vec<Site>,
    ) {
        let none = HashSet::new();
        match node {
            Node::Map { entries, .. } => {
                self.env_entry(node, env_names, sites);
                let names: HashSet<&str> = entries
                    .iter()
                    .filter_map(|(k, _)| k.as_scalar().map(|k| k.value.as_str()))
                    .collect();
                for (key, value) in entries {
                    let Some(key) = key.as_scalar() else { continue };
                    if keys::is_token_key(&key.value) {
                        let role = match place {
                            Place::SecretEntries { base64_data } => Role::SecretEntry {
                                secret: self.secret_name.clone(),
                                base64_data,
                            },
                            Place::Elsewhere => Role::Plain,
                        };
                        let conflict = keys::current_name(&key.value)
                            .is_some_and(|current| names.contains(current));
                        self.push_site(key, inner_span(key), value, role, conflict, sites);
                    } else if key.value == "secretKeyRef" {
                        self.secret_key_ref(value, sites);
                    }
                    let child_place = match key.value.as_str() {
                        "data" if at_root && self.is_secret => {
                            Place::SecretEntries { base64_data: true }
                        }
                        "stringData" if at_root && self.is_secret => {
                            Place::SecretEntries { base64_data: false }
                        }
                        _ => Place::Elsewhere,
                    };
                    self.visit(value, child_place, false, &none, sites);
                }
            }
            Node::Seq { items } => {
                let names = env_names_in(items);
                for item in items {
                    if let Node::Scalar(scalar) = item {
                        self.env_literal(scalar, &names, sites);
                    }
                    self.visit(item, Place::Elsewhere, false, &names, sites);
                }
            }
            Node::Scalar(_) | Node::Alias { .. } => {}
        }
    }

    /// `- name: DELEGATE_TOKEN` with `value:` (a literal) or `valueFrom:` (a reference).
    fn env_entry(&self, entry: &Node, env_names: &HashSet<String>, sites: &mut Vec<Site>) {
        let Some(name) = entry.get("name").and_then(Node::as_scalar) else {
            return;
        };
        if !keys::is_env_name(&name.value) {
            return;
        }
        let conflict =
            keys::current_name(&name.value).is_some_and(|current| env_names.contains(current));
        if let Some(value) = entry.get("value") {
            self.push_site(name, inner_span(name), value, Role::Plain, conflict, sites);
        } else if let Some(Node::Map { start, .. }) = entry.get("valueFrom") {
            let mut site = Site::reference(&name.value, inner_span(name), *start);
            site.rename_conflict = conflict;
            sites.push(site);
        }
    }

    /// `secretKeyRef: {name: …, key: ACCOUNT_SECRET}`: a reference whose key must follow
    /// the Secret's own key when that is migrated.
    fn secret_key_ref(&self, reference: &Node, sites: &mut Vec<Site>) {
        let (Some(secret), Some(key)) = (
            reference.get_str("name"),
            reference.get("key").and_then(Node::as_scalar),
        ) else {
            return;
        };
        if !keys::is_env_name(&key.value) {
            return;
        }
        let span = inner_span(key);
        let role = Role::SecretKeyRef {
            secret: secret.to_owned(),
        };
        sites.push(Site::reference(&key.value, span.clone(), span.start).with_role(role));
    }

    /// `DELEGATE_TOKEN=<v>` as a sequence item: kustomize `literals:`, compose `environment:`.
    fn env_literal(&self, scalar: &Scalar, names: &HashSet<String>, sites: &mut Vec<Site>) {
        let Some((name, rest)) = scalar.value.split_once('=') else {
            return;
        };
        if !keys::is_env_name(name) {
            return;
        }
        let inner = inner_span(scalar);
        let verbatim = self.is_verbatim(scalar);
        let key_start = inner.start;
        let value_start = key_start + name.len() + 1;
        let value_span = if verbatim {
            value_start..inner.end
        } else {
            inner.clone()
        };
        let value = classify_scalar_text(rest, scalar.style);
        let limit = (!verbatim).then(|| Limit::Refused(unverbatim_reason(scalar)));
        let mut site =
            Site::new(name, key_start..key_start + name.len(), value_span, value).with_limit(limit);
        site.rename_conflict =
            keys::current_name(name).is_some_and(|current| names.contains(current));
        sites.push(site);
    }

    /// The scalar's characters are its value: no escapes, folding or block indicators, so
    /// a rewrite can splice them.
    fn is_verbatim(&self, scalar: &Scalar) -> bool {
        self.text[inner_span(scalar)] == scalar.value
            && !matches!(scalar.style, ScalarStyle::Literal | ScalarStyle::Folded)
    }

    fn push_site(
        &self,
        key: &Scalar,
        key_span: Span,
        value: &Node,
        role: Role,
        rename_conflict: bool,
        sites: &mut Vec<Site>,
    ) {
        let (scalar, location) = match value {
            Node::Scalar(scalar) => (scalar, inner_span(scalar).start),
            Node::Alias { anchor, start } => match self.anchors.get(anchor) {
                Some(scalar) => (scalar, *start),
                None => return,
            },
            Node::Map { start, .. } if self.text[*start..].starts_with("{{") => {
                // `key: {{ .Values.x }}` parses as a flow mapping inside a flow mapping.
                let mut site = Site::reference(&key.value, key_span, *start).with_role(role);
                site.rename_conflict = rename_conflict;
                sites.push(site);
                return;
            }
            Node::Map { .. } | Node::Seq { .. } => return,
        };
        let value_span = inner_span(scalar);
        let verbatim = self.is_verbatim(scalar);
        let is_null = scalar.style == ScalarStyle::Plain
            && matches!(scalar.value.as_str(), "~" | "null" | "Null" | "NULL" | "");
        let (value, limit) = if is_null {
            let reason =
                "the value is missing (null): write an empty quoted value (\"\") to have it filled";
            (Value::Empty, Some(Limit::Refused(reason.to_owned())))
        } else {
            let value = classify_scalar_text(&scalar.value, scalar.style);
            let limit = (!verbatim).then(|| Limit::Refused(unverbatim_reason(scalar)));
            (value, limit)
        };
        let mut site = Site::new(&key.value, key_span, value_span, value)
            .with_limit(limit)
            .with_role(role);
        site.location = location;
        site.rename_conflict = rename_conflict;
        sites.push(site);
    }
}

/// The env names declared by the items of a sequence (env lists and `KEY=value` lists), so a
/// legacy entry is not renamed onto a current one that already sits beside it.
fn env_names_in(items: &[Node]) -> HashSet<String> {
    items
        .iter()
        .filter_map(|item| match item {
            Node::Map { .. } => item.get_str("name").map(str::to_owned),
            Node::Scalar(s) => s.value.split_once('=').map(|(k, _)| k.to_owned()),
            _ => None,
        })
        .filter(|name| keys::is_env_name(name))
        .collect()
}

/// A plain scalar that YAML would read as a number is not the string a token must be.
fn classify_scalar_text(text: &str, style: ScalarStyle) -> Value {
    let value = token::classify(text);
    if style == ScalarStyle::Plain && value.is_token() && !plain_is_string(text) {
        return token::classify_as_other(text);
    }
    value
}

/// YAML 1.1 and 1.2 resolve some plain scalars made of hex digits to numbers: all digits,
/// `123e456`, and 1.1's `0b1010`.
fn plain_is_string(text: &str) -> bool {
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if all_digits(text) {
        return false;
    }
    if let Some((mantissa, exponent)) = text.split_once(['e', 'E']) {
        if all_digits(mantissa) && all_digits(exponent) {
            return false;
        }
    }
    if let Some(bits) = text.strip_prefix("0b") {
        if !bits.is_empty() && bits.bytes().all(|b| b == b'0' || b == b'1') {
            return false;
        }
    }
    true
}

fn unverbatim_reason(scalar: &Scalar) -> String {
    match scalar.style {
        ScalarStyle::Literal | ScalarStyle::Folded => {
            "the value is a block scalar (| or >): rewrite it as a one-line value".to_owned()
        }
        _ => {
            "the value uses escapes or spans lines: write it as one plain or quoted line".to_owned()
        }
    }
}

/// The scalar's characters without its quotes.
fn inner_span(scalar: &Scalar) -> Span {
    match scalar.style {
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted if scalar.span.len() >= 2 => {
            scalar.span.start + 1..scalar.span.end - 1
        }
        _ => scalar.span.clone(),
    }
}

/// Line search in a template that is not valid YAML: `key: {{ … }}` is a reference site.
fn scan_template(text: &str) -> Vec<Site> {
    let mut sites = Vec::new();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let trimmed = trimmed.strip_prefix("- ").unwrap_or(trimmed);
        let key_start = line_start + (line.len() - trimmed.len()).max(indent);
        if let Some((key, rest)) = trimmed.split_once(':') {
            let key_text = key.trim_matches(['"', '\'']);
            if keys::is_token_key(key_text) && rest.contains("{{") {
                let offset = key_start + key.find(key_text).unwrap_or(0);
                let value_at = line_start + line.find("{{").unwrap_or(0);
                let key_span = offset..offset + key_text.len();
                sites.push(Site::reference(key_text, key_span, value_at));
            }
        }
        line_start += line.len();
    }
    sites
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{Encoding, Kind};

    const HEX: &str = "0123456789abcdef0123456789abcdef";

    fn values(text: &str) -> Vec<(String, String, Kind)> {
        scan(text)
            .unwrap()
            .into_iter()
            .map(|s| (s.key, text[s.value_span].to_owned(), s.value.kind()))
            .collect()
    }

    #[test]
    fn env_list_block_and_flow_with_value_from() {
        let text = format!(
            "env:\n- name: DELEGATE_TOKEN\n  value: \"{HEX}\"\n- {{name: UPGRADER_TOKEN, value: '{HEX}'}}\n- name: ACCOUNT_SECRET\n  valueFrom:\n    secretKeyRef: {{name: s, key: ACCOUNT_SECRET}}\n"
        );
        let sites = scan(&text).unwrap();
        let found: Vec<_> = sites
            .iter()
            .map(|s| (s.key.as_str(), s.value.kind(), &text[s.key_span.clone()]))
            .collect();
        assert_eq!(
            found,
            vec![
                ("DELEGATE_TOKEN", Kind::Literal, "DELEGATE_TOKEN"),
                ("UPGRADER_TOKEN", Kind::Literal, "UPGRADER_TOKEN"),
                ("ACCOUNT_SECRET", Kind::Reference, "ACCOUNT_SECRET"),
                ("ACCOUNT_SECRET", Kind::Reference, "ACCOUNT_SECRET"),
            ]
        );
        assert_eq!(&text[sites[0].value_span.clone()], HEX);
        assert_eq!(&text[sites[1].value_span.clone()], HEX);
        assert_eq!(
            sites[3].role,
            Role::SecretKeyRef {
                secret: "s".to_owned()
            }
        );
    }

    #[test]
    fn secret_data_is_marked_base64_and_named() {
        let text = "kind: Secret\nmetadata:\n  name: d-account-token\ndata:\n  DELEGATE_TOKEN: \"PUT_YOUR_DELEGATE_TOKEN\"\nstringData:\n  UPGRADER_TOKEN: x\n";
        let sites = scan(text).unwrap();
        assert_eq!(sites[0].value.kind(), Kind::Placeholder);
        assert_eq!(
            sites[0].role,
            Role::SecretEntry {
                secret: Some("d-account-token".to_owned()),
                base64_data: true
            }
        );
        assert_eq!(
            sites[1].role,
            Role::SecretEntry {
                secret: Some("d-account-token".to_owned()),
                base64_data: false
            }
        );
    }

    #[test]
    fn kustomize_literals_and_compose_lists_split_at_the_equals_sign() {
        let text = format!("secretGenerator:\n- name: t\n  literals:\n  - DELEGATE_TOKEN={HEX}\n  - \"ACCOUNT_SECRET={HEX}\"\n");
        let sites = scan(&text).unwrap();
        assert_eq!(sites.len(), 2);
        for site in &sites {
            assert_eq!(&text[site.value_span.clone()], HEX);
            assert_eq!(&text[site.key_span.clone()], site.key);
        }
    }

    #[test]
    fn helm_keys_at_any_depth_but_not_existing_secret_names() {
        let text = format!("harness-delegate-ng:\n  delegateToken: {HEX}\n  existingDelegateToken: my-secret\naccountSecret: ''\n");
        assert_eq!(
            values(&text),
            vec![
                ("delegateToken".to_owned(), HEX.to_owned(), Kind::Literal),
                ("accountSecret".to_owned(), String::new(), Kind::Empty),
            ]
        );
    }

    #[test]
    fn aliases_point_at_the_anchored_literal() {
        let text = format!("base: &tok {HEX}\ndelegateToken: *tok\n");
        let sites = scan(&text).unwrap();
        assert_eq!(sites.len(), 1);
        assert_eq!(&text[sites[0].value_span.clone()], HEX);
        assert_eq!(sites[0].location, text.find("*tok").unwrap());
    }

    #[test]
    fn block_scalars_escapes_and_numbers_are_not_rewritable_tokens() {
        let text = format!("a:\n  delegateToken: |\n    {HEX}\nb:\n  delegateToken: \"\\x30{}\"\nc:\n  delegateToken: 12345678901234567890123456789012\n", &HEX[1..]);
        let sites = scan(&text).unwrap();
        assert!(sites[0]
            .limit
            .as_ref()
            .unwrap()
            .reason()
            .contains("block scalar"));
        assert!(sites[1]
            .limit
            .as_ref()
            .unwrap()
            .reason()
            .contains("escapes"));
        assert_eq!(sites[2].value.encoding(), Some(Encoding::Other));
    }

    #[test]
    fn legacy_key_beside_its_current_name_is_a_conflict() {
        let text = "env:\n- name: DELEGATE_TOKEN\n  value: a\n- name: ACCOUNT_SECRET\n  value: b\ndata:\n  accountSecret: a\n  delegateToken: b\n";
        let sites = scan(text).unwrap();
        let conflicts: Vec<_> = sites
            .iter()
            .filter(|s| s.rename_conflict)
            .map(|s| s.key.as_str())
            .collect();
        assert_eq!(conflicts, vec!["ACCOUNT_SECRET", "accountSecret"]);
    }

    #[test]
    fn templates_yield_references_and_never_errors() {
        let text = "data:\n  DELEGATE_TOKEN: {{ .Values.delegateToken | b64enc | quote }}\n{{- if .Values.x }}\n  UPGRADER_TOKEN: {{ .Values.delegateToken }}\n{{- end }}\n";
        let sites = scan(text).unwrap();
        assert_eq!(sites.len(), 2);
        assert!(sites.iter().all(|s| s.value.kind() == Kind::Reference));
        assert_eq!(&text[sites[1].key_span.clone()], "UPGRADER_TOKEN");
    }

    #[test]
    fn broken_yaml_is_an_error_with_its_offset() {
        let error = scan("a: [b\ndelegateToken: d: e\n").unwrap_err();
        assert!(error.offset > 0);
    }
}
