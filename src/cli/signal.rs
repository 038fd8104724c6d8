//! Ctrl-C and SIGTERM. Work that checkpoints (a backfill, the watch loop)
//! asks to be told and stops at its next safe point; anything else exits
//! with 130 at once, which is safe because every write commits atomically
//! and a half-done run heals on the next one. A second signal always exits.
//! In the terminal UI, Ctrl-C is a key; SIGTERM and SIGHUP arrive here and
//! exit after the terminal is restored.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use super::exit;

/// How many cooperative scopes are open (they nest: a backfill inside the
/// watch loop).
static COOPERATIVE: AtomicUsize = AtomicUsize::new(0);

fn flag() -> &'static Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Installs the handler; call once, early in `main`.
pub fn install() {
    let result = ctrlc::set_handler(|| {
        if COOPERATIVE.load(Ordering::SeqCst) > 0 && !flag().swap(true, Ordering::SeqCst) {
            use std::io::Write;
            // Never panic here (a closed stderr): the thread serves later signals.
            let _ =
                writeln!(std::io::stderr(), "cass: stopping at the next checkpoint (press Ctrl-C again to quit now)");
            return;
        }
        // The terminal UI may hold the terminal in raw mode: give it back
        // (a no-op when the UI is not running).
        let _ = crate::tui::terminal::restore();
        std::process::exit(exit::INTERRUPTED);
    });
    if let Err(e) = result {
        tracing::warn!("cannot install the signal handler: {e}");
    }
}

/// While the guard lives, a first signal sets the returned flag instead of
/// exiting; the holder must poll it.
pub struct Cooperative(());

impl Cooperative {
    pub fn begin() -> (Cooperative, Arc<AtomicBool>) {
        COOPERATIVE.fetch_add(1, Ordering::SeqCst);
        (Cooperative(()), flag().clone())
    }
}

impl Drop for Cooperative {
    fn drop(&mut self) {
        COOPERATIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The flag a signal sets while cooperative, for a long call to poll; it
/// stays clear while nothing is cooperative (a signal then exits at once).
pub fn cancel_flag() -> Arc<AtomicBool> {
    flag().clone()
}

/// Whether a signal asked this process to stop (set only while cooperative).
pub fn requested() -> bool {
    flag().load(Ordering::SeqCst)
}
