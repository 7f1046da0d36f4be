//! `semclust search "QUERY"` and `semclust related ID | --text "..."`.

use std::io::Write;

use anyhow::{bail, Result};
use clap::Args;

use semclust::search::{self, Hit, HitRecord, LexicalIndex, Mode, Query};
use semclust::store::{AnyStore, Exclude, SearchMethod, VectorStore};
use semclust::{DeviceChoice, Embedder, InputKind, ModelSpec};

use super::{notify, IndexDir, SourceArgs};

/// Options shared by `search` and `related`.
#[derive(Debug, Args)]
pub struct ResultArgs {
    /// Number of results.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// One JSON object per result and line (fields in docs/cli.md).
    #[arg(long)]
    pub json: bool,
    /// Exact scan, HNSW graph, or auto (exact up to 20,000 passages).
    #[arg(long, default_value = "auto", value_parser = ["auto", "exact", "ann"])]
    pub method: String,
    /// Candidate list size of the HNSW search (default 128; higher: better recall, slower).
    #[arg(long, value_name = "EF")]
    pub ef_search: Option<usize>,
    /// auto, cpu, cuda[:N] or metal[:N] (for embedding the query).
    #[arg(long, default_value = "auto")]
    pub device: String,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub index: IndexDir,
    /// No progress messages.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The question or words to look for, in any language the model knows.
    pub query: String,
    /// dense (embeddings), lexical (BM25) or hybrid (both, fused by reciprocal rank).
    #[arg(long, default_value = "dense", value_parser = ["dense", "lexical", "hybrid"])]
    pub mode: String,
    #[command(flatten)]
    pub out: ResultArgs,
}

#[derive(Debug, Args)]
pub struct RelatedArgs {
    /// A stored passage id (from `search`), e.g. lemonde-ia-2025/3/12.
    #[arg(required_unless_present = "text", conflicts_with = "text")]
    pub id: Option<String>,
    /// Find passages related to this text instead of a stored passage.
    #[arg(long)]
    pub text: Option<String>,
    /// Only passages from other articles than the one the passage comes from.
    #[arg(long)]
    pub other_articles: bool,
    #[command(flatten)]
    pub out: ResultArgs,
}

fn method(s: &str) -> SearchMethod {
    match s {
        "exact" => SearchMethod::Exact,
        "ann" => SearchMethod::Approximate,
        _ => SearchMethod::Auto,
    }
}

fn open(args: &ResultArgs) -> Result<AnyStore> {
    if args.k == 0 {
        bail!("-k must be at least 1");
    }
    let location = args.index.location()?;
    let mut store = location.open()?;
    if let Some(ef) = args.ef_search {
        if !(1..=1000).contains(&ef) {
            bail!("--ef-search {ef}: use 1 to 1000");
        }
        store.set_ef_search(ef);
    }
    if store.is_empty()? {
        bail!(
            "index {location} holds no passage; run `semclust index PATH {}`",
            location.flag()
        );
    }
    Ok(store)
}

fn embedder_for(store: &AnyStore, args: &ResultArgs) -> Result<Embedder> {
    let fp = store.fingerprint();
    let quiet = args.quiet;
    let report = |m: &str| {
        if !quiet {
            notify(m)
        }
    };
    let spec = ModelSpec {
        name: fp.model.clone(),
        model_dir: args.source.model_dir.clone(),
        cache_dir: args.source.cache_dir.clone(),
        hub: !args.source.no_hub,
    };
    let device: DeviceChoice = args.device.parse()?;
    let e = Embedder::load_with(&spec, device, Some(fp.precision.parse()?), &report)?;
    if e.info().revision != fp.revision || e.dimension() != fp.dimension {
        bail!(
            "the index was built with {fp}, the model found is revision {} ({}-d): point --model-dir at the model the index was built with, or index again",
            e.info().revision,
            e.dimension()
        );
    }
    Ok(e)
}

fn lexical(store: &AnyStore) -> Result<LexicalIndex> {
    Ok(search::lexical_index(store)?)
}

pub fn run_search(args: SearchArgs) -> Result<()> {
    let mode: Mode = args.mode.parse()?;
    if args.query.trim().is_empty() {
        bail!("the query is empty");
    }
    let store = open(&args.out)?;
    let vector = if mode == Mode::Lexical {
        None
    } else {
        let e = embedder_for(&store, &args.out)?;
        Some(
            e.embed(&[args.query.as_str()], InputKind::Query)?
                .into_vec(),
        )
    };
    let lex = if mode == Mode::Dense {
        None
    } else {
        Some(lexical(&store)?)
    };
    let hits = search::search(
        &store,
        lex.as_ref(),
        &Query {
            vector: vector.as_deref(),
            text: Some(&args.query),
            k: args.out.k,
            mode,
            exclude: Exclude::default(),
            method: method(&args.out.method),
        },
    )?;
    print_hits(&hits, args.out.json)
}

pub fn run_related(args: RelatedArgs) -> Result<()> {
    let store = open(&args.out)?;
    let (vector, exclude) = match (&args.id, &args.text) {
        (Some(id), _) => {
            let Some(p) = store.passage(id)? else {
                bail!(
                    "no passage '{id}' in {}; ids are printed by `semclust search`",
                    args.out.index.location()?
                );
            };
            let v = store.vector(id)?.unwrap_or_default();
            let exclude = Exclude {
                passage: Some(p.id.clone()),
                article: args
                    .other_articles
                    .then(|| (p.document.clone(), p.article_key.clone())),
            };
            if !args.out.quiet && !args.out.json {
                notify(&format!("passages related to {} ({})", p.id, p.title));
            }
            (v, exclude)
        }
        (None, Some(text)) => {
            if text.trim().is_empty() {
                bail!("--text is empty");
            }
            if args.other_articles {
                bail!("--other-articles needs a passage ID: a free text belongs to no article");
            }
            let e = embedder_for(&store, &args.out)?;
            (
                e.embed(&[text.as_str()], InputKind::Passage)?.into_vec(),
                Exclude::default(),
            )
        }
        (None, None) => bail!("give a passage ID or --text"),
    };
    let hits = search::search(
        &store,
        None,
        &Query {
            vector: Some(&vector),
            text: None,
            k: args.out.k,
            mode: Mode::Dense,
            exclude,
            method: method(&args.out.method),
        },
    )?;
    print_hits(&hits, args.out.json)
}

fn snippet(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > max / 2 => &cut[..i],
        _ => &cut,
    };
    format!("{cut} …")
}

fn print_hits(hits: &[Hit], json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        for h in hits {
            serde_json::to_writer(&mut out, &HitRecord::from(h))?;
            writeln!(out)?;
        }
        return Ok(());
    }
    if hits.is_empty() {
        writeln!(out, "no result")?;
    }
    for h in hits {
        let p = &h.passage;
        let score = match (h.dense_score, h.lexical_score) {
            (Some(d), _) if (d - h.score).abs() > f32::EPSILON => {
                format!("{:.3} (cosine {d:.3})", h.score)
            }
            (None, Some(l)) => format!("{l:.2} (BM25)"),
            _ => format!("{:.3}", h.score),
        };
        writeln!(out, "{:>2}. {score}  {}  — {}", h.rank, p.id, p.title)?;
        writeln!(out, "    {}", snippet(&p.text, 220))?;
    }
    Ok(())
}
