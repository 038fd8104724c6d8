//! The relevance collector: the best hits by BM25 × recency and the total
//! count, in one pass over the matches.
//!
//! tantivy's `TopDocs::tweak_score` reads the boost's input (`created_at`)
//! for every matching document, and a `(Count, …)` pair walks the matches
//! through two collectors. At ten million messages a two-word query matches
//! ~100k documents and those reads were a sixth of its time. The boost is
//! bounded ([`MAX_RECENCY_BOOST`]), so once `keep` hits are held a match
//! whose score times that bound stays below the worst of them cannot enter,
//! and its time is never read. The hits are the ones `tweak_score` keeps,
//! in the same order: score descending, then document address ascending.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::{DocAddress, DocId, Score, SegmentReader};

use super::lexical::{MAX_RECENCY_BOOST, recency_boost};

/// The `keep` best hits by BM25 × [`recency_boost`] and how many matched.
pub struct RecencyTop {
    /// Hits kept: the window's offset plus its limit.
    pub keep: usize,
    /// The instant ages are measured from (ms since the epoch).
    pub now: i64,
}

impl Collector for RecencyTop {
    type Fruit = (usize, Vec<(Score, DocAddress)>);
    type Child = SegmentTop;

    fn for_segment(&self, segment_ord: u32, reader: &SegmentReader) -> tantivy::Result<SegmentTop> {
        Ok(SegmentTop {
            segment_ord,
            created: reader.fast_fields().i64("created_at").ok(),
            now: self.now,
            keep: self.keep,
            heap: BinaryHeap::with_capacity(self.keep + 1),
            count: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<(usize, Vec<(Score, DocAddress)>)>) -> tantivy::Result<Self::Fruit> {
        let mut total = 0;
        let mut hits = Vec::new();
        for (count, segment_hits) in fruits {
            total += count;
            hits.extend(segment_hits);
        }
        hits.sort_unstable_by(|a, b| better(a.0, a.1, b.0, b.1));
        hits.truncate(self.keep);
        Ok((total, hits))
    }
}

/// `Less` when hit `a` ranks before hit `b`: higher score, then lower address.
fn better<D: Ord>(a_score: Score, a_doc: D, b_score: Score, b_doc: D) -> Ordering {
    b_score.total_cmp(&a_score).then_with(|| a_doc.cmp(&b_doc))
}

/// A kept hit, ordered so that the heap's top is the worst one.
struct Held {
    score: Score,
    doc: DocId,
}

impl Ord for Held {
    fn cmp(&self, other: &Self) -> Ordering {
        better(self.score, self.doc, other.score, other.doc)
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
    segment_ord: u32,
    created: Option<Column<i64>>,
    now: i64,
    keep: usize,
    heap: BinaryHeap<Held>,
    count: usize,
}

impl SegmentCollector for SegmentTop {
    type Fruit = (usize, Vec<(Score, DocAddress)>);

    fn collect(&mut self, doc: DocId, score: Score) {
        self.count += 1;
        if self.keep == 0 {
            return;
        }
        let full = self.heap.len() >= self.keep;
        // Documents come in ascending order: a later one ties a held one
        // only to lose to it, so it must score strictly above the worst.
        if full && self.heap.peek().is_some_and(|worst| score * MAX_RECENCY_BOOST < worst.score) {
            return;
        }
        let created = self.created.as_ref().and_then(|c| c.first(doc));
        let held = Held { score: score * recency_boost(self.now, created), doc };
        if !full {
            self.heap.push(held);
        } else if let Some(mut worst) = self.heap.peek_mut()
            && held < *worst
        {
            *worst = held; // sifted into place when `worst` drops
        }
    }

    fn harvest(self) -> Self::Fruit {
        let ord = self.segment_ord;
        (self.count, self.heap.into_iter().map(|h| (h.score, DocAddress::new(ord, h.doc))).collect())
    }
}
