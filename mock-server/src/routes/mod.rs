//! The HTTP surface: the API's operations under `/v1` (handlers in one file
//! per resource; [`handler`] maps each generated `Operation` to its
//! handler), the `/__mock` admin routes, and the [`router`] that assembles
//! them around the shared [`AppState`].
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
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use chatload_api::{Method, Operation};
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
    let api = api_routes(state.config().max_media_bytes).layer(ApiLayer::new(state.clone()));
    let inner = api
        .merge(admin::routes().layer(axum::middleware::from_fn(json_errors)))
        .fallback(not_found)
        .with_state(state);
    // Normalisation must happen before routing.
    MapRequest::new(inner, normalize_path as fn(Request) -> Request)
}

/// Every operation of the generated vocabulary at its path, with its
/// method: the router cannot serve a route that is not an operation of the
/// spec (so every served route is counted and fault-injectable), and a new
/// operation in the spec does not compile until [`handler`] serves it.
fn api_routes(max_media_bytes: usize) -> Router<AppState> {
    Operation::ALL
        .into_iter()
        .fold(Router::new(), |router, op| {
            let route = handler(op);
            let route = if op == Operation::UploadMedia {
                route.layer(DefaultBodyLimit::max(
                    max_media_bytes + crate::extract::MULTIPART_OVERHEAD,
                ))
            } else {
                route
            };
            router.route(op.full_path(), route)
        })
}

fn method_filter(method: Method) -> MethodFilter {
    match method {
        Method::Get => MethodFilter::GET,
        Method::Post => MethodFilter::POST,
        Method::Put => MethodFilter::PUT,
        Method::Delete => MethodFilter::DELETE,
    }
}

/// `handler` for `op`'s method.
fn at<H: Handler<T, AppState>, T: 'static>(op: Operation, handler: H) -> MethodRouter<AppState> {
    on(method_filter(op.method()), handler)
}

/// The handler of each operation.
fn handler(op: Operation) -> MethodRouter<AppState> {
    use Operation as Op;
    match op {
        Op::ValidateApp => at(op, apps::apps_validate),
        Op::ListApps => at(op, apps::apps_list),
        Op::CreateApp => at(op, apps::apps_create),
        Op::GetApp => at(op, apps::apps_get),
        Op::UpdateApp => at(op, apps::apps_update),
        Op::GetAgentsAvailable => at(op, agents::agents_available),
        Op::GetAgentsOnline => at(op, agents::agents_online),
        Op::AgentLogin => at(op, agents::agents_login),
        Op::AgentLogout => at(op, agents::agents_logout),
        Op::ListAgents => at(op, agents::agents_list),
        Op::CreateAgent => at(op, agents::agents_create),
        Op::GetAgent => at(op, agents::agents_get),
        Op::UpdateAgent => at(op, agents::agents_update),
        Op::GetSettings => at(op, apps::settings_get),
        Op::UpdateSettings => at(op, apps::settings_update),
        Op::CreateUser => at(op, users::users_create),
        Op::ListUsers => at(op, users::users_list),
        Op::GetUser => at(op, users::users_get),
        Op::UpdateUser => at(op, users::users_update),
        Op::PostUserActivity => at(op, users::users_activity),
        Op::CreateChat => at(op, chats::chats_create),
        Op::ListChats => at(op, chats::chats_list),
        Op::GetChat => at(op, chats::chats_get),
        Op::UpdateChat => at(op, chats::chats_update),
        Op::CloseChat => at(op, chats::chats_close),
        Op::AssignChat => at(op, chats::chats_assign),
        Op::ListChatMessages => at(op, messages::messages_list),
        Op::SendChatMessage => at(op, messages::messages_send),
        Op::GetChatHistory => at(op, messages::history_get),
        Op::ImportChatHistory => at(op, messages::history_import),
        Op::ChatToInbox => at(op, chats::chats_to_inbox),
        Op::ListChatUsers => at(op, chats::chats_users),
        Op::JoinChat => at(op, chats::chats_join),
        Op::LeaveChat => at(op, chats::chats_leave),
        Op::MarkMessageRead => at(op, messages::messages_read),
        Op::CreateInvitation => at(op, invitations::invitations_create),
        Op::AcceptInvitation => at(op, invitations::invitations_accept),
        Op::RejectInvitation => at(op, invitations::invitations_reject),
        Op::UploadMedia => at(op, media::media_upload),
        Op::ListMedia => at(op, media::media_list),
        Op::GetMedia => at(op, media::media_get),
        Op::GetQueuesStatus => at(op, invitations::queues_status),
        Op::GetQueueUpdate => at(op, invitations::queues_update),
        Op::GetId => at(op, apps::id_get),
        Op::ListWebhooks => at(op, webhooks::webhooks_list),
        Op::CreateWebhook => at(op, webhooks::webhooks_create),
        Op::GetWebhook => at(op, webhooks::webhooks_get),
        Op::UpdateWebhook => at(op, webhooks::webhooks_update),
        Op::DeleteWebhook => at(op, webhooks::webhooks_delete),
        Op::GetSurvey => at(op, apps::surveys_get),
    }
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
