//! Seeded webhook delivery faults over real HTTP: drop, duplicate and
//! reorder (within one chat) are seen by the receiver, counted by `GET /__mock/webhooks`,
//! and replay exactly with the same seed, whether set in the config or at
//! run time through `PUT /__mock/webhooks/faults`; delay sends late;
//! `break_schema` breaks the named event's data.

use crate::common::receiver::Receiver;
use crate::common::{start_mock, start_mock_with};
use chatload_mock::testing::{AppClient, DEMO_APP, Mock};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const FAULTS: &str = "{drop: 0.15, duplicate: 0.15, reorder: 0.15, reorder_max_hold_ms: 5000}";

/// What one receiver saw: message numbers in arrival order, plus the counters.
#[derive(Debug, PartialEq)]
struct Outcome {
    arrivals: Vec<u64>,
    counters: Value,
}

/// 40 messages in one chat (one `messages:new` each) with faults on, then
/// one more with faults off, which flushes a delivery still held for
/// reordering (a reorder swaps a delivery with the next one of its chat).
async fn run(seed: u64, faults_in_config: bool) -> Outcome {
    let faults = if faults_in_config {
        format!("webhooks:\n  workers: 1\n  faults: {FAULTS}\n")
    } else {
        "webhooks:\n  workers: 1\n".to_owned()
    };
    let yaml = format!("seed: {seed}\nsimulation:\n  simulate: false\n{faults}");
    let mock = start_mock_with(
        chatload_mock::MockConfig::from_yaml_str(&yaml, "test.yaml").expect("config"),
    )
    .await;
    if !faults_in_config {
        let body =
            json!({"drop": 0.15, "duplicate": 0.15, "reorder": 0.15, "reorder_max_hold_ms": 5000});
        mock.admin_send(Method::PUT, "/webhooks/faults", Some(body))
            .await
            .expect(200);
    }
    let demo = mock.demo();
    let (receiver, id, user, chat) = watched_chat(&demo, &["messages:new"], "talker").await;
    for n in 0..=40 {
        if n == 40 {
            mock.admin_send(Method::DELETE, "/webhooks/faults", None)
                .await
                .expect(200);
        }
        demo.post(
            &format!("/chats/{chat}/messages"),
            json!({"sender": user, "message": n.to_string()}),
        )
        .await
        .expect(201);
    }
    // Every delivery is either dropped or arrives (twice when duplicated).
    let counters = wait_settled(&mock, &id, &receiver).await;
    let arrivals = receiver
        .events()
        .iter()
        .map(|e| {
            let text = e.json["data"]["message"]["message"].as_str().expect("text");
            text.parse().expect("number")
        })
        .collect();
    // The target's port differs between runs; the counts must not.
    let mut counters = counters;
    counters["target"] = Value::Null;
    Outcome { arrivals, counters }
}

/// A webhook for `events` to a fresh receiver, then a new user `name` and
/// a chat of theirs: (receiver, webhook id, user id, chat id).
async fn watched_chat(
    demo: &AppClient,
    events: &[&str],
    name: &str,
) -> (Receiver, String, String, String) {
    let receiver = Receiver::start().await;
    let (id, _) = demo.register_webhook(events, &receiver.url).await;
    let (user, _) = demo.create_user(name).await;
    let chat = demo.create_chat(&user, 1).await["id"]
        .as_str()
        .expect("chat id")
        .to_owned();
    (receiver, id, user, chat)
}

async fn wait_settled(mock: &Mock, id: &str, receiver: &Receiver) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stats = mock.hook_stats(DEMO_APP, id).await;
        let expected = stats["enqueued"].as_u64().unwrap_or(0)
            - stats["faults"]["drop"].as_u64().unwrap_or(0)
            + stats["faults"]["duplicate"].as_u64().unwrap_or(0);
        let delivered = stats["delivered"].as_u64().unwrap_or(0);
        if stats["enqueued"] == 41
            && delivered == expected
            && receiver.events().len() as u64 == expected
        {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries never settled: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn seeded_faults_are_observed_counted_and_replayed() {
    let first = run(1, true).await;
    let faults = &first.counters["faults"];
    let (drops, dups, reorders) = (
        faults["drop"].as_u64().expect("drop"),
        faults["duplicate"].as_u64().expect("duplicate"),
        faults["reorder"].as_u64().expect("reorder"),
    );
    assert!(
        drops > 0 && dups > 0 && reorders > 0,
        "seed 1 injects each fault: {faults}"
    );

    // What the receiver saw matches the counters.
    let mut distinct: Vec<u64> = Vec::new();
    for chat in &first.arrivals {
        if !distinct.contains(chat) {
            distinct.push(*chat);
        }
    }
    assert_eq!(
        41 - distinct.len() as u64,
        drops,
        "missing messages = drops"
    );
    assert_eq!(
        first.arrivals.len() - distinct.len(),
        dups as usize,
        "repeats = duplicates"
    );
    let repeats_adjacent = first.arrivals.windows(2).filter(|w| w[0] == w[1]).count();
    assert_eq!(
        repeats_adjacent, dups as usize,
        "a duplicate follows its original"
    );
    let swapped = distinct.windows(2).filter(|w| w[0] > w[1]).count();
    assert_eq!(
        swapped as u64, reorders,
        "each reorder swaps one pair: {:?}",
        first.arrivals
    );

    // Same seed → same outcome, with the faults set at run time instead.
    assert_eq!(run(1, false).await, first);
    // Another seed → another outcome.
    assert_ne!(run(2, true).await.arrivals, first.arrivals);
}

#[tokio::test]
async fn a_delayed_delivery_arrives_late() {
    let mock = start_mock().await;
    mock.admin_send(
        Method::PUT,
        "/webhooks/faults",
        Some(json!({"delay": 1.0, "delay_dist": {"dist": "fixed", "ms": 150}})),
    )
    .await
    .expect(200);
    let faults = mock.admin_get("/webhooks/faults").await;
    assert_eq!(faults["delay"], 1.0);
    let demo = mock.demo();
    let receiver = Receiver::start().await;
    let (id, _) = demo
        .register_webhook(&["chats:create"], &receiver.url)
        .await;
    let (user, _) = demo.create_user("late").await;
    let sent = Instant::now();
    demo.create_chat(&user, 1).await;
    receiver
        .wait_events("the delayed event", |e| e.len() == 1)
        .await;
    assert!(
        sent.elapsed() >= Duration::from_millis(150),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(mock.hook_stats(DEMO_APP, &id).await["faults"]["delay"], 1);
}

#[tokio::test]
async fn invalid_fault_settings_are_refused() {
    let mock = start_mock().await;
    mock.admin_send(Method::PUT, "/webhooks/faults", Some(json!({"drop": 2.0})))
        .await
        .assert_error(400);
    mock.admin_send(Method::PUT, "/webhooks/faults", Some(json!({"dorp": 0.1})))
        .await
        .assert_error(400);
    let body = json!({"break_schema": ["chats:nope"]});
    mock.admin_send(Method::PUT, "/webhooks/faults", Some(body))
        .await
        .assert_error(400);
    let err = chatload_mock::MockConfig::from_yaml_str(
        "webhooks:\n  faults: {reorder: -1}\n",
        "bad.yaml",
    )
    .expect_err("invalid");
    assert!(err.to_string().contains("webhooks.faults.reorder"), "{err}");
}

#[tokio::test]
async fn break_schema_sends_the_named_event_with_a_broken_data_and_counts_it() {
    let mock = start_mock().await;
    let body = json!({"break_schema": ["chats:create"]});
    mock.admin_send(Method::PUT, "/webhooks/faults", Some(body))
        .await
        .expect(200);
    let demo = mock.demo();
    let (receiver, id, user, chat) =
        watched_chat(&demo, &["chats:create", "chats:close"], "broken").await;
    demo.delete(&format!("/chats/{chat}"), Some(json!({"userId": user})))
        .await
        .expect(200);
    receiver
        .wait_events("create and close", |e| e.len() == 2)
        .await;
    let events = receiver.events();
    let create = &events[0].json;
    assert_eq!(create["trigger"], "chats:create");
    // Still about its chat, but `creator` (a string in the spec) is a number.
    assert_eq!(create["data"]["chatId"], chat.as_str());
    assert_eq!(create["data"]["creator"], 0);
    assert_eq!(events[1].json["data"]["userId"], user.as_str(), "unbroken");
    let stats = mock.hook_stats(DEMO_APP, &id).await;
    assert_eq!(stats["faults"]["breakSchema"], 1);
}
