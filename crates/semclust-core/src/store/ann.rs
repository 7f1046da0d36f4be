//! Approximate nearest neighbours: an HNSW graph from the `usearch` crate, keyed by search row.
//! The graph is a cache derived from the store, rebuilt when the store changes; its recall
//! against exact search is measured by `benches/search_scale.rs` and reported in
//! benches/RESULTS.md.
//!
//! The graph keeps its vectors as 8-bit integers: a quarter of f32's bytes to read per hop
//! (memory traffic is what an HNSW search waits on) and VNNI dot products. usearch's built-in
//! cast scales each vector into [-127, 127] on its own and truncates; on real sentence
//! embeddings, whose pairwise cosines are high (0.85 on average over the sample corpus), that
//! keeps only 89% of the exact top 10 (numpy, same fixtures as the test below), because the
//! per-vector scale changes every inner product by a different factor. Here every vector is
//! scaled by one factor for all and rounded ([`Quantizer`]): the quantised inner product is
//! then the true one times a constant, up to rounding steps of ~1e-3 (98.6–100% of the exact
//! top 10 on the sample corpus before any rescoring). Candidates are then scored again in f32
//! against the store's own vectors ([`Hnsw::search_rescored`]), so that the scores are exact
//! and rounding cannot reorder near-ties.
//!
//! Centring the vectors on their mean first would halve the rounding step on real embeddings,
//! but a shift keeps the ranking only under the Euclidean distance, whose int8 kernel made the
//! graph 5–10% slower to search and build (benches/RESULTS.md); the inner product won.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use super::flat::Scored;
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

/// One scale factor for every vector of a graph and its queries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantizer {
    scale: f32,
}

const QUANT_MAGIC: &[u8; 8] = b"SCQI8v1\0";
const QUANT_LEN: usize = 16;

impl Quantizer {
    /// The factor that maps a high quantile of the components' magnitudes to 127 (a quantile,
    /// not the maximum, so that one odd vector does not coarsen the others; the rare larger
    /// components are clamped).
    pub fn fit(data: &[f32]) -> Self {
        // Up to ~1M components, spread over the whole matrix.
        let stride = (data.len() / (1 << 20)).max(1);
        let mut sample: Vec<f32> = data
            .iter()
            .step_by(stride)
            .map(|x| x.abs())
            .filter(|x| x.is_finite())
            .collect();
        let top = if sample.is_empty() {
            0.0
        } else {
            let at = ((sample.len() as f64 * 0.9999) as usize).min(sample.len() - 1);
            *sample.select_nth_unstable_by(at, f32::total_cmp).1
        };
        Self {
            scale: if top > 0.0 { 127.0 / top } else { 1.0 },
        }
    }

    pub fn quantize(&self, v: &[f32], out: &mut [i8]) {
        for (o, &x) in out.iter_mut().zip(v) {
            *o = (x * self.scale).round().clamp(-127.0, 127.0) as i8;
        }
    }

    /// Inner product from usearch's inner-product distance (1 - dot) in quantised units.
    fn score(&self, d: f32) -> f32 {
        (1.0 - d) / (self.scale * self.scale)
    }

    fn write(&self, path: &Path, dim: usize) -> std::io::Result<()> {
        let mut bytes = Vec::with_capacity(QUANT_LEN);
        bytes.extend_from_slice(QUANT_MAGIC);
        bytes.extend_from_slice(&(dim as u32).to_le_bytes());
        bytes.extend_from_slice(&self.scale.to_le_bytes());
        let mut f = std::fs::File::create(path)?;
        f.write_all(&bytes)?;
        f.sync_all()
    }

    fn read(path: &Path, dim: usize) -> Result<Self> {
        let bad = |m: &str| Error::bad_file(path, format!("{m}; delete it, it is rebuilt"));
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| bad(&format!("cannot read the graph's quantiser: {e}")))?;
        if bytes.len() != QUANT_LEN || &bytes[..8] != QUANT_MAGIC {
            return Err(bad("not a semclust graph quantiser"));
        }
        if u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize != dim {
            return Err(bad("graph quantiser of another dimension"));
        }
        let scale = f32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
        if !(scale.is_finite() && scale > 0.0) {
            return Err(bad("graph quantiser holds an invalid scale"));
        }
        Ok(Self { scale })
    }
}

pub struct Hnsw {
    index: Index,
    quant: Quantizer,
    params: AnnParams,
}

fn ann_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::internal(format!("HNSW index: {what}: {e}"))
}

fn options(dim: usize, p: AnnParams) -> IndexOptions {
    IndexOptions {
        dimensions: dim,
        metric: MetricKind::IP,
        quantization: ScalarKind::I8,
        connectivity: p.m,
        expansion_add: p.ef_construction,
        expansion_search: p.ef_search,
        multi: false,
    }
}

/// The quantiser lives beside the graph: `GRAPH.quant`.
fn quant_path(graph: &Path) -> PathBuf {
    let mut p = graph.as_os_str().to_owned();
    p.push(".quant");
    PathBuf::from(p)
}

impl Hnsw {
    /// Build over row-major `data` on all of rayon's threads; a graph smaller than
    /// [`super::ANN_THRESHOLD`] (built only when a search asks for `--method ann`) on one, in
    /// row order: concurrent insertion makes each build a slightly different graph, and a
    /// graph rebuilt after damage then answered a forced-ANN search with other tail hits than
    /// the one it replaced (seen in tests/index.rs under a loaded CI run).
    pub fn build(data: &[f32], dim: usize, params: AnnParams) -> Result<Self> {
        let n = data.len() / dim.max(1);
        let quant = Quantizer::fit(data);
        let threads = if n < super::ANN_THRESHOLD {
            1
        } else {
            rayon::current_num_threads().max(1)
        };
        crate::util::alloc::with_huge_pages(|| {
            let index = Index::new(&options(dim, params)).map_err(|e| ann_err("create", e))?;
            index
                .reserve_capacity_and_threads(n, threads)
                .map_err(|e| ann_err("reserve", e))?;
            let add = |q: &mut Vec<i8>, (i, v): (usize, &[f32])| {
                quant.quantize(v, q);
                index.add(i as u64, q.as_slice())
            };
            if threads == 1 {
                let mut q = vec![0i8; dim];
                data.chunks(dim)
                    .enumerate()
                    .try_for_each(|iv| add(&mut q, iv))
            } else {
                data.par_chunks(dim)
                    .enumerate()
                    .try_for_each_init(|| vec![0i8; dim], add)
            }
            .map_err(|e| ann_err("add", e))?;
            Ok(Self {
                index,
                quant,
                params,
            })
        })
    }

    /// The files [`Hnsw::save`] writes for a graph at `path`.
    pub fn files(path: &Path) -> [PathBuf; 2] {
        [path.to_path_buf(), quant_path(path)]
    }

    pub fn load(path: &Path, dim: usize, params: AnnParams) -> Result<Self> {
        let quant = Quantizer::read(&quant_path(path), dim)?;
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
        Ok(Self {
            index,
            quant,
            params,
        })
    }

    /// Write the graph to `path` and its quantiser beside it.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.quant
            .write(&quant_path(path), self.index.dimensions())
            .map_err(|e| ann_err(&format!("save {}", quant_path(path).display()), e))?;
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

    /// Approximate top-k, best first, skipping rows for which `skip` is true. Scores come from
    /// the quantised vectors (within about 1e-2 of the inner product); see
    /// [`Hnsw::search_rescored`] for exact ones.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        skip: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<Scored>> {
        if k == 0 || self.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = vec![0i8; query.len()];
        self.quant.quantize(query, &mut q);
        // usearch's candidate list is max(ef, k): a large k keeps its recall.
        let m = match skip {
            None => self.index.search(q.as_slice(), k),
            Some(f) => self
                .index
                .filtered_search(q.as_slice(), k, |key| !f(key as u32)),
        }
        .map_err(|e| ann_err("search", e))?;
        Ok(m.keys
            .iter()
            .zip(&m.distances)
            .map(|(&key, &d)| Scored {
                row: key as u32,
                score: self.quant.score(d),
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
    ) -> Result<Vec<Scored>> {
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
        // 8-bit in the graph: scores near, not equal; rescored in f32 they are exact.
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

    /// Real sentence embeddings share a large common direction; the graph's 8-bit vectors must
    /// still order neighbours nearly as the exact inner product does (98% of the exact top 10
    /// here; usearch's own per-vector int8 cast keeps 89%), and after rescoring exactly.
    /// Reference vectors: transformers' multilingual-e5-small output for the sample corpus
    /// (tests/fixtures/parity, made by scripts/make_references.py).
    #[test]
    fn quantised_graph_keeps_the_exact_neighbours_of_real_embeddings() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/parity");
        let (passages, n, dim) =
            crate::util::npy::read_f32(&dir.join("e5_f32_passages.npy")).unwrap();
        let (queries, nq, _) = crate::util::npy::read_f32(&dir.join("e5_f32_queries.npy")).unwrap();
        let h = Hnsw::build(&passages, dim, AnnParams::default()).unwrap();
        assert_eq!(h.len(), n);
        let (mut kept, mut kept_rescored) = (0, 0);
        let mut worst_score_error = 0f32;
        for q in queries.chunks(dim) {
            let want = crate::store::flat::top_k(&passages, dim, q, 10, &|_| false);
            let got = h.search(q, 10, None).unwrap();
            kept += got
                .iter()
                .filter(|g| want.iter().any(|w| w.row == g.row))
                .count();
            let rescored = h.search_rescored(q, 10, None, &passages, dim).unwrap();
            kept_rescored += rescored
                .iter()
                .filter(|g| want.iter().any(|w| w.row == g.row))
                .count();
            for g in &got {
                let v = &passages[g.row as usize * dim..(g.row as usize + 1) * dim];
                let exact: f32 = q.iter().zip(v).map(|(a, b)| a * b).sum();
                worst_score_error = worst_score_error.max((g.score - exact).abs());
            }
        }
        let share = kept as f64 / (nq * 10) as f64;
        let share_rescored = kept_rescored as f64 / (nq * 10) as f64;
        assert!(
            share >= 0.97,
            "8-bit graph kept {share:.3} of the exact top 10"
        );
        assert!(
            share_rescored >= 0.995,
            "rescored: {share_rescored:.3} of the exact top 10"
        );
        assert!(worst_score_error < 0.01, "score error {worst_score_error}");
    }
}
