//! OpenAI's embeddings API (`POST /v1/embeddings`) and the models it serves (`GET /v1/models`).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::error::{ApiError, ApiJson};
use super::super::AppState;
use crate::embed::InputKind;

use super::{embed, ApiResult};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingsRequest {
    input: Value,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    encoding_format: Option<String>,
    /// semclust's extension: `query` or `passage` (default), which picks the model's prefix.
    #[serde(default)]
    input_type: Option<String>,
    #[serde(default)]
    dimensions: Option<usize>,
    /// OpenAI's end-user tag; accepted and ignored.
    #[serde(default)]
    #[allow(dead_code)]
    user: Option<String>,
}

fn inputs(v: Value, max: usize) -> ApiResult<Vec<String>> {
    let texts = match v {
        Value::String(s) => vec![s],
        Value::Array(items) => {
            if items.is_empty() {
                return Err(ApiError::invalid(
                    "`input` is an empty array; send at least one text",
                ));
            }
            if items.len() > max {
                return Err(ApiError::invalid(format!(
                    "`input` has {} texts, over the limit of {max} per request (--max-inputs); split it",
                    items.len()
                ))
                .with_code("too_many_inputs"));
            }
            items
                .into_iter()
                .enumerate()
                .map(|(i, it)| match it {
                    Value::String(s) => Ok(s),
                    Value::Number(_) | Value::Array(_) => Err(ApiError::invalid(format!(
                        "input[{i}] is a token array; semclust tokenises itself: send the text"
                    ))),
                    _ => Err(ApiError::invalid(format!("input[{i}] must be a string"))),
                })
                .collect::<ApiResult<_>>()?
        }
        _ => {
            return Err(ApiError::invalid(
                "`input` must be a string or an array of strings",
            ))
        }
    };
    for (i, t) in texts.iter().enumerate() {
        if t.trim().is_empty() {
            return Err(ApiError::invalid(format!(
                "input[{i}] is empty; every input needs some text"
            )));
        }
    }
    Ok(texts)
}

fn input_kind(v: Option<&str>, field: &str) -> ApiResult<InputKind> {
    match v {
        None | Some("passage") | Some("document") => Ok(InputKind::Passage),
        Some("query") => Ok(InputKind::Query),
        Some(other) => Err(ApiError::invalid(format!(
            "{field} '{other}' is not known; use query or passage"
        ))),
    }
}

pub async fn embeddings(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<EmbeddingsRequest>,
) -> ApiResult<Json<Value>> {
    let served = &state.fingerprint.model;
    let repo = state.embedder().repo();
    // `MODEL:query` / `MODEL:passage` pick the prefix for clients that send only `model` and
    // `input`; an alias stands for the served model.
    let mut by_name: Option<InputKind> = None;
    if let Some(m) = &req.model {
        let (name, kind) = match m.rsplit_once(':') {
            Some((n, "query")) => (n, Some(InputKind::Query)),
            Some((n, "passage")) => (n, Some(InputKind::Passage)),
            _ => (m.as_str(), None),
        };
        let known =
            name == served || name == repo || state.config.model_aliases.iter().any(|a| a == name);
        if !known {
            let names = served_names(&state);
            return Err(ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "invalid_request_error",
                format!(
                    "model '{m}' is not served here; this server runs '{served}' (accepted names: {}, each also with :query or :passage; or leave `model` out)",
                    names.join(", ")
                ),
            )
            .with_code("model_not_found"));
        }
        by_name = kind;
    }
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "encoding_format '{other}' is not known; use float or base64"
            )))
        }
    };
    let dim = state.fingerprint.dimension;
    if let Some(d) = req.dimensions {
        if d != dim {
            return Err(ApiError::invalid(format!(
                "dimensions {d}: {served} gives {dim}-d vectors and cannot shorten them; leave `dimensions` out"
            )));
        }
    }
    let kind = match (by_name, req.input_type.as_deref()) {
        (Some(k), None) => k,
        (Some(k), Some(_)) => {
            let given = input_kind(req.input_type.as_deref(), "input_type")?;
            if given != k {
                return Err(ApiError::invalid(
                    "`model` ends in :query or :passage and `input_type` says the other; send one of them",
                ));
            }
            k
        }
        (None, t) => input_kind(t, "input_type")?,
    };
    let texts = inputs(req.input, state.config.limits.max_inputs)?;
    let e = embed(&state, texts, kind, "input").await?;
    let tokens: usize = e.token_counts().iter().sum();
    let data: Vec<Value> = (0..e.rows())
        .map(|i| {
            let row = e.row(i);
            let embedding = if base64 {
                let bytes: Vec<u8> = row.iter().flat_map(|x| x.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(row)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "model": served,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })))
}

/// The names `/v1/embeddings` answers to: the served model's, then its `--model-alias`es.
fn served_names(state: &AppState) -> Vec<String> {
    std::iter::once(state.fingerprint.model.clone())
        .chain(state.config.model_aliases.iter().cloned())
        .collect()
}

pub async fn models(State(state): State<Arc<AppState>>) -> Json<Value> {
    // The served model, then its aliases, each plain and with the prefix it picks.
    let data: Vec<Value> = served_names(&state)
        .iter()
        .flat_map(|n| [n.clone(), format!("{n}:query"), format!("{n}:passage")])
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "semclust"}))
        .collect();
    Json(json!({"object": "list", "data": data}))
}
