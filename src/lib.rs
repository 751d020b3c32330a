//! rekey finds every place a Harness delegate token lives in an infra repo and rotates it
//! without changing any other byte. One pipeline, a folder per stage; each stage names
//! only the stages above it in this list, never one below:
//!
//! ```text
//! model    sites, tokens, keys, positions, edits, file reads: what every stage shares
//! runtime  signals, temp-file cleanup, threads
//! find     walk / git / stdin → formats → sites and stray tokens (a Scan)
//! judge    Scan + policy → findings (check), delegates (inventory), migrations
//! rotate   Scan → plan → verify → apply (files) or commit (a branch) → a Rotation
//! harness  the Harness NG API: delegate tokens, who is on one, create and revoke
//!          (it names only model, runtime and error; nothing above depends on it)
//! report   every outcome above → text, JSON, SARIF, diffs, all of it redacted
//! cli      arguments → options → a library call → a report → an exit code
//! ```
//!
//! Only `report` prints; `error` is the one error type the stages return.

#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;
pub mod error;
pub mod find;
pub mod harness;
pub mod judge;
pub mod model;
pub mod report;
pub mod rotate;
pub mod runtime;
