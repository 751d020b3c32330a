//! YAML scanner: Kubernetes manifests (env lists, Secrets, ConfigMaps), kustomize
//! `secretGenerator` literals, docker-compose `environment:`, Helm values at any depth and the
//! shell delegate's `config-*.yml`; also what says where a token really lives: SealedSecret
//! `encryptedData` and SOPS `ENC[…]` values (encrypted, with their key path), ExternalSecret
//! `secretKey`/`remoteRef`, Vault agent annotations and `secretKeyRef` (references, with
//! their location). It parses with `granit-parser`, which reports byte spans, builds a small
//! tree per document and walks it, noting who reads each key: a container's image, the
//! delegate chart's sibling keys, a Secret that delegate containers load. Helm chart
//! templates, which are often not YAML at all, fall back to a line search that only ever
//! yields references; a file is a template only on real evidence (a `{{` outside comments,
//! or a chart's `templates/` directory), so broken YAML is never hidden. A file that parses
//! but is not a mapping (HCL saved as `.yaml`) is an error when it holds a key name.

use super::ParseError;
use crate::keys;
use crate::site::{Elsewhere, Limit, Owner, Reader, Role, Site, Span, Store, Workload};
use crate::token::{self, Value};
use granit_parser::{Event, Options, Parser, ScalarStyle};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub fn scan(text: &str) -> Result<Vec<Site>, ParseError> {
    match parse(text) {
        Ok(documents) => {
            refuse_non_mapping(text, &documents)?;
            Ok(walk_all(text, &documents))
        }
        // A Helm template: `{{ … }}` makes most of them invalid YAML, and what they hold
        // are references to values, never literals. Only a `{{` outside comments counts:
        // a broken file that merely mentions one in a comment is still broken.
        Err(_) if has_template_expression(text) => Ok(scan_template(text)),
        Err(error) => Err(error),
    }
}

/// A file under a chart's `templates/`: YAML when it parses, references by line otherwise.
pub fn scan_template_file(text: &str) -> Result<Vec<Site>, ParseError> {
    let mut sites = match parse(text) {
        Ok(documents) => walk_all(text, &documents),
        Err(_) => scan_template(text),
    };
    for site in &mut sites {
        site.reader = Reader::unknown(TEMPLATE_READER);
    }
    Ok(sites)
}

const TEMPLATE_READER: &str =
    "a chart template: its keys are renamed together with the chart's values and templates, by hand";

fn walk_all(text: &str, documents: &Documents) -> Vec<Site> {
    let mut sites = Vec::with_capacity(super::expected_sites(text));
    let delegate_secrets = delegate_env_from_secrets(&documents.roots);
    let objects: Vec<&Node> = documents.roots.iter().flat_map(list_items).collect();
    let loaders = secret_loaders(&objects);
    let last_owner = RefCell::new(None);
    for object in objects {
        let mut walker = Walker::new(
            text,
            &documents.anchors,
            object,
            &delegate_secrets,
            &last_owner,
        );
        walker.loaders = &loaders;
        walker.walk(object, &mut sites);
    }
    sites
}

/// The objects of a document: the `items` of a `kind: List` (as `kubectl get … -o yaml`
/// prints them), each read as its own document, or the document itself.
fn list_items<'n, 'a>(root: &'n Node<'a>) -> Vec<&'n Node<'a>> {
    match (root.get_str("kind"), root.get("items")) {
        (Some("List"), Some(Node::Seq { items })) => items.iter().collect(),
        _ => vec![root],
    }
}

/// For each Secret name, the workload containers of these objects that load it whole
/// (`envFrom: - secretRef: {name: …}`): the delegates its entries configure.
fn secret_loaders(objects: &[&Node]) -> HashMap<String, Vec<Workload>> {
    fn visit(node: &Node, object: &Node, found: &mut HashMap<String, Vec<Workload>>) {
        match node {
            Node::Map { entries, .. } => {
                if let (Some(_), Some(Node::Seq { items })) =
                    (node.get_str("image"), node.get("envFrom"))
                {
                    for secret in items
                        .iter()
                        .filter_map(|item| item.get("secretRef")?.get_str("name"))
                    {
                        if let Some(workload) = workload(object, node.get_str("name")) {
                            found.entry(secret.to_owned()).or_default().push(workload);
                        }
                    }
                }
                for (_, value) in entries {
                    visit(value, object, found);
                }
            }
            Node::Seq { items } => items.iter().for_each(|item| visit(item, object, found)),
            Node::Scalar(_) | Node::Alias { .. } => {}
        }
    }
    let mut found = HashMap::new();
    for object in objects {
        visit(object, object, &mut found);
    }
    found
}

/// A Kubernetes object (kind and `metadata.name`) and one of its containers.
fn workload(object: &Node, container: Option<&str>) -> Option<Workload> {
    let metadata = object.get("metadata")?;
    Some(Workload {
        kind: object.get_str("kind")?.to_owned(),
        namespace: metadata.get_str("namespace").map(str::to_owned),
        name: metadata.get_str("name")?.to_owned(),
        container: container.map(str::to_owned),
    })
}

/// A `{{` that is not inside a `#` comment.
fn has_template_expression(text: &str) -> bool {
    text.lines().any(|line| {
        let comment = line
            .char_indices()
            .find(|&(i, c)| c == '#' && (i == 0 || line[..i].ends_with([' ', '\t'])))
            .map_or(line.len(), |(i, _)| i);
        line[..comment].contains("{{")
    })
}

/// A file that holds a key name but whose documents are not mappings or sequences (HCL or
/// `.env` lines saved as `.yaml` read as one long plain scalar) would silently yield no site.
fn refuse_non_mapping(text: &str, documents: &Documents) -> Result<(), ParseError> {
    let scalar_document = documents
        .roots
        .iter()
        .any(|root| matches!(root, Node::Scalar(s) if !s.value.trim().is_empty()));
    if !scalar_document {
        return Ok(());
    }
    let Some(offset) = keys::ALL.iter().filter_map(|key| text.find(key)).min() else {
        return Ok(());
    };
    Err(ParseError {
        offset,
        message: "it holds a delegate-token key but is not a YAML mapping (HCL or .env lines saved as .yaml?): give it its real extension or write it as YAML".to_owned(),
    })
}

struct Scalar<'a> {
    /// Borrowed from the file unless escapes or folding changed it.
    value: Cow<'a, str>,
    style: ScalarStyle,
    span: Span,
}

enum Node<'a> {
    Scalar(Scalar<'a>),
    Map {
        start: usize,
        entries: Vec<(Node<'a>, Node<'a>)>,
    },
    Seq {
        items: Vec<Node<'a>>,
    },
    Alias {
        anchor: usize,
        start: usize,
    },
}

impl<'a> Node<'a> {
    fn as_scalar(&self) -> Option<&Scalar<'a>> {
        match self {
            Node::Scalar(scalar) => Some(scalar),
            _ => None,
        }
    }

    fn get(&self, key: &str) -> Option<&Node<'a>> {
        match self {
            Node::Map { entries, .. } => entries
                .iter()
                .find(|(k, _)| k.as_scalar().is_some_and(|k| k.value == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_scalar().map(|s| s.value.as_ref())
    }
}

struct Documents<'a> {
    roots: Vec<Node<'a>>,
    /// Anchored scalars by anchor id: an alias to one edits the anchored literal.
    anchors: HashMap<usize, Scalar<'a>>,
}

enum Frame<'a> {
    Map {
        start: usize,
        entries: Vec<(Node<'a>, Node<'a>)>,
        key: Option<Node<'a>>,
    },
    Seq {
        items: Vec<Node<'a>>,
    },
}

fn parse(text: &str) -> Result<Documents<'_>, ParseError> {
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
            // Without the growth slack: a stream of 150,000 one-key documents would
            // otherwise hold room for four entries in each.
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    start, mut entries, ..
                }) => {
                    entries.shrink_to_fit();
                    Node::Map { start, entries }
                }
                _ => continue,
            },
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { mut items }) => {
                    items.shrink_to_fit();
                    Node::Seq { items }
                }
                _ => continue,
            },
            Event::Scalar(value, style, anchor, _) => {
                if anchor != 0 {
                    documents.anchors.insert(
                        anchor,
                        Scalar {
                            value: value.clone(),
                            style,
                            span: range.clone(),
                        },
                    );
                }
                Node::Scalar(Scalar {
                    value,
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

/// Where a walk is inside a document: decides the role, reader and kind of the sites found
/// there.
#[derive(Clone)]
struct Context<'c> {
    place: Place,
    at_root: bool,
    /// The env names declared by the sequence the node is an item of.
    env_names: Option<&'c HashSet<String>>,
    /// Inside a container's `env` / `environment` / `envFrom`: who reads them.
    container: Option<Reader>,
    /// Directly the `environment:` map (compose) or a `literals:` / env list: who reads
    /// the entries.
    entries_reader: Option<Reader>,
    /// Under a `harness-delegate*` key (an umbrella chart's delegate sub-chart).
    under_delegate_chart: bool,
    /// The context of the enclosing node and the step from it to this one: the key path is
    /// built from them only when a site needs it (no allocation per node).
    parent: Option<&'c Context<'c>>,
    step: Step<'c>,
    /// The mapping key the node sits under (a sequence's items share their sequence's).
    key: Option<&'c str>,
    /// Inside a container's env: the container's name, or the compose service's key.
    container_name: Option<String>,
    /// Under an umbrella chart's `harness-delegate*` key: that key.
    subchart: Option<String>,
}

#[derive(Clone, Copy)]
enum Step<'c> {
    Root,
    Key(&'c str),
    Index(usize),
}

impl Context<'_> {
    /// The key path from the document root, SOPS style: `["data"]["DELEGATE_TOKEN"]`.
    fn path(&self) -> String {
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
enum Place {
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

struct Walker<'a> {
    text: &'a str,
    anchors: &'a HashMap<usize, Scalar<'a>>,
    kind: Option<&'a str>,
    name: Option<String>,
    namespace: Option<String>,
    /// Secrets a delegate container of this file loads whole (`envFrom: secretRef`).
    delegate_secrets: &'a HashSet<String>,
    /// The workloads that load each Secret whole (`envFrom`), for the Secret's owner.
    loaders: &'a HashMap<String, Vec<Workload>>,
    /// The owner given last, shared with every following site that has the same one: a
    /// stream of 150,000 documents then holds one owner, not 150,000.
    last_owner: &'a RefCell<Option<Arc<Owner>>>,
    root: &'a Node<'a>,
}

impl<'a> Walker<'a> {
    fn new(
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
        }
    }

    fn walk(&self, root: &Node, sites: &mut Vec<Site>) {
        let context = Context {
            place: Place::Elsewhere,
            at_root: true,
            env_names: None,
            container: None,
            entries_reader: None,
            under_delegate_chart: false,
            parent: None,
            step: Step::Root,
            key: None,
            container_name: None,
            subchart: None,
        };
        self.visit(root, &context, sites);
    }

    fn visit(&self, node: &Node, context: &Context, sites: &mut Vec<Site>) {
        let before = sites.len();
        self.visit_node(node, context, sites);
        // Children filled their own sites first: the innermost context names the owner best.
        if sites[before..].iter().all(|site| site.owner.is_some()) {
            return;
        }
        let owner = self.owner(context, node.get_str("delegateName"));
        let mut last = self.last_owner.borrow_mut();
        let owner = match last.as_ref() {
            Some(shared) if **shared == owner => shared.clone(),
            _ => last.insert(Arc::new(owner)).clone(),
        };
        for site in &mut sites[before..] {
            if site.owner.is_none() {
                site.owner = Some(owner.clone());
            }
        }
    }

    /// The delegate configuration a site found in `context` belongs to.
    fn owner(&self, context: &Context, delegate_name: Option<&str>) -> Owner {
        match (self.kind, &self.name) {
            (Some(kind), Some(name)) => Owner::Kubernetes {
                kind: kind.to_owned(),
                namespace: self.namespace.clone(),
                name: name.clone(),
                container: context.container_name.clone(),
                loaded_by: match kind {
                    "Secret" => self.loaders.get(name).cloned().unwrap_or_default(),
                    _ => Vec::new(),
                },
            },
            _ => match &context.container_name {
                Some(service) => Owner::ComposeService(service.clone()),
                None => Owner::Values {
                    subchart: context.subchart.clone(),
                    delegate_name: delegate_name.map(str::to_owned),
                },
            },
        }
    }

    fn visit_node(&self, node: &Node, context: &Context, sites: &mut Vec<Site>) {
        match node {
            Node::Map { entries, .. } => {
                self.env_entry(node, context, sites);
                if self.kind == Some("ExternalSecret") {
                    self.external_secret_entry(node, sites);
                }
                let names = || entries.iter().filter_map(|(k, _)| k.as_scalar());
                let has_key = |name: &str| names().any(|k| k.value == name);
                let container = node.get_str("image").map(container_reader);
                let beside_delegate_keys = names().any(|k| keys::is_delegate_sibling(&k.value));
                if context.place == Place::Annotations {
                    self.vault_annotations(entries, sites);
                }
                for (key, value) in entries {
                    let Some(key) = key.as_scalar() else { continue };
                    if keys::is_token_key(&key.value) {
                        let path = format!("{}[\"{}\"]", context.path(), key.value);
                        let reader = self.map_key_reader(context, beside_delegate_keys);
                        let role = match context.place {
                            Place::SecretEntries { base64_data } => Role::SecretEntry {
                                secret: self.name.clone(),
                                base64_data,
                            },
                            _ => Role::Plain,
                        };
                        let conflict = keys::current_name(&key.value).is_some_and(has_key);
                        let found = Found {
                            key,
                            key_span: inner_span(key),
                            role,
                            reader,
                            conflict,
                            path: &path,
                        };
                        self.push_site(found, value, context.place == Place::SealedEntries, sites);
                    } else if key.value == "secretKeyRef" {
                        self.secret_key_ref(value, context, sites);
                    }
                    let child = self.child_context(context, &key.value, container.as_ref(), node);
                    self.visit(value, &child, sites);
                }
            }
            Node::Seq { items } => {
                let names = env_names_in(items);
                for (index, item) in items.iter().enumerate() {
                    let child = Context {
                        place: Place::Elsewhere,
                        at_root: false,
                        env_names: Some(&names),
                        parent: Some(context),
                        step: Step::Index(index),
                        ..context.clone()
                    };
                    if let Node::Scalar(scalar) = item {
                        self.env_literal(scalar, &names, context, &child, sites);
                    }
                    self.visit(item, &child, sites);
                }
            }
            Node::Scalar(_) | Node::Alias { .. } => {}
        }
    }

    /// The context of the value of `key`, a key of `map`.
    fn child_context<'c>(
        &self,
        context: &'c Context<'c>,
        key: &'c str,
        container: Option<&Reader>,
        map: &Node,
    ) -> Context<'c> {
        let place = match key {
            "data" if context.at_root && self.kind == Some("Secret") => {
                Place::SecretEntries { base64_data: true }
            }
            "stringData" if context.at_root && self.kind == Some("Secret") => {
                Place::SecretEntries { base64_data: false }
            }
            "encryptedData" if self.kind == Some("SealedSecret") => Place::SealedEntries,
            "annotations" => Place::Annotations,
            _ => Place::Elsewhere,
        };
        let env_key = matches!(key, "env" | "environment" | "envFrom");
        // A Kubernetes container is named by its `name`; a compose service by its key.
        let container_name = match (container, context.key) {
            (Some(_), Some("containers" | "initContainers")) if env_key => {
                map.get_str("name").map(str::to_owned)
            }
            (Some(_), parent) if env_key => parent.map(str::to_owned),
            (Some(_), _) => None,
            (None, _) => context.container_name.clone(),
        };
        let (container, entries_reader) = match container {
            // A container or compose service: its env is read by its image.
            Some(reader) if env_key => (Some(reader.clone()), Some(reader.clone())),
            Some(_) => (None, None),
            None if key == "literals" => {
                // A kustomize secretGenerator: its literals are the entries of that Secret.
                let reader = map
                    .get_str("name")
                    .map(|name| Reader::Secret(name.to_owned()));
                (context.container.clone(), reader)
            }
            None => (context.container.clone(), None),
        };
        Context {
            place,
            at_root: false,
            env_names: None,
            container,
            entries_reader,
            under_delegate_chart: context.under_delegate_chart
                || key.starts_with("harness-delegate"),
            parent: Some(context),
            step: Step::Key(key),
            key: Some(key),
            container_name,
            subchart: context
                .subchart
                .clone()
                .or_else(|| key.starts_with("harness-delegate").then(|| key.to_owned())),
        }
    }

    /// Who reads a token key of a mapping.
    fn map_key_reader(&self, context: &Context, beside_delegate_keys: bool) -> Reader {
        match context.place {
            Place::SecretEntries { .. } => self.secret_reader(),
            Place::SealedEntries => Reader::unknown(
                "a SealedSecret entry: re-seal the Secret under the new key name",
            ),
            _ => match &context.entries_reader {
                Some(reader) => reader.clone(),
                None if beside_delegate_keys || context.under_delegate_chart => Reader::Delegate,
                None => Reader::unknown(
                    "not beside accountId / delegateName / managerEndpoint, nor under a harness-delegate* chart key, so not known to be the delegate's values",
                ),
            },
        }
    }

    /// Who reads the entries of this Secret: a delegate when a delegate container of this
    /// file loads it, else whatever the scanned files show refers to it.
    fn secret_reader(&self) -> Reader {
        match &self.name {
            Some(name) if self.delegate_secrets.contains(name) => Reader::Delegate,
            Some(name) => Reader::Secret(name.clone()),
            None => Reader::unknown("a Secret without a name"),
        }
    }

    /// `- name: DELEGATE_TOKEN` with `value:` (a literal) or `valueFrom:` (a reference).
    fn env_entry(&self, entry: &Node, context: &Context, sites: &mut Vec<Site>) {
        let Some(name) = entry.get("name").and_then(Node::as_scalar) else {
            return;
        };
        if !keys::is_env_name(&name.value) {
            return;
        }
        let reader = context.container.clone().unwrap_or_else(|| {
            Reader::unknown("an env entry outside a container with a Harness delegate image")
        });
        let conflict = keys::current_name(&name.value).is_some_and(|current| {
            context
                .env_names
                .is_some_and(|names| names.contains(current))
        });
        if let Some(value) = entry.get("value") {
            let path = format!("{}[\"value\"]", context.path());
            let found = Found {
                key: name,
                key_span: inner_span(name),
                role: Role::Plain,
                reader,
                conflict,
                path: &path,
            };
            self.push_site(found, value, false, sites);
        } else if let Some(Node::Map { start, .. }) = entry.get("valueFrom") {
            let mut site =
                Site::reference(&name.value, inner_span(name), *start).with_reader(reader);
            site.rename_conflict = conflict;
            sites.push(site);
        }
    }

    /// `secretKeyRef: {name: …, key: ACCOUNT_SECRET}`: a reference whose key must follow
    /// the Secret's own key when that is migrated.
    fn secret_key_ref(&self, reference: &Node, context: &Context, sites: &mut Vec<Site>) {
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
        let elsewhere = Elsewhere {
            store: Store::KubernetesSecret,
            location: format!("Secret {secret}, key {}", key.value),
            how_to_rotate: format!(
                "update Secret {secret} where it is managed (rekey rotates it when that Secret is among the scanned files)"
            ),
        };
        let reader = context
            .container
            .clone()
            .unwrap_or_else(|| Reader::unknown("not in a container's env"));
        sites.push(
            Site::reference(&key.value, span.clone(), span.start)
                .with_role(role)
                .with_reader(reader)
                .with_elsewhere(elsewhere),
        );
    }

    /// An ExternalSecret `spec.data[]` entry `{secretKey: DELEGATE_TOKEN, remoteRef: {key,
    /// property}}`: the token lives in the external store; the operator writes it into the
    /// target Secret under `secretKey`.
    fn external_secret_entry(&self, entry: &Node, sites: &mut Vec<Site>) {
        let (Some(secret_key), Some(remote)) = (
            entry.get("secretKey").and_then(Node::as_scalar),
            entry.get("remoteRef"),
        ) else {
            return;
        };
        if !keys::is_token_key(&secret_key.value) {
            return;
        }
        let spec = self.root.get("spec");
        let store = spec.and_then(|s| s.get("secretStoreRef"));
        let store_name = store.and_then(|s| s.get_str("name")).unwrap_or("?");
        let store_kind = store
            .and_then(|s| s.get_str("kind"))
            .unwrap_or("SecretStore");
        let target = spec
            .and_then(|s| s.get("target"))
            .and_then(|t| t.get_str("name"))
            .map(str::to_owned)
            .or_else(|| self.name.clone());
        let mut location = format!("remote key {}", remote.get_str("key").unwrap_or("?"));
        if let Some(property) = remote.get_str("property") {
            location.push_str(&format!(", property {property}"));
        }
        location.push_str(&format!(", through {store_kind} {store_name}"));
        let how_to_rotate = format!(
            "write the new token at that remote key in the store behind {store_kind} {store_name}; the External Secrets operator syncs it into Secret {} on its next refresh",
            target.as_deref().unwrap_or("?")
        );
        let at = match remote {
            Node::Map { start, .. } => *start,
            _ => inner_span(secret_key).start,
        };
        let reader = match &target {
            Some(name) if self.delegate_secrets.contains(name) => Reader::Delegate,
            Some(name) => Reader::Secret(name.clone()),
            None => Reader::unknown("an ExternalSecret without a target name"),
        };
        let role = Role::SecretEntry {
            secret: target,
            base64_data: false,
        };
        let site = Site::reference(&secret_key.value, inner_span(secret_key), at)
            .with_role(role)
            .with_reader(reader)
            .with_elsewhere(Elsewhere {
                store: Store::ExternalSecret,
                location,
                how_to_rotate,
            });
        sites.push(site);
    }

    /// Vault agent injection: `vault.hashicorp.com/agent-inject-template-<file>` whose
    /// template writes a token key, or `agent-inject-secret-<KEY>` named after one. The
    /// token lives at the Vault path of `agent-inject-secret-<file>`.
    fn vault_annotations(&self, entries: &[(Node, Node)], sites: &mut Vec<Site>) {
        const SECRET: &str = "vault.hashicorp.com/agent-inject-secret-";
        const TEMPLATE: &str = "vault.hashicorp.com/agent-inject-template-";
        let annotation = |name: &str| {
            entries
                .iter()
                .find_map(|(k, v)| (k.as_scalar()?.value == name).then_some(v.as_scalar()?))
        };
        for (key, value) in entries {
            let (Some(key), Some(value)) = (key.as_scalar(), value.as_scalar()) else {
                continue;
            };
            let (file, found) = if let Some(file) = key.value.strip_prefix(TEMPLATE) {
                // The token key as the template writes it, found in the scalar's own bytes.
                let raw = &self.text[value.span.clone()];
                let Some((name, offset)) = keys::ALL
                    .iter()
                    .filter_map(|k| raw.find(k).map(|i| (*k, i)))
                    .min_by_key(|(_, i)| *i)
                else {
                    continue;
                };
                let start = value.span.start + offset;
                (file, (name, start..start + name.len()))
            } else if let Some(file) = key.value.strip_prefix(SECRET) {
                if !keys::is_token_key(file) || annotation(&format!("{TEMPLATE}{file}")).is_some() {
                    continue;
                }
                let end = inner_span(key).end;
                (
                    file,
                    (
                        keys::ALL
                            .iter()
                            .find(|k| **k == file)
                            .copied()
                            .unwrap_or(file),
                        end - file.len()..end,
                    ),
                )
            } else {
                continue;
            };
            let path = annotation(&format!("{SECRET}{file}")).map_or("?", |s| s.value.as_ref());
            let (name, key_span) = found;
            let site = Site::reference(name, key_span.clone(), key_span.start)
                .with_reader(Reader::unknown(
                    "a Vault agent template: rename the key in the template and wherever the rendered file is read",
                ))
                .with_elsewhere(Elsewhere {
                    store: Store::Vault,
                    location: format!("Vault path {path} (rendered to /vault/secrets/{file})"),
                    how_to_rotate: format!(
                        "write the new token at Vault path {path}; the Vault agent renders it on the pod's next start"
                    ),
                });
            sites.push(site);
        }
    }

    /// `DELEGATE_TOKEN=<v>` as a sequence item: kustomize `literals:`, compose `environment:`.
    fn env_literal(
        &self,
        scalar: &Scalar,
        names: &HashSet<String>,
        context: &Context,
        item: &Context,
        sites: &mut Vec<Site>,
    ) {
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
        let (value_span, value) = if verbatim {
            let span = value_start..inner.end;
            super::literal_default(self.text, span.clone())
                .unwrap_or_else(|| (span, classify_scalar_text(rest, scalar.style)))
        } else {
            (inner.clone(), classify_scalar_text(rest, scalar.style))
        };
        let limit = (!verbatim).then(|| Limit::Refused(unverbatim_reason(scalar).into()));
        let reader = context.entries_reader.clone().unwrap_or_else(|| {
            Reader::unknown("not in a container's environment nor a secretGenerator")
        });
        let mut site = Site::new(name, key_start..key_start + name.len(), value_span, value)
            .with_limit(limit)
            .with_reader(reader);
        site.rename_conflict =
            keys::current_name(name).is_some_and(|current| names.contains(current));
        sites.push(sops_located(site, &item.path()));
    }

    /// The scalar's characters are its value: no escapes, folding or block indicators, so
    /// a rewrite can splice them.
    fn is_verbatim(&self, scalar: &Scalar) -> bool {
        self.text[inner_span(scalar)] == scalar.value
            && !matches!(scalar.style, ScalarStyle::Literal | ScalarStyle::Folded)
    }

    fn push_site(&self, found: Found, value: &Node, sealed: bool, sites: &mut Vec<Site>) {
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
        let (value, limit) = if sealed {
            (Value::Encrypted, None)
        } else if is_null {
            let reason =
                "the value is missing (null): write an empty quoted value (\"\") to have it filled";
            (Value::Empty, Some(Limit::Refused(reason.into())))
        } else if let Some((span, value)) = verbatim
            .then(|| super::literal_default(self.text, value_span.clone()))
            .flatten()
        {
            value_span = span;
            (value, None)
        } else {
            let value = classify_scalar_text(&scalar.value, scalar.style);
            let limit = (!verbatim).then(|| Limit::Refused(unverbatim_reason(scalar).into()));
            (value, limit)
        };
        let mut site = Site::new(&key.value, found.key_span, value_span, value)
            .with_limit(limit)
            .with_role(found.role)
            .with_reader(found.reader);
        site.location = location;
        site.rename_conflict = found.conflict;
        if sealed {
            site = self.sealed(site);
        }
        sites.push(sops_located(site, found.path));
    }

    fn sealed(&self, site: Site) -> Site {
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
struct Found<'k> {
    key: &'k Scalar<'k>,
    key_span: Span,
    role: Role,
    reader: Reader,
    conflict: bool,
    path: &'k str,
}

/// A SOPS value names its key path, so the user knows where to put the new token.
fn sops_located(site: Site, path: &str) -> Site {
    if site.value == Value::Encrypted && site.elsewhere.is_none() {
        super::sops_site(site, path)
    } else {
        site
    }
}

static NO_LOADERS: std::sync::LazyLock<HashMap<String, Vec<Workload>>> =
    std::sync::LazyLock::new(HashMap::new);

fn container_reader(image: &str) -> Reader {
    if keys::is_delegate_image(image) {
        Reader::Delegate
    } else {
        Reader::Unknown(
            format!("the container's image {image} is not a Harness delegate image").into(),
        )
    }
}

/// Secrets that a delegate container of these documents loads whole (`envFrom:
/// - secretRef: {name: …}`): their entries are read by the delegate.
fn delegate_env_from_secrets(roots: &[Node]) -> HashSet<String> {
    fn visit(node: &Node, found: &mut HashSet<String>) {
        match node {
            Node::Map { entries, .. } => {
                let delegate = node.get_str("image").is_some_and(keys::is_delegate_image);
                if let (true, Some(Node::Seq { items })) = (delegate, node.get("envFrom")) {
                    found.extend(items.iter().filter_map(|item| {
                        item.get("secretRef")?.get_str("name").map(str::to_owned)
                    }));
                }
                for (_, value) in entries {
                    visit(value, found);
                }
            }
            Node::Seq { items } => items.iter().for_each(|item| visit(item, found)),
            Node::Scalar(_) | Node::Alias { .. } => {}
        }
    }
    let mut found = HashSet::new();
    roots.iter().for_each(|root| visit(root, &mut found));
    found
}

/// The env names declared by the items of a sequence (env lists and `KEY=value` lists), so a
/// legacy entry is not renamed onto a current one that already sits beside it.
fn env_names_in(items: &[Node]) -> HashSet<String> {
    items
        .iter()
        .filter_map(|item| match item {
            Node::Map { .. } => item.get_str("name"),
            Node::Scalar(s) => s.value.split_once('=').map(|(k, _)| k),
            _ => None,
        })
        .filter(|name| keys::is_env_name(name))
        .map(str::to_owned)
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
/// The literal value of a `key: value` line in a template that does not parse as YAML:
/// plain or quoted on the line, a trailing comment left out. Values that a splice could
/// break (escapes, doubled quotes) are reported and refused.
fn template_literal(text: &str, key: &str, key_span: Span, value_start: usize) -> Option<Site> {
    let line_end = text[value_start..]
        .find('\n')
        .map_or(text.len(), |i| value_start + i);
    let rest = &text[value_start..line_end];
    let lead = rest.len() - rest.trim_start().len();
    let start = value_start + lead;
    let raw = text[start..line_end].trim_end_matches(['\r', ' ', '\t']);
    let (span, verbatim) = match raw.as_bytes().first() {
        Some(&quote @ (b'"' | b'\'')) => {
            let close = raw[1..].find(quote as char)? + 1;
            let inner = &raw[1..close];
            let verbatim = !inner.contains('\\') && !raw[close + 1..].starts_with(quote as char);
            (start + 1..start + close, verbatim)
        }
        Some(_) => {
            let value = raw.find(" #").map_or(raw, |i| &raw[..i]).trim_end();
            (start..start + value.len(), true)
        }
        None => return None,
    };
    let value = token::classify(&text[span.clone()]);
    value.fingerprint()?;
    Some(
        Site::new(key, key_span, span, value).with_limit(Limit::refused_unless(
            verbatim,
            "a quoted value with escapes in a template: write it plainly",
        )),
    )
}

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
            let offset = key_start + key.find(key_text).unwrap_or(0);
            let key_span = offset..offset + key_text.len();
            if keys::is_token_key(key_text) && rest.contains("{{") {
                let value_at = line_start + line.find("{{").unwrap_or(0);
                sites.push(
                    Site::reference(key_text, key_span, value_at)
                        .with_reader(Reader::unknown(TEMPLATE_READER)),
                );
            } else if keys::is_token_key(key_text) {
                // A literal written into a template is still a token: a template must
                // never hide one from `check` or `rotate`.
                let value_start = line_start + line.len() - rest.len();
                if let Some(site) = template_literal(text, key_text, key_span, value_start) {
                    sites.push(site.with_reader(Reader::unknown(TEMPLATE_READER)));
                }
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
            .map(|s| {
                (
                    s.key.into_owned(),
                    text[s.value_span].to_owned(),
                    s.value.kind(),
                )
            })
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
            .map(|s| (&*s.key, s.value.kind(), &text[s.key_span.clone()]))
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
            .map(|s| &*s.key)
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

    #[test]
    fn list_items_are_objects_and_secrets_know_who_loads_them() {
        let text = "kind: List\nitems:\n- kind: Deployment\n  metadata: {name: d, namespace: n}\n  spec:\n    template:\n      spec:\n        containers:\n        - name: delegate\n          image: harness/delegate:1\n          envFrom:\n          - secretRef: {name: t}\n          env:\n          - {name: UPGRADER_TOKEN, value: x}\n- kind: Secret\n  metadata: {name: t, namespace: n}\n  stringData:\n    DELEGATE_TOKEN: y\n";
        let sites = scan(text).unwrap();
        let workload = Workload {
            kind: "Deployment".to_owned(),
            namespace: Some("n".to_owned()),
            name: "d".to_owned(),
            container: Some("delegate".to_owned()),
        };
        assert_eq!(
            sites[0].owner.as_deref().cloned(),
            Some(Owner::Kubernetes {
                kind: "Deployment".to_owned(),
                namespace: Some("n".to_owned()),
                name: "d".to_owned(),
                container: Some("delegate".to_owned()),
                loaded_by: Vec::new(),
            })
        );
        assert_eq!(sites[0].reader, Reader::Delegate);
        assert_eq!(
            sites[1].owner.as_deref().cloned(),
            Some(Owner::Kubernetes {
                kind: "Secret".to_owned(),
                namespace: Some("n".to_owned()),
                name: "t".to_owned(),
                container: None,
                loaded_by: vec![workload],
            })
        );
    }

    #[test]
    fn sops_values_name_their_key_path_through_maps_and_lists() {
        let enc = "ENC[AES256_GCM,data:cXVpdGVhbG9uZ3Rva2VuMTIz,iv:aXY=,tag:dGFn,type:str]";
        let text = format!(
            "kind: Deployment\nspec:\n  containers:\n    - name: delegate\n      env:\n        - name: DELEGATE_TOKEN\n          value: {enc}\nsecretGenerator:\n  - literals:\n      - DELEGATE_TOKEN={enc}\nsops:\n  version: 3.9.4\n"
        );
        let locations: Vec<String> = scan(&text)
            .unwrap()
            .iter()
            .filter_map(|site| site.elsewhere.as_ref().map(|e| e.location.clone()))
            .collect();
        assert_eq!(
            locations,
            [
                "SOPS-encrypted in this file at [\"spec\"][\"containers\"][0][\"env\"][0][\"value\"]",
                "SOPS-encrypted in this file at [\"secretGenerator\"][0][\"literals\"][0]",
            ]
        );
    }

    #[test]
    fn compose_services_and_umbrella_sub_charts_name_their_owner() {
        let compose = "services:\n  edge:\n    image: harness/delegate:1\n    environment:\n      DELEGATE_TOKEN: x\n";
        assert_eq!(
            scan(compose).unwrap()[0].owner.as_deref().cloned(),
            Some(Owner::ComposeService("edge".to_owned()))
        );
        let umbrella = "harness-delegate-ng:\n  delegateName: eu\n  delegateToken: x\n";
        assert_eq!(
            scan(umbrella).unwrap()[0].owner.as_deref().cloned(),
            Some(Owner::Values {
                subchart: Some("harness-delegate-ng".to_owned()),
                delegate_name: Some("eu".to_owned())
            })
        );
    }
}
