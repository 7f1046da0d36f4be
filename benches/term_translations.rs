//! Do a word and its translation meet in the model's space? The measure behind the labels'
//! rule that terms which translate each other count as one (issue 30).
//!
//! `cargo bench --bench term_translations -- --pairs target/collections/term-pairs-debref.tsv`
//!
//! The pairs come from `scripts/term-pairs.py` (FreeDict's dictionaries, limited to a manual's
//! English words). Every word is embedded as a query, in the model's space and in the
//! language-neutral view. For each language, each translated word looks for its nearest
//! English word among all the English words of that language's pairs: the first line per view
//! is how often that nearest word is one it translates (accuracy), then, for thresholds on
//! that nearest cosine, the share of words merged (coverage) and the share of the merges that
//! the dictionary confirms (precision). One JSON line per view and threshold.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use semclust::neutral::LanguageSubspace;
use semclust::store::Fingerprint;
use semclust::{DeviceChoice, Embedder, Encode, InputKind, ModelSpec};

/// A language's English words, and each translated word with the English words it translates.
type Language = (Vec<String>, HashMap<String, HashSet<String>>);

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn unit(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter().map(|x| x / n).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn main() -> anyhow::Result<()> {
    let pairs = PathBuf::from(arg("--pairs").ok_or_else(|| anyhow::anyhow!("--pairs TSV"))?);
    let text = std::fs::read_to_string(&pairs)?;
    // language -> (English words, translated word -> the English words it translates)
    let mut by_lang: BTreeMap<String, Language> = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 3 {
            continue;
        }
        let (en, tr) = by_lang.entry(f[0].to_string()).or_default();
        if !en.iter().any(|w| w == f[1]) {
            en.push(f[1].to_string());
        }
        tr.entry(f[2].to_string())
            .or_default()
            .insert(f[1].to_string());
    }
    let spec = ModelSpec::named(arg("--model").unwrap_or("multilingual-e5-small".into()));
    let encoder = Embedder::load(&spec, DeviceChoice::Cpu, None)?;
    let fp = Fingerprint::from(encoder.info());
    let neutral = LanguageSubspace::cached_or_fit(&fp, &encoder, &spec.cache_root())?;
    let thresholds = [0.80f32, 0.85, 0.88, 0.90, 0.92, 0.94];

    for view in ["model", "neutral"] {
        let (mut hits, mut total) = (0usize, 0usize);
        // per threshold: merged, confirmed
        let mut merged = vec![(0usize, 0usize); thresholds.len()];
        // the same, only where the English word's nearest translated word is this one
        let mut mutual = vec![(0usize, 0usize); thresholds.len()];
        for (en, tr) in by_lang.values() {
            let words: Vec<&str> = tr.keys().map(String::as_str).collect();
            let embed = |ws: &[&str]| -> anyhow::Result<Vec<Vec<f32>>> {
                let e = encoder.encode(ws, InputKind::Query)?;
                Ok((0..e.rows())
                    .map(|i| {
                        let mut v = unit(e.row(i));
                        if view == "neutral" {
                            neutral.project(&mut v);
                        }
                        unit(&v)
                    })
                    .collect())
            };
            let en_refs: Vec<&str> = en.iter().map(String::as_str).collect();
            let ev = embed(&en_refs)?;
            let wv = embed(&words)?;
            let back: Vec<usize> = ev
                .iter()
                .map(|e| {
                    (0..wv.len())
                        .max_by(|&a, &b| dot(e, &wv[a]).total_cmp(&dot(e, &wv[b])))
                        .expect("translated words")
                })
                .collect();
            for (wi, (w, v)) in words.iter().zip(&wv).enumerate() {
                let (best, cos) = ev
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (i, dot(v, e)))
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .expect("English words");
                let right = tr[*w].contains(&en[best]);
                total += 1;
                hits += right as usize;
                for (i, t) in thresholds.iter().enumerate() {
                    if cos >= *t {
                        merged[i].0 += 1;
                        merged[i].1 += right as usize;
                        if back[best] == wi {
                            mutual[i].0 += 1;
                            mutual[i].1 += right as usize;
                        }
                    }
                }
            }
        }
        println!(
            "{{\"pairs\":{:?},\"view\":\"{view}\",\"words\":{total},\"accuracy\":{:.3}}}",
            pairs.display().to_string(),
            hits as f64 / total as f64
        );
        for (i, t) in thresholds.iter().enumerate() {
            let ((m, c), (mm, mc)) = (merged[i], mutual[i]);
            println!(
                "{{\"view\":\"{view}\",\"threshold\":{t:.2},\"coverage\":{:.3},\"precision\":{:.3},\
                 \"mutual_coverage\":{:.3},\"mutual_precision\":{:.3}}}",
                m as f64 / total as f64,
                c as f64 / m.max(1) as f64,
                mm as f64 / total as f64,
                mc as f64 / mm.max(1) as f64
            );
        }
    }
    Ok(())
}
