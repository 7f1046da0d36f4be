//! A deterministic 2-D map of the passages: their projection on the first two principal
//! components. The components come from power iteration on the covariance matrix from a fixed
//! start, and each is signed so that its largest loading is positive: the same index always
//! gives the same map.

use ndarray::{Array1, Array2, ArrayView2, Axis};

use crate::error::{Error, Result};

/// The projection of every row, and the share of the variance each axis explains.
#[derive(Debug, Clone)]
pub struct Projection {
    pub points: Vec<[f32; 2]>,
    pub explained: [f64; 2],
}

/// Rows per block of the covariance and projection sums.
const PCA_BLOCK: usize = 4096;

pub fn pca_2d(data: &[f32], dim: usize) -> Result<Projection> {
    let n = data.len().checked_div(dim).unwrap_or(0);
    if n == 0 {
        return Ok(Projection {
            points: Vec::new(),
            explained: [0.0; 2],
        });
    }
    let x = ArrayView2::from_shape((n, dim), data)
        .map_err(|e| Error::internal(format!("vectors: {e}")))?;
    // The covariance is summed over blocks of rows in f64: a centred f64 copy of all the
    // vectors would weigh 3 KB a passage (6 GB at a million), the blocks and the d × d sums
    // stay under 20 MB.
    let mut mean = Array1::<f64>::zeros(dim);
    for row in x.rows() {
        mean.zip_mut_with(&row, |m, &v| *m += f64::from(v));
    }
    mean /= n as f64;
    let centred_block = |rows: ArrayView2<f32>| rows.mapv(f64::from) - &mean;
    let mut cov = Array2::<f64>::zeros((dim, dim));
    for block in x.axis_chunks_iter(Axis(0), PCA_BLOCK) {
        let c = centred_block(block);
        cov += &c.t().dot(&c);
    }
    cov /= (n.max(2) - 1) as f64;
    let total_var: f64 = cov.diag().sum();
    let mut deflated = cov.clone();
    let mut axes = Vec::with_capacity(2);
    let mut explained = [0.0; 2];
    for e in explained.iter_mut() {
        let (val, vec) = leading_eigen(&deflated);
        // Remove the found component so the next iteration finds the one after it.
        for i in 0..dim {
            for j in 0..dim {
                deflated[[i, j]] -= val * vec[i] * vec[j];
            }
        }
        *e = if total_var > 0.0 {
            val / total_var
        } else {
            0.0
        };
        axes.push(vec);
    }
    let mut points = Vec::with_capacity(n);
    for block in x.axis_chunks_iter(Axis(0), PCA_BLOCK) {
        let c = centred_block(block);
        points.extend(
            c.rows()
                .into_iter()
                .map(|r| [r.dot(&axes[0]) as f32, r.dot(&axes[1]) as f32]),
        );
    }
    Ok(Projection { points, explained })
}

/// Largest eigenvalue and its unit eigenvector of a symmetric positive semi-definite matrix.
fn leading_eigen(m: &Array2<f64>) -> (f64, Array1<f64>) {
    let d = m.nrows();
    // A fixed start that is not orthogonal to any axis in practice.
    let mut v = Array1::from_iter((0..d).map(|i| 1.0 + ((i * 7919) % 113) as f64 / 113.0));
    v /= v.dot(&v).sqrt();
    let mut val = 0.0;
    for _ in 0..1000 {
        let w = m.dot(&v);
        let norm = w.dot(&w).sqrt();
        if norm == 0.0 {
            return (0.0, v);
        }
        let next = w / norm;
        let change = (&next - &v).mapv(f64::abs).sum();
        v = next;
        val = norm;
        if change < 1e-10 {
            break;
        }
    }
    let pivot = v
        .iter()
        .copied()
        .fold(0.0f64, |a, x| if x.abs() > a.abs() { x } else { a });
    if pivot < 0.0 {
        v.mapv_inplace(|x| -x);
    }
    (val, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_axis_of_largest_spread() {
        // Points along (1, 1, 0) with a little spread along (0, 0, 1).
        let mut data = Vec::new();
        for i in 0..50 {
            let t = i as f32 / 10.0 - 2.5;
            let s = if i % 2 == 0 { 0.1 } else { -0.1 };
            data.extend([t, t, s]);
        }
        let p = pca_2d(&data, 3).unwrap();
        assert!(p.explained[0] > 0.95);
        let spread = |k: usize| {
            let xs: Vec<f32> = p.points.iter().map(|q| q[k]).collect();
            xs.iter().cloned().fold(f32::MIN, f32::max)
                - xs.iter().cloned().fold(f32::MAX, f32::min)
        };
        assert!(spread(0) > 10.0 * spread(1));
    }
}
