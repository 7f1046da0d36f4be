//! Lexical (BM25) retrieval with tantivy. Each passage is analysed in its own language: the
//! language detected on the passage (or, for a passage too short to tell, its article's) picks
//! the field it is indexed in, and with it tantivy's stop words and Snowball stemmer for that
//! language, then accent folding (after stemming, so that a query typed without accents still
//! matches). A passage in a language tantivy has no stemmer for, or in none that can be told, is
//! indexed lower-cased and folded only. A query is analysed once per language present in the
//! index and scored on each of those fields: a reader asks in any language, and a German query
//! word meets German passages stemmed the German way.
//!
//! The index is derived from the store and rebuilt whole, into `lexical2-INSTANCE-GENERATION/`
//! beside the database, when the store's generation moves on: it can never disagree with the
//! store it answers for. Query text is analysed into terms directly (no query syntax), so a
//! question mark, a colon or a minus sign in a question means nothing special.
//!
//! The same folder keeps what else is worked out from every passage's text once per generation:
//! which texts recur across documents ([`RecurrenceById`], in `recurrence.json`), for search to
//! fold and rank boilerplate.

use std::collections::HashMap;
use std::path::Path;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, STORED, STRING,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer,
};
use tantivy::{Index, IndexReader, TantivyDocument, Term};

use crate::boilerplate::RecurrenceById;
use crate::error::{Error, Result};
use crate::store::StoredPassage;

/// An index with this share of its words in one language is a one-language collection (see
/// [`LexicalIndex::main_language`]).
pub const ONE_LANGUAGE_SHARE: f64 = 0.9;

/// The file of the folder that holds the passages' recurrence.
const RECURRENCE_FILE: &str = "recurrence.json";

/// The languages tantivy stems, by the ISO 639-1 code [`crate::language::detect`] gives.
const LANGUAGES: &[(&str, Language)] = &[
    ("ar", Language::Arabic),
    ("da", Language::Danish),
    ("de", Language::German),
    ("el", Language::Greek),
    ("en", Language::English),
    ("es", Language::Spanish),
    ("fi", Language::Finnish),
    ("fr", Language::French),
    ("hu", Language::Hungarian),
    ("it", Language::Italian),
    ("nl", Language::Dutch),
    ("no", Language::Norwegian),
    ("pt", Language::Portuguese),
    ("ro", Language::Romanian),
    ("ru", Language::Russian),
    ("sv", Language::Swedish),
    ("ta", Language::Tamil),
    ("tr", Language::Turkish),
];

/// The field of passages in no stemmed language: lower-cased and folded only.
const OTHER: &str = "text_other";

/// Folder names of this index format; `lexical-` folders are an older format's.
const PREFIX: &str = "lexical2-";

fn field_name(code: &str) -> String {
    format!("text_{code}")
}

/// Every field: one per stemmed language, then [`OTHER`].
fn field_names() -> impl Iterator<Item = (String, Option<Language>)> {
    LANGUAGES
        .iter()
        .map(|(c, l)| (field_name(c), Some(*l)))
        .chain(std::iter::once((OTHER.to_string(), None)))
}

pub struct LexicalIndex {
    index: Index,
    reader: IndexReader,
    id: Field,
    /// The fields that hold passages, with their analyzer's name: a query is analysed for each.
    present: Vec<(Field, String)>,
    /// Words indexed per language (ISO 639-1; `other` for the languages without a field of
    /// their own and the passages whose language could not be told).
    words: Vec<(String, u64)>,
    /// Which passages' texts recur across documents; `None` in a folder written before it was
    /// kept, until it is added.
    recurrence: Option<RecurrenceById>,
}

/// Work out the recurrence of `passages` and write it into `folder`.
fn write_recurrence(folder: &Path, passages: &[StoredPassage]) -> Result<RecurrenceById> {
    let r = RecurrenceById::of(
        passages
            .iter()
            .map(|p| (p.id.as_str(), p.document.as_str(), p.text.as_str())),
    );
    crate::util::fs::write_atomic(&folder.join(RECURRENCE_FILE), |w| {
        serde_json::to_writer(w, &r).map_err(std::io::Error::other)
    })?;
    Ok(r)
}

fn lex_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Lexical(format!("{what}: {e}"))
}

fn analyzer(lang: Option<Language>) -> TextAnalyzer {
    let mut b = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .dynamic();
    if let Some(lang) = lang {
        if let Some(stop) = StopWordFilter::new(lang) {
            b = b.filter_dynamic(stop);
        }
        b = b.filter_dynamic(Stemmer::new(lang));
    }
    b.filter_dynamic(AsciiFoldingFilter).build()
}

fn schema() -> (Schema, Field, HashMap<String, Field>) {
    let mut sb = Schema::builder();
    let id = sb.add_text_field("id", STRING | STORED);
    let text = field_names()
        .map(|(name, _)| {
            let opts = TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(&name)
                    .set_index_option(IndexRecordOption::WithFreqs),
            );
            let f = sb.add_text_field(&name, opts);
            (name, f)
        })
        .collect();
    (sb.build(), id, text)
}

fn register(index: &Index) {
    for (name, lang) in field_names() {
        index.tokenizers().register(&name, analyzer(lang));
    }
}

/// The field a passage is indexed in: its own language where it can be told, else its
/// article's `lang` (declared in its metadata, or detected on the article when it was read:
/// a heading or a list item says too little alone), else [`OTHER`].
fn passage_field(p: &StoredPassage) -> String {
    p.language()
        .filter(|code| LANGUAGES.iter().any(|(c, _)| c == code))
        .map_or_else(|| OTHER.to_string(), |code| field_name(&code))
}

impl LexicalIndex {
    fn try_open_or_build(
        dir: &Path,
        instance: &str,
        generation: u64,
        passages: &mut impl FnMut() -> Result<Vec<StoredPassage>>,
    ) -> Result<Self> {
        let target = dir.join(folder_name(instance, generation));
        if target.join("meta.json").is_file() {
            if let Ok(ix) = Self::open(&target) {
                return ix.with_recurrence(&target, passages);
            }
        }
        // One build at a time in this process (a server's writer and its readers may all want
        // the new generation); another process may still race us, which the rename settles.
        static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _building = BUILDING.lock().unwrap_or_else(|p| p.into_inner());
        if target.join("meta.json").is_file() {
            match Self::open(&target) {
                Ok(ix) => return ix.with_recurrence(&target, passages),
                // A damaged cache (a disk error, a copy cut short, an edit by hand) is built
                // again from the store, which holds everything it was made from, as the HNSW
                // graph is.
                Err(e) => {
                    crate::util::log(&format!(
                        "the lexical index {} is damaged ({e}): building it again",
                        target.display()
                    ));
                    std::fs::remove_dir_all(&target).map_err(|e| {
                        Error::io(
                            format!(
                                "cannot remove the damaged lexical index {}; delete that folder by hand",
                                target.display()
                            ),
                            e,
                        )
                    })?;
                }
            }
        }
        let passages = passages()?;
        // Built in a temporary folder and renamed: a killed build leaves no half index behind.
        let tmp = tempfile::Builder::new()
            .prefix(".lexical-build-")
            .tempdir_in(dir)
            .map_err(|e| Error::io(format!("cannot write in {}", dir.display()), e))?;
        Self::build(tmp.path(), &passages)?;
        let tmp = tmp.keep();
        if target.exists() && !target.join("meta.json").is_file() {
            // A half-written folder from an older version or a crash.
            let _ = std::fs::remove_dir_all(&target);
        }
        if let Err(e) = std::fs::rename(&tmp, &target) {
            let _ = std::fs::remove_dir_all(&tmp);
            // Another process built the same generation first: use its index.
            if !target.join("meta.json").is_file() {
                return Err(Error::io(format!("cannot write {}", target.display()), e));
            }
        }
        remove_stale(dir, instance, generation);
        Self::open(&target)?.with_recurrence(&target, &mut || Ok(passages.clone()))
    }

    /// This index with its passages' recurrence, worked out and written into `folder` when a
    /// folder of an older version lacks it.
    fn with_recurrence(
        mut self,
        folder: &Path,
        passages: &mut impl FnMut() -> Result<Vec<StoredPassage>>,
    ) -> Result<Self> {
        if self.recurrence.is_none() {
            let ps = passages()?;
            self.recurrence = Some(write_recurrence(folder, &ps)?);
        }
        Ok(self)
    }

    /// The language most of the index is written in: the one holding at least
    /// `ONE_LANGUAGE_SHARE` of its words (counted per passage's language, as the lexical
    /// index analyses them), if there is one (`other`, unknown, never is).
    pub fn main_language(&self) -> Option<&str> {
        let total: u64 = self.words.iter().map(|(_, n)| n).sum();
        self.words
            .iter()
            .find(|(l, n)| l != "other" && *n as f64 >= ONE_LANGUAGE_SHARE * total as f64)
            .map(|(l, _)| l.as_str())
    }

    /// Which passages' texts recur across documents (see [`crate::boilerplate`]).
    pub fn recurrence(&self) -> &RecurrenceById {
        static NONE: std::sync::OnceLock<RecurrenceById> = std::sync::OnceLock::new();
        self.recurrence
            .as_ref()
            .unwrap_or_else(|| NONE.get_or_init(RecurrenceById::default))
    }

    /// Open the lexical index of the store `instance` at `generation` in `dir`, building it
    /// from `passages` (called only when it is absent) and removing older generations and the
    /// indexes of other instances (a database deleted and made again).
    pub fn open_or_build(
        dir: &Path,
        instance: &str,
        generation: u64,
        mut passages: impl FnMut() -> Result<Vec<StoredPassage>>,
    ) -> Result<Self> {
        // Another process that finished a newer generation removes ours, possibly between our
        // rename and our open: build it again (each rival removes it at most once per build).
        let mut attempts = 0;
        loop {
            match Self::try_open_or_build(dir, instance, generation, &mut passages) {
                Err(_) if attempts < 8 && !dir.join(folder_name(instance, generation)).exists() => {
                    attempts += 1;
                }
                other => return other,
            }
        }
    }

    fn build(path: &Path, passages: &[StoredPassage]) -> Result<()> {
        let (schema, id, text) = schema();
        let index = Index::create_in_dir(path, schema).map_err(|e| lex_err("create", e))?;
        register(&index);
        let mut w = index
            .writer_with_num_threads::<TantivyDocument>(1, 50_000_000)
            .map_err(|e| lex_err("writer", e))?;
        for p in passages {
            let field = passage_field(p);
            let mut doc = TantivyDocument::default();
            doc.add_text(id, &p.id);
            // The title is part of what a passage is about: "Mazzucato" or "ChatGPT" may be
            // only in the headline.
            let body = format!("{}\n{}", p.title, p.text);
            doc.add_text(text[&field], &body);
            w.add_document(doc).map_err(|e| lex_err("add", e))?;
        }
        w.commit().map_err(|e| lex_err("commit", e))?;
        w.wait_merging_threads().map_err(|e| lex_err("merge", e))?;
        write_recurrence(path, passages)?;
        Ok(())
    }

    fn open(path: &Path) -> Result<Self> {
        let index = Index::open_in_dir(path).map_err(|e| lex_err("open", e))?;
        register(&index);
        let reader = index.reader().map_err(|e| lex_err("reader", e))?;
        let schema = index.schema();
        let id = schema.get_field("id").map_err(|e| lex_err("schema", e))?;
        let searcher = reader.searcher();
        let mut present = Vec::new();
        let mut words = Vec::new();
        for (name, _) in field_names() {
            let field = schema.get_field(&name).map_err(|e| lex_err("schema", e))?;
            let mut used = false;
            let mut tokens = 0u64;
            for segment in searcher.segment_readers() {
                let inverted = segment
                    .inverted_index(field)
                    .map_err(|e| lex_err("read", e))?;
                used |= inverted.terms().num_terms() > 0;
                tokens += inverted.total_num_tokens();
            }
            if used {
                let code = name.strip_prefix("text_").unwrap_or(&name).to_string();
                words.push((code, tokens));
                present.push((field, name));
            }
        }
        // Unreadable is as good as absent: it is worked out again from the store.
        let recurrence = std::fs::read(path.join(RECURRENCE_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        Ok(Self {
            index,
            reader,
            id,
            present,
            words,
            recurrence,
        })
    }

    fn query(&self, text: &str) -> Result<Box<dyn Query>> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, name) in &self.present {
            let mut an = self
                .index
                .tokenizers()
                .get(name)
                .ok_or_else(|| lex_err("analyzer", name))?;
            let mut ts = an.token_stream(text);
            let mut seen = std::collections::HashSet::new();
            while ts.advance() {
                let t = ts.token().text.clone();
                if seen.insert(t.clone()) {
                    clauses.push((
                        Occur::Should,
                        Box::new(TermQuery::new(
                            Term::from_field_text(*field, &t),
                            IndexRecordOption::WithFreqs,
                        )),
                    ));
                }
            }
        }
        Ok(Box::new(BooleanQuery::new(clauses)))
    }

    /// BM25 top-k: (passage id, score), best first. A query with no indexable word gives nothing.
    pub fn search(&self, text: &str, k: usize) -> Result<Vec<(String, f32)>> {
        let searcher = self.reader.searcher();
        // tantivy sizes its heap for k up front: never more than there are documents.
        let k = k.min(usize::try_from(searcher.num_docs()).unwrap_or(usize::MAX));
        if k == 0 {
            return Ok(Vec::new());
        }
        let q = self.query(text)?;
        let top = searcher
            .search(&q, &TopDocs::with_limit(k).order_by_score())
            .map_err(|e| lex_err("search", e))?;
        top.into_iter()
            .map(|(score, addr)| {
                let d: TantivyDocument = searcher.doc(addr).map_err(|e| lex_err("read", e))?;
                let id = d
                    .get_first(self.id)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string();
                Ok((id, score))
            })
            .collect()
    }

    /// The terms a text is reduced to for one language, for tests and explanations.
    pub fn analyze(lang_field: &str, text: &str) -> Vec<String> {
        let lang = field_names()
            .find(|(n, _)| n == lang_field)
            .and_then(|(_, l)| l);
        let mut an = analyzer(lang);
        let mut ts = an.token_stream(text);
        let mut out = Vec::new();
        while ts.advance() {
            out.push(ts.token().text.clone());
        }
        out
    }
}

/// `lexical2-INSTANCE-GENERATION`: the generation alone repeats when a database is made again.
fn folder_name(instance: &str, generation: u64) -> String {
    format!("{PREFIX}{instance}-{generation}")
}

/// Removes the lexical indexes of older generations and of other instances (including the
/// `lexical-` folders of earlier formats), and build folders left by killed runs (an
/// hour old: a younger one may be another process's build in progress). Newer generations stay:
/// a reader on an older snapshot may build its generation after a writer built the next.
fn remove_stale(dir: &Path, instance: &str, generation: u64) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        let stale = if let Some(rest) = name.strip_prefix(PREFIX) {
            match rest
                .strip_prefix(instance)
                .and_then(|r| r.strip_prefix('-'))
            {
                Some(g) => g.parse::<u64>().is_ok_and(|g| g < generation),
                None => true,
            }
        } else if name.starts_with("lexical-") {
            // An older format's index.
            true
        } else if name.starts_with(".lexical-build-") || name.starts_with(".lexical-trash-") {
            e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(3600))
        } else {
            false
        };
        if stale {
            // Renamed away first, so that a process opening it sees the whole folder or none
            // (and then builds its own), never one half deleted.
            let trash = dir.join(format!(".lexical-trash-{}-{name}", std::process::id()));
            if std::fs::rename(&p, &trash).is_ok() {
                let _ = std::fs::remove_dir_all(&trash);
            } else {
                let _ = std::fs::remove_dir_all(&p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The paragraphs of a real Debian Reference page, as passages of one document.
    fn passages(file: &str, doc: &str) -> Vec<StoredPassage> {
        let path = format!(
            "{}/../../tests/fixtures/real/debian-reference/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path)
            .unwrap()
            .split("\n\n")
            .filter(|t| t.trim().len() > 30)
            .enumerate()
            .map(|(i, t)| StoredPassage {
                id: format!("{doc}/1/{i}"),
                document: doc.into(),
                path: path.clone(),
                article_key: "1".into(),
                paragraph: i as u32,
                title: String::new(),
                section: None,
                meta: Default::default(),
                span: (0, 0),
                hash: String::new(),
                text: t.trim().to_string(),
            })
            .collect()
    }

    #[test]
    fn each_passage_is_stemmed_in_its_own_language() {
        let mut all = passages("pr01.de.txt", "de");
        all.extend(passages("pr01.es.txt", "es"));
        let fields: Vec<String> = all.iter().map(passage_field).collect();
        let german = fields.iter().filter(|f| *f == "text_de").count();
        let spanish = fields.iter().filter(|f| *f == "text_es").count();
        assert!(german > 30 && spanish > 30, "de {german}, es {spanish}");
        let dir = tempfile::tempdir().unwrap();
        let ix = LexicalIndex::open_or_build(dir.path(), "t", 1, || Ok(all.clone())).unwrap();
        // "Paketen" is written once in the page; German stemming finds every form of "Paket".
        let hits = ix.search("Paketen", 100).unwrap();
        let forms = passages_with(
            &all,
            "de/",
            &[
                "Paket ", "Pakete ", "Pakets", "Paketen", "Paket.", "Paket,", "Pakete,", "Pakete.",
            ],
        );
        assert!(
            hits.len() >= forms && forms >= 5,
            "{} hits, {forms} passages with a form",
            hits.len()
        );
        assert!(hits.iter().all(|(id, _)| id.starts_with("de/")), "{hits:?}");
        // A Spanish plural finds the singular, in Spanish passages.
        let hits = ix.search("paquetes", 100).unwrap();
        let singular = all
            .iter()
            .filter(|p| {
                p.id.starts_with("es/")
                    && p.text.contains("paquete ")
                    && !p.text.contains("paquetes")
            })
            .count();
        assert!(singular > 0);
        let found_singular = hits
            .iter()
            .filter(|(id, _)| {
                let p = all.iter().find(|p| &p.id == id).unwrap();
                !p.text.contains("paquetes")
            })
            .count();
        assert!(found_singular >= singular, "{found_singular} of {singular}");
    }

    /// Passages under `prefix` holding any of `forms`.
    fn passages_with(all: &[StoredPassage], prefix: &str, forms: &[&str]) -> usize {
        all.iter()
            .filter(|p| p.id.starts_with(prefix) && forms.iter().any(|f| p.text.contains(f)))
            .count()
    }

    #[test]
    fn a_passage_too_short_to_tell_takes_its_articles_language() {
        let mut p = passages("pr01.de.txt", "de").remove(0);
        p.text = "Paketverwaltung".into();
        assert_eq!(passage_field(&p), OTHER);
        p.meta.insert("lang".into(), "de-DE".into());
        assert_eq!(passage_field(&p), "text_de");
    }

    #[test]
    fn german_and_spanish_analyzers_stem() {
        let de = |t| LexicalIndex::analyze("text_de", t);
        assert_eq!(de("Paketen"), de("Pakete"));
        let es = |t| LexicalIndex::analyze("text_es", t);
        assert_eq!(es("paquetes"), es("paquete"));
        // No language: lower-cased and folded, not stemmed.
        assert_eq!(
            LexicalIndex::analyze("text_other", "Pakete Éditions"),
            ["pakete", "editions"]
        );
    }

    #[test]
    fn french_analyzer_stems_and_folds() {
        let t = LexicalIndex::analyze("text_fr", "Les investissements étrangers");
        assert_eq!(t, ["invest", "etranger"]);
        let q = LexicalIndex::analyze("text_fr", "investissement etrangers");
        assert_eq!(q, t);
    }
}
