//! Multi-head self-attention on the CPU, fused: `softmax(q·kᵀ/√d) · v` per sequence and head,
//! reading only each sequence's real tokens (keys past a sequence's length are padding and
//! skipped, padded query rows come out as zeros). It never materialises the (batch, heads, len,
//! len) score tensor, which for long batches was the largest allocation of the whole forward
//! pass. Per head, `x86/avx512.rs` and `x86/avx2.rs` hold kernels in intrinsics for heads of 32
//! and 64; [`head_attention_impl`] is the portable loop for other widths and CPUs.

use super::elementwise::exp_f32;
use super::isa::Isa;

/// `qkv` is `rows` rows of `[q | k | v]`; sequence `s` is the `lens[s]` rows from `starts[s]`.
/// Rows that belong to no sequence (padding) come out as zeros.
pub(crate) fn attention_cpu(
    qkv: &[f32],
    rows: usize,
    starts: &[usize],
    lens: &[usize],
    hidden: usize,
    heads: usize,
) -> Vec<f32> {
    use rayon::prelude::*;
    let b = lens.len();
    // Real asserts: the unsafe writes below and the kernels rely on them.
    assert!(
        heads > 0 && hidden.is_multiple_of(heads),
        "hidden {hidden} over {heads} heads"
    );
    assert!(hidden / heads <= MAX_HD, "heads wider than {MAX_HD}");
    assert_eq!(
        Some(qkv.len()),
        rows.checked_mul(3 * hidden),
        "qkv is not rows × 3 hidden"
    );
    assert_eq!(starts.len(), b, "one start per sequence");
    assert!(
        starts
            .iter()
            .zip(lens)
            .all(|(&s, &n)| s.checked_add(n).is_some_and(|e| e <= rows)),
        "a sequence runs past the rows"
    );
    // No two sequences share a row: with `sum(lens) == rows` they then tile every row, which
    // the uninitialised output below relies on (overlapping sequences of the right total
    // length would leave rows unwritten).
    let mut spans: Vec<(usize, usize)> = starts
        .iter()
        .zip(lens)
        .filter(|(_, &n)| n > 0)
        .map(|(&s, &n)| (s, s + n))
        .collect();
    spans.sort_unstable();
    assert!(
        spans.windows(2).all(|w| w[0].1 <= w[1].0),
        "two sequences share rows"
    );
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
            #[cfg(target_arch = "x86_64")]
            if Isa::best() >= Isa::Avx512 {
                // SAFETY: the level is available: `Isa::best` decided it.
                unsafe {
                    super::x86::avx512::head_attention(&qq, &kt, &vv, n, n_pad, hd, &mut ctx)
                };
                return ctx;
            }
            #[cfg(target_arch = "x86_64")]
            if Isa::best() >= Isa::Avx2 {
                // SAFETY: the level is available: `Isa::best` decided it.
                unsafe { super::x86::avx2::head_attention(&qq, &kt, &vv, n, n_pad, hd, &mut ctx) };
                return ctx;
            }
            head_attention_impl::<4>(&qq, &kt, &vv, n, n_pad, hd, &mut ctx);
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
    if out.len() < total {
        // SAFETY: `covered == rows` (else the vector was zero-filled and has its length): the
        // sequences are in bounds and disjoint (both asserted above), so with that total they
        // tile all rows, and the blocks above wrote every row × heads × hd.
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
pub(crate) const MAX_HD: usize = 64;
/// Keys per register block when computing scores.
const KEYS: usize = 16;

/// `ctx = softmax(q · kᵀ) · v` for one head of one sequence: `q` [n][hd] (pre-scaled), `kt`
/// [hd][n_pad] (keys transposed, zero-padded), `v` [n][hd], `ctx` [n][hd]. Scores are computed
/// in register blocks of 4 queries × 16 keys (the accumulators never leave registers), so the
/// loop runs at FMA speed instead of streaming a score row through memory once per head
/// dimension. The seven arguments stay separate: passed in a struct, the block loop was no
/// longer vectorised (measured: 100 → 36 passages/s for q4 embedding).
#[inline(always)]
pub(super) fn head_attention_impl<const QROWS: usize>(
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Sequences that overlap with the right total length (rows 0..4 twice over 8 rows) would
    /// leave rows 4..8 uninitialised: refused, not computed.
    #[test]
    #[should_panic(expected = "two sequences share rows")]
    fn overlapping_sequences_are_refused() {
        let (hidden, heads, rows) = (8, 2, 8);
        let qkv = vec![0.5f32; rows * 3 * hidden];
        let _ = attention_cpu(&qkv, rows, &[0, 0], &[4, 4], hidden, heads);
    }

    /// Sequences that tile the rows in any order, and a zero-length one anywhere, are fine.
    #[test]
    fn sequences_in_any_order_tile_the_rows() {
        let (hidden, heads, rows) = (8, 2, 6);
        let qkv = crate::kernels::test_values(rows * 3 * hidden, 11);
        let a = attention_cpu(&qkv, rows, &[0, 2], &[2, 4], hidden, heads);
        let b = attention_cpu(&qkv, rows, &[2, 6, 0], &[4, 0, 2], hidden, heads);
        assert_eq!(a, b);
        assert!(a.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn every_level_computes_the_same_head() {
        for (n, hd) in [
            (1usize, 4usize),
            (5, 32),
            (16, 32),
            (19, 32),
            (37, 64),
            (130, 32),
            (8, 48),
        ] {
            let n_pad = n.div_ceil(KEYS) * KEYS;
            let q = crate::kernels::test_values(n * hd, 3);
            let v = crate::kernels::test_values(n * hd, 5);
            let mut kt = crate::kernels::test_values(hd * n_pad, 7);
            // Padding keys are zeros, as attention_cpu lays them out.
            for d in 0..hd {
                kt[d * n_pad + n..(d + 1) * n_pad].fill(0.0);
            }
            // The textbook softmax(q · kᵀ) · v in f64.
            let mut want = vec![0f64; n * hd];
            for i in 0..n {
                let s: Vec<f64> = (0..n)
                    .map(|j| {
                        (0..hd)
                            .map(|d| q[i * hd + d] as f64 * kt[d * n_pad + j] as f64)
                            .sum()
                    })
                    .collect();
                let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = s.iter().map(|x| (x - max).exp()).collect();
                let sum: f64 = e.iter().sum();
                for j in 0..n {
                    for d in 0..hd {
                        want[i * hd + d] += e[j] / sum * v[j * hd + d] as f64;
                    }
                }
            }
            let mut scalar = vec![0f32; n * hd];
            head_attention_impl::<4>(&q, &kt, &v, n, n_pad, hd, &mut scalar);
            // Every compiled level this CPU runs, each against the f64 reference.
            let mut levels: Vec<(Isa, Vec<f32>)> = Vec::new();
            #[cfg(target_arch = "x86_64")]
            for isa in Isa::available() {
                let mut out = vec![0f32; n * hd];
                match isa {
                    // SAFETY: `Isa::available` lists only levels this CPU has.
                    Isa::Avx2 => unsafe {
                        crate::kernels::x86::avx2::head_attention(
                            &q, &kt, &v, n, n_pad, hd, &mut out,
                        )
                    },
                    // SAFETY: as above.
                    Isa::Avx512 => unsafe {
                        crate::kernels::x86::avx512::head_attention(
                            &q, &kt, &v, n, n_pad, hd, &mut out,
                        )
                    },
                    _ => continue,
                }
                levels.push((isa, out));
            }
            for (i, w) in want.iter().enumerate() {
                assert!(
                    (scalar[i] as f64 - w).abs() < 1e-5,
                    "scalar n{n} hd{hd} [{i}]"
                );
                for (isa, out) in &levels {
                    assert!(
                        (out[i] as f64 - w).abs() < 1e-5,
                        "{isa:?} n{n} hd{hd} [{i}]"
                    );
                }
            }
        }
    }
}
