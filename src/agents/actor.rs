//! One agent actor: a tokio task that reads its inbox (invitations naming
//! its agent, events of the chats it holds) and answers through the API.
//!
//! Delays are what a person takes (accept delay, think time before each
//! reply), so every answer runs as its own small task: an agent with three
//! chats answers them concurrently, as people do, instead of one after
//! the other. Decisions that touch capacity are taken at once on the pool's
//! state ([`Shared`]), before any delay, so a burst of invitations cannot
//! overbook an agent. Each task draws its random numbers from its own RNG
//! seeded by the actor's, so a seeded run replays.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::calls::{self, AgentApi, CallError};
use super::state::{Counters, Invitation, Message, Phase, Shared};
use crate::api::events;
use crate::lifecycle::Lifecycle;
use crate::scenario::agents::render_reply;
use crate::scenario::{AgentAction, AgentBreaks, AgentsSpec};
use crate::webhook::WebhookEvent;

/// How long a stopping actor lets in-flight answers finish before it logs out.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// What an actor needs; shared by its answer tasks.
#[derive(Debug)]
pub(crate) struct ActorCx {
    pub(crate) index: usize,
    pub(crate) shared: Arc<Shared>,
    pub(crate) api: AgentApi,
    pub(crate) spec: Arc<AgentsSpec>,
    /// Stops the actor: no new answers, pauses end, then logout.
    pub(crate) cancel: CancellationToken,
}

impl ActorCx {
    fn agent_id(&self) -> &str {
        &self.shared.members[self.index].agent_id
    }

    fn counters(&self) -> &Counters {
        &self.shared.members[self.index].counters
    }

    /// Sleeps unless stopped; false when stopped.
    async fn pause(&self, d: Duration) -> bool {
        if d.is_zero() {
            return !self.cancel.is_cancelled();
        }
        tokio::select! {
            () = tokio::time::sleep(d) => true,
            () = self.cancel.cancelled() => false,
        }
    }

    async fn call(
        &self,
        action: AgentAction,
        params: &[&str],
        body: &Value,
    ) -> Result<Value, CallError> {
        let result = self.api.call(action, params, body).await;
        if let Err(e) = &result {
            if calls::overtaken(e.action, e.status) {
                Counters::add(&self.counters().overtaken);
            } else {
                Counters::add(&self.counters().errors);
            }
            tracing::debug!(agent = self.agent_id(), "{e}");
        }
        result
    }
}

/// One invitation counted in `invitations`, until it is settled as
/// `accepted`, `rejected` or `withdrawn`. Dropped unsettled (the run stopped
/// during the accept delay, the answer call failed, the answer task was cut
/// off at the stop), it counts as `unanswered`: so every invitation ends in
/// exactly one of the four, whichever way its answer goes.
struct Pending {
    cx: Arc<ActorCx>,
    settled: bool,
}

impl Pending {
    fn new(cx: &Arc<ActorCx>) -> Pending {
        Counters::add(&cx.counters().invitations);
        Pending {
            cx: Arc::clone(cx),
            settled: false,
        }
    }

    fn settle(mut self, outcome: fn(&Counters) -> &AtomicU64) {
        Counters::add(outcome(self.cx.counters()));
        self.settled = true;
    }

    /// The answer call failed: a `409` means the chat ended or the
    /// invitation moved on meanwhile (withdrawn); anything else leaves it
    /// unanswered.
    fn failed(self, e: &CallError) {
        if calls::overtaken(e.action, e.status) {
            self.settle(|c| &c.withdrawn);
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.settled {
            Counters::add(&self.cx.counters().unanswered);
        }
    }
}

/// Registers a new agent (when `id` is `None`) and logs it in; returns the
/// agent id. `tag` keeps registered e-mails unique per run.
pub(crate) async fn log_in(
    api: &AgentApi,
    spec: &AgentsSpec,
    index: usize,
    id: Option<&str>,
    tag: &str,
) -> Result<String, CallError> {
    let id = match id {
        Some(id) => id.to_owned(),
        None => {
            let n = index + 1;
            let mut body = json!({
                "name": format!("chatload agent {n}"),
                "email": format!("chatload-{tag}-{n}@example.invalid"),
                "rooms": spec.rooms,
                "capacity": spec.capacity,
            });
            if !spec.langs.is_empty() {
                body["langs"] = json!(spec.langs);
            }
            let created = api.call(AgentAction::Register, &[], &body).await?;
            created
                .pointer("/agent/id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| CallError {
                    action: AgentAction::Register,
                    status: None,
                    detail: "the response names no agent.id".to_owned(),
                })?
        }
    };
    api.call(AgentAction::Login, &[], &json!({ "agentId": id }))
        .await?;
    Ok(id)
}

/// Logs `agent_id` out; true when the API confirmed.
pub(crate) async fn log_out(api: &AgentApi, agent_id: &str) -> bool {
    api.call(AgentAction::Logout, &[], &json!({ "agentId": agent_id }))
        .await
        .is_ok()
}

/// Runs the actor until it is cancelled, then lets answers finish (at most
/// [`STOP_GRACE`]) and logs out. Returns whether the logout succeeded.
pub(crate) async fn run(cx: Arc<ActorCx>, seed: u64) -> bool {
    let inbox = Arc::clone(&cx.shared.members[cx.index].inbox);
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut tasks = JoinSet::new();
    if let Some(breaks) = cx.spec.breaks {
        tasks.spawn(take_breaks(Arc::clone(&cx), breaks));
    }
    loop {
        let event = tokio::select! {
            () = cx.cancel.cancelled() => break,
            e = inbox.wait_for(|_| true, Duration::from_secs(60)) => e,
        };
        while tasks.try_join_next().is_some() {}
        if let Some(event) = event {
            handle(&cx, &event, &mut rng, &mut tasks);
        }
    }
    let drained = tokio::time::timeout(STOP_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tasks.shutdown().await;
    }
    let logged_out = log_out(&cx.api, cx.agent_id()).await;
    if !logged_out {
        Counters::add(&cx.counters().errors);
    }
    logged_out
}

fn handle(cx: &Arc<ActorCx>, event: &WebhookEvent, rng: &mut SmallRng, tasks: &mut JoinSet<()>) {
    let Some(chat) = event.chat_id.clone() else {
        return;
    };
    let me = cx.agent_id();
    match event.trigger.as_str() {
        events::INVITATIONS_NEW if event.user_id.as_deref() == Some(me) => {
            let p = cx.spec.reject_probability;
            let reject = p > 0.0 && rng.random_bool(p);
            let decision = cx.shared.on_invitation(cx.index, &chat, reject);
            if decision == Invitation::Ignore {
                return;
            }
            let pending = Pending::new(cx);
            if decision == Invitation::RejectFull {
                // The API invited us, so it sees a free slot: a chat we hold
                // may have ended without its event having reached us yet.
                let seed = rng.next_u64();
                tasks.spawn(recheck_then_answer(
                    Arc::clone(cx),
                    pending,
                    chat,
                    reject,
                    seed,
                ));
                return;
            }
            let delay = match decision {
                // A full or absent agent declines at once: the API can offer
                // the chat to someone else instead of waiting for an expiry.
                Invitation::RejectFull | Invitation::RejectAway => Duration::ZERO,
                _ => cx.spec.accept_delay.sample(rng),
            };
            tasks.spawn(answer(
                Arc::clone(cx),
                pending,
                chat,
                decision,
                delay,
                rng.next_u64(),
            ));
        }
        events::MESSAGES_NEW => {
            let sender = event
                .data
                .pointer("/message/sender")
                .and_then(Value::as_str)
                .unwrap_or_default();
            // Never answer an agent of the pool (ourselves included): two
            // actors in one chat would otherwise talk to each other forever.
            if cx.shared.members.iter().any(|m| m.agent_id == sender) {
                return;
            }
            let id = event.data.pointer("/message/id").and_then(Value::as_str);
            if let Message::Reply(n) =
                cx.shared
                    .on_message(cx.index, &chat, id, cx.spec.leave_after)
            {
                let think = cx.spec.reply_think.sample(rng);
                tasks.spawn(reply(Arc::clone(cx), chat, n, think));
            }
        }
        events::CHATS_CLOSE => release(cx, &chat),
        events::CHATS_LEAVE if event.user_id.as_deref() == Some(me) => release(cx, &chat),
        _ => {}
    }
}

/// Frees the slot of a chat that ended (an active one counts as handled:
/// [`Shared::release`]).
fn release(cx: &ActorCx, chat: &str) {
    cx.shared.release(cx.index, chat);
}

/// Every slot is taken by our own books: asks the API about each chat we
/// hold (`GET /chats/{chatId}`), frees those it says are closed, then
/// decides on the invitation again and answers it. Slots are freed from
/// what the API says, not from the order events happen to arrive in (the
/// new chat's invitation may overtake an old chat's `chats:close`).
async fn recheck_then_answer(
    cx: Arc<ActorCx>,
    pending: Pending,
    chat: String,
    reject: bool,
    seed: u64,
) {
    for held in cx.shared.held_by(cx.index) {
        let Ok(answer) = cx
            .call(AgentAction::Check, &[&segment(&held)], &Value::Null)
            .await
        else {
            continue;
        };
        if answer.pointer("/chat/status").and_then(Value::as_str) != Some("closed") {
            continue;
        }
        if cx.shared.release(cx.index, &held).is_some() {
            Counters::add(&cx.counters().reclaimed);
        }
    }
    let mut rng = SmallRng::seed_from_u64(seed);
    let decision = match cx.shared.on_invitation(cx.index, &chat, reject) {
        // Taken meanwhile by another invitation's answer (a redelivered
        // one, or another actor's): this one is withdrawn.
        Invitation::Ignore => return pending.settle(|c| &c.withdrawn),
        decision => decision,
    };
    let delay = match decision {
        Invitation::Accept | Invitation::RejectChosen => cx.spec.accept_delay.sample(&mut rng),
        _ => Duration::ZERO,
    };
    answer(cx, pending, chat, decision, delay, rng.next_u64()).await;
}

/// Answers an invitation after `delay`; an accepted chat then gets replies
/// for the user messages that arrived while accepting. `pending` is settled
/// by how the answer went.
async fn answer(
    cx: Arc<ActorCx>,
    pending: Pending,
    chat: String,
    decision: Invitation,
    delay: Duration,
    seed: u64,
) {
    let body = json!({ "chatId": chat, "userId": cx.agent_id() });
    if !cx.pause(delay).await {
        // Stopped before answering: `pending` counts unanswered.
        cx.shared.release(cx.index, &chat);
        return;
    }
    if decision != Invitation::Accept {
        match cx.call(AgentAction::Reject, &[], &body).await {
            Ok(_) => {
                if decision == Invitation::RejectFull {
                    Counters::add(&cx.counters().rejected_full);
                }
                pending.settle(|c| &c.rejected);
            }
            Err(e) => pending.failed(&e),
        }
        return;
    }
    // Closed (or taken) while we waited: nothing to accept any more.
    if !cx.shared.holds(cx.index, &chat, Phase::Accepting) {
        return pending.settle(|c| &c.withdrawn);
    }
    cx.shared.caused(Lifecycle::Assign, &chat);
    if let Err(e) = cx.call(AgentAction::Accept, &[], &body).await {
        cx.shared.release(cx.index, &chat);
        return pending.failed(&e);
    }
    pending.settle(|c| &c.accepted);
    let pending = cx.shared.activate(cx.index, &chat).unwrap_or(0);
    let mut rng = SmallRng::seed_from_u64(seed);
    for _ in 0..pending {
        // The pending messages were each counted once already (by id).
        match cx
            .shared
            .on_message(cx.index, &chat, None, cx.spec.leave_after)
        {
            Message::Reply(n) => {
                let think = cx.spec.reply_think.sample(&mut rng);
                reply(Arc::clone(&cx), chat.clone(), n, think).await;
            }
            Message::Deferred | Message::Ignore => break,
        }
    }
}

/// Sends reply number `n` after `think`; leaves the chat after the
/// `leave_after`-th reply.
async fn reply(cx: Arc<ActorCx>, chat: String, n: u32, think: Duration) {
    if !cx.pause(think).await || !cx.shared.holds(cx.index, &chat, Phase::Active) {
        return;
    }
    let me = cx.agent_id();
    let body = json!({
        "sender": me,
        "message": render_reply(&cx.spec.reply, me, &chat, n),
    });
    let chat_segment = segment(&chat);
    cx.shared.caused(Lifecycle::SendMessage, &chat);
    if cx
        .call(AgentAction::Reply, &[&chat_segment], &body)
        .await
        .is_err()
    {
        return;
    }
    Counters::add(&cx.counters().replies);
    if cx.spec.leave_after == Some(n) {
        cx.shared.caused(Lifecycle::Leave, &chat);
        let left = cx
            .call(
                AgentAction::Leave,
                &[&chat_segment],
                &json!({ "userId": me }),
            )
            .await;
        if left.is_ok() {
            Counters::add(&cx.counters().left);
            release(&cx, &chat);
        }
    }
}

/// Every `every`, status `away` for `duration`, then `online` again. The
/// first break is staggered by actor (actor `i` of `n` after
/// `every × (i + 1) / n`), so the pool never goes away all at once.
async fn take_breaks(cx: Arc<ActorCx>, breaks: AgentBreaks) {
    let me = segment(cx.agent_id());
    let n = cx.shared.members.len().max(1) as f64;
    let mut wait = breaks.every.mul_f64((cx.index as f64 + 1.0) / n);
    loop {
        if !cx.pause(wait).await {
            return;
        }
        wait = breaks.every;
        cx.shared.set_available(cx.index, false);
        Counters::add(&cx.counters().breaks);
        let _ = cx
            .call(AgentAction::Status, &[&me], &json!({ "status": "away" }))
            .await;
        if !cx.pause(breaks.duration).await {
            return;
        }
        let _ = cx
            .call(AgentAction::Status, &[&me], &json!({ "status": "online" }))
            .await;
        cx.shared.set_available(cx.index, true);
    }
}

/// An id as one path segment: ids are normally `[A-Za-z0-9_-]`, anything
/// else is percent-encoded so it cannot change the route.
pub(crate) fn segment(id: &str) -> String {
    crate::client::percent_encode(id, b"-_~")
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_cannot_escape_their_path_segment() {
        assert_eq!(super::segment("c-12"), "c-12");
        assert_eq!(super::segment("../x?y"), "%2E%2E%2Fx%3Fy");
    }
}
