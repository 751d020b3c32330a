//! The progress indicator: a spinner with the elapsed seconds on stderr, drawn by a small
//! thread only once a run has taken about a second, so quick runs never flicker. It is shown
//! only when stderr is a terminal, never in CI (`CI` set) and never with `--quiet`. Any
//! report output first calls [`finish`], which stops the thread and clears its line, so the
//! spinner never interleaves with a report.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a run goes before the spinner appears, and how often it redraws.
const DELAY: Duration = Duration::from_millis(1000);
const TICK: Duration = Duration::from_millis(100);
const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
/// Carriage return, then erase the line.
const CLEAR: &str = "\r\x1b[2K";

/// The spinner of the running command, if any.
static ACTIVE: Mutex<Option<Spinner>> = Mutex::new(None);

/// Whether a spinner may be drawn at all.
pub fn wanted(stderr_is_terminal: bool, ci: bool, quiet: bool) -> bool {
    stderr_is_terminal && !ci && !quiet
}

/// Starts the spinner for `label` (e.g. "scanning") when this run may show one (`quiet`:
/// `--quiet` was given).
pub fn start(label: &'static str, quiet: bool) {
    start_with(label, quiet, String::new);
}

/// [`start`], with `detail` (how far the run got, e.g. " (1200 commits)") drawn after
/// the seconds on every redraw.
pub fn start_with(label: &'static str, quiet: bool, detail: fn() -> String) {
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    if !wanted(std::io::stderr().is_terminal(), ci, quiet) {
        return;
    }
    let spinner = Spinner::spawn(label, detail, std::io::stderr(), DELAY, TICK);
    if let Ok(mut active) = ACTIVE.lock() {
        *active = Some(spinner);
    }
}

/// Stops the spinner, if one runs, and clears its line. Safe to call any number of times.
pub fn finish() {
    let spinner = ACTIVE.lock().ok().and_then(|mut active| active.take());
    if let Some(spinner) = spinner {
        spinner.stop();
    }
}

/// A drawing thread and the flag that stops it.
pub struct Spinner {
    stopped: Arc<(Mutex<bool>, Condvar)>,
    thread: JoinHandle<()>,
}

impl Spinner {
    /// Draws `label` and `detail()` to `sink` after `delay`, every `tick`, until
    /// [`Spinner::stop`].
    pub fn spawn(
        label: &'static str,
        detail: fn() -> String,
        mut sink: impl Write + Send + 'static,
        delay: Duration,
        tick: Duration,
    ) -> Spinner {
        let stopped = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = Arc::clone(&stopped);
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            if wait_stopped(&flag, delay) {
                return;
            }
            for frame in FRAMES.iter().cycle() {
                let seconds = started.elapsed().as_secs();
                // A failed write to stderr leaves nothing to do but stop drawing.
                let detail = detail();
                if write!(sink, "\r{frame} rekey: {label}... {seconds}s{detail}")
                    .and_then(|()| sink.flush())
                    .is_err()
                {
                    return;
                }
                if wait_stopped(&flag, tick) {
                    break;
                }
            }
            let _ = write!(sink, "{CLEAR}").and_then(|()| sink.flush());
        });
        Spinner { stopped, thread }
    }

    /// Stops the thread and waits until it has cleared its line.
    pub fn stop(self) {
        let (lock, wake) = &*self.stopped;
        if let Ok(mut stopped) = lock.lock() {
            *stopped = true;
        }
        wake.notify_all();
        let _ = self.thread.join();
    }
}

/// Waits up to `timeout` for the stop flag; true once it is set.
fn wait_stopped(flag: &(Mutex<bool>, Condvar), timeout: Duration) -> bool {
    let (lock, wake) = flag;
    let Ok(stopped) = lock.lock() else {
        return true;
    };
    match wake.wait_timeout_while(stopped, timeout, |stopped| !*stopped) {
        Ok((stopped, _)) => *stopped,
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink the test can read after the thread is done with it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn a_run_shorter_than_the_delay_draws_nothing() {
        let sink = Shared::default();
        let spinner = Spinner::spawn(
            "scanning",
            String::new,
            sink.clone(),
            Duration::from_secs(60),
            TICK,
        );
        spinner.stop();
        assert_eq!(sink.text(), "");
    }

    #[test]
    fn a_long_run_draws_frames_then_clears_its_line() {
        let sink = Shared::default();
        let spinner = Spinner::spawn(
            "scanning",
            || " (42 commits)".to_owned(),
            sink.clone(),
            Duration::ZERO,
            Duration::from_millis(10),
        );
        std::thread::sleep(Duration::from_millis(60));
        spinner.stop();
        let text = sink.text();
        assert!(
            text.starts_with(
                "\r| rekey: scanning... 0s (42 commits)\r/ rekey: scanning... 0s (42 commits)"
            ),
            "{text:?}"
        );
        assert!(text.ends_with(CLEAR), "{text:?}");
    }

    #[test]
    fn only_an_interactive_terminal_outside_ci_gets_a_spinner() {
        assert!(wanted(true, false, false));
        assert!(!wanted(false, false, false), "not a terminal");
        assert!(!wanted(true, true, false), "CI");
        assert!(!wanted(true, false, true), "--quiet");
    }
}
