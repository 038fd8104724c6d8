//! Bringing the lexical index up to date with the store.

use std::path::Path;

use rusqlite::params;
use tantivy::{IndexWriter, TantivyDocument, Term};

use super::{LexicalError, LexicalIndex, Result, schema::LEXICAL_VERSION, tantivy_err};
use crate::store::Store;

const META_HIGH: &str = "lexical_high_message_id";
const META_VERSION: &str = "lexical_version";

/// What one sync did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SyncReport {
    pub added: usize,
    pub rederived_conversations: usize,
    /// Highest message id the index now holds.
    pub high: i64,
    pub segments: usize,
    /// The index was rebuilt from scratch (first run, or schema changed).
    pub rebuilt: bool,
}

/// The high mark tantivy itself committed, read from its commit payload. It
/// may be ahead of the store's mark if a crash hit between the two commits.
fn committed_high(idx: &LexicalIndex) -> i64 {
    idx.index
        .load_metas()
        .ok()
        .and_then(|m| m.payload)
        .and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok())
        .and_then(|v| v.get("high").and_then(|h| h.as_i64()))
        .unwrap_or(0)
}

/// Where the index stands against the store, from stored marks only: the
/// store's meta, tantivy's `meta.json`, and the (small) dirty list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LexicalState {
    pub exists: bool,
    /// Highest message id the store says the index holds.
    pub high_message_id: i64,
    /// Highest message id in tantivy's last commit (ahead of the store's
    /// mark only after a crash between the two commits; the next sync heals).
    pub committed_high_message_id: i64,
    pub dirty_conversations: i64,
    pub segments: usize,
    /// The index was built with this build's schema and tokenizer.
    pub current_schema: bool,
}

pub fn state(store: &Store, dir: &Path) -> Result<LexicalState> {
    let high = store.meta_get_i64(META_HIGH)?.unwrap_or(0);
    let current_schema = store.meta_get_i64(META_VERSION)? == Some(LEXICAL_VERSION);
    let dirty: i64 = store.conn().query_row("SELECT COUNT(*) FROM lexical_dirty", [], |r| r.get(0))?;
    let (exists, committed, segments) = match LexicalIndex::open(dir) {
        Ok(idx) => {
            let segments = idx.index.load_metas().map(|m| m.segments.len()).unwrap_or(0);
            (true, committed_high(&idx), segments)
        }
        Err(LexicalError::Missing(_)) => (false, 0, 0),
        Err(e) => return Err(e),
    };
    Ok(LexicalState {
        exists,
        high_message_id: high,
        committed_high_message_id: committed,
        dirty_conversations: dirty,
        segments,
        current_schema,
    })
}

/// Adds every message past the store's mark, re-derives dirty conversations,
/// commits tantivy, then records the new mark in the store.
pub fn sync(store: &Store, dir: &Path) -> Result<SyncReport> {
    let conn = store.conn();
    let mut report = SyncReport::default();
    let version = store.meta_get_i64(META_VERSION)?;
    let mut high = store.meta_get_i64(META_HIGH)?.unwrap_or(0);
    if version != Some(LEXICAL_VERSION) || !dir.join("meta.json").exists() {
        // First build, or an index of another schema: rebuild from the store.
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .map_err(|source| LexicalError::Io { path: dir.display().to_string(), source })?;
        }
        conn.execute("DELETE FROM lexical_dirty", [])?;
        high = 0;
        report.rebuilt = true;
    }
    let max_id: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| r.get(0))?;
    let dirty: Vec<i64> = conn
        .prepare("SELECT conversation_id FROM lexical_dirty ORDER BY conversation_id")?
        .query_map([], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    if !report.rebuilt && dirty.is_empty() && max_id <= high {
        report.high = high;
        return Ok(report); // up to date: do not even open a writer
    }

    let idx = LexicalIndex::open_or_create(dir)?;
    // Messages up to here may already be in the index: delete before adding.
    let maybe_present = committed_high(&idx).max(high);
    let pending = (max_id - high).max(0) as usize;
    let (threads, heap) = if pending > 50_000 { (2, 256 << 20) } else { (1, 64 << 20) };
    let mut writer: IndexWriter = idx.index.writer_with_num_threads(threads, heap).map_err(tantivy_err(dir))?;
    let f = idx.fields.clone();

    for &conv in &dirty {
        writer.delete_term(Term::from_field_i64(f.conversation_id, conv));
        report.added += add_rows(&writer, &idx, conn, "m.conversation_id = ?1 AND m.id <= ?2", params![conv, high], 0)?;
        report.rederived_conversations += 1;
    }
    report.added += add_rows(&writer, &idx, conn, "m.id > ?1 AND m.id <= ?2", params![high, max_id], maybe_present)?;

    crate::faults::point("lexical.before_commit");
    let mut prepared = writer.prepare_commit().map_err(tantivy_err(dir))?;
    prepared.set_payload(&serde_json::json!({ "high": max_id }).to_string());
    prepared.commit().map_err(tantivy_err(dir))?;
    crate::faults::point("lexical.after_commit");

    let tx = conn.unchecked_transaction()?;
    if !dirty.is_empty() {
        tx.execute("DELETE FROM lexical_dirty WHERE conversation_id <= ?1", [dirty[dirty.len() - 1]])?;
    }
    tx.execute(
        "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![META_HIGH, max_id.to_string()],
    )?;
    tx.execute(
        "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![META_VERSION, LEXICAL_VERSION.to_string()],
    )?;
    tx.commit()?;
    // Let background merges finish so segments do not pile up across runs.
    writer.wait_merging_threads().map_err(tantivy_err(dir))?;
    report.high = max_id;
    report.segments = idx.index.searchable_segment_ids().map_err(tantivy_err(dir))?.len();
    Ok(report)
}

/// Streams matching messages into the writer. Messages with an id at or
/// below `delete_upto` are deleted by id first (they may be present).
fn add_rows(
    writer: &IndexWriter,
    idx: &LexicalIndex,
    conn: &rusqlite::Connection,
    filter: &str,
    args: impl rusqlite::Params,
    delete_upto: i64,
) -> Result<usize> {
    let f = &idx.fields;
    let sql = format!(
        "SELECT m.id, m.conversation_id, m.role, m.created_at, m.content, c.agent, c.workspace, c.title
         FROM messages m JOIN conversations c ON c.id = m.conversation_id
         WHERE {filter} ORDER BY m.id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(args)?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let get_s = |i: usize| r.get::<_, Option<String>>(i);
        if id <= delete_upto {
            writer.delete_term(Term::from_field_i64(f.message_id, id));
        }
        let mut doc = TantivyDocument::default();
        doc.add_i64(f.message_id, id);
        doc.add_i64(f.conversation_id, r.get(1)?);
        doc.add_text(f.role, get_s(2)?.unwrap_or_default());
        if let Some(ts) = r.get::<_, Option<i64>>(3)? {
            doc.add_i64(f.created_at, ts);
        }
        doc.add_text(f.content, get_s(4)?.unwrap_or_default());
        doc.add_text(f.agent, get_s(5)?.unwrap_or_default());
        if let Some(ws) = get_s(6)? {
            doc.add_text(f.workspace, ws);
        }
        if let Some(t) = get_s(7)? {
            doc.add_text(f.title, t);
        }
        writer.add_document(doc).map_err(|source| LexicalError::Tantivy { path: "lexical".into(), source })?;
        n += 1;
    }
    Ok(n)
}
