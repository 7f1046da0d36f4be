//! Boilerplate: passage texts that recur across documents (copyright lines, licence headers,
//! "reporting bugs" sections, option lines every manual page repeats). Two passages hold the same
//! text when they share a [normalised](normalise) form, or when their word 3-grams are
//! near-identical (MinHash, estimated Jaccard similarity ≥ [`NEAR_JACCARD`]): one licence header
//! naming two different programs is one text. A text found in [`BOILERPLATE_DOCUMENTS`]
//! documents or more is boilerplate: search ranks it below the other passages and themes keep it
//! out of their representatives and labels. Worked out from the passages alone, so both stores
//! and every front end agree.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

/// A passage text that recurs across documents counts as boilerplate from this many documents on.
pub const BOILERPLATE_DOCUMENTS: usize = 5;

/// Two texts of at least [`MIN_WORDS_NEAR`] words whose estimated Jaccard similarity over word
/// 3-grams reaches this are one text. 0.7 keeps a 40-word notice with two words changed (a
/// program's name, a licence version) together and two different sentences apart.
pub const NEAR_JACCARD: f32 = 0.7;

/// Shorter texts are compared exactly (after normalisation): a few words give too few 3-grams for
/// a similarity to mean anything.
pub const MIN_WORDS_NEAR: usize = 8;

/// MinHash signature length, and its split into LSH bands: with 8 bands of 4 rows, a pair at
/// Jaccard 0.7 shares a band with probability 1 − (1 − 0.7⁴)⁸ ≈ 0.94, a pair at 0.3 with 0.06.
const HASHES: usize = 32;
const BANDS: usize = 8;
const ROWS: usize = HASHES / BANDS;

/// The form two passages must share to count as the same text: lower case, each run of digits
/// as one `0` (years, versions and page numbers differ between copies of one notice: `Added in:
/// v0.5.9` and `Added in: v10.0.0`), whitespace runs as one space.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        let mut in_number = false;
        for c in word.chars() {
            if c.is_numeric() {
                if !in_number {
                    out.push('0');
                }
                in_number = true;
            } else {
                in_number = false;
                out.extend(c.to_lowercase());
            }
        }
    }
    out
}

/// One text found in several documents.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Recurring {
    /// The text as first met.
    pub text: String,
    /// Documents holding it (or a near-identical text).
    pub documents: usize,
    /// Passages holding it, in all.
    pub passages: usize,
    /// Distinct forms folded into it (more than one when near-identical texts were joined).
    pub variants: usize,
}

/// How often each passage's text recurs, for a list of passages given as (document, text).
#[derive(Debug, Clone, Default)]
pub struct Recurrence {
    /// The group (same or near-identical text) of each passage, in input order.
    group: Vec<u32>,
    /// Documents holding each group's text.
    documents: Vec<u32>,
    /// Passages in each group, and distinct normalised forms in it.
    passages: Vec<u32>,
    variants: Vec<u32>,
    /// The first passage of each group.
    first: Vec<u32>,
}

impl Recurrence {
    /// Group `passages` (document key, text) by text.
    pub fn of<'a>(passages: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        // Exact forms first: most boilerplate is word for word the same.
        let mut form_of: Vec<u32> = Vec::new();
        let mut forms: HashMap<String, u32> = HashMap::new();
        // Each form's MinHash signature, worked out when the form is first met (the form itself
        // is kept once, as the map's key).
        let mut signatures: Vec<Option<[u64; HASHES]>> = Vec::new();
        let mut docs: Vec<&'a str> = Vec::new();
        for (document, text) in passages {
            let n = normalise(text);
            let next = forms.len() as u32;
            let f = match forms.get(&n) {
                Some(&f) => f,
                None => {
                    signatures.push(signature(&n));
                    forms.insert(n, next);
                    next
                }
            };
            form_of.push(f);
            docs.push(document);
        }
        drop(forms);

        // Then near-identical forms, joined through the bands of their signatures; each form is
        // compared with the first form met in each of its bands (linear, and enough: a family of
        // variants shares bands with its first member).
        let mut parent: Vec<u32> = (0..signatures.len() as u32).collect();
        let mut bands: HashMap<u64, (u32, [u64; HASHES])> = HashMap::new();
        for (f, sig) in signatures.iter().enumerate() {
            let Some(sig) = *sig else { continue };
            for b in 0..BANDS {
                let key = band_key(b, &sig[b * ROWS..(b + 1) * ROWS]);
                match bands.get(&key) {
                    Some((other, other_sig)) => {
                        if similarity(&sig, other_sig) >= NEAR_JACCARD {
                            union(&mut parent, f as u32, *other);
                        }
                    }
                    None => {
                        bands.insert(key, (f as u32, sig));
                    }
                }
            }
        }
        drop(bands);

        // Number the groups by first appearance and count what each holds.
        let mut group_of_root: HashMap<u32, u32> = HashMap::new();
        let mut out = Recurrence::default();
        let mut doc_sets: Vec<HashSet<&str>> = Vec::new();
        let mut forms_seen: Vec<HashSet<u32>> = Vec::new();
        for (i, &f) in form_of.iter().enumerate() {
            let root = find(&mut parent, f);
            let next = group_of_root.len() as u32;
            let g = *group_of_root.entry(root).or_insert(next);
            if g == next {
                out.documents.push(0);
                out.passages.push(0);
                out.variants.push(0);
                out.first.push(i as u32);
                doc_sets.push(HashSet::new());
                forms_seen.push(HashSet::new());
            }
            let gi = g as usize;
            out.group.push(g);
            out.passages[gi] += 1;
            doc_sets[gi].insert(docs[i]);
            forms_seen[gi].insert(f);
        }
        for (g, (d, v)) in doc_sets.iter().zip(&forms_seen).enumerate() {
            out.documents[g] = d.len() as u32;
            out.variants[g] = v.len() as u32;
        }
        out
    }

    /// Passages grouped.
    pub fn len(&self) -> usize {
        self.group.len()
    }

    pub fn is_empty(&self) -> bool {
        self.group.is_empty()
    }

    /// The group of passage `i`: passages with the same or a near-identical text share one.
    pub fn group(&self, i: usize) -> u32 {
        self.group[i]
    }

    /// Documents holding passage `i`'s text (itself included).
    pub fn documents(&self, i: usize) -> usize {
        self.documents[self.group[i] as usize] as usize
    }

    /// Whether passage `i` is boilerplate: its text is in [`BOILERPLATE_DOCUMENTS`] documents or more.
    pub fn is_boilerplate(&self, i: usize) -> bool {
        self.documents(i) >= BOILERPLATE_DOCUMENTS
    }

    /// The texts found in at least `min_documents` documents (2 at least), the most widespread
    /// first (then by text, for a stable order); `text(i)` gives passage `i`'s text.
    pub fn recurring<'t>(
        &self,
        min_documents: usize,
        text: impl Fn(usize) -> &'t str,
    ) -> Vec<Recurring> {
        let min = min_documents.max(2) as u32;
        let mut out: Vec<Recurring> = (0..self.documents.len())
            .filter(|&g| self.documents[g] >= min)
            .map(|g| Recurring {
                text: text(self.first[g] as usize).to_string(),
                documents: self.documents[g] as usize,
                passages: self.passages[g] as usize,
                variants: self.variants[g] as usize,
            })
            .collect();
        out.sort_by(|a, b| b.documents.cmp(&a.documents).then(a.text.cmp(&b.text)));
        out
    }
}

/// Texts of `passages` (document key, text) found in at least `min_documents` documents, the
/// most widespread first.
pub fn recurring<'a>(
    passages: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    min_documents: usize,
) -> Vec<Recurring> {
    let texts: Vec<&str> = passages.clone().into_iter().map(|(_, t)| t).collect();
    Recurrence::of(passages).recurring(min_documents, |i| texts[i])
}

/// For a search over a stored index: each passage id whose text is in two documents or more,
/// with its group and the number of documents.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RecurrenceById {
    by_id: HashMap<String, (u32, u32)>,
}

impl RecurrenceById {
    pub fn of<'a>(passages: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>) -> Self {
        let rows: Vec<(&str, &str, &str)> = passages.into_iter().collect();
        let r = Recurrence::of(rows.iter().map(|&(_, d, t)| (d, t)));
        let mut by_id = HashMap::new();
        for (i, &(id, _, _)) in rows.iter().enumerate() {
            let n = r.documents(i);
            if n >= 2 {
                by_id.insert(id.to_string(), (r.group(i), n as u32));
            }
        }
        Self { by_id }
    }

    /// The group and the number of documents of passage `id`, when its text is in two or more.
    pub fn get(&self, id: &str) -> Option<(u32, usize)> {
        self.by_id.get(id).map(|&(g, n)| (g, n as usize))
    }
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        parent[x as usize] = parent[parent[x as usize] as usize];
        x = parent[x as usize];
    }
    x
}

fn union(parent: &mut [u32], a: u32, b: u32) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        // The older form stays the root, so that a group is named by its first text.
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        parent[hi as usize] = lo;
    }
}

/// SplitMix64's finaliser: a fast, well-mixed 64-bit hash of a 64-bit value.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn word_hash(w: &str) -> u64 {
    // FNV-1a, then mixed: stable across runs and platforms (std's hasher is seeded per process).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in w.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

/// The MinHash signature of a normalised text's word 3-grams (words: runs of letters and
/// digits), or `None` below [`MIN_WORDS_NEAR`] words.
fn signature(form: &str) -> Option<[u64; HASHES]> {
    let words: Vec<u64> = form
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(word_hash)
        .collect();
    if words.len() < MIN_WORDS_NEAR {
        return None;
    }
    let mut sig = [u64::MAX; HASHES];
    for w in words.windows(3) {
        let s = mix(w[0] ^ w[1].rotate_left(21) ^ w[2].rotate_left(42));
        for (j, m) in sig.iter_mut().enumerate() {
            let v = mix(s ^ (j as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            if v < *m {
                *m = v;
            }
        }
    }
    Some(sig)
}

fn band_key(band: usize, rows: &[u64]) -> u64 {
    rows.iter()
        .fold(mix(band as u64 + 1), |h, &r| mix(h ^ r.rotate_left(17)))
}

/// Estimated Jaccard similarity: the share of equal signature entries.
fn similarity(a: &[u64; HASHES], b: &[u64; HASHES]) -> f32 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f32 / HASHES as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_of_one_notice_share_a_form() {
        assert_eq!(
            normalise("Copyright © 2022  Free Software\nFoundation"),
            normalise("copyright © 2016 Free Software Foundation")
        );
        assert_eq!(
            normalise("Added in: v0.5.9"),
            normalise("Added in: v10.0.0")
        );
        assert_ne!(normalise("GPL version 2"), normalise("GPL version two"));
    }
}
