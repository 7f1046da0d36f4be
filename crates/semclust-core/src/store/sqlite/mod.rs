//! The embedded store: one SQLite database per index folder (`index.sqlite`) holding documents,
//! passages, their vectors (little-endian f32 blobs) and the model fingerprint. Every change is one
//! transaction in WAL mode, so a killed writer leaves the previous or the next state and readers
//! never see half a change. Search loads the vectors once into one contiguous matrix (exact scan)
//! and, above [`ANN_THRESHOLD`](super::ANN_THRESHOLD) passages, an HNSW graph cached beside the
//! database as `hnsw-i8-GENERATION.usearch` (+ `.quant`, its quantiser), built by the first
//! search of a generation or, ahead of it, by `prepare_nearest` at the end of an indexing run.
//!
//! This file opens and creates stores; `read.rs` answers reads and searches, `write.rs` applies
//! changes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rusqlite::{params, Connection, OptionalExtension};

mod read;
mod write;

use write::new_instance_id;

use super::ann::{AnnParams, Hnsw};
use super::{
    flat, Changes, DocumentState, Fingerprint, Nearest, PassageState, RowKey, ScoredRow,
    SearchMethod, StoredPassage, VectorStore, VectorStoreWrite, ANN_THRESHOLD,
};
use crate::corpus::Meta;
use crate::error::{Error, Result};

/// 2: passages carry their heading path (`section`) and their article's metadata (`meta`, JSON).
const SCHEMA_VERSION: &str = "2";
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
    /// Device and inode of the database file opened: another file at the path (the index
    /// deleted and made again) is another index.
    file_id: Option<(u64, u64)>,
    /// Opened read-only (a folder this user cannot write): the folder the caches derived from
    /// the index go to instead, removed with the store.
    read_only: Option<tempfile::TempDir>,
}

/// Whether this process may write `path` (the real check, `access(2)`, which knows read-only
/// mounts and that root writes anything; not the mode bits).
fn writable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
            return false;
        };
        // SAFETY: `c` is a NUL-terminated string that outlives the call.
        unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(path).is_ok_and(|m| !m.permissions().readonly())
    }
}

/// Device and inode of the file at `path`, where the platform has them.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
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

/// A value of the `meta` table, if the key is there.
fn meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
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
                location: (&super::StoreLocation::Dir(dir.to_path_buf())).into(),
            });
        }
        let (conn, read_only) = match Self::connect(&path) {
            Ok(c) => (c, None),
            // A folder this user cannot write (a shared index, a read-only mount, a backup):
            // WAL mode needs its `-shm` file beside the database, so the database is opened
            // immutable, and caches derived from it go to a folder of this process's own.
            Err(_) if !writable(dir) || !writable(&path) => {
                let conn = Self::connect_read_only(&path)?;
                let caches = tempfile::Builder::new()
                    .prefix("semclust-read-only-")
                    .tempdir()
                    .map_err(|e| Error::io("cannot create a temporary folder", e))?;
                (conn, Some(caches))
            }
            Err(e) => return Err(e),
        };
        let fingerprint = Self::read_fingerprint(&conn, &path)?.ok_or_else(|| {
            Error::bad_file(
                &path,
                "not a semclust index (no model fingerprint); delete the folder and index again",
            )
        })?;
        let mut store = Self::new(dir, conn, fingerprint);
        store.read_only = read_only;
        Ok(store)
    }

    /// The database opened read-only and immutable (no lock, no WAL): for a folder this user
    /// cannot write. Changes still in `index.sqlite-wal` (a writer killed before it merged
    /// them) cannot be read that way, and are named.
    fn connect_read_only(path: &Path) -> Result<Connection> {
        use rusqlite::OpenFlags;
        let wal = path.with_file_name(format!("{DB_FILE}-wal"));
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
            crate::util::log(&format!(
                "{} is read-only and {} holds changes not yet merged into it: they are not read (open the index once with write access to merge them)",
                path.display(),
                wal.display()
            ));
        }
        // A URI: the path with the characters URIs give a meaning escaped.
        let mut uri = String::from("file:");
        for c in std::path::absolute(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .to_string_lossy()
            .chars()
        {
            match c {
                '%' | '?' | '#' => uri.push_str(&format!("%{:02X}", c as u32)),
                c => uri.push(c),
            }
        }
        uri.push_str("?immutable=1");
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&uri, flags).map_err(|e| db_err(path, e))?;
        conn.execute_batch("PRAGMA query_only = ON;")
            .map_err(|e| db_err(path, e))?;
        Ok(conn)
    }

    /// Open an index for writing, creating it if absent. An index made with another model,
    /// revision, precision or dimension is an error: its vectors would not be comparable.
    pub fn open_or_create(dir: &Path, fingerprint: &Fingerprint) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create index folder {}", dir.display()), e))?;
        let path = dir.join(DB_FILE);
        let conn = Self::connect(&path).map_err(|e| {
            if writable(dir) && (!path.exists() || writable(&path)) {
                e
            } else {
                Error::bad_file(
                    &path,
                    "the index folder is read-only for this user: it can be searched, not written; index into a folder you can write (--index DIR)",
                )
            }
        })?;
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
            file_id: file_id(&dir.join(DB_FILE)),
            read_only: None,
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

    /// See [`super::VectorStore::replaced`]: the file at the path is gone or another one.
    pub(crate) fn file_replaced(&self) -> bool {
        self.file_id.is_some() && file_id(&self.dir.join(DB_FILE)) != self.file_id
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
                 vector BLOB NOT NULL,
                 section TEXT,
                 meta TEXT NOT NULL DEFAULT '{}');
             CREATE INDEX IF NOT EXISTS passages_hash ON passages(hash);
             CREATE INDEX IF NOT EXISTS passages_document ON passages(document);",
        )
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
                Error::bad_file(path, "not a SQLite database; delete it and index again")
            }
            e => db_err(path, e),
        })?;
        Self::migrate_v1(&conn).map_err(|e| db_err(path, e))?;
        Ok(conn)
    }

    /// A version 1 index (before metadata) gains the `section` and `meta` columns in place: its
    /// passages stay, and get their metadata when their files are indexed again.
    fn migrate_v1(conn: &Connection) -> rusqlite::Result<()> {
        let has_meta = || {
            conn.prepare("SELECT 1 FROM pragma_table_info('passages') WHERE name = 'meta'")?
                .exists([])
        };
        if has_meta()? {
            return Ok(());
        }
        // Another process may be migrating too: take the write lock, then look again.
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let done = has_meta().and_then(|has| {
            if !has {
                conn.execute_batch(
                    "ALTER TABLE passages ADD COLUMN section TEXT;
                     ALTER TABLE passages ADD COLUMN meta TEXT NOT NULL DEFAULT '{}';",
                )?;
                conn.execute(
                    "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
                    [SCHEMA_VERSION],
                )?;
            }
            Ok(())
        });
        match done {
            Ok(()) => conn.execute_batch("COMMIT"),
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn read_fingerprint(conn: &Connection, path: &Path) -> Result<Option<Fingerprint>> {
        if let Some(v) = meta(conn, "schema_version").map_err(|e| db_err(path, e))? {
            if v != SCHEMA_VERSION {
                return Err(Error::bad_file(
                    path,
                    format!("index schema version {v}, this semclust reads {SCHEMA_VERSION}: index the files again into a new folder"),
                ));
            }
        }
        let json = meta(conn, "fingerprint").map_err(|e| db_err(path, e))?;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An index written by semclust before metadata (schema version 1, as its `connect` made it)
    /// opens with its passages intact and gains the new columns.
    #[test]
    fn a_version_1_index_is_migrated_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let fp = Fingerprint {
            model: "m".into(),
            revision: "r".into(),
            precision: "f32".into(),
            dimension: 2,
        };
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE documents(key TEXT PRIMARY KEY, path TEXT NOT NULL);
                 CREATE TABLE passages(
                     id TEXT PRIMARY KEY,
                     document TEXT NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
                     article TEXT NOT NULL, paragraph INTEGER NOT NULL, title TEXT NOT NULL,
                     span_start INTEGER NOT NULL, span_end INTEGER NOT NULL,
                     hash TEXT NOT NULL, text TEXT NOT NULL, vector BLOB NOT NULL);
                 INSERT INTO documents VALUES ('d', '/x/d.md');
                 INSERT INTO passages VALUES ('d/1/1', 'd', '1', 1, 'T', 0, 4, 'h', 'text',
                     x'0000803f00000000');
                 INSERT INTO meta VALUES ('schema_version', '1'), ('generation', '3'),
                     ('instance', 'i');",
            )
            .unwrap();
            let json = serde_json::to_string(&fp).unwrap();
            c.execute("INSERT INTO meta VALUES ('fingerprint', ?1)", [json])
                .unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let p = store.passage("d/1/1").unwrap().unwrap();
        assert_eq!((p.text.as_str(), p.title.as_str()), ("text", "T"));
        assert_eq!((p.section, p.meta.len()), (None, 0));
        assert_eq!(store.vector("d/1/1").unwrap().unwrap(), [1.0, 0.0]);
        assert_eq!(
            meta(&store.conn, "schema_version").unwrap().as_deref(),
            Some(SCHEMA_VERSION)
        );
        drop(store);
        // Opened again: nothing left to migrate.
        SqliteStore::open_or_create(dir.path(), &fp).unwrap();
    }
}
