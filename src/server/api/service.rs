//! Service routes: health, metrics, the OpenAPI document, and the 404 and 405 answers.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::super::error::ApiError;
use super::super::AppState;

/// Liveness and what the server runs.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    status: &'static str,
    version: &'static str,
    model: String,
    revision: String,
    precision: crate::Precision,
    device: String,
    dimension: usize,
    index: IndexHealth,
    /// Requests waiting for the model.
    queue_depth: usize,
    uptime_seconds: f64,
}

#[derive(Serialize, ToSchema)]
pub struct IndexHealth {
    /// The index folder, or the PostgreSQL URL without its password.
    dir: String,
    /// `sqlite` or `postgres`.
    backend: &'static str,
    /// Passages in the index (null when it cannot be read now).
    passages: Option<usize>,
}

/// Liveness and what the server runs (no key needed).
#[utoipa::path(get, path = "/health", security(()),
    responses((status = 200, body = Health, description = "Up.")))]
pub async fn health(State(state): State<Arc<AppState>>) -> Json<Health> {
    let info = state.embedder().info();
    let st = state.clone();
    let passages = tokio::task::spawn_blocking(move || st.index_len())
        .await
        .ok()
        .flatten();
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        model: info.model.clone(),
        revision: info.revision.clone(),
        precision: info.precision,
        device: info.device.clone(),
        dimension: info.dimension,
        index: IndexHealth {
            dir: state.config.store.to_string(),
            backend: match state.config.store {
                crate::store::StoreLocation::Dir(_) => "sqlite",
                crate::store::StoreLocation::Postgres(_) => "postgres",
            },
            passages,
        },
        queue_depth: state.batcher.queue_depth(),
        uptime_seconds: state.started.elapsed().as_secs_f64(),
    })
}

/// Prometheus metrics (text format 0.0.4; no key needed).
#[utoipa::path(get, path = "/metrics", security(()),
    responses((status = 200, body = String, content_type = "text/plain", description = "Metrics.")))]
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

/// This document.
#[utoipa::path(get, path = "/openapi.json", security(()),
    responses((status = 200, body = Object, description = "OpenAPI 3.1.")))]
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
