//! Every kernel compiled for AVX-512: the flat scan's scores, k-means' squared distance, the f32
//! GEMM tile, the attention of one head, and the Q4 × Q8 GEMM tile with VNNI.
//!
//! Each function is `unsafe`: its caller guarantees the level ([`Isa::Avx512`] or, for the VNNI
//! functions, [`Isa::Avx512Vnni`]) is at most [`Isa::best`], plus the bounds its `# Safety`
//! section names, which the safe entry point in the job's file has asserted.
//!
//! [`Isa::Avx512`]: crate::kernels::isa::Isa::Avx512
//! [`Isa::Avx512Vnni`]: crate::kernels::isa::Isa::Avx512Vnni
//! [`Isa::best`]: crate::kernels::isa::Isa::best

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

use crate::kernels::gemm_f32::{PackedF32, PANEL as F32_PANEL};
use crate::kernels::gemm_q4::{PackedQ4, QuantizedRows, BLOCK_BYTES, PANEL, QK};

/// Scores of `query` against each `query.len()`-wide row of `rows`, one row at a time with four
/// accumulators along the row: the rows are read as one sequential stream (interleaving four
/// rows measured half the bandwidth: four streams defeat the prefetcher here).
///
/// # Safety
/// The CPU has AVX-512F; `query.len()` is a multiple of 16 and `rows` holds `out.len()` rows.
#[target_feature(enable = "avx512f")]
pub(in crate::kernels) unsafe fn scores(rows: &[f32], query: &[f32], out: &mut [f32]) {
    let (q, dim) = (query.as_ptr(), query.len());
    for (i, o) in out.iter_mut().enumerate() {
        // SAFETY: row i lies within `rows`, and every load reads 16 floats at an offset j with
        // j + 16 <= dim (dim is a multiple of 16), per the contract above.
        unsafe {
            let base = rows.as_ptr().add(i * dim);
            let (mut a, mut b, mut c, mut d) = (
                _mm512_setzero_ps(),
                _mm512_setzero_ps(),
                _mm512_setzero_ps(),
                _mm512_setzero_ps(),
            );
            let mut j = 0;
            while j + 64 <= dim {
                a = _mm512_fmadd_ps(_mm512_loadu_ps(base.add(j)), _mm512_loadu_ps(q.add(j)), a);
                b = _mm512_fmadd_ps(
                    _mm512_loadu_ps(base.add(j + 16)),
                    _mm512_loadu_ps(q.add(j + 16)),
                    b,
                );
                c = _mm512_fmadd_ps(
                    _mm512_loadu_ps(base.add(j + 32)),
                    _mm512_loadu_ps(q.add(j + 32)),
                    c,
                );
                d = _mm512_fmadd_ps(
                    _mm512_loadu_ps(base.add(j + 48)),
                    _mm512_loadu_ps(q.add(j + 48)),
                    d,
                );
                j += 64;
            }
            while j < dim {
                a = _mm512_fmadd_ps(_mm512_loadu_ps(base.add(j)), _mm512_loadu_ps(q.add(j)), a);
                j += 16;
            }
            *o = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a, b), _mm512_add_ps(c, d)));
        }
    }
}

/// [`crate::kernels::dot::sq_dist_portable`] compiled for AVX-512.
///
/// # Safety
/// The CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
pub(in crate::kernels) unsafe fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    crate::kernels::dot::sq_dist_portable(a, b)
}

/// Rows `r0..r0 + rows` of `x · Wᵀ + b` into `out`, in tiles of 6 rows × 2 panels.
///
/// # Safety
/// The CPU has AVX-512F; `x` holds at least `(r0 + rows) * w.k` values and `out` exactly
/// `rows * w.n` elements (all written here).
#[target_feature(enable = "avx512f")]
pub(in crate::kernels) unsafe fn gemm_f32_rows(
    w: &PackedF32,
    x: &[f32],
    r0: usize,
    rows: usize,
    out: &mut [MaybeUninit<f32>],
) {
    let panels = w.n / F32_PANEL;
    let mut p = 0;
    while p < panels {
        let two = p + 1 < panels;
        let mut r = 0;
        while r < rows {
            let take = (rows - r).min(6);
            // SAFETY: every tile reads rows below r0 + rows of `x` and panels below `panels`,
            // and writes rows below `rows` of `out`: within the bounds of this function's contract.
            unsafe {
                match (take, two) {
                    (6, true) => f32_tile::<6, 2>(w, x, r0 + r, p, out, r),
                    (6, false) => f32_tile::<6, 1>(w, x, r0 + r, p, out, r),
                    (_, true) => {
                        for i in 0..take {
                            f32_tile::<1, 2>(w, x, r0 + r + i, p, out, r + i)
                        }
                    }
                    (_, false) => {
                        for i in 0..take {
                            f32_tile::<1, 1>(w, x, r0 + r + i, p, out, r + i)
                        }
                    }
                }
            }
            r += take;
        }
        p += if two { 2 } else { 1 };
    }
}

/// `R` rows × `P` panels of 16 columns, accumulated in registers while `k` streams.
///
/// # Safety
/// As [`gemm_f32_rows`], for rows `row..row + R` of `x`, panels `panel..panel + P` and output
/// rows `out_row..out_row + R`.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn f32_tile<const R: usize, const P: usize>(
    w: &PackedF32,
    x: &[f32],
    row: usize,
    panel: usize,
    out: &mut [MaybeUninit<f32>],
    out_row: usize,
) {
    let k = w.k;
    let mut acc = [[_mm512_setzero_ps(); P]; R];
    // SAFETY: the caller keeps rows, panels and output rows in bounds (see above); panel data
    // is `k * 16` floats per panel and the bias has one value per column.
    unsafe {
        let wp: [*const f32; P] =
            std::array::from_fn(|j| w.data.as_ptr().add((panel + j) * k * F32_PANEL));
        let xp = x.as_ptr().add(row * k);
        for kk in 0..k {
            let wv: [__m512; P] =
                std::array::from_fn(|j| _mm512_loadu_ps(wp[j].add(kk * F32_PANEL)));
            for (i, a) in acc.iter_mut().enumerate() {
                let xv = _mm512_set1_ps(*xp.add(i * k + kk));
                for j in 0..P {
                    a[j] = _mm512_fmadd_ps(xv, wv[j], a[j]);
                }
            }
        }
        for (i, a) in acc.iter().enumerate() {
            for (j, &v) in a.iter().enumerate() {
                let col = (panel + j) * F32_PANEL;
                let bias = _mm512_loadu_ps(w.bias.as_ptr().add(col));
                _mm512_storeu_ps(
                    (out.as_mut_ptr() as *mut f32).add((out_row + i) * w.n + col),
                    _mm512_add_ps(v, bias),
                );
            }
        }
    }
}

/// `ctx = softmax(q · kᵀ) · v` for one head of one sequence, as
/// [`crate::kernels::attention::head_attention_impl`] (same layouts) but written for 32 vector
/// registers: scores in blocks of 8 query rows × 16 keys, softmax 16 lanes at a time with
/// `vscalefps` for 2^n, and `p · v` with 16 accumulators. The portable loop compiled for AVX-512
/// measured 7 % faster indexing than the AVX2 build; with 8 query rows it spilled and ran 3×
/// slower, hence intrinsics. Heads of 32 or 64 (every model semclust runs); others take the
/// portable loop.
///
/// # Safety
/// The CPU has AVX-512F, AVX2 and FMA.
#[target_feature(enable = "avx512f,avx2,fma")]
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
            32 => head_attention_zmm::<2, 8>(q, kt, v, n, n_pad, ctx),
            64 => head_attention_zmm::<4, 4>(q, kt, v, n, n_pad, ctx),
            _ => crate::kernels::attention::head_attention_impl::<4>(q, kt, v, n, n_pad, hd, ctx),
        }
    }
}

/// Query rows per block of scores.
const QB: usize = 8;

/// e^x on 16 lanes: the reduction and polynomial of [`crate::kernels::elementwise::exp_f32`],
/// 2^n applied by `vscalefps`.
#[inline]
#[target_feature(enable = "avx512f")]
fn exp16(x: __m512) -> __m512 {
    let x = _mm512_max_ps(
        _mm512_min_ps(x, _mm512_set1_ps(88.0)),
        _mm512_set1_ps(-87.0),
    );
    // Round to nearest, exceptions suppressed.
    let n =
        _mm512_roundscale_ps::<0x08>(_mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)));
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_145_75), x);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428_606_8e-6), r);
    let mut p = _mm512_fmadd_ps(r, _mm512_set1_ps(1.0 / 720.0), _mm512_set1_ps(1.0 / 120.0));
    p = _mm512_fmadd_ps(r, p, _mm512_set1_ps(1.0 / 24.0));
    p = _mm512_fmadd_ps(r, p, _mm512_set1_ps(1.0 / 6.0));
    p = _mm512_fmadd_ps(r, p, _mm512_set1_ps(0.5));
    p = _mm512_fmadd_ps(r, p, _mm512_set1_ps(1.0));
    p = _mm512_fmadd_ps(r, p, _mm512_set1_ps(1.0));
    _mm512_scalef_ps(p, n)
}

/// # Safety
/// As [`head_attention`], with `hd = 16 * HZ` and `G * HZ <= 16` rows × registers in the
/// `p · v` accumulators; `QB` is a multiple of `G`.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn head_attention_zmm<const HZ: usize, const G: usize>(
    q: &[f32],
    kt: &[f32],
    v: &[f32],
    n: usize,
    n_pad: usize,
    ctx: &mut [f32],
) {
    let hd = HZ * 16;
    let chunks = n_pad / 16;
    let tail = n - (chunks.saturating_sub(1)) * 16;
    let last: __mmask16 = if tail >= 16 {
        0xFFFF
    } else {
        (1u16 << tail) - 1
    };
    let mut scores = vec![0f32; QB * n_pad];
    let sp = scores.as_mut_ptr();
    let (kp, vp, cp) = (kt.as_ptr(), v.as_ptr(), ctx.as_mut_ptr());
    let mut i0 = 0;
    while i0 < n {
        let rows = (n - i0).min(QB);
        // The block's query rows; missing rows are zeros (their scores are finite, never used).
        let mut qb = [[0f32; 64]; QB];
        for (r, row) in qb.iter_mut().enumerate().take(rows) {
            row[..hd].copy_from_slice(&q[(i0 + r) * hd..(i0 + r + 1) * hd]);
        }
        // SAFETY: key loads read kt[d * n_pad + c * 16 ..][..16] with d < hd and c < n_pad / 16;
        // score accesses stay within QB × n_pad; value loads read rows j < n of width hd;
        // context stores write rows i0 + r < n. The caller asserted those lengths.
        unsafe {
            for c in 0..chunks {
                let mut acc = [_mm512_setzero_ps(); QB];
                for d in 0..hd {
                    let k = _mm512_loadu_ps(kp.add(d * n_pad + c * 16));
                    for (a, qr) in acc.iter_mut().zip(&qb) {
                        *a = _mm512_fmadd_ps(_mm512_set1_ps(qr[d]), k, *a);
                    }
                }
                for (r, a) in acc.iter().enumerate() {
                    _mm512_storeu_ps(sp.add(r * n_pad + c * 16), *a);
                }
            }
            // Softmax numerators in place (padding keys become 0); the division comes last.
            let mut inv = [0f32; QB];
            for (r, inv) in inv.iter_mut().enumerate().take(rows) {
                let row = sp.add(r * n_pad);
                let mut m = _mm512_set1_ps(f32::NEG_INFINITY);
                for c in 0..chunks {
                    let mask = if c + 1 == chunks { last } else { 0xFFFF };
                    m = _mm512_max_ps(
                        m,
                        _mm512_mask_loadu_ps(
                            _mm512_set1_ps(f32::NEG_INFINITY),
                            mask,
                            row.add(c * 16),
                        ),
                    );
                }
                let max = _mm512_set1_ps(_mm512_reduce_max_ps(m));
                let mut sum = _mm512_setzero_ps();
                for c in 0..chunks {
                    let mask = if c + 1 == chunks { last } else { 0xFFFF };
                    let e = exp16(_mm512_sub_ps(_mm512_loadu_ps(row.add(c * 16)), max));
                    let e = _mm512_maskz_mov_ps(mask, e);
                    _mm512_storeu_ps(row.add(c * 16), e);
                    sum = _mm512_add_ps(sum, e);
                }
                *inv = 1.0 / _mm512_reduce_add_ps(sum);
            }
            // ctx rows = Σ_j p[r][j] · v[j], G rows of HZ registers at a time.
            let mut g0 = 0;
            while g0 < rows {
                let mut acc = [[_mm512_setzero_ps(); HZ]; G];
                for j in 0..n {
                    let vr: [__m512; HZ] =
                        std::array::from_fn(|h| _mm512_loadu_ps(vp.add(j * hd + h * 16)));
                    for (r, a) in acc.iter_mut().enumerate() {
                        let p = _mm512_set1_ps(*sp.add((g0 + r) * n_pad + j));
                        for (x, &vv) in a.iter_mut().zip(&vr) {
                            *x = _mm512_fmadd_ps(p, vv, *x);
                        }
                    }
                }
                for (r, a) in acc.iter().enumerate().take(rows - g0) {
                    let s = _mm512_set1_ps(inv[g0 + r]);
                    for (h, &x) in a.iter().enumerate() {
                        _mm512_storeu_ps(cp.add((i0 + g0 + r) * hd + h * 16), _mm512_mul_ps(x, s));
                    }
                }
                g0 += G;
            }
        }
        i0 += rows;
    }
}

/// Q4 × Q8 rows `r0..r0 + rows` into `out`: rows of 6 (then 4, then 1) at a time against pairs
/// of panels (32 columns); with 6 rows, 12 int32 and 12 f32 accumulators still fit the 32 vector
/// registers.
///
/// # Safety
/// The CPU has AVX-512F, BW and VNNI; `qa` holds at least `r0 + rows` rows of `w.k` values and
/// `out` exactly `rows * w.n` elements (all written here).
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(in crate::kernels) unsafe fn q4_rows_vnni(
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
            // SAFETY: every tile stays within the rows and panels of this function's contract.
            unsafe {
                match (take, two) {
                    (6, true) => q4_tile_vnni::<6, 2>(w, qa, r0 + r, p, kb, out, r),
                    (6, false) => q4_tile_vnni::<6, 1>(w, qa, r0 + r, p, kb, out, r),
                    (4, true) => q4_tile_vnni::<4, 2>(w, qa, r0 + r, p, kb, out, r),
                    (4, false) => q4_tile_vnni::<4, 1>(w, qa, r0 + r, p, kb, out, r),
                    (_, true) => {
                        for i in 0..take {
                            q4_tile_vnni::<1, 2>(w, qa, r0 + r + i, p, kb, out, r + i)
                        }
                    }
                    (_, false) => {
                        for i in 0..take {
                            q4_tile_vnni::<1, 1>(w, qa, r0 + r + i, p, kb, out, r + i)
                        }
                    }
                }
            }
            p += if two { 2 } else { 1 };
        }
        r += take;
    }
}

/// # Safety
/// As [`q4_rows_vnni`], for rows `row..row + R`, panels `panel..panel + P` and output rows
/// `out_row..out_row + R`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn q4_tile_vnni<const R: usize, const P: usize>(
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
    // SAFETY: each (panel, k-block) holds BLOCK_BYTES bytes (16 scales, 8 groups of 64 weight
    // bytes); activation rows are `k` bytes; the caller keeps rows and panels in bounds.
    unsafe {
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
                let corr = _mm512_set1_ps((8 * qa.sum[(row + i) * kb + b]) as f32);
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
}
