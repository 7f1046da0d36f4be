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

use rayon::prelude::*;
use serde::Serialize;

use super::kmeans::{kmeans_until, Clustering, KMeansParams};
use crate::error::{Error, Result};

/// Above this many rows the silhouette is computed on an evenly spaced sample of them: the
/// exact score is quadratic in n.
pub const SILHOUETTE_SAMPLE: usize = 4000;

/// The score of one k tried.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
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
    let (k0, k1) = (scores[0].k as f64, scores[scores.len() - 1].k as f64);
    let hi = scores.iter().map(|s| s.inertia).fold(f64::MIN, f64::max);
    let lo = scores.iter().map(|s| s.inertia).fold(f64::MAX, f64::min);
    if hi - lo <= 0.0 {
        return Some((best.k, KRule::Silhouette));
    }
    let below_chord = |s: &KScore| {
        let x = (s.k as f64 - k0) / (k1 - k0);
        let y = (s.inertia - lo) / (hi - lo);
        1.0 - x - y
    };
    let elbow = scores.iter().max_by(|a, b| {
        below_chord(a)
            .total_cmp(&below_chord(b))
            .then(b.k.cmp(&a.k))
    })?;
    Some((
        elbow.k,
        KRule::Elbow {
            best_silhouette: best.silhouette,
        },
    ))
}

/// Mean silhouette of a clustering (sampled above [`SILHOUETTE_SAMPLE`] rows).
pub fn silhouette(data: &[f32], dim: usize, c: &Clustering) -> f64 {
    SampleDistances::new(data, dim).silhouette(c)
}

/// The Euclidean distances between the rows a silhouette looks at (all of them, or an evenly
/// spaced sample above [`SILHOUETTE_SAMPLE`]), computed once for all the k a sweep tries: each
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
        let mut rows = Vec::with_capacity(m * dim);
        for &i in &sample {
            rows.extend_from_slice(&data[i * dim..(i + 1) * dim]);
        }
        let norms: Vec<f32> = rows
            .chunks_exact(dim.max(1))
            .map(|r| r.iter().map(|x| x * x).sum())
            .collect();
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

/// Cluster for every k in `range`, choose k by [`choose_k`]; returns the clustering at that k,
/// how it was chosen and every score.
pub fn best_k(
    data: &[f32],
    dim: usize,
    range: std::ops::RangeInclusive<usize>,
    base: &KMeansParams,
    mut progress: impl FnMut(&KScore),
    cancelled: &dyn Fn() -> bool,
) -> Result<(Clustering, KRule, Vec<KScore>)> {
    let mut scores = Vec::new();
    // Only the clustering of the best silhouette is kept as the sweep goes (all of them would
    // be k label vectors of n); an elbow elsewhere is clustered again, with the same seed and
    // so the same result.
    let mut best: Option<(Clustering, f64)> = None;
    let distances = SampleDistances::new(data, dim);
    for k in range {
        let c = kmeans_until(data, dim, &KMeansParams { k, ..*base }, cancelled)?;
        if cancelled() {
            return Err(Error::Cancelled);
        }
        let s = distances.silhouette(&c);
        let score = KScore {
            k,
            silhouette: s,
            inertia: c.inertia,
        };
        progress(&score);
        scores.push(score);
        if best.as_ref().is_none_or(|(_, b)| s > *b) {
            best = Some((c, s));
        }
    }
    let (k, rule) = choose_k(&scores).ok_or_else(|| Error::internal("no k to try"))?;
    let clustering = match best {
        Some((c, _)) if c.k == k => c,
        _ => kmeans_until(data, dim, &KMeansParams { k, ..*base }, cancelled)?,
    };
    Ok((clustering, rule, scores))
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
}
