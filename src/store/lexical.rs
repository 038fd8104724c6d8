//! What the lexical sync reads and records: the conversations changed
//! under the index, the messages to add, and the index's marks.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError};

const META_HIGH: &str = "lexical_high_message_id";
const META_VERSION: &str = "lexical_version";

/// The lexical index's marks as the store records them.
#[derive(Debug, Clone, Copy, Default)]
pub struct LexicalMarks {
    /// Highest message id the index holds.
    pub high: i64,
    /// The schema/tokenizer version it was built with.
    pub version: Option<i64>,
}

/// The marks recorded by the last committed sync.
pub fn marks(store: &Store) -> Result<LexicalMarks> {
    Ok(LexicalMarks { high: store.meta_get_i64(META_HIGH)?.unwrap_or(0), version: store.meta_get_i64(META_VERSION)? })
}

/// How many conversations await re-indexing (a small table).
pub fn dirty_count(store: &Store) -> Result<i64> {
    Ok(store.conn.query_row("SELECT COUNT(*) FROM lexical_dirty", [], |r| r.get(0))?)
}

/// The conversations changed under the index, ascending.
pub fn dirty_conversations(store: &Store) -> Result<Vec<i64>> {
    let mut stmt = store.conn.prepare("SELECT conversation_id FROM lexical_dirty ORDER BY conversation_id")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Forgets every dirty mark: a rebuild re-adds everything anyway.
pub fn clear_dirty(store: &Store) -> Result<()> {
    store.conn.execute("DELETE FROM lexical_dirty", [])?;
    Ok(())
}

/// Records a committed sync: the dirty marks up to `dirty_upto` are done,
/// the index holds messages up to `high`, built with `version`. One
/// transaction, so the marks move together.
pub fn record_sync(store: &Store, dirty_upto: Option<i64>, high: i64, version: i64) -> Result<()> {
    let tx = store.conn.unchecked_transaction()?;
    if let Some(upto) = dirty_upto {
        tx.execute("DELETE FROM lexical_dirty WHERE conversation_id <= ?1", [upto])?;
    }
    let upsert = "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value";
    tx.execute(upsert, params![META_HIGH, high.to_string()])?;
    tx.execute(upsert, params![META_VERSION, version.to_string()])?;
    tx.commit()?;
    Ok(())
}

/// Which messages to stream into the index.
#[derive(Debug, Clone, Copy)]
pub enum Rows {
    /// One conversation's messages with an id up to `upto`.
    Conversation {
        /// Id of the conversation to re-derive.
        id: i64,
        /// Highest message id to include.
        upto: i64,
    },
    /// Messages with an id in `after+1..=upto`.
    Range {
        /// Messages after this id (exclusive): the index's current mark.
        after: i64,
        /// Highest message id to include.
        upto: i64,
    },
}

/// One message as the lexical index stores it.
#[derive(Debug, Clone, Copy)]
pub struct LexicalRow<'a> {
    /// Message id in the store.
    pub id: i64,
    /// Id of its conversation.
    pub conversation_id: i64,
    /// Who spoke it, as stored (`user`, `assistant`, `system`, `tool`).
    pub role: &'a str,
    /// When it was written, milliseconds since the Unix epoch, if known.
    pub created_at: Option<i64>,
    /// The message text.
    pub content: &'a str,
    /// Slug of the conversation's agent.
    pub agent: &'a str,
    /// The conversation's working directory, when known.
    pub workspace: Option<&'a str>,
    /// The conversation's title: indexed once per conversation, a match there
    /// ranks the conversation's hits higher.
    pub title: Option<&'a str>,
    /// The machine the conversation was read on (`local` or a machine's name).
    pub source: &'a str,
}

/// Streams the selected messages, by id, into `f` (one row in memory at a time).
///
/// A conversation's values (agent, workspace, title, machine) are read once
/// per run of its messages, not joined onto each row: messages come in runs
/// of one conversation (ingest writes a file at a time), and the lookup per
/// row was a B-tree search per message of a build. A message whose
/// conversation is gone is skipped, as a join would.
pub fn for_each_row<E: From<StoreError>>(
    store: &Store,
    rows: Rows,
    mut f: impl FnMut(LexicalRow<'_>) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let (filter, a, b) = match rows {
        Rows::Conversation { id, upto } => ("conversation_id = ?1 AND id <= ?2", id, upto),
        Rows::Range { after, upto } => ("id > ?1 AND id <= ?2", after, upto),
    };
    let sql = format!("SELECT id, conversation_id, role, created_at, content FROM messages WHERE {filter} ORDER BY id");
    let mut stmt = store.conn.prepare(&sql).map_err(StoreError::from)?;
    let mut lookup = store
        .conn
        .prepare_cached("SELECT agent, workspace, title, source FROM conversations WHERE id = ?1")
        .map_err(StoreError::from)?;
    let mut conversation: Option<(i64, Option<ConversationColumns>)> = None;
    let mut cursor = stmt.query(params![a, b]).map_err(StoreError::from)?;
    while let Some(r) = cursor.next().map_err(StoreError::from)? {
        let text = |i: usize| -> std::result::Result<Option<&str>, StoreError> {
            Ok(r.get_ref(i)?.as_str_or_null().map_err(rusqlite::Error::from)?)
        };
        let conversation_id: i64 = r.get(1).map_err(StoreError::from)?;
        if conversation.as_ref().is_none_or(|(id, _)| *id != conversation_id) {
            let found = lookup
                .query_row([conversation_id], |c| {
                    Ok(ConversationColumns {
                        agent: c.get::<_, Option<String>>(0)?.unwrap_or_default(),
                        workspace: c.get(1)?,
                        title: c.get(2)?,
                        source: c.get(3)?,
                    })
                })
                .optional()
                .map_err(StoreError::from)?;
            conversation = Some((conversation_id, found));
        }
        let Some((_, Some(c))) = &conversation else { continue };
        let row = LexicalRow {
            id: r.get(0).map_err(StoreError::from)?,
            conversation_id,
            role: text(2)?.unwrap_or_default(),
            created_at: r.get(3).map_err(StoreError::from)?,
            content: text(4)?.unwrap_or_default(),
            agent: &c.agent,
            workspace: c.workspace.as_deref(),
            title: c.title.as_deref(),
            source: c.source.as_deref().unwrap_or(crate::filters::LOCAL_SOURCE),
        };
        f(row)?;
    }
    Ok(())
}

/// A conversation's values that its messages' rows carry.
struct ConversationColumns {
    agent: String,
    workspace: Option<String>,
    title: Option<String>,
    source: Option<String>,
}
