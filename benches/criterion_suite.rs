//! The criterion suite: embedding per precision and batch size (on the sample corpus's
//! paragraphs, on the CPU, and on CUDA when built with `--features cuda` and a GPU is present),
//! exact and HNSW search over 10,000 and 100,000 synthetic vectors, and k-means.
//!
//! cargo bench --bench criterion_suite [-- FILTER]       (e.g. `-- embed/q4`)
//!
//! The model comes from the cache (`SEMCLUST_CACHE` or the default; `semclust models pull` fills
//! it). An embedding call copies its output to host memory, which waits for the device, so GPU
//! timings include the whole computation.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use semclust::cluster::{kmeans, KMeansParams};
use semclust::store::ann::{AnnParams, Hnsw};
use semclust::store::flat;
use semclust::{DeviceChoice, Embedder, InputKind, ModelSpec, Precision};

#[path = "common/synth.rs"]
#[allow(dead_code)] // its argument parser is for the other benches
mod synth;
use synth::{centres, draw, Rng, DIM};

fn embed(c: &mut Criterion) {
    let sample = include_str!("../tests/fixtures/lemonde-ia-2025.md");
    let texts = semclust::bench::inputs(None, sample).expect("sample corpus");
    let texts: Vec<&str> = texts.iter().take(64).map(String::as_str).collect();
    let spec = ModelSpec::named(semclust::model::DEFAULT_MODEL);
    let mut devices = vec![DeviceChoice::Cpu];
    if cfg!(feature = "cuda") {
        devices.push(DeviceChoice::Cuda(0));
    }
    let mut g = c.benchmark_group("embed");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(texts.len() as u64));
    for device in devices {
        for precision in [Precision::Q4, Precision::F32, Precision::F16] {
            if device == DeviceChoice::Cpu && precision == Precision::F16 {
                continue; // no fast f16 kernels on the CPU; `semclust bench --cpu-f16` has it
            }
            let mut e = match Embedder::load(&spec, device, Some(precision)) {
                Ok(e) => e,
                Err(err) => {
                    eprintln!("embed/{device}/{precision}: skipped: {err}");
                    continue;
                }
            };
            for batch in [1usize, 8, 32] {
                e.set_batch_size(batch).expect("batch size");
                g.bench_with_input(
                    BenchmarkId::new(format!("{device}/{precision}"), batch),
                    &batch,
                    |b, &batch| {
                        b.iter(|| {
                            for chunk in texts.chunks(batch) {
                                std::hint::black_box(
                                    e.embed(chunk, InputKind::Passage).expect("embed"),
                                );
                            }
                        })
                    },
                );
            }
        }
    }
    g.finish();
}

fn search(c: &mut Criterion) {
    let mut g = c.benchmark_group("search");
    g.sample_size(20);
    for n in [10_000usize, 100_000] {
        let mut rng = Rng(0x5EED_0000 + n as u64);
        let cs = centres(&mut rng, 2000);
        let data = draw(&mut rng, &cs, n, 0.9);
        let queries = draw(&mut rng, &cs, 64, 0.9);
        g.throughput(Throughput::Elements(64));
        g.bench_with_input(BenchmarkId::new("exact", n), &n, |b, _| {
            b.iter(|| {
                for q in queries.chunks(DIM) {
                    std::hint::black_box(flat::top_k(&data, DIM, q, 10, &|_| false));
                }
            })
        });
        let mut h = Hnsw::build(&data, DIM, AnnParams::default()).expect("hnsw");
        h.set_ef_search(128);
        g.bench_with_input(BenchmarkId::new("hnsw-ef128", n), &n, |b, _| {
            b.iter(|| {
                for q in queries.chunks(DIM) {
                    std::hint::black_box(h.search(q, 10, None).expect("search"));
                }
            })
        });
    }
    g.finish();
}

fn clustering(c: &mut Criterion) {
    let mut g = c.benchmark_group("kmeans");
    g.sample_size(10);
    let n = 20_000;
    let mut rng = Rng(0xC1u64 << 32 | n as u64);
    let cs = centres(&mut rng, 200);
    let data = draw(&mut rng, &cs, n, 0.9);
    let params = KMeansParams {
        n_runs: 1,
        max_iterations: 30,
        ..KMeansParams::new(20, 42)
    };
    g.bench_function(BenchmarkId::new("k20", n), |b| {
        b.iter(|| std::hint::black_box(kmeans(&data, DIM, &params).expect("kmeans")))
    });
    g.finish();
}

criterion_group!(benches, embed, search, clustering);
criterion_main!(benches);
