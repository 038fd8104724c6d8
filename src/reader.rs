//! The reader role: conversations and messages by id, read-only, for
//! `view`, `expand`, the TUI's detail pane and the MCP server. Like a
//! searcher it never takes the writer lock and never blocks on a writer.

use crate::config::DataDir;
use crate::model::{Conversation, StoredMessage};
pub use crate::store::query::IngestError;
pub use crate::store::query::SessionFilter;
use crate::store::query::{self, AgentTotals};
use crate::store::{Result, Store};

/// Why a read failed: the store's error (no index yet, a damaged or
/// busy database), named for the front ends that only read.
pub type ReadError = crate::store::StoreError;

/// A read-only view of the store.
pub struct Reader {
    store: Store,
}

impl Reader {
    /// Opens the store read-only; `Err(Missing)` before the first index pass.
    pub(crate) fn open(data: &DataDir) -> Result<Reader> {
        Ok(Reader { store: Store::open_readonly(&data.db())? })
    }

    /// One conversation by id.
    pub fn conversation(&self, id: i64) -> Result<Option<Conversation>> {
        query::conversation(&self.store, id)
    }

    /// The conversations read from one source file (as stored: absolute).
    pub fn conversations_by_source(&self, path: &str) -> Result<Vec<Conversation>> {
        query::conversations_by_source(&self.store, path)
    }

    /// Every message of a conversation, in order.
    pub fn messages(&self, conversation_id: i64) -> Result<Vec<StoredMessage>> {
        query::messages_of(&self.store, conversation_id)
    }

    /// One message by id.
    pub fn message(&self, id: i64) -> Result<Option<StoredMessage>> {
        query::message(&self.store, id)
    }

    /// The messages `before` ordinals before and `after` after `ordinal`.
    pub fn messages_around(
        &self,
        conversation_id: i64,
        ordinal: i64,
        before: i64,
        after: i64,
    ) -> Result<Vec<StoredMessage>> {
        query::messages_around(&self.store, conversation_id, ordinal, before, after)
    }

    /// Up to `limit` messages just before `ordinal`, in order (keyset paging).
    pub fn messages_before(&self, conversation_id: i64, ordinal: i64, limit: i64) -> Result<Vec<StoredMessage>> {
        query::messages_before(&self.store, conversation_id, ordinal, limit)
    }

    /// Up to `limit` messages just after `ordinal`, in order.
    pub fn messages_after(&self, conversation_id: i64, ordinal: i64, limit: i64) -> Result<Vec<StoredMessage>> {
        query::messages_after(&self.store, conversation_id, ordinal, limit)
    }

    /// Up to `limit` messages of a conversation from the `offset`-th on.
    pub fn messages_page(&self, conversation_id: i64, offset: i64, limit: i64) -> Result<Vec<StoredMessage>> {
        query::messages_page(&self.store, conversation_id, offset, limit)
    }

    /// Conversations, most recently active first, narrowed by `filter`.
    pub fn sessions(&self, filter: &SessionFilter, limit: i64, offset: i64) -> Result<Vec<Conversation>> {
        query::sessions(&self.store, filter, limit, offset)
    }

    /// How many conversations [`Reader::sessions`] would list without a limit.
    pub fn session_count(&self, filter: &SessionFilter) -> Result<i64> {
        query::session_count(&self.store, filter)
    }

    /// The stored workspace that is `dir` or the nearest directory above
    /// it: the project `dir` belongs to.
    pub fn workspace_at_or_above(&self, dir: &str) -> Result<Option<String>> {
        query::workspace_at_or_above(&self.store, dir)
    }

    /// The problems index runs recorded (skipped lines, unreadable files),
    /// newest first, at most `limit`; and how many there are in all.
    pub fn ingest_errors(&self, limit: i64) -> Result<(Vec<IngestError>, i64)> {
        query::ingest_errors(&self.store, limit)
    }

    /// Conversations and messages per agent, from the counters.
    pub fn agent_totals(&self) -> Result<Vec<AgentTotals>> {
        query::agent_totals(&self.store)
    }

    /// The workspaces with the most conversations, most first.
    pub fn top_workspaces(&self, limit: i64) -> Result<Vec<String>> {
        query::top_workspaces(&self.store, limit)
    }

    /// Conversations and messages per machine, `local` first.
    pub fn source_totals(&self) -> Result<Vec<crate::store::remote::SourceTotals>> {
        crate::store::remote::source_totals(&self.store)
    }
}
