//! The repository's policy file, `.rekey.toml`: which tokens are in force and which are
//! revoked (as fingerprints, safe to commit), per-rule levels and extra excludes. Reading it
//! and every edit rekey makes to it (`init`, `revoke`, a rotation updating `current`) go
//! through `toml_edit`, so the user's comments and layout survive byte for byte outside the
//! values that change.
//!
//! The format and its parsing are `file`'s; `extends` merges the files a policy includes;
//! `nested` adds a subdirectory's policy to the repository's; `discovery` finds the policy
//! a command runs under; `edit` changes a policy file.

mod discovery;
mod edit;
mod extends;
mod file;
mod nested;

pub use discovery::PolicyFile;
pub use edit::{exclude_edit, initial_text, revoke, rotate_current, ExcludeEdit};
pub use file::{read_text, Level, Policy, Rule, FILE_NAME};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::token::Fingerprint;
    use std::collections::BTreeSet;

    const A: &str = "sha256:ff25d2389ab7917a";
    const B: &str = "sha256:261a3b41c39377c6";
    const NEW: &str = "sha256:23e0bf16a8233d47";

    fn fp(text: &str) -> Fingerprint {
        Fingerprint::parse(text).unwrap()
    }

    #[test]
    fn parses_tokens_levels_and_excludes() {
        let text = format!("[tokens]\ncurrent = [\"{A}\"]\nrevoked = [\"{B}\"]\n[rules]\nlegacy-key = \"warning\"\n[scan]\nexclude = [\"vendor/**\"]\n");
        let policy = Policy::parse(&text, ".rekey.toml").unwrap();
        assert!(policy.current.contains(&fp(A)));
        assert!(policy.revoked.contains(&fp(B)));
        assert_eq!(policy.level(Rule::LegacyKey), Level::Warning);
        assert_eq!(policy.level(Rule::MalformedToken), Level::Warning);
        assert_eq!(policy.level(Rule::StaleToken), Level::Error);
        assert!(policy.excludes("vendor/charts/values.yaml"));
        assert!(!policy.excludes("k8s/values.yaml"));
    }

    #[test]
    fn malformed_files_name_the_line_and_column() {
        let error = Policy::parse("[tokens]\ncurrent = [\"sha256:ff\"\n", ".rekey.toml")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with(".rekey.toml:2:"), "{error}");
        let error = Policy::parse("[tokens]\ncurrent = [\"nope\"]\n", ".rekey.toml")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(".rekey.toml:2:11: entry 1 of [tokens] current is not a fingerprint")
                && !error.contains("nope"),
            "{error}"
        );
        let error = Policy::parse("[rules]\nstale = \"error\"\n", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("p.toml:2:9: unknown rule stale"),
            "{error}"
        );
    }

    #[test]
    fn revoke_moves_a_token_and_keeps_comments() {
        let text = format!("# policy\n[tokens]\ncurrent = [\n  \"{A}\", # prod\n  \"{B}\",\n]\nrevoked = [] # none yet\n");
        let updated = revoke(&text, ".rekey.toml", &[fp(A)]).unwrap();
        assert_eq!(
            updated,
            format!(
                "# policy\n[tokens]\ncurrent = [\n  \"{B}\",\n]\nrevoked = [\"{A}\"] # none yet\n"
            )
        );
        assert_eq!(revoke(&updated, ".rekey.toml", &[fp(A)]).unwrap(), updated);
    }

    #[test]
    fn rotation_replaces_the_old_fingerprint_in_place() {
        let text =
            format!("[tokens]\n# in force\ncurrent = [\n  \"{A}\",  # prod\n  \"{B}\",\n]\n");
        let rotated = BTreeSet::from([fp(A)]);
        let updated = rotate_current(&text, ".rekey.toml", &rotated, &fp(NEW))
            .unwrap()
            .unwrap();
        assert_eq!(
            updated,
            format!("[tokens]\n# in force\ncurrent = [\n  \"{NEW}\",  # prod\n  \"{B}\",\n]\n")
        );
        assert_eq!(
            rotate_current(&updated, ".rekey.toml", &rotated, &fp(NEW)).unwrap(),
            None
        );
        let added = rotate_current("[tokens]\ncurrent = []\n", "p", &rotated, &fp(NEW))
            .unwrap()
            .unwrap();
        assert_eq!(added, format!("[tokens]\ncurrent = [\"{NEW}\"]\n"));
    }

    #[test]
    fn extra_key_names_are_parsed_and_added_by_a_nested_policy() {
        let mut policy = Policy::parse("[keys]\nextra = [\"myToken\"]\n", "p").unwrap();
        let nested = Policy::parse("[keys]\nextra = [\"svc.key\"]\n", "sub/p").unwrap();
        policy.add_nested(nested, "sub/p", "p").unwrap();
        policy.install_key_names();
        let known = ["MY_TOKEN", "svcKey"].map(crate::model::keys::is_token_key);
        Policy::install_key_names_of(None);
        assert_eq!(known, [true, true]);
        assert!(!crate::model::keys::is_token_key("MY_TOKEN"));
        let error = Policy::parse("[keys]\nextra = \"myToken\"\n", "p")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("p:2:9: [keys] extra must be an array"),
            "{error}"
        );
    }

    #[test]
    fn initial_text_parses_back_to_its_tokens() {
        let current = BTreeSet::from([fp(A), fp(B)]);
        let policy = Policy::parse(&initial_text(&current), ".rekey.toml").unwrap();
        assert_eq!(policy.current, current);
        assert!(policy.revoked.is_empty());
    }

    #[test]
    fn an_exclude_pattern_names_its_path_and_nothing_else() {
        for path in [
            "delegate_task.json",
            "a[1]/b*.json",
            "x{y}?.env",
            "we\\ird.yaml",
        ] {
            let pattern = Policy::exclude_pattern(path);
            let text = format!(
                "[scan]\nexclude = [{}]\n",
                toml_edit::Value::from(pattern.as_str())
            );
            let policy = Policy::parse(&text, "p").unwrap();
            assert!(policy.excludes(path), "{path} by {pattern}");
            assert!(!policy.excludes(&format!("{path}x")), "{pattern}");
        }
        assert!(!Policy::parse("[scan]\nexclude = [\"a[1].json\"]\n", "p")
            .unwrap()
            .excludes("a[1].json"));
    }

    #[test]
    fn the_exclude_edit_follows_what_the_file_holds() {
        let new = ["broken.json".to_owned()];
        let append = ExcludeEdit::Append(vec![
            "[scan]".to_owned(),
            "exclude = [\"broken.json\"]".to_owned(),
        ]);
        assert_eq!(exclude_edit(None, &new), append);
        assert_eq!(exclude_edit(Some("[tokens]\ncurrent = []\n"), &new), append);
        assert_eq!(
            exclude_edit(Some("[tokens]\ncurrent = []\n\n[scan]\n"), &new),
            ExcludeEdit::UnderScan {
                line: 4,
                exclude: "exclude = [\"broken.json\"]".to_owned()
            }
        );
        let listed = "[tokens]\ncurrent = []\n[scan]\n# extra\nexclude = [\n  \"vendor/**\",\n]\n";
        assert_eq!(
            exclude_edit(Some(listed), &new),
            ExcludeEdit::Replace {
                line: 5,
                exclude: "exclude = [\"vendor/**\", \"broken.json\"]".to_owned()
            }
        );
        // Written as told, each edit parses and excludes the file.
        for (text, edit, vendor) in [
            ("[tokens]\n", exclude_edit(None, &new), false),
            (listed, exclude_edit(Some(listed), &new), true),
        ] {
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            match edit {
                ExcludeEdit::Append(more) => lines.extend(more),
                ExcludeEdit::UnderScan { line, exclude } => lines.insert(line, exclude),
                ExcludeEdit::Replace { line, exclude } => {
                    let end = (line - 1..lines.len())
                        .find(|&i| lines[i].trim_end().ends_with(']'))
                        .unwrap();
                    lines.splice(line - 1..=end, [exclude]);
                }
            }
            let policy = Policy::parse(&lines.join("\n"), "p").unwrap();
            assert!(policy.excludes("broken.json"));
            assert_eq!(policy.excludes("vendor/x"), vendor);
        }
    }
}
