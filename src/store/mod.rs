//! Where passages and their vectors live, and nearest-neighbour search over them.
//!
//! [`VectorStore`] is the reading side (passages, vectors, dense top-k), [`VectorStoreWrite`] the
//! writing side (incremental, transactional changes). The embedded default is [`SqliteStore`]:
//! one SQLite file per index, searched exactly ([`flat`]) below a size threshold and through an
//! HNSW graph ([`ann`]) above it.

pub mod ann;
pub mod flat;
pub mod location;
pub mod pgconn;
pub mod postgres;
pub mod sqlite;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::corpus::Passage;
use crate::error::Result;

pub use location::{AnyStore, StoreLocation};
pub use pgconn::PgTarget;
pub use postgres::{HnswOptions, PgStore};
pub use sqlite::SqliteStore;

/// What produced an index's vectors: vectors of another model (or precision) are not comparable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub model: String,
    pub revision: String,
    pub precision: String,
    pub dimension: usize,
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}, {}-d, revision {})",
            self.model,
            self.precision,
            self.dimension,
            crate::util::text::prefix_chars(&self.revision, 12)
        )
    }
}

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
    pub span: (u64, u64),
    pub hash: String,
    pub text: String,
}

/// A dense search result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredRow {
    /// The store's key for the row, resolved by [`VectorStore::passages_by_rows`] (a row number
    /// for SQLite, the row's identity for PostgreSQL).
    pub row: u32,
    /// Cosine similarity (inner product of normalised vectors).
    pub score: f32,
}

/// Which rows a search must skip.
#[derive(Debug, Clone, Default)]
pub struct Exclude {
    /// This passage (the one `related` starts from).
    pub passage: Option<String>,
    /// Every passage of this (document, article).
    pub article: Option<(String, String)>,
}

impl Exclude {
    pub fn is_empty(&self) -> bool {
        self.passage.is_none() && self.article.is_none()
    }
}

/// How dense search runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchMethod {
    /// Exact below [`ANN_THRESHOLD`] passages, HNSW above.
    Auto,
    Exact,
    Approximate,
}

/// Above this many passages `Auto` search uses the HNSW graph: a flat scan of 20,000 × 384
/// floats takes about 2 ms on one core, below that the graph does not pay for itself.
pub const ANN_THRESHOLD: usize = 20_000;

/// The reading side of a store.
pub trait VectorStore {
    fn fingerprint(&self) -> &Fingerprint;
    fn len(&self) -> Result<usize>;
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
    fn passage(&self, id: &str) -> Result<Option<StoredPassage>>;
    fn passages_by_rows(&self, rows: &[u32]) -> Result<Vec<StoredPassage>>;
    /// All passages, in id order.
    fn passages(&self) -> Result<Vec<StoredPassage>>;
    fn vector(&self, id: &str) -> Result<Option<Vec<f32>>>;
    /// Dense top-k by inner product, best first.
    fn nearest(
        &self,
        query: &[f32],
        k: usize,
        exclude: &Exclude,
        method: SearchMethod,
    ) -> Result<Vec<ScoredRow>>;
    /// The passage id of every search row.
    fn row_ids(&self) -> Result<Vec<String>>;
    /// All vectors, row-major, in `row_ids` order.
    fn vectors(&self) -> Result<Vec<f32>>;
}

/// One stored passage as the indexer compares it with the file: content hash and where it sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassageState {
    pub hash: String,
    pub article: String,
    pub paragraph: u32,
    pub title: String,
    pub span: (u64, u64),
}

impl PassageState {
    pub fn of(p: &Passage) -> Self {
        Self {
            hash: p.hash.clone(),
            article: p.article.clone(),
            paragraph: p.paragraph,
            title: p.title.clone(),
            span: p.span,
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
