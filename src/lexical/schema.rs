//! The lexical index's schema: one document per message, and one per
//! conversation holding what is the same on all its messages.
//!
//! A conversation's title, agent, workspace and machine are indexed once,
//! on its conversation document, not on each of its messages. Repeated on
//! every message, the title was an eighth of the build's instructions
//! (docs/performance-history.md, session 14) and the three filter fields
//! another ~3 % (session 17), for values that only ever raise the rank of
//! a message ([`crate::search`] adds a title's score to each hit of its
//! conversation) or select the conversations a search looks in (a filter
//! reads the matching conversation documents first, then keeps the
//! messages whose conversation id is among theirs).

use tantivy::query::{BooleanQuery, Query, TermQuery};
use tantivy::schema::{FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};
use tantivy::{TantivyDocument, Term};

/// Name under which [`super::tokenizer::CodeTokenizer`] is registered.
pub const TOKENIZER: &str = "cass_code";

/// Bumped when the schema or tokenizer changes: an index of another version
/// is rebuilt from the store.
pub const LEXICAL_VERSION: i64 = 8;

/// A value of [`Fields::kind`] on the conversation document of a titled
/// conversation (beside [`CONVERSATION_KIND`]): its document frequency is
/// the number of titles, for their BM25 statistics.
pub const TITLE_KIND: &str = "title";

/// The value of [`Fields::kind`] on every conversation document (v8).
pub const CONVERSATION_KIND: &str = "conversation";

/// The query matching every document that is not a message: the
/// conversation documents, and in an index built before v8 (read until
/// the next sync rebuilds it) the title documents, which had only
/// [`TITLE_KIND`].
pub fn conversation_documents(fields: &Fields) -> BooleanQuery {
    let kind = |k: &str| -> Box<dyn Query> {
        Box::new(TermQuery::new(Term::from_field_text(fields.kind, k), IndexRecordOption::Basic))
    };
    BooleanQuery::union(vec![kind(CONVERSATION_KIND), kind(TITLE_KIND)])
}

/// What a conversation document holds: the values its messages share.
#[derive(Debug, Clone, Copy)]
pub struct ConversationValues<'a> {
    /// The conversation's id in the store.
    pub id: i64,
    /// Its agent's slug.
    pub agent: &'a str,
    /// The machine it was read on.
    pub source: &'a str,
    /// Its workspace, when known.
    pub workspace: Option<&'a str>,
    /// Its title, when it has one (an empty one counts as none).
    pub title: Option<&'a str>,
}

/// The conversation document of `c`. A search's filters on agent,
/// workspace and machine match it, and its title scores for the
/// conversation's hits; it never matches a query on content.
pub fn conversation_document(f: &Fields, c: ConversationValues<'_>) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    // Every document has a message and a conversation id, so their
    // columns are dense (read without a rank lookup per hit); 0 is no
    // message's id.
    doc.add_i64(f.message_id, 0);
    doc.add_i64(f.conversation_id, c.id);
    doc.add_i64(f.title_of, c.id);
    doc.add_text(f.kind, CONVERSATION_KIND);
    doc.add_text(f.agent, c.agent);
    doc.add_text(f.source, c.source);
    if let Some(ws) = c.workspace {
        doc.add_text(f.workspace, ws);
    }
    if let Some(t) = c.title.filter(|t| !t.is_empty()) {
        doc.add_text(f.kind, TITLE_KIND);
        doc.add_text(f.title, t);
    }
    doc
}

/// Handles to every field.
#[derive(Clone)]
pub struct Fields {
    /// Message text, tokenized with [`TOKENIZER`], with positions for phrases.
    pub content: Field,
    /// Conversation title, tokenized like `content`: on conversation
    /// documents only (v6; v5 repeated it on each message).
    pub title: Field,
    /// Agent slug, matched exactly: on conversation documents only (v8).
    pub agent: Field,
    /// Workspace path, matched exactly: on conversation documents only (v8).
    pub workspace: Field,
    /// Role name, matched exactly, on each message (roles differ within a
    /// conversation).
    pub role: Field,
    /// The machine the conversation was read on (`local` or a machine's
    /// name), matched exactly (`--source`): on conversation documents only (v8).
    pub source: Field,
    /// Creation time in milliseconds since the Unix epoch; absent when unknown.
    /// A fast field only: time filters and time order read its column
    /// (tantivy's range query uses the column whenever a field has one), so
    /// a term per message (each time is nearly unique) would only slow the
    /// build and grow the index (v5).
    pub created_at: Field,
    /// Conversation id, for deleting a conversation's documents (its
    /// conversation document's too) on re-derive, and as a column for its
    /// title's score on a hit and for the filters on conversations.
    pub conversation_id: Field,
    /// Message id, a column only: hits are read by it and hydrated from
    /// the store, and messages that may already be in the index are
    /// deleted by a range of it ([`super::delete_messages`]). Not a term
    /// (v7): a new term per message grew the indexing threads' hash table
    /// by a million entries per million messages, and the build took ~5 %
    /// longer for a lookup done once per crash (docs/performance-history.md,
    /// session 16). Nothing is stored in the index (v5). 0 on conversation
    /// documents, which no message query matches: with a value on every
    /// document, the column is read without a rank lookup.
    pub message_id: Field,
    /// On a conversation document, the id of its conversation, as a term
    /// only: it replaces the document when the conversation is indexed
    /// again (the conversation's own term would take its messages too).
    /// Named for the title documents it came with (v6), kept so an older
    /// index still opens.
    pub title_of: Field,
    /// [`CONVERSATION_KIND`] on conversation documents, and [`TITLE_KIND`]
    /// too on those with a title; absent on messages: browsing and counting
    /// leave conversation documents out by it ([`conversation_documents`]).
    pub kind: Field,
}

/// The schema and the handles of its fields; the same on every call.
pub fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        content: b.add_text_field("content", text.clone()),
        title: b.add_text_field("title", text),
        agent: b.add_text_field("agent", STRING),
        workspace: b.add_text_field("workspace", STRING),
        role: b.add_text_field("role", STRING),
        created_at: b.add_i64_field("created_at", FAST),
        conversation_id: b.add_i64_field("conversation_id", INDEXED | FAST),
        message_id: b.add_i64_field("message_id", FAST),
        // Last, so the other fields keep their numbers in an index built
        // before it (read until the next sync rebuilds it).
        source: b.add_text_field("source", STRING),
        title_of: b.add_i64_field("title_of", INDEXED),
        kind: b.add_text_field("kind", STRING),
    };
    (b.build(), fields)
}
