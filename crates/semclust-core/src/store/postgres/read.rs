//! Reads and searches of a PostgreSQL index.

use super::*;

impl PgStore {
    const PASSAGE_COLUMNS: &'static str = "p.rid, p.id, p.document, d.path, p.hash, p.article, p.paragraph, p.title, p.span_start, p.span_end, p.section, p.meta::text, p.text";

    fn from_row(r: &postgres::Row) -> (i64, StoredPassage) {
        let st = state_at(r, 4);
        (
            r.get(0),
            StoredPassage {
                id: r.get(1),
                document: r.get(2),
                path: r.get(3),
                article_key: st.article,
                paragraph: st.paragraph,
                title: st.title,
                span: st.span,
                hash: st.hash,
                text: r.get(12),
                section: st.section,
                meta: st.meta,
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
        let inside: Option<Vec<&str>> = exclude
            .outside
            .as_ref()
            .map(|ids| ids.iter().map(String::as_str).collect());
        if let Some(ids) = &inside {
            params.push(ids);
            sql.push_str(&format!(" AND id = ANY(${})", params.len()));
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
}

impl VectorStore for PgStore {
    fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    fn len(&self) -> Result<usize> {
        let n: i64 = self.scalar(&format!("SELECT count(*) FROM {}.passages", self.s()), &[])?;
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

    fn vectors_by_keys(&self, keys: &[RowKey]) -> Result<Vec<Vec<f32>>> {
        // One statement for all the rows: the language-neutral view rescores 100 candidates
        // per dense query, which the trait's default read as 200 round trips to the server.
        let rids: Vec<i64> = keys.iter().map(|k| k.0 as i64).collect();
        let found: HashMap<i64, Vec<f32>> = self
            .conn()
            .client
            .query(
                &format!(
                    "SELECT rid, embedding FROM {}.passages WHERE rid = ANY($1)",
                    self.s()
                ),
                &[&rids],
            )
            .map_err(|e| self.err(e))?
            .iter()
            .map(|r| (r.get::<_, i64>(0), r.get::<_, Vector>(1).to_vec()))
            .collect();
        // A row deleted by another writer since the search gets the zero vector, as the trait
        // says.
        let dim = self.fingerprint().dimension;
        Ok(rids
            .iter()
            .map(|r| found.get(r).cloned().unwrap_or_else(|| vec![0.0; dim]))
            .collect())
    }

    fn article_vectors(&self, document: &str, article_key: &str) -> Result<Vec<Vec<f32>>> {
        Ok(self
            .conn()
            .client
            .query(
                &format!(
                    "SELECT embedding FROM {}.passages WHERE document = $1 AND article = $2",
                    self.s()
                ),
                &[&document, &article_key],
            )
            .map_err(|e| self.err(e))?
            .iter()
            .map(|r| r.get::<_, Vector>(0).to_vec())
            .collect())
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
        self.scalar(
            &format!("SELECT value FROM {}.meta WHERE key = 'instance'", self.s()),
            &[],
        )
    }

    /// A folder in semclust's cache named after the server, database, schema and index
    /// instance.
    fn cache_dir(&self) -> Result<PathBuf> {
        let key = format!("{}#{}", self.target.cache_key(), self.instance()?);
        let digest = Sha256::digest(key.as_bytes());
        let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let dir = crate::util::fs::cache_root().join("postgres").join(name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        Ok(dir)
    }

    fn set_ef_search(&mut self, ef: usize) {
        self.ann.ef_search = ef;
    }
}
