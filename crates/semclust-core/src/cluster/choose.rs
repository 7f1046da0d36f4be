//! Choice of k. Each k in a range is clustered and scored by its mean silhouette (Rousseeuw
//! 1987; Euclidean distance, as k-means minimises) and its inertia.
//!
//! - When some k reaches a silhouette of [`CLEAR_STRUCTURE`] (0.25, below which Kaufman and
//!   Rousseeuw read "no substantial structure"), the data has clusters that silhouette can see,
//!   and the best silhouette wins.
//! - Otherwise, which is the rule on sentence embeddings of real text (measured 0.02 to 0.06
//!   over 2..30 on Debian Reference and manual pages in several languages, with differences
//!   between k smaller than between seeds), the silhouette's maximum is noise and lands on an
//!   edge of the range: k = 2 on a language split, or the cap. k is then the elbow of the
//!   inertia curve, the k after which each more theme explains markedly less of the spread: the
//!   point of the normalised curve farthest below its chord (Kneedle, Satopää et al. 2011),
//!   which lies inside the range by construction.
//!
//! The elbow is taken on the inertia curve smoothed by a least-squares cubic in ln k, not on
//! the raw points. On real text the curve is close to a + b·ln k with a slight convexity, so
//! its normalised form is nearly flat around the elbow and the raw points' restart-to-restart
//! noise (well under 1 % of the inertia) moved the raw elbow between seeds. Measured on four
//! real sets, seeds 1–8 (benches/RESULTS.md, "A choice of k that holds still"): from 3
//! restarts per k the fitted elbow moves by at most 1 between seeds where the raw one moved by
//! 1 to 6 at 10 restarts, and its mean is within 0.9 of the raw one's. So the sweep runs
//! [`SWEEP_RESTARTS`] restarts per k and only the chosen k gets the caller's full count.

use rayon::prelude::*;
use serde::Serialize;

use super::kmeans::{kmeans_until, Clustering, KMeansParams};
use crate::error::{Error, Result};

/// Above this many rows the silhouette is computed on an evenly spaced sample of them: the
/// exact score is quadratic in n.
pub const SILHOUETTE_SAMPLE: usize = 4000;

/// Restarts of k-means at each k of a sweep (the chosen k is clustered again with the
/// caller's count): the fitted elbow holds still from 3 restarts, see the module's notes.
pub const SWEEP_RESTARTS: usize = 3;

/// The score of one k tried.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KScore {
    pub k: usize,
    pub silhouette: f64,
    pub inertia: f64,
}

/// The range `--k auto` sweeps for n passages: 2 to about √n, at most 30, at most n − 1.
pub fn auto_range(n: usize) -> Result<std::ops::RangeInclusive<usize>> {
    if n < 3 {
        return Err(Error::invalid(
            "k",
            format!(
                "auto needs at least 3 passages to compare clusterings, the index holds {n}; \
                 give a number of themes or index more text"
            ),
        ));
    }
    let hi = ((n as f64).sqrt().round() as usize).clamp(2, 30).min(n - 1);
    Ok(2..=hi)
}

/// The silhouette from which a clustering is taken to show real structure.
pub const CLEAR_STRUCTURE: f64 = 0.25;

/// How a k was chosen among those tried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KRule {
    /// The best silhouette, at or above [`CLEAR_STRUCTURE`].
    Silhouette,
    /// The elbow of the inertia curve; the best silhouette was this, below the threshold.
    Elbow { best_silhouette: f64 },
}

impl std::fmt::Display for KRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KRule::Silhouette => write!(f, "chosen by silhouette"),
            KRule::Elbow { best_silhouette } => write!(
                f,
                "chosen at the elbow of inertia (best silhouette {best_silhouette:.3} < \
                 {CLEAR_STRUCTURE}: no clear cluster structure)"
            ),
        }
    }
}

/// The k to keep among `scores` (in increasing k), and why.
pub fn choose_k(scores: &[KScore]) -> Option<(usize, KRule)> {
    let best = scores
        .iter()
        .max_by(|a, b| a.silhouette.total_cmp(&b.silhouette).then(b.k.cmp(&a.k)))?;
    if best.silhouette >= CLEAR_STRUCTURE || scores.len() < 3 {
        return Some((best.k, KRule::Silhouette));
    }
    let (k0, k1) = (scores[0].k, scores[scores.len() - 1].k);
    // The elbow is looked for at every k of the range on the fitted curve, at the k tried on
    // the raw points when there are too few of them for a fit.
    let curve: Vec<(usize, f64)> = match InertiaFit::new(scores) {
        Some(fit) => (k0..=k1).map(|k| (k, fit.at(k))).collect(),
        None => scores.iter().map(|s| (s.k, s.inertia)).collect(),
    };
    let hi = curve.iter().map(|c| c.1).fold(f64::MIN, f64::max);
    let lo = curve.iter().map(|c| c.1).fold(f64::MAX, f64::min);
    if hi - lo <= 0.0 || k1 <= k0 {
        return Some((best.k, KRule::Silhouette));
    }
    let below_chord = |&(k, v): &(usize, f64)| {
        let x = (k - k0) as f64 / (k1 - k0) as f64;
        1.0 - x - (v - lo) / (hi - lo)
    };
    let elbow = curve.iter().max_by(|a, b| {
        below_chord(a)
            .total_cmp(&below_chord(b))
            .then(b.0.cmp(&a.0))
    })?;
    Some((
        elbow.0,
        KRule::Elbow {
            best_silhouette: best.silhouette,
        },
    ))
}

/// The inertia curve smoothed: the least-squares cubic in ln k through the scores tried.
#[derive(Debug, Clone, Copy)]
pub struct InertiaFit {
    coef: [f64; 4],
    /// ln k is mapped from [lmin, lmax] to [-1, 1], which keeps the normal equations well
    /// conditioned.
    lmin: f64,
    lmax: f64,
    /// The fit is of inertia / mean, so its tolerances do not depend on the units.
    mean: f64,
}

impl InertiaFit {
    /// The fit through `scores`; `None` with under 6 points or too few distinct k.
    pub fn new(scores: &[KScore]) -> Option<Self> {
        if scores.len() < 6 {
            return None;
        }
        let l: Vec<f64> = scores.iter().map(|s| (s.k.max(1) as f64).ln()).collect();
        let (lmin, lmax) = l
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        let mean = scores.iter().map(|s| s.inertia).sum::<f64>() / scores.len() as f64;
        if lmax - lmin <= 0.0 || mean.abs() <= 0.0 || !mean.is_finite() {
            return None;
        }
        let mut fit = Self {
            coef: [0.0; 4],
            lmin,
            lmax,
            mean,
        };
        let mut a = [[0f64; 5]; 4];
        for (li, s) in l.iter().zip(scores) {
            let b = fit.basis(*li);
            for r in 0..4 {
                for c in 0..4 {
                    a[r][c] += b[r] * b[c];
                }
                a[r][4] += b[r] * s.inertia / mean;
            }
        }
        fit.coef = solve4(a)?;
        Some(fit)
    }

    fn basis(&self, ln_k: f64) -> [f64; 4] {
        let t = 2.0 * (ln_k - self.lmin) / (self.lmax - self.lmin) - 1.0;
        [1.0, t, t * t, t * t * t]
    }

    /// The smoothed inertia at `k` (any k in the fitted range, tried or not).
    pub fn at(&self, k: usize) -> f64 {
        let b = self.basis((k.max(1) as f64).ln());
        self.mean * b.iter().zip(&self.coef).map(|(b, c)| b * c).sum::<f64>()
    }
}

/// The k `--k auto` tries in `range`: all of a range of up to [`AUTO_TRIES`] k, otherwise
/// [`AUTO_TRIES`] k spaced evenly in ln k, both ends included. The elbow is found on the fitted
/// curve at every k of the range; spaced so, the points are densest where the curve bends
/// and the sweep costs a third of every k's (k-means' cost grows with k). On the four real
/// sets of "A choice of k that holds still" (benches/RESULTS.md) the spaced sweep picks the k
/// of the full one in 29 of 32 runs, one more in the other 3. Where some k shows clear structure
/// by silhouette, [`best_k`] also tries the k between its spaced neighbours.
pub fn auto_ks(range: &std::ops::RangeInclusive<usize>) -> Vec<usize> {
    let (lo, hi) = (*range.start(), *range.end());
    if hi < lo {
        return Vec::new();
    }
    if hi - lo < AUTO_TRIES {
        return range.clone().collect();
    }
    let ratio = hi as f64 / lo.max(1) as f64;
    let mut ks: Vec<usize> = (0..AUTO_TRIES)
        .map(|i| {
            let k = lo as f64 * ratio.powf(i as f64 / (AUTO_TRIES - 1) as f64);
            (k.round() as usize).clamp(lo, hi)
        })
        .collect();
    ks.dedup();
    ks
}

/// How many k `--k auto` clusters at most (see [`auto_ks`]).
pub const AUTO_TRIES: usize = 14;

/// Gaussian elimination with partial pivoting on a 4×4 system (augmented column last); `None`
/// when it is singular.
fn solve4(mut a: [[f64; 5]; 4]) -> Option<[f64; 4]> {
    for col in 0..4 {
        let piv = (col..4).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, piv);
        let pivot_row = a[col];
        for row in a.iter_mut().skip(col + 1) {
            let f = row[col] / pivot_row[col];
            for (x, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                *x -= f * p;
            }
        }
    }
    let mut x = [0f64; 4];
    for r in (0..4).rev() {
        let s: f64 = (r + 1..4).map(|c| a[r][c] * x[c]).sum();
        x[r] = (a[r][4] - s) / a[r][r];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Mean silhouette of a clustering (sampled above `SILHOUETTE_SAMPLE` rows).
pub fn silhouette(data: &[f32], dim: usize, c: &Clustering) -> f64 {
    SampleDistances::new(data, dim).silhouette(c)
}

/// The Euclidean distances between the rows a silhouette looks at (all of them, or an evenly
/// spaced sample above `SILHOUETTE_SAMPLE`), computed once for all the k a sweep tries: each
/// k's score is then one pass over this matrix, where computing it from the vectors took
/// m² distances of `dim` values per k (4.3 s of a 29-k sweep over 2,188 passages).
pub struct SampleDistances {
    /// The rows looked at, in order.
    sample: Vec<usize>,
    /// `m × m`, row-major.
    d: Vec<f32>,
}

impl SampleDistances {
    pub fn new(data: &[f32], dim: usize) -> Self {
        let n = data.len().checked_div(dim).unwrap_or(0);
        let step = n.div_ceil(SILHOUETTE_SAMPLE).max(1);
        let sample: Vec<usize> = (0..n).step_by(step).collect();
        let m = sample.len();
        let rows = super::kmeans::gather_rows(data, dim, &sample);
        let norms: Vec<f32> = rows
            .chunks_exact(dim.max(1))
            .map(|r| r.iter().map(|x| x * x).sum())
            .collect();
        if dim > 0 && crate::kernels::gemm_f32::simd() {
            return Self {
                d: distances_by_gemm(&rows, dim, &norms),
                sample,
            };
        }
        let mut d = vec![0f32; m * m];
        if dim > 0 {
            d.par_chunks_mut(m.max(1)).enumerate().for_each(|(i, out)| {
                // |a - b|² = |a|² + |b|² - 2 a·b: one pass of the scan's dot kernel per row.
                crate::kernels::dot::scores(&rows, dim, &rows[i * dim..(i + 1) * dim], 0, out);
                for (j, o) in out.iter_mut().enumerate() {
                    *o = (norms[i] + norms[j] - 2.0 * *o).max(0.0).sqrt();
                }
            });
        }
        Self { sample, d }
    }

    /// Mean silhouette of `c` over the sampled rows.
    pub fn silhouette(&self, c: &Clustering) -> f64 {
        let m = self.sample.len();
        if c.k < 2 || c.labels.len() < 2 {
            return 0.0;
        }
        let sizes = c.sizes();
        let labels: Vec<usize> = self.sample.iter().map(|&i| c.labels[i]).collect();
        // Each row's silhouette in parallel, summed in row order: a parallel sum's order
        // would move the score's last digits from one run to the next.
        let each: Vec<f64> = (0..m)
            .into_par_iter()
            .map(|i| {
                let own = labels[i];
                if sizes[own] <= 1 {
                    return 0.0; // a singleton's silhouette is 0 by definition
                }
                // Sums of distances to every row (sampled rows stand for their stride), per
                // cluster.
                let mut sum = vec![0f64; c.k];
                let mut cnt = vec![0usize; c.k];
                for (j, (&d, &l)) in self.d[i * m..(i + 1) * m].iter().zip(&labels).enumerate() {
                    if j != i {
                        sum[l] += d as f64;
                        cnt[l] += 1;
                    }
                }
                if cnt[own] == 0 {
                    return 0.0;
                }
                let a = sum[own] / cnt[own] as f64;
                let b = (0..c.k)
                    .filter(|&l| l != own && cnt[l] > 0)
                    .map(|l| sum[l] / cnt[l] as f64)
                    .fold(f64::INFINITY, f64::min);
                if !b.is_finite() {
                    return 0.0;
                }
                let m = a.max(b);
                if m > 0.0 {
                    (b - a) / m
                } else {
                    0.0
                }
            })
            .collect();
        each.iter().sum::<f64>() / m as f64
    }
}

/// The `m × m` Euclidean distances between the rows of `rows` (`norms`: their squared
/// norms) from one product of the rows with themselves by the f32 GEMM tile, which reuses each
/// row from registers across a tile where a dot product per pair streams both (on 3,555
/// passages capped at AVX2: 0.12 s, where the dot products took about 0.35 s).
fn distances_by_gemm(rows: &[f32], dim: usize, norms: &[f32]) -> Vec<f32> {
    let m = norms.len();
    let packed = crate::kernels::gemm_f32::PackedF32::padded(rows, dim, vec![0.0; m], 0.0);
    let cols = packed.n;
    let mut d = packed.forward(rows, m);
    // Rows of `cols` products to rows of `m` distances, in place: row i moves to i × m ≤ i × cols.
    if cols != m {
        for i in 1..m {
            d.copy_within(i * cols..i * cols + m, i * m);
        }
        d.truncate(m * m);
    }
    d.par_chunks_mut(m.max(1)).enumerate().for_each(|(i, out)| {
        for (j, o) in out.iter_mut().enumerate() {
            *o = (norms[i] + norms[j] - 2.0 * *o).max(0.0).sqrt();
        }
    });
    d
}

/// Cluster each k of `ks` (in increasing order; [`SWEEP_RESTARTS`] restarts each, or `base`'s
/// count if lower), choose k by [`choose_k`], and cluster that k with `base`'s restarts; returns
/// that clustering, its silhouette, how k was chosen and every score of the sweep. When the
/// best silhouette shows clear structure, the k between the best's neighbours in `ks` are tried
/// too, since that rule takes the best of the k tried.
pub fn best_k(
    data: &[f32],
    dim: usize,
    ks: &[usize],
    base: &KMeansParams,
    mut progress: impl FnMut(&KScore),
    cancelled: &dyn Fn() -> bool,
) -> Result<(Clustering, f64, KRule, Vec<KScore>)> {
    let mut scores: Vec<KScore> = Vec::new();
    let distances = SampleDistances::new(data, dim);
    let sweep = KMeansParams {
        n_runs: base.n_runs.min(SWEEP_RESTARTS),
        ..*base
    };
    let mut try_k = |k: usize, scores: &mut Vec<KScore>| -> Result<()> {
        let c = kmeans_until(data, dim, &KMeansParams { k, ..sweep }, cancelled)?;
        if cancelled() {
            return Err(Error::Cancelled);
        }
        let score = KScore {
            k,
            silhouette: distances.silhouette(&c),
            inertia: c.inertia,
        };
        progress(&score);
        let at = scores.partition_point(|s| s.k < k);
        scores.insert(at, score);
        Ok(())
    };
    for &k in ks {
        try_k(k, &mut scores)?;
    }
    let best = scores
        .iter()
        .max_by(|a, b| a.silhouette.total_cmp(&b.silhouette).then(b.k.cmp(&a.k)))
        .copied();
    if let Some(best) = best.filter(|b| b.silhouette >= CLEAR_STRUCTURE) {
        let i = scores.iter().position(|s| s.k == best.k).unwrap_or(0);
        let lo = scores[i.saturating_sub(1)].k;
        let hi = scores[(i + 1).min(scores.len() - 1)].k;
        let tried: Vec<usize> = scores.iter().map(|s| s.k).collect();
        for k in (lo..=hi).filter(|k| !tried.contains(k)) {
            try_k(k, &mut scores)?;
        }
    }
    let (k, rule) = choose_k(&scores).ok_or_else(|| Error::internal("no k to try"))?;
    let clustering = kmeans_until(data, dim, &KMeansParams { k, ..*base }, cancelled)?;
    if cancelled() {
        return Err(Error::Cancelled);
    }
    let s = distances.silhouette(&clustering);
    Ok((clustering, s, rule, scores))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(sil: &[f64], inertia: &[f64]) -> Vec<KScore> {
        sil.iter()
            .zip(inertia)
            .enumerate()
            .map(|(i, (&s, &w))| KScore {
                k: i + 2,
                silhouette: s,
                inertia: w,
            })
            .collect()
    }

    /// The distances by the GEMM tile are the Euclidean distances, for rows of any norm and a
    /// count that is not a multiple of the tile's 16 columns. Compared squared: like the dot
    /// products before it, the expansion |a|² + |b|² − 2 a·b is exact to f32's rounding of the
    /// norms, which the square root magnifies near zero (a row against itself).
    #[test]
    fn distances_by_gemm_are_the_euclidean_distances() {
        let (m, dim) = (37, 24);
        let rows = crate::kernels::test_values(m * dim, 11);
        let norms: Vec<f32> = rows
            .chunks(dim)
            .map(|r| r.iter().map(|x| x * x).sum())
            .collect();
        let d = distances_by_gemm(&rows, dim, &norms);
        assert_eq!(d.len(), m * m);
        for i in 0..m {
            for j in 0..m {
                let want = (0..dim)
                    .map(|t| f64::from(rows[i * dim + t] - rows[j * dim + t]).powi(2))
                    .sum::<f64>();
                let got = f64::from(d[i * m + j]).powi(2);
                let scale = 1.0 + f64::from(norms[i] + norms[j]);
                assert!(
                    (got - want).abs() < 1e-5 * scale,
                    "{i},{j}: {got} against {want}"
                );
            }
        }
    }

    #[test]
    fn clear_structure_keeps_the_best_silhouette() {
        let s = scores(&[0.2, 0.6, 0.3, 0.25], &[10.0, 4.0, 3.5, 3.2]);
        assert_eq!(choose_k(&s), Some((3, KRule::Silhouette)));
    }

    #[test]
    fn flat_silhouette_takes_the_elbow_inside_the_range() {
        // Inertia of Debian Reference's German pages (scikit-learn KMeans, k = 2..12): the
        // silhouette's maximum is at k = 2, an edge.
        let inertia = [
            347.6, 339.9, 334.8, 329.1, 325.0, 321.6, 318.9, 316.7, 314.9, 312.9, 311.1,
        ];
        let sil = [
            0.038, 0.023, 0.024, 0.027, 0.026, 0.029, 0.031, 0.031, 0.032, 0.032, 0.032,
        ];
        let (k, rule) = choose_k(&scores(&sil, &inertia)).unwrap();
        assert!((3..12).contains(&k), "{k}");
        assert_eq!(
            rule,
            KRule::Elbow {
                best_silhouette: 0.038
            }
        );
    }

    #[test]
    fn the_fitted_elbow_of_a_logarithmic_curve_is_where_calculus_puts_it() {
        // inertia = a − b·ln k over 2..30: the normalised curve is farthest below its chord
        // where its slope equals the chord's, at k = (30 − 2) / ln(30 / 2) = 10.34.
        let k: Vec<f64> = (2..=30).map(|k| k as f64).collect();
        let inertia: Vec<f64> = k.iter().map(|k| 500.0 - 20.0 * k.ln()).collect();
        let sil = vec![0.05; inertia.len()];
        let (chosen, _) = choose_k(&scores(&sil, &inertia)).unwrap();
        assert_eq!(chosen, 10);
    }

    #[test]
    fn the_spaced_sweep_finds_the_elbow_of_the_full_one() {
        let range = 2..=30;
        let ks = auto_ks(&range);
        assert_eq!(ks, vec![2, 3, 4, 5, 6, 7, 9, 11, 13, 16, 20, 24, 30]);
        assert_eq!(auto_ks(&(2..=12)), (2..=12).collect::<Vec<_>>());
        let curve = |ks: &[usize]| -> Vec<KScore> {
            ks.iter()
                .map(|&k| KScore {
                    k,
                    silhouette: 0.05,
                    inertia: 500.0 - 20.0 * (k as f64).ln(),
                })
                .collect()
        };
        let all: Vec<usize> = range.collect();
        assert_eq!(choose_k(&curve(&ks)), choose_k(&curve(&all)));
    }

    #[test]
    fn restart_noise_does_not_move_the_elbow() {
        // The German pages' curve above, each point moved by up to 0.2 % (the size of the
        // restart-to-restart differences measured on real sets): the raw points' elbow moves,
        // the fitted one stays.
        let inertia = [
            347.6, 339.9, 334.8, 329.1, 325.0, 321.6, 318.9, 316.7, 314.9, 312.9, 311.1,
        ];
        let sil = vec![0.03; inertia.len()];
        let (clean, _) = choose_k(&scores(&sil, &inertia)).unwrap();
        for pattern in [[1.0, -1.0, 0.5], [-1.0, 1.0, -0.5], [0.5, 0.5, -1.0]] {
            let noisy: Vec<f64> = inertia
                .iter()
                .enumerate()
                .map(|(i, w)| w * (1.0 + 0.002 * pattern[i % 3]))
                .collect();
            let (k, _) = choose_k(&scores(&sil, &noisy)).unwrap();
            assert_eq!(k, clean, "{pattern:?}");
        }
    }
}
