//! Helpers of the mock's tests beyond the shared `chatload_mock::testing`:
//! mocks whose clients check every response against the OpenAPI document
//! ([`spec`]), a recording webhook receiver ([`receiver`]), an independent
//! HMAC and a test of the agents' idle state.

pub mod receiver;
pub mod spec;

use chatload_mock::MockConfig;
use chatload_mock::testing::{self, Mock};
use serde_json::Value;

/// Starts the default world; its clients check responses against the spec.
pub async fn start_mock() -> Mock {
    testing::start_mock().await.checked_by(spec::check)
}

/// Starts a mock with `config`; its clients check responses against the spec.
pub async fn start_mock_with(config: MockConfig) -> Mock {
    testing::start_mock_with(config)
        .await
        .checked_by(spec::check)
}

/// The `POST /media` form: `chatId`, `senderId` and the file `media`
/// (`bytes` named `name`, of type `mime`).
pub fn media_form(
    chat_id: &str,
    sender_id: &str,
    name: &'static str,
    mime: &str,
    bytes: &'static [u8],
) -> reqwest::multipart::Form {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(name)
        .mime_str(mime)
        .expect("mime");
    reqwest::multipart::Form::new()
        .text("chatId", chat_id.to_owned())
        .text("senderId", sender_id.to_owned())
        .part("media", part)
}

/// Lower-case hex HMAC-SHA256 of `body` keyed with `secret`, computed here
/// with the `hmac` crate, independently of the mock's own code.
pub fn hmac_hex(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether every agent of an app's `/__mock/state` has 0 used slots, no
/// invitation is pending and every queue is empty.
pub fn is_idle(app_state: &Value) -> bool {
    let agents_idle = app_state["agents"]
        .as_array()
        .is_some_and(|a| a.iter().all(|agent| agent["usedSlots"] == 0));
    let queues_empty = app_state["queues"]
        .as_object()
        .is_some_and(|q| q.values().all(|n| *n == 0));
    agents_idle && queues_empty && app_state["invitationsPending"] == 0
}
