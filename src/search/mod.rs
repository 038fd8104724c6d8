//! Search: a validated request in, hydrated hits out. Retrieval (lexical,
//! later semantic and hybrid) yields message ids; hydration reads everything
//! shown from the store, so results never show stale or deleted text.

pub mod filters;
pub mod lexical;
pub mod query;
pub mod snippet;

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;

use crate::config::DataDir;
use crate::lexical::{LexicalError, LexicalIndex};
use crate::model::{Role, TimestampMs};
use crate::store::{Store, StoreError};
pub use filters::Filters;
pub use query::{ParsedQuery, QueryError};
pub use snippet::Snippet;

/// Version of the robot JSON shape (docs/ROBOT.md).
pub const ROBOT_SCHEMA: &str = "cass.search.v1";

/// Most hits one request may ask for.
pub const MAX_LIMIT: usize = 1000;

/// A validated search request.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub query_text: String,
    pub query: ParsedQuery,
    pub filters: Filters,
    pub limit: usize,
    pub offset: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("{0}")]
    Query(#[from] QueryError),
    #[error(transparent)]
    Lexical(#[from] LexicalError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("--limit must be between 1 and {MAX_LIMIT}")]
    Limit,
}

impl SearchRequest {
    /// Validates the query text and limits into a request.
    pub fn new(
        text: &str,
        filters: Filters,
        limit: usize,
        offset: usize,
    ) -> Result<SearchRequest, SearchError> {
        if limit == 0 || limit > MAX_LIMIT {
            return Err(SearchError::Limit);
        }
        Ok(SearchRequest {
            query_text: text.to_string(),
            query: query::parse(text)?,
            filters,
            limit,
            offset,
        })
    }
}

/// One hit, hydrated from the store.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub message_id: i64,
    pub conversation_id: i64,
    pub agent: String,
    pub workspace: Option<String>,
    pub title: Option<String>,
    pub role: String,
    #[serde(serialize_with = "ser_time")]
    pub created_at: Option<TimestampMs>,
    pub source_path: String,
    pub score: f32,
    pub snippet: Snippet,
}

fn ser_time<S: serde::Serializer>(t: &Option<TimestampMs>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(ms) => s.serialize_str(&crate::time::to_rfc3339(*ms)),
        None => s.serialize_none(),
    }
}

/// A page of results.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResults {
    pub schema: &'static str,
    pub query: String,
    pub mode: &'static str,
    pub total: usize,
    pub elapsed_ms: f64,
    pub hits: Vec<Hit>,
    pub next_offset: Option<usize>,
}

/// An open searcher over the data dir: the lexical index and the store,
/// both read-only. Cheap to reuse across queries (the TUI keeps one).
pub struct Searcher {
    store: Store,
    index: LexicalIndex,
    reader: tantivy::IndexReader,
}

impl Searcher {
    pub fn open(data: &DataDir) -> Result<Searcher, SearchError> {
        let store = Store::open_readonly(&data.db())?;
        let index = LexicalIndex::open(&data.lexical())?;
        let reader = index
            .index
            .reader_builder()
            .reload_policy(tantivy::ReloadPolicy::Manual)
            .try_into()
            .map_err(|source| LexicalError::Tantivy {
                path: data.lexical().display().to_string(),
                source,
            })?;
        Ok(Searcher {
            store,
            index,
            reader,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Picks up what a writer committed since this searcher opened.
    pub fn refresh(&self) -> Result<(), SearchError> {
        self.reader
            .reload()
            .map_err(|source| LexicalError::Tantivy {
                path: "lexical".into(),
                source,
            })?;
        Ok(())
    }

    pub fn search(&self, req: &SearchRequest) -> Result<SearchResults, SearchError> {
        let started = Instant::now();
        let searcher = self.reader.searcher();
        let (ids, total) = lexical::search(
            &self.index,
            &searcher,
            &req.query,
            &req.filters,
            req.limit,
            req.offset,
        )?;
        let hits = self.hydrate(&ids, &req.query)?;
        let next = req.offset + ids.len();
        Ok(SearchResults {
            schema: ROBOT_SCHEMA,
            query: req.query_text.clone(),
            mode: "lexical",
            total,
            elapsed_ms: (started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
            hits,
            next_offset: (next < total).then_some(next),
        })
    }

    /// Reads the hits' messages and conversations; ids no longer in the store
    /// (replaced since the index was built) are dropped.
    fn hydrate(
        &self,
        ids: &[lexical::ScoredId],
        query: &ParsedQuery,
    ) -> Result<Vec<Hit>, SearchError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["?"; ids.len()].join(",");
        let sql = format!(
            "SELECT m.id, m.conversation_id, m.role, m.created_at, m.content, c.agent, c.workspace, c.title, c.source_path
             FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.id IN ({placeholders})"
        );
        let conn = self.store.conn();
        let mut stmt = conn.prepare_cached(&sql).map_err(StoreError::from)?;
        let (exact, prefixes) = query.highlight_terms();
        let mut by_id: HashMap<i64, Hit> = HashMap::new();
        let rows = stmt
            .query_map(
                rusqlite::params_from_iter(ids.iter().map(|s| s.message_id)),
                |r| {
                    let content: String = r.get(4)?;
                    Ok(Hit {
                        message_id: r.get(0)?,
                        conversation_id: r.get(1)?,
                        role: r.get(2)?,
                        created_at: r.get(3)?,
                        agent: r.get(5)?,
                        workspace: r.get(6)?,
                        title: r.get(7)?,
                        source_path: r.get(8)?,
                        score: 0.0,
                        snippet: snippet::make(&content, &exact, &prefixes),
                    })
                },
            )
            .map_err(StoreError::from)?;
        for row in rows {
            let hit = row.map_err(StoreError::from)?;
            by_id.insert(hit.message_id, hit);
        }
        Ok(ids
            .iter()
            .filter_map(|s| {
                by_id.remove(&s.message_id).map(|mut h| {
                    h.score = s.score;
                    h
                })
            })
            .collect())
    }
}

/// Parses a role filter value.
pub fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}
