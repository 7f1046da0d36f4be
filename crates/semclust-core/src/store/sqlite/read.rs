//! Reads and searches of a SQLite index: the search matrix and HNSW graph loaded once per
//! generation, exact or graph search over them.

use super::*;

impl SqliteStore {
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
        let st = state_at(r, 3)?;
        Ok(StoredPassage {
            id: r.get(0)?,
            document: r.get(1)?,
            path: r.get(2)?,
            article_key: st.article,
            paragraph: st.paragraph,
            title: st.title,
            span: st.span,
            hash: st.hash,
            text: r.get(11)?,
            section: st.section,
            meta: st.meta,
        })
    }

    const PASSAGE_COLUMNS: &'static str = "p.id, p.document, d.path, p.hash, p.article, p.paragraph, p.title, p.span_start, p.span_end, p.section, p.meta, p.text FROM passages p JOIN documents d ON d.key = p.document";
}

/// What a passage's row says of it from column `at` on: hash, article, paragraph, title,
/// span_start, span_end, section, meta (the order of [`STATE_COLUMNS`]).
pub(super) fn state_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<PassageState> {
    Ok(PassageState {
        hash: r.get(at)?,
        article: r.get(at + 1)?,
        paragraph: r.get(at + 2)?,
        title: r.get(at + 3)?,
        span: (
            r.get::<_, i64>(at + 4)? as u64,
            r.get::<_, i64>(at + 5)? as u64,
        ),
        section: r.get(at + 6)?,
        meta: meta_column(r, at + 7)?,
    })
}

/// The columns [`state_at`] reads, in its order.
pub(super) const STATE_COLUMNS: &str =
    "hash, article, paragraph, title, span_start, span_end, section, meta";

/// The `meta` column (a JSON object) of row `r`.
pub(super) fn meta_column(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Meta> {
    let s: String = r.get(i)?;
    serde_json::from_str(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(super) fn from_blob(b: &[u8]) -> Vec<f32> {
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

    fn vectors_by_keys(&self, keys: &[RowKey]) -> Result<Vec<Vec<f32>>> {
        // The search matrix is in memory: no statement per row.
        let l = self.loaded()?;
        let dim = self.fingerprint.dimension;
        keys.iter()
            .map(|&RowKey(r)| {
                usize::try_from(r)
                    .ok()
                    .and_then(|r| l.data.get(r * dim..(r + 1) * dim))
                    .map(<[f32]>::to_vec)
                    .ok_or_else(|| Error::internal(format!("search row {r} is not in the index")))
            })
            .collect()
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

    fn article_vectors(&self, document: &str, article_key: &str) -> Result<Vec<Vec<f32>>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT vector FROM passages WHERE document = ?1 AND article = ?2")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([document, article_key], |r| r.get::<_, Vec<u8>>(0))
            .map_err(|e| self.err(e))?;
        rows.map(|b| b.map(|b| from_blob(&b)))
            .collect::<rusqlite::Result<Vec<_>>>()
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
        let allowed: Option<Vec<bool>> = exclude.outside.as_ref().map(|ids| {
            let mut v = vec![false; l.ids.len()];
            for id in ids.iter() {
                if let Some(&r) = l.row_of.get(id) {
                    v[r as usize] = true;
                }
            }
            v
        });
        let skip = |r: u32| {
            Some(r) == skip_row
                || skip_group.is_some_and(|g| l.groups[r as usize] == g)
                || allowed.as_ref().is_some_and(|a| !a[r as usize])
        };
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

    /// Only the graph outlives the process (a file beside the database); a smaller index's
    /// matrix is loaded by whichever process searches it.
    fn prepare_nearest(&self) -> Result<()> {
        if self.len()? > ANN_THRESHOLD {
            self.ann(self.loaded()?)?;
        }
        Ok(())
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
        Ok(meta(&self.conn, "instance")
            .map_err(|e| self.err(e))?
            .unwrap_or_else(|| "legacy".to_string()))
    }

    fn replaced(&self) -> bool {
        self.file_replaced()
    }

    /// The index folder itself; a temporary folder when it is read-only.
    fn cache_dir(&self) -> Result<PathBuf> {
        Ok(match &self.read_only {
            Some(t) => t.path().to_path_buf(),
            None => self.dir.clone(),
        })
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
