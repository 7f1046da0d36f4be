//! Every kernel compiled for AVX2 and FMA: the flat scan's scores, k-means' squared distance,
//! the Q4 × Q8 GEMM tile and its activation quantiser, the attention of one head, and the
//! element-wise loops (portable code that the compiler vectorises when it may use these
//! features).
//!
//! Each function is `unsafe`: its caller guarantees [`Isa::Avx2`] is at most [`Isa::best`],
//! plus the bounds its `# Safety` section names, which the safe entry point in the job's file
//! has asserted.
//!
//! [`Isa::Avx2`]: crate::kernels::isa::Isa::Avx2
//! [`Isa::best`]: crate::kernels::isa::Isa::best

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

use crate::kernels::gemm_f32::{PackedF32, PANEL as F32_PANEL};
use crate::kernels::gemm_q4::{pair_init, PackedQ4, QuantizedRows, BLOCK_BYTES, PANEL, QK};

/// Scores of `query` against each `query.len()`-wide row of `rows`, two accumulators per row.
///
/// # Safety
/// The CPU has AVX2 and FMA; `query.len()` is a multiple of 8 and `rows` holds `out.len()` rows.
#[target_feature(enable = "avx2,fma")]
pub(in crate::kernels) unsafe fn scores(rows: &[f32], query: &[f32], out: &mut [f32]) {
    let (q, dim) = (query.as_ptr(), query.len());
    for (i, o) in out.iter_mut().enumerate() {
        // SAFETY: row i lies within `rows`; each load reads 8 floats at j with j + 8 <= dim
        // (dim is a multiple of 8), per the contract above.
        unsafe {
            let base = rows.as_ptr().add(i * dim);
            let (mut a, mut b) = (_mm256_setzero_ps(), _mm256_setzero_ps());
            let mut j = 0;
            while j + 16 <= dim {
                a = _mm256_fmadd_ps(_mm256_loadu_ps(base.add(j)), _mm256_loadu_ps(q.add(j)), a);
                b = _mm256_fmadd_ps(
                    _mm256_loadu_ps(base.add(j + 8)),
                    _mm256_loadu_ps(q.add(j + 8)),
                    b,
                );
                j += 16;
            }
            if j < dim {
                a = _mm256_fmadd_ps(_mm256_loadu_ps(base.add(j)), _mm256_loadu_ps(q.add(j)), a);
            }
            let s = _mm256_add_ps(a, b);
            let hi = _mm256_extractf128_ps(s, 1);
            let lo = _mm256_castps256_ps128(s);
            let s4 = _mm_add_ps(hi, lo);
            let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
            let s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
            *o = _mm_cvtss_f32(s1);
        }
    }
}

/// [`crate::kernels::dot::sq_dist_portable`] compiled for AVX2.
///
/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(in crate::kernels) unsafe fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    crate::kernels::dot::sq_dist_portable(a, b)
}

/// [`crate::kernels::elementwise::gelu_into`] compiled for AVX2.
///
/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(in crate::kernels) unsafe fn gelu(x: &[f32], out: &mut [MaybeUninit<f32>]) {
    crate::kernels::elementwise::gelu_into(x, out)
}

/// [`crate::kernels::elementwise::add_norm_rows`] compiled for AVX2.
///
/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(in crate::kernels) unsafe fn add_norm_rows(
    a: &[f32],
    b: &[f32],
    norm: &crate::kernels::elementwise::LayerNorm,
    out: &mut [MaybeUninit<f32>],
) {
    crate::kernels::elementwise::add_norm_rows(a, b, norm, out)
}

/// `ctx = softmax(q · kᵀ) · v` for one head of one sequence, as
/// [`crate::kernels::attention::head_attention_impl`] (same layouts), written for 16 vector
/// registers: scores in blocks of `QB2` query rows × 16 keys, softmax 8 lanes at a time, `p · v`
/// with 8 accumulators, division last. The portable loop compiled for AVX2 kept bounds checks
/// and a per-key branch in its inner loops. Heads of 32 or 64; others take the portable loop.
///
/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(in crate::kernels) unsafe fn head_attention(
    q: &[f32],
    kt: &[f32],
    v: &[f32],
    n: usize,
    n_pad: usize,
    hd: usize,
    ctx: &mut [f32],
) {
    // Real asserts (constant time): the loads below rely on them.
    assert_eq!(
        n_pad,
        n.div_ceil(16) * 16,
        "keys padded to a multiple of 16"
    );
    assert!(q.len() >= n * hd && v.len() >= n * hd && ctx.len() >= n * hd);
    assert!(kt.len() >= hd * n_pad, "keys are hd × n_pad");
    // SAFETY: the level is this function's own; the bounds were asserted above.
    unsafe {
        match hd {
            32 => head_attention_ymm::<4, 2>(q, kt, v, n, n_pad, ctx),
            64 => head_attention_ymm::<8, 1>(q, kt, v, n, n_pad, ctx),
            _ => crate::kernels::attention::head_attention_impl::<4>(q, kt, v, n, n_pad, hd, ctx),
        }
    }
}

/// Query rows per block of scores (12 accumulators, two key registers, one broadcast).
const QB2: usize = 6;

/// e^x on 8 lanes: the reduction and polynomial of [`crate::kernels::elementwise::exp_f32`],
/// 2^n built in the exponent bits.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn exp8(x: __m256) -> __m256 {
    let x = _mm256_max_ps(
        _mm256_min_ps(x, _mm256_set1_ps(88.0)),
        _mm256_set1_ps(-87.0),
    );
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
        x,
        _mm256_set1_ps(std::f32::consts::LOG2_E),
    ));
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_145_75), x);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428_606_8e-6), r);
    let mut p = _mm256_fmadd_ps(r, _mm256_set1_ps(1.0 / 720.0), _mm256_set1_ps(1.0 / 120.0));
    p = _mm256_fmadd_ps(r, p, _mm256_set1_ps(1.0 / 24.0));
    p = _mm256_fmadd_ps(r, p, _mm256_set1_ps(1.0 / 6.0));
    p = _mm256_fmadd_ps(r, p, _mm256_set1_ps(0.5));
    p = _mm256_fmadd_ps(r, p, _mm256_set1_ps(1.0));
    p = _mm256_fmadd_ps(r, p, _mm256_set1_ps(1.0));
    // n is within [-126, 128): n + 127 fits the exponent field.
    let e = _mm256_slli_epi32::<23>(_mm256_add_epi32(
        _mm256_cvtps_epi32(n),
        _mm256_set1_epi32(127),
    ));
    _mm256_mul_ps(p, _mm256_castsi256_ps(e))
}

/// # Safety
/// As [`head_attention`], with `hd = 8 * HY` and `G * HY <= 8` accumulators in `p · v`; `QB2` is
/// a multiple of `G`.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn head_attention_ymm<const HY: usize, const G: usize>(
    q: &[f32],
    kt: &[f32],
    v: &[f32],
    n: usize,
    n_pad: usize,
    ctx: &mut [f32],
) {
    let hd = HY * 8;
    let chunks = n_pad / 8;
    let mut scores = vec![0f32; QB2 * n_pad];
    let sp = scores.as_mut_ptr();
    let (kp, vp, cp) = (kt.as_ptr(), v.as_ptr(), ctx.as_mut_ptr());
    // Softmax reads the 8-key chunks that hold real keys; in the last one, the lanes below `tail`.
    let real = n.div_ceil(8);
    let tail = (n - real.saturating_sub(1) * 8) as i32;
    let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let last = _mm256_cmpgt_epi32(_mm256_set1_epi32(tail), lane);
    let all = _mm256_set1_epi32(-1);
    let mut i0 = 0;
    while i0 < n {
        let rows = (n - i0).min(QB2);
        // The block's query rows; missing rows are zeros (their scores are finite, never used).
        let mut qb = [[0f32; 64]; QB2];
        for (r, row) in qb.iter_mut().enumerate().take(rows) {
            row[..hd].copy_from_slice(&q[(i0 + r) * hd..(i0 + r + 1) * hd]);
        }
        // SAFETY: key loads read kt[d * n_pad + c * 8 ..][..16] with d < hd and c + 2 <= n_pad / 8;
        // score accesses stay within QB2 × n_pad; value loads read rows j < n of width hd;
        // context stores write rows i0 + r < n. The caller asserted those lengths.
        unsafe {
            for c in (0..chunks).step_by(2) {
                let mut acc = [[_mm256_setzero_ps(); 2]; QB2];
                for d in 0..hd {
                    let k0 = _mm256_loadu_ps(kp.add(d * n_pad + c * 8));
                    let k1 = _mm256_loadu_ps(kp.add(d * n_pad + c * 8 + 8));
                    for (a, qr) in acc.iter_mut().zip(&qb) {
                        let x = _mm256_set1_ps(qr[d]);
                        a[0] = _mm256_fmadd_ps(x, k0, a[0]);
                        a[1] = _mm256_fmadd_ps(x, k1, a[1]);
                    }
                }
                for (r, a) in acc.iter().enumerate() {
                    _mm256_storeu_ps(sp.add(r * n_pad + c * 8), a[0]);
                    _mm256_storeu_ps(sp.add(r * n_pad + c * 8 + 8), a[1]);
                }
            }
            // Softmax numerators in place (padding keys become 0); the division comes last.
            let mut inv = [0f32; QB2];
            for (r, inv) in inv.iter_mut().enumerate().take(rows) {
                let row = sp.add(r * n_pad);
                let ninf = _mm256_set1_ps(f32::NEG_INFINITY);
                let mut m = ninf;
                for c in 0..real {
                    let mask = _mm256_castsi256_ps(if c + 1 == real { last } else { all });
                    m = _mm256_max_ps(
                        m,
                        _mm256_blendv_ps(ninf, _mm256_loadu_ps(row.add(c * 8)), mask),
                    );
                }
                let m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps::<1>(m));
                let m2 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
                let m1 = _mm_max_ss(m2, _mm_movehdup_ps(m2));
                let max = _mm256_set1_ps(_mm_cvtss_f32(m1));
                let mut sum = _mm256_setzero_ps();
                for c in 0..real {
                    let mask = _mm256_castsi256_ps(if c + 1 == real { last } else { all });
                    let e = exp8(_mm256_sub_ps(_mm256_loadu_ps(row.add(c * 8)), max));
                    let e = _mm256_and_ps(e, mask);
                    _mm256_storeu_ps(row.add(c * 8), e);
                    sum = _mm256_add_ps(sum, e);
                }
                let s4 = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps::<1>(sum));
                let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
                let s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
                *inv = 1.0 / _mm_cvtss_f32(s1);
            }
            // ctx rows = Σ_j p[r][j] · v[j], G rows of HY registers at a time.
            let mut g0 = 0;
            while g0 < rows {
                let mut acc = [[_mm256_setzero_ps(); HY]; G];
                for j in 0..n {
                    for (r, a) in acc.iter_mut().enumerate() {
                        let p = _mm256_set1_ps(*sp.add((g0 + r) * n_pad + j));
                        for (h, x) in a.iter_mut().enumerate() {
                            *x = _mm256_fmadd_ps(p, _mm256_loadu_ps(vp.add(j * hd + h * 8)), *x);
                        }
                    }
                }
                for (r, a) in acc.iter().enumerate().take(rows - g0) {
                    let s = _mm256_set1_ps(inv[g0 + r]);
                    for (h, &x) in a.iter().enumerate() {
                        _mm256_storeu_ps(cp.add((i0 + g0 + r) * hd + h * 8), _mm256_mul_ps(x, s));
                    }
                }
                g0 += G;
            }
        }
        i0 += rows;
    }
}

/// The scalar quantisation of one row, 32 values per step (rounding to nearest even), with each
/// block's sum and the AVX2 kernel's starting accumulator ([`pair_init`]).
///
/// # Safety
/// The CPU has AVX2 and FMA; `x` and `q` hold `d.len() * 32` values and
/// `s.len() == init.len() == d.len()`.
#[target_feature(enable = "avx2,fma")]
pub(in crate::kernels) unsafe fn quantize_row(
    x: &[f32],
    q: &mut [i8],
    d: &mut [f32],
    s: &mut [i32],
    init: &mut [i32],
) {
    // Lanes of a block's 8-lane sum that hold k ≡ 0, 1 (mod 4).
    let even_lanes = _mm256_setr_epi32(-1, -1, 0, 0, -1, -1, 0, 0);
    let sign = _mm256_set1_ps(-0.0);
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for b in 0..d.len() {
        // SAFETY: block b's 32 values lie within `x` and `q` (see the contract above).
        unsafe {
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
            let e = _mm256_and_si256(total, even_lanes);
            let e = _mm_add_epi32(_mm256_castsi256_si128(e), _mm256_extracti128_si256(e, 1));
            let e = _mm_add_epi32(e, _mm_shuffle_epi32(e, 0b01_00_11_10));
            let e = _mm_add_epi32(e, _mm_shuffle_epi32(e, 0b10_11_00_01));
            // Pack 32 i32 to 32 i8; the packs interleave 128-bit lanes, the permute restores
            // order.
            let p16a = _mm256_packs_epi32(i[0], i[1]);
            let p16b = _mm256_packs_epi32(i[2], i[3]);
            let p8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p16a, p16b), order);
            _mm256_storeu_si256(q.as_mut_ptr().add(b * QK) as *mut __m256i, p8);
            d[b] = scale;
            let (total, even) = (_mm_cvtsi128_si32(t), _mm_cvtsi128_si32(e));
            s[b] = total;
            init[b] = pair_init(even, total - even);
        }
    }
}

/// Q4 × Q8 rows `r0..r0 + rows` into `out`: the same panels as the VNNI kernel, 8 columns per
/// register, `vpmaddubsw` + `vpmaddwd` for the dot products. Each block's 16-bit accumulators
/// start at `-8 ·` their activations' sum ([`QuantizedRows::init`]), so they end at the signed
/// weights' products and need no float correction (2 of the block's 8 float operations per
/// row and half-panel; 4–6 % off the kernel's time at two of the model's three shapes). A tile
/// is 6 rows × one panel: its 12 16-bit accumulators, the panel's two weight vectors and one
/// broadcast fill 15 of AVX2's 16 registers, and each weight load serves 6 rows (4 before: 14 %
/// less wall time on the 98 parity passages, benches/RESULTS.md). The 12 f32 accumulators do
/// not fit beside them and go to the stack (12 % of the kernel's samples are stack operations),
/// yet 3 or 4 rows, which fit, measured no faster end to end. Walking the panels outermost, or
/// a block of 24 rows per panel to keep its weights in L1, measured no faster either.
///
/// # Safety
/// The CPU has AVX2 and FMA; `qa` holds at least `r0 + rows` rows of `w.k` values and `out`
/// exactly `rows * w.n` elements (all written here).
#[target_feature(enable = "avx2,fma")]
pub(in crate::kernels) unsafe fn q4_rows(
    w: &PackedQ4,
    qa: &QuantizedRows,
    r0: usize,
    rows: usize,
    out: &mut [MaybeUninit<f32>],
) {
    let kb = w.k / QK;
    q4_tiles::<6>(rows, w.n / PANEL, |r, p, whole| {
        // SAFETY: every tile stays within the rows and panels of this function's contract.
        unsafe {
            if whole {
                q4_tile::<6>(w, qa, r0 + r, p, kb, out, r);
            } else {
                q4_tile::<1>(w, qa, r0 + r, p, kb, out, r);
            }
        }
    });
}

/// Calls `tile(r, panel, whole)` for rows `0..rows` in tiles of `R` rows against every panel:
/// `whole` for a tile of `R` rows at `r`, else for the single row `r` of the remainder.
#[inline(always)]
fn q4_tiles<const R: usize>(rows: usize, panels: usize, mut tile: impl FnMut(usize, usize, bool)) {
    let mut r = 0;
    while r < rows {
        let take = (rows - r).min(R);
        for p in 0..panels {
            if take == R {
                tile(r, p, true);
            } else {
                for i in 0..take {
                    tile(r + i, p, false);
                }
            }
        }
        r += take;
    }
}

/// One block's integer sums into the tile's f32 accumulators: `accf += sum · dw · da`, with the
/// block's 16 weight scales at `block` and each row's activation scale.
///
/// # Safety
/// The CPU has AVX2 and FMA; `block` points at a (panel, k-block) of [`BLOCK_BYTES`] bytes and
/// `qa` holds rows `row..row + R`.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn q4_scale_block<const R: usize>(
    sums: &[[__m256i; 2]; R],
    block: *const u8,
    qa: &QuantizedRows,
    row: usize,
    kb: usize,
    b: usize,
    accf: &mut [[__m256; 2]; R],
) {
    // SAFETY: the block's first 64 bytes are its 16 f32 scales (the caller's contract).
    let dw = unsafe {
        [
            _mm256_loadu_ps(block as *const f32),
            _mm256_loadu_ps((block as *const f32).add(8)),
        ]
    };
    for i in 0..R {
        let da = _mm256_set1_ps(qa.d[(row + i) * kb + b]);
        for j in 0..2 {
            let t = _mm256_cvtepi32_ps(sums[i][j]);
            accf[i][j] = _mm256_fmadd_ps(t, _mm256_mul_ps(dw[j], da), accf[i][j]);
        }
    }
}

/// The tile's accumulators plus the bias into output rows `out_row..out_row + R`, columns of
/// `panel`.
///
/// # Safety
/// The CPU has AVX2 and FMA; `out` holds those rows of `w.n` columns.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn q4_store_tile<const R: usize>(
    accf: &[[__m256; 2]; R],
    w: &PackedQ4,
    panel: usize,
    out: &mut [MaybeUninit<f32>],
    out_row: usize,
) {
    for (i, acc) in accf.iter().enumerate() {
        for (j, &v) in acc.iter().enumerate() {
            let col = panel * PANEL + j * 8;
            // SAFETY: `col + 8 <= w.n` (a whole panel) and the row is within `out` (the
            // caller's contract); the bias has `w.n` values.
            unsafe {
                let bias = _mm256_loadu_ps(w.bias.as_ptr().add(col));
                let dst = (out.as_mut_ptr() as *mut f32).add((out_row + i) * w.n + col);
                _mm256_storeu_ps(dst, _mm256_add_ps(v, bias));
            }
        }
    }
}

/// # Safety
/// As [`q4_rows`], for rows `row..row + R`, panel `panel` and output rows `out_row..out_row + R`.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn q4_tile<const R: usize>(
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
    // SAFETY: each (panel, k-block) holds BLOCK_BYTES bytes (16 scales, 8 groups of 64 weight
    // bytes); activation rows are `k` bytes and have `kb` starting values in `qa.init`; the
    // caller keeps rows and panels in bounds.
    unsafe {
        for b in 0..kb {
            let block = w.data.as_ptr().add((panel * kb + b) * BLOCK_BYTES);
            // `vpmaddubsw` sums two products of a weight (0..=15) and an activation
            // (-127..=127): at most 3,810 in magnitude. A lane starts at -8 x the sum of its 16
            // activations and, after some groups, holds (signed weight x activation) over those
            // groups less 8 x the activations still to come: at most 8 x 127 x 16 = 16,256 in
            // magnitude, so a block adds up in 16 bits and is widened once, not once per group.
            let mut acc16: [[__m256i; 2]; R] = std::array::from_fn(|i| {
                let v = _mm256_set1_epi32(*qa.init.get_unchecked((row + i) * kb + b));
                [v, v]
            });
            for g in 0..8 {
                let lo = _mm256_loadu_si256(block.add(PANEL * 4 + g * 64) as *const __m256i);
                let hi = _mm256_loadu_si256(block.add(PANEL * 4 + g * 64 + 32) as *const __m256i);
                for (i, acc) in acc16.iter_mut().enumerate() {
                    let ap = qa.q.as_ptr().add((row + i) * k + b * QK + g * 4) as *const i32;
                    let av = _mm256_set1_epi32(ap.read_unaligned());
                    acc[0] = _mm256_add_epi16(acc[0], _mm256_maddubs_epi16(lo, av));
                    acc[1] = _mm256_add_epi16(acc[1], _mm256_maddubs_epi16(hi, av));
                }
            }
            let acci = acc16.map(|a| a.map(|x| _mm256_madd_epi16(x, ones)));
            q4_scale_block(&acci, block, qa, row, kb, b, &mut accf);
        }
        q4_store_tile(&accf, w, panel, out, out_row);
    }
}

/// Rows per tile of the AVX-VNNI kernel: 3 rows × two halves of a panel keep 6 int32 and 6 f32
/// accumulators, the two weight vectors and a broadcast in AVX2's 16 registers. With 6 rows
/// the compiler spilled accumulators to the stack inside the group loop, and each `vpdpbusd`
/// then waited on a reload: slower than the AVX2 tile.
const VNNI_ROWS: usize = 3;

/// [`q4_rows`] with AVX-VNNI: `vpdpbusd` on 256 bits does a 4-byte group's multiply-adds into
/// 32-bit lanes in one instruction where AVX2 needs `vpmaddubsw` + `vpaddw` (and the 16-bit
/// bound), so the tile's integer work halves. The same panels; tiles of [`VNNI_ROWS`] rows;
/// each block's 32-bit accumulators start at `-8 ·` the block's activation sum, so they end at
/// the signed weights' products as in the AVX2 tile (the same integers, so the same floats).
///
/// # Safety
/// The CPU has AVX2, FMA and AVX-VNNI; `qa` holds at least `r0 + rows` rows of `w.k` values and
/// `out` exactly `rows * w.n` elements (all written here).
#[target_feature(enable = "avx2,fma,avxvnni")]
pub(in crate::kernels) unsafe fn q4_rows_avxvnni(
    w: &PackedQ4,
    qa: &QuantizedRows,
    r0: usize,
    rows: usize,
    out: &mut [MaybeUninit<f32>],
) {
    let kb = w.k / QK;
    q4_tiles::<VNNI_ROWS>(rows, w.n / PANEL, |r, p, whole| {
        // SAFETY: every tile stays within the rows and panels of this function's contract.
        unsafe {
            if whole {
                q4_tile_avxvnni::<VNNI_ROWS>(w, qa, r0 + r, p, kb, out, r);
            } else {
                q4_tile_avxvnni::<1>(w, qa, r0 + r, p, kb, out, r);
            }
        }
    });
}

/// # Safety
/// As [`q4_rows_avxvnni`], for rows `row..row + R`, panel `panel` and output rows
/// `out_row..out_row + R`.
#[inline]
#[target_feature(enable = "avx2,fma,avxvnni")]
unsafe fn q4_tile_avxvnni<const R: usize>(
    w: &PackedQ4,
    qa: &QuantizedRows,
    row: usize,
    panel: usize,
    kb: usize,
    out: &mut [MaybeUninit<f32>],
    out_row: usize,
) {
    let k = w.k;
    let mut accf = [[_mm256_setzero_ps(); 2]; R];
    // SAFETY: each (panel, k-block) holds BLOCK_BYTES bytes (16 scales, 8 groups of 64 weight
    // bytes); activation rows are `k` bytes with `kb` sums in `qa.sum`; the caller keeps rows
    // and panels in bounds.
    unsafe {
        for b in 0..kb {
            let block = w.data.as_ptr().add((panel * kb + b) * BLOCK_BYTES);
            // A lane sums at most 32 products of 15 × 127 and starts at most 8 × 32 × 127 away
            // from zero: far inside 32 bits.
            let mut acc: [[__m256i; 2]; R] = std::array::from_fn(|i| {
                let v = _mm256_set1_epi32(-8 * *qa.sum.get_unchecked((row + i) * kb + b));
                [v, v]
            });
            for g in 0..8 {
                let lo = _mm256_loadu_si256(block.add(PANEL * 4 + g * 64) as *const __m256i);
                let hi = _mm256_loadu_si256(block.add(PANEL * 4 + g * 64 + 32) as *const __m256i);
                for (i, a) in acc.iter_mut().enumerate() {
                    let ap = qa.q.as_ptr().add((row + i) * k + b * QK + g * 4) as *const i32;
                    let av = _mm256_set1_epi32(ap.read_unaligned());
                    a[0] = _mm256_dpbusd_avx_epi32(a[0], lo, av);
                    a[1] = _mm256_dpbusd_avx_epi32(a[1], hi, av);
                }
            }
            q4_scale_block(&acc, block, qa, row, kb, b, &mut accf);
        }
        q4_store_tile(&accf, w, panel, out, out_row);
    }
}

/// `out = x[r0..r0 + rows] · Wᵀ + b` for f32 weights packed in 16-column panels, as the AVX-512
/// kernel does with half its width: a tile of 6 rows × one panel (two 8-lane halves) keeps 12
/// accumulators, the panel's two vectors and one broadcast in the 16 registers AVX2 has.
///
/// # Safety
/// The CPU has AVX2 and FMA; `x` holds at least `(r0 + rows) * w.k` values and `out` exactly
/// `rows * w.n` elements (all written here).
#[target_feature(enable = "avx2,fma")]
pub(in crate::kernels) unsafe fn gemm_f32_rows(
    w: &PackedF32,
    x: &[f32],
    r0: usize,
    rows: usize,
    out: &mut [MaybeUninit<f32>],
) {
    for p in 0..w.n / F32_PANEL {
        let mut r = 0;
        while r < rows {
            let take = (rows - r).min(6);
            // SAFETY: every tile reads rows below r0 + rows of `x` and a panel below n / 16,
            // and writes rows below `rows` of `out`: within this function's contract.
            unsafe {
                if take == 6 {
                    f32_tile::<6>(w, x, r0 + r, p, out, r);
                } else {
                    for i in 0..take {
                        f32_tile::<1>(w, x, r0 + r + i, p, out, r + i);
                    }
                }
            }
            r += take;
        }
    }
}

/// `R` rows × one panel of 16 columns, accumulated in registers while `k` streams.
///
/// # Safety
/// As [`gemm_f32_rows`], for rows `row..row + R` of `x`, panel `panel` and output rows
/// `out_row..out_row + R`.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn f32_tile<const R: usize>(
    w: &PackedF32,
    x: &[f32],
    row: usize,
    panel: usize,
    out: &mut [MaybeUninit<f32>],
    out_row: usize,
) {
    let k = w.k;
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    // SAFETY: the caller keeps rows, the panel and output rows in bounds (see above); panel
    // data is `k * 16` floats per panel and the bias has one value per column.
    unsafe {
        let wp = w.data.as_ptr().add(panel * k * F32_PANEL);
        let xp = x.as_ptr().add(row * k);
        for kk in 0..k {
            let lo = _mm256_loadu_ps(wp.add(kk * F32_PANEL));
            let hi = _mm256_loadu_ps(wp.add(kk * F32_PANEL + 8));
            for (i, a) in acc.iter_mut().enumerate() {
                let xv = _mm256_set1_ps(*xp.add(i * k + kk));
                a[0] = _mm256_fmadd_ps(xv, lo, a[0]);
                a[1] = _mm256_fmadd_ps(xv, hi, a[1]);
            }
        }
        let col = panel * F32_PANEL;
        for (i, a) in acc.iter().enumerate() {
            let o = (out.as_mut_ptr() as *mut f32).add((out_row + i) * w.n + col);
            for (h, &v) in a.iter().enumerate() {
                let bias = _mm256_loadu_ps(w.bias.as_ptr().add(col + 8 * h));
                _mm256_storeu_ps(o.add(8 * h), _mm256_add_ps(v, bias));
            }
        }
    }
}
