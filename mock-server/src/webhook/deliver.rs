//! Delivery workers: take a [`Delivery`] off the queue, apply its fault
//! plan (drop, delay, reorder, duplicate), POST the signed envelope with
//! retries, and count what happened.
//!
//! Workers share the queue's receiver behind an async mutex held only
//! while waiting for the next item, so they dequeue in FIFO order and POST
//! concurrently (with more than one worker, deliveries to one target may
//! overtake each other, as the reference allows). A delayed delivery, and a
//! held one's flush timer, run in their own tasks so they never occupy a
//! worker. Everything stops at server shutdown.

use super::sign::{self, SIGNATURE_HEADER};
use super::stats::Counter;
use super::{Delivery, Endpoint, WebhookHub};
use bytes::Bytes;
use reqwest::header::CONTENT_TYPE;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;

/// A signed request body ready to send.
#[derive(Debug, Clone)]
pub(super) struct Signed {
    body: Bytes,
    signature: String,
    duplicate: bool,
}

/// A delivery held back by a reorder fault.
#[derive(Debug)]
pub(super) struct Held {
    signed: Signed,
    generation: u64,
}

/// One worker: until shutdown, dequeue and process.
pub(super) async fn worker(hub: WebhookHub, rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Delivery>>>) {
    loop {
        let next = {
            let mut rx = rx.lock().await;
            tokio::select! {
                next = rx.recv() => next,
                () = hub.cancel().cancelled() => None,
            }
        };
        let Some(delivery) = next else {
            return;
        };
        tokio::select! {
            () = process(&hub, delivery) => {}
            () = hub.cancel().cancelled() => return,
        }
    }
}

async fn process(hub: &WebhookHub, delivery: Delivery) {
    let Delivery {
        endpoint,
        event,
        trigger,
        plan,
    } = delivery;
    let counters = &endpoint.counters;
    if plan.drop {
        counters.bump(Counter::FaultDrop);
        return;
    }
    let body = sign::envelope(trigger, &event.app_id, &event.data, event.at);
    let signed = Signed {
        signature: sign::signature(endpoint.secret(), &body),
        body,
        duplicate: plan.duplicate,
    };
    if let Some(delay) = plan.delay {
        counters.bump(Counter::FaultDelay);
        let hub = hub.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(delay) => send(&hub, &endpoint, &signed).await,
                () = hub.cancel().cancelled() => {}
            }
        });
        return;
    }
    if plan.reorder && hold(hub, &endpoint, &signed) {
        counters.bump(Counter::FaultReorder);
        return;
    }
    send(hub, &endpoint, &signed).await;
    let held = endpoint
        .held
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(held) = held {
        send(hub, &endpoint, &held.signed).await;
    }
}

/// Holds `signed` until the next delivery to `endpoint` has been sent, or
/// at most `reorder_max_hold_ms`. False when another delivery is already
/// held (this one then goes out normally).
fn hold(hub: &WebhookHub, endpoint: &Arc<Endpoint>, signed: &Signed) -> bool {
    let generation = endpoint.hold_generation.fetch_add(1, Ordering::Relaxed) + 1;
    {
        let mut slot = endpoint.held.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_some() {
            return false;
        }
        *slot = Some(Held {
            signed: signed.clone(),
            generation,
        });
    }
    let max_hold = Duration::from_millis(hub.faults().reorder_max_hold_ms);
    let (hub, endpoint) = (hub.clone(), Arc::clone(endpoint));
    tokio::spawn(async move {
        tokio::select! {
            () = tokio::time::sleep(max_hold) => {}
            () = hub.cancel().cancelled() => return,
        }
        let still_held = {
            let mut slot = endpoint.held.lock().unwrap_or_else(PoisonError::into_inner);
            match slot.as_ref() {
                Some(held) if held.generation == generation => slot.take(),
                _ => None,
            }
        };
        if let Some(held) = still_held {
            send(&hub, &endpoint, &held.signed).await;
        }
    });
    true
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
