//! The choice of k (`themes --k auto`): its cost, split between k-means and silhouette, and
//! the k it makes, on real indexes.
//!
//! `cargo bench --bench k_choice -- --index DIR [--index DIR...] [--seed 42]`

use std::path::PathBuf;
use std::time::Instant;

use semclust::cluster::{auto_range, choose_k, KMeansParams, KScore, SampleDistances, ThemeInput};
use semclust::store::StoreLocation;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let indexes: Vec<PathBuf> = args
        .windows(2)
        .filter(|w| w[0] == "--index")
        .map(|w| PathBuf::from(&w[1]))
        .collect();
    let seed: u64 = args
        .windows(2)
        .find(|w| w[0] == "--seed")
        .map_or(Ok(42), |w| w[1].parse())?;
    let restarts: usize = args
        .windows(2)
        .find(|w| w[0] == "--restarts")
        .map_or(Ok(10), |w| w[1].parse())?;
    for index in indexes {
        let store = StoreLocation::new(&index, None)?.open()?;
        let input = ThemeInput::load(&*store)?;
        let (data, dim) = input.vectors();
        let n = data.len() / dim;
        let range = auto_range(n)?;
        let (mut t_km, mut t_sil) = (0f64, 0f64);
        let mut iterations = 0;
        let mut scores = Vec::new();
        let t = Instant::now();
        let distances = SampleDistances::new(data, dim);
        t_sil += t.elapsed().as_secs_f64();
        for k in range {
            let t = Instant::now();
            let c = semclust::cluster::kmeans(
                data,
                dim,
                &KMeansParams {
                    n_runs: restarts,
                    ..KMeansParams::new(k, seed)
                },
            )?;
            t_km += t.elapsed().as_secs_f64();
            iterations += c.iterations;
            let t = Instant::now();
            let s = distances.silhouette(&c);
            t_sil += t.elapsed().as_secs_f64();
            scores.push(KScore {
                k,
                silhouette: s,
                inertia: c.inertia,
            });
        }
        let (k, rule) = choose_k(&scores).expect("scores");
        println!(
            "{{\"index\":{:?},\"n\":{n},\"k\":{k},\"rule\":{:?},\"kmeans_s\":{t_km:.2},\"silhouette_s\":{t_sil:.2},\"iterations_of_kept_runs\":{iterations}}}",
            index.display().to_string(),
            rule.to_string()
        );
    }
    Ok(())
}
