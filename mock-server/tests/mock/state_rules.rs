//! State rules over real HTTP that an outside audit found missing or
//! inconsistent: the inactivity close, the queue bound, `forever:alone` on
//! a queued chat, one app's secret and another app, partial updates.

use crate::common::start_mock;
use chatload_mock::testing::{Cred, DEMO_KEY, QUEUE_APP, QUEUE_SECRET, wait_until};
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
    assert_eq!(
        listed(&queue.get("/apps").await.expect(200)),
        [QUEUE_APP]
    );
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
