//! Self-attention for one (sequence, head): `softmax(q·kᵀ / √d) · v`.
//!
//! MiniLM's heads are 32 wide, so the two products per head are GEMMs with
//! an inner or outer dimension of 32: too thin for a general GEMM to pack
//! and tile well, and on 256-token inputs they are a tenth of the FLOPs. On
//! CPUs with AVX-512 a fused kernel does the head in one pass over blocks of
//! query rows: scores for the block (kᵀ packed once, pre-scaled by
//! log₂e/√d so the softmax can use 2^x),
//! softmax in registers-sized strides while the block is in L1, then the
//! block's weighted sum of v. Elsewhere, or for other head widths, the head
//! runs as two `gemm` calls around a row softmax.

use super::math::{Dst, dense, matmul, scaled_softmax, transposed};

/// One head's operands inside the fused `[tokens × 3·hidden]` QKV matrix.
pub struct Head<'a> {
    /// First query element of this head for the sequence's first token;
    /// its keys are `hidden` further on and its values `2·hidden`.
    pub q: *const f32,
    /// This head's part of the QKV bias, laid out like a row of the matrix:
    /// q's bias first, k's `hidden` further on, v's at `2·hidden`. The GEMM
    /// leaves it out; attention adds it as it reads q, k and v (the fused
    /// kernel skips k's, which cannot change a softmax).
    pub bias: &'a [f32],
    /// Row stride of the QKV matrix (3·hidden).
    pub stride: usize,
    pub hidden: usize,
    pub len: usize,
    pub dh: usize,
}

/// Writes the head's `len × dh` context rows at `out` (row stride `out_stride`).
///
/// # Safety
/// `head` must address `len` rows of q, k and v of width `dh` inside one
/// live allocation, and `out` `len` rows of `dh` floats that nothing else
/// touches during the call.
pub unsafe fn attend(head: &Head<'_>, out: *mut f32, out_stride: usize) {
    assert!(head.bias.len() >= 2 * head.hidden + head.dh, "a head's bias covers its q, k and v");
    #[cfg(target_arch = "x86_64")]
    if head.dh == avx512::DH && avx512::available() {
        // SAFETY: the CPU has AVX-512F; the caller vouches for the pointers.
        return unsafe { avx512::attend(head, out, out_stride) };
    }
    // SAFETY: forwarded from the caller.
    unsafe { attend_gemm(head, out, out_stride) }
}

/// The portable path: scores by GEMM, a row softmax, context by GEMM.
unsafe fn attend_gemm(head: &Head<'_>, out: *mut f32, out_stride: usize) {
    let Head { q, bias, stride, hidden, len, dh } = *head;
    let scale = 1.0 / (dh as f32).sqrt();
    // This head's q, k and v with their bias added, side by side: [len × 3·dh].
    let w = 3 * dh;
    let mut qkv = vec![0f32; len * w];
    for (j, row) in qkv.chunks_exact_mut(w).enumerate() {
        for (part, dst) in row.chunks_exact_mut(dh).enumerate() {
            let off = part * hidden;
            // SAFETY: the caller promised `len` rows of q, k and v of width `dh`.
            let src = unsafe { std::slice::from_raw_parts(q.add(j * stride + off), dh) };
            for ((d, s), b) in dst.iter_mut().zip(src).zip(&bias[off..off + dh]) {
                *d = s + b;
            }
        }
    }
    let mut scores = vec![0f32; len * len];
    // SAFETY: the views address `qkv` and `scores`, sized just above.
    unsafe {
        matmul(
            len,
            dh,
            len,
            dense(qkv.as_ptr(), w),
            transposed(qkv.as_ptr().add(dh), w),
            scores.as_mut_ptr(),
            len,
            Dst::Overwrite,
            1,
        );
        for row in scores.chunks_exact_mut(len) {
            scaled_softmax(row, scale);
        }
        matmul(
            len,
            len,
            dh,
            dense(scores.as_ptr(), len),
            dense(qkv.as_ptr().add(2 * dh), w),
            out,
            out_stride,
            Dst::Overwrite,
            1,
        );
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::Head;
    use crate::embed::minilm::forward::sized;
    use crate::embed::minilm::math::prefetch;

    /// The head width the fused kernel is written for (MiniLM, BERT-base).
    pub const DH: usize = 32;
    /// Query rows per block. Both tiles of a block, the scores (12 rows ×
    /// 2 vectors of keys) and the context sum (12 rows × 2 vectors of
    /// values), keep 24 of the 32 zmm registers as accumulators, and each
    /// reads kᵀ or v once per 12 query rows. (6-row score tiles 4 vectors
    /// wide read all of kᵀ twice per block, from L2: the head's packed
    /// operands are twice L1's size.)
    const B: usize = 12;
    const W: usize = 16;

    /// Whether this CPU runs the fused kernel: AVX-512F by the same cached
    /// detection as the row kernels' dispatch, and AVX-512DQ for the
    /// softmax's `vreduceps` (every AVX-512 CPU but the Xeon Phi has both).
    pub fn available() -> bool {
        crate::embed::minilm::math::has_avx512() && is_x86_feature_detected!("avx512dq")
    }

    #[target_feature(enable = "avx512f,avx512dq")]
    pub unsafe fn attend(head: &Head<'_>, out: *mut f32, out_stride: usize) {
        let Head { bias, hidden, len, .. } = *head;
        let bv = &bias[2 * hidden..2 * hidden + DH];
        if len == 0 {
            return;
        }
        let lp = len.div_ceil(W) * W;
        // Row stride of the score block: one vector past `lp`, so a
        // 256-token head's 12 score rows are not 1 KiB apart and do not all
        // fall into 4 of L1's 64 sets.
        let ld = lp + W;
        // Scores in base 2: softmax(s) = 2^(s·log₂e − max) / Σ, so the
        // exponential needs no multiply of its own.
        let scale = _mm512_set1_ps(std::f32::consts::LOG2_E / (DH as f32).sqrt());
        let mut scratch = SCRATCH.take();
        // q and v packed [len × DH]; kᵀ scaled, in strips of 32 keys (16
        // for a last odd vector), each strip [DH × width] and contiguous so
        // a score tile reads its 4 KiB in order; scores [B × ld]. kᵀ's
        // columns past `len` are zeros: their scores are finite, and the
        // softmax masks them out.
        let kt = sized(&mut scratch.kt, DH * lp);
        let qp = sized(&mut scratch.qp, len.div_ceil(B) * B * DH);
        let vp = sized(&mut scratch.vp, len * DH);
        let s = sized(&mut scratch.s, B * ld);
        // SAFETY (whole body): every read stays inside the head's rows as
        // the caller promised; scratch indices stay inside their buffers.
        unsafe {
            pack(head, qp, kt, vp, lp, scale);
            // Query rows past `len` score zero; their results are never used.
            qp[len * DH..].fill(0.0);
            let mut i0 = 0;
            while i0 < len {
                let rows = (len - i0).min(B);
                let qb: &[f32; B * DH] = qp[i0 * DH..(i0 + B) * DH].try_into().unwrap();
                let mut max = [_mm512_set1_ps(f32::NEG_INFINITY); B];
                let mut j0 = 0;
                while j0 + 2 * W <= lp {
                    scores::<2>(qb, kt.as_ptr().add(j0 * DH), j0, len - j0, s.as_mut_ptr(), ld, &mut max);
                    j0 += 2 * W;
                }
                if j0 < lp {
                    scores::<1>(qb, kt.as_ptr().add(j0 * DH), j0, len - j0, s.as_mut_ptr(), ld, &mut max);
                }
                let mut inv = [0f32; B];
                for r in 0..rows {
                    inv[r] = softmax(s.as_mut_ptr().add(r * ld), len, _mm512_reduce_max_ps(max[r]));
                }
                // The next block's output rows, for writing: each row's
                // 128 bytes are two lines of a matrix in L3, and the stores
                // would otherwise wait on reading them in. Attention on
                // 256-token inputs at batch 32: 90.8–93.2 → 87.4–88.3 ms a
                // batch (4 alternating runs, one of them disturbed).
                for r in i0 + B..(i0 + 2 * B).min(len) {
                    let o = out.wrapping_add(r * out_stride);
                    _mm_prefetch::<_MM_HINT_ET0>(o.cast());
                    _mm_prefetch::<_MM_HINT_ET0>(o.wrapping_add(W).cast());
                }
                context(s.as_ptr(), ld, len, vp.as_ptr(), bv, &inv, rows, out.add(i0 * out_stride), out_stride);
                i0 += B;
            }
        }
        SCRATCH.set(scratch);
    }

    /// Packs the head: `qp` rows of q plus its bias; `kt`, k scaled and
    /// transposed into strips (see `attend`); `vp` rows of v. Sixteen rows
    /// at a time, so k's transpose is two in-register 16 × 16 transposes
    /// instead of 32 scattered stores a row.
    ///
    /// k's bias is left out: it adds q·b_k to every score of a query row,
    /// the same for every key, and softmax is blind to such a shift.
    ///
    /// # Safety
    /// As for `attend`; `qp` holds at least `len` rows, `vp` `len`, `kt`
    /// `DH × lp`.
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn pack(head: &Head<'_>, qp: &mut [f32], kt: &mut [f32], vp: &mut [f32], lp: usize, scale: __m512) {
        let Head { q, bias, stride, hidden, len, .. } = *head;
        // SAFETY: `bias` covers q's DH floats (asserted in `attend`); rows
        // below `len` are the caller's; the scratch slices are sized as
        // documented, and every group of 16 keys lies in one strip.
        unsafe {
            let bq = [0, W].map(|o| _mm512_loadu_ps(bias[o..o + W].as_ptr()));
            let mut g = 0;
            while g < len {
                let rows = (len - g).min(W);
                for j in g..g + rows {
                    let row = q.add(j * stride);
                    // The rows are `stride` floats apart, too far for the
                    // hardware prefetchers: fetch the row 16 ahead.
                    let ahead = row.wrapping_add(W * stride);
                    for part in 0..3 {
                        prefetch(ahead.wrapping_add(part * hidden), DH);
                    }
                    for (h, b) in bq.iter().enumerate() {
                        let v = _mm512_add_ps(_mm512_loadu_ps(row.add(h * W)), *b);
                        _mm512_storeu_ps(qp.as_mut_ptr().add(j * DH + h * W), v);
                        let v = _mm512_loadu_ps(row.add(2 * hidden + h * W));
                        _mm512_storeu_ps(vp.as_mut_ptr().add(j * DH + h * W), v);
                    }
                }
                // The strip holding keys g .. g + 16, and where in its rows they go.
                let j0 = g / (2 * W) * (2 * W);
                let width = (lp - j0).min(2 * W);
                let dst = kt.as_mut_ptr().add(j0 * DH + (g - j0));
                for h in 0..DH / W {
                    // A constant trip count keeps `m` in registers; the
                    // tail group's missing rows are zeros.
                    let mut m = [_mm512_setzero_ps(); W];
                    for (r, m) in m.iter_mut().enumerate() {
                        if r < rows {
                            *m = _mm512_mul_ps(_mm512_loadu_ps(q.add((g + r) * stride + hidden + h * W)), scale);
                        }
                    }
                    transpose16(&mut m);
                    for (d, m) in m.iter().enumerate() {
                        _mm512_storeu_ps(dst.add((h * W + d) * width), *m);
                    }
                }
                g += W;
            }
        }
    }

    /// Transposes a 16 × 16 block of floats held as 16 row vectors: pairs
    /// of rows interleaved, then pairs of pairs, then 128-bit lanes
    /// gathered in two steps; 64 shuffles.
    #[target_feature(enable = "avx512f,avx512dq")]
    #[inline]
    fn transpose16(m: &mut [__m512; W]) {
        let mut t = [_mm512_setzero_ps(); W];
        for p in 0..W / 2 {
            t[2 * p] = _mm512_unpacklo_ps(m[2 * p], m[2 * p + 1]);
            t[2 * p + 1] = _mm512_unpackhi_ps(m[2 * p], m[2 * p + 1]);
        }
        // c[4·k + q]: column 4L + k of 128-bit lane L, rows 4q .. 4q + 4.
        let mut c = [_mm512_setzero_ps(); W];
        for q in 0..4 {
            let (lo0, hi0) = (_mm512_castps_pd(t[4 * q]), _mm512_castps_pd(t[4 * q + 1]));
            let (lo1, hi1) = (_mm512_castps_pd(t[4 * q + 2]), _mm512_castps_pd(t[4 * q + 3]));
            c[q] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo0, lo1));
            c[4 + q] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo0, lo1));
            c[8 + q] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi0, hi1));
            c[12 + q] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi0, hi1));
        }
        for k in 0..4 {
            let even01 = _mm512_shuffle_f32x4::<0x88>(c[4 * k], c[4 * k + 1]);
            let odd01 = _mm512_shuffle_f32x4::<0xDD>(c[4 * k], c[4 * k + 1]);
            let even23 = _mm512_shuffle_f32x4::<0x88>(c[4 * k + 2], c[4 * k + 3]);
            let odd23 = _mm512_shuffle_f32x4::<0xDD>(c[4 * k + 2], c[4 * k + 3]);
            m[k] = _mm512_shuffle_f32x4::<0x88>(even01, even23);
            m[8 + k] = _mm512_shuffle_f32x4::<0xDD>(even01, even23);
            m[4 + k] = _mm512_shuffle_f32x4::<0x88>(odd01, odd23);
            m[12 + k] = _mm512_shuffle_f32x4::<0xDD>(odd01, odd23);
        }
    }

    /// Per-thread buffers of the fused kernel, kept between heads: a head
    /// of 256 tokens needs about 110 KB of them, and allocating and zeroing
    /// that anew for each of the 72 heads of every sequence showed up in
    /// the profile.
    #[derive(Default)]
    struct Scratch {
        qp: Vec<f32>,
        kt: Vec<f32>,
        vp: Vec<f32>,
        s: Vec<f32>,
    }

    thread_local! {
        static SCRATCH: std::cell::RefCell<Scratch> = Default::default();
    }

    /// Scores of the block's query rows `qb` against the strip of key
    /// columns `j0 .. j0 + 16·C` (`strip`: kᵀ's `[DH × 16·C]` for them),
    /// into `s` (row stride `ld`), folding each row's scores into its
    /// running `max`: the first `valid` columns count, the padding past
    /// `len` does not.
    #[target_feature(enable = "avx512f,avx512dq")]
    #[inline]
    unsafe fn scores<const C: usize>(
        qb: &[f32; B * DH],
        strip: *const f32,
        j0: usize,
        valid: usize,
        s: *mut f32,
        ld: usize,
        max: &mut [__m512; B],
    ) {
        let mut acc = [[_mm512_setzero_ps(); C]; B];
        // SAFETY: `strip` holds DH rows of 16·C; `s` holds B rows of `ld` ≥ j0 + 16·C.
        unsafe {
            for d in 0..DH {
                let mut k = [_mm512_setzero_ps(); C];
                for (c, k) in k.iter_mut().enumerate() {
                    *k = _mm512_loadu_ps(strip.add((d * C + c) * W));
                }
                for (r, acc) in acc.iter_mut().enumerate() {
                    let qv = _mm512_set1_ps(qb[r * DH + d]);
                    for c in 0..C {
                        acc[c] = _mm512_fmadd_ps(qv, k[c], acc[c]);
                    }
                }
            }
            for c in 0..C {
                let mask =
                    if valid >= (c + 1) * W { !0 } else { ((1u32 << valid.saturating_sub(c * W)) - 1) as __mmask16 };
                for (r, acc) in acc.iter().enumerate() {
                    _mm512_storeu_ps(s.add(r * ld + j0 + c * W), acc[c]);
                    max[r] = _mm512_mask_max_ps(max[r], mask, max[r], acc[c]);
                }
            }
        }
    }

    /// Replaces the first `len` entries of a score row (padded to a
    /// multiple of 16) by `2^(s - max)`, zeroes the padding, and returns
    /// 1 / Σ so the context can be normalized once per row.
    #[target_feature(enable = "avx512f,avx512dq")]
    #[inline]
    unsafe fn softmax(row: *mut f32, len: usize, max: f32) -> f32 {
        let full = len / W;
        let tail = len % W;
        let mask: __mmask16 = ((1u32 << tail) - 1) as __mmask16;
        let max = _mm512_set1_ps(max);
        // SAFETY: the row holds `len` rounded up to 16 floats.
        unsafe {
            let mut sum = _mm512_setzero_ps();
            for c in 0..full {
                let e = exp2(_mm512_sub_ps(_mm512_loadu_ps(row.add(c * W)), max));
                _mm512_storeu_ps(row.add(c * W), e);
                sum = _mm512_add_ps(sum, e);
            }
            if tail > 0 {
                let e = _mm512_maskz_mov_ps(mask, exp2(_mm512_sub_ps(_mm512_loadu_ps(row.add(full * W)), max)));
                _mm512_storeu_ps(row.add(full * W), e);
                sum = _mm512_add_ps(sum, e);
            }
            1.0 / _mm512_reduce_add_ps(sum)
        }
    }

    /// `out[r] = inv[r] · Σ_j s[r][j] · v[j] + bv` for the block's real
    /// rows: v's bias comes out of the sum because each row of softmax
    /// weights sums to one.
    #[target_feature(enable = "avx512f,avx512dq")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn context(
        s: *const f32,
        ld: usize,
        len: usize,
        vp: *const f32,
        bv: &[f32],
        inv: &[f32; B],
        rows: usize,
        out: *mut f32,
        out_stride: usize,
    ) {
        let mut acc = [[_mm512_setzero_ps(); 2]; B];
        // SAFETY: `s` holds B rows of `ld` > len, `vp` len rows of DH, and
        // `out` the block's `rows` rows.
        unsafe {
            for j in 0..len {
                let v0 = _mm512_loadu_ps(vp.add(j * DH));
                let v1 = _mm512_loadu_ps(vp.add(j * DH + W));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let p = _mm512_set1_ps(*s.add(r * ld + j));
                    acc[0] = _mm512_fmadd_ps(p, v0, acc[0]);
                    acc[1] = _mm512_fmadd_ps(p, v1, acc[1]);
                }
            }
            let (b0, b1) = (_mm512_loadu_ps(bv.as_ptr()), _mm512_loadu_ps(bv[W..2 * W].as_ptr()));
            for r in 0..rows {
                let k = _mm512_set1_ps(inv[r]);
                _mm512_storeu_ps(out.add(r * out_stride), _mm512_fmadd_ps(acc[r][0], k, b0));
                _mm512_storeu_ps(out.add(r * out_stride + W), _mm512_fmadd_ps(acc[r][1], k, b1));
            }
        }
    }

    /// 2^f for 0 ≤ f < 1: near-minimax for relative error (7.5e-8 in exact
    /// arithmetic, 1.6e-7 evaluated in f32), lowest degree first.
    const EXP2_POLY: [f32; 6] = [0.999_999_94, 0.693_153_1, 0.240_153_61, 0.055_826_318, 0.008_989_34, 0.001_877_576_7];

    /// 2^x on sixteen lanes, for the softmax's x ≤ 0: x = n + f with
    /// n = ⌊x⌋, f from one `vreduceps`, the polynomial for 2^f, and
    /// `vscalefps`, which multiplies by 2^⌊x⌋ itself and takes the far
    /// negative tail to 0 without a clamp. Seven operations a vector: the
    /// round-to-nearest and subtraction it replaces were three µops, and
    /// e^x with a clamp and a two-step range reduction took eleven.
    #[target_feature(enable = "avx512f,avx512dq")]
    #[inline]
    pub(super) fn exp2(x: __m512) -> __m512 {
        let f = _mm512_reduce_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(x);
        let mut p = _mm512_set1_ps(EXP2_POLY[5]);
        for &c in EXP2_POLY[..5].iter().rev() {
            p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(c));
        }
        _mm512_scalef_ps(p, x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain f64 attention, the definition.
    fn naive(qkv: &[f32], stride: usize, hidden: usize, len: usize, dh: usize) -> Vec<f32> {
        let at = |i: usize, off: usize, d: usize| f64::from(qkv[i * stride + off + d]);
        let mut out = vec![0f32; len * dh];
        for i in 0..len {
            let s: Vec<f64> = (0..len)
                .map(|j| (0..dh).map(|d| at(i, 0, d) * at(j, hidden, d)).sum::<f64>() / (dh as f64).sqrt())
                .collect();
            let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = s.iter().map(|v| (v - m).exp()).collect();
            let z: f64 = e.iter().sum();
            for d in 0..dh {
                out[i * dh + d] = (e.iter().enumerate().map(|(j, p)| p * at(j, 2 * hidden, d)).sum::<f64>() / z) as f32;
            }
        }
        out
    }

    fn check(len: usize, dh: usize) {
        let heads = 2;
        let hidden = heads * dh;
        let stride = 3 * hidden;
        let qkv: Vec<f32> = (0..len * stride).map(|i| ((i as f32) * 0.37).sin() * 2.0).collect();
        let bias: Vec<f32> = (0..stride).map(|i| ((i as f32) * 0.61).cos()).collect();
        let biased: Vec<f32> = qkv.iter().enumerate().map(|(i, v)| v + bias[i % stride]).collect();
        for hd in 0..heads {
            let head = Head { q: qkv[hd * dh..].as_ptr(), bias: &bias[hd * dh..], stride, hidden, len, dh };
            let mut out = vec![f32::NAN; len * hidden];
            unsafe { attend(&head, out[hd * dh..].as_mut_ptr(), hidden) };
            let want = naive(&biased[hd * dh..], stride, hidden, len, dh);
            for i in 0..len {
                for d in 0..dh {
                    let got = out[i * hidden + hd * dh + d];
                    let w = want[i * dh + d];
                    assert!((got - w).abs() < 1e-4, "len {len} dh {dh} head {hd} ({i},{d}): {got} vs {w}");
                }
            }
        }
    }

    #[test]
    fn matches_the_definition_for_every_tail_shape() {
        // Lengths that leave every remainder of the 6- and 12-row and 16-column blocks.
        for len in [1, 5, 6, 7, 12, 13, 16, 17, 23, 31, 33, 64, 70, 100, 129] {
            check(len, 32);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn exp2_is_accurate_over_the_softmax_range() {
        use std::arch::x86_64::*;
        if !avx512::available() {
            return; // the fused kernel, its only user, does not run here
        }
        let xs: Vec<f32> = (0..=64_000).map(|i| -(i as f32) / 1000.0).chain([-126.5, -150.0, -1e30]).collect();
        for chunk in xs.chunks(16) {
            let mut lanes = [0f32; 16];
            lanes[..chunk.len()].copy_from_slice(chunk);
            let mut got = [0f32; 16];
            // SAFETY: AVX-512F and DQ are available, checked above.
            unsafe { _mm512_storeu_ps(got.as_mut_ptr(), avx512::exp2(_mm512_loadu_ps(lanes.as_ptr()))) };
            for (&x, &g) in lanes.iter().zip(&got) {
                let want = 2f64.powf(f64::from(x));
                if want < 1e-37 {
                    assert!(g.abs() < 1e-37, "2^{x}: {g}");
                } else {
                    let rel = (f64::from(g) / want - 1.0).abs();
                    assert!(rel < 4e-7, "2^{x}: {g} vs {want} (relative error {rel:e})");
                }
            }
        }
    }

    #[test]
    fn other_head_widths_take_the_gemm_path() {
        for len in [1, 9, 40] {
            check(len, 8);
        }
    }
}
