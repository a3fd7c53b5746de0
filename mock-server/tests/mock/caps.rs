//! Bounded memory: end users and stored media are evicted by their caps per
//! app (`max_users`, `max_media`, `max_stored_media_bytes`); a request for
//! an evicted object answers 404 JSON, and `/__mock/state` counts them.

use crate::common::{media_form, start_mock_with};
use chatload_mock::MockConfig;
use chatload_mock::testing::{AppClient, DEMO_APP};
use reqwest::Method;

async fn upload(demo: &AppClient, chat: &str, sender: &str) -> String {
    let form = media_form(chat, sender, "f.png", "image/png", b"PNGDATA");
    let reply = demo
        .exec(demo.request(Method::POST, "/media").multipart(form))
        .await;
    reply.expect(201)["media"]["id"]
        .as_str()
        .expect("media id")
        .to_owned()
}

async fn chat_of(demo: &AppClient, user: &str) -> String {
    demo.create_chat(user, 1).await["id"]
        .as_str()
        .expect("chat id")
        .to_owned()
}

// See: issue 13 point 1 — the mock never removed a user, and kept a closed
// chat's uploads until the chat itself was evicted.
#[tokio::test]
async fn users_and_media_beyond_their_caps_are_evicted_and_answer_404() {
    let mock = start_mock_with(MockConfig {
        max_users: 2,
        max_media: 2,
        ..MockConfig::default()
    })
    .await;
    let demo = mock.demo();
    let (stays, _) = demo.create_user("Stays").await;
    let (leaves, _) = demo.create_user("Leaves").await;
    let open = chat_of(&demo, &stays).await;
    let closing = chat_of(&demo, &leaves).await;
    let oldest = upload(&demo, &open, &stays).await;
    let of_closed = upload(&demo, &closing, &leaves).await;
    demo.delete(&format!("/chats/{closing}"), None)
        .await
        .expect(200);
    // A third file: the closed chat's goes first, although it is newer.
    let newest = upload(&demo, &open, &stays).await;
    demo.get(&format!("/media/{of_closed}"))
        .await
        .assert_error(404);
    for kept in [&oldest, &newest] {
        demo.get(&format!("/media/{kept}")).await.expect(200);
    }
    // A third user: the oldest user with no open chat goes, not `stays`.
    demo.create_user("Third").await;
    demo.get(&format!("/users/{leaves}"))
        .await
        .assert_error(404);
    demo.get(&format!("/users/{stays}")).await.expect(200);
    let state = mock.app_state(DEMO_APP).await;
    assert_eq!(state["users"], 2, "{state}");
    assert_eq!(state["media"], 2, "{state}");
    assert_eq!(state["evicted"]["users"], 1, "{state}");
    assert_eq!(state["evicted"]["media"], 1, "{state}");
}

#[tokio::test]
async fn a_stored_media_byte_cap_below_one_upload_is_refused_at_start() {
    let yaml = "max_media_bytes: 1000\nmax_stored_media_bytes: 999\n";
    let err = MockConfig::from_yaml_str(yaml, "caps.yaml").expect_err("refused");
    assert!(err.to_string().contains("max_stored_media_bytes"), "{err}");
}
