//! 4-bit scalar quantization of a segment's vectors, the compact code a
//! search scans first.
//!
//! Each dimension gets its own range over the segment (`low`, and a `step`
//! of a fifteenth of it) and each component the nearest of its sixteen
//! levels: 128 bytes a row for 256 dims, a quarter of the f16 row. A query
//! is not quantized to the rows' levels but weighted by them: `q·x̂ =
//! Σ q·low + Σ (q·step)·code`, the second sum in integers once `q·step` is
//! rounded to int8 ([`QueryCode`]), which is what [`super::nibble`] scores.
//!
//! Codes are packed for the SIMD unpacking: per 64 dimensions, 32 bytes
//! whose low nibbles hold dimensions 0–31 and high nibbles 32–63, so one
//! 32-byte load, a mask and a shift give two vectors of one code per byte
//! in dimension order. Dimensions past `dims` (up to a multiple of 64) are
//! zero codes with zero weights.

use half::f16;

/// Levels per dimension: 4 bits.
const LEVELS: f32 = 15.0;

/// Bytes of one row's code: half a byte per dimension, in blocks of 64 dimensions.
pub fn code_len(dims: usize) -> usize {
    dims.div_ceil(64) * 32
}

/// Per-dimension range statistics gathered while a segment's rows stream past.
#[derive(Debug, Clone)]
pub struct DimStats {
    min: Vec<f32>,
    max: Vec<f32>,
    sum: Vec<f64>,
    squares: Vec<f64>,
    rows: u64,
}

impl DimStats {
    /// No rows seen yet.
    pub fn new(dims: usize) -> DimStats {
        DimStats {
            min: vec![f32::INFINITY; dims],
            max: vec![f32::NEG_INFINITY; dims],
            sum: vec![0.0; dims],
            squares: vec![0.0; dims],
            rows: 0,
        }
    }

    /// Counts one row.
    pub fn push(&mut self, row: &[f16]) {
        for (d, v) in row.iter().enumerate() {
            let x = v.to_f32();
            self.min[d] = self.min[d].min(x);
            self.max[d] = self.max[d].max(x);
            self.sum[d] += f64::from(x);
            self.squares[d] += f64::from(x) * f64::from(x);
        }
        self.rows += 1;
    }
}

/// Outliers beyond this many standard deviations from a dimension's mean
/// are clipped to its end levels, so one stray component does not widen
/// every row's steps.
const CLIP_SIGMAS: f64 = 4.0;

/// A segment's quantizer: where each dimension's sixteen levels lie.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantizer {
    /// Each dimension's lowest level.
    pub low: Vec<f32>,
    /// Each dimension's distance between levels (0 when it is constant).
    pub step: Vec<f32>,
}

impl Quantizer {
    /// Levels spanning each dimension's values, clipped to
    /// [`CLIP_SIGMAS`] standard deviations around its mean.
    pub fn fit(stats: &DimStats) -> Quantizer {
        let n = stats.rows.max(1) as f64;
        let mut low = Vec::with_capacity(stats.min.len());
        let mut step = Vec::with_capacity(stats.min.len());
        for d in 0..stats.min.len() {
            if stats.rows == 0 {
                low.push(0.0);
                step.push(0.0);
                continue;
            }
            let mean = stats.sum[d] / n;
            let sd = (stats.squares[d] / n - mean * mean).max(0.0).sqrt();
            let lo = f64::from(stats.min[d]).max(mean - CLIP_SIGMAS * sd);
            let hi = f64::from(stats.max[d]).min(mean + CLIP_SIGMAS * sd).max(lo);
            low.push(lo as f32);
            step.push(((hi - lo) / f64::from(LEVELS)) as f32);
        }
        Quantizer { low, step }
    }

    /// Dimensions it quantizes.
    pub fn dims(&self) -> usize {
        self.low.len()
    }

    /// The level of component `x` in dimension `d`.
    fn level(&self, d: usize, x: f32) -> u8 {
        if self.step[d] <= 0.0 {
            return 0;
        }
        ((x - self.low[d]) / self.step[d]).round().clamp(0.0, LEVELS) as u8
    }

    /// Writes a row's packed code (`code_len(dims)` bytes).
    pub fn encode(&self, row: &[f16], code: &mut [u8]) {
        code.fill(0);
        for (d, v) in row.iter().enumerate() {
            let c = self.level(d, v.to_f32());
            let (block, j) = (d / 64, d % 64);
            code[block * 32 + j % 32] |= if j < 32 { c } else { c << 4 };
        }
    }

    /// The row a code stands for (what the first pass scores against).
    pub fn decode(&self, code: &[u8], out: &mut [f32]) {
        for (d, o) in out.iter_mut().enumerate() {
            *o = self.low[d] + self.step[d] * f32::from(nibble(code, d));
        }
    }

    /// The query as the first pass scores it: `q·step` rounded to int8 on a
    /// common scale, and `q·low`.
    pub fn prepare(&self, query: &[f32]) -> QueryCode {
        let padded = code_len(self.dims()) * 2;
        let w: Vec<f32> = query.iter().zip(&self.step).map(|(q, s)| q * s).collect();
        let top = w.iter().fold(0f32, |m, x| m.max(x.abs()));
        let scale = if top > 0.0 { top / 127.0 } else { 1.0 };
        let mut weights = vec![0i8; padded];
        for (o, x) in weights.iter_mut().zip(&w) {
            *o = (x / scale).round().clamp(-127.0, 127.0) as i8;
        }
        let offset = query.iter().zip(&self.low).map(|(q, l)| q * l).sum();
        QueryCode { weights, scale, offset }
    }

    /// The quantizer as stored: `low` then `step`, f32 little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.low.iter().chain(&self.step).flat_map(|f| f.to_le_bytes()).collect()
    }

    /// Reads what [`Quantizer::to_bytes`] wrote for `dims` dimensions.
    pub fn from_bytes(bytes: &[u8], dims: usize) -> Quantizer {
        let f: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect();
        Quantizer { low: f[..dims].to_vec(), step: f[dims..2 * dims].to_vec() }
    }
}

/// Component `d`'s level in a packed code.
pub fn nibble(code: &[u8], d: usize) -> u8 {
    let (block, j) = (d / 64, d % 64);
    let b = code[block * 32 + j % 32];
    if j < 32 { b & 15 } else { b >> 4 }
}

/// A query prepared for one segment's codes: a row's first-pass estimate
/// is `offset + scale × Σ weights[d]·code[d]`.
#[derive(Debug, Clone)]
pub struct QueryCode {
    /// `q·step` per dimension in units of `scale`, zero past `dims`.
    pub weights: Vec<i8>,
    /// What one unit of the integer sum is worth.
    pub scale: f32,
    /// `Σ q·low`: the part of every row's estimate that does not depend on its code.
    pub offset: f32,
}

impl QueryCode {
    /// The estimate for a row whose integer sum is `sum`.
    pub fn estimate(&self, sum: i32) -> f32 {
        self.offset + self.scale * sum as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize, dims: usize) -> Vec<Vec<f16>> {
        (0..n)
            .map(|i| (0..dims).map(|d| f16::from_f32(((i * 31 + d * 7) as f32 * 0.013).sin() * 0.2)).collect())
            .collect()
    }

    fn fitted(rows: &[Vec<f16>], dims: usize) -> Quantizer {
        let mut stats = DimStats::new(dims);
        rows.iter().for_each(|r| stats.push(r));
        Quantizer::fit(&stats)
    }

    #[test]
    fn a_code_decodes_within_half_a_step_of_its_row() {
        for dims in [256, 100] {
            let rows = rows(500, dims);
            let q = fitted(&rows, dims);
            let mut code = vec![0u8; code_len(dims)];
            let mut back = vec![0f32; dims];
            for r in &rows {
                q.encode(r, &mut code);
                q.decode(&code, &mut back);
                for d in 0..dims {
                    let x = r[d].to_f32();
                    // Within the clipped range a component is off by at most half a step.
                    let lo = q.low[d];
                    let hi = lo + LEVELS * q.step[d];
                    let want = x.clamp(lo, hi);
                    assert!((back[d] - want).abs() <= q.step[d] / 2.0 + 1e-6, "dims {dims}, d {d}");
                }
            }
        }
    }

    #[test]
    fn the_integer_estimate_is_the_dot_product_with_the_decoded_row() {
        let dims = 256;
        let rows = rows(200, dims);
        let q = fitted(&rows, dims);
        let query: Vec<f32> = (0..dims).map(|d| (d as f32 * 0.3).cos() / 16.0).collect();
        let prepared = q.prepare(&query);
        let mut code = vec![0u8; code_len(dims)];
        let mut back = vec![0f32; dims];
        for r in &rows {
            q.encode(r, &mut code);
            q.decode(&code, &mut back);
            let want: f32 = query.iter().zip(&back).map(|(a, b)| a * b).sum();
            let sum: i32 = (0..dims).map(|d| i32::from(prepared.weights[d]) * i32::from(nibble(&code, d))).sum();
            // The int8 weights are off by at most half a unit each, at most 15 levels.
            let bound = prepared.scale * 0.5 * 15.0 * dims as f32;
            assert!((prepared.estimate(sum) - want).abs() <= bound, "{} vs {want}", prepared.estimate(sum));
        }
    }

    #[test]
    fn stored_bytes_read_back() {
        let q = fitted(&rows(10, 64), 64);
        assert_eq!(Quantizer::from_bytes(&q.to_bytes(), 64), q);
    }

    #[test]
    fn a_constant_dimension_codes_as_zero() {
        let rows: Vec<Vec<f16>> = (0..5).map(|i| vec![f16::from_f32(0.5), f16::from_f32(i as f32)]).collect();
        let q = fitted(&rows, 2);
        assert_eq!(q.step[0], 0.0);
        let mut code = vec![0u8; code_len(2)];
        q.encode(&rows[3], &mut code);
        assert_eq!(nibble(&code, 0), 0);
        let mut back = [0f32; 2];
        q.decode(&code, &mut back);
        assert_eq!(back[0], 0.5);
    }
}
