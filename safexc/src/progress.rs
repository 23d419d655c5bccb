//! Progress on long work: compiling or verifying a large input can take
//! tens of seconds, and a silent terminal looks hung. A [`Spinner`] shows
//! what is being done, and how far along, on standard error, but only
//! when that is a terminal, only once the work has taken a second (so
//! quick runs print nothing), and never with `--message-format json`
//! (whose consumers read standard error). It is cleared when the work
//! ends, leaving the output as it would be without it.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long work goes on before it shows progress: `SAFEX_PROGRESS_AFTER_MS`
/// (for tests), else a second.
fn delay() -> Duration {
    std::env::var("SAFEX_PROGRESS_AFTER_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::from_secs(1), Duration::from_millis)
}

/// A line of progress for one piece of work, shown after [`delay`];
/// cleared when dropped.
pub struct Spinner {
    what: String,
    bar: ProgressBar,
    done: Arc<AtomicBool>,
    waiter: Option<JoinHandle<()>>,
}

impl Spinner {
    /// Progress on `what` (`"verifying big.tal"`).
    pub fn new(what: &str) -> Spinner {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})").unwrap_or(ProgressStyle::default_spinner()),
        );
        bar.set_message(what.to_owned());
        let done = Arc::new(AtomicBool::new(false));
        let waiter = (!crate::diag::json()).then(|| {
            let (bar, done) = (bar.clone(), Arc::clone(&done));
            let until = Instant::now() + delay();
            thread::spawn(move || {
                // Parking may end early (an unpark, or spuriously).
                while !done.load(Ordering::Acquire) && Instant::now() < until {
                    thread::park_timeout(until.saturating_duration_since(Instant::now()));
                }
                if !done.load(Ordering::Acquire) {
                    // Hidden unless standard error is a terminal.
                    bar.set_draw_target(ProgressDrawTarget::stderr());
                    bar.enable_steady_tick(Duration::from_millis(120));
                }
            })
        });
        Spinner {
            what: what.to_owned(),
            bar,
            done,
            waiter,
        }
    }

    /// Says how far along the work is (`"3000000 instructions"`).
    pub fn set(&self, progress: &str) {
        self.bar.set_message(format!("{}: {progress}", self.what));
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
        if let Some(waiter) = self.waiter.take() {
            waiter.thread().unpark();
            // It has then either shown the bar or seen `done`: clearing now
            // leaves nothing behind either way.
            let _ = waiter.join();
        }
        self.bar.finish_and_clear();
    }
}
