//! A theme's label: three of its key terms.
//!
//! With the model at hand, as BERTopic's KeyBERTInspired and MaximalMarginalRelevance
//! representations do: the candidate terms are embedded, and picked one by one for their
//! similarity to the theme's centroid minus their similarity to the terms already picked
//! (maximal marginal relevance). The label then names what the passages are about rather than
//! the words they repeat most ("consulte", "folgenden"), and does not say the same thing twice
//! (`archivos · archivo`). Without the model, the first key terms by weight.
//!
//! Either way a term that is a key term of more than half of the themes is left out (the
//! collection's subject, "ia" in articles on AI: it tells the themes apart from nothing).

use super::terms::Term;
use crate::embed::{Encode, InputKind};
use crate::error::Result;

/// Words of a label.
const LABEL_TERMS: usize = 3;
/// Weight of relevance against diversity in maximal marginal relevance (BERTopic's
/// `diversity` is 1 - this).
const MMR_LAMBDA: f32 = 0.7;
/// A candidate this similar to a term already in the label says the same thing.
const SAME_THING: f32 = 0.92;

/// How labels were made, for the report's facts.
pub const BY_MODEL: &str =
    "key terms ranked by the model: similarity to the theme's centroid, diversified (MMR, λ 0.7)";
pub const BY_WEIGHT: &str = "the first key terms by weight";

/// Labels of the themes whose key terms are `key_terms` and whose (not necessarily
/// normalised) centroids are `centroids`, with how they were made.
pub fn labels(
    key_terms: &[Vec<Term>],
    centroids: &[Vec<f32>],
    encoder: Option<&dyn Encode>,
    neutral: Option<&crate::neutral::LanguageSubspace>,
) -> Result<(Vec<String>, &'static str)> {
    let candidates: Vec<Vec<&str>> = (0..key_terms.len())
        .map(|t| candidates(key_terms, t))
        .collect();
    let Some(encoder) = encoder else {
        let labels = candidates
            .iter()
            .enumerate()
            .map(|(t, c)| join(t, c.iter().take(LABEL_TERMS).copied()))
            .collect();
        return Ok((labels, BY_WEIGHT));
    };
    let all: Vec<&str> = candidates.iter().flatten().copied().collect();
    let vectors = if all.is_empty() {
        Vec::new()
    } else {
        let e = encoder.encode(&all, InputKind::Query)?;
        // Terms are compared with centroids of the same view as the passages.
        (0..e.rows())
            .map(|i| {
                let mut v = unit(e.row(i));
                if let Some(n) = neutral {
                    n.project(&mut v);
                }
                v
            })
            .collect()
    };
    let mut next = 0;
    let labels = candidates
        .iter()
        .enumerate()
        .map(|(t, c)| {
            let vs = &vectors[next..next + c.len()];
            next += c.len();
            let picked = mmr(vs, &unit(&centroids[t]));
            join(t, picked.into_iter().map(|i| c[i]))
        })
        .collect();
    Ok((labels, BY_MODEL))
}

/// The key terms a label may use, best first.
fn candidates(key_terms: &[Vec<Term>], t: usize) -> Vec<&str> {
    let k = key_terms.len();
    let themes_with = |term: &str| {
        key_terms
            .iter()
            .filter(|ts| ts.iter().any(|x| x.term == term))
            .count()
    };
    let words: Vec<&str> = key_terms[t].iter().map(|x| x.term.as_str()).collect();
    let specific: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| k < 3 || themes_with(w) * 2 <= k)
        .collect();
    if specific.is_empty() {
        words
    } else {
        specific
    }
}

/// Indices of up to [`LABEL_TERMS`] of `terms` (unit vectors) by maximal marginal relevance to
/// `centroid` (a unit vector).
fn mmr(terms: &[Vec<f32>], centroid: &[f32]) -> Vec<usize> {
    let relevance: Vec<f32> = terms.iter().map(|v| dot(v, centroid)).collect();
    let mut picked: Vec<usize> = Vec::new();
    while picked.len() < LABEL_TERMS {
        let best = (0..terms.len())
            .filter(|i| !picked.contains(i))
            .filter_map(|i| {
                let redundancy = picked
                    .iter()
                    .map(|&j| dot(&terms[i], &terms[j]))
                    .fold(f32::NEG_INFINITY, f32::max);
                if redundancy >= SAME_THING {
                    return None;
                }
                let r = if picked.is_empty() { 0.0 } else { redundancy };
                Some((i, MMR_LAMBDA * relevance[i] - (1.0 - MMR_LAMBDA) * r))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        match best {
            Some((i, _)) => picked.push(i),
            None => break,
        }
    }
    picked
}

fn join<'a>(t: usize, words: impl Iterator<Item = &'a str>) -> String {
    let words: Vec<&str> = words.collect();
    if words.is_empty() {
        format!("theme {}", t + 1)
    } else {
        words.join(" · ")
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub(crate) fn unit(v: &[f32]) -> Vec<f32> {
    let n = dot(v, v).sqrt().max(1e-12);
    v.iter().map(|x| x / n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmr_takes_the_most_relevant_then_a_different_one() {
        let s = std::f32::consts::FRAC_1_SQRT_2;
        // 0 and 1 are nearly the same direction; 2 is less relevant but different.
        let terms = vec![vec![1.0, 0.0], vec![0.999, 0.045], vec![s, s]];
        assert_eq!(mmr(&terms, &[1.0, 0.0]), [0, 2]);
    }
}
