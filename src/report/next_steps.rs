//! What rekey tells the user to do after a rotation: the files of the rest of the
//! repository that still hold the old token (a rotation of some paths), with the command
//! that rotates them, and the numbered steps from the push to the revocation. Revoking is
//! advised only when nothing in the repository holds the old token any more.

use super::scan::plural;
use crate::model::token::Fingerprint;
use crate::rotate::rotation::{default_branch, Applied, Rotation, TokenSource};
use std::collections::BTreeSet;

/// How many files outside the rotated paths are named before the rest are counted.
const LISTED: usize = 20;

/// A word of a suggested command, quoted for a POSIX shell when it needs to be.
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./:=@%+,-".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The option that gives the new token the way the user's command gave it.
fn token_option(source: &TokenSource) -> String {
    match source {
        TokenSource::Env(name) => format!("--new-token-env {}", shell_word(name)),
        TokenSource::File(path) => format!("--new-token-file {}", shell_word(path)),
        TokenSource::Stdin => "--new-token-stdin".to_owned(),
        TokenSource::Harness(name) => format!("--new-token-harness {}", shell_word(name)),
    }
}

/// The tokens the rotation replaced that the rest of the repository still holds.
pub fn still_held(rotation: &Rotation) -> BTreeSet<Fingerprint> {
    rotation
        .outside
        .as_ref()
        .map(|outside| outside.still_held())
        .unwrap_or_default()
}

/// Whether the repository may still hold a token the rotation replaced: held, or not
/// judged, outside the rotated paths.
pub fn unfinished(rotation: &Rotation) -> bool {
    rotation
        .outside
        .as_ref()
        .is_some_and(|outside| !outside.holders.is_empty() || !outside.unjudged.is_empty())
}

/// The command that rotates the rest of the repository in the rotation's mode: from the
/// repository's top (the files already rotated are left alone), and with `--commit` on a
/// branch of its own stacked on the one just made.
pub fn rotate_rest_command(rotation: &Rotation) -> Option<String> {
    let outside = rotation.outside.as_ref()?;
    let held = outside.still_held();
    if held.is_empty() {
        return None;
    }
    let mut command = format!("rekey rotate {}", token_option(&rotation.source));
    for fingerprint in &held {
        command.push_str(&format!(" --only {fingerprint}"));
    }
    match &rotation.applied {
        Applied::DryRun => {}
        Applied::Written => command.push_str(" --write"),
        Applied::Committed { branch, .. } => command.push_str(&format!(
            " --commit --base {} --branch {}",
            shell_word(branch),
            shell_word(&format!("{branch}-rest"))
        )),
        Applied::NotCommitted => command.push_str(&format!(
            " --commit --branch {}-rest",
            default_branch(&rotation.plan.new)
        )),
    }
    command.push(' ');
    command.push_str(&shell_word(&outside.top));
    Some(command)
}

/// The files outside the rotated paths that still hold a replaced token (or could not be
/// judged), and the command that rotates them.
pub fn outside(rotation: &Rotation) -> String {
    let Some(outside) = &rotation.outside else {
        return String::new();
    };
    let mut out = String::new();
    let held = outside.still_held();
    if !held.is_empty() {
        let tokens: Vec<&str> = held.iter().map(Fingerprint::as_str).collect();
        out.push_str(&format!(
            "Not rotated: outside the rotated paths, {} of the repository still {} {}:\n",
            plural(outside.holders.len(), "file"),
            if outside.holders.len() == 1 {
                "holds"
            } else {
                "hold"
            },
            tokens.join(", ")
        ));
        for holder in outside.holders.iter().take(LISTED) {
            out.push_str(&format!("  {}", holder.path));
            if held.len() > 1 {
                let tokens: Vec<&str> = holder.tokens.iter().map(Fingerprint::as_str).collect();
                out.push_str(&format!(" ({})", tokens.join(", ")));
            }
            out.push('\n');
        }
        if outside.holders.len() > LISTED {
            out.push_str(&format!("  and {} more\n", outside.holders.len() - LISTED));
        }
        if let Some(command) = rotate_rest_command(rotation) {
            out.push_str(&format!("Rotate them too, before revoking it: {command}\n"));
        }
    }
    if !outside.unjudged.is_empty() {
        out.push_str(&format!(
            "Not judged outside the rotated paths, so they may hold it too: {}\n",
            outside.unjudged.join(", ")
        ));
    }
    out
}

/// Where a `--commit` rotation went, and the rest of the rotation: review, roll out, then
/// revoke, or rotate the rest of the repository first.
pub fn committed(branch: &str, commit: &str, rotation: &Rotation) -> String {
    let mut out = format!(
        "Committed {commit} on new branch {branch}.\n\
         Next:\n  \
         1. git push origin {branch}, then open a pull request (merge request) from it.\n"
    );
    if unfinished(rotation) {
        out.push_str(&roll_out());
        out.push_str(
            "  3. Rotate the files listed above first (the command above). Revoke the old token only once\n     \
             nothing in the repository holds it: rekey lists that step when a rotation leaves nothing behind.\n",
        );
    } else {
        out.push_str(&after_review(&rotation.plan.rotated));
    }
    out
}

/// Step 2: roll the new token out to the delegates.
fn roll_out() -> String {
    "  2. Once it is merged and deployed, restart or re-apply the delegates so they read the new token\n     \
     (kubectl apply / helm upgrade / docker run again), and check they reconnect in Harness.\n"
        .to_owned()
}

/// The steps after the review, numbered from 2: roll out, revoke `rotated` in Harness,
/// record the revocation.
pub fn after_review(rotated: &BTreeSet<Fingerprint>) -> String {
    let mut out = roll_out();
    if !rotated.is_empty() {
        let list: Vec<&str> = rotated.iter().map(Fingerprint::as_str).collect();
        out.push_str(&format!(
            "  3. Revoke the old token ({}) in Harness (Delegates > Tokens, where it was issued).\n  \
             4. rekey revoke {}, so rekey check fails wherever it is still found.\n",
            list.join(", "),
            list.join(" ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_a_shell_would_split_or_expand_are_quoted() {
        assert_eq!(
            shell_word("fixtures/new-token.txt"),
            "fixtures/new-token.txt"
        );
        assert_eq!(shell_word("../.."), "../..");
        assert_eq!(shell_word("my token.txt"), "'my token.txt'");
        assert_eq!(shell_word("it's$HOME"), r"'it'\''s$HOME'");
        assert_eq!(shell_word(""), "''");
    }
}
