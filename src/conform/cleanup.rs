//! The suite's clean-up: what it created on the target (chats it opened,
//! the webhook it registered), kept on the [`Checker`] as the tour goes,
//! closed and deleted at the end. A suite that runs to its end closes its
//! chats as checks of its own (`suite.rs`); one stopped early (a signal, or
//! a target that stopped answering) is cleaned up here, without checks,
//! by the app within [`CLEANUP_LIMIT`]: whatever is still pending when the
//! limit runs out (or a second signal skips the clean-up) is left behind,
//! each with its reason.
//!
//! Above the checker (it sends with the checker's client), like `calls.rs`.

use std::time::Duration;

use super::checker::{Checker, Payload};
use super::{Call, Cleaned, CleanupCounts, Creds};
use crate::api::Operation;

/// The longest a clean-up after an early stop may take: after a give-up
/// the target may not answer at all.
pub const CLEANUP_LIMIT: Duration = Duration::from_secs(10);

/// A clean-up under way: what is still to remove, and what it did so far.
/// Kept outside the future that does the work, so the counts survive a
/// time limit or a signal that drops it.
#[derive(Debug, Default)]
pub struct Cleanup {
    chats: Vec<String>,
    webhooks: Vec<String>,
    pub(super) chats_closed: u64,
    pub(super) webhooks_deleted: u64,
    left: Vec<String>,
}

impl Cleanup {
    /// Whether nothing is (still) to remove.
    pub fn is_empty(&self) -> bool {
        self.chats.is_empty() && self.webhooks.is_empty()
    }

    /// The outcome: what is still pending is left behind, saying `why`.
    pub fn finish(mut self, why: &str) -> Cleaned {
        let pending = (self.chats.iter().map(|id| ("chat", id)))
            .chain(self.webhooks.iter().map(|id| ("webhook", id)));
        let pending: Vec<String> = pending
            .map(|(what, id)| format!("{what} {id}: {why}"))
            .collect();
        self.left.extend(pending);
        let left_of = |what: &str| self.left.iter().filter(|l| l.starts_with(what)).count() as u64;
        Cleaned {
            counts: CleanupCounts {
                chats_closed: self.chats_closed,
                chats_left: left_of("chat "),
                webhooks_deleted: self.webhooks_deleted,
                webhooks_left: left_of("webhook "),
            },
            left_behind: self.left,
        }
    }
}

impl Checker {
    /// What the suite created and has not removed yet, to clean up.
    pub fn leftovers(&self) -> Cleanup {
        Cleanup {
            chats: self.created.chats.clone(),
            webhooks: self.created.webhook.iter().cloned().collect(),
            ..Cleanup::default()
        }
    }

    /// Closes the chats and deletes the webhook `work` holds, one request at
    /// a time, sent even when the suite gave up on the target, recording no
    /// check. A chat answering 409 was closed already, a webhook answering
    /// 404 was deleted already. Bound it with a time limit: a request that
    /// gets no answer waits for the client's timeout (15 s).
    pub async fn clean_up(&self, work: &mut Cleanup) {
        while let Some(chat) = work.chats.first().cloned() {
            let call = Call::new("clean-up: close chat", Operation::CloseChat, &[&chat]);
            let outcome = self.remove(&call, &[409]).await;
            work.chats.remove(0);
            match outcome {
                Ok(()) => work.chats_closed += 1,
                Err(why) => work.left.push(format!("chat {chat}: {why}")),
            }
        }
        while let Some(hook) = work.webhooks.first().cloned() {
            let call = Call::new(
                "clean-up: delete webhook",
                Operation::DeleteWebhook,
                &[&hook],
            );
            let outcome = self.remove(&call, &[404]).await;
            work.webhooks.remove(0);
            match outcome {
                Ok(()) => work.webhooks_deleted += 1,
                Err(why) => work.left.push(format!("webhook {hook}: {why}")),
            }
        }
    }

    /// Sends one removal with the secret; `Ok` on a success status or one
    /// of `already` (the resource was gone), else why it is still there.
    async fn remove(&self, call: &Call<'_>, already: &[u16]) -> Result<(), String> {
        let b = self.build_call(call, Creds::Secret, Payload::None);
        match self.send(b).await {
            Ok(a) if (200..300).contains(&a.status) || already.contains(&a.status) => Ok(()),
            Ok(a) => Err(format!("{} answered {}", call.op.id(), a.status)),
            Err(why) => Err(format!("{} got no response ({why})", call.op.id())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conform::checker::test_checker;

    /// A chat and a webhook against a target that accepts connections and
    /// never answers: under a short limit the clean-up ends when the limit
    /// does, and both are left behind with the reason.
    #[tokio::test]
    async fn a_clean_up_against_a_silent_target_ends_at_its_limit() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let held: Vec<_> = listener.incoming().take(4).collect();
            std::thread::sleep(Duration::from_secs(60));
            drop(held);
        });
        let mut c = test_checker(format!("http://{addr}/v1"));
        c.created.chats.push("c-1".to_owned());
        c.created.webhook = Some("w-1".to_owned());
        let mut work = c.leftovers();
        let limit = Duration::from_millis(300);
        let ran_out = tokio::time::timeout(limit, c.clean_up(&mut work))
            .await
            .is_err();
        assert!(ran_out);
        let cleaned = work.finish("the clean-up's time ran out");
        assert_eq!(
            cleaned.left_behind,
            [
                "chat c-1: the clean-up's time ran out",
                "webhook w-1: the clean-up's time ran out"
            ]
        );
        assert_eq!(
            cleaned.counts,
            CleanupCounts {
                chats_left: 1,
                webhooks_left: 1,
                ..CleanupCounts::default()
            }
        );
    }
}
