//! Chat-scoped routes over real HTTP: chats, messages and history,
//! invitations, media, queues, ids, webhooks and surveys — happy paths,
//! auth failures and bad input.

use crate::common::{is_idle, start_mock, start_mock_with};
use chatload_mock::testing::{AppClient, Cred, DEMO_APP, wait_until};
use reqwest::Method;
use serde_json::{Value, json};

async fn active_chat(demo: &AppClient) -> (String, String, String, Value) {
    let (user, token) = demo.create_user("Ann").await;
    let chat = demo.create_chat(&user, 1).await;
    let id = chat["id"].as_str().expect("id").to_owned();
    demo.get(&format!("/chats/{id}/assign")).await.expect(200);
    let chat = demo.wait_chat_status(&id, "active").await;
    (user, token, id, chat)
}

#[tokio::test]
async fn chats_routes() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let (user, _) = demo.create_user("Ann").await;
    let chat = demo
        .post("/chats", json!({"creator": user, "room": "1", "source": "3", "lang": "en",
                               "history": [{"sender": "assistant", "message": "hi", "created": 1}]}))
        .await
        .expect(201)["chat"]
        .clone();
    for (field, expected) in [
        ("room", json!(1)),
        ("source", json!(3)),
        ("status", json!("waiting")),
        ("inQueue", json!(false)),
        ("agent", Value::Null),
        ("closedAt", Value::Null),
        ("closedBy", Value::Null),
        ("queuePosition", Value::Null),
        ("externalId", Value::Null),
    ] {
        assert_eq!(chat[field], expected, "{field} in {chat}");
    }
    let id = chat["id"].as_str().expect("id").to_owned();
    let second = demo
        .post("/chats", json!({"creator": user, "room": 1}))
        .await;
    second.assert_error(409);
    assert_eq!(second.body["error"]["message"], "User already has a chat");
    demo.post("/chats", json!({"room": 1}))
        .await
        .assert_error(400);
    demo.post("/chats", json!({"creator": "u-404", "room": 1}))
        .await
        .assert_error(404);
    demo.post("/chats", json!({"creator": user, "room": 77}))
        .await
        .assert_error(404);
    demo.post("/chats", json!({"creator": user, "room": "one"}))
        .await
        .assert_error(400);
    // `source` is a non-negative integer up to 2^32-1, like the schema of
    // the chat the mock would answer with (it once stored -1 and broke it).
    for source in [json!(-1), json!(5_000_000_000_u64), json!("-3"), json!(1.5)] {
        demo.post(
            "/chats",
            json!({"creator": user, "room": 1, "source": source}),
        )
        .await
        .assert_error(400);
    }

    assert_eq!(
        demo.get(&format!("/users/{user}")).await.expect(200)["user"]["chats"],
        json!([id])
    );
    let listed = demo.get("/chats?status=waiting").await.expect(200);
    assert_eq!(listed["chats"][0]["id"], id.as_str());
    demo.get("/chats?status=bogus").await.assert_error(400);
    demo.get("/chats/c-404").await.assert_error(404);

    let updated = demo
        .put(&format!("/chats/{id}"), json!({"externalId": "crm-9"}))
        .await
        .expect(200);
    assert_eq!(updated["chat"]["externalId"], "crm-9");
    demo.put(&format!("/chats/{id}"), json!({"room": 9}))
        .await
        .assert_error(404);

    let assigned = demo.get(&format!("/chats/{id}/assign")).await.expect(200);
    let agent = assigned["agent"]["id"].as_str().expect("agent").to_owned();
    demo.get(&format!("/chats/{id}/assign?algorithm=coin"))
        .await
        .assert_error(400);
    let active = demo.wait_chat_status(&id, "active").await;
    assert_eq!(active["agent"], agent.as_str());
    assert!(
        active["users"]
            .as_array()
            .expect("users")
            .contains(&json!(agent))
    );

    let users = demo.get(&format!("/chats/{id}/users")).await.expect(200);
    assert_eq!(users["users"].as_array().map(Vec::len), Some(2));
    demo.get("/chats/c-404/users").await.assert_error(404);

    let (guest, _) = demo.create_user("Guest").await;
    demo.post(&format!("/chats/{id}/join"), json!({"userId": guest}))
        .await
        .expect(200);
    demo.post(&format!("/chats/{id}/join"), json!({}))
        .await
        .assert_error(400);
    demo.put(&format!("/chats/{id}/leave"), json!({"userId": guest}))
        .await
        .expect(200);
    demo.put(&format!("/chats/{id}/leave"), json!({"userId": guest}))
        .await
        .assert_error(403);

    let inbox = demo
        .post(&format!("/chats/{id}/toinbox"), json!({}))
        .await
        .expect(200);
    let next = inbox["agent"]["id"].as_str().expect("new agent").to_owned();
    assert_ne!(next, agent);
    demo.post("/chats/c-404/toinbox", json!({}))
        .await
        .assert_error(404);
    demo.wait_chat_status(&id, "active").await;

    let closed = demo
        .delete(&format!("/chats/{id}"), Some(json!({"userId": user})))
        .await
        .expect(200);
    assert_eq!(closed["chat"]["status"], "closed");
    assert_eq!(closed["chat"]["closedBy"], user.as_str());
    assert!(closed["chat"]["closedAt"].is_u64());
    demo.delete(&format!("/chats/{id}"), None)
        .await
        .assert_error(409);
    demo.get(&format!("/chats/{id}/assign"))
        .await
        .assert_error(409);
    assert!(is_idle(&mock.app_state(DEMO_APP).await));
}

#[tokio::test]
async fn messages_and_history_routes() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let (user, token, id, chat) = active_chat(&demo).await;
    let agent = chat["agent"].as_str().expect("agent").to_owned();
    let sent = demo
        .post(
            &format!("/chats/{id}/messages"),
            json!({"chatId": id, "sender": user, "message": "hello"}),
        )
        .await
        .expect(201);
    let message = &sent["message"];
    assert_eq!(message["chat"], id.as_str());
    assert_eq!(message["sender"], user.as_str());
    assert_eq!(message["type"], "text");
    assert_eq!(message["message"], "hello");
    let message_id = message["id"].as_str().expect("id").to_owned();
    demo.post(&format!("/chats/{id}/messages"), json!({"sender": user}))
        .await
        .assert_error(400);
    let (stranger, stranger_token) = demo.create_user("Stranger").await;
    demo.post(
        &format!("/chats/{id}/messages"),
        json!({"sender": stranger, "message": "x"}),
    )
    .await
    .assert_error(403);

    // The simulated agent replies after its think time.
    let path = format!("/chats/{id}/messages");
    let replied = wait_until(std::time::Duration::from_secs(3), || async {
        let list = demo.get(&path).await.expect(200);
        list["messages"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["sender"] == agent.as_str()))
    })
    .await;
    assert!(replied, "agent never replied");
    let own = demo
        .with(Cred::Token(token.clone()))
        .get(&path)
        .await
        .expect(200);
    assert!(own["messages"].as_array().is_some_and(|m| m.len() >= 2));
    demo.with(Cred::Token(stranger_token.clone()))
        .get(&path)
        .await
        .assert_error(403);
    demo.get("/chats/c-404/messages").await.assert_error(404);

    let read = demo
        .put(
            &format!("/messages/{message_id}/read"),
            json!({"userId": agent}),
        )
        .await
        .expect(200);
    assert_eq!(read["user"]["id"], agent.as_str());
    assert_eq!(read["message"]["id"], message_id.as_str());
    assert_eq!(read["message"]["read"], true);
    demo.put("/messages/m-404/read", json!({"userId": agent}))
        .await
        .assert_error(404);
    demo.put(&format!("/messages/{message_id}/read"), json!({}))
        .await
        .assert_error(400);

    let imported = demo
        .post(
            &format!("/chats/{id}/history"),
            json!({"history": [{"sender": "assistant", "message": "bot said", "created": 1}]}),
        )
        .await
        .expect(200);
    assert!(
        imported["history"]
            .as_array()
            .is_some_and(|h| !h.is_empty())
    );
    demo.post(
        &format!("/chats/{id}/history"),
        json!({"history": [{"message": 1}]}),
    )
    .await
    .assert_error(400);
    let history = demo
        .with(Cred::Token(token))
        .get(&format!("/chats/{id}/history?format=json"))
        .await
        .expect(200);
    assert_eq!(history["history"][0]["message"], "bot said");
    let csv = demo
        .exec(demo.request(Method::GET, &format!("/chats/{id}/history?format=csv")))
        .await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/csv")
    );
    assert!(csv.raw.starts_with(b"created,sender,type,message"));
    demo.get(&format!("/chats/{id}/history?format=xml"))
        .await
        .assert_error(400);
    demo.with(Cred::Token(stranger_token))
        .get(&format!("/chats/{id}/history"))
        .await
        .assert_error(403);

    demo.delete(&format!("/chats/{id}"), None).await.expect(200);
    demo.post(
        &format!("/chats/{id}/messages"),
        json!({"sender": user, "message": "late"}),
    )
    .await
    .assert_error(409);
}

#[tokio::test]
async fn invitations_routes_with_external_agents() {
    let mut config = chatload_mock::MockConfig::default();
    config.simulation.simulate = false;
    let mock = start_mock_with(config).await;
    let demo = mock.demo();
    let (user, _) = demo.create_user("Ann").await;
    let chat = demo.create_chat(&user, 1).await;
    let id = chat["id"].as_str().expect("id").to_owned();
    let agent = demo.get(&format!("/chats/{id}/assign")).await.expect(200)["agent"]["id"]
        .as_str()
        .expect("agent")
        .to_owned();
    let state = mock.app_state(DEMO_APP).await;
    assert_eq!(state["invitationsPending"], 1);
    demo.post(
        "/invitations/accept",
        json!({"chatId": id, "userId": "a-8"}),
    )
    .await
    .assert_error(409);
    demo.post(
        "/invitations/reject",
        json!({"chatId": id, "userId": agent}),
    )
    .await
    .expect(200);
    let events = mock.admin_get("/events?trigger=invitations:new").await;
    let invited: Vec<&Value> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .collect();
    assert_eq!(invited.len(), 2, "invitation moved on: {events}");
    let next = invited[1]["data"]["userId"]
        .as_str()
        .expect("next")
        .to_owned();
    assert_ne!(next, agent);
    demo.post("/invitations/accept", json!({"chatId": id, "userId": next}))
        .await
        .expect(200);
    assert_eq!(
        demo.get(&format!("/chats/{id}")).await.expect(200)["chat"]["status"],
        "active"
    );
    demo.post("/invitations/accept", json!({"chatId": id}))
        .await
        .assert_error(400);

    let (guest, _) = demo.create_user("Guest").await;
    let invited = demo
        .post("/invitations", json!({"chatId": id, "userId": guest}))
        .await
        .expect(200);
    assert_eq!(invited["success"], true);
    demo.post("/invitations", json!({"chatId": id, "userId": guest}))
        .await
        .assert_error(409);
    demo.post("/invitations", json!({"chatId": "c-404", "userId": guest}))
        .await
        .assert_error(404);
    demo.post(
        "/invitations/accept",
        json!({"chatId": id, "userId": guest}),
    )
    .await
    .expect(200);
    demo.delete(&format!("/chats/{id}"), None).await.expect(200);
    assert!(is_idle(&mock.app_state(DEMO_APP).await));
}

#[tokio::test]
async fn media_routes() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let (user, token, id, _) = active_chat(&demo).await;
    let upload = |name: &'static str,
                  mime: &'static str,
                  bytes: Vec<u8>,
                  client: AppClient,
                  sender: String| {
        let chat = id.clone();
        async move {
            let part = reqwest::multipart::Part::bytes(bytes)
                .file_name(name)
                .mime_str(mime)
                .expect("mime");
            let form = reqwest::multipart::Form::new()
                .text("chatId", chat)
                .text("senderId", sender)
                .part("media", part);
            client
                .exec(client.request(Method::POST, "/media").multipart(form))
                .await
        }
    };
    let ok = upload(
        "cat.png",
        "image/png",
        b"PNGDATA".to_vec(),
        demo.clone(),
        user.clone(),
    )
    .await;
    let media = ok.expect(201)["media"].clone();
    let media_id = media["id"].as_str().expect("id").to_owned();
    assert_eq!(media["type"], "image/png");
    assert_eq!(media["size"], 7);
    let by_token = upload(
        "doc.pdf",
        "application/pdf",
        b"%PDF".to_vec(),
        demo.with(Cred::Token(token.clone())),
        user.clone(),
    )
    .await;
    by_token.expect(201);
    let denied = upload(
        "run.exe",
        "application/x-msdownload",
        b"MZ".to_vec(),
        demo.clone(),
        user.clone(),
    )
    .await;
    denied.assert_error(403);
    assert_eq!(denied.body["error"]["message"], "File type is not allowed");
    let (stranger, stranger_token) = demo.create_user("Stranger").await;
    upload(
        "a.png",
        "image/png",
        b"x".to_vec(),
        demo.with(Cred::Token(stranger_token.clone())),
        stranger,
    )
    .await
    .assert_error(403);
    let big = upload(
        "big.png",
        "image/png",
        vec![0; 11 * 1024 * 1024],
        demo.clone(),
        user.clone(),
    )
    .await;
    big.assert_error(413);
    demo.exec(
        demo.request(Method::POST, "/media")
            .multipart(reqwest::multipart::Form::new().text("chatId", id.clone())),
    )
    .await
    .assert_error(400);

    let list = demo.get(&format!("/media?chatId={id}")).await.expect(200);
    assert_eq!(list["media"].as_array().map(Vec::len), Some(2));
    let messages = demo.get(&format!("/chats/{id}/messages")).await.expect(200);
    assert!(
        messages["messages"]
            .as_array()
            .expect("m")
            .iter()
            .any(|m| m["type"] == "media" && m["message"]["url"] == format!("/media/{media_id}"))
    );

    let download = demo.get(&format!("/media/{media_id}")).await;
    assert_eq!(download.status, 200);
    assert_eq!(download.headers["content-type"], "image/png");
    assert_eq!(download.raw.as_ref(), b"PNGDATA");
    let query_auth = demo
        .exec(mock.http.get(format!(
            "{}/media/{media_id}?appId=demo-app&secret=demo-secret",
            mock.server.base_url()
        )))
        .await;
    assert_eq!(query_auth.status, 200);
    assert_eq!(query_auth.raw.as_ref(), b"PNGDATA");
    let by_token = demo
        .with(Cred::Token(token))
        .get(&format!("/media/{media_id}"))
        .await;
    assert_eq!(by_token.status, 200);
    demo.with(Cred::Token(stranger_token))
        .get(&format!("/media/{media_id}"))
        .await
        .assert_error(403);
    demo.get("/media/md-404").await.assert_error(404);
}

#[tokio::test]
async fn queues_id_webhooks_and_surveys_routes() {
    let mock = start_mock().await;
    let queue = mock.queue_app();
    let status = queue.get("/queues/status").await.expect(200);
    let rooms = status["queues"].as_array().expect("queues");
    assert_eq!(rooms.len(), 2);
    assert_eq!(
        rooms[0],
        json!({"room": 1, "size": 0, "agentsOnline": 4, "estimatedWaitTime": 0})
    );
    let (user, _) = queue.create_user("Q").await;
    let chat = queue.create_chat(&user, 1).await;
    let id = chat["id"].as_str().expect("id");
    let update = queue.get(&format!("/queues/update/{id}")).await.expect(200);
    assert_eq!(update["chatId"], id);
    assert_eq!(update["userId"], user.as_str());
    assert!(update["data"]["queuePosition"].is_u64());
    queue.get("/queues/update/c-404").await.assert_error(404);

    let demo = mock.demo();
    let a = demo.get("/id").await.expect(200)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let b = demo.get("/id/").await.expect(200)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_ne!(a, b);

    let receiver = crate::common::receiver::Receiver::start().await;
    let hook = demo
        .post(
            "/webhooks",
            json!({"events": ["chats:close", "messages:new"], "target": receiver.url}),
        )
        .await
        .expect(201)["webhook"]
        .clone();
    let hook_id = hook["id"].as_str().expect("id").to_owned();
    assert!(hook["secret"].as_str().is_some_and(|s| s.len() >= 16));
    demo.post(
        "/webhooks",
        json!({"events": ["nope"], "target": "https://x"}),
    )
    .await
    .assert_error(400);
    demo.post(
        "/webhooks",
        json!({"events": ["chats:close"], "target": "ftp://x"}),
    )
    .await
    .assert_error(400);
    let listed = demo.get("/webhooks").await.expect(200);
    assert_eq!(listed["webhooks"][0]["id"], hook_id.as_str());
    assert!(listed["webhooks"][0].get("secret").is_none());
    assert_eq!(
        demo.get(&format!("/webhooks/{hook_id}")).await.expect(200)["webhook"]["target"],
        receiver.url
    );
    let changed = demo
        .put(
            &format!("/webhooks/{hook_id}"),
            json!({"events": ["chats:create", "users:join"]}),
        )
        .await
        .expect(200);
    // The spec declares an array: a comma-separated string is for the query only.
    demo.put(
        &format!("/webhooks/{hook_id}"),
        json!({"events": "chats:create,users:join"}),
    )
    .await
    .assert_error(400);
    assert_eq!(
        changed["webhook"]["events"],
        json!(["chats:create", "users:join"])
    );
    demo.put("/webhooks/w-404", json!({}))
        .await
        .assert_error(404);
    demo.delete(&format!("/webhooks/{hook_id}"), None)
        .await
        .expect(200);
    demo.get(&format!("/webhooks/{hook_id}"))
        .await
        .assert_error(404);
    demo.delete(&format!("/webhooks/{hook_id}"), None)
        .await
        .assert_error(404);

    let survey = demo
        .get("/surveys/5?sourceType=ticket&sourceId=T1")
        .await
        .expect(200);
    assert_eq!(
        survey["survey"]["url"],
        "http://127.0.0.1/surveys/5?sourceType=ticket&sourceId=T1"
    );
    let body_params = demo
        .send(
            Method::GET,
            "/surveys/6",
            Some(json!({"sourceType": "ticket", "sourceId": "T 2"})),
        )
        .await
        .expect(200);
    assert_eq!(
        body_params["survey"]["url"],
        "http://127.0.0.1/surveys/6?sourceType=ticket&sourceId=T%202"
    );
    demo.get("/surveys/abc").await.assert_error(404);
    demo.get("/surveys/0").await.assert_error(404);
}
