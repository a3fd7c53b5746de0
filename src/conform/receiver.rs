//! A minimal webhook receiver for `chatload conform`: it echoes the
//! `X-Hook-Secret` handshake and answers 200 to every event, so the suite can
//! register a webhook with a target that performs the handshake (the bundled
//! mock does, as the real service does). It listens on 127.0.0.1, so a
//! remote instance needs `--hook-url` instead.
//!
//! Deliberately tiny: the full receiver (signature checks, event records)
//! belongs to `src/webhook/` and will replace this one.

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::{Ipv4Addr, SocketAddr};

/// The handshake request header, echoed in the response.
const SECRET_HEADER: &str = "x-hook-secret";

/// A receiver running in the background; stops when dropped.
#[derive(Debug)]
pub struct HookReceiver {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl HookReceiver {
    /// Starts on 127.0.0.1 with a free port.
    ///
    /// # Errors
    /// The port cannot be bound.
    pub async fn start() -> std::io::Result<HookReceiver> {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let url = format!("http://{}/chatload-conform", listener.local_addr()?);
        let app = Router::new().fallback(answer);
        let task = tokio::spawn(async move {
            // Only stops when the task is aborted (drop).
            let _ = axum::serve(listener, app).await;
        });
        Ok(HookReceiver { url, task })
    }

    /// The URL to register as the webhook target.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for HookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// 200 to everything; the handshake's secret echoed back (the protocol
/// requires it in the response, so it is the one place it is repeated).
async fn answer(headers: HeaderMap) -> Response {
    let mut response = StatusCode::OK.into_response();
    if let Some(secret) = headers.get(SECRET_HEADER) {
        response.headers_mut().insert(SECRET_HEADER, secret.clone());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn echoes_the_handshake_secret() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let receiver = HookReceiver::start().await.unwrap();
        let client = reqwest::Client::new();
        let response = client
            .post(receiver.url())
            .header("X-Hook-Secret", "abc")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-hook-secret"], "abc");
        let event = client.post(receiver.url()).body("{}").send().await.unwrap();
        assert_eq!(event.status(), 200);
        assert!(event.headers().get("x-hook-secret").is_none());
    }
}
