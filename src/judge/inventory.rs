//! The inventory: which delegates hold which tokens. Sites are attributed to the delegate
//! configuration they sit in, as the scanners name it ([`Owner`]): a Kubernetes workload and
//! container, a compose service, an ECS task family and container, a `docker run` container
//! or a running one, a Terraform resource or module address, a Helm values file (and
//! sub-chart key), the shell delegate of a directory. A Secret's entries belong to the
//! workloads of the same input (repository, working tree or stream), in any of its files,
//! that load it (`envFrom`) or point at it (`secretKeyRef`) from the Secret's namespace (a
//! manifest without one matches any); a Secret nobody references is a row of its
//! own, so a token kept only there is not missed. What the file does not say falls back to
//! the file itself. Each token is judged against the policy of its input: current, stale,
//! revoked, or unknown when the policy lists no tokens.
//!
//! This is the model; `report::inventory` renders it and `cli::inventory` runs it.

use crate::find::formats::Format;
use crate::find::scan::{FileError, Scan, ScannedFile};
use crate::find::walk::Skipped;
use crate::judge::few::{FewMap, FewSet};
use crate::judge::policy::Policy;
use crate::model::site::{Owner, Reader, Role, SecretLoad, Site, Workload};
use crate::model::token::Fingerprint;
use hashbrown::HashTable;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, RandomState};

/// One scanned input and the policy that governs it.
pub struct Input<'a> {
    /// The repository it was read from (`--repo`), or `None` for paths and streams.
    pub repository: Option<String>,
    pub scan: &'a Scan,
    pub policy: &'a Policy,
}

/// How the policy judges a token a delegate holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TokenState {
    Current,
    Stale,
    Revoked,
    /// The policy lists no tokens in force, and not this one as revoked.
    Unknown,
}

impl TokenState {
    pub fn name(self) -> &'static str {
        match self {
            TokenState::Current => "current",
            TokenState::Stale => "stale",
            TokenState::Revoked => "revoked",
            TokenState::Unknown => "unknown",
        }
    }

    fn of(fingerprint: &Fingerprint, policy: &Policy) -> TokenState {
        if policy.revoked.contains(fingerprint) {
            TokenState::Revoked
        } else if policy.current.contains(fingerprint) {
            TokenState::Current
        } else if policy.current.is_empty() {
            TokenState::Unknown
        } else {
            TokenState::Stale
        }
    }
}

/// Who a delegate is: rows with the same identity are one delegate.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DelegateId {
    pub repository: Option<String>,
    /// `Deployment`, `StatefulSet`, `Secret`, `compose service`, `ECS task`, `docker run`,
    /// `docker container`, `Terraform`, `Helm values`, `shell delegate`, or the file's kind.
    pub kind: String,
    pub name: String,
    /// The container, sub-chart key, image or `delegateName` that narrows the name.
    pub detail: Option<String>,
}

/// One delegate (or an unreferenced Secret) and what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delegate {
    pub id: DelegateId,
    pub files: FewSet<String>,
    pub tokens: FewMap<Fingerprint, TokenState>,
    /// The Secrets its tokens come from (`Secret namespace/name`).
    pub via: FewSet<String>,
    /// Where a token it reads lives outside the scanned input (an ARN, a Vault path, a
    /// Secret that is not among the inputs).
    pub elsewhere: FewSet<String>,
    /// The `delegateName` its values or config files set.
    pub delegate_names: FewSet<String>,
    pub sites: usize,
}

impl Delegate {
    fn new(id: DelegateId) -> Delegate {
        Delegate {
            id,
            files: FewSet::new(),
            tokens: FewMap::new(),
            via: FewSet::new(),
            elsewhere: FewSet::new(),
            delegate_names: FewSet::new(),
            sites: 0,
        }
    }

    /// Whether it holds the token with this fingerprint.
    pub fn holds(&self, fingerprint: &Fingerprint) -> bool {
        self.tokens.contains_key(fingerprint)
    }
}

/// A file that could not be judged, with the input it belongs to.
pub struct Unjudged {
    pub repository: Option<String>,
    pub path: String,
    pub reason: String,
}

pub struct Inventory {
    /// Sorted by repository, kind, name and detail.
    pub delegates: Vec<Delegate>,
    /// Files that hold a key name but could not be read: a token there is not attributed.
    pub unjudged: Vec<Unjudged>,
}

impl Inventory {
    /// The delegates that hold `fingerprint`.
    pub fn holding<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
    ) -> impl Iterator<Item = &'a Delegate> {
        self.delegates.iter().filter(move |d| d.holds(fingerprint))
    }
}

/// A Secret as the inputs show it: its entries' tokens, and who refers to it.
#[derive(Default)]
struct SecretEntries {
    files: BTreeSet<String>,
    tokens: BTreeSet<Fingerprint>,
    elsewhere: BTreeSet<String>,
    sites: usize,
    loaded_by: BTreeSet<Workload>,
    /// The files of the workloads that load it whole from another file.
    loaded_from: BTreeMap<Workload, BTreeSet<String>>,
}

impl SecretEntries {
    /// Adds a site of this Secret, in `file`, loaded whole by `loaded_by`.
    fn add(
        &mut self,
        file: &ScannedFile,
        site: &Site,
        loaded_by: impl IntoIterator<Item = Workload>,
    ) {
        self.files.insert(file.display.clone());
        self.sites += 1;
        self.loaded_by.extend(loaded_by);
        if let Some(fingerprint) = token(site) {
            self.tokens.insert(fingerprint.clone());
        }
        if let Some(elsewhere) = site.elsewhere.as_ref().filter(|e| e.store.is_outside_git()) {
            self.elsewhere.insert(elsewhere.location.clone());
        }
    }
}

/// The delegates found so far, each stored once and found by its id through a table of
/// indices. (A `BTreeMap` by id, with the id again in each delegate, took 640 bytes a
/// delegate in half-full nodes: 50 MB of a 68k-delegate monorepo's inventory.)
#[derive(Default)]
struct Delegates {
    all: Vec<Delegate>,
    by_id: HashTable<usize>,
    hasher: RandomState,
}

impl Delegates {
    /// The delegate with this id, added when there is none yet.
    fn entry(&mut self, id: DelegateId) -> &mut Delegate {
        let hash = self.hasher.hash_one(&id);
        let all = &self.all;
        let at = match self.by_id.find(hash, |&at| all[at].id == id) {
            Some(&at) => at,
            None => {
                self.all.push(Delegate::new(id));
                let (all, hasher) = (&self.all, &self.hasher);
                let at = all.len() - 1;
                self.by_id
                    .insert_unique(hash, at, |&at| hasher.hash_one(&all[at].id));
                at
            }
        };
        &mut self.all[at]
    }

    fn get_mut(&mut self, id: &DelegateId) -> Option<&mut Delegate> {
        let hash = self.hasher.hash_one(id);
        let all = &self.all;
        let at = *self.by_id.find(hash, |&at| all[at].id == *id)?;
        Some(&mut self.all[at])
    }

    /// All of them, sorted by id.
    fn into_sorted(self) -> Vec<Delegate> {
        let mut all = self.all;
        all.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        all.shrink_to_fit();
        all
    }
}

/// Builds the inventory of `inputs`.
pub fn build(inputs: &[Input]) -> Inventory {
    let mut delegates = Delegates::default();
    let mut unjudged = Vec::new();
    for input in inputs {
        unjudged.extend(attribute(input, &mut delegates));
        let errors = input
            .scan
            .errors
            .iter()
            .map(|e: &FileError| (e.display.clone(), e.message.clone()));
        let skipped = input
            .scan
            .skipped
            .iter()
            .map(|s: &Skipped| (s.display.clone(), s.reason.clone()));
        for (path, reason) in errors.chain(skipped) {
            unjudged.push(Unjudged {
                repository: input.repository.clone(),
                path,
                reason,
            });
        }
    }
    Inventory {
        delegates: delegates.into_sorted(),
        unjudged,
    }
}

/// How many (workload, file) pairs one Secret may attribute: each workload that refers to
/// a Secret lists every file holding it. Real inputs stay far below (50 overlays of one
/// Secret name: 2,500); past it, a flood of same-named Secrets without a namespace would
/// grow the inventory with the square of the files, so the Secret is reported as not
/// judged instead (and `--ready-to-revoke` answers "not ready").
const MAX_SECRET_ATTRIBUTIONS: usize = 100_000;

/// The Secrets of one input, by namespace and name, with what they hold.
type Secrets = BTreeMap<(Option<String>, String), SecretEntries>;

/// A workload's `secretKeyRef`: the workload, its namespace and the Secret it names.
type SecretRef = (Workload, Option<String>, String);

/// Attributes the sites of one input to delegates; returns the Secrets it could not.
fn attribute(input: &Input, delegates: &mut Delegates) -> Vec<Unjudged> {
    // Secrets first: their tokens go to the workloads that refer to them.
    let mut secrets = Secrets::new();
    let mut refs: Vec<SecretRef> = Vec::new();
    for (file, site) in input.scan.sites() {
        if site.role == Role::KeyMention {
            continue;
        }
        match secret_of(site) {
            Some((namespace, name, loaded_by)) => {
                let entries = secrets.entry((namespace, name)).or_default();
                entries.add(file, site, loaded_by);
            }
            None => attribute_site(input, file, site, delegates, &mut refs),
        }
    }
    link_loads(&input.scan.loads, &mut secrets);
    mark_missing_secrets(&input.repository, &secrets, &refs, delegates);
    attribute_secrets(input, &secrets, &refs, delegates)
}

/// The workloads of any file of the input that load a Secret whole read its entries.
fn link_loads(loads: &[(String, SecretLoad)], secrets: &mut Secrets) {
    for (file, load) in loads {
        let namespace = &load.workload.namespace;
        let loaded = secrets
            .iter_mut()
            .filter(|((ns, name), _)| *name == load.secret && same_namespace(ns, namespace));
        for (_, entries) in loaded {
            entries.loaded_by.insert(load.workload.clone());
            let files = entries
                .loaded_from
                .entry(load.workload.clone())
                .or_default();
            files.insert(file.clone());
        }
    }
}

/// Attributes one site outside a Secret to the delegate it configures; a `secretKeyRef`
/// is kept in `refs` to be matched with its Secret.
fn attribute_site(
    input: &Input,
    file: &ScannedFile,
    site: &Site,
    delegates: &mut Delegates,
    refs: &mut Vec<SecretRef>,
) {
    let id = identify(&input.repository, file, site);
    let delegate = delegates.entry(id);
    delegate.files.insert(file.display.clone());
    delegate.sites += 1;
    if let Some(fingerprint) = token(site) {
        delegate.tokens.insert(
            fingerprint.clone(),
            TokenState::of(fingerprint, input.policy),
        );
    }
    if let Some(Owner::Values {
        delegate_name: Some(name),
        ..
    }) = site.owner.as_deref()
    {
        delegate.delegate_names.insert(name.clone());
    }
    match (&site.role, site.owner.as_deref(), site.elsewhere.as_deref()) {
        (Role::SecretKeyRef { secret, .. }, Some(Owner::Kubernetes { .. }), _) => {
            if let Some(workload) = workload_of(site) {
                let namespace = workload.namespace.clone();
                refs.push((workload, namespace, secret.clone()));
            }
        }
        (_, _, Some(elsewhere)) if elsewhere.store.is_outside_git() => {
            delegate.elsewhere.insert(elsewhere.location.clone());
        }
        _ => {}
    }
}

/// A `secretKeyRef` points at a Secret of the workload's namespace: one the input does not
/// hold is named where the workload's token lives.
fn mark_missing_secrets(
    repository: &Option<String>,
    secrets: &Secrets,
    refs: &[SecretRef],
    delegates: &mut Delegates,
) {
    for (workload, namespace, secret) in refs {
        let found = secrets
            .keys()
            .any(|(ns, name)| name == secret && same_namespace(ns, namespace));
        if !found {
            let id = workload_id(repository, workload);
            if let Some(delegate) = delegates.get_mut(&id) {
                delegate
                    .elsewhere
                    .insert(format!("Secret {secret} (not among the inputs)"));
            }
        }
    }
}

/// Gives each Secret's tokens to the workloads that load it or refer to it (or to the
/// Secret itself when none does); returns the Secrets too widely shared to attribute.
fn attribute_secrets(
    input: &Input,
    secrets: &Secrets,
    refs: &[SecretRef],
    delegates: &mut Delegates,
) -> Vec<Unjudged> {
    let repository = &input.repository;
    let state = |fingerprint: &Fingerprint| TokenState::of(fingerprint, input.policy);
    let mut unjudged = Vec::new();
    for ((namespace, name), entries) in secrets {
        let mut holders: BTreeSet<Workload> = entries.loaded_by.clone();
        holders.extend(
            refs.iter()
                .filter(|(_, ns, secret)| secret == name && same_namespace(ns, namespace))
                .map(|(workload, ..)| workload.clone()),
        );
        let via = format!("Secret {}", qualified(namespace, name));
        if holders.len() * entries.files.len() > MAX_SECRET_ATTRIBUTIONS {
            unjudged.push(Unjudged {
                repository: repository.clone(),
                path: entries.files.first().cloned().unwrap_or_default(),
                reason: format!(
                    "{via} is in {} files and {} workloads refer to it, too many to tell which holds which: give the Secrets namespaces, or ask about fewer paths at a time",
                    entries.files.len(),
                    holders.len()
                ),
            });
            continue;
        }
        let ids: Vec<DelegateId> = if holders.is_empty() {
            vec![DelegateId {
                repository: repository.clone(),
                kind: "Secret".to_owned(),
                name: qualified(namespace, name),
                detail: Some("referenced by no workload in the input".to_owned()),
            }]
        } else {
            holders.iter().map(|w| workload_id(repository, w)).collect()
        };
        for id in ids {
            let delegate = delegates.entry(id);
            fill(delegate, entries, &state);
            if !holders.is_empty() {
                delegate.via.insert(via.clone());
            }
        }
        for (workload, files) in &entries.loaded_from {
            if let Some(delegate) = delegates.get_mut(&workload_id(repository, workload)) {
                delegate.files.extend(files.iter().cloned());
            }
        }
    }
    unjudged
}

fn fill(
    delegate: &mut Delegate,
    entries: &SecretEntries,
    state: &dyn Fn(&Fingerprint) -> TokenState,
) {
    delegate.files.extend(entries.files.iter().cloned());
    delegate.sites += entries.sites;
    delegate.elsewhere.extend(entries.elsewhere.iter().cloned());
    for fingerprint in &entries.tokens {
        delegate
            .tokens
            .insert(fingerprint.clone(), state(fingerprint));
    }
}

/// The fingerprint of a site that holds a delegate token.
fn token(site: &Site) -> Option<&Fingerprint> {
    site.value.fingerprint().filter(|_| site.value.is_token())
}

/// Names in different namespaces are different Secrets; a name without one (a plain
/// manifest) matches any.
fn same_namespace(a: &Option<String>, b: &Option<String>) -> bool {
    a.is_none() || b.is_none() || a == b
}

fn qualified(namespace: &Option<String>, name: &str) -> String {
    match namespace {
        Some(namespace) => format!("{namespace}/{name}"),
        None => name.to_owned(),
    }
}

/// The Secret a site is an entry of (namespace, name, the workloads that load it whole):
/// a `Secret`'s `data`/`stringData`, an ExternalSecret's target, a kustomize
/// `secretGenerator`'s literals.
fn secret_of(site: &Site) -> Option<(Option<String>, String, Vec<Workload>)> {
    let (namespace, loaded_by) = match site.owner.as_deref() {
        Some(Owner::Kubernetes {
            namespace,
            loaded_by,
            ..
        }) => (namespace.clone(), loaded_by.clone()),
        _ => (None, Vec::new()),
    };
    match (&site.role, &site.reader) {
        (
            Role::SecretEntry {
                secret: Some(name), ..
            },
            _,
        ) => Some((namespace, name.clone(), loaded_by)),
        (_, Reader::Secret(name)) => Some((namespace, name.clone(), loaded_by)),
        _ => None,
    }
}

fn workload_of(site: &Site) -> Option<Workload> {
    match site.owner.as_deref() {
        Some(Owner::Kubernetes {
            kind,
            namespace,
            name,
            container,
            ..
        }) => Some(Workload {
            kind: kind.clone(),
            namespace: namespace.clone(),
            name: name.clone(),
            container: container.clone(),
        }),
        _ => None,
    }
}

fn workload_id(repository: &Option<String>, workload: &Workload) -> DelegateId {
    DelegateId {
        repository: repository.clone(),
        kind: workload.kind.clone(),
        name: qualified(&workload.namespace, &workload.name),
        detail: workload
            .container
            .as_ref()
            .map(|c| format!("container {c}")),
    }
}

/// The delegate a site that is not a Secret entry configures.
fn identify(repository: &Option<String>, file: &ScannedFile, site: &Site) -> DelegateId {
    let id = |kind: &str, name: String, detail: Option<String>| DelegateId {
        repository: repository.clone(),
        kind: kind.to_owned(),
        name,
        detail,
    };
    let directory = || match file.display.rsplit_once('/') {
        Some((directory, _)) => directory.to_owned(),
        None => ".".to_owned(),
    };
    if let Some(workload) = workload_of(site) {
        return workload_id(repository, &workload);
    }
    match site.owner.as_deref() {
        Some(Owner::ComposeService(service)) => id("compose service", service.clone(), None),
        Some(Owner::Ecs { family, container }) => id(
            "ECS task",
            family.clone().unwrap_or_else(|| file.display.clone()),
            container.as_ref().map(|c| format!("container {c}")),
        ),
        Some(Owner::Docker { name, image }) => {
            let kind = if file.format == Format::Shell {
                "docker run"
            } else {
                "docker container"
            };
            let detail = image
                .as_ref()
                .filter(|_| name.is_some())
                .map(|i| format!("image {i}"));
            let name = name
                .clone()
                .or_else(|| image.clone())
                .unwrap_or_else(|| file.display.clone());
            id(kind, name, detail)
        }
        Some(Owner::Terraform(address)) => id("Terraform", address.clone(), None),
        Some(Owner::Values { .. }) if file.format == Format::TerraformState => {
            id("Terraform state", file.display.clone(), None)
        }
        Some(Owner::Values { subchart, .. }) => match file.format {
            Format::DelegateConfig | Format::Shell => id("shell delegate", directory(), None),
            _ => id(
                "Helm values",
                file.display.clone(),
                subchart.as_ref().map(|key| format!("sub-chart {key}")),
            ),
        },
        Some(Owner::Kubernetes { .. }) | None => {
            id(file.format.kind_of_file(), file.display.clone(), None)
        }
    }
}
