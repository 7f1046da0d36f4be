//! k-means at scale: `cargo bench --bench kmeans_scale -- [--n 100000] [--k 20] [--iterations 30] [--seeds 42] [--out DIR]`
//!
//! Clusters n synthetic 384-d unit vectors (drawn around 200 centres) into k groups with
//! semclust's k-means (greedy k-means++ start, one run, at most a given number of Lloyd
//! iterations, no tolerance: it stops early only once no row moves) on all threads, and prints
//! time, inertia and the iterations run as JSON, one line per seed of `--seeds` (a
//! comma-separated list: k-means++ draws a different start for each, and the time depends on
//! how many iterations that start needs, so one seed alone can flatter either engine). `SEMCLUST_KMEANS=linfa` runs
//! linfa-clustering's iterations instead (m_k-means; it does not report its iterations). It
//! writes the data to DIR/kmeans-N.npy so that `benches/peers/kmeans_peer.py` runs
//! scikit-learn's `KMeans` (n_init=1, the same iterations) on it.

use std::path::PathBuf;
use std::time::Instant;

use semclust::cluster::{kmeans, KMeansParams};

#[path = "common/synth.rs"]
mod synth;
use synth::{arg, centres, draw, Rng, DIM};

fn main() -> anyhow::Result<()> {
    let n: usize = arg("--n").map_or(Ok(100_000), |s| s.parse())?;
    let k: usize = arg("--k").map_or(Ok(20), |s| s.parse())?;
    let iterations: u64 = arg("--iterations").map_or(Ok(30), |s| s.parse())?;
    let seeds: Vec<u64> = arg("--seeds")
        .unwrap_or_else(|| "42".into())
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let out = PathBuf::from(arg("--out").unwrap_or_else(|| "target/kmeans-bench".into()));
    std::fs::create_dir_all(&out)?;
    let mut rng = Rng(0xC1u64 << 32 | n as u64);
    let c = centres(&mut rng, 200);
    let data = draw(&mut rng, &c, n, 0.9);
    let path = out.join(format!("kmeans-{n}.npy"));
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
    semclust::util::npy::write_f32(&mut w, &data, n, DIM)?;
    drop(w);

    let engine = if std::env::var("SEMCLUST_KMEANS").is_ok_and(|v| v == "linfa") {
        "semclust (linfa-clustering iterations)"
    } else {
        "semclust (Lloyd)"
    };
    for seed in seeds {
        let params = KMeansParams {
            n_runs: 1,
            max_iterations: iterations,
            // Stops only on exact convergence, as tol=0 does in scikit-learn.
            tolerance: 0.0,
            ..KMeansParams::new(k, seed)
        };
        let mut times = Vec::new();
        let mut inertia = 0.0;
        let mut iterations_run = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let cl = kmeans(&data, DIM, &params)?;
            times.push(t.elapsed().as_secs_f64());
            inertia = cl.inertia;
            iterations_run = cl.iterations;
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{}",
            serde_json::json!({"bench": "kmeans", "engine": engine, "n": n,
                "dim": DIM, "k": k, "n_init": 1, "seed": seed, "iterations": iterations,
                "iterations_run": iterations_run,
                "threads": rayon::current_num_threads(), "seconds_median_of_3": times[1],
                "seconds_min": times[0], "inertia": inertia})
        );
    }
    Ok(())
}
