//! Lexical retrieval: the parsed query and the filters become one tantivy
//! query, so filters narrow before the top-K cut, never after.

use std::ops::Bound as RangeBound;
use std::sync::Arc;

use tantivy::collector::{Collector, Count, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, EmptyQuery, EnableScoring, FuzzyTermQuery, Occur, PhrasePrefixQuery,
    PhraseQuery, Query, RangeQuery, RegexPhraseQuery, RegexQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, DocId, Executor, Order, Searcher, SegmentReader, Term};

use super::columns::ColumnCache;
use super::conversations::InConversations;
use super::query::{Atom, ParsedQuery};
use super::titles::TitleBonus;
use super::top::RecencyTop;
use super::walks::{FormWalks, Found};
use crate::filters::Filters;
use crate::lexical::fold::folded;
use crate::lexical::stem;
use crate::lexical::terms::TermList;
use crate::lexical::tokenizer::tokens;
use crate::lexical::{Fields, LexicalError, LexicalIndex};

/// Weight of a title match relative to a content match.
const TITLE_BOOST: f32 = 0.5;

/// A message id with its BM25 score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredId {
    /// The matching message's id.
    pub message_id: i64,
    /// Its BM25 score (title matches boosted in); higher is better.
    pub score: f32,
}

/// How lexical hits are ordered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HitOrder {
    /// BM25, with the gentle preference for recent messages of
    /// [`recency_boost`] (`now` in ms since the epoch).
    Relevance {
        /// The instant ages are measured from.
        now: i64,
    },
    /// Newest first (BM25 scores are not computed; hits score 0).
    Recent,
    /// Oldest first (likewise).
    Oldest,
}

/// How much a message's BM25 score is raised for being recent: up to 10 %
/// for one written now, half that at 30 days old, a quarter at 60, and so
/// on (`1 + 0.1 · 2^(−age_days / 30)`). Between hits whose scores differ by
/// more than a tenth, relevance decides; between comparable ones, the
/// newer session wins. Messages without a time get no boost.
///
/// Never above [`MAX_RECENCY_BOOST`], which lets the ranking skip reading
/// the time of a hit that could not enter the top even at that boost.
///
/// In `f64`: two hits with the same BM25 score written seconds apart get
/// boosts a few parts in a billion apart, below `f32`'s resolution, and in
/// `f32` whether they tie (and which comes first) changed with `now` from
/// one search to the next.
pub fn recency_boost(now: i64, created_at: Option<i64>) -> f64 {
    match created_at {
        Some(t) => {
            let age_days = now.saturating_sub(t).max(0) as f64 / 86_400_000.0;
            1.0 + 0.1 * (-age_days / 30.0).exp2()
        }
        None => 1.0,
    }
}

/// The largest [`recency_boost`]: the `f64` nearest 1.1, which is also what
/// `1.0 + 0.1` rounds to, so no boost exceeds it.
pub const MAX_RECENCY_BOOST: f64 = 1.1;

/// Which hits of a query to take, and how.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Hits to return.
    pub limit: usize,
    /// Hits to skip first.
    pub offset: usize,
    /// Their order.
    pub order: HitOrder,
    /// `Some(n)`: any `n` of the query's words suffice (a partial match).
    pub partial: Option<usize>,
}

/// The window's message ids for the query, and the total count; `wild`
/// is what the dictionary says its words stand for ([`Expansions::find`]).
pub fn search(
    idx: &LexicalIndex,
    searcher: &Searcher,
    query: &ParsedQuery,
    filters: &Filters,
    window: Window,
    wild: &Expansions,
    columns: &Arc<ColumnCache>,
) -> Result<(Vec<ScoredId>, usize), LexicalError> {
    let Window { limit, offset, order, partial } = window;
    debug_assert!(limit > 0, "requests are validated to ask for at least one hit");
    let err = |source| LexicalError::Tantivy { path: "lexical".into(), source };
    let within = InConversations::find(searcher, &idx.fields, filters, columns).map_err(err)?;
    let q = build(&idx.fields, query, filters, within.as_ref(), wild, partial);
    match order {
        HitOrder::Relevance { now } => {
            let titles = match title_query(&idx.fields, query, wild) {
                // On this thread: titles are about a hundredth of the
                // documents, too little work to hand to the search threads.
                Some(t) => {
                    TitleBonus::find(searcher, &idx.fields, &t, &Executor::SingleThread, columns).map_err(err)?
                }
                None => TitleBonus::default(),
            };
            let top = RecencyTop { keep: offset + limit, now, titles: Arc::new(titles), columns: Arc::clone(columns) };
            let (total, mut kept) = run(searcher, &q, &top).map_err(err)?;
            let page = kept.split_off(offset.min(kept.len()));
            Ok((
                page.into_iter().map(|r| ScoredId { message_id: r.message_id, score: r.score as f32 }).collect(),
                total,
            ))
        }
        HitOrder::Recent | HitOrder::Oldest => {
            let dir = if order == HitOrder::Recent { Order::Desc } else { Order::Asc };
            let top = TopDocs::with_limit(limit).and_offset(offset).order_by_fast_field::<i64>("created_at", dir);
            let (total, docs) = run(searcher, &q, &(Count, top)).map_err(err)?;
            let mut out = Vec::with_capacity(docs.len());
            for (_, addr) in docs {
                out.push(ScoredId { message_id: message_id(searcher, addr).map_err(err)?, score: 0.0 });
            }
            Ok((out, total))
        }
    }
}

/// A browse: the newest `limit` messages after `offset` that the filters
/// accept (by `created_at`, then message id; messages without a time come
/// last), and how many the filters accept. Scores are 0: the order is time.
pub fn browse(
    idx: &LexicalIndex,
    searcher: &Searcher,
    filters: &Filters,
    limit: usize,
    offset: usize,
    columns: &Arc<ColumnCache>,
) -> Result<(Vec<ScoredId>, usize), LexicalError> {
    debug_assert!(limit > 0, "requests are validated to ask for at least one hit");
    let err = |source| LexicalError::Tantivy { path: "lexical".into(), source };
    let within = InConversations::find(searcher, &idx.fields, filters, columns).map_err(err)?;
    let conversations = crate::lexical::conversation_documents(&idx.fields);
    let mut clauses: Vec<(Occur, Box<dyn Query>)> =
        vec![(Occur::Must, Box::new(AllQuery)), (Occur::MustNot, Box::new(conversations))];
    add_filters(&idx.fields, filters, within.as_ref(), true, &mut clauses);
    let newest = TopDocs::with_limit(limit).and_offset(offset).order_by(|segment: &SegmentReader| {
        let fast = segment.fast_fields();
        let (created, ids) = (fast.i64("created_at").ok(), fast.i64("message_id").ok());
        move |doc: DocId| {
            let created = created.as_ref().and_then(|c| c.first(doc)).unwrap_or(i64::MIN);
            (created, ids.as_ref().and_then(|c| c.first(doc)).unwrap_or(0))
        }
    });
    let (total, top) = run(searcher, &BooleanQuery::new(clauses), &(Count, newest)).map_err(err)?;
    Ok((top.into_iter().map(|((_, message_id), _)| ScoredId { message_id, score: 0.0 }).collect(), total))
}

/// Segments from which a query is spread over the search threads: one
/// segment has nothing to spread. The hand-off did not show at 100k
/// messages (8 segments: p50 0.14-0.34 ms through the pool, 0.17-0.26 ms
/// on this thread, runs within the machine's noise) and paid at 1M (11
/// segments: 0.69 against 0.87-1.19 ms).
const PARALLEL_FROM_SEGMENTS: usize = 2;

/// The executor for one query over `searcher`'s segments: the index's
/// thread pool from [`PARALLEL_FROM_SEGMENTS`] segments, else this thread.
fn executor(searcher: &Searcher) -> &Executor {
    static THIS_THREAD: Executor = Executor::SingleThread;
    if searcher.segment_readers().len() >= PARALLEL_FROM_SEGMENTS {
        searcher.index().search_executor()
    } else {
        &THIS_THREAD
    }
}

/// `searcher.search` on the [`executor`] for its segment count.
fn run<C: Collector>(searcher: &Searcher, query: &dyn Query, collector: &C) -> tantivy::Result<C::Fruit> {
    let scoring = if collector.requires_scoring() {
        EnableScoring::enabled_from_searcher(searcher)
    } else {
        EnableScoring::disabled_from_searcher(searcher)
    };
    searcher.search_with_executor(query, collector, executor(searcher), scoring)
}

fn message_id(searcher: &Searcher, addr: DocAddress) -> tantivy::Result<i64> {
    let col = searcher.segment_reader(addr.segment_ord).fast_fields().i64("message_id")?;
    Ok(col.first(addr.doc_id).unwrap_or(0))
}

/// A clause that is one stopword (`how`, `to`, `in`): it helps a match
/// rank, never decides it, when the query has other words.
fn stopword_clause(clause: &super::query::Clause) -> bool {
    !clause.negated
        && clause.any_of.len() == 1
        && matches!(&clause.any_of[0], Atom::Term(t) if super::stopwords::is_stopword(&t.to_lowercase()))
}

/// How many of a query's words a partial match must hold: `None` when the
/// query has fewer than three words that are not stopwords (all of them
/// are then required), else at least half of them.
pub fn partial_minimum(query: &ParsedQuery) -> Option<usize> {
    let words = query.clauses.iter().filter(|c| !c.negated && !stopword_clause(c)).count();
    (words >= 3).then_some(words.div_ceil(2))
}

/// Weight of a match on another form of a word (`crates` for `crate`)
/// relative to the word itself, so exact matches rank above the others.
const FORM_WEIGHT: f32 = 0.35;

/// At most this many terms stand for one `*suffix` or `*infix*`: the most
/// frequent ones, so a short pattern cannot make a query of every term.
pub const MAX_WILDCARD_TERMS: usize = 512;

/// At most this many other forms of one word are searched (the most
/// frequent), and at most [`MAX_FORM_SCAN`] candidate terms per segment
/// ([`stem::FormCandidates`]) are stemmed to find them.
const MAX_FORMS: usize = 32;
const MAX_FORM_SCAN: usize = 4096;

/// What the term dictionary says a query's words stand for: the terms of
/// each `*suffix` and `*infix*`, and the other indexed forms of each bare
/// word ([`crate::lexical::stem`]).
#[derive(Debug, Default)]
pub struct Expansions {
    /// The field the terms were read from (content); wildcards match nothing elsewhere.
    field: Option<Field>,
    wildcards: rustc_hash::FxHashMap<(bool, String), Vec<String>>,
    forms: rustc_hash::FxHashMap<String, Vec<String>>,
}

impl Expansions {
    /// Reads what the content field's terms say: for wildcards, a scan of
    /// the generation's term list ([`TermList`], keeping the
    /// [`MAX_WILDCARD_TERMS`] terms in the most messages); for each word
    /// that has forms, a walk of every segment's dictionary
    /// ([`stem::FormCandidates`]). Nothing is read for a query of phrases
    /// and identifiers.
    pub fn find(
        searcher: &Searcher,
        idx: &LexicalIndex,
        query: &ParsedQuery,
        walks: &FormWalks,
    ) -> Result<Expansions, LexicalError> {
        Self::read(searcher, idx, query, walks)
            .map_err(|source| LexicalError::Tantivy { path: "lexical".into(), source })
    }

    fn read(
        searcher: &Searcher,
        idx: &LexicalIndex,
        query: &ParsedQuery,
        walks: &FormWalks,
    ) -> tantivy::Result<Expansions> {
        let field = idx.fields.content;
        let mut wanted = Wanted::default();
        wanted.collect(query);
        let mut out = Expansions { field: Some(field), ..Expansions::default() };
        if !wanted.wildcards.is_empty() {
            let list = TermList::open_or_build(&idx.terms_cache(), searcher, field)?;
            for (infix, pattern) in wanted.wildcards {
                let terms = list.matches(pattern.as_bytes(), infix, MAX_WILDCARD_TERMS);
                out.wildcards.insert((infix, pattern), terms);
            }
        }
        // Each distinct word with a stem, and what can be its forms.
        let mut words: Vec<(String, String, stem::FormCandidates)> = Vec::new();
        for word in wanted.words {
            if words.iter().any(|(w, _, _)| *w == word) {
                continue;
            }
            if let Some(key) = stem::key(&word) {
                let candidates = stem::FormCandidates::new(&key);
                words.push((word, key, candidates));
            }
        }
        if words.is_empty() {
            return Ok(out);
        }
        // Every segment's dictionary is walked for every word, on the
        // search threads: at ten million messages a bulk load leaves ~40
        // segments, and these walks were half a query's time on one core.
        // A segment's walk is kept for the next query ([`FormWalks`]).
        let per_segment = executor(searcher).map(
            |segment| {
                let id = segment.segment_id();
                let inverted = segment.inverted_index(field)?;
                words
                    .iter()
                    .map(|(word, _, candidates)| -> tantivy::Result<Found> {
                        if let Some(found) = walks.get(id, word) {
                            return Ok(found);
                        }
                        // Only letters after the stem's prefix, and few of them:
                        // the compounds under it are skipped by the walk itself.
                        let mut terms = inverted.terms().search(candidates.clone()).into_stream()?;
                        let mut found = Vec::new();
                        let mut scanned = 0;
                        while terms.advance() && scanned < MAX_FORM_SCAN {
                            scanned += 1;
                            if terms.key() != word.as_bytes() {
                                found.push((terms.key().to_vec(), u64::from(terms.value().doc_freq)));
                            }
                        }
                        let found = Found::new(found);
                        walks.put(id, word, found.clone());
                        Ok(found)
                    })
                    .collect::<tantivy::Result<Vec<_>>>()
            },
            searcher.segment_readers().iter(),
        )?;
        for (i, (word, key, _)) in words.into_iter().enumerate() {
            let mut freq: rustc_hash::FxHashMap<Vec<u8>, u64> = rustc_hash::FxHashMap::default();
            for segment in &per_segment {
                for (term, docs) in segment[i].iter() {
                    *freq.entry(term.clone()).or_default() += docs;
                }
            }
            // Each distinct term is stemmed once, however many segments hold it.
            freq.retain(|term, _| {
                std::str::from_utf8(term).is_ok_and(|t| stem::key(t).as_deref() == Some(key.as_str()))
            });
            out.forms.insert(word, most_frequent(freq, MAX_FORMS));
        }
        Ok(out)
    }

    fn wildcard_terms(&self, infix: bool, pattern: &str) -> &[String] {
        self.wildcards.get(&(infix, folded(pattern))).map_or(&[], Vec::as_slice)
    }

    fn forms_of(&self, word: &str) -> &[String] {
        self.forms.get(word).map_or(&[], Vec::as_slice)
    }
}

/// The `limit` terms with the highest counts, as strings.
fn most_frequent(freq: rustc_hash::FxHashMap<Vec<u8>, u64>, limit: usize) -> Vec<String> {
    let mut found: Vec<(Vec<u8>, u64)> = freq.into_iter().collect();
    found.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    found.truncate(limit);
    found.into_iter().filter_map(|(k, _)| String::from_utf8(k).ok()).collect()
}

/// The wildcards and bare words of a query, folded.
#[derive(Default)]
struct Wanted {
    wildcards: Vec<(bool, String)>,
    words: Vec<String>,
}

impl Wanted {
    fn collect(&mut self, query: &ParsedQuery) {
        for clause in &query.clauses {
            for atom in &clause.any_of {
                match atom {
                    // A compound's parts are matched by a phrase, not the list.
                    Atom::Suffix(p) | Atom::Infix(p) if is_compound(p) => {}
                    Atom::Suffix(p) => self.wildcards.push((false, folded(p))),
                    Atom::Infix(p) => self.wildcards.push((true, folded(p))),
                    Atom::Group(q) => self.collect(q),
                    // Excluded words keep their forms out too.
                    Atom::Term(t) => {
                        let toks = tokens(t);
                        if let [only] = toks.as_slice() {
                            self.words.push(only.text.clone());
                        }
                    }
                    Atom::Phrase(_) | Atom::Prefix(_) => {}
                }
            }
        }
    }
}

/// The whole tantivy query for a request: every word that is not a
/// stopword must match (stopwords only add to the score), no excluded one
/// may. With `partial = Some(n)`, any `n` of the words suffice.
///
/// `within` holds the conversations that `filters`' agent, workspace and
/// machine accept ([`InConversations::find`]); `wild` the wildcards' terms
/// ([`Expansions::find`]).
pub fn build(
    f: &Fields,
    query: &ParsedQuery,
    filters: &Filters,
    within: Option<&InConversations>,
    wild: &Expansions,
    partial: Option<usize>,
) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut positive = 0;
    let occur = occur_in(query);
    let mut words: Vec<Box<dyn Query>> = Vec::new();
    for clause in &query.clauses {
        let Some(q) = clause_query(f.content, clause, wild) else { continue };
        match occur(clause) {
            Occur::Must if partial.is_some() => words.push(q),
            o => clauses.push((o, q)),
        }
        if !clause.negated {
            positive += 1;
        }
    }
    if positive == 0 {
        // Every term analysed to nothing (pure punctuation): match nothing
        // rather than everything.
        return Box::new(BooleanQuery::new(vec![(Occur::MustNot, Box::new(AllQuery) as Box<dyn Query>)]));
    }
    if let Some(minimum) = partial {
        clauses.push((Occur::Must, Box::new(BooleanQuery::union_with_minimum_required_clauses(words, minimum))));
    }
    add_filters(f, filters, within, false, &mut clauses);
    Box::new(BooleanQuery::new(clauses))
}

/// The query of a request over titles ([`TitleBonus`]): each alternative
/// of each wanted clause, weighted by [`TITLE_BOOST`], any of them. A match
/// in the conversation's title ranks a hit higher but never makes a message
/// match on its own. `None` when nothing is wanted.
fn title_query(f: &Fields, query: &ParsedQuery, wild: &Expansions) -> Option<BooleanQuery> {
    let atoms: Vec<(Occur, Box<dyn Query>)> = query
        .clauses
        .iter()
        .filter(|c| !c.negated)
        .flat_map(|c| &c.any_of)
        .filter_map(|atom| atom_query(f.title, atom, wild))
        .map(|t| (Occur::Should, Box::new(BoostQuery::new(t, TITLE_BOOST)) as Box<dyn Query>))
        .collect();
    (!atoms.is_empty()).then(|| BooleanQuery::new(atoms))
}

/// A clause's alternatives as one query; `None` when none of them has a
/// token to look for.
fn clause_query(field: Field, clause: &super::query::Clause, wild: &Expansions) -> Option<Box<dyn Query>> {
    let mut alts: Vec<Box<dyn Query>> = clause.any_of.iter().filter_map(|a| atom_query(field, a, wild)).collect();
    match alts.len() {
        0 => None,
        1 => alts.pop(),
        _ => Some(Box::new(BooleanQuery::union(alts))),
    }
}

/// A parenthesised group: all its clauses, stopwords optional as at the top.
fn group_query(field: Field, group: &ParsedQuery, wild: &Expansions) -> Option<Box<dyn Query>> {
    let occur = occur_in(group);
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for clause in &group.clauses {
        let Some(q) = clause_query(field, clause, wild) else { continue };
        clauses.push((occur(clause), q));
    }
    clauses.iter().any(|(o, _)| *o == Occur::Must).then(|| Box::new(BooleanQuery::new(clauses)) as Box<dyn Query>)
}

/// How each clause of a query (or group) takes part: excluded ones must
/// not match; a stopword only helps a match rank when the query has other
/// words; every other clause must match.
fn occur_in(query: &ParsedQuery) -> impl Fn(&super::query::Clause) -> Occur {
    let optional_stopwords = query.clauses.iter().any(|c| !c.negated && !stopword_clause(c));
    move |clause| {
        if clause.negated {
            Occur::MustNot
        } else if optional_stopwords && stopword_clause(clause) {
            Occur::Should
        } else {
            Occur::Must
        }
    }
}

/// The filters on each message (role, time) as its own clauses, and those
/// on its conversation as one clause over the conversation ids `within`;
/// `browse` when the other clauses match every message.
fn add_filters(
    f: &Fields,
    filters: &Filters,
    within: Option<&InConversations>,
    browse: bool,
    clauses: &mut Vec<(Occur, Box<dyn Query>)>,
) {
    if let Some(within) = within {
        clauses.push((Occur::Must, within.query(browse)));
    }
    if !filters.roles.is_empty() {
        let roles: Vec<Box<dyn Query>> = filters
            .roles
            .iter()
            .map(|r| {
                Box::new(TermQuery::new(Term::from_field_text(f.role, r.as_str()), IndexRecordOption::Basic))
                    as Box<dyn Query>
            })
            .collect();
        clauses.push((Occur::Must, Box::new(BooleanQuery::union(roles))));
    }
    if filters.since.is_some() || filters.until.is_some() {
        let lo = filters
            .since
            .map_or(RangeBound::Unbounded, |s| RangeBound::Included(Term::from_field_i64(f.created_at, s)));
        let hi = filters
            .until
            .map_or(RangeBound::Unbounded, |u| RangeBound::Excluded(Term::from_field_i64(f.created_at, u)));
        clauses.push((Occur::Must, Box::new(RangeQuery::new(lo, hi))));
    }
}

fn atom_query(field: Field, atom: &Atom, wild: &Expansions) -> Option<Box<dyn Query>> {
    let term = |t: &str| Term::from_field_text(field, t);
    let term_q = |t: &str| -> Box<dyn Query> { Box::new(TermQuery::new(term(t), IndexRecordOption::WithFreqs)) };
    match atom {
        Atom::Prefix(p) if is_compound(p) => compound_prefix(field, p),
        Atom::Prefix(p) => Some(Box::new(FuzzyTermQuery::new_prefix(term(&folded(p)), 0, true))),
        Atom::Suffix(p) | Atom::Infix(p) => {
            // Titles are only a boost; a wildcard there is not worth a scan.
            if wild.field != Some(field) {
                return None;
            }
            if is_compound(p) {
                return compound_wildcard(field, p, matches!(atom, Atom::Infix(_)));
            }
            let terms = wild.wildcard_terms(matches!(atom, Atom::Infix(_)), p);
            Some(if terms.is_empty() {
                Box::new(EmptyQuery)
            } else {
                Box::new(TermSetQuery::new(terms.iter().map(|t| term(t))))
            })
        }
        Atom::Group(q) => group_query(field, q, wild),
        Atom::Phrase(text) => phrase(field, text, true),
        Atom::Term(text) => {
            let toks = tokens(text);
            let wholes: Vec<_> = toks.iter().filter(|t| t.whole).collect();
            match wholes.len() {
                0 => None,
                1 if toks.len() == 1 => Some(word_query(field, &toks[0].text, wild)),
                // A compound: the index holds its parts only.
                1 if wholes[0].compound => phrase(field, text, false),
                1 => {
                    // An identifier: its whole form, or its parts in order
                    // (so `io_error` finds `std_io_error`).
                    let parts = phrase(field, text, false)?;
                    Some(Box::new(BooleanQuery::union(vec![term_q(&wholes[0].text), parts])))
                }
                _ => phrase(field, text, true),
            }
        }
    }
}

/// The tokens of `text` a phrase looks for, at their positions counted
/// from the first: the parts of every identifier, and with `with_wholes`
/// its whole too, but never the whole of a compound.
fn phrase_tokens(text: &str, with_wholes: bool) -> Vec<(usize, String)> {
    let toks = tokens(text);
    let has_parts: std::collections::HashSet<usize> = toks.iter().filter(|t| !t.whole).map(|t| t.position).collect();
    let mut kept: Vec<(usize, String)> = toks
        .into_iter()
        .filter(|t| !t.compound && (with_wholes || !t.whole || !has_parts.contains(&t.position)))
        .map(|t| (t.position, t.text))
        .collect();
    // Tokens come in position order: the first has the lowest.
    let base = kept.first().map_or(0, |t| t.0);
    kept.iter_mut().for_each(|t| t.0 -= base);
    kept
}

/// True when `pattern` holds a compound, whose whole the index does not
/// hold: a wildcard on it is a phrase of its parts.
fn is_compound(pattern: &str) -> bool {
    tokens(pattern).iter().any(|t| t.compound)
}

/// `src/lexical/sync*`: the compound's parts as a phrase whose last part is
/// a prefix (`src`, `lexical`, `sync…`), as the whole's prefix matched
/// when the index held compounds whole.
fn compound_prefix(field: Field, pattern: &str) -> Option<Box<dyn Query>> {
    let terms: Vec<(usize, Term)> =
        phrase_tokens(pattern, false).into_iter().map(|(p, t)| (p, Term::from_field_text(field, &t))).collect();
    if terms.is_empty() {
        return None;
    }
    let mut q = PhrasePrefixQuery::new_with_offset(terms);
    q.set_max_expansions(MAX_WILDCARD_TERMS as u32);
    Some(Box::new(q))
}

/// `*main.rs` or `*lexical/sy*` over a compound: a phrase of its parts,
/// the first matched as a suffix (unless the pattern starts at a joiner,
/// which marks a part's start), and for an infix the last as a prefix
/// (unless the pattern ends at a joiner); the parts between match exactly.
fn compound_wildcard(field: Field, pattern: &str, infix: bool) -> Option<Box<dyn Query>> {
    let parts = phrase_tokens(pattern, false);
    let last = parts.len().checked_sub(1)?;
    let starts_at_joiner = !pattern.starts_with(|c: char| c.is_alphanumeric());
    let ends_at_joiner = !pattern.ends_with(|c: char| c.is_alphanumeric());
    let regexes = parts
        .into_iter()
        .enumerate()
        .map(|(i, (p, t))| {
            let mut re = regex::escape(&t);
            if i == 0 && !starts_at_joiner {
                re.insert_str(0, ".*");
            }
            if i == last && infix && !ends_at_joiner {
                re.push_str(".*");
            }
            (p, re)
        })
        .collect::<Vec<_>>();
    if let [(_, only)] = regexes.as_slice() {
        // Parts too long to index leave one: a plain regex over the terms.
        return RegexQuery::from_pattern(only, field).ok().map(|q| Box::new(q) as Box<dyn Query>);
    }
    let mut q = RegexPhraseQuery::new_with_offset(field, regexes);
    q.set_max_expansions(MAX_WILDCARD_TERMS as u32);
    Some(Box::new(q))
}

/// A single word: itself at full weight, or one of its other indexed forms
/// ([`Expansions`]) at [`FORM_WEIGHT`].
fn word_query(field: Field, word: &str, wild: &Expansions) -> Box<dyn Query> {
    let term_q = |t: &str| -> Box<dyn Query> {
        Box::new(TermQuery::new(Term::from_field_text(field, t), IndexRecordOption::WithFreqs))
    };
    let forms = wild.forms_of(word);
    if forms.is_empty() {
        return term_q(word);
    }
    let mut alts = vec![term_q(word)];
    alts.extend(forms.iter().map(|f| Box::new(BoostQuery::new(term_q(f), FORM_WEIGHT)) as Box<dyn Query>));
    Box::new(BooleanQuery::union(alts))
}

/// A phrase of the text's tokens at their positions. With `with_wholes`
/// false, only the parts are used (to match an identifier inside a longer
/// one). The wholes of compounds are never used: the index does not hold
/// them ([`crate::lexical::tokenizer`]).
fn phrase(field: Field, text: &str, with_wholes: bool) -> Option<Box<dyn Query>> {
    let mut terms: Vec<(usize, Term)> =
        phrase_tokens(text, with_wholes).into_iter().map(|(p, t)| (p, Term::from_field_text(field, &t))).collect();
    match terms.len() {
        0 => None,
        1 => terms.pop().map(|(_, t)| Box::new(TermQuery::new(t, IndexRecordOption::WithFreqs)) as Box<dyn Query>),
        _ => Some(Box::new(PhraseQuery::new_with_offset(terms))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::top::Ranked;
    use super::*;
    use crate::lexical::LexicalIndex;
    use tantivy::indexer::NoMergePolicy;
    use tantivy::{IndexWriter, TantivyDocument};

    const WORDS: &[&str] = &["crate", "crates", "crating", "parser", "parsers", "timeout", "retry", "bd-q3fy", "fox"];

    /// An index of `docs` messages, committed in `commits` parts: one
    /// segment per part (no merges).
    fn index(dir: &std::path::Path, docs: usize, commits: usize) -> LexicalIndex {
        let idx = LexicalIndex::open_or_create(dir).unwrap();
        let mut writer: IndexWriter = idx.index.writer_with_num_threads(1, 15 << 20).unwrap();
        writer.set_merge_policy(Box::new(NoMergePolicy));
        let f = idx.fields.clone();
        for part in 0..commits {
            for i in (part..docs).step_by(commits) {
                let text: Vec<&str> = (0..6).map(|k| WORDS[(i * 7 + k * k + i / 3) % WORDS.len()]).collect();
                let mut doc = TantivyDocument::default();
                doc.add_i64(f.message_id, i as i64 + 1);
                doc.add_i64(f.conversation_id, (i / 10) as i64 + 1);
                doc.add_i64(f.created_at, 1_700_000_000_000 + i as i64 * 60_000);
                doc.add_text(f.role, if i % 2 == 0 { "user" } else { "assistant" });
                doc.add_text(f.content, text.join(" "));
                doc.add_text(f.agent, "codex");
                doc.add_text(f.source, "local");
                writer.add_document(doc).unwrap();
            }
            writer.commit().unwrap();
        }
        idx
    }

    #[test]
    fn a_query_over_many_segments_on_the_search_threads_finds_what_one_segment_does() {
        let tmp = tempfile::tempdir().unwrap();
        let mut many = index(&tmp.path().join("many"), 600, 11);
        many.index.set_multithread_executor(2).unwrap();
        let one = index(&tmp.path().join("one"), 600, 1);
        let (many_s, one_s) = (many.index.reader().unwrap().searcher(), one.index.reader().unwrap().searcher());
        assert_eq!(many_s.segment_readers().len(), 11);
        assert!(matches!(executor(&many_s), Executor::ThreadPool(_)), "many segments run on the pool");
        assert!(matches!(executor(&one_s), Executor::SingleThread), "one segment runs on this thread");
        let now = 1_700_000_000_000 + 600 * 60_000;
        for text in ["crate", "parser timeout", "\"crate parser\"", "bd-q3fy", "retry -fox", "crat*"] {
            let query = super::super::query::parse(text).unwrap();
            let many_wild = Expansions::find(&many_s, &many, &query, &FormWalks::default()).unwrap();
            let one_wild = Expansions::find(&one_s, &one, &query, &FormWalks::default()).unwrap();
            for order in [HitOrder::Relevance { now }, HitOrder::Recent] {
                let window = Window { limit: 20, offset: 5, order, partial: None };
                let cols = (Arc::default(), Arc::default());
                let (a, total_a) =
                    search(&many, &many_s, &query, &Filters::default(), window, &many_wild, &cols.0).unwrap();
                let (b, total_b) =
                    search(&one, &one_s, &query, &Filters::default(), window, &one_wild, &cols.1).unwrap();
                assert!(total_a > 0, "{text}: the corpus holds matches");
                assert_eq!(total_a, total_b, "{text}: same total");
                let ids = |v: &[ScoredId]| v.iter().map(|s| s.message_id).collect::<Vec<_>>();
                assert_eq!(ids(&a), ids(&b), "{text}: same page in the same order");
            }
        }
        // Forms are found in every segment: `crate` also asks for `crates`
        // and `crating`, each in a different part of the documents.
        let wild =
            Expansions::find(&many_s, &many, &super::super::query::parse("crate").unwrap(), &FormWalks::default())
                .unwrap();
        let mut forms = wild.forms_of("crate").to_vec();
        forms.sort();
        assert_eq!(forms, ["crates", "crating"]);
    }

    /// The one-pass collector keeps what ranking every match would keep:
    /// the same hits, scores and order (boosted score, then message id),
    /// with deletions, ties (equal times, no time), times seconds apart or
    /// in the future, and ids running against document order.
    #[test]
    fn the_relevance_collector_keeps_what_ranking_every_match_keeps() {
        let tmp = tempfile::tempdir().unwrap();
        let idx = LexicalIndex::open_or_create(tmp.path()).unwrap();
        let mut writer: IndexWriter = idx.index.writer_with_num_threads(1, 15 << 20).unwrap();
        writer.set_merge_policy(Box::new(NoMergePolicy));
        let f = idx.fields.clone();
        let now = 1_700_000_000_000_i64;
        for i in 0..900_usize {
            let text: Vec<&str> = (0..1 + i % 5).map(|k| WORDS[(i * 3 + k * k) % WORDS.len()]).collect();
            let mut doc = TantivyDocument::default();
            // Ids against the order of the documents in every other part,
            // as re-derived conversations leave them.
            let id = if (i / 150) % 2 == 0 { i as i64 + 1 } else { 10_000 - i as i64 };
            doc.add_i64(f.message_id, id);
            doc.add_i64(f.conversation_id, (i / 10) as i64 + 1);
            match i % 6 {
                0 => {}                                                                  // no time: no boost
                1 => doc.add_i64(f.created_at, now + 3_600_000), // the future: the largest boost
                2 => doc.add_i64(f.created_at, now - 86_400_000), // equal times: ties
                3 => doc.add_i64(f.created_at, now - 10_000_000_000 + i as i64 * 1_000), // seconds apart
                _ => doc.add_i64(f.created_at, now - (i as i64 % 97) * 86_400_000), // spread over months
            }
            doc.add_text(f.content, text.join(" "));
            writer.add_document(doc).unwrap();
            // Every third conversation has a title, in a document of its own.
            if i % 10 == 0 && (i / 10) % 3 == 0 {
                let mut title = TantivyDocument::default();
                title.add_i64(f.message_id, 0);
                title.add_i64(f.conversation_id, (i / 10) as i64 + 1);
                title.add_i64(f.title_of, (i / 10) as i64 + 1);
                title.add_text(f.kind, crate::lexical::TITLE_KIND);
                title.add_text(f.title, format!("{} {}", WORDS[i % WORDS.len()], WORDS[(i / 7) % WORDS.len()]));
                writer.add_document(title).unwrap();
            }
            if i % 150 == 149 {
                writer.commit().unwrap();
            }
        }
        for id in (1..900).step_by(7) {
            crate::lexical::delete_messages(&writer, &idx, id..=id).unwrap();
        }
        writer.commit().unwrap();
        let searcher = idx.index.reader().unwrap().searcher();
        let columns = Arc::new(ColumnCache::default());
        assert!(searcher.segment_readers().len() >= 6);
        assert!(searcher.segment_readers().iter().any(|s| s.has_deletes()));
        for text in ["crate", "parser timeout", "retry fox", "crat*", "timeout OR fox", "nothingmatches"] {
            let query = super::super::query::parse(text).unwrap();
            let wild = Expansions::find(&searcher, &idx, &query, &FormWalks::default()).unwrap();
            let q = build(&f, &query, &Filters::default(), None, &wild, None);
            let titles = match title_query(&f, &query, &wild) {
                Some(t) => TitleBonus::find(&searcher, &f, &t, &Executor::SingleThread, &columns).unwrap(),
                None => TitleBonus::default(),
            };
            // Every match, ranked by hand.
            let all = searcher.search(&q, &TopDocs::with_limit(10_000).order_by_score()).unwrap();
            let mut every: Vec<Ranked> = all
                .iter()
                .map(|&(score, addr)| {
                    let fast = searcher.segment_reader(addr.segment_ord).fast_fields();
                    let created = fast.i64("created_at").unwrap().first(addr.doc_id);
                    let message_id = fast.i64("message_id").unwrap().first(addr.doc_id).unwrap();
                    let conversation = fast.i64("conversation_id").unwrap().first(addr.doc_id).unwrap();
                    let score = score + titles.of(conversation);
                    Ranked { score: f64::from(score) * recency_boost(now, created), message_id }
                })
                .collect();
            if text == "retry fox" {
                assert!(!titles.is_empty(), "some titles match, so the bound is tested with them");
            }
            let titles = Arc::new(titles);
            every.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.message_id.cmp(&b.message_id)));
            for (limit, offset) in [(10, 0), (1, 0), (25, 7), (500, 0), (10, 10_000)] {
                let want: Vec<Ranked> = every.iter().skip(offset).take(limit).copied().collect();
                // One column cache across queries and windows, as a reused searcher has.
                let columns = Arc::clone(&columns);
                let top = RecencyTop { keep: offset + limit, now, titles: Arc::clone(&titles), columns };
                let (total, mut kept) = searcher.search(&q, &top).unwrap();
                let got = kept.split_off(offset.min(kept.len()));
                assert_eq!(total, every.len(), "{text}: total");
                assert_eq!(got, want, "{text} limit {limit} offset {offset}: same hits, scores, order");
            }
        }
    }

    #[test]
    fn no_recency_boost_exceeds_its_bound() {
        let now = 1_700_000_000_000;
        for t in [None, Some(now), Some(now + 1), Some(i64::MAX), Some(now - 1), Some(0), Some(i64::MIN)] {
            let b = recency_boost(now, t);
            assert!((1.0..=MAX_RECENCY_BOOST).contains(&b), "{t:?}: {b}");
        }
        assert_eq!(recency_boost(now, Some(now)), 1.1, "a message written now gets the whole boost");
    }

    /// A walk is kept per segment: a reused searcher finds the same forms
    /// without walking again, and a segment written later is walked for
    /// the forms only it holds.
    #[test]
    fn kept_walks_give_the_same_forms_and_new_segments_are_walked() {
        let tmp = tempfile::tempdir().unwrap();
        let idx = index(tmp.path(), 300, 3);
        let reader = idx.index.reader_builder().reload_policy(tantivy::ReloadPolicy::Manual).try_into().unwrap();
        let walks = FormWalks::default();
        let query = super::super::query::parse("crate").unwrap();
        let forms = |searcher: &Searcher| {
            let mut f = Expansions::find(searcher, &idx, &query, &walks).unwrap().forms_of("crate").to_vec();
            f.sort();
            f
        };
        let first = forms(&reader.searcher());
        assert_eq!(first, ["crates", "crating"]);
        assert_eq!(walks.len(), 3, "one walk per segment");
        assert_eq!(forms(&reader.searcher()), first, "the kept walks say the same");
        assert_eq!(walks.len(), 3);

        let mut writer: IndexWriter = idx.index.writer_with_num_threads(1, 15 << 20).unwrap();
        writer.set_merge_policy(Box::new(NoMergePolicy));
        let mut doc = TantivyDocument::default();
        doc.add_i64(idx.fields.message_id, 1_000);
        doc.add_text(idx.fields.content, "crated and shipped");
        writer.add_document(doc).unwrap();
        writer.commit().unwrap();
        reader.reload().unwrap();
        assert_eq!(forms(&reader.searcher()), ["crated", "crates", "crating"], "the new segment's form is found");
        assert_eq!(walks.len(), 4, "only the new segment was walked");
    }
}
