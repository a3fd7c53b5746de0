//! Request plumbing around the API routes: trailing-slash normalisation,
//! per-operation counting, the per-app rate limit, fault injection, JSON-only error bodies and a
//! last-resort panic guard.
//!
//! [`ApiLayer`] runs after routing (it reads `MatchedPath` to find the
//! operation). It must stay cheap: one atomic increment, one atomic load
//! when no faults are set, and a header check on the response; no
//! allocation.

use crate::error::{ApiError, error_response};
use crate::fault::{FaultDecision, break_body};
use crate::operation::{self, Operation};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::{Layer, Service};

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

/// The layer of the API routes: counts each request under its operation,
/// applies injected faults, turns any non-JSON error response (axum's 405,
/// a rejection we missed) into the JSON envelope, and answers 500 when a
/// handler panics.
///
/// A hand-written service rather than `axum::middleware::from_fn`: without
/// faults (the usual case) a request costs no allocation here, where
/// `from_fn` clones the inner route and boxes two futures per request.
#[derive(Debug, Clone)]
pub struct ApiLayer {
    state: AppState,
}

impl ApiLayer {
    /// The layer for `state`'s counters and faults.
    pub fn new(state: AppState) -> ApiLayer {
        ApiLayer { state }
    }
}

impl<S> Layer<S> for ApiLayer {
    type Service = ApiService<S>;

    fn layer(&self, inner: S) -> ApiService<S> {
        ApiService {
            inner,
            state: self.state.clone(),
        }
    }
}

/// See [`ApiLayer`].
#[derive(Debug, Clone)]
pub struct ApiService<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for ApiService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = CorsFuture<ApiFuture<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    /// CORS around the API: a pre-flight is answered here; any other
    /// request with an `Origin` gets `Access-Control-Allow-Origin` on its
    /// response, whatever answers it (handler, rate limit, fault). Without
    /// `Origin` (every non-browser client): one header lookup, no
    /// allocation.
    fn call(&mut self, req: Request) -> CorsFuture<ApiFuture<S::Future>> {
        let origin = req.headers().get(header::ORIGIN).cloned();
        if let Some(origin) = &origin
            && req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return CorsFuture {
                inner: ApiFuture::Ready {
                    response: Some(preflight(origin)),
                },
                origin: None,
            };
        }
        CorsFuture {
            inner: self.dispatch(req),
            origin,
        }
    }
}

/// Methods the API uses, for a pre-flight's `Access-Control-Allow-Methods`.
const CORS_METHODS: &str = "GET, POST, PUT, DELETE";
/// Request headers a browser client may send: the API's credential
/// headers (lower case, as browsers list them in
/// `Access-Control-Request-Headers`), `content-type` and `authorization`.
const CORS_HEADERS: &str =
    "authorization, content-type, x-hyper-appid, x-hyper-secret, x-hyper-token, x-hyper-key";
/// Response headers a browser script may read beyond the safelisted ones.
const CORS_EXPOSE: &str = "retry-after";

/// `204` for a CORS pre-flight from `origin` (any origin is allowed).
fn preflight(origin: &HeaderValue) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(CORS_METHODS),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(CORS_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    response
}

pin_project! {
    /// The future of [`ApiService`]: `inner`'s response, with
    /// `Access-Control-Allow-Origin: origin` when the request had an `Origin`.
    pub struct CorsFuture<F> {
        #[pin]
        inner: F,
        origin: Option<HeaderValue>,
    }
}

impl<F> Future for CorsFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Poll::Ready(Ok(mut response)) = this.inner.poll(cx) else {
            return Poll::Pending;
        };
        if let Some(origin) = this.origin.take() {
            let headers = response.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(CORS_EXPOSE),
            );
            headers.append(header::VARY, HeaderValue::from_static("origin"));
        }
        Poll::Ready(Ok(response))
    }
}

impl<S> ApiService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    /// Counts the request, then the rate limit, faults and the handler.
    fn dispatch(&mut self, req: Request) -> ApiFuture<S::Future> {
        let op = req
            .extensions()
            .get::<MatchedPath>()
            .and_then(|path| operation::served(req.method(), path.as_str()));
        self.state.stats().record(op);
        if op.is_some()
            && self.state.rate_limits().is_active()
            && let Err(retry_after_s) = self.take_token(&req)
        {
            return ApiFuture::Ready {
                response: Some(ApiError::RateLimited { retry_after_s }.into_response()),
            };
        }
        let Some(decision) = op.and_then(|op| self.state.faults().decide(op)) else {
            return ApiFuture::handler(self.inner.call(req), op);
        };
        if decision.delay.is_zero() {
            if let Some(error) = decision.error {
                return ApiFuture::Ready {
                    response: Some(error.into_response()),
                };
            }
            if !decision.break_schema {
                return ApiFuture::handler(self.inner.call(req), op);
            }
        }
        // Faults: delay, then an error or the handler (maybe rewritten).
        // `self.inner` was made ready by `poll_ready`: it goes into the
        // future and a clone stays behind (tower's usual swap).
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ApiFuture::Faulty {
            future: Box::pin(faulty(inner, req, op, decision)),
        }
    }
}

impl<S> ApiService<S> {
    /// Takes a token from the bucket of the request's app (by its
    /// `x-hyper-appId` header); `Err(retry_after_s)` when it is empty. A
    /// request without a known app is let through (authentication answers
    /// it).
    fn take_token(&self, req: &Request) -> Result<(), u64> {
        let app = req
            .headers()
            .get(&crate::auth::APP_ID)
            .and_then(|v| v.to_str().ok())
            .and_then(|id| self.state.app(id));
        match app {
            Some(app) => self.state.rate_limits().check(&app.limiter),
            None => Ok(()),
        }
    }
}

/// A request with injected faults (never on the fault-free path).
async fn faulty<S>(
    mut inner: S,
    req: Request,
    op: Option<Operation>,
    decision: FaultDecision,
) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    if let Some(error) = decision.error {
        return error.into_response();
    }
    let response = match ApiFuture::handler(inner.call(req), op).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if decision.break_schema && response.status().is_success() {
        return rewrite_broken(response).await;
    }
    response
}

pin_project! {
    /// The future of [`ApiService`].
    #[project = ApiFutureProj]
    pub enum ApiFuture<F> {
        /// The handler runs; a panic while polling it becomes a 500.
        Handler {
            #[pin]
            inner: F,
            op: Option<Operation>,
        },
        /// An injected error, answered without running the handler.
        Ready { response: Option<Response> },
        /// Injected delay or schema breaking (boxed: rare).
        Faulty {
            future: Pin<Box<dyn Future<Output = Response> + Send>>,
        },
    }
}

impl<F> ApiFuture<F> {
    fn handler(inner: F, op: Option<Operation>) -> ApiFuture<F> {
        ApiFuture::Handler { inner, op }
    }
}

impl<F> Future for ApiFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ApiFutureProj::Handler { inner, op } => {
                match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
                    Ok(Poll::Pending) => Poll::Pending,
                    Ok(Poll::Ready(Ok(response))) => Poll::Ready(Ok(ensure_json_error(response))),
                    Ok(Poll::Ready(Err(never))) => match never {},
                    Err(_) => {
                        tracing::error!(operation = op.map(Operation::id), "handler panicked");
                        Poll::Ready(Ok(ApiError::Internal.into_response()))
                    }
                }
            }
            ApiFutureProj::Ready { response } => Poll::Ready(Ok(response
                .take()
                .unwrap_or_else(|| ApiError::Internal.into_response()))),
            ApiFutureProj::Faulty { future } => future.as_mut().poll(cx).map(Ok),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The pre-flight allows every credential header the spec names.
    #[test]
    fn cors_allows_the_api_credential_headers() {
        use chatload_api::headers::lower;
        for name in [
            lower::APP_ID,
            lower::SECRET,
            lower::USER_TOKEN,
            lower::DOMAIN_KEY,
        ] {
            assert!(CORS_HEADERS.split(", ").any(|h| h == name), "{name}");
        }
    }

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

    /// A panicking handler answers the 500 envelope, and is counted.
    #[tokio::test]
    async fn a_panicking_handler_answers_500_json() {
        use tower::ServiceExt;
        let state = AppState::new(crate::MockConfig::default());
        let app = axum::Router::new()
            .route(
                Operation::ListUsers.full_path(),
                axum::routing::get(|| async {
                    if true {
                        panic!("handler bug");
                    }
                    "unreachable"
                }),
            )
            .layer(ApiLayer::new(state.clone()));
        let req = Request::builder()
            .uri("/v1/users")
            .body(Body::empty())
            .expect("request");
        let response = app.oneshot(req).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(is_json(&response));
        assert_eq!(state.stats().to_json()["routes"]["listUsers"], 1);
    }
}
