//! The synchronous `chats:assign` webhook over real HTTP (its answer picks
//! the agent; a late, failed or unusable answer falls back to the built-in
//! algorithm; queue dispatch and a declined invitation ask too), and the
//! run-time switch of simulated agents (`PUT /__mock/simulation`) that lets
//! API-driven agents take the chats.

use crate::common::receiver::{AssignReply, Receiver};
use crate::common::spec::WebhookValidators;
use crate::common::{hmac_hex, start_mock_with};
use chatload_mock::testing::{Cred, DEMO_APP, Mock, QUEUE_APP, wait_until};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A mock whose agents never answer by themselves, so invitations stay
/// pending and every assignment is observable.
async fn manual_mock(extra: &str) -> Mock {
    let yaml = format!("simulation:\n  simulate: false\n{extra}");
    start_mock_with(chatload_mock::MockConfig::from_yaml_str(&yaml, "test.yaml").expect("config"))
        .await
}

fn agent_of(reply: Value) -> Option<String> {
    reply["agent"]["id"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn the_webhook_answer_picks_the_agent() {
    let mock = manual_mock("").await;
    let demo = mock.demo();
    let receiver = Receiver::start().await;
    receiver.answer_assign(AssignReply::Agent("a-3".to_owned()));
    let (id, secret) = demo
        .register_webhook(&["chats:assign"], &receiver.url)
        .await;
    let (user, _) = demo.create_user("U").await;
    let chat = demo.create_chat(&user, 1).await;
    let chat_id = chat["id"].as_str().expect("id");
    let assigned = demo
        .get(&format!("/chats/{chat_id}/assign"))
        .await
        .expect(200);
    assert_eq!(agent_of(assigned).as_deref(), Some("a-3"));

    let asked = receiver.assigns();
    assert_eq!(asked.len(), 1);
    let question = &asked[0];
    assert_eq!(
        question.header("x-hook-signature"),
        Some(hmac_hex(&secret, &question.body).as_str())
    );
    if let Err(errors) = WebhookValidators::get().validate("chats:assign", &question.json) {
        panic!(
            "chats:assign breaks the spec: {errors:?}\n{}",
            question.json
        );
    }
    let offered: Vec<&str> = question.json["data"]["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .map(|a| a["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        offered,
        ["a-1", "a-2", "a-3", "a-4"],
        "the eligible agents of room 1"
    );
    assert_eq!(question.json["data"]["agents"][0]["freeSlots"], 3);
    assert_eq!(question.json["data"]["chat"]["id"], chat_id);
    // The invitation is a real one: the chosen agent accepts it.
    demo.post(
        "/invitations/accept",
        json!({"chatId": chat_id, "userId": "a-3"}),
    )
    .await
    .expect(200);
    assert_eq!(
        demo.wait_chat_status(chat_id, "active").await["agent"],
        "a-3"
    );
    let stats = mock.hook_stats(DEMO_APP, &id).await;
    assert_eq!(
        stats["assign"],
        json!({"asked": 1, "honoured": 1, "fallback": 0})
    );
    let recorded = mock
        .admin_get(&format!("/events?appId={DEMO_APP}&trigger=chats:assign"))
        .await;
    assert_eq!(recorded["events"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn an_unusable_answer_falls_back_to_the_algorithm() {
    // The late answer comes long after the mock's 300 ms limit.
    const LATE: Duration = Duration::from_secs(5);
    let mock = manual_mock("webhooks:\n  assign_timeout_ms: 300\n").await;
    let demo = mock.demo();
    let receiver = Receiver::start().await;
    let (id, _) = demo
        .register_webhook(&["chats:assign"], &receiver.url)
        .await;
    // The algorithm (most free slots, then longest idle) picks a-1, a-2,
    // a-3, a-4, a-1; the eligible agents named by the 500 and the late
    // answer are ones it would not pick.
    let cases = [
        (
            "an agent of another room",
            AssignReply::Agent("a-7".to_owned()),
            "a-1",
        ),
        (
            "an unknown id",
            AssignReply::Agent("nobody".to_owned()),
            "a-2",
        ),
        ("no choice", AssignReply::Nothing, "a-3"),
        ("a 500", AssignReply::Status(500, "a-1".to_owned()), "a-4"),
        (
            "an answer after the limit",
            AssignReply::Late(LATE, "a-2".to_owned()),
            "a-1",
        ),
    ];
    for (n, (what, reply, expected)) in cases.into_iter().enumerate() {
        receiver.answer_assign(reply);
        let (user, _) = demo.create_user(&format!("u{n}")).await;
        let chat = demo.create_chat(&user, 1).await;
        let started = Instant::now();
        let assigned = demo
            .get(&format!(
                "/chats/{}/assign",
                chat["id"].as_str().expect("id")
            ))
            .await
            .expect(200);
        let agent = agent_of(assigned).unwrap_or_else(|| panic!("{what}: no agent"));
        assert_eq!(agent, expected, "{what}");
        // The mock gave up at its 300 ms limit, not when the late answer
        // came: a relation to the answer's own delay (16x the limit), not a
        // wall-clock bound a loaded CI could break.
        assert!(
            started.elapsed() < LATE,
            "{what}: waited {:?}",
            started.elapsed()
        );
        assert_eq!(
            receiver.assigns().len(),
            n + 1,
            "{what}: asked once, never retried"
        );
    }
    let stats = mock.hook_stats(DEMO_APP, &id).await;
    assert_eq!(
        stats["assign"],
        json!({"asked": 5, "honoured": 0, "fallback": 5})
    );
}

#[tokio::test]
async fn a_declined_invitation_and_the_queue_ask_the_webhook_too() {
    let mock = manual_mock("").await;
    let demo = mock.demo();
    let receiver = Receiver::start().await;
    receiver.answer_assign(AssignReply::Agent("a-2".to_owned()));
    demo.register_webhook(&["chats:assign"], &receiver.url)
        .await;
    let (user, _) = demo.create_user("U").await;
    let chat = demo.create_chat(&user, 1).await;
    let chat_id = chat["id"].as_str().expect("id");
    let assign = format!("/chats/{chat_id}/assign");
    assert_eq!(
        agent_of(demo.get(&assign).await.expect(200)).as_deref(),
        Some("a-2")
    );
    // a-2 declines: the invitation moves on, the webhook is asked again and
    // names a-2 again, who is no longer eligible, so the algorithm picks.
    demo.post(
        "/invitations/reject",
        json!({"chatId": chat_id, "userId": "a-2"}),
    )
    .await
    .expect(200);
    assert!(
        wait_until(Duration::from_secs(5), || async {
            receiver.assigns().len() == 2
        })
        .await
    );
    let moved_on = agent_of(demo.get(&assign).await.expect(200));
    assert_eq!(moved_on.as_deref(), Some("a-1"));
    let offered = receiver.assigns()[1].json["data"]["agents"].to_string();
    assert!(!offered.contains("\"a-2\""), "a-2 declined: {offered}");

    // Queue mode: the head of the queue is offered through the webhook.
    let queue = mock.queue_app();
    receiver.answer_assign(AssignReply::Agent("a-4".to_owned()));
    queue
        .register_webhook(&["chats:assign"], &receiver.url)
        .await;
    let (queued_user, _) = queue.create_user("Q").await;
    let queued = queue.create_chat(&queued_user, 1).await;
    let queued_id = queued["id"].as_str().expect("id");
    let invited = wait_until(Duration::from_secs(5), || async {
        mock.app_state(QUEUE_APP).await["agents"][3]["reservedSlots"] == 1
    })
    .await;
    assert!(invited, "a-4 got the queued chat's invitation");
    assert_eq!(
        agent_of(
            queue
                .get(&format!("/chats/{queued_id}/assign"))
                .await
                .expect(200)
        )
        .as_deref(),
        Some("a-4")
    );
}

#[tokio::test]
async fn with_simulated_agents_off_an_api_agent_takes_the_chats() {
    // Simulated agents would accept, but only after 10 s.
    let mock = start_mock_with(
        chatload_mock::MockConfig::from_yaml_str(
            "simulation:\n  accept_delay: {dist: fixed, ms: 10000}\n",
            "test.yaml",
        )
        .expect("config"),
    )
    .await;
    let demo = mock.demo();
    let human = demo
        .post(
            "/agents",
            json!({"name": "Human", "rooms": [1], "capacity": 2, "langs": ["en"]}),
        )
        .await
        .expect(200)["agent"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (user, _) = demo.create_user("U").await;
    let chat = demo.create_chat(&user, 1).await;
    let chat_id = chat["id"].as_str().expect("id");
    let assign = format!("/chats/{chat_id}/assign");
    assert_eq!(
        agent_of(demo.get(&assign).await.expect(200)).as_deref(),
        Some("a-1")
    );

    let switched = mock
        .admin_send(
            Method::PUT,
            "/simulation",
            Some(json!({"appId": DEMO_APP, "agents": false})),
        )
        .await
        .expect(200);
    assert_eq!(
        switched["apps"][DEMO_APP],
        json!({"agents": false, "simulate": false})
    );
    assert_eq!(
        switched["apps"][QUEUE_APP]["agents"], true,
        "other apps untouched"
    );
    // a-1's pending invitation moved on to the only agent left online.
    assert_eq!(
        agent_of(demo.get(&assign).await.expect(200)),
        Some(human.clone())
    );
    let online = demo.get("/agents?status=online").await.expect(200);
    assert_eq!(online["agents"].as_array().map(Vec::len), Some(1));

    // The harness's agent actor logs out and in, then accepts.
    demo.post("/agents/logout", json!({"agentId": human}))
        .await
        .expect(200);
    let login = demo
        .with(Cred::AppIdOnly)
        .post("/agents/login", json!({"agentId": human}))
        .await
        .expect(200);
    assert_eq!(login["agent"]["status"], "online");
    demo.post(
        "/invitations/accept",
        json!({"chatId": chat_id, "userId": human}),
    )
    .await
    .expect(200);
    assert_eq!(
        demo.wait_chat_status(chat_id, "active").await["agent"],
        human
    );
    demo.put(&format!("/agents/{human}"), json!({"status": "away"}))
        .await
        .expect(200);
    let (other, _) = demo.create_user("V").await;
    let second = demo.create_chat(&other, 1).await;
    let nobody = demo
        .get(&format!(
            "/chats/{}/assign",
            second["id"].as_str().expect("id")
        ))
        .await
        .expect(200);
    assert_eq!(
        nobody["agent"],
        Value::Null,
        "simulated agents off, the human away"
    );

    mock.admin_send(Method::PUT, "/simulation", Some(json!({"agents": true})))
        .await
        .expect(200);
    let online = demo.get("/agents?status=online").await.expect(200);
    assert_eq!(online["agents"].as_array().map(Vec::len), Some(8));
    assert_eq!(
        mock.admin_get("/simulation").await["apps"][DEMO_APP]["simulate"],
        true
    );
    mock.admin_send(
        Method::PUT,
        "/simulation",
        Some(json!({"appId": "nope", "agents": false})),
    )
    .await
    .assert_error(404);
    mock.admin_send(Method::PUT, "/simulation", Some(json!({"appId": DEMO_APP})))
        .await
        .assert_error(400);
}
