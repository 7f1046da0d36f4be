//! The HTTP service (`semclust serve`): an OpenAI-compatible `/v1/embeddings`, search, related
//! passages, indexing and themes over one index, with `/health`, Prometheus `/metrics` and an
//! OpenAPI description at `/openapi.json`.
//!
//! Requests that need the model go through one queue to the model thread ([`batcher`]), which
//! runs concurrent requests together. Reads of the index go through one long-lived connection
//! on a consistent snapshot; writes (`POST /v1/index`) take turns on a second one, so searches
//! keep running while documents are embedded.

mod api;
mod batcher;
mod config;
mod error;
mod jobs;
mod layers;
mod listen;
mod metrics;
mod openapi;
mod state;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware::{self};
use axum::routing::{get, post};
use axum::Router;

pub use batcher::{BatchConfig, Batcher};
pub use error::ApiError;
pub use metrics::Metrics;

pub use config::{Limits, ServerConfig};
use layers::{authenticate, observe, read_body, timeout};
pub use listen::serve;
pub use state::AppState;
use state::{ThemesCache, ThemesKey};

/// The routes, with authentication, the timeout, the body limit and request metrics.
pub fn router(state: Arc<AppState>) -> Router {
    let v1 = Router::new()
        .route("/v1/embeddings", post(api::embeddings))
        .route("/v1/models", get(api::models))
        .route("/v1/search", post(api::search))
        .route("/v1/passages/{*id}", get(api::passage))
        .route("/v1/themes", get(api::themes).post(jobs::start))
        .route("/v1/themes/jobs/{id}", get(jobs::status))
        .route("/v1/documents", get(api::documents))
        .route("/v1/documents/{*key}", get(api::document))
        .route_layer(middleware::from_fn_with_state(state.clone(), timeout))
        .route("/v1/index", post(api::index));
    Router::new()
        .merge(v1)
        .route("/health", get(api::health))
        .route("/metrics", get(api::metrics))
        .route("/openapi.json", get(api::openapi))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), read_body))
        // Outside `read_body`: a request without the key is refused before a byte of its body
        // is read (100 clients sending 4 MiB each held 500 MB of bodies nobody would read).
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}
