//! The PostgreSQL + pgvector store: the same documents, passages and vectors as the SQLite
//! store, in a schema of a shared database, searched with pgvector's `<#>` ordering through its
//! HNSW index (or exactly).
//!
//! Several writers may share one database: every change set is applied in one transaction that
//! first takes a transaction-level advisory lock on the schema, and passages are upserted by id,
//! so concurrent `semclust index` runs serialise their writes and cannot duplicate a passage.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use pgvector::Vector;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;
use postgres::Client;
use sha2::{Digest, Sha256};

use super::ann::AnnParams;
use super::pgconn::PgTarget;
use super::{
    Changes, DocumentState, Exclude, Fingerprint, Nearest, PassageState, RowKey, ScoredRow,
    SearchMethod, StoredPassage, VectorStore, VectorStoreWrite, ANN_THRESHOLD,
};
use crate::error::{Error, Result};

/// pgvector caps `hnsw.ef_search` at this.
const MAX_EF_SEARCH: usize = 1000;
/// Change sets at least this large (and at least as large as the table) are loaded with the HNSW
/// index dropped and built again afterwards: one bulk build is many times faster than
/// maintaining the graph row by row.
const BULK_ROWS: usize = 5_000;

/// Schema migrations, applied once each, in order, under the schema's advisory lock.
/// `{s}` is the schema, `{dim}` the model's dimension.
const MIGRATIONS: &[(i32, &str, &str)] = &[(
    1,
    "documents, passages with their vectors, model fingerprint",
    "CREATE TABLE {s}.meta(key text PRIMARY KEY, value text NOT NULL);
     CREATE TABLE {s}.documents(key text PRIMARY KEY, path text NOT NULL);
     CREATE TABLE {s}.passages(
         rid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         id text NOT NULL UNIQUE,
         document text NOT NULL REFERENCES {s}.documents(key) ON DELETE CASCADE,
         article text NOT NULL,
         paragraph integer NOT NULL,
         title text NOT NULL,
         span_start bigint NOT NULL,
         span_end bigint NOT NULL,
         hash text NOT NULL,
         text text NOT NULL,
         embedding vector({dim}) NOT NULL);
     CREATE INDEX passages_hash ON {s}.passages(hash);
     CREATE INDEX passages_document ON {s}.passages(document);
     INSERT INTO {s}.meta VALUES ('generation', '0');
     INSERT INTO {s}.meta VALUES ('instance', md5(random()::text || clock_timestamp()::text));",
)];

const HNSW_INDEX: &str = "passages_embedding_hnsw";

/// HNSW settings a user may give; what is left out keeps the stored (or default) value.
#[derive(Debug, Clone, Copy, Default)]
pub struct HnswOptions {
    pub m: Option<usize>,
    pub ef_construction: Option<usize>,
    pub ef_search: Option<usize>,
}

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
        let exists: bool = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&format!("{s}.meta")],
            )
            .map_err(|e| query_error(target, e))?
            .get(0);
        if !exists {
            return Ok(None);
        }
        let Some(fp) = read_fingerprint(target, &mut client)? else {
            return Ok(None);
        };
        Self::new(target, client, fp).map(Some)
    }

    /// Open an index that must exist (search, related, themes).
    pub fn open(target: &PgTarget) -> Result<Self> {
        Self::open_existing(target)?.ok_or_else(|| Error::NoIndex {
            location: super::StoreLocation::Postgres(Box::new(target.clone())),
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
        Ok(self
            .conn()
            .client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&q])
            .map_err(|e| self.err(e))?
            .get(0))
    }

    /// (Re)build the HNSW index with the current parameters, in one transaction.
    pub fn build_hnsw(&mut self) -> Result<f64> {
        let t0 = std::time::Instant::now();
        let (s, ann, dim) = (self.s().to_string(), self.ann, self.fingerprint.dimension);
        let target = self.target.clone();
        let mut conn = self.conn();
        let mut tx = conn
            .client
            .transaction()
            .map_err(|e| query_error(&target, e))?;
        lock(&target, &mut tx)?;
        let n: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {s}.passages"), &[])
            .map_err(|e| query_error(&target, e))?
            .get(0);
        raise_maintenance_memory(&target, &mut tx, n as usize, dim, ann.m)?;
        tx.batch_execute(&format!(
            "DROP INDEX IF EXISTS {s}.{HNSW_INDEX};
             CREATE INDEX {HNSW_INDEX} ON {s}.passages USING hnsw (embedding vector_ip_ops)
                 WITH (m = {}, ef_construction = {});
             INSERT INTO {s}.meta VALUES ('hnsw', '{{\"m\": {}, \"ef_construction\": {}}}')
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value;",
            ann.m, ann.ef_construction, ann.m, ann.ef_construction
        ))
        .map_err(|e| query_error(&target, e))?;
        tx.commit().map_err(|e| query_error(&target, e))?;
        Ok(t0.elapsed().as_secs_f64())
    }

    const PASSAGE_COLUMNS: &'static str = "p.rid, p.id, p.document, d.path, p.article, p.paragraph, p.title, p.span_start, p.span_end, p.hash, p.text";

    fn from_row(r: &postgres::Row) -> (i64, StoredPassage) {
        (
            r.get(0),
            StoredPassage {
                id: r.get(1),
                document: r.get(2),
                path: r.get(3),
                article_key: r.get(4),
                paragraph: r.get::<_, i32>(5) as u32,
                title: r.get(6),
                span: (r.get::<_, i64>(7) as u64, r.get::<_, i64>(8) as u64),
                hash: r.get(9),
                text: r.get(10),
            },
        )
    }

    fn select(&self) -> String {
        let s = self.s();
        format!(
            "SELECT {} FROM {s}.passages p JOIN {s}.documents d ON d.key = p.document",
            Self::PASSAGE_COLUMNS
        )
    }

    fn all(&self) -> Result<Arc<(Vec<String>, Vec<f32>)>> {
        let generation = self.generation()?;
        let mut cache = self.all.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((g, a)) = cache.as_ref() {
            if *g == generation {
                return Ok(a.clone());
            }
        }
        let rows = self
            .conn()
            .client
            .query(
                &format!(
                    "SELECT id, embedding FROM {}.passages ORDER BY id COLLATE \"C\"",
                    self.s()
                ),
                &[],
            )
            .map_err(|e| self.err(e))?;
        let mut ids = Vec::with_capacity(rows.len());
        let mut data = Vec::with_capacity(rows.len() * self.fingerprint.dimension);
        for r in rows {
            ids.push(r.get::<_, String>(0));
            data.extend_from_slice(r.get::<_, Vector>(1).as_slice());
        }
        let a = Arc::new((ids, data));
        *cache = Some((generation, a.clone()));
        Ok(a)
    }

    /// Dense search in PostgreSQL; `exact` turns index scans off so that the ordering is computed
    /// over every row.
    fn query_nearest(
        &self,
        query: &[f32],
        k: usize,
        exclude: &Exclude,
        exact: bool,
        ef_search: usize,
    ) -> Result<Vec<ScoredRow>> {
        let s = self.s();
        let mut sql = format!("SELECT rid, -(embedding <#> $1) FROM {s}.passages WHERE true");
        let q = Vector::from(query.to_vec());
        let limit = k as i64;
        let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![&q];
        if let Some(id) = &exclude.passage {
            params.push(id);
            sql.push_str(&format!(" AND id <> ${}", params.len()));
        }
        if let Some((doc, art)) = &exclude.article {
            params.push(doc);
            params.push(art);
            sql.push_str(&format!(
                " AND NOT (document = ${} AND article = ${})",
                params.len() - 1,
                params.len()
            ));
        }
        params.push(&limit);
        sql.push_str(&format!(
            " ORDER BY embedding <#> $1 LIMIT ${}",
            params.len()
        ));
        // Session settings change only when the search kind does, so that a query is one round
        // trip (it matters once the database is across a network).
        let mut conn = self.conn();
        let mut setup = String::new();
        if conn.exact != exact {
            setup.push_str(if exact {
                "SET enable_indexscan = off;"
            } else {
                "RESET enable_indexscan;"
            });
        }
        if !exact && conn.ef_search != Some(ef_search) {
            setup.push_str(&format!("SET hnsw.ef_search = {ef_search};"));
        }
        if !setup.is_empty() {
            conn.client.batch_execute(&setup).map_err(|e| self.err(e))?;
            conn.exact = exact;
            if !exact {
                conn.ef_search = Some(ef_search);
            }
        }
        let rows = conn.client.query(&sql, &params).map_err(|e| self.err(e))?;
        Ok(rows
            .iter()
            .map(|r| ScoredRow {
                key: RowKey(r.get::<_, i64>(0) as u64),
                score: r.get::<_, f64>(1) as f32,
            })
            .collect())
    }

    /// Load passages' vectors as one bulk change, timing the insert and the HNSW build apart
    /// (the benchmark's figures).
    pub fn bulk_load(&mut self, changes: Changes) -> Result<LoadTiming> {
        let t0 = std::time::Instant::now();
        self.apply_inner(changes, true)?;
        let insert_secs = t0.elapsed().as_secs_f64();
        let index_secs = self.build_hnsw()?;
        Ok(LoadTiming {
            insert_secs,
            index_secs,
        })
    }

    fn apply_inner(&mut self, changes: Changes, leave_index_off: bool) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let dim = self.fingerprint.dimension;
        changes.check_dimension(dim)?;
        let target = self.target.clone();
        let s = self.s().to_string();
        let ann = self.ann;
        let vector_type = self.vector_type.clone();
        let e = |err: postgres::Error| query_error(&target, err);
        let mut conn = self.conn();
        let mut tx = conn.client.transaction().map_err(e)?;
        lock(&target, &mut tx)?;

        if !changes.documents.is_empty() {
            let (keys, paths): (Vec<&str>, Vec<&str>) = changes
                .documents
                .iter()
                .map(|(k, p)| (k.as_str(), p.as_str()))
                .unzip();
            tx.execute(
                &format!(
                    "INSERT INTO {s}.documents(key, path) SELECT * FROM unnest($1::text[], $2::text[])
                     ON CONFLICT (key) DO UPDATE SET path = excluded.path"
                ),
                &[&keys, &paths],
            )
            .map_err(e)?;
        }
        let mut rebuild = false;
        if !changes.upserts.is_empty() {
            let n: i64 = tx
                .query_one(&format!("SELECT count(*) FROM {s}.passages"), &[])
                .map_err(e)?
                .get(0);
            let bulk = leave_index_off
                || (changes.upserts.len() >= BULK_ROWS && changes.upserts.len() as i64 >= n);
            if bulk {
                tx.batch_execute(&format!("DROP INDEX IF EXISTS {s}.{HNSW_INDEX}"))
                    .map_err(e)?;
                rebuild = !leave_index_off;
            }
            tx.batch_execute(
                "CREATE TEMP TABLE semclust_stage(
                     id text, document text, article text, paragraph integer, title text,
                     span_start bigint, span_end bigint, hash text, text text, embedding vector)
                 ON COMMIT DROP",
            )
            .map_err(e)?;
            let sink = tx
                .copy_in("COPY semclust_stage FROM STDIN (FORMAT binary)")
                .map_err(e)?;
            let types = [
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::INT4,
                Type::TEXT,
                Type::INT8,
                Type::INT8,
                Type::TEXT,
                Type::TEXT,
                vector_type,
            ];
            let mut w = BinaryCopyInWriter::new(sink, &types);
            for (p, v) in &changes.upserts {
                let vec = Vector::from(v.clone());
                let para = p.paragraph as i32;
                let (a, b) = (p.span.0 as i64, p.span.1 as i64);
                w.write(&[
                    &p.id,
                    &p.document,
                    &p.article,
                    &para,
                    &p.title,
                    &a,
                    &b,
                    &p.hash,
                    &p.text,
                    &vec,
                ])
                .map_err(e)?;
            }
            w.finish().map_err(e)?;
            tx.execute(
                &format!(
                    "INSERT INTO {s}.passages(id, document, article, paragraph, title, span_start, span_end, hash, text, embedding)
                     SELECT id, document, article, paragraph, title, span_start, span_end, hash, text, embedding FROM semclust_stage
                     ON CONFLICT (id) DO UPDATE SET document = excluded.document, article = excluded.article,
                       paragraph = excluded.paragraph, title = excluded.title, span_start = excluded.span_start,
                       span_end = excluded.span_end, hash = excluded.hash, text = excluded.text, embedding = excluded.embedding"
                ),
                &[],
            )
            .map_err(e)?;
        }
        if !changes.touched.is_empty() {
            let ids: Vec<&str> = changes.touched.iter().map(|p| p.id.as_str()).collect();
            let arts: Vec<&str> = changes.touched.iter().map(|p| p.article.as_str()).collect();
            let paras: Vec<i32> = changes.touched.iter().map(|p| p.paragraph as i32).collect();
            let titles: Vec<&str> = changes.touched.iter().map(|p| p.title.as_str()).collect();
            let starts: Vec<i64> = changes.touched.iter().map(|p| p.span.0 as i64).collect();
            let ends: Vec<i64> = changes.touched.iter().map(|p| p.span.1 as i64).collect();
            tx.execute(
                &format!(
                    "UPDATE {s}.passages p SET article = u.article, paragraph = u.paragraph, title = u.title,
                       span_start = u.span_start, span_end = u.span_end
                     FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::bigint[], $6::bigint[])
                       AS u(id, article, paragraph, title, span_start, span_end)
                     WHERE p.id = u.id"
                ),
                &[&ids, &arts, &paras, &titles, &starts, &ends],
            )
            .map_err(e)?;
        }
        if !changes.deleted_passages.is_empty() {
            tx.execute(
                &format!("DELETE FROM {s}.passages WHERE id = ANY($1)"),
                &[&changes.deleted_passages],
            )
            .map_err(e)?;
        }
        if !changes.deleted_documents.is_empty() {
            tx.execute(
                &format!("DELETE FROM {s}.documents WHERE key = ANY($1)"),
                &[&changes.deleted_documents],
            )
            .map_err(e)?;
        }
        if rebuild {
            let n: i64 = tx
                .query_one(&format!("SELECT count(*) FROM {s}.passages"), &[])
                .map_err(e)?
                .get(0);
            raise_maintenance_memory(&target, &mut tx, n as usize, dim, ann.m)?;
            tx.batch_execute(&format!(
                "CREATE INDEX {HNSW_INDEX} ON {s}.passages USING hnsw (embedding vector_ip_ops)
                     WITH (m = {}, ef_construction = {})",
                ann.m, ann.ef_construction
            ))
            .map_err(e)?;
        }
        tx.execute(
            &format!(
                "UPDATE {s}.meta SET value = (value::bigint + 1)::text WHERE key = 'generation'"
            ),
            &[],
        )
        .map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(())
    }
}

/// Serialise writers of one schema (held until the transaction ends).
fn lock(target: &PgTarget, tx: &mut postgres::Transaction<'_>) -> Result<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        &[&format!("semclust:{}", target.schema())],
    )
    .map_err(|e| query_error(target, e))?;
    Ok(())
}

/// pgvector builds the graph in `maintenance_work_mem` and slows down many times once it no
/// longer fits: give this transaction enough for the graph (never less than the server's own
/// setting, at most 4 GB).
fn raise_maintenance_memory(
    target: &PgTarget,
    tx: &mut postgres::Transaction<'_>,
    rows: usize,
    dim: usize,
    m: usize,
) -> Result<()> {
    let need_kb = (rows as u64 * (dim as u64 * 4 + m as u64 * 2 * 8 + 128) * 3 / 2) / 1024;
    let current_kb: i64 = tx
        .query_one(
            "SELECT setting::bigint FROM pg_settings WHERE name = 'maintenance_work_mem'",
            &[],
        )
        .map_err(|e| query_error(target, e))?
        .get(0);
    let want = need_kb.clamp(64 * 1024, 4 * 1024 * 1024) as i64;
    if want > current_kb {
        tx.batch_execute(&format!("SET LOCAL maintenance_work_mem = '{want}kB'"))
            .map_err(|e| query_error(target, e))?;
    }
    Ok(())
}

fn read_fingerprint(target: &PgTarget, client: &mut Client) -> Result<Option<Fingerprint>> {
    let s = target.schema();
    let row = client
        .query_opt(
            &format!("SELECT value FROM {s}.meta WHERE key = 'fingerprint'"),
            &[],
        )
        .map_err(|e| query_error(target, e))?;
    row.map(|r| {
        let v: String = r.get(0);
        serde_json::from_str(&v).map_err(|e| {
            target.error(format!(
                "schema \"{s}\" has a damaged model fingerprint ({e}): drop the schema and index again"
            ))
        })
    })
    .transpose()
}

/// The `vector` column's declared dimension must be the model's: a table made for another model
/// (or by hand) is refused before anything is written.
fn check_dimension(target: &PgTarget, client: &mut Client, dim: usize) -> Result<()> {
    let s = target.schema();
    let row = client
        .query_opt(
            "SELECT a.atttypmod FROM pg_attribute a
             WHERE a.attrelid = to_regclass($1) AND a.attname = 'embedding' AND NOT a.attisdropped",
            &[&format!("{s}.passages")],
        )
        .map_err(|e| query_error(target, e))?;
    if let Some(r) = row {
        let have: i32 = r.get(0);
        if have != dim as i32 {
            return Err(target.error(format!(
                "schema \"{s}\" stores {have}-d vectors, the model gives {dim}-d: use another schema (?schema=NAME in the URL) or the model the index was built with"
            )));
        }
    }
    Ok(())
}

fn ensure_vector_extension(target: &PgTarget, client: &mut Client) -> Result<()> {
    let installed: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')",
            &[],
        )
        .map_err(|e| query_error(target, e))?
        .get(0);
    if installed {
        return Ok(());
    }
    let available: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector')",
            &[],
        )
        .map_err(|e| query_error(target, e))?
        .get(0);
    if !available {
        return Err(target.error(
            "the server has no pgvector extension: install pgvector (https://github.com/pgvector/pgvector) on it, or use a managed PostgreSQL that offers it",
        ));
    }
    // CREATE EXTENSION IF NOT EXISTS is not safe against itself: two first runs started together
    // both pass the check and one fails on pg_extension's unique index. A database-wide advisory
    // lock serialises them, and a unique violation still means somebody else installed it.
    let created = client.transaction().and_then(|mut tx| {
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('semclust:create-extension'))",
            &[],
        )?;
        tx.batch_execute("CREATE EXTENSION IF NOT EXISTS vector")?;
        tx.commit()
    });
    match created {
        Err(e) if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) => Ok(()),
        other => other.map_err(|e| {
            if e.as_db_error().is_none() {
                return query_error(target, e);
            }
            target.error(format!(
                "the database has no `vector` extension and user \"{}\" may not create it ({}): ask an administrator to run CREATE EXTENSION vector; in database \"{}\"",
                target.user(),
                e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string()),
                target.database()
            ))
        }),
    }
}

/// Create the schema and bring it to the newest version. Every migration runs once: the
/// versions applied are recorded, and concurrent runs wait on the schema's advisory lock.
fn migrate(target: &PgTarget, client: &mut Client, fp: &Fingerprint) -> Result<()> {
    let s = target.schema();
    let e = |err: postgres::Error| query_error(target, err);
    let mut tx = client.transaction().map_err(e)?;
    lock(target, &mut tx)?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {s};
         CREATE TABLE IF NOT EXISTS {s}.migrations(
             version integer PRIMARY KEY, description text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now());"
    ))
    .map_err(e)?;
    let done: Vec<i32> = tx
        .query(&format!("SELECT version FROM {s}.migrations"), &[])
        .map_err(e)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if let Some(newer) = done.iter().find(|v| **v > MIGRATIONS.len() as i32) {
        return Err(target.error(format!(
            "schema \"{s}\" is at version {newer}, this semclust knows up to {}: upgrade semclust",
            MIGRATIONS.len()
        )));
    }
    for (version, description, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        let sql = sql
            .replace("{s}", s)
            .replace("{dim}", &fp.dimension.to_string());
        tx.batch_execute(&sql).map_err(e)?;
        tx.execute(
            &format!("INSERT INTO {s}.migrations(version, description) VALUES ($1, $2)"),
            &[version, description],
        )
        .map_err(e)?;
    }
    let json = serde_json::to_string(fp).map_err(|err| target.error(err.to_string()))?;
    tx.execute(
        &format!("INSERT INTO {s}.meta VALUES ('fingerprint', $1) ON CONFLICT (key) DO NOTHING"),
        &[&json],
    )
    .map_err(e)?;
    tx.commit().map_err(e)?;
    Ok(())
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

impl VectorStore for PgStore {
    fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    fn len(&self) -> Result<usize> {
        let n: i64 = self
            .conn()
            .client
            .query_one(&format!("SELECT count(*) FROM {}.passages", self.s()), &[])
            .map_err(|e| self.err(e))?
            .get(0);
        Ok(n as usize)
    }

    fn passage(&self, id: &str) -> Result<Option<StoredPassage>> {
        let sql = format!("{} WHERE p.id = $1", self.select());
        Ok(self
            .conn()
            .client
            .query_opt(&sql, &[&id])
            .map_err(|e| self.err(e))?
            .map(|r| Self::from_row(&r).1))
    }

    fn passages_by_keys(&self, keys: &[RowKey]) -> Result<Vec<StoredPassage>> {
        // Keys are the rows' identities, made from non-negative bigints.
        let rids: Vec<i64> = keys.iter().map(|k| k.0 as i64).collect();
        let sql = format!("{} WHERE p.rid = ANY($1)", self.select());
        let found: HashMap<i64, StoredPassage> = self
            .conn()
            .client
            .query(&sql, &[&rids])
            .map_err(|e| self.err(e))?
            .iter()
            .map(Self::from_row)
            .collect();
        // A passage deleted by another writer since the search is left out.
        Ok(rids.iter().filter_map(|r| found.get(r).cloned()).collect())
    }

    fn passages(&self) -> Result<Vec<StoredPassage>> {
        let sql = format!("{} ORDER BY p.id COLLATE \"C\"", self.select());
        Ok(self
            .conn()
            .client
            .query(&sql, &[])
            .map_err(|e| self.err(e))?
            .iter()
            .map(|r| Self::from_row(r).1)
            .collect())
    }

    fn vector(&self, id: &str) -> Result<Option<Vec<f32>>> {
        Ok(self
            .conn()
            .client
            .query_opt(
                &format!("SELECT embedding FROM {}.passages WHERE id = $1", self.s()),
                &[&id],
            )
            .map_err(|e| self.err(e))?
            .map(|r| r.get::<_, Vector>(0).to_vec()))
    }

    fn nearest(&self, q: &Nearest<'_>) -> Result<Vec<ScoredRow>> {
        q.check(self.fingerprint.dimension)?;
        let (query, k, exclude) = (q.vector, q.k, q.exclude);
        let exact = match q.method {
            SearchMethod::Exact => true,
            SearchMethod::Approximate => false,
            SearchMethod::Auto => self.cached_len()? <= ANN_THRESHOLD,
        };
        if exact {
            return self.query_nearest(query, k, exclude, true, 0);
        }
        let ef = self.ann.ef_search.max(k).min(MAX_EF_SEARCH);
        let rows = self.query_nearest(query, k, exclude, false, ef)?;
        // pgvector 0.6 filters after the graph search: when exclusions ate into the candidates,
        // the answer is completed exactly rather than cut short.
        if rows.len() < k && !exclude.is_empty() && self.len()? > rows.len() {
            return self.query_nearest(query, k, exclude, true, 0);
        }
        Ok(rows)
    }

    fn row_ids(&self) -> Result<Vec<String>> {
        Ok(self.all()?.0.clone())
    }

    fn vectors(&self) -> Result<Vec<f32>> {
        Ok(self.all()?.1.clone())
    }

    /// Drawn when the schema is created: a cache keyed by it never outlives a dropped and
    /// re-created index whose generation counter started again.
    fn instance(&self) -> Result<String> {
        Ok(self
            .conn()
            .client
            .query_one(
                &format!("SELECT value FROM {}.meta WHERE key = 'instance'", self.s()),
                &[],
            )
            .map_err(|e| self.err(e))?
            .get(0))
    }

    /// A folder in semclust's cache named after the server, database, schema and index
    /// instance.
    fn cache_dir(&self) -> Result<PathBuf> {
        let key = format!("{}#{}", self.target.cache_key(), self.instance()?);
        let digest = Sha256::digest(key.as_bytes());
        let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let dir = crate::model::cache_root().join("postgres").join(name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        Ok(dir)
    }

    fn set_ef_search(&mut self, ef: usize) {
        self.ann.ef_search = ef;
    }
}

impl VectorStoreWrite for PgStore {
    fn documents(&self) -> Result<HashMap<String, String>> {
        Ok(self
            .conn()
            .client
            .query(
                &format!("SELECT key, path FROM {}.documents", self.s()),
                &[],
            )
            .map_err(|e| self.err(e))?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn document_state(&self, document: &str) -> Result<DocumentState> {
        Ok(self.conn().client
            .query(
                &format!(
                    "SELECT id, hash, article, paragraph, title, span_start, span_end FROM {}.passages WHERE document = $1",
                    self.s()
                ),
                &[&document],
            )
            .map_err(|e| self.err(e))?
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    PassageState {
                        hash: r.get(1),
                        article: r.get(2),
                        paragraph: r.get::<_, i32>(3) as u32,
                        title: r.get(4),
                        span: (r.get::<_, i64>(5) as u64, r.get::<_, i64>(6) as u64),
                    },
                )
            })
            .collect())
    }

    fn vector_for_hash(&self, hash: &str) -> Result<Option<Vec<f32>>> {
        Ok(self
            .conn()
            .client
            .query_opt(
                &format!(
                    "SELECT embedding FROM {}.passages WHERE hash = $1 LIMIT 1",
                    self.s()
                ),
                &[&hash],
            )
            .map_err(|e| self.err(e))?
            .map(|r| r.get::<_, Vector>(0).to_vec()))
    }

    fn apply(&mut self, changes: Changes) -> Result<()> {
        self.apply_inner(changes, false)
    }

    fn generation(&self) -> Result<u64> {
        let v: String = self
            .conn()
            .client
            .query_one(
                &format!(
                    "SELECT value FROM {}.meta WHERE key = 'generation'",
                    self.s()
                ),
                &[],
            )
            .map_err(|e| self.err(e))?
            .get(0);
        v.parse().map_err(|_| {
            self.target
                .error(format!("damaged generation counter {v:?}"))
        })
    }
}
