//! Indexing documents sent over HTTP (`POST /v1/index`).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::super::error::{ApiError, ApiJson};
use super::super::AppState;
use crate::collection::Collection;
use crate::corpus::{self, Format};
use crate::indexing::DocumentPassages;
use crate::store::HnswOptions;

use super::{blocking, ApiResult};

/// Documents to add or replace, and documents to delete.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexRequest {
    #[serde(default)]
    documents: Vec<DocumentIn>,
    /// Documents to remove, by name.
    #[serde(default)]
    delete: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentIn {
    /// The document's key: passage ids are `NAME/ARTICLE/PARAGRAPH`.
    name: String,
    text: String,
    /// How to read `text` (markdown by default).
    #[serde(default)]
    #[schema(schema_with = format_schema)]
    format: Format,
}

/// The formats a document sent by name may be in: those `corpus::Format` reads from text.
fn format_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(Format::api_names()))
        .default(Some("markdown".into()))
        .build()
}

/// What an indexing request changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndexAnswer {
    /// Documents sent.
    documents: usize,
    added: usize,
    updated: usize,
    removed: usize,
    kept: usize,
    /// Passages run through the model (the rest of added/updated reused a stored vector).
    embedded: usize,
    documents_removed: usize,
    /// Of the updated passages, those embedded again because an earlier semclust had embedded
    /// their text without its title and headings.
    context_added: usize,
    /// Passages in the index now.
    passages: usize,
    /// The index generation after the change.
    generation: u64,
    seconds: f64,
}

/// Add, replace or delete documents; split and embedded as `semclust index` does,
/// incrementally.
#[utoipa::path(post, path = "/v1/index", request_body = IndexRequest,
    responses((status = 200, body = IndexAnswer, description = "What changed.")))]
pub async fn index(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<IndexRequest>,
) -> ApiResult<Json<IndexAnswer>> {
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
        // Only a signal to `semclust index` interrupts a run (`interrupted`, `not_embedded`);
        // a request runs to its end.
        let v = IndexAnswer {
            documents: report.files,
            added: report.added,
            updated: report.updated,
            removed: report.removed,
            kept: report.kept,
            embedded: report.embedded,
            documents_removed: report.documents_removed,
            context_added: report.context_added,
            passages: collection.len()?,
            generation,
            seconds: started.elapsed().as_secs_f64(),
        };
        drop(collection);
        crate::util::alloc::release_free_memory();
        Ok(v)
    })
    .await?;
    Ok(Json(v))
}
