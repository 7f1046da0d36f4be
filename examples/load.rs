//! Load generator for `semclust serve` (or any OpenAI-compatible embeddings server): N clients,
//! each on its own keep-alive connection, send requests back to back for a fixed time.
//!
//! ```text
//! cargo run --release --example load -- --url http://127.0.0.1:8080 --route embeddings \
//!     [--clients 64] [--seconds 30] [--pid PID] [--model multilingual-e5-small] [--label NAME]
//! ```
//!
//! `embeddings`: 1 to 8 short texts per request (questions and sentences in five languages from
//! tests/fixtures), `input_type` passage. `search`: one question per request, k = 10. Prints one
//! JSON line: requests/s, texts/s, latency p50/p99 (ms), counts by status, and with `--pid` the
//! server's resident memory before and after (VmRSS, MiB) and its peak (VmHWM). A client told
//! 429 or 503 waits `Retry-After` seconds before its next request.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

struct Args {
    url: String,
    route: String,
    clients: usize,
    seconds: f64,
    pid: Option<u32>,
    model: String,
    label: String,
}

fn args() -> Result<Args> {
    let mut a = Args {
        url: "http://127.0.0.1:8080".into(),
        route: "embeddings".into(),
        clients: 64,
        seconds: 30.0,
        pid: None,
        model: "multilingual-e5-small".into(),
        label: "semclust".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.url = value()?,
            "--route" => a.route = value()?,
            "--clients" => a.clients = value()?.parse().context("--clients")?,
            "--seconds" => a.seconds = value()?.parse().context("--seconds")?,
            "--pid" => a.pid = Some(value()?.parse().context("--pid")?),
            "--model" => a.model = value()?,
            "--label" => a.label = value()?,
            other => bail!("unknown flag {other}"),
        }
    }
    if !matches!(a.route.as_str(), "embeddings" | "search") {
        bail!("--route must be embeddings or search");
    }
    if a.clients == 0 || a.seconds <= 0.0 {
        bail!("--clients and --seconds must be positive");
    }
    Ok(a)
}

/// Short texts: the parity queries and the question set.
fn texts() -> Result<Vec<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let parity: Value = serde_json::from_slice(&std::fs::read(root.join("parity/texts.json"))?)?;
    let questions: Value = serde_json::from_slice(&std::fs::read(root.join("questions.json"))?)?;
    let mut out: Vec<String> = parity["queries"]
        .as_array()
        .context("texts.json")?
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    out.extend(
        questions["questions"]
            .as_array()
            .context("questions.json")?
            .iter()
            .filter_map(|q| q["q"].as_str().map(String::from)),
    );
    Ok(out)
}

fn rss(pid: u32) -> Option<(f64, f64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| -> Option<f64> {
        s.lines()
            .find(|l| l.starts_with(key))?
            .split_whitespace()
            .nth(1)?
            .parse::<f64>()
            .ok()
    };
    Some((kb("VmRSS:")? / 1024.0, kb("VmHWM:")? / 1024.0))
}

#[derive(Default)]
struct Tally {
    latencies_ms: Vec<f64>,
    by_status: BTreeMap<String, u64>,
    texts_ok: u64,
}

fn main() -> Result<()> {
    let a = args()?;
    let pool = Arc::new(texts()?);
    let before = a.pid.and_then(rss);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(a.seconds);
    let threads: Vec<_> = (0..a.clients)
        .map(|c| {
            let (pool, tally) = (pool.clone(), tally.clone());
            let url = format!("{}/v1/{}", a.url.trim_end_matches('/'), a.route);
            let (route, model) = (a.route.clone(), a.model.clone());
            std::thread::spawn(move || -> Result<()> {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(120))
                    .build()?;
                // xorshift: the same request mix in every run.
                let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (c as u64 + 1);
                let mut next = move || {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state
                };
                let mut local = Tally::default();
                while Instant::now() < deadline {
                    let (body, n) = if route == "embeddings" {
                        let n = 1 + (next() % 8) as usize;
                        let input: Vec<&str> = (0..n)
                            .map(|_| pool[(next() % pool.len() as u64) as usize].as_str())
                            .collect();
                        (
                            json!({"model": model, "input": input, "input_type": "passage"}),
                            n,
                        )
                    } else {
                        let q = &pool[(next() % pool.len() as u64) as usize];
                        (json!({"query": q, "k": 10}), 1)
                    };
                    let t = Instant::now();
                    let mut wait = None;
                    let status = match client.post(&url).json(&body).send() {
                        Ok(r) => {
                            let s = r.status().as_u16();
                            // Refused clients wait as told, as OpenAI's clients do.
                            if s == 429 || s == 503 {
                                wait = Some(
                                    r.headers()
                                        .get("retry-after")
                                        .and_then(|v| v.to_str().ok())
                                        .and_then(|v| v.parse::<f64>().ok())
                                        .unwrap_or(1.0),
                                );
                            }
                            // Read the whole body: a client that drops it is not a client.
                            let _ = r.bytes();
                            s.to_string()
                        }
                        Err(e) => format!("transport error: {}", e.without_url()),
                    };
                    let ms = t.elapsed().as_secs_f64() * 1e3;
                    if status == "200" {
                        local.latencies_ms.push(ms);
                        local.texts_ok += n as u64;
                    }
                    *local.by_status.entry(status).or_default() += 1;
                    if let Some(w) = wait {
                        std::thread::sleep(Duration::from_secs_f64(w.clamp(0.0, 10.0)));
                    }
                }
                let mut g = tally.lock().unwrap_or_else(|p| p.into_inner());
                g.latencies_ms.extend(local.latencies_ms);
                g.texts_ok += local.texts_ok;
                for (k, v) in local.by_status {
                    *g.by_status.entry(k).or_default() += v;
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("a client thread panicked"))??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Let the server settle (freed buffers) before reading its memory.
    std::thread::sleep(Duration::from_millis(500));
    let after = a.pid.and_then(rss);
    let mut t = Arc::try_unwrap(tally)
        .map_err(|_| anyhow::anyhow!("tally still shared"))?
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    t.latencies_ms.sort_by(f64::total_cmp);
    let pct = |p: f64| -> Option<f64> {
        if t.latencies_ms.is_empty() {
            return None;
        }
        let i = ((p / 100.0) * (t.latencies_ms.len() - 1) as f64).round() as usize;
        Some(t.latencies_ms[i])
    };
    let ok = t.latencies_ms.len() as f64;
    println!(
        "{}",
        json!({
            "label": a.label,
            "route": a.route,
            "clients": a.clients,
            "seconds": elapsed,
            "requests_ok": ok,
            "requests_per_s": ok / elapsed,
            "texts_per_s": t.texts_ok as f64 / elapsed,
            "latency_ms_p50": pct(50.0),
            "latency_ms_p99": pct(99.0),
            "by_status": t.by_status,
            "rss_mb_before": before.map(|r| r.0),
            "rss_mb_after": after.map(|r| r.0),
            "rss_mb_peak": after.map(|r| r.1),
        })
    );
    Ok(())
}
