//! The filters on a message's conversation: agent, workspace, machine.
//!
//! These are the same on every message of a conversation, so the index
//! holds them once, on the conversation's document
//! ([`crate::lexical::conversation_document`]), not on each message: that
//! spared the build ~3 % of its instructions (docs/performance-history.md,
//! session 17). A search with such a filter first reads which conversation
//! documents match it — one per conversation, a hundredth of the documents
//! — then keeps the messages whose conversation id is one of theirs, read
//! from the id column only for the documents the rest of the query matches.

use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::doc_predicate_query::{
    ConstOrVariableSegmentPredicate, DocPredicate, DocPredicateQuery, SegmentDocPredicate,
};
use tantivy::query::{AllScorer, BooleanQuery, ConstScoreQuery, EmptyQuery, Occur, Query, TermQuery, TermSetQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, Score, Searcher, SegmentReader, Term};

use super::columns::ColumnCache;
use crate::filters::{Filters, LOCAL_SOURCE, SourceFilter, workspace_matches};
use crate::lexical::{CONVERSATION_KIND, Fields};

/// The conversations a search's agent, workspace and machine filters
/// accept, as a query clause ([`InConversations::query`]).
#[derive(Clone)]
pub struct InConversations {
    members: Arc<Members>,
    columns: Arc<ColumnCache>,
    /// The members, sorted: their conversation id terms are the clause
    /// that reads postings.
    ids: Arc<Vec<i64>>,
    /// The conversation id field.
    field: Field,
    /// The members are at most one conversation in [`FEW`].
    few: bool,
}

/// At most one conversation in this many is few enough for a search to
/// read their postings rather than judge each candidate by its column.
const FEW: usize = 8;

impl std::fmt::Debug for InConversations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InConversations").finish_non_exhaustive()
    }
}

impl InConversations {
    /// The conversations `filters` accept, read from the documents that
    /// carry agent, workspace and machine; `None` when none of those three
    /// filters is set. In an index built before v8 these terms are on every
    /// message instead: the same query finds the same conversations there
    /// (from their messages), until the next sync rebuilds it.
    pub fn find(
        searcher: &Searcher,
        f: &Fields,
        filters: &Filters,
        columns: &Arc<ColumnCache>,
    ) -> tantivy::Result<Option<InConversations>> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if !filters.agents.is_empty() {
            let agents = filters.agents.iter().map(|a| term_query(f.agent, a)).collect();
            clauses.push((Occur::Must, Box::new(BooleanQuery::union(agents))));
        }
        if let Some(filter) = &filters.workspace {
            let workspaces = field_terms(searcher, f.workspace, |ws| workspace_matches(filter, ws))?;
            clauses.push((Occur::Must, any_term(f.workspace, &workspaces)));
        }
        if let Some(source) = &filters.source {
            let q = match source {
                SourceFilter::Local => term_query(f.source, LOCAL_SOURCE),
                SourceFilter::Named(name) => term_query(f.source, name),
                // Every machine's name but this one's: a clause that needs
                // no other to match (a conversation document has no content).
                SourceFilter::Remote => any_term(f.source, &field_terms(searcher, f.source, |s| s != LOCAL_SOURCE)?),
            };
            clauses.push((Occur::Must, q));
        }
        if clauses.is_empty() {
            return Ok(None);
        }
        let mut ids =
            searcher.search(&BooleanQuery::new(clauses), &ConversationIds { columns: Arc::clone(columns) })?;
        ids.sort_unstable();
        ids.dedup();
        // An index built before v8 has no conversation documents to count:
        // its filters go by the column.
        let conversations = searcher.doc_freq(&Term::from_field_text(f.kind, CONVERSATION_KIND))?;
        let few = ids.len().saturating_mul(FEW) as u64 <= conversations;
        Ok(Some(InConversations {
            members: Arc::new(Members::new(&ids)),
            columns: Arc::clone(columns),
            ids: Arc::new(ids),
            field: f.conversation_id,
            few,
        }))
    }

    /// The clause keeping the documents of these conversations. It adds
    /// nothing to a hit's score: a filter narrows, it does not rank.
    ///
    /// It reads the conversations' postings when they are few, or when
    /// `every_match` (a browse: the rest of the query matches every
    /// message, so each match is visited anyway); otherwise it judges each
    /// document the rest of the query matches by its conversation id
    /// column, which a search with words and a broad filter (an agent)
    /// asks of few documents. At 1M messages a browse of one agent took
    /// 13.0 ms by the column against 9.7 ms by the postings, and one of a
    /// workspace 9.2 against 3.2 ms (docs/performance-history.md, session 17).
    pub fn query(&self, every_match: bool) -> Box<dyn Query> {
        let keep: Box<dyn Query> = if self.members.is_empty() {
            Box::new(EmptyQuery)
        } else if self.few || every_match {
            Box::new(TermSetQuery::new(self.ids.iter().map(|&id| Term::from_field_i64(self.field, id))))
        } else {
            Box::new(DocPredicateQuery::from(self.clone()))
        };
        Box::new(ConstScoreQuery::new(keep, 0.0))
    }
}

fn term_query(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
}

/// Any of `values` in `field`; nothing when there are none.
fn any_term(field: Field, values: &[String]) -> Box<dyn Query> {
    if values.is_empty() {
        return Box::new(EmptyQuery);
    }
    Box::new(TermSetQuery::new(values.iter().map(|v| Term::from_field_text(field, v))))
}

/// The terms of `field` that `keep` accepts, read from the term dictionary
/// of each segment. Workspaces and machines are a few hundred at most:
/// microseconds. [`workspace_matches`] is the one rule every front end and
/// the store share.
fn field_terms(searcher: &Searcher, field: Field, keep: impl Fn(&str) -> bool) -> tantivy::Result<Vec<String>> {
    let mut found = std::collections::BTreeSet::new();
    for segment in searcher.segment_readers() {
        let inverted = segment.inverted_index(field)?;
        let mut terms = inverted.terms().stream()?;
        while terms.advance() {
            if let Ok(value) = std::str::from_utf8(terms.key())
                && keep(value)
            {
                found.insert(value.to_string());
            }
        }
    }
    Ok(found.into_iter().collect())
}

impl DocPredicate for InConversations {
    type SegmentDocPredicate = InSegment;

    fn doc_predicate(&self, reader: &SegmentReader) -> tantivy::Result<ConstOrVariableSegmentPredicate<InSegment>> {
        let Some(ids) = self.columns.get(reader)?.conversations.clone() else {
            return Ok(ConstOrVariableSegmentPredicate::Const(false));
        };
        // A segment holds a run of conversations (a build feeds them in
        // order): one whose run has none of them is skipped whole.
        if !self.members.any_within(ids.min_value(), ids.max_value()) {
            return Ok(ConstOrVariableSegmentPredicate::Const(false));
        }
        Ok(ConstOrVariableSegmentPredicate::Variable {
            predicate: InSegment { ids, members: Arc::clone(&self.members) },
            necessary_condition: Box::new(AllScorer::new(reader.max_doc())),
        })
    }
}

/// [`InConversations`] on one segment: a document's conversation id, read
/// from its column, is one of the members.
pub struct InSegment {
    ids: Column<i64>,
    members: Arc<Members>,
}

impl SegmentDocPredicate for InSegment {
    fn eval(&mut self, doc: DocId) -> bool {
        self.ids.first(doc).is_some_and(|id| self.members.contains(id))
    }
}

/// A set of conversation ids. Ids are the store's row ids, dense from 1,
/// so a bit per id up to the largest is small (a million conversations:
/// 125 KiB) and answers in one load; ids too large for that (an index
/// whose columns are damaged) fall back to a sorted list.
enum Members {
    Bits(Vec<u64>),
    Sorted(Vec<i64>),
}

/// Largest id held as a bit: 2^27 bits are 16 MiB.
const MAX_BIT: i64 = 1 << 27;

impl Members {
    /// `ids` sorted, without repeats.
    fn new(ids: &[i64]) -> Members {
        match (ids.first(), ids.last()) {
            (Some(&lo), Some(&hi)) if lo >= 0 && hi <= MAX_BIT => {
                let mut bits = vec![0u64; hi as usize / 64 + 1];
                for &id in ids {
                    bits[id as usize / 64] |= 1u64 << (id % 64);
                }
                Members::Bits(bits)
            }
            _ => Members::Sorted(ids.to_vec()),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Members::Bits(bits) => bits.iter().all(|&w| w == 0),
            Members::Sorted(ids) => ids.is_empty(),
        }
    }

    fn contains(&self, id: i64) -> bool {
        match self {
            Members::Bits(bits) => {
                usize::try_from(id).is_ok_and(|i| bits.get(i / 64).is_some_and(|w| w & (1u64 << (i % 64)) != 0))
            }
            Members::Sorted(ids) => ids.binary_search(&id).is_ok(),
        }
    }

    /// Some member lies in `lo..=hi`.
    fn any_within(&self, lo: i64, hi: i64) -> bool {
        if lo > hi {
            return false;
        }
        match self {
            Members::Bits(bits) => {
                let (lo, hi) = (lo.max(0), hi.min(bits.len() as i64 * 64 - 1));
                if lo > hi {
                    return false;
                }
                let (first, last) = (lo as usize / 64, hi as usize / 64);
                (first..=last).any(|w| {
                    let mut word = bits[w];
                    if w == first {
                        word &= u64::MAX << (lo % 64);
                    }
                    if w == last {
                        word &= u64::MAX >> (63 - hi % 64);
                    }
                    word != 0
                })
            }
            Members::Sorted(ids) => {
                let at = ids.partition_point(|&id| id < lo);
                ids.get(at).is_some_and(|&id| id <= hi)
            }
        }
    }
}

/// Collects the conversation id of every matching document.
struct ConversationIds {
    columns: Arc<ColumnCache>,
}

struct SegmentIds {
    ids: Option<Column<i64>>,
    found: Vec<i64>,
}

impl Collector for ConversationIds {
    type Fruit = Vec<i64>;
    type Child = SegmentIds;

    fn for_segment(&self, _segment_ord: u32, reader: &SegmentReader) -> tantivy::Result<SegmentIds> {
        Ok(SegmentIds { ids: self.columns.get(reader)?.conversations.clone(), found: Vec::new() })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<i64>>) -> tantivy::Result<Vec<i64>> {
        Ok(fruits.concat())
    }
}

impl SegmentCollector for SegmentIds {
    type Fruit = Vec<i64>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        if let Some(id) = self.ids.as_ref().and_then(|c| c.first(doc)) {
            self.found.push(id);
        }
    }

    fn harvest(self) -> Vec<i64> {
        self.found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexical::{ConversationValues, LexicalIndex, conversation_document};
    use tantivy::collector::DocSetCollector;
    use tantivy::indexer::NoMergePolicy;
    use tantivy::{IndexWriter, TantivyDocument};

    /// Both kinds of set answer like a plain list, across word edges.
    #[test]
    fn members_answer_like_the_list_they_hold() {
        let ids = vec![1, 63, 64, 65, 127, 300, 301, 1_000];
        // One id past the bit limit makes the list kind.
        let sets = [Members::new(&ids), Members::new(&[ids.clone(), vec![MAX_BIT + 5]].concat())];
        assert!(matches!(sets[0], Members::Bits(_)) && matches!(sets[1], Members::Sorted(_)));
        for set in &sets {
            for id in -3..1_100 {
                assert_eq!(set.contains(id), ids.contains(&id), "{id}");
            }
            for lo in -2..340 {
                for hi in [lo - 1, lo, lo + 1, lo + 62, lo + 64, lo + 200] {
                    let want = ids.iter().any(|&id| (lo..=hi).contains(&id));
                    assert_eq!(set.any_within(lo, hi), want, "{lo}..={hi}");
                }
            }
        }
        assert!(Members::new(&[]).is_empty());
        assert!(!Members::new(&[0]).is_empty());
    }

    /// Messages of conversations `1..=6`: agents alternate, conversations
    /// 5 and 6 come from machine `box`, the rest are local; every
    /// conversation has a workspace of its own. `layout_v8` writes the
    /// conversation's values on its own document, else (an index built
    /// before v8) on each message. Two commits, so two segments, the
    /// second holding only conversations 4 to 6.
    fn index(dir: &std::path::Path, layout_v8: bool) -> LexicalIndex {
        let idx = LexicalIndex::open_or_create(dir).unwrap();
        let mut writer: IndexWriter = idx.index.writer_with_num_threads(1, 15 << 20).unwrap();
        writer.set_merge_policy(Box::new(NoMergePolicy));
        let f = idx.fields.clone();
        let mut id = 0;
        for conv in 1..=6_i64 {
            let agent = if conv % 2 == 0 { "codex" } else { "claude_code" };
            let source = if conv >= 5 { "box" } else { LOCAL_SOURCE };
            let workspace = format!("/work/p{conv}");
            if layout_v8 {
                let values = ConversationValues { id: conv, agent, source, workspace: Some(&workspace), title: None };
                writer.add_document(conversation_document(&f, values)).unwrap();
            }
            for _ in 0..5 {
                id += 1;
                let mut doc = TantivyDocument::default();
                doc.add_i64(f.message_id, id);
                doc.add_i64(f.conversation_id, conv);
                doc.add_text(f.content, "some words");
                if !layout_v8 {
                    doc.add_text(f.agent, agent);
                    doc.add_text(f.source, source);
                    doc.add_text(f.workspace, &workspace);
                }
                writer.add_document(doc).unwrap();
            }
            if conv == 3 {
                writer.commit().unwrap();
            }
        }
        writer.commit().unwrap();
        idx
    }

    /// The conversations of the messages a filter keeps.
    fn kept(idx: &LexicalIndex, filters: &Filters) -> Option<Vec<i64>> {
        let searcher = idx.index.reader().unwrap().searcher();
        let columns = Arc::new(ColumnCache::default());
        let within = InConversations::find(&searcher, &idx.fields, filters, &columns).unwrap()?;
        // The clause over the column and the one over the postings keep the same.
        let by_column = InConversations { few: false, ..within.clone() };
        let [a, b, c] = [(&by_column, false), (&by_column, true), (&within, true)].map(|(within, every_match)| {
            let messages = TermQuery::new(Term::from_field_text(idx.fields.content, "words"), IndexRecordOption::Basic);
            let q = BooleanQuery::new(vec![
                (Occur::Must, Box::new(messages) as Box<dyn Query>),
                (Occur::Must, within.query(every_match)),
            ]);
            let mut convs: Vec<i64> = searcher
                .search(&q, &DocSetCollector)
                .unwrap()
                .into_iter()
                .map(|a| {
                    let column = searcher.segment_reader(a.segment_ord).fast_fields().i64("conversation_id").unwrap();
                    column.first(a.doc_id).unwrap()
                })
                .collect();
            convs.sort_unstable();
            convs.dedup();
            convs
        });
        assert_eq!(a, b, "{filters:?}: the column and the postings keep the same");
        assert_eq!(a, c, "{filters:?}");
        Some(a)
    }

    #[test]
    fn filters_keep_the_messages_of_the_conversations_they_accept_in_both_layouts() {
        let tmp = tempfile::tempdir().unwrap();
        let filters = |f: fn(&mut Filters)| {
            let mut filters = Filters::default();
            f(&mut filters);
            filters
        };
        let cases: Vec<(Filters, Option<Vec<i64>>)> = vec![
            (Filters::default(), None),
            (filters(|f| f.agents = vec!["codex".into()]), Some(vec![2, 4, 6])),
            (filters(|f| f.agents = vec!["codex".into(), "claude_code".into()]), Some(vec![1, 2, 3, 4, 5, 6])),
            (filters(|f| f.agents = vec!["aider".into()]), Some(vec![])),
            (filters(|f| f.source = Some(SourceFilter::Local)), Some(vec![1, 2, 3, 4])),
            (filters(|f| f.source = Some(SourceFilter::Remote)), Some(vec![5, 6])),
            (filters(|f| f.source = Some(SourceFilter::Named("box".into()))), Some(vec![5, 6])),
            (filters(|f| f.source = Some(SourceFilter::Named("other".into()))), Some(vec![])),
            (filters(|f| f.workspace = Some("/work/p5".into())), Some(vec![5])),
            (filters(|f| f.workspace = Some("/nowhere".into())), Some(vec![])),
            (
                filters(|f| {
                    f.agents = vec!["claude_code".into()];
                    f.source = Some(SourceFilter::Remote);
                }),
                Some(vec![5]),
            ),
        ];
        for layout_v8 in [true, false] {
            let idx = index(&tmp.path().join(format!("v8-{layout_v8}")), layout_v8);
            assert_eq!(idx.index.reader().unwrap().searcher().segment_readers().len(), 2);
            for (filters, want) in &cases {
                assert_eq!(kept(&idx, filters), *want, "{filters:?}, v8 layout: {layout_v8}");
            }
        }
    }

    /// A hit under a filter scores what it scores without one, whichever
    /// clause the filter takes.
    #[test]
    fn a_filter_adds_nothing_to_the_scores() {
        let tmp = tempfile::tempdir().unwrap();
        let idx = index(tmp.path(), true);
        let searcher = idx.index.reader().unwrap().searcher();
        let columns = Arc::new(ColumnCache::default());
        let every = Filters { agents: vec!["codex".into(), "claude_code".into()], ..Filters::default() };
        let within = InConversations::find(&searcher, &idx.fields, &every, &columns).unwrap().unwrap();
        let words = || TermQuery::new(Term::from_field_text(idx.fields.content, "words"), IndexRecordOption::WithFreqs);
        let top = tantivy::collector::TopDocs::with_limit(100).order_by_score();
        let alone = searcher.search(&words(), &top).unwrap();
        assert_eq!(alone.len(), 30);
        for every_match in [false, true] {
            let q = BooleanQuery::new(vec![
                (Occur::Must, Box::new(words()) as Box<dyn Query>),
                (Occur::Must, within.query(every_match)),
            ]);
            assert_eq!(searcher.search(&q, &top).unwrap(), alone);
        }
    }
}
