//! The choice of k (`themes --k auto`): its cost, split between k-means and silhouette, and
//! the k it makes, on real indexes.
//!
//! `cargo bench --bench k_choice -- --index DIR [--index DIR...] [--seed 42] [--restarts 10]
//! [--every-k] [--dump FILE]`: the k `themes --k auto` tries (every k of its range with
//! `--every-k`); `--dump` appends every k's scores as JSON lines (index, seed, restarts, k,
//! silhouette, inertia), to compare rules for choosing k offline.
//!
//! `--sampled M --k K`: instead, k-means at K with its restarts (`--restarts`, default 10) on
//! every row against restarts on a seeded sample of M rows and Lloyd on every row from the best
//! (what `themes` does above 5,000 passages): inertia and time of each, one JSON line per
//! index and seed.

use std::path::PathBuf;
use std::time::Instant;

use semclust::cluster::kmeans::{kmeans_from, sq_dist};
use semclust::cluster::{
    auto_ks, auto_range, choose_k, KMeansParams, KScore, SampleDistances, ThemeInput,
};
use semclust::store::StoreLocation;

#[path = "common/synth.rs"]
#[allow(dead_code)] // the synthetic-vector helpers are for the other benches
mod synth;

/// The sweep warm-started: k = lo by k-means (`restarts`), each next k from the previous
/// centroids and one more centre, the best by the resulting inertia of 2 + ln k rows drawn in
/// proportion to their squared distance to the nearest centroid (a k-means++ step), then Lloyd.
fn warm_sweep(
    data: &[f32],
    dim: usize,
    range: std::ops::RangeInclusive<usize>,
    seed: u64,
    restarts: usize,
) -> anyhow::Result<Vec<(usize, semclust::cluster::Clustering)>> {
    let n = data.len() / dim;
    let row = |i: usize| &data[i * dim..(i + 1) * dim];
    let mut rng = synth::Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut out = Vec::new();
    let lo = *range.start();
    let mut c = semclust::cluster::kmeans(
        data,
        dim,
        &KMeansParams {
            n_runs: restarts,
            ..KMeansParams::new(lo, seed)
        },
    )?;
    out.push((lo, c.clone()));
    for k in lo + 1..=*range.end() {
        let near: Vec<f32> = (0..n)
            .map(|i| sq_dist(row(i), c.centroid(c.labels[i])))
            .collect();
        let total: f64 = near.iter().map(|&d| d as f64).sum();
        let trials = 2 + (k as f64).ln() as usize;
        let mut best = (0usize, f64::INFINITY);
        for _ in 0..trials {
            let t = rng.next() * total;
            let (mut acc, mut i) = (0f64, 0usize);
            while i < n - 1 && acc + (near[i] as f64) < t {
                acc += near[i] as f64;
                i += 1;
            }
            let pot: f64 = (0..n)
                .map(|j| sq_dist(row(j), row(i)).min(near[j]) as f64)
                .sum();
            if pot < best.1 {
                best = (i, pot);
            }
        }
        let mut init = c.centroids.clone();
        init.extend_from_slice(row(best.0));
        c = kmeans_from(data, dim, &init, 300, 1e-4)?;
        out.push((k, c.clone()));
    }
    Ok(out)
}

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
        .map_or(Ok(semclust::cluster::SWEEP_RESTARTS), |w| w[1].parse())?;
    let sampled: Option<usize> = args
        .windows(2)
        .find(|w| w[0] == "--sampled")
        .map(|w| w[1].parse())
        .transpose()?;
    for index in indexes {
        let store = StoreLocation::new(&index, None)?.open()?;
        let mut input = ThemeInput::load(&*store)?;
        // The vectors `themes` clusters: in the model's language-neutral view when its fit is
        // cached (any `themes` run on the index made it), and with the articles' identity
        // reduced, as ThemeOptions' defaults ask.
        let fp = store.fingerprint().clone();
        let cache = semclust::ModelSpec::named(fp.model.clone()).cache_root();
        let fit = semclust::neutral::LanguageSubspace::cached(&fp, &cache).map(std::sync::Arc::new);
        let view = if fit.is_some() { "neutral" } else { "model" };
        input.prepare(&semclust::cluster::ThemeOptions::default(), fit)?;
        let (data, dim) = input.vectors();
        let n = data.len() / dim;
        if let Some(m) = sampled {
            let k: usize = args
                .windows(2)
                .find(|w| w[0] == "--k")
                .map_or(Ok(10), |w| w[1].parse())?;
            let restarts = args
                .windows(2)
                .find(|w| w[0] == "--restarts")
                .map_or(Ok(10), |w| w[1].parse())?;
            let p = KMeansParams {
                n_runs: restarts,
                ..KMeansParams::new(k, seed)
            };
            let t = Instant::now();
            let full = semclust::cluster::kmeans(data, dim, &p)?;
            let t_full = t.elapsed().as_secs_f64();
            let rows = semclust::cluster::layout::sample_rows(n, m, seed);
            let t = Instant::now();
            let sub =
                semclust::cluster::kmeans::kmeans_sampled_until(data, dim, &rows, &p, &|| false)?;
            let t_sub = t.elapsed().as_secs_f64();
            println!(
                "{{\"index\":{:?},\"n\":{n},\"k\":{k},\"seed\":{seed},\"sample\":{m},\"inertia_full_restarts\":{:.3},\"inertia_sampled\":{:.3},\"ratio\":{:.5},\"seconds_full\":{t_full:.2},\"seconds_sampled\":{t_sub:.2}}}",
                index.display().to_string(),
                full.inertia,
                sub.inertia,
                sub.inertia / full.inertia
            );
            continue;
        }
        let range = auto_range(n)?;
        let (mut t_km, mut t_sil) = (0f64, 0f64);
        let mut iterations = 0;
        let mut scores = Vec::new();
        let t = Instant::now();
        let distances = SampleDistances::new(data, dim);
        t_sil += t.elapsed().as_secs_f64();
        let warm = args.iter().any(|a| a == "--warm");
        if warm {
            let t = Instant::now();
            // `--paths P`: the scores averaged over P warm-started sweeps of seeds seed..seed+P.
            let paths: u64 = args
                .windows(2)
                .find(|w| w[0] == "--paths")
                .map_or(Ok(1), |w| w[1].parse())?;
            for p in 0..paths {
                let runs = warm_sweep(data, dim, range.clone(), seed + p, restarts)?;
                for (i, (k, c)) in runs.into_iter().enumerate() {
                    iterations += c.iterations;
                    let t = Instant::now();
                    let s = distances.silhouette(&c) / paths as f64;
                    t_sil += t.elapsed().as_secs_f64();
                    let inertia = c.inertia / paths as f64;
                    if p == 0 {
                        scores.push(KScore {
                            k,
                            silhouette: s,
                            inertia,
                        });
                    } else {
                        scores[i].silhouette += s;
                        scores[i].inertia += inertia;
                    }
                }
            }
            t_km += t.elapsed().as_secs_f64();
        }
        // The k `themes --k auto` tries, or every k of the range with `--every-k`.
        let ks: Vec<usize> = match args.iter().any(|a| a == "--every-k") {
            true => range.clone().collect(),
            false => auto_ks(&range),
        };
        for k in ks.into_iter().filter(|_| !warm) {
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
        if let Some(w) = args.windows(2).find(|w| w[0] == "--dump") {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&w[1])?;
            for s in &scores {
                writeln!(
                    f,
                    "{{\"index\":{:?},\"seed\":{seed},\"restarts\":{restarts},\"warm\":{warm},\"k\":{},\"silhouette\":{},\"inertia\":{}}}",
                    index.display().to_string(),
                    s.k,
                    s.silhouette,
                    s.inertia
                )?;
            }
        }
        let (k, rule) = choose_k(&scores).expect("scores");
        println!(
            "{{\"index\":{:?},\"view\":\"{view}\",\"n\":{n},\"k\":{k},\"rule\":{:?},\"kmeans_s\":{t_km:.2},\"silhouette_s\":{t_sil:.2},\"iterations_of_kept_runs\":{iterations}}}",
            index.display().to_string(),
            rule.to_string()
        );
    }
    Ok(())
}
