//! What every request passes through: metrics by route, the body limit and reading, the API
//! key, and the timeout.

use std::sync::Arc;
use std::time::Instant;

use super::{ApiError, AppState, Metrics};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

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
pub(super) async fn observe(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
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
pub(super) async fn read_body(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
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
pub(super) async fn authenticate(
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

pub(super) async fn timeout(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
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
