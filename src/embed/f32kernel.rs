//! An f32 GEMM with AVX-512 for `y = x · Wᵀ + b` on CPUs that have it. candle's CPU matmul (the
//! `gemm` crate on stable Rust) uses AVX2 kernels only, half the FMA width such CPUs offer. The
//! weights are repacked once into panels of 16 output columns (`[panel][k][16]`), and the kernel
//! keeps a 6-row × 32-column tile of accumulators in registers while it streams `k`. Without
//! AVX-512 semclust stays on candle's matmul.

use std::mem::MaybeUninit;

const PANEL: usize = 16;

pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        crate::util::cpu::avx512f()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// f32 weights `[n, k]` repacked into 16-column panels.
pub(crate) struct PackedF32 {
    pub n: usize,
    pub k: usize,
    data: Vec<f32>,
    bias: Vec<f32>,
}

impl PackedF32 {
    /// `w` is row-major `[n, k]`. `None` if `n` is not a multiple of 16.
    pub fn new(w: &[f32], n: usize, k: usize, bias: Vec<f32>) -> Option<Self> {
        if !n.is_multiple_of(PANEL) || w.len() != n * k || bias.len() != n {
            return None;
        }
        let mut data = vec![0f32; n * k];
        for col in 0..n {
            let (panel, lane) = (col / PANEL, col % PANEL);
            for kk in 0..k {
                data[(panel * k + kk) * PANEL + lane] = w[col * k + kk];
            }
        }
        Some(Self { n, k, data, bias })
    }

    /// `x` is `[m, k]` row-major; returns `[m, n]`.
    pub fn forward(&self, x: &[f32], m: usize) -> Vec<f32> {
        super::ops::par_rows(m, self.n, 6, |r0, rows, out| {
            #[cfg(target_arch = "x86_64")]
            if available() {
                // SAFETY: AVX-512F is present (checked above).
                unsafe { x86::rows(self, x, r0, rows, out) };
                return;
            }
            self.rows_scalar(x, r0, rows, out);
        })
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

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn rows(
        w: &PackedF32,
        x: &[f32],
        r0: usize,
        rows: usize,
        out: &mut [MaybeUninit<f32>],
    ) {
        let panels = w.n / PANEL;
        let mut p = 0;
        while p < panels {
            let two = p + 1 < panels;
            let mut r = 0;
            while r < rows {
                let take = (rows - r).min(6);
                match (take, two) {
                    (6, true) => tile::<6, 2>(w, x, r0 + r, p, out, r),
                    (6, false) => tile::<6, 1>(w, x, r0 + r, p, out, r),
                    (_, true) => {
                        for i in 0..take {
                            tile::<1, 2>(w, x, r0 + r + i, p, out, r + i)
                        }
                    }
                    (_, false) => {
                        for i in 0..take {
                            tile::<1, 1>(w, x, r0 + r + i, p, out, r + i)
                        }
                    }
                }
                r += take;
            }
            p += if two { 2 } else { 1 };
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn tile<const R: usize, const P: usize>(
        w: &PackedF32,
        x: &[f32],
        row: usize,
        panel: usize,
        out: &mut [MaybeUninit<f32>],
        out_row: usize,
    ) {
        let k = w.k;
        let mut acc = [[_mm512_setzero_ps(); P]; R];
        let wp: [*const f32; P] =
            std::array::from_fn(|j| w.data.as_ptr().add((panel + j) * k * PANEL));
        let xp = x.as_ptr().add(row * k);
        for kk in 0..k {
            let wv: [__m512; P] = std::array::from_fn(|j| _mm512_loadu_ps(wp[j].add(kk * PANEL)));
            for (i, a) in acc.iter_mut().enumerate() {
                let xv = _mm512_set1_ps(*xp.add(i * k + kk));
                for j in 0..P {
                    a[j] = _mm512_fmadd_ps(xv, wv[j], a[j]);
                }
            }
        }
        for (i, a) in acc.iter().enumerate() {
            for (j, &v) in a.iter().enumerate() {
                let col = (panel + j) * PANEL;
                let bias = _mm512_loadu_ps(w.bias.as_ptr().add(col));
                _mm512_storeu_ps(
                    (out.as_mut_ptr() as *mut f32).add((out_row + i) * w.n + col),
                    _mm512_add_ps(v, bias),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_plain_matmul() {
        let (m, n, k) = (13, 48, 40);
        let w: Vec<f32> = (0..n * k)
            .map(|i| ((i * 7 % 23) as f32 - 11.0) * 0.05)
            .collect();
        let x: Vec<f32> = (0..m * k)
            .map(|i| ((i * 5 % 17) as f32 - 8.0) * 0.1)
            .collect();
        let bias: Vec<f32> = (0..n).map(|i| i as f32 * 0.01).collect();
        let p = PackedF32::new(&w, n, k, bias.clone()).unwrap();
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
