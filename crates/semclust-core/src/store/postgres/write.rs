//! Writes to a PostgreSQL index: change sets in one transaction under the schema's advisory
//! lock, bulk loads with the HNSW index built once afterwards.

use super::*;

impl PgStore {
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
        tx.batch_execute(&format!("DROP INDEX IF EXISTS {s}.{HNSW_INDEX}"))
            .map_err(|e| query_error(&target, e))?;
        create_hnsw(&mut tx, &target, &s, dim, ann)?;
        tx.batch_execute(&format!(
            "INSERT INTO {s}.meta VALUES ('hnsw', '{{\"m\": {}, \"ef_construction\": {}}}')
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value;",
            ann.m, ann.ef_construction
        ))
        .map_err(|e| query_error(&target, e))?;
        tx.commit().map_err(|e| query_error(&target, e))?;
        Ok(t0.elapsed().as_secs_f64())
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
            let n: i64 = scalar(
                &mut tx,
                &target,
                &format!("SELECT count(*) FROM {s}.passages"),
                &[],
            )?;
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
                     span_start bigint, span_end bigint, hash text, text text, embedding vector,
                     section text, meta text)
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
                Type::TEXT,
                Type::TEXT,
            ];
            let mut w = BinaryCopyInWriter::new(sink, &types);
            for (p, v) in &changes.upserts {
                let vec = Vector::from(v.clone());
                let para = p.paragraph as i32;
                let (a, b) = (p.span.0 as i64, p.span.1 as i64);
                let meta = meta_json(&p.meta);
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
                    &p.section,
                    &meta,
                ])
                .map_err(e)?;
            }
            w.finish().map_err(e)?;
            tx.execute(
                &format!(
                    "INSERT INTO {s}.passages(id, document, article, paragraph, title, span_start, span_end, hash, text, embedding, section, meta)
                     SELECT id, document, article, paragraph, title, span_start, span_end, hash, text, embedding, section, meta::jsonb
                     FROM semclust_stage
                     ON CONFLICT (id) DO UPDATE SET document = excluded.document, article = excluded.article,
                       paragraph = excluded.paragraph, title = excluded.title, span_start = excluded.span_start,
                       span_end = excluded.span_end, hash = excluded.hash, text = excluded.text, embedding = excluded.embedding,
                       section = excluded.section, meta = excluded.meta"
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
            let sections: Vec<Option<&str>> = changes
                .touched
                .iter()
                .map(|p| p.section.as_deref())
                .collect();
            let metas: Vec<String> = changes.touched.iter().map(|p| meta_json(&p.meta)).collect();
            tx.execute(
                &format!(
                    "UPDATE {s}.passages p SET article = u.article, paragraph = u.paragraph, title = u.title,
                       span_start = u.span_start, span_end = u.span_end, section = u.section,
                       meta = u.meta::jsonb
                     FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::bigint[], $6::bigint[],
                                 $7::text[], $8::text[])
                       AS u(id, article, paragraph, title, span_start, span_end, section, meta)
                     WHERE p.id = u.id"
                ),
                &[&ids, &arts, &paras, &titles, &starts, &ends, &sections, &metas],
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
            create_hnsw(&mut tx, &target, &s, dim, ann)?;
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

/// Build the HNSW index inside `tx`, with maintenance memory sized for the rows it holds.
fn create_hnsw(
    tx: &mut postgres::Transaction<'_>,
    target: &PgTarget,
    s: &str,
    dim: usize,
    ann: AnnParams,
) -> Result<()> {
    let n: i64 = scalar(
        tx,
        target,
        &format!("SELECT count(*) FROM {s}.passages"),
        &[],
    )?;
    raise_maintenance_memory(target, tx, n as usize, dim, ann.m)?;
    tx.batch_execute(&format!(
        "CREATE INDEX {HNSW_INDEX} ON {s}.passages USING hnsw (embedding vector_ip_ops)
             WITH (m = {}, ef_construction = {})",
        ann.m, ann.ef_construction
    ))
    .map_err(|e| query_error(target, e))
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
    let current_kb: i64 = scalar(
        tx,
        target,
        "SELECT setting::bigint FROM pg_settings WHERE name = 'maintenance_work_mem'",
        &[],
    )?;
    let want = need_kb.clamp(64 * 1024, 4 * 1024 * 1024) as i64;
    if want > current_kb {
        tx.batch_execute(&format!("SET LOCAL maintenance_work_mem = '{want}kB'"))
            .map_err(|e| query_error(target, e))?;
    }
    Ok(())
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
        Ok(self
            .conn()
            .client
            .query(
                &format!(
                    "SELECT id, {STATE_COLUMNS} FROM {}.passages WHERE document = $1",
                    self.s()
                ),
                &[&document],
            )
            .map_err(|e| self.err(e))?
            .iter()
            .map(|r| (r.get(0), state_at(r, 1)))
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
        let sql = format!(
            "SELECT value FROM {}.meta WHERE key = 'generation'",
            self.s()
        );
        let v: String = self.scalar(&sql, &[])?;
        v.parse().map_err(|_| {
            self.target
                .error(format!("damaged generation counter {v:?}"))
        })
    }
}
