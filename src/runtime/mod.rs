//! What a run needs from the process: signal handling and the cleanup of rekey's own temp
//! files (`interrupt`), and spreading work over threads (`parallel`). Names nothing else in
//! the crate, so that every stage may use it.

pub mod interrupt;
pub mod parallel;
