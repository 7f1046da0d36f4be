//! OpenAI's embeddings API (`POST /v1/embeddings`) and the models it serves (`GET /v1/models`).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::super::error::{ApiError, ApiJson};
use super::super::AppState;
use crate::embed::InputKind;

use super::{embed, ApiResult};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingsRequest {
    /// A text, or up to the server's `--max-inputs` texts (2,048 by default); none empty.
    #[schema(value_type = EmbeddingsInput)]
    input: Value,
    /// The served model's id, its Hugging Face repo or a `--model-alias`, optionally ending in
    /// `:query` or `:passage` to pick the prefix (as `input_type` does); optional. Another name
    /// is 404 `model_not_found`.
    #[serde(default)]
    model: Option<String>,
    /// `float` (the default), or `base64`: the little-endian f32 bytes of each vector.
    #[serde(default)]
    #[schema(value_type = Option<EncodingFormat>)]
    encoding_format: Option<String>,
    /// semclust's extension: which of the model's prefixes the inputs get (`passage` by
    /// default; `document` is `passage`).
    #[serde(default)]
    #[schema(value_type = Option<InputType>)]
    input_type: Option<String>,
    /// Must equal the model's dimension when given.
    #[serde(default)]
    dimensions: Option<usize>,
    /// OpenAI's end-user tag; accepted and ignored.
    #[serde(default)]
    #[allow(dead_code)]
    user: Option<String>,
}

/// What `input` takes: one text, or a list of them (the handler reads it as JSON, to name what
/// is wrong in a refused one).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum EmbeddingsInput {
    One(String),
    Many(Vec<String>),
}

/// The encodings of `encoding_format`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum EncodingFormat {
    Float,
    Base64,
}

/// The prefixes of `input_type`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum InputType {
    Query,
    Passage,
    Document,
}

/// One L2-normalised vector per input, in input order.
#[derive(Serialize, ToSchema)]
pub struct EmbeddingList {
    /// `list`.
    object: &'static str,
    data: Vec<EmbeddingRecord>,
    model: String,
    usage: Usage,
}

#[derive(Serialize, ToSchema)]
pub struct EmbeddingRecord {
    /// `embedding`.
    object: &'static str,
    index: usize,
    embedding: Embedding,
}

/// The vector as numbers, or (`encoding_format: base64`) its little-endian f32 bytes in base64.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum Embedding {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Serialize, ToSchema)]
pub struct Usage {
    prompt_tokens: usize,
    total_tokens: usize,
}

/// The served model under each name it answers to.
#[derive(Serialize, ToSchema)]
pub struct ModelList {
    /// `list`.
    object: &'static str,
    data: Vec<ModelRecord>,
}

#[derive(Serialize, ToSchema)]
pub struct ModelRecord {
    id: String,
    /// `model`.
    object: &'static str,
    created: u64,
    owned_by: &'static str,
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

/// Embed texts (OpenAI-compatible).
#[utoipa::path(post, path = "/v1/embeddings", request_body = EmbeddingsRequest,
    responses((status = 200, body = EmbeddingList, description = "One L2-normalised vector per input, in input order.")))]
pub async fn embeddings(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<EmbeddingsRequest>,
) -> ApiResult<Json<EmbeddingList>> {
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
    let data = (0..e.rows())
        .map(|i| {
            let row = e.row(i);
            let embedding = if base64 {
                let bytes: Vec<u8> = row.iter().flat_map(|x| x.to_le_bytes()).collect();
                Embedding::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                Embedding::Float(row.to_vec())
            };
            EmbeddingRecord {
                object: "embedding",
                index: i,
                embedding,
            }
        })
        .collect();
    Ok(Json(EmbeddingList {
        object: "list",
        data,
        model: served.clone(),
        usage: Usage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    }))
}

/// The names `/v1/embeddings` answers to: the served model's, then its `--model-alias`es.
fn served_names(state: &AppState) -> Vec<String> {
    std::iter::once(state.fingerprint.model.clone())
        .chain(state.config.model_aliases.iter().cloned())
        .collect()
}

/// The model this server runs (OpenAI-compatible).
#[utoipa::path(get, path = "/v1/models",
    responses((status = 200, body = ModelList, description = "The served model.")))]
pub async fn models(State(state): State<Arc<AppState>>) -> Json<ModelList> {
    // The served model, then its aliases, each plain and with the prefix it picks.
    let data = served_names(&state)
        .iter()
        .flat_map(|n| [n.clone(), format!("{n}:query"), format!("{n}:passage")])
        .map(|id| ModelRecord {
            id,
            object: "model",
            created: 0,
            owned_by: "semclust",
        })
        .collect();
    Json(ModelList {
        object: "list",
        data,
    })
}
