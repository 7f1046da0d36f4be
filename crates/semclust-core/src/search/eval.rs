//! Retrieval quality on a question set: for each question, what answers it, either the ids of
//! the paragraphs that do (the hand-written set of the sample corpus) or a section of a
//! document (a passage from that document under that heading answers: the cross-lingual set
//! made from Debian Reference, `scripts/make-eval-set.py`). Measured per search mode as hit@1,
//! hit@10 and mean reciprocal rank of the first answer within the top 10, overall and per
//! question language, and, for id answers, whether the first hit is from an answer's article.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{search, LexicalIndex, Mode, Query};
use crate::error::{Error, Result};
use crate::store::{Exclude, SearchMethod, StoredPassage, VectorStore};

/// Results looked at per question.
pub const DEPTH: usize = 10;

#[derive(Debug, Clone, Deserialize)]
pub struct QuestionSet {
    pub questions: Vec<Question>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Question {
    pub lang: String,
    pub q: String,
    /// Passage ids that answer the question.
    #[serde(default)]
    pub answers: Vec<String>,
    /// Or: the document whose passages under `section` answer it.
    #[serde(default)]
    pub document: Option<String>,
    /// A heading of that document (as in passages' heading paths, `A › B`): passages under it,
    /// at any depth, answer. Without it, any passage of the document does.
    #[serde(default)]
    pub section: Option<String>,
}

impl Question {
    /// Whether `p` answers the question.
    pub fn answered_by(&self, p: &StoredPassage) -> bool {
        if self.answers.contains(&p.id) {
            return true;
        }
        match (&self.document, &self.section) {
            (Some(d), None) => p.document == *d,
            (Some(d), Some(s)) => {
                p.document == *d
                    && p.section
                        .as_deref()
                        .is_some_and(|path| path.split(" › ").any(|h| h == s))
            }
            _ => false,
        }
    }

    /// Whether `p` is from the article (id answers) or document (section answers) of an answer.
    fn near(&self, p: &StoredPassage) -> bool {
        self.answers
            .iter()
            .any(|a| article_of(a) == article_of(&p.id))
            || self.document.as_deref() == Some(p.document.as_str())
    }
}

impl QuestionSet {
    /// Every question must be answerable in `store`: a set made for another collection (or an
    /// index of the wrong folder) would score zero for a reason that is not retrieval.
    pub fn check(&self, store: &dyn VectorStore) -> Result<()> {
        if self.questions.is_empty() {
            return Err(Error::invalid(
                "questions",
                "the question set holds no question",
            ));
        }
        if let Some(q) = self
            .questions
            .iter()
            .find(|q| q.answers.is_empty() && q.document.is_none())
        {
            return Err(Error::invalid(
                "questions",
                format!("'{}' has neither answers (passage ids) nor a document", q.q),
            ));
        }
        let passages = store.passages()?;
        let unanswered: Vec<&Question> = self
            .questions
            .iter()
            .filter(|q| !passages.iter().any(|p| q.answered_by(p)))
            .collect();
        if let Some(first) = unanswered.first() {
            return Err(Error::invalid(
                "questions",
                format!(
                    "{} of {} questions have no answer in this index (first: '{}', answer {}); \
                     index the collection the set was made for",
                    unanswered.len(),
                    self.questions.len(),
                    first.q,
                    first
                        .document
                        .as_deref()
                        .map(|d| format!("{d} › {}", first.section.as_deref().unwrap_or("")))
                        .unwrap_or_else(|| first.answers.join(", "))
                ),
            ));
        }
        Ok(())
    }
}

/// Aggregate figures of one mode over a question set (or over its questions in one language).
#[derive(Debug, Clone, Serialize)]
pub struct EvalSummary {
    pub mode: Mode,
    pub questions: usize,
    /// Share of questions whose first hit is from an answer's article (id answers) or
    /// document (section answers).
    pub article_at_1: f64,
    pub article_at_3: f64,
    /// Share of questions with an answer first / in the top 3 / 5 / 10.
    pub passage_at_1: f64,
    pub passage_at_3: f64,
    pub passage_at_5: f64,
    pub passage_at_10: f64,
    pub mrr_at_10: f64,
    /// The same figures per question language (empty inside a per-language summary).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_lang: BTreeMap<String, EvalSummary>,
}

/// One question's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct EvalCase {
    pub lang: String,
    pub question: String,
    /// 1-based rank of the first answer paragraph in the top 10.
    pub answer_rank: Option<usize>,
    /// 1-based rank of the first hit from an answer's article in the top 10.
    pub article_rank: Option<usize>,
    pub top: Vec<String>,
}

fn article_of(id: &str) -> &str {
    id.rsplit_once('/').map_or(id, |(a, _)| a)
}

fn summarise(mode: Mode, cases: &[&EvalCase]) -> EvalSummary {
    let n = cases.len().max(1) as f64;
    let share = |f: &dyn Fn(&EvalCase) -> bool| cases.iter().filter(|c| f(c)).count() as f64 / n;
    let within = |r: Option<usize>, k: usize| r.is_some_and(|r| r <= k);
    EvalSummary {
        mode,
        questions: cases.len(),
        article_at_1: share(&|c| c.article_rank == Some(1)),
        article_at_3: share(&|c| within(c.article_rank, 3)),
        passage_at_1: share(&|c| c.answer_rank == Some(1)),
        passage_at_3: share(&|c| within(c.answer_rank, 3)),
        passage_at_5: share(&|c| within(c.answer_rank, 5)),
        passage_at_10: share(&|c| within(c.answer_rank, 10)),
        mrr_at_10: cases
            .iter()
            .map(|c| c.answer_rank.map_or(0.0, |r| 1.0 / r as f64))
            .sum::<f64>()
            / n,
        by_lang: BTreeMap::new(),
    }
}

/// Evaluate one mode. `vectors[i]` is question i embedded as a query.
pub fn evaluate(
    store: &dyn VectorStore,
    lexical: Option<&LexicalIndex>,
    set: &QuestionSet,
    vectors: &[Vec<f32>],
    mode: Mode,
    neutral: Option<&crate::neutral::LanguageSubspace>,
    main_language: Option<&str>,
) -> Result<(EvalSummary, Vec<EvalCase>)> {
    let mut cases = Vec::new();
    for (q, v) in set.questions.iter().zip(vectors) {
        let neutral = super::view_for(neutral, main_language, crate::language::guess(&q.q));
        let hits = search(
            store,
            lexical,
            &Query {
                vector: Some(v),
                text: Some(&q.q),
                k: DEPTH,
                mode,
                exclude: Exclude::default(),
                method: SearchMethod::Exact,
                depth: super::fusion_depth(DEPTH),
                neutral,
            },
        )?;
        let answer_rank = hits
            .iter()
            .position(|h| q.answered_by(&h.passage))
            .map(|i| i + 1);
        let article_rank = hits.iter().position(|h| q.near(&h.passage)).map(|i| i + 1);
        cases.push(EvalCase {
            lang: q.lang.clone(),
            question: q.q.clone(),
            answer_rank,
            article_rank,
            top: hits.into_iter().take(5).map(|h| h.passage.id).collect(),
        });
    }
    let all: Vec<&EvalCase> = cases.iter().collect();
    let mut summary = summarise(mode, &all);
    let mut langs: BTreeMap<&str, Vec<&EvalCase>> = BTreeMap::new();
    for c in &cases {
        langs.entry(c.lang.as_str()).or_default().push(c);
    }
    summary.by_lang = langs
        .into_iter()
        .map(|(l, cs)| (l.to_string(), summarise(mode, &cs)))
        .collect();
    Ok((summary, cases))
}
