//! Bringing the lexical index up to date with the store.

use std::path::Path;

use tantivy::indexer::{LogMergePolicy, MergePolicy, NoMergePolicy};
use tantivy::{IndexWriter, TantivyDocument, Term};

use super::{LexicalError, LexicalIndex, Result, schema::LEXICAL_VERSION, tantivy_err};
use crate::store::Store;
use crate::store::lexical::{self as marks, Rows};

/// What one sync did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SyncReport {
    /// Documents added, re-derived ones included.
    pub added: usize,
    /// Dirty conversations deleted and added again.
    pub rederived_conversations: usize,
    /// Highest message id the index now holds.
    pub high: i64,
    /// Searchable segments after the commit (0 when nothing changed).
    pub segments: usize,
    /// The index was rebuilt from scratch (first run, or schema changed).
    pub rebuilt: bool,
}

/// tantivy's last commit payload: `{"high": …, "generation": …}`.
fn payload(idx: &LexicalIndex) -> serde_json::Value {
    idx.index
        .load_metas()
        .ok()
        .and_then(|m| m.payload)
        .and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok())
        .unwrap_or_default()
}

/// The high mark tantivy itself committed, read from its commit payload. It
/// may be ahead of the store's mark if a crash hit between the two commits.
pub fn committed_high(idx: &LexicalIndex) -> i64 {
    payload(idx).get("high").and_then(|h| h.as_i64()).unwrap_or(0)
}

/// The store generation the index was built from (`None`: before
/// generations were recorded).
pub fn committed_generation(idx: &LexicalIndex) -> Option<String> {
    payload(idx).get("generation").and_then(|g| g.as_str()).map(str::to_string)
}

/// Where the index stands against the store, from stored marks only: the
/// store's meta, tantivy's `meta.json`, and the (small) dirty list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LexicalState {
    /// A lexical index exists in the directory.
    pub exists: bool,
    /// Highest message id the store says the index holds.
    pub high_message_id: i64,
    /// Highest message id in tantivy's last commit (ahead of the store's
    /// mark only after a crash between the two commits; the next sync heals).
    pub committed_high_message_id: i64,
    /// Conversations changed in the store and awaiting re-indexing.
    pub dirty_conversations: i64,
    /// Segments in tantivy's last commit (0 when there is no index).
    pub segments: usize,
    /// The index was built with this build's schema and tokenizer.
    pub current_schema: bool,
    /// The index was built from this store (not from a deleted one whose
    /// message ids a new store reuses).
    pub built_from_store: bool,
}

/// Reads [`LexicalState`] without scanning messages or taking the writer lock.
pub fn state(store: &Store, dir: &Path) -> Result<LexicalState> {
    let recorded = marks::marks(store)?;
    let high = recorded.high;
    let current_schema = recorded.version == Some(LEXICAL_VERSION);
    let dirty = marks::dirty_count(store)?;
    let (exists, committed, segments, from_here) = match LexicalIndex::open(dir) {
        Ok(idx) => {
            let segments = idx.index.load_metas().map(|m| m.segments.len()).unwrap_or(0);
            (true, committed_high(&idx), segments, store.built_from_here(committed_generation(&idx).as_deref())?)
        }
        Err(LexicalError::Missing(_)) => (false, 0, 0, true),
        Err(e) => return Err(e),
    };
    Ok(LexicalState {
        exists,
        high_message_id: high,
        committed_high_message_id: committed,
        dirty_conversations: dirty,
        segments,
        current_schema,
        built_from_store: from_here,
    })
}

/// Adds every message past the store's mark, re-derives dirty conversations,
/// commits tantivy, then records the new mark in the store.
pub fn sync(store: &Store, dir: &Path) -> Result<SyncReport> {
    let mut report = SyncReport::default();
    let recorded = marks::marks(store)?;
    let version = recorded.version;
    let mut high = recorded.high;
    // An index of another store, or one tantivy cannot even open (a
    // damaged meta.json), is rebuilt from the store.
    let mut opened = match LexicalIndex::open(dir) {
        Ok(idx) => Some(idx),
        Err(LexicalError::Missing(_)) => None,
        Err(e) => {
            tracing::warn!("{e}; rebuilding the lexical index from the store");
            None
        }
    };
    // Ahead of the store: a restored backup of it, whose next ids would
    // name other messages than the index holds.
    let foreign = match &opened {
        Some(idx) => {
            !store.built_from_here(committed_generation(idx).as_deref())?
                || committed_high(idx) > crate::store::query::id_high_water(store)?
        }
        None => dir.join("meta.json").exists(),
    };
    if version != Some(LEXICAL_VERSION) || !dir.join("meta.json").exists() || foreign {
        // First build, or an index of another schema: rebuild from the store.
        opened = None;
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .map_err(|source| LexicalError::Io { path: dir.display().to_string(), source })?;
        }
        marks::clear_dirty(store)?;
        high = 0;
        report.rebuilt = true;
    }
    let max_id = crate::store::query::max_message_id(store)?;
    let dirty = marks::dirty_conversations(store)?;
    if !report.rebuilt && dirty.is_empty() && max_id <= high {
        report.high = high;
        return Ok(report); // up to date: do not even open a writer
    }

    let idx = match opened {
        Some(idx) => idx,
        None => LexicalIndex::open_or_create(dir)?,
    };
    // Messages up to here may already be in the index: delete before adding.
    let maybe_present = committed_high(&idx).max(high);
    let pending = (max_id - high).max(0) as usize;
    let bulk = pending > BULK_ROWS;
    let (threads, heap) = if bulk { (2, 256 << 20) } else { (1, 64 << 20) };
    let mut writer: IndexWriter = idx.index.writer_with_num_threads(threads, heap).map_err(tantivy_err(dir))?;
    writer.set_merge_policy(merge_policy(bulk));
    let f = idx.fields.clone();

    for &conv in &dirty {
        writer.delete_term(Term::from_field_i64(f.conversation_id, conv));
        report.added += add_rows(&writer, &idx, store, Rows::Conversation { id: conv, upto: high }, 0)?;
        report.rederived_conversations += 1;
    }
    report.added += add_rows(&writer, &idx, store, Rows::Range { after: high, upto: max_id }, maybe_present)?;

    crate::faults::point("lexical.before_commit");
    let mut prepared = writer.prepare_commit().map_err(tantivy_err(dir))?;
    prepared.set_payload(&serde_json::json!({ "high": max_id, "generation": store.generation()? }).to_string());
    prepared.commit().map_err(tantivy_err(dir))?;
    crate::faults::point("lexical.after_commit");
    // The old generation's term list may hold words this sync removed
    // (re-derived or redacted conversations): it leaves the disk too.
    super::drop_terms_cache(dir)?;

    marks::record_sync(store, dirty.last().copied(), max_id, LEXICAL_VERSION)?;
    // Let background merges finish so segments do not pile up across runs.
    writer.wait_merging_threads().map_err(tantivy_err(dir))?;
    report.high = max_id;
    report.segments = idx.index.searchable_segment_ids().map_err(tantivy_err(dir))?.len();
    Ok(report)
}

/// Rows past which a sync is a bulk load (a first build, `--full`, a big
/// backlog): two indexing threads, a bigger heap, no merges.
const BULK_ROWS: usize = 50_000;

/// Segments bigger than this are left alone by later syncs' merges.
const MERGE_MAX_DOCS: usize = 50_000;

/// How segments are merged. A bulk load keeps the segments its threads
/// flush: merged while it runs, a build was bimodal — when the eighth
/// flush happened to land before the commit, tantivy's log policy merged
/// all eight into one, competing with indexing for the cores and taking
/// half as long again (docs/PERFORMANCE.md), for one segment where search
/// does fine with eight. Later syncs add small segments and merge those among themselves
/// (eight at a time, tantivy's log policy) but never touch a segment past
/// [`MERGE_MAX_DOCS`], so a ten-message sync never rewrites a bulk
/// load's segments. Deletions are taken off the disk by
/// [`purge_deleted`], not by merges.
fn merge_policy(bulk: bool) -> Box<dyn MergePolicy> {
    if bulk {
        return Box::new(NoMergePolicy);
    }
    let mut policy = LogMergePolicy::default();
    policy.set_max_docs_before_merge(MERGE_MAX_DOCS);
    Box::new(policy)
}

/// Streams the selected messages into the writer. Messages with an id at
/// or below `delete_upto` are deleted by id first (they may be present).
fn add_rows(writer: &IndexWriter, idx: &LexicalIndex, store: &Store, rows: Rows, delete_upto: i64) -> Result<usize> {
    let f = &idx.fields;
    let mut n = 0;
    crate::store::lexical::for_each_row(store, rows, |r| -> Result<()> {
        if r.id <= delete_upto {
            writer.delete_term(Term::from_field_i64(f.message_id, r.id));
        }
        let mut doc = TantivyDocument::default();
        doc.add_i64(f.message_id, r.id);
        doc.add_i64(f.conversation_id, r.conversation_id);
        doc.add_text(f.role, r.role);
        if let Some(ts) = r.created_at {
            doc.add_i64(f.created_at, ts);
        }
        doc.add_text(f.content, r.content);
        doc.add_text(f.agent, r.agent);
        doc.add_text(f.source, r.source);
        if let Some(ws) = r.workspace {
            doc.add_text(f.workspace, ws);
        }
        if let Some(t) = r.title {
            doc.add_text(f.title, t);
        }
        writer.add_document(doc).map_err(|source| LexicalError::Tantivy { path: "lexical".into(), source })?;
        n += 1;
        Ok(())
    })?;
    Ok(n)
}

/// Rewrites the segments that hold deleted documents without them, and
/// removes the old segment files. A deleted document is only marked
/// deleted; its terms and stored text stay in its segment's files until a
/// merge, so after text was redacted or forgotten this is what takes it
/// off the disk. Costs the affected segments only; returns how many.
pub fn purge_deleted(dir: &Path) -> Result<usize> {
    let idx = match LexicalIndex::open(dir) {
        Ok(idx) => idx,
        Err(LexicalError::Missing(_)) => return Ok(0),
        Err(e) => return Err(e),
    };
    let ids: Vec<_> = idx
        .index
        .searchable_segment_metas()
        .map_err(tantivy_err(dir))?
        .into_iter()
        .filter(|m| m.has_deletes())
        .map(|m| m.id())
        .collect();
    if ids.is_empty() {
        return Ok(0);
    }
    let mut writer: IndexWriter = idx.index.writer_with_num_threads(1, 64 << 20).map_err(tantivy_err(dir))?;
    writer.merge(&ids).wait().map_err(tantivy_err(dir))?;
    writer.garbage_collect_files().wait().map_err(tantivy_err(dir))?;
    super::drop_terms_cache(dir)?;
    writer.wait_merging_threads().map_err(tantivy_err(dir))?;
    Ok(ids.len())
}
