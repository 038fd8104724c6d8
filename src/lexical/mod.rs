//! The lexical index: tantivy, derived from the store.
//!
//! The store records the highest message id the index holds
//! (`lexical_high_message_id`) and which conversations changed underneath it
//! (`lexical_dirty`). A sync adds everything past the mark and re-derives the
//! dirty conversations, deleting by id before adding, so running it twice, or
//! after a crash between the SQLite and tantivy commits, converges on each
//! live message exactly once.

pub mod fold;
pub mod schema;
pub mod stem;
mod sync;
pub mod terms;
pub mod tokenizer;

use std::path::{Path, PathBuf};

use tantivy::Index;
use tantivy::directory::MmapDirectory;

pub use schema::{
    CONVERSATION_KIND, ConversationValues, Fields, LEXICAL_VERSION, TITLE_KIND, TOKENIZER, conversation_document,
    conversation_documents,
};
pub use sync::{
    BULK_ROWS, Build, LexicalState, SyncReport, build_beside_ingest, committed_generation, committed_high,
    purge_deleted, state, sync,
};

/// Why the lexical index could not be opened, read or synced.
#[derive(Debug, thiserror::Error)]
pub enum LexicalError {
    /// Tantivy failed to open, read or write the index.
    #[error("lexical index {path}: {source}")]
    Tantivy {
        /// The index directory, as displayed.
        path: String,
        /// Tantivy's error.
        source: tantivy::TantivyError,
    },
    /// No index in this directory yet.
    #[error("no lexical index yet at {0} (run `cass index`)")]
    Missing(String),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The index directory could not be created or removed (before a rebuild).
    #[error("lexical index {path}: {source}")]
    Io {
        /// The index directory, as displayed.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Result of a lexical index operation.
pub type Result<T> = std::result::Result<T, LexicalError>;

fn tantivy_err(path: &Path) -> impl FnOnce(tantivy::TantivyError) -> LexicalError + '_ {
    move |source| LexicalError::Tantivy { path: path.display().to_string(), source }
}

/// Deletes the message documents whose ids lie in `ids` (conversation
/// documents, id 0, never do): one query over the message id column, run
/// on every segment at the writer's next commit, against documents added
/// before this call only.
pub fn delete_messages(
    writer: &tantivy::IndexWriter,
    idx: &LexicalIndex,
    ids: std::ops::RangeInclusive<i64>,
) -> Result<()> {
    use std::ops::Bound::Included;
    let term = |id: i64| tantivy::Term::from_field_i64(idx.fields.message_id, id.max(1));
    let range = tantivy::query::RangeQuery::new(Included(term(*ids.start())), Included(term(*ids.end())));
    writer.delete_query(Box::new(range)).map_err(tantivy_err(&idx.dir))?;
    Ok(())
}

/// An open lexical index with cass's tokenizer registered.
pub struct LexicalIndex {
    /// The tantivy index.
    pub index: Index,
    /// Handles of the schema's fields.
    pub fields: Fields,
    /// The index directory.
    pub dir: PathBuf,
}

impl LexicalIndex {
    /// Opens the index for reading; never creates it.
    pub fn open(dir: &Path) -> Result<LexicalIndex> {
        if !dir.join("meta.json").exists() {
            return Err(LexicalError::Missing(dir.display().to_string()));
        }
        let index = Index::open_in_dir(dir).map_err(tantivy_err(dir))?;
        Ok(Self::with_index(index, dir))
    }

    /// Opens the index, creating an empty one when absent.
    pub fn open_or_create(dir: &Path) -> Result<LexicalIndex> {
        std::fs::create_dir_all(dir).map_err(|source| LexicalError::Io { path: dir.display().to_string(), source })?;
        let (schema, _) = schema::build();
        let mmap = MmapDirectory::open(dir)
            .map_err(|e| LexicalError::Tantivy { path: dir.display().to_string(), source: e.into() })?;
        let index = Index::open_or_create(mmap, schema).map_err(tantivy_err(dir))?;
        Ok(Self::with_index(index, dir))
    }

    fn with_index(index: Index, dir: &Path) -> LexicalIndex {
        index.tokenizers().register(TOKENIZER, tokenizer::CodeTokenizer::default());
        let (_, fields) = schema::build();
        LexicalIndex { index, fields, dir: dir.to_path_buf() }
    }

    /// Where wildcard queries keep the list of terms ([`terms::TermList`]).
    pub fn terms_cache(&self) -> PathBuf {
        terms_cache(&self.dir)
    }
}

/// Where wildcard queries keep the list of terms of the index in `dir`:
/// beside the index, not in it (tantivy owns its directory).
pub fn terms_cache(dir: &Path) -> PathBuf {
    let name = format!("{}-terms", dir.file_name().and_then(|n| n.to_str()).unwrap_or("lexical"));
    dir.with_file_name(name)
}

/// Removes the term list of the index in `dir`. Every writer that changes
/// the index calls it: the list holds the words of the messages, and text
/// that was redacted or forgotten must leave the disk with the index's.
pub fn drop_terms_cache(dir: &Path) -> Result<()> {
    let cache = terms_cache(dir);
    match std::fs::remove_dir_all(&cache) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(LexicalError::Io { path: cache.display().to_string(), source }),
    }
}
