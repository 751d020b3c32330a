//! Terraform scanner (`.tf`, `.tfvars`): `delegate_token = "…"` attributes at any depth
//! (tfvars, module arguments, objects), and `helm_release` values set through `set` /
//! `set_sensitive` blocks or the list form `set = [{ name = "delegateToken", value = … }]`.
//! `var.x`, `local.x`, resource attributes, function calls and `"${…}"` interpolations are
//! references. Parsed with `hcl-edit`, which keeps the byte span of every expression.

use super::ParseError;
use crate::keys;
use crate::site::{Limit, Site, Span};
use crate::token::{self, Value};
use hcl_edit::expr::{Expression, Object, ObjectKey};
use hcl_edit::structure::{Body, Structure};
use hcl_edit::Span as _;

pub fn scan(text: &str) -> Result<Vec<Site>, ParseError> {
    let body = hcl_edit::parser::parse_body(text).map_err(|error| ParseError {
        offset: error.location().offset(),
        message: error.message().to_string(),
    })?;
    let mut sites = Vec::new();
    walk_body(text, &body, &mut sites);
    super::mark_conflicts(&mut sites);
    Ok(sites)
}

fn walk_body(text: &str, body: &Body, sites: &mut Vec<Site>) {
    for structure in body.iter() {
        match structure {
            Structure::Attribute(attribute) => {
                let name = attribute.key.as_str();
                if keys::is_token_key(name) {
                    if let Some(span) = attribute.key.span() {
                        push(text, name, span, &attribute.value, sites);
                    }
                }
                if matches!(name, "set" | "set_sensitive") {
                    if let Expression::Array(items) = &attribute.value {
                        for item in items.iter() {
                            if let Expression::Object(object) = item {
                                helm_set_object(text, object, sites);
                            }
                        }
                    }
                }
                walk_expression(text, &attribute.value, sites);
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
                    helm_set(text, name, value, sites);
                }
            }
            Structure::Block(block) => walk_body(text, &block.body, sites),
        }
    }
}

/// Objects at any depth: `{ delegate_token = "…" }` in module arguments and tfvars maps.
fn walk_expression(text: &str, expression: &Expression, sites: &mut Vec<Site>) {
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
                        push(text, &name, span, value.expr(), sites);
                    }
                }
                walk_expression(text, value.expr(), sites);
            }
        }
        Expression::Array(array) => {
            for element in array.iter() {
                walk_expression(text, element, sites);
            }
        }
        _ => {}
    }
}

/// `{ name = "delegateToken", value = … }` in the list form of `set`.
fn helm_set_object(text: &str, object: &Object, sites: &mut Vec<Site>) {
    let get = |wanted: &str| {
        object.iter().find_map(|(key, value)| match key {
            ObjectKey::Ident(ident) if ident.as_str() == wanted => Some(value.expr()),
            _ => None,
        })
    };
    if let (Some(name), Some(value)) = (get("name"), get("value")) {
        helm_set(text, name, value, sites);
    }
}

/// A helm value path whose last segment is a token key (`delegateToken`,
/// `harness-delegate-ng.accountSecret`): the key span is that segment inside the string.
fn helm_set(text: &str, name: &Expression, value: &Expression, sites: &mut Vec<Site>) {
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
    let end = span.end - 1;
    push(text, last, end - last.len()..end, value, sites);
}

fn push(text: &str, key: &str, key_span: Span, value: &Expression, sites: &mut Vec<Site>) {
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
    sites.push(Site::new(key, key_span, value_span, classified).with_limit(limit));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Kind;

    const HEX: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn tfvars_module_arguments_and_references() {
        let text = format!(
            "delegate_token = \"{HEX}\"\nmodule \"delegate\" {{\n  source = \"harness/delegate/kubernetes\"\n  account_secret = \"{HEX}\"\n  upgrader = {{ delegate_token = var.upgrader_token }}\n}}\nlocals {{\n  delegate_token = \"${{var.t}}\"\n}}\n"
        );
        let sites = scan(&text).unwrap();
        let found: Vec<(&str, Kind)> = sites
            .iter()
            .map(|s| (s.key.as_str(), s.value.kind()))
            .collect();
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
}
