//! Search: a validated request in, hydrated hits out. Retrieval (lexical,
//! later semantic and hybrid) yields message ids; hydration reads everything
//! shown from the store, so results never show stale or deleted text.

mod columns;
mod conversations;
pub mod lexical;
pub mod query;
pub mod semantic;
pub mod snippet;
pub mod stopwords;
mod titles;
mod top;
mod walks;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use crate::config::DataDir;
use crate::embed::Tier;
pub use crate::filters::Filters;
use crate::lexical::{LexicalError, LexicalIndex};
use crate::model::TimestampMs;
use crate::store::{Store, StoreError};
use crate::vector::scan::KeepId;
pub use query::{ParsedQuery, QueryError};
pub use semantic::{LoadedTier, TierError};
pub use snippet::Snippet;

/// How hits are retrieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Words, phrases and prefixes through the lexical index.
    Lexical,
    /// Nearest neighbours of the query's embedding in a semantic tier.
    Semantic,
    /// Both, fused by reciprocal rank (k = 60).
    Hybrid,
}

impl Mode {
    /// The mode's name in results and the robot JSON.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Lexical => "lexical",
            Mode::Semantic => "semantic",
            Mode::Hybrid => "hybrid",
        }
    }
}

/// The order of hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Best match first, recent sessions gently preferred among comparable
    /// scores (see [`lexical::recency_boost`]).
    #[default]
    Relevance,
    /// Newest first.
    Recent,
    /// Oldest first.
    Oldest,
}

/// A page of lexical hits (each flagged when partial), the total of full
/// and partial matches, and how many of those are partial.
type LexicalPage = (Vec<(lexical::ScoredId, bool)>, usize, usize);

impl Sort {
    /// The order's name on the command line, in the JSON and the TUI.
    pub fn name(self) -> &'static str {
        match self {
            Sort::Relevance => "relevance",
            Sort::Recent => "recent",
            Sort::Oldest => "oldest",
        }
    }
}

/// Below this many full matches, a query of three or more words also
/// returns partial matches (most of its words).
pub const PARTIAL_BELOW: usize = 5;

/// Version of the robot JSON shape (docs/ROBOT.md).
pub const ROBOT_SCHEMA: &str = "cass.search.v1";

/// Most hits one request may ask for.
pub const MAX_LIMIT: usize = 1000;

/// Deepest page: hits to skip at most (each engine ranks offset + limit).
pub const MAX_OFFSET: usize = 100_000;

/// A validated search request.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// The query as typed, echoed in the results.
    pub query_text: String,
    /// The query parsed into clauses.
    pub query: ParsedQuery,
    /// What every retrieval mode narrows to.
    pub filters: Filters,
    /// Hits per page, 1 to [`MAX_LIMIT`].
    pub limit: usize,
    /// Hits to skip: the page's start.
    pub offset: usize,
    /// `None`: hybrid with the best published tier, else lexical.
    pub mode: Option<Mode>,
    /// `None`: the best published tier (quality, then fast).
    pub tier: Option<Tier>,
    /// `mode` and `tier` are preferences (from settings), not demands: when
    /// they cannot run, search as if neither were given and say why.
    pub preferred: bool,
    /// Keep only the best hit of each conversation (one hit per session).
    pub one_per_conversation: bool,
    /// The order of hits.
    pub sort: Sort,
    /// The instant recency is measured from (ms since the epoch).
    pub now: TimestampMs,
    /// No words, only filters: the newest messages the filters accept, in
    /// time order (set by [`SearchRequest::new`] for an empty query, or
    /// `*`, with at least one filter).
    pub browse: bool,
}

/// Why a search could not run.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query text does not parse.
    #[error("{0}")]
    Query(#[from] QueryError),
    /// The lexical index is missing or unreadable.
    #[error(transparent)]
    Lexical(#[from] LexicalError),
    /// The store is missing or unreadable.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The limit is 0 or above [`MAX_LIMIT`].
    #[error("--limit must be between 1 and {MAX_LIMIT}")]
    Limit,
    /// The offset is above [`MAX_OFFSET`].
    #[error("--offset must be at most {MAX_OFFSET}")]
    Offset,
    /// An explicitly asked-for tier cannot be searched.
    #[error(transparent)]
    Tier(#[from] TierError),
    /// Embedding the query failed, or it has no words to embed.
    #[error("semantic search: {0}")]
    Semantic(String),
    /// The lexical index was built from another store (deleted and created
    /// again): its ids name other messages, so it is not served.
    #[error("the lexical index at {0} was built from another store and is not served until `cass index` rebuilds it")]
    Stale(String),
    /// Reading the lexical index failed the way damaged files make it fail.
    #[error("the lexical index is damaged: {0}")]
    Damaged(String),
    /// A browse (no words) was asked to run semantically or on a tier.
    #[error(
        "an empty query lists the newest messages by time; --mode semantic|hybrid and --tier need words to search by meaning"
    )]
    BrowseByMeaning,
}

impl SearchError {
    /// True when there is no store or lexical index yet (`cass index` has
    /// never run here): a state to explain, not a failure.
    pub fn is_missing_index(&self) -> bool {
        matches!(self, SearchError::Lexical(LexicalError::Missing(_)) | SearchError::Store(StoreError::Missing(_)))
    }
}

impl SearchRequest {
    /// Validates the query text and limits into a request.
    pub fn new(text: &str, filters: Filters, limit: usize, offset: usize) -> Result<SearchRequest, SearchError> {
        if limit == 0 || limit > MAX_LIMIT {
            return Err(SearchError::Limit);
        }
        if offset > MAX_OFFSET {
            return Err(SearchError::Offset);
        }
        // Nothing to look for but something to narrow by: list what the
        // filters hold, newest first. Without a filter it stays an error.
        let (query, browse) = match query::parse(text) {
            Ok(q) => (q, false),
            Err(QueryError::Empty) if !filters.is_empty() => (ParsedQuery::default(), true),
            Err(e) => return Err(e.into()),
        };
        Ok(SearchRequest {
            query_text: text.to_string(),
            query,
            browse,
            filters,
            limit,
            offset,
            mode: None,
            tier: None,
            preferred: false,
            one_per_conversation: false,
            sort: Sort::Relevance,
            now: crate::time::now_ms(),
        })
    }
}

/// One hit, hydrated from the store.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// The matching message's id in the store.
    pub message_id: i64,
    /// Id of its conversation.
    pub conversation_id: i64,
    /// Slug of the conversation's agent.
    pub agent: String,
    /// The conversation's working directory, when known.
    pub workspace: Option<String>,
    /// The conversation's title, if it has one.
    pub title: Option<String>,
    /// Who spoke the message (`user`, `assistant`, `system`, `tool`).
    pub role: String,
    /// When it was written (RFC 3339 in JSON), if known.
    #[serde(serialize_with = "ser_time")]
    pub created_at: Option<TimestampMs>,
    /// The session file the conversation was read from (for a remote
    /// machine's conversation, its mirror in the data dir).
    pub source_path: String,
    /// The machine the conversation was read on: `local`, or a remote
    /// machine's name (`cass sources add`).
    pub source: String,
    /// For a remote machine's conversation, the session file's path there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_path: Option<String>,
    /// Rank score: BM25 (with the recency boost) for lexical, cosine for
    /// semantic, fused reciprocal rank for hybrid; 0 when sorted by time
    /// in lexical mode.
    pub score: f32,
    /// The best-matching stretch of the message, with highlights.
    pub snippet: Snippet,
    /// With one hit per conversation: how many more of its messages
    /// matched in the ranking the hits were chosen from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more_in_conversation: Option<usize>,
    /// A partial match: it holds most of the query's words, not all
    /// (listed after every full match; see `partial_matches`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
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
    /// Version of the JSON shape ([`ROBOT_SCHEMA`]).
    pub schema: &'static str,
    /// The query as typed.
    pub query: String,
    /// True when the query had no words and the hits are the newest
    /// messages the filters accept, newest first (scores are 0).
    pub browse: bool,
    /// The mode that ran (`lexical`, `semantic`, `hybrid`).
    pub mode: &'static str,
    /// The semantic tier that ran (`fast`, `quality`), if any.
    pub tier: Option<&'static str>,
    /// Why the search ran in another mode or tier than the default would.
    pub fallback: Option<String>,
    /// How far the tier that ran trails the store, when it does (absent
    /// when it holds every message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier_lag: Option<TierLag>,
    /// Matches found: exact for lexical, the candidates retrieved for semantic and hybrid.
    pub total: usize,
    /// Wall time of the search, in milliseconds.
    pub elapsed_ms: f64,
    /// This page's hits, best first.
    pub hits: Vec<Hit>,
    /// The offset of the next page, when there is one.
    pub next_offset: Option<usize>,
    /// What a hit stands for: `message` (every matching message) or
    /// `conversation` (the best message of each, `--group-by session`).
    pub group: &'static str,
    /// The order of the hits.
    pub sort: Sort,
    /// Hits holding most of the query's words but not all: found only
    /// when all of them together match fewer than a handful of messages.
    pub partial_matches: usize,
}

/// How far a semantic tier trails the store: its messages not yet
/// searchable by meaning (they are still found lexically in hybrid mode).
#[derive(Debug, Clone, Serialize)]
pub struct TierLag {
    /// Messages not yet in the tier's published segments (exact up to
    /// 100,000 past its cursor, estimated from ids beyond).
    pub pending_rows: u64,
    /// Since when it has been behind (RFC 3339), as its last backfill recorded.
    pub behind_since: Option<String>,
}

/// The mode that will run, its tier, and why it differs from the default.
type Resolved = (Mode, Option<Arc<LoadedTier>>, Option<String>);

/// The most threads one query searches its lexical segments on.
const SEARCH_THREADS: usize = 4;

/// An open searcher over the data dir: the lexical index and the store,
/// both read-only. Cheap to reuse across queries (the TUI keeps one).
pub struct Searcher {
    data: DataDir,
    embed_threads: Option<usize>,
    store: Store,
    index: LexicalIndex,
    reader: tantivy::IndexReader,
    tiers: Mutex<HashMap<Tier, Arc<LoadedTier>>>,
    /// Word-form walks of the segments, reused by later queries.
    walks: walks::FormWalks,
    /// Ranking columns of the segments, opened once.
    columns: Arc<columns::ColumnCache>,
}

impl Searcher {
    /// Opens the store and the lexical index read-only; tiers open on first
    /// use. `embed_threads` is the quality model's thread count for query
    /// embeddings (`None`: every core). Front ends get one from
    /// [`crate::Cass::searcher`].
    pub fn open(data: &DataDir, embed_threads: Option<usize>) -> Result<Searcher, SearchError> {
        let store = Store::open_readonly(&data.db())?;
        let mut index = match LexicalIndex::open(&data.lexical()) {
            Ok(index) => index,
            Err(LexicalError::Tantivy { source, .. }) => return Err(SearchError::Damaged(source.to_string())),
            Err(e) => return Err(e.into()),
        };
        // Built from another store, or ahead of this one (a restored
        // backup): its ids would name other messages.
        if !store.built_from_here(crate::lexical::committed_generation(&index).as_deref())?
            || crate::lexical::committed_high(&index) > crate::store::query::id_high_water(&store)?
        {
            return Err(SearchError::Stale(data.lexical().display().to_string()));
        }
        // A query's segments are searched on every core (up to four): a
        // bulk load of ten million messages leaves ~80 segments. Without a
        // pool (threads refused) it runs on this thread.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(SEARCH_THREADS);
        if threads > 1
            && let Err(e) = index.index.set_multithread_executor(threads)
        {
            tracing::debug!("searching on one thread: {e}");
        }
        // Opening the reader opens every segment file: a missing or
        // unreadable one is damage, with its repair.
        let reader = crate::guard::catch(|| {
            index.index.reader_builder().reload_policy(tantivy::ReloadPolicy::Manual).try_into()
        })
        .map_err(SearchError::Damaged)?
        .map_err(|e: tantivy::TantivyError| SearchError::Damaged(e.to_string()))?;
        Ok(Searcher {
            data: data.clone(),
            embed_threads,
            store,
            index,
            reader,
            tiers: Mutex::new(HashMap::new()),
            walks: walks::FormWalks::default(),
            columns: Arc::default(),
        })
    }

    /// Picks up what a writer committed since this searcher opened.
    pub fn refresh(&self) -> Result<(), SearchError> {
        self.reader.reload().map_err(|source| LexicalError::Tantivy { path: "lexical".into(), source })?;
        Ok(())
    }

    /// A tier's published state, opened once and reused.
    pub fn tier(&self, tier: Tier) -> Result<Arc<LoadedTier>, TierError> {
        if let Some(t) = self.tiers.lock().expect("tier cache").get(&tier) {
            return Ok(t.clone());
        }
        let loaded = Arc::new(LoadedTier::open(&self.data, tier, self.embed_threads, &self.store)?);
        self.tiers.lock().expect("tier cache").insert(tier, loaded.clone());
        Ok(loaded)
    }

    /// The best published tier: quality, else fast. The note says why
    /// quality was passed over when it is published but cannot run.
    fn best_tier(&self) -> Result<(Arc<LoadedTier>, Option<String>), TierError> {
        let mut note = None;
        match self.tier(Tier::Quality) {
            Ok(t) => return Ok((t, None)),
            Err(TierError::NotPublished(_)) => {}
            Err(e) => note = Some(format!("{e}; using the fast tier")),
        }
        self.tier(Tier::Fast).map(|t| (t, note))
    }

    /// Decides mode and tier. An explicit mode or tier that cannot run is an
    /// error; only the default falls back, and says so.
    fn resolve(&self, req: &SearchRequest) -> Result<Resolved, SearchError> {
        match self.resolve_as_asked(req) {
            Err(SearchError::Tier(e)) if req.preferred => {
                let fallback = SearchRequest { mode: None, tier: None, preferred: false, ..req.clone() };
                let (mode, tier, note) = self.resolve_as_asked(&fallback)?;
                let why = format!("the configured mode or tier cannot run ({e})");
                Ok((mode, tier, Some(note.map_or(why.clone(), |n| format!("{why}; {n}")))))
            }
            other => other,
        }
    }

    fn resolve_as_asked(&self, req: &SearchRequest) -> Result<Resolved, SearchError> {
        match (req.mode, req.tier) {
            (Some(Mode::Lexical), _) => Ok((Mode::Lexical, None, None)),
            (mode, Some(t)) => Ok((mode.unwrap_or(Mode::Hybrid), Some(self.tier(t)?), None)),
            (Some(mode), None) => {
                let (t, note) = self.best_tier()?;
                Ok((mode, Some(t), note))
            }
            (None, None) => match self.best_tier() {
                Ok((t, note)) => Ok((Mode::Hybrid, Some(t), note)),
                Err(e) => Ok((Mode::Lexical, None, Some(format!("{e}; searched lexically")))),
            },
        }
    }

    /// Runs a request: retrieves ids in the resolved mode, then hydrates the page from the store.
    /// Runs a request. With `one_per_conversation`, a wider ranking is
    /// taken (8 hits a wanted one, up to [`MAX_LIMIT`]) and each
    /// conversation keeps its best hit; `total` then counts the
    /// conversations found in that ranking.
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResults, SearchError> {
        if req.one_per_conversation {
            return self.search_grouped(req);
        }
        self.search_ranked(req)
    }

    fn search_grouped(&self, req: &SearchRequest) -> Result<SearchResults, SearchError> {
        let started = Instant::now();
        let wide = SearchRequest {
            limit: ((req.offset + req.limit) * 8).clamp(1, MAX_LIMIT),
            offset: 0,
            one_per_conversation: false,
            ..req.clone()
        };
        let mut results = self.search_ranked(&wide)?;
        let mut matched: HashMap<i64, usize> = HashMap::new();
        for h in &results.hits {
            *matched.entry(h.conversation_id).or_default() += 1;
        }
        let mut seen = std::collections::HashSet::new();
        let best: Vec<Hit> = results
            .hits
            .drain(..)
            .filter(|h| seen.insert(h.conversation_id))
            .map(|mut h| {
                h.more_in_conversation = Some(matched[&h.conversation_id] - 1);
                h
            })
            .collect();
        let total = best.len();
        results.hits = best.into_iter().skip(req.offset).take(req.limit).collect();
        let next = req.offset + results.hits.len();
        results.next_offset = (next < total).then_some(next);
        results.total = total;
        results.group = "conversation";
        results.elapsed_ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3;
        Ok(results)
    }

    fn search_ranked(&self, req: &SearchRequest) -> Result<SearchResults, SearchError> {
        let started = Instant::now();
        if req.browse {
            return self.browse(req, started);
        }
        let (mut mode, mut tier, mut fallback) = self.resolve(req)?;
        let want = req.offset + req.limit;
        let text = semantic_text(&req.query);
        // Nothing to search by meaning (`C++`, `a`, `???`): hybrid runs
        // lexically, semantic finds nothing; both say why.
        if tier.is_some() && mode != Mode::Lexical && !crate::embed::has_words(&text) {
            let why = "the query has no word of two or more letters or digits to search by meaning";
            if mode == Mode::Hybrid {
                mode = Mode::Lexical;
                tier = None;
                fallback = Some(format!("{why}; searched lexically"));
            } else {
                let t = tier.as_ref().map(|t| t.tier.name());
                let fallback = Some(format!("{why}; nothing matches"));
                let mut res = self.results(req, mode, t, fallback, 0, Vec::new(), None, started);
                res.tier_lag = tier.as_deref().and_then(|t| self.lag(t));
                return Ok(res);
            }
        }
        let mut partial_ids: HashSet<i64> = HashSet::new();
        let mut partial_count = 0;
        let (ranked, total): (Vec<(i64, f32)>, usize) = match (mode, &tier) {
            (Mode::Lexical, _) | (_, None) => {
                let searcher = self.reader.searcher();
                let (ids, total, partial) = self.lexical_ranked(&searcher, req, req.limit, req.offset)?;
                let partial_ids: HashSet<i64> = ids.iter().filter(|(_, p)| *p).map(|(s, _)| s.message_id).collect();
                let mut hits =
                    self.hydrate(&ids.iter().map(|(s, _)| (s.message_id, s.score)).collect::<Vec<_>>(), &req.query)?;
                for h in &mut hits {
                    h.partial = partial_ids.contains(&h.message_id);
                }
                let next = req.offset + ids.len();
                let mut res =
                    self.results(req, mode, None, fallback, total, hits, (next < total).then_some(next), started);
                res.partial_matches = partial;
                return Ok(res);
            }
            (Mode::Semantic, Some(t)) => {
                // Over-fetch: rows of replaced messages are dropped at hydration.
                let by_source = self.source_ids(&req.filters)?;
                let keep = by_source.as_ref().map(|s| move |id: i64| s.keeps(id));
                let keep = keep.as_ref().map(|k| k as KeepId<'_>);
                let scored = t.search(&text, &req.filters, keep, want * 2 + 16).map_err(SearchError::Semantic)?;
                let n = scored.len();
                (scored.into_iter().map(|s| (s.message_id, s.score)).collect(), n)
            }
            (Mode::Hybrid, Some(t)) => {
                let n = (want * 3).max(60);
                let searcher = self.reader.searcher();
                let (lex, _, partial) = self.lexical_ranked(&searcher, req, n, 0)?;
                partial_count = partial;
                partial_ids = lex.iter().filter(|(_, p)| *p).map(|(s, _)| s.message_id).collect();
                let by_source = self.source_ids(&req.filters)?;
                let keep = by_source.as_ref().map(|s| move |id: i64| s.keeps(id));
                let keep = keep.as_ref().map(|k| k as KeepId<'_>);
                let sem = t.search(&text, &req.filters, keep, n).map_err(SearchError::Semantic)?;
                let fused = semantic::rrf(&[
                    lex.iter().map(|(s, _)| s.message_id).collect(),
                    sem.iter().map(|s| s.message_id).collect(),
                ]);
                let n = fused.len();
                (fused.into_iter().map(|(id, score)| (id, score as f32)).collect(), n)
            }
        };
        let mut hits = self.hydrate(&ranked[..ranked.len().min(want * 2 + 16)], &req.query)?;
        // By time: the candidates found by meaning, in time order (a
        // semantic ranking has no "all matches" to sort).
        match req.sort {
            Sort::Relevance => {}
            Sort::Recent => hits.sort_by_key(|h| std::cmp::Reverse(h.created_at.unwrap_or(i64::MIN))),
            Sort::Oldest => hits.sort_by_key(|h| h.created_at.unwrap_or(i64::MAX)),
        }
        let live = hits.len();
        let page: Vec<Hit> = hits.drain(..).skip(req.offset).take(req.limit).collect();
        let next = req.offset + page.len();
        let more = next < live;
        let mut res = self.results(
            req,
            mode,
            tier.as_ref().map(|t| t.tier.name()),
            fallback,
            total,
            page,
            more.then_some(next),
            started,
        );
        res.tier_lag = tier.as_deref().and_then(|t| self.lag(t));
        res.partial_matches = partial_count;
        for h in &mut res.hits {
            h.partial = partial_ids.contains(&h.message_id);
        }
        Ok(res)
    }

    /// The message ids a `--source` filter selects, for a semantic scan
    /// (tier rows carry agent, workspace, time and role, not the machine):
    /// the remote conversations' messages, read from the store for this
    /// query so they are never stale. `None` without a source filter.
    fn source_ids(&self, filters: &Filters) -> Result<Option<SourceIds>, SearchError> {
        use crate::filters::SourceFilter;
        let Some(source) = &filters.source else { return Ok(None) };
        let (name, inside) = match source {
            SourceFilter::Local => (None, false),
            SourceFilter::Remote => (None, true),
            SourceFilter::Named(n) => (Some(n.as_str()), true),
        };
        let ids = crate::store::query::remote_message_ids(&self.store, name)?;
        Ok(Some(SourceIds { ids, inside }))
    }

    /// A browse runs on the lexical index, which holds every filter and
    /// the time order; by meaning there is nothing to rank, so an explicit
    /// semantic mode or tier is refused (a preferred one is not asked for).
    fn browse(&self, req: &SearchRequest, started: Instant) -> Result<SearchResults, SearchError> {
        if !req.preferred && (matches!(req.mode, Some(Mode::Semantic | Mode::Hybrid)) || req.tier.is_some()) {
            return Err(SearchError::BrowseByMeaning);
        }
        let searcher = self.reader.searcher();
        let (ids, total) =
            guarded(|| lexical::browse(&self.index, &searcher, &req.filters, req.limit, req.offset, &self.columns))?;
        let hits = self.hydrate(&ids.iter().map(|s| (s.message_id, s.score)).collect::<Vec<_>>(), &req.query)?;
        let next = req.offset + ids.len();
        Ok(self.results(req, Mode::Lexical, None, None, total, hits, (next < total).then_some(next), started))
    }

    /// The lag of a tier as its manifest (read when it was opened) and the
    /// store say; `None` when it is current. Bounded: never a full count.
    fn lag(&self, t: &LoadedTier) -> Option<TierLag> {
        let cp = &t.manifest.checkpoint;
        let past = crate::store::semantic::messages_past(&self.store, cp.last_message_id).unwrap_or(0);
        let pending = past + cp.unpublished_below_cursor();
        (pending > 0).then(|| TierLag {
            pending_rows: pending,
            behind_since: Some(crate::time::to_rfc3339(t.manifest.behind_since_or_saved())),
        })
    }

    /// Lexical retrieval with partial matches: when every word together
    /// matches fewer than [`PARTIAL_BELOW`] messages and the query has at
    /// least three words that are not stopwords, messages holding at least
    /// half of them follow the full matches (flagged `true`). Returns the
    /// page, the total (full and partial) and how many are partial.
    fn lexical_ranked(
        &self,
        searcher: &tantivy::Searcher,
        req: &SearchRequest,
        limit: usize,
        offset: usize,
    ) -> Result<LexicalPage, SearchError> {
        // What the dictionary says the words stand for is read once for
        // the (up to three) searches below.
        let wild = guarded(|| lexical::Expansions::find(searcher, &self.index, &req.query, &self.walks))?;
        let (ids, total) = self.lexical(searcher, req, limit, offset, None, &wild)?;
        let minimum = if total < PARTIAL_BELOW { lexical::partial_minimum(&req.query) } else { None };
        let Some(minimum) = minimum else {
            return Ok((ids.into_iter().map(|s| (s, false)).collect(), total, 0));
        };
        // Every full match (fewer than a handful) comes first.
        let exact = if offset == 0 && ids.len() == total {
            ids
        } else {
            self.lexical(searcher, req, PARTIAL_BELOW, 0, None, &wild)?.0
        };
        let full: std::collections::HashSet<i64> = exact.iter().map(|s| s.message_id).collect();
        let (more, with_partial) =
            self.lexical(searcher, req, offset + limit + exact.len(), 0, Some(minimum), &wild)?;
        let mut all: Vec<(lexical::ScoredId, bool)> = exact.into_iter().map(|s| (s, false)).collect();
        all.extend(more.into_iter().filter(|s| !full.contains(&s.message_id)).map(|s| (s, true)));
        let page = all.into_iter().skip(offset).take(limit).collect();
        Ok((page, with_partial.max(total), with_partial.saturating_sub(total)))
    }

    /// Lexical retrieval, guarded: tantivy panics or fails on damaged
    /// files, and that is a [`SearchError::Damaged`] with its repair, not a
    /// crash.
    fn lexical(
        &self,
        searcher: &tantivy::Searcher,
        req: &SearchRequest,
        limit: usize,
        offset: usize,
        partial: Option<usize>,
        wild: &lexical::Expansions,
    ) -> Result<(Vec<lexical::ScoredId>, usize), SearchError> {
        let order = match req.sort {
            Sort::Relevance => lexical::HitOrder::Relevance { now: req.now },
            Sort::Recent => lexical::HitOrder::Recent,
            Sort::Oldest => lexical::HitOrder::Oldest,
        };
        let window = lexical::Window { limit, offset, order, partial };
        guarded(|| lexical::search(&self.index, searcher, &req.query, &req.filters, window, wild, &self.columns))
    }

    #[allow(clippy::too_many_arguments)]
    fn results(
        &self,
        req: &SearchRequest,
        mode: Mode,
        tier: Option<&'static str>,
        fallback: Option<String>,
        total: usize,
        hits: Vec<Hit>,
        next_offset: Option<usize>,
        started: Instant,
    ) -> SearchResults {
        SearchResults {
            schema: ROBOT_SCHEMA,
            query: req.query_text.clone(),
            browse: req.browse,
            mode: mode.name(),
            tier,
            fallback,
            tier_lag: None,
            total,
            elapsed_ms: (started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
            hits,
            next_offset,
            group: "message",
            sort: req.sort,
            partial_matches: 0,
        }
    }

    /// Reads the hits' messages and conversations; ids no longer in the store
    /// (replaced since the index was built) are dropped.
    fn hydrate(&self, ids: &[(i64, f32)], query: &ParsedQuery) -> Result<Vec<Hit>, SearchError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<i64> = ids.iter().map(|s| s.0).collect();
        let terms = query.highlight_terms();
        let mut by_id: HashMap<i64, Hit> = HashMap::new();
        for r in crate::store::query::hit_rows(&self.store, &wanted)? {
            by_id.insert(
                r.message_id,
                Hit {
                    message_id: r.message_id,
                    conversation_id: r.conversation_id,
                    role: r.role,
                    created_at: r.created_at,
                    agent: r.agent,
                    workspace: r.workspace,
                    title: r.title,
                    source_path: r.source_path,
                    source: r.source,
                    origin_path: r.origin_path,
                    score: 0.0,
                    snippet: snippet::make(&r.content, &terms),
                    more_in_conversation: None,
                    partial: false,
                },
            );
        }
        Ok(ids
            .iter()
            .filter_map(|&(id, score)| {
                by_id.remove(&id).map(|mut h| {
                    h.score = score;
                    h
                })
            })
            .collect())
    }
}

/// Message ids of remote conversations, sorted, and whether a filter
/// keeps those (`remote`, a machine) or the others (`local`).
struct SourceIds {
    ids: Vec<i64>,
    inside: bool,
}

impl SourceIds {
    fn keeps(&self, id: i64) -> bool {
        self.ids.binary_search(&id).is_ok() == self.inside
    }
}

/// Runs a read of the lexical index so that tantivy failing or panicking
/// on damaged files is a [`SearchError::Damaged`] with its repair, not a crash.
fn guarded<T>(read: impl FnOnce() -> Result<T, LexicalError>) -> Result<T, SearchError> {
    match crate::guard::catch(read) {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(LexicalError::Tantivy { source, .. })) => Err(SearchError::Damaged(source.to_string())),
        Ok(Err(e)) => Err(e.into()),
        Err(panic) => Err(SearchError::Damaged(panic)),
    }
}

/// The words a semantic tier embeds for a query: every atom that is looked
/// for, operators and exclusions removed.
pub fn semantic_text(q: &ParsedQuery) -> String {
    q.positive_text().join(" ")
}
