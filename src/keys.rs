//! The key names under which a delegate token is stored, which of them are legacy, and the
//! current name each legacy one migrates to (GUIDE §2, "Key names"). Scanners ask this module
//! whether a key matters; the prefilter searches for the same names.

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

/// Environment-variable style names: env lists, Secret keys, compose, docker `-e`.
pub fn is_env_name(name: &str) -> bool {
    matches!(name, "DELEGATE_TOKEN" | "UPGRADER_TOKEN" | "ACCOUNT_SECRET")
}

/// Any key name in [`ALL`].
pub fn is_token_key(name: &str) -> bool {
    ALL.contains(&name)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
