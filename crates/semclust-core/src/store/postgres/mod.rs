//! The PostgreSQL + pgvector store: the same documents, passages and vectors as the SQLite
//! store, in a schema of a shared database, searched with pgvector's `<#>` ordering through its
//! HNSW index (or exactly).
//!
//! Several writers may share one database: every change set is applied in one transaction that
//! first takes a transaction-level advisory lock on the schema, and passages are upserted by id,
//! so concurrent `semclust index` runs serialise their writes and cannot duplicate a passage.
//!
//! This file opens stores and holds their connection; `schema.rs` creates and migrates the
//! schema, `read.rs` answers reads and searches, `write.rs` applies changes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use pgvector::Vector;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{FromSql, ToSql, Type};
use postgres::{Client, GenericClient};
use sha2::{Digest, Sha256};

mod read;
mod schema;
mod write;

use schema::{
    check_dimension, ensure_vector_extension, is_current, lock, migrate, read_fingerprint,
};

use super::ann::AnnParams;
use super::pgconn::PgTarget;
use super::{
    Changes, DocumentState, Exclude, Fingerprint, HnswOptions, Nearest, PassageState, RowKey,
    ScoredRow, SearchMethod, StoredPassage, VectorStore, VectorStoreWrite, ANN_THRESHOLD,
};
use crate::error::{Error, Result};

/// pgvector caps `hnsw.ef_search` at this.
const MAX_EF_SEARCH: usize = 1000;
/// Change sets at least this large (and at least as large as the table) are loaded with the HNSW
/// index dropped and built again afterwards: one bulk build is many times faster than
/// maintaining the graph row by row.
const BULK_ROWS: usize = 5_000;

const HNSW_INDEX: &str = "passages_embedding_hnsw";

/// The PostgreSQL store of one index (one schema).
pub struct PgStore {
    target: PgTarget,
    conn: Mutex<Conn>,
    /// Passages in the index, for the exact-or-graph choice, valid for one generation.
    len_cache: Mutex<Option<(u64, usize)>>,
    fingerprint: Fingerprint,
    ann: AnnParams,
    /// The `vector` type's OID differs per database: learnt once for COPY.
    vector_type: Type,
    /// All ids and vectors, for themes, valid for one generation.
    all: Mutex<Option<(u64, Arc<AllRows>)>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgStore({})", self.target)
    }
}

/// The connection and the search settings of its session.
struct Conn {
    client: Client,
    ef_search: Option<usize>,
    exact: bool,
}

/// Every passage id and its vector (row-major), in id order.
type AllRows = (Vec<String>, Vec<f32>);

/// Timings of a bulk load, for the benchmark.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadTiming {
    pub insert_secs: f64,
    pub index_secs: f64,
}

impl PgStore {
    /// Open an index that exists; `Ok(None)` when the database holds no semclust index in the
    /// target's schema.
    pub fn open_existing(target: &PgTarget) -> Result<Option<Self>> {
        let mut client = target.connect()?;
        let s = target.schema();
        let table = format!("{s}.meta");
        let exists: bool = scalar(
            &mut client,
            target,
            "SELECT to_regclass($1) IS NOT NULL",
            &[&table],
        )?;
        if !exists {
            return Ok(None);
        }
        let Some(fp) = read_fingerprint(target, &mut client)? else {
            return Ok(None);
        };
        // An index made by an older semclust is brought up to date (its rows kept); one that
        // is current is not written to, so that a read-only role can search it.
        if !is_current(target, &mut client)? {
            migrate(target, &mut client, &fp)?;
        }
        Self::new(target, client, fp).map(Some)
    }

    /// Open an index that must exist (search, related, themes).
    pub fn open(target: &PgTarget) -> Result<Self> {
        Self::open_existing(target)?.ok_or_else(|| Error::NoIndex {
            location: (&super::StoreLocation::Postgres(Box::new(target.clone()))).into(),
        })
    }

    /// Open the index, creating its schema (migrations) when absent; an index of another model
    /// is an error. `hnsw` sets the HNSW index's parameters when it is created or when they
    /// differ from the stored ones.
    pub fn open_or_create(
        target: &PgTarget,
        fingerprint: &Fingerprint,
        hnsw: &HnswOptions,
    ) -> Result<Self> {
        let mut client = target.connect()?;
        ensure_vector_extension(target, &mut client)?;
        migrate(target, &mut client, fingerprint)?;
        let stored = read_fingerprint(target, &mut client)?;
        if let Some(fp) = &stored {
            if fp != fingerprint {
                return Err(Error::ModelMismatch {
                    location: format!("{target} (schema \"{}\")", target.schema()),
                    built_with: Box::new(fp.clone()),
                    loaded: Box::new(fingerprint.clone()),
                });
            }
        }
        let mut store = Self::new(target, client, fingerprint.clone())?;
        let m = hnsw.m.unwrap_or(store.ann.m);
        let efc = hnsw.ef_construction.unwrap_or(store.ann.ef_construction);
        if !store.hnsw_present()? || m != store.ann.m || efc != store.ann.ef_construction {
            store.ann.m = m;
            store.ann.ef_construction = efc;
            store.build_hnsw()?;
        }
        if let Some(ef) = hnsw.ef_search {
            store.ann.ef_search = ef;
        }
        Ok(store)
    }

    fn new(target: &PgTarget, mut client: Client, fingerprint: Fingerprint) -> Result<Self> {
        let s = target.schema();
        check_dimension(target, &mut client, fingerprint.dimension)?;
        let vector_type = client
            .prepare("SELECT NULL::vector")
            .map_err(|e| query_error(target, e))?
            .columns()[0]
            .type_()
            .clone();
        let mut ann = AnnParams::default();
        if let Some(row) = client
            .query_opt(
                &format!("SELECT value FROM {s}.meta WHERE key = 'hnsw'"),
                &[],
            )
            .map_err(|e| query_error(target, e))?
        {
            let v: String = row.get(0);
            if let Ok(p) = serde_json::from_str::<serde_json::Value>(&v) {
                ann.m = p["m"].as_u64().unwrap_or(ann.m as u64) as usize;
                ann.ef_construction = p["ef_construction"]
                    .as_u64()
                    .unwrap_or(ann.ef_construction as u64)
                    as usize;
            }
        }
        Ok(Self {
            target: target.clone(),
            conn: Mutex::new(Conn {
                client,
                ef_search: None,
                exact: false,
            }),
            len_cache: Mutex::new(None),
            fingerprint,
            ann,
            vector_type,
            all: Mutex::new(None),
        })
    }

    pub fn target(&self) -> &PgTarget {
        &self.target
    }

    /// HNSW parameters: `m` and `ef_construction` as built, `ef_search` for queries.
    pub fn ann_params(&self) -> AnnParams {
        self.ann
    }

    fn conn(&self) -> MutexGuard<'_, Conn> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, e: postgres::Error) -> Error {
        query_error(&self.target, e)
    }

    fn s(&self) -> &str {
        self.target.schema()
    }

    /// `len` without counting the table again while the generation is unchanged.
    fn cached_len(&self) -> Result<usize> {
        let generation = self.generation()?;
        let mut cache = self.len_cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((g, n)) = *cache {
            if g == generation {
                return Ok(n);
            }
        }
        let n = self.len()?;
        *cache = Some((generation, n));
        Ok(n)
    }

    fn hnsw_present(&self) -> Result<bool> {
        let q = format!("{}.{HNSW_INDEX}", self.s());
        self.scalar("SELECT to_regclass($1) IS NOT NULL", &[&q])
    }

    fn scalar<T: for<'a> FromSql<'a>>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<T> {
        scalar(&mut self.conn().client, &self.target, sql, params)
    }
}

/// The one value of a one-row, one-column query (a count, a flag, a meta value).
fn scalar<T: for<'a> FromSql<'a>>(
    client: &mut impl GenericClient,
    target: &PgTarget,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<T> {
    client
        .query_one(sql, params)
        .and_then(|row| row.try_get(0))
        .map_err(|e| query_error(target, e))
}

/// The `meta` column, read as text: jsonb holds valid JSON, and semclust writes only objects
/// there; anything else (a hand edit) reads as no metadata.
/// What a passage's row says of it from column `at` on, in the order of [`STATE_COLUMNS`].
fn state_at(r: &postgres::Row, at: usize) -> PassageState {
    PassageState {
        hash: r.get(at),
        article: r.get(at + 1),
        paragraph: r.get::<_, i32>(at + 2) as u32,
        title: r.get(at + 3),
        span: (
            r.get::<_, i64>(at + 4) as u64,
            r.get::<_, i64>(at + 5) as u64,
        ),
        section: r.get(at + 6),
        meta: meta_column(r, at + 7),
    }
}

/// The columns [`state_at`] reads, in its order.
const STATE_COLUMNS: &str =
    "hash, article, paragraph, title, span_start, span_end, section, meta::text";

fn meta_column(r: &postgres::Row, i: usize) -> crate::corpus::Meta {
    serde_json::from_str(r.get::<_, &str>(i)).unwrap_or_default()
}

fn meta_json(meta: &crate::corpus::Meta) -> String {
    serde_json::Value::Object(meta.clone()).to_string()
}

/// A failed statement, in words a user can act on: a lost connection says to run again (what
/// was committed is kept, the open transaction rolled back).
fn query_error(target: &PgTarget, e: postgres::Error) -> Error {
    if e.is_closed() || e.as_db_error().is_none() && std::error::Error::source(&e).is_some() {
        let cause = std::error::Error::source(&e)
            .map(|s| s.to_string())
            .unwrap_or_else(|| e.to_string());
        return target.error(format!(
            "the connection to the server was lost ({cause}): run the command again; changes already committed are kept, the unfinished one was rolled back"
        ));
    }
    if let Some(db) = e.as_db_error() {
        use postgres::error::SqlState;
        if *db.code() == SqlState::ADMIN_SHUTDOWN
            || *db.code() == SqlState::CRASH_SHUTDOWN
            || *db.code() == SqlState::CANNOT_CONNECT_NOW
        {
            return target.error(format!(
                "the server ended the connection ({}): run the command again; changes already committed are kept, the unfinished one was rolled back",
                db.message()
            ));
        }
        if *db.code() == SqlState::INSUFFICIENT_PRIVILEGE {
            return target.error(format!(
                "permission denied ({}): user \"{}\" needs CREATE on the database and rights on schema \"{}\"",
                db.message(),
                target.user(),
                target.schema()
            ));
        }
        return target.error(format!("{} ({})", db.message(), db.code().code()));
    }
    target.error(e.to_string())
}
