//! The exit statuses rekey ends with, decided in one place: `0` success (`check`: no
//! error-level finding), `1` `check` found an error-level finding, `2` an error.

use crate::report;

pub const EXIT_OK: u8 = 0;
pub const EXIT_VIOLATION: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

/// Reports `message` as an error and gives the status that ends the run.
pub fn fail(message: impl std::fmt::Display) -> u8 {
    report::error(&message.to_string());
    EXIT_ERROR
}
