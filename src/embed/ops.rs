//! CPU fast paths for element-wise work that dominates BERT once the matmuls are fast.
//! candle computes GELU through libm's `erff` one element at a time; here it is a rational
//! approximation of erf (the one Eigen and XLA use for f32: odd degree-13 numerator over even
//! degree-8 denominator on [-4, 4], error within a few f32 ulps) in a loop the compiler
//! vectorises. Other devices and dtypes use candle's own op.

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Tensor};

/// Whether the AVX2 + FMA variants of semclust's CPU kernels can run here.
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx2_fma() -> bool {
    crate::util::cpu::avx2_fma()
}

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

/// An `[m, n]` output computed by row ranges in parallel: `fill(r0, rows, out)` must write every
/// element of `out` (rows `r0..r0 + rows`, row-major). The output is not zero-filled first:
/// freed buffers are reused rather than fresh zero pages, so a zero-fill is a full memset.
/// Each task gets at least `min_rows` rows (a kernel's tile height).
pub(crate) fn par_rows(
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
    // SAFETY: `fill` writes every element of its chunk, and the chunks cover all m * n.
    unsafe { out.set_len(m * n) };
    out
}

/// The f32 data of a contiguous CPU tensor, for semclust's custom ops.
pub(crate) fn contiguous_f32<'a>(
    s: &'a CpuStorage,
    l: &Layout,
    op: &str,
) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(data) = s else {
        candle_core::bail!("{op}: f32 input expected")
    };
    let Some((a, b)) = l.contiguous_offsets() else {
        candle_core::bail!("{op}: contiguous input expected")
    };
    Ok(&data[a..b])
}

struct GeluErf;

impl CustomOp1 for GeluErf {
    fn name(&self) -> &'static str {
        "semclust-gelu-erf"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let out: Vec<f32> = gelu_slice(contiguous_f32(s, l, self.name())?);
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gelu_avx2(x: &[f32], out: &mut [MaybeUninit<f32>]) {
    gelu_into(x, out)
}

#[inline(always)]
fn gelu_into(x: &[f32], out: &mut [MaybeUninit<f32>]) {
    for (o, &v) in out.iter_mut().zip(x) {
        o.write(0.5 * v * (1.0 + erf_f32(v * std::f32::consts::FRAC_1_SQRT_2)));
    }
}

fn gelu_slice(x: &[f32]) -> Vec<f32> {
    use rayon::prelude::*;
    // Written in full below: no zero-fill first.
    let mut out: Vec<f32> = Vec::with_capacity(x.len());
    out.spare_capacity_mut()[..x.len()]
        .par_chunks_mut(1 << 14)
        .zip(x.par_chunks(1 << 14))
        .for_each(|(o, x)| {
            #[cfg(target_arch = "x86_64")]
            if avx2_fma() {
                // SAFETY: the CPU supports the features the function is compiled for.
                unsafe { gelu_avx2(x, o) };
                return;
            }
            gelu_into(x, o);
        });
    // SAFETY: every element was written by one of the chunks above.
    unsafe { out.set_len(x.len()) };
    out
}

/// GELU with the exact (erf) form, as BERT uses it.
pub(crate) fn gelu_erf(x: &Tensor) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == DType::F32 {
        x.contiguous()?.apply_op1_no_bwd(&GeluErf)
    } else {
        x.gelu_erf()
    }
}

/// `LayerNorm(a + b)` in one pass over each row: the residual sum, its mean and variance and
/// the normalised, scaled output, with the row in L1 throughout. Candle's residual add and
/// LayerNorm were two more passes over the activations, a zero-filled output, a scalar
/// (not vectorised) reduction, and a hand-over to candle's own thread pool per add.
pub(crate) struct AddLayerNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
}

impl AddLayerNorm {
    pub(crate) fn new(gamma: Vec<f32>, beta: Vec<f32>, eps: f32) -> Self {
        Self { gamma, beta, eps }
    }

    /// `LayerNorm(a + b)`, or `None` where this op does not run (not f32 on the CPU).
    pub(crate) fn forward(&self, a: &Tensor, b: &Tensor) -> candle_core::Result<Option<Tensor>> {
        if !a.device().is_cpu() || a.dtype() != DType::F32 || b.dtype() != DType::F32 {
            return Ok(None);
        }
        Ok(Some(
            a.contiguous()?.apply_op2_no_bwd(&b.contiguous()?, self)?,
        ))
    }
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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn add_norm_rows_avx2(
    a: &[f32],
    b: &[f32],
    op: &AddLayerNorm,
    out: &mut [MaybeUninit<f32>],
) {
    add_norm_rows(a, b, op, out)
}

#[inline(always)]
fn add_norm_rows(a: &[f32], b: &[f32], op: &AddLayerNorm, out: &mut [MaybeUninit<f32>]) {
    let h = op.gamma.len();
    for ((a, b), o) in a
        .chunks_exact(h)
        .zip(b.chunks_exact(h))
        .zip(out.chunks_exact_mut(h))
    {
        add_norm_row(a, b, &op.gamma, &op.beta, op.eps, o);
    }
}

impl candle_core::CustomOp2 for AddLayerNorm {
    fn name(&self) -> &'static str {
        "semclust-add-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let a = contiguous_f32(s1, l1, self.name())?;
        let b = contiguous_f32(s2, l2, self.name())?;
        let h = self.gamma.len();
        if l1.shape() != l2.shape() || h == 0 || l1.shape().dims().last() != Some(&h) {
            candle_core::bail!("semclust-add-layer-norm: shape mismatch")
        }
        // Rows in chunks of 32 (48 KB of input at 384 wide): enough work per task for rayon.
        let chunk = 32 * h;
        let mut out: Vec<f32> = Vec::with_capacity(a.len());
        out.spare_capacity_mut()[..a.len()]
            .par_chunks_mut(chunk)
            .zip(a.par_chunks(chunk).zip(b.par_chunks(chunk)))
            .for_each(|(o, (a, b))| {
                #[cfg(target_arch = "x86_64")]
                if avx2_fma() {
                    // SAFETY: the CPU supports the features the function is compiled for.
                    unsafe { add_norm_rows_avx2(a, b, self, o) };
                    return;
                }
                add_norm_rows(a, b, self, o);
            });
        // SAFETY: every row was written by one of the chunks above.
        unsafe { out.set_len(a.len()) };
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_layer_norm_matches_candle() {
        let dev = candle_core::Device::Cpu;
        for (rows, h) in [(3, 384), (5, 37)] {
            let mk = |seed: f32, n: usize| -> Vec<f32> {
                (0..n)
                    .map(|i| (i as f32 * 0.61 + seed).sin() * 3.0 + 0.5)
                    .collect()
            };
            let a = Tensor::from_vec(mk(0.2, rows * h), (1, rows, h), &dev).unwrap();
            let b = Tensor::from_vec(mk(1.9, rows * h), (1, rows, h), &dev).unwrap();
            let g = mk(0.7, h);
            let beta = mk(2.3, h);
            let op = AddLayerNorm::new(g.clone(), beta.clone(), 1e-12);
            let ours: Vec<f32> = op
                .forward(&a, &b)
                .unwrap()
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let ln = candle_nn::LayerNorm::new(
                Tensor::new(g, &dev).unwrap(),
                Tensor::new(beta, &dev).unwrap(),
                1e-12,
            );
            use candle_core::Module;
            let want: Vec<f32> = ln
                .forward(&(a + b).unwrap())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            for (i, (x, y)) in ours.iter().zip(&want).enumerate() {
                assert!(
                    (x - y).abs() < 1e-4 * (1.0 + y.abs()),
                    "{rows}x{h} [{i}]: {x} vs {y}"
                );
            }
        }
    }

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
    fn gelu_matches_candle() {
        let xs: Vec<f32> = (-5000..5000).map(|i| i as f32 / 700.0).collect();
        let t = Tensor::new(xs.as_slice(), &candle_core::Device::Cpu).unwrap();
        let ours: Vec<f32> = gelu_erf(&t).unwrap().to_vec1().unwrap();
        let theirs: Vec<f32> = t.gelu_erf().unwrap().to_vec1().unwrap();
        for (a, b) in ours.iter().zip(&theirs) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }
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

/// Multi-head self-attention on the CPU, fused: `softmax(q·kᵀ/√d) · v` per sequence and head,
/// reading only each sequence's real tokens (keys past `lens[b]` are padding and skipped, padded
/// query rows come out as zeros). Never materialises the (batch, heads, len, len) score tensor,
/// which for long batches was the largest allocation of the whole forward pass.
struct Attention {
    lens: Vec<usize>,
    heads: usize,
    /// Sequences back to back with no padding: input `[1, sum(lens), 3 * hidden]`.
    packed: bool,
}

impl CustomOp1 for Attention {
    fn name(&self) -> &'static str {
        "semclust-attention"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let qkv = contiguous_f32(s, l, self.name())?;
        let (b, len, three_h) = l.shape().dims3()?;
        let hidden = three_h / 3;
        let rows = b * len;
        let starts: Vec<usize> = if self.packed {
            self.lens
                .iter()
                .scan(0, |at, &n| {
                    let s = *at;
                    *at += n;
                    Some(s)
                })
                .collect()
        } else {
            (0..b).map(|s| s * len).collect()
        };
        let fits = if self.packed {
            b == 1 && self.lens.iter().sum::<usize>() == len
        } else {
            self.lens.len() == b && self.lens.iter().all(|&n| n <= len)
        };
        if !fits || three_h % 3 != 0 || hidden % self.heads != 0 {
            candle_core::bail!("semclust-attention: shape mismatch")
        }
        let out = attention_cpu(qkv, rows, &starts, &self.lens, hidden, self.heads);
        Ok((CpuStorage::F32(out), (b, len, hidden).into()))
    }
}

/// `qkv` is `rows` rows of `[q | k | v]`; sequence `s` is the `lens[s]` rows from `starts[s]`.
/// Rows that belong to no sequence (padding) come out as zeros.
fn attention_cpu(
    qkv: &[f32],
    rows: usize,
    starts: &[usize],
    lens: &[usize],
    hidden: usize,
    heads: usize,
) -> Vec<f32> {
    let b = lens.len();
    use rayon::prelude::*;
    let hd = hidden / heads;
    let scale = 1.0 / (hd as f32).sqrt();
    // One task per (sequence, head); each returns its [len, hd] context block.
    let blocks: Vec<Vec<f32>> = (0..b * heads)
        .into_par_iter()
        .map(|t| {
            let (s, h) = (t / heads, t % heads);
            let n = lens[s];
            // Keys transposed to [hd][n_pad] (zero-padded to a multiple of KEYS), values and
            // pre-scaled queries as [n][hd].
            let n_pad = n.div_ceil(KEYS) * KEYS;
            let mut kt = vec![0f32; hd * n_pad];
            let mut vv = vec![0f32; n * hd];
            let mut qq = vec![0f32; n * hd];
            for j in 0..n {
                let row = (starts[s] + j) * 3 * hidden + h * hd;
                let qr = &qkv[row..row + hd];
                let kr = &qkv[row + hidden..row + hidden + hd];
                let vr = &qkv[row + 2 * hidden..row + 2 * hidden + hd];
                for d in 0..hd {
                    kt[d * n_pad + j] = kr[d];
                }
                vv[j * hd..(j + 1) * hd].copy_from_slice(vr);
                for (o, &x) in qq[j * hd..(j + 1) * hd].iter_mut().zip(qr) {
                    *o = x * scale;
                }
            }
            let mut ctx = vec![0f32; n * hd];
            head_attention(&qq, &kt, &vv, n, n_pad, hd, &mut ctx);
            ctx
        })
        .collect();
    // Packed input has no padding rows, and every row is written below: zero-fill only when
    // some rows belong to no sequence.
    let total = rows * hidden;
    let covered: usize = lens.iter().sum();
    let mut out: Vec<f32> = if covered == rows {
        Vec::with_capacity(total)
    } else {
        vec![0f32; total]
    };
    // SAFETY: the vector's capacity is at least `total`; MaybeUninit views of initialised or
    // uninitialised floats are both valid, and only writes go through it.
    let spare: &mut [std::mem::MaybeUninit<f32>] =
        unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast(), total) };
    for (t, ctx) in blocks.iter().enumerate() {
        let (s, h) = (t / heads, t % heads);
        for i in 0..lens[s] {
            let dst = (starts[s] + i) * hidden + h * hd;
            for (o, &c) in spare[dst..dst + hd]
                .iter_mut()
                .zip(&ctx[i * hd..(i + 1) * hd])
            {
                o.write(c);
            }
        }
    }
    // SAFETY: when `covered == rows` the sequences tile all rows and the blocks above wrote
    // every row × heads × hd; otherwise the vector was zero-filled and already has its length.
    if out.len() < total {
        unsafe { out.set_len(total) };
    }
    out
}

/// Softmax of one row. Max and sum run in 8 independent lanes: a plain float reduction is
/// not vectorised (it would reorder additions), and the exp loop is vectorised only when it does
/// not also carry the sum.
#[inline(always)]
fn softmax_in_place(row: &mut [f32]) {
    let mut lanes = [f32::NEG_INFINITY; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for (l, &x) in lanes.iter_mut().zip(c) {
            *l = l.max(x);
        }
    }
    let max = chunks
        .remainder()
        .iter()
        .chain(&lanes)
        .fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    for x in row.iter_mut() {
        *x = exp_f32(*x - max);
    }
    let mut sums = [0f32; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for (l, &x) in sums.iter_mut().zip(c) {
            *l += x;
        }
    }
    let sum: f32 = chunks.remainder().iter().chain(&sums).sum();
    let inv = 1.0 / sum;
    for x in row.iter_mut() {
        *x *= inv;
    }
}

/// The widest attention head the fused CPU path takes.
const MAX_HD: usize = 64;
/// Keys per register block when computing scores.
const KEYS: usize = 16;
/// Query rows per register block.
const QROWS: usize = 4;

/// `ctx = softmax(q · kᵀ) · v` for one head of one sequence: `q` [n][hd] (pre-scaled), `kt`
/// [hd][n_pad], `v` [n][hd]. Scores are computed in register blocks of 4 queries × 16 keys (the
/// accumulators never leave registers), so the loop runs at FMA speed instead of streaming a
/// score row through memory once per head dimension.
#[inline(always)]
fn head_attention_impl(
    q: &[f32],
    kt: &[f32],
    v: &[f32],
    n: usize,
    n_pad: usize,
    hd: usize,
    ctx: &mut [f32],
) {
    let mut scores = vec![0f32; QROWS * n_pad];
    let mut i0 = 0;
    while i0 < n {
        let rows = (n - i0).min(QROWS);
        // The block's query rows, gathered once (missing rows are zeros).
        let mut qb = [[0f32; MAX_HD]; QROWS];
        for (r, row) in qb.iter_mut().enumerate().take(rows) {
            row[..hd].copy_from_slice(&q[(i0 + r) * hd..(i0 + r + 1) * hd]);
        }
        for j0 in (0..n_pad).step_by(KEYS) {
            let mut acc = [[0f32; KEYS]; QROWS];
            for d in 0..hd {
                let kv: &[f32; KEYS] = kt[d * n_pad + j0..d * n_pad + j0 + KEYS]
                    .try_into()
                    .expect("KEYS-wide slice");
                for (a, qr) in acc.iter_mut().zip(&qb) {
                    let qd = qr[d];
                    for (x, &kk) in a.iter_mut().zip(kv) {
                        *x = qd.mul_add(kk, *x);
                    }
                }
            }
            for (r, a) in acc.iter().enumerate() {
                scores[r * n_pad + j0..r * n_pad + j0 + KEYS].copy_from_slice(a);
            }
        }
        for r in 0..rows {
            softmax_in_place(&mut scores[r * n_pad..r * n_pad + n]);
        }
        // ctx rows += p[r][j] * v[j], two query rows at a time; with BERT-base-like heads of 32
        // the accumulators are exactly 8 registers (a wider array would spill to the stack).
        let out = &mut ctx[i0 * hd..(i0 + rows) * hd];
        if hd == 32 {
            pv_rows::<32>(&scores, v, n, n_pad, rows, out);
        } else {
            pv_rows::<MAX_HD>(&scores, v, n, n_pad, rows, out);
        }
        i0 += rows;
    }
}

/// `ctx[r] = Σ_j p[r][j] · v[j]` for `rows` query rows; `W` ≥ the head width. When `W` equals
/// the head width the inner loop has a fixed trip count and the accumulators stay in registers.
#[inline(always)]
fn pv_rows<const W: usize>(
    scores: &[f32],
    v: &[f32],
    n: usize,
    n_pad: usize,
    rows: usize,
    ctx: &mut [f32],
) {
    let hd = ctx.len() / rows.max(1);
    let mut r = 0;
    while r < rows {
        let pair = (rows - r).min(2);
        let mut acc = [[0f32; W]; 2];
        for j in 0..n {
            let p = [
                scores[r * n_pad + j],
                if pair == 2 {
                    scores[(r + 1) * n_pad + j]
                } else {
                    0.0
                },
            ];
            if hd == W {
                let vr: &[f32; W] = v[j * W..(j + 1) * W].try_into().expect("W-wide row");
                for (a, &pp) in acc.iter_mut().zip(&p) {
                    for (x, &vx) in a.iter_mut().zip(vr) {
                        *x = pp.mul_add(vx, *x);
                    }
                }
            } else {
                let vr = &v[j * hd..(j + 1) * hd];
                for (a, &pp) in acc.iter_mut().zip(&p) {
                    for (x, &vx) in a.iter_mut().zip(vr) {
                        *x = pp.mul_add(vx, *x);
                    }
                }
            }
        }
        for (rr, a) in acc.iter().enumerate().take(pair) {
            ctx[(r + rr) * hd..(r + rr + 1) * hd].copy_from_slice(&a[..hd]);
        }
        r += pair;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn head_attention_avx2(
    q: &[f32],
    kt: &[f32],
    v: &[f32],
    n: usize,
    n_pad: usize,
    hd: usize,
    ctx: &mut [f32],
) {
    head_attention_impl(q, kt, v, n, n_pad, hd, ctx)
}

fn head_attention(
    q: &[f32],
    kt: &[f32],
    v: &[f32],
    n: usize,
    n_pad: usize,
    hd: usize,
    ctx: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: the CPU supports the features the function is compiled for.
        return unsafe { head_attention_avx2(q, kt, v, n, n_pad, hd, ctx) };
    }
    head_attention_impl(q, kt, v, n, n_pad, hd, ctx)
}

/// Fused attention for f32 on the CPU over stacked `[b, len, 3 * hidden]` query/key/value rows;
/// `None` elsewhere (the caller uses candle's ops).
pub(crate) fn attention(
    qkv: &Tensor,
    lens: &[usize],
    heads: usize,
) -> candle_core::Result<Option<Tensor>> {
    let hidden = qkv.dim(candle_core::D::Minus1)? / 3;
    if !fused_attention_available(qkv.device(), qkv.dtype(), hidden, heads) {
        return Ok(None);
    }
    let op = Attention {
        lens: lens.to_vec(),
        heads,
        packed: false,
    };
    Ok(Some(qkv.contiguous()?.apply_op1_no_bwd(&op)?))
}

/// Whether the fused attention ([`attention`], [`attention_packed`]) runs for activations of
/// this dtype and device and this head layout.
pub(crate) fn fused_attention_available(
    device: &candle_core::Device,
    dtype: DType,
    hidden: usize,
    heads: usize,
) -> bool {
    device.is_cpu()
        && dtype == DType::F32
        && heads > 0
        && hidden.is_multiple_of(heads)
        && hidden / heads <= MAX_HD
}

/// [`attention`] on sequences stored back to back with no padding: `qkv` is
/// `[1, sum(lens), 3 * hidden]`. Only for activations where [`fused_attention_available`].
pub(crate) fn attention_packed(
    qkv: &Tensor,
    lens: &[usize],
    heads: usize,
) -> candle_core::Result<Tensor> {
    let op = Attention {
        lens: lens.to_vec(),
        heads,
        packed: true,
    };
    qkv.contiguous()?.apply_op1_no_bwd(&op)
}

#[cfg(test)]
mod attention_tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn exp_is_accurate() {
        for i in -8000..=100 {
            let x = i as f32 / 100.0;
            let rel = ((exp_f32(x) as f64 - (x as f64).exp()) / (x as f64).exp()).abs();
            assert!(rel < 3e-7, "exp({x}): rel error {rel}");
        }
    }

    #[test]
    fn fused_attention_matches_candle_with_padding() {
        // Head widths 4 (generic path) and 32 (the register-exact path); 19 keys > one block.
        for (len, hidden, heads) in [(5, 8, 2), (19, 64, 2)] {
            check_attention(len, hidden, heads);
        }
    }

    fn check_attention(len: usize, hidden: usize, heads: usize) {
        let b = 2;
        let lens = [len, len - 2];
        let mk = |seed: f32| {
            let v: Vec<f32> = (0..b * len * hidden)
                .map(|i| (i as f32 * 0.37 + seed).sin())
                .collect();
            Tensor::from_vec(v, (b, len, hidden), &Device::Cpu).unwrap()
        };
        let (q, k, v) = (mk(0.1), mk(1.3), mk(2.7));
        let qkv = Tensor::cat(&[&q, &k, &v], 2).unwrap();
        let ours = attention(&qkv, &lens, heads).unwrap().unwrap();
        // Reference with candle ops and an additive mask.
        let split = |x: &Tensor| {
            x.reshape((b, len, heads, hidden / heads))
                .unwrap()
                .transpose(1, 2)
                .unwrap()
                .contiguous()
                .unwrap()
        };
        let mask: Vec<f32> = (0..b)
            .flat_map(|s| (0..len).map(move |j| if j < lens[s] { 0.0 } else { -1e9 }))
            .collect();
        let mask = Tensor::from_vec(mask, (b, 1, 1, len), &Device::Cpu).unwrap();
        let scores = (split(&q).matmul(&split(&k).t().unwrap()).unwrap()
            * (1.0 / ((hidden / heads) as f64).sqrt()))
        .unwrap()
        .broadcast_add(&mask)
        .unwrap();
        let p = candle_nn::ops::softmax_last_dim(&scores).unwrap();
        let reference = p
            .matmul(&split(&v))
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .reshape((b, len, hidden))
            .unwrap();
        let a: Vec<Vec<Vec<f32>>> = ours.to_vec3().unwrap();
        let r: Vec<Vec<Vec<f32>>> = reference.to_vec3().unwrap();
        // The same sequences with their padding rows dropped, back to back.
        let keep: Vec<u32> = (0..b)
            .flat_map(|s| (0..lens[s]).map(move |j| (s * len + j) as u32))
            .collect();
        let packed_in = qkv
            .reshape((b * len, 3 * hidden))
            .unwrap()
            .index_select(&Tensor::new(keep, &Device::Cpu).unwrap(), 0)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let packed: Vec<Vec<f32>> = attention_packed(&packed_in, &lens, heads)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec2()
            .unwrap();
        let mut row = 0;
        for s in 0..b {
            for i in 0..len {
                for d in 0..hidden {
                    if i < lens[s] {
                        assert!((a[s][i][d] - r[s][i][d]).abs() < 1e-5, "{s} {i} {d}");
                        assert!(
                            (packed[row][d] - r[s][i][d]).abs() < 1e-5,
                            "packed {s} {i} {d}"
                        );
                    } else {
                        assert_eq!(a[s][i][d], 0.0, "padding row {s} {i}");
                    }
                }
                row += usize::from(i < lens[s]);
            }
        }
        assert_eq!(row, packed.len());
    }
}
