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
//!
//! The run hands the mock back as it found it: agents it switched off are
//! switched on again at its end ([`MockRestore`]), also when interrupted.

use std::time::Duration;

use serde_json::json;

use super::AgentError;
use crate::client::BodyError;
use crate::scenario::AgentsSpec;

/// How long the switch may take.
const SWITCH_TIMEOUT: Duration = Duration::from_secs(5);

/// How long switching the agents back on may take at the end of the run
/// (bounded like the other clean-ups: an interrupted run must still end).
pub const RESTORE_TIMEOUT: Duration = Duration::from_secs(5);

/// What [`prepare_target`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MockSwitch {
    /// `mock_agents: on`: nothing to do.
    Kept,
    /// The mock's simulated agents were on and are now off for the app:
    /// [`MockRestore::restore`] switches them on again.
    SwitchedOff,
    /// The mock's simulated agents were off already: nothing to switch, nor
    /// to switch back.
    AlreadyOff,
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
    let switch = switch_mock_off(base_url, app_id, tls, Simulated::Agents).await?;
    if switch == MockSwitch::NotAMock {
        tracing::warn!(
            "{} answered 404: not the bundled mock (or a mock without the switch); the \
             target's own agents keep taking chats alongside the agent actors",
            admin_url(base_url).unwrap_or_default()
        );
    }
    Ok(switch)
}

/// What of a chatload mock's simulation a switch turns off for one app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Simulated {
    /// Its simulated agents (offline): agent actors take every chat.
    Agents,
    /// Only their answers (`simulate`): the agents stay online and their
    /// invitations wait for an answer through the API (`conform`).
    Answers,
}

impl Simulated {
    /// The field of `/__mock/simulation` it reads and sets.
    fn key(self) -> &'static str {
        match self {
            Simulated::Agents => "agents",
            Simulated::Answers => "simulate",
        }
    }
}

/// Switches `what` of a chatload mock's simulation off for `app_id`,
/// saying what it found: [`MockSwitch::NotAMock`] (silently) for a target
/// without `/__mock/simulation`, such as a real instance.
///
/// # Errors
/// As [`prepare_target`].
pub async fn switch_mock_off(
    base_url: &str,
    app_id: &str,
    tls: &crate::client::TlsOptions,
    what: Simulated,
) -> Result<MockSwitch, AgentError> {
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
        404 => return Ok(MockSwitch::NotAMock),
        status => {
            return Err(AgentError::MockSwitch(format!(
                "GET {url} answered HTTP {status}"
            )));
        }
    }
    // Held to the limit every response is (an endless body must not exhaust memory).
    let body = crate::client::read_reqwest(listed, crate::client::DEFAULT_MAX_BODY)
        .await
        .map_err(|e| {
            let why = match e {
                BodyError::Cut => "was cut off".to_owned(),
                BodyError::TimedOut => "timed out".to_owned(),
                BodyError::TooLarge { received } => {
                    format!("passed the one-response limit after {received} bytes")
                }
            };
            AgentError::MockSwitch(format!("GET {url}: the answer's body {why}"))
        })?;
    let apps: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| AgentError::MockSwitch(format!("GET {url}: not JSON: {e}")))?;
    let Some(app) = apps.pointer("/apps").and_then(|a| a.get(app_id)) else {
        return Err(AgentError::MockSwitch(
            "the mock has no app with the scenario's app_id".to_owned(),
        ));
    };
    if app.get(what.key()).and_then(serde_json::Value::as_bool) == Some(false) {
        return Ok(MockSwitch::AlreadyOff);
    }
    let response = client
        .put(&url)
        .json(&json!({ "appId": app_id, what.key(): false }))
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

/// What switches the mock's simulated agents back on at the end of a run
/// that switched them off ([`MockSwitch::SwitchedOff`]).
#[derive(Debug, Clone)]
pub struct MockRestore {
    pub base_url: String,
    /// Never logged nor put into an error.
    pub app_id: String,
    pub tls: crate::client::TlsOptions,
    /// What was switched off.
    pub what: Simulated,
}

impl MockRestore {
    /// `PUT /__mock/simulation {"appId", "agents": true}` (or `"simulate"`),
    /// within [`RESTORE_TIMEOUT`].
    ///
    /// # Errors
    /// The mock could not be reached in time or did not answer success;
    /// the message says the agents were left off.
    pub async fn restore(&self) -> Result<(), String> {
        let key = self.what.key();
        let left_off = |why: String| {
            format!(
                "the mock's simulated agents were left switched off for the app ({why}); \
                 `PUT /__mock/simulation {{\"appId\": ..., \"{key}\": true}}` switches them \
                 back on"
            )
        };
        let url = admin_url(&self.base_url)
            .ok_or_else(|| left_off(format!("`{}` is not an http(s) URL", self.base_url)))?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = self
            .tls
            .configure(reqwest::Client::builder())
            .timeout(RESTORE_TIMEOUT)
            .build()
            .map_err(|e| left_off(e.without_url().to_string()))?;
        let sent = client
            .put(&url)
            .json(&json!({ "appId": self.app_id, key: true }))
            .send();
        match tokio::time::timeout(RESTORE_TIMEOUT, sent).await {
            Err(_) => Err(left_off(format!(
                "PUT {url} did not answer within {}",
                humantime::format_duration(RESTORE_TIMEOUT)
            ))),
            Ok(Err(e)) => Err(left_off(format!("{url}: {}", e.without_url()))),
            Ok(Ok(r)) if r.status().is_success() => Ok(()),
            Ok(Ok(r)) => Err(left_off(format!(
                "PUT {url} answered HTTP {}",
                r.status().as_u16()
            ))),
        }
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

    /// A mock that cannot be reached at the end of the run: the error says
    /// the agents were left off (and how to switch them on), never the App ID.
    #[tokio::test]
    async fn a_failed_restore_says_the_agents_were_left_off() {
        let restore = MockRestore {
            base_url: "http://127.0.0.1:1/v1".to_owned(),
            app_id: "secret-app-id".to_owned(),
            tls: crate::client::TlsOptions::default(),
            what: Simulated::Agents,
        };
        let err = restore
            .restore()
            .await
            .expect_err("nothing listens on port 1");
        assert!(err.contains("left switched off"), "{err}");
        assert!(err.contains("\"agents\": true"), "{err}");
        assert!(!err.contains("secret-app-id"), "{err}");
    }
}
