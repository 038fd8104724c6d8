//! Schema and migrations, versioned with `PRAGMA user_version`.

use std::path::Path;

use rusqlite::Connection;

use super::{Result, StoreError};

/// Each entry migrates from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // v1: the foundation.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE conversations (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        agent          TEXT NOT NULL,
        source_path    TEXT NOT NULL,
        external_id    TEXT NOT NULL,
        title          TEXT,
        title_explicit INTEGER NOT NULL DEFAULT 0,
        workspace      TEXT,
        started_at     INTEGER,
        ended_at       INTEGER,
        message_count  INTEGER NOT NULL DEFAULT 0,
        updated_at     INTEGER NOT NULL,
        UNIQUE (agent, source_path, external_id)
    );
    CREATE INDEX conversations_source ON conversations (source_path);
    -- AUTOINCREMENT: ids only ever grow, even after deletes. The semantic
    -- backfill and the lexical index page by `id > cursor` and rely on it.
    CREATE TABLE messages (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        ordinal         INTEGER NOT NULL,
        role            TEXT NOT NULL,
        author          TEXT,
        created_at      INTEGER,
        content         TEXT NOT NULL,
        line_offset     INTEGER
    );
    CREATE INDEX messages_conversation ON messages (conversation_id, ordinal);
    CREATE INDEX messages_line ON messages (conversation_id, line_offset) WHERE line_offset IS NOT NULL;
    CREATE TABLE file_state (
        path       TEXT PRIMARY KEY,
        agent      TEXT NOT NULL,
        size       INTEGER NOT NULL,
        mtime_ns   INTEGER NOT NULL,
        inode      INTEGER NOT NULL,
        head_hash  INTEGER NOT NULL,
        offset     INTEGER NOT NULL,
        next_line  INTEGER NOT NULL,
        resume     TEXT,
        indexed_at INTEGER NOT NULL
    );
    CREATE TABLE ingest_errors (
        id          INTEGER PRIMARY KEY,
        path        TEXT NOT NULL,
        line        INTEGER NOT NULL,
        message     TEXT NOT NULL,
        recorded_at INTEGER NOT NULL
    );
    CREATE INDEX ingest_errors_path ON ingest_errors (path);
    -- Conversations whose earlier messages were replaced or removed: the
    -- lexical index re-derives them on its next sync.
    CREATE TABLE lexical_dirty (
        conversation_id INTEGER PRIMARY KEY
    );
    -- The title is indexed with every message: a new title re-derives them.
    CREATE TRIGGER conversations_title_dirty AFTER UPDATE OF title ON conversations
    WHEN OLD.title IS NOT NEW.title AND OLD.message_count > 0
    BEGIN
        -- Not OR IGNORE: an outer statement's conflict policy overrides it.
        INSERT INTO lexical_dirty (conversation_id)
        SELECT NEW.id WHERE NOT EXISTS (SELECT 1 FROM lexical_dirty WHERE conversation_id = NEW.id);
    END;
    "#,
];

/// The schema version this build writes and reads: one per migration.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew { path: path.into(), found: version, supported: SCHEMA_VERSION });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
