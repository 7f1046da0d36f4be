//! Exact top-k by inner product over contiguous, row-major, normalised vectors.
//!
//! A single query against n rows reads every vector once: the scan is bound by memory bandwidth,
//! not arithmetic. So the kernel streams the rows in order (four independent FMA chains per row
//! hide the FMA latency, the query stays in L1) and scores a block of rows into a small buffer
//! that the top-k selection reads while it is still in L1; selection keeps a k-sized min-heap and
//! touches it only for scores above its minimum, so there is no sort of n scores.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rayon::prelude::*;

/// A row of the matrix and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub row: u32,
    pub score: f32,
}

const BLOCK: usize = 512;

/// The scores kernel lives with the other SIMD kernels.
pub use crate::kernels::dot::scores;

#[derive(Clone, Copy, PartialEq)]
struct Entry(Scored);

impl Eq for Entry {}

impl Ord for Entry {
    /// Reversed, so that `BinaryHeap` (a max-heap) keeps the worst kept hit on top; among equal
    /// scores the lower row ranks better, which makes results deterministic.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .0
            .score
            .total_cmp(&self.0.score)
            .then(self.0.row.cmp(&other.0.row))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The k best rows of a stream of scores.
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Entry>,
}

impl TopK {
    pub fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    #[inline]
    pub fn threshold(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.heap.peek().map_or(f32::NEG_INFINITY, |e| e.0.score)
        }
    }

    #[inline]
    pub fn push(&mut self, row: u32, score: f32) {
        if self.k == 0 {
            return;
        }
        let e = Entry(Scored { row, score });
        if self.heap.len() < self.k {
            self.heap.push(e);
        } else if let Some(top) = self.heap.peek() {
            if e < *top {
                self.heap.pop();
                self.heap.push(e);
            }
        }
    }

    pub fn merge(mut self, other: TopK) -> TopK {
        for e in other.heap {
            self.push(e.0.row, e.0.score);
        }
        self
    }

    /// Best first.
    pub fn into_sorted(self) -> Vec<Scored> {
        let mut v: Vec<Entry> = self.heap.into_vec();
        v.sort();
        v.into_iter().map(|e| e.0).collect()
    }
}

/// Exact top-k of `query` over rows `[from, to)`, skipping rows for which `skip` is true.
pub fn top_k_range(
    data: &[f32],
    dim: usize,
    query: &[f32],
    k: usize,
    from: usize,
    to: usize,
    skip: &Skip<'_>,
) -> TopK {
    let mut top = TopK::new(k);
    let mut buf = [0f32; BLOCK];
    let mut r = from;
    while r < to {
        let len = BLOCK.min(to - r);
        scores(data, dim, query, r, &mut buf[..len]);
        let mut t = top.threshold();
        for (i, &s) in buf[..len].iter().enumerate() {
            if s > t || (s == t && top.heap.len() < k) {
                let row = (r + i) as u32;
                if !skip(row) {
                    top.push(row, s);
                    t = top.threshold();
                }
            }
        }
        r += len;
    }
    top
}

/// Which rows a scan leaves out.
pub type Skip<'a> = dyn Fn(u32) -> bool + Sync + 'a;

/// Exact top-k on the calling thread.
pub fn top_k(data: &[f32], dim: usize, query: &[f32], k: usize, skip: &Skip<'_>) -> Vec<Scored> {
    let n = data.len() / dim.max(1);
    top_k_range(data, dim, query, k, 0, n, skip).into_sorted()
}

/// Exact top-k split over rayon's threads (worth it from a few tens of thousands of rows).
pub fn top_k_parallel(
    data: &[f32],
    dim: usize,
    query: &[f32],
    k: usize,
    skip: &Skip<'_>,
) -> Vec<Scored> {
    let n = data.len() / dim.max(1);
    let parts = rayon::current_num_threads().max(1);
    let chunk = n.div_ceil(parts).max(BLOCK);
    (0..n.div_ceil(chunk))
        .into_par_iter()
        .map(|c| {
            top_k_range(
                data,
                dim,
                query,
                k,
                c * chunk,
                ((c + 1) * chunk).min(n),
                skip,
            )
        })
        .reduce(|| TopK::new(k), TopK::merge)
        .into_sorted()
}

/// Rows scored per pass in a batch: 2,048 × 384 floats (3 MB) stay in L2 while every query of
/// the batch is multiplied with them.
const BATCH_CHUNK: usize = 2048;

/// Exact top-k for many queries (row-major `queries`, `dim` values each), best first per query.
///
/// A batch is a matrix product: with AVX-512 or AVX2, chunks of rows are repacked into column
/// panels and multiplied with all queries by the f32 GEMM tile of the embedding engine (no
/// horizontal sums, each panel reused by every query), which is compute-bound instead of
/// bandwidth-bound. Without SIMD, one scan per query. Work is spread over rayon's threads.
pub fn top_k_batch(data: &[f32], dim: usize, queries: &[f32], k: usize) -> Vec<Vec<Scored>> {
    let nq = queries.len() / dim.max(1);
    let n = data.len() / dim.max(1);
    if !crate::kernels::gemm_f32::simd() {
        return (0..nq)
            .into_par_iter()
            .map(|q| top_k(data, dim, &queries[q * dim..(q + 1) * dim], k, &|_| false))
            .collect();
    }
    let mut tops: Vec<TopK> = (0..nq).map(|_| TopK::new(k)).collect();
    let mut c0 = 0;
    while c0 < n {
        let len = BATCH_CHUNK.min(n - c0);
        let rows = &data[c0 * dim..(c0 + len) * dim];
        // The kernel takes whole 16-column panels: the last chunk's are padded with zero
        // columns, whose scores are never read.
        let packed = crate::kernels::gemm_f32::PackedF32::padded(rows, dim, vec![0.0; len], 0.0);
        let cols = packed.n;
        let s = packed.forward(queries, nq);
        tops.par_iter_mut().enumerate().for_each(|(qi, top)| {
            let row = &s[qi * cols..qi * cols + len];
            let mut t = top.threshold();
            for (i, &v) in row.iter().enumerate() {
                if v > t || (v == t && top.heap.len() < k) {
                    top.push((c0 + i) as u32, v);
                    t = top.threshold();
                }
            }
        });
        c0 += len;
    }
    tops.into_iter().map(TopK::into_sorted).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, dim: usize) -> Vec<f32> {
        crate::kernels::test_values(n * dim, 0x9E3779B97F4A7C15)
    }

    fn brute(d: &[f32], dim: usize, q: &[f32], k: usize, skip: impl Fn(u32) -> bool) -> Vec<u32> {
        let mut all: Vec<(f32, u32)> = d
            .chunks(dim)
            .enumerate()
            .filter(|(i, _)| !skip(*i as u32))
            .map(|(i, r)| (r.iter().zip(q).map(|(a, b)| a * b).sum::<f32>(), i as u32))
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        all.into_iter().take(k).map(|x| x.1).collect()
    }

    #[test]
    fn matches_brute_force_for_odd_sizes() {
        for (n, dim) in [(1, 16), (7, 384), (1031, 384), (600, 24), (50, 5)] {
            let d = data(n, dim);
            let q = &d[(n / 2) * dim..(n / 2 + 1) * dim].to_vec();
            for k in [0, 1, 10, n + 3] {
                let skip = |r: u32| r % 3 == 1;
                let got: Vec<u32> = top_k(&d, dim, q, k, &skip).iter().map(|h| h.row).collect();
                assert_eq!(got, brute(&d, dim, q, k, skip), "n={n} dim={dim} k={k}");
                let par: Vec<u32> = top_k_parallel(&d, dim, q, k, &skip)
                    .iter()
                    .map(|h| h.row)
                    .collect();
                assert_eq!(par, got);
            }
        }
    }

    #[test]
    fn batch_equals_one_query_at_a_time() {
        let (n, dim) = (1500, 384);
        let d = data(n, dim);
        // 11 queries: one full tile of 8 and a partial tile of 3.
        let qs: Vec<f32> = d[..11 * dim].iter().map(|x| x * 0.5 + 0.1).collect();
        let batch = top_k_batch(&d, dim, &qs, 7);
        assert_eq!(batch.len(), 11);
        for (qi, got) in batch.iter().enumerate() {
            let want = top_k(&d, dim, &qs[qi * dim..(qi + 1) * dim], 7, &|_| false);
            let g: Vec<u32> = got.iter().map(|h| h.row).collect();
            let w: Vec<u32> = want.iter().map(|h| h.row).collect();
            assert_eq!(g, w, "query {qi}");
        }
    }

    #[test]
    fn simd_scores_equal_scalar_sums() {
        let dim = 384;
        let d = data(9, dim);
        let q = data(1, dim);
        let mut out = [0f32; 9];
        scores(&d, dim, &q, 0, &mut out);
        for (i, s) in out.iter().enumerate() {
            let want: f64 = d[i * dim..(i + 1) * dim]
                .iter()
                .zip(&q)
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum();
            assert!((*s as f64 - want).abs() < 1e-3, "{s} vs {want}");
        }
    }
}
