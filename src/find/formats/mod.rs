//! File formats: which scanner reads a file (by name and extension, then by a shell
//! shebang), and the one entry point the engine calls. What every format shares lives in
//! `common`; here a UTF-8 BOM is set aside before a scanner sees the text (spans stay
//! offsets into the whole file, so the BOM survives a rotation), every site passes the one
//! key rule (a variant key is a site only with a token in it) and a SOPS value is told
//! where it is encrypted.
//!
//! Adding a format touches this folder only:
//! 1. a scanner module here, `pub(super) fn scan(text: &str) -> Result<Vec<Site>,
//!    ParseError>` that parses with a real parser and returns byte spans, never edits;
//! 2. in this file: a `mod` line, a `Format` variant and its arms in `name`,
//!    `kind_of_file`, `detect` (by file name) and `scan` (the compiler lists any missed);
//! 3. fixtures under `fixtures/` and tests beside the scanner.
//!
//! Nothing else in the pipeline changes: plan, verify, apply and report work on sites.

mod common;
mod dockerfile;
mod dotenv;
mod json;
mod shell;
mod systemd;
mod terraform;
mod toml;
mod yaml;

pub use yaml::live;

use crate::model::site::{Reader, SecretLoad, Site};
use crate::model::token::Value;
pub use common::ParseError;
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
    /// The shell delegate's `config-watcher.yml` / `config-delegate.yml`: YAML read by the
    /// delegate itself.
    DelegateConfig,
    /// A file under a Helm chart's `templates/`: `{{ … }}` expressions, read as references.
    HelmTemplate,
    /// `Dockerfile`, `Containerfile`: `ENV` and `ARG` instructions.
    Dockerfile,
    /// systemd units: `Environment=` lines.
    Systemd,
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
            Format::HelmTemplate | Format::DelegateConfig => "yaml",
            Format::Dockerfile => "dockerfile",
            Format::Systemd => "systemd",
        }
    }

    /// What a file of this format is called where nothing in it names a workload (the
    /// inventory's kind for a delegate configured by the file alone).
    pub fn kind_of_file(self) -> &'static str {
        match self {
            Format::Dotenv => "env file",
            Format::Dockerfile => "Dockerfile",
            Format::Systemd => "systemd unit",
            Format::TerraformState => "Terraform state",
            Format::Terraform => "Terraform variables",
            Format::HelmTemplate => "Helm chart template",
            Format::Shell => "script",
            Format::Yaml | Format::Json | Format::Toml | Format::DelegateConfig => "file",
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
        if dockerfile::is_dockerfile_name(&name) {
            return Some(Format::Dockerfile);
        }
        let in_templates = path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|dir| dir == "templates");
        if matches!(name.as_str(), "config-watcher.yml" | "config-delegate.yml") {
            return Some(Format::DelegateConfig);
        }
        match extension {
            "yaml" | "yml" | "tpl" if in_templates => Some(Format::HelmTemplate),
            "yaml" | "yml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            "toml" => Some(Format::Toml),
            "tf" | "tfvars" => Some(Format::Terraform),
            "env" => Some(Format::Dotenv),
            "sh" | "bash" => Some(Format::Shell),
            "service" => Some(Format::Systemd),
            _ if !name.contains('.') && has_shell_shebang(strip_bom(text).1) => Some(Format::Shell),
            _ => None,
        }
    }

    /// Finds every site in `text`. Scanners never edit and never print.
    pub fn scan(self, text: &str) -> Result<Vec<Site>, ParseError> {
        self.scan_with_loads(text).map(|(sites, _)| sites)
    }

    /// [`Format::scan`], with the Secrets a Kubernetes manifest's workloads load whole
    /// (`envFrom`): links to Secrets that may sit in other files.
    pub fn scan_with_loads(self, text: &str) -> Result<(Vec<Site>, Vec<SecretLoad>), ParseError> {
        let (bom, text) = strip_bom(text);
        let mut loads = Vec::new();
        let sites = match self {
            Format::Yaml => yaml_or_hcl(text, &mut loads),
            Format::Json => json::scan(text),
            Format::Toml => toml::scan(text),
            Format::Terraform => terraform::scan(text),
            Format::TerraformState => json::scan_state(text),
            Format::Shell => shell::scan(text),
            Format::Dotenv => dotenv::scan_file(text),
            Format::HelmTemplate => yaml::scan_template_file(text),
            Format::DelegateConfig => yaml::scan(text).map(|sites| {
                sites
                    .into_iter()
                    .map(|site| site.with_reader(Reader::Delegate))
                    .collect()
            }),
            Format::Dockerfile => dockerfile::scan(text),
            Format::Systemd => systemd::scan(text),
        };
        let sites = sites.map_err(|error| ParseError {
            offset: error.offset + bom,
            message: error.message,
        })?;
        let sites = sites
            .into_iter()
            .filter_map(common::key_rule)
            .map(|site| with_sops_location(site).shifted(bom))
            .collect();
        Ok((sites, loads))
    }

    /// Whether a file with no key name may still link a Secret to its readers: a YAML
    /// manifest whose containers load Secrets whole (`envFrom`).
    pub fn may_load_secrets(path: &Path, bytes: &[u8]) -> bool {
        Format::detect(path, "") == Some(Format::Yaml)
            && memchr::memmem::find(bytes, b"envFrom").is_some()
    }
}

/// A `.yaml` file: HCL saved as `.yaml` (seen in real repos) is read as what it is, so its
/// sites are found and spliced as HCL; if it does not parse as HCL either, it is judged as
/// YAML (and its error is YAML's).
fn yaml_or_hcl(text: &str, loads: &mut Vec<SecretLoad>) -> Result<Vec<Site>, ParseError> {
    match yaml::looks_like_hcl(text).then(|| terraform::scan(text)) {
        Some(Ok(sites)) => Ok(sites),
        _ => yaml::scan_with_loads(text).map(|(sites, found)| {
            *loads = found;
            sites
        }),
    }
}

/// Splits a UTF-8 byte-order mark off `text`: its length (0 or 3) and the rest. Editors on
/// Windows write one; no parser needs it, and spans are shifted back over it.
fn strip_bom(text: &str) -> (usize, &str) {
    match text.strip_prefix('\u{feff}') {
        Some(rest) => (text.len() - rest.len(), rest),
        None => (0, text),
    }
}

/// A SOPS-encrypted value: where it lives and how to rotate it, unless the scanner already
/// named its key path.
fn with_sops_location(site: Site) -> Site {
    if site.value != Value::Encrypted || site.elsewhere.is_some() {
        return site;
    }
    let path = format!("[\"{}\"]", site.key);
    common::sops_site(site, &path)
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
        assert_eq!(
            detect("bin/launch", "\u{feff}#!/bin/bash\n"),
            Some(Format::Shell)
        );
        assert_eq!(detect("Dockerfile", ""), Some(Format::Dockerfile));
        assert_eq!(
            detect("build/Containerfile.delegate", ""),
            Some(Format::Dockerfile)
        );
        assert_eq!(detect("delegate.dockerfile", ""), Some(Format::Dockerfile));
        assert_eq!(
            detect("harness-delegate.service", ""),
            Some(Format::Systemd)
        );
        assert_eq!(
            detect("shell/config-watcher.yml", ""),
            Some(Format::DelegateConfig)
        );
        assert_eq!(
            detect("chart/templates/secret.yaml", ""),
            Some(Format::HelmTemplate)
        );
        assert_eq!(
            detect("chart/templates/_helpers.tpl", ""),
            Some(Format::HelmTemplate)
        );
        assert_eq!(detect("notes.tpl", ""), None);
    }
}
