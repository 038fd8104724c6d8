//! Errors as the user sees them: one line a person can act on, or a JSON
//! object on stderr in robot mode, and a documented exit code.

use serde_json::json;

/// Exit codes (documented in docs/ROBOT.md).
pub mod exit {
    /// Success (for `search`: at least one hit).
    pub const OK: i32 = 0;
    /// `search`: no hits. `health`: unhealthy.
    pub const NOT_FOUND: i32 = 1;
    /// Usage error or failure.
    pub const USAGE: i32 = 2;
    /// No index yet: run `cass index` first.
    pub const NO_INDEX: i32 = 3;
    /// Another cass holds the writer lock.
    pub const LOCK_BUSY: i32 = 4;
    /// Interrupted by SIGINT/SIGTERM (128 + 2).
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Debug)]
pub struct CliError {
    /// Stable machine-readable kind (`lock_busy`, `no_index`, `io`, …).
    pub kind: &'static str,
    pub message: String,
    pub hint: Option<String>,
    pub code: i32,
}

impl CliError {
    pub fn new(kind: &'static str, code: i32, message: impl Into<String>) -> CliError {
        CliError { kind, message: message.into(), hint: None, code }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> CliError {
        self.hint = Some(hint.into());
        self
    }

    pub fn print(&self, json: bool) {
        if json {
            let obj = json!({ "error": { "kind": self.kind, "message": self.message, "hint": self.hint } });
            eprintln!("{obj}");
        } else {
            eprintln!("cass: {}", self.message);
            if let Some(h) = &self.hint {
                eprintln!("hint: {h}");
            }
        }
    }
}

impl From<crate::lock::LockError> for CliError {
    fn from(e: crate::lock::LockError) -> CliError {
        match e {
            crate::lock::LockError::Busy { .. } => CliError::new("lock_busy", exit::LOCK_BUSY, e.to_string())
                .hint("wait for it to finish; searches keep working meanwhile"),
            crate::lock::LockError::Io { .. } => CliError::new("io", exit::USAGE, e.to_string()),
        }
    }
}

impl From<crate::store::StoreError> for CliError {
    fn from(e: crate::store::StoreError) -> CliError {
        store_error(&e, e.to_string())
    }
}

/// Classifies a store failure; `message` carries whatever context wraps it.
fn store_error(e: &crate::store::StoreError, message: String) -> CliError {
    use crate::store::StoreError;
    match e {
        StoreError::Missing(_) => CliError::new("no_index", exit::NO_INDEX, message).hint("run `cass index`"),
        _ if e.is_disk_full() => {
            CliError::new("disk_full", exit::USAGE, message).hint("free some space; what was indexed before is intact")
        }
        _ if e.is_busy() => CliError::new("db_busy", exit::USAGE, message),
        _ => CliError::new("store", exit::USAGE, message),
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> CliError {
        match e.downcast_ref::<crate::store::StoreError>() {
            Some(store) => store_error(store, format!("{e:#}")),
            None => CliError::new("error", exit::USAGE, format!("{e:#}")),
        }
    }
}
