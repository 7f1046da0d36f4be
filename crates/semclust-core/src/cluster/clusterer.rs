//! The seam between grouping passages and describing the groups. A [`Clusterer`] turns the
//! prepared vectors into a [`Grouping`] (a cluster per row, a centroid per cluster, and how
//! the number of clusters was chosen); everything `themes` builds on it (key terms, labels,
//! representatives, the article table, the map, themes over time) reads only that. [`KMeans`]
//! is the one semclust ships: Lloyd from k-means++ starts, k fixed or chosen by the
//! silhouette or the elbow of its inertia (`choose.rs`).

use super::choose::{auto_ks, auto_range, best_k, KRule, KScore};
use super::kmeans::{self, Clustering, KMeansParams};
use super::{layout, KChoice, K_SWEEP_SAMPLE};
use crate::error::{Error, Result};

/// How the passages were grouped.
#[derive(Debug, Clone)]
pub struct Grouping {
    /// A cluster per row and a centroid per cluster (`Clustering::from_labels` makes one from
    /// labels alone: mean vectors, and the within-cluster sum of squares as its inertia).
    pub clustering: Clustering,
    /// How k was chosen: `None` when it was given.
    pub chosen: Option<Chosen>,
    /// The mean silhouette of the grouping, when choosing k already computed it over every
    /// row (else `themes` computes it).
    pub silhouette: Option<f64>,
}

/// How a number of clusters was chosen.
#[derive(Debug, Clone)]
pub struct Chosen {
    pub rule: KRule,
    /// Every k tried, with its scores.
    pub scores: Vec<KScore>,
    /// The k were compared on a sample of this many rows.
    pub sample: Option<usize>,
}

/// A way of grouping passage vectors.
pub trait Clusterer {
    /// Group the `n × dim` rows of `data` as `k` asks, telling `progress` about each k tried;
    /// [`Error::Cancelled`] when `cancelled` says so.
    fn group(
        &self,
        data: &[f32],
        dim: usize,
        k: &KChoice,
        progress: &mut dyn FnMut(&KScore),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Grouping>;
}

/// k-means: `restarts` k-means++ starts (the lowest inertia kept), seeded.
#[derive(Debug, Clone, Copy)]
pub struct KMeans {
    pub seed: u64,
    pub restarts: usize,
}

/// Clusters decided elsewhere (another library, a person's sorting): one per row, in
/// `0..k`, in the order of [`super::ThemeInput::passages`]. Themes are then described as
/// k-means' are; `k` is not chosen, so `--k` is ignored.
#[derive(Debug, Clone)]
pub struct Given {
    pub labels: Vec<usize>,
    pub k: usize,
}

impl Clusterer for Given {
    fn group(
        &self,
        data: &[f32],
        dim: usize,
        _k: &KChoice,
        _progress: &mut dyn FnMut(&KScore),
        _cancelled: &dyn Fn() -> bool,
    ) -> Result<Grouping> {
        Ok(Grouping {
            clustering: Clustering::from_labels(data, dim, self.labels.clone(), self.k)?,
            chosen: None,
            silhouette: None,
        })
    }
}

impl Clusterer for KMeans {
    fn group(
        &self,
        data: &[f32],
        dim: usize,
        k: &KChoice,
        progress: &mut dyn FnMut(&KScore),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Grouping> {
        let n = data.len() / dim.max(1);
        let base = KMeansParams {
            n_runs: self.restarts,
            ..KMeansParams::new(2, self.seed)
        };
        match *k {
            KChoice::Fixed(k) => Ok(Grouping {
                clustering: cluster_all(data, dim, &KMeansParams { k, ..base }, cancelled)?,
                chosen: None,
                silhouette: None,
            }),
            KChoice::Auto | KChoice::Range(..) => {
                let range = match *k {
                    KChoice::Range(lo, hi) => {
                        // A range is decided by silhouette, which needs fewer themes than passages
                        // (and at least 3 passages to tell 2 themes apart); a fixed k may be up to n.
                        if n < 3 {
                            return Err(Error::invalid(
                                "k",
                                format!(
                                    "{lo}..{hi}: choosing among numbers of themes needs at least 3 passages, the index holds {n}; give one number of themes (at most {n})"
                                ),
                            ));
                        }
                        if hi >= n {
                            return Err(Error::invalid(
                                "k",
                                format!(
                                    "{lo}..{hi}: the index holds {n} passages; a range is compared by silhouette, which needs fewer themes than passages, so it can reach {} (one fixed number of themes can be up to {n})",
                                    n - 1
                                ),
                            ));
                        }
                        lo..=hi
                    }
                    _ => auto_range(n)?,
                };
                // Duplicates cap the number of clusters k-means can fill.
                let distinct = kmeans::distinct_rows(data, dim, *range.end());
                let hi = (*range.end()).min(distinct.max(2));
                let lo = (*range.start()).min(hi);
                // A range the user gives is tried k by k; `auto` tries k spaced in ln k (the elbow
                // is found on the fitted curve at every k, see `choose.rs`).
                let ks: Vec<usize> = match *k {
                    KChoice::Range(..) => (lo..=hi).collect(),
                    _ => auto_ks(&(lo..=hi)),
                };
                if n > K_SWEEP_SAMPLE {
                    // Above this size the sweep runs on a seeded sample (each k is a full k-means
                    // with restarts: 29 of them on 100,000 passages take minutes), and only the
                    // chosen k clusters every passage.
                    // `best_k` clusters its chosen k on the sample with the full restarts, which is
                    // the start `cluster_all` would compute again from the same seeded sample:
                    // Lloyd on every row goes on from it.
                    let rows = layout::sample_rows(n, K_SWEEP_SAMPLE, self.seed);
                    let sub = kmeans::gather_rows(data, dim, &rows);
                    let (c, _, rule, scores) =
                        best_k(&sub, dim, &ks, &base, &mut *progress, cancelled)?;
                    let full = if restarts_on_sample(n, c.k) {
                        kmeans::kmeans_from_until(
                            data,
                            dim,
                            &c.centroids,
                            base.max_iterations,
                            base.tolerance,
                            cancelled,
                        )?
                    } else {
                        kmeans::kmeans_until(
                            data,
                            dim,
                            &KMeansParams { k: c.k, ..base },
                            cancelled,
                        )?
                    };
                    Ok(Grouping {
                        clustering: full,
                        chosen: Some(Chosen {
                            rule,
                            scores,
                            sample: Some(rows.len()),
                        }),
                        // Scored on the sample: `themes` scores the full clustering.
                        silhouette: None,
                    })
                } else {
                    let (clustering, silhouette, rule, scores) =
                        best_k(data, dim, &ks, &base, &mut *progress, cancelled)?;
                    Ok(Grouping {
                        clustering,
                        chosen: Some(Chosen {
                            rule,
                            scores,
                            sample: None,
                        }),
                        silhouette: Some(silhouette),
                    })
                }
            }
        }
    }
}

/// Whether k-means on `n` rows at `k` runs its restarts on the seeded sample of
/// [`K_SWEEP_SAMPLE`] rows and Lloyd once on every row from the best of them (see
/// [`kmeans::kmeans_sampled_until`]): above that many rows, unless k is too large for the
/// sample to hold 50 rows per cluster.
fn restarts_on_sample(n: usize, k: usize) -> bool {
    n > K_SWEEP_SAMPLE && k.saturating_mul(50) <= K_SWEEP_SAMPLE
}

/// k-means over every row with `p`'s restarts, on the sample where [`restarts_on_sample`]
/// says so; every restart sees every row otherwise, or when the sample cannot be cut into k
/// (duplicates).
fn cluster_all(
    data: &[f32],
    dim: usize,
    p: &KMeansParams,
    cancelled: &dyn Fn() -> bool,
) -> Result<Clustering> {
    let n = data.len() / dim.max(1);
    if restarts_on_sample(n, p.k) {
        let rows = layout::sample_rows(n, K_SWEEP_SAMPLE, p.seed);
        match kmeans::kmeans_sampled_until(data, dim, &rows, p, cancelled) {
            Err(Error::Cancelled) => return Err(Error::Cancelled),
            Ok(c) => return Ok(c),
            Err(_) => {}
        }
    }
    kmeans::kmeans_until(data, dim, p, cancelled)
}
