//! Writes made by `cass index`. All go through an [`IngestTx`], a
//! transaction the caller commits in batches, so a batch lands whole.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{Result, Store};
use crate::model::{ConversationHeader, Message};
use crate::time::now_ms;

/// The writer's transaction over the store during ingest. Each file's
/// rows and its file state are written through it; [`IngestTx::checkpoint`]
/// commits a batch and begins the next, [`IngestTx::finish`] commits the rest.
pub struct IngestTx<'a>(Transaction<'a>);

impl Store {
    /// Begins the ingest transaction (the caller holds the writer lock).
    pub fn ingest(&mut self) -> Result<IngestTx<'_>> {
        Ok(IngestTx(self.conn.transaction()?))
    }
}

impl IngestTx<'_> {
    /// Commits what was written so far and begins a new transaction.
    pub fn checkpoint(&mut self) -> Result<()> {
        let conn: &Connection = &self.0;
        conn.execute_batch("COMMIT; BEGIN")?;
        Ok(())
    }

    /// Drops conversations left empty, then commits.
    pub fn finish(self) -> Result<()> {
        prune_empty_conversations(&self)?;
        self.0.commit()?;
        Ok(())
    }
}

/// What the store remembers about a source file between runs.
#[derive(Debug, Clone, PartialEq)]
pub struct FileState {
    /// The file's path, the key of its row.
    pub path: String,
    /// Slug of the agent whose connector reads it.
    pub agent: String,
    /// Its size in bytes when last read, its companions' included.
    pub size: u64,
    /// Latest modification time of it and its companions, ns since the Unix epoch.
    pub mtime_ns: i64,
    /// Its inode number: a new one means the file was replaced.
    pub inode: u64,
    /// FNV-1a of the first `min(4096, offset)` bytes: detects a rewrite that
    /// kept the inode and grew the file.
    pub head_hash: u64,
    /// Byte offset after the last complete line consumed; a tail read resumes here.
    pub offset: u64,
    /// Line number of the line at `offset`.
    pub next_line: u64,
    /// The connector's resume state (JSON), handed back on the next incremental parse.
    pub resume: Option<String>,
}

/// What the store knows of every source file, by path.
pub fn load_file_states(store: &Store) -> Result<std::collections::HashMap<String, FileState>> {
    let mut stmt = store
        .conn
        .prepare("SELECT path, agent, size, mtime_ns, inode, head_hash, offset, next_line, resume FROM file_state")?;
    let rows = stmt.query_map([], |r| {
        Ok(FileState {
            path: r.get(0)?,
            agent: r.get(1)?,
            size: r.get::<_, i64>(2)? as u64,
            mtime_ns: r.get(3)?,
            inode: r.get::<_, i64>(4)? as u64,
            head_hash: r.get::<_, i64>(5)? as u64,
            offset: r.get::<_, i64>(6)? as u64,
            next_line: r.get::<_, i64>(7)? as u64,
            resume: r.get(8)?,
        })
    })?;
    let mut out = std::collections::HashMap::new();
    for row in rows {
        let fs = row?;
        out.insert(fs.path.clone(), fs);
    }
    Ok(out)
}

/// Inserts or replaces the state of one source file.
pub fn save_file_state(tx: &IngestTx<'_>, fs: &FileState) -> Result<()> {
    tx.0.prepare_cached(
        "INSERT INTO file_state (path, agent, size, mtime_ns, inode, head_hash, offset, next_line, resume, indexed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(path) DO UPDATE SET agent = excluded.agent, size = excluded.size,
           mtime_ns = excluded.mtime_ns, inode = excluded.inode, head_hash = excluded.head_hash,
           offset = excluded.offset, next_line = excluded.next_line, resume = excluded.resume,
           indexed_at = excluded.indexed_at",
    )?
    .execute(params![
        fs.path,
        fs.agent,
        fs.size as i64,
        fs.mtime_ns,
        fs.inode as i64,
        fs.head_hash as i64,
        fs.offset as i64,
        fs.next_line as i64,
        fs.resume,
        now_ms()
    ])?;
    Ok(())
}

/// Forgets what was known of a source file, so the next run reads it in full.
pub fn forget_file_state(tx: &IngestTx<'_>, path: &str) -> Result<()> {
    tx.0.prepare_cached("DELETE FROM file_state WHERE path = ?1")?.execute([path])?;
    Ok(())
}

/// Removes every conversation read from `path` (a full re-parse follows).
/// Returns how many messages went away.
pub fn delete_source(tx: &IngestTx<'_>, agent: &str, path: &str) -> Result<usize> {
    tx.0.prepare_cached(
        "INSERT OR IGNORE INTO lexical_dirty (conversation_id)
         SELECT id FROM conversations WHERE agent = ?1 AND source_path = ?2 AND message_count > 0",
    )?
    .execute([agent, path])?;
    let removed: i64 =
        tx.0.prepare_cached(
            "SELECT COALESCE(SUM(message_count), 0) FROM conversations WHERE agent = ?1 AND source_path = ?2",
        )?
        .query_row([agent, path], |r| r.get(0))?;
    tx.0.prepare_cached("DELETE FROM conversations WHERE agent = ?1 AND source_path = ?2")?.execute([agent, path])?;
    tx.0.prepare_cached("DELETE FROM ingest_errors WHERE path = ?1")?.execute([path])?;
    Ok(removed as usize)
}

/// Empties one conversation of a source (a database refresh re-emits it
/// whole); its row, id and explicit title stay.
pub fn clear_conversation(tx: &IngestTx<'_>, agent: &str, path: &str, external_id: &str) -> Result<()> {
    let id: Option<i64> =
        tx.0.prepare_cached("SELECT id FROM conversations WHERE agent = ?1 AND source_path = ?2 AND external_id = ?3")?
            .query_row([agent, path, external_id], |r| r.get(0))
            .optional()?;
    let Some(id) = id else { return Ok(()) };
    let n = tx.0.prepare_cached("DELETE FROM messages WHERE conversation_id = ?1")?.execute([id])?;
    if n > 0 {
        tx.0.prepare_cached("INSERT OR IGNORE INTO lexical_dirty (conversation_id) VALUES (?1)")?.execute([id])?;
        refresh_conversation_stats(tx, id)?;
    }
    Ok(())
}

/// Drops messages from lines at or after `offset` of `path`: left behind by
/// a run that crashed mid-append, they are about to be read again.
pub fn truncate_source_from(tx: &IngestTx<'_>, agent: &str, path: &str, offset: u64) -> Result<usize> {
    let mut convs = tx.0.prepare_cached("SELECT id FROM conversations WHERE agent = ?1 AND source_path = ?2")?;
    let ids: Vec<i64> = convs.query_map([agent, path], |r| r.get(0))?.collect::<std::result::Result<_, _>>()?;
    let mut removed = 0;
    for id in ids {
        let n =
            tx.0.prepare_cached("DELETE FROM messages WHERE conversation_id = ?1 AND line_offset >= ?2")?
                .execute(params![id, offset as i64])?;
        if n > 0 {
            removed += n;
            tx.0.prepare_cached("INSERT OR IGNORE INTO lexical_dirty (conversation_id) VALUES (?1)")?.execute([id])?;
            refresh_conversation_stats(tx, id)?;
        }
    }
    Ok(removed)
}

/// Inserts or merges a conversation header; returns its id and the next
/// free ordinal. An explicit title replaces a derived one, never the reverse;
/// a workspace, once known, is kept.
pub fn upsert_conversation(tx: &IngestTx<'_>, agent: &str, path: &str, h: &ConversationHeader) -> Result<(i64, i64)> {
    let id: i64 = tx.0
        .prepare_cached(
            "INSERT INTO conversations (agent, source_path, external_id, title, title_explicit, workspace, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(agent, source_path, external_id) DO UPDATE SET
               title = CASE
                 WHEN excluded.title IS NOT NULL AND excluded.title_explicit THEN excluded.title
                 WHEN conversations.title IS NULL THEN excluded.title
                 ELSE conversations.title END,
               title_explicit = MAX(conversations.title_explicit, CASE WHEN excluded.title IS NOT NULL THEN excluded.title_explicit ELSE 0 END),
               workspace = COALESCE(conversations.workspace, excluded.workspace),
               updated_at = excluded.updated_at
             RETURNING id",
        )?
        .query_row(
            params![agent, path, h.external_id, h.title, h.title_explicit, h.workspace, now_ms()],
            |r| r.get(0),
        )?;
    let next: Option<i64> =
        tx.0.prepare_cached("SELECT MAX(ordinal) FROM messages WHERE conversation_id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
            .flatten();
    Ok((id, next.map_or(0, |n| n + 1)))
}

/// Appends messages to a conversation starting at `ordinal`; returns the new ids.
pub fn insert_messages(tx: &IngestTx<'_>, conversation_id: i64, mut ordinal: i64, messages: &[Message]) -> Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let mut stmt = tx.0.prepare_cached(
        "INSERT INTO messages (conversation_id, ordinal, role, author, created_at, content, line_offset)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let (mut min_ts, mut max_ts) = (None::<i64>, None::<i64>);
    for m in messages {
        stmt.execute(params![
            conversation_id,
            ordinal,
            m.role.as_str(),
            m.author,
            m.created_at,
            m.content,
            m.line_offset.map(|o| o as i64)
        ])?;
        ordinal += 1;
        if let Some(t) = m.created_at {
            min_ts = Some(min_ts.map_or(t, |x: i64| x.min(t)));
            max_ts = Some(max_ts.map_or(t, |x: i64| x.max(t)));
        }
    }
    tx.0.prepare_cached(
        "UPDATE conversations SET
           message_count = message_count + ?2,
           started_at = CASE WHEN ?3 IS NULL THEN started_at ELSE MIN(COALESCE(started_at, ?3), ?3) END,
           ended_at = CASE WHEN ?4 IS NULL THEN ended_at ELSE MAX(COALESCE(ended_at, ?4), ?4) END
         WHERE id = ?1",
    )?
    .execute(params![conversation_id, messages.len() as i64, min_ts, max_ts])?;
    Ok(())
}

fn refresh_conversation_stats(tx: &IngestTx<'_>, id: i64) -> Result<()> {
    tx.0.prepare_cached(
        "UPDATE conversations SET
           message_count = (SELECT COUNT(*) FROM messages WHERE conversation_id = ?1),
           started_at = (SELECT MIN(created_at) FROM messages WHERE conversation_id = ?1),
           ended_at = (SELECT MAX(created_at) FROM messages WHERE conversation_id = ?1)
         WHERE id = ?1",
    )?
    .execute([id])?;
    Ok(())
}

/// Removes conversations left with no messages (a source whose content vanished).
fn prune_empty_conversations(tx: &IngestTx<'_>) -> Result<usize> {
    Ok(tx.0.execute("DELETE FROM conversations WHERE message_count = 0", [])?)
}

/// Records a bad line (or record) of `path` that was skipped, and why.
pub fn record_error(tx: &IngestTx<'_>, path: &str, line: u64, message: &str) -> Result<()> {
    tx.0.prepare_cached("INSERT INTO ingest_errors (path, line, message, recorded_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![path, line as i64, message, now_ms()])?;
    Ok(())
}

/// The `ingest_errors.line` of a source that could not be read at all
/// (unreadable, encrypted, locked) as opposed to a bad line or record in it
/// (line ≥ 1, or 0 for a record of a whole-document file).
pub const UNREADABLE_LINE: i64 = -1;

/// Records that a source could not be read at all, and why.
pub fn record_unreadable(tx: &IngestTx<'_>, path: &str, message: &str) -> Result<()> {
    tx.0.prepare_cached("INSERT INTO ingest_errors (path, line, message, recorded_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![path, UNREADABLE_LINE, message, now_ms()])?;
    Ok(())
}

/// Forgets the errors recorded for lines at or after `line` of `path`: a
/// tail read from there reports them again.
pub fn clear_errors_from(tx: &IngestTx<'_>, path: &str, line: u64) -> Result<()> {
    tx.0.prepare_cached("DELETE FROM ingest_errors WHERE path = ?1 AND line >= ?2")?
        .execute(params![path, line as i64])?;
    Ok(())
}

/// Forgets every error recorded for `path`.
pub fn clear_errors(tx: &IngestTx<'_>, path: &str) -> Result<()> {
    tx.0.prepare_cached("DELETE FROM ingest_errors WHERE path = ?1")?.execute([path])?;
    Ok(())
}
