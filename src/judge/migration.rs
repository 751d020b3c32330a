//! Which legacy keys migration renames, and why the others keep their names. A rename is
//! only safe where the key's reader accepts the new name, and only a delegate is known to:
//! scanners say who reads each key (`site::Reader`); this module settles what needs the
//! whole scan — a Secret's entries are the delegate's when a delegate container of any
//! scanned file refers to that Secret — so that `rotate` (what it renames) and `check` (how
//! loudly it reports a legacy key) always agree.

use crate::find::scan::Scan;
use crate::model::site::{Limit, Reader, Role, Site};
use std::collections::HashSet;

pub struct Migration {
    /// Secrets a delegate reads: referred to by a delegate container's `secretKeyRef`, or
    /// loaded whole by one (`envFrom`, seen by the scanner).
    delegate_secrets: HashSet<String>,
    /// Secrets defined among the scanned files.
    defined_secrets: HashSet<String>,
    /// Secrets whose legacy entries a rotation of every token would rename.
    migratable_secrets: HashSet<String>,
}

impl Migration {
    pub fn of(scan: &Scan) -> Migration {
        let mut delegate_secrets = HashSet::new();
        let mut defined_secrets = HashSet::new();
        for (_, site) in scan.sites() {
            match (&site.role, &site.reader) {
                (Role::SecretKeyRef { secret }, Reader::Delegate) => {
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
        let mut migration = Migration {
            delegate_secrets,
            defined_secrets,
            migratable_secrets: HashSet::new(),
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
            Reader::Secret(name) => self.delegate_secrets.contains(name),
            Reader::Unknown(_) => false,
        }
    }

    /// Why migration leaves this legacy key as it is, whatever tokens are rotated; `None`
    /// when it renames it. `migrated_secrets`: the Secrets whose legacy entries the
    /// rotation renames.
    pub fn kept_because(&self, site: &Site, migrated_secrets: &HashSet<String>) -> Option<String> {
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
        match (&site.role, &site.reader) {
            (Role::SecretKeyRef { secret }, _) => {
                let follows = migrated_secrets.contains(secret) && self.delegate_secrets.contains(secret);
                (!follows).then(|| format!(
                    "secretKeyRef key {key} kept: Secret {secret} is not migrated in the scanned files; rename its key first"
                ))
            }
            (_, Reader::Delegate) => None,
            (_, Reader::Secret(name)) if self.delegate_secrets.contains(name) => None,
            (_, Reader::Secret(name)) => Some(format!(
                "legacy key {key} kept: no delegate container in the scanned files refers to Secret {name}, so its readers may still need {key}"
            )),
            (_, Reader::Unknown(reason)) => Some(format!(
                "legacy key {key} kept: {reason}"
            )),
        }
    }

    /// `kept_because` for a rotation of every token (what `check` judges by).
    pub fn kept_by_full_rotation(&self, site: &Site) -> Option<String> {
        self.kept_because(site, &self.migratable_secrets)
    }

    /// A `secretKeyRef` whose Secret is among the scanned files is rotated there.
    pub fn rotated_with_its_secret(&self, site: &Site) -> bool {
        matches!(&site.role, Role::SecretKeyRef { secret } if self.defined_secrets.contains(secret))
    }
}
