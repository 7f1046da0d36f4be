//! `semclust serve`: the HTTP service over one index (routes in `semclust::server`).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;

use semclust::collection::Collection;
use semclust::server::{self, AppState, BatchConfig, Limits, ServerConfig};
use semclust::{Embedder, Precision};

use super::{notify, IndexDir, RuntimeArgs, SourceArgs};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default: the service has no TLS, and without
    /// --api-key anyone who reaches it can read and change the index. Port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub index: IndexDir,
    /// Model id (default: the index's model, or multilingual-e5-small without an index).
    #[arg(long, env = "SEMCLUST_MODEL")]
    pub model: Option<String>,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Serve the model's own vectors only: no language-neutral view is fitted at start (about
    /// 20 s the first time on a machine, then read from the cache), and requests' `neutral`
    /// has nothing to turn on.
    #[arg(long)]
    pub no_neutral: bool,
    /// Another name `/v1/embeddings` accepts as `model` (repeatable), for clients that send a
    /// model name of their own (LangChain's default is text-embedding-ada-002). Any accepted
    /// name may end in `:query` or `:passage` to pick the prefix.
    #[arg(long, value_name = "NAME")]
    pub model_alias: Vec<String>,
    /// Require `Authorization: Bearer KEY` on every /v1/ route.
    #[arg(
        long,
        env = "SEMCLUST_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub api_key: Option<String>,
    /// Largest request body in bytes (413 above).
    #[arg(long, default_value_t = Limits::default().max_body_bytes, value_name = "BYTES")]
    pub max_body_bytes: usize,
    /// Most texts in one /v1/embeddings request (422 above).
    #[arg(long, default_value_t = Limits::default().max_inputs, value_name = "N")]
    pub max_inputs: usize,
    /// Most tokens in one input text (422 above).
    #[arg(long, default_value_t = Limits::default().max_input_tokens, value_name = "N")]
    pub max_input_tokens: usize,
    /// Most tokens in one request, all inputs together (422 above).
    #[arg(long, default_value_t = Limits::default().max_request_tokens, value_name = "N")]
    pub max_request_tokens: usize,
    /// Largest k of search, related and themes (422 above).
    #[arg(long, default_value_t = Limits::default().max_k, value_name = "N")]
    pub max_k: usize,
    /// Largest input text (and indexed passage) in bytes (422 above), checked before
    /// tokenising.
    #[arg(long, default_value_t = Limits::default().max_input_bytes, value_name = "BYTES")]
    pub max_input_bytes: usize,
    /// Seconds a request may take (504 after); POST /v1/index is exempt.
    #[arg(long, default_value_t = Limits::default().timeout.as_secs_f64(), value_name = "SECONDS")]
    pub timeout: f64,
    /// Seconds a client has to send a request's headers (or start its next request on a
    /// kept-alive connection); the connection is closed after.
    #[arg(long, default_value_t = Limits::default().header_read_timeout.as_secs_f64(), value_name = "SECONDS")]
    pub header_read_timeout: f64,
    /// Seconds a client has to send a request's body (408 after).
    #[arg(long, default_value_t = Limits::default().body_read_timeout.as_secs_f64(), value_name = "SECONDS")]
    pub body_read_timeout: f64,
    /// Connections open at once; one more is answered 503 and closed. Lowered at start to fit
    /// the open-file limit.
    #[arg(long, default_value_t = Limits::default().max_connections, value_name = "N")]
    pub max_connections: usize,
    /// Seconds given to requests in flight after SIGTERM or Ctrl-C; then the remaining
    /// connections are dropped and the server exits.
    #[arg(long, default_value_t = Limits::default().shutdown_timeout.as_secs_f64(), value_name = "SECONDS")]
    pub shutdown_timeout: f64,
    /// Theme results kept in memory (one per k, seed and restarts; the oldest is dropped).
    #[arg(long, default_value_t = Limits::default().themes_cache_entries, value_name = "N")]
    pub themes_cache_entries: usize,
    /// Tokens one forward pass gathers from concurrent requests at most.
    #[arg(long, default_value_t = BatchConfig::default().max_batch_tokens, value_name = "N")]
    pub max_batch_tokens: usize,
    /// Milliseconds the first request of a batch waits for others to join.
    #[arg(long, default_value_t = BatchConfig::default().max_wait.as_secs_f64() * 1e3, value_name = "MS")]
    pub max_wait_ms: f64,
    /// Requests waiting for the model at most; when full, 429 with Retry-After.
    #[arg(long, default_value_t = BatchConfig::default().queue_capacity, value_name = "N")]
    pub queue_capacity: usize,
    /// No messages besides the address.
    #[arg(long, short)]
    pub quiet: bool,
}

fn positive(name: &str, v: usize) -> Result<usize> {
    if v == 0 {
        bail!("--{name} must be at least 1");
    }
    Ok(v)
}

fn seconds(name: &str, v: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(v)
        .ok()
        .filter(|d| !d.is_zero() || name == "max-wait-ms")
        .with_context(|| format!("--{name} must be a positive number, not {v}"))
}

impl ServeArgs {
    fn limits(&self) -> Result<Limits> {
        Ok(Limits {
            max_body_bytes: positive("max-body-bytes", self.max_body_bytes)?,
            max_inputs: positive("max-inputs", self.max_inputs)?,
            max_input_tokens: positive("max-input-tokens", self.max_input_tokens)?,
            max_request_tokens: positive("max-request-tokens", self.max_request_tokens)?,
            max_k: positive("max-k", self.max_k)?,
            max_input_bytes: positive("max-input-bytes", self.max_input_bytes)?,
            timeout: seconds("timeout", self.timeout)?,
            header_read_timeout: seconds("header-read-timeout", self.header_read_timeout)?,
            body_read_timeout: seconds("body-read-timeout", self.body_read_timeout)?,
            max_connections: positive("max-connections", self.max_connections)?,
            shutdown_timeout: seconds("shutdown-timeout", self.shutdown_timeout)?,
            themes_cache_entries: self.themes_cache_entries,
        })
    }

    fn batch(&self) -> Result<BatchConfig> {
        Ok(BatchConfig {
            max_batch_tokens: positive("max-batch-tokens", self.max_batch_tokens)?,
            max_wait: seconds("max-wait-ms", self.max_wait_ms / 1e3)?,
            queue_capacity: positive("queue-capacity", self.queue_capacity)?,
        })
    }
}

pub fn run(args: ServeArgs) -> Result<()> {
    let quiet = args.quiet;
    let report = |m: &str| {
        if !quiet {
            notify(m)
        }
    };
    if args.api_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
        // Said even with --quiet: an empty variable (unset in a deploy script, interpolated
        // as "") must not turn authentication off unnoticed.
        notify(
            "warning: the API key (--api-key or SEMCLUST_API_KEY) is empty, so authentication is OFF: every client can read and index. Give a key, or unset the variable to serve without one knowingly",
        );
    }
    let config = ServerConfig {
        store: args.index.location()?,
        api_key: args.api_key.clone().filter(|k| !k.trim().is_empty()),
        limits: args.limits()?,
        batch: args.batch()?,
        neutral: !args.no_neutral,
        model_aliases: args.model_alias.clone(),
    };
    // An existing index decides the model unless the user names one (a mismatch is reported
    // by AppState::new with what to do).
    let existing = Collection::open_existing(&config.store)?.map(|c| c.fingerprint().clone());
    let name = args
        .model
        .clone()
        .or_else(|| existing.as_ref().map(|f| f.model.clone()))
        .unwrap_or_else(|| semclust::model::DEFAULT_MODEL.to_string());
    let precision: Option<Precision> = match (&args.runtime.precision, &existing) {
        (Some(p), _) => Some(*p),
        (None, Some(f)) if f.model == name => Some(f.precision.parse()?),
        _ => None,
    };
    let spec = args.source.spec(&name);
    let embedder = Embedder::load_with(&spec, args.runtime.device, precision, &report)?;
    report(&embedder.info().to_string());
    let state = AppState::new(std::sync::Arc::new(embedder), config)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("semclust-http")
        .build()
        .context("cannot start the server's runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        let addr = listener
            .local_addr()
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        // Always printed, on stdout: scripts and tests read the port from it.
        println!("semclust: listening on http://{addr}");
        if !addr.ip().is_loopback() && state_has_no_key(&args.api_key) {
            notify(&format!(
                "warning: {addr} is reachable from other machines and no --api-key is set"
            ));
        }
        server::serve(listener, state, shutdown_signal(quiet))
            .await
            .context("the server stopped")
    })?;
    // Connections dropped at the shutdown deadline may leave work on the blocking pool (an
    // indexing run between two transactions): the process does not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(200));
    report("stopped");
    Ok(())
}

fn state_has_no_key(key: &Option<String>) -> bool {
    key.as_deref().is_none_or(|k| k.trim().is_empty())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal(quiet: bool) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    if !quiet {
        notify("shutting down: finishing the requests in flight");
    }
}
