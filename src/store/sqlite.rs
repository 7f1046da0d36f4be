//! The embedded store: one SQLite database per index folder (`index.sqlite`) holding documents,
//! passages, their vectors (little-endian f32 blobs) and the model fingerprint. Every change is one
//! transaction in WAL mode, so a killed writer leaves the previous or the next state and readers
//! never see half a change. Search loads the vectors once into one contiguous matrix (exact scan)
//! and, above [`ANN_THRESHOLD`](super::ANN_THRESHOLD) passages, an HNSW graph cached beside the
//! database as `hnsw-i8-GENERATION.usearch` (+ `.quant`, its quantiser).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rusqlite::{params, Connection, OptionalExtension};

use super::ann::{AnnParams, Hnsw};
use super::{
    flat, Changes, DocumentState, Fingerprint, Nearest, PassageState, RowKey, ScoredRow,
    SearchMethod, StoredPassage, VectorStore, VectorStoreWrite, ANN_THRESHOLD,
};
use crate::error::{Error, Result};

const SCHEMA_VERSION: &str = "1";
pub const DB_FILE: &str = "index.sqlite";

pub struct SqliteStore {
    dir: PathBuf,
    conn: Connection,
    fingerprint: Fingerprint,
    loaded: OnceLock<Loaded>,
    ann: OnceLock<Option<Hnsw>>,
    ann_params: AnnParams,
    /// The generation `loaded` and `ann` were read at, once [`SqliteStore::snapshot`] is used.
    cached_generation: Option<u64>,
}

/// The search side, loaded on first use.
struct Loaded {
    ids: Vec<String>,
    /// (document, article) group of each row, for `Exclude::article`.
    groups: Vec<u32>,
    group_of: HashMap<(String, String), u32>,
    row_of: HashMap<String, u32>,
    data: Vec<f32>,
}

fn db_err(path: &Path, e: rusqlite::Error) -> Error {
    Error::bad_file(path, format!("index database: {e}"))
}

impl SqliteStore {
    /// Open an existing index for reading and searching.
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join(DB_FILE);
        if !path.is_file() {
            return Err(Error::NoIndex {
                location: super::StoreLocation::Dir(dir.to_path_buf()),
            });
        }
        let conn = Self::connect(&path)?;
        let fingerprint = Self::read_fingerprint(&conn, &path)?.ok_or_else(|| {
            Error::bad_file(
                &path,
                "not a semclust index (no model fingerprint); delete the folder and index again",
            )
        })?;
        Ok(Self::new(dir, conn, fingerprint))
    }

    /// Open an index for writing, creating it if absent. An index made with another model,
    /// revision, precision or dimension is an error: its vectors would not be comparable.
    pub fn open_or_create(dir: &Path, fingerprint: &Fingerprint) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create index folder {}", dir.display()), e))?;
        let path = dir.join(DB_FILE);
        let conn = Self::connect(&path)?;
        let tx = conn.unchecked_transaction().map_err(|e| db_err(&path, e))?;
        match Self::read_fingerprint(&tx, &path)? {
            Some(existing) if &existing != fingerprint => {
                return Err(Error::ModelMismatch {
                    location: dir.display().to_string(),
                    built_with: Box::new(existing),
                    loaded: Box::new(fingerprint.clone()),
                })
            }
            Some(_) => {}
            None => {
                let json = serde_json::to_string(fingerprint).map_err(Error::internal)?;
                tx.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('fingerprint', ?1), ('schema_version', ?2), ('generation', '0'), ('instance', ?3)",
                    params![json, SCHEMA_VERSION, new_instance_id(&path)],
                )
                .map_err(|e| db_err(&path, e))?;
            }
        }
        tx.commit().map_err(|e| db_err(&path, e))?;
        Ok(Self::new(dir, conn, fingerprint.clone()))
    }

    fn new(dir: &Path, conn: Connection, fingerprint: Fingerprint) -> Self {
        Self {
            dir: dir.to_path_buf(),
            conn,
            fingerprint,
            loaded: OnceLock::new(),
            ann: OnceLock::new(),
            ann_params: AnnParams::default(),
            cached_generation: None,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn ann_params(&self) -> AnnParams {
        self.ann_params
    }

    pub fn set_ann_params(&mut self, p: AnnParams) {
        self.ann_params = p;
        self.ann = OnceLock::new();
    }

    fn connect(path: &Path) -> Result<Connection> {
        let conn = Connection::open(path).map_err(|e| db_err(path, e))?;
        // Another writer (a second `semclust index`) waits instead of failing at once.
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(|e| db_err(path, e))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS documents(key TEXT PRIMARY KEY, path TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS passages(
                 id TEXT PRIMARY KEY,
                 document TEXT NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
                 article TEXT NOT NULL,
                 paragraph INTEGER NOT NULL,
                 title TEXT NOT NULL,
                 span_start INTEGER NOT NULL,
                 span_end INTEGER NOT NULL,
                 hash TEXT NOT NULL,
                 text TEXT NOT NULL,
                 vector BLOB NOT NULL);
             CREATE INDEX IF NOT EXISTS passages_hash ON passages(hash);
             CREATE INDEX IF NOT EXISTS passages_document ON passages(document);",
        )
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
                Error::bad_file(path, "not a SQLite database; delete it and index again")
            }
            e => db_err(path, e),
        })?;
        Ok(conn)
    }

    fn read_fingerprint(conn: &Connection, path: &Path) -> Result<Option<Fingerprint>> {
        let version: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| db_err(path, e))?;
        if let Some(v) = version {
            if v != SCHEMA_VERSION {
                return Err(Error::bad_file(
                    path,
                    format!("index schema version {v}, this semclust reads {SCHEMA_VERSION}: index the files again into a new folder"),
                ));
            }
        }
        let json: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'fingerprint'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| db_err(path, e))?;
        json.map(|j| {
            serde_json::from_str(&j)
                .map_err(|e| Error::bad_file(path, format!("damaged model fingerprint: {e}")))
        })
        .transpose()
    }

    fn path(&self) -> PathBuf {
        self.dir.join(DB_FILE)
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        db_err(&self.path(), e)
    }

    fn loaded(&self) -> Result<&Loaded> {
        if let Some(l) = self.loaded.get() {
            return Ok(l);
        }
        let dim = self.fingerprint.dimension;
        let mut stmt = self
            .conn
            .prepare("SELECT id, document, article, vector FROM passages ORDER BY id")
            .map_err(|e| self.err(e))?;
        let n = self.len()?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        let mut l = Loaded {
            ids: Vec::with_capacity(n),
            groups: Vec::with_capacity(n),
            group_of: HashMap::new(),
            row_of: HashMap::with_capacity(n),
            data: crate::util::alloc::huge_page_vec(n * dim),
        };
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let id: String = r.get(0).map_err(|e| self.err(e))?;
            let doc: String = r.get(1).map_err(|e| self.err(e))?;
            let art: String = r.get(2).map_err(|e| self.err(e))?;
            let blob = r.get_ref(3).map_err(|e| self.err(e))?;
            let bytes = blob
                .as_blob()
                .map_err(|e| self.err(rusqlite::Error::from(e)))?;
            if bytes.len() != dim * 4 {
                return Err(Error::bad_file(
                    self.path(),
                    format!(
                        "passage {id}: vector of {} bytes, expected {}; re-index the file",
                        bytes.len(),
                        dim * 4
                    ),
                ));
            }
            l.data.extend(
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            );
            let next = l.group_of.len() as u32;
            let g = *l.group_of.entry((doc, art)).or_insert(next);
            l.groups.push(g);
            l.row_of.insert(id.clone(), l.ids.len() as u32);
            l.ids.push(id);
        }
        Ok(self.loaded.get_or_init(|| l))
    }

    fn ann(&self, l: &Loaded) -> Result<Option<&Hnsw>> {
        if let Some(a) = self.ann.get() {
            return Ok(a.as_ref());
        }
        let dim = self.fingerprint.dimension;
        let gen = self.generation()?;
        let instance = self.instance()?;
        // "i8" in the name: graphs of earlier versions (f32, bf16) are not loaded, only replaced;
        // the instance: a graph of a deleted database of the same generation is never loaded.
        let file = self.dir.join(format!("hnsw-i8-{instance}-{gen}.usearch"));
        let graph = match Hnsw::load(&file, dim, self.ann_params) {
            Ok(h) if h.len() == l.ids.len() && h.params().m == self.ann_params.m => h,
            _ => {
                let h = Hnsw::build(&l.data, dim, self.ann_params)?;
                // The graph is a cache: a read-only index folder only costs a rebuild next time.
                // The quantiser is renamed into place first: a graph file is never there
                // without its own.
                let tmp = self
                    .dir
                    .join(format!("hnsw-i8-{instance}-{gen}.usearch.tmp"));
                let saved = h.save(&tmp).is_ok() && {
                    let [tmp_graph, tmp_quant] = Hnsw::files(&tmp);
                    let [graph, quant] = Hnsw::files(&file);
                    std::fs::rename(&tmp_quant, &quant).is_ok()
                        && std::fs::rename(&tmp_graph, &graph).is_ok()
                };
                if saved {
                    self.remove_stale_graphs(&file);
                }
                h
            }
        };
        Ok(self.ann.get_or_init(|| Some(graph)).as_ref())
    }

    fn remove_stale_graphs(&self, keep: &Path) {
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            for e in rd.flatten() {
                let p = e.path();
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                if name.starts_with("hnsw-") && !Hnsw::files(keep).contains(&p) {
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
    }

    fn row_to_passage(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredPassage> {
        Ok(StoredPassage {
            id: r.get(0)?,
            document: r.get(1)?,
            path: r.get(2)?,
            article_key: r.get(3)?,
            paragraph: r.get(4)?,
            title: r.get(5)?,
            span: (r.get::<_, i64>(6)? as u64, r.get::<_, i64>(7)? as u64),
            hash: r.get(8)?,
            text: r.get(9)?,
        })
    }

    const PASSAGE_COLUMNS: &'static str = "p.id, p.document, d.path, p.article, p.paragraph, p.title, p.span_start, p.span_end, p.hash, p.text FROM passages p JOIN documents d ON d.key = p.document";
}

fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl VectorStore for SqliteStore {
    fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    fn len(&self) -> Result<usize> {
        self.conn
            .query_row("SELECT COUNT(*) FROM passages", [], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(|e| self.err(e))
    }

    fn passage(&self, id: &str) -> Result<Option<StoredPassage>> {
        self.conn
            .query_row(
                &format!("SELECT {} WHERE p.id = ?1", Self::PASSAGE_COLUMNS),
                [id],
                Self::row_to_passage,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn passages_by_keys(&self, keys: &[RowKey]) -> Result<Vec<StoredPassage>> {
        let l = self.loaded()?;
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {} WHERE p.id = ?1", Self::PASSAGE_COLUMNS))
            .map_err(|e| self.err(e))?;
        keys.iter()
            .map(|&RowKey(r)| {
                let id = usize::try_from(r)
                    .ok()
                    .and_then(|r| l.ids.get(r))
                    .ok_or_else(|| {
                        Error::internal(format!("search row {r} is not in the index"))
                    })?;
                stmt.query_row([id], Self::row_to_passage)
                    .map_err(|e| self.err(e))
            })
            .collect()
    }

    fn passages(&self) -> Result<Vec<StoredPassage>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {} ORDER BY p.id", Self::PASSAGE_COLUMNS))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], Self::row_to_passage)
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    fn vector(&self, id: &str) -> Result<Option<Vec<f32>>> {
        self.conn
            .query_row("SELECT vector FROM passages WHERE id = ?1", [id], |r| {
                r.get::<_, Vec<u8>>(0)
            })
            .optional()
            .map(|b| b.map(|b| from_blob(&b)))
            .map_err(|e| self.err(e))
    }

    fn nearest(&self, q: &Nearest<'_>) -> Result<Vec<ScoredRow>> {
        let dim = self.fingerprint.dimension;
        q.check(dim)?;
        let (query, k, exclude) = (q.vector, q.k, q.exclude);
        let l = self.loaded()?;
        let skip_row = exclude
            .passage
            .as_ref()
            .and_then(|id| l.row_of.get(id).copied());
        let skip_group = exclude
            .article
            .as_ref()
            .and_then(|g| l.group_of.get(g).copied());
        let skip =
            |r: u32| Some(r) == skip_row || skip_group.is_some_and(|g| l.groups[r as usize] == g);
        let n = l.ids.len();
        let use_ann = match q.method {
            SearchMethod::Exact => false,
            SearchMethod::Approximate => true,
            SearchMethod::Auto => n > ANN_THRESHOLD,
        };
        if use_ann {
            if let Some(h) = self.ann(l)? {
                let f: Option<&dyn Fn(u32) -> bool> = if exclude.is_empty() {
                    None
                } else {
                    Some(&skip)
                };
                return Ok(keyed(h.search_rescored(query, k, f, &l.data, dim)?));
            }
        }
        Ok(keyed(if n > 50_000 {
            flat::top_k_parallel(&l.data, dim, query, k, &skip)
        } else {
            flat::top_k(&l.data, dim, query, k, &skip)
        }))
    }

    fn row_ids(&self) -> Result<Vec<String>> {
        Ok(self.loaded()?.ids.clone())
    }

    fn vectors(&self) -> Result<Vec<f32>> {
        Ok(self.loaded()?.data.clone())
    }

    /// Drawn when the database is created, so that an index deleted and made again, whose
    /// generation counter starts again at 0, never meets the caches of the one before.
    /// Databases made before it existed get one on their next write, and are "legacy" until.
    fn instance(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'instance'", [], |r| {
                r.get::<_, String>(0)
            })
            .optional()
            .map_err(|e| self.err(e))?
            .unwrap_or_else(|| "legacy".to_string()))
    }

    /// The index folder itself.
    fn cache_dir(&self) -> Result<PathBuf> {
        Ok(self.dir.clone())
    }

    fn set_ef_search(&mut self, ef: usize) {
        let mut p = self.ann_params;
        p.ef_search = ef;
        self.set_ann_params(p);
    }

    /// One read transaction (WAL keeps its snapshot); search data a writer has made stale since
    /// it was loaded is dropped, to be loaded again from this snapshot.
    fn begin_read(&mut self) -> Result<()> {
        self.conn
            .execute_batch("BEGIN DEFERRED")
            .map_err(|e| self.err(e))?;
        match self.generation() {
            Ok(generation) => {
                if self.cached_generation != Some(generation) {
                    self.loaded = OnceLock::new();
                    self.ann = OnceLock::new();
                    self.cached_generation = Some(generation);
                }
                Ok(())
            }
            Err(e) => {
                let _ = self.end_read();
                Err(e)
            }
        }
    }

    /// A read transaction has nothing to keep: ending it can only release the snapshot.
    fn end_read(&mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(|e| self.err(e))
    }
}

/// Search hits of the flat scan or the graph as store results: the key is the row.
fn keyed(hits: Vec<flat::Scored>) -> Vec<ScoredRow> {
    hits.into_iter()
        .map(|h| ScoredRow {
            key: RowKey(u64::from(h.row)),
            score: h.score,
        })
        .collect()
}

impl VectorStoreWrite for SqliteStore {
    fn documents(&self) -> Result<HashMap<String, String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, path FROM documents")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    fn document_state(&self, document: &str) -> Result<DocumentState> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, hash, article, paragraph, title, span_start, span_end FROM passages WHERE document = ?1",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([document], |r| {
                Ok((
                    r.get(0)?,
                    PassageState {
                        hash: r.get(1)?,
                        article: r.get(2)?,
                        paragraph: r.get(3)?,
                        title: r.get(4)?,
                        span: (r.get::<_, i64>(5)? as u64, r.get::<_, i64>(6)? as u64),
                    },
                ))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    fn vector_for_hash(&self, hash: &str) -> Result<Option<Vec<f32>>> {
        self.conn
            .prepare_cached("SELECT vector FROM passages WHERE hash = ?1 LIMIT 1")
            .and_then(|mut s| s.query_row([hash], |r| r.get::<_, Vec<u8>>(0)).optional())
            .map(|b| b.map(|b| from_blob(&b)))
            .map_err(|e| self.err(e))
    }

    fn apply(&mut self, changes: Changes) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        changes.check_dimension(self.fingerprint.dimension)?;
        let path = self.path();
        let tx = self.conn.transaction().map_err(|e| db_err(&path, e))?;
        {
            let mut doc = tx
                .prepare_cached(
                    "INSERT INTO documents(key, path) VALUES (?1, ?2)
                     ON CONFLICT(key) DO UPDATE SET path = excluded.path",
                )
                .map_err(|e| db_err(&path, e))?;
            for (key, p) in &changes.documents {
                doc.execute(params![key, p]).map_err(|e| db_err(&path, e))?;
            }
            let mut up = tx
                .prepare_cached(
                    "INSERT INTO passages(id, document, article, paragraph, title, span_start, span_end, hash, text, vector)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT(id) DO UPDATE SET document = excluded.document, article = excluded.article,
                       paragraph = excluded.paragraph, title = excluded.title, span_start = excluded.span_start,
                       span_end = excluded.span_end, hash = excluded.hash, text = excluded.text, vector = excluded.vector",
                )
                .map_err(|e| db_err(&path, e))?;
            for (p, v) in &changes.upserts {
                up.execute(params![
                    p.id,
                    p.document,
                    p.article,
                    p.paragraph,
                    p.title,
                    p.span.0 as i64,
                    p.span.1 as i64,
                    p.hash,
                    p.text,
                    to_blob(v)
                ])
                .map_err(|e| db_err(&path, e))?;
            }
            let mut touch = tx
                .prepare_cached(
                    "UPDATE passages SET article = ?2, paragraph = ?3, title = ?4, span_start = ?5, span_end = ?6 WHERE id = ?1",
                )
                .map_err(|e| db_err(&path, e))?;
            for p in &changes.touched {
                touch
                    .execute(params![
                        p.id,
                        p.article,
                        p.paragraph,
                        p.title,
                        p.span.0 as i64,
                        p.span.1 as i64
                    ])
                    .map_err(|e| db_err(&path, e))?;
            }
            let mut del = tx
                .prepare_cached("DELETE FROM passages WHERE id = ?1")
                .map_err(|e| db_err(&path, e))?;
            for id in &changes.deleted_passages {
                del.execute([id]).map_err(|e| db_err(&path, e))?;
            }
            let mut deld = tx
                .prepare_cached("DELETE FROM documents WHERE key = ?1")
                .map_err(|e| db_err(&path, e))?;
            for key in &changes.deleted_documents {
                deld.execute([key]).map_err(|e| db_err(&path, e))?;
            }
            tx.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'",
                [],
            )
            .map_err(|e| db_err(&path, e))?;
            // Indexes made before the instance id existed get theirs with their next change.
            tx.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('instance', ?1)",
                params![new_instance_id(&path)],
            )
            .map_err(|e| db_err(&path, e))?;
        }
        tx.commit().map_err(|e| db_err(&path, e))?;
        self.loaded = OnceLock::new();
        self.ann = OnceLock::new();
        Ok(())
    }

    fn generation(&self) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'generation'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|g| g as u64)
            .map_err(|e| self.err(e))
    }
}

/// 128 random bits as hex, from the OS's randomness (the standard library's hasher keys are
/// drawn from it) mixed with the time, the process and the path.
fn new_instance_id(path: &Path) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::new();
    for i in 0..2u8 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u8(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.write_u32(std::process::id());
        h.write(path.as_os_str().as_encoded_bytes());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}
