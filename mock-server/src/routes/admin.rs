//! The `/__mock` admin API: request counts, faults, state summary, health
//! and recent internal events. Not part of the Agent Chat API, not behind
//! API auth, not counted, never fault-injected.

use super::ok;
use crate::error::ApiError;
use crate::event::MockEvent;
use crate::extract::Params;
use crate::fault::FaultsConfig;
use crate::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;

/// Most events `GET /__mock/events` returns.
const MAX_EVENTS: usize = 10_000;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/__mock/health", get(health))
        .route("/__mock/stats", get(stats_get))
        .route("/__mock/stats/reset", post(stats_reset))
        .route(
            "/__mock/faults",
            get(faults_get).put(faults_put).delete(faults_delete),
        )
        .route("/__mock/state", get(state_get))
        .route("/__mock/events", get(events_get))
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

async fn faults_get(State(state): State<AppState>) -> Response {
    ok(&state.faults().get())
}

/// Replaces the whole fault table; body as the config's `faults` section.
async fn faults_put(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let config: FaultsConfig = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("Invalid faults: {e}")))?;
    config.validate().map_err(ApiError::bad_request)?;
    state.faults().set(config);
    Ok(ok(&state.faults().get()))
}

async fn faults_delete(State(state): State<AppState>) -> Response {
    state.faults().set(FaultsConfig::default());
    ok(&state.faults().get())
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
