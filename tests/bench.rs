//! `semclust bench` on the real model: rows, parity against the f32 CPU output, token counts as
//! transformers' tokenizer counts them, the three output files, unavailable devices, bad input.
//! GPU rows are checked where a GPU and a CUDA build are present, and skipped with a reason
//! elsewhere.

mod common;

use std::path::Path;

use serde_json::Value;

use common::{error_line, ok, parity_texts, semclust};

/// The first `n` parity passages, one per line, and the number of tokens transformers gives
/// them with the passage prefix (special tokens included).
fn input(dir: &Path, n: usize) -> (String, u64) {
    let t = parity_texts();
    let path = dir.join("texts.txt");
    std::fs::write(&path, t.passages[..n].join("\n")).unwrap();
    let ids: Value = serde_json::from_slice(
        &std::fs::read(common::fixture("parity/e5_token_ids.json")).unwrap(),
    )
    .unwrap();
    let tokens = ids["passages"].as_array().unwrap()[..n]
        .iter()
        .map(|x| x.as_array().unwrap().len() as u64)
        .sum();
    (path.to_str().unwrap().to_string(), tokens)
}

fn cuda_gpu_present() -> Option<String> {
    if !cfg!(feature = "cuda") {
        return None;
    }
    let out = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=name", "--format=csv,noheader"])
        .output()
        .ok()?;
    let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !name.is_empty()).then_some(name)
}

#[test]
fn bench_measures_cpu_rows_with_parity_and_writes_json_markdown_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let (file, tokens) = input(dir.path(), 6);
    let out = dir.path().join("out");
    let o = semclust(&[
        "bench",
        "--devices",
        "cpu,cuda",
        "--precision",
        "q4,f32",
        "--batch-sizes",
        "2,4",
        "--warmup",
        "0",
        "--runs",
        "2",
        "--input",
        &file,
        "--out",
        out.to_str().unwrap(),
        "--no-hub",
    ]);
    let md = ok(&o);
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("bench.json")).unwrap()).unwrap();

    // The machine.
    let m = &report["machine"];
    assert!(!m["cpu"].as_str().unwrap().is_empty());
    assert!(m["logical_cpus"].as_u64().unwrap() >= 1);
    assert!(m["threads"].as_u64().unwrap() >= 1);
    assert!(m["cpu_features"].is_array());
    assert_eq!(report["model"], "multilingual-e5-small");
    assert_eq!(report["inputs"], 6);
    assert_eq!(
        report["tokens"], tokens,
        "tokens as transformers counts them"
    );

    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 8, "2 devices × 2 precisions × 2 batch sizes");
    for r in rows.iter().filter(|r| r["device"] == "cpu") {
        assert_eq!(r["status"], "ok", "{r}");
        let pps = r["passages_per_s"].as_f64().unwrap();
        assert!(pps > 0.0);
        // tokens/s over passages/s is the mean tokens per passage.
        let ratio = r["tokens_per_s"].as_f64().unwrap() / pps;
        assert!(
            (ratio - tokens as f64 / 6.0).abs() < 1e-6 * ratio,
            "{ratio}"
        );
        assert!(
            r["batch_latency_ms_p95"].as_f64().unwrap()
                >= r["batch_latency_ms_p50"].as_f64().unwrap()
        );
        assert!(r["load_seconds"].as_f64().unwrap() > 0.0);
        assert!(r["peak_rss_mb"].as_f64().unwrap() > 50.0);
        // Parity with the f32 CPU output: q4 within the Q4_0 error, f32 the same computation.
        let min = r["cosine_min"].as_f64().unwrap();
        eprintln!(
            "{} b{}: cosine_min {min:.9}",
            r["precision"], r["batch_size"]
        );
        // Measured 2026-12-02 on AVX-512 VNNI and with SEMCLUST_MAX_ISA=avx2: q4 0.999930519 on
        // both, f32 1.0. The q4 window catches a broken Q4 kernel (below) and a q4 row that
        // secretly ran in f32 (above 0.99999); f32 must be the same computation as f32.
        if r["precision"] == "q4" {
            assert!((0.9998..0.99999).contains(&min), "q4 cosine {min}");
        } else {
            assert!(min >= 1.0 - 1e-8, "f32 cosine {min}");
        }
    }
    let cuda: Vec<&Value> = rows.iter().filter(|r| r["device"] == "cuda").collect();
    match cuda_gpu_present() {
        None => {
            for r in &cuda {
                assert_eq!(r["status"], "unavailable", "{r}");
                assert!(!r["reason"].as_str().unwrap().is_empty());
            }
            if !cfg!(feature = "cuda") {
                assert!(cuda[0]["reason"]
                    .as_str()
                    .unwrap()
                    .contains("--features cuda"));
            }
        }
        Some(gpu) => {
            eprintln!("GPU present: {gpu}");
            for r in &cuda {
                assert_eq!(r["status"], "ok", "{r}");
                assert!(r["cosine_min"].as_f64().unwrap() >= 0.999, "{r}");
            }
        }
    }

    // The Markdown table (also printed) and the plot.
    let md_file = std::fs::read_to_string(out.join("bench.md")).unwrap();
    assert_eq!(md, md_file);
    assert!(
        md.contains("| cpu | q4 | 2 |") && md.contains("| cpu | f32 | 4 |"),
        "{md}"
    );
    assert!(md.contains("## Speed-up over the CPU"));
    let svg = std::fs::read_to_string(out.join("bench.svg")).unwrap();
    assert!(svg.starts_with("<?xml") && svg.trim_end().ends_with("</svg>"));
    let ok_series = if cuda_gpu_present().is_some() { 4 } else { 2 };
    assert_eq!(svg.matches("<polyline class=\"series\"").count(), ok_series);
    assert!(svg.contains("data-series=\"cpu q4\"") && svg.contains("data-series=\"cpu f32\""));
    assert_eq!(svg.matches("<circle").count(), ok_series * 2);
}

#[test]
fn gpu_rows_meet_the_parity_target_when_a_gpu_is_present() {
    let Some(gpu) = cuda_gpu_present() else {
        eprintln!(
            "skipped: {}",
            if cfg!(feature = "cuda") {
                "no NVIDIA GPU visible (nvidia-smi)"
            } else {
                "built without --features cuda"
            }
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = semclust(&[
        "bench",
        "--devices",
        "cuda",
        "--precision",
        "f32,f16,q4",
        "--batch-sizes",
        "64",
        "--runs",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--no-hub",
    ]);
    ok(&o);
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("bench.json")).unwrap()).unwrap();
    assert_eq!(report["machine"]["gpus"][0]["name"], gpu.as_str());
    for r in report["rows"].as_array().unwrap() {
        assert_eq!(r["status"], "ok", "{r}");
        assert!(r["cosine_min"].as_f64().unwrap() >= 0.999, "{r}");
    }
}

#[test]
fn bench_bad_input_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "\n\n").unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    for (args, expect) in [
        (vec!["bench", "--batch-sizes", "0"], "batch size"),
        (vec!["bench", "--devices", "tpu"], "unknown device 'tpu'"),
        (
            vec!["bench", "--precision", "int8"],
            "unknown precision 'int8'",
        ),
        (vec!["bench", "--runs", "0"], "--runs"),
        (
            vec!["bench", "--input", empty.to_str().unwrap()],
            "holds no text",
        ),
        (
            vec!["bench", "--input", "/no/such/file.txt"],
            "/no/such/file.txt",
        ),
        (
            vec!["bench", "--out", blocker.join("sub").to_str().unwrap()],
            "output folder",
        ),
    ] {
        let line = error_line(&semclust(&args));
        assert!(line.contains(expect), "{args:?}: {line}");
    }
}
