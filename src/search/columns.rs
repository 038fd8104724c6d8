//! The columns the relevance collector reads, opened once per segment.
//!
//! Opening a column reads its header, and a column tantivy keeps in blocks
//! (values that rise with jumps: a time, a conversation id) deserializes
//! every block's header on opening. A relevance search opened `created_at`
//! and `conversation_id` in every segment for every query: at ten million
//! messages (36 segments) the block headers alone were ~4 % of a warm
//! search's samples. A segment never changes once written, so a searcher
//! that is reused (the TUI, the MCP server, a watch) opens a segment's
//! columns once; a sync's new segments are opened when first searched.

use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;
use tantivy::SegmentReader;
use tantivy::columnar::Column;
use tantivy::index::SegmentId;

/// Segments held before the cache is emptied: merged-away segments'
/// columns are dropped then (an index has a few dozen segments at most).
const MAX_SEGMENTS: usize = 1024;

/// One segment's columns for ranking.
pub struct SegmentColumns {
    /// Creation times (absent in a segment of messages without one).
    pub created: Option<Column<i64>>,
    /// Message ids.
    pub ids: Column<i64>,
    /// Conversation ids: a title document's, and a hit's for its title bonus.
    pub conversations: Option<Column<i64>>,
}

/// The columns already opened, by segment.
#[derive(Default)]
pub struct ColumnCache {
    inner: Mutex<FxHashMap<SegmentId, Arc<SegmentColumns>>>,
}

impl ColumnCache {
    /// The columns of `segment`, opened now if they were not yet.
    pub fn get(&self, segment: &SegmentReader) -> tantivy::Result<Arc<SegmentColumns>> {
        let id = segment.segment_id();
        if let Some(held) = self.inner.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
            return Ok(Arc::clone(held));
        }
        let fast = segment.fast_fields();
        let columns = Arc::new(SegmentColumns {
            created: fast.i64("created_at").ok(),
            ids: fast.i64("message_id")?,
            conversations: fast.i64("conversation_id").ok(),
        });
        let mut held = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if held.len() >= MAX_SEGMENTS {
            held.clear();
        }
        held.insert(id, Arc::clone(&columns));
        Ok(columns)
    }
}
