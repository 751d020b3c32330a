//! Terraform scanner (`.tf`, `.tfvars`): `delegate_token = "…"` attributes at any depth
//! (tfvars, module arguments, objects, function arguments such as `yamlencode({…})`,
//! `jsonencode(…)` and `templatefile(…, {…})` variables), and `helm_release` values set
//! through `set` / `set_sensitive` blocks, the list form `set = [{ name = "delegateToken",
//! value = … }]`, or `values = [<<-EOT … EOT]` heredocs holding Helm values YAML (scanned in
//! place). `var.x`, `local.x`, resource attributes, function calls and `"${…}"`
//! interpolations are references. Parsed with `hcl-edit`, which keeps the byte span of every
//! expression.
//!
//! `variable "delegate_token" { default = "…" }` is a site named by its label.
//!
//! A legacy key is read by a delegate in a `helm_release` of the delegate chart. What
//! Terraform itself reads by name keeps it: a `module` argument is the module's variable
//! (renaming it breaks a module pinned at a version that knows only the old name), and so
//! are a `variable` block's name and a top-level (tfvars) value.

use super::common::{self, ParseError};
use crate::model::keys;
use crate::model::site::{Limit, Owner, Reader, Site, Span};
use crate::model::token::{self, Value};
use hcl_edit::expr::{Expression, Object, ObjectKey};
use hcl_edit::structure::{Block, Body, Structure};
use hcl_edit::Span as _;
use std::sync::Arc;

pub fn scan(text: &str) -> Result<Vec<Site>, ParseError> {
    let body = hcl_edit::parser::parse_body(text).map_err(|error| ParseError {
        offset: error.location().offset(),
        message: error.message().to_string(),
    })?;
    let mut sites = Vec::with_capacity(common::expected_sites(text));
    let top = Reader::unknown(
        "a Terraform variable value: rename it with its variable block and every var. use, by hand",
    );
    walk_body(text, &body, &top, &mut sites)?;
    common::mark_conflicts(&mut sites);
    Ok(sites)
}

/// Why a module's argument keeps its name: it is the module's variable name.
const MODULE_ARGUMENT: &str = "a module argument is the module's variable name: renaming it breaks `terraform plan` for a module pinned at a version that knows only this name; the value is rotated, and the rename is the module author's, in a new module version";

/// Why a `variable` block's name is kept.
const VARIABLE_NAME: &str = "a Terraform variable name: every var. use of it and every caller (tfvars, module arguments) reads it by this name; the value is rotated, the name kept";

/// Who reads the token attributes of a block: a `helm_release` of the delegate chart. A
/// `module`'s arguments are the module's variables, whatever its source, and keep their
/// names.
fn block_reader(block: &Block) -> Reader {
    let attribute = |name: &str| match block.body.attributes().find(|a| a.key.as_str() == name) {
        Some(attribute) => match &attribute.value {
            Expression::String(value) => Some(value.value().clone()),
            _ => None,
        },
        None => None,
    };
    let label = block.labels.first().map(|l| l.as_str());
    match (block.ident.as_str(), label) {
        ("module", _) => Reader::unknown(MODULE_ARGUMENT),
        ("resource", Some("helm_release")) => match attribute("chart") {
            Some(chart) if keys::is_delegate_chart(&chart) => Reader::Delegate,
            _ => Reader::unknown("the helm_release does not install the harness-delegate-ng chart"),
        },
        _ => Reader::unknown("not in a helm_release of the harness-delegate-ng chart"),
    }
}

/// A block's Terraform address: `helm_release.delegate`, `module.delegate`,
/// `data.x.y`; `None` for blocks without one (`locals`, `variable`, nested blocks).
fn address(block: &Block) -> Option<String> {
    let labels: Vec<&str> = block.labels.iter().map(|l| l.as_str()).collect();
    match (block.ident.as_str(), labels.as_slice()) {
        ("resource", [kind, name]) => Some(format!("{kind}.{name}")),
        ("data", [kind, name]) => Some(format!("data.{kind}.{name}")),
        ("module", [name]) => Some(format!("module.{name}")),
        _ => None,
    }
}

fn walk_body(
    text: &str,
    body: &Body,
    reader: &Reader,
    sites: &mut Vec<Site>,
) -> Result<(), ParseError> {
    for structure in body.iter() {
        match structure {
            Structure::Attribute(attribute) => {
                let name = attribute.key.as_str();
                if keys::is_token_key(name) {
                    if let Some(span) = attribute.key.span() {
                        push(text, name, span, &attribute.value, reader, sites);
                    }
                }
                if matches!(name, "set" | "set_sensitive") {
                    if let Expression::Array(items) = &attribute.value {
                        for item in items.iter() {
                            if let Expression::Object(object) = item {
                                helm_set_object(text, object, reader, sites);
                            }
                        }
                    }
                }
                if name == "values" {
                    heredoc_values(text, &attribute.value, reader, sites)?;
                }
                walk_expression(text, &attribute.value, reader, sites);
            }
            Structure::Block(block) if matches!(block.ident.as_str(), "set" | "set_sensitive") => {
                let get = |wanted: &str| {
                    block
                        .body
                        .attributes()
                        .find(|a| a.key.as_str() == wanted)
                        .map(|a| &a.value)
                };
                if let (Some(name), Some(value)) = (get("name"), get("value")) {
                    helm_set(text, name, value, reader, sites);
                }
            }
            Structure::Block(block) => {
                let before = sites.len();
                variable_default(text, block, sites);
                walk_body(text, &block.body, &block_reader(block), sites)?;
                if let Some(address) = address(block) {
                    let owner = Arc::new(Owner::Terraform(address));
                    for site in &mut sites[before..] {
                        site.owner = Some(owner.clone());
                    }
                }
            }
        }
    }
    Ok(())
}

/// `variable "delegate_token" { default = "…" }`: the default is a site whose key is the
/// variable's name (the label), kept whatever it is called.
fn variable_default(text: &str, block: &Block, sites: &mut Vec<Site>) {
    let ([label], "variable") = (block.labels.as_slice(), block.ident.as_str()) else {
        return;
    };
    let name = label.as_str();
    if !keys::is_token_key(name) {
        return;
    }
    let Some(span) = label.span() else { return };
    // A quoted label: the name is inside the quotes.
    let span = match text.get(span.clone()) {
        Some(raw) if raw.len() == name.len() + 2 => span.start + 1..span.end - 1,
        _ => span,
    };
    if text.get(span.clone()) != Some(name) {
        return;
    }
    if let Some(default) = block
        .body
        .attributes()
        .find(|a| a.key.as_str() == "default")
    {
        push(
            text,
            name,
            span,
            &default.value,
            &Reader::unknown(VARIABLE_NAME),
            sites,
        );
    }
}

/// `values = [<<-EOT … EOT]`: Helm values YAML in a heredoc, scanned in place. Sites are
/// read by the delegate when the release installs the delegate chart.
fn heredoc_values(
    text: &str,
    values: &Expression,
    reader: &Reader,
    sites: &mut Vec<Site>,
) -> Result<(), ParseError> {
    let heredocs: Vec<&Expression> = match values {
        Expression::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    for heredoc in heredocs {
        let (Expression::HeredocTemplate(_), Some(span)) = (heredoc, heredoc.span()) else {
            continue;
        };
        // The body runs from the line after `<<EOT` to the line holding the delimiter.
        let raw = &text[span.clone()];
        let Some(first_newline) = raw.find('\n') else {
            continue;
        };
        let body_start = span.start + first_newline + 1;
        let body_end = text[..span.end]
            .rfind('\n')
            .map_or(body_start, |i| i + 1)
            .max(body_start);
        let body = &text[body_start..body_end];
        if !keys::has_marker(body.as_bytes()) {
            continue;
        }
        let found = super::yaml::scan(body).map_err(|error| ParseError {
            offset: body_start + error.offset,
            message: format!("the Helm values in this heredoc: {}", error.message),
        })?;
        for mut site in found {
            if *reader == Reader::Delegate {
                site.reader = Reader::Delegate;
            }
            sites.push(site.shifted(body_start));
        }
    }
    Ok(())
}

/// Objects at any depth, function arguments included: `{ delegate_token = "…" }` in module
/// arguments and tfvars maps, `yamlencode({ delegateToken = "…" })`, `jsonencode(…)`,
/// `templatefile("…", { delegate_token = "…" })`.
fn walk_expression(text: &str, expression: &Expression, reader: &Reader, sites: &mut Vec<Site>) {
    match expression {
        Expression::Object(object) => {
            for (key, value) in object.iter() {
                let name = match key {
                    ObjectKey::Ident(ident) => Some((ident.as_str().to_owned(), ident.span())),
                    ObjectKey::Expression(Expression::String(string)) => Some((
                        string.value().clone(),
                        string.span().map(|s| s.start + 1..s.end - 1),
                    )),
                    ObjectKey::Expression(_) => None,
                };
                if let Some((name, Some(span))) = name {
                    if keys::is_token_key(&name) {
                        push(text, &name, span, value.expr(), reader, sites);
                    }
                }
                walk_expression(text, value.expr(), reader, sites);
            }
        }
        Expression::Array(array) => {
            for element in array.iter() {
                walk_expression(text, element, reader, sites);
            }
        }
        Expression::FuncCall(call) => {
            let name = call.name.name.as_str();
            // A templatefile's variables are read by the template, under their own names.
            let reader = if name == "templatefile" {
                Reader::unknown("a templatefile variable: the template reads it by this name")
            } else {
                reader.clone()
            };
            for argument in call.args.iter() {
                walk_expression(text, argument, &reader, sites);
            }
        }
        _ => {}
    }
}

/// `{ name = "delegateToken", value = … }` in the list form of `set`.
fn helm_set_object(text: &str, object: &Object, reader: &Reader, sites: &mut Vec<Site>) {
    let get = |wanted: &str| {
        object.iter().find_map(|(key, value)| match key {
            ObjectKey::Ident(ident) if ident.as_str() == wanted => Some(value.expr()),
            _ => None,
        })
    };
    if let (Some(name), Some(value)) = (get("name"), get("value")) {
        helm_set(text, name, value, reader, sites);
    }
}

/// A helm value path whose last segment is a token key (`delegateToken`,
/// `harness-delegate-ng.accountSecret`): the key span is that segment inside the string.
/// A path through a `harness-delegate*` sub-chart is the delegate's, whatever the chart.
fn helm_set(
    text: &str,
    name: &Expression,
    value: &Expression,
    reader: &Reader,
    sites: &mut Vec<Site>,
) {
    let Expression::String(path) = name else {
        return;
    };
    let Some(span) = path.span() else {
        return;
    };
    let last = path.value().rsplit('.').next().unwrap_or_default();
    if !keys::is_token_key(last) {
        return;
    }
    let reader = if path.value().starts_with("harness-delegate") {
        Reader::Delegate
    } else {
        reader.clone()
    };
    let end = span.end - 1;
    push(text, last, end - last.len()..end, value, &reader, sites);
}

fn push(
    text: &str,
    key: &str,
    key_span: Span,
    value: &Expression,
    reader: &Reader,
    sites: &mut Vec<Site>,
) {
    let Some(span) = value.span() else {
        return;
    };
    let (value_span, classified, limit) = match value {
        Expression::String(string) => {
            let inner = span.start + 1..span.end - 1;
            let limit = Limit::refused_unless(
                text[inner.clone()] == **string,
                "the value uses escapes: write the token without backslashes",
            );
            (inner, token::classify(string), limit)
        }
        Expression::StringTemplate(_)
        | Expression::Variable(_)
        | Expression::Traversal(_)
        | Expression::FuncCall(_)
        | Expression::Conditional(_) => (span.start..span.start, Value::Reference, None),
        _ => return,
    };
    let site = Site::new(key, key_span, value_span, classified)
        .with_limit(limit)
        .with_reader(reader.clone());
    sites.push(site);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::token::Kind;

    const HEX: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn tfvars_module_arguments_and_references() {
        let text = format!(
            "delegate_token = \"{HEX}\"\nmodule \"delegate\" {{\n  source = \"harness/delegate/kubernetes\"\n  account_secret = \"{HEX}\"\n  upgrader = {{ delegate_token = var.upgrader_token }}\n}}\nlocals {{\n  delegate_token = \"${{var.t}}\"\n}}\n"
        );
        let sites = scan(&text).unwrap();
        let found: Vec<(&str, Kind)> = sites.iter().map(|s| (&*s.key, s.value.kind())).collect();
        assert_eq!(
            found,
            [
                ("delegate_token", Kind::Literal),
                ("account_secret", Kind::Literal),
                ("delegate_token", Kind::Reference),
                ("delegate_token", Kind::Reference),
            ]
        );
        assert_eq!(&text[sites[1].value_span.clone()], HEX);
    }

    #[test]
    fn helm_release_set_blocks_and_list_form() {
        let text = format!(
            "resource \"helm_release\" \"delegate\" {{\n  set_sensitive {{\n    name  = \"delegateToken\"\n    value = \"{HEX}\"\n  }}\n  set = [\n    {{ name = \"harness-delegate-ng.accountSecret\", value = \"{HEX}\" }},\n    {{ name = \"replicas\", value = \"2\" }},\n  ]\n}}\n"
        );
        let sites = scan(&text).unwrap();
        assert_eq!(sites.len(), 2);
        assert_eq!(&text[sites[0].key_span.clone()], "delegateToken");
        assert_eq!(&text[sites[1].key_span.clone()], "accountSecret");
        assert!(sites.iter().all(|s| &text[s.value_span.clone()] == HEX));
    }

    #[test]
    fn heredoc_values_and_function_arguments_are_scanned_in_place() {
        let text = format!(
            "resource \"helm_release\" \"d\" {{\n  chart = \"harness-delegate-ng\"\n  values = [<<-EOT\n    accountSecret: {HEX}\n    upgrader:\n      enabled: true\n  EOT\n  , yamlencode({{ delegateToken = \"{HEX}\" }})]\n}}\nmodule \"x\" {{\n  source = \"./other\"\n  values = templatefile(\"v.tpl\", {{ account_secret = \"{HEX}\" }})\n}}\n"
        );
        let sites = scan(&text).unwrap();
        let found: Vec<(&str, &str, bool)> = sites
            .iter()
            .map(|s| {
                (
                    &*s.key,
                    &text[s.value_span.clone()],
                    s.reader == Reader::Delegate,
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                ("accountSecret", HEX, true),
                ("delegateToken", HEX, true),
                ("account_secret", HEX, false),
            ]
        );
    }

    #[test]
    fn variable_defaults_are_named_by_the_label_and_module_arguments_keep_their_names() {
        let text = format!(
            "variable \"account_secret\" {{\n  default = \"{HEX}\"\n}}\nvariable \"region\" {{\n  default = \"eu\"\n}}\nmodule \"d\" {{\n  source = \"harness/harness-delegate/kubernetes\"\n  account_secret = \"{HEX}\"\n}}\n"
        );
        let sites = scan(&text).unwrap();
        assert_eq!(sites.len(), 2);
        assert_eq!(&text[sites[0].key_span.clone()], "account_secret");
        assert_eq!(
            sites[0].key_span.start,
            text.find("account_secret").unwrap()
        );
        assert_eq!(&text[sites[0].value_span.clone()], HEX);
        assert_eq!(sites[0].reader, Reader::unknown(VARIABLE_NAME));
        assert_eq!(sites[1].reader, Reader::unknown(MODULE_ARGUMENT));
    }

    #[test]
    fn sites_carry_their_resource_or_module_address() {
        let text = "resource \"helm_release\" \"delegate\" {\n  set {\n    name  = \"delegateToken\"\n    value = \"0123456789abcdef0123456789abcdef\"\n  }\n}\nmodule \"ng\" {\n  delegate_token = \"x\"\n}\ndelegate_token = \"y\"\n";
        let owners: Vec<Option<Owner>> = scan(text)
            .unwrap()
            .into_iter()
            .map(|s| s.owner.as_deref().cloned())
            .collect();
        assert_eq!(
            owners,
            [
                Some(Owner::Terraform("helm_release.delegate".to_owned())),
                Some(Owner::Terraform("module.ng".to_owned())),
                None,
            ]
        );
    }
}
