//! Self-attention for one (sequence, head): `softmax(q·kᵀ / √d) · v`.
//!
//! MiniLM's heads are 32 wide, so the two products per head are GEMMs with
//! an inner or outer dimension of 32: too thin for a general GEMM to pack
//! and tile well, and on 256-token inputs they are a tenth of the FLOPs. On
//! CPUs with AVX-512 a fused kernel does the head in one pass over blocks of
//! query rows: scores for the block (kᵀ packed once, pre-scaled by
//! log₂e/√d so the softmax can use 2^x),
//! softmax in registers-sized strides while the block is in L1, then the
//! block's weighted sum of v. CPUs with AVX2 and FMA but no AVX-512 (or a
//! build without the `avx512` feature) run the same kernel 8 lanes wide.
//! Elsewhere, or for other head widths, the head runs as two `gemm` calls
//! around a row softmax.

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
    // SAFETY: forwarded from the caller.
    unsafe { attend_with(Kernel::best(head.dh), head, out, out_stride) }
}

/// The implementations of a head. One is chosen per head by [`Kernel::best`];
/// tests run each one this CPU has, whichever is best.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    /// Fused, 16 lanes: AVX-512F and DQ in a build with the `avx512` feature.
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// Fused, 8 lanes: AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// Two `gemm` calls around a row softmax: any CPU, any head width.
    Gemm,
}

/// Every kernel, fastest first.
#[cfg(target_arch = "x86_64")]
const KERNELS: [Kernel; 3] = [Kernel::Avx512, Kernel::Avx2, Kernel::Gemm];
#[cfg(not(target_arch = "x86_64"))]
const KERNELS: [Kernel; 1] = [Kernel::Gemm];

impl Kernel {
    /// Whether this kernel runs heads `dh` wide on this CPU and build.
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
    fn runs(self, dh: usize) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => dh == avx512::DH && avx512::available(),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => dh == avx2::DH && avx2::available(),
            Kernel::Gemm => true,
        }
    }

    /// The fastest kernel that runs heads `dh` wide here.
    fn best(dh: usize) -> Kernel {
        KERNELS.into_iter().find(|k| k.runs(dh)).unwrap_or(Kernel::Gemm)
    }
}

/// [`attend`] on a given kernel, which must run here (asserted).
///
/// # Safety
/// As for [`attend`].
unsafe fn attend_with(kernel: Kernel, head: &Head<'_>, out: *mut f32, out_stride: usize) {
    assert!(head.bias.len() >= 2 * head.hidden + head.dh, "a head's bias covers its q, k and v");
    assert!(kernel.runs(head.dh), "{kernel:?} does not run heads {} wide on this CPU", head.dh);
    // SAFETY (every arm): the kernel's CPU features and head width were
    // checked just above; the caller vouches for the pointers.
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => unsafe { avx512::attend(head, out, out_stride) },
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => unsafe { avx2::attend(head, out, out_stride) },
        Kernel::Gemm => unsafe { attend_gemm(head, out, out_stride) },
    }
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

/// Per-thread buffers of the fused kernels, kept between heads: a head of
/// 256 tokens needs about 110 KB of them, and allocating and zeroing that
/// anew for each of the 72 heads of every sequence showed up in the profile.
#[cfg(target_arch = "x86_64")]
#[derive(Default)]
struct Scratch {
    qp: Vec<f32>,
    kt: Vec<f32>,
    vp: Vec<f32>,
    s: Vec<f32>,
}

#[cfg(target_arch = "x86_64")]
thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = Default::default();
}

/// Asks for output rows `rows` (`32` floats each at `out`, row stride
/// `out_stride`) in L1, for writing: each row's 128 bytes are two lines of
/// a matrix in L3, and the stores would otherwise wait on reading them in.
/// The fused kernels call it for the next block while they finish this one.
#[cfg(target_arch = "x86_64")]
#[inline]
fn prefetch_for_write(out: *mut f32, out_stride: usize, rows: std::ops::Range<usize>) {
    use std::arch::x86_64::{_MM_HINT_ET0, _mm_prefetch};
    for r in rows {
        let o = out.wrapping_add(r * out_stride);
        // SAFETY: a prefetch reads nothing the program sees and cannot
        // fault, whatever the address.
        unsafe {
            _mm_prefetch::<_MM_HINT_ET0>(o.cast());
            _mm_prefetch::<_MM_HINT_ET0>(o.wrapping_add(16).cast());
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{Head, SCRATCH, prefetch_for_write};
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
                // Attention on 256-token inputs at batch 32: 90.8–93.2 →
                // 87.4–88.3 ms a batch (4 alternating runs, one of them
                // disturbed).
                prefetch_for_write(out, out_stride, i0 + B..(i0 + 2 * B).min(len));
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
    pub(super) const EXP2_POLY: [f32; 6] =
        [0.999_999_94, 0.693_153_1, 0.240_153_61, 0.055_826_318, 0.008_989_34, 0.001_877_576_7];

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

/// The fused kernel 8 lanes wide, for CPUs with AVX2 and FMA: the AVX-512
/// kernel's blocks and layout with half-width vectors, 16 registers instead
/// of 32, and without AVX-512's masks, `vreduceps` and `vscalefps`.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Head, SCRATCH, prefetch_for_write};
    use crate::embed::minilm::forward::sized;
    use crate::embed::minilm::math::{prefetch, transpose8};

    /// The head width the fused kernel is written for (MiniLM, BERT-base).
    pub const DH: usize = 32;
    /// Query rows per block. The score tile (6 rows × 2 vectors of keys)
    /// and the context tile (6 rows × 2 vectors, half a head's width per
    /// pass) each keep 12 of the 16 ymm registers as accumulators, with two
    /// for the kᵀ or v vectors and one for the broadcast.
    const B: usize = 6;
    const W: usize = 8;
    /// Keys per strip of kᵀ: the width of a score tile.
    const STRIP: usize = 2 * W;
    /// Rows ahead that packing prefetches: the same 16 as the AVX-512
    /// kernel's, two of this kernel's groups.
    const AHEAD: usize = 16;

    /// Whether this CPU runs the kernel.
    pub fn available() -> bool {
        crate::embed::minilm::math::has_avx2_fma()
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn attend(head: &Head<'_>, out: *mut f32, out_stride: usize) {
        let Head { bias, hidden, len, .. } = *head;
        let bv = &bias[2 * hidden..2 * hidden + DH];
        if len == 0 {
            return;
        }
        let lp = len.div_ceil(W) * W;
        // One vector past `lp`, so that 256-token rows are not 1 KiB apart.
        let ld = lp + W;
        let scale = _mm256_set1_ps(std::f32::consts::LOG2_E / (DH as f32).sqrt());
        let mut scratch = SCRATCH.take();
        // Laid out as in the AVX-512 kernel, with strips of 16 keys (8 for
        // a last odd vector).
        let kt = sized(&mut scratch.kt, DH * lp);
        let qp = sized(&mut scratch.qp, len.div_ceil(B) * B * DH);
        let vp = sized(&mut scratch.vp, len * DH);
        let s = sized(&mut scratch.s, B * ld);
        // SAFETY (whole body): every read stays inside the head's rows as
        // the caller promised; scratch indices stay inside their buffers.
        unsafe {
            pack(head, qp, kt, vp, lp, scale);
            qp[len * DH..].fill(0.0);
            let mut i0 = 0;
            while i0 < len {
                let rows = (len - i0).min(B);
                let qb: &[f32; B * DH] = qp[i0 * DH..(i0 + B) * DH].try_into().unwrap();
                let mut max = [_mm256_set1_ps(f32::NEG_INFINITY); B];
                let mut j0 = 0;
                while j0 + STRIP <= lp {
                    scores::<2>(qb, kt.as_ptr().add(j0 * DH), j0, len - j0, s.as_mut_ptr(), ld, &mut max);
                    j0 += STRIP;
                }
                if j0 < lp {
                    scores::<1>(qb, kt.as_ptr().add(j0 * DH), j0, len - j0, s.as_mut_ptr(), ld, &mut max);
                }
                let mut inv = [0f32; B];
                for r in 0..rows {
                    inv[r] = softmax(s.as_mut_ptr().add(r * ld), len, hmax(max[r]));
                }
                prefetch_for_write(out, out_stride, i0 + B..(i0 + 2 * B).min(len));
                for half in 0..2 {
                    let at = out.add(i0 * out_stride + half * STRIP);
                    context(
                        s.as_ptr(),
                        ld,
                        len,
                        vp.as_ptr().add(half * STRIP),
                        &bv[half * STRIP..],
                        &inv,
                        rows,
                        at,
                        out_stride,
                    );
                }
                i0 += B;
            }
        }
        SCRATCH.set(scratch);
    }

    /// Packs the head as the AVX-512 kernel's `pack` does, eight rows at a
    /// time: k's transpose is four in-register 8 × 8 transposes per group.
    ///
    /// # Safety
    /// As for `attend`; `qp` holds at least `len` rows, `vp` `len`, `kt`
    /// `DH × lp`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pack(head: &Head<'_>, qp: &mut [f32], kt: &mut [f32], vp: &mut [f32], lp: usize, scale: __m256) {
        let Head { q, bias, stride, hidden, len, .. } = *head;
        // SAFETY: `bias` covers q's DH floats (asserted before dispatch);
        // rows below `len` are the caller's; the scratch slices are sized
        // as documented, and every group of 8 keys lies in one strip.
        unsafe {
            let bq: [__m256; DH / W] = std::array::from_fn(|h| _mm256_loadu_ps(bias[h * W..].as_ptr()));
            let mut g = 0;
            while g < len {
                let rows = (len - g).min(W);
                for j in g..g + rows {
                    let row = q.add(j * stride);
                    let ahead = row.wrapping_add(AHEAD * stride);
                    for part in 0..3 {
                        prefetch(ahead.wrapping_add(part * hidden), DH);
                    }
                    for (h, b) in bq.iter().enumerate() {
                        let v = _mm256_add_ps(_mm256_loadu_ps(row.add(h * W)), *b);
                        _mm256_storeu_ps(qp.as_mut_ptr().add(j * DH + h * W), v);
                        let v = _mm256_loadu_ps(row.add(2 * hidden + h * W));
                        _mm256_storeu_ps(vp.as_mut_ptr().add(j * DH + h * W), v);
                    }
                }
                let j0 = g / STRIP * STRIP;
                let width = (lp - j0).min(STRIP);
                let dst = kt.as_mut_ptr().add(j0 * DH + (g - j0));
                for h in 0..DH / W {
                    let mut m = [_mm256_setzero_ps(); W];
                    for (r, m) in m.iter_mut().enumerate() {
                        if r < rows {
                            *m = _mm256_mul_ps(_mm256_loadu_ps(q.add((g + r) * stride + hidden + h * W)), scale);
                        }
                    }
                    transpose8(&mut m);
                    for (d, m) in m.iter().enumerate() {
                        _mm256_storeu_ps(dst.add((h * W + d) * width), *m);
                    }
                }
                g += W;
            }
        }
    }

    /// Scores of the block's query rows `qb` against the strip of key
    /// columns `j0 .. j0 + 8·C` (`strip`: kᵀ's `[DH × 8·C]` for them), into
    /// `s` (row stride `ld`), folding each row's scores into its running
    /// `max`: the first `valid` columns count, the padding past `len` does
    /// not.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn scores<const C: usize>(
        qb: &[f32; B * DH],
        strip: *const f32,
        j0: usize,
        valid: usize,
        s: *mut f32,
        ld: usize,
        max: &mut [__m256; B],
    ) {
        let mut acc = [[_mm256_setzero_ps(); C]; B];
        // SAFETY: `strip` holds DH rows of 8·C; `s` holds B rows of `ld` ≥ j0 + 8·C.
        unsafe {
            for d in 0..DH {
                let mut k = [_mm256_setzero_ps(); C];
                for (c, k) in k.iter_mut().enumerate() {
                    *k = _mm256_loadu_ps(strip.add((d * C + c) * W));
                }
                for (r, acc) in acc.iter_mut().enumerate() {
                    let qv = _mm256_set1_ps(qb[r * DH + d]);
                    for c in 0..C {
                        acc[c] = _mm256_fmadd_ps(qv, k[c], acc[c]);
                    }
                }
            }
            for c in 0..C {
                let live = valid.saturating_sub(c * W);
                for (r, acc) in acc.iter().enumerate() {
                    _mm256_storeu_ps(s.add(r * ld + j0 + c * W), acc[c]);
                    let counted = if live >= W { acc[c] } else { below(live, acc[c], f32::NEG_INFINITY) };
                    max[r] = _mm256_max_ps(max[r], counted);
                }
            }
        }
    }

    /// `v`'s first `n` lanes, and `fill` in the others: AVX2 has no mask
    /// registers, so the lanes are chosen by comparing their indices.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn below(n: usize, v: __m256, fill: f32) -> __m256 {
        let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let keep = _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), lanes);
        _mm256_blendv_ps(_mm256_set1_ps(fill), v, _mm256_castsi256_ps(keep))
    }

    /// Replaces the first `len` entries of a score row (padded to a
    /// multiple of 8) by `2^(s - max)`, zeroes the padding, and returns
    /// 1 / Σ so the context can be normalized once per row.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn softmax(row: *mut f32, len: usize, max: f32) -> f32 {
        let (full, tail) = (len / W, len % W);
        let max = _mm256_set1_ps(max);
        // SAFETY: the row holds `len` rounded up to 8 floats.
        unsafe {
            let mut sum = _mm256_setzero_ps();
            for c in 0..full {
                let e = exp2(_mm256_sub_ps(_mm256_loadu_ps(row.add(c * W)), max));
                _mm256_storeu_ps(row.add(c * W), e);
                sum = _mm256_add_ps(sum, e);
            }
            if tail > 0 {
                let e = below(tail, exp2(_mm256_sub_ps(_mm256_loadu_ps(row.add(full * W)), max)), 0.0);
                _mm256_storeu_ps(row.add(full * W), e);
                sum = _mm256_add_ps(sum, e);
            }
            1.0 / hsum(sum)
        }
    }

    /// `out[r][..16] = inv[r] · Σ_j s[r][j] · v[j][..16] + bv[..16]` for the
    /// block's real rows: one half of the head's width (`vp` and `bv` start
    /// at that half), as the AVX-512 kernel's `context` does for all of it.
    #[target_feature(enable = "avx2,fma")]
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
        let mut acc = [[_mm256_setzero_ps(); 2]; B];
        // SAFETY: `s` holds B rows of `ld` > len, `vp` len rows of DH (16
        // of them from this half on), and `out` the block's `rows` rows.
        unsafe {
            for j in 0..len {
                let v0 = _mm256_loadu_ps(vp.add(j * DH));
                let v1 = _mm256_loadu_ps(vp.add(j * DH + W));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let p = _mm256_set1_ps(*s.add(r * ld + j));
                    acc[0] = _mm256_fmadd_ps(p, v0, acc[0]);
                    acc[1] = _mm256_fmadd_ps(p, v1, acc[1]);
                }
            }
            let (b0, b1) = (_mm256_loadu_ps(bv.as_ptr()), _mm256_loadu_ps(bv[W..2 * W].as_ptr()));
            for r in 0..rows {
                let k = _mm256_set1_ps(inv[r]);
                _mm256_storeu_ps(out.add(r * out_stride), _mm256_fmadd_ps(acc[r][0], k, b0));
                _mm256_storeu_ps(out.add(r * out_stride + W), _mm256_fmadd_ps(acc[r][1], k, b1));
            }
        }
    }

    /// The largest of the eight lanes.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn hmax(v: __m256) -> f32 {
        let m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)))
    }

    /// The sum of the eight lanes.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn hsum(v: __m256) -> f32 {
        let m = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let m = _mm_add_ps(m, _mm_movehl_ps(m, m));
        _mm_cvtss_f32(_mm_add_ss(m, _mm_movehdup_ps(m)))
    }

    /// 2^x on eight lanes, for the softmax's x ≤ 0: x = n + f with
    /// n = ⌊x⌋, the AVX-512 kernel's polynomial for 2^f ∈ [1, 2), and n
    /// added to that result's exponent field. x is first raised to −126,
    /// so the exponent stays normal; below that the result is at most
    /// 2^−125 instead of 0, nothing next to a softmax row's largest term, 1.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(super) fn exp2(x: __m256) -> __m256 {
        let x = _mm256_max_ps(x, _mm256_set1_ps(-126.0));
        let n = _mm256_floor_ps(x);
        let f = _mm256_sub_ps(x, n);
        let poly = super::avx512::EXP2_POLY;
        let mut p = _mm256_set1_ps(poly[5]);
        for &c in poly[..5].iter().rev() {
            p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(c));
        }
        let n = _mm256_slli_epi32::<23>(_mm256_cvtps_epi32(n));
        _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), n))
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

    fn check(kernel: Kernel, len: usize, dh: usize) {
        check_on(kernel, len, dh, |i, _| ((i as f32) * 0.37).sin() * 2.0);
    }

    /// Runs both heads of a `[len × 3·hidden]` QKV matrix whose element `i`
    /// (in column `col`) is `value(i, col)`, plus a bias, against [`naive`].
    fn check_on(kernel: Kernel, len: usize, dh: usize, value: impl Fn(usize, usize) -> f32) {
        let heads = 2;
        let hidden = heads * dh;
        let stride = 3 * hidden;
        let qkv: Vec<f32> = (0..len * stride).map(|i| value(i, i % stride)).collect();
        let bias: Vec<f32> = (0..stride).map(|i| ((i as f32) * 0.61).cos()).collect();
        let biased: Vec<f32> = qkv.iter().enumerate().map(|(i, v)| v + bias[i % stride]).collect();
        for hd in 0..heads {
            let head = Head { q: qkv[hd * dh..].as_ptr(), bias: &bias[hd * dh..], stride, hidden, len, dh };
            let mut out = vec![f32::NAN; len * hidden];
            unsafe { attend_with(kernel, &head, out[hd * dh..].as_mut_ptr(), hidden) };
            let want = naive(&biased[hd * dh..], stride, hidden, len, dh);
            for i in 0..len {
                for d in 0..dh {
                    let got = out[i * hidden + hd * dh + d];
                    let w = want[i * dh + d];
                    assert!((got - w).abs() < 1e-4, "{kernel:?} len {len} dh {dh} head {hd} ({i},{d}): {got} vs {w}");
                }
            }
        }
    }

    #[test]
    fn matches_the_definition_for_every_tail_shape() {
        // Lengths that leave every remainder of the 6- and 12-row blocks,
        // the 8- and 16-column vectors and the 16- and 32-key strips; each
        // kernel this CPU runs, not only the one `attend` picks.
        let lens = [1, 5, 6, 7, 8, 9, 12, 13, 15, 16, 17, 23, 24, 25, 31, 33, 40, 64, 70, 100, 129, 256];
        for kernel in KERNELS.into_iter().filter(|k| k.runs(32)) {
            for len in lens {
                check(kernel, len, 32);
            }
        }
    }

    #[test]
    fn rows_of_scores_far_below_zero_are_normalized_by_their_own_max() {
        // Every score near −150: were the zero scores of the padding past
        // `len` taken into a row's max, every exponential would underflow.
        let dh = 32;
        let hidden = 2 * dh;
        let value = |i: usize, col: usize| match col / hidden {
            0 => 5.0,
            1 => -5.0 + 0.5 * (i as f32 * 0.37).sin(),
            _ => (i as f32 * 0.37).sin() * 2.0,
        };
        for kernel in KERNELS.into_iter().filter(|k| k.runs(dh)) {
            for len in [5, 13, 23, 70] {
                check_on(kernel, len, dh, value);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_fused_kernels_run_wherever_the_cpu_has_their_features() {
        let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
        assert_eq!(Kernel::Avx2.runs(32), avx2, "the AVX2 kernel runs (and is tested) on every AVX2+FMA CPU");
        let avx512 = cfg!(feature = "avx512") && avx2 && is_x86_feature_detected!("avx512f");
        assert_eq!(Kernel::Avx512.runs(32), avx512 && is_x86_feature_detected!("avx512dq"));
        assert!(!Kernel::Avx2.runs(8) && !Kernel::Avx512.runs(8), "the fused kernels are 32 wide only");
        let best = if Kernel::Avx512.runs(32) {
            Kernel::Avx512
        } else if avx2 {
            Kernel::Avx2
        } else {
            Kernel::Gemm
        };
        assert_eq!(Kernel::best(32), best);
        assert_eq!(Kernel::best(8), Kernel::Gemm);
    }

    /// Checks a vectorized 2^x against f64 over the softmax's range and
    /// its far tail; `exp2` maps 16 lanes.
    fn check_exp2(exp2: impl Fn(&[f32; 16]) -> [f32; 16]) {
        let xs: Vec<f32> = (0..=64_000).map(|i| -(i as f32) / 1000.0).chain([-126.5, -150.0, -1e30]).collect();
        for chunk in xs.chunks(16) {
            let mut lanes = [0f32; 16];
            lanes[..chunk.len()].copy_from_slice(chunk);
            let got = exp2(&lanes);
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

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn exp2_is_accurate_over_the_softmax_range() {
        use std::arch::x86_64::*;
        if avx512::available() {
            check_exp2(|lanes| {
                let mut got = [0f32; 16];
                // SAFETY: AVX-512F and DQ are available, checked above.
                unsafe { _mm512_storeu_ps(got.as_mut_ptr(), avx512::exp2(_mm512_loadu_ps(lanes.as_ptr()))) };
                got
            });
        }
        if avx2::available() {
            check_exp2(|lanes| {
                let mut got = [0f32; 16];
                for h in 0..2 {
                    // SAFETY: AVX2 and FMA are available, checked above.
                    unsafe {
                        let x = _mm256_loadu_ps(lanes[8 * h..].as_ptr());
                        _mm256_storeu_ps(got[8 * h..].as_mut_ptr(), avx2::exp2(x));
                    }
                }
                got
            });
        }
    }

    #[test]
    fn other_head_widths_take_the_gemm_path() {
        assert_eq!(Kernel::best(8), Kernel::Gemm);
        for len in [1, 9, 40] {
            check(Kernel::Gemm, len, 8);
        }
    }
}
