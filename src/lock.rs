//! The one-writer rule: `cass.lock` is an advisory lock held by whichever
//! process writes (index, backfill). Readers never take it. The file also
//! says who holds it, for `status` and for the lock-busy message.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Who holds the writer lock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockHolder {
    /// Process id of the writer.
    pub pid: u32,
    /// When it took the lock, milliseconds since the Unix epoch.
    pub started_at_ms: i64,
    /// The cass command it runs (`index`, `index --watch`, …).
    pub command: String,
    /// What the writer is doing now (`ingest`, `lexical`, `semantic fast`,
    /// `watching`), and when it last said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// When `phase` was last written, milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_at_ms: Option<i64>,
    /// When an ingest last finished, carried from holder to holder. It
    /// lives here, not in the store, so a run that finds nothing changed
    /// writes nothing to the store or the indexes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_index_at_ms: Option<i64>,
}

/// Why the writer lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it (a writer, not a passing reader's probe).
    #[error("another cass is writing to this index{}", holder_text(.holder))]
    Busy {
        /// Path of the lock file.
        path: PathBuf,
        /// Who holds it, if its record could be read.
        holder: Option<LockHolder>,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot open lock file {path}: {source}")]
    Io {
        /// Path of the lock file.
        path: PathBuf,
        /// The error from opening or locking it.
        source: std::io::Error,
    },
}

fn holder_text(h: &Option<LockHolder>) -> String {
    match h {
        Some(h) => {
            format!(" (pid {}, `cass {}`, since {})", h.pid, h.command, crate::time::to_rfc3339(h.started_at_ms))
        }
        None => String::new(),
    }
}

/// Held for as long as the value lives; released on drop or process exit
/// (including SIGKILL: the OS drops advisory locks with the process).
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
}

impl WriterLock {
    /// Takes the lock without waiting; fails at once with [`LockError::Busy`].
    pub fn acquire(path: &Path, command: &str) -> Result<WriterLock, LockError> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|source| LockError::Io { path: path.into(), source })?;
        // Readers probe the lock with a momentary shared lock (`status`,
        // the TUI): retry for a moment so a probe never reads as a writer.
        let mut tries = 0;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if tries < 20 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(LockError::Busy { path: path.into(), holder: read_holder(path) });
                }
                Err(std::fs::TryLockError::Error(source)) => {
                    return Err(LockError::Io { path: path.into(), source });
                }
            }
        }
        let now = crate::time::now_ms();
        let holder = LockHolder {
            pid: std::process::id(),
            started_at_ms: now,
            command: command.into(),
            phase: Some("starting".into()),
            progress_at_ms: Some(now),
            last_index_at_ms: read_holder(path).and_then(|h| h.last_index_at_ms),
        };
        write_holder(&mut file, &holder);
        let shared = file.try_clone().ok().map(|f| (f, holder));
        *HELD.lock().unwrap_or_else(|p| p.into_inner()) = shared;
        Ok(WriterLock { _file: file })
    }
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        *HELD.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// The lock this process holds, so any layer can report progress without
/// the handle being threaded through every call.
static HELD: Mutex<Option<(File, LockHolder)>> = Mutex::new(None);

/// Records what the writer is doing, for `cass status`. Cheap enough to
/// call per batch: the same phase is rewritten at most once a second.
pub fn note_progress(phase: &str) {
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    let Some((file, holder)) = held.as_mut() else { return };
    let now = crate::time::now_ms();
    if holder.phase.as_deref() == Some(phase) && holder.progress_at_ms.is_some_and(|t| now - t < 1000) {
        return;
    }
    holder.phase = Some(phase.to_string());
    holder.progress_at_ms = Some(now);
    write_holder(file, holder);
}

/// Records that an ingest finished now (for `status` and `health`).
pub fn note_index_finished() {
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    let Some((file, holder)) = held.as_mut() else { return };
    holder.last_index_at_ms = Some(crate::time::now_ms());
    write_holder(file, holder);
}

/// When an ingest last finished, whoever holds the lock now.
pub fn last_index_at(path: &Path) -> Option<i64> {
    read_holder(path).and_then(|h| h.last_index_at_ms)
}

/// Rewrites the holder record in place. Best effort: a reader that catches
/// it half-written sees no holder details, never a wrong lock state.
fn write_holder(file: &mut File, holder: &LockHolder) {
    let mut text = serde_json::to_string(holder).unwrap_or_default();
    // Pad over a longer previous record instead of truncating after the
    // write: a reader (or a crash) between the two never sees a torn tail.
    let old = file.metadata().map(|m| m.len() as usize).unwrap_or(0);
    if old > text.len() {
        text.extend(std::iter::repeat_n(' ', old - text.len()));
    }
    let _ = file.seek(SeekFrom::Start(0)).and_then(|_| file.write_all(text.as_bytes()));
}

/// The current holder, if the lock is held right now (does not take it).
pub fn current_holder(path: &Path) -> Option<LockHolder> {
    let file = File::open(path).ok()?;
    match file.try_lock_shared() {
        Ok(()) => None, // nobody holds it exclusively
        Err(_) => read_holder(path),
    }
}

fn read_holder(path: &Path) -> Option<LockHolder> {
    let mut s = String::new();
    File::open(path).ok()?.read_to_string(&mut s).ok()?;
    serde_json::from_str(&s).ok()
}
