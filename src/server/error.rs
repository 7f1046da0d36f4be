//! Errors as the API shows them: `{"error": {"message", "type", "code"}}` (OpenAI's shape) with
//! the status that says whose fault it was. Bad input is never a 500.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
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
    pub kind: &'static str,
    pub message: String,
    /// Seconds, for 429 and 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A request that is well-formed JSON but asks for something invalid.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request_error",
            message,
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found_error", message)
    }

    pub fn overloaded() -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "overloaded_error",
                "the model's queue is full; retry after the number of seconds in Retry-After",
            )
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
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message)
    }

    /// A library error: what the user asked for is wrong (422), or a file or the model failed.
    pub fn from_lib(e: Error) -> Self {
        match e {
            Error::InvalidArgument(m) => Self::invalid(m),
            Error::Input { .. } | Error::UnknownModel { .. } => Self::invalid(e.to_string()),
            // The database is down or unreachable: the request may succeed later.
            Error::Postgres { .. } => Self {
                retry_after: Some(5),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable_error",
                    e.to_string(),
                )
            },
            other => Self::internal(other.to_string()),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self::from_lib(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"message": self.message, "type": self.kind, "code": null}});
        let mut r = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        r
    }
}

/// `Json<T>` whose rejections are API errors: a body over the size limit is 413, JSON that does
/// not parse is 400, JSON of the wrong shape 422, a missing content type 415.
pub struct ApiJson<T>(pub T);

impl<T> FromRequest<Arc<AppState>> for ApiJson<T>
where
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_rejection(
                rejection,
                state.config.limits.max_body_bytes,
            )),
        }
    }
}

fn json_rejection(r: JsonRejection, max_body_bytes: usize) -> ApiError {
    let status = r.status();
    let text = r.body_text();
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            "request_too_large",
            format!(
                "the request body is over the server's limit of {max_body_bytes} bytes (--max-body-bytes); send fewer or shorter inputs per request"
            ),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            status,
            "invalid_request_error",
            "send the body as JSON with `Content-Type: application/json`",
        ),
        StatusCode::BAD_REQUEST => ApiError::new(status, "invalid_request_error", text),
        _ => ApiError::invalid(text),
    }
}
