//! The API calls an actor makes, each sent through the run's shared
//! [`ApiClient`] and recorded into the run's [`MetricsHub`] like a flow step:
//! the route's histogram and status counts, and a step named after the
//! action (`agent:accept`, …) whose duration is the request's latency.
//!
//! Why a step per action and not only the route: `POST /chats/{chatId}/messages`
//! is also what virtual users call, so only the step separates the agents'
//! replies from the users' messages in the report and in thresholds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::client::{ApiClient, ApiRequest, AuthHeaders};
use crate::metrics::{
    ConnSample, FailureKind, MetricsHub, RequestSample, RouteId, StepId, StepSample,
};
use crate::scenario::{AgentAction, AgentMetric};

/// Longest error message kept from a response (they end up in reports).
const MAX_MESSAGE: usize = 200;

/// Why a call failed. Holds the API's own error message, never a header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{action} failed: {detail}", action = .action.step_name())]
pub struct CallError {
    pub action: AgentAction,
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// `HTTP 409: No pending invitation…` or the transport failure.
    pub detail: String,
}

/// Sends agent calls and records them.
#[derive(Debug, Clone)]
pub(crate) struct AgentApi {
    client: Arc<ApiClient>,
    hub: Option<Arc<MetricsHub>>,
    metrics: [Option<AgentMetric>; AgentAction::COUNT],
}

impl AgentApi {
    pub(crate) fn new(
        client: Arc<ApiClient>,
        hub: Option<Arc<MetricsHub>>,
        metrics: [Option<AgentMetric>; AgentAction::COUNT],
    ) -> AgentApi {
        AgentApi {
            client,
            hub,
            metrics,
        }
    }

    /// Sends `body` to the action's operation, at its path with `params`
    /// (already percent-encoded, in the template's order). Returns the
    /// response body.
    pub(crate) async fn call(
        &self,
        action: AgentAction,
        params: &[&str],
        body: &Value,
    ) -> Result<Value, CallError> {
        let op = action.operation();
        let path = op.path_with(params);
        let request = ApiRequest {
            method: op.method(),
            path: &path,
            query: &[],
            headers: &[],
            // A `GET` (the chat check) sends no body; `Null` stands for none.
            body: (!body.is_null()).then(|| serde_json::to_vec(body).unwrap_or_default().into()),
            content_type: None,
            // Agent routes need the secret (login also accepts it).
            auth: AuthHeaders::Secret,
        };
        let sent_bytes = request.body.as_ref().map_or(0, |b| b.len() as u64);
        let sent = Instant::now();
        let response = self.client.send(request).await;
        let latency = sent.elapsed();
        let received_bytes = response.as_ref().map_or(0, |r| r.body.len() as u64);
        let (status, failure, result) = match response {
            Ok(r) if (200..300).contains(&r.status) => (
                Some(r.status),
                None,
                Ok(serde_json::from_slice(&r.body).unwrap_or(Value::Null)),
            ),
            Ok(r) => (
                Some(r.status),
                (!overtaken(action, Some(r.status))).then_some(FailureKind::Status),
                Err(CallError {
                    action,
                    status: Some(r.status),
                    detail: format!("HTTP {}: {}", r.status, api_message(&r.body)),
                }),
            ),
            Err(e) => (
                None,
                Some(e.failure_kind()),
                Err(CallError {
                    action,
                    status: None,
                    detail: e.to_string(),
                }),
            ),
        };
        self.record(
            action,
            status,
            failure,
            latency,
            (sent_bytes, received_bytes),
        );
        result
    }

    fn record(
        &self,
        action: AgentAction,
        status: Option<u16>,
        failure: Option<FailureKind>,
        latency: Duration,
        (bytes_sent, bytes_received): (u64, u64),
    ) {
        let (Some(hub), Some(metric)) = (&self.hub, self.metrics[action as usize]) else {
            return;
        };
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        hub.record_request(&RequestSample {
            route: RouteId(metric.route),
            step: Some(StepId(metric.step)),
            status,
            failure,
            latency_us: us,
            corrected_us: us,
            bytes_sent,
            bytes_received,
            throttled: status == Some(429),
            schema_checked: false,
            // Counted apart in the route's connection figures (the shared
            // pool's connections are not tracked); a connect failure is not.
            connection: (failure != Some(FailureKind::Connect)).then_some(ConnSample::POOLED),
        });
        hub.record_step(&StepSample {
            step: StepId(metric.step),
            ok: failure.is_none(),
            failure,
            duration_us: us,
            corrected_us: us,
        });
    }
}

/// Whether a failed call was overtaken by the conversation rather than
/// refused by the API: a `409` to an accept, reject, reply or leave means
/// the user closed the chat (or the invitation moved on) while the agent
/// was thinking, which people at an agent desk meet every day. Such calls
/// keep their status in the route's counts but are not step failures, and
/// the pool counts them apart from errors.
pub(crate) fn overtaken(action: AgentAction, status: Option<u16>) -> bool {
    status == Some(409)
        && matches!(
            action,
            AgentAction::Accept | AgentAction::Reject | AgentAction::Reply | AgentAction::Leave
        )
}

/// `error.message` of the API's error envelope, shortened; `-` without one.
fn api_message(body: &[u8]) -> String {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.pointer("/error/message")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "-".to_owned());
    message.chars().take(MAX_MESSAGE).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientError;

    #[test]
    fn error_details_keep_only_the_api_message() {
        assert_eq!(
            api_message(br#"{"error":{"code":409,"message":"No pending invitation"}}"#),
            "No pending invitation"
        );
        assert_eq!(api_message(b"<html>"), "-");
        assert_eq!(api_message(&[b'x'; 10]), "-");
        let long = format!(r#"{{"error":{{"message":"{}"}}}}"#, "y".repeat(500));
        assert_eq!(api_message(long.as_bytes()).len(), MAX_MESSAGE);
        assert_eq!(ClientError::Timeout.failure_kind(), FailureKind::Timeout);
    }

    #[test]
    fn only_a_conflict_on_a_conversation_action_is_overtaken() {
        assert!(overtaken(AgentAction::Reply, Some(409)));
        assert!(overtaken(AgentAction::Accept, Some(409)));
        assert!(!overtaken(AgentAction::Reply, Some(500)));
        assert!(!overtaken(AgentAction::Reply, None));
        assert!(!overtaken(AgentAction::Login, Some(409)));
    }
}
