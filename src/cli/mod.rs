//! Command-line definitions (clap), one file per subcommand. The binary parses, calls the
//! library, prints; nothing here computes anything the library could.

pub mod bench;
pub mod config;
pub mod docs;
pub mod embed;
pub mod errors;
pub mod eval;
pub mod index;
pub mod models;
pub mod search;
pub mod serve;
pub mod shell;
pub mod themes;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use semclust::model::DEFAULT_MODEL;
use semclust::util::choice::Choice;
use semclust::ModelSpec;

#[derive(Debug, Parser)]
#[command(
    name = "semclust",
    version,
    about = "Semantic similarity and theme clustering over local multilingual embeddings"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Embed texts, one per line, into L2-normalised vectors.
    Embed(embed::EmbedArgs),
    /// List, fetch and prepare models.
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Read, split, embed and store documents (incremental: only what changed is embedded).
    Index(index::IndexArgs),
    /// What an index holds: list, show and remove documents, and its figures.
    #[command(subcommand)]
    Docs(docs::DocsCommand),
    /// Passages that answer a question, in any language.
    Search(search::SearchArgs),
    /// Passages related to a stored passage (or to a text).
    Related(search::RelatedArgs),
    /// Themes across articles: k-means over the passages, key terms, representative passages.
    Themes(themes::ThemesArgs),
    /// Write the theme report (HTML with a map, Markdown, JSON); with PATHs, index them first.
    Report(themes::ReportArgs),
    /// Serve embeddings (OpenAI-compatible), search, related passages, indexing and themes over HTTP.
    Serve(serve::ServeArgs),
    /// Measure inference speed, latency, memory and parity per device, precision and batch size.
    Bench(bench::BenchArgs),
    /// Measure retrieval (hit@1, hit@10, MRR) per search mode and language on a question set.
    Eval(eval::EvalArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(shell::CompletionsArgs),
    /// Print the manual page (roff) to stdout: `semclust man | man -l -`.
    Man,
}

/// The index folder; shared by every command that reads or writes one.
#[derive(Debug, Clone, Args)]
pub struct IndexDir {
    /// The index folder (created by `semclust index`).
    #[arg(
        long = "index",
        env = "SEMCLUST_INDEX",
        default_value = ".semclust",
        value_name = "DIR"
    )]
    pub dir: PathBuf,
    /// A PostgreSQL + pgvector store instead of the folder:
    /// postgres://USER@HOST:PORT/DATABASE[?schema=NAME&sslmode=require]. What the URL leaves out
    /// comes from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE and ~/.pgpass.
    #[arg(
        long = "store",
        env = "SEMCLUST_STORE",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub store: Option<String>,
}

impl IndexDir {
    pub fn location(&self) -> semclust::Result<semclust::store::StoreLocation> {
        semclust::store::StoreLocation::new(&self.dir, self.store.as_deref())
    }
}

/// Where a model's files come from; shared by every command that loads a model (search and
/// related load the one their index names).
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// A model folder, used instead of every other source: a sentence-transformers folder
    /// (modules.json; BERT or XLM-RoBERTa, pooling, prompts and length read from its files) or
    /// config.json, tokenizer.json and model.safetensors or model-q4_0.gguf of the --model named.
    #[arg(long, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
    /// semclust's model cache.
    #[arg(long, env = "SEMCLUST_CACHE", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Do not try the Hugging Face hub.
    #[arg(long)]
    pub no_hub: bool,
}

impl SourceArgs {
    /// The model `name`, from these sources.
    pub fn spec(&self, name: &str) -> ModelSpec {
        ModelSpec {
            name: name.to_string(),
            model_dir: self.model_dir.clone(),
            cache_dir: self.cache_dir.clone(),
            hub: !self.no_hub,
        }
    }
}

/// What `search`, `related`, `themes` and `report` read (an index, narrowed by metadata
/// filters), and whether they report progress.
#[derive(Debug, Clone, Args)]
pub struct ReadArgs {
    #[command(flatten)]
    pub index: IndexDir,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// No progress messages.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Metadata filters shared by `search`, `related`, `themes` and `report`.
#[derive(Debug, Clone, Args)]
pub struct FilterArgs {
    /// Only passages whose document has this metadata (front matter, JSONL field, web page
    /// meta): KEY=VALUE, repeatable (all must hold); a list field (tags) must hold VALUE.
    #[arg(long = "where", value_name = "KEY=VALUE")]
    pub wheres: Vec<String>,
    /// Only documents dated on or after DATE (their `date`: YYYY, YYYY-MM or YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only documents dated on or before DATE (a month or a year includes all of it).
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
}

impl FilterArgs {
    pub fn filter(&self) -> semclust::Result<semclust::store::Filter> {
        semclust::store::Filter::new(&self.wheres, self.since.as_deref(), self.until.as_deref())
    }
}

/// The model a command loads, and where from.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Model id from `semclust models list`, or ORG/NAME of a sentence-transformers model on
    /// the Hugging Face hub (BERT or XLM-RoBERTa; configured from its own files).
    #[arg(long, env = "SEMCLUST_MODEL", default_value = DEFAULT_MODEL)]
    pub model: String,
    #[command(flatten)]
    pub source: SourceArgs,
}

impl ModelArgs {
    pub fn spec(&self) -> ModelSpec {
        self.source.spec(&self.model)
    }
}

/// How the model runs; shared by every command that loads one for embedding.
#[derive(Debug, Clone, Args)]
pub struct RuntimeArgs {
    /// q4, f32 or f16 (default: q4 on CPU, f16 on GPU; `serve` over an index: the index's). An
    /// index keeps one precision.
    #[arg(long, env = "SEMCLUST_PRECISION")]
    pub precision: Option<semclust::Precision>,
    /// auto, cpu, cuda[:N] or metal[:N].
    #[arg(long, env = "SEMCLUST_DEVICE", default_value = "auto")]
    pub device: semclust::DeviceChoice,
}

/// The model `collection` was indexed with, at the index's precision.
pub fn index_model(
    collection: &semclust::collection::Collection,
    source: &SourceArgs,
    device: semclust::DeviceChoice,
    quiet: bool,
) -> anyhow::Result<semclust::Embedder> {
    let fp = collection.fingerprint();
    let report = |m: &str| {
        if !quiet {
            notify(m)
        }
    };
    let spec = source.spec(&fp.model);
    let e = semclust::Embedder::load_with(&spec, device, Some(fp.precision.parse()?), &report)?;
    collection.check_model(e.info())?;
    Ok(e)
}

/// [`give_language_subspace`], and when it fails (the fit is not cached and the model does not
/// load: an index searched by id on a machine without the model) a notice: the command goes on
/// with the model's own vectors, as it did before the view existed.
pub fn try_language_subspace(
    collection: &mut semclust::collection::Collection,
    source: &SourceArgs,
    device: semclust::DeviceChoice,
    quiet: bool,
    loaded: Option<&semclust::Embedder>,
) {
    if let Err(e) = give_language_subspace(collection, source, device, quiet, loaded) {
        notify(&format!(
            "comparing the model's own vectors: the language-neutral view could not be fitted ({e:#})"
        ));
    }
}

/// Give `collection` its model's language-neutral fit: from semclust's cache, else fitted with
/// the model (`loaded`, or loaded here), which takes some seconds once per model and machine.
pub fn give_language_subspace(
    collection: &mut semclust::collection::Collection,
    source: &SourceArgs,
    device: semclust::DeviceChoice,
    quiet: bool,
    loaded: Option<&semclust::Embedder>,
) -> anyhow::Result<()> {
    let model = collection.fingerprint().model.clone();
    let cache = source.spec(&model).cache_root();
    if collection.language_neutral_from_cache(&cache)? {
        return Ok(());
    }
    let own;
    let e = match loaded {
        Some(e) => e,
        None => {
            own = index_model(collection, source, device, quiet)?;
            &own
        }
    };
    if !quiet {
        notify(&format!(
            "fitting the language-neutral view of {model} on parallel text (once per model)"
        ));
    }
    collection.make_language_neutral(e, &cache)?;
    Ok(())
}

/// A clap value parser for one of the library's [`Choice`] enums: its names offered in help and
/// completions, each with its line of help. (The library does
/// not depend on clap, so its enums cannot derive clap's traits.)
pub fn choice<T: Choice + Send + Sync>() -> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    let values = T::CHOICES
        .iter()
        .map(|(_, name, help)| PossibleValue::new(*name).help(*help));
    PossibleValuesParser::new(values)
        .map(|name| T::from_name(&name).expect("clap offered only the choice's names"))
}

/// `text` itself, or standard input read to its end when `text` is `-` (the convention for "read
/// this from a pipe"); `what` names the argument in the error. At most 1 MiB is read: a query
/// or a text to relate is a passage, not a corpus.
pub fn text_or_stdin(text: String, what: &str) -> anyhow::Result<String> {
    use std::io::Read;
    if text != "-" {
        return Ok(text);
    }
    const MAX: u64 = 1 << 20;
    let mut buf = Vec::new();
    std::io::stdin()
        .take(MAX + 1)
        .read_to_end(&mut buf)
        .map_err(|e| anyhow::anyhow!("{what}: reading standard input: {e}"))?;
    if buf.len() as u64 > MAX {
        anyhow::bail!("{what}: standard input holds more than 1 MiB; give a passage, not a corpus (index a corpus with `semclust index`)");
    }
    let text = String::from_utf8(buf)
        .map_err(|_| anyhow::anyhow!("{what}: standard input is not UTF-8 text"))?;
    Ok(text.trim().to_string())
}

/// Progress lines go to stderr so that stdout stays data.
pub fn notify(msg: &str) {
    eprintln!("semclust: {}", semclust::util::text::redact_secrets(msg));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("semclust").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn embed_flags_parse() {
        let cli = parse(&[
            "embed",
            "in.txt",
            "--query",
            "--model",
            "all-minilm-l6-v2",
            "--precision",
            "f32",
            "--device",
            "cpu",
            "--format",
            "npy",
            "--out",
            "o.npy",
            "--batch-size",
            "8",
            "--truncate",
            "--skip-empty",
            "--model-dir",
            "/m",
            "--no-hub",
        ]);
        let Command::Embed(a) = cli.command else {
            panic!("not embed")
        };
        assert_eq!(a.input.as_deref(), Some("in.txt"));
        assert!(a.query && a.truncate && a.skip_empty && a.model.source.no_hub);
        assert_eq!(a.model.model, "all-minilm-l6-v2");
        assert_eq!(a.runtime.precision, Some(semclust::Precision::F32));
        assert_eq!(a.runtime.device, semclust::DeviceChoice::Cpu);
        assert_eq!(a.format, embed::Format::Npy);
        assert_eq!(a.out.as_deref(), Some(std::path::Path::new("o.npy")));
        assert_eq!(a.batch_size, 8);
        assert_eq!(
            a.model.source.model_dir.as_deref(),
            Some(std::path::Path::new("/m"))
        );
    }

    #[test]
    fn embed_defaults() {
        let Command::Embed(a) = parse(&["embed"]).command else {
            panic!()
        };
        assert_eq!(a.input, None);
        assert_eq!(a.model.model, DEFAULT_MODEL);
        assert_eq!(a.format, embed::Format::Jsonl);
        assert_eq!(a.runtime.device, semclust::DeviceChoice::Auto);
        assert!(!a.query);
    }

    #[test]
    fn models_subcommands_parse() {
        let Command::Models(models::ModelsCommand::Pull(p)) = parse(&[
            "models",
            "pull",
            "all-minilm-l6-v2",
            "--force",
            "--dequantize",
        ])
        .command
        else {
            panic!()
        };
        assert_eq!(p.name, "all-minilm-l6-v2");
        assert!(p.force && p.dequantize);
        assert!(matches!(
            parse(&["models", "list", "--json"]).command,
            Command::Models(models::ModelsCommand::List(models::ListArgs {
                json: true,
                ..
            }))
        ));
    }

    #[test]
    fn bad_flags_are_rejected() {
        for args in [
            &["embed", "--format", "csv"][..],
            &["embed", "--batch-size", "x"],
            &["frobnicate"],
        ] {
            assert!(
                Cli::try_parse_from(std::iter::once("semclust").chain(args.iter().copied()))
                    .is_err()
            );
        }
    }
}
