//! An f32 GEMM with AVX-512 for `y = x · Wᵀ + b` on CPUs that have it (the tile is in
//! `x86/avx512.rs`; an AVX2 tile of half the width in `x86/avx2.rs`). candle's CPU matmul (the
//! `gemm` crate on stable Rust) uses AVX2 kernels only, half the FMA width such CPUs offer. The
//! weights are repacked once into panels of 16 output columns (`[panel][k][16]`), and the kernel
//! keeps a 6-row × 32-column tile of accumulators in registers while it streams `k`. Without
//! AVX-512 semclust stays on candle's matmul.

use std::mem::MaybeUninit;

use super::isa::Isa;
use super::Panels;

/// Output columns per panel.
pub(in crate::kernels) const PANEL: usize = 16;

/// Whether the AVX-512 kernel runs here (else the model's layers keep candle's matmul, whose
/// AVX2 kernels are as wide as ours there).
pub(crate) fn available() -> bool {
    Isa::best() >= Isa::Avx512
}

/// Whether a SIMD kernel (AVX-512 or AVX2 with FMA) runs here: for the products of many rows
/// with a few (k-means' rows with its centroids), where the alternative is a loop of dot
/// products rather than candle.
pub(crate) fn simd() -> bool {
    Isa::best() >= Isa::Avx2
}

/// f32 weights `[n, k]` repacked into 16-column panels: `data` is `[panel][k][16]`.
pub(crate) type PackedF32 = Panels<f32>;

impl Panels<f32> {
    /// `w` is row-major `[n, k]`. `None` if `n` is not a multiple of 16.
    pub fn new(w: &[f32], n: usize, k: usize, bias: Vec<f32>) -> Option<Self> {
        if !n.is_multiple_of(PANEL) || w.len() != n * k || bias.len() != n {
            return None;
        }
        Some(Self {
            n,
            k,
            data: pack(w, n, k),
            bias,
        })
    }

    /// `w` is row-major `[rows, k]` for any number of rows (search's chunks of rows, a
    /// silhouette's sample, k-means' centroids): packed as the next multiple of 16 columns,
    /// the extra ones zero weights whose bias is `pad_bias` (a value their readers never pick,
    /// or columns they never read). No padded copy of `w` is made.
    ///
    /// # Panics
    /// When `k` is 0, `w` is not whole rows of `k` values, or `bias` is not one per row.
    pub fn padded(w: &[f32], k: usize, mut bias: Vec<f32>, pad_bias: f32) -> Self {
        assert!(
            k > 0 && w.len().is_multiple_of(k) && bias.len() == w.len() / k,
            "PackedF32::padded: {} values, rows of {k}, {} biases",
            w.len(),
            bias.len()
        );
        let n = (w.len() / k).next_multiple_of(PANEL);
        bias.resize(n, pad_bias);
        Self {
            n,
            k,
            data: pack(w, n, k),
            bias,
        }
    }

    /// `x` is `[m, k]` row-major; returns `[m, n]`.
    ///
    /// # Panics
    /// When `x` does not hold `m × k` values.
    pub fn forward(&self, x: &[f32], m: usize) -> Vec<f32> {
        self.forward_at(Isa::best(), x, m)
    }

    /// [`Self::forward`] with the kernels of `isa` (at most [`Isa::best`]).
    pub(crate) fn forward_at(&self, isa: Isa, x: &[f32], m: usize) -> Vec<f32> {
        self.check_input(isa, x, m);
        let fill = |r0: usize, rows: usize, out: &mut [MaybeUninit<f32>]| {
            #[cfg(target_arch = "x86_64")]
            if isa >= Isa::Avx512 {
                // SAFETY: AVX-512F is available (asserted); rows r0..r0 + rows lie within the m
                // rows of `x` (asserted) and `out` is rows × n.
                unsafe { super::x86::avx512::gemm_f32_rows(self, x, r0, rows, out) };
                return;
            }
            #[cfg(target_arch = "x86_64")]
            if isa >= Isa::Avx2 {
                // SAFETY: AVX2 and FMA are available (Isa::Avx2 means both); bounds as above.
                unsafe { super::x86::avx2::gemm_f32_rows(self, x, r0, rows, out) };
                return;
            }
            self.rows_scalar(x, r0, rows, out);
        };
        // SAFETY: both paths of `fill` write every element of their chunk (all `rows × n`).
        unsafe { super::par_rows(m, self.n, 6, fill) }
    }

    fn rows_scalar(&self, x: &[f32], r0: usize, rows: usize, out: &mut [MaybeUninit<f32>]) {
        for r in 0..rows {
            let xr = &x[(r0 + r) * self.k..(r0 + r + 1) * self.k];
            for col in 0..self.n {
                let (panel, lane) = (col / PANEL, col % PANEL);
                let mut acc = self.bias[col];
                for (kk, &xv) in xr.iter().enumerate() {
                    acc += xv * self.data[(panel * self.k + kk) * PANEL + lane];
                }
                out[r * self.n + col].write(acc);
            }
        }
    }
}

/// The rows of `w` (row-major, `k` values each; rows past its end are zero) as `n` columns in
/// panels: `[panel][k][16]`.
fn pack(w: &[f32], n: usize, k: usize) -> Vec<f32> {
    let mut data = vec![0f32; n * k];
    for (col, row) in w.chunks_exact(k.max(1)).take(n).enumerate() {
        let (panel, lane) = (col / PANEL, col % PANEL);
        for (kk, &v) in row.iter().enumerate() {
            data[(panel * k + kk) * PANEL + lane] = v;
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Weights `[n, k]`, inputs `[m, k]` and a bias of `n`, small and varied.
    fn operands(m: usize, n: usize, k: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let w = (0..n * k)
            .map(|i| ((i * 7 % 23) as f32 - 11.0) * 0.05)
            .collect();
        let x = (0..m * k)
            .map(|i| ((i * 5 % 17) as f32 - 8.0) * 0.1)
            .collect();
        let bias = (0..n).map(|i| i as f32 * 0.01).collect();
        (w, x, bias)
    }

    /// Rows not a multiple of 16: the real columns are the plain product, the padding ones
    /// their bias alone.
    #[test]
    fn padded_rows_give_the_plain_product_and_the_padding_bias() {
        let (m, n, k) = (7, 13, 20);
        let (w, x, bias) = operands(m, n, k);
        let p = PackedF32::padded(&w, k, bias.clone(), f32::NEG_INFINITY);
        assert_eq!(p.n, 16);
        for isa in Isa::available() {
            let y = p.forward_at(isa, &x, m);
            for r in 0..m {
                for c in 0..16 {
                    let got = y[r * 16 + c];
                    if c < n {
                        let want: f32 =
                            (0..k).map(|i| x[r * k + i] * w[c * k + i]).sum::<f32>() + bias[c];
                        assert!((got - want).abs() < 1e-4, "{isa:?} r{r} c{c}");
                    } else {
                        assert_eq!(got, f32::NEG_INFINITY, "{isa:?} r{r} c{c}");
                    }
                }
            }
        }
    }

    #[test]
    fn matches_a_plain_matmul() {
        let (m, n, k) = (13, 48, 40);
        let (w, x, bias) = operands(m, n, k);
        let p = PackedF32::new(&w, n, k, bias.clone()).unwrap();
        for isa in Isa::available() {
            let y = p.forward_at(isa, &x, m);
            for r in 0..m {
                for c in 0..n {
                    let want: f32 =
                        (0..k).map(|i| x[r * k + i] * w[c * k + i]).sum::<f32>() + bias[c];
                    assert!((y[r * n + c] - want).abs() < 1e-4, "{isa:?} r{r} c{c}");
                }
            }
        }
        let y = p.forward(&x, m);
        let mut scalar = vec![MaybeUninit::new(f32::NAN); m * n];
        p.rows_scalar(&x, 0, m, &mut scalar);
        // SAFETY: initialised above (and overwritten by the kernel).
        let scalar: Vec<f32> = scalar
            .into_iter()
            .map(|v| unsafe { v.assume_init() })
            .collect();
        for r in 0..m {
            for c in 0..n {
                let want: f32 = (0..k).map(|i| x[r * k + i] * w[c * k + i]).sum::<f32>() + bias[c];
                assert!((y[r * n + c] - want).abs() < 1e-4, "r{r} c{c}");
                assert!((scalar[r * n + c] - want).abs() < 1e-4, "scalar r{r} c{c}");
            }
        }
        assert!(PackedF32::new(&w[..k], 1, k, vec![0.0]).is_none());
    }
}
