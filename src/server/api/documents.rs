//! The documents an index holds (`GET /v1/documents`, `GET /v1/documents/{key}`).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::super::error::ApiPath;
use super::super::AppState;
use crate::catalog::{DocumentInfo, IndexStats};

use super::search::PassageRecord;
use super::{blocking, to_json, ApiResult};

/// Every stored document, by key, and the index's figures.
#[derive(Serialize, ToSchema)]
pub struct DocumentList {
    /// `list`.
    object: &'static str,
    data: Vec<DocumentInfo>,
    stats: IndexStats,
}

/// A stored document and its passages in reading order.
#[derive(Serialize, ToSchema)]
pub struct DocumentPassages<'a> {
    document: DocumentInfo,
    passages: Vec<PassageRecord<'a>>,
}

/// Every stored document (key, path, format, passages, bytes, languages, dates) and the
/// index's figures, as `semclust docs list` and `docs stats` print them.
#[utoipa::path(get, path = "/v1/documents",
    responses((status = 200, body = DocumentList, description = "By key.")))]
pub async fn documents(State(state): State<Arc<AppState>>) -> ApiResult<Json<DocumentList>> {
    let list = blocking(move || {
        let data = state.read(|c| c.documents())?;
        let stats = crate::catalog::stats(&data);
        Ok(DocumentList {
            object: "list",
            data,
            stats,
        })
    })
    .await?;
    Ok(Json(list))
}

/// One stored document and its passages in reading order. The key holds slashes; send them as
/// they are or percent-encoded.
#[utoipa::path(get, path = "/v1/documents/{key}",
    params(("key" = String, Path, example = "nodejs/api/addons.md")),
    responses((status = 200, body = DocumentPassages, description = "The document.")))]
pub async fn document(
    State(state): State<Arc<AppState>>,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Json<serde_json::Value>> {
    // Keys hold slashes (`nodejs/api/addons.md`), so the route takes the rest of the path.
    let v = blocking(move || {
        let (document, passages) = state.read(|c| c.document(&key))?;
        let answer = DocumentPassages {
            document,
            passages: passages.iter().map(PassageRecord::from).collect(),
        };
        // The records borrow the passages, which do not outlive this closure.
        to_json(answer)
    })
    .await?;
    Ok(Json(v))
}
