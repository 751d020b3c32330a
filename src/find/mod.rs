//! The find stage: where bytes come from and what is in them. Takes paths (a working-tree
//! walk with ignore rules, `walk`), a commit's tree or the index (`git`, read only),
//! stdin (`stdin`) or many repositories (`repos`); returns a [`scan::Scan`]: every site
//! each file's scanner (`formats`) found, and every token-shaped string the byte sweep
//! (`sweep`; `binary` for UTF-16 text and binary data; `large` for files too large to hold)
//! found outside them. Names only `model` and `runtime`.

pub mod binary;
pub mod formats;
pub mod git;
mod hidden;
pub mod history;
mod ids;
pub mod ignore_rules;
pub mod large;
pub mod layers;
pub mod loose;
pub mod objects;
mod packs;
pub mod repos;
pub mod scan;
pub mod stdin;
pub mod sweep;
pub mod walk;
