//! What a stream of live objects (`kubectl get … -o yaml|json`, `docker inspect`, `aws ecs
//! describe-task-definition`) says about where its delegates' tokens can be, beyond the
//! sites the scanner reads: the objects and where each starts (so a token found anywhere
//! in the stream is named by the object it sits in), how many delegate containers it holds
//! (readiness needs evidence), which Secrets and ConfigMaps its containers read that the
//! stream does not hold (a token may be there), and which stores outside it they read.
//!
//! Objects are found at any depth of lists: a map with an `items` sequence is a list when
//! its kind ends in `List` (`kind: List`, `DeploymentList` as `kubectl get --raw` prints
//! it) or it has no `metadata.name`; a sequence (a top-level YAML sequence, a JSON array
//! from `jq`) holds objects; any other map is an object.
//!
//! A container (`initContainers`, `containers`, `ephemeralContainers`) reads a Secret or
//! ConfigMap through `envFrom` (all of it, under any prefix: counted for every container,
//! since a delegate's image may be a private mirror), through `secretKeyRef` /
//! `configMapKeyRef` under an env name that names a token (any case, separator or
//! prefix), and, in a pod with a delegate container, through every reference and every
//! `secret` / `configMap` volume, plain or projected. A CSI volume of a delegate pod
//! (a secrets-store driver) and, in any map with a delegate `image` (an ECS container
//! definition), every `secrets[].valueFrom` and `environmentFiles[].value` are stores
//! rekey cannot read: the token may be there, whatever the entry's name.
//!
//! A read is held only by an object of the same kind, name and namespace: `kubectl`
//! always prints an object's namespace, so in a live stream a reader and a Secret are in
//! the same namespace only when both name the same one, or both name none.

use super::tree::{parse, Node};
use crate::model::keys;
use std::collections::HashSet;

/// The live objects of a stream.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Live {
    /// Each Kubernetes object, in the order of the stream.
    pub objects: Vec<LiveObject>,
    /// Containers running a delegate image (any object that names an `image`).
    pub delegates: usize,
    /// Secrets and ConfigMaps read by a container but not in the stream.
    pub missing: Vec<Missing>,
    /// Stores outside the stream a delegate reads (an ARN, a CSI volume), each once.
    pub external: Vec<External>,
    /// Containers running a delegate image that show no source of a token at all (no env
    /// named for it, no `envFrom`, secrets, env files, mounts, or a token on the command
    /// line): their token comes from somewhere the stream does not show.
    pub blind: Vec<String>,
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

/// A store outside the stream a delegate reads, which rekey cannot read.
#[derive(Debug, PartialEq, Eq)]
pub struct External {
    /// `ECS task harness-delegate (container delegate)`.
    pub reader: String,
    /// The ARN, or `CSI volume cfg (driver …, secretProviderClass …)`.
    pub place: String,
}

impl Live {
    /// The object the byte at `offset` belongs to.
    pub fn object_at(&self, offset: usize) -> Option<&str> {
        let after = self.objects.partition_point(|o| o.start <= offset);
        after.checked_sub(1).map(|i| self.objects[i].name.as_str())
    }
}

/// A Secret or ConfigMap an object of the stream holds: kind, namespace, name.
type Held<'n> = (&'static str, Option<&'n str>, &'n str);

/// Reads a stream; one that is not YAML (or JSON) has no live objects.
pub fn read(text: &str) -> Live {
    let Ok(documents) = parse(text) else {
        return Live::default();
    };
    let mut objects: Vec<&Node> = Vec::new();
    documents
        .roots
        .iter()
        .for_each(|root| collect_objects(root, &mut objects));
    let mut live = Live::default();
    let mut held: HashSet<Held> = HashSet::new();
    let mut reads = Reads::default();
    for object in &objects {
        let named = identity(object);
        if let (Node::Map { start, .. }, Some((kind, namespace, name))) = (object, named) {
            live.objects.push(LiveObject {
                start: *start,
                name: format!("{kind} {}", qualified(namespace, name)),
            });
            match kind {
                "Secret" => held.insert(("Secret", namespace, name)),
                "ConfigMap" => held.insert(("ConfigMap", namespace, name)),
                _ => false,
            };
        }
        let owner =
            named.map(|(kind, namespace, name)| format!("{kind} {}", qualified(namespace, name)));
        live.delegates += count_delegates(object, owner.as_deref(), &mut live.blind);
        stores(object, owner.as_deref(), &mut reads.external);
        if let Some((kind, namespace, name)) = named {
            visit_pods(object, &mut |pod| {
                pod_reads(kind, namespace, name, pod, &mut reads)
            });
        }
    }
    live.missing = unheld(&reads.secrets, &held);
    let mut places = HashSet::new();
    live.external = reads
        .external
        .into_iter()
        .filter(|external| places.insert(external.place.clone()))
        .collect();
    live
}

/// Puts every object under `node` in `objects`, in the order of the stream: the items of
/// lists and sequences at any depth (see the module header).
fn collect_objects<'n, 'a>(node: &'n Node<'a>, objects: &mut Vec<&'n Node<'a>>) {
    match node {
        Node::Map { .. } => match node.get("items") {
            Some(items @ Node::Seq { .. }) if is_list(node) => collect_objects(items, objects),
            _ => objects.push(node),
        },
        Node::Seq { items } => items.iter().for_each(|item| collect_objects(item, objects)),
        Node::Scalar(_) | Node::Alias { .. } => {}
    }
}

/// A map with `items` is a list when its kind says so or it names no object.
fn is_list(node: &Node) -> bool {
    node.get_str("kind")
        .is_some_and(|kind| kind.ends_with("List"))
        || node
            .get("metadata")
            .and_then(|m| m.get_str("name"))
            .is_none()
}

/// The reads that no object of the stream holds, each (reader and what it reads) once.
/// Hash sets keep it linear: a stream may hold hundreds of thousands of references.
fn unheld(reads: &[Read], held: &HashSet<Held>) -> Vec<Missing> {
    let mut seen: HashSet<(&str, &str, Option<&str>, &str)> = HashSet::new();
    reads
        .iter()
        .filter(|read| !held.contains(&(read.kind, read.namespace, read.name)))
        .filter(|read| seen.insert((&read.reader, read.kind, read.namespace, read.name)))
        .map(|read| Missing {
            reader: read.reader.clone(),
            kind: read.kind,
            name: qualified(read.namespace, read.name),
        })
        .collect()
}

/// What the pods and containers of a stream read.
#[derive(Default)]
struct Reads<'n> {
    secrets: Vec<Read<'n>>,
    external: Vec<External>,
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
/// inspect writes it); those that show no token source go to `blind`, named under `owner`.
fn count_delegates(node: &Node, owner: Option<&str>, blind: &mut Vec<String>) -> usize {
    match node {
        Node::Map { entries, .. } => {
            let here = ["image", "Image"]
                .iter()
                .any(|key| node.get_str(key).is_some_and(keys::is_delegate_image));
            if here && !shows_token_source(node) {
                let container = node.get_str("name").or_else(|| node.get_str("Name"));
                blind.push(match (owner, container) {
                    (Some(owner), Some(c)) => format!("{owner} (container {c})"),
                    (Some(owner), None) => owner.to_owned(),
                    (None, Some(c)) => format!("container {c}"),
                    (None, None) => "a delegate container".to_owned(),
                });
            }
            usize::from(here)
                + entries
                    .iter()
                    .map(|(_, v)| count_delegates(v, owner, blind))
                    .sum::<usize>()
        }
        Node::Seq { items } => items.iter().map(|i| count_delegates(i, owner, blind)).sum(),
        Node::Scalar(_) | Node::Alias { .. } => 0,
    }
}

/// Whether a delegate container shows where its token comes from: an env entry named for
/// it (Kubernetes `env`, ECS `environment`, docker `Env` strings), anything it loads whole
/// or mounts (whose sources the stream accounts for), or a command line that names one.
fn shows_token_source(container: &Node) -> bool {
    let named = |item: &Node| {
        item.get_str("name")
            .or_else(|| item.as_scalar().and_then(|s| s.value.split('=').next()))
            .is_some_and(keys::is_token_key)
    };
    let any = |key: &str, test: &dyn Fn(&Node) -> bool| seq(container.get(key)).any(test);
    let mentions = |item: &Node| {
        item.as_scalar()
            .is_some_and(|s| s.value.to_ascii_lowercase().contains("token"))
    };
    ["env", "environment", "Env"]
        .iter()
        .any(|key| any(key, &named))
        || [
            "envFrom",
            "secrets",
            "environmentFiles",
            "volumeMounts",
            "Mounts",
        ]
        .iter()
        .any(|key| any(key, &|_| true))
        || ["args", "command", "Cmd", "Entrypoint"]
            .iter()
            .any(|key| any(key, &mentions))
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
    reads: &mut Reads<'n>,
) {
    let containers = ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|key| seq(pod.get(key)));
    let workload = format!("{kind} {}", qualified(namespace, name));
    let mut delegate_pod = false;
    for container in containers {
        let reader = match container.get_str("name") {
            Some(c) => format!("{workload} (container {c})"),
            None => workload.clone(),
        };
        let delegate = container
            .get_str("image")
            .is_some_and(keys::is_delegate_image)
            || env_entries(container).any(|(env, _)| keys::is_token_key(env));
        delegate_pod |= delegate;
        let read = |(kind, name)| Read {
            reader: reader.clone(),
            kind,
            namespace,
            name,
        };
        reads.secrets.extend(env_from(container).map(read));
        for (env, value_from) in env_entries(container) {
            if delegate || keys::is_token_key(env) {
                reads.secrets.extend(key_refs(value_from).map(read));
            }
        }
    }
    if delegate_pod {
        reads
            .secrets
            .extend(volumes(pod).into_iter().map(|(kind, name)| Read {
                reader: workload.clone(),
                kind,
                namespace,
                name,
            }));
        reads
            .external
            .extend(csi_volumes(pod).map(|place| External {
                reader: workload.clone(),
                place,
            }));
    }
}

/// Calls itself on every map under `node`, and for each one naming a delegate `image` (an
/// ECS container definition) puts in `external` every ARN its `secrets` and
/// `environmentFiles` read: the token may be there under any name. `owner` names the
/// object; a map with a `family` (an ECS task definition) names the containers under it.
fn stores(node: &Node, owner: Option<&str>, external: &mut Vec<External>) {
    match node {
        Node::Map { entries, .. } => {
            let family = node.get_str("family").map(|f| format!("ECS task {f}"));
            let owner = family.as_deref().or(owner);
            if ["image", "Image"]
                .iter()
                .any(|key| node.get_str(key).is_some_and(keys::is_delegate_image))
            {
                let reader = match (owner, node.get_str("name")) {
                    (Some(owner), Some(c)) => format!("{owner} (container {c})"),
                    (None, Some(c)) => format!("container {c}"),
                    (Some(owner), None) => owner.to_owned(),
                    (None, None) => "a delegate container".to_owned(),
                };
                external.extend(arns(node).map(|place| External {
                    reader: reader.clone(),
                    place: place.to_owned(),
                }));
            }
            entries
                .iter()
                .for_each(|(_, value)| stores(value, owner, external));
        }
        Node::Seq { items } => items.iter().for_each(|item| stores(item, owner, external)),
        Node::Scalar(_) | Node::Alias { .. } => {}
    }
}

/// A container definition's `secrets[].valueFrom` and `environmentFiles[].value` (as the
/// ECS API and CloudFormation spell them).
fn arns<'n>(container: &'n Node<'n>) -> impl Iterator<Item = &'n str> {
    let secrets = ["secrets", "Secrets"]
        .into_iter()
        .flat_map(|key| seq(container.get(key)))
        .filter_map(|secret| secret.get_str("valueFrom").or(secret.get_str("ValueFrom")));
    let files = ["environmentFiles", "EnvironmentFiles"]
        .into_iter()
        .flat_map(|key| seq(container.get(key)))
        .filter_map(|file| file.get_str("value").or(file.get_str("Value")));
    secrets.chain(files)
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

/// A pod's `secret` and `configMap` volumes, and those its projected volumes hold.
fn volumes<'n>(pod: &'n Node<'n>) -> Vec<(&'static str, &'n str)> {
    // (`Secret` or `ConfigMap`, the name under `node.key.name_key`).
    let named =
        |node: &'n Node<'n>, kind, key, name_key| Some((kind, node.get(key)?.get_str(name_key)?));
    let mut found = Vec::new();
    for volume in seq(pod.get("volumes")) {
        found.extend(named(volume, "Secret", "secret", "secretName"));
        found.extend(named(volume, "ConfigMap", "configMap", "name"));
        for source in seq(volume.get("projected").and_then(|p| p.get("sources"))) {
            found.extend(named(source, "Secret", "secret", "name"));
            found.extend(named(source, "ConfigMap", "configMap", "name"));
        }
    }
    found
}

/// A pod's CSI volumes (`secrets-store.csi.k8s.io` and the like), by name, driver and
/// class: a store outside the stream.
fn csi_volumes<'n>(pod: &'n Node<'n>) -> impl Iterator<Item = String> + 'n {
    seq(pod.get("volumes")).filter_map(|volume| {
        let csi = volume.get("csi")?;
        let mut place = format!(
            "CSI volume {}",
            volume.get_str("name").unwrap_or("(unnamed)")
        );
        let driver = csi.get_str("driver").map(|d| format!("driver {d}"));
        let class = csi
            .get("volumeAttributes")
            .and_then(|a| a.get_str("secretProviderClass"))
            .map(|c| format!("secretProviderClass {c}"));
        let details: Vec<String> = driver.into_iter().chain(class).collect();
        if !details.is_empty() {
            place.push_str(&format!(" ({})", details.join(", ")));
        }
        Some(place)
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
