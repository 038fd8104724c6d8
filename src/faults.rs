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

/// Removes `path` just before it is read if `CASS_TEST_VANISH` names its
/// file name: a file deleted between discovery and reading, made
/// deterministic for the hostile-input tests.
///
/// Debug builds only: a release binary never deletes a file it indexes,
/// whatever the environment says.
#[cfg(debug_assertions)]
pub fn vanish(path: &std::path::Path) {
    static TARGET: OnceLock<Option<String>> = OnceLock::new();
    let target = TARGET.get_or_init(|| std::env::var("CASS_TEST_VANISH").ok().filter(|s| !s.is_empty()));
    if let Some(name) = target.as_deref()
        && path.file_name().is_some_and(|f| f.to_string_lossy() == name)
    {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn vanish(_path: &std::path::Path) {}
