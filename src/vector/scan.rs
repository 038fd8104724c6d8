//! Exact top-K by dot product over published segments: every row is scored
//! (no approximation), chunks of rows in parallel, filters checked per row
//! before any arithmetic.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use half::f16;
use rayon::prelude::*;

use super::segment::Segment;
use crate::filters::{Filters, workspace_matches};

/// Rows scored per parallel task.
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

/// A filter compiled against one segment's string tables.
struct SegmentFilter {
    agents: Option<Vec<bool>>,
    workspaces: Option<Vec<bool>>,
    since: Option<i64>,
    until: Option<i64>,
    roles: Vec<crate::model::Role>,
}

impl SegmentFilter {
    fn new(seg: &Segment, f: &Filters) -> SegmentFilter {
        SegmentFilter {
            agents: (!f.agents.is_empty()).then(|| seg.agents.iter().map(|a| f.agents.contains(a)).collect()),
            workspaces: f.workspace.as_ref().map(|w| seg.workspaces.iter().map(|s| workspace_matches(w, s)).collect()),
            since: f.since,
            until: f.until,
            roles: f.roles.clone(),
        }
    }

    fn accepts(&self, seg: &Segment, i: usize) -> bool {
        if let Some(a) = &self.agents
            && !a.get(seg.agent_index(i)).copied().unwrap_or(false)
        {
            return false;
        }
        if let Some(w) = &self.workspaces
            && !seg.workspace_index(i).is_some_and(|x| w.get(x).copied().unwrap_or(false))
        {
            return false;
        }
        if self.since.is_some() || self.until.is_some() {
            let Some(t) = seg.created_at(i) else {
                return false;
            };
            if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t >= u) {
                return false;
            }
        }
        self.roles.is_empty() || self.roles.contains(&seg.role(i))
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

/// The best `k` rows across `segments` for `query`, filtered, best first.
/// `skip` drops ids that are no longer live (optional).
pub fn top_k(segments: &[Segment], query: &[f32], k: usize, filters: &Filters) -> Vec<Scored> {
    top_k_among(segments, query, k, filters, None)
}

/// A filter on message ids for what rows do not carry (the machine a
/// message comes from): checked per row with the others, before scoring.
pub type KeepId<'a> = &'a (dyn Fn(i64) -> bool + Sync);

/// [`top_k`], keeping only rows whose message id `keep` accepts.
pub fn top_k_among(
    segments: &[Segment],
    query: &[f32],
    k: usize,
    filters: &Filters,
    keep: Option<KeepId<'_>>,
) -> Vec<Scored> {
    if k == 0 {
        return Vec::new();
    }
    let tasks: Vec<(usize, usize)> = segments
        .iter()
        .enumerate()
        .flat_map(|(s, seg)| (0..seg.count).step_by(CHUNK_ROWS).map(move |start| (s, start)))
        .collect();
    let compiled: Vec<SegmentFilter> = segments.iter().map(|s| SegmentFilter::new(s, filters)).collect();
    let unfiltered = filters.is_empty() && keep.is_none();
    let heaps: Vec<BinaryHeap<Scored>> = tasks
        .par_iter()
        .map(|&(s, start)| {
            let seg = &segments[s];
            let filter = &compiled[s];
            let mut heap = BinaryHeap::with_capacity(k + 1);
            let mut scratch = vec![0f32; seg.dims];
            for i in start..(start + CHUNK_ROWS).min(seg.count) {
                if !unfiltered && (!filter.accepts(seg, i) || keep.is_some_and(|keep| !keep(seg.message_id(i)))) {
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
    let mut all: Vec<Scored> = heaps.into_iter().flatten().collect();
    all.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.message_id.cmp(&b.message_id)));
    all.truncate(k);
    all
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
