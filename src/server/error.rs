//! Errors as the API shows them: `{"error": {"message", "type", "code"}}` (OpenAI's shape) with
//! the status that says whose fault it was. Bad input is never a 500.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::Error;
use std::sync::Arc;

use super::AppState;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// OpenAI's `type`: the class of error.
    pub kind: &'static str,
    /// A stable string per error (`k_out_of_range`, `queue_full`…), for programs to match on;
    /// the message is for people and may change.
    pub code: &'static str,
    pub message: String,
    /// Seconds, for 429 and 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error whose code is its type until [`Self::with_code`] names it better.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            code: kind,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// A request that asks for something invalid: 400, as OpenAI's API answers it (its
    /// clients raise their `BadRequestError` on it).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
            .with_code("invalid_value")
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found_error", message).with_code("not_found")
    }

    pub fn body_too_large(max_body_bytes: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            format!(
                "the request body is over the server's limit of {max_body_bytes} bytes (--max-body-bytes); send fewer or shorter inputs per request"
            ),
        )
        .with_code("body_too_large")
    }

    pub fn overloaded() -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "overloaded_error",
                "the model's queue is full; retry after the number of seconds in Retry-After",
            )
            .with_code("queue_full")
        }
    }

    pub fn shutting_down() -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable_error",
                "the server is shutting down",
            )
            .with_code("shutting_down")
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message)
            .with_code("internal_error")
    }

    /// The status of a library error, by an exhaustive match: a new variant must be placed
    /// here before the server compiles. The user's input is a 4xx; a service that may come back
    /// is 503; anything else is the server's fault, 500.
    pub fn from_lib(e: Error) -> Self {
        let message = e.to_string();
        match e {
            Error::InvalidInput { field: "k", .. } => {
                Self::invalid(message).with_code("k_out_of_range")
            }
            Error::InvalidInput { .. }
            | Error::InvalidArgument(_)
            | Error::Input { .. }
            | Error::UnknownModel { .. }
            | Error::BadFile { .. } => Self::invalid(message),
            Error::NotFound { kind, .. } => Self::not_found(message).with_code(match kind {
                "passage" => "passage_not_found",
                _ => "not_found",
            }),
            Error::KeyTaken { .. } | Error::NameTaken { .. } => {
                Self::new(StatusCode::CONFLICT, "invalid_request_error", message)
                    .with_code("document_key_taken")
            }
            Error::NoIndex { .. } | Error::EmptyIndex { .. } => Self::new(
                StatusCode::CONFLICT,
                "index_empty",
                format!("{message}: POST documents to /v1/index"),
            )
            .with_code("index_empty"),
            // The index was replaced by one of another model while the server ran.
            Error::ModelMismatch { .. } => {
                Self::new(StatusCode::CONFLICT, "invalid_request_error", message)
                    .with_code("index_model_mismatch")
            }
            // The request went away (timeout, client gone): nobody reads this answer.
            Error::Cancelled => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable_error",
                "the request was cancelled",
            )
            .with_code("cancelled"),
            Error::Unavailable(_) => Self {
                retry_after: Some(1),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable_error",
                    message,
                )
                .with_code("shutting_down")
            },
            // The database is down or unreachable: the request may succeed later.
            Error::Postgres { .. } => Self {
                retry_after: Some(5),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable_error",
                    message,
                )
                .with_code("store_unavailable")
            },
            Error::Checksum { .. }
            | Error::NoSource { .. }
            | Error::Io { .. }
            | Error::DimensionMismatch { .. }
            | Error::Environment(_)
            | Error::Internal(_)
            | Error::DeviceUnavailable { .. }
            | Error::Tokenizer { .. }
            | Error::Lexical(_)
            | Error::Candle(_) => Self::internal(message),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self::from_lib(e)
    }
}

/// The body of every error answer: OpenAI's shape, with semclust's stable `code`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail<'a> {
    /// For people; its wording may change.
    pub message: &'a str,
    /// The class of error (OpenAI's types).
    #[serde(rename = "type")]
    pub kind: &'a str,
    /// OpenAI's field, always null here: the message names the field.
    #[schema(value_type = Option<String>)]
    pub param: Option<()>,
    /// Stable, for programs: invalid_json, invalid_body, invalid_path, invalid_query,
    /// invalid_value, k_out_of_range, input_too_long, request_too_long, too_many_inputs,
    /// body_too_large, body_timeout, body_unreadable, unsupported_media_type, missing_api_key,
    /// invalid_api_key, not_found, passage_not_found, unknown_route, method_not_allowed,
    /// index_empty, index_model_mismatch, queue_full, timeout, cancelled, shutting_down,
    /// too_many_connections, store_unavailable, document_key_taken, internal_error,
    /// model_not_found.
    pub code: &'a str,
}

impl ApiError {
    /// The documented body: `{"error": {"message", "type", "param", "code"}}`.
    pub fn body(&self) -> serde_json::Value {
        json!(ErrorBody {
            error: ErrorDetail {
                message: &self.message,
                kind: self.kind,
                param: None,
                code: self.code,
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(self.body())).into_response();
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        r
    }
}

/// The state every handler shares.
type Shared = Arc<AppState>;

/// `Json<T>` whose rejections are API errors: a body over the size limit is 413, JSON that does
/// not parse or has the wrong shape is 400, a missing content type 415.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Shared> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Shared) -> Result<Self, ApiError> {
        let limit = state.config.limits.max_body_bytes;
        let r = Json::<T>::from_request(req, state).await;
        r.map(|Json(v)| Self(v))
            .map_err(|e| json_rejection(e, limit))
    }
}

fn json_rejection(r: JsonRejection, max_body_bytes: usize) -> ApiError {
    let status = r.status();
    let text = r.body_text();
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::body_too_large(max_body_bytes),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            status,
            "invalid_request_error",
            "send the body as JSON with `Content-Type: application/json`",
        )
        .with_code("unsupported_media_type"),
        StatusCode::BAD_REQUEST => {
            ApiError::new(status, "invalid_request_error", text).with_code("invalid_json")
        }
        _ => ApiError::invalid(text).with_code("invalid_body"),
    }
}

/// `Path<T>` whose rejections are API errors (a path that is not valid percent-encoded UTF-8).
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<Shared> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let r = Path::<T>::from_request_parts(parts, state).await;
        r.map(|Path(v)| Self(v)).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                format!(
                    "the path could not be read ({}); send passage ids as UTF-8, percent-encoded where needed",
                    e.body_text()
                ),
            )
            .with_code("invalid_path")
        })
    }
}

/// `Query<T>` whose rejections are API errors naming the parameter (`k=-1`).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts<Shared> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let r = Query::<T>::from_request_parts(parts, state).await;
        r.map(|Query(v)| Self(v)).map_err(|e| {
            let text = e.body_text();
            let detail = text
                .strip_prefix("Failed to deserialize query string: ")
                .unwrap_or(&text);
            ApiError::invalid(format!("query string: {detail}")).with_code("invalid_query")
        })
    }
}
