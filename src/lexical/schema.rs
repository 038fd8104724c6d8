//! The lexical index's schema: one document per message, and one per
//! titled conversation holding its title.
//!
//! A title is indexed once per conversation, not on each of its messages:
//! repeated on every message it was an eighth of the build's instructions
//! (docs/performance-history.md, session 14), for a field that only ever
//! raises the rank of messages that match on their content. A search reads
//! the title documents first and adds their score to each hit of the same
//! conversation ([`crate::search`]).

use tantivy::schema::{FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};

/// Name under which [`super::tokenizer::CodeTokenizer`] is registered.
pub const TOKENIZER: &str = "cass_code";

/// Bumped when the schema or tokenizer changes: an index of another version
/// is rebuilt from the store.
pub const LEXICAL_VERSION: i64 = 7;

/// The value of [`Fields::kind`] on a title document.
pub const TITLE_KIND: &str = "title";

/// The query matching every title document (and no message).
pub fn title_documents(fields: &Fields) -> tantivy::query::TermQuery {
    tantivy::query::TermQuery::new(tantivy::Term::from_field_text(fields.kind, TITLE_KIND), IndexRecordOption::Basic)
}

/// Handles to every field.
#[derive(Clone)]
pub struct Fields {
    /// Message text, tokenized with [`TOKENIZER`], with positions for phrases.
    pub content: Field,
    /// Conversation title, tokenized like `content`: on title documents
    /// only, one per titled conversation (v6; v5 repeated it on each message).
    pub title: Field,
    /// Agent slug, matched exactly.
    pub agent: Field,
    /// Workspace path, matched exactly.
    pub workspace: Field,
    /// Role name, matched exactly.
    pub role: Field,
    /// The machine the conversation was read on (`local` or a machine's
    /// name), matched exactly: `--source`.
    pub source: Field,
    /// Creation time in milliseconds since the Unix epoch; absent when unknown.
    /// A fast field only: time filters and time order read its column
    /// (tantivy's range query uses the column whenever a field has one), so
    /// a term per message (each time is nearly unique) would only slow the
    /// build and grow the index (v5).
    pub created_at: Field,
    /// Conversation id, for deleting a conversation's documents (its title
    /// document's too) on re-derive, and for its title's score on a hit.
    pub conversation_id: Field,
    /// Message id, a column only: hits are read by it and hydrated from
    /// the store, and messages that may already be in the index are
    /// deleted by a range of it ([`super::delete_messages`]). Not a term
    /// (v7): a new term per message grew the indexing threads' hash table
    /// by a million entries per million messages, and the build took ~5 %
    /// longer for a lookup done once per crash (docs/performance-history.md,
    /// session 16). Nothing is stored in the index (v5). 0 on title
    /// documents, which no message query matches: with a value on every
    /// document, the column is read without a rank lookup.
    pub message_id: Field,
    /// On a title document, the id of its conversation, as a term only:
    /// it replaces the document when the conversation is indexed again
    /// (the conversation's own term would take its messages too). Which
    /// conversation a title scores for is read from `conversation_id`.
    pub title_of: Field,
    /// [`TITLE_KIND`] on title documents, absent on messages: browsing and
    /// counting leave title documents out by it, and its document frequency
    /// is the number of titles for their BM25 statistics.
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
