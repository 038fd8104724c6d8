//! Named crash points for the crash tests.
//!
//! The CLI arms them from `CASS_TEST_CRASH_AT=<name>` (and
//! `CASS_TEST_VANISH=<file name>`, `CASS_TEST_SWAP=fifo:<file name>` or
//! `link:<file name>:<target>`) while it resolves its settings; the
//! library only asks whether a point is armed. An armed point aborts the
//! process as abruptly as SIGKILL (no destructors, no flushes). Unarmed, a
//! point costs one load of a set-once cell.

use std::sync::OnceLock;

/// What the crash tests asked for; set once, before any work starts.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// The crash point to abort at.
    pub crash_at: Option<String>,
    /// The file name to delete just before it is read.
    pub vanish: Option<String>,
    /// A file to replace, just before it is read, by a FIFO (`fifo:NAME`)
    /// or by a symlink to a target (`link:NAME:TARGET`): the race of a
    /// swap between discovery and reading, made deterministic.
    pub swap: Option<String>,
}

static ARMED: OnceLock<Faults> = OnceLock::new();

/// Arms the crash points for this process (only the first call counts).
pub fn arm(faults: Faults) {
    let _ = ARMED.set(faults);
}

/// Aborts the process if the armed crash point is this one.
pub fn point(name: &str) {
    if ARMED.get().and_then(|f| f.crash_at.as_deref()) == Some(name) {
        eprintln!("cass: crash point {name} reached (CASS_TEST_CRASH_AT)");
        std::process::abort();
    }
}

/// Removes `path` just before it is read if the armed vanish target names
/// its file name: a file deleted between discovery and reading, made
/// deterministic for the hostile-input tests.
///
/// Debug builds only: a release binary never deletes a file it indexes,
/// whatever it was asked.
#[cfg(debug_assertions)]
pub fn vanish(path: &std::path::Path) {
    let named = |name: &str| path.file_name().is_some_and(|f| f.to_string_lossy() == name);
    if let Some(name) = ARMED.get().and_then(|f| f.vanish.as_deref())
        && named(name)
    {
        let _ = std::fs::remove_file(path);
    }
    let Some(swap) = ARMED.get().and_then(|f| f.swap.as_deref()) else { return };
    let mut parts = swap.splitn(3, ':');
    let (kind, name, target) = (parts.next(), parts.next(), parts.next());
    if !name.is_some_and(named) {
        return;
    }
    let _ = std::fs::remove_file(path);
    match (kind, target) {
        #[cfg(unix)]
        (Some("fifo"), _) => {
            use std::os::unix::ffi::OsStrExt;
            if let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) {
                // SAFETY: a valid NUL-terminated path; mkfifo only creates a node.
                unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
            }
        }
        #[cfg(unix)]
        (Some("link"), Some(target)) => {
            let _ = std::os::unix::fs::symlink(target, path);
        }
        _ => {}
    }
}

/// Release builds: never deletes anything.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn vanish(_path: &std::path::Path) {}
