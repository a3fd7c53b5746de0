//! The spec and the mock agree on request validation (issue 13, point 5):
//! the cases the Schemathesis probe found, each answered the way the spec
//! says (bounds rejected, not clamped; integral floats are integers; `null`
//! is not a value; a required body is required).

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::start_mock;

#[tokio::test]
async fn limit_outside_the_spec_bounds_is_rejected_not_clamped() {
    let mock = start_mock().await;
    let demo = mock.demo();
    demo.get("/users?limit=501").await.assert_error(400);
    demo.get("/users?limit=0").await.assert_error(400);
    demo.get("/users?limit=500").await.expect(200);
    // The spec's offset maximum (2^32-1) is accepted (an empty page).
    let page = demo.get("/users?offset=4294967295").await.expect(200);
    assert_eq!(page["users"], json!([]));
}

#[tokio::test]
async fn an_integral_float_is_an_integer_and_null_is_rejected() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let (user, _) = demo.create_user("floaty").await;
    demo.post("/chats", json!({"creator": user, "room": 1.0}))
        .await
        .expect(201);
    demo.post("/users", json!({"name": null}))
        .await
        .assert_error(400);
    demo.put(&format!("/users/{user}"), json!({"externalId": null}))
        .await
        .assert_error(400);
}

#[tokio::test]
async fn a_put_without_its_required_body_is_a_400_after_auth() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let (user, _) = demo.create_user("bodiless").await;
    let reply = demo
        .send(Method::PUT, &format!("/users/{user}"), None)
        .await;
    reply.assert_error(400);
    let message = reply.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("body is required"), "{message}");
    demo.send(Method::PUT, "/settings", None)
        .await
        .assert_error(400);
    // An empty object is a body: nothing to change, 200.
    demo.put(&format!("/users/{user}"), json!({}))
        .await
        .expect(200);
    // Auth is still checked first.
    demo.with(chatload_mock::testing::Cred::Nothing)
        .send(Method::PUT, "/settings", None)
        .await
        .assert_error(401);
}

#[tokio::test]
async fn imported_history_is_checked_so_its_echo_keeps_the_schema() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let (user, _) = demo.create_user("historian").await;
    let chat = demo.create_chat(&user, 1).await;
    let path = format!("/chats/{}/history", chat["id"].as_str().expect("id"));
    let entry = |kind: &str| json!({"sender": user, "message": "hi", "created": 1, "type": kind});
    demo.post(&path, json!({"history": [entry("AAA")]}))
        .await
        .assert_error(400);
    demo.post(
        &path,
        json!({"history": [{"sender": user, "message": "hi"}]}),
    )
    .await
    .assert_error(400);
    // A media entry (as the export writes one) round-trips; the checked
    // client validates the echoed history against the spec.
    let media = json!({"sender": user, "created": 2, "type": "media",
                       "message": {"url": "/media/md-1", "type": "image/png"}});
    demo.post(&path, json!({"history": [entry("text"), media]}))
        .await
        .expect(200);
    // Found by `chatload conform --cases 50 --seed 7`: `created` (and a
    // MediaRef's `size`) of 2^63, above the spec's maximum of 2^63-1, was
    // stored, and the import's echo then broke its own response schema.
    let at = |created: Value| json!({"sender": user, "message": "hi", "created": created});
    let far = json!({"history": [at(json!(1_u64 << 63))]});
    demo.post(&path, far).await.assert_error(400);
    let big = json!({"url": "/media/md-1", "type": "image/png", "size": 1_u64 << 63});
    let sized = json!({"sender": user, "message": big, "created": 1, "type": "media"});
    demo.post(&path, json!({"history": [sized]}))
        .await
        .assert_error(400);
    demo.post(&path, json!({"history": [at(json!(i64::MAX))]}))
        .await
        .expect(200);
}

/// Found by Schemathesis (ST201): `langs=` (an empty comma list) was taken
/// as "no language filter" although the spec's `langs` has `minLength: 1`.
#[tokio::test]
async fn an_empty_comma_list_in_the_query_is_rejected() {
    let mock = start_mock().await;
    let demo = mock.demo();
    demo.get("/agents/available?roomIds=1&langs=")
        .await
        .assert_error(400);
    demo.get("/agents/available?roomIds=1&langs=en")
        .await
        .expect(200);
}

/// A JSON body needs its content type (reference §3.1: request bodies are
/// `Content-Type: application/json`): without one it is a 400, like a wrong
/// one, and nothing is created. The spec declares no 415, so 400.
#[tokio::test]
async fn a_json_body_without_a_content_type_is_a_400_and_changes_nothing() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let reply = demo
        .exec(
            demo.request(Method::POST, "/users")
                .body(r#"{"name":"bob","externalId":"no-content-type"}"#),
        )
        .await;
    reply.assert_error(400);
    let message = reply.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Content-Type"), "{message}");
    let found = demo
        .get("/users?externalId=no-content-type")
        .await
        .expect(200);
    assert_eq!(found["users"], json!([]));
}
