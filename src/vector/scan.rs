//! Top-K by dot product over published segments, in two passes.
//!
//! Scoring every f16 row reads 512 bytes a row (256 dims): half a gigabyte
//! per query at a million rows, bound by memory bandwidth. So the first
//! pass scores each row's 4-bit code instead ([`super::quant`], 128 bytes,
//! in integers by [`super::nibble`]) and keeps the best [`candidates`]
//! ([`super::firstpass`]);
//! only those rows' f16 vectors are then read from the mapped segment and
//! scored exactly, so the scores returned are exact and only the choice of
//! candidates is approximate. Chunks of rows run in parallel; filters are
//! checked for every row that would enter the candidates, before it does.
//! [`exact_top_k_among`] scores every row exactly, to measure the two-pass
//! scan's recall against.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use half::f16;
use rayon::prelude::*;

use super::firstpass;
pub use super::rowfilter::KeepId;
use super::rowfilter::RowFilter;
use super::segment::Segment;
use crate::filters::Filters;

/// Rows scored exactly per parallel task.
const CHUNK_ROWS: usize = 4096;

/// A scored message id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// Cosine similarity to the query (vectors are unit length), higher is closer.
    pub score: f32,
    /// The message it belongs to.
    pub message_id: i64,
}

impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
/// Reversed so that a `BinaryHeap<Scored>` is a min-heap of the best K.
impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        other.score.total_cmp(&self.score).then_with(|| self.message_id.cmp(&other.message_id))
    }
}

/// Dot product of an f32 query with an f16 row.
///
/// On x86-64 with AVX2, FMA and F16C (checked once at run time) the row is
/// converted and multiplied in registers, 8 lanes at a time with four
/// accumulators, so a scan reads each vector byte once and writes nothing:
/// at a million rows the scan is bound by memory bandwidth, not arithmetic.
/// Elsewhere, a portable loop with sixteen independent lanes.
pub fn dot_f16(query: &[f32], row: &[f16], scratch: &mut [f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if simd::available() && query.len() == row.len() && query.len().is_multiple_of(32) {
            // SAFETY: the CPU features were detected at run time and the
            // lengths are equal multiples of 32.
            return unsafe { simd::dot_avx2(query, row) };
        }
    }
    half::slice::HalfFloatSliceExt::convert_to_f32_slice(row, scratch);
    let mut acc = [0f32; 16];
    let mut q = query.chunks_exact(16);
    let mut r = scratch.chunks_exact(16);
    for (a, b) in (&mut q).zip(&mut r) {
        for i in 0..16 {
            acc[i] += a[i] * b[i];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (a, b) in q.remainder().iter().zip(r.remainder()) {
        sum += a * b;
    }
    sum
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;
    use std::sync::OnceLock;

    use half::f16;

    pub fn available() -> bool {
        static OK: OnceLock<bool> = OnceLock::new();
        *OK.get_or_init(|| {
            is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c")
        })
    }

    /// # Safety
    /// Requires AVX2, FMA and F16C, and `q.len() == r.len()`, a multiple of 32.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn dot_avx2(q: &[f32], r: &[f16]) -> f32 {
        let n = q.len();
        let qp = q.as_ptr();
        let rp = r.as_ptr().cast::<u16>();
        let mut a0 = _mm256_setzero_ps();
        let mut a1 = _mm256_setzero_ps();
        let mut a2 = _mm256_setzero_ps();
        let mut a3 = _mm256_setzero_ps();
        let mut i = 0;
        while i < n {
            // SAFETY: i + 32 <= n for both slices (n is a multiple of 32).
            unsafe {
                let h0 = _mm_loadu_si128(rp.add(i).cast());
                let h1 = _mm_loadu_si128(rp.add(i + 8).cast());
                let h2 = _mm_loadu_si128(rp.add(i + 16).cast());
                let h3 = _mm_loadu_si128(rp.add(i + 24).cast());
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(qp.add(i)), _mm256_cvtph_ps(h0), a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(qp.add(i + 8)), _mm256_cvtph_ps(h1), a1);
                a2 = _mm256_fmadd_ps(_mm256_loadu_ps(qp.add(i + 16)), _mm256_cvtph_ps(h2), a2);
                a3 = _mm256_fmadd_ps(_mm256_loadu_ps(qp.add(i + 24)), _mm256_cvtph_ps(h3), a3);
            }
            i += 32;
        }
        let s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
        let hi = _mm256_extractf128_ps(s, 1);
        let lo = _mm256_castps256_ps128(s);
        let x = _mm_add_ps(hi, lo);
        let x = _mm_add_ps(x, _mm_movehl_ps(x, x));
        let x = _mm_add_ss(x, _mm_shuffle_ps(x, x, 1));
        _mm_cvtss_f32(x)
    }
}

/// How many rows the first pass keeps for exact rescoring when `k` are
/// wanted. Measured on the bench corpus (docs/PERFORMANCE.md): recall@10
/// against the exact scan at this depth.
pub fn candidates(k: usize) -> usize {
    k + 100
}

/// The best `k` rows across `segments` for `query`, filtered, best first.
pub fn top_k(segments: &[Segment], query: &[f32], k: usize, filters: &Filters) -> Vec<Scored> {
    top_k_among(segments, query, k, filters, None)
}

/// [`top_k`], keeping only rows whose message id `keep` accepts.
pub fn top_k_among(
    segments: &[Segment],
    query: &[f32],
    k: usize,
    filters: &Filters,
    keep: Option<KeepId<'_>>,
) -> Vec<Scored> {
    top_k_rescoring(segments, query, k, candidates(k), filters, keep)
}

/// [`top_k_among`] with the first pass keeping `depth` candidates (at
/// least `k`), for measuring recall at other depths.
pub fn top_k_rescoring(
    segments: &[Segment],
    query: &[f32],
    k: usize,
    depth: usize,
    filters: &Filters,
    keep: Option<KeepId<'_>>,
) -> Vec<Scored> {
    if k == 0 {
        return Vec::new();
    }
    let found = firstpass::candidates(segments, query, depth.max(k), filters, keep);
    let mut scratch = vec![0f32; query.len()];
    let all: Vec<Scored> = found
        .iter()
        .filter_map(|c| {
            let seg = &segments[c.segment as usize];
            let score = dot_f16(query, seg.vector(c.row as usize), &mut scratch);
            // No similarity at all is not a hit, whatever K asks for.
            (score > 0.0).then(|| Scored { score, message_id: seg.message_id(c.row as usize) })
        })
        .collect();
    best_first(all, k)
}

/// The best `k` of `all`, best first (ties: lower message id first).
fn best_first(mut all: Vec<Scored>, k: usize) -> Vec<Scored> {
    all.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.message_id.cmp(&b.message_id)));
    all.truncate(k);
    all
}

/// The best `k` rows, filtered, best first, every row scored exactly from
/// its f16 vector: what [`top_k_among`] approximates.
pub fn exact_top_k_among(
    segments: &[Segment],
    query: &[f32],
    k: usize,
    filters: &Filters,
    keep: Option<KeepId<'_>>,
) -> Vec<Scored> {
    if k == 0 {
        return Vec::new();
    }
    let compiled: Vec<RowFilter> = segments.iter().map(|s| RowFilter::new(s, filters, keep)).collect();
    let tasks: Vec<(usize, usize)> = segments
        .iter()
        .enumerate()
        .flat_map(|(s, seg)| (0..seg.count).step_by(CHUNK_ROWS).map(move |start| (s, start)))
        .collect();
    let heaps: Vec<BinaryHeap<Scored>> = tasks
        .par_iter()
        .map(|&(s, start)| {
            let seg = &segments[s];
            let filter = &compiled[s];
            let mut heap = BinaryHeap::with_capacity(k + 1);
            let mut scratch = vec![0f32; seg.dims];
            for i in start..(start + CHUNK_ROWS).min(seg.count) {
                if !filter.accepts(seg, i) {
                    continue;
                }
                let score = dot_f16(query, seg.vector(i), &mut scratch);
                // No similarity at all is not a hit, whatever K asks for.
                if score <= 0.0 {
                    continue;
                }
                if heap.len() < k {
                    heap.push(Scored { score, message_id: seg.message_id(i) });
                } else if heap.peek().is_some_and(|worst| score > worst.score) {
                    heap.pop();
                    heap.push(Scored { score, message_id: seg.message_id(i) });
                }
            }
            heap
        })
        .collect();
    best_first(heaps.into_iter().flatten().collect(), k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_a_plain_sum() {
        for n in [384, 100] {
            let q: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let r: Vec<f16> = (0..n).map(|i| f16::from_f32((i as f32 * 0.11).cos())).collect();
            let want: f32 = q.iter().zip(&r).map(|(a, b)| a * b.to_f32()).sum();
            let mut scratch = vec![0f32; n];
            assert!((dot_f16(&q, &r, &mut scratch) - want).abs() < 1e-3, "n = {n}");
        }
    }
}
