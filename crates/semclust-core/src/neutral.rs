//! Language-neutral similarity: a view of the stored vectors in which a passage's language
//! weighs less than what it says (issue 30).
//!
//! Multilingual models place a text's language in its vector: in a collection that mixes
//! languages, nearest neighbours and k-means clusters follow the language before the meaning.
//! The correction is a projection that removes the directions along which languages differ
//! *and* content does not: fitted once per model on real parallel text (the translations of
//! a Debian system's gettext catalogues, `assets/parallel-gettext.jsonl.gz`, made by
//! `scripts/parallel-calibration.py`), never on the collection, so a topic that only one
//! language writes about is not taken for that language and erased.
//!
//! The fit, for languages l with messages v (the same messages in every language):
//! - `d_l` = language l's mean vector minus the mean of all languages' means;
//! - `W` = the covariance of the messages around their language's mean (what content varies),
//!   shrunk towards a multiple of the identity (`SHRINKAGE`) so that it can be inverted;
//! - the removed subspace is span{W⁻¹ d_l}: the discriminant directions of the languages
//!   (a generalised eigenproblem B v = λ W v whose non-zero solutions span exactly that),
//!   orthonormalised. A direction along which languages differ but content varies widely
//!   weighs less than one that only tells the language.
//!
//! How it was chosen (benches/RESULTS.md, "Language-neutral similarity"; reference in numpy:
//! benches/neutral_reference.py): against each language's mean over the collection (which
//! erases topics written in one language only), offsets calibrated on the parallel text, and
//! plain principal directions of the languages' means (LIR), on two real manuals.
//!
//! It needs no language id: a query (short, its language hard to tell) is projected like any
//! passage. Stored vectors stay the model's own; the projection applies when similarity is
//! computed, and `neutral: false` / `--no-neutral` switches it off.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::embed::{Encode, InputKind};
use crate::error::{Error, Result};
use crate::store::Fingerprint;

/// The parallel text, compressed: one JSON object per English message, `{"en": …, "de": …}`.
const PARALLEL: &[u8] = include_bytes!("../assets/parallel-gettext.jsonl.gz");

/// Messages per language used by a fit (the first ones in the file, which is in hash order):
/// 200 × 57 languages embed in about 20 s on two cores; 100 gave the same figures within noise
/// on the sets of RESULTS, 400 no better.
pub const MESSAGES_PER_LANGUAGE: usize = 200;

/// A language needs this many of those messages to take part in the fit.
const MIN_MESSAGES: usize = 50;

/// Weight of the identity in the content covariance: 0.1 and 0.3 measured alike, 0.5 let
/// more of the language through.
const SHRINKAGE: f64 = 0.1;

/// Version of the fit and of its file: bump when either changes, so that a cached fit of an
/// older version is made again instead of read.
const VERSION: u32 = 1;

const MAGIC: &[u8; 4] = b"SCLN";

/// The fitted projection: orthonormal directions to remove.
#[derive(Debug, Clone, PartialEq)]
pub struct LanguageSubspace {
    dim: usize,
    /// `rank` rows of `dim` values, orthonormal.
    basis: Vec<f32>,
    /// The languages the fit saw.
    languages: Vec<String>,
}

impl LanguageSubspace {
    /// Fit from embedded parallel text: for each language, the vectors of its messages
    /// (unit length, any order; the languages need not have the same messages, but each
    /// language's mean is only comparable to the others' when they mostly do).
    pub fn fit(dim: usize, by_language: &BTreeMap<String, Vec<Vec<f32>>>) -> Result<Self> {
        let langs: Vec<(&String, &Vec<Vec<f32>>)> = by_language
            .iter()
            .filter(|(_, v)| v.len() >= MIN_MESSAGES)
            .collect();
        if langs.len() < 2 {
            return Err(Error::internal(
                "a language-neutral fit needs parallel text in two languages at least",
            ));
        }
        if let Some(bad) = langs
            .iter()
            .flat_map(|(_, v)| v.iter())
            .find(|v| v.len() != dim)
        {
            return Err(Error::DimensionMismatch {
                what: "a parallel-text vector".into(),
                expected: dim,
                got: bad.len(),
            });
        }
        let means: Vec<Vec<f64>> = langs
            .iter()
            .map(|(_, vs)| {
                let mut m = vec![0f64; dim];
                for v in *vs {
                    for (a, &x) in m.iter_mut().zip(v) {
                        *a += f64::from(x);
                    }
                }
                m.iter_mut().for_each(|a| *a /= vs.len() as f64);
                m
            })
            .collect();
        // Content covariance: every message around its own language's mean.
        let mut w = vec![0f64; dim * dim];
        let mut n = 0usize;
        let mut dev = vec![0f64; dim];
        for ((_, vs), m) in langs.iter().zip(&means) {
            for v in *vs {
                for ((d, &x), &mu) in dev.iter_mut().zip(v.iter()).zip(m) {
                    *d = f64::from(x) - mu;
                }
                for i in 0..dim {
                    let di = dev[i];
                    let row = &mut w[i * dim..(i + 1) * dim];
                    for (r, &dj) in row[i..].iter_mut().zip(&dev[i..]) {
                        *r += di * dj;
                    }
                }
                n += 1;
            }
        }
        let trace: f64 = (0..dim).map(|i| w[i * dim + i]).sum::<f64>() / n as f64;
        for i in 0..dim {
            for j in i..dim {
                let mut x = (1.0 - SHRINKAGE) * w[i * dim + j] / n as f64;
                if i == j {
                    x += SHRINKAGE * trace / dim as f64;
                }
                w[i * dim + j] = x;
                w[j * dim + i] = x;
            }
        }
        let chol = cholesky(&w, dim)?;
        let centre: Vec<f64> = (0..dim)
            .map(|j| means.iter().map(|m| m[j]).sum::<f64>() / means.len() as f64)
            .collect();
        // Each language's discriminant direction W⁻¹ d_l, then Gram-Schmidt: the d_l sum to
        // zero, so one direction (at least) adds nothing and is dropped.
        let mut basis: Vec<Vec<f64>> = Vec::new();
        for m in &means {
            let d: Vec<f64> = m.iter().zip(&centre).map(|(a, b)| a - b).collect();
            let mut x = solve(&chol, dim, &d);
            let before = norm(&x);
            for _ in 0..2 {
                // Twice: modified Gram-Schmidt loses orthogonality on nearly dependent columns.
                for b in &basis {
                    let c: f64 = x.iter().zip(b).map(|(a, b)| a * b).sum();
                    x.iter_mut().zip(b).for_each(|(a, b)| *a -= c * b);
                }
            }
            let after = norm(&x);
            if before > 0.0 && after > 1e-6 * before {
                x.iter_mut().for_each(|a| *a /= after);
                basis.push(x);
            }
        }
        Ok(Self {
            dim,
            basis: basis.iter().flatten().map(|&x| x as f32).collect(),
            languages: langs.iter().map(|(l, _)| (*l).clone()).collect(),
        })
    }

    /// Fit for the model `encoder` runs: embed the parallel text (as passages) and fit.
    pub fn fit_model(encoder: &dyn Encode, dim: usize) -> Result<Self> {
        let mut texts: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for row in parallel_text()?.into_iter().take(MESSAGES_PER_LANGUAGE) {
            for (lang, text) in row {
                texts.entry(lang).or_default().push(text);
            }
        }
        let mut by_language = BTreeMap::new();
        for (lang, ts) in texts {
            let refs: Vec<&str> = ts.iter().map(String::as_str).collect();
            let mut vectors = Vec::with_capacity(refs.len());
            for chunk in refs.chunks(64) {
                let e = encoder.encode(chunk, InputKind::Passage)?;
                vectors.extend((0..e.rows()).map(|i| e.row(i).to_vec()));
            }
            by_language.insert(lang, vectors);
        }
        Self::fit(dim, &by_language)
    }

    /// The fit for `fingerprint`'s model from semclust's cache, made with `encoder` and cached
    /// when it is not there (or unreadable: a cache is never trusted over a new fit).
    pub fn cached_or_fit(
        fingerprint: &Fingerprint,
        encoder: &dyn Encode,
        cache: &Path,
    ) -> Result<Self> {
        if let Some(s) = Self::cached(fingerprint, cache) {
            return Ok(s);
        }
        let s = Self::fit_model(encoder, fingerprint.dimension)?;
        s.save(fingerprint, cache)?;
        Ok(s)
    }

    /// The cached fit for `fingerprint`'s model, if there is a readable one.
    pub fn cached(fingerprint: &Fingerprint, cache: &Path) -> Option<Self> {
        let path = cache_path(fingerprint, cache);
        let bytes = std::fs::read(path).ok()?;
        Self::from_bytes(&bytes, fingerprint).ok()
    }

    fn save(&self, fingerprint: &Fingerprint, cache: &Path) -> Result<()> {
        let path = cache_path(fingerprint, cache);
        let dir = path.parent().unwrap_or(cache);
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        // Written aside and renamed: a reader never sees half a file, and two processes
        // fitting at once both leave a whole one.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, self.to_bytes(fingerprint))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
    }

    fn to_bytes(&self, fingerprint: &Fingerprint) -> Vec<u8> {
        let key = cache_key(fingerprint);
        let langs = self.languages.join(",");
        let mut out = Vec::with_capacity(32 + key.len() + langs.len() + self.basis.len() * 4);
        out.extend_from_slice(MAGIC);
        for x in [VERSION, self.dim as u32, self.rank() as u32] {
            out.extend_from_slice(&x.to_le_bytes());
        }
        for s in [&key, &langs] {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        for x in &self.basis {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out
    }

    fn from_bytes(bytes: &[u8], fingerprint: &Fingerprint) -> Result<Self> {
        let bad = || Error::internal("damaged language-neutral fit");
        let mut r = bytes;
        let mut take = |n: usize| -> Result<&[u8]> {
            if r.len() < n {
                return Err(bad());
            }
            let (a, b) = r.split_at(n);
            r = b;
            Ok(a)
        };
        let u32_at = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if take(4)? != MAGIC || u32_at(take(4)?) != VERSION {
            return Err(bad());
        }
        let dim = u32_at(take(4)?) as usize;
        let rank = u32_at(take(4)?) as usize;
        let key_len = u32_at(take(4)?) as usize;
        let key = std::str::from_utf8(take(key_len)?)
            .map_err(|_| bad())?
            .to_string();
        let langs_len = u32_at(take(4)?) as usize;
        let langs = std::str::from_utf8(take(langs_len)?)
            .map_err(|_| bad())?
            .to_string();
        if key != cache_key(fingerprint) || dim != fingerprint.dimension {
            return Err(bad());
        }
        let n = dim.checked_mul(rank).ok_or_else(bad)?;
        let data = take(n.checked_mul(4).ok_or_else(bad)?)?;
        let basis: Vec<f32> = data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if !basis.iter().all(|x| x.is_finite()) {
            return Err(bad());
        }
        Ok(Self {
            dim,
            basis,
            languages: langs.split(',').map(str::to_string).collect(),
        })
    }

    /// Directions removed.
    pub fn rank(&self) -> usize {
        self.basis.len() / self.dim.max(1)
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The languages of the parallel text the fit saw (ISO 639-1).
    pub fn languages(&self) -> &[String] {
        &self.languages
    }

    /// Remove the language directions from `v` and scale it back to unit length (a vector
    /// that was nothing but language is left as it was: there is nothing else to compare).
    pub fn project(&self, v: &mut [f32]) {
        let c = self.coefficients(v);
        let mut out: Vec<f64> = v.iter().map(|&x| f64::from(x)).collect();
        for (b, &c) in self.basis.chunks_exact(self.dim).zip(&c) {
            out.iter_mut()
                .zip(b)
                .for_each(|(o, &a)| *o -= f64::from(c) * f64::from(a));
        }
        let n = norm(&out);
        if n > 1e-6 {
            v.iter_mut()
                .zip(&out)
                .for_each(|(x, &o)| *x = (o / n) as f32);
        }
    }

    /// `Bv`: the part of `v` along each removed direction, by the flat scan's SIMD kernel (a
    /// search rescores 100 candidates or more: 55 × 384 multiply-adds each).
    fn coefficients(&self, v: &[f32]) -> Vec<f32> {
        let mut c = vec![0f32; self.rank()];
        if !c.is_empty() {
            crate::kernels::dot::scores(&self.basis, self.dim, v, 0, &mut c);
        }
        c
    }

    /// `|Pv|` for a unit `v`: the length left after the language directions are removed,
    /// `sqrt(1 - |Bv|²)` (floored: a vector that is all language is not divided by zero).
    pub fn residual_norm(&self, v: &[f32]) -> f32 {
        let removed: f32 = self.coefficients(v).iter().map(|c| c * c).sum();
        let total: f32 = v.iter().map(|x| x * x).sum();
        (total - removed).max(1e-6).sqrt()
    }

    /// [`Self::project`] each row of a row-major matrix.
    pub fn project_rows(&self, data: &mut [f32]) {
        for row in data.chunks_exact_mut(self.dim) {
            self.project(row);
        }
    }
}

/// Where the fit for `fingerprint`'s model is cached under semclust's cache root.
pub fn cache_path(fingerprint: &Fingerprint, cache: &Path) -> PathBuf {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(cache_key(fingerprint).as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    cache.join("neutral").join(format!("{hex}.bin"))
}

/// What a fit depends on: the model's vectors and the parallel text.
fn cache_key(fp: &Fingerprint) -> String {
    use sha2::Digest;
    let text = sha2::Sha256::digest(PARALLEL);
    let text: String = text[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "v{VERSION} {} {} {} {} text {text} n {MESSAGES_PER_LANGUAGE}",
        fp.model, fp.revision, fp.precision, fp.dimension
    )
}

/// The parallel text: for each message, its text by language (ISO 639-1, `en` included).
pub fn parallel_text() -> Result<Vec<BTreeMap<String, String>>> {
    let mut body = String::new();
    flate2::read::GzDecoder::new(PARALLEL)
        .read_to_string(&mut body)
        .map_err(|e| Error::internal(format!("the parallel text does not decompress: {e}")))?;
    body.lines()
        .map(|l| {
            serde_json::from_str(l)
                .map_err(|e| Error::internal(format!("the parallel text is damaged: {e}")))
        })
        .collect()
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Lower-triangular `L` with `L Lᵀ = a` (`a` symmetric positive definite, row-major).
fn cholesky(a: &[f64], n: usize) -> Result<Vec<f64>> {
    let mut l = vec![0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = a[i * n + i] - s;
                if d <= 0.0 || !d.is_finite() {
                    return Err(Error::internal(
                        "the parallel text's covariance is not positive definite",
                    ));
                }
                l[i * n + i] = d.sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    Ok(l)
}

/// `x` with `L Lᵀ x = b`.
fn solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut y = vec![0f64; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
        y[i] = (b[i] - s) / l[i * n + i];
    }
    let mut x = vec![0f64; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
        x[i] = (y[i] - s) / l[i * n + i];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parallel_text_holds_many_languages() {
        let rows = parallel_text().unwrap();
        assert!(rows.len() >= MESSAGES_PER_LANGUAGE);
        let first: Vec<_> = rows.iter().take(MESSAGES_PER_LANGUAGE).collect();
        let with = |l: &str| first.iter().filter(|r| r.contains_key(l)).count();
        for l in ["en", "de", "fr", "es", "it", "pt", "ru", "zh", "ja", "ar"] {
            assert!(with(l) >= MIN_MESSAGES, "{l}: {}", with(l));
        }
    }

    #[test]
    fn cholesky_solves_a_system() {
        let a = [4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let l = cholesky(&a, 3).unwrap();
        let x = solve(&l, 3, &[1.0, 2.0, 3.0]);
        for i in 0..3 {
            let bi: f64 = (0..3).map(|j| a[i * 3 + j] * x[j]).sum();
            assert!((bi - [1.0, 2.0, 3.0][i]).abs() < 1e-12);
        }
    }
}
