//! The handlers, one module per resource. Each validates its input into a one-line 4xx error,
//! sends model work through the batcher (`embed` here) and index work to the blocking pool
//! (`blocking`), and answers JSON.

use std::sync::Arc;

use super::batcher::Submit;
use super::error::ApiError;
use super::AppState;
use crate::embed::{Embeddings, InputKind};

pub(super) mod documents;
pub(super) mod embeddings;
pub(super) mod index;
pub(super) mod search;
pub(super) mod service;
pub(super) mod themes;

pub use documents::{document, documents};
pub use embeddings::{embeddings, models};
pub use index::index;
pub use search::{passage, search};
pub use service::{health, method_not_allowed, metrics, not_found, openapi};
pub(super) use themes::{
    cached_themes, remember_themes, themes, ThemesAnswer, ThemesParams, ThemesSpec,
};

type ApiResult<T> = Result<T, ApiError>;

/// A record as the JSON body it is sent as, for answers that borrow what a blocking closure
/// read (and so must be serialised inside it) or that are cached as JSON.
pub(in crate::server) fn to_json(record: impl serde::Serialize) -> ApiResult<serde_json::Value> {
    serde_json::to_value(record).map_err(|e| ApiError::internal(e.to_string()))
}

/// Run blocking work (the index, tokenising) off the async threads.
pub(in crate::server) async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> ApiResult<R> + Send + 'static,
) -> ApiResult<R> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("worker failed: {e}")))?
}

/// How a message names input `i` of `n` sent in `field`: `query` for the one text of a search,
/// `input[3]` in a list.
fn input_name(field: &str, n: usize, i: usize) -> String {
    if n == 1 && field != "input" {
        field.to_string()
    } else {
        format!("{field}[{i}]")
    }
}

/// Tokenise, check the limits, queue for the model and wait for the vectors.
async fn embed(
    state: &Arc<AppState>,
    texts: Vec<String>,
    kind: InputKind,
    field: &'static str,
) -> ApiResult<Embeddings> {
    if state.batcher.is_full() {
        state.metrics.rejected_full();
        return Err(ApiError::overloaded());
    }
    let limits = state.config.limits;
    // Cheap bounds first: tokenising costs time and memory in proportion to the bytes, so
    // bytes are checked before any tokeniser runs.
    for (i, t) in texts.iter().enumerate() {
        if t.len() > limits.max_input_bytes {
            let at = input_name(field, texts.len(), i);
            return Err(ApiError::invalid(format!(
                "{at} has {} bytes, over the limit of {} per input (--max-input-bytes); split it",
                t.len(),
                limits.max_input_bytes
            ))
            .with_code("input_too_long"));
        }
    }
    let st = state.clone();
    let tokens = blocking(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        Ok(st.embedder().tokenize(&refs, kind)?)
    })
    .await?;
    let mut total = 0;
    for i in 0..tokens.len() {
        let n = tokens.content_len(i) + 2;
        if n > limits.max_input_tokens {
            let at = input_name(field, tokens.len(), i);
            return Err(ApiError::invalid(format!(
                "{at} has {n} tokens, over the limit of {} per input (--max-input-tokens)",
                limits.max_input_tokens
            ))
            .with_code("input_too_long"));
        }
        total += n;
    }
    if total > limits.max_request_tokens {
        return Err(ApiError::invalid(format!(
            "the request has {total} tokens, over the limit of {} per request (--max-request-tokens); split it",
            limits.max_request_tokens
        ))
        .with_code("request_too_long"));
    }
    let rx = match state.batcher.try_submit(tokens) {
        Ok(rx) => rx,
        Err(Submit::Full) => {
            state.metrics.rejected_full();
            return Err(ApiError::overloaded());
        }
        Err(Submit::Closed) => return Err(ApiError::shutting_down()),
    };
    match rx.await {
        Ok(r) => r.map_err(|e| ApiError::internal(e.to_string())),
        Err(_) => Err(ApiError::shutting_down()),
    }
}
