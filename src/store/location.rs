//! Which store an index lives in — a folder (SQLite) or a PostgreSQL schema — and one type that
//! is either, so that commands and the server are written once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::pgconn::{is_postgres_url, PgTarget};
use super::postgres::{HnswOptions, PgStore};
use super::{
    Changes, DocumentState, Exclude, Fingerprint, ScoredRow, SearchMethod, SqliteStore,
    StoredPassage, VectorStore, VectorStoreWrite,
};
use crate::error::Result;

/// Where an index lives.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    /// An index folder holding a SQLite database.
    Dir(PathBuf),
    /// A schema in a PostgreSQL database with pgvector.
    Postgres(Box<PgTarget>),
}

impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Dir(d) => write!(f, "{}", d.display()),
            StoreLocation::Postgres(t) => write!(f, "{t}"),
        }
    }
}

impl StoreLocation {
    /// `--store URL` wins over `--index DIR`.
    pub fn new(dir: &Path, store: Option<&str>) -> Result<Self> {
        match store.map(str::trim).filter(|s| !s.is_empty()) {
            Some(url) if is_postgres_url(url) => Ok(StoreLocation::Postgres(Box::new(PgTarget::parse(url)?))),
            Some(other) => Err(crate::Error::InvalidArgument(format!(
                "--store {}: expected a postgres://USER@HOST:PORT/DATABASE URL (for a folder use --index DIR)",
                crate::util::text::redact_secrets(other)
            ))),
            None => Ok(StoreLocation::Dir(dir.to_path_buf())),
        }
    }

    /// The flag that names this store, for messages telling users what to run.
    pub fn flag(&self) -> String {
        match self {
            StoreLocation::Dir(d) => format!("--index {}", d.display()),
            StoreLocation::Postgres(t) => format!("--store {t}"),
        }
    }

    /// The index if it exists.
    pub fn open_existing(&self) -> Result<Option<AnyStore>> {
        match self {
            StoreLocation::Dir(d) => {
                if d.join(super::sqlite::DB_FILE).is_file() {
                    Ok(Some(AnyStore::Sqlite(Box::new(SqliteStore::open(d)?))))
                } else {
                    Ok(None)
                }
            }
            StoreLocation::Postgres(t) => {
                Ok(PgStore::open_existing(t)?.map(|s| AnyStore::Postgres(Box::new(s))))
            }
        }
    }

    /// The index, which must exist.
    pub fn open(&self) -> Result<AnyStore> {
        match self {
            StoreLocation::Dir(d) => Ok(AnyStore::Sqlite(Box::new(SqliteStore::open(d)?))),
            StoreLocation::Postgres(t) => Ok(AnyStore::Postgres(Box::new(PgStore::open(t)?))),
        }
    }

    /// The index for writing, created when absent; another model's index is an error.
    pub fn open_or_create(&self, fp: &Fingerprint, hnsw: &HnswOptions) -> Result<AnyStore> {
        match self {
            StoreLocation::Dir(d) => Ok(AnyStore::Sqlite(Box::new(SqliteStore::open_or_create(
                d, fp,
            )?))),
            StoreLocation::Postgres(t) => Ok(AnyStore::Postgres(Box::new(
                PgStore::open_or_create(t, fp, hnsw)?,
            ))),
        }
    }
}

/// Either store.
pub enum AnyStore {
    Sqlite(Box<SqliteStore>),
    Postgres(Box<PgStore>),
}

impl std::fmt::Debug for AnyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnyStore::Sqlite(s) => write!(f, "SqliteStore({})", s.dir().display()),
            AnyStore::Postgres(p) => write!(f, "{p:?}"),
        }
    }
}

impl AnyStore {
    fn inner(&self) -> &dyn VectorStoreWrite {
        match self {
            AnyStore::Sqlite(s) => s.as_ref(),
            AnyStore::Postgres(s) => s.as_ref(),
        }
    }

    /// Run `f` on a consistent view: SQLite reads inside one read transaction; PostgreSQL reads
    /// see each statement's committed state (a passage deleted between a search and the fetch
    /// of its text is left out of the answer).
    pub fn snapshot<R>(&mut self, f: impl FnOnce(&Self) -> Result<R>) -> Result<R> {
        if let AnyStore::Sqlite(s) = self {
            s.begin_read()?;
        }
        let result = f(self);
        if let AnyStore::Sqlite(s) = self {
            let end = s.end_read();
            let r = result?;
            end?;
            return Ok(r);
        }
        result
    }

    /// Where derived caches (the lexical index) live: the index folder, or for PostgreSQL a
    /// folder in semclust's cache named after the server, database, schema and index instance.
    pub fn cache_dir(&self) -> Result<PathBuf> {
        match self {
            AnyStore::Sqlite(s) => Ok(s.dir().to_path_buf()),
            AnyStore::Postgres(p) => {
                let key = format!("{}#{}", p.target().cache_key(), p.instance()?);
                let digest = Sha256::digest(key.as_bytes());
                let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
                let dir = crate::model::cache_root().join("postgres").join(name);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| crate::Error::io(format!("cannot create {}", dir.display()), e))?;
                Ok(dir)
            }
        }
    }

    /// Drawn when the store was created; with the generation it names every derived cache.
    pub fn instance(&self) -> Result<String> {
        match self {
            AnyStore::Sqlite(s) => s.instance(),
            AnyStore::Postgres(p) => p.instance(),
        }
    }

    pub fn set_ef_search(&mut self, ef: usize) {
        match self {
            AnyStore::Sqlite(s) => {
                let mut p = s.ann_params();
                p.ef_search = ef;
                s.set_ann_params(p);
            }
            AnyStore::Postgres(p) => p.set_ef_search(ef),
        }
    }
}

impl VectorStore for AnyStore {
    fn fingerprint(&self) -> &Fingerprint {
        self.inner().fingerprint()
    }
    fn len(&self) -> Result<usize> {
        self.inner().len()
    }
    fn passage(&self, id: &str) -> Result<Option<StoredPassage>> {
        self.inner().passage(id)
    }
    fn passages_by_rows(&self, rows: &[u32]) -> Result<Vec<StoredPassage>> {
        self.inner().passages_by_rows(rows)
    }
    fn passages(&self) -> Result<Vec<StoredPassage>> {
        self.inner().passages()
    }
    fn vector(&self, id: &str) -> Result<Option<Vec<f32>>> {
        self.inner().vector(id)
    }
    fn nearest(
        &self,
        query: &[f32],
        k: usize,
        exclude: &Exclude,
        method: SearchMethod,
    ) -> Result<Vec<ScoredRow>> {
        self.inner().nearest(query, k, exclude, method)
    }
    fn row_ids(&self) -> Result<Vec<String>> {
        self.inner().row_ids()
    }
    fn vectors(&self) -> Result<Vec<f32>> {
        self.inner().vectors()
    }
}

impl VectorStoreWrite for AnyStore {
    fn documents(&self) -> Result<HashMap<String, String>> {
        self.inner().documents()
    }
    fn document_state(&self, document: &str) -> Result<DocumentState> {
        self.inner().document_state(document)
    }
    fn vector_for_hash(&self, hash: &str) -> Result<Option<Vec<f32>>> {
        self.inner().vector_for_hash(hash)
    }
    fn apply(&mut self, changes: Changes) -> Result<()> {
        match self {
            AnyStore::Sqlite(s) => s.apply(changes),
            AnyStore::Postgres(s) => s.apply(changes),
        }
    }
    fn generation(&self) -> Result<u64> {
        self.inner().generation()
    }
}
