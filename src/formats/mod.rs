//! File formats: which scanner reads a file (by name and extension, then by a shell
//! shebang), and the one entry point the engine calls. A new format is a new scanner module
//! plus one arm in `Format`; nothing else in the pipeline changes. What every format shares
//! lives here: a UTF-8 BOM is set aside before a scanner sees the text (spans stay offsets
//! into the whole file, so the BOM survives a rotation), a `${VAR:-default}` default is a
//! literal, and a SOPS value says where it is encrypted.

mod dockerfile;
mod dotenv;
mod json;
mod shell;
mod systemd;
mod terraform;
mod toml;
mod yaml;

use crate::keys;
use crate::site::{Elsewhere, Reader, Role, Site, Span, Store};
use crate::token::{self, Value};
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
            Format::HelmTemplate | Format::DelegateConfig => "yaml",
            Format::Dockerfile => "dockerfile",
            Format::Systemd => "systemd",
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
        let (bom, text) = strip_bom(text);
        let sites = match self {
            Format::Yaml => yaml::scan(text),
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
        Ok(sites
            .into_iter()
            .map(|site| with_sops_location(site).shifted(bom))
            .collect())
    }
}

/// Room for the sites a scanner may find in `text`, one per key name: a file of 150,000
/// sites then never holds a vector twice the size it needs while it grows.
fn expected_sites(text: &str) -> usize {
    crate::source::marker_count(text.as_bytes())
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
    sops_site(site, &path)
}

/// Marks `site` as encrypted by SOPS at the key path `path` (`["data"]["DELEGATE_TOKEN"]`).
fn sops_site(site: Site, path: &str) -> Site {
    let elsewhere = Elsewhere {
        store: Store::Sops,
        location: format!("SOPS-encrypted in this file at {path}"),
        how_to_rotate: format!(
            "run `sops edit` on this file and replace the value at {path} with the new token"
        ),
    };
    site.with_elsewhere(elsewhere)
}

/// Classifies the value at `span` of `text`: the default of a lone `${VAR:-default}` (with
/// its own span), or the characters as they stand.
pub(crate) fn classify_value(text: &str, span: Span) -> (Span, Value) {
    literal_default(text, span.clone())
        .unwrap_or_else(|| (span.clone(), token::classify(&text[span])))
}

/// `${NAME:-default}`, `${NAME-default}`, `${NAME:=default}` or `${NAME=default}` standing
/// alone: the span of its default inside `span` and the default's classification. The
/// default is what the value is whenever `NAME` is unset, so it is a literal site; a default
/// that itself expands, quotes or is empty is left a reference.
pub(crate) fn literal_default(text: &str, span: Span) -> Option<(Span, Value)> {
    let inner = text[span.clone()].strip_prefix("${")?.strip_suffix('}')?;
    let name_len = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|&n| n > 0)?;
    let rest = &inner[name_len..];
    let operator = [":-", ":=", "-", "="]
        .into_iter()
        .find(|op| rest.starts_with(op))?;
    let default = &rest[operator.len()..];
    let plain = !default.is_empty()
        && !default.contains(|c: char| c.is_whitespace() || "${}\"'`\\".contains(c));
    if !plain {
        return None;
    }
    let start = span.start + 2 + name_len + operator.len();
    Some((start..start + default.len(), token::classify(default)))
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
        .map(|s| s.key.to_string())
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

    #[test]
    fn a_braced_default_is_a_literal_with_the_default_span() {
        let text = "${DELEGATE_TOKEN:-0123456789abcdef0123456789abcdef}";
        let (span, value) = literal_default(text, 0..text.len()).unwrap();
        assert_eq!(&text[span], "0123456789abcdef0123456789abcdef");
        assert!(value.is_token());
        for op in ["-", ":=", "="] {
            let text = format!("${{T{op}changeme}}");
            let (span, value) = literal_default(&text, 0..text.len()).unwrap();
            assert_eq!(&text[span], "changeme");
            assert_eq!(value, Value::Placeholder);
        }
        for reference in [
            "${T}",
            "${T:-}",
            "${T:-$U}",
            "${T:-${U}}",
            "${T:+x}",
            "$T",
            "${T:-a b}",
        ] {
            assert_eq!(
                literal_default(reference, 0..reference.len()),
                None,
                "{reference}"
            );
        }
    }
}
