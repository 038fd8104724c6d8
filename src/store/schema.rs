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
    // v4: token usage.
    r#"
    -- One row per model call an agent recorded tokens for. It belongs to a
    -- conversation (its `seq`-th call, from 0), and to the message at
    -- `ordinal` when the call wrote one. A re-read matches calls by `seq`
    -- and keeps those unchanged, as it does messages by ordinal.
    -- Counts are normalized (see `model::Usage`): `input` holds no cache
    -- tokens, `cache_write` includes the 1-hour writes `cache_write_1h`
    -- (priced apart), `output` includes `reasoning`. `agent` and
    -- `workspace` are copied from the conversation so the sums below need
    -- no join. A call logged in several files (a resumed or forked Claude
    -- Code session) has one `request_key`; only one of its rows is
    -- `counted`, and when that one goes another takes its place.
    CREATE TABLE usage (
        id              INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL,
        seq             INTEGER NOT NULL,
        ordinal         INTEGER,
        line_offset     INTEGER,
        ts              INTEGER NOT NULL,
        agent           TEXT NOT NULL,
        workspace       TEXT,
        model           TEXT NOT NULL,
        input           INTEGER NOT NULL,
        output          INTEGER NOT NULL,
        cache_write     INTEGER NOT NULL,
        cache_write_1h  INTEGER NOT NULL,
        cache_read      INTEGER NOT NULL,
        reasoning       INTEGER NOT NULL,
        request_key     TEXT,
        counted         INTEGER NOT NULL
    );
    CREATE INDEX usage_conversation ON usage (conversation_id, seq);
    CREATE INDEX usage_request ON usage (request_key, counted) WHERE request_key IS NOT NULL;
    -- Counted calls summed per quarter hour (UTC), prompt band, agent,
    -- workspace and model: every time zone's days start on a quarter hour,
    -- so a report in any zone reads these few rows instead of every call.
    -- Prices with a long-context rate stay sums of these: `band` says
    -- whether a call's prompt (input and cache tokens) passed 200k (1) or
    -- 272k (2), for rates that apply to a whole call past a size; the
    -- `*_over` sums are each kind's tokens past 200k in one call, for
    -- rates that apply to those tokens only.
    CREATE TABLE usage_slots (
        slot      INTEGER NOT NULL,
        band      INTEGER NOT NULL,
        agent     TEXT NOT NULL,
        workspace TEXT NOT NULL,
        model     TEXT NOT NULL,
        calls INTEGER NOT NULL,
        input INTEGER NOT NULL,
        output INTEGER NOT NULL,
        cache_write INTEGER NOT NULL,
        cache_write_1h INTEGER NOT NULL,
        cache_read INTEGER NOT NULL,
        reasoning INTEGER NOT NULL,
        input_over INTEGER NOT NULL,
        output_over INTEGER NOT NULL,
        cache_write_over INTEGER NOT NULL,
        cache_write_1h_over INTEGER NOT NULL,
        cache_read_over INTEGER NOT NULL,
        PRIMARY KEY (slot, band, agent, workspace, model)
    ) WITHOUT ROWID;
    -- The same per conversation, model and band, for the sessions report.
    CREATE TABLE usage_sessions (
        conversation_id INTEGER NOT NULL,
        model           TEXT NOT NULL,
        band            INTEGER NOT NULL,
        calls INTEGER NOT NULL,
        input INTEGER NOT NULL,
        output INTEGER NOT NULL,
        cache_write INTEGER NOT NULL,
        cache_write_1h INTEGER NOT NULL,
        cache_read INTEGER NOT NULL,
        reasoning INTEGER NOT NULL,
        input_over INTEGER NOT NULL,
        output_over INTEGER NOT NULL,
        cache_write_over INTEGER NOT NULL,
        cache_write_1h_over INTEGER NOT NULL,
        cache_read_over INTEGER NOT NULL,
        PRIMARY KEY (conversation_id, model, band)
    ) WITHOUT ROWID;
    CREATE TRIGGER usage_counted AFTER INSERT ON usage WHEN NEW.counted = 1
    BEGIN
        INSERT INTO usage_slots SELECT NEW.ts / 900000, CASE WHEN NEW.input + NEW.cache_write + NEW.cache_read > 272000 THEN 2 WHEN NEW.input + NEW.cache_write + NEW.cache_read > 200000 THEN 1 ELSE 0 END, NEW.agent, COALESCE(NEW.workspace, ''), NEW.model, 1,
            NEW.input, NEW.output, NEW.cache_write, NEW.cache_write_1h, NEW.cache_read, NEW.reasoning, MAX(NEW.input - 200000, 0), MAX(NEW.output - 200000, 0), MAX(NEW.cache_write - NEW.cache_write_1h - 200000, 0), MAX(NEW.cache_write_1h - 200000, 0), MAX(NEW.cache_read - 200000, 0)
        WHERE true
        ON CONFLICT DO UPDATE SET calls = calls + 1,
            input = input + excluded.input,
            output = output + excluded.output,
            cache_write = cache_write + excluded.cache_write,
            cache_write_1h = cache_write_1h + excluded.cache_write_1h,
            cache_read = cache_read + excluded.cache_read,
            reasoning = reasoning + excluded.reasoning,
            input_over = input_over + excluded.input_over,
            output_over = output_over + excluded.output_over,
            cache_write_over = cache_write_over + excluded.cache_write_over,
            cache_write_1h_over = cache_write_1h_over + excluded.cache_write_1h_over,
            cache_read_over = cache_read_over + excluded.cache_read_over;
        INSERT INTO usage_sessions SELECT NEW.conversation_id, NEW.model, CASE WHEN NEW.input + NEW.cache_write + NEW.cache_read > 272000 THEN 2 WHEN NEW.input + NEW.cache_write + NEW.cache_read > 200000 THEN 1 ELSE 0 END, 1,
            NEW.input, NEW.output, NEW.cache_write, NEW.cache_write_1h, NEW.cache_read, NEW.reasoning, MAX(NEW.input - 200000, 0), MAX(NEW.output - 200000, 0), MAX(NEW.cache_write - NEW.cache_write_1h - 200000, 0), MAX(NEW.cache_write_1h - 200000, 0), MAX(NEW.cache_read - 200000, 0)
        WHERE true
        ON CONFLICT DO UPDATE SET calls = calls + 1,
            input = input + excluded.input,
            output = output + excluded.output,
            cache_write = cache_write + excluded.cache_write,
            cache_write_1h = cache_write_1h + excluded.cache_write_1h,
            cache_read = cache_read + excluded.cache_read,
            reasoning = reasoning + excluded.reasoning,
            input_over = input_over + excluded.input_over,
            output_over = output_over + excluded.output_over,
            cache_write_over = cache_write_over + excluded.cache_write_over,
            cache_write_1h_over = cache_write_1h_over + excluded.cache_write_1h_over,
            cache_read_over = cache_read_over + excluded.cache_read_over;
    END;
    CREATE TRIGGER usage_uncounted AFTER DELETE ON usage WHEN OLD.counted = 1
    BEGIN
        UPDATE usage_slots SET calls = calls - 1, input = input - OLD.input,
            output = output - OLD.output,
            cache_write = cache_write - OLD.cache_write,
            cache_write_1h = cache_write_1h - OLD.cache_write_1h,
            cache_read = cache_read - OLD.cache_read,
            reasoning = reasoning - OLD.reasoning,
            input_over = input_over - MAX(OLD.input - 200000, 0),
            output_over = output_over - MAX(OLD.output - 200000, 0),
            cache_write_over = cache_write_over - MAX(OLD.cache_write - OLD.cache_write_1h - 200000, 0),
            cache_write_1h_over = cache_write_1h_over - MAX(OLD.cache_write_1h - 200000, 0),
            cache_read_over = cache_read_over - MAX(OLD.cache_read - 200000, 0)
        WHERE slot = OLD.ts / 900000 AND band = CASE WHEN OLD.input + OLD.cache_write + OLD.cache_read > 272000 THEN 2 WHEN OLD.input + OLD.cache_write + OLD.cache_read > 200000 THEN 1 ELSE 0 END AND agent = OLD.agent
            AND workspace = COALESCE(OLD.workspace, '') AND model = OLD.model;
        DELETE FROM usage_slots WHERE slot = OLD.ts / 900000 AND band = CASE WHEN OLD.input + OLD.cache_write + OLD.cache_read > 272000 THEN 2 WHEN OLD.input + OLD.cache_write + OLD.cache_read > 200000 THEN 1 ELSE 0 END AND agent = OLD.agent
            AND workspace = COALESCE(OLD.workspace, '') AND model = OLD.model AND calls = 0;
        UPDATE usage_sessions SET calls = calls - 1, input = input - OLD.input,
            output = output - OLD.output,
            cache_write = cache_write - OLD.cache_write,
            cache_write_1h = cache_write_1h - OLD.cache_write_1h,
            cache_read = cache_read - OLD.cache_read,
            reasoning = reasoning - OLD.reasoning,
            input_over = input_over - MAX(OLD.input - 200000, 0),
            output_over = output_over - MAX(OLD.output - 200000, 0),
            cache_write_over = cache_write_over - MAX(OLD.cache_write - OLD.cache_write_1h - 200000, 0),
            cache_write_1h_over = cache_write_1h_over - MAX(OLD.cache_write_1h - 200000, 0),
            cache_read_over = cache_read_over - MAX(OLD.cache_read - 200000, 0)
        WHERE conversation_id = OLD.conversation_id AND model = OLD.model AND band = CASE WHEN OLD.input + OLD.cache_write + OLD.cache_read > 272000 THEN 2 WHEN OLD.input + OLD.cache_write + OLD.cache_read > 200000 THEN 1 ELSE 0 END;
        DELETE FROM usage_sessions WHERE conversation_id = OLD.conversation_id AND model = OLD.model AND band = CASE WHEN OLD.input + OLD.cache_write + OLD.cache_read > 272000 THEN 2 WHEN OLD.input + OLD.cache_write + OLD.cache_read > 200000 THEN 1 ELSE 0 END AND calls = 0;
        -- Another copy of the same call, if one is stored, is counted now.
        UPDATE usage SET counted = 1 WHERE id = (SELECT MIN(id) FROM usage
            WHERE OLD.request_key IS NOT NULL AND request_key = OLD.request_key AND counted = 0);
    END;
    -- A copy promoted by the trigger above, or a call whose conversation
    -- learned its workspace: out of its old sums (if it was in them), into
    -- the new ones.
    CREATE TRIGGER usage_recounted AFTER UPDATE OF counted, workspace ON usage
    WHEN OLD.counted IS NOT NEW.counted OR OLD.workspace IS NOT NEW.workspace
    BEGIN
        UPDATE usage_slots SET calls = calls - 1, input = input - OLD.input,
            output = output - OLD.output,
            cache_write = cache_write - OLD.cache_write,
            cache_write_1h = cache_write_1h - OLD.cache_write_1h,
            cache_read = cache_read - OLD.cache_read,
            reasoning = reasoning - OLD.reasoning,
            input_over = input_over - MAX(OLD.input - 200000, 0),
            output_over = output_over - MAX(OLD.output - 200000, 0),
            cache_write_over = cache_write_over - MAX(OLD.cache_write - OLD.cache_write_1h - 200000, 0),
            cache_write_1h_over = cache_write_1h_over - MAX(OLD.cache_write_1h - 200000, 0),
            cache_read_over = cache_read_over - MAX(OLD.cache_read - 200000, 0)
        WHERE OLD.counted = 1 AND slot = OLD.ts / 900000 AND band = CASE WHEN OLD.input + OLD.cache_write + OLD.cache_read > 272000 THEN 2 WHEN OLD.input + OLD.cache_write + OLD.cache_read > 200000 THEN 1 ELSE 0 END AND agent = OLD.agent
            AND workspace = COALESCE(OLD.workspace, '') AND model = OLD.model;
        DELETE FROM usage_slots WHERE slot = OLD.ts / 900000 AND band = CASE WHEN OLD.input + OLD.cache_write + OLD.cache_read > 272000 THEN 2 WHEN OLD.input + OLD.cache_write + OLD.cache_read > 200000 THEN 1 ELSE 0 END AND agent = OLD.agent
            AND workspace = COALESCE(OLD.workspace, '') AND model = OLD.model AND calls = 0;
        INSERT INTO usage_slots SELECT NEW.ts / 900000, CASE WHEN NEW.input + NEW.cache_write + NEW.cache_read > 272000 THEN 2 WHEN NEW.input + NEW.cache_write + NEW.cache_read > 200000 THEN 1 ELSE 0 END, NEW.agent, COALESCE(NEW.workspace, ''), NEW.model, 1,
            NEW.input, NEW.output, NEW.cache_write, NEW.cache_write_1h, NEW.cache_read, NEW.reasoning, MAX(NEW.input - 200000, 0), MAX(NEW.output - 200000, 0), MAX(NEW.cache_write - NEW.cache_write_1h - 200000, 0), MAX(NEW.cache_write_1h - 200000, 0), MAX(NEW.cache_read - 200000, 0)
        WHERE NEW.counted = 1
        ON CONFLICT DO UPDATE SET calls = calls + 1,
            input = input + excluded.input,
            output = output + excluded.output,
            cache_write = cache_write + excluded.cache_write,
            cache_write_1h = cache_write_1h + excluded.cache_write_1h,
            cache_read = cache_read + excluded.cache_read,
            reasoning = reasoning + excluded.reasoning,
            input_over = input_over + excluded.input_over,
            output_over = output_over + excluded.output_over,
            cache_write_over = cache_write_over + excluded.cache_write_over,
            cache_write_1h_over = cache_write_1h_over + excluded.cache_write_1h_over,
            cache_read_over = cache_read_over + excluded.cache_read_over;
        UPDATE usage_sessions SET calls = calls - 1, input = input - OLD.input,
            output = output - OLD.output,
            cache_write = cache_write - OLD.cache_write,
            cache_write_1h = cache_write_1h - OLD.cache_write_1h,
            cache_read = cache_read - OLD.cache_read,
            reasoning = reasoning - OLD.reasoning,
            input_over = input_over - MAX(OLD.input - 200000, 0),
            output_over = output_over - MAX(OLD.output - 200000, 0),
            cache_write_over = cache_write_over - MAX(OLD.cache_write - OLD.cache_write_1h - 200000, 0),
            cache_write_1h_over = cache_write_1h_over - MAX(OLD.cache_write_1h - 200000, 0),
            cache_read_over = cache_read_over - MAX(OLD.cache_read - 200000, 0)
        WHERE OLD.counted = 1 AND NEW.counted = 0 AND conversation_id = OLD.conversation_id AND model = OLD.model AND band = CASE WHEN OLD.input + OLD.cache_write + OLD.cache_read > 272000 THEN 2 WHEN OLD.input + OLD.cache_write + OLD.cache_read > 200000 THEN 1 ELSE 0 END;
        DELETE FROM usage_sessions WHERE conversation_id = OLD.conversation_id AND model = OLD.model AND band = CASE WHEN OLD.input + OLD.cache_write + OLD.cache_read > 272000 THEN 2 WHEN OLD.input + OLD.cache_write + OLD.cache_read > 200000 THEN 1 ELSE 0 END AND calls = 0;
        INSERT INTO usage_sessions SELECT NEW.conversation_id, NEW.model, CASE WHEN NEW.input + NEW.cache_write + NEW.cache_read > 272000 THEN 2 WHEN NEW.input + NEW.cache_write + NEW.cache_read > 200000 THEN 1 ELSE 0 END, 1,
            NEW.input, NEW.output, NEW.cache_write, NEW.cache_write_1h, NEW.cache_read, NEW.reasoning, MAX(NEW.input - 200000, 0), MAX(NEW.output - 200000, 0), MAX(NEW.cache_write - NEW.cache_write_1h - 200000, 0), MAX(NEW.cache_write_1h - 200000, 0), MAX(NEW.cache_read - 200000, 0)
        WHERE NEW.counted = 1 AND OLD.counted = 0
        ON CONFLICT DO UPDATE SET calls = calls + 1,
            input = input + excluded.input,
            output = output + excluded.output,
            cache_write = cache_write + excluded.cache_write,
            cache_write_1h = cache_write_1h + excluded.cache_write_1h,
            cache_read = cache_read + excluded.cache_read,
            reasoning = reasoning + excluded.reasoning,
            input_over = input_over + excluded.input_over,
            output_over = output_over + excluded.output_over,
            cache_write_over = cache_write_over + excluded.cache_write_over,
            cache_write_1h_over = cache_write_1h_over + excluded.cache_write_1h_over,
            cache_read_over = cache_read_over + excluded.cache_read_over;
    END;
    CREATE TRIGGER conversations_usage_workspace AFTER UPDATE OF workspace ON conversations
    WHEN OLD.workspace IS NOT NEW.workspace
    BEGIN
        UPDATE usage SET workspace = NEW.workspace WHERE conversation_id = NEW.id;
    END;
    CREATE TRIGGER conversations_usage_gone AFTER DELETE ON conversations
    BEGIN
        DELETE FROM usage WHERE conversation_id = OLD.id;
    END;
    "#,
    // v5: remote machines.
    r#"
    -- The machine a conversation was read on: 'local', or the name of a
    -- remote machine (`cass sources add`) whose files were synced into the
    -- data dir. `source_path` stays the file cass reads (the mirror, for a
    -- remote one); `origin_path` is that file's path on its machine.
    -- `origin_workspace` is the workspace as the machine wrote it, before
    -- the machine's path mappings made `workspace` of it (remapped when a
    -- mapping changes).
    ALTER TABLE conversations ADD COLUMN source TEXT NOT NULL DEFAULT 'local';
    ALTER TABLE conversations ADD COLUMN origin_path TEXT;
    ALTER TABLE conversations ADD COLUMN origin_workspace TEXT;
    -- Remote conversations are the few: `--source NAME|remote` reads only them.
    CREATE INDEX conversations_remote ON conversations (source) WHERE source <> 'local';
    "#,
    // v6: status without reading the conversations table.
    r#"
    -- `status` sums conversations and messages per agent on every call (and
    -- the fast tier's pending count sums messages): from this covering index
    -- that is a ~1 MB read at ten million messages instead of the whole
    -- table (15 MB), 5 ms instead of 60-100 ms.
    CREATE INDEX conversations_agent_messages ON conversations (agent, message_count);
    "#,
    // v7: one index fewer to keep up on every message written.
    r#"
    -- Only the rewind after a crash mid-append deleted by (conversation,
    -- line offset), and the conversation's index finds those rows too (it
    -- reads the conversation's messages, then their offsets). Kept, it was
    -- ~2.6 % of the instructions of a first index run (docs/performance-history.md,
    -- session 17).
    DROP INDEX IF EXISTS messages_line;
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
