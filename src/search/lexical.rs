//! Lexical retrieval: the parsed query and the filters become one tantivy
//! query, so filters narrow before the top-K cut, never after.

use std::ops::Bound as RangeBound;

use tantivy::collector::{Count, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, EmptyQuery, FuzzyTermQuery, Occur, PhraseQuery, Query, RangeQuery, TermQuery,
    TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, DocId, Searcher, SegmentReader, Term};

use super::query::{Atom, ParsedQuery};
use crate::filters::{Filters, workspace_matches};
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

/// Top `limit` after `offset` message ids for the query, and the total count.
pub fn search(
    idx: &LexicalIndex,
    searcher: &Searcher,
    query: &ParsedQuery,
    filters: &Filters,
    limit: usize,
    offset: usize,
) -> Result<(Vec<ScoredId>, usize), LexicalError> {
    debug_assert!(limit > 0, "requests are validated to ask for at least one hit");
    let err = |source| LexicalError::Tantivy { path: "lexical".into(), source };
    let workspaces = workspace_terms(searcher, idx.fields.workspace, filters).map_err(err)?;
    let q = build(&idx.fields, query, filters, &workspaces);
    let (total, top) =
        searcher.search(&q, &(Count, TopDocs::with_limit(limit).and_offset(offset).order_by_score())).map_err(err)?;
    let mut out = Vec::with_capacity(top.len());
    for (score, addr) in top {
        out.push(ScoredId { message_id: message_id(searcher, addr).map_err(err)?, score });
    }
    Ok((out, total))
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
) -> Result<(Vec<ScoredId>, usize), LexicalError> {
    debug_assert!(limit > 0, "requests are validated to ask for at least one hit");
    let err = |source| LexicalError::Tantivy { path: "lexical".into(), source };
    let workspaces = workspace_terms(searcher, idx.fields.workspace, filters).map_err(err)?;
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(AllQuery))];
    add_filters(&idx.fields, filters, &workspaces, &mut clauses);
    let newest = TopDocs::with_limit(limit).and_offset(offset).order_by(|segment: &SegmentReader| {
        let fast = segment.fast_fields();
        let (created, ids) = (fast.i64("created_at").ok(), fast.i64("message_id").ok());
        move |doc: DocId| {
            let created = created.as_ref().and_then(|c| c.first(doc)).unwrap_or(i64::MIN);
            (created, ids.as_ref().and_then(|c| c.first(doc)).unwrap_or(0))
        }
    });
    let (total, top) = searcher.search(&BooleanQuery::new(clauses), &(Count, newest)).map_err(err)?;
    Ok((top.into_iter().map(|((_, message_id), _)| ScoredId { message_id, score: 0.0 }).collect(), total))
}

fn message_id(searcher: &Searcher, addr: DocAddress) -> tantivy::Result<i64> {
    let col = searcher.segment_reader(addr.segment_ord).fast_fields().i64("message_id")?;
    Ok(col.first(addr.doc_id).unwrap_or(0))
}

/// The indexed workspaces that `filters.workspace` selects (none without
/// one), read from the term dictionary of each segment and judged by
/// [`workspace_matches`], the one rule every front end and the store
/// share. A few hundred distinct workspaces at most: microseconds.
fn workspace_terms(searcher: &Searcher, field: Field, filters: &Filters) -> tantivy::Result<Vec<String>> {
    let Some(filter) = &filters.workspace else { return Ok(Vec::new()) };
    let mut found = std::collections::BTreeSet::new();
    for segment in searcher.segment_readers() {
        let inverted = segment.inverted_index(field)?;
        let mut terms = inverted.terms().stream()?;
        while terms.advance() {
            if let Ok(ws) = std::str::from_utf8(terms.key())
                && workspace_matches(filter, ws)
            {
                found.insert(ws.to_string());
            }
        }
    }
    Ok(found.into_iter().collect())
}

/// The whole tantivy query for a request; `workspaces` are the indexed
/// workspaces `filters.workspace` selects ([`workspace_terms`]).
pub fn build(f: &Fields, query: &ParsedQuery, filters: &Filters, workspaces: &[String]) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut positive = 0;
    for clause in &query.clauses {
        let alts: Vec<Box<dyn Query>> = clause.any_of.iter().filter_map(|a| field_query(f.content, a)).collect();
        if alts.is_empty() {
            continue;
        }
        let q =
            if alts.len() == 1 { alts.into_iter().next().expect("one") } else { Box::new(BooleanQuery::union(alts)) };
        if clause.negated {
            clauses.push((Occur::MustNot, q));
        } else {
            positive += 1;
            clauses.push((Occur::Must, q));
            // A match in the conversation's title ranks a hit higher but never
            // makes a message match on its own.
            for atom in &clause.any_of {
                if let Some(t) = field_query(f.title, atom) {
                    clauses.push((Occur::Should, Box::new(BoostQuery::new(t, TITLE_BOOST))));
                }
            }
        }
    }
    if positive == 0 {
        // Every term analysed to nothing (pure punctuation): match nothing
        // rather than everything.
        return Box::new(BooleanQuery::new(vec![(Occur::MustNot, Box::new(AllQuery) as Box<dyn Query>)]));
    }
    add_filters(f, filters, workspaces, &mut clauses);
    Box::new(BooleanQuery::new(clauses))
}

fn add_filters(f: &Fields, filters: &Filters, workspaces: &[String], clauses: &mut Vec<(Occur, Box<dyn Query>)>) {
    let any_of = |field: Field, values: &mut dyn Iterator<Item = String>| -> Box<dyn Query> {
        let qs: Vec<Box<dyn Query>> = values
            .map(|v| {
                Box::new(TermQuery::new(Term::from_field_text(field, &v), IndexRecordOption::Basic)) as Box<dyn Query>
            })
            .collect();
        Box::new(BooleanQuery::union(qs))
    };
    if !filters.agents.is_empty() {
        clauses.push((Occur::Must, any_of(f.agent, &mut filters.agents.iter().cloned())));
    }
    if !filters.roles.is_empty() {
        clauses.push((Occur::Must, any_of(f.role, &mut filters.roles.iter().map(|r| r.as_str().to_string()))));
    }
    if filters.workspace.is_some() {
        let q: Box<dyn Query> = if workspaces.is_empty() {
            Box::new(EmptyQuery)
        } else {
            Box::new(TermSetQuery::new(workspaces.iter().map(|w| Term::from_field_text(f.workspace, w))))
        };
        clauses.push((Occur::Must, q));
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

fn field_query(field: Field, atom: &Atom) -> Option<Box<dyn Query>> {
    let term = |t: &str| Term::from_field_text(field, t);
    let term_q = |t: &str| -> Box<dyn Query> { Box::new(TermQuery::new(term(t), IndexRecordOption::WithFreqs)) };
    match atom {
        Atom::Prefix(p) => {
            let p = p.to_lowercase();
            Some(Box::new(FuzzyTermQuery::new_prefix(term(&p), 0, true)))
        }
        Atom::Phrase(text) => phrase(field, text, true),
        Atom::Term(text) => {
            let toks = tokens(text);
            let wholes: Vec<_> = toks.iter().filter(|t| t.whole).collect();
            match wholes.len() {
                0 => None,
                1 if toks.len() == 1 => Some(term_q(&toks[0].text)),
                1 => {
                    // An identifier: its whole form, or its parts in order
                    // (so `main.rs` finds `src/main.rs`).
                    let parts = phrase(field, text, false)?;
                    Some(Box::new(BooleanQuery::union(vec![term_q(&wholes[0].text), parts])))
                }
                _ => phrase(field, text, true),
            }
        }
    }
}

/// A phrase of the text's tokens at their positions. With `with_wholes`
/// false, only the parts are used (to match an identifier inside a longer one).
fn phrase(field: Field, text: &str, with_wholes: bool) -> Option<Box<dyn Query>> {
    let toks = tokens(text);
    let has_parts: std::collections::HashSet<usize> = toks.iter().filter(|t| !t.whole).map(|t| t.position).collect();
    let terms: Vec<(usize, Term)> = toks
        .iter()
        .filter(|t| if with_wholes { true } else { !t.whole || !has_parts.contains(&t.position) })
        .map(|t| (t.position, Term::from_field_text(field, &t.text)))
        .collect();
    match terms.len() {
        0 => None,
        1 => Some(Box::new(TermQuery::new(terms[0].1.clone(), IndexRecordOption::WithFreqs))),
        _ => {
            let base = terms.iter().map(|t| t.0).min().unwrap_or(0);
            let terms: Vec<(usize, Term)> = terms.into_iter().map(|(p, t)| (p - base, t)).collect();
            Some(Box::new(PhraseQuery::new_with_offset(terms)))
        }
    }
}
