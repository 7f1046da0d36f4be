//! Indexing documents sent over HTTP (`POST /v1/index`).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::super::error::{ApiError, ApiJson};
use super::super::AppState;
use crate::collection::Collection;
use crate::corpus::{self, Format};
use crate::indexing::DocumentPassages;
use crate::store::HnswOptions;

use super::{blocking, ApiResult};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexRequest {
    #[serde(default)]
    documents: Vec<DocumentIn>,
    /// Documents to remove, by name.
    #[serde(default)]
    delete: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentIn {
    /// The document's key: passage ids are `NAME/ARTICLE/PARAGRAPH`.
    name: String,
    text: String,
    /// One of `corpus::FORMATS` (markdown by default).
    #[serde(default)]
    format: Format,
}

pub async fn index(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<IndexRequest>,
) -> ApiResult<Json<Value>> {
    if req.documents.is_empty() && req.delete.is_empty() {
        return Err(ApiError::invalid(
            "send `documents` ([{name, text, format?}]) to add or replace, or `delete` ([name]) to remove",
        ));
    }
    let limits = corpus::ReadLimits {
        max_file_bytes: state.config.limits.max_body_bytes as u64,
        max_passage_bytes: state.config.limits.max_input_bytes,
    };
    // Parsing a page is CPU work: on the blocking pool, not on the threads that answer
    // /health and every other request.
    let documents = req.documents;
    let (docs, seen) = blocking(move || {
        let mut seen = std::collections::HashSet::new();
        let mut docs = Vec::with_capacity(documents.len());
        for (i, d) in documents.into_iter().enumerate() {
            let doc =
                DocumentPassages::from_text(&d.name, &d.text, d.format, &limits).map_err(|e| {
                    // A field of the document (`documents[0].name is empty`), or what its text
                    // holds.
                    let sep = if matches!(e, crate::Error::InvalidInput { .. }) {
                        "."
                    } else {
                        ": "
                    };
                    ApiError::invalid(format!("documents[{i}]{sep}{e}"))
                })?;
            if !seen.insert(doc.key.clone()) {
                return Err(ApiError::invalid(format!(
                    "documents[{i}].name '{}' appears twice in the request",
                    doc.key
                )));
            }
            docs.push(doc);
        }
        Ok((docs, seen))
    })
    .await?;
    let delete: Vec<String> = req.delete.iter().map(|d| corpus::document_key(d)).collect();
    if let Some(d) = delete.iter().find(|d| seen.contains(*d)) {
        return Err(ApiError::invalid(format!(
            "'{d}' is both in `documents` and in `delete`"
        )));
    }

    let _writing = state.writer.lock().await;
    let st = state.clone();
    let v = blocking(move || {
        let started = Instant::now();
        let mut collection = Collection::create_or_open(
            &st.config.store,
            st.embedder().info(),
            &HnswOptions::default(),
        )?;
        let report = collection.apply_documents(&st.batcher, &docs, &delete, &mut |_| {})?;
        let generation = collection.state()?.generation;
        st.metrics.passages_indexed(report.added + report.updated);
        let mut v = serde_json::to_value(&report).map_err(|e| ApiError::internal(e.to_string()))?;
        v["documents"] = v["files"].take();
        if let Some(o) = v.as_object_mut() {
            o.remove("files");
            // Only a signal to `semclust index` interrupts a run; a request runs to its end.
            o.remove("interrupted");
            o.remove("not_embedded");
        }
        v["passages"] = collection.len()?.into();
        v["generation"] = generation.into();
        v["seconds"] = started.elapsed().as_secs_f64().into();
        drop(collection);
        crate::util::alloc::release_free_memory();
        Ok(v)
    })
    .await?;
    Ok(Json(v))
}
