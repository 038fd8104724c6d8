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
        use crate::store::StoreError;
        match &e {
            StoreError::Missing(_) => CliError::new("no_index", exit::NO_INDEX, e.to_string()).hint("run `cass index`"),
            _ if e.is_disk_full() => CliError::new("disk_full", exit::USAGE, e.to_string())
                .hint("free some space; what was indexed before is intact"),
            _ if e.is_busy() => CliError::new("db_busy", exit::USAGE, e.to_string()),
            _ => CliError::new("store", exit::USAGE, e.to_string()),
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> CliError {
        if let Some(store) = e.downcast_ref::<crate::store::StoreError>() {
            let mut c = CliError::from(crate::store::StoreError::Missing(Default::default()));
            c.kind = if store.is_disk_full() { "disk_full" } else { "store" };
            c.code = exit::USAGE;
            c.hint = None;
            c.message = format!("{e:#}");
            if let crate::store::StoreError::Missing(_) = store {
                return CliError::new("no_index", exit::NO_INDEX, format!("{e:#}")).hint("run `cass index`");
            }
            return c;
        }
        CliError::new("error", exit::USAGE, format!("{e:#}"))
    }
}
