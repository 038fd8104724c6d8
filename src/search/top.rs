//! The relevance collector: the best hits by BM25 × recency and the total
//! count, in one pass over the matches.
//!
//! tantivy's `TopDocs::tweak_score` reads the boost's input (`created_at`)
//! for every matching document, and a `(Count, …)` pair walks the matches
//! through two collectors. At ten million messages a two-word query matches
//! ~100k documents and those reads were a sixth of its time. The boost is
//! bounded ([`MAX_RECENCY_BOOST`]), so once `keep` hits are held a match
//! whose score times that bound stays below the worst of them cannot enter,
//! and its time is never read.
//!
//! A hit's score is its BM25 on content plus its conversation's title
//! score ([`TitleBonus`]), read only for a hit that could enter at the
//! largest title score.
//!
//! Hits are ordered by boosted score in `f64`, then by message id: an
//! order that depends on neither the moment of the search (see
//! [`recency_boost`]) nor how the index happens to be cut into segments, so
//! a rebuilt index answers as the one it replaces.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::{DocId, Score, SegmentReader};

use super::columns::{ColumnCache, SegmentColumns};
use super::lexical::{MAX_RECENCY_BOOST, recency_boost};
use super::titles::TitleBonus;

/// The `keep` best hits by BM25 × [`recency_boost`] and how many matched.
pub struct RecencyTop {
    /// Hits kept: the window's offset plus its limit.
    pub keep: usize,
    /// The instant ages are measured from (ms since the epoch).
    pub now: i64,
    /// What each conversation's title adds to its hits.
    pub titles: Arc<TitleBonus>,
    /// The searcher's opened columns.
    pub columns: Arc<ColumnCache>,
}

/// A kept hit: its boosted score and its message id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    /// BM25 × the recency boost.
    pub score: f64,
    /// The message's id.
    pub message_id: i64,
}

impl Ranked {
    /// `Less` when `self` ranks before `other`: higher score, then lower id.
    fn rank(&self, other: &Ranked) -> Ordering {
        other.score.total_cmp(&self.score).then_with(|| self.message_id.cmp(&other.message_id))
    }
}

impl Collector for RecencyTop {
    type Fruit = (usize, Vec<Ranked>);
    type Child = SegmentTop;

    fn for_segment(&self, _segment_ord: u32, reader: &SegmentReader) -> tantivy::Result<SegmentTop> {
        Ok(SegmentTop {
            columns: self.columns.get(reader)?,
            titles: Arc::clone(&self.titles),
            now: self.now,
            keep: self.keep,
            heap: BinaryHeap::with_capacity(self.keep + 1),
            count: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<(usize, Vec<Ranked>)>) -> tantivy::Result<Self::Fruit> {
        let mut total = 0;
        let mut hits = Vec::new();
        for (count, segment_hits) in fruits {
            total += count;
            hits.extend(segment_hits);
        }
        hits.sort_unstable_by(Ranked::rank);
        hits.truncate(self.keep);
        Ok((total, hits))
    }
}

/// A kept hit in the heap, whose top is the worst one.
struct Held(Ranked);

impl Ord for Held {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.rank(&other.0)
    }
}

impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Held {}

/// One segment's share of [`RecencyTop`].
pub struct SegmentTop {
    columns: Arc<SegmentColumns>,
    titles: Arc<TitleBonus>,
    now: i64,
    keep: usize,
    heap: BinaryHeap<Held>,
    count: usize,
}

impl SegmentCollector for SegmentTop {
    type Fruit = (usize, Vec<Ranked>);

    fn collect(&mut self, doc: DocId, mut score: Score) {
        self.count += 1;
        if self.keep == 0 {
            return;
        }
        let full = self.heap.len() >= self.keep;
        // Below the worst kept hit even with the largest title score and
        // boost: cannot enter. (Equal to it may still win on a lower id.)
        let bound = f64::from(score + self.titles.max()) * MAX_RECENCY_BOOST;
        if full && self.heap.peek().is_some_and(|worst| bound < worst.0.score) {
            return;
        }
        // A hit's conversation is read only when some title matched.
        if !self.titles.is_empty()
            && let Some(c) = &self.columns.conversations
        {
            score += c.first(doc).map_or(0.0, |id| self.titles.of(id));
            // Its own title score known: the time is read only if it can enter.
            let bound = f64::from(score) * MAX_RECENCY_BOOST;
            if full && self.heap.peek().is_some_and(|worst| bound < worst.0.score) {
                return;
            }
        }
        let created = self.columns.created.as_ref().and_then(|c| c.first(doc));
        let boosted = f64::from(score) * recency_boost(self.now, created);
        // The id is read only for a hit that enters (or ties the worst).
        if full && self.heap.peek().is_some_and(|worst| boosted < worst.0.score) {
            return;
        }
        let ranked = Ranked { score: boosted, message_id: self.columns.ids.first(doc).unwrap_or(0) };
        if !full {
            self.heap.push(Held(ranked));
        } else if let Some(mut worst) = self.heap.peek_mut()
            && ranked.rank(&worst.0) == Ordering::Less
        {
            *worst = Held(ranked); // sifted into place when `worst` drops
        }
    }

    fn harvest(self) -> Self::Fruit {
        (self.count, self.heap.into_iter().map(|h| h.0).collect())
    }
}
