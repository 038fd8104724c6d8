//! The SQLite store: the single source of truth. Every derived index (lexical,
//! semantic tiers) records here how far it has caught up, so it can always be
//! rebuilt or repaired from this file alone.

pub mod ingest;
pub mod lexical;
pub mod privacy;
pub mod query;
pub mod remote;
mod schema;
pub mod semantic;
pub mod usage;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use schema::SCHEMA_VERSION;

/// What can go wrong opening or querying the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened.
    #[error("database {path}: {source}")]
    Open {
        /// Path of the database file.
        path: PathBuf,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
    /// The database was written by a newer cass whose schema this one cannot read.
    #[error("database {path} has schema version {found}, newer than this cass understands ({supported}); upgrade cass")]
    TooNew {
        /// Path of the database file.
        path: PathBuf,
        /// The schema version found in the file.
        found: i64,
        /// The newest schema version this build knows ([`SCHEMA_VERSION`]).
        supported: i64,
    },
    /// No store at this path yet (or one never initialized): nothing was indexed.
    #[error("no index yet at {0} (run `cass index` first)")]
    Missing(PathBuf),
    /// Any other SQLite error.
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}

impl StoreError {
    /// True when the disk (or a quota) is full: worth its own message.
    pub fn is_disk_full(&self) -> bool {
        let err = match self {
            StoreError::Open { source, .. } | StoreError::Sql(source) => source,
            _ => return false,
        };
        matches!(err.sqlite_error_code(), Some(rusqlite::ErrorCode::DiskFull))
    }

    /// True when SQLite gave up waiting for a lock (busy or locked database).
    pub fn is_busy(&self) -> bool {
        let err = match self {
            StoreError::Open { source, .. } | StoreError::Sql(source) => source,
            _ => return false,
        };
        matches!(err.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
    }
}

/// Result of a store operation.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Page size of a new store, in bytes (SQLite's default is 4 KiB).
///
/// A first index appends hundreds of megabytes of rows, each page written
/// twice: to the WAL, then to the file at a checkpoint. A WAL frame is a
/// page plus a 24-byte header, so 4 KiB frames straddle the kernel's 4 KiB
/// pages and every write zeroes and fills two partly; bigger pages cut
/// that and SQLite's per-page work: a third less system time and ~8 %
/// less wall time for `cass index --full` at a million messages
/// (docs/performance-history.md, session 16). 16 KiB, not 64: a search
/// reads one leaf page per hit it shows.
const PAGE_SIZE: i64 = 16 * 1024;

/// An open store. One writer at a time holds it read-write (guarded by
/// `cass.lock`); readers open it read-only and never block the writer (WAL).
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating and migrating as needed) the store for writing.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path).map_err(|source| StoreError::Open { path: path.into(), source })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        conn.busy_timeout(Duration::from_secs(10))?;
        // Before WAL mode: a new file takes its page size then, an
        // existing one keeps its own.
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Deleted rows are zeroed, not left in free space: forgotten
        // conversations and text replaced by redaction must not stay
        // readable in the file.
        conn.pragma_update(None, "secure_delete", "ON")?;
        let mut store = Store { conn, path: path.into() };
        schema::migrate(&mut store.conn, path)?;
        Ok(store)
    }

    /// Opens an existing store read-only, for searches and reports.
    pub fn open_readonly(path: &Path) -> Result<Store> {
        if !path.exists() {
            return Err(StoreError::Missing(path.into()));
        }
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(|source| StoreError::Open { path: path.into(), source })?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew { path: path.into(), found: version, supported: SCHEMA_VERSION });
        }
        if version == 0 {
            return Err(StoreError::Missing(path.into()));
        }
        Ok(Store { conn, path: path.into() })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A value from the `meta` table.
    pub fn meta_get(&self, key: &str) -> Result<Option<String>> {
        use rusqlite::OptionalExtension;
        Ok(self.conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }

    /// Stores a value in the `meta` table, replacing any earlier one.
    pub fn meta_set(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// This store's generation: a random id made when it was created.
    pub fn generation(&self) -> Result<String> {
        Ok(self.meta_get("store_generation")?.unwrap_or_default())
    }

    /// Whether a derived index that recorded `generation` was built from
    /// this store. An index with none predates generations: it counts as
    /// this store's only when the store was upgraded (not created) since.
    pub fn built_from_here(&self, generation: Option<&str>) -> Result<bool> {
        let own = self.meta_get("store_generation")?;
        match (generation, own) {
            (Some(g), Some(own)) => Ok(g == own),
            // Not migrated yet (a reader opened a v1 store before the next
            // `cass index`): everything here predates generations.
            (_, None) => Ok(true),
            (None, Some(_)) => Ok(self.meta_get("generation_legacy")?.as_deref() == Some("1")),
        }
    }

    /// A `meta` value parsed as an integer; `None` when absent or not a number.
    pub fn meta_get_i64(&self, key: &str) -> Result<Option<i64>> {
        Ok(self.meta_get(key)?.and_then(|v| v.parse().ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_size(path: &Path) -> i64 {
        let conn = Connection::open(path).unwrap();
        conn.pragma_query_value(None, "page_size", |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_new_store_takes_the_bigger_pages_and_an_existing_one_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.db");
        drop(Store::open(&new).unwrap());
        assert_eq!(page_size(&new), PAGE_SIZE);

        // A store written before: SQLite's default pages, already in WAL mode.
        let old = dir.path().join("old.db");
        {
            let conn = Connection::open(&old).unwrap();
            conn.execute_batch("PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE before (x);").unwrap();
        }
        let store = Store::open(&old).unwrap();
        store.meta_set("probe", "kept").unwrap();
        drop(store);
        assert_eq!(page_size(&old), 4096);
        assert_eq!(Store::open_readonly(&old).unwrap().meta_get("probe").unwrap().as_deref(), Some("kept"));
    }
}
