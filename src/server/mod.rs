//! The HTTP service (`semclust serve`): an OpenAI-compatible `/v1/embeddings`, search, related
//! passages, indexing and themes over one index, with `/health`, Prometheus `/metrics` and an
//! OpenAPI description at `/openapi.json`.
//!
//! Requests that need the model go through one queue to the model thread ([`batcher`]), which
//! runs concurrent requests together. Reads of the index go through one long-lived connection
//! on a consistent snapshot; writes (`POST /v1/index`) take turns on a second one, so searches
//! keep running while documents are embedded.

mod api;
pub mod batcher;
mod error;
mod metrics;
pub mod openapi;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

pub use batcher::{BatchConfig, Batcher};
pub use error::ApiError;
pub use metrics::Metrics;

use crate::embed::Embedder;
use crate::error::Result;
use crate::search::LexicalIndex;
use crate::store::{AnyStore, Fingerprint, StoreLocation, VectorStore};

/// What one request may ask for.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Request body size (413 above).
    pub max_body_bytes: usize,
    /// Texts in one `/v1/embeddings` request (422 above).
    pub max_inputs: usize,
    /// Tokens of one input (422 above); longer inputs than the model's window are embedded in
    /// overlapping windows up to this.
    pub max_input_tokens: usize,
    /// Tokens of one request, all inputs together (422 above).
    pub max_request_tokens: usize,
    /// `k` of search, related and themes.
    pub max_k: usize,
    /// Time a request may take (504 after), `POST /v1/index` excepted: cutting an indexing run
    /// short would not undo what it committed.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 4 << 20,
            max_inputs: 2048,
            max_input_tokens: 8192,
            max_request_tokens: 65_536,
            max_k: 1000,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Everything `serve` needs besides the model.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The index: a folder or a PostgreSQL schema.
    pub store: StoreLocation,
    /// When set, every `/v1/` request must carry `Authorization: Bearer KEY`.
    pub api_key: Option<String>,
    pub limits: Limits,
    pub batch: BatchConfig,
}

/// The index as the server sees it.
struct Reader {
    store: AnyStore,
    /// The lexical index and the generation it was built for.
    lexical: Option<(u64, LexicalIndex)>,
}

type ThemesKey = (String, u64, usize);

/// Shared by every request.
pub struct AppState {
    batcher: Batcher,
    fingerprint: Fingerprint,
    config: ServerConfig,
    metrics: Arc<Metrics>,
    started: Instant,
    reader: Mutex<Option<Reader>>,
    /// One indexing request at a time.
    writer: tokio::sync::Mutex<()>,
    /// Themes by (k, seed, restarts), valid for one generation of the index.
    themes: tokio::sync::Mutex<(u64, HashMap<ThemesKey, Arc<serde_json::Value>>)>,
}

impl AppState {
    /// Start the model thread and check the index (if there is one) was built with this model.
    pub fn new(embedder: Embedder, config: ServerConfig) -> Result<Arc<Self>> {
        let info = embedder.info();
        let fingerprint = Fingerprint {
            model: info.model.clone(),
            revision: info.revision.clone(),
            precision: info.precision.to_string(),
            dimension: info.dimension,
        };
        let reader = if let Some(store) = config.store.open_existing()? {
            if store.fingerprint() != &fingerprint {
                return Err(crate::Error::InvalidArgument(format!(
                    "index {} was built with {}; the server loaded {fingerprint}: start it with --model {} --precision {}, or choose another --index or --store",
                    config.store,
                    store.fingerprint(),
                    store.fingerprint().model,
                    store.fingerprint().precision
                )));
            }
            Some(Reader {
                store,
                lexical: None,
            })
        } else {
            None
        };
        let metrics = Arc::new(Metrics::default());
        let batcher = Batcher::start(Arc::new(embedder), config.batch, metrics.clone());
        Ok(Arc::new(Self {
            batcher,
            fingerprint,
            config,
            metrics,
            started: Instant::now(),
            reader: Mutex::new(reader),
            writer: tokio::sync::Mutex::new(()),
            themes: tokio::sync::Mutex::new((u64::MAX, HashMap::new())),
        }))
    }

    pub fn embedder(&self) -> &Embedder {
        self.batcher.embedder()
    }

    /// Run `f` on a consistent snapshot of the index (see [`AnyStore::snapshot`]).
    fn read<R>(
        &self,
        f: impl FnOnce(&AnyStore, &mut Option<(u64, LexicalIndex)>) -> Result<R>,
    ) -> std::result::Result<R, ApiError> {
        let mut guard = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let Some(store) = self.config.store.open_existing()? else {
                return Err(self.no_index());
            };
            *guard = Some(Reader {
                store,
                lexical: None,
            });
        }
        let Some(Reader { store, lexical }) = guard.as_mut() else {
            return Err(self.no_index());
        };
        let result = store.snapshot(|s| f(s, lexical));
        if let Err(crate::Error::Postgres { .. }) = &result {
            // The connection may be gone (server restart, failover): the next request connects
            // again instead of failing for ever.
            *guard = None;
        }
        Ok(result?)
    }

    fn no_index(&self) -> ApiError {
        ApiError::new(
            StatusCode::CONFLICT,
            "index_empty",
            format!(
                "the index {} holds no passage yet: POST documents to /v1/index, or run `semclust index PATH {}`",
                self.config.store,
                self.config.store.flag()
            ),
        )
    }

    /// Passages in the index, for `/health` and `/metrics` (None before the first indexing).
    fn index_len(&self) -> Option<usize> {
        self.read(|s, _| s.len()).ok()
    }
}

/// The routes, with authentication, the timeout, the body limit and request metrics.
pub fn router(state: Arc<AppState>) -> Router {
    let v1 = Router::new()
        .route("/v1/embeddings", post(api::embeddings))
        .route("/v1/models", get(api::models))
        .route("/v1/search", post(api::search))
        .route("/v1/passages/{*id}", get(api::passage))
        .route("/v1/themes", get(api::themes))
        .route_layer(middleware::from_fn_with_state(state.clone(), timeout))
        .route("/v1/index", post(api::index))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .merge(v1)
        .route("/health", get(api::health))
        .route("/metrics", get(api::metrics))
        .route("/openapi.json", get(api::openapi))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Serve on `listener` until `shutdown` completes, then stop taking connections, finish the
/// requests in flight, and stop the model thread after the jobs already queued.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    // Writers finish before the process ends: an indexing request whose client went away is
    // still running on the blocking pool.
    let _writing = state.writer.lock().await;
    Ok(())
}

/// Counts every response (including 401, 404, 413 and timeouts) by route template and status.
async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = match req.extensions().get::<MatchedPath>() {
        Some(m) if m.as_str() == "/v1/passages/{*id}" => {
            if req.uri().path().ends_with("/related") {
                "/v1/passages/{id}/related".to_string()
            } else {
                "/v1/passages/{id}".to_string()
            }
        }
        Some(m) => m.as_str().to_string(),
        None => "unmatched".to_string(),
    };
    let response = next.run(req).await;
    state.metrics.request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

async fn authenticate(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Response {
    let Some(key) = &state.config.api_key else {
        return next.run(req).await;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(g) if constant_time_eq(g.as_bytes(), key.as_bytes()) => next.run(req).await,
        Some(_) => unauthorized("the API key is wrong"),
        None => unauthorized(
            "this server needs an API key: send `Authorization: Bearer KEY` (the key given to `semclust serve --api-key`)",
        ),
    }
}

fn unauthorized(msg: &str) -> Response {
    let mut r =
        ApiError::new(StatusCode::UNAUTHORIZED, "authentication_error", msg).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    r
}

/// Compares without stopping at the first difference, so timing does not reveal the key.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn timeout(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let limit = state.config.limits.timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout_error",
            format!(
                "the request took longer than the server's limit of {} s (--timeout)",
                limit.as_secs_f64()
            ),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn key_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
