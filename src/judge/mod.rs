//! The judge stage: what a scan means under a policy. Takes a [`crate::find::scan::Scan`]
//! and a [`policy::Policy`] (`.rekey.toml`, its `extends`, its discovery); returns
//! findings by rule (`check`), the delegates each site configures (`inventory`), which
//! legacy keys a rotation may rename (`migration`), and how each delegate a rotation
//! touches comes to read the new token (`rollout`). Names only `find`, `model` and
//! `runtime`.

pub mod check;
pub mod few;
pub mod history;
pub mod inventory;
pub mod migration;
pub mod policy;
pub mod readiness;
pub mod repos;
pub mod rollout;
