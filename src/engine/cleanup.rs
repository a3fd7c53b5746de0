//! Closes the chats that iterations left open, so a failed run against a
//! shared environment leaves nothing behind. Runs after the load, outside the
//! metrics.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::api::Operation;
use crate::client::{ApiClient, ApiRequest};

/// What the clean-up did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CleanupSummary {
    pub attempted: u64,
    pub closed: u64,
    pub failed: u64,
}

/// Closes each chat "as the system" (no `userId`), at most 16 at a time, each
/// bounded by `deadline`. A chat that is already closed (409) counts as closed.
pub async fn close_chats(
    client: Arc<ApiClient>,
    chats: Vec<String>,
    deadline: Duration,
) -> CleanupSummary {
    let mut summary = CleanupSummary {
        attempted: chats.len() as u64,
        ..CleanupSummary::default()
    };
    let mut tasks = JoinSet::new();
    let mut pending = chats.into_iter();
    loop {
        while tasks.len() < 16 {
            let Some(chat) = pending.next() else { break };
            let client = client.clone();
            tasks.spawn(async move { close_chat(&client, &chat, deadline).await });
        }
        match tasks.join_next().await {
            Some(Ok(true)) => summary.closed += 1,
            Some(_) => summary.failed += 1,
            None => break,
        }
    }
    summary
}

/// Closes one chat "as the system" (`DELETE /chats/{chatId}`, no `userId`),
/// bounded by `deadline`; true when it is closed (a 409 means it already was).
pub async fn close_chat(client: &ApiClient, chat: &str, deadline: Duration) -> bool {
    let path = Operation::CloseChat.path_with(&[chat]);
    let request = ApiRequest::secret(Operation::CloseChat, &path, None);
    matches!(
        tokio::time::timeout(deadline, client.send(request)).await,
        Ok(Ok(resp)) if (200..300).contains(&resp.status) || resp.status == 409
    )
}
