//! The walk through one YAML object: every mapping and sequence visited with the context
//! its place gives (a Secret's `data:`, a container's `env`, a delegate chart's values),
//! token keys turned into sites, and each site given the owner its innermost context names.

use super::tree::{inner_span, Node};
use super::walker::{container_reader, Beside, Context, Found, Place, Step, Walker};
use crate::model::keys;
use crate::model::site::{Owner, Reader, Role, Site};
use std::collections::HashSet;
use std::sync::Arc;

impl Walker<'_> {
    pub(super) fn walk(&self, root: &Node, sites: &mut Vec<Site>) {
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
            env_entry: None,
        };
        self.visit(root, &context, sites);
    }

    pub(super) fn visit(&self, node: &Node, context: &Context, sites: &mut Vec<Site>) {
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
    pub(super) fn owner(&self, context: &Context, delegate_name: Option<&str>) -> Owner {
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

    pub(super) fn visit_node(&self, node: &Node, context: &Context, sites: &mut Vec<Site>) {
        match node {
            Node::Map { entries, .. } => {
                self.env_entry(node, context, sites);
                if self.kind == Some("ExternalSecret") {
                    self.external_secret_entry(node, sites);
                }
                let names = || entries.iter().filter_map(|(k, _)| k.as_scalar());
                let has_key = |name: &str| names().any(|k| k.value == name);
                let container = node.get_str("image").map(container_reader);
                let beside = if names().any(|k| keys::is_delegate_sibling(&k.value)) {
                    Beside::DelegateKeys
                } else if names().any(|k| keys::is_account_id(&k.value)) {
                    Beside::AccountId
                } else {
                    Beside::Nothing
                };
                if context.place == Place::Annotations {
                    self.vault_annotations(entries, sites);
                }
                for (key, value) in entries {
                    let Some(key) = key.as_scalar() else { continue };
                    if keys::is_token_key(&key.value) {
                        let path = format!("{}[\"{}\"]", context.path(), key.value);
                        let reader = self.map_key_reader(context, beside);
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
    pub(super) fn child_context<'c>(
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
            env_entry: match key {
                "valueFrom" => map
                    .get("name")
                    .and_then(Node::as_scalar)
                    .filter(|name| keys::is_env_name(&name.value))
                    .map(inner_span),
                _ => None,
            },
        }
    }
}

/// The env names declared by the items of a sequence (env lists and `KEY=value` lists), so a
/// legacy entry is not renamed onto a current one that already sits beside it.
pub(super) fn env_names_in(items: &[Node]) -> HashSet<String> {
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
