//! Map quality: PCA against t-SNE on an index's passages.
//!
//! `cargo bench --bench map_quality -- --index DIR [--k 10] [--seed 42]`
//!
//! Clusters the index (k-means, fixed k), lays the passages out with PCA and with t-SNE (from
//! the PCA start; sampled above 3,000 passages), and prints one JSON line per layout: its time,
//! the neighbourhood kept (share of each passage's 10 nearest neighbours in the embedding space
//! that are among its 10 nearest on the map, over up to 1,000 evenly spaced passages) and the
//! silhouette of the themes on the map (2-D, Euclidean).

use std::path::PathBuf;
use std::time::Instant;

use semclust::cluster::layout::{neighbourhood_kept, tsne_2d};
use semclust::cluster::project::pca_2d;
use semclust::cluster::{silhouette, Clustering, KChoice, MapLayout, ThemeInput, ThemeOptions};
use semclust::store::StoreLocation;

/// The value after `name` on the command line.
fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> anyhow::Result<()> {
    let index = PathBuf::from(arg("--index").ok_or_else(|| anyhow::anyhow!("--index DIR"))?);
    let k: usize = arg("--k").map_or(Ok(10), |s| s.parse())?;
    let seed: u64 = arg("--seed").map_or(Ok(42), |s| s.parse())?;
    let store = StoreLocation::new(&index, None)?.open()?;
    let input = ThemeInput::load(&*store)?;
    let opts = ThemeOptions {
        k: KChoice::Fixed(k),
        seed,
        map: MapLayout::Pca,
        ..ThemeOptions::default()
    };
    let themes = input.themes(&opts, None, |_| {}, &|| false)?;
    let labels: Vec<usize> = themes.passages.iter().map(|p| p.theme - 1).collect();
    let (data, dim) = input.vectors();
    let n = labels.len();

    let t = Instant::now();
    let pca = pca_2d(data, dim)?;
    let pca_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let tsne = tsne_2d(data, dim, &pca, &labels, seed);
    let tsne_s = t.elapsed().as_secs_f64();

    for (name, points, secs) in [("pca", &pca.points, pca_s), ("tsne", &tsne, tsne_s + pca_s)] {
        let flat: Vec<f32> = points.iter().flat_map(|p| [p[0], p[1]]).collect();
        let c = Clustering {
            iterations: 0,
            k: themes.facts.k,
            dim: 2,
            labels: labels.clone(),
            centroids: Vec::new(),
            inertia: 0.0,
        };
        println!(
            "{}",
            serde_json::json!({
                "index": index.display().to_string(),
                "passages": n,
                "k": themes.facts.k,
                "layout": name,
                "seconds": (secs * 100.0).round() / 100.0,
                "neighbours_kept_10": (neighbourhood_kept(data, dim, points, 10, 1000) * 1000.0).round() / 1000.0,
                "silhouette_2d": (silhouette(&flat, 2, &c) * 1000.0).round() / 1000.0,
                "silhouette_embedding": (themes.facts.silhouette * 1000.0).round() / 1000.0,
            })
        );
    }
    Ok(())
}
