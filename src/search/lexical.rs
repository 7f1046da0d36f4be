//! Lexical (BM25) retrieval with tantivy. Each passage is indexed twice, through a French and an
//! English analyzer (lower-casing, stop words, Snowball stemming, accent folding after stemming
//! so that a query typed without accents still matches), and a query is scored on both fields:
//! the collection is mostly French but its readers ask in several languages.
//!
//! The index is derived from the store and rebuilt whole, into `lexical-GENERATION/` beside the
//! database, when the store's generation moves on: it can never disagree with the store it
//! answers for. Query text is analysed into terms directly (no query syntax), so a question mark,
//! a colon or a minus sign in a question means nothing special.

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

use crate::error::{Error, Result};
use crate::store::StoredPassage;

const FIELDS: [(&str, Language); 2] = [
    ("text_fr", Language::French),
    ("text_en", Language::English),
];

pub struct LexicalIndex {
    index: Index,
    reader: IndexReader,
    id: Field,
    text: Vec<Field>,
}

fn lex_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Lexical(format!("{what}: {e}"))
}

fn analyzer(lang: Language) -> TextAnalyzer {
    let mut b = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .dynamic();
    if let Some(stop) = StopWordFilter::new(lang) {
        b = b.filter_dynamic(stop);
    }
    b.filter_dynamic(Stemmer::new(lang))
        .filter_dynamic(AsciiFoldingFilter)
        .build()
}

fn schema() -> (Schema, Field, Vec<Field>) {
    let mut sb = Schema::builder();
    let id = sb.add_text_field("id", STRING | STORED);
    let text = FIELDS
        .iter()
        .map(|(name, _)| {
            let opts = TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(name)
                    .set_index_option(IndexRecordOption::WithFreqs),
            );
            sb.add_text_field(name, opts)
        })
        .collect();
    (sb.build(), id, text)
}

fn register(index: &Index) {
    for (name, lang) in FIELDS {
        index.tokenizers().register(name, analyzer(lang));
    }
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
                return Ok(ix);
            }
        }
        // One build at a time in this process (a server's writer and its readers may all want
        // the new generation); another process may still race us, which the rename settles.
        static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _building = BUILDING.lock().unwrap_or_else(|p| p.into_inner());
        if target.join("meta.json").is_file() {
            if let Ok(ix) = Self::open(&target) {
                return Ok(ix);
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
        Self::open(&target)
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
            let mut doc = TantivyDocument::default();
            doc.add_text(id, &p.id);
            // The title is part of what a passage is about: "Mazzucato" or "ChatGPT" may be
            // only in the headline.
            let body = format!("{}\n{}", p.title, p.text);
            for f in &text {
                doc.add_text(*f, &body);
            }
            w.add_document(doc).map_err(|e| lex_err("add", e))?;
        }
        w.commit().map_err(|e| lex_err("commit", e))?;
        w.wait_merging_threads().map_err(|e| lex_err("merge", e))?;
        Ok(())
    }

    fn open(path: &Path) -> Result<Self> {
        let index = Index::open_in_dir(path).map_err(|e| lex_err("open", e))?;
        register(&index);
        let reader = index.reader().map_err(|e| lex_err("reader", e))?;
        let schema = index.schema();
        let id = schema.get_field("id").map_err(|e| lex_err("schema", e))?;
        let text = FIELDS
            .iter()
            .map(|(n, _)| schema.get_field(n).map_err(|e| lex_err("schema", e)))
            .collect::<Result<_>>()?;
        Ok(Self {
            index,
            reader,
            id,
            text,
        })
    }

    fn query(&self, text: &str) -> Result<Box<dyn Query>> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, (name, _)) in self.text.iter().zip(FIELDS) {
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
        let lang = FIELDS
            .iter()
            .find(|(n, _)| *n == lang_field)
            .map_or(Language::English, |(_, l)| *l);
        let mut an = analyzer(lang);
        let mut ts = an.token_stream(text);
        let mut out = Vec::new();
        while ts.advance() {
            out.push(ts.token().text.clone());
        }
        out
    }
}

/// `lexical-INSTANCE-GENERATION`: the generation alone repeats when a database is made again.
fn folder_name(instance: &str, generation: u64) -> String {
    format!("lexical-{instance}-{generation}")
}

/// Removes the lexical indexes of older generations and of other instances (including the
/// `lexical-GENERATION` folders of earlier versions), and build folders left by killed runs (an
/// hour old: a younger one may be another process's build in progress). Newer generations stay:
/// a reader on an older snapshot may build its generation after a writer built the next.
fn remove_stale(dir: &Path, instance: &str, generation: u64) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        let stale = if let Some(rest) = name.strip_prefix("lexical-") {
            match rest
                .strip_prefix(instance)
                .and_then(|r| r.strip_prefix('-'))
            {
                Some(g) => g.parse::<u64>().is_ok_and(|g| g < generation),
                None => true,
            }
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

    #[test]
    fn french_analyzer_stems_and_folds() {
        let t = LexicalIndex::analyze("text_fr", "Les investissements étrangers");
        assert_eq!(t, ["invest", "etranger"]);
        let q = LexicalIndex::analyze("text_fr", "investissement etrangers");
        assert_eq!(q, t);
    }
}
