//! The HTTP surface: the 50 API routes under `/v1` (one file per
//! resource, each with `routes()`), the `/__mock` admin routes, and the
//! [`router`] that assembles them around the shared [`AppState`].
//!
//! Handlers are thin: extract auth and parameters, run one store rule under
//! the app lock via `Api::with_store`, build the response (`ok`,
//! `created`, `list`, `success`).

mod admin;
mod agents;
mod apps;
mod chats;
mod invitations;
mod media;
mod messages;
mod users;
mod webhooks;

use crate::middleware::{ApiLayer, json_errors, normalize_path, not_found};
use crate::state::AppState;
use crate::store::view::Wrap;
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tower::util::MapRequest;

/// The mock application as a plain service: [`normalize_path`] in front of
/// the router, as axum documents for rewriting a request before routing.
pub type App = MapRequest<Router, fn(Request) -> Request>;

/// The complete mock application: API routes (counted, fault-injectable),
/// admin routes, JSON 404 fallback, and trailing-slash normalisation
/// applied before routing (`/x/` is served as `/x`). The same service as
/// [`app`], wrapped in a `Router` (for `Router`-based composition and
/// tests).
pub fn router(state: AppState) -> Router {
    Router::new().fallback_service(app(state))
}

/// What the server runs: the routes of [`router`] behind the path
/// normalisation, without an outer `Router` (which costs a second routing
/// pass, a cloned boxed service and a boxed future per request).
pub fn app(state: AppState) -> App {
    let api = Router::new()
        .merge(apps::routes())
        .merge(agents::routes())
        .merge(users::routes())
        .merge(chats::routes())
        .merge(messages::routes())
        .merge(invitations::routes())
        .merge(media::routes(state.config().max_media_bytes))
        .merge(webhooks::routes())
        .layer(ApiLayer::new(state.clone()));
    let inner = api
        .merge(admin::routes().layer(axum::middleware::from_fn(json_errors)))
        .fallback(not_found)
        .with_state(state);
    // Normalisation must happen before routing.
    MapRequest::new(inner, normalize_path as fn(Request) -> Request)
}

/// What an API handler answers: a response, or the JSON error envelope.
pub(crate) type Reply = Result<Response, crate::error::ApiError>;

/// A JSON response with `status`.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    // Most bodies (a chat, a user, a message) fit without regrowing.
    let mut bytes = Vec::with_capacity(512);
    match serde_json::to_writer(&mut bytes, value) {
        Ok(()) => {
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(_) => crate::error::ApiError::Internal.into_response(),
    }
}

/// `200 OK` JSON.
pub(crate) fn ok<T: Serialize>(value: &T) -> Response {
    json(StatusCode::OK, value)
}

/// `201 Created` JSON.
pub(crate) fn created<T: Serialize>(value: &T) -> Response {
    json(StatusCode::CREATED, value)
}

/// `{"success": true}`.
pub(crate) fn success() -> Response {
    ok(&serde_json::json!({"success": true}))
}

/// A list route's `200 {"<key>": [...]}`: the `(offset, limit)` page of
/// `items`, each shown through `view`.
pub(crate) fn list<T, V: Serialize>(
    key: &'static str,
    items: impl IntoIterator<Item = T>,
    page: (usize, usize),
    view: impl FnMut(T) -> V,
) -> Response {
    let views: Vec<V> = items
        .into_iter()
        .skip(page.0)
        .take(page.1)
        .map(view)
        .collect();
    ok(&Wrap(key, views))
}
