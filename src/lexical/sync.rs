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
    /// Documents added while ingest still ran ([`build_beside_ingest`]).
    pub beside_ingest: usize,
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
///
/// More than `bulk_rows` new messages make it a bulk load ([`BULK_ROWS`]).
pub fn sync(store: &Store, dir: &Path, bulk_rows: usize) -> Result<SyncReport> {
    let start = Start::read(store, dir)?;
    let max_id = crate::store::query::max_message_id(store)?;
    if !start.rebuild && max_id <= start.high && marks::dirty_count(store)? == 0 {
        return Ok(SyncReport { high: start.high, ..SyncReport::default() }); // up to date: no writer
    }
    let bulk = start.is_bulk(max_id, bulk_rows);
    Build::open(start, dir, bulk)?.finish(store)
}

/// Where a sync starts, read from the store and the index without writing.
struct Start {
    /// The index as it is, unless it is to be rebuilt.
    opened: Option<LexicalIndex>,
    /// Rebuild from the store: no index yet, another schema, or an index of
    /// another store (or of a later state of this one).
    rebuild: bool,
    /// The highest message id the index holds (0 for a rebuild).
    high: i64,
}

impl Start {
    fn read(store: &Store, dir: &Path) -> Result<Start> {
        let recorded = marks::marks(store)?;
        // An index of another store, or one tantivy cannot even open (a
        // damaged meta.json), is rebuilt from the store.
        let opened = match LexicalIndex::open(dir) {
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
        let rebuild = recorded.version != Some(LEXICAL_VERSION) || !dir.join("meta.json").exists() || foreign;
        if rebuild {
            return Ok(Start { opened: None, rebuild, high: 0 });
        }
        Ok(Start { opened, rebuild, high: recorded.high })
    }

    /// More than `bulk_rows` messages up to `max_id` wait past the mark.
    fn is_bulk(&self, max_id: i64, bulk_rows: usize) -> bool {
        (max_id - self.high).max(0) as usize > bulk_rows
    }
}

/// A sync in progress: the writer, and how far it has fed the index.
///
/// Nothing is committed until [`Build::finish`], which adds what is left,
/// re-derives the dirty conversations, commits tantivy and then the store's
/// marks: a build that stops short leaves the index as it was.
pub struct Build {
    idx: LexicalIndex,
    writer: IndexWriter,
    dir: std::path::PathBuf,
    rebuilt: bool,
    /// Highest message id added so far.
    fed: i64,
    /// Messages up to here may already be in the index: deleted by id
    /// before they are added.
    maybe_present: i64,
    added: usize,
    /// Conversations whose conversation document this build wrote: one
    /// per conversation, however many of its messages are added.
    described: rustc_hash::FxHashSet<i64>,
}

impl Build {
    fn open(start: Start, dir: &Path, bulk: bool) -> Result<Build> {
        if start.rebuild && dir.exists() {
            std::fs::remove_dir_all(dir)
                .map_err(|source| LexicalError::Io { path: dir.display().to_string(), source })?;
        }
        let idx = match start.opened {
            Some(idx) => idx,
            None => LexicalIndex::open_or_create(dir)?,
        };
        let maybe_present = committed_high(&idx).max(start.high);
        let (threads, heap) = if bulk { (2, 256 << 20) } else { (1, 64 << 20) };
        let writer: IndexWriter = idx.index.writer_with_num_threads(threads, heap).map_err(tantivy_err(dir))?;
        writer.set_merge_policy(merge_policy(bulk));
        Ok(Build {
            idx,
            writer,
            dir: dir.to_path_buf(),
            rebuilt: start.rebuild,
            fed: start.high,
            maybe_present,
            added: 0,
            described: rustc_hash::FxHashSet::default(),
        })
    }

    /// Adds the messages past what was fed, up to `upto`.
    fn feed(&mut self, store: &Store, upto: i64) -> Result<()> {
        if upto > self.fed {
            // Messages up to `maybe_present` may be in the index already
            // (a crash between tantivy's commit and the store's): their
            // documents go first, whether the store still holds them or not.
            if self.fed < self.maybe_present {
                super::delete_messages(&self.writer, &self.idx, self.fed + 1..=upto.min(self.maybe_present))?;
            }
            let rows = Rows::Range { after: self.fed, upto };
            self.added += add_rows(&self.writer, &self.idx, store, rows, &mut self.described)?;
            self.fed = upto;
        }
        Ok(())
    }

    /// Adds the rest of the store's messages, re-derives every conversation
    /// marked dirty (deleting its documents, those fed by this build
    /// included, then adding all its messages), commits tantivy, then
    /// records the new mark in the store.
    pub fn finish(mut self, store: &Store) -> Result<SyncReport> {
        // What was added before this call, ingest was still running.
        let mut report = SyncReport { rebuilt: self.rebuilt, beside_ingest: self.added, ..SyncReport::default() };
        let max_id = crate::store::query::max_message_id(store)?;
        self.feed(store, max_id)?;
        let dirty = marks::dirty_conversations(store)?;
        let f = self.idx.fields.clone();
        for &conv in &dirty {
            // Its conversation document goes too (it carries the
            // conversation id), and comes back with its messages.
            self.writer.delete_term(Term::from_field_i64(f.conversation_id, conv));
            self.described.remove(&conv);
            let rows = Rows::Conversation { id: conv, upto: max_id };
            self.added += add_rows(&self.writer, &self.idx, store, rows, &mut self.described)?;
            report.rederived_conversations += 1;
        }
        report.added = self.added;
        let dir = self.dir.as_path();
        crate::faults::point("lexical.before_commit");
        let mut prepared = self.writer.prepare_commit().map_err(tantivy_err(dir))?;
        prepared.set_payload(&serde_json::json!({ "high": max_id, "generation": store.generation()? }).to_string());
        prepared.commit().map_err(tantivy_err(dir))?;
        crate::faults::point("lexical.after_commit");
        // The old generation's term list may hold words this sync removed
        // (re-derived or redacted conversations): it leaves the disk too.
        super::drop_terms_cache(dir)?;

        if self.rebuilt {
            // Every message was added from the store: older marks are moot.
            marks::clear_dirty(store)?;
        }
        marks::record_sync(store, dirty.last().copied(), max_id, LEXICAL_VERSION)?;
        // Let background merges finish so segments do not pile up across runs.
        self.writer.wait_merging_threads().map_err(tantivy_err(dir))?;
        report.high = max_id;
        report.segments = self.idx.index.searchable_segment_ids().map_err(tantivy_err(dir))?.len();
        Ok(report)
    }
}

/// Starts the lexical build while ingest still writes the store, so the
/// two share the cores: ingest's single writer thread leaves most of a
/// second core idle. Polls the store (read-only) until more than
/// `bulk_rows` committed messages wait past the index's mark, then
/// feeds the build what ingest commits, until `ingest` disconnects (ingest
/// drops its sender when it ends, by return or by unwinding). Returns the
/// build for [`Build::finish`] once ingest is done, or `None` when there
/// was too little to start one (the sync after ingest does it all).
///
/// Rows fed early may change before ingest ends (a re-read replacing a
/// message, a title set later, a purge): ingest marks those conversations
/// dirty, and `finish` re-derives them from the store as it then is.
pub fn build_beside_ingest(
    db: &Path,
    dir: &Path,
    bulk_rows: usize,
    ingest: std::sync::mpsc::Receiver<()>,
) -> Result<Option<Build>> {
    use std::sync::mpsc::RecvTimeoutError;
    let store = Store::open_readonly(db)?;
    // Nothing else writes the index or its marks while ingest runs (the
    // caller holds the writer lock): where it starts is read once.
    let mut start = Some(Start::read(&store, dir)?);
    let mut build: Option<Build> = None;
    let mut done = false;
    loop {
        let max_id = crate::store::query::max_message_id(&store)?;
        if let Some(b) = &mut build {
            b.feed(&store, max_id)?;
        } else if let Some(s) = start.take_if(|s| s.is_bulk(max_id, bulk_rows)) {
            let mut b = Build::open(s, dir, true)?;
            b.feed(&store, max_id)?;
            crate::faults::point("lexical.beside_ingest");
            build = Some(b);
        }
        if done {
            return Ok(build);
        }
        // Woken at once when ingest ends (a watch pass waits for this),
        // for one more look: rows committed before it ended are seen by
        // it, and `finish` feeds any after.
        done = matches!(ingest.recv_timeout(std::time::Duration::from_millis(50)), Err(RecvTimeoutError::Disconnected));
    }
}

/// Rows past which a sync is a bulk load (a first build, a schema change,
/// a big backlog) by default: two indexing threads, a bigger heap, no
/// merges, started beside ingest ([`build_beside_ingest`]).
pub const BULK_ROWS: usize = 50_000;

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

/// Bytes a message document holds besides its text: three numbers, the
/// role, and the text's length.
const DOC_OVERHEAD: usize = 64;

/// Streams the selected messages into the writer.
///
/// The first message of a conversation not in `described` also writes its
/// conversation document ([`super::conversation_document`]), replacing the
/// one an earlier sync wrote (its term is deleted first): a conversation
/// has one conversation document whichever syncs added its messages, and
/// after a crash between tantivy's commit and the store's.
fn add_rows(
    writer: &IndexWriter,
    idx: &LexicalIndex,
    store: &Store,
    rows: Rows,
    described: &mut rustc_hash::FxHashSet<i64>,
) -> Result<usize> {
    let f = &idx.fields;
    let mut n = 0;
    let add = |doc: TantivyDocument| -> Result<()> {
        writer.add_document(doc).map_err(|source| LexicalError::Tantivy { path: "lexical".into(), source })?;
        Ok(())
    };
    crate::store::lexical::for_each_row(store, rows, |r| -> Result<()> {
        if described.insert(r.conversation_id) {
            writer.delete_term(Term::from_field_i64(f.title_of, r.conversation_id));
            let values = super::ConversationValues {
                id: r.conversation_id,
                agent: r.agent,
                source: r.source,
                workspace: r.workspace,
                title: r.title,
            };
            add(super::conversation_document(f, values))?;
        }
        // Room for every value at once: the default holds 1 KiB, and a
        // message past it grew the buffer by copying (~1 % of the build).
        let mut doc = TantivyDocument::with_capacity(r.content.len() + DOC_OVERHEAD);
        doc.add_i64(f.message_id, r.id);
        doc.add_i64(f.conversation_id, r.conversation_id);
        doc.add_text(f.role, r.role);
        if let Some(ts) = r.created_at {
            doc.add_i64(f.created_at, ts);
        }
        doc.add_text(f.content, r.content);
        add(doc)?;
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
