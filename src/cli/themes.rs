//! `semclust themes` (themes on the terminal or as JSON) and `semclust report` (the theme report
//! as HTML, Markdown and JSON files; with PATHs, the files are indexed first).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use semclust::cluster::{
    ArticleRow, KChoice, KScore, MapLayout, Period, ThemeOptions, Themes, DEFAULT_SEED,
};
use semclust::collection::Collection;
use semclust::embed::Encode;
use semclust::report::{self, Format, Report};
use semclust::DeviceChoice;

use super::index::{self, IndexOptions};
use super::{index_model, notify, try_language_subspace, ReadArgs, SourceArgs};

/// Rows of the article × theme table a terminal shows.
const TABLE_ROWS: usize = 40;

/// Clustering options shared by `themes` and `report`.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// The language of the labels in a collection of several (ISO 639-1: de, es, ...): each
    /// label is made of the key terms of the theme's passages in that language. Default: the
    /// language most passages are written in.
    #[arg(long, value_name = "LANG")]
    pub label_lang: Option<String>,
    /// Cluster the model's own vectors, in which a passage's language weighs as much as what
    /// it says, instead of the language-neutral view (for comparison).
    #[arg(long)]
    pub no_neutral: bool,
    /// Cluster the vectors as stored, each passage with its article's title and headings:
    /// themes then follow the articles. Default: each passage less what sets its article apart
    /// from the 10 articles most like it (its mean less theirs), so that themes gather what is
    /// said across articles.
    #[arg(long)]
    pub with_titles: bool,
    /// Number of themes; MIN..MAX: try each and choose; auto: the same over 2 to about √n (at
    /// most 30). The choice is the best silhouette when it shows structure (≥ 0.25), else the
    /// elbow of the inertia curve (docs/cli.md).
    #[arg(short, long, default_value = "auto", value_name = "N|MIN..MAX|auto")]
    pub k: KChoice,
    /// Seed of the k-means++ draws: the same seed on the same index gives the same themes.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// k-means restarts; the one with the lowest inertia is kept.
    #[arg(long, default_value_t = 10)]
    pub restarts: usize,
    /// Layout of the map (the report's, and the points of --json; plain text prints none and
    /// computes no t-SNE): t-SNE started from PCA (keeps neighbours), or PCA alone (faster).
    #[arg(long, value_parser = super::choice::<MapLayout>(), default_value_t = MapLayout::Tsne)]
    pub map: MapLayout,
    /// Periods of the themes-over-time chart and table, for documents with a `date`: months up
    /// to three years of dates, quarters up to ten, years beyond (auto), or the one named.
    #[arg(long, value_parser = super::choice::<Period>(), default_value_t = Period::Auto)]
    pub period: Period,
    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Debug, Args)]
pub struct ThemesArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// auto, cpu, cuda[:N] or metal[:N] (for the model that ranks label terms).
    #[arg(long, env = "SEMCLUST_DEVICE", default_value = "auto")]
    pub device: DeviceChoice,
    #[command(flatten)]
    pub source: SourceArgs,
    /// The themes and every passage with its theme as one JSON document (fields in docs/cli.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Files or folders to index first (incrementally), as `semclust index` does; without them
    /// the report covers the index as it is.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Folder the report is written to (created if absent).
    #[arg(long, default_value = "semclust-report", value_name = "DIR")]
    pub out: PathBuf,
    /// Formats to write, comma-separated: html, md, json.
    #[arg(
        long,
        visible_alias = "format",
        default_value = "html,md,json",
        value_delimiter = ','
    )]
    pub formats: Vec<String>,
    /// Print what was written as one JSON object (`written`: the files, `themes`, `passages`, and
    /// `indexed`: the `index --json` object of the PATHs indexed first, or null).
    #[arg(long)]
    pub json: bool,
    /// How PATHs are indexed (as `semclust index` does).
    #[command(flatten)]
    pub indexing: IndexOptions,
}

/// The themes of the index. `draws_map`: whether the caller shows the map (the report, JSON);
/// the text of `themes` does not, and there the map is the PCA projection the run makes
/// anyway, not a t-SNE layout nobody sees (23 s of 25 on 3,000 passages).
fn compute(
    args: &ClusterArgs,
    source: &SourceArgs,
    device: DeviceChoice,
    draws_map: bool,
) -> Result<Themes> {
    if args.restarts == 0 {
        bail!("--restarts must be at least 1");
    }
    if let Some(l) = &args.label_lang {
        if l.is_empty() || l.len() > 8 || !l.chars().all(|c| c.is_ascii_alphabetic()) {
            bail!("--label-lang takes a language code such as de or es, not '{l}'");
        }
    }
    let mut collection = Collection::open(&args.read.index.location()?)?;
    // The model ranks the candidate label terms; a theme run still works without it.
    let model = if collection.is_empty()? {
        None
    } else {
        match index_model(&collection, source, device, args.read.quiet) {
            Ok(m) => Some(m),
            Err(e) => {
                notify(&format!(
                    "labels are the first key terms: the index's model did not load ({e:#})"
                ));
                None
            }
        }
    };
    if !args.no_neutral && model.is_some() {
        try_language_subspace(
            &mut collection,
            source,
            device,
            args.read.quiet,
            model.as_ref(),
        );
    }
    let n = collection.len()?;
    let opts = ThemeOptions {
        neutral: !args.no_neutral,
        with_titles: args.with_titles,
        label_lang: args.label_lang.clone(),
        k: args.k,
        seed: args.seed,
        n_runs: args.restarts,
        map: if draws_map { args.map } else { MapLayout::Pca },
        period: args.period,
        ..ThemeOptions::default()
    };
    if !args.read.quiet && n > 0 {
        match args.k {
            KChoice::Auto | KChoice::Range(..) => notify(&format!(
                "clustering {n} passages, choosing k by silhouette or the elbow of inertia ({} \
                 restarts per k)",
                args.restarts
            )),
            KChoice::Fixed(k) => notify(&format!(
                "clustering {n} passages into {k} themes ({} restarts)",
                args.restarts
            )),
        }
    }
    let quiet = args.read.quiet;
    let labeller = model.as_ref().map(|m| m as &dyn Encode);
    let filter = args.read.filter.filter()?;
    let themes = collection.themes(&opts, &filter, labeller, |s: &KScore| {
        if !quiet {
            notify(&format!(
                "k = {:>2}: silhouette {:.4}, inertia {:.2}",
                s.k, s.silhouette, s.inertia
            ))
        }
    })?;
    Ok(themes)
}

pub fn run_themes(args: ThemesArgs) -> Result<()> {
    let themes = compute(&args.cluster, &args.source, args.device, args.json)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &themes)?;
        writeln!(out)?;
        return Ok(());
    }
    print_themes(&mut out, &themes)?;
    Ok(())
}

fn print_themes(out: &mut impl Write, t: &Themes) -> std::io::Result<()> {
    let f = &t.facts;
    let shared = report::shared_titles(t);
    let name = |row: &ArticleRow| {
        report::snippet(
            report::article_name(&shared, &row.article, &row.document),
            48,
        )
    };
    writeln!(
        out,
        "{} themes over {} passages from {} articles (k {}; silhouette {:.3}; seed {})",
        f.k, f.passages, f.articles, f.k_choice, f.silhouette, f.seed
    )?;
    if let Some(scores) = &t.k_scores {
        let tried = joined(scores, ", ", |s| format!("k={} {:.3}", s.k, s.silhouette));
        writeln!(out, "silhouette by k: {tried}")?;
    }
    for th in &t.themes {
        writeln!(
            out,
            "\nTheme {}: {}  ({} passages, {} of {} articles)",
            th.id, th.label, th.size, th.spread, f.articles
        )?;
        let terms = joined(&th.terms, ", ", |x| x.shown());
        writeln!(out, "  key terms: {terms}")?;
        let arts = report::articles_line(&shared, th, |name| report::snippet(name, 50));
        writeln!(out, "  articles:  {arts}")?;
        if let Some(langs) = report::languages_line(t, th) {
            writeln!(out, "  languages: {langs}")?;
        }
        for r in &th.representatives {
            writeln!(
                out,
                "  {:.3}  {}  {}",
                r.similarity,
                r.id,
                report::snippet(&r.text.replace('\n', " "), 110)
            )?;
        }
    }
    // A terminal shows the articles with the most passages, in reading order; the report and
    // --json hold every row.
    let mut rows: Vec<&ArticleRow> = t.table.iter().collect();
    if rows.len() > TABLE_ROWS {
        let mut by_size: Vec<usize> = (0..rows.len()).collect();
        by_size.sort_by_key(|&i| (std::cmp::Reverse(rows[i].total), i));
        by_size.truncate(TABLE_ROWS);
        by_size.sort_unstable();
        rows = by_size.into_iter().map(|i| &t.table[i]).collect();
        writeln!(
            out,
            "\nArticles × themes (passages): the {TABLE_ROWS} articles with the most passages of {} (every one in --json and the report)",
            t.table.len()
        )?;
    } else {
        writeln!(out, "\nArticles × themes (passages)")?;
    }
    let width = rows
        .iter()
        .map(|r| name(r).chars().count())
        .max()
        .unwrap_or(10)
        .max(10);
    write!(out, "{:width$}", "")?;
    for th in &t.themes {
        write!(out, " {:>4}", th.id)?;
    }
    writeln!(out, " {:>6}", "total")?;
    for row in rows {
        let name = name(row);
        write!(out, "{name}{}", " ".repeat(width - name.chars().count()))?;
        for &c in &row.counts {
            if c == 0 {
                write!(out, " {:>4}", "·")?;
            } else {
                write!(out, " {c:>4}")?;
            }
        }
        writeln!(out, " {:>6}", row.total)?;
    }
    Ok(())
}

pub fn run_report(args: ReportArgs) -> Result<()> {
    let formats: Vec<Format> = args
        .formats
        .iter()
        .map(|s| s.parse())
        .collect::<Result<_, _>>()?;
    if formats.is_empty() {
        bail!("--formats: name at least one of html, md, json");
    }
    let indexed = if args.paths.is_empty() {
        None
    } else {
        Some(index::sync(
            &args.paths,
            &args.cluster.read.index,
            &args.indexing,
            args.cluster.read.quiet,
        )?)
    };
    // With --json stdout holds one object, the indexing run inside it; else its usual line.
    if let (Some(run), false) = (&indexed, args.json) {
        println!("{run}");
    }
    if let Some(run) = &indexed {
        // Stopped by Ctrl-C while indexing: no report from half an index.
        run.exit_if_interrupted();
    }
    let themes = compute(
        &args.cluster,
        &args.indexing.model.source,
        args.indexing.runtime.device,
        true,
    )?;
    let rep = Report::new(&themes, &args.cluster.read.index.location()?.to_string());
    let written = report::write(&rep, &args.out, &formats)
        .with_context(|| format!("report folder {}", args.out.display()))?;
    if args.json {
        // One object, as every single-result command prints with --json.
        let indexed = indexed.as_ref().map(index::IndexRun::json).transpose()?;
        println!(
            "{}",
            serde_json::json!({
                "written": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                "themes": themes.facts.k,
                "passages": themes.facts.passages,
                "indexed": indexed,
            })
        );
        return Ok(());
    }
    let mut names = written.iter().map(|p| p.display().to_string());
    let main = names.next().unwrap_or_default();
    let rest: Vec<String> = names.collect();
    println!(
        "report: {main}{} — {} themes over {} passages",
        if rest.is_empty() {
            String::new()
        } else {
            format!(" (also {})", rest.join(", "))
        },
        themes.facts.k,
        themes.facts.passages
    );
    Ok(())
}

/// `items` written by `f` and joined by `sep`.
fn joined<T>(items: &[T], sep: &str, f: impl Fn(&T) -> String) -> String {
    items.iter().map(f).collect::<Vec<_>>().join(sep)
}
