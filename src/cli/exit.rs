//! The exit statuses rekey ends with, decided in one place: `0` success (`check`: no
//! error-level finding), `1` `check` found an error-level finding (or a `rotate
//! --exit-code` dry run would change a file), `2` an error.

use crate::report;

pub const EXIT_OK: u8 = 0;
pub const EXIT_VIOLATION: u8 = 1;
/// `rotate --exit-code`: the dry run would change a file (as `git diff --exit-code`).
pub const EXIT_WOULD_CHANGE: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

/// Reports `message` as an error and gives the status that ends the run.
pub fn fail(message: impl std::fmt::Display) -> u8 {
    report::error(&message.to_string());
    EXIT_ERROR
}
