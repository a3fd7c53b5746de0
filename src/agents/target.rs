//! Preparing the target for agent actors: with `mock_agents: off` (the
//! default), the bundled mock's simulated agents must stop taking chats, or
//! they would accept every invitation within milliseconds and the actors
//! would measure nothing. The mock's admin switch
//! `PUT /__mock/simulation {"appId", "agents": false}` turns its simulation
//! off for the app and sets the configured agents offline.
//!
//! A real instance has no such route: its 404 is a warning, not an error
//! (its agents are whoever is logged in). The request goes to the origin of
//! the base URL (the admin API is not under `/v1`), the same host that gets
//! the App ID in a header on every request, so the body widens nothing; the
//! App ID is never logged or put into an error.

use std::time::Duration;

use serde_json::json;

use super::AgentError;
use crate::scenario::AgentsSpec;

/// How long the switch may take.
const SWITCH_TIMEOUT: Duration = Duration::from_secs(10);

/// What [`prepare_target`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MockSwitch {
    /// `mock_agents: on`: nothing to do.
    Kept,
    /// The mock's simulated agents are off for the app.
    SwitchedOff,
    /// The target has no `/__mock/simulation` (a real instance, or a mock
    /// without the switch): a warning was logged.
    NotAMock,
}

/// Switches the mock's simulated agents off for `app_id` when the spec asks
/// for it (`mock_agents: off`, the default). `base_url` is the API's base
/// URL (`http://host:port/v1`).
///
/// # Errors
/// The target could not be reached, answered neither success nor 404, or
/// is a mock without the app.
pub async fn prepare_target(
    spec: &AgentsSpec,
    base_url: &str,
    app_id: &str,
    tls: &crate::client::TlsOptions,
) -> Result<MockSwitch, AgentError> {
    if spec.mock_agents {
        return Ok(MockSwitch::Kept);
    }
    let url = admin_url(base_url)
        .ok_or_else(|| AgentError::MockSwitch(format!("`{base_url}` is not an http(s) URL")))?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = tls
        .configure(reqwest::Client::builder())
        .timeout(SWITCH_TIMEOUT)
        .build()
        .map_err(|e| AgentError::MockSwitch(e.without_url().to_string()))?;
    // Ask first: only the mock has the route, and its answer lists the apps,
    // so a real instance (404) and a wrong app id (not listed) are told apart.
    let fail = |e: reqwest::Error| AgentError::MockSwitch(format!("{url}: {}", e.without_url()));
    let listed = client.get(&url).send().await.map_err(fail)?;
    match listed.status().as_u16() {
        200..=299 => {}
        404 => {
            tracing::warn!(
                "{url} answered 404: not the bundled mock (or a mock without the switch); \
                 the target's own agents keep taking chats alongside the agent actors"
            );
            return Ok(MockSwitch::NotAMock);
        }
        status => {
            return Err(AgentError::MockSwitch(format!(
                "GET {url} answered HTTP {status}"
            )));
        }
    }
    let apps: serde_json::Value = listed.json().await.map_err(fail)?;
    if apps.pointer("/apps").and_then(|a| a.get(app_id)).is_none() {
        return Err(AgentError::MockSwitch(
            "the mock has no app with the scenario's app_id".to_owned(),
        ));
    }
    let response = client
        .put(&url)
        .json(&json!({ "appId": app_id, "agents": false }))
        .send()
        .await
        .map_err(fail)?;
    match response.status().as_u16() {
        200..=299 => Ok(MockSwitch::SwitchedOff),
        status => Err(AgentError::MockSwitch(format!(
            "PUT {url} answered HTTP {status}"
        ))),
    }
}

/// `scheme://host[:port]/__mock/simulation` for a base URL.
fn admin_url(base_url: &str) -> Option<String> {
    let url = reqwest::Url::parse(base_url).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{}://{host}:{port}/__mock/simulation", url.scheme()),
        None => format!("{}://{host}/__mock/simulation", url.scheme()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_lives_at_the_origin_not_under_the_version() {
        assert_eq!(
            admin_url("http://127.0.0.1:8123/v1").as_deref(),
            Some("http://127.0.0.1:8123/__mock/simulation")
        );
        assert_eq!(
            admin_url("https://agentchat-eu.inbenta.chat/v1/").as_deref(),
            Some("https://agentchat-eu.inbenta.chat/__mock/simulation")
        );
        assert_eq!(admin_url("ftp://x/v1"), None);
        assert_eq!(admin_url("not a url"), None);
    }
}
