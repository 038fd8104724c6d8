//! The dense layers' products on CPUs that run the AVX2 kernels: weights
//! repacked at load into panels of 16 output features, and a 6 × 16
//! micro-kernel over them.
//!
//! On AVX2 the `gemm` crate's 16 × 6 micro-kernel ran these projections at
//! about 60 % of the FMA peak, broadcasting each of its six activation rows
//! from the unpacked matrix; with AVX-512 it has twice the accumulators and
//! ran them well, so the AVX-512 build keeps it. Here the weights are
//! packed once, at load, and each step of the kernel reads one 64-byte
//! line of its panel and six adjacent floats of a block of activations
//! packed per call.

use std::ops::Range;

use super::math::{Dst, SharedMut};

/// Output features per panel: two 8-lane vectors.
const NR: usize = 16;
/// Activation rows per micro-tile. 6 rows × 2 vectors are 12 accumulators
/// of the 16 ymm registers, two more hold the panel's step, one the
/// broadcast.
const MR: usize = 6;
/// Activation rows packed at a time: 16 micro-tiles, each run against one
/// panel while the panel (16 × k floats) is in L1 or L2, and the block
/// (96 × k) in L2.
const MC: usize = 16 * MR;
/// Rows per thread below which a product is split by panels instead.
const MIN_ROWS_PER_THREAD: usize = 64;

/// A projection's weight, `[out × in]` in the HF layout, repacked into
/// `out / 16` panels of `[in × 16]`: for each input feature, the 16 output
/// features' weights side by side.
pub struct Panels {
    data: Vec<f32>,
    /// Where the first panel starts in `data`: on a cache line, so that
    /// each step's two vectors are one line.
    start: usize,
    out: usize,
    inp: usize,
}

/// Whether the forward pass multiplies by panels: on CPUs (and builds)
/// whose kernels are AVX2, not AVX-512, for weights with whole panels.
pub fn runs(out: usize) -> bool {
    super::math::has_avx2_fma() && !super::math::has_avx512() && out.is_multiple_of(NR)
}

impl Panels {
    /// Repacks `w` (`[out × in]`, row-major); `out` must be a multiple of 16.
    pub fn pack(w: &[f32], out: usize, inp: usize) -> Panels {
        assert!(out.is_multiple_of(NR) && w.len() == out * inp, "a {out} × {inp} weight in whole panels");
        let mut data = vec![0f32; out * inp + NR];
        let start = data.as_ptr().align_offset(64).min(NR);
        for (p, panel) in data[start..start + out * inp].chunks_exact_mut(inp * NR).enumerate() {
            for (k, step) in panel.chunks_exact_mut(NR).enumerate() {
                for (j, v) in step.iter_mut().enumerate() {
                    *v = w[(p * NR + j) * inp + k];
                }
            }
        }
        Panels { data, start, out, inp }
    }

    /// Output features.
    pub fn out(&self) -> usize {
        self.out
    }

    /// Input features.
    pub fn inp(&self) -> usize {
        self.inp
    }

    /// Panel `p`, `[in × 16]`.
    fn panel(&self, p: usize) -> &[f32] {
        let at = self.start + p * self.inp * NR;
        &self.data[at..at + self.inp * NR]
    }
}

/// `c[m × out] (row stride ldc) = a[m × in] (row stride lda) · wᵀ`, or
/// `+=` (see [`Dst`]), on `threads` threads of the current pool: split by
/// rows, or by panels when there are too few rows to share.
///
/// # Safety
/// `a` must address `m` rows of `w.inp()` floats, and `c` `m` rows of
/// `w.out()` floats that nothing else touches during the call; the CPU must
/// have AVX2 and FMA.
#[allow(clippy::too_many_arguments)]
pub unsafe fn matmul(
    m: usize,
    a: *const f32,
    lda: usize,
    w: &Panels,
    c: *mut f32,
    ldc: usize,
    dst: Dst,
    threads: usize,
) {
    assert!(super::math::has_avx2_fma(), "the panel kernel needs AVX2 and FMA");
    let panels = w.out / NR;
    let (a, c) = (a as usize, SharedMut(c));
    // SAFETY (both closures): each part is a disjoint set of rows or of
    // panels' columns of `c`, inside what the caller vouched for.
    let run = |rows: Range<usize>, cols: Range<usize>| unsafe {
        let a = (a as *const f32).add(rows.start * lda);
        block(rows.len(), a, lda, w, cols, c.get().add(rows.start * ldc), ldc, dst)
    };
    use rayon::prelude::*;
    if threads <= 1 {
        run(0..m, 0..panels);
    } else if m >= threads * MIN_ROWS_PER_THREAD {
        let part = m.div_ceil(threads);
        (0..m.div_ceil(part))
            .into_par_iter()
            .with_max_len(1)
            .for_each(|t| run(t * part..m.min((t + 1) * part), 0..panels));
    } else {
        let part = panels.div_ceil(threads);
        (0..panels.div_ceil(part))
            .into_par_iter()
            .with_max_len(1)
            .for_each(|t| run(0..m, t * part..panels.min((t + 1) * part)));
    }
}

thread_local! {
    /// Per-thread buffer for a block of packed activations (96 × in floats).
    static PACKED: std::cell::RefCell<Vec<f32>> = Default::default();
}

/// One thread's share: `m` rows of `a` against panels `cols`, a block of
/// 96 rows at a time.
///
/// # Safety
/// As for [`matmul`], for these rows and panels.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
unsafe fn block(
    m: usize,
    a: *const f32,
    lda: usize,
    w: &Panels,
    cols: Range<usize>,
    c: *mut f32,
    ldc: usize,
    dst: Dst,
) {
    let k = w.inp;
    let mut buf = PACKED.take();
    let packed = super::forward::sized(&mut buf, MC * k + PACK_SLACK);
    let mut r0 = 0;
    while r0 < m {
        let rows = (m - r0).min(MC);
        // SAFETY: rows r0 .. r0 + rows of `a`, which the caller vouched for.
        unsafe { pack_rows(a.add(r0 * lda), lda, rows, k, packed) };
        for p in cols.clone() {
            let panel = w.panel(p);
            for t in (0..rows).step_by(MR) {
                let at = c.wrapping_add((r0 + t) * ldc + p * NR);
                // The next tile's rows of `c`: down this panel, or at the
                // top of the next one.
                let next =
                    if t + MR < rows { at.wrapping_add(MR * ldc) } else { c.wrapping_add(r0 * ldc + (p + 1) * NR) };
                prefetch_tile(next, ldc);
                // SAFETY: the tile's rows are below `m` and its columns in panel `p` of `c`.
                unsafe { tile(k, &packed[t * k..(t + MR) * k], panel, at, ldc, (rows - t).min(MR), dst) };
            }
        }
        r0 += rows;
    }
    PACKED.set(buf);
}

/// Asks for the 6 rows of a tile of `c` (one line each) in L1 for
/// writing, while the tile before it computes: the tile's stores (and,
/// accumulating, its loads) otherwise wait on lines of a matrix in L3 or
/// memory, 6 misses at the end of every tile. 2–3 % on each projection.
#[inline]
fn prefetch_tile(c: *mut f32, ldc: usize) {
    use std::arch::x86_64::{_MM_HINT_ET0, _mm_prefetch};
    for r in 0..MR {
        // SAFETY: a prefetch reads nothing the program sees and cannot
        // fault, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_ET0>(c.wrapping_add(r * ldc).cast()) };
    }
}

/// Floats past the packed micro-panels that packing may write: the
/// vectorized packing stores 8 floats for each 6-float step.
const PACK_SLACK: usize = 8 - MR;

/// Packs `rows` (≤ 96) rows of `a` into micro-panels of 6 rows, each
/// `[k × 6]`: the six rows' values of one input feature side by side. Rows
/// past `rows` in the last micro-panel are zeros. May write up to
/// [`PACK_SLACK`] floats past the last micro-panel.
///
/// Eight input features at a time, by an 8 × 8 transpose of the six rows'
/// vectors (and two of zeros), where `k` allows: the scalar loop was 6 %
/// of the output projection and, with the 1536-deep down-projection's
/// activations coming from memory, 14 % of that one.
///
/// # Safety
/// `a` must address `rows` rows of `k` floats, row stride `lda`; the CPU
/// must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_rows(a: *const f32, lda: usize, rows: usize, k: usize, packed: &mut [f32]) {
    use std::arch::x86_64::*;
    let tiles = rows.div_ceil(MR);
    assert!(packed.len() >= tiles * MR * k + PACK_SLACK);
    if !k.is_multiple_of(8) {
        for (t, micro) in packed[..tiles * MR * k].chunks_exact_mut(MR * k).enumerate() {
            for r in 0..MR {
                let row = t * MR + r;
                for kk in 0..k {
                    // SAFETY: row `row` < `rows` of `a`.
                    micro[kk * MR + r] = if row < rows { unsafe { *a.add(row * lda + kk) } } else { 0.0 };
                }
            }
        }
        return;
    }
    let out = packed.as_mut_ptr();
    for t in 0..tiles {
        let live = (rows - t * MR).min(MR);
        // SAFETY: rows below `rows` of `a`, as the caller vouched; each
        // group's 8 stores of 8 floats, 6 apart, end 2 floats past the
        // group, which the next group (or the slack) takes.
        unsafe {
            let micro = out.add(t * MR * k);
            for k0 in (0..k).step_by(8) {
                let mut m = [_mm256_setzero_ps(); 8];
                for (r, m) in m.iter_mut().enumerate().take(live) {
                    *m = _mm256_loadu_ps(a.add((t * MR + r) * lda + k0));
                }
                super::math::transpose8(&mut m);
                for (d, v) in m.iter().enumerate() {
                    _mm256_storeu_ps(micro.add((k0 + d) * MR), *v);
                }
            }
        }
    }
}

/// One 6 × 16 tile of `c` (its first `rows` rows): a micro-panel of packed
/// activations (`[k × 6]`) times a panel (`[k × 16]`).
///
/// # Safety
/// `c` must address `rows` rows of 16 floats, row stride `ldc`.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tile(k: usize, micro: &[f32], panel: &[f32], c: *mut f32, ldc: usize, rows: usize, dst: Dst) {
    use std::arch::x86_64::*;
    assert!(micro.len() >= k * MR && panel.len() >= k * NR);
    let (ap, wp) = (micro.as_ptr(), panel.as_ptr());
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    // SAFETY: step `kk` < k reads 6 floats of `micro` and 16 of `panel`,
    // inside the lengths asserted above; `c` as the caller vouched.
    unsafe {
        for kk in 0..k {
            let w0 = _mm256_loadu_ps(wp.add(kk * NR));
            let w1 = _mm256_loadu_ps(wp.add(kk * NR + 8));
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = _mm256_broadcast_ss(&*ap.add(kk * MR + r));
                acc[0] = _mm256_fmadd_ps(x, w0, acc[0]);
                acc[1] = _mm256_fmadd_ps(x, w1, acc[1]);
            }
        }
        for (r, acc) in acc.iter().enumerate().take(rows) {
            let o = c.add(r * ldc);
            let (mut v0, mut v1) = (acc[0], acc[1]);
            if dst == Dst::Accumulate {
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(o));
                v1 = _mm256_add_ps(v1, _mm256_loadu_ps(o.add(8)));
            }
            _mm256_storeu_ps(o, v0);
            _mm256_storeu_ps(o.add(8), v1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(m: usize, k: usize, n: usize, threads: usize) {
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.3).sin()).collect();
        let w: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.7).cos()).collect();
        let panels = Panels::pack(&w, n, k);
        let want = |i: usize, j: usize| -> f32 { (0..k).map(|p| a[i * k + p] * w[j * k + p]).sum() };
        let tol = 1e-5 * (k as f32 / 8.0).max(1.0);
        // Stale contents that overwriting must ignore, then a residual to add to.
        let before: Vec<f32> = (0..m * n).map(|i| (i % 97) as f32 - 4.0).collect();
        for (dst, base) in [(Dst::Overwrite, 0f32), (Dst::Accumulate, 1.0)] {
            let mut c = before.clone();
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| unsafe { matmul(m, a.as_ptr(), k, &panels, c.as_mut_ptr(), n, dst, threads) });
            for i in 0..m {
                for j in 0..n {
                    let expect = base * before[i * n + j] + want(i, j);
                    let got = c[i * n + j];
                    assert!(
                        (got - expect).abs() < tol,
                        "{m}×{k}×{n} on {threads}, {:?}: ({i},{j}) {got} vs {expect}",
                        dst == Dst::Accumulate
                    );
                }
            }
        }
    }

    #[test]
    fn panels_hold_each_weight_once_in_place() {
        let (out, inp) = (32, 5);
        let w: Vec<f32> = (0..out * inp).map(|i| i as f32).collect();
        let p = Panels::pack(&w, out, inp);
        assert_eq!(p.data.as_ptr().wrapping_add(p.start) as usize % 64, 0, "panels start on a cache line");
        for o in 0..out {
            for i in 0..inp {
                assert_eq!(p.panel(o / NR)[i * NR + o % NR], w[o * inp + i]);
            }
        }
    }

    #[test]
    fn matches_a_naive_product_on_every_tail() {
        if !crate::embed::minilm::math::has_avx2_fma() {
            return; // the kernel needs AVX2 and FMA, which this CPU lacks
        }
        // Rows leaving every remainder of the 6-row tile and 96-row block,
        // one thread and split by rows or by panels.
        for m in [1, 5, 6, 7, 95, 96, 97, 200] {
            check(m, 40, 48, 1);
        }
        check(300, 24, 32, 2);
        check(250, 9, 16, 3);
        check(10, 33, 64, 2);
        check(10, 33, 48, 4);
    }
}
