//! Writes to a SQLite index: each change set in one transaction.

use super::read::{from_blob, state_at, STATE_COLUMNS};
use super::*;

fn meta_json(meta: &crate::corpus::Meta) -> String {
    serde_json::Value::Object(meta.clone()).to_string()
}

fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
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
            .prepare_cached(&format!(
                "SELECT id, {STATE_COLUMNS} FROM passages WHERE document = ?1"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([document], |r| Ok((r.get(0)?, state_at(r, 1)?)))
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
            // A passage's text and vector, then its place (article, paragraph, title, span,
            // section, metadata): new passages get both, touched ones the second only, so the
            // place is written by one statement.
            let mut up = tx
                .prepare_cached(
                    "INSERT INTO passages(id, document, hash, text, vector, article, paragraph, title, span_start, span_end)
                     VALUES (?1, ?2, ?3, ?4, ?5, '', 0, '', 0, 0)
                     ON CONFLICT(id) DO UPDATE SET document = excluded.document, hash = excluded.hash,
                       text = excluded.text, vector = excluded.vector",
                )
                .map_err(|e| db_err(&path, e))?;
            for (p, v) in &changes.upserts {
                up.execute(params![p.id, p.document, p.hash, p.text, to_blob(v)])
                    .map_err(|e| db_err(&path, e))?;
            }
            let mut place = tx
                .prepare_cached(
                    "UPDATE passages SET article = ?2, paragraph = ?3, title = ?4, span_start = ?5, span_end = ?6, section = ?7, meta = ?8 WHERE id = ?1",
                )
                .map_err(|e| db_err(&path, e))?;
            let upserted = changes.upserts.iter().map(|(p, _)| p);
            for p in upserted.chain(&changes.touched) {
                place
                    .execute(params![
                        p.id,
                        p.article,
                        p.paragraph,
                        p.title,
                        p.span.0 as i64,
                        p.span.1 as i64,
                        p.section,
                        meta_json(&p.meta)
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
pub(super) fn new_instance_id(path: &Path) -> String {
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
