//! Integer dot products of packed 4-bit codes ([`super::quant`]) with an
//! int8 query: the first pass of a search, run over every row.
//!
//! With AVX2 (checked once at run time) 32 code bytes are split into two
//! vectors of one code per byte and multiplied by the weights with
//! `vpmaddubsw` (unsigned codes × signed weights, pairs summed to i16:
//! at most 2·15·127, no saturation), widened to i32 by `vpmaddwd`, eight
//! rows at a time so one transpose-and-add reduces them together. A row
//! of 256 dimensions costs four loads and sixteen multiply instructions,
//! so two cores keep up with memory. Elsewhere, and for the rows past a
//! multiple of eight, a scalar loop that computes the same integers.

/// `out[r]` = Σ weights[d]·code_r[d] for each row `r` of `codes` (rows of
/// `row_len` bytes; `weights` holds `2 × row_len` entries in dimension
/// order). Exact integers, so the SIMD and scalar paths agree bit for bit.
pub fn scores(codes: &[u8], row_len: usize, weights: &[i8], out: &mut [i32]) {
    let rows = out.len();
    assert!(codes.len() >= rows * row_len && weights.len() == 2 * row_len && row_len.is_multiple_of(32));
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    {
        if avx2::available() {
            done = rows - rows % 8;
            // SAFETY: AVX2 was detected at run time; `codes` holds at least
            // `done` rows of `row_len` bytes, a multiple of 32, and
            // `weights` holds `2 × row_len` entries (asserted above).
            unsafe { avx2::scores(codes, row_len, weights, &mut out[..done]) };
        }
    }
    scores_scalar(&codes[done * row_len..], row_len, weights, &mut out[done..]);
}

/// [`scores`] without SIMD.
pub fn scores_scalar(codes: &[u8], row_len: usize, weights: &[i8], out: &mut [i32]) {
    for (r, o) in out.iter_mut().enumerate() {
        let code = &codes[r * row_len..(r + 1) * row_len];
        let mut sum = 0i32;
        for (block, bytes) in code.chunks_exact(32).enumerate() {
            let w = &weights[block * 64..block * 64 + 64];
            for (j, &b) in bytes.iter().enumerate() {
                sum += i32::from(b & 15) * i32::from(w[j]) + i32::from(b >> 4) * i32::from(w[32 + j]);
            }
        }
        *o = sum;
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;
    use std::sync::OnceLock;

    pub fn available() -> bool {
        static OK: OnceLock<bool> = OnceLock::new();
        *OK.get_or_init(|| is_x86_feature_detected!("avx2"))
    }

    /// One row's eight i32 partial sums.
    ///
    /// # Safety
    /// Requires AVX2; `row` points at `blocks × 32` readable bytes and `w`
    /// at `blocks × 64` weights.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn row(row: *const u8, w: *const i8, blocks: usize) -> __m256i {
        let mask = _mm256_set1_epi8(0x0f);
        let ones = _mm256_set1_epi16(1);
        let mut acc = _mm256_setzero_si256();
        for b in 0..blocks {
            // SAFETY: b < blocks, inside the bounds the caller promised.
            unsafe {
                let v = _mm256_loadu_si256(row.add(b * 32).cast());
                let lo = _mm256_and_si256(v, mask);
                let hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
                let wl = _mm256_loadu_si256(w.add(b * 64).cast());
                let wh = _mm256_loadu_si256(w.add(b * 64 + 32).cast());
                // Each i16 lane sums four products of at most 15·127: no overflow.
                let s = _mm256_add_epi16(_mm256_maddubs_epi16(lo, wl), _mm256_maddubs_epi16(hi, wh));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, ones));
            }
        }
        acc
    }

    /// # Safety
    /// Requires AVX2; `out.len()` is a multiple of 8, `codes` holds
    /// `out.len()` rows of `row_len` bytes (a multiple of 32) and `weights`
    /// `2 × row_len` entries.
    #[target_feature(enable = "avx2")]
    pub unsafe fn scores(codes: &[u8], row_len: usize, weights: &[i8], out: &mut [i32]) {
        let blocks = row_len / 32;
        let w = weights.as_ptr();
        for (g, chunk) in out.chunks_exact_mut(8).enumerate() {
            // SAFETY: rows 8g .. 8g + 8 are inside `codes`; the sums are
            // stored to the eight entries of `chunk`.
            unsafe {
                let base = codes.as_ptr().add(g * 8 * row_len);
                let r = |i: usize| row(base.add(i * row_len), w, blocks);
                let (a0, a1, a2, a3) = (r(0), r(1), r(2), r(3));
                let (a4, a5, a6, a7) = (r(4), r(5), r(6), r(7));
                // Horizontal adds within 128-bit lanes, then the two lanes
                // added: rows 0–3 from t0, 4–7 from t1.
                let t0 = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
                let t1 = _mm256_hadd_epi32(_mm256_hadd_epi32(a4, a5), _mm256_hadd_epi32(a6, a7));
                let sum =
                    _mm256_add_epi32(_mm256_permute2x128_si256(t0, t1, 0x20), _mm256_permute2x128_si256(t0, t1, 0x31));
                _mm256_storeu_si256(chunk.as_mut_ptr().cast(), sum);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code byte and weight value appears, extremes included.
    fn pattern(rows: usize, row_len: usize) -> (Vec<u8>, Vec<i8>) {
        let codes: Vec<u8> = (0..rows * row_len).map(|i| (i * 37 + i / 7) as u8).collect();
        let mut weights: Vec<i8> = (0..2 * row_len).map(|i| ((i * 53) % 255) as i8).collect();
        weights[0] = 127;
        weights[1] = -127;
        (codes, weights)
    }

    #[test]
    fn simd_and_scalar_agree() {
        for (rows, row_len) in [(37, 128), (64, 192), (8, 32), (3, 128)] {
            let (codes, weights) = pattern(rows, row_len);
            let mut fast = vec![0i32; rows];
            let mut plain = vec![0i32; rows];
            scores(&codes, row_len, &weights, &mut fast);
            scores_scalar(&codes, row_len, &weights, &mut plain);
            assert_eq!(fast, plain, "{rows} rows of {row_len} bytes");
        }
    }

    #[test]
    fn the_largest_sums_do_not_overflow() {
        let row_len = 128;
        let codes = vec![0xffu8; 16 * row_len];
        for w in [127i8, -127] {
            let mut out = vec![0i32; 16];
            scores(&codes, row_len, &vec![w; 2 * row_len], &mut out);
            assert!(out.iter().all(|&s| s == 15 * i32::from(w) * 256), "{out:?}");
        }
    }

    #[test]
    fn scalar_scores_follow_the_packing() {
        // One block: byte j's low nibble is dimension j, its high nibble 32 + j.
        let mut code = vec![0u8; 32];
        code[3] = 0x52; // dimension 3 = 2, dimension 35 = 5
        let mut w = vec![0i8; 64];
        w[3] = 10;
        w[35] = -1;
        let mut out = [0i32; 1];
        scores_scalar(&code, 32, &w, &mut out);
        assert_eq!(out[0], 2 * 10 - 5);
    }
}
