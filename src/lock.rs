//! The one-writer rule: `cass.lock` is an advisory lock held by whichever
//! process writes (index, backfill). Readers never take it. The file also
//! says who holds it, for `status` and for the lock-busy message.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Who holds the writer lock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockHolder {
    pub pid: u32,
    pub started_at_ms: i64,
    pub command: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another cass is writing to this index{}", holder_text(.holder))]
    Busy { path: PathBuf, holder: Option<LockHolder> },
    #[error("cannot open lock file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
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
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(LockError::Busy { path: path.into(), holder: read_holder(path) });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(LockError::Io { path: path.into(), source });
            }
        }
        let holder =
            LockHolder { pid: std::process::id(), started_at_ms: crate::time::now_ms(), command: command.into() };
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        let _ = file.write_all(serde_json::to_string(&holder).unwrap_or_default().as_bytes());
        Ok(WriterLock { _file: file })
    }
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
