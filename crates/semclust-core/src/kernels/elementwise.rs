//! Element-wise work that dominates BERT once the matmuls are fast: erf-GELU, the residual sum
//! with its LayerNorm, and `exp` for the softmax. candle computes GELU through libm's `erff` one
//! element at a time; here erf is a rational approximation (the one Eigen and XLA use for f32:
//! odd degree-13 numerator over even degree-8 denominator on [-4, 4], error within a few f32
//! ulps) in loops the compiler vectorises, compiled for AVX2 in `x86/avx2.rs`.

use std::mem::MaybeUninit;

use super::isa::Isa;

/// erf(x) for f32, branch-free so the loop vectorises.
#[inline(always)]
pub(crate) fn erf_f32(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2.mul_add(-2.726_142_3e-10, 2.770_681_4e-8);
    p = x2.mul_add(p, -2.101_024e-6);
    p = x2.mul_add(p, -5.692_506_4e-5);
    p = x2.mul_add(p, -7.349_906_3e-4);
    p = x2.mul_add(p, -2.954_6e-3);
    p = x2.mul_add(p, -1.609_603_3e-2);
    let p = x * p;
    let mut q = x2.mul_add(-1.456_607_2e-5, -2.133_740_6e-4);
    q = x2.mul_add(q, -1.682_827e-3);
    q = x2.mul_add(q, -7.373_329e-3);
    q = x2.mul_add(q, -1.426_474e-2);
    p / q
}

/// e^x for f32, branch-free (range reduction by ln 2, degree-6 polynomial, exponent bits).
/// Relative error below 2e-7 on the range softmax uses (x ≤ 0).
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // Round to nearest with the 1.5 * 2^23 trick, so the loop stays vectorisable.
    let magic = 12_582_912.0f32;
    let n = (x * std::f32::consts::LOG2_E + magic) - magic;
    let r = n.mul_add(-0.693_145_75, x);
    let r = n.mul_add(-1.428_606_8e-6, r);
    let mut p = r.mul_add(1.0 / 720.0, 1.0 / 120.0);
    p = r.mul_add(p, 1.0 / 24.0);
    p = r.mul_add(p, 1.0 / 6.0);
    p = r.mul_add(p, 0.5);
    p = r.mul_add(p, 1.0);
    p = r.mul_add(p, 1.0);
    // 2^n without a float-to-int cast (which would stop vectorisation): n + 127 + 2^23 holds
    // n + 127 in its low mantissa bits; shifted by 23 they become the exponent field.
    let two_n = f32::from_bits((n + (127.0 + 8_388_608.0)).to_bits() << 23);
    p * two_n
}

#[inline(always)]
pub(super) fn gelu_into(x: &[f32], out: &mut [MaybeUninit<f32>]) {
    for (o, &v) in out.iter_mut().zip(x) {
        o.write(0.5 * v * (1.0 + erf_f32(v * std::f32::consts::FRAC_1_SQRT_2)));
    }
}

/// GELU (erf form) of every value, in parallel chunks.
pub(crate) fn gelu(x: &[f32]) -> Vec<f32> {
    gelu_at(Isa::best(), x)
}

/// [`gelu`] with the kernels of `isa` (at most [`Isa::best`]).
pub(crate) fn gelu_at(isa: Isa, x: &[f32]) -> Vec<f32> {
    assert!(isa.usable(), "{isa:?} is not available here");
    use rayon::prelude::*;
    // Written in full below: no zero-fill first.
    let mut out: Vec<f32> = Vec::with_capacity(x.len());
    out.spare_capacity_mut()[..x.len()]
        .par_chunks_mut(1 << 14)
        .zip(x.par_chunks(1 << 14))
        .for_each(|(o, x)| {
            #[cfg(target_arch = "x86_64")]
            if isa >= Isa::Avx2 {
                // SAFETY: the level is available (asserted above).
                unsafe { super::x86::avx2::gelu(x, o) };
                return;
            }
            gelu_into(x, o);
        });
    // SAFETY: every element was written by one of the chunks above.
    unsafe { out.set_len(x.len()) };
    out
}

/// LayerNorm's parameters: one gain and one bias per hidden unit.
pub(crate) struct LayerNorm {
    pub(crate) gamma: Vec<f32>,
    pub(crate) beta: Vec<f32>,
    pub(crate) eps: f32,
}

/// `LayerNorm(a + b)` of rows `h` wide (`h` = the parameters' length), in parallel chunks of 32
/// rows: the residual sum, its mean and variance and the normalised, scaled output, with the row
/// in L1 throughout.
///
/// # Panics
/// When `a` and `b` differ in length or do not hold whole rows.
pub(crate) fn add_layer_norm(a: &[f32], b: &[f32], norm: &LayerNorm) -> Vec<f32> {
    add_layer_norm_at(Isa::best(), a, b, norm)
}

/// [`add_layer_norm`] with the kernels of `isa` (at most [`Isa::best`]).
pub(crate) fn add_layer_norm_at(isa: Isa, a: &[f32], b: &[f32], norm: &LayerNorm) -> Vec<f32> {
    use rayon::prelude::*;
    assert!(isa.usable(), "{isa:?} is not available here");
    let h = norm.gamma.len();
    assert!(h > 0 && norm.beta.len() == h, "LayerNorm parameters");
    assert!(
        a.len() == b.len() && a.len().is_multiple_of(h),
        "rows of {h}"
    );
    // Rows in chunks of 32 (48 KB of input at 384 wide): enough work per task for rayon.
    let chunk = 32 * h;
    let mut out: Vec<f32> = Vec::with_capacity(a.len());
    out.spare_capacity_mut()[..a.len()]
        .par_chunks_mut(chunk)
        .zip(a.par_chunks(chunk).zip(b.par_chunks(chunk)))
        .for_each(|(o, (a, b))| {
            #[cfg(target_arch = "x86_64")]
            if isa >= Isa::Avx2 {
                // SAFETY: the level is available (asserted above).
                unsafe { super::x86::avx2::add_norm_rows(a, b, norm, o) };
                return;
            }
            add_norm_rows(a, b, norm, o);
        });
    // SAFETY: every row was written by one of the chunks above (they cover whole rows).
    unsafe { out.set_len(a.len()) };
    out
}

#[inline(always)]
fn add_norm_row(
    a: &[f32],
    b: &[f32],
    g: &[f32],
    beta: &[f32],
    eps: f32,
    out: &mut [MaybeUninit<f32>],
) {
    const L: usize = 16;
    let n = a.len();
    // The sum goes to `out` first (read back below), in L lanes so that the loop vectorises.
    let mut lanes = [0f32; L];
    let mut i = 0;
    while i + L <= n {
        for l in 0..L {
            let v = a[i + l] + b[i + l];
            out[i + l].write(v);
            lanes[l] += v;
        }
        i += L;
    }
    let mut tail = 0f32;
    for j in i..n {
        let v = a[j] + b[j];
        out[j].write(v);
        tail += v;
    }
    // SAFETY: every element of `out` was written above.
    let x: &mut [f32] = unsafe { &mut *(out as *mut [MaybeUninit<f32>] as *mut [f32]) };
    let mean = (lanes.iter().sum::<f32>() + tail) / n as f32;
    let mut lanes = [0f32; L];
    let mut chunks = x.chunks_exact(L);
    for c in &mut chunks {
        for l in 0..L {
            let d = c[l] - mean;
            lanes[l] += d * d;
        }
    }
    let tail: f32 = chunks
        .remainder()
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum();
    let var = (lanes.iter().sum::<f32>() + tail) / n as f32;
    let inv = 1.0 / (var + eps).sqrt();
    for ((v, &g), &bb) in x.iter_mut().zip(g).zip(beta) {
        *v = (*v - mean) * inv * g + bb;
    }
}

#[inline(always)]
pub(super) fn add_norm_rows(a: &[f32], b: &[f32], op: &LayerNorm, out: &mut [MaybeUninit<f32>]) {
    let h = op.gamma.len();
    for ((a, b), o) in a
        .chunks_exact(h)
        .zip(b.chunks_exact(h))
        .zip(out.chunks_exact_mut(h))
    {
        add_norm_row(a, b, &op.gamma, &op.beta, op.eps, o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf from the Abramowitz–Stegun-free route: the integral by Simpson's rule in f64.
    fn erf_ref(x: f64) -> f64 {
        let n = 20_000;
        let h = x / n as f64;
        let f = |t: f64| (-t * t).exp();
        let mut s = f(0.0) + f(x);
        for i in 1..n {
            s += f(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        s * h / 3.0 * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_matches_the_integral() {
        let mut worst = 0f64;
        for i in -600..=600 {
            let x = i as f64 / 100.0;
            worst = worst.max((erf_f32(x as f32) as f64 - erf_ref(x)).abs());
        }
        assert!(worst < 5e-7, "max error {worst}");
    }

    #[test]
    fn gelu_is_the_same_at_every_level() {
        let xs: Vec<f32> = (-5000..5000).map(|i| i as f32 / 700.0).collect();
        let want: Vec<f32> = xs
            .iter()
            .map(|&v| (0.5 * v as f64 * (1.0 + erf_ref(v as f64 / 2f64.sqrt()))) as f32)
            .collect();
        for isa in Isa::available() {
            let got = gelu_at(isa, &xs);
            for ((g, w), x) in got.iter().zip(&want).zip(&xs) {
                assert!(
                    (g - w).abs() < 2e-6 * (1.0 + w.abs()),
                    "{isa:?} gelu({x}): {g} vs {w}"
                );
            }
        }
    }

    #[test]
    fn add_layer_norm_is_the_same_at_every_level() {
        for (rows, h) in [(3, 384), (5, 37), (40, 16)] {
            let mk = |seed: f32, n: usize| -> Vec<f32> {
                (0..n)
                    .map(|i| (i as f32 * 0.61 + seed).sin() * 3.0 + 0.5)
                    .collect()
            };
            let (a, b) = (mk(0.2, rows * h), mk(1.9, rows * h));
            let norm = LayerNorm {
                gamma: mk(0.7, h),
                beta: mk(2.3, h),
                eps: 1e-12,
            };
            // The textbook formula in f64.
            let mut want = Vec::new();
            for r in 0..rows {
                let x: Vec<f64> = (0..h)
                    .map(|i| (a[r * h + i] + b[r * h + i]) as f64)
                    .collect();
                let mean = x.iter().sum::<f64>() / h as f64;
                let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / h as f64;
                for (i, v) in x.iter().enumerate() {
                    let y = (v - mean) / (var + 1e-12).sqrt();
                    want.push(y * norm.gamma[i] as f64 + norm.beta[i] as f64);
                }
            }
            for isa in Isa::available() {
                let got = add_layer_norm_at(isa, &a, &b, &norm);
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (*g as f64 - w).abs() < 1e-4 * (1.0 + w.abs()),
                        "{isa:?} {rows}x{h} [{i}]: {g} vs {w}"
                    );
                }
            }
        }
    }
}
