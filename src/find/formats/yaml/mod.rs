//! YAML scanner: Kubernetes manifests (env lists, Secrets, ConfigMaps), kustomize
//! `secretGenerator` literals, docker-compose `environment:`, Helm values at any depth and the
//! shell delegate's `config-*.yml`; also what says where a token really lives: SealedSecret
//! `encryptedData` and SOPS `ENC[…]` values (encrypted, with their key path), ExternalSecret
//! `secretKey`/`remoteRef`, Vault agent annotations and `secretKeyRef` (references, with
//! their location). It parses with `granit-parser`, which reports byte spans, builds a small
//! tree per document and walks it, noting who reads each key: a container's image, the
//! delegate chart's sibling keys, a Secret that delegate containers load. Helm chart
//! templates, which are often not YAML at all, fall back to a line search that yields
//! references for template expressions (never rewritten) and a literal token written plainly;
//! a file is a template only on real evidence (a `{{` or Jinja `{%` outside comments, or a
//! chart's `templates/` directory), so broken YAML is never hidden. `looks_like_hcl` tells
//! HCL saved as `.yaml` by its shape before parsing (the registry hands it to the Terraform
//! scanner); any other file that parses but is not a mapping is an error when it holds a
//! key name.

mod kubernetes;
pub mod live;
mod template;
mod tree;
mod walk;
mod walker;

use super::common::{self, ParseError};
use crate::model::keys;
use crate::model::site::{Reader, SecretLoad, Site};
use kubernetes::{delegate_env_from_secrets, secret_loaders, secret_loads};
use std::cell::RefCell;
use template::{scan_template, TEMPLATE_READER};
use tree::{parse, Documents, Node};
use walker::{has_delegate_evidence, Walker};

pub fn scan(text: &str) -> Result<Vec<Site>, ParseError> {
    scan_with_loads(text).map(|(sites, _)| sites)
}

/// [`scan`], with the Secrets the file's workloads load whole (`envFrom`), which the
/// scan links to Secrets of other files.
pub fn scan_with_loads(text: &str) -> Result<(Vec<Site>, Vec<SecretLoad>), ParseError> {
    match parse(text) {
        Ok(documents) => {
            refuse_non_mapping(text, &documents)?;
            Ok(walk_all(text, &documents))
        }
        // A Helm template: `{{ … }}` makes most of them invalid YAML, and what they hold
        // are references to values, never literals. Only a `{{` outside comments counts:
        // a broken file that merely mentions one in a comment is still broken.
        Err(_) if has_template_expression(text) => Ok((scan_template(text), Vec::new())),
        Err(error) => Err(error),
    }
}

/// A file under a chart's `templates/`: YAML when it parses, references by line otherwise.
pub fn scan_template_file(text: &str) -> Result<Vec<Site>, ParseError> {
    let mut sites = match parse(text) {
        Ok(documents) => walk_all(text, &documents).0,
        Err(_) => scan_template(text),
    };
    sites.extend(template::values_mentions(text));
    sites.sort_by_key(|site| site.key_span.start);
    for site in &mut sites {
        site.reader = Reader::unknown(TEMPLATE_READER);
    }
    Ok(sites)
}

fn walk_all(text: &str, documents: &Documents) -> (Vec<Site>, Vec<SecretLoad>) {
    let mut sites = Vec::with_capacity(common::expected_sites(text));
    let delegate_secrets = delegate_env_from_secrets(&documents.roots);
    let objects: Vec<&Node> = documents.roots.iter().flat_map(list_items).collect();
    let loads = secret_loads(&objects);
    let loaders = secret_loaders(&loads);
    let delegate_evidence = documents.roots.iter().any(has_delegate_evidence);
    let last_owner = RefCell::new(None);
    for object in objects {
        let mut walker = Walker::new(
            text,
            &documents.anchors,
            object,
            &delegate_secrets,
            &last_owner,
        );
        walker.loaders = &loaders;
        walker.delegate_evidence = delegate_evidence;
        walker.walk(object, &mut sites);
    }
    (sites, loads)
}

/// The objects of a document: the `items` of a `kind: List` (as `kubectl get … -o yaml`
/// prints them), each read as its own document, or the document itself.
fn list_items<'n, 'a>(root: &'n Node<'a>) -> Vec<&'n Node<'a>> {
    match (root.get_str("kind"), root.get("items")) {
        (Some("List"), Some(Node::Seq { items })) => items.iter().collect(),
        _ => vec![root],
    }
}

/// The first line that is not blank or a comment has an HCL shape, which no YAML mapping
/// has: a block (`resource "…" "…" {`, `variable "…" {`, `locals {`) or an attribute set to
/// a string, object or list (`delegate_token = "…"`, `values = {`).
pub fn looks_like_hcl(text: &str) -> bool {
    let Some(line) = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("//"))
    else {
        return false;
    };
    let word_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(line.len());
    let (word, rest) = (&line[..word_end], line[word_end..].trim_start());
    const BLOCKS: [&str; 8] = [
        "resource",
        "data",
        "module",
        "variable",
        "output",
        "locals",
        "provider",
        "terraform",
    ];
    if BLOCKS.contains(&word) && line.ends_with('{') && rest.starts_with(['"', '{']) {
        return true;
    }
    !word.is_empty()
        && rest
            .strip_prefix('=')
            .is_some_and(|value| value.trim_start().starts_with(['"', '{', '[']))
}

/// A `{{` (Go template, Jinja) or `{%` (a Jinja statement) that is not inside a `#`
/// comment.
fn has_template_expression(text: &str) -> bool {
    text.lines().any(|line| {
        let comment = line
            .char_indices()
            .find(|&(i, c)| c == '#' && (i == 0 || line[..i].ends_with([' ', '\t'])))
            .map_or(line.len(), |(i, _)| i);
        line[..comment].contains("{{") || line[..comment].contains("{%")
    })
}

/// A file that holds a key name but whose documents are not mappings or sequences (HCL or
/// `.env` lines saved as `.yaml` read as one long plain scalar) would silently yield no site.
fn refuse_non_mapping(text: &str, documents: &Documents) -> Result<(), ParseError> {
    let scalar_document = documents
        .roots
        .iter()
        .any(|root| matches!(root, Node::Scalar(s) if !s.value.trim().is_empty()));
    if !scalar_document {
        return Ok(());
    }
    let Some(offset) = keys::ALL.iter().filter_map(|key| text.find(key)).min() else {
        return Ok(());
    };
    Err(ParseError {
        offset,
        message: "it holds a delegate-token key but is not a YAML mapping (HCL or .env lines saved as .yaml?): give it its real extension or write it as YAML".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::site::{Owner, Role, Workload};
    use crate::model::token::{Encoding, Kind};

    const HEX: &str = "0123456789abcdef0123456789abcdef";

    fn values(text: &str) -> Vec<(String, String, Kind)> {
        scan(text)
            .unwrap()
            .into_iter()
            .map(|s| {
                (
                    s.key.into_owned(),
                    text[s.value_span].to_owned(),
                    s.value.kind(),
                )
            })
            .collect()
    }

    #[test]
    fn env_list_block_and_flow_with_value_from() {
        let text = format!(
            "env:\n- name: DELEGATE_TOKEN\n  value: \"{HEX}\"\n- {{name: UPGRADER_TOKEN, value: '{HEX}'}}\n- name: ACCOUNT_SECRET\n  valueFrom:\n    secretKeyRef: {{name: s, key: ACCOUNT_SECRET}}\n"
        );
        let sites = scan(&text).unwrap();
        let found: Vec<_> = sites
            .iter()
            .map(|s| (&*s.key, s.value.kind(), &text[s.key_span.clone()]))
            .collect();
        assert_eq!(
            found,
            vec![
                ("DELEGATE_TOKEN", Kind::Literal, "DELEGATE_TOKEN"),
                ("UPGRADER_TOKEN", Kind::Literal, "UPGRADER_TOKEN"),
                ("ACCOUNT_SECRET", Kind::Reference, "ACCOUNT_SECRET"),
                ("ACCOUNT_SECRET", Kind::Reference, "ACCOUNT_SECRET"),
            ]
        );
        assert_eq!(&text[sites[0].value_span.clone()], HEX);
        assert_eq!(&text[sites[1].value_span.clone()], HEX);
        // The secretKeyRef fills the env entry before it: one reference, shown as one.
        assert_eq!(
            sites[3].role,
            Role::SecretKeyRef {
                secret: "s".to_owned(),
                env_entry: Some(sites[2].key_span.clone()),
            }
        );
        // Its own entry's name is not a token key: the secretKeyRef stands alone.
        let alone = scan(
            "env:\n- name: TOKEN\n  valueFrom:\n    secretKeyRef: {name: s, key: DELEGATE_TOKEN}\n",
        )
        .unwrap();
        assert_eq!(alone.len(), 1);
        assert!(!alone[0].fills_env_entry());
    }

    #[test]
    fn secret_data_is_marked_base64_and_named() {
        let text = "kind: Secret\nmetadata:\n  name: d-account-token\ndata:\n  DELEGATE_TOKEN: \"PUT_YOUR_DELEGATE_TOKEN\"\nstringData:\n  UPGRADER_TOKEN: x\n";
        let sites = scan(text).unwrap();
        assert_eq!(sites[0].value.kind(), Kind::Placeholder);
        assert_eq!(
            sites[0].role,
            Role::SecretEntry {
                secret: Some("d-account-token".to_owned()),
                base64_data: true
            }
        );
        assert_eq!(
            sites[1].role,
            Role::SecretEntry {
                secret: Some("d-account-token".to_owned()),
                base64_data: false
            }
        );
    }

    #[test]
    fn kustomize_literals_and_compose_lists_split_at_the_equals_sign() {
        let text = format!("secretGenerator:\n- name: t\n  literals:\n  - DELEGATE_TOKEN={HEX}\n  - \"ACCOUNT_SECRET={HEX}\"\n");
        let sites = scan(&text).unwrap();
        assert_eq!(sites.len(), 2);
        for site in &sites {
            assert_eq!(&text[site.value_span.clone()], HEX);
            assert_eq!(&text[site.key_span.clone()], site.key);
        }
    }

    #[test]
    fn helm_keys_at_any_depth_but_not_existing_secret_names() {
        let text = format!("harness-delegate-ng:\n  delegateToken: {HEX}\n  existingDelegateToken: my-secret\naccountSecret: ''\n");
        assert_eq!(
            values(&text),
            vec![
                ("delegateToken".to_owned(), HEX.to_owned(), Kind::Literal),
                ("accountSecret".to_owned(), String::new(), Kind::Empty),
            ]
        );
    }

    #[test]
    fn aliases_point_at_the_anchored_literal() {
        let text = format!("base: &tok {HEX}\ndelegateToken: *tok\n");
        let sites = scan(&text).unwrap();
        assert_eq!(sites.len(), 1);
        assert_eq!(&text[sites[0].value_span.clone()], HEX);
        assert_eq!(sites[0].location, text.find("*tok").unwrap());
    }

    #[test]
    fn block_scalars_escapes_and_numbers_are_not_rewritable_tokens() {
        let text = format!("a:\n  delegateToken: |\n    {HEX}\nb:\n  delegateToken: \"\\x30{}\"\nc:\n  delegateToken: 12345678901234567890123456789012\n", &HEX[1..]);
        let sites = scan(&text).unwrap();
        assert!(sites[0]
            .limit
            .as_ref()
            .unwrap()
            .reason()
            .contains("block scalar"));
        assert!(sites[1]
            .limit
            .as_ref()
            .unwrap()
            .reason()
            .contains("escapes"));
        assert_eq!(sites[2].value.encoding(), Some(Encoding::Other));
    }

    #[test]
    fn legacy_key_beside_its_current_name_is_a_conflict() {
        let text = "env:\n- name: DELEGATE_TOKEN\n  value: a\n- name: ACCOUNT_SECRET\n  value: b\ndata:\n  accountSecret: a\n  delegateToken: b\n";
        let sites = scan(text).unwrap();
        let conflicts: Vec<_> = sites
            .iter()
            .filter(|s| s.rename_conflict)
            .map(|s| &*s.key)
            .collect();
        assert_eq!(conflicts, vec!["ACCOUNT_SECRET", "accountSecret"]);
    }

    #[test]
    fn templates_yield_references_and_never_errors() {
        let text = "data:\n  DELEGATE_TOKEN: {{ .Values.delegateToken | b64enc | quote }}\n{{- if .Values.x }}\n  UPGRADER_TOKEN: {{ .Values.delegateToken }}\n{{- end }}\n";
        let sites = scan(text).unwrap();
        assert_eq!(sites.len(), 2);
        assert!(sites.iter().all(|s| s.value.kind() == Kind::Reference));
        assert_eq!(&text[sites[1].key_span.clone()], "UPGRADER_TOKEN");
    }

    #[test]
    fn hcl_saved_as_yaml_is_sniffed_and_jinja_statements_are_references() {
        assert!(looks_like_hcl(
            "# generated\nvariable \"delegate_token\" {\n  default = \"x\"\n}\n"
        ));
        assert!(looks_like_hcl("delegate_token = \"x\"\n"));
        assert!(!looks_like_hcl("delegateToken: x\nresource: \"a\" {\n"));
        assert!(!looks_like_hcl("DELEGATE_TOKEN=x\n"));
        let jinja = format!("{{% if a %}}\ndelegateToken: {{% if b %}}x{{% endif %}}\n{{% endif %}}\ndelegateToken: {HEX}\n");
        let found = values(&jinja);
        assert_eq!(found[0].2, Kind::Reference);
        assert_eq!(
            found[1],
            ("delegateToken".to_owned(), HEX.to_owned(), Kind::Literal)
        );
    }

    #[test]
    fn broken_yaml_is_an_error_with_its_offset() {
        let error = scan("a: [b\ndelegateToken: d: e\n").unwrap_err();
        assert!(error.offset > 0);
    }

    #[test]
    fn list_items_are_objects_and_secrets_know_who_loads_them() {
        let text = "kind: List\nitems:\n- kind: Deployment\n  metadata: {name: d, namespace: n}\n  spec:\n    template:\n      spec:\n        containers:\n        - name: delegate\n          image: harness/delegate:1\n          envFrom:\n          - secretRef: {name: t}\n          env:\n          - {name: UPGRADER_TOKEN, value: x}\n- kind: Secret\n  metadata: {name: t, namespace: n}\n  stringData:\n    DELEGATE_TOKEN: y\n";
        let sites = scan(text).unwrap();
        let workload = Workload {
            kind: "Deployment".to_owned(),
            namespace: Some("n".to_owned()),
            name: "d".to_owned(),
            container: Some("delegate".to_owned()),
        };
        assert_eq!(
            sites[0].owner.as_deref().cloned(),
            Some(Owner::Kubernetes {
                kind: "Deployment".to_owned(),
                namespace: Some("n".to_owned()),
                name: "d".to_owned(),
                container: Some("delegate".to_owned()),
                loaded_by: Vec::new(),
            })
        );
        assert_eq!(sites[0].reader, Reader::Delegate);
        assert_eq!(
            sites[1].owner.as_deref().cloned(),
            Some(Owner::Kubernetes {
                kind: "Secret".to_owned(),
                namespace: Some("n".to_owned()),
                name: "t".to_owned(),
                container: None,
                loaded_by: vec![workload],
            })
        );
    }

    #[test]
    fn sops_values_name_their_key_path_through_maps_and_lists() {
        let enc = "ENC[AES256_GCM,data:cXVpdGVhbG9uZ3Rva2VuMTIz,iv:aXY=,tag:dGFn,type:str]";
        let text = format!(
            "kind: Deployment\nspec:\n  containers:\n    - name: delegate\n      env:\n        - name: DELEGATE_TOKEN\n          value: {enc}\nsecretGenerator:\n  - literals:\n      - DELEGATE_TOKEN={enc}\nsops:\n  version: 3.9.4\n"
        );
        let locations: Vec<String> = scan(&text)
            .unwrap()
            .iter()
            .filter_map(|site| site.elsewhere.as_ref().map(|e| e.location.clone()))
            .collect();
        assert_eq!(
            locations,
            [
                "SOPS-encrypted in this file at [\"spec\"][\"containers\"][0][\"env\"][0][\"value\"]",
                "SOPS-encrypted in this file at [\"secretGenerator\"][0][\"literals\"][0]",
            ]
        );
    }

    #[test]
    fn compose_services_and_umbrella_sub_charts_name_their_owner() {
        let compose = "services:\n  edge:\n    image: harness/delegate:1\n    environment:\n      DELEGATE_TOKEN: x\n";
        assert_eq!(
            scan(compose).unwrap()[0].owner.as_deref().cloned(),
            Some(Owner::ComposeService("edge".to_owned()))
        );
        let umbrella = "harness-delegate-ng:\n  delegateName: eu\n  delegateToken: x\n";
        assert_eq!(
            scan(umbrella).unwrap()[0].owner.as_deref().cloned(),
            Some(Owner::Values {
                subchart: Some("harness-delegate-ng".to_owned()),
                delegate_name: Some("eu".to_owned())
            })
        );
    }
}
