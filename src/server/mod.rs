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
mod error;
mod jobs;
mod metrics;
mod openapi;

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

use crate::collection::{Collection, IndexState};
use crate::embed::TokenEncoder;
use crate::error::Result;
use crate::store::{Fingerprint, StoreLocation};

/// What one request may ask for.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Request body size (413 above).
    pub max_body_bytes: usize,
    /// Texts in one `/v1/embeddings` request (400 above).
    pub max_inputs: usize,
    /// Tokens of one input (400 above); longer inputs than the model's window are embedded in
    /// overlapping windows up to this.
    pub max_input_tokens: usize,
    /// Tokens of one request, all inputs together (400 above).
    pub max_request_tokens: usize,
    /// `k` of search, related and themes.
    pub max_k: usize,
    /// Bytes of one input text or one indexed passage (400 above), checked before tokenising:
    /// a 4 MB single word takes seconds of CPU and hundreds of MB to tokenise.
    pub max_input_bytes: usize,
    /// Time a request may take (504 after), `POST /v1/index` excepted: cutting an indexing run
    /// short would not undo what it committed.
    pub timeout: Duration,
    /// Time a client has to send a request's headers, or on a kept-alive connection to start
    /// the next request; the connection is closed after it.
    pub header_read_timeout: Duration,
    /// Time a client has to send a request's body (408 after).
    pub body_read_timeout: Duration,
    /// Connections open at once (one more is answered 503 and closed). Lowered at start to
    /// fit the process's open-file limit.
    pub max_connections: usize,
    /// After SIGTERM or Ctrl-C: time left to the requests in flight; connections still open
    /// then are dropped and the process exits.
    pub shutdown_timeout: Duration,
    /// Theme results kept (one per k, seed and restarts; the oldest is dropped).
    pub themes_cache_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 4 << 20,
            max_inputs: 2048,
            max_input_tokens: 8192,
            max_request_tokens: 65_536,
            max_k: 1000,
            max_input_bytes: 128 << 10,
            timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 512,
            shutdown_timeout: Duration::from_secs(20),
            themes_cache_entries: 16,
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
    /// Fit (or read from the cache) the model's language-neutral view at start, the default
    /// of every search and theme request (see [`crate::neutral`]); `false` (`serve
    /// --no-neutral`): the model's own vectors only, and no model pass before the first request.
    pub neutral: bool,
    /// More names `/v1/embeddings` answers to, for clients that insist on a model name of
    /// their own (`serve --model-alias`); each, like the served model's name, may end in
    /// `:query` or `:passage` to pick the prefix.
    pub model_aliases: Vec<String>,
}

type ThemesKey = (String, u64, usize);

/// The turn of one themes key.
type ThemesGate = tokio::sync::Mutex<()>;

/// Theme results of one state of the index, the oldest dropped past a bound.
#[derive(Default)]
struct ThemesCache {
    state: Option<IndexState>,
    /// In insertion order.
    entries: std::collections::VecDeque<(ThemesKey, Arc<serde_json::Value>)>,
}

impl ThemesCache {
    /// Forget every result when the index is now in another state.
    fn follow(&mut self, state: IndexState, metrics: &Metrics) {
        if self.state.as_ref() != Some(&state) {
            self.state = Some(state);
            self.entries.clear();
            metrics.themes_cached(0);
        }
    }

    fn get(&self, key: &ThemesKey) -> Option<Arc<serde_json::Value>> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    /// Keep `v`, dropping the oldest results past `bound` (none kept when it is 0).
    fn insert(
        &mut self,
        key: ThemesKey,
        v: Arc<serde_json::Value>,
        bound: usize,
        metrics: &Metrics,
    ) {
        while self.entries.len() >= bound.max(1) {
            self.entries.pop_front();
        }
        if bound > 0 {
            self.entries.push_back((key, v));
        }
        metrics.themes_cached(self.entries.len());
    }
}

/// Shared by every request.
pub struct AppState {
    batcher: Batcher,
    /// The model's language-neutral fit, given to every collection the server opens.
    neutral: Option<Arc<crate::neutral::LanguageSubspace>>,
    fingerprint: Fingerprint,
    config: ServerConfig,
    metrics: Arc<Metrics>,
    started: Instant,
    /// The index for reading, opened on first use (`None` until there is one).
    reader: Mutex<Option<Collection>>,
    /// One indexing request at a time.
    writer: tokio::sync::Mutex<()>,
    /// Themes by (k, seed, restarts), valid for one state of the index.
    themes: tokio::sync::Mutex<ThemesCache>,
    /// One turn per themes key being computed: a second request for the same themes waits for
    /// the first; requests for other themes run beside it.
    themes_gates: Mutex<std::collections::HashMap<ThemesKey, std::sync::Weak<ThemesGate>>>,
    /// Themes runs started by `POST /v1/themes`.
    jobs: jobs::Jobs,
    /// Passages in the index when `/health` or `/metrics` last counted them (-1: not yet):
    /// what they report while the index is busy, as they never wait for it.
    passages: std::sync::atomic::AtomicI64,
}

impl AppState {
    /// Start the model thread and check the index (if there is one) was built with this model.
    /// `embedder` is the loaded [`crate::embed::Embedder`], or a test's stand-in.
    pub fn new(embedder: Arc<dyn TokenEncoder>, config: ServerConfig) -> Result<Arc<Self>> {
        let fingerprint = Fingerprint::from(embedder.info());
        let reader = Collection::open_existing(&config.store)?;
        if let Some(c) = &reader {
            c.check_model(embedder.info())?;
        }
        let metrics = Arc::new(Metrics::default());
        let batcher = Batcher::start(embedder, config.batch, metrics.clone());
        // The model's language-neutral fit (made once per model and machine, then read from
        // the cache). A model it cannot be fitted for is served without: said in the log.
        let fit = match config.neutral {
            true => crate::neutral::LanguageSubspace::cached_or_fit(
                &fingerprint,
                &batcher,
                &crate::model::cache_root(),
            )
            .map(Some),
            false => Ok(None),
        };
        let neutral = match fit {
            Ok(fit) => fit.map(Arc::new),
            Err(e) => {
                crate::util::log(&format!(
                    "no language-neutral view for {}: {e}; similarity is the model's own",
                    fingerprint.model
                ));
                None
            }
        };
        let mut reader = reader;
        if let (Some(c), Some(fit)) = (reader.as_mut(), &neutral) {
            c.set_language_subspace(fit.clone())?;
        }
        Ok(Arc::new(Self {
            neutral,
            batcher,
            fingerprint,
            config,
            metrics,
            started: Instant::now(),
            reader: Mutex::new(reader),
            writer: tokio::sync::Mutex::new(()),
            themes: tokio::sync::Mutex::new(ThemesCache::default()),
            themes_gates: Mutex::new(std::collections::HashMap::new()),
            jobs: jobs::Jobs::default(),
            passages: std::sync::atomic::AtomicI64::new(-1),
        }))
    }

    pub fn embedder(&self) -> &dyn TokenEncoder {
        self.batcher.embedder()
    }

    /// The turn of the themes `key`: shared by the requests that want it now, dropped with the
    /// last of them (the map keeps only weak handles, pruned as it grows).
    fn themes_gate(&self, key: &ThemesKey) -> Arc<ThemesGate> {
        let mut gates = self.themes_gates.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(g) = gates.get(key).and_then(std::sync::Weak::upgrade) {
            return g;
        }
        gates.retain(|_, g| g.strong_count() > 0);
        let g = Arc::new(ThemesGate::default());
        gates.insert(key.clone(), Arc::downgrade(&g));
        g
    }

    /// Run `f` on the index (each [`Collection`] operation reads one consistent snapshot).
    fn read<R>(
        &self,
        f: impl FnOnce(&mut Collection) -> Result<R>,
    ) -> std::result::Result<R, ApiError> {
        let mut guard = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        self.open_reader(&mut guard)?;
        let Some(collection) = guard.as_mut() else {
            return Err(self.no_index());
        };
        let result = f(collection);
        if let Err(crate::Error::Postgres { .. }) = &result {
            // The connection may be gone (server restart, failover): the next request connects
            // again instead of failing for ever.
            *guard = None;
        }
        Ok(result?)
    }

    /// Open the index into `reader` on first use; it stays `None` while there is no index. An
    /// index deleted or made again since it was opened is opened again: answering from the
    /// deleted file would serve what is gone, and miss what `POST /v1/index` writes to the new
    /// one.
    fn open_reader(&self, reader: &mut Option<Collection>) -> Result<()> {
        if reader.as_ref().is_some_and(Collection::replaced) {
            crate::util::log(&format!(
                "the index {} was deleted or made again: opening it again",
                self.config.store
            ));
            *reader = None;
        }
        if reader.is_none() {
            *reader = Collection::open_existing(&self.config.store)?;
            if let (Some(c), Some(fit)) = (reader.as_mut(), &self.neutral) {
                c.set_language_subspace(fit.clone())?;
            }
        }
        Ok(())
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
        .with_code("index_empty")
    }

    /// Passages in the index, for `/health` and `/metrics` (None before the first indexing).
    /// Counted when the index is free, else the last count: a long search or a lexical-index
    /// build never holds up a health check.
    fn index_len(&self) -> Option<usize> {
        use std::sync::atomic::Ordering;
        if let Ok(mut guard) = self.reader.try_lock() {
            let _ = self.open_reader(&mut guard);
            if let Some(collection) = guard.as_mut() {
                if let Ok(n) = collection.len() {
                    self.passages.store(n as i64, Ordering::Relaxed);
                }
            }
        }
        usize::try_from(self.passages.load(Ordering::Relaxed)).ok()
    }
}

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

/// Serve on `listener` until `shutdown` completes, then stop taking connections, let the
/// requests in flight finish within `--shutdown-timeout`, and return; connections still open
/// then are dropped (their requests get no answer; an indexing run stops between transactions).
///
/// The accept loop is ours rather than `axum::serve`'s, for what a server facing the open
/// network needs: a header-read timeout (a client that sends half a request line and waits is
/// cut off), a bound on open connections that refuses the next one at once with 503 instead of
/// letting accept fail on the open-file limit, and the shutdown deadline.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let app = router(state.clone());
    let limits = state.config.limits;
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections(
        limits.max_connections,
    )));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors, or a connection reset before it was accepted: the
                // listener is fine, try again shortly rather than spin or stop.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            state.metrics.rejected_connection();
            tokio::spawn(refuse_connection(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    // Writers finish before the process ends (an indexing request whose client went away is
    // still running on the blocking pool), within the same deadline.
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        graceful.shutdown().await;
        let _writing = state.writer.lock().await;
    })
    .await;
    if drained.is_err() {
        crate::util::log(&format!(
            "shutdown: requests still open after {} s (--shutdown-timeout) were dropped",
            limits.shutdown_timeout.as_secs_f64()
        ));
    }
    Ok(())
}

/// `wanted`, lowered to fit the open-file limit (raised to its hard maximum first, as servers
/// do): past it accept() fails and the server can answer nobody, /health included. A reserve
/// stays for the index, the model and the lexical index's files.
fn max_connections(wanted: usize) -> usize {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit read and write the one struct passed, which lives here.
        let files = unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
                if lim.rlim_cur < lim.rlim_max {
                    let raised = libc::rlimit {
                        rlim_cur: lim.rlim_max,
                        rlim_max: lim.rlim_max,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                        lim.rlim_cur = lim.rlim_max;
                    }
                }
                Some(lim.rlim_cur)
            } else {
                None
            }
        };
        if let Some(files) = files {
            let files = usize::try_from(files).unwrap_or(usize::MAX);
            let reserve = (files / 4).max(64);
            let fits = files.saturating_sub(reserve).max(1);
            if fits < wanted {
                crate::util::log(&format!(
                    "--max-connections {wanted} lowered to {fits}: the open-file limit is {files} (raise it with `ulimit -n`)"
                ));
                return fits;
            }
        }
    }
    wanted
}

/// Answer a connection over the bound with 503 and close it, without waiting on the client.
async fn refuse_connection(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Written by hand: this connection never reaches hyper or the router.
    let error = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable_error",
        "the server has as many connections open as it takes (--max-connections); retry after the number of seconds in Retry-After",
    )
    .with_code("too_many_connections");
    let body = error.body().to_string();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    // What the client already sent is read first (briefly): closing a socket with unread data
    // resets it, and the client would see the reset instead of the answer.
    let mut scratch = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(50), stream.read(&mut scratch)).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// Method label values: a closed set, so that made-up methods cannot grow `/metrics`.
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts every response (including 401, 404, 413 and timeouts) by route template, method and
/// status. Every label comes from a closed set: the route templates, [`method_label`], and
/// `unmatched`.
async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = match req.extensions().get::<MatchedPath>() {
        Some(m) if m.as_str() == "/v1/passages/{*id}" => {
            if req.uri().path().ends_with("/related") {
                "/v1/passages/{id}/related".to_string()
            } else {
                "/v1/passages/{id}".to_string()
            }
        }
        Some(m) if m.as_str() == "/v1/documents/{*key}" => "/v1/documents/{key}".to_string(),
        Some(m) => m.as_str().to_string(),
        None => "unmatched".to_string(),
    };
    // Counted down by a guard: a request whose connection drops mid-way is dropped here too.
    struct InFlight<'a>(&'a Metrics);
    impl Drop for InFlight<'_> {
        fn drop(&mut self) {
            self.0.in_flight(true);
        }
    }
    state.metrics.in_flight(false);
    let guard = InFlight(&state.metrics);
    let response = next.run(req).await;
    drop(guard);
    state.metrics.request(
        &route,
        method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Reads the whole body before any handler runs, within `--body-read-timeout` (408 after) and
/// `--max-body-bytes` (413; at once when `Content-Length` says so, without reading a byte). A
/// client that sends half a body and waits is cut off here, on every route, `POST /v1/index`
/// included.
async fn read_body(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let limits = state.config.limits;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return ApiError::body_too_large(limits.max_body_bytes).into_response();
    }
    let (parts, body) = req.into_parts();
    let read = tokio::time::timeout(
        limits.body_read_timeout,
        http_body_util::BodyExt::collect(http_body_util::Limited::new(body, limits.max_body_bytes)),
    )
    .await;
    let bytes = match read {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return ApiError::body_too_large(limits.max_body_bytes).into_response()
        }
        Ok(Err(e)) => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                format!("the request body could not be read: {e}"),
            )
            .with_code("body_unreadable")
            .into_response()
        }
        Err(_) => {
            let mut r = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "timeout_error",
                format!(
                    "the request body did not arrive within {} s (--body-read-timeout)",
                    limits.body_read_timeout.as_secs_f64()
                ),
            )
            .with_code("body_timeout")
            .into_response();
            r.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            return r;
        }
    };
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// With `--api-key`, every `/v1/` request must carry it (`/health`, `/metrics` and
/// `/openapi.json` stay open). Checked on the headers alone, before the body is read; a refused
/// request that has a body gets `Connection: close`, so that the body is never read at all.
async fn authenticate(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Response {
    let Some(key) = &state.config.api_key else {
        return next.run(req).await;
    };
    if !req.uri().path().starts_with("/v1/") {
        return next.run(req).await;
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    let mut refused = match given {
        Some(g) if constant_time_eq(g.as_bytes(), key.as_bytes()) => return next.run(req).await,
        Some(_) => unauthorized("invalid_api_key", "the API key is wrong"),
        None => unauthorized(
            "missing_api_key",
            "this server needs an API key: send `Authorization: Bearer KEY` (the key given to `semclust serve --api-key`)",
        ),
    };
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    if has_body {
        refused.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
    }
    refused
}

/// The token of `Bearer TOKEN`; the scheme is case-insensitive (RFC 9110, 11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let value = value.trim_start();
    let (scheme, token) = value.split_once([' ', '\t'])?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn unauthorized(code: &'static str, msg: &str) -> Response {
    let mut r = ApiError::new(StatusCode::UNAUTHORIZED, "authentication_error", msg)
        .with_code(code)
        .into_response();
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
        .with_code("timeout")
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::{bearer_token, constant_time_eq};

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer k1"), Some("k1"));
        assert_eq!(bearer_token("bearer k1"), Some("k1"));
        assert_eq!(bearer_token("BEARER   k1 "), Some("k1"));
        assert_eq!(bearer_token("Basic k1"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }

    #[test]
    fn key_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
