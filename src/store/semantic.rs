//! Reads made by the semantic backfill and by tier status: the next
//! messages past a cursor, their conversations' envelopes, the metadata a
//! published segment carries, and bounded counts of what is pending.

use std::collections::HashMap;

use super::{Result, Store};
use crate::model::Role;

/// A message selected for embedding.
#[derive(Debug, Clone)]
pub struct PendingMessage {
    /// Message id; the backfill's cursor moves past it once embedded.
    pub id: i64,
    /// Id of its conversation (for the envelope the segment row carries).
    pub conversation_id: i64,
    /// The message text to embed.
    pub content: String,
    /// When it was written (ms since the Unix epoch), if known: a
    /// newest-first sweep's position.
    pub created_at: Option<i64>,
}

impl PendingMessage {
    /// Its place in a newest-first sweep's order (unknown times sort oldest).
    pub fn time_key(&self) -> i64 {
        self.created_at.unwrap_or(-1)
    }
}

/// The next `limit` messages with an id past `cursor`, by id. By id alone:
/// ids only grow, so `id > cursor` never skips a conversation whose messages
/// are older than another's.
pub fn messages_after(store: &Store, cursor: i64, limit: usize) -> Result<Vec<PendingMessage>> {
    let mut stmt = store.conn.prepare_cached(
        "SELECT id, conversation_id, content, created_at FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(rusqlite::params![cursor, limit.max(1) as i64], pending_row)?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

fn pending_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PendingMessage> {
    Ok(PendingMessage { id: r.get(0)?, conversation_id: r.get(1)?, content: r.get(2)?, created_at: r.get(3)? })
}

/// The index a newest-first sweep walks. Created by the first sweep, not by
/// a migration: only stores with a quality tier pay for its upkeep on
/// every insert. The expression must match the sweep's queries exactly.
pub fn ensure_recency_index(store: &Store) -> Result<()> {
    store
        .conn
        .execute_batch("CREATE INDEX IF NOT EXISTS messages_recency ON messages (coalesce(created_at, -1), id)")?;
    Ok(())
}

/// A sweep's next batch. The index is named and the position spelt out
/// rather than as a row value: so SQLite seeks to the position in the index
/// instead of scanning the id range and sorting it, or scanning the index
/// from its top (a full pass per batch of a million-message backlog).
const SWEEP_SQL: &str = "SELECT id, conversation_id, content, created_at FROM messages INDEXED BY messages_recency
     WHERE coalesce(created_at, -1) <= ?1 AND (coalesce(created_at, -1) < ?1 OR id < ?2)
       AND id > ?3 AND id <= ?4
     ORDER BY coalesce(created_at, -1) DESC, id DESC LIMIT ?5";

/// The next `limit` messages of a newest-first sweep: ids in
/// `floor + 1 ..= top`, strictly before (`at_created`, `at_id`) in
/// descending (time, id) order.
pub fn messages_newest_first(
    store: &Store,
    floor: i64,
    top: i64,
    at: (i64, i64),
    limit: usize,
) -> Result<Vec<PendingMessage>> {
    let mut stmt = store.conn.prepare_cached(SWEEP_SQL)?;
    let rows = stmt.query_map(rusqlite::params![at.0, at.1, floor, top, limit.max(1) as i64], pending_row)?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// The highest message id in the store (0: none).
pub fn max_message_id(store: &Store) -> Result<i64> {
    Ok(store.conn.query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| r.get(0))?)
}

/// Exactly how many messages have an id in `floor + 1 ..= top` (a sweep's size when it begins).
pub fn count_between(store: &Store, floor: i64, top: i64) -> Result<u64> {
    let n: i64 =
        store.conn.query_row("SELECT COUNT(*) FROM messages WHERE id > ?1 AND id <= ?2", [floor, top], |r| r.get(0))?;
    Ok(n as u64)
}

/// Agent and workspace of each conversation id still in the store.
pub fn envelopes(store: &Store, conversation_ids: &[i64]) -> Result<HashMap<i64, (String, Option<String>)>> {
    let mut out = HashMap::with_capacity(conversation_ids.len());
    if conversation_ids.is_empty() {
        return Ok(out);
    }
    let placeholders = vec!["?"; conversation_ids.len()].join(",");
    let mut stmt = store
        .conn
        .prepare_cached(&format!("SELECT id, agent, workspace FROM conversations WHERE id IN ({placeholders})"))?;
    let rows = stmt.query_map(rusqlite::params_from_iter(conversation_ids), |r| {
        Ok((r.get::<_, i64>(0)?, (r.get(1)?, r.get(2)?)))
    })?;
    for row in rows {
        let (id, env) = row?;
        out.insert(id, env);
    }
    Ok(out)
}

/// Exactly how many messages have an id past `cursor` (a full count: for
/// the backfill's own report, not for status questions).
pub fn count_after(store: &Store, cursor: i64) -> Result<u64> {
    let n: i64 = store.conn.query_row("SELECT COUNT(*) FROM messages WHERE id > ?1", [cursor], |r| r.get(0))?;
    Ok(n as u64)
}

/// Counting is exact up to this many pending messages; past it the count
/// is taken from the id range (exact unless messages past the cursor were
/// since replaced), so a status question never scans a million rows.
const EXACT_PENDING_LIMIT: i64 = 100_000;

/// Messages with an id past `cursor`, in time bounded by the limit above.
pub fn messages_past(store: &Store, cursor: i64) -> Result<u64> {
    let conn = &store.conn;
    if cursor == 0 {
        // Every message: the per-conversation counters have the answer.
        let all: i64 = conn.query_row("SELECT COALESCE(SUM(message_count), 0) FROM conversations", [], |r| r.get(0))?;
        return Ok(all as u64);
    }
    let counted: i64 = conn.query_row(
        "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE id > ?1 LIMIT ?2)",
        rusqlite::params![cursor, EXACT_PENDING_LIMIT + 1],
        |r| r.get(0),
    )?;
    if counted <= EXACT_PENDING_LIMIT {
        return Ok(counted as u64);
    }
    let max: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| r.get(0))?;
    Ok((max - cursor).max(counted) as u64)
}

/// What a published segment row records of its message, read fresh.
#[derive(Debug, Clone, Copy)]
pub struct RowMeta<'a> {
    /// Message id.
    pub id: i64,
    /// When it was written, milliseconds since the Unix epoch, if known.
    pub created_at: Option<i64>,
    /// Who spoke it (an unknown stored role reads as `System`).
    pub role: Role,
    /// Slug of the conversation's agent.
    pub agent: &'a str,
    /// The conversation's working directory, when known.
    pub workspace: Option<&'a str>,
}

/// Calls `f` for every message with an id in `lo..=hi`, in id order.
pub fn for_each_row_meta<E: From<super::StoreError>>(
    store: &Store,
    lo: i64,
    hi: i64,
    mut f: impl FnMut(RowMeta<'_>) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let sql = "SELECT m.id, m.created_at, m.role, c.agent, c.workspace FROM messages m
         JOIN conversations c ON c.id = m.conversation_id WHERE m.id BETWEEN ?1 AND ?2 ORDER BY m.id";
    let mut stmt = store.conn.prepare_cached(sql).map_err(super::StoreError::from)?;
    let mut rows = stmt.query(rusqlite::params![lo, hi]).map_err(super::StoreError::from)?;
    while let Some(r) = rows.next().map_err(super::StoreError::from)? {
        let meta = (|| -> rusqlite::Result<(i64, Option<i64>, Role)> {
            let role = r.get_ref(2)?.as_str().unwrap_or("system").parse().unwrap_or(Role::System);
            Ok((r.get(0)?, r.get(1)?, role))
        })()
        .map_err(super::StoreError::from)?;
        let agent = r.get_ref(3).map_err(super::StoreError::from)?.as_str().unwrap_or("");
        let workspace = r.get_ref(4).map_err(super::StoreError::from)?.as_str_or_null().ok().flatten();
        f(RowMeta { id: meta.0, created_at: meta.1, role: meta.2, agent, workspace })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sweep's query must seek in the recency index: a plan that scans
    /// the id range and sorts, or scans the index from its top, makes each
    /// batch of a million-message backlog cost a full pass.
    #[test]
    fn the_sweep_seeks_in_the_recency_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("cass.db")).unwrap();
        ensure_recency_index(&store).unwrap();
        messages_newest_first(&store, 0, 10, (5, 5), 4).unwrap();
        let plan: Vec<String> = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {SWEEP_SQL}"))
            .unwrap()
            .query_map(rusqlite::params![1, 2, 3, 4, 5], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(plan.len(), 1, "{plan:?}");
        assert!(plan[0].starts_with("SEARCH messages USING INDEX messages_recency (<expr><"), "{plan:?}");
    }
}
