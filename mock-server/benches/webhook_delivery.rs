//! Webhook delivery throughput of the mock's hub: events/s from the first
//! enqueue until a local receiver has answered every POST (issue 10,
//! point 7: per-chat ordering must not cost the delivery rate).
//!
//! ```sh
//! cargo bench -p chatload-mock --bench webhook_delivery
//! HOOK_BENCH_EVENTS=100000 HOOK_BENCH_CHATS=1000 HOOK_BENCH_WORKERS=8 cargo bench -p chatload-mock --bench webhook_delivery
//! ```
//!
//! One process, one tokio runtime: an axum receiver on 127.0.0.1:0 answers
//! `200` to every POST and counts them; the hub (default `webhooks` config,
//! `workers` from `HOOK_BENCH_WORKERS`, a queue large enough for the whole
//! batch) gets `HOOK_BENCH_EVENTS` (default 50 000) `messages:new`-like
//! deliveries spread round-robin over `HOOK_BENCH_CHATS` (default 500)
//! chats, enqueued as fast as possible. Bounded: gives up after 60 s.

#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::routing::post;
use chatload_mock::event::{EventData, MockEvent};
use chatload_mock::webhook::{Delivery, FaultPlan, WebhookHub, WebhooksConfig};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let events = env_u64("HOOK_BENCH_EVENTS", 50_000);
    let chats = env_u64("HOOK_BENCH_CHATS", 500).max(1);
    let config = WebhooksConfig {
        workers: env_u64("HOOK_BENCH_WORKERS", 4) as usize,
        queue_capacity: events as usize,
        ..WebhooksConfig::default()
    };
    let received = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&received);
    let app = Router::new().route(
        "/hook",
        post(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            async {}
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let cancel = CancellationToken::new();
    let hub = WebhookHub::new(&config, cancel.clone());
    let app_id: Arc<str> = Arc::from("bench-app");
    let endpoint = hub.endpoint(&app_id, "w-1", &target, "bench-secret");
    let start = Instant::now();
    for seq in 0..events {
        let event = MockEvent {
            seq,
            trigger: "chats:join",
            app_id: Arc::clone(&app_id),
            data: EventData::ChatUser {
                chat_id: format!("c-{}", seq % chats),
                user_id: format!("u-{}", seq % chats),
            },
            at: 0,
        };
        hub.enqueue(Delivery {
            endpoint: Arc::clone(&endpoint),
            event: Arc::new(event),
            trigger: "chats:join",
            plan: FaultPlan::default(),
        });
    }
    let enqueued = start.elapsed();
    let deadline = start + Duration::from_secs(60);
    while received.load(Ordering::Relaxed) < events && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = start.elapsed();
    let done = received.load(Ordering::Relaxed);
    cancel.cancel();
    println!(
        "webhook delivery: {done}/{events} events over {chats} chats, {} workers, in {:.2} s \
         (enqueued in {:.3} s): {:.0} events/s",
        config.workers,
        elapsed.as_secs_f64(),
        enqueued.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64()
    );
}
