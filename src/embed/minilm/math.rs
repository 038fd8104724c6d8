//! The numeric kernels of the forward pass: GEMM through the `gemm` crate
//! (packed, cache-blocked, AVX2/AVX-512 FMA micro-kernels) and the small
//! fused row operations around it.

use gemm::Parallelism;

/// A row-major view: element (i, j) at `ptr[i * row_stride + j * col_stride]`.
#[derive(Clone, Copy)]
pub struct View {
    /// Address of element (0, 0).
    pub ptr: *const f32,
    /// Distance in elements between consecutive rows.
    pub row_stride: isize,
    /// Distance in elements between consecutive columns (1 when rows are contiguous).
    pub col_stride: isize,
}

impl View {
    /// The same view without its first `r` rows. A method, so closures capture
    /// the whole (Send) view rather than its pointer field.
    fn skip_rows(self, r: usize) -> View {
        View { ptr: self.ptr.wrapping_offset(r as isize * self.row_stride), ..self }
    }
}

// SAFETY: a view is an address and strides; reading through it takes
// `unsafe`, whose caller vouches for the memory on whatever thread it runs.
unsafe impl Send for View {}
unsafe impl Sync for View {}

/// A raw pointer that may cross threads: every task writes a disjoint
/// region (its own rows, or its own head's columns of its own rows).
#[derive(Clone, Copy)]
pub(super) struct SharedMut(pub(super) *mut f32);
// SAFETY: see the type's doc; the regions written through it never overlap.
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// Through a method, so closures capture the whole (Send) wrapper.
    pub(super) fn get(self) -> *mut f32 {
        self.0
    }
}

/// What a product does with the matrix it is written to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Dst {
    /// `c = a·b`.
    Overwrite,
    /// `c += a·b`: a residual connection summed by the GEMM itself, which
    /// reads each tile of `c` as it stores it (the cache line has to come in
    /// for the store anyway), instead of by a pass that reads the product
    /// back from L3.
    Accumulate,
}

/// Rows per thread below which a product is not split by rows: a query of
/// a few tokens is better split by the `gemm` crate along its columns.
const MIN_ROWS_PER_THREAD: usize = 64;

/// `c[m×n] (row stride ldc) = a[m×k] · b[k×n]`, or `+=` (see [`Dst`]).
///
/// Large products are split by rows, one single-threaded `gemm` call per
/// thread, rather than threaded by the crate. The crate splits each depth
/// block's tiles between the threads and joins them at the end of every
/// block (three joins for the 1536-deep down-projection); split by rows,
/// each thread runs its whole product without waiting for the other, at
/// the cost of packing the weights once per thread instead of once. On
/// 256-token inputs at batch 32: feed-forward 401 → 391 ms a batch and the
/// output projection 53.0 → 51.2 ms (medians of 7 alternating runs).
///
/// # Safety
/// The views must address `m×k` and `k×n` valid elements, and `c` must
/// address `m×n` elements (row stride `ldc`) that nothing else touches
/// during the call.
#[allow(clippy::too_many_arguments)]
pub unsafe fn matmul(
    m: usize,
    k: usize,
    n: usize,
    a: View,
    b: View,
    c: *mut f32,
    ldc: usize,
    dst: Dst,
    threads: usize,
) {
    if threads <= 1 || m * n * k < 1 << 18 {
        // SAFETY: forwarded from the caller.
        return unsafe { product(m, k, n, a, b, c, ldc, dst, Parallelism::None) };
    }
    if m < threads * MIN_ROWS_PER_THREAD {
        // SAFETY: forwarded from the caller.
        return unsafe { product(m, k, n, a, b, c, ldc, dst, Parallelism::Rayon(threads)) };
    }
    use rayon::prelude::*;
    let part = m.div_ceil(threads);
    // Each part's rows of `c` are written by that part alone.
    let c = SharedMut(c);
    (0..m.div_ceil(part)).into_par_iter().with_max_len(1).for_each(|t| {
        let r0 = t * part;
        let rows = part.min(m - r0);
        let a = a.skip_rows(r0);
        // SAFETY: rows r0 .. r0 + rows of the caller's `a` and `c`, which
        // no other part of this split touches.
        unsafe { product(rows, k, n, a, b, c.get().wrapping_add(r0 * ldc), ldc, dst, Parallelism::None) };
    });
}

/// One call of the `gemm` crate; see [`matmul`].
#[allow(clippy::too_many_arguments)]
unsafe fn product(m: usize, k: usize, n: usize, a: View, b: View, c: *mut f32, ldc: usize, dst: Dst, par: Parallelism) {
    let read_dst = dst == Dst::Accumulate;
    // SAFETY: forwarded from the caller.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c,
            1,
            ldc as isize,
            read_dst,
            a.ptr,
            a.col_stride,
            a.row_stride,
            b.ptr,
            b.col_stride,
            b.row_stride,
            if read_dst { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

/// `rows × w` row-major matrix view.
pub fn dense(ptr: *const f32, row_stride: usize) -> View {
    View { ptr, row_stride: row_stride as isize, col_stride: 1 }
}

/// The transpose of a row-major matrix with `row_stride`, as a view.
pub fn transposed(ptr: *const f32, row_stride: usize) -> View {
    View { ptr, row_stride: 1, col_stride: row_stride as isize }
}

/// Starts loading the cache lines of `floats` floats at `p` into L1: a
/// hint that never faults, whatever the address. The passes that read
/// activations living in L3 (attention's packing, GELU, layer norm) waited
/// on each line in turn; the hardware prefetchers did not run far enough
/// ahead of them.
#[inline]
pub(crate) fn prefetch(p: *const f32, floats: usize) {
    #[cfg(target_arch = "x86_64")]
    for off in (0..floats).step_by(16) {
        // SAFETY: prefetching reads nothing the program sees and cannot fault.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.wrapping_add(off).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, floats);
}

/// Transposes an 8 × 8 block of floats held as 8 row vectors: pairs of
/// rows interleaved, then pairs of pairs, then the 128-bit halves swapped
/// into place; 24 shuffles. For the AVX2 kernels' packing (attention's kᵀ,
/// the panel GEMM's activation blocks).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(super) fn transpose8(m: &mut [std::arch::x86_64::__m256; 8]) {
    use std::arch::x86_64::*;
    // t[2p], t[2p + 1]: rows 2p and 2p + 1 interleaved, low and high pairs.
    let mut t = [_mm256_setzero_ps(); 8];
    for p in 0..4 {
        t[2 * p] = _mm256_unpacklo_ps(m[2 * p], m[2 * p + 1]);
        t[2 * p + 1] = _mm256_unpackhi_ps(m[2 * p], m[2 * p + 1]);
    }
    // u[4q + c]: columns c and c + 4 of rows 4q .. 4q + 4.
    let mut u = [_mm256_setzero_ps(); 8];
    for q in 0..2 {
        let (lo0, hi0, lo1, hi1) = (t[4 * q], t[4 * q + 1], t[4 * q + 2], t[4 * q + 3]);
        u[4 * q] = _mm256_shuffle_ps::<0x44>(lo0, lo1);
        u[4 * q + 1] = _mm256_shuffle_ps::<0xEE>(lo0, lo1);
        u[4 * q + 2] = _mm256_shuffle_ps::<0x44>(hi0, hi1);
        u[4 * q + 3] = _mm256_shuffle_ps::<0xEE>(hi0, hi1);
    }
    for c in 0..4 {
        m[c] = _mm256_permute2f128_ps::<0x20>(u[c], u[4 + c]);
        m[4 + c] = _mm256_permute2f128_ps::<0x31>(u[c], u[4 + c]);
    }
}

/// Whether the kernels run their AVX-512 builds: the CPU has AVX-512F and
/// the crate was built with the `avx512` feature. By the one cached
/// detection that every kernel's choice of build goes through.
pub(crate) fn has_avx512() -> bool {
    simd_level() == 2
}

/// Whether this CPU has AVX2 and FMA (true also where the kernels run
/// their AVX-512 builds: every CPU with AVX-512F has both).
pub(crate) fn has_avx2_fma() -> bool {
    simd_level() >= 1
}

/// The instruction set the kernels run, by the same detection, for
/// reports: "AVX-512", "AVX2+FMA" or "baseline".
pub(crate) fn isa() -> &'static str {
    match simd_level() {
        2 => "AVX-512",
        1 => "AVX2+FMA",
        _ => "baseline",
    }
}

/// The widest instruction set the kernels may run, whatever the CPU has.
///
/// A process-wide choice, made once before the first embedding: every
/// kernel's dispatch and the weights' layout (panels for AVX2) follow the
/// same cached level, so it cannot change under a loaded model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IsaLimit {
    /// The widest the CPU and the build allow (AVX-512 with the default
    /// `avx512` feature).
    Native,
    /// AVX2+FMA at most: what a CPU without AVX-512 runs, also on one that
    /// has it (to measure that path, or where AVX-512 lowers the clock).
    Avx2,
}

impl std::str::FromStr for IsaLimit {
    type Err = IsaError;

    fn from_str(s: &str) -> Result<IsaLimit, IsaError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "native" => Ok(IsaLimit::Native),
            "avx2" => Ok(IsaLimit::Avx2),
            _ => Err(IsaError::Unknown(s.to_string())),
        }
    }
}

/// A limit that cannot be taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IsaError {
    /// Not a limit's name.
    #[error("unknown instruction-set limit {0:?} (expected native or avx2)")]
    Unknown(String),
    /// The kernels were chosen (something embedded) under another limit.
    #[error("the kernels already run {0}: an instruction-set limit must be set before the first embedding")]
    AlreadyChosen(&'static str),
}

/// The level [`IsaLimit`] allows (2 = any), read once by [`simd_level`].
static LIMIT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(2);

/// Holds the kernels to `limit`. Must come before anything embeds (the
/// level is detected once and cached); afterwards it succeeds only if it
/// changes nothing, else says which set already runs.
pub fn limit_isa(limit: IsaLimit) -> Result<(), IsaError> {
    let cap = match limit {
        IsaLimit::Native => 2,
        IsaLimit::Avx2 => 1,
    };
    LIMIT.store(cap, std::sync::atomic::Ordering::SeqCst);
    if simd_level() == detected_level().min(cap) { Ok(()) } else { Err(IsaError::AlreadyChosen(isa())) }
}

/// Which wider build of the row kernels runs: 2 for AVX-512F, 1 for
/// AVX2+FMA, 0 for neither, held to [`limit_isa`]'s limit. AVX-512 only
/// with the `avx512` feature, so a build without it runs the AVX2 kernels
/// on any CPU, as `gemm` without its `x86-v4` feature does.
///
/// The `gemm` crate dispatches by itself and is not held by the limit:
/// under AVX2 every product of all-MiniLM-L6-v2 runs on the panel kernel
/// and the fused attention kernel, never on `gemm` (its shapes are whole
/// panels and 32-wide heads).
fn simd_level() -> u8 {
    static LEVEL: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| detected_level().min(LIMIT.load(std::sync::atomic::Ordering::SeqCst)))
}

/// What this CPU and build could run: see [`simd_level`].
fn detected_level() -> u8 {
    #[cfg(target_arch = "x86_64")]
    {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            0
        } else if cfg!(feature = "avx512") && is_x86_feature_detected!("avx512f") {
            2
        } else {
            1
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}

/// Defines `pub fn $name` that runs `$generic` compiled for AVX-512F or
/// AVX2+FMA when the CPU has them (the crate itself targets baseline
/// x86-64, whose SSE2 loops are a quarter as wide and have no FMA), else
/// the baseline build. With `by_hand`, the AVX-512 build (and with a
/// second `by_hand`, the AVX2 one) is the function at that path instead of
/// the compiled generic loop.
macro_rules! dispatch {
    ($(#[$doc:meta])* $name:ident, by_hand $avx512:path, by_hand $avx:path, $generic:ident, ($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            match simd_level() {
                // SAFETY: the features were detected at run time.
                2 => return unsafe { $avx512($($arg),*) },
                // SAFETY: as above.
                1 => return unsafe { $avx($($arg),*) },
                _ => {}
            }
            $generic($($arg),*)
        }
    };
    ($(#[$doc:meta])* $name:ident, by_hand $avx512:path, $avx:ident, $generic:ident, ($($arg:ident: $ty:ty),*)) => {
        dispatch!($(#[$doc])* $name, by_hand $avx512, by_hand $avx, $generic, ($($arg: $ty),*));

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $avx($($arg: $ty),*) {
            $generic($($arg),*)
        }
    };
    ($(#[$doc:meta])* $name:ident, $avx512:ident, $avx:ident, $generic:ident, ($($arg:ident: $ty:ty),*)) => {
        dispatch!($(#[$doc])* $name, by_hand $avx512, $avx, $generic, ($($arg: $ty),*));

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx2,fma")]
        unsafe fn $avx512($($arg: $ty),*) {
            $generic($($arg),*)
        }
    };
}

dispatch!(
    /// `x = layer_norm(x + bias) * gamma + beta`, one row: the step that
    /// closes each attention and feed-forward block, on a row that already
    /// holds the residual sum, with the dense layer's bias folded in.
    add_layer_norm, by_hand avx512::add_layer_norm, by_hand avx2::add_layer_norm, add_layer_norm_generic,
    (x: &mut [f32], bias: Option<&[f32]>, gamma: &[f32], beta: &[f32], eps: f32)
);

dispatch!(
    /// Exact-form (erf) GELU, as BERT was trained with, fused with the bias add.
    bias_gelu, by_hand avx512::bias_gelu, by_hand avx2::bias_gelu, bias_gelu_generic, (row: &mut [f32], bias: &[f32])
);

dispatch!(
    /// In-place softmax of one row, scaled first.
    scaled_softmax, scaled_softmax_avx512, scaled_softmax_avx2, scaled_softmax_generic, (row: &mut [f32], scale: f32)
);

#[inline(always)]
fn add_layer_norm_generic(x: &mut [f32], bias: Option<&[f32]>, gamma: &[f32], beta: &[f32], eps: f32) {
    if let Some(bias) = bias {
        for (a, b) in x.iter_mut().zip(bias) {
            *a += b;
        }
    }
    let n = gamma.len() as f32;
    let mean = lane_sum(x, |v| v) / n;
    let var = lane_sum(x, |v| (v - mean) * (v - mean)) / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((v, g), b) in x.iter_mut().zip(gamma).zip(beta) {
        *v = (*v - mean) * inv * g + b;
    }
}

#[inline(always)]
fn bias_gelu_generic(row: &mut [f32], bias: &[f32]) {
    for (v, b) in row.iter_mut().zip(bias) {
        let x = *v + b;
        *v = 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// Lanes for reductions: eight independent partial results let the
/// compiler keep a sum or max in one vector register (a single running
/// float sum cannot be vectorized without reassociating it).
const LANES: usize = 8;

#[inline(always)]
fn lane_sum(row: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            acc[i] += f(c[i]);
        }
    }
    acc.iter().sum::<f32>() + chunks.remainder().iter().map(|&v| f(v)).sum::<f32>()
}

#[inline(always)]
fn scaled_softmax_generic(row: &mut [f32], scale: f32) {
    let mut m = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact_mut(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            c[i] *= scale;
            m[i] = if c[i] > m[i] { c[i] } else { m[i] };
        }
    }
    let mut max = m.iter().fold(f32::NEG_INFINITY, |a, &b| if b > a { b } else { a });
    for v in chunks.into_remainder() {
        *v *= scale;
        max = if *v > max { *v } else { max };
    }
    let mut acc = [0f32; LANES];
    let mut chunks = row.chunks_exact_mut(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            let e = exp(c[i] - max);
            c[i] = e;
            acc[i] += e;
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for v in chunks.into_remainder() {
        *v = exp(*v - max);
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in row.iter_mut() {
        *v *= inv;
    }
}

/// e^x for x ≤ 0 down to −87 (softmax's range), relative error under
/// 2e-7: range reduction by ln 2 with round-to-nearest done by the
/// 1.5·2²³ trick, a degree-6 polynomial, and the exponent set directly.
/// Branch-free, so softmax loops vectorize (libm's `expf` is a call per
/// element and was 6 % of a long-input embedding).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 × 2^23
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + MAGIC) - MAGIC;
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let bits = ((n as i32 + 127) << 23) as u32;
    p * f32::from_bits(bits)
}

/// erf(x) ≈ x · P(x²) / Q(x²) on [−4, 4] (and ±1 beyond): the
/// coefficients Eigen and TensorFlow use for float erf, highest power first.
#[allow(clippy::excessive_precision)] // the published coefficients, as published
const ERF_P: [f32; 7] =
    [-2.726_142_2e-10, 2.770_681_4e-8, -2.101_024e-6, -5.692_506_4e-5, -7.349_906_3e-4, -2.954_6e-3, -1.609_603_3e-2];
const ERF_Q: [f32; 5] = [-1.456_607_2e-5, -2.133_740_6e-4, -1.682_827e-3, -7.373_329e-3, -1.426_474e-2];

/// erf as a branch-free rational function: absolute error under 5e-7 on
/// all inputs, no `exp`, so the compiler vectorizes the GELU loop. An
/// `exp`-based erf made GELU cost more than the GEMM before it.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = ERF_P[1..].iter().fold(ERF_P[0], |p, &c| x2 * p + c);
    let q = ERF_Q[1..].iter().fold(ERF_Q[0], |q, &c| x2 * q + c);
    x * p / q
}

/// The AVX-512 GELU and layer norm, by hand. GELU: compiled from the
/// generic loop, the erf's division is a 16-lane `vdivps`, one of the
/// slowest vector instructions; here it is a 14-bit reciprocal estimate
/// refined by one Newton step (relative error ≈ 2⁻²⁸, below f32's own
/// rounding). GELU went from 3.8 % to 3.4 % of a long-input profile.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{ERF_P, ERF_Q, add_layer_norm_generic};

    /// Independent accumulators per reduction: one 16-lane chain waits on
    /// its own 4-cycle add for each of a 384-wide row's 24 vectors.
    const CHAINS: usize = 4;
    const ROW_STEP: usize = 16 * CHAINS;

    /// Layer norm by hand for rows a multiple of 64 wide (384 here), other
    /// widths through the generic loop. Compiled from the generic loop, its
    /// sums ran as one 8-lane chain each, bound by the adds' latency: the
    /// pass over `[tokens × 384]` took about as long as GELU's over
    /// `[tokens × 1536]`. Two passes as before (the mean, then the squared
    /// deviations from it), so the variance has no cancellation.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn add_layer_norm(x: &mut [f32], bias: Option<&[f32]>, gamma: &[f32], beta: &[f32], eps: f32) {
        let n = x.len();
        if !n.is_multiple_of(ROW_STEP) || gamma.len() != n || beta.len() != n || bias.is_some_and(|b| b.len() != n) {
            return add_layer_norm_generic(x, bias, gamma, beta, eps);
        }
        let p = x.as_mut_ptr();
        // SAFETY: every access is below `n`, the length of all four slices.
        unsafe {
            let mut acc = [_mm512_setzero_ps(); CHAINS];
            for i in (0..n).step_by(ROW_STEP) {
                for (c, acc) in acc.iter_mut().enumerate() {
                    let at = p.add(i + 16 * c);
                    let mut v = _mm512_loadu_ps(at);
                    if let Some(b) = bias {
                        v = _mm512_add_ps(v, _mm512_loadu_ps(b.as_ptr().add(i + 16 * c)));
                        _mm512_storeu_ps(at, v);
                    }
                    *acc = _mm512_add_ps(*acc, v);
                }
            }
            let mean = _mm512_set1_ps(_mm512_reduce_add_ps(sum(acc)) / n as f32);
            let mut acc = [_mm512_setzero_ps(); CHAINS];
            for i in (0..n).step_by(ROW_STEP) {
                for (c, acc) in acc.iter_mut().enumerate() {
                    let d = _mm512_sub_ps(_mm512_loadu_ps(p.add(i + 16 * c)), mean);
                    *acc = _mm512_fmadd_ps(d, d, *acc);
                }
            }
            let var = _mm512_reduce_add_ps(sum(acc)) / n as f32;
            let inv = _mm512_set1_ps(1.0 / (var + eps).sqrt());
            for i in (0..n).step_by(16) {
                let d = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(p.add(i)), mean), inv);
                let y =
                    _mm512_fmadd_ps(d, _mm512_loadu_ps(gamma.as_ptr().add(i)), _mm512_loadu_ps(beta.as_ptr().add(i)));
                _mm512_storeu_ps(p.add(i), y);
            }
        }
    }

    /// The accumulators' sum, as a tree: written out for exactly four.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn sum(acc: [__m512; CHAINS]) -> __m512 {
        const { assert!(CHAINS == 4, "`sum` adds exactly four accumulators") };
        _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]))
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn bias_gelu(row: &mut [f32], bias: &[f32]) {
        let n = row.len().min(bias.len());
        let (r, b) = (row.as_mut_ptr(), bias.as_ptr());
        let mut i = 0;
        // SAFETY: full vectors stay below `n`; the tail is masked to it.
        unsafe {
            while i + 16 <= n {
                // 4 KiB ahead, into the rows after this one: the pass reads
                // `[tokens × 1536]` from L3 and waited on every line. (A
                // burst of the next row's lines at the start of each row
                // did not help; one line per vector, this far ahead, took
                // the pass from 25 to 15 ms a batch on 256-token inputs.)
                super::prefetch(r.wrapping_add(i + 1024), 1);
                let x = _mm512_add_ps(_mm512_loadu_ps(r.add(i)), _mm512_loadu_ps(b.add(i)));
                _mm512_storeu_ps(r.add(i), gelu(x));
                i += 16;
            }
            if i < n {
                let m = ((1u32 << (n - i)) - 1) as __mmask16;
                let x = _mm512_add_ps(_mm512_maskz_loadu_ps(m, r.add(i)), _mm512_maskz_loadu_ps(m, b.add(i)));
                _mm512_mask_storeu_ps(r.add(i), m, gelu(x));
            }
        }
    }

    /// `0.5 · x · (1 + erf(x / √2))` on sixteen lanes.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn gelu(x: __m512) -> __m512 {
        let t = _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::FRAC_1_SQRT_2));
        let t = _mm512_min_ps(_mm512_max_ps(t, _mm512_set1_ps(-4.0)), _mm512_set1_ps(4.0));
        let t2 = _mm512_mul_ps(t, t);
        let mut p = _mm512_set1_ps(ERF_P[0]);
        for &c in &ERF_P[1..] {
            p = _mm512_fmadd_ps(t2, p, _mm512_set1_ps(c));
        }
        let mut q = _mm512_set1_ps(ERF_Q[0]);
        for &c in &ERF_Q[1..] {
            q = _mm512_fmadd_ps(t2, q, _mm512_set1_ps(c));
        }
        let r = _mm512_rcp14_ps(q);
        let r = _mm512_mul_ps(r, _mm512_fnmadd_ps(q, r, _mm512_set1_ps(2.0)));
        let erf = _mm512_mul_ps(_mm512_mul_ps(t, p), r);
        let half = _mm512_mul_ps(x, _mm512_set1_ps(0.5));
        _mm512_fmadd_ps(half, erf, half)
    }
}

/// The AVX2 GELU and layer norm, by hand, for the reasons the AVX-512 ones
/// are: compiled from the generic loops, layer norm's sums run as one
/// 8-lane chain bound by the adds' latency, and GELU divides with `vdivps`.
/// Here layer norm keeps four chains, and GELU's division is a 12-bit
/// reciprocal estimate refined by one Newton step (relative error ≈ 2⁻²²,
/// well inside the erf's own 5e-7).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{ERF_P, ERF_Q, add_layer_norm_generic};

    const W: usize = 8;
    /// Independent accumulators per reduction: one 8-lane chain waits on
    /// its own 4-cycle add for each of a 384-wide row's 48 vectors.
    const CHAINS: usize = 4;
    const ROW_STEP: usize = W * CHAINS;

    /// Layer norm by hand for rows a multiple of 32 wide (384 here), other
    /// widths through the generic loop; two passes, as the AVX-512 build.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn add_layer_norm(x: &mut [f32], bias: Option<&[f32]>, gamma: &[f32], beta: &[f32], eps: f32) {
        let n = x.len();
        if !n.is_multiple_of(ROW_STEP) || gamma.len() != n || beta.len() != n || bias.is_some_and(|b| b.len() != n) {
            return add_layer_norm_generic(x, bias, gamma, beta, eps);
        }
        let p = x.as_mut_ptr();
        // SAFETY: every access is below `n`, the length of all four slices.
        unsafe {
            let mut acc = [_mm256_setzero_ps(); CHAINS];
            for i in (0..n).step_by(ROW_STEP) {
                for (c, acc) in acc.iter_mut().enumerate() {
                    let at = p.add(i + W * c);
                    let mut v = _mm256_loadu_ps(at);
                    if let Some(b) = bias {
                        v = _mm256_add_ps(v, _mm256_loadu_ps(b.as_ptr().add(i + W * c)));
                        _mm256_storeu_ps(at, v);
                    }
                    *acc = _mm256_add_ps(*acc, v);
                }
            }
            let mean = _mm256_set1_ps(hsum(sum(acc)) / n as f32);
            let mut acc = [_mm256_setzero_ps(); CHAINS];
            for i in (0..n).step_by(ROW_STEP) {
                for (c, acc) in acc.iter_mut().enumerate() {
                    let d = _mm256_sub_ps(_mm256_loadu_ps(p.add(i + W * c)), mean);
                    *acc = _mm256_fmadd_ps(d, d, *acc);
                }
            }
            let var = hsum(sum(acc)) / n as f32;
            let inv = _mm256_set1_ps(1.0 / (var + eps).sqrt());
            for i in (0..n).step_by(W) {
                let d = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(p.add(i)), mean), inv);
                let y =
                    _mm256_fmadd_ps(d, _mm256_loadu_ps(gamma.as_ptr().add(i)), _mm256_loadu_ps(beta.as_ptr().add(i)));
                _mm256_storeu_ps(p.add(i), y);
            }
        }
    }

    /// The accumulators' sum, as a tree: written out for exactly four.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn sum(acc: [__m256; CHAINS]) -> __m256 {
        const { assert!(CHAINS == 4, "`sum` adds exactly four accumulators") };
        _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]))
    }

    /// The sum of the eight lanes.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn hsum(v: __m256) -> f32 {
        let m = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let m = _mm_add_ps(m, _mm_movehl_ps(m, m));
        _mm_cvtss_f32(_mm_add_ss(m, _mm_movehdup_ps(m)))
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn bias_gelu(row: &mut [f32], bias: &[f32]) {
        let n = row.len().min(bias.len());
        let (r, b) = (row.as_mut_ptr(), bias.as_ptr());
        let mut i = 0;
        // SAFETY: full vectors stay below `n`; the tail is masked to it.
        unsafe {
            while i + W <= n {
                // One line ahead per line read, 4 KiB on, as in the AVX-512 build.
                if i % 16 == 0 {
                    super::prefetch(r.wrapping_add(i + 1024), 1);
                }
                let x = _mm256_add_ps(_mm256_loadu_ps(r.add(i)), _mm256_loadu_ps(b.add(i)));
                _mm256_storeu_ps(r.add(i), gelu(x));
                i += W;
            }
            if i < n {
                let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
                let m = _mm256_cmpgt_epi32(_mm256_set1_epi32((n - i) as i32), lanes);
                let x = _mm256_add_ps(_mm256_maskload_ps(r.add(i), m), _mm256_maskload_ps(b.add(i), m));
                _mm256_maskstore_ps(r.add(i), m, gelu(x));
            }
        }
    }

    /// `0.5 · x · (1 + erf(x / √2))` on eight lanes.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn gelu(x: __m256) -> __m256 {
        let t = _mm256_mul_ps(x, _mm256_set1_ps(std::f32::consts::FRAC_1_SQRT_2));
        let t = _mm256_min_ps(_mm256_max_ps(t, _mm256_set1_ps(-4.0)), _mm256_set1_ps(4.0));
        let t2 = _mm256_mul_ps(t, t);
        let mut p = _mm256_set1_ps(ERF_P[0]);
        for &c in &ERF_P[1..] {
            p = _mm256_fmadd_ps(t2, p, _mm256_set1_ps(c));
        }
        let mut q = _mm256_set1_ps(ERF_Q[0]);
        for &c in &ERF_Q[1..] {
            q = _mm256_fmadd_ps(t2, q, _mm256_set1_ps(c));
        }
        let r = _mm256_rcp_ps(q);
        let r = _mm256_mul_ps(r, _mm256_fnmadd_ps(q, r, _mm256_set1_ps(2.0)));
        let erf = _mm256_mul_ps(_mm256_mul_ps(t, p), r);
        let half = _mm256_mul_ps(x, _mm256_set1_ps(0.5));
        _mm256_fmadd_ps(half, erf, half)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        for (x, want) in [
            (0.0f32, 0.0f64),
            (0.5, 0.520_499_877_8),
            (1.0, 0.842_700_792_9),
            (-1.5, -0.966_105_146_5),
            (3.0, 0.999_977_909_5),
        ] {
            assert!((f64::from(erf(x)) - want).abs() < 5e-7, "erf({x})");
        }
    }

    #[test]
    fn fast_exp_is_accurate_over_the_softmax_range() {
        for i in 0..=8700 {
            let x = -(i as f32) / 100.0;
            let (got, want) = (f64::from(exp(x)), f64::from(x).exp());
            assert!(((got - want) / want).abs() < 3e-7, "exp({x}) = {got}, want {want}");
        }
        assert!((exp(1.5) - 1.5f32.exp()).abs() / 1.5f32.exp() < 3e-7);
    }

    #[test]
    fn dispatched_kernels_agree_with_plain_math() {
        let mut row = vec![1.0f32, 2.0, 3.0, 4.0];
        scaled_softmax(&mut row, 0.5);
        let z: f32 = [0.5f32, 1.0, 1.5, 2.0].iter().map(|v| v.exp()).sum();
        assert!((row[3] - 2.0f32.exp() / z).abs() < 1e-6);
        let mut x = vec![1.0f32, 2.0, 3.0, 6.0];
        add_layer_norm(&mut x, None, &[1.0; 4], &[0.0; 4], 1e-12);
        assert!(x.iter().sum::<f32>().abs() < 1e-5);
        // x + bias = [2, 4, 6, 8]: mean 5, variance 5.
        let mut x = vec![1.0f32, 2.0, 3.0, 4.0];
        add_layer_norm(&mut x, Some(&[1.0, 2.0, 3.0, 4.0]), &[2.0; 4], &[1.0; 4], 0.0);
        let want = [-3.0f32, -1.0, 1.0, 3.0].map(|d| d / 5f32.sqrt() * 2.0 + 1.0);
        for (g, w) in x.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{x:?} vs {want:?}");
        }
        let mut g = vec![1.0f32];
        bias_gelu(&mut g, &[0.0]);
        assert!((g[0] - 0.841_344_7).abs() < 1e-6);
    }

    type LayerNorm = fn(&mut [f32], Option<&[f32]>, &[f32], &[f32], f32);
    type Gelu = fn(&mut [f32], &[f32]);

    /// The layer norms to test: the dispatched one and each hand-written
    /// build this CPU runs, whichever one the dispatch picks (a build
    /// without the `avx512` feature still has the AVX-512 kernels to test).
    fn layer_norms() -> Vec<(&'static str, LayerNorm)> {
        let mut builds: Vec<(&str, LayerNorm)> = vec![("dispatched", add_layer_norm)];
        #[cfg(target_arch = "x86_64")]
        {
            if has_avx2_fma() {
                // SAFETY: AVX2 and FMA are detected.
                let f: LayerNorm = |x, b, g, be, eps| unsafe { avx2::add_layer_norm(x, b, g, be, eps) };
                builds.push(("avx2", f));
            }
            if is_x86_feature_detected!("avx512f") {
                // SAFETY: AVX-512F is detected.
                let f: LayerNorm = |x, b, g, be, eps| unsafe { avx512::add_layer_norm(x, b, g, be, eps) };
                builds.push(("avx512", f));
            }
        }
        builds
    }

    /// The GELUs to test, as [`layer_norms`] chooses them.
    fn gelus() -> Vec<(&'static str, Gelu)> {
        let mut builds: Vec<(&str, Gelu)> = vec![("dispatched", bias_gelu)];
        #[cfg(target_arch = "x86_64")]
        {
            if has_avx2_fma() {
                // SAFETY: AVX2 and FMA are detected.
                let f: Gelu = |row, bias| unsafe { avx2::bias_gelu(row, bias) };
                builds.push(("avx2", f));
            }
            if is_x86_feature_detected!("avx512f") {
                // SAFETY: AVX-512F is detected.
                let f: Gelu = |row, bias| unsafe { avx512::bias_gelu(row, bias) };
                builds.push(("avx512", f));
            }
        }
        builds
    }

    #[test]
    fn every_build_of_layer_norm_matches_f64_on_model_sized_rows() {
        // 384 takes the hand-written builds' own loops; 100 the generic one.
        for (build, layer_norm) in layer_norms() {
            for n in [384usize, 100] {
                let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.77).sin() * 3.0 + 5.0).collect();
                let bias: Vec<f32> = (0..n).map(|i| (i as f32 * 0.31).cos()).collect();
                let gamma: Vec<f32> = (0..n).map(|i| 1.0 + (i % 7) as f32 * 0.1).collect();
                let beta: Vec<f32> = (0..n).map(|i| (i % 5) as f32 * 0.2 - 0.4).collect();
                for bias in [Some(&bias[..]), None] {
                    let src: Vec<f64> =
                        (0..n).map(|i| f64::from(x[i]) + bias.map_or(0.0, |b| f64::from(b[i]))).collect();
                    let mean = src.iter().sum::<f64>() / n as f64;
                    let sd = (src.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
                    let mut row = x.clone();
                    layer_norm(&mut row, bias, &gamma, &beta, 1e-12);
                    for i in 0..n {
                        let want = (src[i] - mean) / sd * f64::from(gamma[i]) + f64::from(beta[i]);
                        let got = f64::from(row[i]);
                        let with = bias.is_some();
                        assert!((got - want).abs() < 2e-5, "{build}: n {n}, bias {with}, [{i}]: {got} vs {want}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_build_of_gelu_matches_the_definition_on_every_tail() {
        // 37 = two full 16-lane vectors and a masked tail of 5 (four 8-lane
        // vectors and a tail of 5); 1536, a model row.
        for (build, gelu) in gelus() {
            for n in [37usize, 1536] {
                let xs: Vec<f32> = (0..n).map(|i| (i % 37) as f32 / 3.0 - 6.0 + i as f32 * 1e-3).collect();
                let bias: Vec<f32> = (0..n).map(|i| (i % 3) as f32 * 0.25).collect();
                let mut row = xs.clone();
                gelu(&mut row, &bias);
                for i in 0..n {
                    let x = f64::from(xs[i] + bias[i]);
                    let want = 0.5 * x * (1.0 + erf_f64(x / std::f64::consts::SQRT_2));
                    let got = f64::from(row[i]);
                    assert!((got - want).abs() < 2e-6 * x.abs().max(1.0), "{build}: gelu({x}) = {got}, want {want}");
                }
            }
        }
    }

    /// erf by its Taylor series (|x| ≤ 3) or 1 − erfc's continued fraction:
    /// a reference independent of the rational approximation under test.
    fn erf_f64(x: f64) -> f64 {
        if x.abs() > 3.0 {
            let mut f = 0.0;
            for k in (1..60).rev() {
                f = (k as f64 / 2.0) / (x.abs() + f);
            }
            let erfc = (-x * x).exp() / std::f64::consts::PI.sqrt() / (x.abs() + f);
            return x.signum() * (1.0 - erfc);
        }
        let (mut term, mut sum) = (x, x);
        for n in 1..200 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    fn check_matmul(m: usize, k: usize, n: usize, threads: usize) {
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.3).sin()).collect();
        let bt: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.7).cos()).collect(); // b stored as [n×k]
        // Stale contents that overwriting must ignore.
        let mut c = vec![9f32; m * n];
        let product = |c: &mut [f32], dst| unsafe {
            matmul(m, k, n, dense(a.as_ptr(), k), transposed(bt.as_ptr(), k), c.as_mut_ptr(), n, dst, threads)
        };
        product(&mut c, Dst::Overwrite);
        let want = |i: usize, j: usize| -> f32 { (0..k).map(|p| a[i * k + p] * bt[j * k + p]).sum() };
        // Rounding grows with the depth of the sums.
        let tol = 1e-5 * (k as f32 / 8.0).max(1.0);
        for i in 0..m {
            for j in 0..n {
                assert!((c[i * n + j] - want(i, j)).abs() < tol, "{m}×{k}×{n} on {threads}: ({i},{j})");
            }
        }
        // Accumulating adds the product to what `c` holds: the residual sum.
        let before: Vec<f32> = (0..m * n).map(|i| (i % 97) as f32 - 4.0).collect();
        c.copy_from_slice(&before);
        product(&mut c, Dst::Accumulate);
        for i in 0..m {
            for j in 0..n {
                assert!(
                    (c[i * n + j] - (before[i * n + j] + want(i, j))).abs() < tol,
                    "{m}×{k}×{n} on {threads}: ({i},{j})"
                );
            }
        }
    }

    #[test]
    fn matmul_matches_a_naive_product_with_strides() {
        check_matmul(5, 7, 3, 1);
    }

    #[test]
    fn matmul_split_by_rows_covers_every_row_once() {
        // Split in two, and in three with a shorter last part.
        check_matmul(133, 40, 50, 2);
        check_matmul(200, 40, 50, 3);
        // Too few rows to split: the crate's own threading.
        check_matmul(100, 40, 70, 2);
    }
}
