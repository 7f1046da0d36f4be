//! Which store an index lives in — a folder (SQLite) or a PostgreSQL schema — opened as an
//! [`AnyStore`], so that everything above the stores is written once.

use std::path::{Path, PathBuf};

#[cfg(feature = "postgres")]
use super::pgconn::PgTarget;
#[cfg(feature = "postgres")]
use super::postgres::PgStore;
use super::{AnyStore, Fingerprint, SqliteStore};
use crate::error::Result;

/// Where an index lives.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    /// An index folder holding a SQLite database.
    Dir(PathBuf),
    /// A schema in a PostgreSQL database with pgvector.
    #[cfg(feature = "postgres")]
    Postgres(Box<PgTarget>),
}

/// HNSW settings a user may give; what is left out keeps the stored (or default) value.
/// Only the PostgreSQL store reads them: the SQLite store sizes its graph itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct HnswOptions {
    pub m: Option<usize>,
    pub ef_construction: Option<usize>,
    pub ef_search: Option<usize>,
}

/// Is this a store URL rather than a folder?
pub fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Dir(d) => write!(f, "{}", d.display()),
            #[cfg(feature = "postgres")]
            StoreLocation::Postgres(t) => write!(f, "{t}"),
        }
    }
}

impl From<&StoreLocation> for crate::error::IndexName {
    fn from(l: &StoreLocation) -> Self {
        Self {
            shown: l.to_string(),
            flag: l.flag(),
            postgres: l.is_postgres(),
        }
    }
}

impl StoreLocation {
    /// `--store URL` wins over `--index DIR`.
    pub fn new(dir: &Path, store: Option<&str>) -> Result<Self> {
        match store.map(str::trim).filter(|s| !s.is_empty()) {
            #[cfg(feature = "postgres")]
            Some(url) if is_postgres_url(url) => {
                Ok(StoreLocation::Postgres(Box::new(PgTarget::parse(url)?)))
            }
            #[cfg(not(feature = "postgres"))]
            Some(url) if is_postgres_url(url) => Err(crate::Error::invalid(
                "store",
                format!(
                    "{}: this build has no PostgreSQL store; build semclust-core with its \
                     `postgres` feature (the semclust binary has it)",
                    crate::util::text::redact_secrets(url)
                ),
            )),
            Some(other) => Err(crate::Error::invalid(
                "store",
                format!(
                    "{}: expected a postgres://USER@HOST:PORT/DATABASE URL",
                    crate::util::text::redact_secrets(other)
                ),
            )),
            None => Ok(StoreLocation::Dir(dir.to_path_buf())),
        }
    }

    /// Is this a PostgreSQL schema (rather than a folder)?
    pub fn is_postgres(&self) -> bool {
        match self {
            StoreLocation::Dir(_) => false,
            #[cfg(feature = "postgres")]
            StoreLocation::Postgres(_) => true,
        }
    }

    /// The flag that names this store, for messages telling users what to run.
    pub fn flag(&self) -> String {
        match self {
            StoreLocation::Dir(d) => format!("--index {}", d.display()),
            #[cfg(feature = "postgres")]
            StoreLocation::Postgres(t) => format!("--store {t}"),
        }
    }

    /// The index if it exists.
    pub fn open_existing(&self) -> Result<Option<AnyStore>> {
        match self {
            StoreLocation::Dir(d) => {
                if d.join(super::sqlite::DB_FILE).is_file() {
                    Ok(Some(Box::new(SqliteStore::open(d)?)))
                } else {
                    Ok(None)
                }
            }
            #[cfg(feature = "postgres")]
            StoreLocation::Postgres(t) => {
                Ok(PgStore::open_existing(t)?.map(|s| Box::new(s) as AnyStore))
            }
        }
    }

    /// The index, which must exist.
    pub fn open(&self) -> Result<AnyStore> {
        match self {
            StoreLocation::Dir(d) => Ok(Box::new(SqliteStore::open(d)?)),
            #[cfg(feature = "postgres")]
            StoreLocation::Postgres(t) => Ok(Box::new(PgStore::open(t)?)),
        }
    }

    /// The index for writing, created when absent; another model's index is an error.
    #[cfg_attr(not(feature = "postgres"), allow(unused_variables))]
    pub fn open_or_create(&self, fp: &Fingerprint, hnsw: &HnswOptions) -> Result<AnyStore> {
        match self {
            StoreLocation::Dir(d) => Ok(Box::new(SqliteStore::open_or_create(d, fp)?)),
            #[cfg(feature = "postgres")]
            StoreLocation::Postgres(t) => Ok(Box::new(PgStore::open_or_create(t, fp, hnsw)?)),
        }
    }
}
