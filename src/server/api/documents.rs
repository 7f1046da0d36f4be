//! The documents an index holds (`GET /v1/documents`, `GET /v1/documents/{key}`).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::super::error::ApiPath;
use super::super::AppState;

use super::search::PassageRecord;
use super::{blocking, ApiResult};

/// `GET /v1/documents`: every stored document (`semclust docs list --json`) and the index's
/// figures (`docs stats`).
pub async fn documents(State(state): State<Arc<AppState>>) -> ApiResult<Json<Value>> {
    let v = blocking(move || {
        let docs = state.read(|c| c.documents())?;
        let stats = crate::catalog::stats(&docs);
        Ok(json!({"object": "list", "data": docs, "stats": stats}))
    })
    .await?;
    Ok(Json(v))
}

/// `GET /v1/documents/{key}`: one document and its passages in reading order (`docs show`);
/// keys hold slashes (`nodejs/api/addons.md`), so the route takes the rest of the path.
pub async fn document(
    State(state): State<Arc<AppState>>,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let v = blocking(move || {
        let (info, passages) = state.read(|c| c.document(&key))?;
        let passages: Vec<PassageRecord<'_>> = passages.iter().map(PassageRecord::from).collect();
        Ok(json!({"document": info, "passages": passages}))
    })
    .await?;
    Ok(Json(v))
}
