//! The numeric kernels of the forward pass: GEMM through the `gemm` crate
//! (packed, cache-blocked, AVX2/AVX-512 FMA micro-kernels) and the small
//! fused row operations around it.

use gemm::Parallelism;

/// A row-major view: element (i, j) at `ptr[i * row_stride + j * col_stride]`.
#[derive(Clone, Copy)]
pub struct View {
    pub ptr: *const f32,
    pub row_stride: isize,
    pub col_stride: isize,
}

/// `c[m×n] (row stride ldc) = a[m×k] · b[k×n]`, overwriting `c`.
///
/// # Safety
/// The views must address `m×k` and `k×n` valid elements, and `c` must
/// address `m×n` elements (row stride `ldc`) that nothing else touches
/// during the call.
#[allow(clippy::too_many_arguments)]
pub unsafe fn matmul(m: usize, k: usize, n: usize, a: View, b: View, c: *mut f32, ldc: usize, threads: usize) {
    let par = if threads > 1 && m * n * k >= 1 << 18 { Parallelism::Rayon(threads) } else { Parallelism::None };
    // SAFETY: forwarded from the caller.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c,
            1,
            ldc as isize,
            false,
            a.ptr,
            a.col_stride,
            a.row_stride,
            b.ptr,
            b.col_stride,
            b.row_stride,
            0.0,
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

/// `x = layer_norm(x + residual) * gamma + beta`, row by row.
pub fn add_layer_norm(x: &mut [f32], residual: Option<&[f32]>, gamma: &[f32], beta: &[f32], eps: f32) {
    let d = gamma.len();
    if let Some(r) = residual {
        for (a, b) in x.iter_mut().zip(r) {
            *a += b;
        }
    }
    let n = d as f32;
    let mean = x.iter().sum::<f32>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((v, g), b) in x.iter_mut().zip(gamma).zip(beta) {
        *v = (*v - mean) * inv * g + b;
    }
}

/// Adds a bias to each row.
pub fn add_bias(row: &mut [f32], bias: &[f32]) {
    for (v, b) in row.iter_mut().zip(bias) {
        *v += b;
    }
}

/// Exact (erf) GELU, as BERT was trained with, fused with the bias add.
pub fn bias_gelu(row: &mut [f32], bias: &[f32]) {
    for (v, b) in row.iter_mut().zip(bias) {
        let x = *v + b;
        *v = 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// erf with fractional error under 1.2e-7 (the Chebyshev fit of
/// Numerical Recipes' `erfcc`), computed in f64.
pub fn erf(x: f32) -> f32 {
    let z = f64::from(x).abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    let r = 1.0 - erfc;
    (if x >= 0.0 { r } else { -r }) as f32
}

/// In-place softmax of one row, scaled first.
pub fn scaled_softmax(row: &mut [f32], scale: f32) {
    let mut max = f32::NEG_INFINITY;
    for v in row.iter_mut() {
        *v *= scale;
        max = max.max(*v);
    }
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in row.iter_mut() {
        *v *= inv;
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
            assert!((f64::from(erf(x)) - want).abs() < 2e-7, "erf({x})");
        }
    }

    #[test]
    fn matmul_matches_a_naive_product_with_strides() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.3).sin()).collect();
        let bt: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.7).cos()).collect(); // b stored as [n×k]
        let mut c = vec![0f32; m * n];
        unsafe { matmul(m, k, n, dense(a.as_ptr(), k), transposed(bt.as_ptr(), k), c.as_mut_ptr(), n, 1) };
        for i in 0..m {
            for j in 0..n {
                let want: f32 = (0..k).map(|p| a[i * k + p] * bt[j * k + p]).sum();
                assert!((c[i * n + j] - want).abs() < 1e-5);
            }
        }
    }
}
