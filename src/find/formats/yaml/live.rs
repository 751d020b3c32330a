//! What a stream of live objects (`kubectl get … -o yaml|json`, `docker inspect`, `aws ecs
//! describe-task-definition`) says about where its delegates' tokens can be, beyond the
//! sites the scanner reads: the objects and where each starts (so a token found anywhere
//! in the stream is named by the object it sits in), how many delegate containers it holds
//! (readiness needs evidence), and which Secrets and ConfigMaps its containers read that
//! the stream does not hold (a token may be there).
//!
//! A container reads a Secret or ConfigMap through `envFrom` (all of it, under any prefix:
//! counted for every container, since a delegate's image may be a private mirror), through
//! `secretKeyRef` / `configMapKeyRef` under an env name that names a token (any case,
//! separator or prefix), and, in a pod with a delegate container, through every reference
//! and every `secret` / `configMap` volume.

use super::tree::{parse, Node};
use crate::model::keys;

/// The live objects of a stream.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Live {
    /// Each Kubernetes object, in the order of the stream.
    pub objects: Vec<LiveObject>,
    /// Containers running a delegate image (any object that names an `image`).
    pub delegates: usize,
    /// Secrets and ConfigMaps read by a container but not in the stream.
    pub missing: Vec<Missing>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct LiveObject {
    /// Where the object starts in the stream.
    pub start: usize,
    /// `Deployment harness/delegate`.
    pub name: String,
}

/// A Secret or ConfigMap a container reads that the stream does not hold.
#[derive(Debug, PartialEq, Eq)]
pub struct Missing {
    /// `Deployment harness/delegate (container delegate)`.
    pub reader: String,
    /// `Secret` or `ConfigMap`.
    pub kind: &'static str,
    /// `harness/delegate-token`.
    pub name: String,
}

impl Live {
    /// The object the byte at `offset` belongs to.
    pub fn object_at(&self, offset: usize) -> Option<&str> {
        let after = self.objects.partition_point(|o| o.start <= offset);
        after.checked_sub(1).map(|i| self.objects[i].name.as_str())
    }
}

/// Reads a stream; one that is not YAML (or JSON) has no live objects.
pub fn read(text: &str) -> Live {
    let Ok(documents) = parse(text) else {
        return Live::default();
    };
    let objects: Vec<&Node> = documents.roots.iter().flat_map(super::list_items).collect();
    let mut live = Live::default();
    let mut held: Vec<(&'static str, Option<&str>, &str)> = Vec::new();
    let mut reads: Vec<Read> = Vec::new();
    for object in &objects {
        let named = identity(object);
        if let (Node::Map { start, .. }, Some((kind, namespace, name))) = (object, named) {
            live.objects.push(LiveObject {
                start: *start,
                name: format!("{kind} {}", qualified(namespace, name)),
            });
            match kind {
                "Secret" => held.push(("Secret", namespace, name)),
                "ConfigMap" => held.push(("ConfigMap", namespace, name)),
                _ => {}
            }
        }
        live.delegates += count_delegates(object);
        if let Some((kind, namespace, name)) = named {
            visit_pods(object, &mut |pod| {
                reads.extend(pod_reads(kind, namespace, name, pod))
            });
        }
    }
    let holds = |read: &Read| {
        held.iter().any(|(kind, namespace, name)| {
            *kind == read.kind
                && *name == read.name
                && (namespace.is_none() || read.namespace.is_none() || *namespace == read.namespace)
        })
    };
    for read in reads.iter().filter(|read| !holds(read)) {
        let missing = Missing {
            reader: read.reader.clone(),
            kind: read.kind,
            name: qualified(read.namespace, read.name),
        };
        if !live.missing.contains(&missing) {
            live.missing.push(missing);
        }
    }
    live
}

/// A Secret or ConfigMap a container reads.
struct Read<'n> {
    reader: String,
    kind: &'static str,
    namespace: Option<&'n str>,
    name: &'n str,
}

/// Kind, namespace and name of a Kubernetes object.
fn identity<'n>(object: &'n Node) -> Option<(&'n str, Option<&'n str>, &'n str)> {
    let metadata = object.get("metadata")?;
    Some((
        object.get_str("kind")?,
        metadata.get_str("namespace"),
        metadata.get_str("name")?,
    ))
}

fn qualified(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(namespace) => format!("{namespace}/{name}"),
        None => name.to_owned(),
    }
}

/// Maps anywhere under `node` that name a delegate image (`image`, or `Image` as docker
/// inspect writes it).
fn count_delegates(node: &Node) -> usize {
    match node {
        Node::Map { entries, .. } => {
            let here = ["image", "Image"]
                .iter()
                .any(|key| node.get_str(key).is_some_and(keys::is_delegate_image));
            usize::from(here)
                + entries
                    .iter()
                    .map(|(_, v)| count_delegates(v))
                    .sum::<usize>()
        }
        Node::Seq { items } => items.iter().map(count_delegates).sum(),
        Node::Scalar(_) | Node::Alias { .. } => 0,
    }
}

/// Calls `found` with every pod spec (a map with a `containers` list) under `node`.
fn visit_pods<'n>(node: &'n Node, found: &mut dyn FnMut(&'n Node)) {
    match node {
        Node::Map { entries, .. } => {
            if matches!(node.get("containers"), Some(Node::Seq { .. })) {
                found(node);
            }
            entries
                .iter()
                .for_each(|(_, value)| visit_pods(value, found));
        }
        Node::Seq { items } => items.iter().for_each(|item| visit_pods(item, found)),
        Node::Scalar(_) | Node::Alias { .. } => {}
    }
}

/// What the containers of one pod spec read (see the module header for which count).
fn pod_reads<'n>(
    kind: &str,
    namespace: Option<&'n str>,
    name: &str,
    pod: &'n Node,
) -> Vec<Read<'n>> {
    let containers = ["initContainers", "containers"]
        .iter()
        .filter_map(|key| match pod.get(key) {
            Some(Node::Seq { items }) => Some(items.iter()),
            _ => None,
        })
        .flatten();
    let workload = format!("{kind} {}", qualified(namespace, name));
    let mut reads = Vec::new();
    let mut delegate_pod = false;
    for container in containers {
        let reader = match container.get_str("name") {
            Some(c) => format!("{workload} (container {c})"),
            None => workload.clone(),
        };
        let delegate = container
            .get_str("image")
            .is_some_and(keys::is_delegate_image)
            || env_entries(container).any(|(env, _)| keys::names_a_token(env));
        delegate_pod |= delegate;
        let read = |kind, name| Read {
            reader: reader.clone(),
            kind,
            namespace,
            name,
        };
        for source in env_from(container) {
            reads.push(read(source.0, source.1));
        }
        for (env, value_from) in env_entries(container) {
            if delegate || keys::names_a_token(env) {
                reads.extend(key_refs(value_from).map(|(kind, name)| read(kind, name)));
            }
        }
    }
    if delegate_pod {
        reads.extend(volumes(pod).map(|(kind, name)| Read {
            reader: workload.clone(),
            kind,
            namespace,
            name,
        }));
    }
    reads
}

fn seq<'n>(node: Option<&'n Node<'n>>) -> impl Iterator<Item = &'n Node<'n>> {
    let items: &[Node] = match node {
        Some(Node::Seq { items }) => items,
        _ => &[],
    };
    items.iter()
}

/// `envFrom` sources: (`Secret` or `ConfigMap`, name).
fn env_from<'n>(container: &'n Node<'n>) -> impl Iterator<Item = (&'static str, &'n str)> {
    seq(container.get("envFrom")).filter_map(|source| {
        source
            .get("secretRef")
            .and_then(|r| r.get_str("name"))
            .map(|name| ("Secret", name))
            .or_else(|| {
                let name = source.get("configMapRef")?.get_str("name")?;
                Some(("ConfigMap", name))
            })
    })
}

/// `env` entries with a `valueFrom`: (env name, the `valueFrom` node).
fn env_entries<'n>(
    container: &'n Node<'n>,
) -> impl Iterator<Item = (&'n str, Option<&'n Node<'n>>)> {
    seq(container.get("env"))
        .filter_map(|entry| Some((entry.get_str("name")?, entry.get("valueFrom"))))
}

fn key_refs<'n>(value_from: Option<&'n Node<'n>>) -> impl Iterator<Item = (&'static str, &'n str)> {
    let secret = value_from
        .and_then(|v| v.get("secretKeyRef")?.get_str("name"))
        .map(|name| ("Secret", name));
    let config_map = value_from
        .and_then(|v| v.get("configMapKeyRef")?.get_str("name"))
        .map(|name| ("ConfigMap", name));
    secret.into_iter().chain(config_map)
}

/// A pod's `secret` and `configMap` volumes.
fn volumes<'n>(pod: &'n Node<'n>) -> impl Iterator<Item = (&'static str, &'n str)> {
    seq(pod.get("volumes")).filter_map(|volume| {
        volume
            .get("secret")
            .and_then(|s| s.get_str("secretName"))
            .map(|name| ("Secret", name))
            .or_else(|| Some(("ConfigMap", volume.get("configMap")?.get_str("name")?)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = "apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: delegate, namespace: harness}
  spec:
    template:
      spec:
        containers:
        - name: delegate
          image: harness/delegate:25.10.87100
          envFrom:
          - secretRef: {name: held}
          - configMapRef: {name: gone}
          env:
          - name: DB_PASSWORD
            valueFrom: {secretKeyRef: {name: db, key: password}}
        - name: sidecar
          image: busybox
          env:
          - name: DB_PASSWORD
            valueFrom: {secretKeyRef: {name: db, key: password}}
        volumes:
        - name: config
          secret: {secretName: delegate-config}
- apiVersion: v1
  kind: Secret
  metadata: {name: held, namespace: harness}
";

    #[test]
    fn objects_delegates_and_what_is_read_but_not_held() {
        let live = read(STREAM);
        let names: Vec<&str> = live.objects.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            names,
            ["Deployment harness/delegate", "Secret harness/held"]
        );
        assert_eq!(live.delegates, 1);
        let missing: Vec<String> = live
            .missing
            .iter()
            .map(|m| format!("{}: {} {}", m.reader, m.kind, m.name))
            .collect();
        assert_eq!(
            missing,
            [
                "Deployment harness/delegate (container delegate): ConfigMap harness/gone",
                "Deployment harness/delegate (container delegate): Secret harness/db",
                "Deployment harness/delegate: Secret harness/delegate-config",
            ]
        );
        let secret_at = STREAM.find("kind: Secret").unwrap();
        assert_eq!(live.object_at(secret_at), Some("Secret harness/held"));
        assert_eq!(live.object_at(10), None);
    }

    #[test]
    fn text_that_is_not_yaml_has_no_objects() {
        assert_eq!(
            read("Error from server (Forbidden): x: y\n"),
            Live::default()
        );
        assert_eq!(
            read("No resources found in harness namespace.\n"),
            Live::default()
        );
    }
}
