//! The title bonus: what a query scores in each conversation's title, added
//! to the score of that conversation's hits.
//!
//! The index holds a title once, on its conversation's document
//! ([`crate::lexical::schema`]), not on each message. A relevance search
//! first scores the title documents (conversation documents with a
//! title), keeping each conversation's score, then
//! [`super::top::RecencyTop`] adds a hit's conversation's score to its
//! own. A title alone never makes a message match: only hits on content
//! receive it. The title documents are few (one per conversation), so this
//! pass reads a hundredth of the postings the per-message titles did.
//!
//! BM25 for titles counts among titles: the number of documents is the
//! number of title documents, so a word's rarity and a title's length
//! are measured against other titles, not against every message.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::{Bm25StatisticsProvider, EnableScoring, Query};
use tantivy::schema::Field;
use tantivy::{DocId, Executor, Score, Searcher, SegmentReader, Term};

use super::columns::{ColumnCache, SegmentColumns};
use crate::lexical::{Fields, TITLE_KIND};

/// Each matching conversation's title score, and the largest of them.
#[derive(Debug, Default)]
pub struct TitleBonus {
    by_conversation: FxHashMap<i64, Score>,
    max: Score,
}

impl TitleBonus {
    /// The bonus of conversation `id` (0 when its title did not match).
    pub fn of(&self, id: i64) -> Score {
        self.by_conversation.get(&id).copied().unwrap_or(0.0)
    }

    /// No hit receives more than this.
    pub fn max(&self) -> Score {
        self.max
    }

    /// True when no title matched: hits are scored on content alone.
    pub fn is_empty(&self) -> bool {
        self.by_conversation.is_empty()
    }

    /// Scores `query` (over the title field) on every title document; a
    /// title document's conversation is read from `columns`, the
    /// searcher's opened columns.
    pub fn find(
        searcher: &Searcher,
        fields: &Fields,
        query: &dyn Query,
        executor: &Executor,
        columns: &Arc<ColumnCache>,
    ) -> tantivy::Result<Self> {
        let stats = TitleStats::read(searcher, fields)?;
        if stats.titles == 0 {
            return Ok(Self::default());
        }
        let scoring = EnableScoring::enabled_from_statistics_provider(&stats, searcher);
        searcher.search_with_executor(query, &TitleScores { columns: Arc::clone(columns) }, executor, scoring)
    }
}

/// BM25 statistics of the title field counted over title documents.
struct TitleStats<'a> {
    searcher: &'a Searcher,
    titles: u64,
}

impl<'a> TitleStats<'a> {
    fn read(searcher: &'a Searcher, fields: &Fields) -> tantivy::Result<Self> {
        // Like tantivy's own counts, deleted documents not yet merged away
        // are included: statistics, not a tally.
        let titles = searcher.doc_freq(&Term::from_field_text(fields.kind, TITLE_KIND))?;
        Ok(TitleStats { searcher, titles })
    }
}

impl Bm25StatisticsProvider for TitleStats<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        self.searcher.total_num_tokens(field)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(self.titles)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        self.searcher.doc_freq(term)
    }
}

/// Collects the conversation and score of every matching title document.
struct TitleScores {
    columns: Arc<ColumnCache>,
}

struct SegmentTitles {
    columns: Arc<SegmentColumns>,
    found: Vec<(i64, Score)>,
}

impl Collector for TitleScores {
    type Fruit = TitleBonus;
    type Child = SegmentTitles;

    fn for_segment(&self, _segment_ord: u32, reader: &SegmentReader) -> tantivy::Result<SegmentTitles> {
        Ok(SegmentTitles { columns: self.columns.get(reader)?, found: Vec::new() })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Vec<(i64, Score)>>) -> tantivy::Result<TitleBonus> {
        let mut out = TitleBonus::default();
        for (id, score) in fruits.into_iter().flatten() {
            // A conversation has one document (each is replaced, by its
            // term, before it is written again); were there two, the
            // bonus is still one title's, never their sum.
            let kept = out.by_conversation.entry(id).or_insert(score);
            *kept = kept.max(score);
            out.max = out.max.max(*kept);
        }
        Ok(out)
    }
}

impl SegmentCollector for SegmentTitles {
    type Fruit = Vec<(i64, Score)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        if let Some(id) = self.columns.conversations.as_ref().and_then(|c| c.first(doc)) {
            self.found.push((id, score));
        }
    }

    fn harvest(self) -> Self::Fruit {
        self.found
    }
}
