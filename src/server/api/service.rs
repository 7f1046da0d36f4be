//! Service routes: health, metrics, the OpenAPI document, and the 404 and 405 answers.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::super::error::ApiError;
use super::super::AppState;

pub async fn health(State(state): State<Arc<AppState>>) -> Json<Value> {
    let info = state.embedder().info();
    let st = state.clone();
    let passages = tokio::task::spawn_blocking(move || st.index_len())
        .await
        .ok()
        .flatten();
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "model": info.model,
        "revision": info.revision,
        "precision": info.precision,
        "device": info.device,
        "dimension": info.dimension,
        "index": {
            "dir": state.config.store.to_string(),
            "backend": match state.config.store {
                crate::store::StoreLocation::Dir(_) => "sqlite",
                crate::store::StoreLocation::Postgres(_) => "postgres",
            },
            "passages": passages,
        },
        "queue_depth": state.batcher.queue_depth(),
        "uptime_seconds": state.started.elapsed().as_secs_f64(),
    }))
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let st = state.clone();
    let passages = tokio::task::spawn_blocking(move || st.index_len())
        .await
        .ok()
        .flatten();
    let body = state.metrics.render(state.batcher.queue_depth(), passages);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

pub async fn openapi() -> Json<Value> {
    Json(super::super::openapi::document())
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route; the routes are listed at /openapi.json")
        .with_code("unknown_route")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        "this route does not take that method; see /openapi.json",
    )
    .with_code("method_not_allowed")
}
