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
