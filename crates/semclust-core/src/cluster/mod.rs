//! Themes across articles: k-means (or another [`Clusterer`]) over the passage vectors, key terms per theme (class-based
//! TF-IDF), the passages nearest each centroid, the articles each theme spans, an article ×
//! theme table, a 2-D map and, for dated documents, the themes over time. [`Themes`] is the
//! report's model: the CLI prints it, the report renders it as HTML, Markdown or JSON.

mod choose;
mod clusterer;
pub mod kmeans;
mod label;
pub mod layout;
pub mod project;
mod terms;
mod timeline;

use std::collections::{HashMap, HashSet};

use serde::Serialize;

pub use choose::{
    auto_ks, auto_range, best_k, choose_k, silhouette, InertiaFit, KRule, KScore, SampleDistances,
    AUTO_TRIES, CLEAR_STRUCTURE, SWEEP_RESTARTS,
};
pub use clusterer::{Chosen, Clusterer, Given, Grouping, KMeans};
pub use kmeans::{kmeans, Clustering, KMeansParams};
pub use terms::Term;
pub use timeline::{OverTime, Period};

use crate::boilerplate::Recurrence;
use crate::embed::Encode;
use crate::error::{Error, Result};
use crate::store::{Filter, StoredPassage, VectorStore};

/// Above this many passages `--k auto` compares the k on a sample of this size.
pub const K_SWEEP_SAMPLE: usize = 5_000;

/// The default seed: a run is reproducible unless the user asks for another draw.
pub const DEFAULT_SEED: u64 = 42;

/// `v` less [`RELATED_ARTICLE_SHARE`] of the mean of `article` (its article's passages'
/// vectors, `v`'s own among them), unit length again; unchanged when the article has one
/// passage: the passage `related --other-articles` starts from, with less of its article's
/// title in it. (A theme run takes what sets each article apart from its nearest articles, see
/// [`ThemeInput::reduce_articles`]; for one passage that would need every article's mean.)
pub fn reduce_by_article(v: &mut [f32], article: &[Vec<f32>]) {
    if article.len() < 2 || article.iter().any(|a| a.len() != v.len()) {
        return;
    }
    let mut mean = vec![0f64; v.len()];
    for a in article {
        mean.iter_mut()
            .zip(a)
            .for_each(|(m, &x)| *m += f64::from(x) / article.len() as f64);
    }
    subtract_unit(v, &mean, RELATED_ARTICLE_SHARE);
}

/// `row -= share · shift`, then unit length again (a row left near zero keeps its direction
/// unscaled): the last step of both article reductions.
fn subtract_unit(row: &mut [f32], shift: &[f64], share: f32) {
    row.iter_mut()
        .zip(shift)
        .for_each(|(x, &s)| *x -= (f64::from(share) * s) as f32);
    let norm = row
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    if norm > 1e-6 {
        row.iter_mut()
            .for_each(|x| *x = (f64::from(*x) / norm) as f32);
    }
}

/// Share of what sets its article apart taken from each passage before a theme run (see
/// [`ThemeInput::reduce_articles`]), and the number of nearest articles that say what is
/// shared. Chosen on three real collections of one language and a mixed one
/// (benches/context_reference.py, benches/theme_articles.py): the whole of it, against the 10
/// nearest, brings the themes' NMI against the articles within 0.1 of the text-alone vectors'
/// on the sample, Debian Reference and the Administrator's Handbook, and keeps 85 % of the
/// topics of a collection where each topic is in its own language (model's vectors), where
/// taking half of each article's whole mean kept 73 %.
pub const ARTICLE_SHARE: f32 = 1.0;
pub const ARTICLE_NEIGHBOURS: usize = 10;
/// Share of its article's mean taken from the passage `related --other-articles` starts from
/// (benches/RESULTS.md, "Related passages in other articles").
pub const RELATED_ARTICLE_SHARE: f32 = 0.5;
/// Articles among which [`ThemeInput::reduce_articles`] looks for neighbours (evenly spread).
const ARTICLE_POOL: usize = 2_000;

/// How k is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KChoice {
    Fixed(usize),
    /// Sweep [`auto_range`] and choose (see `choose.rs`).
    Auto,
    /// Sweep MIN..=MAX and choose the same way.
    Range(usize, usize),
}

impl std::str::FromStr for KChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(KChoice::Auto);
        }
        if let Some((a, b)) = s.split_once("..") {
            let bad = || {
                Error::invalid(
                    "k",
                    format!("'{s}': a range is MIN..MAX with 2 <= MIN < MAX, e.g. 5..20"),
                )
            };
            let a: usize = a.trim().parse().map_err(|_| bad())?;
            let b: usize = b
                .trim()
                .trim_start_matches('=')
                .parse()
                .map_err(|_| bad())?;
            if a < 2 || b <= a {
                return Err(bad());
            }
            return Ok(KChoice::Range(a, b));
        }
        match s.parse::<usize>() {
            Ok(0) => Err(Error::invalid("k", "must be at least 1, or auto")),
            Ok(k) => Ok(KChoice::Fixed(k)),
            Err(_) => Err(Error::invalid(
                "k",
                format!("'{s}': expected a number of themes, MIN..MAX or auto"),
            )),
        }
    }
}

impl KChoice {
    /// The largest k this choice may cluster into.
    pub fn max(&self) -> Option<usize> {
        match *self {
            KChoice::Fixed(k) | KChoice::Range(_, k) => Some(k),
            KChoice::Auto => None,
        }
    }
}

/// How the map is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MapLayout {
    /// t-SNE from the PCA start (see `layout.rs`).
    #[default]
    Tsne,
    /// The first two principal components.
    Pca,
}

impl crate::util::choice::Choice for MapLayout {
    const CHOICES: &'static [(Self, &'static str, &'static str)] = &[
        (
            MapLayout::Tsne,
            "tsne",
            "t-SNE started from the PCA projection: neighbourhoods kept, slower",
        ),
        (
            MapLayout::Pca,
            "pca",
            "The first two principal components: fast, axes that show their share of variance",
        ),
    ];
}

crate::util::choice::impl_display_and_from_str!(MapLayout, "map");

/// Settings of a theme run.
#[derive(Debug, Clone)]
pub struct ThemeOptions {
    /// The language of the labels in a collection of several (ISO 639-1); `None`: the one
    /// most of its passages are written in. See `label_language_terms`.
    pub label_lang: Option<String>,
    /// Cluster in the language-neutral view when the collection has its model's fit (see
    /// [`crate::neutral`]); `false`: the model's own vectors.
    pub neutral: bool,
    /// Cluster the vectors as stored, each passage's article title and headings included
    /// (`--with-titles`); `false`: each passage less what sets its article apart from the
    /// articles most like it, so that themes follow what passages say more than which article
    /// they are in (see [`ThemeInput::reduce_articles`]).
    pub with_titles: bool,
    pub k: KChoice,
    pub seed: u64,
    /// k-means restarts (k-means++ draws); the lowest inertia is kept.
    pub n_runs: usize,
    /// Key terms kept per theme (the label uses the first three).
    pub terms: usize,
    /// Representative passages per theme.
    pub representatives: usize,
    pub map: MapLayout,
    /// Periods of the themes-over-time table, for documents with dates.
    pub period: Period,
}

impl Default for ThemeOptions {
    fn default() -> Self {
        Self {
            k: KChoice::Fixed(5),
            seed: DEFAULT_SEED,
            n_runs: 10,
            terms: 10,
            representatives: 3,
            map: MapLayout::default(),
            period: Period::default(),
            neutral: true,
            with_titles: false,
            label_lang: None,
        }
    }
}

/// A passage that stands for its theme.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Representative {
    pub id: String,
    pub article: String,
    pub document: String,
    /// Cosine similarity to the theme's (normalised) centroid.
    pub similarity: f32,
    pub text: String,
}

/// How many of a theme's passages come from one article.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArticleShare {
    pub article: String,
    pub document: String,
    pub passages: usize,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Theme {
    /// 1-based, ordered by size (largest first).
    pub id: usize,
    pub label: String,
    pub size: usize,
    pub terms: Vec<Term>,
    pub representatives: Vec<Representative>,
    /// Number of articles with at least one passage in the theme.
    pub spread: usize,
    pub articles: Vec<ArticleShare>,
    /// The languages of the theme's passages, largest share first (see [`LanguageShare`]).
    pub languages: Vec<LanguageShare>,
}

/// The share of a theme's passages written in one language (ISO 639-1, or `und` where it
/// cannot be told: a passage too short, in an article that declares no language), out of at
/// most [`LANGUAGE_SAMPLE`] passages spread over the theme.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LanguageShare {
    pub language: String,
    pub share: f64,
}

/// Passages per theme whose language is detected for [`Theme::languages`]: detection is the
/// costly part (tens of microseconds a passage), and 500 tell a share to a few points.
pub const LANGUAGE_SAMPLE: usize = 500;

/// The languages of a run's passages, detected once (on an evenly spread sample of up to
/// [`LABEL_LANGUAGE_SAMPLE`], in parallel) for the stop words, the labels' language and each
/// theme's shares: three passes of their own took 29 % of a 14-theme run on 2,188 passages.
struct Detected {
    /// Every `step`-th passage is sampled.
    step: usize,
    /// The language detected on the text of each sampled passage (`None` elsewhere).
    text: Vec<Option<&'static str>>,
}

impl Detected {
    fn new(passages: &[&StoredPassage]) -> Self {
        use rayon::prelude::*;
        let step = passages.len().div_ceil(LABEL_LANGUAGE_SAMPLE).max(1);
        let text = passages
            .par_iter()
            .enumerate()
            .map(|(i, p)| match i % step {
                0 => crate::language::detect(&p.text),
                _ => None,
            })
            .collect();
        Self { step, text }
    }

    fn sampled(&self, i: usize) -> bool {
        i.is_multiple_of(self.step)
    }

    /// The detected languages of the sampled passages' texts.
    fn texts(&self) -> impl Iterator<Item = Option<&'static str>> + '_ {
        self.text.iter().step_by(self.step).copied()
    }

    /// [`StoredPassage::language`] for sampled passage `i`: its text's language, else its
    /// article's.
    fn of(&self, i: usize, p: &StoredPassage) -> Option<String> {
        match self.text[i] {
            Some(l) => Some(l.to_string()),
            None => p.article_language(),
        }
    }
}

/// The language shares of `members` (indices into `passages`), on an evenly spread sample.
fn language_shares(
    members: &[(usize, f32)],
    passages: &[&StoredPassage],
    detected: &Detected,
) -> Vec<LanguageShare> {
    // The members the run's detection sampled; a theme too small to have any (in a
    // collection of over 20,000 passages) is detected on its own.
    let mut sample: Vec<Option<String>> = members
        .iter()
        .filter(|&&(i, _)| detected.sampled(i))
        .map(|&(i, _)| detected.of(i, passages[i]))
        .collect();
    if sample.is_empty() {
        let step = members.len().div_ceil(LANGUAGE_SAMPLE).max(1);
        sample = members
            .iter()
            .step_by(step)
            .map(|&(i, _)| passages[i].language())
            .collect();
    }
    let step = sample.len().div_ceil(LANGUAGE_SAMPLE).max(1);
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut n = 0usize;
    for l in sample.into_iter().step_by(step) {
        *counts
            .entry(l.unwrap_or_else(|| "und".to_string()))
            .or_default() += 1;
        n += 1;
    }
    let mut out: Vec<LanguageShare> = counts
        .into_iter()
        .map(|(language, c)| LanguageShare {
            language,
            share: c as f64 / n.max(1) as f64,
        })
        .collect();
    out.sort_by(|a, b| {
        b.share
            .total_cmp(&a.share)
            .then(a.language.cmp(&b.language))
    });
    out
}

/// One row of the article × theme table.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArticleRow {
    pub article: String,
    pub document: String,
    /// Passages of the article in each theme, in theme order.
    pub counts: Vec<usize>,
    pub total: usize,
}

/// Every passage with its theme and its place on the map.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PassageTheme {
    pub id: String,
    pub article: String,
    pub document: String,
    pub theme: usize,
    pub x: f32,
    pub y: f32,
    pub text: String,
}

/// The facts of the run, printed with every report.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunFacts {
    pub model: String,
    pub revision: String,
    pub precision: String,
    pub dimension: usize,
    pub passages: usize,
    pub articles: usize,
    pub k: usize,
    /// "fixed" or "auto (silhouette)".
    pub k_choice: String,
    pub seed: u64,
    pub restarts: usize,
    pub silhouette: f64,
    pub inertia: f64,
    /// How the labels were picked from the key terms.
    pub labels: String,
    /// The languages (ISO 639-1) whose stop words were left out of the key terms: those the
    /// passages are written in, and English.
    pub stop_word_languages: Vec<String>,
    /// In a collection of several languages, the language the labels are in (`--label-lang`,
    /// default the most frequent); absent in a collection of one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_language: Option<String>,
    /// Share of the vectors' variance the first two principal components show (the map's axes
    /// when it is PCA, its start when t-SNE).
    pub map_explained_variance: [f64; 2],
    /// How the map was laid out.
    pub map_layout: String,
    /// Boilerplate passages left out (texts found in 5 documents or more).
    pub boilerplate_left_out: usize,
    /// The vectors clustered: `language-neutral` (the model's vectors with the directions
    /// that tell languages apart removed, see `semclust::neutral`) or `model`.
    pub vectors: &'static str,
    /// What the vectors keep of their article: `reduced` (each passage less what sets its
    /// article apart from the articles most like it, see [`ThemeInput::reduce_articles`]) or
    /// `kept` (`--with-titles`: as stored, with the title and headings the passage was embedded
    /// under).
    pub article_identity: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Themes {
    pub facts: RunFacts,
    /// Every k tried by `--k auto`, with its silhouette.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k_scores: Option<Vec<KScore>>,
    pub themes: Vec<Theme>,
    pub table: Vec<ArticleRow>,
    /// Theme prevalence by period, when the documents have dates in two periods or more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub over_time: Option<OverTime>,
    pub passages: Vec<PassageTheme>,
}

/// Reading order of passages: by document, article number, paragraph number. Clustering in this
/// order (not the store's row order, which incremental indexing shuffles) keeps a seeded run
/// reproducible.
fn reading_key(p: &StoredPassage) -> (String, u64, String, u32) {
    let art_num = p.article_key.parse::<u64>().unwrap_or(u64::MAX);
    (
        p.document.clone(),
        art_num,
        p.article_key.clone(),
        p.paragraph,
    )
}

/// Themes of everything in `store`. `progress` hears about each k tried by `--k auto`.
pub fn themes(
    store: &dyn VectorStore,
    opts: &ThemeOptions,
    progress: impl FnMut(&KScore),
) -> Result<Themes> {
    let mut input = ThemeInput::load(store)?;
    input.prepare(opts, None)?;
    input.themes(opts, None, progress, &|| false)
}

/// What a theme run reads from a store, owned: read on a snapshot, it can be clustered after
/// the store is released (the server does not hold its index while k-means runs).
#[derive(Debug, Clone)]
pub struct ThemeInput {
    /// Row-major vectors, in reading order of `passages`.
    data: Vec<f32>,
    dim: usize,
    passages: Vec<StoredPassage>,
    /// The recurrence group of each passage (see [`crate::boilerplate`]): a theme shows one
    /// copy of a text among its representatives.
    groups: Vec<u32>,
    /// Boilerplate passages left out of the run (texts found in
    /// [`BOILERPLATE_DOCUMENTS`](crate::boilerplate::BOILERPLATE_DOCUMENTS) documents or more:
    /// a copyright line is no theme, and would stand for one).
    boilerplate: usize,
    fingerprint: crate::store::Fingerprint,
    /// The language-neutral fit the vectors were projected with, if they were.
    neutral: Option<std::sync::Arc<crate::neutral::LanguageSubspace>>,
    /// Whether [`ThemeInput::reduce_articles`] has run.
    articles_reduced: bool,
}

impl ThemeInput {
    /// The vectors, one row per passage in reading order (the order of [`Themes::passages`]),
    /// and their dimension.
    pub fn vectors(&self) -> (&[f32], usize) {
        (&self.data, self.dim)
    }

    /// Ready the vectors for a run with `opts`: into the language-neutral view of `fit` when
    /// `opts.neutral` (see [`Self::neutralise`]), then, unless `opts.with_titles`, with part of
    /// each article's identity taken away (see [`Self::reduce_articles`]).
    /// The passages, in the order of the rows a [`Clusterer`] groups (reading order).
    pub fn passages(&self) -> &[StoredPassage] {
        &self.passages
    }

    pub fn prepare(
        &mut self,
        opts: &ThemeOptions,
        fit: Option<std::sync::Arc<crate::neutral::LanguageSubspace>>,
    ) -> Result<()> {
        if let (true, Some(fit)) = (opts.neutral, fit) {
            self.neutralise(fit)?;
        }
        if !opts.with_titles {
            self.reduce_articles();
        }
        Ok(())
    }

    /// Take from each passage of an article of two passages or more what sets its article
    /// apart from the articles most like it: the article's mean vector less the mean of its
    /// [`ARTICLE_NEIGHBOURS`] nearest articles' means (in place; rows stay unit length).
    ///
    /// Every passage is embedded under its article's title and headings (good for retrieval),
    /// and that shared context makes an article's passages closer to each other than to anything
    /// said elsewhere: as stored, the sample's five articles come out as five themes. Taking
    /// the article's whole mean would also take the subject it shares with its neighbours (the
    /// chapter of a section, the topic written in one language in a mixed collection); taking
    /// only what its neighbours do not share leaves themes that cross articles about as much as
    /// the passages' text embedded alone does, and keeps the subjects, without embedding anything
    /// twice (benches/RESULTS.md, "Themes across articles").
    pub fn reduce_articles(&mut self) {
        if self.articles_reduced {
            return;
        }
        self.articles_reduced = true;
        let dim = self.dim;
        // Passages are in reading order: an article's passages are next to each other.
        let mut ranges = Vec::new();
        let mut start = 0;
        while start < self.passages.len() {
            let first = &self.passages[start];
            let end = start
                + self.passages[start..]
                    .iter()
                    .take_while(|p| {
                        p.document == first.document && p.article_key == first.article_key
                    })
                    .count();
            ranges.push(start..end);
            start = end;
        }
        if ranges.len() < 2 {
            return;
        }
        let mut means = vec![0f32; ranges.len() * dim];
        for (r, m) in ranges.iter().zip(means.chunks_exact_mut(dim)) {
            let mut sum = vec![0f64; dim];
            for row in self.data[r.start * dim..r.end * dim].chunks_exact(dim) {
                sum.iter_mut()
                    .zip(row)
                    .for_each(|(s, &x)| *s += f64::from(x));
            }
            let n = r.len() as f64;
            m.iter_mut()
                .zip(&sum)
                .for_each(|(m, &s)| *m = (s / n) as f32);
        }
        // Neighbours are looked for among the unit means of up to ARTICLE_POOL articles, evenly
        // spread: the cost stays linear in the articles (a million passages hold tens of
        // thousands).
        let step = ranges.len().div_ceil(ARTICLE_POOL).max(1);
        let pool: Vec<usize> = (0..ranges.len()).step_by(step).collect();
        let mut pool_unit = Vec::with_capacity(pool.len() * dim);
        for &a in &pool {
            pool_unit.extend(label::unit(&means[a * dim..(a + 1) * dim]));
        }
        let mut scores = vec![0f32; pool.len()];
        let mut shift = vec![0f64; dim];
        for (a, r) in ranges.iter().enumerate() {
            if r.len() < 2 {
                continue;
            }
            let m = &means[a * dim..(a + 1) * dim];
            crate::kernels::dot::scores(&pool_unit, dim, m, 0, &mut scores);
            let mut order: Vec<usize> = (0..pool.len()).filter(|&j| pool[j] != a).collect();
            // "Most like it" means a few of the others: in a collection of five articles all
            // four others would stand for the whole collection, and everything that sets the
            // article apart would go.
            let nn = ARTICLE_NEIGHBOURS.min(ranges.len() / 2).min(order.len());
            if nn == 0 {
                continue;
            }
            order.select_nth_unstable_by(nn - 1, |&x, &y| scores[y].total_cmp(&scores[x]));
            shift
                .iter_mut()
                .zip(m)
                .for_each(|(s, &x)| *s = f64::from(x));
            for &j in &order[..nn] {
                let b = &means[pool[j] * dim..(pool[j] + 1) * dim];
                shift
                    .iter_mut()
                    .zip(b)
                    .for_each(|(s, &x)| *s -= f64::from(x) / nn as f64);
            }
            for row in self.data[r.start * dim..r.end * dim].chunks_exact_mut(dim) {
                subtract_unit(row, &shift, ARTICLE_SHARE);
            }
        }
    }

    /// Move the vectors into the language-neutral view of `fit` (in place; see
    /// [`crate::neutral`]): k-means, the choice of k, the map and the labels then compare
    /// what passages say more than their language.
    pub fn neutralise(
        &mut self,
        fit: std::sync::Arc<crate::neutral::LanguageSubspace>,
    ) -> Result<()> {
        if fit.dim() != self.dim {
            return Err(Error::DimensionMismatch {
                what: "the language-neutral fit".into(),
                expected: self.dim,
                got: fit.dim(),
            });
        }
        // A collection of one language has no language to neutralise: its themes are made
        // of the model's vectors (facts.vectors says `model`).
        if self.neutral.is_none() && self.main_language().is_none() {
            fit.project_rows(&mut self.data);
            self.neutral = Some(fit);
        }
        Ok(())
    }

    /// The language at least 90 % of the passages are written in (on an evenly spread sample
    /// of up to 1,000: detection costs tens of microseconds a passage), if there is one.
    pub fn main_language(&self) -> Option<String> {
        let step = self.passages.len().div_ceil(1000).max(1);
        let mut counts: HashMap<String, usize> = HashMap::new();
        let mut n = 0usize;
        for p in self.passages.iter().step_by(step) {
            if let Some(l) = p.language() {
                *counts.entry(l).or_default() += 1;
            }
            n += 1;
        }
        counts
            .into_iter()
            .find(|(_, c)| *c as f64 >= 0.9 * n as f64)
            .map(|(l, _)| l)
    }

    /// Keep only the passages whose metadata passes `filter`.
    pub fn retain(&mut self, filter: &Filter) -> Result<()> {
        if filter.is_empty() {
            return Ok(());
        }
        let keep: Vec<bool> = self
            .passages
            .iter()
            .map(|p| filter.matches(&p.meta))
            .collect();
        if !keep.contains(&true) {
            return Err(Error::invalid("filter", "matches no passage of the index"));
        }
        self.keep_rows(&keep);
        Ok(())
    }

    /// Keep the rows `keep` says, in place (no second copy of the vectors).
    fn keep_rows(&mut self, keep: &[bool]) {
        let dim = self.dim;
        let mut to = 0;
        for (from, &k) in keep.iter().enumerate() {
            if k {
                if from != to {
                    self.data
                        .copy_within(from * dim..(from + 1) * dim, to * dim);
                    self.passages.swap(from, to);
                    self.groups.swap(from, to);
                }
                to += 1;
            }
        }
        self.data.truncate(to * dim);
        self.passages.truncate(to);
        self.groups.truncate(to);
    }

    pub fn load(store: &dyn VectorStore) -> Result<Self> {
        let ids = store.row_ids()?;
        if ids.is_empty() {
            return Err(Error::invalid(
                "store",
                "holds no passage: nothing to cluster",
            ));
        }
        let vectors = store.vectors()?;
        let dim = store.fingerprint().dimension;
        let mut by_id: HashMap<String, StoredPassage> = store
            .passages()?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let mut rows: Vec<(usize, StoredPassage)> = Vec::with_capacity(ids.len());
        for (r, id) in ids.iter().enumerate() {
            let p = by_id
                .remove(id)
                .ok_or_else(|| Error::internal(format!("passage {id} has a vector but no text")))?;
            rows.push((r, p));
        }
        rows.sort_by_key(|(_, p)| reading_key(p));
        let order: Vec<usize> = rows.iter().map(|(r, _)| *r).collect();
        let mut data = vectors;
        permute_rows(&mut data, dim, &order);
        let passages: Vec<StoredPassage> = rows.into_iter().map(|(_, p)| p).collect();
        // Recurrence is of the whole index, before any filter: boilerplate is what the
        // collection repeats, whichever part of it is clustered.
        let recurrence = Recurrence::of(
            passages
                .iter()
                .map(|p| (p.document.as_str(), p.text.as_str())),
        );
        let groups = (0..passages.len()).map(|i| recurrence.group(i)).collect();
        let mut input = Self {
            data,
            dim,
            passages,
            groups,
            boilerplate: 0,
            fingerprint: store.fingerprint().clone(),
            neutral: None,
            articles_reduced: false,
        };
        let keep: Vec<bool> = (0..recurrence.len())
            .map(|i| !recurrence.is_boilerplate(i))
            .collect();
        let left_out = keep.iter().filter(|k| !**k).count();
        // An index that is all boilerplate (one notice in every document) is clustered as it is.
        if left_out > 0 && left_out < keep.len() {
            input.keep_rows(&keep);
            input.boilerplate = left_out;
        }
        Ok(input)
    }

    /// Cluster; `cancelled` is asked between k-means restarts and between the k tried, and a
    /// `true` stops the run with [`Error::Cancelled`].
    ///
    /// `labeller`, the index's model, ranks key terms for the labels (see `label.rs`);
    /// without it labels are the first key terms.
    pub fn themes(
        &self,
        opts: &ThemeOptions,
        labeller: Option<&dyn Encode>,
        progress: impl FnMut(&KScore),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Themes> {
        let kmeans = KMeans {
            seed: opts.seed,
            restarts: opts.n_runs,
        };
        build(self, opts, &kmeans, labeller, progress, cancelled)
    }

    /// [`ThemeInput::themes`] with another way of grouping than k-means (`opts.seed` and
    /// `opts.n_runs` are then the clusterer's business).
    pub fn themes_with(
        &self,
        clusterer: &dyn Clusterer,
        opts: &ThemeOptions,
        labeller: Option<&dyn Encode>,
        progress: impl FnMut(&KScore),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Themes> {
        build(self, opts, clusterer, labeller, progress, cancelled)
    }
}

/// Passages whose language is detected for the labels' language: an evenly spread sample
/// beyond this (detection costs tens of microseconds a passage).
const LABEL_LANGUAGE_SAMPLE: usize = 20_000;

/// The labels' language, and each theme's key terms over its passages in that language. In a
/// collection of several languages (no language holding 90 % of a sample of the passages), the
/// label language is `opts.label_lang`, else the most frequent, and the labels are picked from
/// those terms so that a label reads in one language instead of mixing `programmet · verwendet ·
/// aplicación` (a theme with no passage in that language gets an empty list). In a collection
/// of one language, none.
fn label_language_terms(
    passages: &[&StoredPassage],
    labels: &[usize],
    kt: usize,
    opts: &ThemeOptions,
    stop: &terms::StopWords,
    detected: &Detected,
) -> (Option<Vec<Vec<Term>>>, Option<String>) {
    let step = detected.step;
    let langs: Vec<Option<String>> = passages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if detected.sampled(i) {
                detected.of(i, p)
            } else {
                None
            }
        })
        .collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for l in langs.iter().flatten() {
        *counts.entry(l.as_str()).or_default() += 1;
    }
    let sampled = passages.len().div_ceil(step);
    let most = counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(l, c)| (l.to_string(), *c));
    let one_language = most
        .as_ref()
        .is_some_and(|(_, c)| *c as f64 >= 0.9 * sampled as f64);
    let label_lang = match (&opts.label_lang, most) {
        (Some(l), _) => l.to_ascii_lowercase(),
        (None, Some((l, _))) if !one_language => l,
        _ => return (None, None),
    };
    let texts: Vec<&str> = passages
        .iter()
        .zip(&langs)
        .map(|(p, l)| {
            if l.as_deref() == Some(label_lang.as_str()) {
                p.text.as_str()
            } else {
                ""
            }
        })
        .collect();
    let in_lang = terms::class_tfidf(&texts, labels, kt, opts.terms, stop);
    (Some(in_lang), Some(label_lang))
}

/// Reorder the rows of `data` in place so that row `i` becomes the row that was at `order[i]`
/// (`order` a permutation): a reordered copy would double the vectors' memory (1.5 GB at a
/// million passages). Each cycle of the permutation is followed once, with one spare row.
fn permute_rows(data: &mut [f32], dim: usize, order: &[usize]) {
    let mut done = vec![false; order.len()];
    let mut spare = vec![0f32; dim];
    for start in 0..order.len() {
        if done[start] || order[start] == start {
            continue;
        }
        spare.copy_from_slice(&data[start * dim..(start + 1) * dim]);
        let mut i = start;
        loop {
            done[i] = true;
            let from = order[i];
            if from == start {
                data[i * dim..(i + 1) * dim].copy_from_slice(&spare);
                break;
            }
            data.copy_within(from * dim..(from + 1) * dim, i * dim);
            i = from;
        }
    }
}

/// Themes of the input's passages, grouped by `clusterer`.
fn build(
    input: &ThemeInput,
    opts: &ThemeOptions,
    clusterer: &dyn Clusterer,
    encoder: Option<&dyn Encode>,
    progress: impl FnMut(&KScore),
    cancelled: &dyn Fn() -> bool,
) -> Result<Themes> {
    let (data, dim, fp) = (&input.data[..], input.dim, &input.fingerprint);
    let passages: Vec<&StoredPassage> = input.passages.iter().collect();
    let n = passages.len();
    let mut progress = progress;
    let Grouping {
        clustering,
        chosen,
        silhouette: swept,
    } = clusterer.group(data, dim, &opts.k, &mut progress, cancelled)?;
    if cancelled() {
        return Err(Error::Cancelled);
    }
    // A sweep over every passage scored the clustering it returns with the sweep's distances.
    let sil = match swept {
        Some(s) => s,
        None => silhouette(data, dim, &clustering),
    };

    // Themes numbered by size, largest first; empty clusters (possible with duplicate
    // passages) are dropped.
    let sizes = clustering.sizes();
    let mut order: Vec<usize> = (0..clustering.k).filter(|&c| sizes[c] > 0).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));
    let mut theme_of_cluster = vec![usize::MAX; clustering.k];
    for (t, &c) in order.iter().enumerate() {
        theme_of_cluster[c] = t;
    }
    let kt = order.len();
    let labels: Vec<usize> = clustering
        .labels
        .iter()
        .map(|&c| theme_of_cluster[c])
        .collect();

    let texts: Vec<&str> = passages.iter().map(|p| p.text.as_str()).collect();
    let detected = Detected::new(&passages);
    let stop = terms::StopWords::for_languages(detected.texts());
    let key_terms = terms::class_tfidf(&texts, &labels, kt, opts.terms, &stop);

    // Articles in reading order.
    let mut article_index: HashMap<(String, String), usize> = HashMap::new();
    let mut articles: Vec<(&str, &str)> = Vec::new();
    let art_of: Vec<usize> = passages
        .iter()
        .map(|p| {
            *article_index
                .entry((p.document.clone(), p.article_key.clone()))
                .or_insert_with(|| {
                    articles.push((p.title.as_str(), p.document.as_str()));
                    articles.len() - 1
                })
        })
        .collect();
    let mut counts = vec![vec![0usize; kt]; articles.len()];
    for (a, &t) in art_of.iter().zip(&labels) {
        counts[*a][t] += 1;
    }

    let centroids: Vec<Vec<f32>> = order
        .iter()
        .map(|&c| clustering.centroid(c).to_vec())
        .collect();
    let (in_language, label_language) =
        label_language_terms(&passages, &labels, kt, opts, &stop, &detected);
    let label::Labelled {
        labels: labels_of,
        terms: key_terms,
        method: label_method,
    } = label::labels(
        &key_terms,
        in_language.as_deref(),
        &centroids,
        encoder,
        input.neutral.as_deref(),
    )?;
    let projection = project::pca_2d(data, dim)?;
    let (points, map_layout) = match opts.map {
        MapLayout::Tsne if n >= layout::MIN_TSNE => (
            layout::tsne_2d(data, dim, &projection, &labels, opts.seed),
            format!(
                "t-SNE (perplexity 30, PCA start){}",
                if n > layout::TSNE_SAMPLE {
                    format!(
                        " of {} sampled passages, the others placed beside their nearest sampled \
                         neighbours of the same theme",
                        layout::TSNE_SAMPLE
                    )
                } else {
                    String::new()
                }
            ),
        ),
        _ => (projection.points.clone(), "PCA".to_string()),
    };
    let mut themes = Vec::with_capacity(kt);
    for (t, &c) in order.iter().enumerate() {
        let centroid = clustering.centroid(c);
        let norm = centroid
            .iter()
            .map(|x| x * x)
            .sum::<f32>()
            .sqrt()
            .max(1e-12);
        let mut members: Vec<(usize, f32)> = labels
            .iter()
            .enumerate()
            .filter(|(_, &l)| l == t)
            .map(|(i, _)| {
                let row = &data[i * dim..(i + 1) * dim];
                let sim = row.iter().zip(centroid).map(|(a, b)| a * b).sum::<f32>() / norm;
                (i, sim)
            })
            .collect();
        members.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        // One copy of a text (the same in a few documents, below the boilerplate threshold).
        let mut shown = HashSet::new();
        let representatives = members
            .iter()
            .filter(|&&(i, _)| shown.insert(input.groups[i]))
            .take(opts.representatives)
            .map(|&(i, sim)| Representative {
                id: passages[i].id.clone(),
                article: passages[i].title.clone(),
                document: passages[i].document.clone(),
                similarity: sim,
                text: passages[i].text.clone(),
            })
            .collect();
        let mut spread: Vec<ArticleShare> = counts
            .iter()
            .enumerate()
            .filter(|(_, row)| row[t] > 0)
            .map(|(a, row)| ArticleShare {
                article: articles[a].0.to_string(),
                document: articles[a].1.to_string(),
                passages: row[t],
            })
            .collect();
        spread.sort_by_key(|a| std::cmp::Reverse(a.passages));
        let label = labels_of[t].clone();
        let languages = language_shares(&members, &passages, &detected);
        themes.push(Theme {
            id: t + 1,
            label,
            size: sizes[c],
            terms: key_terms[t].clone(),
            representatives,
            spread: spread.len(),
            articles: spread,
            languages,
        });
    }

    let table = counts
        .iter()
        .enumerate()
        .map(|(a, row)| ArticleRow {
            article: articles[a].0.to_string(),
            document: articles[a].1.to_string(),
            counts: row.clone(),
            total: row.iter().sum(),
        })
        .collect();
    let dates: Vec<Option<&serde_json::Value>> =
        passages.iter().map(|p| p.meta.get("date")).collect();
    let over_time = timeline::over_time(&dates, &labels, kt, opts.period);
    let passages_out = passages
        .iter()
        .enumerate()
        .map(|(i, p)| PassageTheme {
            id: p.id.clone(),
            article: p.title.clone(),
            document: p.document.clone(),
            theme: labels[i] + 1,
            x: points[i][0],
            y: points[i][1],
            text: p.text.clone(),
        })
        .collect();
    Ok(Themes {
        facts: RunFacts {
            vectors: if input.neutral.is_some() {
                "language-neutral"
            } else {
                "model"
            },
            article_identity: if input.articles_reduced {
                "reduced"
            } else {
                "kept"
            },
            model: fp.model.clone(),
            revision: fp.revision.clone(),
            precision: fp.precision.clone(),
            dimension: dim,
            passages: n,
            articles: articles.len(),
            k: kt,
            k_choice: match &chosen {
                None => "fixed".into(),
                Some(Chosen {
                    rule, sample: None, ..
                }) => rule.to_string(),
                Some(Chosen {
                    rule,
                    sample: Some(m),
                    ..
                }) => format!("{rule}, on a sample of {m} passages"),
            },
            seed: opts.seed,
            restarts: opts.n_runs,
            silhouette: sil,
            inertia: clustering.inertia,
            labels: label_method.to_string(),
            stop_word_languages: stop.languages().iter().map(|l| l.to_string()).collect(),
            label_language,
            map_explained_variance: projection.explained,
            map_layout,
            boilerplate_left_out: input.boilerplate,
        },
        k_scores: chosen.map(|c| c.scores),
        themes,
        table,
        over_time,
        passages: passages_out,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn rows_are_permuted_in_place() {
        // Rows 0..6 of width 2; the order has a 3-cycle, a 2-cycle and a fixed point.
        let mut data: Vec<f32> = (0..12).map(|x| x as f32).collect();
        let order = [2, 0, 1, 4, 3, 5];
        super::permute_rows(&mut data, 2, &order);
        let want: Vec<f32> = order
            .iter()
            .flat_map(|&r| [2.0 * r as f32, 2.0 * r as f32 + 1.0])
            .collect();
        assert_eq!(data, want);
    }
}
