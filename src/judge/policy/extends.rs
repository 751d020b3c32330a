//! `extends = ["../policy/org.toml"]`: a policy includes other policy files (paths
//! relative to the file that names them; a missing file is an error, a cycle is refused),
//! so an organisation writes a revocation once and every repository's `check` sees it.
//! Their token lists, rule levels and excludes are merged in, and `listed_in` remembers
//! which included file listed each fingerprint. Levels only tighten silently: the
//! including file's own levels win, an included file may raise a level, and an included
//! level below the one the including file relies on (the default, as it states none) is
//! an error naming both files, so an organisation file cannot turn a rule off unseen.
//! Each file is read and parsed once however many files include it: a diamond of includes
//! costs one read per file, not one per path through it.

use super::file::{located, read_text, toml_error, Origin, Policy, Rule};
use crate::error::Error;
use globset::{Glob, GlobSetBuilder};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// The state of one `parse_extending`: the files being read, and those already parsed.
struct Reading {
    /// The includer first, then each file it is including: including one of them again
    /// is a cycle.
    chain: Vec<PathBuf>,
    /// Every file parsed so far (with its own includes merged), by canonical path.
    parsed: HashMap<PathBuf, Policy>,
}

impl Policy {
    /// Parses a policy file at `path` (shown as `display`) and the files it extends.
    pub fn parse_extending(text: &str, display: &str, path: &Path) -> Result<Policy, Error> {
        let mut reading = Reading {
            chain: vec![canonical(path)],
            parsed: HashMap::new(),
        };
        Policy::parse_chain(text, display, path, &mut reading)
    }

    fn parse_chain(
        text: &str,
        display: &str,
        path: &Path,
        reading: &mut Reading,
    ) -> Result<Policy, Error> {
        let mut policy = Policy::parse(text, display)?;
        let document = toml_edit::Document::parse(text.to_owned())
            .map_err(|error| toml_error(text, display, &error))?;
        let Some(item) = document.get("extends") else {
            return Ok(policy);
        };
        let at = located(text, display, item);
        let entries = item
            .as_array()
            .ok_or_else(|| format!("{at}: extends must be an array of policy file paths"))?;
        let own: BTreeSet<Rule> = policy.levels.keys().copied().collect();
        let directory = path.parent().unwrap_or(Path::new(""));
        for entry in entries.iter() {
            let relative = entry
                .as_str()
                .ok_or_else(|| format!("{at}: extends holds a value that is not a path string"))?;
            let included = directory.join(relative);
            let included_display = beside(display, relative);
            if !included.exists() {
                return Err(Error::new(format!(
                    "{at}: extends {relative:?}: no such file ({}); fix the path, which is relative to {display}",
                    included.display()
                )));
            }
            let base = Policy::included(&included, &included_display, &at, relative, reading)?;
            policy.merge(base, &included_display, display, &own)?;
        }
        Ok(policy)
    }

    /// The policy in `included` with its own includes: parsed on first use, then reused.
    fn included(
        included: &Path,
        display: &str,
        at: &str,
        relative: &str,
        reading: &mut Reading,
    ) -> Result<Policy, Error> {
        let resolved = canonical(included);
        if reading.chain.contains(&resolved) {
            return Err(Error::new(format!(
                "{at}: extends {relative:?} includes a policy file that is already being read ({display}): remove the cycle"
            )));
        }
        if let Some(parsed) = reading.parsed.get(&resolved) {
            return Ok(parsed.clone());
        }
        let text = read_text(included, display)?;
        reading.chain.push(resolved.clone());
        let parsed = Policy::parse_chain(&text, display, included, reading);
        reading.chain.pop();
        let parsed = parsed?;
        reading.parsed.insert(resolved, parsed.clone());
        Ok(parsed)
    }

    /// Adds what an extended policy (`display`) says to this one (`includer`, whose own
    /// levels are `own`).
    fn merge(
        &mut self,
        base: Policy,
        display: &str,
        includer: &str,
        own: &BTreeSet<Rule>,
    ) -> Result<(), Error> {
        for (own, theirs) in [
            (&mut self.current, &base.current),
            (&mut self.revoked, &base.revoked),
        ] {
            for fingerprint in theirs {
                if own.insert(fingerprint.clone()) {
                    let source = base
                        .listed_in
                        .get(fingerprint)
                        .cloned()
                        .unwrap_or_else(|| display.to_owned());
                    self.listed_in.insert(fingerprint.clone(), source);
                }
            }
        }
        self.merge_levels(&base, display, includer, own)?;
        // An organisation's key names hold in every repository that extends it.
        self.extra_keys.extend(base.extra_keys);
        self.current_at = self.current_at.take().or(base.current_at);
        self.exclude_at = self.exclude_at.take().or(base.exclude_at);
        if !base.exclude_patterns.is_empty() {
            self.exclude_patterns.extend(base.exclude_patterns);
            let mut builder = GlobSetBuilder::new();
            for pattern in &self.exclude_patterns {
                builder.add(Glob::new(pattern).map_err(|e| format!("{display}: {e}"))?);
            }
            self.excludes = Some(builder.build().map_err(|e| format!("{display}: {e}"))?);
        }
        Ok(())
    }

    /// The extended policy's levels: the includer's own win, the strictest of its includes
    /// applies otherwise, and one below the default the includer relies on is refused (an
    /// organisation file turning `revoked-token` off would pass every repository silently).
    fn merge_levels(
        &mut self,
        base: &Policy,
        display: &str,
        includer: &str,
        own: &BTreeSet<Rule>,
    ) -> Result<(), Error> {
        for (&rule, &level) in &base.levels {
            if own.contains(&rule) {
                continue;
            }
            let origin = base.level_at.get(&rule).cloned().unwrap_or(Origin {
                file: display.to_owned(),
                at: display.to_owned(),
            });
            let default = rule.default_level();
            if level > default {
                let (id, name, file) = (rule.id(), level.name(), &origin.file);
                return Err(Error::new(format!(
                    "{}: rule {id} = \"{name}\" would lower the level {includer} gives it ({}, the default) through extends: to accept it, write {id} = \"{name}\" under [rules] in {includer}; otherwise remove it from {file}",
                    origin.at,
                    default.name()
                )));
            }
            if self.levels.get(&rule).is_none_or(|&set| level < set) {
                self.levels.insert(rule, level);
                self.level_at.insert(rule, origin);
            }
        }
        Ok(())
    }
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}

/// How to show `relative`, named by the policy file shown as `display`: beside it, with
/// `dir/../` folded away.
fn beside(display: &str, relative: &str) -> String {
    let mut parts: Vec<&str> = match display.rsplit_once('/') {
        Some((directory, _)) => directory.split('/').collect(),
        None => Vec::new(),
    };
    for part in relative.split('/') {
        match part {
            "." | "" => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}
