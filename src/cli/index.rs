//! `semclust index PATH...`: read, split, embed and store, incrementally.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use semclust::collection::{Collection, FileBatch};
use semclust::corpus::ReadLimits;
use semclust::indexing::{self, Progress};
use semclust::store::HnswOptions;
use semclust::Embedder;

use super::{notify, IndexDir, ModelArgs, RuntimeArgs};

#[derive(Debug, Args)]
pub struct IndexArgs {
    #[arg(required = true, value_name = "PATH", help = semclust::corpus::FILES_HELP)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub index: IndexDir,
    #[command(flatten)]
    pub options: IndexOptions,
    /// No progress messages or bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// How files are indexed: by `index`, and by `report PATH…` before it clusters.
#[derive(Debug, Clone, Args)]
pub struct IndexOptions {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
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
    /// Stop at the first file that cannot be read (binary, unknown charset, unreadable, over a
    /// limit, bad content) instead of skipping it and naming it in the summary.
    #[arg(long)]
    pub strict: bool,
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
            anyhow::bail!("--max-file-bytes and --max-passage-bytes must be at least 1");
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
    let run = sync(&args.paths, &args.index, &args.options, args.quiet)?;
    if args.json {
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
    formats: std::collections::BTreeMap<&'static str, usize>,
    skipped: Vec<indexing::SkippedFile>,
    ignored: std::collections::BTreeMap<String, usize>,
}

/// `3 markdown, 2 html` from counts by name.
fn counts<K: std::fmt::Display>(m: impl IntoIterator<Item = (K, usize)>) -> String {
    m.into_iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl IndexRun {
    /// The `index --json` object.
    pub fn json(&self) -> Result<serde_json::Value> {
        let mut v = serde_json::to_value(&self.summary)?;
        v["passages"] = self.passages.into();
        v["index"] = self.location.clone().into();
        v["seconds"] = self.seconds.into();
        v["files_read"] = serde_json::to_value(&self.formats)?;
        v["skipped"] = serde_json::to_value(&self.skipped)?;
        v["skipped_by_problem"] = serde_json::to_value(self.skipped_by_problem())?;
        v["not_read_by_extension"] = serde_json::to_value(&self.ignored)?;
        Ok(v)
    }

    fn skipped_by_problem(&self) -> std::collections::BTreeMap<&'static str, usize> {
        let mut m = std::collections::BTreeMap::new();
        for s in &self.skipped {
            *m.entry(s.problem.as_str()).or_insert(0) += 1;
        }
        m
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
        )?;
        if !self.formats.is_empty() {
            write!(
                f,
                "\nread: {}",
                counts(self.formats.iter().map(|(k, n)| (k, *n)))
            )?;
        }
        if !self.skipped.is_empty() {
            write!(
                f,
                "\nskipped {} file{} that could not be read ({}; each named above)",
                self.skipped.len(),
                if self.skipped.len() == 1 { "" } else { "s" },
                counts(self.skipped_by_problem())
            )?;
        }
        if !self.ignored.is_empty() {
            write!(
                f,
                "\nnot read (formats semclust does not read): {}",
                counts(self.ignored.iter().map(|(k, n)| (k, *n)))
            )?;
        }
        if s.context_added > 0 {
            write!(
                f,
                "\n{} passages were embedded again with their title and headings in front: the \
                 index was made by an earlier semclust that embedded the text alone",
                s.context_added
            )?;
        }
        Ok(())
    }
}

/// Index `paths` into `index`, printing nothing on stdout.
pub fn sync(
    paths: &[PathBuf],
    index: &IndexDir,
    args: &IndexOptions,
    quiet: bool,
) -> Result<IndexRun> {
    let location = index.location()?;
    // Warnings are printed even with --quiet: they say what was not indexed.
    let mut warn = |m: String| notify(&format!("warning: {m}"));
    // Read before the model loads: bad or empty input fails at once.
    let batch = FileBatch::read_with(
        paths,
        &args.limits.limits()?,
        &location,
        args.strict,
        &mut warn,
    )?;
    let report = |m: &str| {
        if !quiet {
            notify(m)
        }
    };
    let embedder = Embedder::load_with(
        &args.model.spec(),
        args.runtime.device,
        args.runtime.precision,
        &report,
    )?;
    report(&embedder.info().to_string());
    let hnsw = HnswOptions {
        m: args.hnsw_m,
        ef_construction: args.hnsw_ef_construction,
        ef_search: None,
    };
    let mut collection = Collection::create_or_open(&location, embedder.info(), &hnsw)?;

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
    let summary = collection.sync_files(&embedder, &batch, &mut |p| match p {
        Progress::Embedding { total } => bar.set_length(total as u64),
        Progress::Embedded { done } => bar.set_position(done as u64),
    })?;
    bar.finish_and_clear();
    // The whole run: reading the stored state, embedding, committing, the lexical index.
    let secs = started.elapsed().as_secs_f64();
    Ok(IndexRun {
        summary,
        location: location.to_string(),
        passages: collection.len()?,
        seconds: secs,
        formats: batch.formats.clone(),
        skipped: batch.skipped.clone(),
        ignored: batch.ignored.clone(),
    })
}
