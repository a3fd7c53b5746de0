//! The wire form of an outgoing webhook: the envelope of the reference §5.2
//! (`{"trigger","appId","data","created_at"}`) and its `X-Hook-Signature`,
//! the lower-case hex HMAC-SHA256 of the exact body bytes keyed with the
//! webhook's secret (§5.3).

use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

/// Header carrying the handshake secret (request and echoed response).
pub const SECRET_HEADER: &str = chatload_api::headers::lower::HOOK_SECRET;
/// Header carrying the body's HMAC.
pub const SIGNATURE_HEADER: &str = chatload_api::headers::lower::HOOK_SIGNATURE;

/// The envelope, serialized straight from borrowed parts.
#[derive(Debug, Serialize)]
struct Envelope<'a, D: ?Sized> {
    trigger: &'a str,
    #[serde(rename = "appId")]
    app_id: &'a str,
    data: &'a D,
    created_at: u64,
}

/// The body bytes of one event POST; `data` is an event's [`EventData`]
/// (or the `chats:assign` question's JSON).
///
/// [`EventData`]: crate::event::EventData
pub fn envelope<D: Serialize + ?Sized>(
    trigger: &str,
    app_id: &str,
    data: &D,
    created_at: u64,
) -> Bytes {
    let envelope = Envelope {
        trigger,
        app_id,
        data,
        created_at,
    };
    // Event data (objects with string keys) always serializes.
    Bytes::from(serde_json::to_vec(&envelope).unwrap_or_default())
}

/// A webhook's HMAC secret. Its `Debug` never shows the value, so the
/// registrations, endpoints and deliveries that hold one can derive theirs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself: for signing, the handshake, and `POST /webhooks`'
    /// answer only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Lower-case hex HMAC-SHA256 of `body` keyed with `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(64);
    for byte in digest {
        use std::fmt::Write;
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn envelope_has_the_four_keys() {
        let body = envelope(
            "chats:create",
            "app",
            &serde_json::json!({"chatId": "c-1"}),
            7,
        );
        let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            value,
            serde_json::json!({"trigger": "chats:create", "appId": "app",
                               "data": {"chatId": "c-1"}, "created_at": 7})
        );
    }
}
