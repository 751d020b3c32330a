//! The shared model: what every stage passes to the next and nothing else. Sites (where a
//! token key stands in a file and what its value is), token values, kinds and
//! fingerprints, the key names rekey knows, byte spans and edits, positions, and the
//! registry of token values read in the run. Names nothing else in the crate.

pub mod edit;
pub mod fs;
pub mod keys;
pub mod position;
pub mod secrets;
pub mod site;
pub mod token;
