//! A `.rekey.toml` below the repository's top-level one (in a subdirectory, between the
//! top and where a command runs) never replaces it: the top-level policy governs wherever
//! rekey runs from, and a nested file only adds to it. It may revoke more tokens, raise
//! rule levels and add key names; anything that would loosen the repository's policy — a
//! lower level, an exclude, a token in force that the repository's policy does not list —
//! is refused with an error naming the nested file's line and the file to change instead.
//! Otherwise an empty `sub/.rekey.toml`, or one with `revoked = []`, would turn the gate
//! off for everyone who runs `check` (or a pre-commit hook) from `sub/`.

use super::file::{Origin, Policy};
use crate::error::Error;

impl Policy {
    /// Adds the nested policy `nested` (shown as `display`) to this one, the repository's
    /// policy (shown as `root`).
    pub(super) fn add_nested(
        &mut self,
        nested: Policy,
        display: &str,
        root: &str,
    ) -> Result<(), Error> {
        self.refuse_loosening(&nested, display, root)?;
        for fingerprint in nested.revoked {
            if self.revoked.insert(fingerprint.clone()) {
                let source = nested
                    .listed_in
                    .get(&fingerprint)
                    .cloned()
                    .unwrap_or_else(|| display.to_owned());
                self.listed_in.insert(fingerprint, source);
            }
        }
        // More key names judge more sites: a nested file may add its own.
        self.extra_keys.extend(nested.extra_keys);
        for (rule, level) in nested.levels {
            if level < self.level(rule) {
                self.levels.insert(rule, level);
                if let Some(origin) = nested.level_at.get(&rule) {
                    self.level_at.insert(rule, origin.clone());
                }
            }
        }
        Ok(())
    }

    /// The first thing in `nested` that would make this policy looser, as an error.
    fn refuse_loosening(&self, nested: &Policy, display: &str, root: &str) -> Result<(), Error> {
        for (&rule, &level) in &nested.levels {
            let applied = self.level(rule);
            if level <= applied {
                continue;
            }
            let at = nested.level_at.get(&rule).map_or(display, |o| &o.at);
            let set = match self.level_at.get(&rule) {
                Some(Origin { at, .. }) => format!("set at {at}"),
                None => "the default".to_owned(),
            };
            return Err(Error::new(format!(
                "{at}: rule {} = \"{}\" would lower the level the repository's policy {root} gives it ({}, {set}): a nested .rekey.toml may only add revoked tokens and raise levels; change the level in {root}, or remove this line",
                rule.id(),
                level.name(),
                applied.name()
            )));
        }
        let at = |written: &Option<String>| written.clone().unwrap_or_else(|| display.to_owned());
        if let Some(fingerprint) = nested.current.difference(&self.current).next() {
            return Err(Error::new(format!(
                "{}: [tokens] current lists {fingerprint}, which the repository's policy {root} does not: a nested .rekey.toml cannot put a token in force; list it under current in {root}, or remove it here",
                at(&nested.current_at)
            )));
        }
        // A nested file that extends the repository's own policy carries its excludes.
        let added = nested
            .exclude_patterns
            .iter()
            .any(|pattern| !self.exclude_patterns.contains(pattern));
        if added {
            return Err(Error::new(format!(
                "{}: [scan] exclude in a nested .rekey.toml would hide files from the repository's policy {root}: move the patterns to {root} (relative to its directory), or remove them here",
                at(&nested.exclude_at)
            )));
        }
        Ok(())
    }
}
