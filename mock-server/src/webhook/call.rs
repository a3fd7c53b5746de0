//! The two synchronous calls to a target: the `X-Hook-Secret` handshake at
//! registration (§5.3) and the `chats:assign` decision (§5.4). Both are
//! awaited by a request or a spawned task with the store unlocked, never
//! queued, faulted or retried.

use super::sign::{self, SECRET_HEADER, SIGNATURE_HEADER};
use super::stats::Counter;
use super::{Endpoint, WebhookHub};
use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use std::time::Duration;

/// Largest `chats:assign` answer read (an `{"agentId": …}` object).
const MAX_ASSIGN_REPLY_BYTES: usize = 64 * 1024;

impl WebhookHub {
    /// POSTs `{}` with `X-Hook-Secret: <secret>` to `target`; the target
    /// must answer 200 and echo the value in an `X-Hook-Secret` header
    /// within `timeout_ms`. Counted per app.
    ///
    /// # Errors
    ///
    /// Why the handshake failed, in words that never include the secret.
    pub async fn handshake(&self, app_id: &str, target: &str, secret: &str) -> Result<(), String> {
        let result = self.try_handshake(target, secret).await;
        self.count_handshake(app_id, result.is_ok());
        result
    }

    async fn try_handshake(&self, target: &str, secret: &str) -> Result<(), String> {
        let client = self
            .client()
            .ok_or_else(|| "the mock has no HTTP client".to_owned())?;
        let timeout = self.config().timeout();
        let response = client
            .post(target)
            .header(SECRET_HEADER, secret)
            .header(CONTENT_TYPE, "application/json")
            .timeout(timeout)
            .body("{}")
            .send()
            .await
            .map_err(|e| describe(&e, timeout))?;
        if response.status() != StatusCode::OK {
            return Err(format!(
                "the target answered {}, not 200",
                response.status().as_u16()
            ));
        }
        let echoed = response
            .headers()
            .get(SECRET_HEADER)
            .is_some_and(|v| v.as_bytes() == secret.as_bytes());
        if echoed {
            Ok(())
        } else {
            Err("the target did not echo the X-Hook-Secret header".to_owned())
        }
    }

    /// Asks `endpoint` which agent takes a chat: POSTs the signed `body`
    /// (a `chats:assign` envelope) and waits at most `assign_timeout_ms`
    /// for `200 {"agentId": "<id>"}`. `None` for anything else; the store
    /// then decides with its own algorithm.
    pub async fn ask_assign(&self, endpoint: &Endpoint, body: Bytes) -> Option<String> {
        endpoint.counters.bump(Counter::AssignAsked);
        let client = self.client()?;
        let signature = sign::signature(endpoint.secret(), &body);
        let limit = Duration::from_millis(self.config().assign_timeout_ms);
        let call = async {
            let response = client
                .post(&endpoint.target)
                .header(CONTENT_TYPE, "application/json")
                .header(SIGNATURE_HEADER, signature)
                .body(body)
                .send()
                .await
                .ok()?;
            if response.status() != StatusCode::OK {
                return None;
            }
            let bytes = response.bytes().await.ok()?;
            if bytes.len() > MAX_ASSIGN_REPLY_BYTES {
                return None;
            }
            let reply: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
            reply
                .get("agentId")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        tokio::select! {
            answer = tokio::time::timeout(limit, call) => answer.ok().flatten(),
            () = self.cancel().cancelled() => None,
        }
    }

    /// Counts the outcome of one `chats:assign` decision.
    pub fn count_assign(&self, endpoint: &Endpoint, honoured: bool) {
        endpoint.counters.bump(if honoured {
            Counter::AssignHonoured
        } else {
            Counter::AssignFallback
        });
    }
}

/// A request error in words (reqwest's own text names the URL but may be
/// long; these are enough to act on).
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        format!(
            "the target did not answer within {} ms",
            timeout.as_millis()
        )
    } else if error.is_connect() {
        "cannot connect to the target".to_owned()
    } else if error.is_builder() {
        "the target is not a valid URL".to_owned()
    } else {
        "the request to the target failed".to_owned()
    }
}
