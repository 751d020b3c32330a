//! The key names under which a delegate token is stored, which of them are legacy, and the
//! current name each legacy one migrates to:
//!
//! | meaning | current | legacy |
//! | --- | --- | --- |
//! | env, docker, ECS, compose, Secret keys | `DELEGATE_TOKEN` | `ACCOUNT_SECRET` |
//! | upgrader token (same value) | `UPGRADER_TOKEN` | — |
//! | Helm values, shell-delegate configs, `start.sh` | `delegateToken` | `accountSecret` |
//! | Terraform variables, tfvars | `delegate_token` | `account_secret` |
//!
//! Scanners ask this module whether a key matters; the prefilter searches for the same names.

use aho_corasick::AhoCorasick;
use std::sync::LazyLock;

/// Every key name that can hold a delegate token, in every format.
pub const ALL: [&str; 7] = [
    "DELEGATE_TOKEN",
    "UPGRADER_TOKEN",
    "ACCOUNT_SECRET",
    "delegateToken",
    "accountSecret",
    "delegate_token",
    "account_secret",
];

/// The length of the shortest key name: a text shorter than this holds none.
pub const SHORTEST: usize = {
    let mut shortest = usize::MAX;
    let mut index = 0;
    while index < ALL.len() {
        if ALL[index].len() < shortest {
            shortest = ALL[index].len();
        }
        index += 1;
    }
    shortest
};

/// Environment-variable style names: env lists, Secret keys, compose, docker `-e`.
pub fn is_env_name(name: &str) -> bool {
    matches!(name, "DELEGATE_TOKEN" | "UPGRADER_TOKEN" | "ACCOUNT_SECRET")
}

/// Any key name in [`ALL`].
pub fn is_token_key(name: &str) -> bool {
    ALL.contains(&name)
}

/// Whether a name, compared without case and separators (`_`, `-`, `.`), ends in one of the
/// token names (`HARNESS_DELEGATE_TOKEN`, `harnessAccountSecret`, `delegate-token`): what
/// a reader of live state treats as the token's name, whatever convention wrote it.
pub fn names_a_token(name: &str) -> bool {
    let folded: String = name
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | '.'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    ["delegatetoken", "accountsecret", "upgradertoken"]
        .iter()
        .any(|core| folded.ends_with(core))
}

/// The current name a legacy key migrates to, or `None` for a current key.
pub fn current_name(legacy: &str) -> Option<&'static str> {
    match legacy {
        "ACCOUNT_SECRET" => Some("DELEGATE_TOKEN"),
        "accountSecret" => Some("delegateToken"),
        "account_secret" => Some("delegate_token"),
        _ => None,
    }
}

/// Keys that only a delegate's configuration holds (the delegate chart's values, the shell
/// delegate's config files, a delegate's env; camelCase, snake_case as TOML and Terraform
/// write them, or env style): a token key among them is read by a delegate. `accountId` is
/// not one: every Harness integration has an account id.
pub fn is_delegate_sibling(name: &str) -> bool {
    matches!(
        name,
        "delegateName"
            | "managerEndpoint"
            | "managerUrl"
            | "delegateDockerImage"
            | "delegate_name"
            | "manager_endpoint"
            | "MANAGER_HOST_AND_PORT"
            | "DELEGATE_NAME"
    )
}

/// The account id beside a token: a delegate's setting only where something else in the
/// file shows a delegate (see [`is_delegate_sibling`]).
pub fn is_account_id(name: &str) -> bool {
    matches!(name, "accountId" | "account_id" | "ACCOUNT_ID")
}

/// A container image of the Harness delegate: `harness/delegate:…`,
/// `harness/delegate-immutable`, a mirror such as `registry.example.com/harness/delegate`, or
/// a repository named `harness-delegate`.
pub fn is_delegate_image(image: &str) -> bool {
    let image = image.split('@').next().unwrap_or_default();
    let (registry_path, last) = image.rsplit_once('/').unwrap_or(("", image));
    let repository = last.split(':').next().unwrap_or_default();
    repository.starts_with("harness-delegate")
        || (repository.starts_with("delegate") && registry_path.contains("harness"))
}

/// A reference to the Harness delegate Helm chart (`harness-delegate/harness-delegate-ng`,
/// `harness-delegate-ng`, an OCI URL ending in it).
pub fn is_delegate_chart(chart: &str) -> bool {
    chart
        .rsplit('/')
        .next()
        .is_some_and(|name| name.starts_with("harness-delegate"))
}

/// The key names as a SIMD multi-literal searcher (Teddy) where the processor has one,
/// else an Aho-Corasick automaton: every file read goes through this search.
enum Markers {
    Packed(aho_corasick::packed::Searcher),
    Automaton(AhoCorasick),
}

static MARKERS: LazyLock<Markers> = LazyLock::new(|| {
    let mut builder = aho_corasick::packed::Config::new().builder();
    match builder.extend(ALL).build() {
        Some(searcher) => Markers::Packed(searcher),
        None => Markers::Automaton(AhoCorasick::new(ALL).expect("key names are valid patterns")),
    }
});

/// True when `bytes` contains any key name: only such files are parsed.
pub fn has_marker(bytes: &[u8]) -> bool {
    match &*MARKERS {
        Markers::Packed(searcher) => searcher.find(bytes).is_some(),
        Markers::Automaton(automaton) => automaton.is_match(bytes),
    }
}

/// How many key names stand in `bytes`: about as many sites as a scanner can find there.
pub fn marker_count(bytes: &[u8]) -> usize {
    match &*MARKERS {
        Markers::Packed(searcher) => searcher.find_iter(bytes).count(),
        Markers::Automaton(automaton) => automaton.find_iter(bytes).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefilter_matches_key_names_only() {
        assert!(has_marker(b"x:\n  delegateToken: abc\n"));
        assert!(has_marker(b"- name: ACCOUNT_SECRET"));
        assert!(!has_marker(b"existingDelegateToken: my-secret\n"));
    }

    #[test]
    fn token_names_are_matched_without_case_separators_or_prefix() {
        for name in [
            "delegate_token",
            "HARNESS_DELEGATE_TOKEN",
            "harnessAccountSecret",
            "delegate-token",
            "UPGRADER_TOKEN",
        ] {
            assert!(names_a_token(name), "{name}");
        }
        for name in [
            "DELEGATE_NAME",
            "ACCOUNT_ID",
            "token",
            "delegateTokenSecret",
        ] {
            assert!(!names_a_token(name), "{name}");
        }
    }

    #[test]
    fn legacy_names_map_to_their_current_names() {
        assert_eq!(current_name("ACCOUNT_SECRET"), Some("DELEGATE_TOKEN"));
        assert_eq!(current_name("accountSecret"), Some("delegateToken"));
        assert_eq!(current_name("account_secret"), Some("delegate_token"));
        assert_eq!(current_name("DELEGATE_TOKEN"), None);
        assert!(is_token_key("UPGRADER_TOKEN"));
        assert!(!is_token_key("existingDelegateToken"));
        assert!(!is_env_name("delegateToken"));
    }

    #[test]
    fn delegate_images_and_charts() {
        for image in [
            "harness/delegate:25.10.87100",
            "harness/delegate",
            "harness/delegate-immutable:23.03.78904",
            "us-docker.pkg.dev/gar-prod-setup/harness-public/harness/delegate:25.10.87100",
            "registry.example.com/mirror/harness-delegate:1@sha256:abc",
        ] {
            assert!(is_delegate_image(image), "{image}");
        }
        for image in [
            "nginx:1.27",
            "example/delegate-proxy:1",
            "harness/upgrader:latest",
        ] {
            assert!(!is_delegate_image(image), "{image}");
        }
        assert!(is_delegate_chart("harness-delegate/harness-delegate-ng"));
        assert!(is_delegate_chart("harness-delegate-ng"));
        assert!(!is_delegate_chart("harness/harness"));
    }
}
