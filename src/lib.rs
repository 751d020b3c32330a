//! rekey finds every place a Harness delegate token lives in an infra repo and rotates it
//! without changing any other byte. The pipeline maps onto modules: `source` (with
//! `ignore_rules`; or `git` for a commit's tree or the index) → `engine` (with `formats`) →
//! `plan` (with `edit`) → `verify` → `apply` (or `git` for a commit) → `report`.
//! `rotation` runs the whole pipeline as one library stage and returns a typed outcome
//! (`rotation_repos` runs it in many repositories at once, `repos` names and reads them);
//! `interrupt` owns signals and temp-file cleanup; `redact` masks every token in every
//! output. `check` and `policy` judge scans for CI; `plan` and `check` ask `migration`
//! which legacy keys a rotation renames; `sweep` finds every token-shaped string for
//! `check`, `rotate` and `redact`; `inventory` attributes sites to the delegates they
//! configure, and `stdin` reads live state from a pipe; `property` states the rotate
//! property the tests and the fuzz target check; `parallel` spreads work over threads;
//! `error` carries path and position; `cli` turns arguments into options and exit codes.
//! Only `report` prints.

#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod apply;
pub mod check;
pub mod cli;
pub mod edit;
pub mod engine;
pub mod error;
pub mod formats;
pub mod git;
pub mod ignore_rules;
pub mod interrupt;
pub mod inventory;
pub mod keys;
pub mod migration;
pub mod parallel;
pub mod plan;
pub mod policy;
pub mod position;
pub mod property;
pub mod redact;
pub mod report;
pub mod repos;
pub mod rotation;
pub mod rotation_repos;
pub mod site;
pub mod source;
pub mod stdin;
pub mod sweep;
pub mod token;
pub mod verify;
