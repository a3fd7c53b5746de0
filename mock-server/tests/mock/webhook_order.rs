//! Webhook delivery order (issue 10, point 7), driven through the hub
//! itself so the fault plan of each delivery is chosen by the test: the
//! events of one chat arrive in the order they were queued, whatever the
//! number of workers, retries, drops and delays; only a `reorder` fault
//! swaps two deliveries, and only within their chat.

use crate::common::receiver::Receiver;
use chatload_mock::event::{EventData, MockEvent};
use chatload_mock::webhook::{Delivery, FaultPlan, WebhookHub, WebhooksConfig};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A hub with `workers` workers posting to `receiver`, and its webhook.
fn hub(workers: usize, receiver: &Receiver) -> (WebhookHub, Arc<chatload_mock::webhook::Endpoint>) {
    let config = WebhooksConfig {
        workers,
        retry_backoff_ms: vec![20],
        ..WebhooksConfig::default()
    };
    let hub = WebhookHub::new(&config, CancellationToken::new());
    let endpoint = hub.endpoint(&Arc::from("app"), "w-1", &receiver.url, "secret");
    (hub, endpoint)
}

/// Queues event number `n` of chat `chat` (`chats:join`, user `u-<n>`).
fn send(
    hub: &WebhookHub,
    endpoint: &Arc<chatload_mock::webhook::Endpoint>,
    chat: u32,
    n: u32,
    plan: FaultPlan,
) {
    hub.enqueue(Delivery {
        endpoint: Arc::clone(endpoint),
        event: Arc::new(MockEvent {
            seq: u64::from(n),
            trigger: "chats:join",
            app_id: Arc::from("app"),
            data: EventData::ChatUser {
                chat_id: format!("c-{chat}"),
                user_id: format!("u-{n}"),
            },
            at: 0,
        }),
        trigger: "chats:join",
        plan,
    });
}

/// Event numbers per chat, in arrival order.
fn arrivals(receiver: &Receiver) -> BTreeMap<String, Vec<u32>> {
    let mut by_chat: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for e in receiver.events() {
        let chat = e.json["data"]["chatId"]
            .as_str()
            .expect("chatId")
            .to_owned();
        let n = e.json["data"]["userId"].as_str().expect("userId")[2..]
            .parse()
            .expect("number");
        by_chat.entry(chat).or_default().push(n);
    }
    by_chat
}

/// Chats in the order their first event arrived.
fn first_arrivals(receiver: &Receiver) -> Vec<String> {
    let mut chats: Vec<String> = Vec::new();
    for e in receiver.events() {
        let chat = e.json["data"]["chatId"]
            .as_str()
            .expect("chatId")
            .to_owned();
        if !chats.contains(&chat) {
            chats.push(chat);
        }
    }
    chats
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chats_events_arrive_in_order_with_many_workers() {
    let receiver = Receiver::start().await;
    let (hub, endpoint) = hub(8, &receiver);
    // A burst: 8 chats × 40 events, interleaved, queued at once.
    for n in 0..40 {
        for chat in 0..8 {
            send(&hub, &endpoint, chat, n, FaultPlan::default());
        }
    }
    receiver
        .wait_events("every event", |e| e.len() == 8 * 40)
        .await;
    let expected: Vec<u32> = (0..40).collect();
    for (chat, seen) in arrivals(&receiver) {
        assert_eq!(seen, expected, "{chat} arrived out of order");
    }
}

#[tokio::test]
async fn a_retried_delivery_is_retried_before_its_chat_goes_on() {
    let receiver = Receiver::start().await;
    let (hub, endpoint) = hub(4, &receiver);
    receiver.fail_next(1);
    for n in 0..3 {
        send(&hub, &endpoint, 1, n, FaultPlan::default());
    }
    receiver.wait_events("4 POSTs", |e| e.len() == 4).await;
    // The first POST of 0 failed and was retried before 1 and 2 went.
    assert_eq!(arrivals(&receiver)["c-1"], [0, 0, 1, 2]);
}

#[tokio::test]
async fn drops_and_delays_keep_a_chats_order_and_delay_only_that_chat() {
    let receiver = Receiver::start().await;
    let (hub, endpoint) = hub(1, &receiver);
    let delayed = FaultPlan {
        delay: Some(Duration::from_millis(300)),
        ..FaultPlan::default()
    };
    let dropped = FaultPlan {
        drop: true,
        ..FaultPlan::default()
    };
    // One worker: chat 2 shares it with chat 1, yet does not wait for
    // chat 1's delayed delivery.
    send(&hub, &endpoint, 1, 0, delayed);
    send(&hub, &endpoint, 1, 1, dropped);
    send(&hub, &endpoint, 1, 2, FaultPlan::default());
    send(&hub, &endpoint, 1, 3, delayed);
    send(&hub, &endpoint, 1, 4, FaultPlan::default());
    for n in 0..3 {
        send(&hub, &endpoint, 2, n, FaultPlan::default());
    }
    receiver.wait_events("7 events", |e| e.len() == 7).await;
    let seen = arrivals(&receiver);
    assert_eq!(seen["c-1"], [0, 2, 3, 4], "late and with a gap, in order");
    assert_eq!(seen["c-2"], [0, 1, 2]);
    assert_eq!(first_arrivals(&receiver), ["c-2", "c-1"]);
}

#[tokio::test]
async fn reorder_swaps_a_delivery_with_the_next_of_its_own_chat() {
    let receiver = Receiver::start().await;
    let (hub, endpoint) = hub(1, &receiver);
    let reorder = FaultPlan {
        reorder: true,
        ..FaultPlan::default()
    };
    send(&hub, &endpoint, 1, 0, reorder);
    // Another chat's delivery does not release chat 1's held one.
    send(&hub, &endpoint, 2, 0, FaultPlan::default());
    send(&hub, &endpoint, 1, 1, FaultPlan::default());
    send(&hub, &endpoint, 1, 2, FaultPlan::default());
    receiver.wait_events("4 events", |e| e.len() == 4).await;
    assert_eq!(arrivals(&receiver)["c-1"], [1, 0, 2]);
}
