//! Closes the chats that iterations left open, so a failed run against a
//! shared environment leaves nothing behind. Runs after the load, outside the
//! metrics, bounded: at most [`CLEANUP_CONCURRENCY`] requests at once, each
//! bounded, the whole within its own time limit, and stopped at once by a
//! second signal. What it could not close is listed by id, and so is what
//! it was told to leave (`--no-cleanup`, `cleanup: false`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::api::Operation;
use crate::client::{ApiClient, ApiRequest};

/// Close requests in flight at once during the clean-up.
pub const CLEANUP_CONCURRENCY: usize = 16;

/// Longest wait for one close request (the whole clean-up has its own limit).
pub const CLOSE_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the clean-up ended before every chat was tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupStop {
    /// Its time limit ran out.
    TimeLimit,
    /// A second Ctrl-C/SIGTERM asked to stop now.
    Signal,
    /// It was off (`--no-cleanup`, `cleanup: false`): no chat was tried.
    Disabled,
}

/// What the clean-up did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupSummary {
    pub closed: u64,
    /// Close requests that failed (an error status, no answer in time).
    pub failed: u64,
    /// Every chat still open afterwards: failed, cut off by the limit or a
    /// signal, or never tried; sorted.
    pub left_open: Vec<String>,
    /// Set when the clean-up ended early.
    pub stopped: Option<CleanupStop>,
    /// The time limit it ran under.
    pub limit: Duration,
}

impl CleanupSummary {
    /// The clean-up that was off: every chat left open, listed.
    pub fn disabled(mut chats: Vec<String>) -> Self {
        chats.sort_unstable();
        CleanupSummary {
            left_open: chats,
            stopped: Some(CleanupStop::Disabled),
            ..CleanupSummary::default()
        }
    }

    /// Chats left open by the load, all to be closed: each ends closed or
    /// left open.
    pub fn attempted(&self) -> u64 {
        self.closed + self.left_open.len() as u64
    }
}

/// Closes each chat "as the system" (no `userId`), at most
/// [`CLEANUP_CONCURRENCY`] at a time, within `limit`, until `stop` is
/// cancelled. A chat that is already closed (409) counts as closed.
pub async fn close_chats(
    client: Arc<ApiClient>,
    chats: Vec<String>,
    limit: Duration,
    stop: &CancellationToken,
) -> CleanupSummary {
    let mut summary = CleanupSummary {
        limit,
        ..CleanupSummary::default()
    };
    if stop.is_cancelled() {
        summary.stopped = Some(CleanupStop::Signal);
        summary.left_open = chats;
        summary.left_open.sort_unstable();
        return summary;
    }
    let deadline = tokio::time::Instant::now() + limit;
    let mut tasks = JoinSet::new();
    let mut in_flight = BTreeSet::new();
    let mut pending = chats.into_iter();
    loop {
        while tasks.len() < CLEANUP_CONCURRENCY {
            let Some(chat) = pending.next() else { break };
            let client = client.clone();
            in_flight.insert(chat.clone());
            tasks.spawn(async move {
                let closed = close_chat(&client, &chat, CLOSE_REQUEST_TIMEOUT).await;
                (chat, closed)
            });
        }
        let joined = tokio::select! {
            biased;
            () = stop.cancelled() => Err(CleanupStop::Signal),
            () = tokio::time::sleep_until(deadline) => Err(CleanupStop::TimeLimit),
            joined = tasks.join_next() => Ok(joined),
        };
        match joined {
            Ok(Some(Ok((chat, closed)))) => {
                in_flight.remove(&chat);
                if closed {
                    summary.closed += 1;
                } else {
                    summary.failed += 1;
                    summary.left_open.push(chat);
                }
            }
            // A close task cannot panic but by a bug; its chat stays in `in_flight`.
            Ok(Some(Err(_))) => summary.failed += 1,
            Ok(None) => break,
            Err(why) => {
                summary.stopped = Some(why);
                break;
            }
        }
    }
    tasks.abort_all();
    summary.left_open.extend(in_flight);
    summary.left_open.extend(pending);
    summary.left_open.sort_unstable();
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
