//! `semclust search "QUERY"` and `semclust related ID | --text "..."`.

use std::io::Write;

use anyhow::{bail, Result};
use clap::Args;

use semclust::collection::{Collection, SearchRequest, SearchResults, Target};
use semclust::search::{Hit, HitRecord, Mode};
use semclust::store::SearchMethod;
use semclust::DeviceChoice;

use super::{index_model, notify, try_language_subspace, ReadArgs, SourceArgs};

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
    #[arg(long, value_parser = super::choice::<SearchMethod>(), default_value_t = SearchMethod::Auto)]
    pub method: SearchMethod,
    /// Candidate list size of the HNSW search (default 128; higher: better recall, slower).
    #[arg(long, value_name = "EF")]
    pub ef_search: Option<usize>,
    /// Rank boilerplate (a text found in 5 documents or more: copyright lines, licence
    /// notices) like any passage; by default it comes after every other result. Copies of one
    /// text are shown once either way, with the number of documents holding it.
    #[arg(long)]
    pub boilerplate: bool,
    /// Compare the model's own vectors, in which a passage's language weighs as much as what
    /// it says, instead of the language-neutral view (for comparison; see docs/cli.md).
    #[arg(long)]
    pub no_neutral: bool,
    /// auto, cpu, cuda[:N] or metal[:N] (for embedding the query).
    #[arg(long, env = "SEMCLUST_DEVICE", default_value = "auto")]
    pub device: DeviceChoice,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The question or words to look for, in any language the model knows; `-` reads it from
    /// standard input.
    pub query: String,
    /// hybrid (the default: the dense ranking reordered where the words agree), dense
    /// (embeddings only) or lexical (BM25 only).
    #[arg(long, value_parser = super::choice::<Mode>(), default_value_t = Mode::Hybrid)]
    pub mode: Mode,
    #[command(flatten)]
    pub out: ResultArgs,
}

#[derive(Debug, Args)]
pub struct RelatedArgs {
    /// A stored passage id (from `search`), e.g. lemonde-ia-2025/3/12.
    #[arg(required_unless_present = "text", conflicts_with = "text")]
    pub id: Option<String>,
    /// Find passages related to this text instead of a stored passage; `-` reads it from
    /// standard input.
    #[arg(long)]
    pub text: Option<String>,
    /// Only passages from other articles than the one the passage comes from.
    #[arg(long)]
    pub other_articles: bool,
    /// Only passages in other languages than the passage's own (detected on its text, else
    /// its article's `lang`): what the collection says about it in other languages.
    #[arg(long, requires = "id")]
    pub other_languages: bool,
    /// With --other-articles: rank by the passage's vector as stored, its article's title and
    /// headings included, instead of the passage less half its article's mean vector (other
    /// articles then come by how alike their titles are as much as by what they say).
    #[arg(long, requires = "other_articles")]
    pub with_titles: bool,
    #[command(flatten)]
    pub out: ResultArgs,
}

/// Check the request, open the index, embed what needs embedding with the index's model, search.
fn run(request: SearchRequest, args: &ResultArgs) -> Result<SearchResults> {
    request.validate()?;
    let mut collection = Collection::open_for_search(&args.read.index.location()?)?;
    if let Some(ef) = args.ef_search {
        collection.set_ef_search(ef)?;
    }
    let model = match request.to_embed() {
        Some(_) => Some(index_model(
            &collection,
            &args.source,
            args.device,
            args.read.quiet,
        )?),
        None => None,
    };
    let vector = match (request.to_embed(), &model) {
        (Some((text, kind)), Some(e)) => Some(e.embed(&[text], kind)?.into_vec()),
        _ => None,
    };
    if request.neutral && request.mode != Mode::Lexical {
        try_language_subspace(
            &mut collection,
            &args.source,
            args.device,
            args.read.quiet,
            model.as_ref(),
        );
    }
    Ok(collection.search(&request, vector)?)
}

pub fn run_search(args: SearchArgs) -> Result<()> {
    let request = SearchRequest {
        target: Target::Query(super::text_or_stdin(args.query, "the query")?),
        k: args.out.k,
        mode: args.mode,
        method: args.out.method,
        other_articles: false,
        other_languages: false,
        filter: args.out.read.filter.filter()?,
        boilerplate: args.out.boilerplate,
        neutral: !args.out.no_neutral,
        with_titles: false,
    };
    let found = run(request, &args.out)?;
    print_hits(&found.hits, args.out.json)
}

pub fn run_related(args: RelatedArgs) -> Result<()> {
    let target = match (args.id, args.text) {
        (Some(id), _) => Target::Passage(id),
        (None, Some(text)) => Target::Text(super::text_or_stdin(text, "--text")?),
        (None, None) => bail!("give a passage ID or --text"),
    };
    let request = SearchRequest {
        target,
        k: args.out.k,
        mode: Mode::Dense,
        method: args.out.method,
        other_articles: args.other_articles,
        other_languages: args.other_languages,
        filter: args.out.read.filter.filter()?,
        boilerplate: args.out.boilerplate,
        neutral: !args.out.no_neutral,
        with_titles: args.with_titles,
    };
    let found = run(request, &args.out)?;
    if let (Some(p), false, false) = (&found.source, args.out.read.quiet, args.out.json) {
        notify(&format!("passages related to {} ({})", p.id, p.title));
    }
    print_hits(&found.hits, args.out.json)
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
        // The number a reader can judge: the cosine similarity of the passage to the query
        // (also in hybrid mode, whose fused rank score means nothing on its own; `--json` has
        // both), or BM25 for a passage only the words found.
        let score = match (h.dense_score, h.lexical_score) {
            (Some(d), _) => format!("{d:.3}"),
            (None, Some(l)) => format!("{l:.2} BM25"),
            _ => format!("{:.3}", h.score),
        };
        writeln!(out, "{:>2}. {score}  {}  — {}", h.rank, p.id, p.title)?;
        writeln!(out, "    {}", snippet(&p.text, 220))?;
        if let Some(n) = h.appears_in {
            writeln!(out, "    (appears in {n} documents)")?;
        }
    }
    Ok(())
}
