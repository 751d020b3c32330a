//! How each delegate a rotation touched comes to read the new token. A rewritten file
//! changes nothing that runs: a Kubernetes workload rolls its pods when its own manifest
//! changes, but not when only the Secret it reads does; a Helm release, a Terraform
//! configuration, a compose service, a `docker run`, an ECS task definition, a systemd
//! unit and the shell delegate each have their own way to start again. This module says
//! which way, per delegate of the inventory whose files the rotation changed (`changed`:
//! the sites it rewrote); `report::next_steps` words the commands.

use crate::find::scan::ScannedFile;
use crate::judge::inventory::{Delegate, DelegateId, Inventory};
use crate::model::site::{Owner, Site};
use std::collections::BTreeSet;

/// One delegate and how it is made to read the new token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rollout {
    pub delegate: DelegateId,
    pub how: How,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum How {
    /// A Kubernetes workload, or a Secret.
    Kubernetes(Kubernetes),
    /// A Helm values file: the release installed from it is upgraded with it.
    HelmValues { file: String },
    /// A Terraform configuration: applied from its directory.
    Terraform { directory: String },
    /// A docker-compose service.
    Compose { file: String, service: String },
    /// A `docker run` in a script: run again, once the old container is gone.
    DockerRun {
        script: String,
        container: Option<String>,
    },
    /// A script that holds the token (an install script): run again.
    Script { script: String },
    /// An ECS task definition: registered again, and its service redeployed.
    Ecs { file: String, family: String },
    /// A systemd unit: reloaded and restarted.
    Systemd { unit: String },
    /// The shell delegate of a directory: stopped and started again.
    ShellDelegate { directory: String },
    /// Anything else: deployed again the way it is deployed, and what reads it restarted.
    Redeploy { files: Vec<String> },
}

/// How a Kubernetes workload or Secret comes to be read again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kubernetes {
    /// A workload whose own manifest changed: applying it rolls its pods.
    Apply { files: Vec<String> },
    /// A Deployment, StatefulSet or DaemonSet whose manifest is unchanged but whose Secret
    /// changed: its pods keep the old token until they restart.
    RestartAfterSecret {
        /// `deployment`, `statefulset` or `daemonset`, as `kubectl rollout` names it.
        resource: String,
        name: String,
        namespace: Option<String>,
        secret_files: Vec<String>,
    },
    /// Another workload (a Pod, a Job) whose Secret changed: its pods read it only when
    /// they are created again.
    RecreateAfterSecret { secret_files: Vec<String> },
    /// A Secret no workload of the input reads: whoever reads it must restart.
    SecretAlone { files: Vec<String> },
}

/// The kinds `kubectl rollout restart` restarts.
const RESTARTABLE: [&str; 3] = ["Deployment", "StatefulSet", "DaemonSet"];

/// The Kubernetes kinds that run pods.
const WORKLOADS: [&str; 7] = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Pod",
    "Job",
    "CronJob",
];

/// How each delegate whose files hold a site of `changed` reads the new token, in the
/// inventory's order. The inventory is taken whole: each rollout moves its delegate's
/// names out of it, into the same buffer (a monorepo rotation has tens of thousands).
pub fn plan(inventory: Inventory, changed: &[(&ScannedFile, &Site)]) -> Vec<Rollout> {
    let files: BTreeSet<&str> = changed
        .iter()
        .map(|(file, _)| file.display.as_str())
        .collect();
    let owners: BTreeSet<ObjectName> = changed
        .iter()
        .filter_map(|(_, site)| match site.owner.as_deref() {
            Some(Owner::Kubernetes {
                kind,
                namespace,
                name,
                ..
            }) => Some((kind.as_str(), namespace.as_deref(), name.as_str())),
            _ => None,
        })
        .collect();
    inventory
        .delegates
        .into_iter()
        .filter(|delegate| delegate.files.iter().any(|f| files.contains(f.as_str())))
        .map(|delegate| rollout(delegate, &owners, &files))
        .collect()
}

/// A Kubernetes object by kind, namespace and name.
type ObjectName<'a> = (&'a str, Option<&'a str>, &'a str);

fn rollout(delegate: Delegate, owners: &BTreeSet<ObjectName>, files: &BTreeSet<&str>) -> Rollout {
    let id = delegate.id;
    let touched: Vec<String> = delegate
        .files
        .into_iter()
        .filter(|f| files.contains(f.as_str()))
        .collect();
    let only = || touched.first().cloned().unwrap_or_default();
    let how = match id.kind.as_str() {
        kind if WORKLOADS.contains(&kind) => How::Kubernetes(workload(&id, owners, touched)),
        "Secret" => How::Kubernetes(Kubernetes::SecretAlone { files: touched }),
        "Helm values" => How::HelmValues { file: only() },
        "Terraform" | "Terraform variables" => How::Terraform {
            directory: directory_of(&only()),
        },
        "compose service" => How::Compose {
            file: only(),
            service: id.name.clone(),
        },
        // A name beside an image detail is the container's `--name`.
        "docker run" => How::DockerRun {
            script: only(),
            container: id.detail.as_ref().map(|_| id.name.clone()),
        },
        "ECS task" => How::Ecs {
            file: only(),
            family: id.name.clone(),
        },
        "systemd unit" => How::Systemd {
            unit: only().rsplit('/').next().unwrap_or_default().to_owned(),
        },
        "script" => How::Script { script: only() },
        "shell delegate" => How::ShellDelegate {
            directory: id.name.clone(),
        },
        _ => How::Redeploy { files: touched },
    };
    Rollout { delegate: id, how }
}

/// A Kubernetes workload: its own manifest changed (a site of its own was rewritten), or
/// only the Secret it reads did.
fn workload(id: &DelegateId, owners: &BTreeSet<ObjectName>, touched: Vec<String>) -> Kubernetes {
    let (namespace, name) = match id.name.split_once('/') {
        Some((namespace, name)) => (Some(namespace.to_owned()), name.to_owned()),
        None => (None, id.name.clone()),
    };
    if owners.contains(&(id.kind.as_str(), namespace.as_deref(), name.as_str())) {
        Kubernetes::Apply { files: touched }
    } else if RESTARTABLE.contains(&id.kind.as_str()) {
        Kubernetes::RestartAfterSecret {
            resource: id.kind.to_ascii_lowercase(),
            name,
            namespace,
            secret_files: touched,
        }
    } else {
        Kubernetes::RecreateAfterSecret {
            secret_files: touched,
        }
    }
}

/// The directory of a file as shown (`.` for one at the top).
fn directory_of(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((directory, _)) => directory.to_owned(),
        None => ".".to_owned(),
    }
}
