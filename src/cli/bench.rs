//! `semclust bench`: each device × precision is measured by a child process of its own (this
//! binary with the hidden `--worker` flag), so that every row gets a cold load, its own peak
//! memory, and a failure on one device leaves the others' rows.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::{Deserialize, Serialize};

use semclust::bench::{self, Machine, MeasureOptions, Outcome, Report, Row};
use semclust::embed::RuntimeInfo;
use semclust::{DeviceChoice, Precision};

use super::{notify, ModelArgs};

/// The sample corpus, the default input: carried by the binary, not by the library.
const SAMPLE_CORPUS: &str = include_str!("../../tests/fixtures/lemonde-ia-2025.md");

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Devices, comma-separated: cpu, cuda[:N], metal[:N] (default: cpu and every GPU backend
    /// this semclust was built with). One that is not available shows as unavailable.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub devices: Option<Vec<DeviceChoice>>,
    /// Precisions, comma-separated: q4, f32, f16 (`--precision` is accepted too).
    #[arg(
        long,
        visible_alias = "precision",
        default_value = "q4,f32,f16",
        value_delimiter = ',',
        value_name = "LIST"
    )]
    pub precisions: Vec<Precision>,
    /// Inputs per forward pass, comma-separated.
    #[arg(
        long,
        default_value = "1,8,32,64",
        value_delimiter = ',',
        value_name = "LIST"
    )]
    pub batch_sizes: Vec<usize>,
    /// Print the results as one JSON object (the content of bench.json) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Texts to embed: a .md or .jsonl file split into paragraphs as `index` splits it, or any
    /// other file with one text per line (default: the sample corpus's 98 paragraphs).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Untimed passes over the input per row.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub warmup: usize,
    /// Timed passes over the input per row (the median is reported).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub runs: usize,
    /// Also measure f16 on the CPU, which candle computes without fast kernels (about 1
    /// passage/s on 2 cores): skipped by default, as it would take most of the run.
    #[arg(long)]
    pub cpu_f16: bool,
    /// Folder for bench.json, bench.md and bench.svg (created if absent).
    #[arg(long, default_value = "semclust-bench", value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// No progress messages.
    #[arg(long, short)]
    pub quiet: bool,
    /// Measure the one device and precision given, in this process, and print JSON (used by
    /// `semclust bench` itself).
    #[arg(long, hide = true)]
    pub worker: bool,
    /// f32 CPU output to compare with (worker).
    #[arg(long, hide = true)]
    pub reference: Option<PathBuf>,
    /// Where to save this worker's output (worker).
    #[arg(long, hide = true)]
    pub save_output: Option<PathBuf>,
}

/// What a worker prints.
#[derive(Debug, Serialize, Deserialize)]
struct WorkerOut {
    rows: Vec<Row>,
    info: Option<WorkerInfo>,
    tokens: usize,
}

#[derive(Debug, Serialize, Deserialize)]
struct WorkerInfo {
    model: String,
    revision: String,
}

impl From<&RuntimeInfo> for WorkerInfo {
    fn from(i: &RuntimeInfo) -> Self {
        Self {
            model: i.model.clone(),
            revision: i.revision.clone(),
        }
    }
}

fn default_devices() -> Vec<DeviceChoice> {
    let mut d = vec![DeviceChoice::Cpu];
    if cfg!(feature = "cuda") || !cfg!(target_os = "macos") {
        d.push(DeviceChoice::Cuda(0));
    }
    if cfg!(feature = "metal") || cfg!(target_os = "macos") {
        d.push(DeviceChoice::Metal(0));
    }
    d
}

pub fn run(args: BenchArgs) -> Result<()> {
    let devices = args.devices.clone().unwrap_or_else(default_devices);
    if devices.is_empty() {
        bail!("--devices is empty; name at least one of cpu, cuda, metal");
    }
    if devices.contains(&DeviceChoice::Auto) {
        bail!("--devices takes cpu, cuda[:N] or metal[:N], not auto");
    }
    let precisions = args.precisions.clone();
    let opts = MeasureOptions {
        batch_sizes: args.batch_sizes.clone(),
        warmup: args.warmup,
        runs: args.runs,
    };
    opts.check()?;
    let texts = bench::inputs(args.input.as_deref(), SAMPLE_CORPUS)?;
    if args.worker {
        return worker(&args, devices[0], precisions[0], &texts, &opts);
    }

    let quiet = args.quiet;
    let report = |m: &str| {
        if !quiet {
            notify(m)
        }
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the output folder {}", args.out.display()))?;
    let scratch = tempfile::tempdir_in(&args.out)
        .with_context(|| format!("cannot write in {}", args.out.display()))?;
    // The model is fetched and prepared once, here, not by every worker.
    semclust::model::pull(&args.model.spec(), false, &|m| report(m))?;

    report(&format!(
        "bench: {} texts; reference: the f32 CPU output",
        texts.len()
    ));
    let reference = scratch.path().join("reference.npy");
    let ref_run = spawn(
        &args,
        DeviceChoice::Cpu,
        Precision::F32,
        &[32],
        (0, 1),
        None,
        Some(&reference),
    )?;
    let reference = match ref_run {
        Ok(_) if reference.is_file() => Some(reference),
        Ok(_) | Err(_) => {
            report("no f32 CPU reference: the cosine columns stay empty");
            None
        }
    };

    let mut rows = Vec::new();
    let mut info: Option<WorkerInfo> = None;
    let mut tokens = 0;
    for &d in &devices {
        for &p in &precisions {
            if d == DeviceChoice::Cpu && p == Precision::F16 && !args.cpu_f16 {
                rows.extend(opts.batch_sizes.iter().map(|&b| Row {
                    device: "cpu".into(),
                    precision: p.to_string(),
                    batch_size: b,
                    outcome: Outcome::Unavailable {
                        reason: "not measured: candle has no fast f16 kernels on the CPU (about 1 passage/s on 2 cores); add --cpu-f16 to measure it".into(),
                    },
                }));
                continue;
            }
            report(&format!("bench: {d} {p}"));
            match spawn(
                &args,
                d,
                p,
                &opts.batch_sizes,
                (opts.warmup, opts.runs),
                reference.as_deref(),
                None,
            )? {
                Ok(out) => {
                    rows.extend(out.rows);
                    if info.is_none() {
                        info = out.info;
                    }
                    tokens = tokens.max(out.tokens);
                }
                Err(reason) => {
                    let label = d.to_string();
                    let label = label.split(':').next().unwrap_or("").to_string();
                    rows.extend(opts.batch_sizes.iter().map(|&b| Row {
                        device: label.clone(),
                        precision: p.to_string(),
                        batch_size: b,
                        outcome: Outcome::Unavailable {
                            reason: reason.clone(),
                        },
                    }));
                }
            }
        }
    }
    let info = info.unwrap_or(WorkerInfo {
        model: args.model.model.clone(),
        revision: "?".into(),
    });
    let result = Report {
        machine: Machine::detect(),
        model: info.model,
        revision: info.revision,
        input: args
            .input
            .as_ref()
            .map_or("the sample corpus (98 paragraphs)".to_string(), |p| {
                p.display().to_string()
            }),
        inputs: texts.len(),
        tokens,
        warmup: opts.warmup,
        runs: opts.runs,
        date: semclust::report::utc_now(),
        rows,
    };
    let md = result.markdown();
    let write = |name: &str, body: &[u8]| -> Result<PathBuf> {
        let p = args.out.join(name);
        std::fs::write(&p, body).with_context(|| format!("cannot write {}", p.display()))?;
        Ok(p)
    };
    write("bench.json", &serde_json::to_vec_pretty(&result)?)?;
    write("bench.md", md.as_bytes())?;
    write("bench.svg", bench::svg(&result).as_bytes())?;
    if args.json {
        // The bench.json document, on one line (single results are one object with --json).
        println!("{}", serde_json::to_string(&result)?);
    } else {
        print!("{md}");
    }
    report(&format!(
        "wrote {}/bench.json, bench.md and bench.svg",
        args.out.display()
    ));
    Ok(())
}

/// Run one worker; `Err(reason)` when it could not measure (it crashed, or the reason it gave).
fn spawn(
    args: &BenchArgs,
    device: DeviceChoice,
    precision: Precision,
    batch_sizes: &[usize],
    (warmup, runs): (usize, usize),
    reference: Option<&std::path::Path>,
    save: Option<&std::path::Path>,
) -> Result<std::result::Result<WorkerOut, String>> {
    let exe = std::env::current_exe().context("cannot find the semclust binary to run")?;
    let mut cmd = Command::new(exe);
    cmd.arg("bench")
        .arg("--worker")
        .args(["--devices", &device.to_string()])
        .args(["--precision", &precision.to_string()])
        .arg("--batch-sizes")
        .arg(
            batch_sizes
                .iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(","),
        )
        .args(["--warmup", &warmup.to_string(), "--runs", &runs.to_string()])
        .args(["--model", &args.model.model]);
    if let Some(i) = &args.input {
        cmd.arg("--input").arg(i);
    }
    if let Some(d) = &args.model.source.model_dir {
        cmd.arg("--model-dir").arg(d);
    }
    if let Some(d) = &args.model.source.cache_dir {
        cmd.arg("--cache-dir").arg(d);
    }
    if args.model.source.no_hub {
        cmd.arg("--no-hub");
    }
    if let Some(r) = reference {
        cmd.arg("--reference").arg(r);
    }
    if let Some(s) = save {
        cmd.arg("--save-output").arg(s);
    }
    if args.quiet {
        cmd.arg("--quiet");
    }
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot start a measuring process")?;
    if !out.status.success() {
        return Ok(Err(format!(
            "the measuring process failed ({}; its message is above)",
            out.status
        )));
    }
    match serde_json::from_slice::<WorkerOut>(&out.stdout) {
        Ok(w) => Ok(Ok(w)),
        Err(e) => Ok(Err(format!("the measuring process printed no result: {e}"))),
    }
}

fn worker(
    args: &BenchArgs,
    device: DeviceChoice,
    precision: Precision,
    texts: &[String],
    opts: &MeasureOptions,
) -> Result<()> {
    let reference = match &args.reference {
        Some(p) => {
            let (data, rows, dim) = semclust::util::npy::read_f32(p)?;
            Some(semclust::Embeddings::from_parts(data, dim, vec![0; rows]))
        }
        None => None,
    };
    let quiet = args.quiet;
    let progress = |m: &str| {
        if !quiet {
            notify(m)
        }
    };
    let m = bench::measure(
        &args.model.spec(),
        device,
        precision,
        texts,
        opts,
        reference.as_ref(),
        &progress,
    )?;
    let tokens = m
        .output
        .as_ref()
        .map_or(0, |e| e.token_counts().iter().sum());
    if let (Some(path), Some(e)) = (&args.save_output, &m.output) {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        );
        semclust::util::npy::write_f32(&mut f, e.as_slice(), e.rows(), e.dim())?;
    }
    let out = WorkerOut {
        rows: m.rows,
        info: m.info.as_ref().map(WorkerInfo::from),
        tokens,
    };
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}
