//! Where passages and their vectors live, and nearest-neighbour search over them.
//!
//! [`VectorStore`] is the reading side (passages, vectors, dense top-k), [`VectorStoreWrite`] the
//! writing side (incremental, transactional changes). The embedded default is [`SqliteStore`]:
//! one SQLite file per index, searched exactly ([`flat`]) below a size threshold and through an
//! HNSW graph ([`ann`]) above it.

pub mod ann;
mod filter;
pub mod flat;
mod location;
#[cfg(feature = "postgres")]
mod pgconn;
#[cfg(feature = "postgres")]
mod postgres;
mod sqlite;

use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::corpus::{Meta, Passage};
use crate::error::Result;

pub use crate::fingerprint::Fingerprint;
pub use filter::Filter;
pub use location::{is_postgres_url, HnswOptions, StoreLocation};
#[cfg(feature = "postgres")]
pub use pgconn::PgTarget;
#[cfg(feature = "postgres")]
pub use postgres::{LoadTiming, PgStore};
pub use sqlite::SqliteStore;

/// A passage as stored: everything a search result shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredPassage {
    pub id: String,
    /// The document (file) key.
    pub document: String,
    /// The file the document was read from (absolute path at indexing time).
    pub path: String,
    /// Article key within the document.
    pub article_key: String,
    pub paragraph: u32,
    /// The article's title.
    pub title: String,
    /// The headings above the passage under the title, `Section › Subsection`.
    pub section: Option<String>,
    /// The article's metadata (see [`crate::corpus::Passage::meta`]).
    pub meta: Meta,
    pub span: (u64, u64),
    pub hash: String,
    pub text: String,
}

impl StoredPassage {
    /// Its language: the one detected on its text where it can be told, else its article's
    /// `lang` (declared in its metadata, or detected on the article when it was read: a heading
    /// or a list item says too little alone). ISO 639-1, lower case.
    pub fn language(&self) -> Option<String> {
        crate::language::detect(&self.text)
            .map(str::to_string)
            .or_else(|| self.article_language())
    }

    /// The `lang` of its article (its metadata's, or detected on the article when it was
    /// read), ISO 639-1, lower case.
    pub fn article_language(&self) -> Option<String> {
        let lang = self.meta.get("lang")?.as_str()?;
        // `de-DE`, `pt_BR`: the language is the primary subtag.
        Some(lang.split(['-', '_']).next()?.to_ascii_lowercase())
    }
}

/// A store's name for one row of a search answer, to hand back to
/// [`VectorStore::passages_by_keys`] of the same store. What it holds is the store's business (a
/// row of the search matrix for SQLite, the row's identity for PostgreSQL) and is meaningful
/// only for the state of the index the search read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RowKey(pub(crate) u64);

/// A dense search result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredRow {
    pub key: RowKey,
    /// Cosine similarity (inner product of normalised vectors).
    pub score: f32,
}

/// A dense top-k query: the `k` rows of highest inner product with `vector`, best first.
#[derive(Debug, Clone, Copy)]
pub struct Nearest<'a> {
    pub vector: &'a [f32],
    pub k: usize,
    pub exclude: &'a Exclude,
    pub method: SearchMethod,
}

impl Nearest<'_> {
    /// The query vector must have the index's dimension (both stores check it before reading).
    pub(crate) fn check(&self, dimension: usize) -> Result<()> {
        if self.vector.len() != dimension {
            return Err(crate::Error::DimensionMismatch {
                what: "the query vector".into(),
                expected: dimension,
                got: self.vector.len(),
            });
        }
        Ok(())
    }
}

/// Which rows a search must skip.
#[derive(Debug, Clone, Default)]
pub struct Exclude {
    /// This passage (the one `related` starts from).
    pub passage: Option<String>,
    /// Every passage of this (document, article).
    pub article: Option<(String, String)>,
    /// When set, every passage whose id is not in it (a metadata filter's matches).
    pub outside: Option<std::sync::Arc<std::collections::HashSet<String>>>,
}

impl Exclude {
    /// Nothing excluded.
    pub const NONE: Exclude = Exclude {
        passage: None,
        article: None,
        outside: None,
    };

    pub fn is_empty(&self) -> bool {
        self.passage.is_none() && self.article.is_none() && self.outside.is_none()
    }
}

/// How dense search runs; named `auto`, `exact` and `ann` on the command line and over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SearchMethod {
    /// Exact up to 20,000 passages, the HNSW graph above.
    #[default]
    Auto,
    /// An exact scan of every vector.
    Exact,
    /// The HNSW graph.
    #[serde(rename = "ann")]
    Approximate,
}

impl crate::util::choice::Choice for SearchMethod {
    const CHOICES: &'static [(Self, &'static str, &'static str)] = &[
        (
            SearchMethod::Auto,
            "auto",
            "Exact up to 20,000 passages, the HNSW graph above",
        ),
        (
            SearchMethod::Exact,
            "exact",
            "An exact scan of every vector",
        ),
        (SearchMethod::Approximate, "ann", "The HNSW graph"),
    ];
}

crate::util::choice::impl_display_and_from_str!(SearchMethod, "method");

/// Above this many passages `Auto` search uses the HNSW graph: a flat scan of 20,000 × 384
/// floats takes about 2 ms on one core, below that the graph does not pay for itself.
pub const ANN_THRESHOLD: usize = 20_000;

/// The reading side of a store: with [`VectorStoreWrite`], everything the rest of semclust
/// asks of an index, whichever backend holds it.
pub trait VectorStore {
    fn fingerprint(&self) -> &Fingerprint;
    fn len(&self) -> Result<usize>;
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
    fn passage(&self, id: &str) -> Result<Option<StoredPassage>>;
    /// The passages of search results, in the order of `keys`; a passage deleted since the
    /// search is left out.
    fn passages_by_keys(&self, keys: &[RowKey]) -> Result<Vec<StoredPassage>>;
    /// All passages, in id order.
    fn passages(&self) -> Result<Vec<StoredPassage>>;
    fn vector(&self, id: &str) -> Result<Option<Vec<f32>>>;
    /// The vectors of one article's passages (`document`, `article_key`), in no set order.
    fn article_vectors(&self, document: &str, article_key: &str) -> Result<Vec<Vec<f32>>>;
    /// The vectors of search rows, in the order of `keys` (a row deleted since the search
    /// gets the zero vector, which no view ranks first). The default reads each passage.
    fn vectors_by_keys(&self, keys: &[RowKey]) -> Result<Vec<Vec<f32>>> {
        let dim = self.fingerprint().dimension;
        keys.iter()
            .map(|&k| {
                Ok(match self.passages_by_keys(&[k])?.first() {
                    Some(p) => self.vector(&p.id)?.unwrap_or_else(|| vec![0.0; dim]),
                    None => vec![0.0; dim],
                })
            })
            .collect()
    }
    /// Dense top-k by inner product, best first.
    fn nearest(&self, query: &Nearest<'_>) -> Result<Vec<ScoredRow>>;
    /// Build now what [`Self::nearest`] would build on its first call (the SQLite store's
    /// search matrix and, above [`ANN_THRESHOLD`] passages, its HNSW graph), so that indexing
    /// waits for it rather than the first question. A store that builds its graph while
    /// writing has nothing to do.
    fn prepare_nearest(&self) -> Result<()> {
        Ok(())
    }
    /// The passage id of every search row.
    fn row_ids(&self) -> Result<Vec<String>>;
    /// All vectors, row-major, in `row_ids` order.
    fn vectors(&self) -> Result<Vec<f32>>;
    /// Drawn when the index was created: with the generation it names every cache derived from
    /// the index, so that a cache never answers for an index deleted and made again.
    fn instance(&self) -> Result<String>;
    /// The folder where caches derived from the index (the lexical index) live.
    fn cache_dir(&self) -> Result<PathBuf>;
    /// Whether the index this store opened is no longer the one at its location (its database
    /// file deleted, or replaced by a new index): a long-lived reader then opens it again
    /// instead of answering from a deleted file.
    fn replaced(&self) -> bool {
        false
    }
    /// Candidate list size of graph (HNSW) searches; a store without a graph has nothing to set.
    fn set_ef_search(&mut self, _ef: usize) {}
    /// Start a consistent view for the reads until [`Self::end_read`] (see [`snapshot`]). A
    /// store whose every statement already sees committed state has nothing to do.
    fn begin_read(&mut self) -> Result<()> {
        Ok(())
    }
    fn end_read(&mut self) -> Result<()> {
        Ok(())
    }
}

/// An opened index of either backend.
pub type AnyStore = Box<dyn VectorStoreWrite + Send>;

impl std::fmt::Debug for dyn VectorStoreWrite + Send {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "store of {}", self.fingerprint())
    }
}

/// Run `f` on one consistent state of `store` while other processes or threads may write to
/// it (SQLite: one read transaction, with search data reloaded if a writer committed since it
/// was loaded; PostgreSQL: each statement sees committed state, and a passage deleted between
/// a search and the fetch of its text is left out of the answer).
pub fn snapshot<R>(
    store: &mut AnyStore,
    f: impl FnOnce(&dyn VectorStoreWrite) -> Result<R>,
) -> Result<R> {
    store.begin_read()?;
    let result = f(&**store);
    let end = store.end_read();
    let r = result?;
    end?;
    Ok(r)
}

/// One stored passage as the indexer compares it with the file: content hash and where it sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassageState {
    pub hash: String,
    pub article: String,
    pub paragraph: u32,
    pub title: String,
    pub span: (u64, u64),
    pub section: Option<String>,
    pub meta: Meta,
}

impl PassageState {
    pub fn of(p: &Passage) -> Self {
        Self {
            hash: p.hash.clone(),
            article: p.article.clone(),
            paragraph: p.paragraph,
            title: p.title.clone(),
            span: p.span,
            section: p.section.clone(),
            meta: p.meta.clone(),
        }
    }
}

/// One document's state as stored: passage id → state.
pub type DocumentState = HashMap<String, PassageState>;

/// A set of changes applied in one transaction.
#[derive(Debug, Default)]
pub struct Changes {
    /// Documents (key, path) to create or update.
    pub documents: Vec<(String, String)>,
    /// Passages with their vectors, added or replacing the passage of the same id.
    pub upserts: Vec<(Passage, Vec<f32>)>,
    /// Passages whose metadata (title, span) changed but whose text did not.
    pub touched: Vec<Passage>,
    pub deleted_passages: Vec<String>,
    /// Documents removed with all their passages.
    pub deleted_documents: Vec<String>,
}

impl Changes {
    /// Every vector must have the index's dimension: both stores check before writing anything.
    pub(crate) fn check_dimension(&self, dimension: usize) -> Result<()> {
        match self.upserts.iter().find(|(_, v)| v.len() != dimension) {
            Some((p, v)) => Err(crate::Error::DimensionMismatch {
                what: format!("the vector of passage {}", p.id),
                expected: dimension,
                got: v.len(),
            }),
            None => Ok(()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
            && self.upserts.is_empty()
            && self.touched.is_empty()
            && self.deleted_passages.is_empty()
            && self.deleted_documents.is_empty()
    }
}

/// The writing side of a store.
pub trait VectorStoreWrite: VectorStore {
    /// Every stored document: key → path.
    fn documents(&self) -> Result<HashMap<String, String>>;
    fn document_state(&self, document: &str) -> Result<DocumentState>;
    /// A stored vector for this content hash, so that moved or restored text is not embedded
    /// again.
    fn vector_for_hash(&self, hash: &str) -> Result<Option<Vec<f32>>>;
    /// Apply all changes or none.
    fn apply(&mut self, changes: Changes) -> Result<()>;
    /// Bumped by every `apply`: caches derived from the store (lexical index, HNSW graph) are
    /// valid while their generation matches.
    fn generation(&self) -> Result<u64>;
}
