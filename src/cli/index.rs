//! `semclust index PATH...`: read, split, embed and store, incrementally.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use semclust::corpus::ReadLimits;
use semclust::indexing::{self, Progress};
use semclust::store::{Fingerprint, HnswOptions, VectorStore, VectorStoreWrite};
use semclust::{DeviceChoice, Embedder, Precision};

use super::{notify, IndexDir, ModelArgs};

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Markdown (.md), text (.txt) or JSONL (.jsonl) files, or folders searched recursively.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub index: IndexDir,
    #[command(flatten)]
    pub model: ModelArgs,
    /// q4, f32 or f16 (default: q4 on CPU, f16 on GPU). An index keeps one precision.
    #[arg(long)]
    pub precision: Option<String>,
    /// auto, cpu, cuda[:N] or metal[:N].
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// No progress messages or bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// PostgreSQL store: links per node of the HNSW index (pgvector's `m`; default 16 or the
    /// stored value). Changing it rebuilds the index.
    #[arg(long, value_name = "M")]
    pub hnsw_m: Option<usize>,
    /// PostgreSQL store: candidate list size while building the HNSW index (default 128 or the
    /// stored value). Changing it rebuilds the index.
    #[arg(long, value_name = "EF")]
    pub hnsw_ef_construction: Option<usize>,
    #[command(flatten)]
    pub limits: ReadLimitArgs,
}

/// Bounds on what one file and one passage may hold (see docs/limits.md).
#[derive(Debug, Clone, Args)]
pub struct ReadLimitArgs {
    /// Largest file read, in bytes; a larger file stops the run with an error naming it.
    #[arg(long, default_value_t = ReadLimits::default().max_file_bytes, value_name = "BYTES")]
    pub max_file_bytes: u64,
    /// Largest passage (paragraph) text, in bytes; a larger one stops the run with an error
    /// naming its file and line.
    #[arg(long, default_value_t = ReadLimits::default().max_passage_bytes, value_name = "BYTES")]
    pub max_passage_bytes: usize,
}

impl ReadLimitArgs {
    pub fn limits(&self) -> Result<ReadLimits> {
        if self.max_file_bytes == 0 || self.max_passage_bytes == 0 {
            bail!("--max-file-bytes and --max-passage-bytes must be at least 1");
        }
        Ok(ReadLimits {
            max_file_bytes: self.max_file_bytes,
            max_passage_bytes: self.max_passage_bytes,
        })
    }
}

impl Default for ReadLimitArgs {
    fn default() -> Self {
        let d = ReadLimits::default();
        Self {
            max_file_bytes: d.max_file_bytes,
            max_passage_bytes: d.max_passage_bytes,
        }
    }
}

pub fn run(args: IndexArgs) -> Result<()> {
    let json = args.json;
    let run = sync(args)?;
    if json {
        println!("{}", run.json()?);
    } else {
        println!("{run}");
    }
    Ok(())
}

/// What one indexing run did, for the summary `index` prints (and `report PATH…` reports).
pub struct IndexRun {
    summary: indexing::IndexReport,
    location: String,
    passages: usize,
    seconds: f64,
}

impl IndexRun {
    /// The `index --json` object.
    pub fn json(&self) -> Result<serde_json::Value> {
        let mut v = serde_json::to_value(&self.summary)?;
        v["passages"] = self.passages.into();
        v["index"] = self.location.clone().into();
        v["seconds"] = self.seconds.into();
        Ok(v)
    }
}

impl std::fmt::Display for IndexRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.summary;
        write!(
            f,
            "{}: {} files, {} passages: {} added, {} updated, {} removed, {} kept ({} embedded in {:.1} s{})",
            self.location,
            s.files,
            self.passages,
            s.added,
            s.updated,
            s.removed,
            s.kept,
            s.embedded,
            self.seconds,
            if s.embedded > 0 {
                format!(", {:.1} passages/s", s.embedded as f64 / self.seconds)
            } else {
                String::new()
            }
        )
    }
}

/// Index `args.paths`, printing nothing on stdout.
pub fn sync(args: IndexArgs) -> Result<IndexRun> {
    let quiet = args.quiet;
    // Warnings are printed even with --quiet: they say what was not indexed.
    let mut warn = |m: String| notify(&format!("warning: {m}"));
    let files = semclust::corpus::discover_reporting(&args.paths, &mut warn)?;
    let named = args
        .paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if files.is_empty() {
        bail!("no .md, .txt or .jsonl file under {named}");
    }
    // Read before the model loads: bad or empty input fails at once.
    let docs = indexing::read_documents(&files, &args.limits.limits()?, &mut warn)?;
    let location = args.index.location()?;
    if docs.iter().all(|d| d.passages.is_empty()) {
        // Nothing to index is an error, unless the files were indexed before: emptying them
        // is how a user removes their passages.
        let stored = match location.open_existing()? {
            Some(store) => store.documents()?,
            None => Default::default(),
        };
        if !docs.iter().any(|d| stored.contains_key(&d.key)) {
            bail!(
                "no paragraph to index in {named} ({} file{}): every file is empty or holds only headings, front matter or blank lines",
                files.len(),
                if files.len() == 1 { "" } else { "s" }
            );
        }
    }
    let report = |m: &str| {
        if !quiet {
            notify(m)
        }
    };
    let device: DeviceChoice = args.device.parse()?;
    let precision: Option<Precision> = args.precision.as_deref().map(str::parse).transpose()?;
    let embedder = Embedder::load_with(&args.model.spec(), device, precision, &report)?;
    let info = embedder.info();
    report(&info.to_string());
    let fp = Fingerprint {
        model: info.model.clone(),
        revision: info.revision.clone(),
        precision: info.precision.to_string(),
        dimension: info.dimension,
    };
    if let Some(m) = args.hnsw_m.filter(|m| !(2..=100).contains(m)) {
        bail!("--hnsw-m {m}: pgvector takes 2 to 100");
    }
    if let Some(e) = args
        .hnsw_ef_construction
        .filter(|e| !(4..=1000).contains(e))
    {
        bail!("--hnsw-ef-construction {e}: pgvector takes 4 to 1000");
    }
    let hnsw = HnswOptions {
        m: args.hnsw_m,
        ef_construction: args.hnsw_ef_construction,
        ef_search: None,
    };
    let mut store = location.open_or_create(&fp, &hnsw)?;

    let bar = if quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "semclust: embedding {bar:30} {pos}/{len} passages, {per_sec}, eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let summary = indexing::sync(
        &mut store,
        &embedder,
        &args.paths,
        &docs,
        &mut |p| match p {
            Progress::Embedding { total } => bar.set_length(total as u64),
            Progress::Embedded { done } => bar.set_position(done as u64),
        },
    )?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    // The lexical index is built now, not at the first search.
    semclust::search::lexical_index(&store)?;
    Ok(IndexRun {
        summary,
        location: location.to_string(),
        passages: store.len()?,
        seconds: secs,
    })
}
