//! What rekey tells the user to do after a rotation: the files of the rest of the
//! repository that still hold the old token (a rotation of some paths), with the command
//! that rotates them, and the numbered steps from the push to the revocation. Revoking is
//! advised only when nothing in the repository holds the old token any more.

use super::scan::plural;
use crate::judge::inventory::DelegateId;
use crate::judge::rollout::{How, Kubernetes, Rollout};
use crate::model::token::Fingerprint;
use crate::rotate::rotation::{default_branch, Applied, Rotation, TokenSource};
use serde::Serialize;
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

/// One thing to do after the rotation, as the text numbers it and JSON lists it.
#[derive(Clone, Debug, Serialize)]
pub struct NextStep {
    /// `push`, `restart`, `check-ready`, `rotate-rest`, `revoke-in-harness` or
    /// `record-revocation`.
    pub action: &'static str,
    /// The delegate a `restart` is for, as `rekey inventory` names it.
    pub delegate: Option<String>,
    /// The command that does it, when one does.
    pub command: Option<String>,
    /// What the step is, in words.
    pub text: String,
}

impl NextStep {
    fn new(action: &'static str, command: Option<String>, text: String) -> NextStep {
        NextStep {
            action,
            delegate: None,
            command,
            text,
        }
    }
}

/// The steps that finish a rotation written or committed: push (a commit), make each
/// delegate read the new token, then either rotate the rest of the repository or prove
/// the old token unused, revoke it in Harness and record that. None after a dry run.
pub fn steps(rotation: &Rotation) -> Vec<NextStep> {
    let mut steps = Vec::new();
    match &rotation.applied {
        Applied::DryRun | Applied::NotCommitted => return steps,
        Applied::Written => {}
        Applied::Committed { branch, .. } => steps.push(NextStep::new(
            "push",
            Some(format!("git push origin {}", shell_word(branch))),
            "then open a pull request (merge request) from it".to_owned(),
        )),
    }
    // Delegates restarted by the same command (the resources of one Terraform
    // directory, a script and the `docker run` in it) are one step.
    for step in rotation.rollouts.iter().map(restart) {
        let same = steps
            .iter_mut()
            .find(|s| s.action == "restart" && s.command.is_some() && s.command == step.command);
        match (same, &step.delegate) {
            (Some(same), Some(delegate)) => {
                let names = same.delegate.get_or_insert_with(String::new);
                names.push_str(&format!(", {delegate}"));
            }
            _ => steps.push(step),
        }
    }
    // A file rekey reports but never rewrites still holds the old token: what rewrites
    // it comes before any readiness check, which fails on it until then.
    for (path, reason) in &rotation.plan.kept {
        steps.push(NextStep::new(
            "refresh-kept",
            None,
            format!("{path} still holds the old token, and rekey does not rewrite it ({reason})"),
        ));
    }
    if unfinished(rotation) {
        steps.push(NextStep::new(
            "rotate-rest",
            rotate_rest_command(rotation),
            "rotate the files outside the rotated paths that still hold the old token first; revoke it only once nothing in the repository holds it".to_owned(),
        ));
        return steps;
    }
    let old = &rotation.plan.rotated;
    if old.is_empty() {
        return steps;
    }
    steps.extend(gates(rotation));
    let list: Vec<&str> = old.iter().map(Fingerprint::as_str).collect();
    steps.push(NextStep::new(
        "revoke-in-harness",
        None,
        format!(
            "revoke the old token ({}) in Harness (Delegates > Tokens, where it was issued)",
            list.join(", ")
        ),
    ));
    steps.push(NextStep::new(
        "record-revocation",
        Some(format!("rekey revoke {}", list.join(" "))),
        "so rekey check fails wherever it is still found".to_owned(),
    ));
    steps
}

/// The delegate as `rekey inventory` names it.
fn delegate_label(id: &DelegateId) -> String {
    match &id.detail {
        Some(detail) => format!("{} {} ({detail})", id.kind, id.name),
        None => format!("{} {}", id.kind, id.name),
    }
}

/// What makes one delegate read the new token.
fn restart(rollout: &Rollout) -> NextStep {
    let (command, text) = match &rollout.how {
        How::Kubernetes(how) => kubernetes(how),
        how => elsewhere(how),
    };
    NextStep {
        action: "restart",
        delegate: Some(delegate_label(&rollout.delegate)),
        command,
        text,
    }
}

/// Files as a command names them.
fn words(files: &[String], separator: &str) -> String {
    let words: Vec<String> = files.iter().map(|file| shell_word(file)).collect();
    words.join(separator)
}

/// A Kubernetes workload or Secret: the command, and what it does (read after the
/// delegate's name).
fn kubernetes(how: &Kubernetes) -> (Option<String>, String) {
    match how {
        Kubernetes::Apply { files } => (
            Some(format!("kubectl apply -f {}", words(files, " -f "))),
            "its manifest changed, and applying it rolls its pods".to_owned(),
        ),
        Kubernetes::RestartAfterSecret {
            resource,
            name,
            namespace,
            secret_files,
        } => {
            let namespace = namespace
                .as_ref()
                .map(|ns| format!(" -n {}", shell_word(ns)))
                .unwrap_or_default();
            (
                Some(format!(
                    "kubectl rollout restart {resource}/{}{namespace}",
                    shell_word(name)
                )),
                format!(
                    "only its Secret changed ({}), and its pods do not restart by themselves",
                    words(secret_files, ", ")
                ),
            )
        }
        Kubernetes::RecreateAfterSecret { secret_files } => (
            None,
            format!(
                "only its Secret changed ({}), which its pods read when they are created: delete them (or run the Job again)",
                words(secret_files, ", ")
            ),
        ),
        Kubernetes::SecretAlone { files } => (
            None,
            format!(
                "no workload among the rotated files reads it ({}): restart the ones that do (kubectl rollout restart KIND/NAME)",
                words(files, ", ")
            ),
        ),
    }
}

/// A delegate outside Kubernetes manifests: the command, and what it does.
fn elsewhere(how: &How) -> (Option<String>, String) {
    match how {
        How::HelmValues { file } => (
            Some(format!("helm upgrade RELEASE CHART --reuse-values -f {}", shell_word(file))),
            "upgrade the release installed from these values (RELEASE and CHART as `helm list -A` shows them)".to_owned(),
        ),
        How::Terraform { directory } => (
            Some(match directory.as_str() {
                "." => "terraform apply".to_owned(),
                directory => format!("terraform -chdir={} apply", shell_word(directory)),
            }),
            "apply the configuration".to_owned(),
        ),
        How::Compose { file, service } => (
            Some(format!("docker compose -f {} up -d {}", shell_word(file), shell_word(service))),
            "recreate the service's container".to_owned(),
        ),
        How::DockerRun { script, container: Some(name) } => (
            Some(format!("docker rm -f {} && sh {}", shell_word(name), shell_word(script))),
            "remove the container and run the script again".to_owned(),
        ),
        How::DockerRun {
            script,
            container: None,
        } => (
            Some(format!("sh {}", shell_word(script))),
            "stop the container it started, then run the script again".to_owned(),
        ),
        How::Script { script } => (
            Some(format!("sh {}", shell_word(script))),
            "run the script again".to_owned(),
        ),
        How::Ecs { file, family } => (
            Some(format!(
                "aws ecs register-task-definition --cli-input-json file://{} && aws ecs update-service --cluster CLUSTER --service SERVICE --task-definition {} --force-new-deployment",
                shell_word(file),
                shell_word(family)
            )),
            "register the task definition and redeploy its service (CLUSTER and SERVICE as `aws ecs list-services` shows them)".to_owned(),
        ),
        How::Systemd { unit } => (
            Some(format!("systemctl daemon-reload && systemctl restart {}", shell_word(unit))),
            "reload and restart the unit, once its file is installed where systemd reads it".to_owned(),
        ),
        How::ShellDelegate { directory } => (
            Some(format!("cd {} && ./stop.sh && ./start.sh", shell_word(directory))),
            "restart it on its host".to_owned(),
        ),
        How::Redeploy { files } => (
            None,
            format!("deploy {} the way it is deployed, then restart what reads it", words(files, ", ")),
        ),
        How::Kubernetes(how) => kubernetes(how),
    }
}

/// The readiness checks that gate the revocation: of the repository, and of what runs
/// where the rotated delegates run.
fn gates(rotation: &Rotation) -> Vec<NextStep> {
    let top = rotation
        .outside
        .as_ref()
        .map_or(".".to_owned(), |outside| outside.top.clone());
    let mut inputs = vec![shell_word(&top)];
    let kubernetes = rotation.rollouts.iter().any(|r| {
        matches!(r.how, How::Kubernetes(_) | How::HelmValues { .. })
            || r.delegate.name.starts_with("helm_release.")
    });
    if kubernetes {
        inputs.push("kubectl get deploy,sts,ds,secret,configmap -A -o yaml |".to_owned());
    }
    for family in rotation.rollouts.iter().filter_map(|r| match &r.how {
        How::Ecs { family, .. } => Some(family),
        _ => None,
    }) {
        inputs.push(format!(
            "aws ecs describe-task-definition --task-definition {} |",
            shell_word(family)
        ));
    }
    let docker = rotation
        .rollouts
        .iter()
        .any(|r| matches!(r.how, How::Compose { .. } | How::DockerRun { .. }));
    if docker {
        inputs.push("docker inspect $(docker ps -q) |".to_owned());
    }
    let mut gates = Vec::new();
    for fingerprint in &rotation.plan.rotated {
        for input in &inputs {
            let command = match input.strip_suffix(" |") {
                Some(live) => format!("{live} | rekey check --ready-to-revoke {fingerprint} -"),
                None => format!("rekey check --ready-to-revoke {fingerprint} {input}"),
            };
            gates.push(NextStep::new(
                "check-ready",
                Some(command),
                "exits 0 only when nothing there still holds the old token".to_owned(),
            ));
        }
    }
    gates
}

/// Where a `--commit` rotation went, then the numbered steps: consecutive steps of one
/// action (the restarts, the readiness checks) are one step of several lines.
pub fn text(rotation: &Rotation) -> String {
    let mut out = match &rotation.applied {
        Applied::Committed { branch, id } => format!("Committed {id} on new branch {branch}.\n"),
        _ => String::new(),
    };
    let steps = steps(rotation);
    if steps.is_empty() {
        return out;
    }
    out.push_str("Next:\n");
    for (number, group) in steps.chunk_by(|a, b| a.action == b.action).enumerate() {
        out.push_str(&format!("  {}. {}", number + 1, paragraph(rotation, group)));
    }
    out
}

/// One numbered step: steps of the same action, as text.
fn paragraph(rotation: &Rotation, group: &[NextStep]) -> String {
    let first = &group[0];
    let command = first.command.as_deref().unwrap_or_default();
    match first.action {
        "restart" => {
            let when = match rotation.applied {
                Applied::Committed { .. } => "Once it is merged and deployed",
                _ => "Once the rotated files are committed and deployed",
            };
            let mut out = format!(
                "{when}, make each delegate read the new token, and check in Harness that it reconnects:\n"
            );
            for restart in group {
                let delegate = restart.delegate.as_deref().unwrap_or_default();
                match &restart.command {
                    Some(command) => out.push_str(&format!(
                        "       {delegate}: {}:\n         {command}\n",
                        restart.text
                    )),
                    None => out.push_str(&format!("       {delegate}: {}.\n", restart.text)),
                }
            }
            out
        }
        "check-ready" => {
            let mut out = "Before revoking, prove that nothing still runs on the old token (each exits 0 when ready):\n".to_owned();
            for gate in group {
                let command = gate.command.as_deref().unwrap_or_default();
                out.push_str(&format!("       {command}\n"));
            }
            out
        }
        "refresh-kept" => {
            let mut out = "Refresh what still holds the old token, then commit it, or drop it from git if it does not belong there:\n".to_owned();
            for kept in group {
                out.push_str(&format!("       {}\n", kept.text));
            }
            out
        }
        "rotate-rest" => "Rotate the files listed above first (the command above). Revoke the old token only once nothing\n     in the repository holds it: rekey lists that step when a rotation leaves nothing behind.\n".to_owned(),
        "revoke-in-harness" => format!("{}.\n", capitalized(&first.text)),
        _ => format!("{command}, {}.\n", first.text),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The steps after the review of many repositories, numbered from 2: roll out, revoke
/// `rotated` in Harness, record the revocation.
pub fn after_review(rotated: &BTreeSet<Fingerprint>) -> String {
    let mut out = "  2. Once it is merged and deployed, restart or re-apply the delegates so they read the new token\n     \
         (kubectl apply / helm upgrade / docker run again), and check they reconnect in Harness.\n"
        .to_owned();
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
