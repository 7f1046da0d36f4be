//! Inference benchmark (`semclust bench`): passages and tokens per second, per-batch latency,
//! load time, peak memory and cosine parity against the f32 CPU output, for each device ×
//! precision × batch size; with the machine it ran on, as JSON, a Markdown table and an SVG plot.
//!
//! [`measure`] runs one device × precision in the calling process. The CLI runs each pair in a
//! child process of its own, so that load time is a cold load and peak memory belongs to that
//! pair alone, and a GPU failure cannot take the other rows with it.

mod plot;

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::embed::{DeviceChoice, Embedder, Embeddings, InputKind, Precision};
use crate::error::{Error, Result};
use crate::model::ModelSpec;

pub use plot::svg;

/// What was measured for one device × precision × batch size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub device: String,
    pub precision: String,
    pub batch_size: usize,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Outcome {
    Ok(Measure),
    Unavailable { reason: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measure {
    /// Inputs embedded per second over a whole pass (median pass).
    pub passages_per_s: f64,
    /// Tokens (special tokens included) per second, same passes.
    pub tokens_per_s: f64,
    /// Time of one `embed` call of `batch_size` inputs, all passes' batches pooled.
    pub batch_latency_ms_p50: f64,
    pub batch_latency_ms_p95: f64,
    /// Median seconds of one pass over all inputs.
    pub pass_seconds: f64,
    /// Cold load of the model for this device and precision (weights read, prepared, moved).
    pub load_seconds: f64,
    /// Peak resident memory of the process that measured this device × precision (Linux).
    pub peak_rss_mb: Option<f64>,
    /// GPU memory held by that process at the end (CUDA, from nvidia-smi).
    pub gpu_memory_mb: Option<f64>,
    /// Cosine of each output vector with the f32 CPU output of the same input.
    pub cosine_min: Option<f64>,
    pub cosine_mean: Option<f64>,
}

/// The machine a benchmark ran on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    pub cpu: String,
    pub logical_cpus: usize,
    /// Threads candle computes with on the CPU.
    pub threads: usize,
    pub cpu_features: Vec<String>,
    pub mkl: bool,
    pub backends: Vec<String>,
    pub gpus: Vec<Gpu>,
    pub os: String,
    pub semclust_version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Gpu {
    pub name: String,
    pub memory_mb: Option<f64>,
    pub driver: Option<String>,
    pub cuda_version: Option<String>,
}

impl Machine {
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let mut backends = vec!["cpu".to_string()];
        if cfg!(feature = "cuda") {
            backends.push("cuda".into());
        }
        if cfg!(feature = "metal") {
            backends.push("metal".into());
        }
        Machine {
            cpu,
            logical_cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            threads: candle_core::utils::get_num_threads(),
            cpu_features: crate::embed::device::cpu_features()
                .into_iter()
                .map(String::from)
                .collect(),
            mkl: cfg!(feature = "mkl"),
            backends,
            gpus: nvidia_gpus(),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            semclust_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// The NVIDIA GPUs `nvidia-smi` sees (none when it is absent).
fn nvidia_gpus() -> Vec<Gpu> {
    let Ok(out) = std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=name,memory.total,driver_version",
            "--format=csv,noheader,nounits",
        ])
        .output()
    else {
        return Vec::new();
    };
    if !out.status.success() {
        return Vec::new();
    }
    // The CUDA version the driver supports is only in the banner.
    let cuda_version = std::process::Command::new("nvidia-smi")
        .output()
        .ok()
        .and_then(|o| {
            let s = String::from_utf8_lossy(&o.stdout).into_owned();
            let at = s.find("CUDA Version:")?;
            s[at + 13..].split_whitespace().next().map(String::from)
        });
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            Gpu {
                name: f.first().copied().unwrap_or("").to_string(),
                memory_mb: f.get(1).and_then(|m| m.parse().ok()),
                driver: f.get(2).map(|d| d.to_string()),
                cuda_version: cuda_version.clone(),
            }
        })
        .collect()
}

/// GPU memory used by this process according to nvidia-smi, in MB.
fn gpu_memory_of_this_process() -> Option<f64> {
    let out = std::process::Command::new("nvidia-smi")
        .args([
            "--query-compute-apps=pid,used_memory",
            "--format=csv,noheader,nounits",
        ])
        .output()
        .ok()?;
    let me = std::process::id().to_string();
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        let (pid, mem) = l.split_once(',')?;
        (pid.trim() == me).then(|| mem.trim().parse().ok())?
    })
}

/// Peak resident memory of this process (Linux `VmHWM`), in MB.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// The texts to embed: a file's, or without one the paragraphs of `sample` (Markdown; the
/// binary passes the sample corpus it carries). `.md` and `.jsonl` files are split into
/// paragraphs as `semclust index` splits them; any other file is one text per line (blank lines
/// skipped).
pub fn inputs(file: Option<&Path>, sample: &str) -> Result<Vec<String>> {
    let texts: Vec<String> = match file {
        None => {
            let f = crate::corpus::SourceFile {
                path: "lemonde-ia-2025.md".into(),
                key: "lemonde-ia-2025".into(),
                format: crate::corpus::Format::Markdown,
            };
            crate::corpus::split(sample, &f, &Default::default())?
                .into_iter()
                .map(|p| p.text)
                .collect()
        }
        Some(path) => {
            use crate::corpus::Format;
            if matches!(Format::of(path), Some(Format::Markdown | Format::Jsonl)) {
                let files = crate::corpus::discover(&[path.to_path_buf()])?;
                let mut out = Vec::new();
                for f in &files {
                    out.extend(
                        crate::corpus::read(f, &Default::default())?
                            .into_iter()
                            .map(|p| p.text),
                    );
                }
                out
            } else {
                let bytes = std::fs::read(path)
                    .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
                let text = String::from_utf8(bytes).map_err(|_| {
                    Error::bad_file(path, "not valid UTF-8; convert the file to UTF-8")
                })?;
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect()
            }
        }
    };
    if texts.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{} holds no text to embed",
            file.map_or("the input".to_string(), |p| p.display().to_string())
        )));
    }
    Ok(texts)
}

/// Options of one measurement.
#[derive(Debug, Clone)]
pub struct MeasureOptions {
    pub batch_sizes: Vec<usize>,
    /// Untimed passes before the timed ones, per batch size.
    pub warmup: usize,
    /// Timed passes per batch size; the median is reported.
    pub runs: usize,
}

impl MeasureOptions {
    pub fn check(&self) -> Result<()> {
        if self.batch_sizes.is_empty() || self.batch_sizes.contains(&0) {
            return Err(Error::invalid(
                "batch_sizes",
                "must each be at least 1: a batch size is a number of inputs per pass (e.g. 1,8,32,64)",
            ));
        }
        if self.runs == 0 {
            return Err(Error::invalid("runs", "must be at least 1"));
        }
        Ok(())
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn cosines(a: &Embeddings, reference: &Embeddings) -> Option<(f64, f64)> {
    if a.rows() != reference.rows() || a.dim() != reference.dim() || a.is_empty() {
        return None;
    }
    let cs: Vec<f64> = (0..a.rows())
        .map(|i| {
            let (x, y) = (a.row(i), reference.row(i));
            let dot: f64 = x.iter().zip(y).map(|(p, q)| *p as f64 * *q as f64).sum();
            let nx: f64 = x.iter().map(|p| (*p as f64).powi(2)).sum::<f64>().sqrt();
            let ny: f64 = y.iter().map(|p| (*p as f64).powi(2)).sum::<f64>().sqrt();
            dot / (nx * ny).max(1e-12)
        })
        .collect();
    let min = cs.iter().copied().fold(f64::INFINITY, f64::min);
    Some((min, cs.iter().sum::<f64>() / cs.len() as f64))
}

/// One pass over `texts` in calls of `batch` inputs: the embeddings and each call's seconds.
/// The output is copied to host memory inside `embed`, which waits for the device: a GPU's
/// clock is read after its work is done.
fn pass(e: &Embedder, texts: &[&str], batch: usize) -> Result<(Embeddings, Vec<f64>)> {
    let mut rows: Vec<f32> = Vec::with_capacity(texts.len() * e.dimension());
    let mut latencies = Vec::new();
    let mut tokens = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(batch) {
        let t = Instant::now();
        let out = e.embed(chunk, InputKind::Passage)?;
        latencies.push(t.elapsed().as_secs_f64());
        rows.extend_from_slice(out.as_slice());
        tokens.extend_from_slice(out.token_counts());
    }
    Ok((
        Embeddings::from_parts(rows, e.dimension(), tokens),
        latencies,
    ))
}

/// What [`measure`] found.
#[derive(Debug)]
pub struct Measured {
    pub rows: Vec<Row>,
    /// The output of the last batch size measured (a reference, for the f32 CPU run).
    pub output: Option<Embeddings>,
    /// The loaded model, when it loaded.
    pub info: Option<crate::embed::RuntimeInfo>,
}

/// Measure one device × precision at every batch size. A device or precision that cannot be
/// loaded gives `Unavailable` rows with the reason. `reference` is the f32 CPU output of
/// `texts`, for the cosine columns.
pub fn measure(
    spec: &ModelSpec,
    device: DeviceChoice,
    precision: Precision,
    texts: &[String],
    opts: &MeasureOptions,
    reference: Option<&Embeddings>,
    progress: &dyn Fn(&str),
) -> Result<Measured> {
    opts.check()?;
    let label = device.to_string();
    let label = label.split(':').next().unwrap_or("").to_string();
    let unavailable = |reason: String| -> Vec<Row> {
        opts.batch_sizes
            .iter()
            .map(|&b| Row {
                device: label.clone(),
                precision: precision.to_string(),
                batch_size: b,
                outcome: Outcome::Unavailable {
                    reason: reason.clone(),
                },
            })
            .collect()
    };
    let mut e = match Embedder::load_with(spec, device, Some(precision), &|_| {}) {
        Ok(e) => e,
        Err(
            err @ (Error::DeviceUnavailable { .. }
            | Error::InvalidArgument(_)
            | Error::InvalidInput { .. }),
        ) => {
            return Ok(Measured {
                rows: unavailable(err.to_string()),
                output: None,
                info: None,
            });
        }
        Err(Error::Candle(c)) => {
            return Ok(Measured {
                rows: unavailable(crate::error::brief(&c)),
                output: None,
                info: None,
            });
        }
        Err(other) => return Err(other),
    };
    let load_seconds = e.info().load_seconds;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut rows = Vec::new();
    let mut last = None;
    for &b in &opts.batch_sizes {
        e.set_batch_size(b)?;
        for _ in 0..opts.warmup {
            pass(&e, &refs, b)?;
        }
        let mut seconds = Vec::with_capacity(opts.runs);
        let mut latencies = Vec::new();
        let mut out = None;
        for _ in 0..opts.runs {
            let t = Instant::now();
            let (emb, lat) = match pass(&e, &refs, b) {
                Ok(r) => r,
                Err(Error::Candle(c)) => {
                    // e.g. out of GPU memory at this batch size: the other sizes still run.
                    rows.push(Row {
                        device: label.clone(),
                        precision: precision.to_string(),
                        batch_size: b,
                        outcome: Outcome::Unavailable {
                            reason: crate::error::brief(&c),
                        },
                    });
                    out = None;
                    break;
                }
                Err(other) => return Err(other),
            };
            seconds.push(t.elapsed().as_secs_f64());
            latencies.extend(lat);
            out = Some(emb);
        }
        let Some(emb) = out else { continue };
        seconds.sort_by(f64::total_cmp);
        latencies.sort_by(f64::total_cmp);
        let median = percentile(&seconds, 50.0);
        let tokens: usize = emb.token_counts().iter().sum();
        let cos = reference.and_then(|r| cosines(&emb, r));
        let m = Measure {
            passages_per_s: texts.len() as f64 / median,
            tokens_per_s: tokens as f64 / median,
            batch_latency_ms_p50: percentile(&latencies, 50.0) * 1e3,
            batch_latency_ms_p95: percentile(&latencies, 95.0) * 1e3,
            pass_seconds: median,
            load_seconds,
            peak_rss_mb: peak_rss_mb(),
            gpu_memory_mb: if label == "cuda" {
                gpu_memory_of_this_process()
            } else {
                None
            },
            cosine_min: cos.map(|c| c.0),
            cosine_mean: cos.map(|c| c.1),
        };
        progress(&format!(
            "{label} {precision} batch {b}: {:.1} passages/s, batch p50 {:.1} ms{}",
            m.passages_per_s,
            m.batch_latency_ms_p50,
            m.cosine_min
                .map(|c| format!(", cosine vs cpu f32 ≥ {c:.5}"))
                .unwrap_or_default()
        ));
        rows.push(Row {
            device: label.clone(),
            precision: precision.to_string(),
            batch_size: b,
            outcome: Outcome::Ok(m),
        });
        last = Some(emb);
    }
    // Peak memory covers every batch size of this process: report the final peak on all rows.
    let peak = peak_rss_mb();
    for r in &mut rows {
        if let Outcome::Ok(m) = &mut r.outcome {
            m.peak_rss_mb = peak;
        }
    }
    Ok(Measured {
        rows,
        output: last,
        info: Some(e.info().clone()),
    })
}

/// A whole benchmark, as written to `bench.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub machine: Machine,
    pub model: String,
    pub revision: String,
    pub input: String,
    pub inputs: usize,
    pub tokens: usize,
    pub warmup: usize,
    pub runs: usize,
    pub date: String,
    pub rows: Vec<Row>,
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".to_string(), |v| format!("{v:.digits$}"))
}

impl Report {
    /// The Markdown page: machine, table, speed-up of GPUs over the CPU.
    pub fn markdown(&self) -> String {
        use std::fmt::Write;
        let m = &self.machine;
        let mut s = String::new();
        let _ = writeln!(s, "# semclust bench\n");
        let _ = writeln!(
            s,
            "- **Machine**: {} ({} logical CPUs, {} threads used; features: {}; MKL: {}); backends compiled in: {}; {}",
            m.cpu,
            m.logical_cpus,
            m.threads,
            if m.cpu_features.is_empty() { "none detected".to_string() } else { m.cpu_features.join(", ") },
            if m.mkl { "yes" } else { "no" },
            m.backends.join(", "),
            m.os
        );
        if m.gpus.is_empty() {
            let _ = writeln!(s, "- **GPU**: none found (nvidia-smi absent or sees none)");
        }
        for g in &m.gpus {
            let _ = writeln!(
                s,
                "- **GPU**: {} ({} MB; driver {}; CUDA {})",
                g.name,
                fmt_opt(g.memory_mb, 0),
                g.driver.as_deref().unwrap_or("?"),
                g.cuda_version.as_deref().unwrap_or("?")
            );
        }
        let _ = writeln!(
            s,
            "- **Model**: {} (revision {}), semclust {}",
            self.model, self.revision, m.semclust_version
        );
        let _ = writeln!(
            s,
            "- **Input**: {}: {} texts, {} tokens; {} warm-up and {} timed passes per row (median); {}\n",
            self.input, self.inputs, self.tokens, self.warmup, self.runs, self.date
        );
        let _ = writeln!(
            s,
            "| device | precision | batch | passages/s | tokens/s | batch p50 (ms) | batch p95 (ms) | load (s) | peak RSS (MB) | GPU mem (MB) | cosine vs CPU f32, min / mean |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|");
        let mut i = 0;
        while i < self.rows.len() {
            let r = &self.rows[i];
            match &r.outcome {
                Outcome::Ok(x) => {
                    let _ = writeln!(
                        s,
                        "| {} | {} | {} | {:.1} | {:.0} | {:.1} | {:.1} | {:.2} | {} | {} | {} / {} |",
                        r.device,
                        r.precision,
                        r.batch_size,
                        x.passages_per_s,
                        x.tokens_per_s,
                        x.batch_latency_ms_p50,
                        x.batch_latency_ms_p95,
                        x.load_seconds,
                        fmt_opt(x.peak_rss_mb, 0),
                        fmt_opt(x.gpu_memory_mb, 0),
                        fmt_opt(x.cosine_min, 5),
                        fmt_opt(x.cosine_mean, 5)
                    );
                    i += 1;
                }
                Outcome::Unavailable { reason } => {
                    // The batch sizes of one device × precision that share a reason: one line.
                    let mut batches = vec![r.batch_size.to_string()];
                    let mut j = i + 1;
                    while let Some(n) = self.rows.get(j) {
                        match &n.outcome {
                            Outcome::Unavailable { reason: nr }
                                if nr == reason
                                    && n.device == r.device
                                    && n.precision == r.precision =>
                            {
                                batches.push(n.batch_size.to_string());
                                j += 1;
                            }
                            _ => break,
                        }
                    }
                    let _ = writeln!(
                        s,
                        "| {} | {} | {} | {} | | | | | | | |",
                        r.device,
                        r.precision,
                        batches.join(", "),
                        if reason.starts_with("not measured") {
                            reason.replace('|', "/")
                        } else {
                            format!("unavailable: {}", reason.replace('|', "/"))
                        }
                    );
                    i = j;
                }
            }
        }
        s.push('\n');
        s.push_str(&self.speedup_markdown());
        s
    }

    fn rate(&self, device: &str, precision: &str, batch: usize) -> Option<f64> {
        self.rows.iter().find_map(|r| match &r.outcome {
            Outcome::Ok(m)
                if r.device == device && r.precision == precision && r.batch_size == batch =>
            {
                Some(m.passages_per_s)
            }
            _ => None,
        })
    }

    /// GPU throughput over the CPU's at the same precision and batch size, and over the CPU's
    /// Q4_0 (its fastest) at the same batch size.
    fn speedup_markdown(&self) -> String {
        use std::fmt::Write;
        let mut batches: Vec<usize> = self.rows.iter().map(|r| r.batch_size).collect();
        batches.sort_unstable();
        batches.dedup();
        let mut pairs: Vec<(String, String)> = Vec::new();
        for r in &self.rows {
            if r.device != "cpu" && matches!(r.outcome, Outcome::Ok(_)) {
                let p = (r.device.clone(), r.precision.clone());
                if !pairs.contains(&p) {
                    pairs.push(p);
                }
            }
        }
        let mut s = String::from("## Speed-up over the CPU\n\n");
        if pairs.is_empty() {
            s.push_str("No GPU row was measured, so there is no speed-up to show.\n");
            return s;
        }
        let head: Vec<String> = batches.iter().map(|b| format!("batch {b}")).collect();
        let _ = writeln!(s, "| device | precision | versus | {} |", head.join(" | "));
        let _ = writeln!(s, "|---|---|---|{}", "---|".repeat(batches.len()));
        for (d, p) in &pairs {
            for versus in [p.as_str(), "q4"] {
                if versus == "q4" && p == "q4" {
                    continue;
                }
                let cells: Vec<String> = batches
                    .iter()
                    .map(
                        |&b| match (self.rate(d, p, b), self.rate("cpu", versus, b)) {
                            (Some(g), Some(c)) if c > 0.0 => format!("{:.1}×", g / c),
                            _ => "–".to_string(),
                        },
                    )
                    .collect();
                let _ = writeln!(s, "| {d} | {p} | cpu {versus} | {} |", cells.join(" | "));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_ranks() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&v, 50.0), 3.0);
        assert_eq!(percentile(&v, 95.0), 5.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
    }

    #[test]
    fn the_sample_corpus_is_the_default_input() {
        let t = inputs(
            None,
            include_str!("../../../../tests/fixtures/lemonde-ia-2025.md"),
        )
        .unwrap();
        assert_eq!(t.len(), 98);
    }

    #[test]
    fn zero_batch_and_runs_are_refused() {
        for (b, r) in [(vec![0], 1), (vec![], 1), (vec![4], 0)] {
            let o = MeasureOptions {
                batch_sizes: b,
                warmup: 0,
                runs: r,
            };
            assert!(o.check().is_err());
        }
    }
}
