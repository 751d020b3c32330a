//! File formats: which scanner reads a file (by name and extension, then by a shell
//! shebang), and the one entry point the engine calls. A new format is a new scanner module
//! plus one arm in `Format`; nothing else in the pipeline changes.

mod dotenv;
mod json;
mod shell;
mod terraform;
mod toml;
mod yaml;

use crate::keys;
use crate::site::{Role, Site};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
    Toml,
    Terraform,
    /// `*.tfstate`: reported, never rewritten.
    TerraformState,
    Shell,
    Dotenv,
}

/// A file that holds a key name but could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

impl Format {
    /// The name used in reports and in `scan --format json`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Toml => "toml",
            Format::Terraform => "terraform",
            Format::TerraformState => "tfstate",
            Format::Shell => "shell",
            Format::Dotenv => "dotenv",
        }
    }

    /// Picks the scanner for a file, or `None` when rekey does not read that kind of file
    /// (Markdown and other prose included).
    pub fn detect(path: &Path, text: &str) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let extension = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        if name.ends_with(".tfstate") || name.ends_with(".tfstate.backup") {
            return Some(Format::TerraformState);
        }
        if name == ".env" || name.starts_with(".env.") {
            return Some(Format::Dotenv);
        }
        match extension {
            "yaml" | "yml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            "toml" => Some(Format::Toml),
            "tf" | "tfvars" => Some(Format::Terraform),
            "env" => Some(Format::Dotenv),
            "sh" | "bash" => Some(Format::Shell),
            _ if !name.contains('.') && has_shell_shebang(text) => Some(Format::Shell),
            _ => None,
        }
    }

    /// Finds every site in `text`. Scanners never edit and never print.
    pub fn scan(self, text: &str) -> Result<Vec<Site>, ParseError> {
        match self {
            Format::Yaml => yaml::scan(text),
            Format::Json => json::scan(text),
            Format::Toml => toml::scan(text),
            Format::Terraform => terraform::scan(text),
            Format::TerraformState => json::scan_state(text),
            Format::Shell => shell::scan(text),
            Format::Dotenv => dotenv::scan_file(text),
        }
    }
}

fn has_shell_shebang(text: &str) -> bool {
    let first = text.lines().next().unwrap_or_default();
    let Some(interpreter) = first.strip_prefix("#!") else {
        return false;
    };
    let mut words = interpreter.split_whitespace();
    let program = words.next().unwrap_or_default();
    let program = if program.ends_with("/env") {
        words.next().unwrap_or_default()
    } else {
        program.rsplit('/').next().unwrap_or_default()
    };
    matches!(program, "sh" | "bash" | "dash" | "ash" | "ksh" | "zsh")
}

/// Marks legacy-key sites whose current name is also a key in the same file, so that
/// migration never produces a duplicate key. For formats without nesting, where the file
/// is the scope (`.env`, scripts, flat JSON and TOML).
fn mark_conflicts(sites: &mut [Site]) {
    let names: std::collections::HashSet<String> = sites
        .iter()
        .filter(|s| s.role != Role::KeyMention)
        .map(|s| s.key.clone())
        .collect();
    for site in sites.iter_mut() {
        if let Some(current) = keys::current_name(&site.key) {
            site.rename_conflict |= names.contains(current);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_by_name_extension_and_shebang() {
        let detect = |path: &str, text: &str| Format::detect(Path::new(path), text);
        assert_eq!(detect("k8s/a.yaml", ""), Some(Format::Yaml));
        assert_eq!(detect("ecs/task-spec.json", ""), Some(Format::Json));
        assert_eq!(
            detect("infra/terraform.tfstate", ""),
            Some(Format::TerraformState)
        );
        assert_eq!(
            detect("infra/terraform.tfstate.backup", ""),
            Some(Format::TerraformState)
        );
        assert_eq!(detect("infra/prod.tfvars", ""), Some(Format::Terraform));
        assert_eq!(detect(".env", ""), Some(Format::Dotenv));
        assert_eq!(detect(".env.production", ""), Some(Format::Dotenv));
        assert_eq!(detect("delegate.env", ""), Some(Format::Dotenv));
        assert_eq!(detect("start.sh", ""), Some(Format::Shell));
        assert_eq!(
            detect("bin/launch", "#!/usr/bin/env bash\n"),
            Some(Format::Shell)
        );
        assert_eq!(detect("bin/launch", "#!/bin/sh -e\n"), Some(Format::Shell));
        assert_eq!(detect("bin/launch", "#!/usr/bin/python3\n"), None);
        assert_eq!(detect("README.md", "DELEGATE_TOKEN=x"), None);
    }
}
