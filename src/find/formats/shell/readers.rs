//! Who reads the sites a simple command writes, from its words: a `docker run` of a
//! Harness delegate image, a `helm` install of the delegate chart, an `echo … >>
//! config-watcher.yml`; and the container a `docker run` names.

use crate::model::keys;
use crate::model::site::{Owner, Reader};

/// How a site was written, which tells who reads it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    /// `KEY=value`: an assignment, a `-e` / `--env` flag, a `--set` value.
    Assignment,
    /// `"KEY: value"`, as the shell delegate's scripts echo into its config files.
    ConfigLine,
}

/// Who reads the sites written by one simple command, from its words.
pub(super) fn command_reader(words: &[String], form: Form) -> Reader {
    let has = |test: &dyn Fn(&str) -> bool| words.iter().any(|w| test(w));
    match form {
        Form::ConfigLine
            if has(&|w| w.ends_with("config-watcher.yml") || w.ends_with("config-delegate.yml")) =>
        {
            Reader::Delegate
        }
        Form::ConfigLine => Reader::unknown(
            "the line is not written into the shell delegate's config-watcher.yml or config-delegate.yml",
        ),
        Form::Assignment if has(&keys::is_delegate_image) => Reader::Delegate,
        Form::Assignment
            if words.first().is_some_and(|w| w == "helm") && has(&keys::is_delegate_chart) =>
        {
            Reader::Delegate
        }
        Form::Assignment => Reader::unknown(
            "a shell variable, or the env of a command that is not a Harness delegate: what reads it is not known",
        ),
    }
}

/// A `docker run` command's container: its `--name`, and its image (the first word after
/// `run` that is not a flag or a flag's value).
pub(super) fn docker_run_owner(words: &[String]) -> Option<Owner> {
    let run = words.iter().position(|w| w == "run")?;
    if !words
        .first()
        .is_some_and(|w| w == "docker" || w.ends_with("/docker"))
    {
        return None;
    }
    let mut name = None;
    let mut image = None;
    let mut rest = words[run + 1..].iter();
    // Flags whose value is the next word, as `docker run --help` lists the common ones.
    const VALUED: [&str; 14] = [
        "-e",
        "--env",
        "--name",
        "-v",
        "--volume",
        "-p",
        "--publish",
        "--network",
        "--cpus",
        "--memory",
        "-m",
        "--restart",
        "--env-file",
        "-w",
    ];
    while let Some(word) = rest.next() {
        if let Some(value) = word.strip_prefix("--name=") {
            name = Some(value.to_owned());
        } else if word == "--name" {
            name = rest.next().cloned();
        } else if VALUED.contains(&word.as_str()) {
            rest.next();
        } else if !word.starts_with('-') {
            image = Some(word.clone());
            break;
        }
    }
    Some(Owner::Docker { name, image })
}
