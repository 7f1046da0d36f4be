//! What `semclust serve` is configured with: the limits on one request, and the server's
//! configuration (key, aliases, timeouts, connections).

use std::time::Duration;

use super::BatchConfig;
use crate::store::StoreLocation;

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
