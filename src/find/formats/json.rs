//! JSON scanner: ECS task definitions (`containerDefinitions[].environment[]` name/value
//! pairs in any key order, `secrets[]` `valueFrom` ARNs as references), CloudFormation's
//! `Name`/`Value` spelling, and plain `"delegateToken": "…"` keys. Parsed with
//! `jsonc-parser`, in strict JSON mode, which gives byte ranges for every node. Terraform
//! state is JSON too: its sites are reported, never rewritten, including those inside a
//! `helm_release`'s `values` strings (YAML or JSON held in a JSON string).
//!
//! An env entry is read by a delegate when its container definition's `image` is a delegate
//! image; a plain key when `delegateName` / `managerEndpoint` sit beside it (an `accountId`
//! alone is no evidence of a delegate).

use super::common::{self, ParseError};
use crate::model::keys;
use crate::model::site::{Elsewhere, Limit, Owner, Reader, Site, Span, Store};
use crate::model::token;
use jsonc_parser::ast::{Object, ObjectPropName, StringLit, Value as Json};
use jsonc_parser::common::Ranged;
use jsonc_parser::{CollectOptions, ParseOptions};
use std::sync::Arc;

pub fn scan(text: &str) -> Result<Vec<Site>, ParseError> {
    let mut sites = Vec::with_capacity(common::expected_sites(text));
    if let Some(root) = &parse(text)?.value {
        visit(text, root, None, None, &mut sites);
    }
    common::mark_conflicts(&mut sites);
    Ok(sites)
}

fn parse(text: &str) -> Result<jsonc_parser::ParseResult<'_>, ParseError> {
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
    jsonc_parser::parse_to_ast(text, &CollectOptions::default(), &strict).map_err(|error| {
        ParseError {
            offset: error.range().start,
            message: error.kind().to_string(),
        }
    })
}

/// Terraform state: the same sites, each reported and never rewritten.
pub fn scan_state(text: &str) -> Result<Vec<Site>, ParseError> {
    let mut sites = scan(text)?;
    if let Some(root) = &parse(text)?.value {
        embedded_values(text, root, &mut sites);
    }
    sites.sort_by_key(|site| site.location);
    for site in &mut sites {
        site.limit = Some(Limit::ReportOnly(
            "Terraform state: refresh it with terraform apply after rotating the configuration; rekey never rewrites state".into(),
        ));
    }
    Ok(sites)
}

/// `container`: who reads the env entries below (set inside a container definition).
/// A `helm_release`'s `values` as state records them: strings holding YAML (or JSON).
fn embedded_values(text: &str, node: &Json, sites: &mut Vec<Site>) {
    match node {
        Json::Object(object) => {
            for property in &object.properties {
                let is_values =
                    matches!(&property.name, ObjectPropName::String(n) if n.value == "values");
                match (&property.value, is_values) {
                    (Json::StringLit(string), true) => embedded_sites(text, string, sites),
                    (Json::Array(array), true) => {
                        for element in &array.elements {
                            if let Json::StringLit(string) = element {
                                embedded_sites(text, string, sites);
                            }
                        }
                    }
                    (value, _) => embedded_values(text, value, sites),
                }
            }
        }
        Json::Array(array) => {
            for element in &array.elements {
                embedded_values(text, element, sites);
            }
        }
        _ => {}
    }
}

/// The sites of a YAML document held in a JSON string, with spans mapped back through the
/// string's escapes to the file's bytes.
fn embedded_sites(text: &str, string: &StringLit, sites: &mut Vec<Site>) {
    if !keys::has_marker(string.value.as_bytes()) {
        return;
    }
    let raw = inner(string);
    let offsets = decoded_offsets(&text[raw.clone()]);
    let Ok(found) = super::yaml::scan(&string.value) else {
        return;
    };
    let map = |offset: usize| raw.start + offsets.get(offset).copied().unwrap_or(0);
    for mut site in found {
        site.key_span = map(site.key_span.start)..map(site.key_span.end);
        site.value_span = map(site.value_span.start)..map(site.value_span.end);
        site.location = map(site.location);
        sites.push(site);
    }
}

/// For each byte of a JSON string's decoded value (and one past its end), the offset of the
/// escape or character it came from in the raw string.
fn decoded_offsets(raw: &str) -> Vec<usize> {
    let bytes = raw.as_bytes();
    let mut offsets = Vec::with_capacity(raw.len() + 1);
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] != b'\\' {
            offsets.push(at);
            at += 1;
            continue;
        }
        let (decoded_len, escape_len) = match bytes.get(at + 1) {
            Some(b'u') => {
                let code =
                    u32::from_str_radix(raw.get(at + 2..at + 6).unwrap_or("0"), 16).unwrap_or(0);
                // A surrogate pair is two escapes for one four-byte character.
                if (0xd800..0xdc00).contains(&code) {
                    (4, 12)
                } else {
                    (char::from_u32(code).map_or(3, char::len_utf8), 6)
                }
            }
            _ => (1, 2),
        };
        offsets.extend(std::iter::repeat_n(at, decoded_len));
        at += escape_len;
    }
    offsets.push(bytes.len());
    offsets
}

/// `owner`: the task definition and container, or the inspected container, around `node`.
fn visit(
    text: &str,
    node: &Json,
    container: Option<&Reader>,
    owner: Option<&Owner>,
    sites: &mut Vec<Site>,
) {
    match node {
        Json::Object(object) => {
            let before = sites.len();
            let own_owner = object_owner(object, owner);
            let owner = own_owner.as_ref().or(owner);
            env_entry(text, object, container, sites);
            let image = property(object, ["image", "Image"]).and_then(|v| match v {
                Json::StringLit(image) => Some(image.value.as_ref()),
                _ => None,
            });
            let own = image.map(|image| {
                if keys::is_delegate_image(image) {
                    Reader::Delegate
                } else {
                    Reader::Unknown(
                        format!("the container's image {image} is not a Harness delegate image")
                            .into(),
                    )
                }
            });
            let beside_delegate_keys = object.properties.iter().any(|p| {
                matches!(&p.name, ObjectPropName::String(n) if keys::is_delegate_sibling(&n.value))
            });
            for property in &object.properties {
                if let ObjectPropName::String(name) = &property.name {
                    if keys::is_token_key(&name.value) {
                        if let Json::StringLit(value) = &property.value {
                            let reader = if beside_delegate_keys {
                                Reader::Delegate
                            } else {
                                Reader::unknown("not beside delegateName / managerEndpoint (an accountId alone is no evidence of a delegate), so not known to be a delegate's setting")
                            };
                            let site = string_site(text, &name.value, inner(name), value);
                            sites.push(site.with_reader(reader));
                        }
                    }
                }
                if is_docker_env(object, property) {
                    docker_env(text, &property.value, own.as_ref().or(container), sites);
                }
                visit(
                    text,
                    &property.value,
                    own.as_ref().or(container),
                    owner,
                    sites,
                );
            }
            // Most objects hold no site: the owner is copied only for those that do.
            if sites[before..].iter().any(|site| site.owner.is_none()) {
                let owner = owner.cloned().map(Arc::new);
                for site in &mut sites[before..] {
                    if site.owner.is_none() {
                        site.owner = owner.clone();
                    }
                }
            }
        }
        Json::Array(array) => {
            for element in &array.elements {
                visit(text, element, container, owner, sites);
            }
        }
        _ => {}
    }
}

fn string<'o>(object: &'o Object, names: [&str; 2]) -> Option<&'o str> {
    match property(object, names) {
        Some(Json::StringLit(value)) => Some(value.value.as_ref()),
        _ => None,
    }
}

/// Who `object` says it is: an ECS task definition (`family`), one of its container
/// definitions (`name` beside `image`), or a container as `docker inspect` prints it
/// (`Name` beside `Config`).
fn object_owner(object: &Object, around: Option<&Owner>) -> Option<Owner> {
    if let Some(family) = string(object, ["family", "Family"]) {
        if property(object, ["containerDefinitions", "ContainerDefinitions"]).is_some() {
            return Some(Owner::Ecs {
                family: Some(family.to_owned()),
                container: None,
            });
        }
    }
    if let Some(Json::Object(config)) = property(object, ["Config", "config"]) {
        if property(config, ["Env", "env"]).is_some() {
            return Some(Owner::Docker {
                name: string(object, ["Name", "name"])
                    .map(|n| n.trim_start_matches('/').to_owned()),
                image: string(config, ["Image", "image"]).map(str::to_owned),
            });
        }
    }
    match (
        around,
        string(object, ["name", "Name"]),
        string(object, ["image", "Image"]),
    ) {
        (Some(Owner::Ecs { family, .. }), Some(name), Some(_)) => Some(Owner::Ecs {
            family: family.clone(),
            container: Some(name.to_owned()),
        }),
        (None, Some(name), Some(_))
            if property(object, ["environment", "Environment"]).is_some() =>
        {
            Some(Owner::Ecs {
                family: None,
                container: Some(name.to_owned()),
            })
        }
        _ => None,
    }
}

/// `"Env": [...]` directly under a `docker inspect` container's `Config`.
fn is_docker_env(object: &Object, property: &jsonc_parser::ast::ObjectProp) -> bool {
    matches!(&property.name, ObjectPropName::String(n) if n.value == "Env")
        && self::property(object, ["Image", "image"]).is_some()
}

/// `docker inspect`'s `Config.Env`: `"KEY=value"` strings, split at the first `=`.
fn docker_env(text: &str, env: &Json, reader: Option<&Reader>, sites: &mut Vec<Site>) {
    let Json::Array(array) = env else { return };
    for element in &array.elements {
        let Json::StringLit(entry) = element else {
            continue;
        };
        let Some((name, value)) = entry.value.split_once('=') else {
            continue;
        };
        if !keys::is_env_name(name) {
            continue;
        }
        let raw = inner(entry);
        let key_span = raw.start..raw.start + name.len();
        let value_span = key_span.end + 1..raw.end;
        let limit = Limit::refused_unless(
            text[raw.clone()] == *entry.value,
            "the value uses JSON escapes: write the token without backslashes",
        );
        let reader = reader.cloned().unwrap_or_else(|| {
            Reader::unknown("the container's image is not a Harness delegate image")
        });
        sites.push(
            Site::new(name, key_span, value_span, token::classify(value))
                .with_limit(limit)
                .with_reader(reader),
        );
    }
}

fn property<'o, 'a>(object: &'o Object<'a>, names: [&str; 2]) -> Option<&'o Json<'a>> {
    object.properties.iter().find_map(|p| match &p.name {
        ObjectPropName::String(n) if names.contains(&n.value.as_ref()) => Some(&p.value),
        _ => None,
    })
}

/// `{"name": "DELEGATE_TOKEN", "value": "…"}` (or `valueFrom`: a reference), any key order,
/// ECS or CloudFormation spelling; also Helm `set` entries as Terraform state records them.
fn env_entry(text: &str, object: &Object, container: Option<&Reader>, sites: &mut Vec<Site>) {
    let get = |names: [&str; 2]| property(object, names);
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
    let reader = container.cloned().unwrap_or_else(|| {
        Reader::unknown(
            "a name/value entry outside a container definition with a Harness delegate image",
        )
    });
    if let Some(Json::StringLit(value)) = get(["value", "Value"]) {
        sites.push(string_site(text, key, key_span, value).with_reader(reader));
    } else if let Some(reference) = get(["valueFrom", "ValueFrom"]) {
        let at = reference.range().start;
        let mut site = Site::reference(key, key_span, at).with_reader(reader);
        if let Json::StringLit(arn) = reference {
            site = site.with_elsewhere(aws_location(&arn.value));
        }
        sites.push(site);
    }
}

/// An ECS `secrets[].valueFrom`: a Secrets Manager or SSM Parameter Store ARN (or a bare
/// parameter name, which ECS reads from SSM).
fn aws_location(arn: &str) -> Elsewhere {
    let how_to_rotate = if arn.contains(":secretsmanager:") {
        format!("put the new token in AWS Secrets Manager (aws secretsmanager put-secret-value --secret-id {arn} …), then restart the ECS service's tasks")
    } else {
        format!("put the new token in SSM Parameter Store (aws ssm put-parameter --overwrite --name {arn} …), then restart the ECS service's tasks")
    };
    Elsewhere {
        store: Store::Aws,
        location: arn.to_owned(),
        how_to_rotate,
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
    use crate::model::token::Kind;

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
    fn state_reports_tokens_inside_helm_release_values_strings() {
        let text = format!(
            "{{\"resources\":[{{\"type\":\"helm_release\",\"instances\":[{{\"attributes\":{{\"values\":[\"accountId: x\\n\\u00e9t\\u00e9: \\\"q\\\"\\ndelegateToken: {HEX}\\n\"]}}}}]}}]}}"
        );
        let sites = scan_state(&text).unwrap();
        assert_eq!(sites.len(), 1);
        assert_eq!(&text[sites[0].value_span.clone()], HEX);
        assert_eq!(&text[sites[0].key_span.clone()], "delegateToken");
        assert!(matches!(sites[0].limit, Some(Limit::ReportOnly(_))));
    }

    #[test]
    fn strict_json_rejects_comments_with_an_offset() {
        let error = scan("{\n  // no\n  \"delegateToken\": \"x\"\n}").unwrap_err();
        assert_eq!(error.offset, 4);
    }

    #[test]
    fn docker_inspect_env_strings_and_ecs_families_name_their_owner() {
        let text = format!(
            r#"[{{"Name":"/edge","Config":{{"Image":"harness/delegate:1","Env":["PATH=/bin","DELEGATE_TOKEN={HEX}"]}}}}]"#
        );
        let sites = scan(&text).unwrap();
        assert_eq!(sites.len(), 1);
        assert_eq!(&text[sites[0].key_span.clone()], "DELEGATE_TOKEN");
        assert_eq!(&text[sites[0].value_span.clone()], HEX);
        assert_eq!(sites[0].reader, Reader::Delegate);
        assert_eq!(
            sites[0].owner.as_deref().cloned(),
            Some(Owner::Docker {
                name: Some("edge".to_owned()),
                image: Some("harness/delegate:1".to_owned())
            })
        );
        let text = format!(
            r#"{{"taskDefinition":{{"family":"f","containerDefinitions":[{{"name":"c","image":"i","environment":[{{"name":"DELEGATE_TOKEN","value":"{HEX}"}}]}}]}}}}"#
        );
        let owner = scan(&text).unwrap().remove(0).owner.as_deref().cloned();
        assert_eq!(
            owner,
            Some(Owner::Ecs {
                family: Some("f".to_owned()),
                container: Some("c".to_owned())
            })
        );
    }
}
