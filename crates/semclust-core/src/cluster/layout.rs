//! The 2-D layout of the map: t-SNE (van der Maaten and Hinton 2008), started from the PCA
//! projection as Kobak and Berens (2019) advise, so that the global arrangement of the themes
//! is PCA's and the neighbourhoods are t-SNE's. PCA alone keeps few neighbours: on real
//! collections its two axes show 5-10 % of the variance (benches/RESULTS.md, "Map").
//!
//! The input similarities are sparse (each point's 3 × perplexity nearest neighbours, exact, as
//! in van der Maaten 2014); the repulsion is Barnes-Hut's (the same paper): the map's points in
//! a quadtree rebuilt each iteration, a far cell counted as one point at its centre of mass,
//! so an iteration costs O(m log m) instead of the m² pairs of the exact sum it replaced. The
//! tree is ours, its recursion bounded at depth 48 (linfa-tsne's
//! Barnes-Hut engine, the bhtsne crate, overflowed its stack on the sample corpus's 98 vectors:
//! an abort no caller can catch, which a server cannot risk). Learning rate n / 12 (Belkina et
//! al. 2019), early exaggeration 12 for the first 250 iterations, momentum 0.5 then 0.8, gains
//! as in the reference implementation; 500 iterations in all (see `ITERATIONS`).
//!
//! Above [`TSNE_SAMPLE`] passages t-SNE runs on a seeded random sample, and every other passage
//! is placed at the mean position of its `PLACE_NEIGHBOURS` nearest sampled passages of its
//! own theme, weighted by closeness (nearest by Euclidean distance, which ranks unit vectors as
//! cosine does), which keeps the cost near linear in n.

use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;
use rayon::prelude::*;

use super::project::Projection;
use crate::kernels::dot::sq_dist;

/// Passages t-SNE itself lays out; the rest are placed beside their nearest sampled neighbours.
pub const TSNE_SAMPLE: usize = 3000;
/// Below this many passages the map stays PCA (t-SNE's perplexity needs neighbours).
pub const MIN_TSNE: usize = 16;
const PERPLEXITY: f64 = 30.0;
/// Iterations in all. With the learning rate's floor below, 500 keep the neighbourhoods of
/// the 750 used before (openTSNE's default) within 0.005 on ten real sets of 1,000 to 5,300
/// passages, and the small sets gain (benches/RESULTS.md, "The map in a third of the time").
const ITERATIONS: usize = 500;
/// Iterations of early exaggeration, and before momentum switches to its final value.
const EARLY: usize = 250;
const PLACE_NEIGHBOURS: usize = 5;
/// The learning rate is n / 12 but not below this. openTSNE's floor of 200 is four times n / 12
/// at 600 passages: steps that large overshoot on small collections, whose maps kept fewer
/// neighbours the fewer iterations they had (0.45 of 380 man-page passages at 500 iterations,
/// 0.53 at 750), where n / 12 keeps 0.55 at 500.
const LEARNING_RATE_FLOOR: f32 = 50.0;
const EXAGGERATION: f64 = 12.0;

/// t-SNE coordinates of the rows of `data` (unit vectors), started from `pca`; `themes[i]` is
/// row i's theme.
pub fn tsne_2d(
    data: &[f32],
    dim: usize,
    pca: &Projection,
    themes: &[usize],
    seed: u64,
) -> Vec<[f32; 2]> {
    let n = themes.len();
    if n < MIN_TSNE {
        return pca.points.clone();
    }
    let sample = sample_rows(n, TSNE_SAMPLE, seed);
    let m = sample.len();
    let x: Vec<&[f32]> = sample
        .iter()
        .map(|&i| &data[i * dim..(i + 1) * dim])
        .collect();
    // PCA start, scaled to a standard deviation of 1e-4 on the first axis (the scale of
    // t-SNE's own random start, which the early iterations expect).
    let sd = {
        let mean = sample.iter().map(|&i| pca.points[i][0]).sum::<f32>() / m as f32;
        let var = sample
            .iter()
            .map(|&i| (pca.points[i][0] - mean).powi(2))
            .sum::<f32>()
            / m as f32;
        f64::from(var.sqrt().max(1e-12))
    };
    // Passages with the same text have the same start; a seeded jitter far below the start's
    // scale sets them apart.
    let mut rng = Xoshiro256Plus::seed_from_u64(seed ^ 0x5eed);
    let mut jitter = || ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 1e-7;
    let mut y: Vec<[f32; 2]> = sample
        .iter()
        .map(|&i| {
            let p = pca.points[i];
            [
                (f64::from(p[0]) / sd * 1e-4 + jitter()) as f32,
                (f64::from(p[1]) / sd * 1e-4 + jitter()) as f32,
            ]
        })
        .collect();
    let perplexity = PERPLEXITY.min((m - 1) as f64 / 3.0 - 1.0).max(2.0);
    let p = affinities(&x, perplexity);
    optimise(&p, &mut y);
    let mut points = vec![[0f32; 2]; n];
    let mut in_sample = vec![false; n];
    for (j, &i) in sample.iter().enumerate() {
        points[i] = y[j];
        in_sample[i] = true;
    }
    if m == n {
        return points;
    }
    // The sampled rows of each theme, to place the others among.
    let k = themes.iter().copied().max().unwrap_or(0) + 1;
    let mut by_theme: Vec<Vec<usize>> = vec![Vec::new(); k];
    for &i in &sample {
        by_theme[themes[i]].push(i);
    }
    for i in 0..n {
        if in_sample[i] {
            continue;
        }
        let pool = if by_theme[themes[i]].is_empty() {
            &sample
        } else {
            &by_theme[themes[i]]
        };
        let row = &data[i * dim..(i + 1) * dim];
        let mut best: Vec<(f32, usize)> = Vec::with_capacity(PLACE_NEIGHBOURS + 1);
        for &j in pool {
            let s = -sq_dist(row, &data[j * dim..(j + 1) * dim]);
            if best.len() < PLACE_NEIGHBOURS || s > best[best.len() - 1].0 {
                best.push((s, j));
                best.sort_by(|a, b| b.0.total_cmp(&a.0));
                best.truncate(PLACE_NEIGHBOURS);
            }
        }
        // Weighted by closeness, so that a passage with the same text as a sampled one (at
        // distance 0) lands on it.
        let (mut sx, mut sy, mut sw) = (0f32, 0f32, 0f32);
        for &(s, j) in &best {
            let w = 1.0 / (-s + 1e-4);
            sx += w * points[j][0];
            sy += w * points[j][1];
            sw += w;
        }
        points[i] = [
            sx / sw.max(f32::MIN_POSITIVE),
            sy / sw.max(f32::MIN_POSITIVE),
        ];
    }
    points
}

/// Each row's `k` nearest other rows (Euclidean), for rows of any length. The squared distance
/// |a − b|² = |a|² − (2 a·b − |b|²), so the rows nearest to `a` are those with the largest
/// inner product of (a, 1) with (2b, −|b|²): one matrix product over all pairs by the GEMM
/// tile of exact batch search instead of m² distance loops (a fifth of a ~3,000-passage map).
fn nearest(x: &[&[f32]], k: usize) -> Vec<Vec<usize>> {
    let dim = x.first().map_or(0, |r| r.len()) + 1;
    let mut queries = Vec::with_capacity(x.len() * dim);
    let mut rows = Vec::with_capacity(x.len() * dim);
    for r in x {
        queries.extend_from_slice(r);
        queries.push(1.0);
        rows.extend(r.iter().map(|v| 2.0 * v));
        rows.push(-r.iter().map(|v| v * v).sum::<f32>());
    }
    crate::store::flat::top_k_batch(&rows, dim, &queries, k + 1)
        .into_iter()
        .enumerate()
        .map(|(i, top)| {
            top.into_iter()
                .map(|s| s.row as usize)
                .filter(|&j| j != i)
                .take(k)
                .collect()
        })
        .collect()
}

/// Symmetric input affinities `p_ij = (p_j|i + p_i|j) / 2m` over each point's nearest
/// neighbours.
fn affinities(x: &[&[f32]], perplexity: f64) -> Affinities {
    let m = x.len();
    let k = ((3.0 * perplexity) as usize).clamp(1, m - 1);
    let target = perplexity.ln();
    let near = nearest(x, k);
    let conditional: Vec<Vec<(usize, f64)>> = near
        .into_par_iter()
        .enumerate()
        .map(|(i, near)| {
            let d: Vec<(f64, usize)> = near
                .into_iter()
                .map(|j| (f64::from(sq_dist(x[i], x[j])), j))
                .collect();
            let d0 = d.iter().map(|p| p.0).fold(f64::MAX, f64::min);
            // Binary search on the precision beta for the row's entropy to equal ln(perplexity).
            let (mut lo, mut hi, mut beta) = (0.0f64, f64::MAX, 1.0f64);
            let mut w = vec![0f64; k];
            for _ in 0..100 {
                let mut sum = 0.0;
                let mut dot = 0.0;
                for (wj, &(dj, _)) in w.iter_mut().zip(&d) {
                    *wj = (-beta * (dj - d0)).exp();
                    sum += *wj;
                    dot += *wj * (dj - d0);
                }
                let entropy = sum.ln() + beta * dot / sum;
                if (entropy - target).abs() < 1e-5 {
                    break;
                }
                if entropy > target {
                    lo = beta;
                    beta = if hi == f64::MAX {
                        beta * 2.0
                    } else {
                        (beta + hi) / 2.0
                    };
                } else {
                    hi = beta;
                    beta = (beta + lo) / 2.0;
                }
            }
            let sum: f64 = w.iter().sum::<f64>().max(f64::MIN_POSITIVE);
            d.iter()
                .zip(&w)
                .map(|(&(_, j), &wj)| (j, wj / sum))
                .collect()
        })
        .collect();
    let mut sym: Vec<std::collections::HashMap<usize, f64>> = vec![Default::default(); m];
    for (i, row) in conditional.iter().enumerate() {
        for &(j, v) in row {
            *sym[i].entry(j).or_default() += v;
            *sym[j].entry(i).or_default() += v;
        }
    }
    let norm = 2.0 * m as f64;
    let mut p = Affinities {
        start: Vec::with_capacity(m + 1),
        cols: Vec::new(),
        vals: Vec::new(),
    };
    p.start.push(0);
    for r in sym {
        let mut row: Vec<(usize, f64)> = r.into_iter().collect();
        row.sort_unstable_by_key(|e| e.0);
        p.cols.extend(row.iter().map(|e| e.0 as u32));
        p.vals.extend(row.iter().map(|e| (e.1 / norm) as f32));
        p.start.push(p.cols.len());
    }
    p
}

/// Gradient descent on the Kullback-Leibler divergence between `p` and the map's Student-t
/// similarities, from the positions in `y`. In f32: the map's coordinates stay within a few
/// hundred units and each sum runs over at most a few thousand terms, so f32 keeps the layout
/// (the same neighbourhood figure as f64 on the real sets, benches/RESULTS.md) at half the
/// memory traffic of f64.
fn optimise(p: &Affinities, y: &mut [[f32; 2]]) {
    let m = y.len();
    let eta = (m as f32 / EXAGGERATION as f32).max(LEARNING_RATE_FLOOR);
    let mut update = vec![[0f32; 2]; m];
    let mut gains = vec![[1f32; 2]; m];
    for it in 0..ITERATIONS {
        let exaggeration = if it < EARLY { EXAGGERATION as f32 } else { 1.0 };
        let momentum = if it < EARLY { 0.5 } else { 0.8 };
        let tree = QuadTree::new(y);
        let current: &[[f32; 2]] = y;
        // Per point, in the tree's order (neighbouring walks visit the same cells, which stay
        // in cache): attraction, repulsion (unnormalised) and its share of Z.
        let forces: Vec<([f32; 2], [f32; 2], f32)> = tree
            .order
            .par_iter()
            .map(|&i| {
                let i = i as usize;
                let yi = current[i];
                let (rep, z) = tree.repulsion(i, yi);
                let mut att = [0f32; 2];
                for (&j, &pij) in p.row(i) {
                    let yj = current[j as usize];
                    let (dx, dy) = (yi[0] - yj[0], yi[1] - yj[1]);
                    let w = pij / (1.0 + dx * dx + dy * dy);
                    att[0] += w * dx;
                    att[1] += w * dy;
                }
                (att, rep, z)
            })
            .collect();
        let z = forces
            .iter()
            .map(|f| f64::from(f.2))
            .sum::<f64>()
            .max(f64::from(f32::MIN_POSITIVE)) as f32;
        for (&i, (att, rep, _)) in tree.order.iter().zip(&forces) {
            let i = i as usize;
            for d in 0..2 {
                let grad = 4.0 * (exaggeration * att[d] - rep[d] / z);
                // Gains grow where the gradient keeps its direction, shrink where it turns.
                gains[i][d] = if (grad > 0.0) != (update[i][d] > 0.0) {
                    gains[i][d] + 0.2
                } else {
                    (gains[i][d] * 0.8).max(0.01)
                };
                update[i][d] = momentum * update[i][d] - eta * gains[i][d] * grad;
                y[i][d] += update[i][d];
            }
        }
        // Keep the map centred (the gradient is translation-invariant).
        let (mx, my) = y.iter().fold((0f64, 0f64), |(a, b), q| {
            (a + f64::from(q[0]), b + f64::from(q[1]))
        });
        let (mx, my) = ((mx / m as f64) as f32, (my / m as f64) as f32);
        for q in y.iter_mut() {
            q[0] -= mx;
            q[1] -= my;
        }
    }
}

/// The symmetric input affinities in compressed rows: row i's columns and values are
/// `cols[start[i]..start[i + 1]]` and the same range of `vals`.
struct Affinities {
    start: Vec<usize>,
    cols: Vec<u32>,
    vals: Vec<f32>,
}

impl Affinities {
    fn row(&self, i: usize) -> impl Iterator<Item = (&u32, &f32)> {
        let r = self.start[i]..self.start[i + 1];
        self.cols[r.clone()].iter().zip(&self.vals[r])
    }
}

/// Barnes-Hut's opening criterion: a cell seen under less than this ratio of its side to its
/// distance acts as one point at its centre of mass (van der Maaten 2014 uses 0.5; 0.7 keeps
/// the same neighbours within 0.005 on three real sets at two thirds of the time, see
/// benches/RESULTS.md, "Themes in seconds"). Below 1/√2 the cell holding the point itself is
/// always opened, so no point repels itself through a centre of mass.
const THETA: f32 = 0.7;
/// Bits per axis of the points' Morton codes, and so the depth at which cells stop splitting
/// (points at one position would split them for ever).
const MAX_DEPTH: u32 = 32;
/// Cells of this many points or fewer are not split: a near one is summed point by point,
/// which is exact and cheaper than walking down to single points.
const LEAF: usize = 4;

/// The map's points in a quadtree, for the repulsion of t-SNE's gradient in O(m log m) per
/// iteration instead of over all m² pairs. Built from the points sorted by Morton code (x and
/// y bits interleaved), in which every cell's points are one contiguous run and its four
/// quadrants four consecutive runs: one sort per iteration instead of one per cell.
struct QuadTree {
    nodes: Vec<Cell>,
    /// Point indices in Morton order; each cell's points are a contiguous range.
    order: Vec<u32>,
    /// The points' positions in the same order, for the leaves' point-by-point sums.
    pos: Vec<[f32; 2]>,
}

struct Cell {
    /// Centre of mass and number of points.
    com: [f32; 2],
    mass: f32,
    /// Side of the (square) cell, squared.
    side2: f32,
    /// The children are `nodes[first..first + children]`; none for a leaf.
    first: u32,
    children: u32,
    /// The cell's points: `order[range]`.
    range: (u32, u32),
}

/// `v`'s 32 bits spread to the even bits of a u64.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

impl QuadTree {
    fn new(y: &[[f32; 2]]) -> Self {
        let (mut lo, mut hi) = ([f32::MAX; 2], [f32::MIN; 2]);
        for p in y {
            for d in 0..2 {
                lo[d] = lo[d].min(p[d]);
                hi[d] = hi[d].max(p[d]);
            }
        }
        let side = (hi[0] - lo[0]).max(hi[1] - lo[1]);
        // Positions to 32-bit grid coordinates (the cast saturates at both ends).
        let scale = if side > 0.0 {
            f64::from(u32::MAX) / f64::from(side)
        } else {
            0.0
        };
        let grid = |v: f32, d: usize| (f64::from(v - lo[d]) * scale) as u32;
        let mut keyed: Vec<(u64, u32)> = y
            .iter()
            .enumerate()
            .map(|(i, p)| (spread(grid(p[0], 0)) | spread(grid(p[1], 1)) << 1, i as u32))
            .collect();
        keyed.sort_unstable();
        let codes: Vec<u64> = keyed.iter().map(|k| k.0).collect();
        let order: Vec<u32> = keyed.iter().map(|k| k.1).collect();
        let pos = order.iter().map(|&i| y[i as usize]).collect();
        let mut t = Self {
            nodes: Vec::with_capacity(2 * y.len()),
            order,
            pos,
        };
        t.nodes
            .push(t.cell(0, y.len(), side.max(f32::MIN_POSITIVE)));
        t.split(&codes, 0, 0);
        t
    }

    /// A cell over `order[start..end]` with side `side`, its children not yet made.
    fn cell(&self, start: usize, end: usize, side: f32) -> Cell {
        let mut com = [0f32; 2];
        for p in &self.pos[start..end] {
            com[0] += p[0];
            com[1] += p[1];
        }
        let mass = (end - start) as f32;
        Cell {
            com: [com[0] / mass, com[1] / mass],
            mass,
            side2: side * side,
            first: 0,
            children: 0,
            range: (start as u32, end as u32),
        }
    }

    /// Gives node `id` (at `depth`) its children, one per non-empty quadrant, made next to
    /// each other, then splits each of them.
    fn split(&mut self, codes: &[u64], id: usize, depth: u32) {
        let (start, end) = (
            self.nodes[id].range.0 as usize,
            self.nodes[id].range.1 as usize,
        );
        if end - start <= LEAF || depth >= MAX_DEPTH {
            return;
        }
        // The quadrant is the code's two bits below the `depth` pairs the cell's points share.
        let shift = 62 - 2 * depth;
        let quadrant = |c: u64| (c >> shift) & 3;
        let side = self.nodes[id].side2.sqrt() / 2.0;
        let first = self.nodes.len();
        let mut s = start;
        for q in 0..4 {
            let e = s + codes[s..end].partition_point(|&c| quadrant(c) <= q);
            if e > s {
                let child = self.cell(s, e, side);
                self.nodes.push(child);
            }
            s = e;
        }
        let children = self.nodes.len() - first;
        self.nodes[id].first = first as u32;
        self.nodes[id].children = children as u32;
        for c in first..first + children {
            self.split(codes, c, depth + 1);
        }
    }

    /// Point `i`'s (at `yi`) unnormalised repulsion and its share of the normalisation Z.
    fn repulsion(&self, i: usize, yi: [f32; 2]) -> ([f32; 2], f32) {
        let (mut rx, mut ry, mut z) = (0f32, 0f32, 0f32);
        // The cells still to visit. A walk holds at most 3 siblings per level it went down
        // plus the 4 children of the last, so this bound is never reached; a fixed array keeps
        // the allocator out of a loop run m times per iteration.
        let mut stack = [0u32; 3 * MAX_DEPTH as usize + 8];
        let mut top = 1;
        while top > 0 {
            top -= 1;
            let cell = &self.nodes[stack[top] as usize];
            let (dx, dy) = (yi[0] - cell.com[0], yi[1] - cell.com[1]);
            let d2 = dx * dx + dy * dy;
            // A far cell counts as one point at its centre of mass (a cell of one point other
            // than i is that point, exactly); a near one is opened, or summed point by point
            // when it is a leaf.
            if cell.side2 < THETA * THETA * d2 {
                let w = 1.0 / (1.0 + d2);
                let mw = cell.mass * w;
                z += mw;
                rx += mw * w * dx;
                ry += mw * w * dy;
            } else if cell.children == 0 {
                let (s, e) = (cell.range.0 as usize, cell.range.1 as usize);
                for (&j, p) in self.order[s..e].iter().zip(&self.pos[s..e]) {
                    if j as usize != i {
                        let (dx, dy) = (yi[0] - p[0], yi[1] - p[1]);
                        let w = 1.0 / (1.0 + dx * dx + dy * dy);
                        z += w;
                        rx += w * w * dx;
                        ry += w * w * dy;
                    }
                }
            } else {
                for c in cell.first..cell.first + cell.children {
                    stack[top] = c;
                    top += 1;
                }
            }
        }
        ([rx, ry], z)
    }
}

/// Up to `max` of `0..n`, drawn without replacement by a seeded generator, in increasing order.
pub fn sample_rows(n: usize, max: usize, seed: u64) -> Vec<usize> {
    if n <= max {
        return (0..n).collect();
    }
    let mut rng = Xoshiro256Plus::seed_from_u64(seed);
    let mut idx: Vec<usize> = (0..n).collect();
    // A partial Fisher-Yates shuffle: the first `max` places are the sample.
    for i in 0..max {
        let j = i + (rng.next_u64() % (n - i) as u64) as usize;
        idx.swap(i, j);
    }
    idx.truncate(max);
    idx.sort_unstable();
    idx
}

/// Share of each row's `k` nearest neighbours in the vectors (Euclidean) that are also among its
/// `k` nearest on the map, averaged over the rows (checked on up to `rows` evenly spaced rows).
pub fn neighbourhood_kept(
    data: &[f32],
    dim: usize,
    points: &[[f32; 2]],
    k: usize,
    rows: usize,
) -> f64 {
    let n = points.len();
    if n <= k {
        return 1.0;
    }
    let step = n.div_ceil(rows.max(1)).max(1);
    let mut total = 0.0;
    let mut count = 0usize;
    for i in (0..n).step_by(step) {
        let row = &data[i * dim..(i + 1) * dim];
        let mut high: Vec<(f32, usize)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| (sq_dist(row, &data[j * dim..(j + 1) * dim]), j))
            .collect();
        high.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
        let mut low: Vec<(f32, usize)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| {
                let (dx, dy) = (points[i][0] - points[j][0], points[i][1] - points[j][1]);
                (dx * dx + dy * dy, j)
            })
            .collect();
        low.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
        let near: std::collections::HashSet<usize> = low[..k].iter().map(|p| p.1).collect();
        total += high[..k].iter().filter(|p| near.contains(&p.1)).count() as f64 / k as f64;
        count += 1;
    }
    total / count as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three tight groups far apart in 8-d: t-SNE keeps each group together on the map, so
    /// each point's nearest neighbours on the map are of its own group.
    #[test]
    fn separated_groups_stay_separated() {
        let dim = 8;
        let mut data = Vec::new();
        let mut themes = Vec::new();
        let mut rng = Xoshiro256Plus::seed_from_u64(1);
        for g in 0..3 {
            for _ in 0..40 {
                let mut v = vec![0f32; dim];
                v[g] = 1.0;
                for x in v.iter_mut() {
                    *x += (rng.next_u64() % 1000) as f32 / 1000.0 * 0.2;
                }
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                data.extend(v.iter().map(|x| x / norm));
                themes.push(g);
            }
        }
        let pca = super::super::project::pca_2d(&data, dim).unwrap();
        let pts = tsne_2d(&data, dim, &pca, &themes, 7);
        assert_eq!(pts.len(), 120);
        for i in 0..120 {
            let mut d: Vec<(f32, usize)> = (0..120)
                .filter(|&j| j != i)
                .map(|j| {
                    let (dx, dy) = (pts[i][0] - pts[j][0], pts[i][1] - pts[j][1]);
                    (dx * dx + dy * dy, j)
                })
                .collect();
            d.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert!(
                d[..5].iter().all(|&(_, j)| themes[j] == themes[i]),
                "point {i}"
            );
        }
        assert!(neighbourhood_kept(&data, dim, &pts, 5, 120) > 0.3);
    }

    /// The exact repulsion over all pairs, as the tree stands in for (in f64).
    fn exact(i: usize, y: &[[f32; 2]]) -> ([f64; 2], f64) {
        let (mut rep, mut z) = ([0f64; 2], 0f64);
        for (j, yj) in y.iter().enumerate() {
            if j != i {
                let dx = f64::from(y[i][0]) - f64::from(yj[0]);
                let dy = f64::from(y[i][1]) - f64::from(yj[1]);
                let w = 1.0 / (1.0 + dx * dx + dy * dy);
                z += w;
                rep[0] += w * w * dx;
                rep[1] += w * w * dy;
            }
        }
        (rep, z)
    }

    #[test]
    fn the_tree_repulsion_is_near_the_exact_sum() {
        let mut rng = Xoshiro256Plus::seed_from_u64(3);
        let mut u = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 40.0 - 20.0;
        // Two clusters and a spread: cells of every size.
        let y: Vec<[f32; 2]> = (0..2000)
            .map(|i| match i % 3 {
                0 => [u() * 0.05 + 5.0, u() * 0.05],
                1 => [u() * 0.05 - 5.0, u() * 0.05 + 3.0],
                _ => [u(), u()],
            })
            .map(|p| [p[0] as f32, p[1] as f32])
            .collect();
        let tree = QuadTree::new(&y);
        // Every point in exactly one leaf, each cell's children inside it.
        let mut seen = vec![0; y.len()];
        for c in &tree.nodes {
            if c.children == 0 {
                for &j in &tree.order[c.range.0 as usize..c.range.1 as usize] {
                    seen[j as usize] += 1;
                }
            }
            for k in c.first..c.first + c.children {
                let r = tree.nodes[k as usize].range;
                assert!(c.range.0 <= r.0 && r.1 <= c.range.1);
            }
        }
        assert!(seen.iter().all(|&s| s == 1));
        let (mut z_tree, mut z_exact) = (0.0, 0.0);
        for i in (0..y.len()).step_by(37) {
            let (rt, zt) = tree.repulsion(i, y[i]);
            let (re, ze) = exact(i, &y);
            z_tree += f64::from(zt);
            z_exact += ze;
            let err =
                ((f64::from(rt[0]) - re[0]).powi(2) + (f64::from(rt[1]) - re[1]).powi(2)).sqrt();
            let norm = (re[0].powi(2) + re[1].powi(2)).sqrt();
            assert!(
                err <= 0.05 * norm + 1e-3 * ze,
                "point {i}: {rt:?} against {re:?}"
            );
        }
        assert!(
            (z_tree / z_exact - 1.0).abs() < 0.01,
            "{z_tree} against {z_exact}"
        );
    }

    #[test]
    fn points_at_one_position_end_the_tree() {
        // 500 identical points would split a cell for ever: the depth bound ends it, and each
        // repels the others as the exact sum says.
        let y = vec![[1.5f32, -2.0]; 500];
        let tree = QuadTree::new(&y);
        let (rep, z) = tree.repulsion(7, y[7]);
        assert_eq!(z, 499.0);
        assert_eq!(rep, [0.0, 0.0]);
    }

    /// The nearest rows by the extended product are the nearest by distance, for rows of any
    /// norm (not only unit vectors), the row itself left out.
    #[test]
    fn nearest_rows_by_the_product_are_the_nearest_by_distance() {
        let (m, dim, k) = (53, 20, 7);
        let data = crate::kernels::test_values(m * dim, 5);
        let x: Vec<&[f32]> = data.chunks(dim).collect();
        let near = nearest(&x, k);
        for (i, got) in near.iter().enumerate() {
            let mut all: Vec<(f64, usize)> = (0..m)
                .filter(|&j| j != i)
                .map(|j| {
                    let d = x[i]
                        .iter()
                        .zip(x[j])
                        .map(|(a, b)| f64::from(a - b).powi(2))
                        .sum::<f64>();
                    (d, j)
                })
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert_eq!(got.len(), k);
            // The k-th distance found is the k-th smallest (ties may swap rows).
            let kth = got
                .iter()
                .map(|&j| all.iter().find(|e| e.1 == j).unwrap().0)
                .fold(0.0, f64::max);
            assert!(
                kth <= all[k - 1].0 + 1e-4,
                "row {i}: {kth} against {}",
                all[k - 1].0
            );
            assert!(!got.contains(&i));
        }
    }

    #[test]
    fn samples_are_seeded_sorted_and_distinct() {
        let a = sample_rows(100, 10, 3);
        assert_eq!(a, sample_rows(100, 10, 3));
        assert_eq!(a.len(), 10);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sample_rows(5, 10, 3), [0, 1, 2, 3, 4]);
    }
}
