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
//! Projects name the token after their own conventions too (`harnessDelegateToken`,
//! `HARNESS_DELEGATE_TOKEN`, `harness_account_secret`): a key whose name, compared without
//! case and separators, ends in one of the three core stems is a *variant*, and so is a
//! name a project lists in its policy (`[keys] extra`, see [`Names`]). A variant is a site
//! only where its value is token-shaped, a key mention where it is a placeholder or empty,
//! and nothing otherwise ([`standing`]); it is never migrated.
//!
//! Scanners ask this module whether a key matters; the prefilter searches for the same names.

use crate::model::token::Value;
use aho_corasick::AhoCorasick;
use std::cell::RefCell;
use std::sync::{Arc, LazyLock};

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

/// The stems a variant ends in, folded (lowercase, without separators).
const STEMS: [&str; 3] = ["delegatetoken", "accountsecret", "upgradertoken"];

/// The Harness delegate chart's `existingDelegateToken` (and any prefixed form of it) names
/// a Secret, never a token: it ends in a stem, and is not a token key.
const SECRET_NAME: &str = "existingdelegatetoken";

fn is_separator(byte: u8) -> bool {
    matches!(byte, b'_' | b'-' | b'.')
}

/// `name` from its end, lowercase, separators left out: compared without allocating, since
/// scanners ask about every key of every file they parse.
fn folded_from_end(name: &str) -> impl Iterator<Item = u8> + '_ {
    name.bytes()
        .rev()
        .filter(|b| !is_separator(*b))
        .map(|b| b.to_ascii_lowercase())
}

fn folded_ends_with(name: &str, folded: &str) -> bool {
    let mut from_end = folded_from_end(name);
    folded.bytes().rev().all(|b| from_end.next() == Some(b))
}

/// `name` lowercase without separators: `HARNESS_DELEGATE_TOKEN` and `harnessDelegateToken`
/// both fold to `harnessdelegatetoken`.
pub fn fold(name: &str) -> String {
    name.bytes()
        .filter(|b| !is_separator(*b))
        .map(|b| char::from(b.to_ascii_lowercase()))
        .collect::<String>()
}

/// One of the seven core names in [`ALL`]: its behaviour (sites for every kind of value,
/// migration of the legacy ones) is the format's.
pub fn is_core(name: &str) -> bool {
    ALL.contains(&name)
}

/// A name beyond the core ones that names the token: folded, it ends in a stem (any
/// prefix: `harnessDelegateToken`, `HARNESS_DELEGATE_TOKEN`, `delegate-token`), or it is
/// one of the project's extra names; `existingDelegateToken` is not.
pub fn is_variant(name: &str) -> bool {
    if is_core(name) {
        return false;
    }
    let extra = with_installed(|names| {
        names
            .folded
            .iter()
            .any(|extra| folded_from_end(name).eq(extra.bytes().rev()))
    });
    extra
        || (!folded_ends_with(name, SECRET_NAME)
            && STEMS.iter().any(|stem| folded_ends_with(name, stem)))
}

/// Environment-variable style names: env lists, Secret keys, compose, docker `-e`. Beyond
/// the three core ones, any variant: environments are written in every case.
pub fn is_env_name(name: &str) -> bool {
    matches!(name, "DELEGATE_TOKEN" | "UPGRADER_TOKEN" | "ACCOUNT_SECRET") || is_variant(name)
}

/// Any key name in [`ALL`], or a variant: a key a scanner reads the value of.
pub fn is_token_key(name: &str) -> bool {
    is_core(name) || is_variant(name)
}

/// What a key and its value make of a site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// A site, as scanned.
    Site,
    /// A key mention: the name is there, the token is not.
    Mention,
    /// Not a site: a variant holding something other than a token (a Secret's name, a
    /// reference, a number), which a project's key name may as well mean.
    Nothing,
}

/// The one rule every scanner's sites pass: a core key (or any key that is no variant)
/// keeps its site whatever its value; a variant is a site only when its value is
/// token-shaped (32 hex, or base64 of it once or twice), a mention when it is a
/// placeholder or empty, and nothing otherwise.
pub fn standing(name: &str, value: &Value) -> Standing {
    if !is_variant(name) || value.is_token() {
        Standing::Site
    } else if matches!(value, Value::Placeholder | Value::Empty) {
        Standing::Mention
    } else {
        Standing::Nothing
    }
}

/// The key names a project adds in its policy (`[keys] extra`), matched as variants are:
/// without case and separators (`myToken` is also `MY_TOKEN` and `my-token`). A command
/// installs the names of the policy it runs under on the thread that scans ([`install`]);
/// the helpers that spread a scan over threads carry them over ([`installed`]).
#[derive(Debug, Default)]
pub struct Names {
    folded: Vec<String>,
    /// The names' spellings for the prefilter, searched without case.
    markers: Option<AhoCorasick>,
    /// The longest spelling, in bytes: how far a chunked search must overlap.
    longest: usize,
}

impl Names {
    pub fn new<S: AsRef<str>>(extra: &[S]) -> Names {
        let mut folded: Vec<String> = extra.iter().map(|name| fold(name.as_ref())).collect();
        folded.retain(|name| !name.is_empty());
        folded.sort();
        folded.dedup();
        let spellings: Vec<String> = extra.iter().flat_map(|n| spellings(n.as_ref())).collect();
        let markers = (!spellings.is_empty()).then(|| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&spellings)
                .expect("key names are valid patterns")
        });
        let longest = spellings.iter().map(String::len).max().unwrap_or(0);
        Names {
            folded,
            markers,
            longest,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.folded.is_empty()
    }
}

/// `name`'s words (split at separators and camelCase humps, lowercase) joined as projects
/// write them: together, and with each separator.
fn spellings(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words: Vec<String> = vec![String::new()];
    for (index, &c) in chars.iter().enumerate() {
        let before = index.checked_sub(1).map(|i| chars[i]);
        let after = chars.get(index + 1);
        let hump = c.is_ascii_uppercase()
            && before.is_some_and(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || (b.is_ascii_uppercase() && after.is_some_and(char::is_ascii_lowercase))
            });
        if (c.is_ascii() && is_separator(c as u8)) || hump {
            words.push(String::new());
        }
        if !(c.is_ascii() && is_separator(c as u8)) {
            words
                .last_mut()
                .expect("one word")
                .push(c.to_ascii_lowercase());
        }
    }
    words.retain(|word| !word.is_empty());
    let mut spellings: Vec<String> = ["", "_", "-", "."].map(|sep| words.join(sep)).to_vec();
    spellings.retain(|spelling| !spelling.is_empty());
    spellings.dedup();
    spellings
}

thread_local! {
    static INSTALLED: RefCell<Arc<Names>> = RefCell::new(Arc::default());
}

/// Makes `names` the project's extra key names for what this thread scans from now on.
pub fn install(names: Arc<Names>) {
    INSTALLED.with(|installed| *installed.borrow_mut() = names);
}

/// The extra key names installed on this thread: a helper that scans on other threads
/// installs them on each.
pub fn installed() -> Arc<Names> {
    INSTALLED.with(|installed| installed.borrow().clone())
}

/// `f` with this thread's extra key names installed on whichever thread runs it: work that
/// scans on other threads (a walk, blobs, verifying rewrites) is wrapped in it.
pub fn carried<T: ?Sized, R>(f: impl Fn(&T) -> R + Sync) -> impl Fn(&T) -> R + Sync {
    let names = installed();
    move |item| {
        install(names.clone());
        f(item)
    }
}

fn with_installed<R>(f: impl FnOnce(&Names) -> R) -> R {
    INSTALLED.with(|installed| f(&installed.borrow()))
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

/// What the prefilter searches for: each stem's two words as projects join them (together,
/// `_`, `-`, `.`) in lowercase, camelCase and shouting case, without the first letter so
/// that `Delegate…` and `delegate…` are one pattern. The core names are among them, and so
/// is every variant spelled in one of those cases; an unusual one (`DelegateTOKEN`) is
/// read only in a file that also holds another.
pub static MARKER_PATTERNS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut patterns = Vec::new();
    for (first, second) in [
        ("elegate", "token"),
        ("ccount", "secret"),
        ("pgrader", "token"),
    ] {
        let capitalized = format!("{}{}", second[..1].to_ascii_uppercase(), &second[1..]);
        for separator in ["", "_", "-", "."] {
            patterns.push(format!("{first}{separator}{second}"));
            patterns.push(format!("{first}{separator}{capitalized}"));
            patterns.push(format!("{first}{separator}{second}").to_ascii_uppercase());
        }
    }
    patterns
});

/// The length of the shortest marker, extra names included: a text shorter than this holds
/// no key name.
pub fn shortest_marker() -> usize {
    static CORE: LazyLock<usize> =
        LazyLock::new(|| MARKER_PATTERNS.iter().map(String::len).min().unwrap_or(0));
    let core = *CORE;
    with_installed(|names| match &names.markers {
        Some(markers) => core.min(markers.min_pattern_len()),
        None => core,
    })
}

/// The length of the longest marker, extra names included.
pub fn longest_marker() -> usize {
    let core = MARKER_PATTERNS.iter().map(String::len).max().unwrap_or(0);
    with_installed(|names| core.max(names.longest))
}

/// The markers as a SIMD multi-literal searcher (Teddy) where the processor has one,
/// else an Aho-Corasick automaton: every file read goes through this search.
enum Markers {
    Packed(aho_corasick::packed::Searcher),
    Automaton(AhoCorasick),
}

static MARKERS: LazyLock<Markers> = LazyLock::new(|| {
    let patterns = MARKER_PATTERNS.iter();
    let mut builder = aho_corasick::packed::Config::new().builder();
    match builder.extend(patterns.clone()).build() {
        Some(searcher) => Markers::Packed(searcher),
        None => {
            Markers::Automaton(AhoCorasick::new(patterns).expect("key names are valid patterns"))
        }
    }
});

/// True when `bytes` contains any key name: only such files are parsed.
pub fn has_marker(bytes: &[u8]) -> bool {
    let core = match &*MARKERS {
        Markers::Packed(searcher) => searcher.find(bytes).is_some(),
        Markers::Automaton(automaton) => automaton.is_match(bytes),
    };
    core || with_installed(|names| names.markers.as_ref().is_some_and(|m| m.is_match(bytes)))
}

/// How many key names stand in `bytes`: about as many sites as a scanner can find there.
pub fn marker_count(bytes: &[u8]) -> usize {
    let core = match &*MARKERS {
        Markers::Packed(searcher) => searcher.find_iter(bytes).count(),
        Markers::Automaton(automaton) => automaton.find_iter(bytes).count(),
    };
    core + with_installed(|names| {
        names
            .markers
            .as_ref()
            .map_or(0, |m| m.find_iter(bytes).count())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn prefilter_matches_core_names_and_variants() {
        assert!(has_marker(b"x:\n  delegateToken: abc\n"));
        assert!(has_marker(b"- name: ACCOUNT_SECRET"));
        for text in [
            "harnessDelegateToken: x",
            "HARNESS_DELEGATE_TOKEN=x",
            "harness-account-secret = x",
            "my.upgrader.token: x",
            "HarnessDelegatetoken: x",
            "harness_Delegate_Token: x",
        ] {
            assert!(has_marker(text.as_bytes()), "{text}");
        }
        assert!(!has_marker(b"token: abc\nsecret: def\ndelegate: x\n"));
        for name in ALL {
            assert!(has_marker(name.as_bytes()), "{name}");
            assert!(name.len() >= shortest_marker());
        }
    }

    #[test]
    fn variants_end_in_a_stem_without_case_separators_or_prefix() {
        for name in [
            "HARNESS_DELEGATE_TOKEN",
            "harnessDelegateToken",
            "harness_delegate_token",
            "harnessAccountSecret",
            "delegate-token",
            "harness.upgrader.token",
            "DelegateToken",
            "X_UPGRADER_TOKEN",
        ] {
            assert!(is_variant(name) && is_token_key(name), "{name}");
            assert!(is_env_name(name), "{name}");
        }
        for name in [
            "existingDelegateToken",
            "harnessExistingDelegateToken",
            "EXISTING_DELEGATE_TOKEN",
            "delegateTokenName",
            "harnessAccountSecretName",
            "DELEGATE_TOKEN_FILE",
            "token",
            "secret",
            "ACCOUNT_ID",
            "elegatetoken",
        ] {
            assert!(!is_token_key(name), "{name}");
        }
        // The core names keep their own meaning: not variants, and env names only as before.
        for name in ALL {
            assert!(
                is_core(name) && !is_variant(name) && is_token_key(name),
                "{name}"
            );
        }
        assert!(!is_env_name("delegateToken") && !is_env_name("account_secret"));
        assert_eq!(fold("HARNESS_Delegate-token.x"), "harnessdelegatetokenx");
    }

    #[test]
    fn a_variant_is_a_site_only_with_a_token() {
        let token = crate::model::token::classify(HEX);
        let other = crate::model::token::classify("my-secret");
        for (value, variant) in [
            (&token, Standing::Site),
            (&Value::Placeholder, Standing::Mention),
            (&Value::Empty, Standing::Mention),
            (&Value::Reference, Standing::Nothing),
            (&Value::Encrypted, Standing::Nothing),
            (&other, Standing::Nothing),
        ] {
            assert_eq!(
                standing("harnessDelegateToken", value),
                variant,
                "{value:?}"
            );
            assert_eq!(
                standing("delegateToken", value),
                Standing::Site,
                "{value:?}"
            );
            assert_eq!(standing("image", value), Standing::Site, "{value:?}");
        }
    }

    #[test]
    fn extra_names_are_matched_folded_on_the_thread_they_are_installed_on() {
        assert!(!is_token_key("myToken"));
        assert!(!has_marker(b"MY_TOKEN=x"));
        install(Arc::new(Names::new(&["myToken", "svc.key"])));
        for name in [
            "myToken", "MY_TOKEN", "my-token", "mytoken", "SVC_KEY", "svcKey",
        ] {
            assert!(is_variant(name), "{name}");
        }
        assert!(!is_token_key("myTokens") && !is_token_key("notmyToken"));
        for text in ["MY_TOKEN=x", "a:\n  my-token: x", "svc.key = 1"] {
            assert!(has_marker(text.as_bytes()), "{text}");
        }
        assert_eq!(marker_count(b"MY_TOKEN=1 myToken=2 DELEGATE_TOKEN=3"), 3);
        assert_eq!(shortest_marker(), "svckey".len());
        let elsewhere = std::thread::spawn(|| is_token_key("myToken"))
            .join()
            .unwrap();
        assert!(!elsewhere, "names are per thread until carried over");
        install(Arc::default());
        assert!(!is_token_key("myToken"));
    }

    #[test]
    fn spellings_split_camel_case_humps_and_separators() {
        assert_eq!(
            spellings("myAPIToken"),
            ["myapitoken", "my_api_token", "my-api-token", "my.api.token"]
        );
        assert_eq!(
            spellings("SVC_KEY"),
            ["svckey", "svc_key", "svc-key", "svc.key"]
        );
        assert_eq!(spellings("token"), ["token"]);
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
