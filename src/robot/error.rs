//! Errors as robots (and people) see them: a stable `kind`, a message, a
//! hint a person can act on, and the exit code the CLI uses. The CLI prints
//! them; the MCP server returns the same `kind` in its error data, so an
//! agent handles a failure the same way whichever front end it used.

use serde_json::json;

use crate::indexer::semantic::BackfillError;
use crate::lock::LockError;
use crate::search::{SearchError, TierError};
use crate::status::StatusError;
use crate::store::StoreError;
use crate::writer::WriteError;

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

/// One failure, classified.
#[derive(Debug, Clone, PartialEq)]
pub struct RobotError {
    /// Stable machine-readable kind (`lock_busy`, `no_index`, `io`, …).
    pub kind: &'static str,
    /// One line for people.
    pub message: String,
    /// What to do about it, when there is something to do.
    pub hint: Option<String>,
    /// The CLI's exit code for it.
    pub code: i32,
}

impl RobotError {
    /// A failure of `kind` with `message`, exiting with `code`.
    pub fn new(kind: &'static str, code: i32, message: impl Into<String>) -> RobotError {
        RobotError { kind, message: message.into(), hint: None, code }
    }

    /// The same failure with a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> RobotError {
        self.hint = Some(hint.into());
        self
    }

    /// A usage error (bad flag, bad query, bad argument).
    pub fn usage(message: impl Into<String>) -> RobotError {
        RobotError::new("usage", exit::USAGE, message)
    }

    /// A thing asked for by id that is not there.
    pub fn not_found(message: impl Into<String>) -> RobotError {
        RobotError::new("not_found", exit::NOT_FOUND, message)
    }

    /// `{"error": {"kind", "message", "hint"}}`, the robot shape.
    pub fn to_json(&self) -> serde_json::Value {
        json!({ "error": { "kind": self.kind, "message": self.message, "hint": self.hint } })
    }
}

impl std::fmt::Display for RobotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RobotError {}

impl From<crate::config::DataDirError> for RobotError {
    fn from(e: crate::config::DataDirError) -> RobotError {
        RobotError::new("data_dir", exit::USAGE, e.to_string())
            .hint("point --data-dir or CASS_DATA_DIR at a directory (or move what is in the way)")
    }
}

impl From<crate::indexer::session_file::ReadFileError> for RobotError {
    fn from(e: crate::indexer::session_file::ReadFileError) -> RobotError {
        use crate::indexer::session_file::ReadFileError;
        match e {
            ReadFileError::Unknown(_) => RobotError::not_found(e.to_string())
                .hint("`cass view` reads the session files of the agents `cass sources` lists"),
            ReadFileError::Parse(_) => RobotError::new("io", exit::USAGE, e.to_string()),
            ReadFileError::Privacy(_) => RobotError::new("config", exit::USAGE, e.to_string())
                .hint("fix the pattern in the config file's [redact] or exclude settings"),
        }
    }
}

impl From<LockError> for RobotError {
    fn from(e: LockError) -> RobotError {
        match e {
            LockError::Busy { .. } => RobotError::new("lock_busy", exit::LOCK_BUSY, e.to_string())
                .hint("wait for it to finish; searches keep working meanwhile"),
            LockError::Io { .. } => RobotError::new("io", exit::USAGE, e.to_string()),
        }
    }
}

impl From<StoreError> for RobotError {
    fn from(e: StoreError) -> RobotError {
        store_error(&e, e.to_string())
    }
}

/// Classifies a store failure; `message` carries whatever context wraps it.
fn store_error(e: &StoreError, message: String) -> RobotError {
    match e {
        StoreError::Missing(_) => RobotError::new("no_index", exit::NO_INDEX, message).hint("run `cass index`"),
        _ if e.is_disk_full() => RobotError::new("disk_full", exit::USAGE, message)
            .hint("free some space; what was indexed before is intact"),
        _ if e.is_busy() => RobotError::new("db_busy", exit::USAGE, message),
        _ => RobotError::new("store", exit::USAGE, message),
    }
}

impl From<BackfillError> for RobotError {
    fn from(e: BackfillError) -> RobotError {
        if e.is_disk_full() {
            return RobotError::new("disk_full", exit::USAGE, e.to_string())
                .hint("free some space; the published tier still answers searches");
        }
        match e {
            BackfillError::Embed(crate::embed::EmbedError::Missing { .. }) => {
                RobotError::new("model_missing", exit::USAGE, e.to_string())
                    .hint("run `cass models install --from DIR`")
            }
            other => RobotError::new("backfill", exit::USAGE, other.to_string()),
        }
    }
}

impl From<WriteError> for RobotError {
    fn from(e: WriteError) -> RobotError {
        match e {
            WriteError::DataDir { .. } => RobotError::new("io", exit::USAGE, e.to_string()),
            WriteError::Lock(l) => l.into(),
            WriteError::Store(s) => s.into(),
            WriteError::Lexical(crate::lexical::LexicalError::Store(ref s)) => store_error(s, e.to_string()),
            WriteError::Lexical(l) => RobotError::new("error", exit::USAGE, l.to_string()),
            WriteError::Backfill(b) => b.into(),
            WriteError::StoreDamaged(_) => RobotError::new("store_damaged", exit::USAGE, e.to_string())
                .hint("move cass.db away and run `cass index --full` (every agent's files are read again)"),
            WriteError::Remove { .. } => RobotError::new("io", exit::USAGE, e.to_string()),
            WriteError::Privacy(_) => RobotError::new("config", exit::USAGE, e.to_string())
                .hint("fix the pattern in the config file's [redact] or exclude settings"),
            WriteError::RedactionOff => RobotError::usage(e.to_string()),
            WriteError::Remote(r) => r.into(),
        }
    }
}

impl From<crate::remote::RemoteError> for RobotError {
    fn from(e: crate::remote::RemoteError) -> RobotError {
        use crate::remote::RemoteError;
        match e {
            RemoteError::Unknown(_) => {
                RobotError::not_found(e.to_string()).hint("`cass sources list` names the configured machines")
            }
            RemoteError::Invalid(_) => RobotError::usage(e.to_string()),
            RemoteError::Io { .. } => RobotError::new("io", exit::USAGE, e.to_string()),
            RemoteError::Corrupt { .. } => RobotError::new("config", exit::USAGE, e.to_string())
                .hint("fix or remove the file; `cass sources add` writes it again"),
        }
    }
}

impl From<crate::indexer::sources::SourcesError> for RobotError {
    fn from(e: crate::indexer::sources::SourcesError) -> RobotError {
        match e {
            crate::indexer::sources::SourcesError::Store(s) => s.into(),
            crate::indexer::sources::SourcesError::Remote(r) => r.into(),
        }
    }
}

impl From<SearchError> for RobotError {
    fn from(e: SearchError) -> RobotError {
        match e {
            SearchError::Query(crate::search::QueryError::Empty) => RobotError::usage("bad query: the query is empty")
                .hint(
                    "give words to search for, or a filter (--agent, --workspace, --since, --until, --role) to \
                     list the newest messages it matches; `cass sessions` lists conversations",
                ),
            SearchError::Query(q) => RobotError::usage(format!("bad query: {q}")),
            SearchError::Limit | SearchError::Offset | SearchError::BrowseByMeaning => RobotError::usage(e.to_string()),
            e if e.is_missing_index() => {
                RobotError::new("no_index", exit::NO_INDEX, e.to_string()).hint("run `cass index` first")
            }
            SearchError::Store(s) => s.into(),
            SearchError::Stale(_) => {
                RobotError::new("stale_index", exit::NO_INDEX, e.to_string()).hint("run `cass index`")
            }
            SearchError::Damaged(_) => RobotError::new("index_damaged", exit::USAGE, e.to_string()).hint(
                "run `cass index --repair` (rebuilds damaged indexes from the store; `cass health --deep` names them)",
            ),
            SearchError::Tier(TierError::Stale(t)) => RobotError::new("stale_index", exit::NO_INDEX, e.to_string())
                .hint(format!("run `{}`, or search with --mode lexical", t.build_command())),
            SearchError::Tier(TierError::NotPublished(t)) => {
                RobotError::new("no_semantic_tier", exit::NO_INDEX, e.to_string())
                    .hint(format!("run `cass semantic backfill --tier {t}`, or search with --mode lexical"))
            }
            other => RobotError::new("search", exit::USAGE, other.to_string()),
        }
    }
}

impl From<StatusError> for RobotError {
    fn from(e: StatusError) -> RobotError {
        match e {
            StatusError::Store(StoreError::Missing(p)) => {
                RobotError::new("no_index", exit::NO_INDEX, format!("no index yet at {}", p.display()))
                    .hint("run `cass index` first")
            }
            other => RobotError::new("status", exit::USAGE, other.to_string()),
        }
    }
}
