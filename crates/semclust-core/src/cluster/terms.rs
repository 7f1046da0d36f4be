//! Key terms of themes by class-based TF-IDF (as BERTopic defines it): all passages of a theme
//! form one "class document"; a term weighs `tf(t, c) · log(1 + A / f(t))`, where `tf` is the
//! term's frequency in the class normalised by the class's word count, `f(t)` its frequency over
//! all classes and `A` the mean word count of a class. Terms frequent in one theme and rare
//! elsewhere come first.
//!
//! A term must also be over-represented in its class (a larger share of its occurrences there
//! than the class's share of all words): in a collection about one subject ("ia" in articles
//! on AI) the subject's words are frequent in every theme and would otherwise label them all.
//! A term found in many themes is further down-weighted by `log(1 + k / themes(t)) / log(1 + k)`.
//!
//! Terms are words and pairs of adjacent words ("data centers", "paquets debian"): a pair is
//! two words with no stop word or punctuation between them. A word that occurs in a class
//! mostly inside one pair (at least half of its occurrences) gives way to the pair, so that
//! `data centers` is not split into `data` and `centers`.
//!
//! Words are lower-cased with their accents kept. Stop words are those of every language the
//! collection is written in (detected per passage; see [`crate::language`]) and English's,
//! which technical text in any language borrows; words with digits, one-letter words, one letter
//! repeated ("xxxx") and URL fragments are dropped.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

use crate::language;

/// A key term and its c-TF-IDF weight.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Term {
    pub term: String,
    pub weight: f64,
    /// In a collection of several languages, the theme's key terms that translate this one
    /// (`tabelle`, `tableau` beside `table`): they count as one term, whose weight is theirs
    /// summed. Empty elsewhere.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
}

impl Term {
    /// The term as a reader sees it: `table (tabelle, tableau)`.
    pub fn shown(&self) -> String {
        if self.also.is_empty() {
            self.term.clone()
        } else {
            format!("{} ({})", self.term, self.also.join(", "))
        }
    }
}

/// Pieces of web addresses that survive as words once an address is split.
const URL_WORDS: &[&str] = &[
    "http", "https", "www", "com", "fr", "org", "net", "html", "htm", "php", "amp", "utm",
];

/// Elided forms French and Italian write before a vowel (`l'`, `d'`, `qu'`, `dell'`…): parts
/// of their word, not terms.
const ELIDED: &[&str] = &[
    "l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "dell", "all",
    "dall", "nell", "sull", "un",
];

/// A language counts for a collection's stop words from this share of its passages (or
/// [`MIN_PASSAGES_OF_LANGUAGE`], whichever is smaller).
const MIN_SHARE_OF_LANGUAGE: f64 = 0.005;
const MIN_PASSAGES_OF_LANGUAGE: usize = 5;

/// The stop words in force for a collection.
pub struct StopWords {
    sets: Vec<&'static HashSet<String>>,
    languages: Vec<&'static str>,
}

impl StopWords {
    /// Stop words of the languages detected on a sample of the texts (`None`: not told; the
    /// theme run detects them once for all its uses), and English's.
    pub fn for_languages(detected: impl Iterator<Item = Option<&'static str>>) -> Self {
        let mut counts: HashMap<&'static str, usize> = HashMap::new();
        let mut sampled = 0usize;
        for l in detected {
            sampled += 1;
            if let Some(l) = l {
                *counts.entry(l).or_default() += 1;
            }
        }
        let min = ((sampled as f64 * MIN_SHARE_OF_LANGUAGE).ceil() as usize)
            .clamp(1, MIN_PASSAGES_OF_LANGUAGE);
        let mut languages: Vec<&'static str> = counts
            .into_iter()
            .filter(|&(_, c)| c >= min)
            .map(|(l, _)| l)
            .collect();
        if !languages.contains(&"en") {
            languages.push("en");
        }
        languages.sort_unstable();
        Self::of(&languages)
    }

    /// Stop words of the named languages (ISO 639-1 codes).
    pub fn of(languages: &[&'static str]) -> Self {
        Self {
            sets: languages.iter().map(|l| language::stop_words(l)).collect(),
            languages: languages.to_vec(),
        }
    }

    /// The languages whose lists are in force.
    pub fn languages(&self) -> &[&'static str] {
        &self.languages
    }

    pub fn contains(&self, word: &str) -> bool {
        URL_WORDS.contains(&word)
            || ELIDED.contains(&word)
            || self.sets.iter().any(|s| s.contains(word))
    }
}

fn url_pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)\b(?:https?://|www\.)\S+|\b[\w.-]+\.(?:com|fr|org|net|io)(?:/\S*)?")
            .expect("valid URL pattern")
    })
}

/// The terms of a text, in order, as key-term extraction counts them: each kept word, and
/// after it the pair it forms with the word before when the two are adjacent.
pub fn tokens(text: &str, stop: &StopWords) -> Vec<String> {
    let text = url_pattern().replace_all(text, " ");
    let mut out = Vec::new();
    let mut previous: Option<String> = None;
    // Words are runs of letters and digits, with inner hyphens kept ("open-source",
    // "peut-être"); apostrophes split ("l'intelligence" gives "l" and "intelligence"). Any
    // separator other than a space (punctuation, a line break) ends a pair.
    let mut rest: &str = &text;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '-'))
            .unwrap_or(rest.len());
        let (raw, tail) = rest.split_at(end);
        let sep = tail.chars().next();
        rest = sep.map_or("", |c| &tail[c.len_utf8()..]);
        let w = raw.trim_matches('-');
        if !w.is_empty() {
            // One letter repeated ("xxxxxx", a placeholder) is not a word either.
            let repeated = w.chars().all(|c| w.starts_with(c));
            let kept =
                w.chars().count() >= 2 && !repeated && !w.chars().any(|c| c.is_numeric()) && {
                    let lw = w.to_lowercase();
                    !stop.contains(&lw)
                };
            if kept {
                let w = w.to_lowercase();
                if let Some(p) = previous.take() {
                    if p != w {
                        out.push(format!("{p} {w}"));
                    }
                }
                out.push(w.clone());
                previous = Some(w);
            } else {
                previous = None;
            }
        }
        if !matches!(sep, Some(' ' | '\u{a0}')) {
            previous = None;
        }
    }
    out
}

/// Top `n` key terms of each class. `classes[i]` is the class of `texts[i]`; there are `k`
/// classes. A term must occur in at least two passages of a class that has three or more, so
/// that a word repeated inside a single passage does not name a whole theme.
pub fn class_tfidf(
    texts: &[&str],
    classes: &[usize],
    k: usize,
    n: usize,
    stop: &StopWords,
) -> Vec<Vec<Term>> {
    let mut counts: Vec<HashMap<String, u32>> = vec![HashMap::new(); k];
    let mut passage_freq: Vec<HashMap<String, u32>> = vec![HashMap::new(); k];
    let mut class_size = vec![0usize; k];
    for (text, &c) in texts.iter().zip(classes) {
        class_size[c] += 1;
        let toks = tokens(text, stop);
        let mut seen = HashSet::new();
        for t in toks {
            if seen.insert(t.clone()) {
                *passage_freq[c].entry(t.clone()).or_default() += 1;
            }
            *counts[c].entry(t).or_default() += 1;
        }
    }
    let mut total: HashMap<&str, u64> = HashMap::new();
    let mut themes_of: HashMap<&str, usize> = HashMap::new();
    for m in &counts {
        for (t, &v) in m {
            *total.entry(t.as_str()).or_default() += v as u64;
            *themes_of.entry(t.as_str()).or_default() += 1;
        }
    }
    // Words only: pairs are counted beside their words, not instead of them.
    let words: Vec<u64> = counts
        .iter()
        .map(|m| {
            m.iter()
                .filter(|(t, _)| !t.contains(' '))
                .map(|(_, &v)| v as u64)
                .sum()
        })
        .collect();
    let non_empty = words.iter().filter(|&&w| w > 0).count().max(1);
    let all_words = words.iter().sum::<u64>().max(1) as f64;
    let mean_words = all_words / non_empty as f64;
    let spread_norm = (1.0 + k as f64).ln();
    counts
        .iter()
        .enumerate()
        .map(|(c, m)| {
            let wc = words[c].max(1) as f64;
            let min_pf = if class_size[c] >= 3 { 2 } else { 1 };
            let class_share = wc / all_words;
            let pf = |t: &str| passage_freq[c].get(t).copied().unwrap_or(0);
            // A word gives way to a pair that holds at least half of its occurrences.
            let mut in_pairs: HashMap<&str, u32> = HashMap::new();
            for (t, &v) in m {
                if let Some((a, b)) = t.split_once(' ') {
                    if pf(t) >= min_pf {
                        for w in [a, b] {
                            let e = in_pairs.entry(w).or_default();
                            *e = (*e).max(v);
                        }
                    }
                }
            }
            let mut terms: Vec<Term> = m
                .iter()
                .filter(|(t, _)| pf(t) >= min_pf)
                .filter(|(t, &v)| k == 1 || v as f64 / total[t.as_str()] as f64 > class_share)
                .filter(|(t, &v)| in_pairs.get(t.as_str()).is_none_or(|&p| p * 2 < v))
                .map(|(t, &v)| {
                    let f = total[t.as_str()] as f64;
                    let spread = if k > 1 {
                        (1.0 + k as f64 / themes_of[t.as_str()] as f64).ln() / spread_norm
                    } else {
                        1.0
                    };
                    Term {
                        term: t.clone(),
                        weight: (v as f64 / wc) * (1.0 + mean_words / f).ln() * spread,
                        also: Vec::new(),
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
            &StopWords::of(&["en", "fr"]),
        );
        assert_eq!(
            t,
            [
                "intelligence",
                "intelligence artificielle",
                "artificielle",
                "artificielle générative",
                "générative",
                "ia",
                "ia open-source",
                "open-source",
                "openai"
            ]
        );
    }

    #[test]
    fn a_term_of_one_class_outweighs_a_term_shared_by_all() {
        let texts = [
            "vaccins, vaccins, hôpital",
            "vaccins; hôpital",
            "vaccins. hôpital",
            "puces, hôpital",
            "puces, semi-conducteurs, hôpital",
            "puces; hôpital",
        ];
        let terms = class_tfidf(&texts, &[0, 0, 0, 1, 1, 1], 2, 2, &StopWords::of(&["fr"]));
        assert_eq!(terms[0][0].term, "vaccins");
        assert_eq!(terms[1][0].term, "puces");
        // "semi-conducteurs" is in one passage of three: not a key term of its theme.
        assert!(terms[1].iter().all(|t| t.term != "semi-conducteurs"));
    }

    #[test]
    fn a_word_mostly_inside_a_pair_gives_way_to_the_pair() {
        let texts = [
            "data centers use power",
            "new data centers",
            "data centers, again",
            "rivers and lakes",
            "rivers flow",
            "lakes freeze",
        ];
        let terms = class_tfidf(&texts, &[0, 0, 0, 1, 1, 1], 2, 3, &StopWords::of(&["en"]));
        let first: Vec<&str> = terms[0].iter().map(|t| t.term.as_str()).collect();
        assert_eq!(first, ["data centers"]);
    }
}
