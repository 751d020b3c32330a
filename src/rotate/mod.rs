//! The rotate stage: a scan → a [`plan::Plan`] of byte edits → rewrites `verify` re-parses
//! and re-scans → `apply` (a working-tree transaction) or `commit` (a new branch, signed
//! as git's configuration says: `sign`) → a typed [`rotation::Rotation`] outcome; `many`
//! runs it in many repositories at once. `reread` reads each planned file again (a scan
//! keeps no bytes) and refuses one edited since it was planned. `unparsed` decides which
//! files it could not parse stop it and which it leaves as is; `outside` finds what a
//! rotation of some paths leaves in the rest of the repository.
//! `property` states the rotate property the tests and the fuzz target check. Names
//! `judge`, `find`, `model` and `runtime`, never `report` or `cli`.

pub mod apply;
pub mod commit;
pub mod many;
pub mod outside;
pub mod plan;
pub mod property;
pub mod reread;
pub mod rotation;
pub mod sign;
pub mod unparsed;
pub mod verify;
