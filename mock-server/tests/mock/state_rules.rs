//! State rules over real HTTP that an outside audit found missing or
//! inconsistent: the inactivity close, the queue bound, `forever:alone` on
//! a queued chat, one app's secret and another app, partial updates.

use crate::common::start_mock;
use chatload_mock::testing::{
    AppClient, Cred, DEMO_KEY, Mock, QUEUE_APP, QUEUE_SECRET, wait_until,
};
use serde_json::json;
use std::time::Duration;

/// `PUT /settings {"inactivityTimeout": 1}` is enforced: a chat nobody
/// writes in is closed by the system, with a `chats:close` of reason
/// `inactivity` (and the ticket); a chat with activity stays open.
#[tokio::test]
async fn an_idle_chat_is_closed_for_inactivity() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let settings = demo
        .put("/settings", json!({"inactivityTimeout": 1}))
        .await
        .expect(200);
    assert_eq!(settings["settings"]["inactivityTimeout"], 1);
    let (idle_user, _) = demo.create_user("idle").await;
    let idle = demo.create_chat(&idle_user, 1).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let closed = demo.wait_chat_status(&idle, "closed").await;
    assert_eq!(closed["closedBy"], "system");
    let closes = mock.events("chats:close").await;
    let close = closes
        .iter()
        .find(|e| e["data"]["chatId"] == idle.as_str())
        .expect("a chats:close event");
    assert_eq!(close["data"]["userId"], "system");
    assert_eq!(close["data"]["extraData"]["reason"], "inactivity");
    let tickets = mock.events("system:info").await;
    assert!(tickets.iter().any(|e| e["data"]["chatId"] == idle.as_str()));

    // Activity (a message every 300 ms) keeps a chat open past the timeout.
    demo.put("/settings", json!({"inactivityTimeout": 2}))
        .await
        .expect(200);
    let (user, _) = demo.create_user("talker").await;
    let chat = demo.create_chat(&user, 1).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/chats/{chat}/messages");
    for n in 0..10 {
        let body = json!({"sender": user, "message": format!("still here {n}")});
        demo.post(&path, body).await.expect(201);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let open = demo.get(&format!("/chats/{chat}")).await.expect(200);
    assert_ne!(open["chat"]["status"], "closed", "{open}");
    // 0 switches the close off.
    demo.put("/settings", json!({"inactivityTimeout": 0}))
        .await
        .expect(200);
    let closed_later = wait_until(Duration::from_millis(3500), || async {
        demo.get(&format!("/chats/{chat}")).await.expect(200)["chat"]["status"] == "closed"
    })
    .await;
    assert!(!closed_later, "a timeout of 0 closes nothing");
}

/// Reference §4.12: the survey is fetched with the secret (PHP) or, from
/// the browser, with a user's token (JS adapter); the spec's `x-auth: user`.
#[tokio::test]
async fn a_user_token_fetches_a_survey() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let (_, token) = demo.create_user("surveyed").await;
    let path = "/surveys/3?sourceType=ticket&sourceId=3";
    let survey = demo.with(Cred::Token(token)).get(path).await.expect(200);
    assert_eq!(
        survey["survey"]["url"],
        "http://127.0.0.1/surveys/3?sourceType=ticket&sourceId=3"
    );
    demo.get(path).await.expect(200);
    demo.with(Cred::AppIdOnly).get(path).await.assert_error(401);
    demo.with(Cred::Key(DEMO_KEY.into()))
        .get(path)
        .await
        .assert_error(403);
    demo.with(Cred::Token("not-a-token".into()))
        .get(path)
        .await
        .assert_error(401);
}

/// One app's secret administers its own app and the apps it created, never
/// another tenant's: `PUT /apps/{B}` with A's secret is a 403 and changes
/// nothing; `GET /apps` lists only what the caller administers.
#[tokio::test]
async fn a_secret_administers_only_its_own_apps() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let renamed = demo
        .put(&format!("/apps/{QUEUE_APP}"), json!({"name": "hacked"}))
        .await;
    renamed.assert_error(403);
    demo.get(&format!("/apps/{QUEUE_APP}"))
        .await
        .assert_error(403);
    let queue = mock.client(QUEUE_APP, Cred::Secret(QUEUE_SECRET.into()));
    let own = queue.get(&format!("/apps/{QUEUE_APP}")).await.expect(200);
    assert_ne!(own["app"]["name"], "hacked");
    let listed = |body: &serde_json::Value| -> Vec<String> {
        body["apps"]
            .as_array()
            .expect("apps")
            .iter()
            .map(|a| a["id"].as_str().expect("id").to_owned())
            .collect()
    };
    assert_eq!(listed(&demo.get("/apps").await.expect(200)), ["demo-app"]);
    let created = demo
        .post("/apps", json!({"id": "demo-child", "name": "Child"}))
        .await
        .expect(200);
    assert_eq!(created["app"]["id"], "demo-child");
    demo.put("/apps/demo-child", json!({"name": "Renamed child"}))
        .await
        .expect(200);
    assert_eq!(
        listed(&demo.get("/apps").await.expect(200)),
        ["demo-app", "demo-child"]
    );
    assert_eq!(listed(&queue.get("/apps").await.expect(200)), [QUEUE_APP]);
    queue.get("/apps/demo-child").await.assert_error(403);
}

/// `PUT /users/{agentId}` with a new `name` changes the name only: the
/// agent's `nickname` (its name when none was configured) stays.
#[tokio::test]
async fn renaming_an_agent_keeps_its_nickname() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let before = demo.get("/users/a-1").await.expect(200)["user"].clone();
    assert_eq!(before["nickname"], "Agent 1");
    let after = demo
        .put("/users/a-1", json!({"name": "renamed agent"}))
        .await
        .expect(200)["user"]
        .clone();
    assert_eq!(after["name"], "renamed agent");
    assert_eq!(after["nickname"], "Agent 1");
    let agent = demo.get("/agents/a-1").await.expect(200);
    assert_eq!(agent["agent"]["nickname"], "Agent 1", "{agent}");
    // The same through PUT /agents/{id}; a sent nickname does change.
    let renamed = demo
        .put("/agents/a-2", json!({"name": "Second"}))
        .await
        .expect(200);
    assert_eq!(renamed["agent"]["nickname"], "Agent 2", "{renamed}");
    let nicked = demo
        .put("/agents/a-2", json!({"nickname": "Two"}))
        .await
        .expect(200);
    assert_eq!(nicked["agent"]["nickname"], "Two");
    assert_eq!(nicked["agent"]["name"], "Second");
}

/// Switches the simulated agents of the queue app off: nobody is online,
/// so every chat stays queued.
async fn queue_app_without_agents(mock: &Mock) -> AppClient {
    mock.admin_send(
        reqwest::Method::PUT,
        "/simulation",
        Some(json!({"appId": QUEUE_APP, "agents": false})),
    )
    .await
    .expect(200);
    mock.queue_app()
}

/// `forever:alone` means "no agent can ever be invited" (the PHP client
/// then closes the chat): assign on a queued chat that an agent of its
/// room could still take keeps it queued and sends no `forever:alone`;
/// a chat nobody could ever take still gets one.
#[tokio::test]
async fn assign_on_a_queued_chat_with_nobody_online_keeps_it_queued_quietly() {
    let mock = start_mock().await;
    let queue = queue_app_without_agents(&mock).await;
    let (user, _) = queue.create_user("patient").await;
    let chat = queue.create_chat(&user, 1).await;
    let id = chat["id"].as_str().expect("id").to_owned();
    assert_eq!(chat["queuePosition"], 1);
    let assigned = queue.get(&format!("/chats/{id}/assign")).await.expect(200);
    assert_eq!(assigned["agent"], serde_json::Value::Null);
    let after = queue.get(&format!("/chats/{id}")).await.expect(200)["chat"].clone();
    assert_eq!(after["inQueue"], true, "{after}");
    assert_eq!(after["queuePosition"], 1);
    let alone = mock.events("forever:alone").await;
    assert!(
        alone.iter().all(|e| e["data"]["chatId"] != id.as_str()),
        "forever:alone for a chat that stays queued: {alone:?}"
    );
    // Nobody in the app speaks `xx`: that chat can never be served.
    let (other, _) = queue.create_user("unserved").await;
    let unserved = queue
        .post("/chats", json!({"creator": other, "room": 1, "lang": "xx"}))
        .await
        .expect(201)["chat"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    queue
        .get(&format!("/chats/{unserved}/assign"))
        .await
        .expect(200);
    let alone = mock.events("forever:alone").await;
    assert!(
        alone
            .iter()
            .any(|e| e["data"]["chatId"] == unserved.as_str())
    );
    let gone = queue.get(&format!("/chats/{unserved}")).await.expect(200);
    assert_eq!(gone["chat"]["inQueue"], false);
}

/// `queue.maxSize` is kept and enforced: with a full queue a new chat of
/// that room is refused with 409 (and nothing is created); other rooms and
/// `maxSize: 0` are not limited.
#[tokio::test]
async fn a_full_queue_refuses_new_chats() {
    let mock = start_mock().await;
    let queue = queue_app_without_agents(&mock).await;
    let settings = queue
        .put(
            "/settings",
            json!({"queue": {"active": true, "maxSize": 1}}),
        )
        .await
        .expect(200);
    assert_eq!(settings["settings"]["queue"]["maxSize"], 1, "{settings}");
    let (first, _) = queue.create_user("first").await;
    let queued = queue.create_chat(&first, 1).await;
    assert_eq!(queued["queuePosition"], 1);
    let (second, _) = queue.create_user("second").await;
    let refused = queue
        .post("/chats", json!({"creator": second, "room": 1}))
        .await;
    refused.assert_error(409);
    assert_eq!(refused.body["error"]["message"], "Queue is full");
    let user = queue.get(&format!("/users/{second}")).await.expect(200);
    assert_eq!(user["user"]["chats"], json!([]), "nothing was created");
    // Another room has its own queue.
    queue.create_chat(&second, 2).await;
    // Room 1 has room again once its queued chat closes.
    let id = queued["id"].as_str().expect("id");
    queue
        .delete(&format!("/chats/{id}"), None)
        .await
        .expect(200);
    let (third, _) = queue.create_user("third").await;
    queue.create_chat(&third, 1).await;
    // 0 lifts the bound.
    queue
        .put("/settings", json!({"queue": {"maxSize": 0}}))
        .await
        .expect(200);
    let (fourth, _) = queue.create_user("fourth").await;
    let behind = queue.create_chat(&fourth, 1).await;
    assert_eq!(behind["queuePosition"], 2);
}

/// `PUT /chats/{id}`: an active chat does not move to a room its agent
/// does not work in (409), and a field the request does not take (such as
/// `status`) is a 400, not a 200 that changes nothing.
#[tokio::test]
async fn updating_a_chat_is_strict() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let (user, _) = demo.create_user("mover").await;
    let chat = demo.create_chat(&user, 1).await;
    let id = chat["id"].as_str().expect("id").to_owned();
    demo.get(&format!("/chats/{id}/assign")).await.expect(200);
    let active = demo.wait_chat_status(&id, "active").await;
    let path = format!("/chats/{id}");
    // The default world's room-1 agents do not work in room 2.
    let moved = demo.put(&path, json!({"room": 2})).await;
    moved.assert_error(409);
    let now = demo.get(&path).await.expect(200)["chat"].clone();
    assert_eq!(now["room"], 1);
    assert_eq!(now["agent"], active["agent"]);
    demo.put(&path, json!({"room": 1, "lang": "es", "source": 4}))
        .await
        .expect(200);
    let closing = demo.put(&path, json!({"status": "closed"})).await;
    closing.assert_error(400);
    let message = closing.body["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("`status`"), "{message}");
    assert_eq!(
        demo.get(&path).await.expect(200)["chat"]["status"],
        "active"
    );
    // A waiting chat moves freely.
    let (other, _) = demo.create_user("waiter").await;
    let waiting = demo.create_chat(&other, 1).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let moved = demo
        .put(&format!("/chats/{waiting}"), json!({"room": "2"}))
        .await
        .expect(200);
    assert_eq!(moved["chat"]["room"], 2);
}
