//! Writes made by `cass index`. All go through an [`IngestTx`], a
//! transaction the caller commits in batches, so a batch lands whole.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::privacy::Redaction;
use super::{Result, Store};
use crate::model::{ConversationHeader, Message, Usage};

/// Every message row is written by this statement, or by
/// [`INSERT_MESSAGES`] with the same columns.
const INSERT_MESSAGE: &str = "INSERT INTO messages (conversation_id, ordinal, role, author, created_at, content,
   line_offset, checksum, redacted, redacted_kinds)
 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
/// Values per row of [`INSERT_MESSAGE`].
const MESSAGE_COLUMNS: usize = 10;
/// Rows one [`INSERT_MESSAGES`] writes.
const ROWS_PER_INSERT: usize = 32;
/// [`INSERT_MESSAGE`] for [`ROWS_PER_INSERT`] rows at once. Each statement
/// on a table with AUTOINCREMENT reads and rewrites its sequence row, and
/// each costs a step and a reset: written one row per statement, a first
/// index spent 5 % more instructions (callgrind, 100k messages).
static INSERT_MESSAGES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let row = format!("({})", ["?"; MESSAGE_COLUMNS].join(", "));
    format!(
        "INSERT INTO messages (conversation_id, ordinal, role, author, created_at, content,
           line_offset, checksum, redacted, redacted_kinds) VALUES {}",
        vec![row; ROWS_PER_INSERT].join(", ")
    )
});
use crate::time::now_ms;

/// The writer's transaction over the store during ingest. Each file's
/// rows and its file state are written through it; [`IngestTx::checkpoint`]
/// commits a batch and begins the next, [`IngestTx::finish`] commits the rest.
pub struct IngestTx<'a>(pub(super) Transaction<'a>);

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

    /// Commits, nothing more (for writes outside an index run).
    pub(super) fn commit(self) -> Result<()> {
        self.0.commit()?;
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
    /// FNV-1a of the block just before `offset` (up to 4096 bytes; 0 when
    /// not recorded): a rewrite anywhere before the offset changes it, where
    /// the head alone would miss one that kept the first block.
    pub tail_hash: u64,
}

/// What the store knows of every source file, by path.
pub fn load_file_states(store: &Store) -> Result<std::collections::HashMap<String, FileState>> {
    let mut stmt = store.conn.prepare(
        "SELECT path, agent, size, mtime_ns, inode, head_hash, offset, next_line, resume, tail_hash FROM file_state",
    )?;
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
            tail_hash: r.get::<_, i64>(9)? as u64,
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
        "INSERT INTO file_state (path, agent, size, mtime_ns, inode, head_hash, offset, next_line, resume, indexed_at,
           tail_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT(path) DO UPDATE SET agent = excluded.agent, size = excluded.size,
           mtime_ns = excluded.mtime_ns, inode = excluded.inode, head_hash = excluded.head_hash,
           offset = excluded.offset, next_line = excluded.next_line, resume = excluded.resume,
           indexed_at = excluded.indexed_at, tail_hash = excluded.tail_hash",
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
        now_ms(),
        fs.tail_hash as i64
    ])?;
    Ok(())
}

/// Forgets what was known of a source file, so the next run reads it in full.
pub fn forget_file_state(tx: &IngestTx<'_>, path: &str) -> Result<()> {
    tx.0.prepare_cached("DELETE FROM file_state WHERE path = ?1")?.execute([path])?;
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
        tx.0.prepare_cached("DELETE FROM usage WHERE conversation_id = ?1 AND line_offset >= ?2")?
            .execute(params![id, offset as i64])?;
        if n > 0 {
            removed += n;
            tx.0.prepare_cached("INSERT OR IGNORE INTO lexical_dirty (conversation_id) VALUES (?1)")?.execute([id])?;
            refresh_conversation_stats(tx, id)?;
        }
    }
    Ok(removed)
}

/// Which machine a conversation was read on (see the store's v5 migration).
#[derive(Debug, Clone, Copy)]
pub struct ConvOrigin<'a> {
    /// `local`, or a remote machine's name.
    pub source: &'a str,
    /// A remote conversation's file on its machine.
    pub origin_path: Option<&'a str>,
    /// A remote conversation's workspace as its machine wrote it (the
    /// header's `workspace` is then the mapped one).
    pub origin_workspace: Option<&'a str>,
}

impl ConvOrigin<'_> {
    /// A conversation read on this machine.
    pub const LOCAL: ConvOrigin<'static> =
        ConvOrigin { source: crate::filters::LOCAL_SOURCE, origin_path: None, origin_workspace: None };
}

/// Inserts or merges a conversation header; returns its id and the next
/// free ordinal. An explicit title replaces a derived one, never the reverse;
/// a workspace, once known, is kept.
pub fn upsert_conversation(
    tx: &IngestTx<'_>,
    agent: &str,
    path: &str,
    h: &ConversationHeader,
    origin: &ConvOrigin<'_>,
) -> Result<(i64, i64)> {
    let id: i64 = tx.0
        .prepare_cached(
            "INSERT INTO conversations (agent, source_path, external_id, title, title_explicit, workspace, updated_at,
               source, origin_path, origin_workspace)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT(agent, source_path, external_id) DO UPDATE SET
               origin_workspace = COALESCE(conversations.origin_workspace, excluded.origin_workspace),
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
            params![
                agent,
                path,
                h.external_id,
                h.title,
                h.title_explicit,
                h.workspace,
                now_ms(),
                origin.source,
                origin.origin_path,
                origin.origin_workspace
            ],
            |r| r.get(0),
        )?;
    let next: Option<i64> =
        tx.0.prepare_cached("SELECT MAX(ordinal) FROM messages WHERE conversation_id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
            .flatten();
    Ok((id, next.map_or(0, |n| n + 1)))
}

/// The redaction records of a batch of messages: (position in the batch,
/// record), for the few that had a secret replaced.
pub type Redactions = [(usize, Redaction)];

/// The record of message `k` of a batch, as (count, kinds) columns.
fn redaction_at(notes: &Redactions, k: usize) -> (u32, Option<&str>) {
    notes.iter().find(|(at, _)| *at == k).map_or((0, None), |(_, r)| (r.count, Some(r.kinds.as_str())))
}

/// Appends messages to a conversation starting at `ordinal`, with the
/// redaction records of those that had secrets replaced.
pub fn insert_messages(
    tx: &IngestTx<'_>,
    conversation_id: i64,
    ordinal: i64,
    messages: &[Message],
    notes: &Redactions,
) -> Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let (mut min_ts, mut max_ts) = (None::<i64>, None::<i64>);
    insert_rows(tx, conversation_id, ordinal, messages, &row_checksums(messages), |k| redaction_at(notes, k))?;
    for m in messages {
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

/// Writes `messages` as new rows of conversation `conversation_id` from
/// `ordinal` on, with their checksums `sums` and `redaction(k)` for the
/// redaction columns of the `k`-th: [`ROWS_PER_INSERT`] rows per
/// statement, the rest one by one. Rows take their ids in order.
fn insert_rows<'n>(
    tx: &IngestTx<'_>,
    conversation_id: i64,
    ordinal: i64,
    messages: &[Message],
    sums: &[i64],
    redaction: impl Fn(usize) -> (u32, Option<&'n str>),
) -> Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    // Binds the values of message `k` as the `row`-th row of `stmt`.
    let bind = |stmt: &mut rusqlite::CachedStatement<'_>, row: usize, k: usize| -> rusqlite::Result<()> {
        let m = &messages[k];
        let (redacted, kinds) = redaction(k);
        let at = row * MESSAGE_COLUMNS;
        stmt.raw_bind_parameter(at + 1, conversation_id)?;
        stmt.raw_bind_parameter(at + 2, ordinal + k as i64)?;
        stmt.raw_bind_parameter(at + 3, m.role.as_str())?;
        stmt.raw_bind_parameter(at + 4, m.author.as_deref())?;
        stmt.raw_bind_parameter(at + 5, m.created_at)?;
        stmt.raw_bind_parameter(at + 6, m.content.as_str())?;
        stmt.raw_bind_parameter(at + 7, m.line_offset.map(|o| o as i64))?;
        stmt.raw_bind_parameter(at + 8, sums[k])?;
        stmt.raw_bind_parameter(at + 9, redacted)?;
        stmt.raw_bind_parameter(at + 10, kinds)
    };
    let whole = messages.len() - messages.len() % ROWS_PER_INSERT;
    if whole > 0 {
        let mut stmt = tx.0.prepare_cached(&INSERT_MESSAGES)?;
        for first in (0..whole).step_by(ROWS_PER_INSERT) {
            for row in 0..ROWS_PER_INSERT {
                bind(&mut stmt, row, first + row)?;
            }
            stmt.raw_execute()?;
        }
    }
    let mut stmt = tx.0.prepare_cached(INSERT_MESSAGE)?;
    for k in whole..messages.len() {
        bind(&mut stmt, 0, k)?;
        stmt.raw_execute()?;
    }
    Ok(())
}

fn refresh_conversation_stats(tx: &IngestTx<'_>, id: i64) -> Result<()> {
    tx.0.prepare_cached(
        // One pass over the conversation's rows for all three (the times
        // are not in an index: each was a scan of its rows).
        "UPDATE conversations SET (message_count, started_at, ended_at) =
           (SELECT COUNT(*), MIN(created_at), MAX(created_at) FROM messages WHERE conversation_id = ?1)
         WHERE id = ?1",
    )?
    .execute([id])?;
    Ok(())
}

/// Records the `seq`-th model call of a conversation (from 0), belonging
/// to its message at `ordinal` when there is one. A call already counted
/// under the same request key (the same call in another file) is stored
/// but not counted again.
pub fn insert_usage(tx: &IngestTx<'_>, conversation_id: i64, seq: i64, ordinal: Option<i64>, u: &Usage) -> Result<()> {
    let c = stored_counts(u);
    tx.0.prepare_cached(
        "INSERT INTO usage (conversation_id, seq, ordinal, line_offset, ts, agent, workspace, model, input, output,
           cache_write, cache_write_1h, cache_read, reasoning, request_key, counted)
         SELECT ?1, ?13, ?2, ?3, ?4, c.agent, c.workspace, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,
           ?12 IS NULL OR NOT EXISTS (SELECT 1 FROM usage WHERE request_key = ?12 AND counted = 1)
         FROM conversations c WHERE c.id = ?1",
    )?
    .execute(params![
        conversation_id,
        ordinal,
        u.line_offset.map(|o| o as i64),
        u.created_at,
        u.model.as_deref().unwrap_or(""),
        c[0],
        c[1],
        c[2],
        c[3],
        c[4],
        c[5],
        u.request_key,
        seq
    ])?;
    Ok(())
}

/// Writes calls `first..` of a conversation the way a re-read saw them
/// (each with the ordinal of the message it wrote): a stored call with the
/// same time, model, counts and key at its position keeps its row (and
/// its place in the sums; only where it sits is brought up to date), any
/// other is replaced. A `--full` run over unchanged files thus writes
/// nothing for their calls. The stored calls of the batch are read with
/// one query. Returns how many rows were written.
pub fn reconcile_usage(
    tx: &IngestTx<'_>,
    conversation_id: i64,
    first: i64,
    calls: &[(Option<i64>, &Usage)],
) -> Result<usize> {
    if calls.is_empty() {
        return Ok(0);
    }
    type Stored = (i64, i64, String, [i64; 6], Option<String>, Option<i64>, Option<i64>);
    let mut stored: std::collections::HashMap<i64, Stored> = std::collections::HashMap::new();
    let mut stmt = tx.0.prepare_cached(
        "SELECT seq, id, ts, model, input, output, cache_write, cache_write_1h, cache_read, reasoning, request_key,
                ordinal, line_offset
         FROM usage WHERE conversation_id = ?1 AND seq >= ?2 AND seq < ?3",
    )?;
    let rows = stmt.query_map(params![conversation_id, first, first + calls.len() as i64], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            (
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                [r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?],
                r.get(10)?,
                r.get(11)?,
                r.get(12)?,
            ),
        ))
    })?;
    for row in rows {
        let (seq, s) = row?;
        stored.insert(seq, s);
    }
    let mut written = 0;
    for (k, (ordinal, u)) in calls.iter().enumerate() {
        let seq = first + k as i64;
        let line_offset = u.line_offset.map(|o| o as i64);
        let counts = stored_counts(u);
        match stored.get(&seq) {
            Some((id, ts, model, c, key, o, off))
                if *ts == u.created_at
                    && model == u.model.as_deref().unwrap_or("")
                    && *c == counts
                    && key == &u.request_key =>
            {
                if o != ordinal || *off != line_offset {
                    tx.0.prepare_cached("UPDATE usage SET ordinal = ?2, line_offset = ?3 WHERE id = ?1")?
                        .execute(params![id, ordinal, line_offset])?;
                }
            }
            other => {
                if let Some((id, ..)) = other {
                    tx.0.prepare_cached("DELETE FROM usage WHERE id = ?1")?.execute([id])?;
                }
                insert_usage(tx, conversation_id, seq, *ordinal, u)?;
                written += 1;
            }
        }
    }
    Ok(written)
}

/// The position the next call of a conversation takes.
pub fn next_call(tx: &IngestTx<'_>, conversation_id: i64) -> Result<i64> {
    let max: Option<i64> =
        tx.0.prepare_cached("SELECT MAX(seq) FROM usage WHERE conversation_id = ?1")?
            .query_row([conversation_id], |r| r.get(0))?;
    Ok(max.map_or(0, |m| m + 1))
}

/// Ends a reconciled conversation at `count` calls: the calls past it (the
/// source no longer has them) go.
pub fn finish_usage(tx: &IngestTx<'_>, conversation_id: i64, count: i64) -> Result<()> {
    tx.0.prepare_cached("DELETE FROM usage WHERE conversation_id = ?1 AND seq >= ?2")?
        .execute(params![conversation_id, count])?;
    Ok(())
}

/// Largest token count stored for one call (about 10^12): no real call
/// comes near it, and a corrupt record's 2^64 must not overflow the sums.
const MAX_CALL_TOKENS: u64 = 1 << 40;

/// A call's counts as the `usage` columns hold them: input, output, cache
/// write, its 1-hour part, cache read, reasoning.
fn stored_counts(u: &Usage) -> [i64; 6] {
    [
        sql_count(u.input),
        sql_count(u.output),
        sql_count(u.cache_write),
        sql_count(u.cache_write_1h.min(u.cache_write)),
        sql_count(u.cache_read),
        sql_count(u.reasoning),
    ]
}

/// A token count as SQLite's integer, a corrupt one held at [`MAX_CALL_TOKENS`].
fn sql_count(n: u64) -> i64 {
    n.min(MAX_CALL_TOKENS) as i64
}

/// Removes conversations left with no messages (a source whose content
/// vanished); one with model calls but no text (a session stopped before
/// any answer) stays for the usage reports.
fn prune_empty_conversations(tx: &IngestTx<'_>) -> Result<usize> {
    // By rows, not by the counter: a crash mid-reconcile can leave a
    // counter behind its rows until the file is read again.
    Ok(tx.0.execute(
        "DELETE FROM conversations WHERE message_count = 0
           AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = conversations.id)
           AND NOT EXISTS (SELECT 1 FROM usage WHERE conversation_id = conversations.id)",
        [],
    )?)
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

/// What [`reconcile_messages`] did with a run of messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Messages already stored as they are: kept, ids and all.
    pub kept: usize,
    /// Messages new or changed at their position: written as new rows (new ids).
    pub written: usize,
}

/// Writes `messages` at ordinals `ordinal..` of a conversation the way a
/// re-read of its source saw them, changing only what differs: a stored
/// message with the same role, author, time and text at that ordinal keeps
/// its row and id (only its line offset is brought up to date); any other
/// is replaced by a new row with a new id. Ids therefore stay stable across
/// `--full` and rewrites, and derived indexes redo only real changes.
///
/// `stored_end` is where the conversation's stored rows ended when this run
/// met it: messages from there on are new, written without looking for a
/// stored row (a first `--full` holds nothing to compare, and the lookups
/// were a tenth of the single writer's time) and without marking the
/// conversation for re-indexing (their new ids are past the lexical
/// index's mark, so it adds them anyway).
pub fn reconcile_messages(
    tx: &IngestTx<'_>,
    conversation_id: i64,
    ordinal: i64,
    stored_end: i64,
    messages: &[Message],
    notes: &Redactions,
) -> Result<Reconciled> {
    let mut done = Reconciled::default();
    let mut lookup = tx.0.prepare_cached(
        "SELECT id, role, author, created_at, content, line_offset, checksum FROM messages
         WHERE conversation_id = ?1 AND ordinal = ?2",
    )?;
    let mut changed = false;
    // Messages before `fresh` may be stored: each is compared with its row.
    // From `fresh` on they lie past the stored end, where nothing can
    // match: written without a lookup.
    let fresh = usize::try_from(stored_end - ordinal).unwrap_or(0).min(messages.len());
    for (k, m) in messages[..fresh].iter().enumerate() {
        let at = ordinal + k as i64;
        let line_offset = m.line_offset.map(|o| o as i64);
        let stored = lookup
            .query_row(params![conversation_id, at], |r| {
                let same = r.get_ref(1)?.as_str()? == m.role.as_str()
                    && r.get_ref(2)?.as_str_or_null()? == m.author.as_deref()
                    && r.get::<_, Option<i64>>(3)? == m.created_at
                    && r.get_ref(4)?.as_str()? == m.content;
                Ok((r.get::<_, i64>(0)?, same, (r.get::<_, Option<i64>>(5)?, r.get::<_, Option<i64>>(6)?)))
            })
            .optional()?;
        let sum = || row_checksum(m.role.as_str(), m.author.as_deref(), m.created_at, &m.content);
        match stored {
            Some((id, true, (offset, stored_sum))) => {
                if offset != line_offset || stored_sum.is_none() {
                    tx.0.prepare_cached("UPDATE messages SET line_offset = ?2, checksum = ?3 WHERE id = ?1")?
                        .execute(params![id, line_offset, sum()])?;
                }
                done.kept += 1;
            }
            other => {
                if let Some((id, _, _)) = other {
                    tx.0.prepare_cached("DELETE FROM messages WHERE id = ?1")?.execute([id])?;
                }
                insert_rows(tx, conversation_id, at, std::slice::from_ref(m), &[sum()], |_| redaction_at(notes, k))?;
                done.written += 1;
                changed = true;
            }
        }
    }
    // A new row past the stored end is added by the lexical range (its id
    // is past the mark): no re-derive needed.
    let past = &messages[fresh..];
    insert_rows(tx, conversation_id, ordinal + fresh as i64, past, &row_checksums(past), |k| {
        redaction_at(notes, fresh + k)
    })?;
    done.written += past.len();
    if changed {
        mark_dirty(tx, conversation_id)?;
    }
    Ok(done)
}

/// Ends a reconciled conversation at `count` messages: rows past it (the
/// source no longer has them) go, and its counters are recomputed.
/// Returns how many rows went.
pub fn finish_conversation(tx: &IngestTx<'_>, conversation_id: i64, count: i64) -> Result<usize> {
    let removed =
        tx.0.prepare_cached("DELETE FROM messages WHERE conversation_id = ?1 AND ordinal >= ?2")?
            .execute(params![conversation_id, count])?;
    if removed > 0 {
        mark_dirty(tx, conversation_id)?;
    }
    refresh_conversation_stats(tx, conversation_id)?;
    Ok(removed)
}

/// Removes the conversations read from `path` before whose ids are not in
/// `keep` (a re-read no longer found them). Returns how many messages went.
pub fn remove_conversations_except(tx: &IngestTx<'_>, agent: &str, path: &str, keep: &[i64]) -> Result<usize> {
    let ids: Vec<(i64, i64)> =
        tx.0.prepare_cached("SELECT id, message_count FROM conversations WHERE agent = ?1 AND source_path = ?2")?
            .query_map([agent, path], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<std::result::Result<_, _>>()?;
    let mut removed = 0;
    for (id, count) in ids.into_iter().filter(|(id, _)| !keep.contains(id)) {
        // Always: the counter may trail the rows after a crash.
        mark_dirty(tx, id)?;
        tx.0.prepare_cached("DELETE FROM conversations WHERE id = ?1")?.execute([id])?;
        removed += count as usize;
    }
    Ok(removed)
}

/// Removes the conversations of `agent` named `external_id` that came from
/// another file than `path` on the same machine (`source`): a source that
/// supersedes them was read. Returns how many messages went.
pub fn remove_superseded(tx: &IngestTx<'_>, agent: &str, path: &str, external_id: &str, source: &str) -> Result<usize> {
    let ids: Vec<(i64, i64)> =
        tx.0.prepare_cached(
            "SELECT id, message_count FROM conversations
             WHERE agent = ?1 AND external_id = ?2 AND source_path <> ?3 AND source = ?4",
        )?
        .query_map(params![agent, external_id, path, source], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<std::result::Result<_, _>>()?;
    let mut removed = 0;
    for (id, count) in ids {
        mark_dirty(tx, id)?;
        tx.0.prepare_cached("DELETE FROM conversations WHERE id = ?1")?.execute([id])?;
        removed += count as usize;
    }
    Ok(removed)
}

/// Marks a conversation for the lexical index to re-derive.
pub(super) fn mark_dirty(tx: &IngestTx<'_>, conversation_id: i64) -> Result<()> {
    tx.0.prepare_cached(
        "INSERT INTO lexical_dirty (conversation_id) SELECT ?1
         WHERE NOT EXISTS (SELECT 1 FROM lexical_dirty WHERE conversation_id = ?1)",
    )?
    .execute([conversation_id])?;
    Ok(())
}

/// The checksum a message row carries: FNV-1a over its role, author, time
/// and text, each part ended by a NUL (as i64, SQLite's integer).
pub fn row_checksum(role: &str, author: Option<&str>, created_at: Option<i64>, content: &str) -> i64 {
    crate::checksum::fnv1a64_more(row_head_hash(role, author, created_at), content.as_bytes()) as i64
}

/// [`row_checksum`] of each message, the texts hashed four at a time
/// ([`crate::checksum::fnv1a64_more_each`]): the hash of every text written
/// was ~3 % of a first index run's CPU, one byte after another.
pub fn row_checksums(messages: &[Message]) -> Vec<i64> {
    let mut hashes: Vec<u64> =
        messages.iter().map(|m| row_head_hash(m.role.as_str(), m.author.as_deref(), m.created_at)).collect();
    let texts: Vec<&[u8]> = messages.iter().map(|m| m.content.as_bytes()).collect();
    crate::checksum::fnv1a64_more_each(&mut hashes, &texts);
    hashes.into_iter().map(|h| h as i64).collect()
}

/// The row checksum's hash up to the text: role, author and time, each
/// ended by a NUL.
fn row_head_hash(role: &str, author: Option<&str>, created_at: Option<i64>) -> u64 {
    use crate::checksum::fnv1a64_more;
    let mut h = crate::checksum::fnv1a64(role.as_bytes());
    h = fnv1a64_more(h, b"\0");
    h = fnv1a64_more(h, author.unwrap_or("").as_bytes());
    h = fnv1a64_more(h, b"\0");
    h = fnv1a64_more(h, &created_at.unwrap_or(i64::MIN).to_le_bytes());
    fnv1a64_more(h, b"\0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;

    fn message(i: usize) -> Message {
        Message {
            role: if i.is_multiple_of(2) { Role::User } else { Role::Assistant },
            author: i.is_multiple_of(3).then(|| format!("model-{i}")),
            created_at: (!i.is_multiple_of(5)).then_some(1_000 + i as i64),
            content: format!("message {i}"),
            line_offset: (!i.is_multiple_of(7)).then_some(i as u64 * 10),
        }
    }

    type Row = (i64, String, Option<String>, Option<i64>, String, Option<i64>, i64, u32, Option<String>);

    /// A conversation's rows in id order.
    fn rows(store: &Store, conversation_id: i64) -> Vec<Row> {
        let mut stmt = store
            .conn
            .prepare(
                "SELECT ordinal, role, author, created_at, content, line_offset, checksum, redacted, redacted_kinds
                 FROM messages WHERE conversation_id = ?1 ORDER BY id",
            )
            .unwrap();
        stmt.query_map([conversation_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    }

    #[test]
    fn rows_written_many_per_statement_hold_each_message_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("cass.db")).unwrap();
        // Two full statements' worth and a remainder, with redaction
        // records in the first statement, the second, and the remainder.
        let messages: Vec<Message> = (0..2 * ROWS_PER_INSERT + 6).map(message).collect();
        let last = messages.len() - 1;
        let notes: Vec<(usize, Redaction)> = [3, ROWS_PER_INSERT + 8, last]
            .into_iter()
            .map(|k| (k, Redaction { count: k as u32 + 1, kinds: format!("kind{k}:1") }))
            .collect();
        let tx = store.ingest().unwrap();
        let header = |id: &str| ConversationHeader { external_id: id.into(), ..Default::default() };
        let (appended, _) = upsert_conversation(&tx, "codex", "/a.jsonl", &header("a"), &ConvOrigin::LOCAL).unwrap();
        insert_messages(&tx, appended, 0, &messages, &notes).unwrap();
        // Reconciled: ten rows stored as they are, the rest past them.
        let (reread, _) = upsert_conversation(&tx, "codex", "/b.jsonl", &header("b"), &ConvOrigin::LOCAL).unwrap();
        insert_messages(&tx, reread, 0, &messages[..10], &notes[..1]).unwrap();
        let done = reconcile_messages(&tx, reread, 0, 10, &messages, &notes).unwrap();
        assert_eq!((done.kept, done.written), (10, messages.len() - 10));
        tx.finish().unwrap();

        let expected: Vec<Row> = messages
            .iter()
            .enumerate()
            .map(|(k, m)| {
                let (redacted, kinds) = redaction_at(&notes, k);
                (
                    k as i64,
                    m.role.as_str().to_string(),
                    m.author.clone(),
                    m.created_at,
                    m.content.clone(),
                    m.line_offset.map(|o| o as i64),
                    row_checksum(m.role.as_str(), m.author.as_deref(), m.created_at, &m.content),
                    redacted,
                    kinds.map(str::to_string),
                )
            })
            .collect();
        assert_eq!(rows(&store, appended), expected);
        assert_eq!(rows(&store, reread), expected);
    }
}
