//! JSON scanner: ECS task definitions (`containerDefinitions[].environment[]` name/value
//! pairs in any key order, `secrets[]` `valueFrom` ARNs as references), CloudFormation's
//! `Name`/`Value` spelling, and plain `"delegateToken": "…"` keys. Parsed with
//! `jsonc-parser`, in strict JSON mode, which gives byte ranges for every node. Terraform
//! state is JSON too: its sites are reported, never rewritten.

use super::ParseError;
use crate::keys;
use crate::site::{Limit, Site, Span};
use crate::token;
use jsonc_parser::ast::{Object, ObjectPropName, StringLit, Value as Json};
use jsonc_parser::common::Ranged;
use jsonc_parser::{CollectOptions, ParseOptions};

pub fn scan(text: &str) -> Result<Vec<Site>, ParseError> {
    let strict = ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    // A BOM is not JSON, but editors write one; spans stay offsets into the whole file.
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let parsed = jsonc_parser::parse_to_ast(&text[bom..], &CollectOptions::default(), &strict)
        .map_err(|error| ParseError {
            offset: bom + error.range().start,
            message: error.kind().to_string(),
        })?;
    let mut sites = Vec::new();
    if let Some(root) = &parsed.value {
        visit(&text[bom..], root, &mut sites);
    }
    for site in &mut sites {
        site.key_span = site.key_span.start + bom..site.key_span.end + bom;
        site.value_span = site.value_span.start + bom..site.value_span.end + bom;
        site.location += bom;
    }
    super::mark_conflicts(&mut sites);
    Ok(sites)
}

/// Terraform state: the same sites, each reported and never rewritten.
pub fn scan_state(text: &str) -> Result<Vec<Site>, ParseError> {
    let mut sites = scan(text)?;
    for site in &mut sites {
        site.limit = Some(Limit::ReportOnly(
            "Terraform state: refresh it with terraform apply after rotating the configuration; rekey never rewrites state".to_owned(),
        ));
    }
    Ok(sites)
}

fn visit(text: &str, node: &Json, sites: &mut Vec<Site>) {
    match node {
        Json::Object(object) => {
            env_entry(text, object, sites);
            for property in &object.properties {
                if let ObjectPropName::String(name) = &property.name {
                    if keys::is_token_key(&name.value) {
                        if let Json::StringLit(value) = &property.value {
                            sites.push(string_site(text, &name.value, inner(name), value));
                        }
                    }
                }
                visit(text, &property.value, sites);
            }
        }
        Json::Array(array) => {
            for element in &array.elements {
                visit(text, element, sites);
            }
        }
        _ => {}
    }
}

/// `{"name": "DELEGATE_TOKEN", "value": "…"}` (or `valueFrom`: a reference), any key order,
/// ECS or CloudFormation spelling; also Helm `set` entries as Terraform state records them.
fn env_entry(text: &str, object: &Object, sites: &mut Vec<Site>) {
    let get = |names: [&str; 2]| {
        object.properties.iter().find_map(|p| match &p.name {
            ObjectPropName::String(n) if names.contains(&n.value.as_ref()) => Some(&p.value),
            _ => None,
        })
    };
    let Some(Json::StringLit(name)) = get(["name", "Name"]) else {
        return;
    };
    // An env name, or a Helm value path ending in a token key (`set` entries in state).
    let key = name.value.rsplit('.').next().unwrap_or_default();
    if !keys::is_token_key(key) {
        return;
    }
    let name_span = inner(name);
    let key_span = name_span.end - key.len()..name_span.end;
    if let Some(Json::StringLit(value)) = get(["value", "Value"]) {
        sites.push(string_site(text, key, key_span, value));
    } else if let Some(reference) = get(["valueFrom", "ValueFrom"]) {
        let at = reference.range().start;
        sites.push(Site::reference(key, key_span, at));
    }
}

fn string_site(text: &str, key: &str, key_span: Span, value: &StringLit) -> Site {
    let value_span = inner(value);
    // An escaped value would need re-escaping to rewrite: refuse rather than guess.
    let limit = Limit::refused_unless(
        text[value_span.clone()] == *value.value,
        "the value uses JSON escapes: write the token without backslashes",
    );
    Site::new(key, key_span, value_span, token::classify(&value.value)).with_limit(limit)
}

fn inner(string: &StringLit) -> Span {
    string.range.start + 1..string.range.end - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Kind;

    const HEX: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn ecs_environment_in_any_key_order_and_secrets_as_references() {
        let text = format!(
            r#"{{"family":"delegate","containerDefinitions":[{{"environment":[{{"value":"{HEX}","name":"ACCOUNT_SECRET"}},{{"name":"DELEGATE_NAME","value":"ecs"}}],"secrets":[{{"name":"UPGRADER_TOKEN","valueFrom":"arn:aws:secretsmanager:eu-west-1:1:secret:t"}}]}}]}}"#
        );
        let sites = scan(&text).unwrap();
        assert_eq!(sites.len(), 2);
        assert_eq!(&text[sites[0].value_span.clone()], HEX);
        assert_eq!(&text[sites[0].key_span.clone()], "ACCOUNT_SECRET");
        assert_eq!(sites[1].value.kind(), Kind::Reference);
    }

    #[test]
    fn plain_keys_cloudformation_and_escapes() {
        let text = format!(
            "{{\n  \"delegateToken\": \"{HEX}\",\n  \"Environment\": [{{ \"Name\": \"DELEGATE_TOKEN\", \"Value\": \"\\u0030{}\" }}]\n}}\n",
            &HEX[1..]
        );
        let sites = scan(&text).unwrap();
        assert_eq!(sites.len(), 2);
        assert_eq!(sites[0].limit, None);
        assert!(matches!(sites[1].limit, Some(Limit::Refused(_))));
        assert_eq!(
            sites[1].value.kind(),
            Kind::Literal,
            "escaped, but still the token"
        );
    }

    #[test]
    fn strict_json_rejects_comments_with_an_offset() {
        let error = scan("{\n  // no\n  \"delegateToken\": \"x\"\n}").unwrap_err();
        assert_eq!(error.offset, 4);
    }
}
