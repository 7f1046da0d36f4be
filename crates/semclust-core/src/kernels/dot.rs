//! Dot products and distances of f32 rows: the scores of the flat (exact) scan and k-means'
//! squared Euclidean distances.
//!
//! A single query against n rows reads every vector once: the scan is bound by memory bandwidth,
//! not arithmetic, so its kernels stream the rows in order with independent FMA chains per row
//! (the query stays in L1).

use super::isa::Isa;

/// Scores (inner products) of `query` against rows `[r0, r0 + out.len())` of `data`, row-major
/// with `dim` values per row.
///
/// # Panics
/// When `query` is not `dim` long or the rows run past `data`.
#[inline]
pub fn scores(data: &[f32], dim: usize, query: &[f32], r0: usize, out: &mut [f32]) {
    scores_at(Isa::best(), data, dim, query, r0, out)
}

/// [`scores`] with the kernels of `isa` (at most [`Isa::best`]).
#[inline]
pub(crate) fn scores_at(
    isa: Isa,
    data: &[f32],
    dim: usize,
    query: &[f32],
    r0: usize,
    out: &mut [f32],
) {
    // Real asserts: the kernels read through raw pointers within these bounds.
    assert!(isa.usable(), "{isa:?} is not available here");
    assert_eq!(query.len(), dim, "query length");
    let rows = r0
        .checked_add(out.len())
        .and_then(|end| data.get(r0.checked_mul(dim)?..end.checked_mul(dim)?));
    let Some(rows) = rows else {
        panic!("rows {r0}..{} past the data", r0.saturating_add(out.len()))
    };
    if dim == 0 {
        out.fill(0.0);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if isa >= Isa::Avx512 && dim.is_multiple_of(16) {
            // SAFETY: the level is available (asserted), dim is a multiple of 16, and `rows`
            // holds out.len() rows of dim values (sliced above).
            unsafe { super::x86::avx512::scores(rows, query, out) };
            return;
        }
        if isa >= Isa::Avx2 && dim.is_multiple_of(8) {
            // SAFETY: as above, with dim a multiple of 8.
            unsafe { super::x86::avx2::scores(rows, query, out) };
            return;
        }
    }
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(dim.max(1))) {
        *o = row.iter().zip(query).map(|(a, b)| a * b).sum();
    }
}

/// Squared Euclidean distance of two equally long slices.
///
/// # Panics
/// When the lengths differ.
pub fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    sq_dist_at(Isa::best(), a, b)
}

/// [`sq_dist`] with the kernels of `isa` (at most [`Isa::best`]).
pub(crate) fn sq_dist_at(isa: Isa, a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "sq_dist of slices of different lengths");
    assert!(isa.usable(), "{isa:?} is not available here");
    #[cfg(target_arch = "x86_64")]
    {
        if isa >= Isa::Avx512 {
            // SAFETY: the level is available (asserted); the body only indexes the slices.
            return unsafe { super::x86::avx512::sq_dist(a, b) };
        }
        if isa >= Isa::Avx2 {
            // SAFETY: as above.
            return unsafe { super::x86::avx2::sq_dist(a, b) };
        }
    }
    sq_dist_portable(a, b)
}

/// Sixteen independent sums: the compiler keeps them in vector registers, which a single
/// running sum (a chain of dependent float additions it may not reorder) would forbid.
#[inline(always)]
pub(super) fn sq_dist_portable(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| (x - y) * (x - y)).sum();
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_values as data;

    #[test]
    fn every_level_scores_like_an_f64_sum() {
        for dim in [8, 16, 24, 384, 5] {
            let d = data(9 * dim, 7);
            let q = data(dim, 11);
            for isa in Isa::available() {
                let mut out = [0f32; 7];
                scores_at(isa, &d, dim, &q, 2, &mut out);
                for (i, s) in out.iter().enumerate() {
                    let want: f64 = d[(2 + i) * dim..(3 + i) * dim]
                        .iter()
                        .zip(&q)
                        .map(|(a, b)| *a as f64 * *b as f64)
                        .sum();
                    assert!(
                        (*s as f64 - want).abs() < 1e-4,
                        "{isa:?} dim {dim}: {s} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "past the data")]
    fn rows_past_the_data_are_refused() {
        let d = vec![0f32; 16 * 3];
        scores(&d, 16, &[0.0; 16], 2, &mut [0.0; 2]);
    }

    #[test]
    #[should_panic(expected = "query length")]
    fn a_short_query_is_refused() {
        let d = vec![0f32; 16 * 3];
        scores(&d, 16, &[0.0; 8], 0, &mut [0.0; 2]);
    }

    #[test]
    fn every_level_measures_distance_like_an_f64_sum() {
        for n in [1, 16, 37, 384] {
            let (a, b) = (data(n, 3), data(n, 5));
            let want: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
                .sum();
            for isa in Isa::available() {
                let got = sq_dist_at(isa, &a, &b) as f64;
                assert!((got - want).abs() < 1e-4 * (1.0 + want), "{isa:?} n {n}");
            }
        }
    }

    #[test]
    #[should_panic(expected = "different lengths")]
    fn distances_of_unequal_slices_are_refused() {
        sq_dist(&[1.0, 2.0], &[1.0]);
    }
}
