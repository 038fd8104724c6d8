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
    // v2: store identity and rewrite detection past the head.
    r#"
    -- A random id of this store: derived indexes record the generation
    -- they were built from, and one built from another store is rebuilt,
    -- never served (a deleted and re-created store reuses message ids).
    INSERT INTO meta (key, value) VALUES ('store_generation', lower(hex(randomblob(16))))
        ON CONFLICT (key) DO NOTHING;
    -- FNV-1a of the block just before the stored offset: a rewrite that
    -- keeps the head and grows the file is not taken for an append.
    ALTER TABLE file_state ADD COLUMN tail_hash INTEGER NOT NULL DEFAULT 0;
    -- FNV-1a of a message's role, author, time and text, written with the
    -- row: SQLite checks its structure, not its content, and a flipped
    -- byte in a message must not change answers unnoticed. NULL on rows
    -- written before it (a re-read that keeps the row fills it in).
    ALTER TABLE messages ADD COLUMN checksum INTEGER;
    -- The workspace is indexed with every message too: one learned on a
    -- later read re-derives them.
    CREATE TRIGGER conversations_workspace_dirty AFTER UPDATE OF workspace ON conversations
    WHEN OLD.workspace IS NOT NEW.workspace AND OLD.message_count > 0
    BEGIN
        INSERT INTO lexical_dirty (conversation_id)
        SELECT NEW.id WHERE NOT EXISTS (SELECT 1 FROM lexical_dirty WHERE conversation_id = NEW.id);
    END;
    "#,
    // v3: privacy.
    r#"
    -- Secrets replaced by markers before the row was written: how many,
    -- and of which kinds ("aws_access_key:1,password:2"), never the secret.
    -- The partial index makes `status` totals cost the redacted rows only.
    ALTER TABLE messages ADD COLUMN redacted INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN redacted_kinds TEXT;
    CREATE INDEX messages_redacted ON messages (id) WHERE redacted > 0;
    -- What `cass forget` keeps out: one conversation (agent, source path,
    -- session id), a session file (source path), or a workspace. Index runs
    -- skip what matches; deleting the row (`--undo`) lets it back in.
    CREATE TABLE forgotten (
        id           INTEGER PRIMARY KEY,
        kind         TEXT NOT NULL CHECK (kind IN ('conversation', 'file', 'workspace')),
        agent        TEXT,
        source_path  TEXT,
        external_id  TEXT,
        workspace    TEXT,
        title        TEXT,
        conversations INTEGER NOT NULL DEFAULT 0,
        messages     INTEGER NOT NULL DEFAULT 0,
        forgotten_at INTEGER NOT NULL
    );
    -- Session files an index run held something back from (an exclusion
    -- or a forgotten conversation matched): read again in full when the
    -- exclusions change or a forget is undone, as their file state alone
    -- would skip them.
    CREATE TABLE held_back (
        path TEXT PRIMARY KEY
    );
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
        if i == 1 && version >= 1 {
            // An upgraded store: its indexes predate generations and were
            // built from it, so an unstamped index is taken as its own.
            tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('generation_legacy', '1')", [])?;
        }
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
