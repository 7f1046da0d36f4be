//! Retrieval over a store: dense (cosine over the model's vectors), lexical (BM25, see
//! `lexical`) or hybrid (the default) — both rankings fused by weighted reciprocal rank, which
//! needs no score calibration between a cosine and a BM25 score.

pub mod eval;
mod lexical;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::boilerplate::{RecurrenceById, BOILERPLATE_DOCUMENTS};
use crate::corpus::Meta;
use crate::error::{Error, Result};
use crate::neutral::LanguageSubspace;
use crate::store::{Exclude, Nearest, ScoredRow, SearchMethod, StoredPassage, VectorStore};

pub use lexical::LexicalIndex;

/// What a search ranks by; `dense`, `lexical` and `hybrid` on the command line and over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Cosine similarity of the model's vectors.
    Dense,
    /// BM25 over the words, each passage analysed in its own language.
    Lexical,
    /// Both, fused by weighted reciprocal rank: the dense ranking, reordered where the words
    /// agree. The default: it measures best on both question sets.
    #[default]
    Hybrid,
}

/// The constant of reciprocal-rank fusion (Cormack et al., 2009), and the weight of the lexical
/// ranking in it. Chosen by measurement on both question sets (benches/RESULTS.md, "Hybrid
/// search"): the textbook k = 60 with equal weights let BM25, weak across languages, pull the
/// dense ranking down (hit@1 0.565 against dense 0.706 on the cross-lingual set); a sharper
/// k = 10 with the lexical list at 0.15 lets an exact word reorder the dense head without
/// overruling it (0.711, and 0.871 against 0.839 passage@1 on the sample's questions). Convex
/// combinations of min-max normalised scores did no better (0.711 / 0.806 at best).
pub const RRF_K: f32 = 10.0;

impl crate::util::choice::Choice for Mode {
    const CHOICES: &'static [(Self, &'static str, &'static str)] = &[
        (Mode::Dense, "dense", "Cosine similarity of the model's vectors"),
        (
            Mode::Lexical,
            "lexical",
            "BM25 over the words, each passage analysed in its own language",
        ),
        (
            Mode::Hybrid,
            "hybrid",
            "Both, fused by weighted reciprocal rank: the dense ranking, reordered where the words agree",
        ),
    ];
}

crate::util::choice::impl_display_and_from_str!(Mode, "mode");
pub const LEXICAL_WEIGHT: f32 = 0.15;

/// One search result.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub rank: usize,
    /// The ranking score: cosine (dense), BM25 (lexical) or fused reciprocal-rank score (hybrid).
    pub score: f32,
    /// Cosine similarity between the query and the passage, whatever the mode (absent for a
    /// lexical search, which has no query vector).
    pub dense_score: Option<f32>,
    /// BM25 score when the passage was in the lexical candidates.
    pub lexical_score: Option<f32>,
    /// Documents holding this passage's text or a near-identical one, when more than one (see
    /// [`fold_recurring`]).
    pub appears_in: Option<usize>,
    pub passage: StoredPassage,
}

/// What to retrieve.
#[derive(Clone)]
pub struct Query<'a> {
    /// The query vector (dense and hybrid).
    pub vector: Option<&'a [f32]>,
    /// The query text (lexical and hybrid).
    pub text: Option<&'a str>,
    pub k: usize,
    pub mode: Mode,
    pub exclude: Exclude,
    pub method: SearchMethod,
    /// How deep each ranking a hybrid search fuses is read; [`fusion_depth`] of the k asked for
    /// (a caller that reads more than k to fold copies keeps the fusion of k).
    pub depth: usize,
    /// Compare in the language-neutral view (see [`crate::neutral`]): the dense part ranks by
    /// the cosine of the projected query and passages.
    pub neutral: Option<&'a LanguageSubspace>,
}

/// How deep each ranking of a hybrid search for `k` results is read: deeper than k, so that a
/// passage ranked moderately by both can rise.
pub fn fusion_depth(k: usize) -> usize {
    k.saturating_mul(3).max(50)
}

/// The documented record of a hit (`--json` output and the HTTP API) (field order is part of the format).
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HitRecord<'a> {
    pub rank: usize,
    pub id: &'a str,
    pub score: f32,
    pub dense_score: Option<f32>,
    pub lexical_score: Option<f32>,
    pub article: &'a str,
    pub document: &'a str,
    pub path: &'a str,
    pub span: [u64; 2],
    pub text: &'a str,
    /// The headings above the passage under its article's title.
    pub section: Option<&'a str>,
    /// The article's metadata (front matter, JSONL fields, a clipped page's URL).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub meta: &'a Meta,
    /// Documents holding the same or a near-identical text, when more than one: the other
    /// copies are folded into this hit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appears_in: Option<usize>,
}

impl<'a> From<&'a Hit> for HitRecord<'a> {
    fn from(h: &'a Hit) -> Self {
        let p = &h.passage;
        Self {
            rank: h.rank,
            id: &p.id,
            score: h.score,
            dense_score: h.dense_score,
            lexical_score: h.lexical_score,
            article: &p.title,
            document: &p.document,
            path: &p.path,
            span: [p.span.0, p.span.1],
            text: &p.text,
            section: p.section.as_deref(),
            meta: &p.meta,
            appears_in: h.appears_in,
        }
    }
}

fn excluded(p: &StoredPassage, ex: &Exclude) -> bool {
    ex.outside.as_ref().is_some_and(|ids| !ids.contains(&p.id))
        || ex.passage.as_deref() == Some(p.id.as_str())
        || ex
            .article
            .as_ref()
            .is_some_and(|(d, a)| *d == p.document && *a == p.article_key)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The view a search compares in: `neutral`, except in a collection of one language
/// (`main_language`, see [`LexicalIndex::main_language`]) for a question or passage in that
/// language (`own`), which meets no other language: there the view would only cost it what its
/// removed directions carry of the content (the sample's questions: 1 of 31 lower). A target
/// whose language is not told is compared in the view.
pub fn view_for<'a>(
    neutral: Option<&'a LanguageSubspace>,
    main_language: Option<&str>,
    own: Option<&str>,
) -> Option<&'a LanguageSubspace> {
    match main_language {
        Some(main) if own == Some(main) => None,
        _ => neutral,
    }
}

/// Candidates the language-neutral view rescores for k results: the store ranks by the raw
/// passage vectors, so a passage whose language part is large ranks a little low there.
pub fn rescore_depth(k: usize) -> usize {
    // 2k, at least 100: |Pp| varies by a few percent between passages, so the k best in the
    // view are among the store's 2k best (4k measured the same hit@1 and cost 5 % in hybrid
    // queries, whose dense part reads 50).
    k.saturating_mul(2).max(100)
}

/// The `k` rows nearest to `v` (a unit query vector), by the store's ranking or, with
/// `neutral`, in the language-neutral view.
///
/// In that view the query is projected (`q'`, unit length) and a passage `p` scores
/// `p'·q'` with `p' = Pp / |Pp|`. Since `q'` has nothing in the removed directions,
/// `Pp·q' = p·q'`: the store's own score for `q'` over the raw vectors, divided by
/// `|Pp| = sqrt(1 - |Bp|²)`. The store is asked for [`rescore_depth`] rows, whose vectors are
/// then read to rescore them.
fn dense_rows(
    store: &dyn VectorStore,
    v: &[f32],
    k: usize,
    exclude: &Exclude,
    method: SearchMethod,
    neutral: Option<&LanguageSubspace>,
) -> Result<Vec<ScoredRow>> {
    let Some(neutral) = neutral else {
        return store.nearest(&Nearest {
            vector: v,
            k,
            exclude,
            method,
        });
    };
    let mut q = v.to_vec();
    neutral.project(&mut q);
    let mut rows = store.nearest(&Nearest {
        vector: &q,
        k: rescore_depth(k).min(store.len()?).max(k),
        exclude,
        method,
    })?;
    let keys: Vec<_> = rows.iter().map(|r| r.key).collect();
    let vectors = store.vectors_by_keys(&keys)?;
    for (r, p) in rows.iter_mut().zip(&vectors) {
        r.score /= neutral.residual_norm(p);
    }
    rows.sort_by(|a, b| b.score.total_cmp(&a.score));
    rows.truncate(k);
    Ok(rows)
}

/// Run a query against a store (and its lexical index for lexical/hybrid).
pub fn search(
    store: &dyn VectorStore,
    lexical: Option<&LexicalIndex>,
    q: &Query<'_>,
) -> Result<Vec<Hit>> {
    let need_vec = matches!(q.mode, Mode::Dense | Mode::Hybrid);
    let need_text = matches!(q.mode, Mode::Lexical | Mode::Hybrid);
    let vector = match (need_vec, q.vector) {
        (true, None) => return Err(Error::internal("a dense search needs a query vector")),
        (_, v) => v,
    };
    if need_text && q.text.is_none() {
        return Err(Error::invalid(
            "mode",
            "must be dense for related passages: lexical and hybrid search take a query",
        ));
    }
    let text = q.text.unwrap_or_default();
    // k never exceeds what the index holds: results are allocated for k up front (by the exact
    // scan, the graph and tantivy), and `-k 1000000000000` must not ask for terabytes. One rule
    // for every front end and mode.
    let len = store.len()?;
    let k = q.k.min(len);
    if k == 0 {
        return Ok(Vec::new());
    }
    // The fusion depth follows the k asked for, and is bounded the same way.
    let q = &Query {
        k,
        depth: q.depth.min(len),
        ..q.clone()
    };
    let lex = || {
        lexical.ok_or_else(|| Error::internal("a lexical search needs the index's lexical part"))
    };
    match q.mode {
        Mode::Dense => {
            let v = vector.unwrap_or_default();
            let rows = dense_rows(store, v, q.k, &q.exclude, q.method, q.neutral)?;
            let ps = store.passages_by_keys(&rows.iter().map(|r| r.key).collect::<Vec<_>>())?;
            Ok(rows
                .iter()
                .zip(ps)
                .enumerate()
                .map(|(i, (r, p))| Hit {
                    rank: i + 1,
                    score: r.score,
                    dense_score: Some(r.score),
                    lexical_score: None,
                    appears_in: None,
                    passage: p,
                })
                .collect())
        }
        Mode::Lexical => {
            let hits = lexical_candidates(store, lex()?, text, q.k, &q.exclude)?;
            Ok(hits
                .into_iter()
                .take(q.k)
                .enumerate()
                .map(|(i, (p, s))| Hit {
                    rank: i + 1,
                    score: s,
                    dense_score: None,
                    lexical_score: Some(s),
                    appears_in: None,
                    passage: p,
                })
                .collect())
        }
        Mode::Hybrid => {
            let v = vector.unwrap_or_default();
            let depth = q.depth.max(q.k);
            let rows = dense_rows(store, v, depth, &q.exclude, q.method, q.neutral)?;
            let dense = store.passages_by_keys(&rows.iter().map(|r| r.key).collect::<Vec<_>>())?;
            // Ids and scores only: a passage found by its words alone is read from the store
            // only if it makes the top k (reading each of the 50 cost more than the fusion).
            let lexical = lexical_ids(store, lex()?, text, depth, &q.exclude)?;
            let mut fused: HashMap<String, Fused> = HashMap::new();
            for (i, (r, p)) in rows.iter().zip(dense).enumerate() {
                let e = fused.entry(p.id.clone()).or_default();
                e.score += 1.0 / (RRF_K + (i + 1) as f32);
                e.dense = Some(r.score);
                e.passage = Some(p);
            }
            for (i, (id, s)) in lexical.into_iter().enumerate() {
                let e = fused.entry(id).or_default();
                e.score += LEXICAL_WEIGHT / (RRF_K + (i + 1) as f32);
                e.lexical = Some(s);
            }
            let mut all: Vec<_> = fused.into_iter().collect();
            // The query in the view, for the dense score of a hit found by its words alone.
            let projected = q.neutral.map(|n| {
                let mut qv = v.to_vec();
                n.project(&mut qv);
                qv
            });
            all.sort_by(|(ia, a), (ib, b)| {
                b.score
                    .total_cmp(&a.score)
                    .then(b.dense.unwrap_or(-1.0).total_cmp(&a.dense.unwrap_or(-1.0)))
                    .then(ia.cmp(ib))
            });
            let mut hits = Vec::with_capacity(q.k);
            for (id, f) in all {
                if hits.len() == q.k {
                    break;
                }
                let (s, d, l) = (f.score, f.dense, f.lexical);
                let p = match f.passage {
                    Some(p) => p,
                    // Gone since the lexical index was built, or outside what may be shown.
                    None => match store.passage(&id)? {
                        Some(p) if !excluded(&p, &q.exclude) => p,
                        _ => continue,
                    },
                };
                let d = match d {
                    Some(d) => Some(d),
                    None => store
                        .vector(&p.id)?
                        .map(|mut pv| match (q.neutral, &projected) {
                            (Some(n), Some(qv)) => {
                                n.project(&mut pv);
                                dot(&pv, qv)
                            }
                            _ => dot(&pv, v),
                        }),
                };
                hits.push(Hit {
                    rank: hits.len() + 1,
                    score: s,
                    dense_score: d,
                    lexical_score: l,
                    appears_in: None,
                    passage: p,
                });
            }
            Ok(hits)
        }
    }
}

/// Fold the hits that hold one text (the same after normalisation, or near-identical; see
/// [`crate::boilerplate`]): the best-ranked copy stays, marked with the number of documents
/// holding the text. Copies inside one document (a changelog's fix listed under two releases,
/// its sign-off lines) are folded too, when the same after normalisation: the recurrence counts
/// documents, and would show each copy. Unless `keep_boilerplate`, boilerplate (a text in
/// [`BOILERPLATE_DOCUMENTS`] documents or more) goes
/// below every other hit, in its own order. Keeps `k` hits, ranks renumbered; also says how many
/// hits that rank on their own merit were found (fewer than `k`: reading deeper may find more).
pub fn fold_recurring(
    hits: Vec<Hit>,
    recurrence: &RecurrenceById,
    k: usize,
    keep_boilerplate: bool,
) -> (Vec<Hit>, usize) {
    let mut seen = std::collections::HashSet::new();
    let mut texts = std::collections::HashSet::new();
    let (mut first, mut below) = (Vec::new(), Vec::new());
    for mut h in hits {
        if !texts.insert(crate::boilerplate::normalise(&h.passage.text)) {
            continue;
        }
        match recurrence.get(&h.passage.id) {
            None => first.push(h),
            Some((group, documents)) => {
                if !seen.insert(group) {
                    continue;
                }
                h.appears_in = Some(documents);
                if documents >= BOILERPLATE_DOCUMENTS && !keep_boilerplate {
                    below.push(h);
                } else {
                    first.push(h);
                }
            }
        }
    }
    let ranked = first.len();
    first.extend(below);
    first.truncate(k);
    for (i, h) in first.iter_mut().enumerate() {
        h.rank = i + 1;
    }
    (first, ranked)
}

/// A passage's share of a hybrid ranking.
#[derive(Default)]
struct Fused {
    score: f32,
    dense: Option<f32>,
    lexical: Option<f32>,
    /// Read from the store already (the dense candidates).
    passage: Option<StoredPassage>,
}

/// The lexical ranking's top `k` as ids and BM25 scores, with a metadata filter applied to the
/// ids: it can remove any share, so the ranking is read deeper (ten times, then all of it) until
/// `k` pass. Exclusions that need the passage (one passage, one article) are the caller's.
fn lexical_ids(
    store: &dyn VectorStore,
    lex: &LexicalIndex,
    text: &str,
    k: usize,
    ex: &Exclude,
) -> Result<Vec<(String, f32)>> {
    let Some(outside) = &ex.outside else {
        return lex.search(text, k);
    };
    let mut depth = k.saturating_mul(10);
    loop {
        let found = lex.search(text, depth)?;
        let exhausted = found.len() < depth;
        let out: Vec<_> = found
            .into_iter()
            .filter(|(id, _)| outside.contains(id))
            .take(k)
            .collect();
        if out.len() == k || exhausted || depth >= store.len()? {
            return Ok(out);
        }
        depth = store.len()?;
    }
}

fn lexical_candidates(
    store: &dyn VectorStore,
    lex: &LexicalIndex,
    text: &str,
    k: usize,
    ex: &Exclude,
) -> Result<Vec<(StoredPassage, f32)>> {
    // Over-fetch by what excluding one passage or article can remove at most, then filter.
    let extra = if ex.passage.is_some() || ex.article.is_some() {
        200
    } else {
        0
    };
    let mut out = Vec::new();
    for (id, s) in lexical_ids(store, lex, text, k.saturating_add(extra), ex)? {
        if out.len() == k {
            break;
        }
        if let Some(p) = store.passage(&id)? {
            if !excluded(&p, ex) {
                out.push((p, s));
            }
        }
    }
    Ok(out)
}
