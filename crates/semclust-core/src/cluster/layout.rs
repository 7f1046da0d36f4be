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
//! as in the reference implementation.
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
const ITERATIONS: usize = 750;
/// Iterations of early exaggeration, and before momentum switches to its final value.
const EARLY: usize = 250;
const PLACE_NEIGHBOURS: usize = 5;
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
    let mut y: Vec<[f64; 2]> = sample
        .iter()
        .map(|&i| {
            let p = pca.points[i];
            [
                f64::from(p[0]) / sd * 1e-4 + jitter(),
                f64::from(p[1]) / sd * 1e-4 + jitter(),
            ]
        })
        .collect();
    let perplexity = PERPLEXITY.min((m - 1) as f64 / 3.0 - 1.0).max(2.0);
    let p = affinities(&x, perplexity);
    optimise(&p, &mut y);
    let mut points = vec![[0f32; 2]; n];
    let mut in_sample = vec![false; n];
    for (j, &i) in sample.iter().enumerate() {
        points[i] = [y[j][0] as f32, y[j][1] as f32];
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

/// Symmetric input affinities `p_ij = (p_j|i + p_i|j) / 2m` over each point's nearest
/// neighbours, as rows of (column, value).
fn affinities(x: &[&[f32]], perplexity: f64) -> Vec<Vec<(usize, f64)>> {
    let m = x.len();
    let k = ((3.0 * perplexity) as usize).clamp(1, m - 1);
    let target = perplexity.ln();
    let conditional: Vec<Vec<(usize, f64)>> = (0..m)
        .into_par_iter()
        .map(|i| {
            let mut d: Vec<(f64, usize)> = (0..m)
                .filter(|&j| j != i)
                .map(|j| (f64::from(sq_dist(x[i], x[j])), j))
                .collect();
            d.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
            d.truncate(k);
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
    sym.into_iter()
        .map(|r| {
            let mut row: Vec<(usize, f64)> = r.into_iter().map(|(j, v)| (j, v / norm)).collect();
            row.sort_unstable_by_key(|e| e.0);
            row
        })
        .collect()
}

/// Gradient descent on the Kullback-Leibler divergence between `p` and the map's Student-t
/// similarities, from the positions in `y`.
fn optimise(p: &[Vec<(usize, f64)>], y: &mut [[f64; 2]]) {
    let m = y.len();
    let eta = (m as f64 / EXAGGERATION).max(200.0);
    let mut update = vec![[0f64; 2]; m];
    let mut gains = vec![[1f64; 2]; m];
    for it in 0..ITERATIONS {
        let exaggeration = if it < EARLY { EXAGGERATION } else { 1.0 };
        let momentum = if it < EARLY { 0.5 } else { 0.8 };
        let current: &[[f64; 2]] = y;
        let tree = QuadTree::new(current);
        // Per point: attraction, repulsion (unnormalised) and its share of Z.
        let forces: Vec<([f64; 2], [f64; 2], f64)> = (0..m)
            .into_par_iter()
            .map(|i| {
                let yi = current[i];
                let (rep, z) = tree.repulsion(i, yi, current);
                let mut att = [0f64; 2];
                for &(j, pij) in &p[i] {
                    let (dx, dy) = (yi[0] - current[j][0], yi[1] - current[j][1]);
                    let w = 1.0 / (1.0 + dx * dx + dy * dy);
                    att[0] += pij * w * dx;
                    att[1] += pij * w * dy;
                }
                (att, rep, z)
            })
            .collect();
        let z: f64 = forces
            .iter()
            .map(|f| f.2)
            .sum::<f64>()
            .max(f64::MIN_POSITIVE);
        for (i, (att, rep, _)) in forces.iter().enumerate() {
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
        let (mx, my) = y.iter().fold((0.0, 0.0), |(a, b), q| (a + q[0], b + q[1]));
        let (mx, my) = (mx / m as f64, my / m as f64);
        for q in y.iter_mut() {
            q[0] -= mx;
            q[1] -= my;
        }
    }
}

/// Barnes-Hut's opening criterion: a cell seen under less than this ratio of its side to its
/// distance acts as one point at its centre of mass (van der Maaten 2014 uses 0.5; 0.7 keeps
/// the same neighbours within 0.005 on three real sets at two thirds of the time, see
/// benches/RESULTS.md, "Themes in seconds").
const THETA: f64 = 0.7;
/// Cells stop splitting at this depth (points at one position would split them for ever).
const MAX_DEPTH: usize = 48;
/// Cells of this many points or fewer are not split: a near one is summed point by point,
/// which is exact and cheaper than walking down to single points.
const LEAF: usize = 4;

/// The map's points in a quadtree, for the repulsion of t-SNE's gradient in O(m log m) per
/// iteration instead of over all m² pairs (3 of the 4.5 s of a 2,188-passage run).
struct QuadTree {
    nodes: Vec<Cell>,
    /// Point indices, each leaf's a contiguous range.
    order: Vec<usize>,
}

struct Cell {
    /// Centre of mass and number of points.
    com: [f64; 2],
    mass: f64,
    /// Side of the (square) cell, squared.
    side2: f64,
    /// The four children's node indices (`usize::MAX`: none); all none for a leaf.
    children: [usize; 4],
    /// The cell's points: `order[range]`.
    range: (usize, usize),
    /// No children: at most [`LEAF`] points, or [`MAX_DEPTH`] reached.
    leaf: bool,
}

impl QuadTree {
    fn new(y: &[[f64; 2]]) -> Self {
        let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
        for p in y {
            for d in 0..2 {
                lo[d] = lo[d].min(p[d]);
                hi[d] = hi[d].max(p[d]);
            }
        }
        let side = (hi[0] - lo[0]).max(hi[1] - lo[1]).max(1e-12) * (1.0 + 1e-9);
        let mut t = Self {
            nodes: Vec::with_capacity(2 * y.len()),
            order: (0..y.len()).collect(),
        };
        t.build(y, 0, y.len(), lo, side, 0);
        t
    }

    /// The cell of `order[start..end]`, whose lower corner is `at` and side `side`.
    fn build(
        &mut self,
        y: &[[f64; 2]],
        start: usize,
        end: usize,
        at: [f64; 2],
        side: f64,
        depth: usize,
    ) -> usize {
        let mass = (end - start) as f64;
        let mut com = [0.0; 2];
        for &i in &self.order[start..end] {
            com[0] += y[i][0];
            com[1] += y[i][1];
        }
        let id = self.nodes.len();
        self.nodes.push(Cell {
            com: [com[0] / mass, com[1] / mass],
            mass,
            side2: side * side,
            children: [usize::MAX; 4],
            range: (start, end),
            leaf: end - start <= LEAF || depth >= MAX_DEPTH,
        });
        if self.nodes[id].leaf {
            return id;
        }
        // Sort the cell's points by quadrant (x then y halves), then build each quadrant.
        let half = side / 2.0;
        let mid = [at[0] + half, at[1] + half];
        let quadrant = |p: [f64; 2]| usize::from(p[0] >= mid[0]) + 2 * usize::from(p[1] >= mid[1]);
        self.order[start..end].sort_unstable_by_key(|&i| quadrant(y[i]));
        let mut s = start;
        for q in 0..4 {
            let e = s + self.order[s..end]
                .iter()
                .take_while(|&&i| quadrant(y[i]) == q)
                .count();
            if e > s {
                let corner = [at[0] + half * (q % 2) as f64, at[1] + half * (q / 2) as f64];
                let child = self.build(y, s, e, corner, half, depth + 1);
                self.nodes[id].children[q] = child;
            }
            s = e;
        }
        id
    }

    /// Point `i`'s (at `yi`) unnormalised repulsion and its share of the normalisation Z.
    fn repulsion(&self, i: usize, yi: [f64; 2], y: &[[f64; 2]]) -> ([f64; 2], f64) {
        let (mut rep, mut z) = ([0f64; 2], 0f64);
        let mut add = |dx: f64, dy: f64, mass: f64| {
            let w = 1.0 / (1.0 + dx * dx + dy * dy);
            z += mass * w;
            rep[0] += mass * w * w * dx;
            rep[1] += mass * w * w * dy;
        };
        // The cells still to visit. A walk holds at most 3 siblings per level it went down
        // plus the 4 children of the last, so this bound is never reached; a fixed array keeps
        // the allocator out of a loop run m times per iteration.
        let mut stack = [0usize; 3 * MAX_DEPTH + 8];
        let mut top = 1;
        while top > 0 {
            top -= 1;
            let cell = &self.nodes[stack[top]];
            let (dx, dy) = (yi[0] - cell.com[0], yi[1] - cell.com[1]);
            let d2 = dx * dx + dy * dy;
            // A far cell counts as one point at its centre of mass (a cell of one point other
            // than i is that point, exactly); a near one is opened, or summed point by point
            // when it is a leaf.
            if cell.side2 < THETA * THETA * d2 {
                add(dx, dy, cell.mass);
            } else if cell.leaf {
                for &j in &self.order[cell.range.0..cell.range.1] {
                    if j != i {
                        add(yi[0] - y[j][0], yi[1] - y[j][1], 1.0);
                    }
                }
            } else {
                for &k in &cell.children {
                    if k != usize::MAX {
                        stack[top] = k;
                        top += 1;
                    }
                }
            }
        }
        (rep, z)
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

    /// The exact repulsion over all pairs, as the tree stands in for.
    fn exact(i: usize, y: &[[f64; 2]]) -> ([f64; 2], f64) {
        let (mut rep, mut z) = ([0f64; 2], 0f64);
        for (j, yj) in y.iter().enumerate() {
            if j != i {
                let (dx, dy) = (y[i][0] - yj[0], y[i][1] - yj[1]);
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
        let y: Vec<[f64; 2]> = (0..2000)
            .map(|i| match i % 3 {
                0 => [u() * 0.05 + 5.0, u() * 0.05],
                1 => [u() * 0.05 - 5.0, u() * 0.05 + 3.0],
                _ => [u(), u()],
            })
            .collect();
        let tree = QuadTree::new(&y);
        let (mut z_tree, mut z_exact) = (0.0, 0.0);
        for i in (0..y.len()).step_by(37) {
            let (rt, zt) = tree.repulsion(i, y[i], &y);
            let (re, ze) = exact(i, &y);
            z_tree += zt;
            z_exact += ze;
            let err = ((rt[0] - re[0]).powi(2) + (rt[1] - re[1]).powi(2)).sqrt();
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
        let y = vec![[1.5f64, -2.0]; 500];
        let tree = QuadTree::new(&y);
        let (rep, z) = tree.repulsion(7, y[7], &y);
        assert_eq!(z, 499.0);
        assert_eq!(rep, [0.0, 0.0]);
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
