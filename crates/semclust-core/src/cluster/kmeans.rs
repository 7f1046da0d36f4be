//! k-means over row-major vectors: greedy k-means++ initialisation, Lloyd's iterations, several
//! restarts with the lowest inertia kept, a seeded generator so that a run is reproducible.
//!
//! The iterations are standard Lloyd (each centroid moves to the mean of its rows), as
//! scikit-learn's `KMeans(algorithm="lloyd")`, and tests compare the two from the same start.
//! linfa-clustering's `KMeans`, used before, is m_k-means: it counts the old centroid as one
//! more member of its cluster, which damps the moves and, from the same start on the sample
//! corpus's embeddings, ended at k = 6 in another partition with 0.6 % more inertia than
//! scikit-learn's. `SEMCLUST_KMEANS=linfa` still runs linfa's iterations, to compare.
//!
//! For linfa, [`FastL2`] gives a squared distance over contiguous slices (its own `L2Dist` goes
//! through ndarray iterators).

use linfa::traits::Fit;
use linfa::DatasetBase;
use linfa_clustering::{KMeans, KMeansInit};
use linfa_nn::distance::Distance;
use ndarray::{ArrayView, ArrayView2, Dimension};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;

use crate::error::{Error, Result};

/// Euclidean distance for linfa, squared as its "reduced" distance.
#[derive(Debug, Clone, Copy, Default)]
pub struct FastL2;

impl Distance<f32> for FastL2 {
    fn distance<D: Dimension>(&self, a: ArrayView<f32, D>, b: ArrayView<f32, D>) -> f32 {
        self.rdistance(a, b).sqrt()
    }

    fn rdistance<D: Dimension>(&self, a: ArrayView<f32, D>, b: ArrayView<f32, D>) -> f32 {
        match (a.as_slice(), b.as_slice()) {
            (Some(x), Some(y)) if x.len() == y.len() => sq_dist(x, y),
            _ => a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum(),
        }
    }

    fn rdist_to_dist(&self, rdist: f32) -> f32 {
        rdist.sqrt()
    }

    fn dist_to_rdist(&self, dist: f32) -> f32 {
        dist * dist
    }
}

pub use crate::kernels::dot::sq_dist;

/// k-means settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KMeansParams {
    pub k: usize,
    pub seed: u64,
    /// Restarts from different k-means++ draws; the lowest inertia is kept.
    pub n_runs: usize,
    pub max_iterations: u64,
    /// Stop when the centroids move less than this (Euclidean norm of the change).
    pub tolerance: f32,
}

impl KMeansParams {
    pub fn new(k: usize, seed: u64) -> Self {
        Self {
            k,
            seed,
            n_runs: 10,
            max_iterations: 300,
            tolerance: 1e-4,
        }
    }
}

/// The outcome of k-means.
#[derive(Debug, Clone)]
pub struct Clustering {
    /// Lloyd iterations of the run kept.
    pub iterations: usize,
    pub k: usize,
    pub dim: usize,
    /// Cluster of each row.
    pub labels: Vec<usize>,
    /// `k × dim`, row-major.
    pub centroids: Vec<f32>,
    /// Sum of squared distances of the rows to their centroid.
    pub inertia: f64,
}

impl Clustering {
    /// The clustering that `labels` (a cluster in `0..k` per row of `data`) make: each
    /// centroid the mean of its rows (zero for an empty cluster), the inertia the sum of
    /// squared distances to them; no Lloyd iteration. For groupings made another way than
    /// k-means.
    pub fn from_labels(data: &[f32], dim: usize, labels: Vec<usize>, k: usize) -> Result<Self> {
        let n = data.len() / dim.max(1);
        if labels.len() != n {
            return Err(Error::invalid(
                "labels",
                format!("{} labels for {n} passages", labels.len()),
            ));
        }
        if let Some(&bad) = labels.iter().find(|&&l| l >= k) {
            return Err(Error::invalid(
                "labels",
                format!("cluster {bad} of {k}: clusters are numbered from 0"),
            ));
        }
        let (sums, sizes) = cluster_sums(data, dim, &labels, k);
        let centroids: Vec<f32> = sums
            .chunks_exact(dim)
            .zip(&sizes)
            .flat_map(|(s, &size)| s.iter().map(move |&x| (x / size.max(1) as f64) as f32))
            .collect();
        let inertia = inertia(data, dim, &labels, &centroids);
        Ok(Self {
            iterations: 0,
            k,
            dim,
            labels,
            centroids,
            inertia,
        })
    }

    pub fn centroid(&self, c: usize) -> &[f32] {
        &self.centroids[c * self.dim..(c + 1) * self.dim]
    }

    pub fn sizes(&self) -> Vec<usize> {
        let mut s = vec![0; self.k];
        for &l in &self.labels {
            s[l] += 1;
        }
        s
    }
}

/// Number of distinct rows (bit for bit), counted up to `limit`: k-means cannot fill more
/// clusters than there are distinct rows, and asking whether there are at least k stops after
/// about k rows on data without duplicates.
pub fn distinct_rows(data: &[f32], dim: usize, limit: usize) -> usize {
    let mut seen = std::collections::HashSet::new();
    for row in data.chunks_exact(dim) {
        seen.insert(row.iter().map(|x| x.to_bits()).collect::<Vec<u32>>());
        if seen.len() >= limit {
            break;
        }
    }
    seen.len()
}

/// Cluster the rows of `data` (`n × dim`) into `p.k` groups.
pub fn kmeans(data: &[f32], dim: usize, p: &KMeansParams) -> Result<Clustering> {
    kmeans_until(data, dim, p, &|| false)
}

/// [`kmeans`], stopping with [`Error::Cancelled`] when `cancelled` says so (asked before each
/// restart).
pub fn kmeans_until(
    data: &[f32],
    dim: usize,
    p: &KMeansParams,
    cancelled: &dyn Fn() -> bool,
) -> Result<Clustering> {
    let n = data.len().checked_div(dim).unwrap_or(0);
    if p.k == 0 {
        return Err(Error::invalid("k", "must be at least 1"));
    }
    if n == 0 {
        return Err(Error::invalid("data", "holds no rows: nothing to cluster"));
    }
    if p.k > n {
        return Err(Error::InvalidArgument(format!(
            "k = {} is more than the {n} passages in the index; choose k ≤ {n}",
            p.k
        )));
    }
    let distinct = distinct_rows(data, dim, p.k);
    if p.k > distinct {
        return Err(Error::InvalidArgument(format!(
            "k = {} is more than the {distinct} distinct passages in the index ({n} with \
             duplicates); choose k ≤ {distinct}",
            p.k
        )));
    }
    let mut rng = Xoshiro256Plus::seed_from_u64(p.seed);
    // Restarts are run here rather than by linfa: its k-means++ measures every point against
    // every centroid chosen so far at each step (quadratic in k), which costs more than all the
    // Lloyd iterations on 100,000 vectors; ours keeps each point's distance to its nearest
    // centroid up to date instead.
    let mut best: Option<Clustering> = None;
    // The rows' squared norms, for every distance by |x|² + |c|² − 2 x·c (see [`Nearest`]):
    // once for all the restarts.
    let norms = row_norms(data, dim);
    for _ in 0..p.n_runs.max(1) {
        if cancelled() {
            return Err(Error::Cancelled);
        }
        let init = kmeans_plus_plus(data, dim, &norms, p.k, &mut rng);
        let c = iterate(
            data,
            dim,
            &norms,
            init,
            p.max_iterations,
            p.tolerance,
            cancelled,
        )?;
        if best.as_ref().is_none_or(|b| c.inertia < b.inertia) {
            best = Some(c);
        }
    }
    best.ok_or_else(|| Error::internal("k-means: no run"))
}

/// [`kmeans_until`] for many rows: the restarts (k-means++ and Lloyd) run on the rows of
/// `sample` only, and Lloyd's iterations from the best of them run once on every row. A
/// restart costs as much as the whole clustering, so on 100,000 passages ten of them were most
/// of a themes run; their job is to find a good start, which a sample of thousands finds as
/// well: on real sets the final inertia is within 1 % of ten restarts on every row with 50
/// sampled rows per cluster, within 0.1 % with 100, and within 0.3 % on 104,832 replicated
/// passages (benches/RESULTS.md, "Restarts on a sample"). With a sample as large as the data
/// this is [`kmeans_until`].
pub fn kmeans_sampled_until(
    data: &[f32],
    dim: usize,
    sample: &[usize],
    p: &KMeansParams,
    cancelled: &dyn Fn() -> bool,
) -> Result<Clustering> {
    let n = data.len().checked_div(dim).unwrap_or(0);
    if sample.len() >= n {
        return kmeans_until(data, dim, p, cancelled);
    }
    let start = kmeans_until(&gather_rows(data, dim, sample), dim, p, cancelled)?;
    if cancelled() {
        return Err(Error::Cancelled);
    }
    kmeans_from_until(
        data,
        dim,
        &start.centroids,
        p.max_iterations,
        p.tolerance,
        cancelled,
    )
}

/// The rows `rows` of `data` (`dim` wide), in that order, as one row-major block.
pub fn gather_rows(data: &[f32], dim: usize, rows: &[usize]) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows.len() * dim);
    for &r in rows {
        out.extend_from_slice(&data[r * dim..(r + 1) * dim]);
    }
    out
}

/// Lloyd's iterations from the given centroids (`k × dim`, row-major), once: the outcome
/// depends only on the data and the start, as scikit-learn's `KMeans(init=C, n_init=1)`
/// (tests compare the two).
pub fn kmeans_from(
    data: &[f32],
    dim: usize,
    init: &[f32],
    max_iterations: u64,
    tolerance: f32,
) -> Result<Clustering> {
    kmeans_from_until(data, dim, init, max_iterations, tolerance, &|| false)
}

/// [`kmeans_from`], stopping with [`Error::Cancelled`] when `cancelled` says so (asked before
/// each iteration).
pub fn kmeans_from_until(
    data: &[f32],
    dim: usize,
    init: &[f32],
    max_iterations: u64,
    tolerance: f32,
    cancelled: &dyn Fn() -> bool,
) -> Result<Clustering> {
    let n = data.len().checked_div(dim).unwrap_or(0);
    let k = init.len().checked_div(dim).unwrap_or(0);
    if k == 0 || k > n || init.len() != k * dim {
        return Err(Error::invalid(
            "init",
            format!(
                "has {} values, not k × {dim} centroids for {n} rows",
                init.len()
            ),
        ));
    }
    let norms = row_norms(data, dim);
    iterate(
        data,
        dim,
        &norms,
        init.to_vec(),
        max_iterations,
        tolerance,
        cancelled,
    )
}

/// Iterate from `centroids` until no row changes cluster, the centroids move less than
/// `tolerance` in all (Euclidean norm of the change), or `max_iterations`; then label the rows
/// by the final centroids. `norms`: the rows' squared norms.
fn iterate(
    data: &[f32],
    dim: usize,
    norms: &[f32],
    centroids: Vec<f32>,
    max_iterations: u64,
    tolerance: f32,
    cancelled: &dyn Fn() -> bool,
) -> Result<Clustering> {
    let k = centroids.len() / dim;
    let (centroids, iterations) = if std::env::var("SEMCLUST_KMEANS").is_ok_and(|v| v == "linfa") {
        linfa_iterations(data, dim, centroids, max_iterations, tolerance)?
    } else {
        lloyd(
            data,
            dim,
            norms,
            centroids,
            max_iterations,
            tolerance,
            cancelled,
        )?
    };
    let mut c = assign(data, dim, norms, k, centroids);
    c.iterations = iterations;
    Ok(c)
}

/// Standard Lloyd: assign each row to its nearest centroid, move each centroid to the mean of
/// its rows (an empty cluster keeps its centroid). Sums are f64: 100,000 rows of f32 lose
/// digits otherwise.
fn lloyd(
    data: &[f32],
    dim: usize,
    norms: &[f32],
    mut centroids: Vec<f32>,
    max_iterations: u64,
    tolerance: f32,
    cancelled: &dyn Fn() -> bool,
) -> Result<(Vec<f32>, usize)> {
    let k = centroids.len() / dim;
    let mut labels: Vec<usize> = vec![usize::MAX; data.len() / dim];
    let mut iterations = 0;
    while (iterations as u64) < max_iterations.max(1) {
        if cancelled() {
            return Err(Error::Cancelled);
        }
        iterations += 1;
        let new_labels = Nearest::new(&centroids, dim).labels(data, norms);
        if new_labels == labels {
            break;
        }
        labels = new_labels;
        let (sums, counts) = cluster_sums(data, dim, &labels, k);
        let mut shift = 0f64;
        for c in 0..k {
            if counts[c] == 0 {
                continue;
            }
            let inv = 1.0 / counts[c] as f64;
            for (old, &sum) in centroids[c * dim..(c + 1) * dim]
                .iter_mut()
                .zip(&sums[c * dim..(c + 1) * dim])
            {
                let new = (sum * inv) as f32;
                shift += ((new - *old) as f64).powi(2);
                *old = new;
            }
        }
        if shift.sqrt() < tolerance as f64 {
            break;
        }
    }
    Ok((centroids, iterations))
}

/// linfa-clustering's iterations (m_k-means), for comparison (`SEMCLUST_KMEANS=linfa`).
fn linfa_iterations(
    data: &[f32],
    dim: usize,
    init: Vec<f32>,
    max_iterations: u64,
    tolerance: f32,
) -> Result<(Vec<f32>, usize)> {
    let n = data.len() / dim;
    let k = init.len() / dim;
    let records = ArrayView2::from_shape((n, dim), data)
        .map_err(|e| Error::internal(format!("vectors: {e}")))?;
    let dataset = DatasetBase::from(records);
    let init = ndarray::Array2::from_shape_vec((k, dim), init)
        .map_err(|e| Error::internal(format!("centroids: {e}")))?;
    let model = KMeans::params_with(k, Xoshiro256Plus::seed_from_u64(0), FastL2)
        .n_runs(1)
        .max_n_iterations(max_iterations.max(1))
        .tolerance(tolerance.max(f32::MIN_POSITIVE))
        .init_method(KMeansInit::Precomputed(init))
        .fit(&dataset)
        .map_err(|e| Error::internal(format!("k-means: {e}")))?;
    // linfa does not report its iterations.
    Ok((model.centroids().iter().copied().collect(), 0))
}

/// Each cluster's sum of its rows (`k × dim`, in f64) and its size: per-thread sums, then
/// added together.
fn cluster_sums(data: &[f32], dim: usize, labels: &[usize], k: usize) -> (Vec<f64>, Vec<usize>) {
    use rayon::prelude::*;
    data.par_chunks(dim)
        .zip(labels.par_iter())
        .fold(
            || (vec![0f64; k * dim], vec![0usize; k]),
            |(mut sums, mut counts), (row, &l)| {
                for (s, &x) in sums[l * dim..(l + 1) * dim].iter_mut().zip(row) {
                    *s += x as f64;
                }
                counts[l] += 1;
                (sums, counts)
            },
        )
        .reduce(
            || (vec![0f64; k * dim], vec![0usize; k]),
            |(mut a, mut ca), (b, cb)| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                ca.iter_mut().zip(&cb).for_each(|(x, y)| *x += y);
                (a, ca)
            },
        )
}

/// Sum of squared distances of the rows to their cluster's centroid, by the exact distance.
fn inertia(data: &[f32], dim: usize, labels: &[usize], centroids: &[f32]) -> f64 {
    use rayon::prelude::*;
    let dists: Vec<f32> = data
        .par_chunks(dim)
        .zip(labels)
        .map(|(row, &c)| sq_dist(row, &centroids[c * dim..(c + 1) * dim]))
        .collect();
    // Summed in row order, so that a run's inertia, which picks among restarts, never depends
    // on how the threads split the rows.
    dists.iter().map(|&d| d as f64).sum()
}

/// Each row's nearest centroid, and the sum of squared distances to it.
fn assign(data: &[f32], dim: usize, norms: &[f32], k: usize, centroids: Vec<f32>) -> Clustering {
    // The label by the fast expansion, the inertia by the exact distance to that centroid.
    let labels = Nearest::new(&centroids, dim).labels(data, norms);
    let inertia = inertia(data, dim, &labels, &centroids);
    Clustering {
        iterations: 0,
        k,
        dim,
        labels,
        centroids,
        inertia,
    }
}

/// Greedy k-means++ (Arthur & Vassilvitskii 2007): each new centre is the best, by the
/// resulting sum of squared distances, of `2 + ln k` candidates drawn with probability
/// proportional to the squared distance to the nearest centre chosen so far.
fn kmeans_plus_plus(
    data: &[f32],
    dim: usize,
    norms: &[f32],
    k: usize,
    rng: &mut Xoshiro256Plus,
) -> Vec<f32> {
    use rand_xoshiro::rand_core::RngCore;
    use rayon::prelude::*;
    let n = data.len() / dim;
    let row = |i: usize| &data[i * dim..(i + 1) * dim];
    let uniform = |rng: &mut Xoshiro256Plus| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let trials = 2 + (k as f64).ln() as usize;
    let mut centres = Vec::with_capacity(k * dim);
    let first = ((uniform(rng) * n as f64) as usize).min(n - 1);
    centres.extend_from_slice(row(first));
    let mut nearest: Vec<f32> = Nearest::new(row(first), dim).distances(data, norms);
    for _ in 1..k {
        let total: f64 = nearest.iter().map(|&d| d as f64).sum();
        // Candidates by inverse transform sampling of the cumulative distances.
        let mut picks: Vec<f64> = (0..trials).map(|_| uniform(rng) * total).collect();
        picks.sort_by(f64::total_cmp);
        let mut candidates = Vec::with_capacity(trials);
        let (mut acc, mut i) = (0f64, 0usize);
        for t in picks {
            while i < n - 1 && acc + (nearest[i] as f64) < t {
                acc += nearest[i] as f64;
                i += 1;
            }
            candidates.push(i);
        }
        if total <= 0.0 {
            // Every point sits on a centre (duplicates): any point will do.
            candidates = vec![((uniform(rng) * n as f64) as usize).min(n - 1)];
        }
        // One pass over the data scores every candidate (a row is read once, not once per
        // candidate): each row's distance to its nearest centre if that candidate joined.
        let m = candidates.len();
        let rows: Vec<f32> = candidates.iter().flat_map(|&c| row(c)).copied().collect();
        let mut with = Nearest::new(&rows, dim).distances(data, norms);
        with.par_chunks_mut(m)
            .zip(&nearest)
            .for_each(|(w, &near)| w.iter_mut().for_each(|d| *d = d.min(near)));
        let pot = |j: usize| -> f64 { with.iter().skip(j).step_by(m).map(|&x| x as f64).sum() };
        let j = (0..m)
            .map(|j| (j, pot(j)))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
            .map_or(0, |(j, _)| j);
        let best = candidates[j];
        nearest = with.iter().skip(j).step_by(m).copied().collect();
        centres.extend_from_slice(row(best));
    }
    centres
}

/// Squared norms of the rows.
fn row_norms(data: &[f32], dim: usize) -> Vec<f32> {
    use rayon::prelude::*;
    data.par_chunks(dim)
        .map(|r| r.iter().map(|x| x * x).sum())
        .collect()
}

/// The centroids of one Lloyd step, ready to find each row's nearest: |x − c|² is |x|² + |c|²
/// − 2 x·c, so the rows' products with all k centroids are one matrix product (the f32 GEMM
/// tile, AVX-512 or AVX2, with −|c|²/2 as its bias: the nearest centroid is the largest
/// output), where k separate distance loops per row were 61 % of a 29-k sweep. Without SIMD,
/// each row's products by the scan's dot kernel. The inertia is still summed from exact
/// distances ([`assign`]).
struct Nearest<'a> {
    centroids: &'a [f32],
    dim: usize,
    norms: Vec<f32>,
    packed: Option<crate::kernels::gemm_f32::PackedF32>,
}

/// Rows per matrix product: its output (rows × k rounded up to 16) stays a few MB.
const NEAREST_BLOCK: usize = 8192;

impl<'a> Nearest<'a> {
    fn new(centroids: &'a [f32], dim: usize) -> Self {
        let norms = row_norms(centroids, dim);
        let packed = crate::kernels::gemm_f32::simd().then(|| {
            let bias: Vec<f32> = norms.iter().map(|&n| -0.5 * n).collect();
            // Padding columns never win.
            crate::kernels::gemm_f32::PackedF32::padded(centroids, dim, bias, f32::NEG_INFINITY)
        });
        Self {
            centroids,
            dim,
            norms,
            packed,
        }
    }

    /// Each row's squared distances to every centroid (`n × k`, row-major) by the expansion;
    /// `norms` are the rows' squared norms.
    fn distances(&self, data: &[f32], norms: &[f32]) -> Vec<f32> {
        use rayon::prelude::*;
        let (dim, k) = (self.dim, self.norms.len());
        let Some(packed) = &self.packed else {
            let mut out = vec![0f32; norms.len() * k];
            out.par_chunks_mut(k)
                .zip(data.par_chunks(dim).zip(norms))
                .for_each(|(o, (row, &norm))| {
                    crate::kernels::dot::scores(self.centroids, dim, row, 0, o);
                    for (d, &cn) in o.iter_mut().zip(&self.norms) {
                        *d = (norm + cn - 2.0 * *d).max(0.0);
                    }
                });
            return out;
        };
        let cols = packed.n;
        let mut out = Vec::with_capacity(norms.len() * k);
        for (block, bnorms) in data
            .chunks(NEAREST_BLOCK * dim)
            .zip(norms.chunks(NEAREST_BLOCK))
        {
            let y = packed.forward(block, bnorms.len());
            for (r, &norm) in y.chunks_exact(cols).zip(bnorms) {
                out.extend(r[..k].iter().map(|&v| (norm - 2.0 * v).max(0.0)));
            }
        }
        out
    }

    /// Each row's nearest centroid.
    fn labels(&self, data: &[f32], norms: &[f32]) -> Vec<usize> {
        let k = self.norms.len();
        self.distances(data, norms)
            .chunks_exact(k)
            .map(|d| {
                d.iter()
                    .enumerate()
                    .fold(
                        (0, f32::INFINITY),
                        |b, (c, &x)| if x < b.1 { (c, x) } else { b },
                    )
                    .0
            })
            .collect()
    }
}

/// Closest centroid and its squared distance.
pub fn nearest_centroid(row: &[f32], centroids: &[f32], dim: usize) -> (usize, f32) {
    let mut best = (0, f32::INFINITY);
    for (c, cen) in centroids.chunks_exact(dim).enumerate() {
        let d = sq_dist(row, cen);
        if d < best.1 {
            best = (c, d);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_distance_matches_the_plain_sum() {
        let a: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..37).map(|i| (i as f32 * 0.11).cos()).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        assert!((sq_dist(&a, &b) - plain).abs() < 1e-4);
    }
}
