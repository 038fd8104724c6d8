//! Named crash points for the crash tests.
//!
//! `CASS_TEST_CRASH_AT=<name>` makes the process abort (as abruptly as
//! SIGKILL: no destructors, no flushes) when it reaches that point. Unset, a
//! point costs one cached environment lookup.

use std::sync::OnceLock;

/// Aborts the process if `CASS_TEST_CRASH_AT` names this point.
pub fn point(name: &str) {
    static TARGET: OnceLock<Option<String>> = OnceLock::new();
    let target = TARGET.get_or_init(|| std::env::var("CASS_TEST_CRASH_AT").ok().filter(|s| !s.is_empty()));
    if target.as_deref() == Some(name) {
        eprintln!("cass: crash point {name} reached (CASS_TEST_CRASH_AT)");
        std::process::abort();
    }
}
