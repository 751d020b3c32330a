//! Which legacy keys migration renames, and why the others keep their names. A rename is
//! only safe where the key's reader accepts the new name, and only a delegate is known to:
//! scanners say who reads each key (`site::Reader`); this module settles what needs the
//! whole scan — a Secret's entries are the delegate's when a delegate container of any
//! scanned file refers to that Secret (a `secretKeyRef`, or `envFrom` from its namespace); a chart's values key that the chart's own templates
//! read keeps its name, since rekey never rewrites a template expression — so that `rotate`
//! (what it renames) and `check` (how loudly it reports a legacy key) always agree.

use crate::find::formats::Format;
use crate::find::scan::{Scan, ScannedFile};
use crate::model::site::{Limit, Owner, Reader, Role, Site};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

pub struct Migration {
    /// Secrets a delegate reads: referred to by a delegate container's `secretKeyRef`, or
    /// loaded whole by one (`envFrom`, seen by the scanner).
    delegate_secrets: HashSet<String>,
    /// Secrets a delegate container of another file loads whole (`envFrom`), by namespace
    /// and name: the entries of such a Secret in that namespace are the delegate's.
    delegate_loads: Vec<(Option<String>, String)>,
    /// Secrets defined among the scanned files.
    defined_secrets: HashSet<String>,
    /// Secrets whose legacy entries a rotation of every token would rename.
    migratable_secrets: HashSet<String>,
    /// For each chart directory, the legacy names its templates read, with where the first
    /// read is (`chart/templates/secret.yaml:6:35`).
    chart_reads: HashMap<PathBuf, HashMap<String, String>>,
}

impl Migration {
    pub fn of(scan: &Scan) -> Migration {
        let mut delegate_secrets = HashSet::new();
        let mut defined_secrets = HashSet::new();
        for (_, site) in scan.sites() {
            match (&site.role, &site.reader) {
                (Role::SecretKeyRef { secret, .. }, Reader::Delegate) => {
                    delegate_secrets.insert(secret.clone());
                }
                (
                    Role::SecretEntry {
                        secret: Some(name), ..
                    },
                    reader,
                ) => {
                    defined_secrets.insert(name.clone());
                    if *reader == Reader::Delegate {
                        delegate_secrets.insert(name.clone());
                    }
                }
                _ => {}
            }
        }
        let delegate_loads = scan
            .loads
            .iter()
            .filter(|(_, load)| load.delegate)
            .map(|(_, load)| (load.workload.namespace.clone(), load.secret.clone()))
            .collect();
        let mut migration = Migration {
            delegate_secrets,
            delegate_loads,
            defined_secrets,
            migratable_secrets: HashSet::new(),
            chart_reads: chart_reads(scan),
        };
        migration.migratable_secrets = scan
            .sites()
            .filter(|(_, site)| site.is_legacy() && !site.rename_conflict)
            .filter(|(_, site)| migration.reader_is_delegate(site))
            .filter_map(|(_, site)| match &site.role {
                Role::SecretEntry {
                    secret: Some(name), ..
                } => Some(name.clone()),
                _ => None,
            })
            .collect();
        migration
    }

    fn reader_is_delegate(&self, site: &Site) -> bool {
        match &site.reader {
            Reader::Delegate => true,
            Reader::Secret(name) => self.delegate_reads(site, name),
            Reader::Unknown(_) => false,
        }
    }

    /// Whether a delegate reads Secret `name`, whose entry `site` is: a delegate container
    /// refers to it, in its own file or loading it whole from another file of its
    /// namespace (a manifest without one matches any).
    fn delegate_reads(&self, site: &Site, name: &str) -> bool {
        let namespace = match site.owner.as_deref() {
            Some(Owner::Kubernetes { namespace, .. }) => namespace.as_deref(),
            _ => None,
        };
        self.delegate_secrets.contains(name)
            || self.delegate_loads.iter().any(|(ns, secret)| {
                secret == name
                    && (ns.is_none() || namespace.is_none() || ns.as_deref() == namespace)
            })
    }

    /// Why migration leaves this legacy key as it is, whatever tokens are rotated; `None`
    /// when it renames it. `migrated_secrets`: the Secrets whose legacy entries the
    /// rotation renames.
    pub fn kept_because(
        &self,
        file: &ScannedFile,
        site: &Site,
        migrated_secrets: &HashSet<String>,
    ) -> Option<String> {
        let target = site.legacy_target()?;
        let key = &site.key;
        if site.rename_conflict {
            return Some(format!(
                "legacy key {key} kept: {target} already sits beside it"
            ));
        }
        if let Some(Limit::ReportOnly(reason)) = &site.limit {
            return Some(format!("legacy key {key} kept: {reason}"));
        }
        if let Some(at) = self.read_by_chart_templates(file, site) {
            return Some(format!(
                "legacy key {key} kept: a template of its chart reads it ({at}), and rekey never rewrites a template expression; rename it in the values and every template together, by hand"
            ));
        }
        match (&site.role, &site.reader) {
            (Role::SecretKeyRef { secret, .. }, _) => {
                let follows = migrated_secrets.contains(secret) && self.delegate_secrets.contains(secret);
                (!follows).then(|| format!(
                    "secretKeyRef key {key} kept: Secret {secret} is not migrated in the scanned files; rename its key first"
                ))
            }
            (_, Reader::Delegate) => None,
            (_, Reader::Secret(name)) if self.delegate_reads(site, name) => None,
            (_, Reader::Secret(name)) => Some(format!(
                "legacy key {key} kept: no delegate container in the scanned files refers to Secret {name}, so its readers may still need {key}"
            )),
            (_, Reader::Unknown(reason)) => Some(format!(
                "legacy key {key} kept: {reason}"
            )),
        }
    }

    /// `kept_because` for a rotation of every token (what `check` judges by).
    pub fn kept_by_full_rotation(&self, file: &ScannedFile, site: &Site) -> Option<String> {
        self.kept_because(file, site, &self.migratable_secrets)
    }

    /// Where a template reads `site`'s key: a template of the chart `file` is a values file
    /// of, or, for a key under an umbrella chart's sub-chart key, of that sub-chart vendored
    /// in `charts/`.
    fn read_by_chart_templates(&self, file: &ScannedFile, site: &Site) -> Option<&str> {
        if file.format == Format::HelmTemplate || site.role == Role::KeyMention {
            return None;
        }
        let chart = file.path.parent()?;
        let subchart = match site.owner.as_deref() {
            Some(Owner::Values {
                subchart: Some(name),
                ..
            }) => Some(chart.join("charts").join(name)),
            _ => None,
        };
        let read_in = |dir: &Path| self.chart_reads.get(dir)?.get(&*site.key);
        read_in(chart)
            .or_else(|| subchart.as_deref().and_then(read_in))
            .map(String::as_str)
    }

    /// A `secretKeyRef` whose Secret is among the scanned files is rotated there.
    pub fn rotated_with_its_secret(&self, site: &Site) -> bool {
        matches!(&site.role, Role::SecretKeyRef { secret, .. } if self.defined_secrets.contains(secret))
    }
}

/// The legacy names each chart's templates read (their key mentions), by chart directory:
/// the parent of `templates/`, where the chart's values files are.
fn chart_reads(scan: &Scan) -> HashMap<PathBuf, HashMap<String, String>> {
    let mut reads: HashMap<PathBuf, HashMap<String, String>> = HashMap::new();
    let templates = scan
        .files
        .iter()
        .filter(|file| file.format == Format::HelmTemplate);
    for file in templates {
        let Some(chart) = file.path.parent().and_then(Path::parent) else {
            continue;
        };
        for site in file.sites.iter().filter(|s| s.role == Role::KeyMention) {
            let names = reads.entry(chart.to_owned()).or_default();
            names.entry(site.key.to_string()).or_insert_with(|| {
                let (line, column) = file.line_col(site.key_span.start);
                format!("{}:{line}:{column}", file.display)
            });
        }
    }
    reads
}
