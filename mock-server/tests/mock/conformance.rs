//! Conformance with the OpenAPI document: the checker itself (it must
//! reject what the spec forbids), and a scripted tour that calls every
//! operation of the spec over HTTP, a success and at least one failure
//! each, through the spec-checking client. `every_spec_operation_is_exercised`
//! fails, listing them, when an operation of the spec got no response.

use crate::common::spec::{SpecValidator, exercised};
use crate::common::{start_mock, start_mock_with};
use chatload_mock::testing::{AppClient, Cred, DEMO_KEY};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;

#[test]
fn spec_has_fifty_operations_and_maps_paths_to_them() {
    let spec = SpecValidator::get();
    assert_eq!(spec.operation_ids().len(), 50);
    for (method, path, op) in [
        ("GET", "/chats/c-1", "getChat"),
        ("GET", "/chats/c-1/", "getChat"),
        ("DELETE", "/chats/c-1", "closeChat"),
        ("GET", "/chats/c-1/assign?algorithm=x", "assignChat"),
        ("POST", "/invitations/accept", "acceptInvitation"),
        ("POST", "/invitations", "createInvitation"),
        ("GET", "/agents/available", "getAgentsAvailable"),
        ("GET", "/agents/a-1", "getAgent"),
        ("GET", "/queues/update/c-1", "getQueueUpdate"),
        ("get", "/id/", "getId"),
    ] {
        assert_eq!(
            spec.operation_for(method, path),
            Some(op),
            "{method} {path}"
        );
    }
    assert_eq!(spec.operation_for("PATCH", "/chats"), None);
    // A literal route owns its path for every method.
    assert_eq!(spec.operation_for("GET", "/agents/login"), None);
    assert_eq!(spec.operation_for("GET", "/chats//assign"), None);
    assert_eq!(spec.operation_for("GET", "/nothing/here"), None);
    assert_eq!(spec.operation_for("GET", "/chats/c-1/assign/x"), None);
}

#[test]
fn spec_checker_rejects_undeclared_statuses_and_wrong_bodies() {
    let spec = SpecValidator::get();
    // 500 is declared nowhere; 409 only where a conflict can happen.
    assert!(spec.validate_response("getId", 500, None, b"").is_err());
    assert!(spec.validate_response("getId", 409, None, b"").is_err());
    assert!(
        spec.validate_response(
            "createApp",
            409,
            Some("application/json"),
            br#"{"error":{"code":409,"message":"App id taken"}}"#
        )
        .is_ok()
    );
    // The error envelope pins code to the status.
    let wrong_code = json!({"error": {"code": 400, "message": "x"}});
    assert!(spec.validate("getChat", 404, &wrong_code).is_err());
    assert!(
        spec.validate(
            "getChat",
            404,
            &json!({"error": {"code": 404, "message": "x"}})
        )
        .is_ok()
    );
    // Refs into components resolve: a chat with a numeric id is rejected.
    assert!(
        spec.validate("getChat", 200, &json!({"chat": {"id": 0}}))
            .is_err()
    );
    assert!(spec.validate("getId", 200, &json!({"id": 7})).is_err());
    // Non-JSON bodies: only declared media types pass.
    assert!(
        spec.validate_response("getChatHistory", 200, Some("text/csv"), b"a,b")
            .is_ok()
    );
    assert!(
        spec.validate_response("getChat", 200, Some("text/html"), b"<p>")
            .is_err()
    );
    assert!(
        spec.validate_response("getChat", 200, Some("application/json"), b"{")
            .is_err()
    );
}

fn id_of(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {value}"))
        .to_owned()
}

/// Calls every operation at least once with success and once with a
/// failure; every response is checked against the spec by the client.
async fn tour() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let public = demo.with(Cred::AppIdOnly);
    let keyed = demo.with(Cred::Key(DEMO_KEY.into()));

    // Apps.
    public.get("/apps/demo-app/validate").await.expect(200);
    public.get("/apps/nope/validate").await.assert_error(404);
    demo.get("/apps").await.expect(200);
    keyed.get("/apps").await.assert_error(403);
    let app = demo
        .post("/apps", json!({"name": "Tour"}))
        .await
        .expect(200);
    let app_id = id_of(&app, "/app/id");
    demo.post("/apps", json!({})).await.assert_error(400);
    demo.post("/apps", json!({"id": app_id, "name": "Again"}))
        .await
        .assert_error(409);
    demo.get(&format!("/apps/{app_id}")).await.expect(200);
    demo.get("/apps/nope").await.assert_error(404);
    demo.put(&format!("/apps/{app_id}"), json!({"name": "Renamed"}))
        .await
        .expect(200);
    demo.put("/apps/nope", json!({"name": "x"}))
        .await
        .assert_error(404);

    // Agents.
    public
        .get("/agents/available?roomIds=1,2")
        .await
        .expect(200);
    public.get("/agents/available").await.assert_error(400);
    public.get("/agents/online?roomId=1").await.expect(200);
    public.get("/agents/online").await.assert_error(400);
    demo.get("/agents?room=1").await.expect(200);
    demo.get("/agents?status=sleepy").await.assert_error(400);
    demo.get("/agents/a-1").await.expect(200);
    demo.get("/agents/a-404").await.assert_error(404);
    let zoe = demo
        .post(
            "/agents",
            json!({"name": "Zoe", "rooms": [2], "capacity": 1}),
        )
        .await
        .expect(200);
    let zoe = id_of(&zoe, "/agent/id");
    demo.post("/agents", json!({"rooms": [1]}))
        .await
        .assert_error(400);
    demo.put(&format!("/agents/{zoe}"), json!({"status": "away"}))
        .await
        .expect(200);
    demo.put("/agents/a-1", json!({"capacity": "lots"}))
        .await
        .assert_error(400);
    demo.post("/agents/logout", json!({"agentId": "a-4"}))
        .await
        .expect(200);
    demo.post("/agents/logout", json!({}))
        .await
        .assert_error(400);
    public
        .post("/agents/login", json!({"agentId": "a-4"}))
        .await
        .expect(200);
    public
        .post(
            "/agents/login",
            json!({"email": "a-4@demo-app.local", "password": "bad"}),
        )
        .await
        .assert_error(401);

    // Settings.
    demo.get("/settings").await.expect(200);
    keyed.get("/settings").await.expect(200);
    demo.with(Cred::Key("bad".into()))
        .get("/settings")
        .await
        .assert_error(401);
    demo.put("/settings", json!({"assignAlgorithm": "most-free-slots"}))
        .await
        .expect(200);
    demo.put("/settings", json!({"assignAlgorithm": "coin"}))
        .await
        .assert_error(400);

    // Users.
    let created = public
        .post("/users", json!({"name": "Ann", "externalId": "tour-1"}))
        .await
        .expect(201);
    let user = id_of(&created, "/user/id");
    let token = id_of(&created, "/session/token");
    public
        .post("/users", json!({"name": ""}))
        .await
        .assert_error(400);
    demo.get("/users?externalId=tour-1").await.expect(200);
    demo.get("/users?limit=x").await.assert_error(400);
    demo.with(Cred::Token(token.clone()))
        .get(&format!("/users/{user}"))
        .await
        .expect(200);
    demo.get("/users/u-404").await.assert_error(404);
    demo.put(&format!("/users/{user}"), json!({"name": "Annie"}))
        .await
        .expect(200);
    demo.put("/users/u-404", json!({"name": "x"}))
        .await
        .assert_error(404);

    // Chats.
    let chat = demo.create_chat(&user, 1).await;
    let chat_id = id_of(&chat, "/id");
    demo.post("/chats", json!({"creator": user, "room": 1}))
        .await
        .assert_error(409);
    let activity = format!("/users/{user}/activity");
    demo.post(&activity, json!({"chatId": chat_id, "type": "writing"}))
        .await
        .expect(200);
    demo.post(&activity, json!({"chatId": chat_id, "type": "dancing"}))
        .await
        .assert_error(400);
    demo.get("/chats?status=waiting").await.expect(200);
    demo.get("/chats?status=bogus").await.assert_error(400);
    demo.get(&format!("/chats/{chat_id}")).await.expect(200);
    demo.get("/chats/c-404").await.assert_error(404);
    demo.put(&format!("/chats/{chat_id}"), json!({"externalId": "crm-1"}))
        .await
        .expect(200);
    demo.put("/chats/c-404", json!({"externalId": "x"}))
        .await
        .assert_error(404);
    demo.get(&format!("/chats/{chat_id}/assign?algorithm=coin"))
        .await
        .assert_error(400);
    demo.get(&format!("/chats/{chat_id}/assign"))
        .await
        .expect(200);
    let active = demo.wait_chat_status(&chat_id, "active").await;
    let agent = id_of(&active, "/agent");

    // Messages and history.
    let messages = format!("/chats/{chat_id}/messages");
    let sent = demo
        .post(&messages, json!({"sender": user, "message": "hello"}))
        .await
        .expect(201);
    let message_id = id_of(&sent, "/message/id");
    demo.post(&messages, json!({"sender": user}))
        .await
        .assert_error(400);
    demo.with(Cred::Token(token.clone()))
        .get(&messages)
        .await
        .expect(200);
    demo.get("/chats/c-404/messages").await.assert_error(404);
    demo.put(
        &format!("/messages/{message_id}/read"),
        json!({"userId": agent}),
    )
    .await
    .expect(200);
    demo.put("/messages/m-404/read", json!({"userId": agent}))
        .await
        .assert_error(404);
    let history = format!("/chats/{chat_id}/history");
    demo.post(
        &history,
        json!({"history": [{"sender": "assistant", "message": "hi", "created": 1}]}),
    )
    .await
    .expect(200);
    demo.post(&history, json!({"history": [{"message": 1}]}))
        .await
        .assert_error(400);
    demo.get(&history).await.expect(200);
    let csv = demo.get(&format!("{history}?format=csv")).await;
    assert_eq!(csv.status, 200);
    assert!(csv.raw.starts_with(b"created,sender,type,message"));
    demo.get("/chats/c-404/history").await.assert_error(404);

    // Participants.
    demo.get(&format!("/chats/{chat_id}/users"))
        .await
        .expect(200);
    demo.get("/chats/c-404/users").await.assert_error(404);
    let (guest, _) = demo.create_user("Guest").await;
    demo.post(&format!("/chats/{chat_id}/join"), json!({"userId": guest}))
        .await
        .expect(200);
    demo.post(&format!("/chats/{chat_id}/join"), json!({}))
        .await
        .assert_error(400);
    demo.put(&format!("/chats/{chat_id}/leave"), json!({"userId": guest}))
        .await
        .expect(200);
    demo.put(&format!("/chats/{chat_id}/leave"), json!({"userId": guest}))
        .await
        .assert_error(403);
    demo.post(&format!("/chats/{chat_id}/toinbox"), json!({}))
        .await
        .expect(200);
    demo.post("/chats/c-404/toinbox", json!({}))
        .await
        .assert_error(404);
    demo.wait_chat_status(&chat_id, "active").await;

    // Invitations of users (accept) and of agents (reject, below).
    let (guest2, _) = demo.create_user("Guest 2").await;
    demo.post("/invitations", json!({"chatId": chat_id, "userId": guest2}))
        .await
        .expect(200);
    demo.post("/invitations", json!({"chatId": "c-404", "userId": guest2}))
        .await
        .assert_error(404);
    demo.post(
        "/invitations/accept",
        json!({"chatId": chat_id, "userId": guest2}),
    )
    .await
    .expect(200);
    demo.post("/invitations/accept", json!({"chatId": chat_id}))
        .await
        .assert_error(400);

    // Media.
    let upload = |client: &AppClient, name: &'static str, mime: &'static str| {
        let form = crate::common::media_form(&chat_id, &user, name, mime, b"DATA");
        client.request(Method::POST, "/media").multipart(form)
    };
    let media = demo
        .exec(upload(
            &demo.with(Cred::Token(token.clone())),
            "a.png",
            "image/png",
        ))
        .await
        .expect(201);
    let media_id = id_of(&media, "/media/id");
    demo.exec(upload(&demo, "run.exe", "application/x-msdownload"))
        .await
        .assert_error(403);
    demo.get(&format!("/media?chatId={chat_id}"))
        .await
        .expect(200);
    keyed
        .get(&format!("/media?chatId={chat_id}"))
        .await
        .assert_error(403);
    let file = demo.get(&format!("/media/{media_id}")).await;
    assert_eq!(file.status, 200);
    assert_eq!(file.raw.as_ref(), b"DATA");
    demo.get("/media/md-404").await.assert_error(404);

    // Close, then the conflicts a closed chat gives.
    demo.delete(&format!("/chats/{chat_id}"), Some(json!({"userId": user})))
        .await
        .expect(200);
    demo.delete(&format!("/chats/{chat_id}"), None)
        .await
        .assert_error(409);
    demo.exec(upload(&demo, "b.png", "image/png"))
        .await
        .assert_error(409);
    demo.post("/invitations", json!({"chatId": chat_id, "userId": guest}))
        .await
        .assert_error(409);

    // Queues.
    let queue = mock.queue_app();
    queue.get("/queues/status").await.expect(200);
    queue
        .with(Cred::Key("demo-queue-domain-key".into()))
        .get("/queues/status")
        .await
        .assert_error(403);
    let (queued_user, _) = queue.create_user("Q").await;
    let queued = queue.create_chat(&queued_user, 1).await;
    let queued_id = id_of(&queued, "/id");
    queue
        .get(&format!("/queues/update/{queued_id}"))
        .await
        .expect(200);
    queue.get("/queues/update/c-404").await.assert_error(404);

    // Ids, webhooks, surveys.
    demo.get("/id").await.expect(200);
    keyed.get("/id").await.assert_error(403);
    let receiver = crate::common::receiver::Receiver::start().await;
    let hook = demo
        .post(
            "/webhooks",
            json!({"events": ["chats:close"], "target": receiver.url}),
        )
        .await
        .expect(201);
    let hook_id = id_of(&hook, "/webhook/id");
    demo.post(
        "/webhooks",
        json!({"events": ["nope"], "target": "https://x"}),
    )
    .await
    .assert_error(400);
    demo.get("/webhooks").await.expect(200);
    keyed.get("/webhooks").await.assert_error(403);
    demo.get(&format!("/webhooks/{hook_id}")).await.expect(200);
    demo.get("/webhooks/w-404").await.assert_error(404);
    demo.put(
        &format!("/webhooks/{hook_id}"),
        json!({"events": ["chats:create"]}),
    )
    .await
    .expect(200);
    demo.put("/webhooks/w-404", json!({}))
        .await
        .assert_error(404);
    demo.delete(&format!("/webhooks/{hook_id}"), None)
        .await
        .expect(200);
    demo.delete(&format!("/webhooks/{hook_id}"), None)
        .await
        .assert_error(404);
    demo.get("/surveys/5?sourceType=ticket&sourceId=T1")
        .await
        .expect(200);
    demo.get("/surveys/abc").await.assert_error(404);

    // Rejecting needs an invitation nobody answers: external agents.
    let mut config = chatload_mock::MockConfig::default();
    config.simulation.simulate = false;
    let manual = start_mock_with(config).await;
    let manual_demo = manual.demo();
    let (u, _) = manual_demo.create_user("R").await;
    let c = id_of(&manual_demo.create_chat(&u, 1).await, "/id");
    let invited = manual_demo
        .get(&format!("/chats/{c}/assign"))
        .await
        .expect(200);
    let invited_agent = id_of(&invited, "/agent/id");
    manual_demo
        .post(
            "/invitations/reject",
            json!({"chatId": c, "userId": invited_agent}),
        )
        .await
        .expect(200);
    manual_demo
        .post("/invitations/reject", json!({"chatId": c}))
        .await
        .assert_error(400);
}

#[tokio::test]
async fn every_spec_operation_is_exercised() {
    tour().await;
    let spec = SpecValidator::get();
    let seen = exercised();
    let all = spec.operation_ids();
    let missing: Vec<&String> = all.iter().filter(|op| !seen.contains_key(*op)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} spec operations were exercised by no test: {missing:?}",
        missing.len(),
        all.len()
    );
    let unknown: BTreeSet<&String> = seen.keys().filter(|op| !all.contains(*op)).collect();
    assert!(
        unknown.is_empty(),
        "recorded operations not in the spec: {unknown:?}"
    );
    // The success each operation answered is the one its spec declares
    // (the generated vocabulary's `success_status`), and the only 2xx.
    let wrong_success: Vec<String> = seen
        .iter()
        .filter_map(|(op, statuses)| {
            let want = chatload_api::Operation::from_id(op)?.success_status();
            statuses
                .iter()
                .any(|s| (200..300).contains(s) && *s != want)
                .then(|| format!("{op} {statuses:?}, spec: {want}"))
        })
        .collect();
    assert!(
        wrong_success.is_empty(),
        "operations answering another success than the spec's: {wrong_success:?}"
    );
    let lacking: Vec<String> = seen
        .iter()
        .filter(|(op, statuses)| {
            let success = chatload_api::Operation::from_id(op).map(|o| o.success_status());
            !success.is_some_and(|s| statuses.contains(&s))
                || !statuses.iter().any(|s| (400..500).contains(s))
        })
        .map(|(op, statuses)| format!("{op} {statuses:?}"))
        .collect();
    assert!(
        lacking.is_empty(),
        "operations without both a success and a client error: {lacking:?}"
    );
}
