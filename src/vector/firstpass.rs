//! The first pass of a search: every row's code scored against the query
//! ([`super::nibble`]), filtered, and the best `depth` kept as candidates
//! for exact rescoring.
//!
//! Keeping the best is the costly part once the scoring is memory-bound
//! (a binary heap cost 2 ms of a 6 ms pass at 200 candidates, 1M rows): a
//! row is compared with a floor, the worst estimate that can still make
//! the cut, and only rows above it are kept, in a buffer cut back to the
//! best `depth` when it fills. The floor is shared by the parallel tasks
//! (any task's `depth`-th best bounds the global one), so a task started
//! late skips almost every row at once.

use std::cmp::Ordering;
use std::sync::atomic::{AtomicU32, Ordering as AtomicOrdering};

use rayon::prelude::*;

use super::nibble;
use super::quant::{QueryCode, code_len};
use super::rowfilter::{KeepId, RowFilter};
use super::segment::Segment;
use crate::filters::Filters;

/// Rows whose codes are scored per parallel task (8 MiB of 256-dim codes).
const CHUNK_ROWS: usize = 65_536;
/// Rows whose codes are scored at once, before their estimates are ranked.
const BLOCK_ROWS: usize = 256;

/// A row the first pass keeps: its estimate and where it lives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// The code's estimate of the row's dot product with the query.
    pub estimate: f32,
    /// Index of its segment in the scanned list.
    pub segment: u32,
    /// Its row in that segment.
    pub row: u32,
}

impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
/// Best first: a higher estimate sorts before a lower one.
impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        other.estimate.total_cmp(&self.estimate).then_with(|| (self.segment, self.row).cmp(&(other.segment, other.row)))
    }
}

/// An f32 as a u32 that orders the same way, for an atomic maximum.
fn ordered(x: f32) -> u32 {
    let b = x.to_bits();
    if b >> 31 == 1 { !b } else { b | 1 << 31 }
}

fn from_ordered(k: u32) -> f32 {
    f32::from_bits(if k >> 31 == 1 { k & !(1 << 31) } else { !k })
}

/// The best `depth` candidates seen by one task.
struct Best {
    depth: usize,
    kept: Vec<Candidate>,
    floor: f32,
}

impl Best {
    fn new(depth: usize) -> Best {
        Best { depth, kept: Vec::with_capacity(2 * depth), floor: f32::NEG_INFINITY }
    }

    /// Adds a candidate above the floor; when the buffer is full, keeps the
    /// best `depth` and raises the floor (and the shared one) to the worst of them.
    fn push(&mut self, c: Candidate, shared: &AtomicU32) {
        self.kept.push(c);
        if self.kept.len() == 2 * self.depth {
            self.kept.select_nth_unstable(self.depth - 1);
            self.kept.truncate(self.depth);
            self.floor = self.floor.max(self.kept[self.depth - 1].estimate);
            shared.fetch_max(ordered(self.floor), AtomicOrdering::Relaxed);
        }
    }
}

/// Chunks of rows, the unit of parallel work.
fn tasks(segments: &[Segment]) -> Vec<(usize, usize)> {
    segments
        .iter()
        .enumerate()
        .flat_map(|(s, seg)| (0..seg.count).step_by(CHUNK_ROWS).map(move |start| (s, start)))
        .collect()
}

/// The best `depth` rows (at least 1) across `segments` by their codes'
/// estimates, among rows the filters accept; in no particular order.
pub fn candidates(
    segments: &[Segment],
    query: &[f32],
    depth: usize,
    filters: &Filters,
    keep: Option<KeepId<'_>>,
) -> Vec<Candidate> {
    let depth = depth.max(1);
    let prepared: Vec<QueryCode> = segments.iter().map(|s| s.quantizer.prepare(query)).collect();
    let compiled: Vec<RowFilter> = segments.iter().map(|s| RowFilter::new(s, filters, keep)).collect();
    let shared = AtomicU32::new(ordered(f32::NEG_INFINITY));
    let found: Vec<Vec<Candidate>> = tasks(segments)
        .par_iter()
        .map(|&(s, start)| {
            let (seg, filter, query) = (&segments[s], &compiled[s], &prepared[s]);
            let row_len = code_len(seg.dims);
            let end = (start + CHUNK_ROWS).min(seg.count);
            let mut sums = [0i32; BLOCK_ROWS];
            let mut best = Best::new(depth);
            for block in (start..end).step_by(BLOCK_ROWS) {
                let rows = BLOCK_ROWS.min(end - block);
                nibble::scores(seg.codes(block, rows), row_len, &query.weights, &mut sums[..rows]);
                let mut floor = best.floor.max(from_ordered(shared.load(AtomicOrdering::Relaxed)));
                for (j, &sum) in sums[..rows].iter().enumerate() {
                    let estimate = query.estimate(sum);
                    // Filtered only once the row would be a candidate: the
                    // rows below the floor are out of the running anyway.
                    if estimate <= floor || !filter.accepts(seg, block + j) {
                        continue;
                    }
                    best.push(Candidate { estimate, segment: s as u32, row: (block + j) as u32 }, &shared);
                    floor = floor.max(best.floor);
                }
            }
            best.kept
        })
        .collect();
    let mut all: Vec<Candidate> = found.into_iter().flatten().collect();
    if all.len() > depth {
        all.select_nth_unstable(depth - 1);
        all.truncate(depth);
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_keys_sort_as_the_floats_do() {
        let xs = [f32::NEG_INFINITY, -3.5, -0.0, 0.0, 1e-9, 0.25, 7.0, f32::INFINITY];
        for w in xs.windows(2) {
            assert!(ordered(w[0]) <= ordered(w[1]), "{w:?}");
            assert_eq!(from_ordered(ordered(w[0])), w[0]);
        }
    }

    #[test]
    fn the_buffer_keeps_the_best() {
        let shared = AtomicU32::new(ordered(f32::NEG_INFINITY));
        let mut best = Best::new(3);
        for (i, e) in [0.1f32, 0.9, 0.3, 0.5, 0.2, 0.8, 0.7].into_iter().enumerate() {
            if e > best.floor {
                best.push(Candidate { estimate: e, segment: 0, row: i as u32 }, &shared);
            }
        }
        // The sixth push filled the buffer: cut to 0.9, 0.8, 0.5, floor 0.5.
        assert_eq!(best.floor, 0.5);
        assert_eq!(from_ordered(shared.load(AtomicOrdering::Relaxed)), 0.5);
        let mut kept = best.kept.clone();
        kept.sort();
        assert_eq!(kept.iter().map(|c| c.estimate).collect::<Vec<_>>(), [0.9, 0.8, 0.7, 0.5]);
    }
}
