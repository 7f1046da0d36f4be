//! Key terms of themes by class-based TF-IDF (as BERTopic defines it): all passages of a theme
//! form one "class document"; a term weighs `tf(t, c) · log(1 + A / f(t))`, where `tf` is the
//! term's frequency in the class normalised by the class's word count, `f(t)` its frequency over
//! all classes and `A` the mean word count of a class. Terms frequent in one theme and rare
//! elsewhere come first.
//!
//! A term must also be over-represented in its class (a larger share of its occurrences there
//! than the class's share of all words): in a collection about one subject ("ia" in articles
//! on AI) the subject's words are frequent in every theme and would otherwise label them all.
//!
//! Words are lower-cased with their accents kept; French and English stop words (the ISO lists
//! of the `stop-words` crate), words with digits, one-letter words and URL fragments are dropped.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

/// A key term and its c-TF-IDF weight.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Term {
    pub term: String,
    pub weight: f64,
}

/// Pieces of web addresses that survive as words once an address is split.
const URL_WORDS: &[&str] = &[
    "http", "https", "www", "com", "fr", "org", "net", "html", "htm", "php", "amp", "utm",
];

/// Elided forms French writes before a vowel (`l'`, `d'`, `qu'`…): parts of their word, not terms.
const ELIDED: &[&str] = &[
    "l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu",
];

fn stop_words() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| {
        let mut s = HashSet::new();
        for lang in ["fr", "en"] {
            for w in stop_words::lookup(lang).unwrap_or(&[]) {
                s.insert(w.to_lowercase());
                // The lists spell some words with a straight apostrophe only.
                s.insert(w.to_lowercase().replace('\'', "’"));
            }
        }
        s.extend(URL_WORDS.iter().map(|w| w.to_string()));
        s.extend(ELIDED.iter().map(|w| w.to_string()));
        s
    })
}

fn url_pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)\b(?:https?://|www\.)\S+|\b[\w.-]+\.(?:com|fr|org|net|io)(?:/\S*)?")
            .expect("valid URL pattern")
    })
}

/// The terms of a text, in order, as key-term extraction counts them.
pub fn tokens(text: &str) -> Vec<String> {
    let text = url_pattern().replace_all(text, " ");
    let stop = stop_words();
    let mut out = Vec::new();
    // Words are runs of letters and digits, with inner hyphens kept ("open-source",
    // "peut-être"); apostrophes split ("l'intelligence" gives "l" and "intelligence").
    for raw in text.split(|c: char| !(c.is_alphanumeric() || c == '-')) {
        let w = raw.trim_matches('-');
        if w.chars().count() < 2 || w.chars().any(|c| c.is_numeric()) {
            continue;
        }
        let w = w.to_lowercase();
        if stop.contains(&w) {
            continue;
        }
        out.push(w);
    }
    out
}

/// Top `n` key terms of each class. `classes[i]` is the class of `texts[i]`; there are `k`
/// classes. A term must occur in at least two passages of a class that has three or more, so
/// that a word repeated inside a single passage does not name a whole theme.
pub fn class_tfidf(texts: &[&str], classes: &[usize], k: usize, n: usize) -> Vec<Vec<Term>> {
    let mut counts: Vec<HashMap<String, u32>> = vec![HashMap::new(); k];
    let mut passage_freq: Vec<HashMap<String, u32>> = vec![HashMap::new(); k];
    let mut class_size = vec![0usize; k];
    for (text, &c) in texts.iter().zip(classes) {
        class_size[c] += 1;
        let toks = tokens(text);
        let mut seen = HashSet::new();
        for t in toks {
            if seen.insert(t.clone()) {
                *passage_freq[c].entry(t.clone()).or_default() += 1;
            }
            *counts[c].entry(t).or_default() += 1;
        }
    }
    let mut total: HashMap<&str, u64> = HashMap::new();
    for m in &counts {
        for (t, &v) in m {
            *total.entry(t.as_str()).or_default() += v as u64;
        }
    }
    let words: Vec<u64> = counts
        .iter()
        .map(|m| m.values().map(|&v| v as u64).sum())
        .collect();
    let non_empty = words.iter().filter(|&&w| w > 0).count().max(1);
    let all_words = words.iter().sum::<u64>().max(1) as f64;
    let mean_words = all_words / non_empty as f64;
    counts
        .iter()
        .enumerate()
        .map(|(c, m)| {
            let wc = words[c].max(1) as f64;
            let min_pf = if class_size[c] >= 3 { 2 } else { 1 };
            let class_share = wc / all_words;
            let mut terms: Vec<Term> = m
                .iter()
                .filter(|(t, _)| passage_freq[c].get(*t).copied().unwrap_or(0) >= min_pf)
                .filter(|(t, &v)| k == 1 || v as f64 / total[t.as_str()] as f64 > class_share)
                .map(|(t, &v)| {
                    let f = total[t.as_str()] as f64;
                    Term {
                        term: t.clone(),
                        weight: (v as f64 / wc) * (1.0 + mean_words / f).ln(),
                    }
                })
                .collect();
            // Ties broken by the term, so that a run is reproducible.
            terms.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.term.cmp(&b.term)));
            terms.truncate(n);
            terms
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_drop_stop_words_numbers_and_addresses_and_keep_accents() {
        let t = tokens(
            "L'intelligence artificielle générative, en 2025, selon https://www.lemonde.fr/x \
             et lemonde.fr : l'IA open-source d’OpenAI.",
        );
        assert_eq!(
            t,
            [
                "intelligence",
                "artificielle",
                "générative",
                "ia",
                "open-source",
                "openai"
            ]
        );
    }

    #[test]
    fn a_term_of_one_class_outweighs_a_term_shared_by_all() {
        let texts = [
            "vaccins vaccins hôpital",
            "vaccins hôpital",
            "vaccins hôpital",
            "puces hôpital",
            "puces semi-conducteurs hôpital",
            "puces hôpital",
        ];
        let terms = class_tfidf(&texts, &[0, 0, 0, 1, 1, 1], 2, 2);
        assert_eq!(terms[0][0].term, "vaccins");
        assert_eq!(terms[1][0].term, "puces");
        // "semi-conducteurs" is in one passage of three: not a key term of its theme.
        assert!(terms[1].iter().all(|t| t.term != "semi-conducteurs"));
    }
}
