//! What the Kubernetes kinds say about a token: `env` entries (`value` a literal,
//! `valueFrom` a reference), `secretKeyRef`, ExternalSecret entries whose token lives in an
//! external store, Vault agent annotations, `KEY=value` list items (kustomize `literals:`,
//! compose `environment:`), and which workloads load a Secret whole (`envFrom`).

use super::super::common;
use super::tree::{inner_span, Node, Scalar};
use super::walker::{sops_located, unverbatim_reason, Context, Found, Walker};
use crate::model::keys;
use crate::model::site::{Elsewhere, Limit, Reader, Role, SecretLoad, Site, Store, Workload};
use crate::model::token;
use std::collections::{HashMap, HashSet};

impl Walker<'_> {
    /// `- name: DELEGATE_TOKEN` with `value:` (a literal) or `valueFrom:` (a reference).
    pub(super) fn env_entry(&self, entry: &Node, context: &Context, sites: &mut Vec<Site>) {
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
    pub(super) fn secret_key_ref(
        &self,
        reference: &Node,
        context: &Context,
        sites: &mut Vec<Site>,
    ) {
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
            env_entry: context.env_entry.clone(),
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
    pub(super) fn external_secret_entry(&self, entry: &Node, sites: &mut Vec<Site>) {
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
    pub(super) fn vault_annotations(&self, entries: &[(Node, Node)], sites: &mut Vec<Site>) {
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
    pub(super) fn env_literal(
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
            // `NAME=value` is one string whatever the characters after `=`: no number there.
            common::literal_default(self.text, span.clone())
                .unwrap_or_else(|| (span, token::classify(rest)))
        } else {
            (inner.clone(), token::classify(rest))
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
}

/// The workload containers of these objects that load a Secret whole (`envFrom:
/// - secretRef: {name: …}`): the delegates its entries configure, in this file or another.
pub(super) fn secret_loads(objects: &[&Node]) -> Vec<SecretLoad> {
    fn visit(node: &Node, object: &Node, found: &mut Vec<SecretLoad>) {
        match node {
            Node::Map { entries, .. } => {
                if let (Some(image), Some(Node::Seq { items })) =
                    (node.get_str("image"), node.get("envFrom"))
                {
                    for secret in items
                        .iter()
                        .filter_map(|item| item.get("secretRef")?.get_str("name"))
                    {
                        if let Some(workload) = workload(object, node.get_str("name")) {
                            found.push(SecretLoad {
                                workload,
                                secret: secret.to_owned(),
                                delegate: keys::is_delegate_image(image),
                            });
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
    let mut found = Vec::new();
    for object in objects {
        visit(object, object, &mut found);
    }
    found
}

/// For each Secret name, the workload containers of this file that load it whole.
pub(super) fn secret_loaders(loads: &[SecretLoad]) -> HashMap<String, Vec<Workload>> {
    let mut found: HashMap<String, Vec<Workload>> = HashMap::new();
    for load in loads {
        found
            .entry(load.secret.clone())
            .or_default()
            .push(load.workload.clone());
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

/// Secrets that a delegate container of these documents loads whole (`envFrom:
/// - secretRef: {name: …}`): their entries are read by the delegate.
pub(super) fn delegate_env_from_secrets(roots: &[Node]) -> HashSet<String> {
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
