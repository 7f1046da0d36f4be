//! Approximate nearest neighbours: an HNSW graph from the `usearch` crate (inner-product metric
//! over the normalised vectors), keyed by search row. The graph is a cache derived from the
//! store, rebuilt when the store changes; its recall against exact search is measured by
//! `benches/search_scale.rs` and reported in benches/RESULTS.md.
//!
//! The graph keeps its vectors in bfloat16: half the bytes to read per hop, and the CPU's
//! AVX-512 BF16 dot products where it has them, for 2.2–2.4× the queries/s and a 2.4× faster
//! build than f32 (measured on 100,000 × 384). Its candidates are then scored again in f32 against
//! the store's own vectors ([`Hnsw::search_rescored`]), so that the scores are exact and bf16
//! rounding cannot reorder near-ties.

use std::path::Path;

use rayon::prelude::*;
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use super::ScoredRow;
use crate::error::{Error, Result};

/// HNSW parameters, named as in hnswlib.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnParams {
    /// Links per node (hnswlib's `M`, usearch's connectivity).
    pub m: usize,
    /// Candidate list size while building.
    pub ef_construction: usize,
    /// Candidate list size while searching (at least k).
    pub ef_search: usize,
}

impl Default for AnnParams {
    fn default() -> Self {
        Self {
            m: 16,
            ef_construction: 128,
            ef_search: 128,
        }
    }
}

pub struct Hnsw {
    index: Index,
    params: AnnParams,
}

fn ann_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("HNSW index: {what}: {e}"))
}

fn options(dim: usize, p: AnnParams) -> IndexOptions {
    IndexOptions {
        dimensions: dim,
        metric: MetricKind::IP,
        quantization: ScalarKind::BF16,
        connectivity: p.m,
        expansion_add: p.ef_construction,
        expansion_search: p.ef_search,
        multi: false,
    }
}

impl Hnsw {
    /// Build over row-major `data` on all of rayon's threads.
    pub fn build(data: &[f32], dim: usize, params: AnnParams) -> Result<Self> {
        let n = data.len() / dim.max(1);
        crate::util::alloc::with_huge_pages(|| {
            let index = Index::new(&options(dim, params)).map_err(|e| ann_err("create", e))?;
            let threads = rayon::current_num_threads().max(1);
            index
                .reserve_capacity_and_threads(n, threads)
                .map_err(|e| ann_err("reserve", e))?;
            data.par_chunks(dim)
                .enumerate()
                .try_for_each(|(i, v)| index.add(i as u64, v))
                .map_err(|e| ann_err("add", e))?;
            Ok(Self { index, params })
        })
    }

    pub fn load(path: &Path, dim: usize, params: AnnParams) -> Result<Self> {
        let index = Index::new(&options(dim, params)).map_err(|e| ann_err("create", e))?;
        crate::util::alloc::with_huge_pages(|| index.load(&path.to_string_lossy()))
            .map_err(|e| ann_err(&format!("load {}", path.display()), e))?;
        if index.dimensions() != dim {
            return Err(Error::bad_file(
                path,
                "HNSW index of another dimension; delete it, it is rebuilt",
            ));
        }
        index.change_expansion_search(params.ef_search);
        Ok(Self { index, params })
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        self.index
            .save(&path.to_string_lossy())
            .map_err(|e| ann_err(&format!("save {}", path.display()), e))
    }

    pub fn len(&self) -> usize {
        self.index.size()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn params(&self) -> AnnParams {
        self.params
    }

    pub fn set_ef_search(&mut self, ef: usize) {
        self.params.ef_search = ef;
        self.index.change_expansion_search(ef);
    }

    /// Approximate top-k, best first, skipping rows for which `skip` is true.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        skip: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<ScoredRow>> {
        if k == 0 || self.is_empty() {
            return Ok(Vec::new());
        }
        // usearch's candidate list is max(ef, k): a large k keeps its recall.
        let m = match skip {
            None => self.index.search(query, k),
            Some(f) => self.index.filtered_search(query, k, |key| !f(key as u32)),
        }
        .map_err(|e| ann_err("search", e))?;
        Ok(m.keys
            .iter()
            .zip(&m.distances)
            .map(|(&key, &d)| ScoredRow {
                row: key as u32,
                score: 1.0 - d,
            })
            .collect())
    }
}

impl Hnsw {
    /// [`Hnsw::search`] with every candidate scored again in f32 against `data` (the row-major
    /// vectors the graph was built from): twice k candidates from the graph, the best k by exact
    /// inner product.
    pub fn search_rescored(
        &self,
        query: &[f32],
        k: usize,
        skip: Option<&dyn Fn(u32) -> bool>,
        data: &[f32],
        dim: usize,
    ) -> Result<Vec<ScoredRow>> {
        let want = (2 * k).max(k + 10).min(self.len());
        let mut hits = self.search(query, want, skip)?;
        let mut one = [0f32; 1];
        for h in &mut hits {
            let r = h.row as usize;
            if (r + 1) * dim <= data.len() {
                super::flat::scores(data, dim, query, r, &mut one);
                h.score = one[0];
            }
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(k);
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_itself_and_round_trips_through_a_file() {
        let dim = 32;
        let n = 500;
        let mut s = 7u64;
        let mut data: Vec<f32> = (0..n * dim)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        for r in data.chunks_mut(dim) {
            let norm = r.iter().map(|x| x * x).sum::<f32>().sqrt();
            r.iter_mut().for_each(|x| *x /= norm);
        }
        let h = Hnsw::build(&data, dim, AnnParams::default()).unwrap();
        assert_eq!(h.len(), n);
        let q = &data[42 * dim..43 * dim];
        let hits = h.search(q, 5, None).unwrap();
        assert_eq!(hits[0].row, 42);
        // bf16 in the graph: scores near, not equal; rescored in f32 they are exact.
        assert!((hits[0].score - 1.0).abs() < 1e-2);
        let exact = h.search_rescored(q, 5, None, &data, dim).unwrap();
        assert_eq!(exact[0].row, 42);
        assert!((exact[0].score - 1.0).abs() < 1e-5);
        for w in exact.windows(2) {
            assert!(w[0].score >= w[1].score);
        }
        for e in &exact {
            let v = &data[e.row as usize * dim..(e.row as usize + 1) * dim];
            let want: f32 = q.iter().zip(v).map(|(a, b)| a * b).sum();
            assert!((e.score - want).abs() < 1e-5);
        }
        let skip = |r: u32| r == 42;
        let hits = h.search(q, 5, Some(&skip)).unwrap();
        assert!(hits.iter().all(|x| x.row != 42));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.usearch");
        h.save(&path).unwrap();
        let back = Hnsw::load(&path, dim, AnnParams::default()).unwrap();
        assert_eq!(back.search(q, 1, None).unwrap()[0].row, 42);
    }
}
