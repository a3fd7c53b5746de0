//! Outgoing webhooks over real HTTP: the registration handshake, signed
//! deliveries of every event type validated against the spec's `webhooks`
//! schemas, the `users:join` alias, retries, and the bounded queue.
//!
//! Each test starts a mock and a recording receiver (`common::receiver`),
//! both on port 0, and polls with a deadline instead of sleeping.

use crate::common::receiver::Receiver;
use crate::common::spec::WebhookValidators;
use crate::common::{hmac_hex, start_mock, start_mock_with};
use chatload_mock::testing::{DEMO_APP, QUEUE_APP, wait_until};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn config(yaml: &str) -> chatload_mock::MockConfig {
    chatload_mock::MockConfig::from_yaml_str(yaml, "test.yaml").expect("config")
}

#[tokio::test]
async fn registration_runs_the_handshake_and_answers_the_secret() {
    let mock = start_mock().await;
    let receiver = Receiver::start().await;
    let (id, secret) = mock
        .demo()
        .register_webhook(&["chats:create"], &receiver.url)
        .await;
    let handshakes = receiver.handshakes();
    assert_eq!(handshakes.len(), 1);
    assert_eq!(handshakes[0].header("x-hook-secret"), Some(secret.as_str()));
    assert_eq!(
        handshakes[0].header("content-type"),
        Some("application/json")
    );
    assert_eq!(handshakes[0].json, json!({}));
    let stats = mock.admin_get("/webhooks").await;
    assert_eq!(
        stats["apps"][DEMO_APP]["handshakes"],
        json!({"ok": 1, "failed": 0})
    );
    assert_eq!(
        stats["apps"][DEMO_APP]["webhooks"][&id]["target"],
        receiver.url
    );

    // A new target repeats the handshake with the same secret; the same
    // target does not.
    let other = Receiver::start().await;
    let path = format!("/webhooks/{id}");
    mock.demo()
        .put(&path, json!({"target": other.url}))
        .await
        .expect(200);
    assert_eq!(
        other.handshakes()[0].header("x-hook-secret"),
        Some(secret.as_str())
    );
    mock.demo()
        .put(
            &path,
            json!({"target": other.url, "events": ["chats:close"]}),
        )
        .await
        .expect(200);
    assert_eq!(other.handshakes().len(), 1);
}

#[tokio::test]
async fn a_target_that_does_not_echo_the_secret_is_refused_with_400() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let receiver = Receiver::start().await;
    receiver.refuse_handshake();
    let reply = demo
        .post(
            "/webhooks",
            json!({"events": ["chats:create"], "target": receiver.url}),
        )
        .await;
    reply.assert_error(400);
    let message = reply.body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("handshake failed") && message.contains("echo"),
        "{message}"
    );
    let sent_secret = receiver.handshakes()[0]
        .header("x-hook-secret")
        .expect("secret sent")
        .to_owned();
    assert!(
        !message.contains(&sent_secret),
        "the secret leaked: {message}"
    );
    assert_eq!(
        demo.get("/webhooks").await.expect(200)["webhooks"],
        json!([])
    );

    let unreachable = demo
        .post(
            "/webhooks",
            json!({"events": ["chats:create"], "target": "http://127.0.0.1:9/hook"}),
        )
        .await;
    unreachable.assert_error(400);
    assert!(
        unreachable.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("cannot connect")),
        "{}",
        unreachable.body
    );

    // A re-target to a refusing receiver fails and keeps the old target.
    let good = Receiver::start().await;
    let (id, _) = demo.register_webhook(&["chats:create"], &good.url).await;
    demo.put(&format!("/webhooks/{id}"), json!({"target": receiver.url}))
        .await
        .assert_error(400);
    assert_eq!(
        demo.get(&format!("/webhooks/{id}")).await.expect(200)["webhook"]["target"],
        good.url
    );
    let stats = mock.admin_get("/webhooks").await;
    assert_eq!(
        stats["apps"][DEMO_APP]["handshakes"],
        json!({"ok": 1, "failed": 3})
    );
}

#[tokio::test]
async fn the_handshake_can_be_switched_off() {
    let mock = start_mock_with(config("webhooks:\n  handshake: false\n")).await;
    let (id, _) = mock
        .demo()
        .register_webhook(&["chats:create"], "http://127.0.0.1:9/hook")
        .await;
    assert!(id.starts_with("w-"));
}

/// Every event name of the spec except `chats:assign` (synchronous, tested
/// in `assign_webhook.rs`).
fn async_events() -> Vec<String> {
    WebhookValidators::get()
        .triggers()
        .into_iter()
        .filter(|t| t != "chats:assign")
        .collect()
}

#[tokio::test]
async fn every_event_type_is_delivered_signed_and_valid_against_the_spec() {
    let mock = start_mock().await;
    let receiver = Receiver::start().await;
    let queue = mock.queue_app();
    let events = async_events();
    let names: Vec<&str> = events.iter().map(String::as_str).collect();
    let (_, secret) = queue.register_webhook(&names, &receiver.url).await;
    let started_s = chatload_mock::store::now_s();

    // Queue mode: create → queued → invited → accepted by a simulated agent.
    let (user, _) = queue.create_user("Ann").await;
    let chat = queue.create_chat(&user, 1).await;
    let chat_id = chat["id"].as_str().expect("id").to_owned();
    let active = queue.wait_chat_status(&chat_id, "active").await;
    let agent = active["agent"].as_str().expect("agent").to_owned();
    let messages = format!("/chats/{chat_id}/messages");
    queue
        .post(&messages, json!({"sender": user, "message": "hello"}))
        .await
        .expect(201);
    let form = reqwest::multipart::Form::new()
        .text("chatId", chat_id.clone())
        .text("senderId", user.clone())
        .part(
            "media",
            reqwest::multipart::Part::bytes(b"PNG".to_vec())
                .file_name("cat.png")
                .mime_str("image/png")
                .expect("mime"),
        );
    queue
        .exec(queue.request(Method::POST, "/media").multipart(form))
        .await
        .expect(201);
    let reply = receiver
        .wait_events("the agent's reply", |e| {
            e.iter().any(|e| {
                e.trigger() == "messages:new" && e.json["data"]["message"]["sender"] == agent
            })
        })
        .await;
    let reply_id = reply
        .iter()
        .find(|e| e.json["data"]["message"]["sender"] == agent)
        .and_then(|e| e.json["data"]["message"]["id"].as_str())
        .expect("reply id")
        .to_owned();
    queue
        .put(
            &format!("/messages/{reply_id}/read"),
            json!({"userId": user}),
        )
        .await
        .expect(200);
    queue
        .post(
            &format!("/users/{user}/activity"),
            json!({"chatId": chat_id, "type": "writing"}),
        )
        .await
        .expect(200);
    let (guest, _) = queue.create_user("Guest").await;
    let join = format!("/chats/{chat_id}/join");
    queue
        .post(&join, json!({"userId": guest}))
        .await
        .expect(200);
    queue
        .put(&format!("/chats/{chat_id}/leave"), json!({"userId": guest}))
        .await
        .expect(200);
    queue
        .delete(&format!("/chats/{chat_id}"), Some(json!({"userId": user})))
        .await
        .expect(200);
    // Nobody speaks Klingon: the chat leaves the queue with forever:alone.
    let (lonely, _) = queue.create_user("Lonely").await;
    queue
        .post(
            "/chats",
            json!({"creator": lonely, "room": 1, "lang": "tlh"}),
        )
        .await
        .expect(201);

    let received = receiver
        .wait_events("every event type", |got| {
            events.iter().all(|t| got.iter().any(|e| e.trigger() == t))
        })
        .await;
    let validators = WebhookValidators::get();
    for event in &received {
        let trigger = event.trigger();
        let signature = event.header("x-hook-signature").expect("signed");
        assert_eq!(signature, hmac_hex(&secret, &event.body), "{trigger}");
        assert!(
            signature.len() == 64
                && signature
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(event.header("content-type"), Some("application/json"));
        if let Err(errors) = validators.validate(trigger, &event.json) {
            panic!("{trigger} breaks the spec: {errors:?}\n{}", event.json);
        }
        assert_eq!(event.json["appId"], QUEUE_APP);
        let created = event.json["created_at"].as_u64().expect("created_at");
        assert!(
            created >= started_s && created <= started_s + 60,
            "{created}"
        );
    }
    // The oracle itself rejects a wrong payload.
    let mut broken = received[0].json.clone();
    broken["data"] = json!("not an object");
    assert!(validators.validate(received[0].trigger(), &broken).is_err());
    let find = |trigger: &str, check: &dyn Fn(&Value) -> bool| {
        received
            .iter()
            .find(|e| e.trigger() == trigger && check(&e.json["data"]))
            .unwrap_or_else(|| panic!("no matching {trigger}: {:?}", receiver.triggers()))
            .json["data"]
            .clone()
    };
    assert_eq!(
        find("chats:create", &|d| d["chatId"] == chat_id),
        json!({"chatId": chat_id, "creator": user, "room": 1})
    );
    find("queues:update", &|d| {
        d["chatId"] == chat_id && d["data"]["queuePosition"] == 1
    });
    find("queues:update", &|d| {
        d["chatId"] == chat_id && d["data"]["queuePosition"] == 0
    });
    find("invitations:new", &|d| {
        d == &json!({"chatId": chat_id, "userId": agent})
    });
    find("invitations:accept", &|d| {
        d == &json!({"chatId": chat_id, "userId": agent})
    });
    find("messages:new", &|d| {
        d["message"]["type"] == "media" && d["message"]["message"]["type"] == "image/png"
    });
    find("messages:read", &|d| {
        d == &json!({"chatId": chat_id, "messageId": reply_id, "userId": user})
    });
    find("users:activity", &|d| {
        d == &json!({"chatId": chat_id, "userId": user, "type": "writing"})
    });
    find("chats:leave", &|d| {
        d == &json!({"chatId": chat_id, "userId": guest})
    });
    let close = find("chats:close", &|d| d["chatId"] == chat_id);
    assert_eq!(
        close,
        json!({"chatId": chat_id, "userId": user, "extraData": {"reason": "user"}})
    );
    let info = find("system:info", &|d| d["chatId"] == chat_id);
    let ticket = info["data"]["ticketId"].as_str().expect("ticketId");
    // The ticket id is a survey the API knows.
    queue
        .get(&format!(
            "/surveys/{ticket}?sourceType=ticket&sourceId={ticket}"
        ))
        .await
        .expect(200);
    find("forever:alone", &|d| d["chatId"].is_string());
    // The alias carries the same data as chats:join, for every join.
    let joins: Vec<&Value> = received
        .iter()
        .filter(|e| e.trigger() == "chats:join")
        .map(|e| &e.json["data"])
        .collect();
    for data in &joins {
        assert!(
            received
                .iter()
                .any(|e| e.trigger() == "users:join" && e.json["data"] == **data),
            "no users:join for {data}"
        );
    }
    assert_eq!(joins.len(), 2, "the agent and the guest joined");
}

#[tokio::test]
async fn users_join_subscribers_get_the_alias_only() {
    let mock = start_mock_with(config("simulation:\n  simulate: false\n")).await;
    let demo = mock.demo();
    let (chats_join, users_join) = (Receiver::start().await, Receiver::start().await);
    demo.register_webhook(&["chats:join"], &chats_join.url)
        .await;
    demo.register_webhook(&["users:join"], &users_join.url)
        .await;
    let (user, _) = demo.create_user("U").await;
    let chat = demo.create_chat(&user, 1).await;
    let chat_id = chat["id"].as_str().expect("id");
    demo.post(&format!("/chats/{chat_id}/join"), json!({"userId": "a-2"}))
        .await
        .expect(200);
    let expected = json!({"chatId": chat_id, "userId": "a-2"});
    let a = chats_join
        .wait_events("chats:join", |e| !e.is_empty())
        .await;
    let b = users_join
        .wait_events("users:join", |e| !e.is_empty())
        .await;
    assert_eq!(
        (a[0].trigger(), &a[0].json["data"]),
        ("chats:join", &expected)
    );
    assert_eq!(
        (b[0].trigger(), &b[0].json["data"]),
        ("users:join", &expected)
    );
    assert_eq!(chats_join.events().len(), 1);
    assert_eq!(users_join.events().len(), 1);
}

#[tokio::test]
async fn a_delivery_answered_500_is_retried_with_the_same_body() {
    let mock = start_mock_with(config(
        "simulation:\n  simulate: false\nwebhooks:\n  retry_backoff_ms: [20]\n",
    ))
    .await;
    let demo = mock.demo();
    let receiver = Receiver::start().await;
    let (id, secret) = demo
        .register_webhook(&["chats:create"], &receiver.url)
        .await;
    receiver.fail_next(1);
    let (user, _) = demo.create_user("U").await;
    demo.create_chat(&user, 1).await;
    let got = receiver.wait_events("two attempts", |e| e.len() == 2).await;
    assert_eq!(got[0].body, got[1].body);
    assert_eq!(
        got[1].header("x-hook-signature"),
        Some(hmac_hex(&secret, &got[1].body).as_str())
    );
    assert!(
        wait_until(Duration::from_secs(5), || async {
            mock.hook_stats(DEMO_APP, &id).await["delivered"] == 1
        })
        .await
    );
    let stats = mock.hook_stats(DEMO_APP, &id).await;
    assert_eq!(stats["failedAttempts"], 1);
    assert_eq!(stats["retried"], 1);
    assert_eq!(stats["failed"], 0);
    assert_eq!(receiver.events().len(), 2, "no third attempt");
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_instead_of_blocking() {
    let mock = start_mock_with(config(
        "simulation:\n  simulate: false\nwebhooks:\n  queue_capacity: 2\n  workers: 1\n",
    ))
    .await;
    let demo = mock.demo();
    let receiver = Receiver::start().await;
    let gate = receiver.hold_events();
    let (id, _) = demo
        .register_webhook(&["chats:create"], &receiver.url)
        .await;
    let (first, _) = demo.create_user("first").await;
    demo.create_chat(&first, 1).await;
    // The only worker is now stuck in that POST: the queue holds two more.
    receiver
        .wait_events("the first delivery", |e| e.len() == 1)
        .await;
    for n in 0..9 {
        let (user, _) = demo.create_user(&format!("u{n}")).await;
        let started = Instant::now();
        demo.create_chat(&user, 1).await;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the API waited for the queue"
        );
    }
    let stats = mock.hook_stats(DEMO_APP, &id).await;
    assert_eq!(stats["enqueued"], 3);
    assert_eq!(stats["droppedQueueFull"], 7);
    assert_eq!(
        mock.admin_get("/webhooks").await["totals"]["droppedQueueFull"],
        7
    );
    gate.add_permits(100);
    receiver
        .wait_events("the queued deliveries", |e| e.len() == 3)
        .await;
    assert!(
        wait_until(Duration::from_secs(5), || async {
            mock.hook_stats(DEMO_APP, &id).await["delivered"] == 3
        })
        .await
    );
}
