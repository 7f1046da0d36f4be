//! Choice of k by silhouette: each k in a range is clustered, and the k whose clustering has the
//! highest mean silhouette (Rousseeuw 1987; Euclidean distance, as k-means minimises) wins.

use rayon::prelude::*;
use serde::Serialize;

use super::kmeans::{kmeans_until, sq_dist, Clustering, KMeansParams};
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

/// Mean silhouette of a clustering (sampled above [`SILHOUETTE_SAMPLE`] rows).
pub fn silhouette(data: &[f32], dim: usize, c: &Clustering) -> f64 {
    let n = c.labels.len();
    if c.k < 2 || n < 2 {
        return 0.0;
    }
    let step = n.div_ceil(SILHOUETTE_SAMPLE).max(1);
    let sample: Vec<usize> = (0..n).step_by(step).collect();
    let sizes = c.sizes();
    let total: f64 = sample
        .par_iter()
        .map(|&i| {
            let own = c.labels[i];
            if sizes[own] <= 1 {
                return 0.0; // a singleton's silhouette is 0 by definition
            }
            let row = &data[i * dim..(i + 1) * dim];
            // Sums of distances to every row (sampled rows stand for their stride), per cluster.
            let mut sum = vec![0f64; c.k];
            let mut cnt = vec![0usize; c.k];
            for &j in &sample {
                if j == i {
                    continue;
                }
                let d = sq_dist(row, &data[j * dim..(j + 1) * dim]).max(0.0).sqrt() as f64;
                sum[c.labels[j]] += d;
                cnt[c.labels[j]] += 1;
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
        .sum();
    total / sample.len() as f64
}

/// Cluster for every k in `range` and keep the best silhouette; returns it and every score.
pub fn best_k(
    data: &[f32],
    dim: usize,
    range: std::ops::RangeInclusive<usize>,
    base: &KMeansParams,
    mut progress: impl FnMut(&KScore),
    cancelled: &dyn Fn() -> bool,
) -> Result<(Clustering, Vec<KScore>)> {
    let mut best: Option<(Clustering, f64)> = None;
    let mut scores = Vec::new();
    for k in range {
        let c = kmeans_until(data, dim, &KMeansParams { k, ..*base }, cancelled)?;
        if cancelled() {
            return Err(Error::Cancelled);
        }
        let s = silhouette(data, dim, &c);
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
    match best {
        Some((c, _)) => Ok((c, scores)),
        None => Err(Error::internal("no k to try")),
    }
}
