//! A `Site` is one place in one file where a delegate token is (or could be) stored: the
//! byte span of its key, the byte span of its value (the token characters only, inside any
//! quotes), the value's classification and what a rotation may do there. Scanners produce
//! sites; the planner, the verifier and the reports consume them. A site holds no part of
//! the value itself, so it can be logged or debug-printed safely. A site also says who reads
//! its key (a legacy key is renamed only where a delegate does) and, for a token kept in an
//! external store or encrypted, where it lives and how to rotate it there.

use crate::model::keys;
use crate::model::token::{Kind, Value};
use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

/// A byte range into a file's original buffer.
pub type Span = Range<usize>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// The key as written in the file (`DELEGATE_TOKEN`, `accountSecret`, …): borrowed
    /// from `keys::ALL` when it is one of those names, as it nearly always is.
    pub key: Cow<'static, str>,
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
    /// The value is a whole plain (unquoted) YAML scalar, whose characters decide its type:
    /// a new token that would read as a number there (`token::plain_reads_as_number`) is
    /// written in double quotes, so it stays a string.
    pub bare_typed: bool,
    /// Who reads the key: a legacy key is renamed only where a delegate does.
    pub reader: Reader,
    /// Where the value really lives when it is not in this file (or is encrypted here), and
    /// how to rotate it there.
    pub elsewhere: Option<Box<Elsewhere>>,
    /// The delegate configuration the site sits in, as far as its file shows (the object,
    /// container, service, task or address): what `inventory` attributes the site to.
    /// Shared: the sites of one object or document name the same owner.
    pub owner: Option<Arc<Owner>>,
}

/// Which delegate configuration holds a site, named as the file names it. Scanners fill it
/// where the file says; `inventory` falls back to the file (and its directory) otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// A Kubernetes object; `container` when the site is in a container's env. For a
    /// Secret, `loaded_by` lists the workloads of the same input that load it whole
    /// (`envFrom: secretRef`).
    Kubernetes {
        kind: String,
        namespace: Option<String>,
        name: String,
        container: Option<String>,
        loaded_by: Vec<Workload>,
    },
    /// A docker-compose service.
    ComposeService(String),
    /// An ECS task definition's container definition.
    Ecs {
        family: Option<String>,
        container: Option<String>,
    },
    /// A `docker run` command, or a running container as `docker inspect` shows it.
    Docker {
        name: Option<String>,
        image: Option<String>,
    },
    /// A Terraform resource or module address (`helm_release.delegate`, `module.ng`).
    Terraform(String),
    /// A key of a values or config mapping: the umbrella chart's sub-chart key it is under
    /// (`harness-delegate-ng`) and the `delegateName` beside it, when there are.
    Values {
        subchart: Option<String>,
        delegate_name: Option<String>,
    },
}

/// A Kubernetes workload container that refers to a Secret.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Workload {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub container: Option<String>,
}

/// A workload container that loads a Secret whole (`envFrom: - secretRef: {name: …}`).
/// It holds no site of its own, so the scan carries it beside the sites: the Secret may sit
/// in another file of the same input (`secret.yaml` beside `statefulset.yaml`), and the
/// inventory, migration and readiness link the two by namespace and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretLoad {
    pub workload: Workload,
    pub secret: String,
    /// The container runs a Harness delegate image: the Secret's entries are its env.
    pub delegate: bool,
}

/// Who reads a site's key, as far as the scanned files show. Renaming a legacy key is only
/// safe when its reader accepts the new name, which only a delegate is known to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reader {
    /// A delegate: env of a delegate container, the shell delegate's config files and the
    /// script lines that write them, the delegate chart's values.
    Delegate,
    /// The entries of Secret `.0` (a `Secret`, a kustomize `secretGenerator`): read by a
    /// delegate when a delegate container of the scanned files refers to that Secret.
    Secret(String),
    /// Nothing shows a delegate reads it; the reason is shown when a legacy key is kept.
    Unknown(Cow<'static, str>),
}

impl Reader {
    pub fn unknown(reason: &'static str) -> Reader {
        Reader::Unknown(Cow::Borrowed(reason))
    }
}

/// Where a token that is not in the file as plain text really lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Elsewhere {
    pub store: Store,
    /// A short description of the place (an ARN, a remote key, a key path): never a token.
    pub location: String,
    /// How to rotate the token there.
    pub how_to_rotate: String,
}

/// The kinds of places a delegate token can live outside a plain value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// Encrypted in this file by SOPS.
    Sops,
    /// Encrypted in this file for the cluster's sealed-secrets controller.
    SealedSecret,
    /// Synced by the External Secrets operator from an external store.
    ExternalSecret,
    /// AWS Secrets Manager or SSM Parameter Store (an ECS `secrets[].valueFrom` ARN).
    Aws,
    /// Injected by the Vault agent from a Vault path.
    Vault,
    /// A key of a Kubernetes Secret (`secretKeyRef`).
    KubernetesSecret,
}

impl Store {
    /// The token is kept outside git (or only encrypted in it): rekey cannot judge it
    /// against the policy. A Kubernetes Secret is usually one of the scanned files.
    pub fn is_outside_git(self) -> bool {
        self != Store::KubernetesSecret
    }
}

/// Why a site's value is not rewritten in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Limit {
    /// rekey cannot rewrite this form safely (a block scalar, escapes, …): rotating a token
    /// here is refused, so the user fixes the form first.
    Refused(Cow<'static, str>),
    /// Reported but never rewritten (a commented-out line, Terraform state): a rotation
    /// passes over it with a note.
    ReportOnly(Cow<'static, str>),
}

impl Limit {
    /// `Refused(reason)` unless the value's characters in the file are its value, so that a
    /// splice cannot break escapes or line structure.
    pub fn refused_unless(verbatim: bool, reason: &'static str) -> Option<Limit> {
        (!verbatim).then_some(Limit::Refused(Cow::Borrowed(reason)))
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
    /// legacy key of the Secret it names. `env_entry`: the key span of the env entry it fills
    /// when that entry is a site of its own (`- name: DELEGATE_TOKEN` + `valueFrom:`); the
    /// two keys are renamed apart but are one reference, and reports show them as one.
    SecretKeyRef {
        secret: String,
        env_entry: Option<Span>,
    },
    /// A legacy key named without a value (a script's `grep accountSecret …` guard): no
    /// token here, but migration renames it with the file's sites.
    KeyMention,
}

impl Site {
    /// A plain key/value site, pointing the user at the value.
    pub fn new(key: &str, key_span: Span, value_span: Span, value: Value) -> Site {
        let key = match keys::ALL.iter().find(|name| **name == key) {
            Some(name) => Cow::Borrowed(*name),
            None => Cow::Owned(key.to_owned()),
        };
        Site {
            key,
            key_span,
            location: value_span.start,
            value_span,
            value,
            role: Role::Plain,
            limit: None,
            rename_conflict: false,
            bare_typed: false,
            reader: Reader::unknown("nothing in the scanned files shows that a delegate reads it"),
            elsewhere: None,
            owner: None,
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

    pub fn with_reader(mut self, reader: Reader) -> Site {
        self.reader = reader;
        self
    }

    pub fn with_elsewhere(mut self, elsewhere: Elsewhere) -> Site {
        self.elsewhere = Some(Box::new(elsewhere));
        self
    }

    pub fn with_owner(mut self, owner: Option<Owner>) -> Site {
        self.owner = owner.map(Arc::new);
        self
    }

    /// The kind reports show: a key mention is its own kind, whatever its value.
    pub fn kind(&self) -> Kind {
        if self.role == Role::KeyMention {
            Kind::Mention
        } else {
            self.value.kind()
        }
    }

    /// Moves every span of the site by `delta` bytes (a site found in an embedded document).
    pub fn shifted(mut self, delta: usize) -> Site {
        self.key_span = self.key_span.start + delta..self.key_span.end + delta;
        self.value_span = self.value_span.start + delta..self.value_span.end + delta;
        self.location += delta;
        if let Role::SecretKeyRef {
            env_entry: Some(span),
            ..
        } = &mut self.role
        {
            *span = span.start + delta..span.end + delta;
        }
        self
    }

    /// A `secretKeyRef` that reports show with the env entry it fills (see
    /// [`Role::SecretKeyRef`]): not a reference site of its own.
    pub fn fills_env_entry(&self) -> bool {
        matches!(
            self.role,
            Role::SecretKeyRef {
                env_entry: Some(_),
                ..
            }
        )
    }

    /// The current name this site's key migrates to, when it is a legacy key.
    pub fn legacy_target(&self) -> Option<&'static str> {
        keys::current_name(&self.key)
    }

    pub fn is_legacy(&self) -> bool {
        self.legacy_target().is_some()
    }
}
