//! End-to-end behaviour over HTTP: the seed's two flows, assignment,
//! queue order, request normalisation, and many concurrent lifecycles.

use crate::common::{is_idle, start_mock, start_mock_with};
use chatload_mock::testing::{Cred, DEMO_APP, DEMO_SECRET, QUEUE_APP, wait_until};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn seed_flow_without_queue_mode() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let public = demo.with(Cred::AppIdOnly);
    let available = public.get("/agents/available?roomIds=1").await.expect(200);
    assert!(available["agents"]["1"].as_u64().is_some_and(|n| n > 0));
    let user = public
        .post("/users", json!({"name": "username"}))
        .await
        .expect(201);
    let user_id = user["user"]["id"].as_str().expect("id").to_owned();
    let chat = demo
        .post("/chats", json!({"room": "1", "creator": user_id}))
        .await
        .expect(201);
    let chat_id = chat["chat"]["id"].as_str().expect("id").to_owned();
    let assigned = demo
        .get(&format!("/chats/{chat_id}/assign"))
        .await
        .expect(200);
    let agent = assigned["agent"]["id"].as_str().expect("agent").to_owned();
    let active = demo.wait_chat_status(&chat_id, "active").await;
    assert_eq!(active["agent"], agent.as_str());
    demo.post(
        &format!("/chats/{chat_id}/messages"),
        json!({"chatId": chat_id, "sender": user_id, "message": "hello"}),
    )
    .await
    .expect(201);
    let closed = demo
        .delete(
            &format!("/chats/{chat_id}"),
            Some(json!({"userId": user_id})),
        )
        .await
        .expect(200);
    assert_eq!(closed["chat"]["status"], "closed");
    let state = mock.app_state(DEMO_APP).await;
    assert!(is_idle(&state), "{state}");
    let events = mock.admin_get("/events?appId=demo-app").await;
    let triggers: Vec<&str> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["trigger"].as_str())
        .collect();
    for expected in [
        "chats:create",
        "invitations:new",
        "invitations:accept",
        "chats:join",
        "messages:new",
        "chats:close",
    ] {
        assert!(
            triggers.contains(&expected),
            "{expected} missing from {triggers:?}"
        );
    }
}

#[tokio::test]
async fn seed_flow_with_queue_mode() {
    let mock = start_mock().await;
    let queue = mock.queue_app();
    let public = queue.with(Cred::AppIdOnly);
    let settings = public.get("/settings").await.expect(200);
    assert_eq!(settings["settings"]["queue"]["active"], true);
    assert_eq!(
        public.get("/agents/online?roomId=1").await.expect(200)["agentsOnline"],
        true
    );
    let (user, _) = queue.create_user("queued").await;
    let chat = queue.create_chat(&user, 1).await;
    let chat_id = chat["id"].as_str().expect("id").to_owned();
    // No assign call in queue mode: a free agent takes the chat by itself.
    let active = queue.wait_chat_status(&chat_id, "active").await;
    assert_eq!(active["inQueue"], false);
    queue
        .post(
            &format!("/chats/{chat_id}/messages"),
            json!({"sender": user, "message": "hi"}),
        )
        .await
        .expect(201);
    queue
        .delete(&format!("/chats/{chat_id}?userId={user}"), None)
        .await
        .expect(200);
    assert!(is_idle(&mock.app_state(QUEUE_APP).await));
}

#[tokio::test]
async fn assignment_picks_the_agent_with_most_free_slots() {
    let mut config = chatload_mock::MockConfig::default();
    config.simulation.simulate = false;
    let mock = start_mock_with(config).await;
    let demo = mock.demo();
    // Give a-2 one more slot than everyone else: it must be picked first.
    demo.put("/agents/a-2", json!({"capacity": 4}))
        .await
        .expect(200);
    let (user, _) = demo.create_user("u1").await;
    let chat = demo.create_chat(&user, 1).await;
    let id = chat["id"].as_str().expect("id");
    let agent = demo.get(&format!("/chats/{id}/assign")).await.expect(200);
    assert_eq!(agent["agent"]["id"], "a-2");
    assert_eq!(
        agent["agent"]["freeSlots"], 3,
        "the invitation reserves a slot"
    );
    // Now a-1, a-2, a-3, a-4 all have 3 free: the tie goes to the one idle longest.
    let (user2, _) = demo.create_user("u2").await;
    let chat2 = demo.create_chat(&user2, 1).await;
    let id2 = chat2["id"].as_str().expect("id");
    let second = demo.get(&format!("/chats/{id2}/assign")).await.expect(200);
    assert_eq!(second["agent"]["id"], "a-1");
    let rr = {
        let (u, _) = demo.create_user("u3").await;
        let c = demo.create_chat(&u, 1).await;
        let path = format!(
            "/chats/{}/assign?algorithm=round-robin",
            c["id"].as_str().expect("id")
        );
        demo.get(&path).await.expect(200)
    };
    assert_eq!(
        rr["agent"]["id"], "a-2",
        "round-robin continues after the last pick"
    );
}

#[tokio::test]
async fn nobody_available_answers_null_agent_and_records_forever_alone() {
    let mock = start_mock().await;
    let demo = mock.demo();
    for n in 1..=4 {
        demo.put(&format!("/agents/a-{n}"), json!({"status": "away"}))
            .await
            .expect(200);
    }
    let (user, _) = demo.create_user("lonely").await;
    let chat = demo.create_chat(&user, 1).await;
    let id = chat["id"].as_str().expect("id");
    let none = demo.get(&format!("/chats/{id}/assign")).await.expect(200);
    assert_eq!(none, json!({"agent": null}));
    let events = mock.admin_get("/events?trigger=forever:alone").await;
    assert_eq!(events["events"][0]["data"]["chatId"], id);
}

#[tokio::test]
async fn queue_stays_fifo_and_positions_move_as_chats_close() {
    let mut config = chatload_mock::MockConfig::default();
    config.apps[1].agents_per_room = 1;
    config.apps[1].capacity = 1;
    config.simulation.simulate = false;
    let mock = start_mock_with(config).await;
    let queue = mock.queue_app();
    let mut chats = Vec::new();
    for n in 0..4 {
        let (user, _) = queue.create_user(&format!("q{n}")).await;
        chats.push(
            queue.create_chat(&user, 1).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    // Room 1 has one agent with one slot: chat 0 is dispatched, 1..3 queue.
    let position = |c: Value| c["chat"]["queuePosition"].clone();
    assert_eq!(
        position(queue.get(&format!("/chats/{}", chats[0])).await.expect(200)),
        Value::Null
    );
    for (n, chat) in chats.iter().enumerate().skip(1) {
        let got = queue.get(&format!("/chats/{chat}")).await.expect(200);
        assert_eq!(got["chat"]["inQueue"], true);
        assert_eq!(position(got), json!(n));
        let update = queue
            .get(&format!("/queues/update/{chat}"))
            .await
            .expect(200);
        assert_eq!(update["data"]["queuePosition"], json!(n));
        assert!(
            update["data"]["estimatedWaitTime"]
                .as_u64()
                .is_some_and(|w| w > 0)
        );
    }
    let status = queue.get("/queues/status").await.expect(200);
    assert_eq!(status["queues"][0]["size"], 3);
    // Accept chat 0, then close it: chat 1 gets the slot, the rest move up.
    queue
        .post(
            "/invitations/accept",
            json!({"chatId": chats[0], "userId": "a-1"}),
        )
        .await
        .expect(200);
    queue
        .delete(&format!("/chats/{}", chats[0]), None)
        .await
        .expect(200);
    let first = queue.get(&format!("/chats/{}", chats[1])).await.expect(200);
    assert_eq!(first["chat"]["inQueue"], false);
    assert_eq!(
        first["chat"]["status"], "waiting",
        "invited, not yet accepted"
    );
    assert_eq!(
        position(queue.get(&format!("/chats/{}", chats[2])).await.expect(200)),
        json!(1)
    );
    assert_eq!(
        position(queue.get(&format!("/chats/{}", chats[3])).await.expect(200)),
        json!(2)
    );
    // Closing a queued chat shifts the ones behind it.
    queue
        .delete(&format!("/chats/{}", chats[2]), None)
        .await
        .expect(200);
    assert_eq!(
        position(queue.get(&format!("/chats/{}", chats[3])).await.expect(200)),
        json!(1)
    );
    let events = mock
        .admin_get("/events?trigger=queues:update&limit=1000")
        .await;
    let last = events["events"]
        .as_array()
        .and_then(|e| e.last())
        .expect("updates");
    assert_eq!(last["data"]["chatId"], chats[3].as_str());
    assert_eq!(last["data"]["data"]["queuePosition"], 1);
    queue
        .delete(&format!("/chats/{}", chats[1]), None)
        .await
        .expect(200);
    queue
        .delete(&format!("/chats/{}", chats[3]), None)
        .await
        .expect(200);
    assert!(is_idle(&mock.app_state(QUEUE_APP).await));
}

#[tokio::test]
async fn trailing_slash_and_header_case_do_not_matter() {
    let mock = start_mock().await;
    let url = mock.server.base_url();
    for path in ["/users", "/users/", "/users//"] {
        let resp = mock
            .http
            .post(format!("{url}{path}"))
            .header("X-HYPER-APPID", DEMO_APP)
            .json(&json!({"name": "slash"}))
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status(), 201, "{path}");
    }
    for header in ["x-hyper-appid", "X-Hyper-AppId", "x-hyper-appId"] {
        let resp = mock
            .http
            .get(format!("{url}/settings/"))
            .header(header, DEMO_APP)
            .header("X-HYPER-SECRET", DEMO_SECRET)
            .send()
            .await
            .expect("get");
        let body: Value = resp.json().await.expect("json");
        assert!(
            body["settings"]["allowedFileTypes"].is_array(),
            "{header}: full view"
        );
    }
    let stats = mock.admin_get("/stats").await;
    assert_eq!(stats["routes"]["createUser"], 3);
    assert_eq!(stats["routes"]["getSettings"], 3);
}

#[tokio::test]
async fn close_reads_user_id_from_query_or_body_and_body_wins() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let mut closers = Vec::new();
    for (query, body) in [(true, false), (false, true), (true, true)] {
        let (user, _) = demo.create_user("closer").await;
        let chat = demo.create_chat(&user, 1).await;
        let id = chat["id"].as_str().expect("id").to_owned();
        let path = if query {
            format!("/chats/{id}?userId=system-ish")
        } else {
            format!("/chats/{id}")
        };
        let path = if query && !body {
            format!("/chats/{id}?userId={user}")
        } else {
            path
        };
        let body = body.then(|| json!({"userId": user}));
        let closed = demo.send(Method::DELETE, &path, body).await.expect(200);
        closers.push((closed["chat"]["closedBy"].clone(), user));
    }
    for (closed_by, user) in closers {
        assert_eq!(closed_by, json!(user));
    }
    let (user, _) = demo.create_user("system").await;
    let chat = demo.create_chat(&user, 1).await;
    let id = chat["id"].as_str().expect("id");
    let closed = demo.delete(&format!("/chats/{id}"), None).await.expect(200);
    assert_eq!(closed["chat"]["closedBy"], "system");
}

#[tokio::test]
async fn simulated_agents_can_reject_and_the_invitation_moves_on() {
    let mut config = chatload_mock::MockConfig::default();
    config.simulation.reject_probability = 0.5;
    let mock = start_mock_with(config).await;
    let demo = mock.demo();
    let mut chats = Vec::new();
    for n in 0..6 {
        let (user, _) = demo.create_user(&format!("r{n}")).await;
        let chat = demo.create_chat(&user, 1).await;
        let id = chat["id"].as_str().expect("id").to_owned();
        demo.get(&format!("/chats/{id}/assign")).await.expect(200);
        chats.push(id);
    }
    let path = "/events?trigger=invitations:new&limit=1000";
    let enough = wait_until(Duration::from_secs(5), || async {
        mock.app_state(DEMO_APP).await["invitationsPending"] == 0
    })
    .await;
    assert!(enough);
    let invitations = mock.admin_get(path).await["events"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(
        invitations > chats.len(),
        "some invitations were rejected and moved on"
    );
    for chat in &chats {
        let got = demo.get(&format!("/chats/{chat}")).await.expect(200);
        let status = got["chat"]["status"].as_str().expect("status").to_owned();
        assert!(status == "active" || status == "waiting");
        demo.delete(&format!("/chats/{chat}"), None)
            .await
            .expect(200);
    }
    assert!(is_idle(&mock.app_state(DEMO_APP).await));
}

#[tokio::test]
async fn a_thousand_concurrent_lifecycles_leave_consistent_state() {
    let mut config = chatload_mock::MockConfig::default();
    config.simulation.accept_delay = chatload_mock::dist::Dist::Uniform {
        min_ms: 1.0,
        max_ms: 5.0,
    };
    config.simulation.reply_delay = chatload_mock::dist::Dist::Fixed { ms: 1.0 };
    let mock = Arc::new(start_mock_with(config).await);
    let permits = Arc::new(tokio::sync::Semaphore::new(100));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..1000u32 {
        let mock = Arc::clone(&mock);
        let permits = Arc::clone(&permits);
        tasks.spawn(async move {
            let _permit = permits.acquire().await.expect("semaphore");
            let client = if n % 2 == 0 {
                mock.demo()
            } else {
                mock.queue_app()
            };
            let (user, _) = client.create_user(&format!("load-{n}")).await;
            let chat = client.create_chat(&user, 1 + n % 2).await;
            let id = chat["id"].as_str().expect("id").to_owned();
            if n % 4 == 0 {
                // Without queue mode the client retries assign until an agent is free.
                let assigned = wait_until(Duration::from_secs(20), || async {
                    !client.get(&format!("/chats/{id}/assign")).await.expect(200)["agent"].is_null()
                })
                .await;
                assert!(assigned, "no agent for {id}");
            }
            if n % 4 < 2 {
                // Half of the chats get as far as a message exchange.
                let active = wait_until(Duration::from_secs(20), || async {
                    client.get(&format!("/chats/{id}")).await.expect(200)["chat"]["status"]
                        == "active"
                })
                .await;
                if active {
                    client
                        .post(
                            &format!("/chats/{id}/messages"),
                            json!({"sender": user, "message": "hi"}),
                        )
                        .await
                        .expect(201);
                }
            }
            client
                .delete(&format!("/chats/{id}"), Some(json!({"userId": user})))
                .await
                .expect(200);
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.expect("lifecycle task");
    }
    for app in [DEMO_APP, QUEUE_APP] {
        let state = mock.app_state(app).await;
        assert!(is_idle(&state), "{app}: {state}");
        assert_eq!(state["chats"]["closed"], 500, "{app}");
        assert_eq!(state["chats"]["waiting"], 0);
        assert_eq!(state["chats"]["active"], 0);
    }
    let stats = mock.admin_get("/stats").await;
    assert_eq!(stats["routes"]["createChat"], 1000);
    assert_eq!(stats["routes"]["closeChat"], 1000);
}

#[tokio::test]
async fn unanswered_invitations_expire_and_move_on() {
    let mut config = chatload_mock::MockConfig::default();
    config.simulation.simulate = false;
    config.simulation.invitation_timeout_ms = 30;
    let mock = start_mock_with(config).await;
    let demo = mock.demo();
    let (user, _) = demo.create_user("patient").await;
    let chat = demo.create_chat(&user, 1).await;
    let id = chat["id"].as_str().expect("id").to_owned();
    let first = demo.get(&format!("/chats/{id}/assign")).await.expect(200)["agent"]["id"].clone();
    let moved = wait_until(Duration::from_secs(3), || async {
        let events = mock.admin_get("/events?trigger=invitations:new").await;
        events["events"].as_array().is_some_and(|e| e.len() >= 2)
    })
    .await;
    assert!(moved, "the invitation never moved on");
    let events = mock.admin_get("/events?trigger=invitations:new").await;
    assert_ne!(events["events"][1]["data"]["userId"], first);
    demo.delete(&format!("/chats/{id}"), None).await.expect(200);
    assert!(is_idle(&mock.app_state(DEMO_APP).await));
}
