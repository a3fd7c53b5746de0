//! Request plumbing around the API routes: trailing-slash normalisation,
//! per-operation counting, fault injection, JSON-only error bodies and a
//! last-resort panic guard.
//!
//! [`api_layer`] runs after routing (it reads `MatchedPath` to find the
//! operation). It must stay cheap: one atomic increment, one atomic load
//! when no faults are set, and a header check on the response.

use crate::error::{ApiError, error_response};
use crate::fault::break_body;
use crate::operation::Operation;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Largest response body `break_schema` rewrites.
const MAX_BREAK_BODY: usize = 16 * 1024 * 1024;

/// Strips trailing slashes (`/v1/users/` → `/v1/users`), keeping the query.
pub fn normalize_path(mut req: Request) -> Request {
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let new = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_owned(),
        };
        if let Ok(uri) = new.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// Counts the request under its operation, applies injected faults, and
/// turns any non-JSON error response (axum's 405, a rejection we missed)
/// into the JSON envelope.
pub async fn api_layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let op = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|path| Operation::from_route(req.method(), path.as_str()));
    state.stats().record(op);
    let decision = op.and_then(|op| state.faults().decide(op));
    let mut break_schema = false;
    if let Some(decision) = decision {
        if !decision.delay.is_zero() {
            tokio::time::sleep(decision.delay).await;
        }
        if let Some(error) = decision.error {
            return error.into_response();
        }
        break_schema = decision.break_schema;
    }
    let response = match (CatchUnwind(Box::pin(next.run(req)))).await {
        Ok(response) => response,
        Err(()) => {
            tracing::error!(operation = op.map(Operation::name), "handler panicked");
            return ApiError::Internal.into_response();
        }
    };
    let response = ensure_json_error(response);
    if break_schema && response.status().is_success() {
        return rewrite_broken(response).await;
    }
    response
}

/// Turns non-JSON error responses of the admin routes into the envelope.
pub async fn json_errors(req: Request, next: Next) -> Response {
    ensure_json_error(next.run(req).await)
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn ensure_json_error(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => "Method not allowed",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::PAYLOAD_TOO_LARGE => "Request body is too large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported content type",
        _ => status.canonical_reason().unwrap_or("Error"),
    };
    let mut out = error_response(status, message);
    if let Some(allow) = response.headers().get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
}

async fn rewrite_broken(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BREAK_BODY).await else {
        return ApiError::Internal.into_response();
    };
    match break_body(&bytes) {
        Some(broken) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(broken))
        }
        None => Response::from_parts(parts, Body::from(bytes)),
    }
}

/// Fallback for paths no route matches: JSON 404, counted as unmatched.
pub async fn not_found(State(state): State<AppState>) -> Response {
    state.stats().record(None);
    ApiError::not_found("Route not found").into_response()
}

/// Polls a future, turning a panic into `Err(())`.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slashes_are_trimmed_and_query_kept() {
        let req = Request::builder()
            .uri("/v1/users/?externalId=x")
            .body(Body::empty())
            .expect("request");
        assert_eq!(normalize_path(req).uri(), "/v1/users?externalId=x");
        let root = Request::builder().uri("/").body(Body::empty()).expect("r");
        assert_eq!(normalize_path(root).uri(), "/");
    }
}
