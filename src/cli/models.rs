//! `semclust models list|pull`.

use anyhow::Result;
use clap::{Args, Subcommand};
use serde::Serialize;

use semclust::model::{self, model_cache_dir, Registry};
use semclust::util::fs::dir_size;
use semclust::ModelSpec;

use super::notify;

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Known models, whether each is in the cache, its size and where it came from.
    List(ListArgs),
    /// Fetch and prepare a model in the cache.
    Pull(PullArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long, env = "SEMCLUST_CACHE", value_name = "DIR")]
    pub cache_dir: Option<std::path::PathBuf>,
    /// One JSON object per model and line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Model id from `semclust models list`.
    pub name: String,
    #[arg(long, env = "SEMCLUST_CACHE", value_name = "DIR")]
    pub cache_dir: Option<std::path::PathBuf>,
    /// Fetch again even if the cache has it.
    #[arg(long)]
    pub force: bool,
    /// Also write dequantised f32 safetensors beside Q4_0 weights.
    #[arg(long)]
    pub dequantize: bool,
    /// Do not try the Hugging Face hub.
    #[arg(long)]
    pub no_hub: bool,
}

#[derive(Serialize)]
struct Row {
    id: String,
    dimension: usize,
    max_tokens: usize,
    present: bool,
    size_bytes: u64,
    source: String,
    path: String,
    description: String,
}

pub fn run(cmd: ModelsCommand) -> Result<()> {
    match cmd {
        ModelsCommand::List(a) => list(a),
        ModelsCommand::Pull(a) => pull(a),
    }
}

fn list(args: ListArgs) -> Result<()> {
    let registry = Registry::builtin()?;
    let mut rows = Vec::new();
    for m in registry.models() {
        let mut spec = ModelSpec::named(&m.id);
        spec.cache_dir = args.cache_dir.clone();
        let dir = model_cache_dir(&spec.cache_root(), m);
        let cached = model::cached(&spec)?;
        let sources = std::iter::once(format!("hub {}", m.hub.repo))
            .chain(
                m.wheels
                    .iter()
                    .map(|w| format!("wheel {}=={}", w.name, w.version)),
            )
            .collect::<Vec<_>>()
            .join(", ");
        rows.push(Row {
            id: m.id.clone(),
            dimension: m.dimension,
            max_tokens: m.max_tokens,
            present: cached.is_some(),
            size_bytes: cached
                .as_ref()
                .map(|f| {
                    [
                        Some(&f.config),
                        Some(&f.tokenizer),
                        f.gguf.as_ref(),
                        f.safetensors.as_ref(),
                    ]
                    .into_iter()
                    .flatten()
                    .filter_map(|p| std::fs::metadata(p).ok())
                    .map(|md| md.len())
                    .sum()
                })
                .unwrap_or_else(|| dir_size(&dir)),
            source: match &cached {
                Some(f) => f.origin.clone(),
                None => format!("not fetched; sources: {sources}"),
            },
            path: dir.display().to_string(),
            description: m.description.clone(),
        });
    }
    if args.json {
        // A list: one JSON object per model and line, as every list is with --json.
        for r in &rows {
            println!("{}", serde_json::to_string(r)?);
        }
        return Ok(());
    }
    println!(
        "{:<24} {:>4} {:>6} {:>8} {:>9}  SOURCE",
        "MODEL", "DIM", "TOKENS", "PRESENT", "SIZE"
    );
    for r in &rows {
        println!(
            "{:<24} {:>4} {:>6} {:>8} {:>9}  {}",
            r.id,
            r.dimension,
            r.max_tokens,
            if r.present { "yes" } else { "no" },
            human_size(r.size_bytes),
            r.source
        );
    }
    Ok(())
}

fn human_size(b: u64) -> String {
    if b == 0 {
        "-".into()
    } else if b >= 1 << 30 {
        format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    }
}

fn pull(args: PullArgs) -> Result<()> {
    let mut spec = ModelSpec::named(&args.name);
    spec.cache_dir = args.cache_dir.clone();
    spec.hub = !args.no_hub;
    let files = model::pull(&spec, args.force, &notify)?;
    if args.dequantize && files.gguf.is_some() {
        model::export_dequantised(&files, &notify)?;
    }
    println!(
        "{}: {} ({})",
        files.manifest.id,
        files.dir.display(),
        files.origin
    );
    Ok(())
}
