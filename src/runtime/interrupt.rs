//! Interruptions: SIGINT, SIGTERM and SIGHUP, and the temporary files that must not outlive
//! them. Outside a transaction a signal ends the process at once (after removing any
//! registered temp file) with the conventional status 128 + signal. Inside one (see
//! `apply`), the signal is only recorded: the transaction checks [`interrupted`] before
//! each step, stops at a point where it can say exactly what was and was not written,
//! removes its temp files and returns. SIGKILL cannot be caught; its leftovers are
//! recognised by name and cleaned up by the next run.

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Mutex;

static SIGNAL: AtomicI32 = AtomicI32::new(0);
static IN_TRANSACTION: AtomicBool = AtomicBool::new(false);
static TEMPS: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// Starts the thread that receives the signals. Called once, by the command line.
pub fn install() -> std::io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::spawn(move || {
        for signal in signals.forever() {
            SIGNAL.store(signal, Ordering::SeqCst);
            if !IN_TRANSACTION.load(Ordering::SeqCst) {
                remove_temps();
                std::process::exit(128 + signal);
            }
        }
    });
    Ok(())
}

/// The signal received, if any.
pub fn interrupted() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// Marks a transaction as running until dropped: signals are then left to it.
pub struct TransactionGuard(());

impl TransactionGuard {
    pub fn begin() -> TransactionGuard {
        IN_TRANSACTION.store(true, Ordering::SeqCst);
        TransactionGuard(())
    }
}

impl Drop for TransactionGuard {
    fn drop(&mut self) {
        IN_TRANSACTION.store(false, Ordering::SeqCst);
    }
}

/// Remembers a temp file to remove should the process be ended by a signal.
pub fn register_temp(path: &Path) {
    lock().insert(path.to_owned());
}

pub fn unregister_temp(path: &Path) {
    lock().remove(path);
}

fn remove_temps() {
    for path in std::mem::take(&mut *lock()) {
        let _ = std::fs::remove_file(path);
    }
}

fn lock() -> std::sync::MutexGuard<'static, BTreeSet<PathBuf>> {
    TEMPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// How temp files start; see [`is_leftover`].
pub const TEMP_PREFIX: &str = ".rekey-tmp.";

/// Whether a file name is one of rekey's own temp files: `.rekey-tmp.` and 8 letters or
/// digits, or `.rekey-` and 6 (the name earlier versions used).
pub fn is_leftover(name: &str) -> bool {
    let random = |rest: &str, length: usize| {
        rest.len() == length && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    name.strip_prefix(TEMP_PREFIX)
        .is_some_and(|rest| random(rest, 8))
        || name
            .strip_prefix(".rekey-")
            .is_some_and(|rest| random(rest, 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_are_recognised_by_name_only() {
        assert!(is_leftover(".rekey-tmp.AbCd1234"));
        assert!(is_leftover(".rekey-x1Y2z3"));
        assert!(!is_leftover(".rekey.toml"));
        assert!(!is_leftover(".rekey-tmp.AbCd1234.yaml"));
        assert!(!is_leftover("rekey-tmp.AbCd1234"));
    }
}
