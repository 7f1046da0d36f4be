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
    /// Read, split and count, and store nothing: what the run would add, update and remove,
    /// the tokens to embed and an estimate of the time (the model is timed on a sample of 64
    /// passages, which are thrown away).
    #[arg(long)]
    pub dry_run: bool,
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
    /// Read only the files under the folders that match one of these globs (gitignore syntax,
    /// relative to the folder given: `*.md`, `guide/**/*.html`; repeatable). Stored documents
    /// of files not picked are kept.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Leave out files and folders matching these globs (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Read hidden files and folders (names starting with `.`) too.
    #[arg(long)]
    pub hidden: bool,
    /// Read what `.gitignore`, `.ignore` and `.rgignore` files leave out too (they are honoured
    /// as ripgrep honours them: `.gitignore` inside a git repository).
    #[arg(long)]
    pub no_ignore: bool,
    /// With `-` as the path: the name the text read from standard input is stored under (its
    /// document key is made from it). Sending the same name again replaces that document.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// With `-` as the path: how standard input is split (markdown, text, jsonl, html, rst,
    /// man). Default: jsonl when its first line is a JSON object, else text.
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    pub format: Option<semclust::corpus::Format>,
}

fn parse_format(s: &str) -> Result<semclust::corpus::Format, String> {
    semclust::corpus::Format::from_name(s).ok_or_else(|| {
        format!(
            "'{s}' is not a format semclust reads; use one of {}",
            semclust::corpus::Format::api_names().join(", ")
        )
    })
}

impl IndexOptions {
    /// Read what `paths` name: files and folders, or standard input for `-` (see
    /// [`IndexOptions::name`]).
    fn read(
        &self,
        paths: &[PathBuf],
        location: &semclust::store::StoreLocation,
        warn: &mut dyn FnMut(String),
    ) -> Result<FileBatch> {
        let limits = self.limits.limits()?;
        let stdin = paths.iter().any(|p| p.as_os_str() == "-");
        if !stdin {
            if self.name.is_some() || self.format.is_some() {
                anyhow::bail!("--name and --format are for text read from standard input: give `-` as the path");
            }
            let selection = semclust::corpus::Selection {
                include: self.include.clone(),
                exclude: self.exclude.clone(),
                hidden: self.hidden,
                no_ignore: self.no_ignore,
            };
            return Ok(FileBatch::read_selected(
                paths,
                &limits,
                &selection,
                location,
                self.strict,
                warn,
            )?);
        }
        if paths.len() > 1 {
            anyhow::bail!("`-` (standard input) is indexed alone: index the files in another run");
        }
        let Some(name) = &self.name else {
            anyhow::bail!(
                "`-` reads a document from standard input: give its name with --name NAME"
            );
        };
        if std::io::stdin().is_terminal() {
            notify("reading the document from standard input until end of file (Ctrl-D)");
        }
        Ok(FileBatch::from_reader(
            &mut std::io::stdin().lock(),
            name,
            self.format,
            &limits,
        )?)
    }
}

/// Bounds on what one file and one passage may hold (see docs/limits.md).
#[derive(Debug, Clone, Args)]
pub struct ReadLimitArgs {
    /// Largest file read, in bytes (gzip: what it inflates to); a larger file is skipped and
    /// named (with --strict it stops the run).
    #[arg(long, default_value_t = ReadLimits::default().max_file_bytes, value_name = "BYTES")]
    pub max_file_bytes: u64,
    /// Largest passage (paragraph) text, in bytes; a file holding a larger one is skipped,
    /// naming the line (with --strict it stops the run).
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
    let run = if args.dry_run {
        dry_run(&args.paths, &args.index, &args.options, args.quiet)?
    } else {
        sync(&args.paths, &args.index, &args.options, args.quiet)?
    };
    if args.json {
        println!("{}", run.json()?);
    } else {
        println!("{run}");
    }
    run.exit_if_interrupted();
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
    /// A dry run's estimate (nothing was stored).
    estimate: Option<indexing::Estimate>,
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
        if let Some(e) = &self.estimate {
            v["dry_run"] = true.into();
            v["estimate"] = serde_json::to_value(e)?;
        }
        Ok(v)
    }

    /// After an interrupted run (Ctrl-C, SIGTERM): say what was saved and that the same
    /// command resumes, and exit as a process stopped by that signal (130 for Ctrl-C).
    pub fn exit_if_interrupted(&self) {
        if !self.summary.interrupted {
            return;
        }
        let s = &self.summary;
        notify(&format!(
            "interrupted: {} passages embedded and saved, {} left to embed; run the same command again to resume (what was saved is not embedded again)",
            s.embedded, s.not_embedded
        ));
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let sig = semclust::util::interrupt::received().unwrap_or(libc::SIGINT);
        std::process::exit(semclust::util::interrupt::exit_status(sig));
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
        if let Some(e) = &self.estimate {
            write!(
                f,
                "{} (dry run: nothing embedded or stored): {} files, {} passages: {} to add, {} to update, {} to remove, {} unchanged",
                self.location,
                s.files,
                self.passages,
                s.added,
                s.updated,
                s.removed,
                s.kept,
            )?;
            if e.passages == 0 {
                write!(
                    f,
                    "\nto embed: nothing (every passage's text has a stored vector)"
                )?;
            } else {
                write!(
                    f,
                    "\nto embed: {} passages, {} tokens: about {} on this machine ({:.0} tokens/s, timed on {} of them)",
                    e.passages,
                    e.tokens,
                    duration(e.seconds),
                    e.tokens_per_second,
                    e.sample,
                )?;
            }
        } else if s.interrupted {
            write!(
                f,
                "{}: interrupted: {} of {} passages to embed were embedded and saved in {:.1} s; {} passages stored",
                self.location,
                s.embedded,
                s.embedded + s.not_embedded,
                self.seconds,
                self.passages,
            )?;
        } else {
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
        }
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

/// `5 h 10 min`, `3 min`, `40 s`: a time estimate, as precise as it is.
fn duration(secs: f64) -> String {
    let s = secs.round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", (s + 30) / 60),
        _ => {
            let m = (s + 30) / 60;
            format!("{} h {} min", m / 60, m % 60)
        }
    }
}

/// Read what `paths` name (warnings printed even with `quiet`: they say what was not indexed),
/// then load the model: bad or empty input fails before the model loads.
fn read_then_load(
    paths: &[PathBuf],
    location: &semclust::store::StoreLocation,
    args: &IndexOptions,
    quiet: bool,
) -> Result<(FileBatch, Embedder)> {
    let mut warn = |m: String| notify(&format!("warning: {m}"));
    let batch = args.read(paths, location, &mut warn)?;
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
    Ok((batch, embedder))
}

/// What indexing `paths` into `index` would do, storing nothing (see [`IndexArgs::dry_run`]).
pub fn dry_run(
    paths: &[PathBuf],
    index: &IndexDir,
    args: &IndexOptions,
    quiet: bool,
) -> Result<IndexRun> {
    let location = index.location()?;
    let started = std::time::Instant::now();
    let (batch, embedder) = read_then_load(paths, &location, args, quiet)?;
    let plan = match Collection::open_existing(&location)? {
        Some(c) => {
            c.check_model(embedder.info())?;
            c.plan_files(&batch)?
        }
        None => indexing::Plan::everything(batch.documents()),
    };
    if !quiet {
        notify("counting tokens and timing the model on a sample of passages");
    }
    let estimate = indexing::estimate(&plan, &embedder)?;
    let passages = batch.documents().iter().map(|d| d.passages.len()).sum();
    Ok(IndexRun {
        summary: plan.report,
        location: location.to_string(),
        passages,
        seconds: started.elapsed().as_secs_f64(),
        formats: batch.formats.clone(),
        skipped: batch.skipped.clone(),
        ignored: batch.ignored.clone(),
        estimate: Some(estimate),
    })
}

/// Index `paths` into `index`, printing nothing on stdout.
pub fn sync(
    paths: &[PathBuf],
    index: &IndexDir,
    args: &IndexOptions,
    quiet: bool,
) -> Result<IndexRun> {
    let location = index.location()?;
    let (batch, embedder) = read_then_load(paths, &location, args, quiet)?;
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
    // The bar counts tokens, not passages: a passage costs from a few tokens to 512, and the
    // rate (so the time left) of a run counted in passages swings with the lengths of the last
    // few (indicatif's rate is a moving average over the last seconds).
    bar.set_style(
        ProgressStyle::with_template(
            "semclust: embedding {bar:30} {msg}, {percent}% of the tokens, eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let plan = collection.plan_files(&batch)?;
    // From here a signal stops the run at the next chunk, its work saved.
    semclust::util::interrupt::catch()?;
    let started = std::time::Instant::now();
    let mut total_passages = 0;
    let summary = collection.apply_plan(
        &embedder,
        plan,
        &mut |p| match p {
            Progress::Embedding { total, tokens } => {
                total_passages = total;
                bar.set_length(tokens as u64);
                bar.set_message(format!("0/{total} passages"));
            }
            Progress::Embedded { done, tokens } => {
                bar.set_position(tokens as u64);
                bar.set_message(format!("{done}/{total_passages} passages"));
            }
        },
        &semclust::util::interrupt::requested,
    )?;
    bar.finish_and_clear();
    // The whole run: reading the stored state, embedding, committing, the lexical index and
    // a large index's HNSW graph.
    let secs = started.elapsed().as_secs_f64();
    Ok(IndexRun {
        summary,
        location: location.to_string(),
        passages: collection.len()?,
        seconds: secs,
        formats: batch.formats.clone(),
        skipped: batch.skipped.clone(),
        ignored: batch.ignored.clone(),
        estimate: None,
    })
}
