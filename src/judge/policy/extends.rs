//! `extends = ["../policy/org.toml"]`: a policy includes other policy files (paths
//! relative to the file that names them; a missing file is an error, a cycle is refused),
//! so an organisation writes a revocation once and every repository's `check` sees it.
//! Their token lists, rule levels and excludes are merged in; the including file's own
//! rule levels win, and `listed_in` remembers which included file listed each fingerprint.

use super::file::{located, read_text, toml_error, Policy};
use crate::error::Error;
use globset::{Glob, GlobSetBuilder};
use std::path::{Path, PathBuf};

impl Policy {
    /// Parses a policy file at `path` (shown as `display`) and the files it extends.
    pub fn parse_extending(text: &str, display: &str, path: &Path) -> Result<Policy, Error> {
        let mut chain = vec![canonical(path)];
        Policy::parse_chain(text, display, path, &mut chain)
    }

    fn parse_chain(
        text: &str,
        display: &str,
        path: &Path,
        chain: &mut Vec<PathBuf>,
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
            let resolved = canonical(&included);
            if chain.contains(&resolved) {
                return Err(Error::new(format!(
                    "{at}: extends {relative:?} includes a policy file that is already being read ({included_display}): remove the cycle"
                )));
            }
            let included_text = read_text(&included, &included_display)?;
            chain.push(resolved);
            let base = Policy::parse_chain(&included_text, &included_display, &included, chain)?;
            chain.pop();
            policy.merge(base, &included_display)?;
        }
        Ok(policy)
    }

    /// Adds what an extended policy (`display`) says; this policy's own levels win.
    fn merge(&mut self, base: Policy, display: &str) -> Result<(), Error> {
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
        for (rule, level) in base.levels {
            self.levels.entry(rule).or_insert(level);
        }
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
