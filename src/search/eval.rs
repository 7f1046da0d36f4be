//! Retrieval quality on a hand-written question set: for each question, the ids of the
//! paragraphs that answer it; measured per search mode as article hit@1/@3, passage hit@1/@5 and
//! mean reciprocal rank of the first answer within the top 10.

use serde::{Deserialize, Serialize};

use super::{search, LexicalIndex, Mode, Query};
use crate::error::Result;
use crate::store::{Exclude, SearchMethod, VectorStore};

#[derive(Debug, Clone, Deserialize)]
pub struct QuestionSet {
    pub questions: Vec<Question>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Question {
    pub lang: String,
    pub q: String,
    /// Passage ids that answer the question.
    pub answers: Vec<String>,
}

/// Aggregate figures of one mode over a question set.
#[derive(Debug, Clone, Serialize)]
pub struct EvalSummary {
    pub mode: Mode,
    pub questions: usize,
    /// Share of questions whose first hit is from an answer's article.
    pub article_at_1: f64,
    pub article_at_3: f64,
    /// Share of questions with an answer paragraph first / in the top 3 / in the top 5.
    pub passage_at_1: f64,
    pub passage_at_3: f64,
    pub passage_at_5: f64,
    pub mrr_at_10: f64,
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

/// Evaluate one mode. `vectors[i]` is question i embedded as a query.
pub fn evaluate(
    store: &dyn VectorStore,
    lexical: Option<&LexicalIndex>,
    set: &QuestionSet,
    vectors: &[Vec<f32>],
    mode: Mode,
) -> Result<(EvalSummary, Vec<EvalCase>)> {
    let mut cases = Vec::new();
    for (q, v) in set.questions.iter().zip(vectors) {
        let hits = search(
            store,
            lexical,
            &Query {
                vector: Some(v),
                text: Some(&q.q),
                k: 10,
                mode,
                exclude: Exclude::default(),
                method: SearchMethod::Exact,
            },
        )?;
        let ids: Vec<String> = hits.into_iter().map(|h| h.passage.id).collect();
        let answer_rank = ids
            .iter()
            .position(|id| q.answers.contains(id))
            .map(|i| i + 1);
        let article_rank = ids
            .iter()
            .position(|id| q.answers.iter().any(|a| article_of(a) == article_of(id)))
            .map(|i| i + 1);
        cases.push(EvalCase {
            lang: q.lang.clone(),
            question: q.q.clone(),
            answer_rank,
            article_rank,
            top: ids.into_iter().take(5).collect(),
        });
    }
    let n = cases.len().max(1) as f64;
    let share = |f: &dyn Fn(&EvalCase) -> bool| cases.iter().filter(|c| f(c)).count() as f64 / n;
    let summary = EvalSummary {
        mode,
        questions: cases.len(),
        article_at_1: share(&|c| c.article_rank == Some(1)),
        article_at_3: share(&|c| c.article_rank.is_some_and(|r| r <= 3)),
        passage_at_1: share(&|c| c.answer_rank == Some(1)),
        passage_at_3: share(&|c| c.answer_rank.is_some_and(|r| r <= 3)),
        passage_at_5: share(&|c| c.answer_rank.is_some_and(|r| r <= 5)),
        mrr_at_10: cases
            .iter()
            .map(|c| c.answer_rank.map_or(0.0, |r| 1.0 / r as f64))
            .sum::<f64>()
            / n,
    };
    Ok((summary, cases))
}
