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

use std::collections::HashMap;

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
/// A key term whose nearest term is at least this similar translates it, in the
/// language-neutral view and in the model's own space. Chosen on FreeDict's word pairs over the
/// vocabulary of two manuals (`benches/term_translations.rs`): of the words whose nearest
/// English word (among thousands) is this near, 74 % (debref) and 74 % (handbook) are one the
/// dictionary gives as a translation, in the view at 0.92 and 73 % and 72 % in the model's
/// space at 0.94, where 0.90 gives 68 % and 66 %, and 42 % and 40 % in the model's space. A
/// theme's few dozen terms offer far fewer wrong neighbours, and the dictionary misses many
/// right ones: read by hand, all but 3 of 113 merges in the mixed sets' themes are
/// translations or forms of one word (`benches/label_translations.py`).
const TRANSLATES_NEUTRAL: f32 = 0.92;
const TRANSLATES_MODEL: f32 = 0.94;

/// How labels were made, for the report's facts.
pub const BY_MODEL: &str =
    "key terms ranked by the model: similarity to the theme's centroid, diversified (MMR, λ 0.7)";
pub const BY_WEIGHT: &str = "the first key terms by weight";

/// A theme's labels, its key terms with translations merged, and how the labels were made.
pub struct Labelled {
    pub labels: Vec<String>,
    pub terms: Vec<Vec<Term>>,
    pub method: &'static str,
}

/// Labels of the themes whose key terms (over all their passages) are `key_terms` and whose
/// (not necessarily normalised) centroids are `centroids`. In a collection of several
/// languages `in_language` holds each theme's key terms over its passages in the label
/// language (empty for a theme with none): the labels are picked from those, and with the
/// model at hand terms that translate each other count as one (see [`merge_translations`]).
pub fn labels(
    key_terms: &[Vec<Term>],
    in_language: Option<&[Vec<Term>]>,
    centroids: &[Vec<f32>],
    encoder: Option<&dyn Encode>,
    neutral: Option<&crate::neutral::LanguageSubspace>,
) -> Result<Labelled> {
    let Some(encoder) = encoder else {
        let pick: Vec<Vec<Term>> = match in_language {
            Some(own) => own
                .iter()
                .zip(key_terms)
                .map(|(o, all)| if o.is_empty() { all.clone() } else { o.clone() })
                .collect(),
            None => key_terms.to_vec(),
        };
        let labels = (0..pick.len())
            .map(|t| join(t, candidates(&pick, t).into_iter().take(LABEL_TERMS)))
            .collect();
        return Ok(Labelled {
            labels,
            terms: key_terms.to_vec(),
            method: BY_WEIGHT,
        });
    };
    // Every term is embedded once, in the same view as the passages' centroids.
    let mut distinct: Vec<&str> = key_terms
        .iter()
        .chain(in_language.into_iter().flatten())
        .flatten()
        .map(|x| x.term.as_str())
        .collect();
    distinct.sort_unstable();
    distinct.dedup();
    let mut vectors: HashMap<&str, Vec<f32>> = HashMap::new();
    if !distinct.is_empty() {
        let e = encoder.encode(&distinct, InputKind::Query)?;
        for (i, term) in distinct.iter().enumerate() {
            let mut v = unit(e.row(i));
            if let Some(n) = neutral {
                n.project(&mut v);
                v = unit(&v);
            }
            vectors.insert(term, v);
        }
    }
    let (terms, pick) = match in_language {
        Some(own) => {
            let threshold = if neutral.is_some() {
                TRANSLATES_NEUTRAL
            } else {
                TRANSLATES_MODEL
            };
            let vocabulary: Vec<&str> = {
                let mut v: Vec<&str> = own.iter().flatten().map(|x| x.term.as_str()).collect();
                v.sort_unstable();
                v.dedup();
                v
            };
            let merged: Vec<Vec<Term>> = key_terms
                .iter()
                .map(|ts| merge_translations(ts, &vocabulary, &vectors, threshold))
                .collect();
            // A label is picked from the terms of the label language: the theme's own, and
            // the merged terms whose head is one (a French key term shown under its English
            // translation found elsewhere in the collection).
            let pick = merged
                .iter()
                .zip(own)
                .map(|(m, o)| {
                    let mut p: Vec<Term> = o.clone();
                    for x in m {
                        if vocabulary.binary_search(&x.term.as_str()).is_ok()
                            && !p.iter().any(|y| y.term == x.term)
                        {
                            p.push(x.clone());
                        }
                    }
                    if p.is_empty() {
                        m.clone()
                    } else {
                        p
                    }
                })
                .collect::<Vec<_>>();
            (merged, pick)
        }
        None => (key_terms.to_vec(), key_terms.to_vec()),
    };
    let labels = (0..pick.len())
        .map(|t| {
            let c = candidates(&pick, t);
            let vs: Vec<Vec<f32>> = c.iter().map(|w| vectors[*w].clone()).collect();
            let picked = mmr(&vs, &unit(&centroids[t]));
            join(t, picked.into_iter().map(|i| c[i]))
        })
        .collect();
    Ok(Labelled {
        labels,
        terms,
        method: BY_MODEL,
    })
}

/// Whether the words of one term are all words of the other (`apt`, `apt-get`; `debian`,
/// `debian wiki`): related terms of one language that c-TF-IDF keeps apart on purpose, not
/// translations, however near.
fn contains_words(a: &str, b: &str) -> bool {
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| c.is_whitespace() || c == '-')
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let (wa, wb) = (words(a), words(b));
    wa.iter().all(|w| wb.contains(w)) || wb.iter().all(|w| wa.contains(w))
}

/// One theme's key terms `terms` (weight order) with the ones that translate each other
/// merged: a term joins the term nearest to it (one whose words hold all of its own, or the
/// other way round, does not count) (among the theme's key terms and the
/// collection's label-language terms `vocabulary`, sorted) when their cosine is at least
/// `threshold`. A group is shown under its member in the label language (the heaviest; a
/// vocabulary word that is not a key term of the theme when only such a translation is there),
/// else under its heaviest member; its weight is its key terms' weights summed.
fn merge_translations(
    terms: &[Term],
    vocabulary: &[&str],
    vectors: &HashMap<&str, Vec<f32>>,
    threshold: f32,
) -> Vec<Term> {
    // Nodes: the theme's key terms, then the vocabulary words that are not among them.
    let mut nodes: Vec<&str> = terms.iter().map(|x| x.term.as_str()).collect();
    nodes.extend(
        vocabulary
            .iter()
            .copied()
            .filter(|w| !terms.iter().any(|x| x.term == *w)),
    );
    let mut parent: Vec<usize> = (0..nodes.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for i in 0..terms.len() {
        let vi = &vectors[nodes[i]];
        let nearest = (0..nodes.len())
            .filter(|&j| j != i && !contains_words(nodes[i], nodes[j]))
            .map(|j| (j, dot(vi, &vectors[nodes[j]])))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        if let Some((j, cos)) = nearest {
            if cos >= threshold {
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    let in_vocabulary = |w: &str| vocabulary.binary_search(&w).is_ok();
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for i in 0..nodes.len() {
        let r = root(&mut parent, i);
        match groups.iter_mut().find(|g| g.0 == r) {
            Some(g) => g.1.push(i),
            None if i < terms.len() => groups.push((r, vec![i])),
            // A vocabulary word alone, or joined to no key term of this theme.
            None => {}
        }
    }
    let mut out: Vec<Term> = groups
        .into_iter()
        .filter(|(_, members)| members.iter().any(|&i| i < terms.len()))
        .map(|(_, members)| {
            let weight = members
                .iter()
                .filter(|&&i| i < terms.len())
                .map(|&i| terms[i].weight)
                .sum();
            // Members are in node order: the theme's key terms by weight, then vocabulary.
            let head = members
                .iter()
                .copied()
                .find(|&i| in_vocabulary(nodes[i]))
                .unwrap_or(members[0]);
            let also = members
                .iter()
                .filter(|&&i| i != head && i < terms.len())
                .map(|&i| nodes[i].to_string())
                .collect();
            Term {
                term: nodes[head].to_string(),
                weight,
                also,
            }
        })
        .collect();
    out.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.term.cmp(&b.term)));
    out
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
    fn terms_that_hold_each_others_words_are_not_translations() {
        assert!(contains_words("apt", "apt-get"));
        assert!(contains_words("debian wiki", "debian"));
        assert!(contains_words("Debian", "debian"));
        assert!(!contains_words("paquets", "packages"));
        assert!(!contains_words("image disque", "disk image"));
    }

    #[test]
    fn a_group_is_shown_under_its_label_language_word_with_its_weights_summed() {
        let term = |t: &str, w: f64| Term {
            term: t.into(),
            weight: w,
            also: Vec::new(),
        };
        // `paquets` (French, heaviest) and `pakete` point at `packages`, which the theme
        // does not list but the label language's vocabulary holds; `apt` points at `apt-get`,
        // which holds its word, so it stays alone.
        let v = |x: f32, y: f32| unit(&[x, y, 0.0]);
        let vectors: HashMap<&str, Vec<f32>> = [
            ("paquets", v(1.0, 0.05)),
            ("pakete", v(1.0, -0.05)),
            ("packages", v(1.0, 0.0)),
            ("apt", v(0.0, 1.0)),
            ("apt-get", v(0.02, 1.0)),
        ]
        .into_iter()
        .collect();
        let terms = [term("paquets", 0.5), term("apt", 0.4), term("pakete", 0.2)];
        let merged = merge_translations(&terms, &["apt-get", "packages"], &vectors, 0.92);
        assert_eq!(merged.len(), 2, "{merged:?}");
        assert_eq!(merged[0].term, "packages");
        assert_eq!(merged[0].also, ["paquets", "pakete"]);
        assert!((merged[0].weight - 0.7).abs() < 1e-12);
        assert_eq!((merged[1].term.as_str(), merged[1].also.len()), ("apt", 0));
    }

    #[test]
    fn mmr_takes_the_most_relevant_then_a_different_one() {
        let s = std::f32::consts::FRAC_1_SQRT_2;
        // 0 and 1 are nearly the same direction; 2 is less relevant but different.
        let terms = vec![vec![1.0, 0.0], vec![0.999, 0.045], vec![s, s]];
        assert_eq!(mmr(&terms, &[1.0, 0.0]), [0, 2]);
    }
}
