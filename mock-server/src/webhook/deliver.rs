//! Delivery workers: each owns one shard of the queue, takes a [`Queued`]
//! delivery off it, applies its fault plan (drop, delay, reorder,
//! duplicate), POSTs the signed envelope with retries, and counts what
//! happened.
//!
//! **Order.** A delivery's lane is its chat (`WebhookHub::enqueue` hashes
//! the chat id; events about no chat use the app id), and a lane always
//! goes to the same worker, which sends one delivery at a time. So the
//! events of one chat reach a target in the order the API emitted them,
//! while different chats go out in parallel on different workers:
//! - a retried delivery is retried before anything behind it on its
//!   worker is sent (order kept; a delivery given up leaves a gap);
//! - a dropped delivery leaves a gap, the rest stays in order;
//! - a delayed delivery parks its lane: later deliveries of that chat wait
//!   behind it (other chats do not), so `delay` makes a chat late, never
//!   out of order;
//! - a `reorder` fault holds a delivery until the next delivery of the
//!   same chat to the same webhook has been sent (or `reorder_max_hold_ms`
//!   passed): the one deliberate source of reordering.
//!
//! Delay and hold timers run in their own small tasks and hand the
//! delivery back to the worker through its `due` channel, so they never
//! occupy a worker. Everything stops at server shutdown.

use super::sign::{self, SIGNATURE_HEADER};
use super::stats::Counter;
use super::{Delivery, Endpoint, WebhookHub};
use bytes::Bytes;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A delivery on its way to a worker, with its lane (hash of its chat).
#[derive(Debug)]
pub(super) struct Queued {
    pub(super) delivery: Delivery,
    pub(super) lane: u64,
}

/// A signed request body ready to send.
#[derive(Debug, Clone)]
struct Signed {
    body: Bytes,
    signature: String,
    duplicate: bool,
}

/// A delivery held back by a reorder fault, per (webhook, lane).
#[derive(Debug)]
struct Held {
    endpoint: Arc<Endpoint>,
    signed: Signed,
    generation: u64,
}

/// (address of the webhook's endpoint, lane): a held delivery keeps its
/// endpoint alive, so the address cannot be reused while it is a key.
type HoldKey = (usize, u64);

/// What a timer hands back to its worker.
#[derive(Debug)]
enum Due {
    /// A delayed delivery whose delay has passed (its plan has no delay now).
    Delayed(Queued),
    /// A held delivery's longest hold has passed.
    Flush { key: HoldKey, generation: u64 },
}

/// One worker and the state only it touches.
pub(super) struct Worker {
    hub: WebhookHub,
    rx: UnboundedReceiver<Queued>,
    due_tx: UnboundedSender<Due>,
    due_rx: UnboundedReceiver<Due>,
    /// Lanes waiting behind a delayed delivery, with what queued up behind it.
    parked: Map<u64, VecDeque<Queued>>,
    held: Map<HoldKey, Held>,
    generation: u64,
}

impl Worker {
    pub(super) fn new(hub: WebhookHub, rx: UnboundedReceiver<Queued>) -> Worker {
        let (due_tx, due_rx) = unbounded_channel();
        Worker {
            hub,
            rx,
            due_tx,
            due_rx,
            parked: Map::default(),
            held: Map::default(),
            generation: 0,
        }
    }

    /// Until shutdown: take what is due or next, and process it.
    pub(super) async fn run(mut self) {
        let cancel = self.hub.cancel().clone();
        loop {
            let work = tokio::select! {
                () = cancel.cancelled() => return,
                Some(due) = self.due_rx.recv() => Err(due),
                next = self.rx.recv() => match next {
                    Some(queued) => Ok(queued),
                    None => return,
                },
            };
            let step = async {
                match work {
                    Ok(queued) => self.accept(queued).await,
                    Err(due) => self.on_due(due).await,
                }
            };
            tokio::select! {
                () = step => {}
                () = cancel.cancelled() => return,
            }
        }
    }

    /// A delivery off the queue: behind its parked lane, or processed now.
    async fn accept(&mut self, queued: Queued) {
        if let Some(waiting) = self.parked.get_mut(&queued.lane) {
            waiting.push_back(queued);
            return;
        }
        self.hub.dequeued();
        self.process(queued).await;
    }

    async fn on_due(&mut self, due: Due) {
        match due {
            Due::Delayed(queued) => {
                let lane = queued.lane;
                self.process(queued).await;
                self.unpark(lane).await;
            }
            Due::Flush { key, generation } => {
                if self
                    .held
                    .get(&key)
                    .is_some_and(|h| h.generation == generation)
                    && let Some(held) = self.held.remove(&key)
                {
                    send(&self.hub, &held.endpoint, &held.signed).await;
                }
            }
        }
    }

    /// Sends what waited behind a lane's delayed delivery, in order, until
    /// the lane is empty or parked again by another delay.
    async fn unpark(&mut self, lane: u64) {
        let Some(mut waiting) = self.parked.remove(&lane) else {
            return;
        };
        while let Some(next) = waiting.pop_front() {
            self.hub.dequeued();
            self.process(next).await;
            if let Some(parked) = self.parked.get_mut(&lane) {
                parked.extend(waiting);
                return;
            }
        }
    }

    async fn process(&mut self, queued: Queued) {
        let Queued { delivery, lane } = queued;
        let Delivery {
            endpoint,
            event,
            trigger,
            mut plan,
        } = delivery;
        let counters = &endpoint.counters;
        if plan.drop {
            counters.bump(Counter::FaultDrop);
            return;
        }
        if let Some(delay) = plan.delay.take() {
            counters.bump(Counter::FaultDelay);
            self.parked.insert(lane, VecDeque::new());
            let due = Due::Delayed(Queued {
                delivery: Delivery {
                    endpoint,
                    event,
                    trigger,
                    plan,
                },
                lane,
            });
            self.after(delay, due);
            return;
        }
        let body = if plan.break_schema {
            counters.bump(Counter::FaultBreakSchema);
            let data = serde_json::to_value(&event.data).map(break_schema);
            sign::envelope(trigger, &event.app_id, &data.unwrap_or_default(), event.at)
        } else {
            sign::envelope(trigger, &event.app_id, &event.data, event.at)
        };
        let signed = Signed {
            signature: sign::signature(endpoint.secret(), &body),
            body,
            duplicate: plan.duplicate,
        };
        let key = (Arc::as_ptr(&endpoint) as usize, lane);
        if plan.reorder && !self.held.contains_key(&key) {
            counters.bump(Counter::FaultReorder);
            self.hold(key, endpoint, signed);
            return;
        }
        send(&self.hub, &endpoint, &signed).await;
        if let Some(held) = self.held.remove(&key) {
            send(&self.hub, &held.endpoint, &held.signed).await;
        }
    }

    /// Holds `signed` until the next delivery of its lane to `endpoint` has
    /// been sent, or at most `reorder_max_hold_ms`.
    fn hold(&mut self, key: HoldKey, endpoint: Arc<Endpoint>, signed: Signed) {
        self.generation += 1;
        let generation = self.generation;
        self.held.insert(
            key,
            Held {
                endpoint,
                signed,
                generation,
            },
        );
        let max_hold = Duration::from_millis(self.hub.faults().reorder_max_hold_ms);
        self.after(max_hold, Due::Flush { key, generation });
    }

    /// Hands `due` back to this worker after `delay` (unless shut down).
    fn after(&self, delay: Duration, due: Due) {
        let (tx, cancel) = (self.due_tx.clone(), self.hub.cancel().clone());
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(delay) => {
                    let _ = tx.send(due);
                }
                () = cancel.cancelled() => {}
            }
        });
    }
}

/// Sends once, or twice for a duplicate fault.
async fn send(hub: &WebhookHub, endpoint: &Endpoint, signed: &Signed) {
    post_with_retries(hub, endpoint, signed).await;
    if signed.duplicate {
        endpoint.counters.bump(Counter::FaultDuplicate);
        post_with_retries(hub, endpoint, signed).await;
    }
}

/// POSTs until a 2xx or `max_attempts`, pausing `retry_backoff_ms` between
/// attempts.
async fn post_with_retries(hub: &WebhookHub, endpoint: &Endpoint, signed: &Signed) {
    let config = hub.config();
    let counters = &endpoint.counters;
    for attempt in 1..=config.max_attempts {
        if attempt > 1 {
            counters.bump(Counter::Retried);
            tokio::select! {
                () = tokio::time::sleep(config.backoff(attempt - 1)) => {}
                () = hub.cancel().cancelled() => return,
            }
        }
        if post(hub, endpoint, signed).await {
            counters.bump(Counter::Delivered);
            return;
        }
        counters.bump(Counter::FailedAttempts);
    }
    counters.bump(Counter::Failed);
    tracing::debug!(
        webhook = %endpoint.webhook_id,
        target = %endpoint.target,
        "webhook delivery failed after {} attempts",
        config.max_attempts
    );
}

/// One attempt; true on a 2xx.
async fn post(hub: &WebhookHub, endpoint: &Endpoint, signed: &Signed) -> bool {
    let Some(client) = hub.client() else {
        return false;
    };
    let request = client
        .post(&endpoint.target)
        .header(CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, &signed.signature)
        .timeout(hub.config().timeout())
        .body(signed.body.clone());
    match request.send().await {
        Ok(response) => {
            let ok = response.status().is_success();
            // Reading the (small) body lets the connection be reused.
            let _ = response.bytes().await;
            ok
        }
        Err(_) => false,
    }
}

/// The `break_schema` fault: every string in `data` becomes the number 0,
/// except the chat's id (`chatId`, `chat`), so the event still names its chat
/// while breaking the spec's `type: string` fields.
fn break_schema(data: Value) -> Value {
    match data {
        Value::String(_) => Value::from(0),
        Value::Array(items) => Value::Array(items.into_iter().map(break_schema).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| {
                    let v = if k == "chatId" || k == "chat" {
                        v
                    } else {
                        break_schema(v)
                    };
                    (k, v)
                })
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::break_schema;
    use serde_json::json;

    #[test]
    fn a_broken_schema_keeps_the_chat_and_breaks_every_other_string() {
        let data = json!({"chatId": "c-1", "creator": "u-1", "room": 1,
            "message": {"id": "m-1", "chat": "c-1", "tags": ["a"]}});
        assert_eq!(
            break_schema(data),
            json!({"chatId": "c-1", "creator": 0, "room": 1,
                "message": {"id": 0, "chat": "c-1", "tags": [0]}})
        );
    }
}
