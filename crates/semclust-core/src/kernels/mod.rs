//! Every CPU SIMD kernel of semclust, in one tree.
//!
//! One file per job holds its safe entry points, data layouts and scalar code: [`dot`] (the
//! flat scan's scores, k-means' squared distances), [`gemm_f32`] (f32 `x · Wᵀ + b` on AVX-512),
//! [`gemm_q4`] (Q4_0 weights × int8 activations), [`elementwise`] (erf-GELU, residual +
//! LayerNorm, exp) and [`attention`] (fused multi-head attention). One file per instruction set
//! (`x86/avx2.rs`, `x86/avx512.rs`) holds every function compiled for it, and [`isa`] decides
//! once what this process may run, as candle's `cpu/` and qdrant's `spaces/` split theirs.
//!
//! Soundness at the boundary: a safe entry point asserts what the unsafe code relies on
//! (lengths, shapes, an instruction-set level no wider than [`isa::Isa::best`]) with real
//! `assert!`s; every ISA function is an `unsafe fn` whose `# Safety` section says what its caller
//! guarantees; each job's tests run every level the machine has against the scalar code.

pub(crate) mod attention;
pub mod dot;
pub(crate) mod elementwise;
pub(crate) mod gemm_f32;
pub(crate) mod gemm_q4;
pub mod isa;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::mem::MaybeUninit;

use isa::Isa;

/// Weights `[n, k]` repacked once into panels of 16 output columns for a GEMM kernel, with the
/// bias `[n]`: [`gemm_f32::PackedF32`] and [`gemm_q4::PackedQ4`] say how their panels are laid
/// out.
pub(crate) struct Panels<T> {
    pub n: usize,
    pub k: usize,
    pub(in crate::kernels) data: Vec<T>,
    pub(in crate::kernels) bias: Vec<f32>,
}

impl<T> Panels<T> {
    /// What every kernel of a forward pass relies on: `x` holds `m × k` values and `isa` runs
    /// here.
    fn check_input(&self, isa: Isa, x: &[f32], m: usize) {
        assert_eq!(Some(x.len()), m.checked_mul(self.k), "x is not m × k");
        assert!(isa.usable(), "{isa:?} is not available here");
    }
}

/// Pseudo-random values in [-1, 1) (xorshift), the same for the same seed: test data for the
/// kernels and for the code built on them.
#[cfg(test)]
pub(crate) fn test_values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// An `[m, n]` output computed by row ranges in parallel: `fill(r0, rows, out)` gets rows
/// `r0..r0 + rows` (row-major) of an uninitialised output. The output is not zero-filled
/// first: freed buffers are reused rather than fresh zero pages, so a zero-fill is a full memset.
/// Each task gets at least `min_rows` rows (a kernel's tile height).
///
/// # Safety
/// `fill` must write every element of the chunk it is given: the vector is returned as
/// initialised.
pub(crate) unsafe fn par_rows(
    m: usize,
    n: usize,
    min_rows: usize,
    fill: impl Fn(usize, usize, &mut [MaybeUninit<f32>]) + Sync,
) -> Vec<f32> {
    use rayon::prelude::*;
    let mut out: Vec<f32> = Vec::with_capacity(m * n);
    if m * n == 0 {
        return out;
    }
    let rows_per_task = m
        .div_ceil(rayon::current_num_threads().max(1))
        .max(min_rows);
    out.spare_capacity_mut()[..m * n]
        .par_chunks_mut(rows_per_task * n)
        .enumerate()
        .for_each(|(t, chunk)| fill(t * rows_per_task, chunk.len() / n, chunk));
    // SAFETY: the chunks cover all m * n elements, and the caller's `fill` wrote each of them.
    unsafe { out.set_len(m * n) };
    out
}
