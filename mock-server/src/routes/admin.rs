//! The `/__mock` admin API: request counts, faults, the rate limit, state summary, health,
//! recent internal events, webhook counters and delivery faults, and the
//! switch of simulated agents. Not part of the Agent Chat API, not behind
//! API auth, not counted, never fault-injected.

use super::ok;
use crate::error::ApiError;
use crate::event::MockEvent;
use crate::extract::JsonBytes;
use crate::extract::Params;
use crate::fault::FaultsConfig;
use crate::limit::RateLimitConfig;
use crate::state::AppState;
use crate::webhook::WebhookFaultsConfig;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use serde_json::json;

/// Most events `GET /__mock/events` returns.
const MAX_EVENTS: usize = 10_000;

/// Every admin route, as `GET /__mock` lists them (a test checks that each
/// is served and that the README's table lists the same).
const ADMIN_ROUTES: &[&str] = &[
    "GET /__mock",
    "GET /__mock/health",
    "GET /__mock/stats",
    "POST /__mock/stats/reset",
    "GET /__mock/faults",
    "PUT /__mock/faults",
    "DELETE /__mock/faults",
    "GET /__mock/state",
    "GET /__mock/events",
    "GET /__mock/webhooks",
    "GET /__mock/webhooks/faults",
    "PUT /__mock/webhooks/faults",
    "DELETE /__mock/webhooks/faults",
    "GET /__mock/rate-limit",
    "PUT /__mock/rate-limit",
    "DELETE /__mock/rate-limit",
    "GET /__mock/simulation",
    "PUT /__mock/simulation",
];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/__mock", get(index))
        .route("/__mock/", get(index))
        .route("/__mock/health", get(health))
        .route("/__mock/stats", get(stats_get))
        .route("/__mock/stats/reset", post(stats_reset))
        .route("/__mock/faults", fault_table::<FaultsConfig>())
        .route("/__mock/state", get(state_get))
        .route("/__mock/events", get(events_get))
        .route("/__mock/webhooks", get(webhooks_get))
        .route(
            "/__mock/webhooks/faults",
            fault_table::<WebhookFaultsConfig>(),
        )
        .route(
            "/__mock/rate-limit",
            get(rate_limit_get)
                .put(rate_limit_put)
                .delete(rate_limit_delete),
        )
        .route(
            "/__mock/simulation",
            get(simulation_get).put(simulation_put),
        )
}

/// `GET /__mock`: the admin routes (the URL `chatload mock` prints).
async fn index() -> Response {
    ok(&json!({
        "routes": ADMIN_ROUTES,
        "docs": "mock-server/README.md, section \"Admin API\"",
    }))
}

async fn health() -> Response {
    ok(&json!({"status": "ok"}))
}

async fn stats_get(State(state): State<AppState>) -> Response {
    ok(&state.stats().to_json())
}

async fn stats_reset(State(state): State<AppState>) -> Response {
    state.stats().reset();
    ok(&state.stats().to_json())
}

/// An admin body that must be a JSON object: serde would otherwise read an
/// array into a struct field by field (`[100]` as `stall_ms: 100`).
fn object_body<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    let invalid = |e: String| ApiError::bad_request(format!("Invalid {what}: {e}"));
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
    if !value.is_object() {
        return Err(invalid("the body must be a JSON object".to_owned()));
    }
    serde_json::from_value(value).map_err(|e| invalid(e.to_string()))
}

/// A fault table the admin API reads (`GET`), replaces whole (`PUT`, the
/// body as its section of the config file, checked as there) and clears
/// (`DELETE`): the route faults and the webhook delivery faults.
trait FaultTable: serde::de::DeserializeOwned + Default {
    /// The table's name in a refusal ("Invalid faults: ...").
    const NAME: &'static str;
    fn check(&self) -> Result<(), String>;
    fn current(state: &AppState) -> Response;
    fn replace(state: &AppState, table: Self);
}

impl FaultTable for FaultsConfig {
    const NAME: &'static str = "faults";
    fn check(&self) -> Result<(), String> {
        self.validate()
    }
    fn current(state: &AppState) -> Response {
        ok(&state.faults().get())
    }
    fn replace(state: &AppState, table: Self) {
        state.faults().set(table);
    }
}

impl FaultTable for WebhookFaultsConfig {
    const NAME: &'static str = "webhook faults";
    fn check(&self) -> Result<(), String> {
        self.validate()
    }
    fn current(state: &AppState) -> Response {
        ok(&*state.webhooks().faults())
    }
    fn replace(state: &AppState, table: Self) {
        state.webhooks().set_faults(table);
    }
}

/// `GET`, `PUT` and `DELETE` of the fault table `T`.
fn fault_table<T: FaultTable + Send + 'static>() -> MethodRouter<AppState> {
    get(table_get::<T>)
        .put(table_put::<T>)
        .delete(table_delete::<T>)
}

async fn table_get<T: FaultTable>(State(state): State<AppState>) -> Response {
    T::current(&state)
}

async fn table_put<T: FaultTable>(
    State(state): State<AppState>,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let table: T = object_body(&body, T::NAME)?;
    table.check().map_err(ApiError::bad_request)?;
    T::replace(&state, table);
    Ok(T::current(&state))
}

async fn table_delete<T: FaultTable>(State(state): State<AppState>) -> Response {
    T::replace(&state, T::default());
    T::current(&state)
}

/// The rate limit (`null` when off) and how many requests it refused.
async fn rate_limit_get(State(state): State<AppState>) -> Response {
    let limits = state.rate_limits();
    ok(&json!({"rate_limit": limits.get(), "refused": limits.refused()}))
}

/// Sets every app's rate limit; body `{"rps": 50, "burst": 10}`.
async fn rate_limit_put(
    State(state): State<AppState>,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let config: RateLimitConfig = object_body(&body, "rate limit")?;
    config.validate().map_err(ApiError::bad_request)?;
    state.set_rate_limit(Some(config));
    Ok(rate_limit_get(State(state)).await)
}

/// Lifts the rate limit.
async fn rate_limit_delete(State(state): State<AppState>) -> Response {
    state.set_rate_limit(None);
    rate_limit_get(State(state)).await
}

/// Per app: agents with used slots, queue lengths, chat counts, pending
/// invitations.
async fn state_get(State(state): State<AppState>) -> Response {
    let apps: serde_json::Map<String, serde_json::Value> = state
        .apps()
        .iter()
        .map(|app| (app.id.to_string(), app.lock().admin_state()))
        .collect();
    ok(&json!({ "apps": apps }))
}

/// The last `limit` (default 100) events over all apps, oldest first;
/// optional `trigger` and `appId` filters.
async fn events_get(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let limit = params
        .u32("limit")?
        .map_or(100, |l| (l as usize).min(MAX_EVENTS));
    let trigger = params.str("trigger")?;
    let app_id = params.str("appId")?;
    let mut events: Vec<MockEvent> = state
        .apps()
        .iter()
        .filter(|app| app_id.as_deref().is_none_or(|id| *app.id == *id))
        .flat_map(|app| app.lock().events().last(MAX_EVENTS))
        .filter(|e| trigger.as_deref().is_none_or(|t| e.trigger == t))
        .collect();
    events.sort_unstable_by_key(|e| e.seq);
    let skip = events.len().saturating_sub(limit);
    Ok(ok(&json!({ "events": &events[skip..] })))
}

/// Webhook counters per app and webhook, plus totals, queue length, the
/// configuration and the current delivery faults.
async fn webhooks_get(State(state): State<AppState>) -> Response {
    let registered: Vec<_> = state
        .apps()
        .iter()
        .map(|app| {
            (
                std::sync::Arc::clone(&app.id),
                app.lock().webhook_summaries(),
            )
        })
        .collect();
    ok(&state.webhooks().stats_json(&registered))
}

/// `{"apps": {"<appId>": {"agents": bool, "simulate": bool}}}`.
fn simulation_json(state: &AppState) -> Response {
    let apps: serde_json::Map<String, serde_json::Value> = state
        .apps()
        .iter()
        .map(|app| {
            let store = app.lock();
            (
                app.id.to_string(),
                json!({"agents": store.simulated_agents_on(),
                       "simulate": store.simulation().simulate}),
            )
        })
        .collect();
    ok(&json!({ "apps": apps }))
}

async fn simulation_get(State(state): State<AppState>) -> Response {
    simulation_json(&state)
}

/// `{"appId"?: "<id>", "agents": bool}`: switches the configured
/// (simulated) agents of one app, or of every app, off or back on.
async fn simulation_put(
    State(state): State<AppState>,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Switch {
        app_id: Option<String>,
        agents: Option<bool>,
        simulate: Option<bool>,
    }
    let switch: Switch = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("Invalid simulation switch: {e}")))?;
    if switch.agents.is_none() && switch.simulate.is_none() {
        return Err(ApiError::bad_request(
            "Invalid simulation switch: give `agents` or `simulate` (a boolean)",
        ));
    }
    let apps = match &switch.app_id {
        Some(id) => vec![
            state
                .app(id)
                .ok_or_else(|| ApiError::not_found("App not found"))?,
        ],
        None => state.apps(),
    };
    for app in &apps {
        state.with_store(app, |s| {
            if let Some(on) = switch.agents {
                s.set_simulated_agents(on);
            }
            if let Some(on) = switch.simulate {
                s.set_simulated_answers(on);
            }
            Ok(())
        })?;
    }
    Ok(simulation_json(&state))
}
