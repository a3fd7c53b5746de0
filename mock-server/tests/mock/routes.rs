//! Every route over real HTTP: auth failures and malformed input for the
//! whole operation catalogue (so a new route cannot slip through), then the
//! happy paths of apps, agents, settings and users. Chat-scoped routes are
//! in `chat_routes.rs`.

use crate::common::start_mock;
use chatload_api::AuthClass;
use chatload_mock::Operation;
use chatload_mock::testing::{Cred, DEMO_KEY, DEMO_SECRET};
use reqwest::Method;
use serde_json::json;

fn path_of(op: Operation) -> String {
    let mut out = String::new();
    let template = op.path();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map_or(rest.len(), |e| start + e + 1);
        out.push_str("nope-1");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn method_of(op: Operation) -> Method {
    Method::from_bytes(op.method().as_str().as_bytes()).expect("method")
}

/// Each operation's credential class as the spec's `x-auth` says, against
/// what its handler does: every route refuses a missing App ID and a wrong
/// secret; a `secret` route refuses the App ID alone (401), a domain key
/// and a user token (403); a `user` route refuses the App ID alone and a
/// domain key but takes a token; a `public` route takes the App ID alone.
/// A handler with a weaker or stronger extractor than the spec fails here.
#[tokio::test]
async fn every_route_enforces_the_auth_class_the_spec_gives_it() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let (_, token) = demo.create_user("auth-class").await;
    for op in Operation::ALL {
        let path = path_of(op);
        let method = method_of(op);
        let name = op.id();
        let send = |cred: Cred| {
            let (method, path) = (method.clone(), path.clone());
            let client = demo.with(cred);
            async move { client.send(method, &path, None).await }
        };
        let none = send(Cred::Nothing).await;
        assert_eq!(none.status, 401, "{name} without app id");
        none.assert_error(401);
        mock.client("no-such-app", Cred::Secret(DEMO_SECRET.into()))
            .send(method.clone(), &path, None)
            .await
            .assert_error(401);
        let wrong = send(Cred::Secret("wrong".into())).await;
        wrong.assert_error(401);
        assert!(
            !wrong.body.to_string().contains("wrong"),
            "{name} leaks the secret"
        );
        let app_only = send(Cred::AppIdOnly).await;
        let key = send(Cred::Key(DEMO_KEY.into())).await;
        let with_token = send(Cred::Token(token.clone())).await;
        let refused = |status: reqwest::StatusCode| status == 401 || status == 403;
        match op.auth() {
            AuthClass::Public => {
                assert!(
                    !refused(app_only.status),
                    "{name} is public: {}",
                    app_only.body
                );
                assert!(!refused(key.status), "{name} is public: {}", key.body);
            }
            AuthClass::User => {
                app_only.assert_error(401);
                key.assert_error(403);
                assert!(
                    with_token.status != 401 && !class_refusal(&with_token.body),
                    "{name} takes a user token: {} {}",
                    with_token.status,
                    with_token.body
                );
            }
            AuthClass::Secret => {
                app_only.assert_error(401);
                key.assert_error(403);
                with_token.assert_error(403);
                assert!(
                    class_refusal(&with_token.body),
                    "{name}: {}",
                    with_token.body
                );
            }
        }
    }
}

/// The 403 a route answers to a credential of the wrong class (not the 403
/// of a user who may not see a resource).
fn class_refusal(body: &serde_json::Value) -> bool {
    body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("requires the app secret"))
}

#[tokio::test]
async fn every_route_answers_malformed_json_with_400_envelope() {
    let mock = start_mock().await;
    let demo = mock.demo();
    for op in Operation::ALL {
        let reply = demo
            .exec(
                demo.request(method_of(op), &path_of(op))
                    .header("content-type", "application/json")
                    .body("{not json"),
            )
            .await;
        // uploadMedia rejects the JSON content type, the others its syntax.
        assert_eq!(reply.status, 400, "{}", op.id());
        reply.assert_error(400);
    }
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_json() {
    let mock = start_mock().await;
    let demo = mock.demo();
    demo.get("/nothing/here").await.assert_error(404);
    demo.send(Method::PATCH, "/chats", None)
        .await
        .assert_error(405);
    demo.exec(
        demo.request(Method::POST, "/users")
            .header("content-type", "text/plain")
            .body("name=bob"),
    )
    .await
    .assert_error(400);
}

#[tokio::test]
async fn apps_routes() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let public = demo.with(Cred::AppIdOnly);
    let v = public.get("/apps/demo-app/validate").await.expect(200);
    assert_eq!(v["valid"], true);
    assert_eq!(v["app"]["id"], "demo-app");
    assert_eq!(v["app"]["region"], "eu");
    public.get("/apps/nope/validate").await.assert_error(404);
    // A secret sees its own app (and those it creates), not its neighbours.
    let list = demo.get("/apps").await.expect(200);
    assert_eq!(list["apps"].as_array().map(Vec::len), Some(1));
    assert!(list.to_string().find("demo-secret").is_none());
    let app = demo.get("/apps/demo-app").await.expect(200);
    assert_eq!(app["app"]["id"], "demo-app");
    demo.get("/apps/nope").await.assert_error(404);
    demo.post("/apps", json!({"name": "X", "region": "mars"}))
        .await
        .assert_error(400);
    let created = demo.post("/apps", json!({"name": "New"})).await.expect(200);
    let new_id = created["app"]["id"].as_str().expect("id").to_owned();
    let new_secret = created["app"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let fresh = mock.client(&new_id, Cred::Secret(new_secret));
    assert_eq!(
        fresh.get("/settings").await.expect(200)["settings"]["queue"]["active"],
        false
    );
    demo.post("/apps", json!({})).await.assert_error(400);
    let updated = demo
        .put(&format!("/apps/{new_id}"), json!({"name": "Renamed"}))
        .await
        .expect(200);
    assert_eq!(updated["app"]["name"], "Renamed");
}

#[tokio::test]
async fn agents_routes() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let public = demo.with(Cred::AppIdOnly);
    let available = public
        .get("/agents/available?roomIds=1,2,99")
        .await
        .expect(200);
    assert_eq!(available, json!({"agents": {"1": 4, "2": 4, "99": 0}}));
    public.get("/agents/available").await.assert_error(400);
    public
        .get("/agents/available?roomIds=x")
        .await
        .assert_error(400);
    let online = public.get("/agents/online?roomId=1").await.expect(200);
    assert_eq!(online, json!({"agentsOnline": true}));
    assert_eq!(
        public
            .get("/agents/online?roomId=1&lang=fr")
            .await
            .expect(200)["agentsOnline"],
        false
    );
    public.get("/agents/online").await.assert_error(400);

    let list = demo.get("/agents?room=1").await.expect(200);
    let agents = list["agents"].as_array().expect("agents");
    assert_eq!(agents.len(), 4);
    let agent = &agents[0];
    for field in [
        "providerId",
        "nickname",
        "status",
        "rooms",
        "langs",
        "capacity",
        "activeChats",
        "freeSlots",
    ] {
        assert!(agent.get(field).is_some(), "agent lacks {field}: {agent}");
    }
    assert_eq!(agent["freeSlots"], 3);
    demo.get("/agents?status=sleepy").await.assert_error(400);
    assert_eq!(
        demo.get("/agents/a-1").await.expect(200)["agent"]["id"],
        "a-1"
    );
    demo.get("/agents/u-404").await.assert_error(404);

    let created = demo
        .post(
            "/agents",
            json!({"name": "Zoe", "rooms": [1], "capacity": 2, "langs": ["en", "fr"]}),
        )
        .await
        .expect(200);
    let zoe = created["agent"]["id"].as_str().expect("id").to_owned();
    assert_eq!(created["agent"]["capacity"], 2);
    demo.post("/agents", json!({"rooms": [1]}))
        .await
        .assert_error(400);
    demo.post("/agents", json!({"name": "X", "rooms": [42]}))
        .await
        .assert_error(404);
    let away = demo
        .put(&format!("/agents/{zoe}"), json!({"status": "away"}))
        .await
        .expect(200);
    assert_eq!(away["agent"]["status"], "away");
    demo.put("/agents/a-1", json!({"capacity": "lots"}))
        .await
        .assert_error(400);

    demo.post("/agents/logout", json!({"agentId": "a-1"}))
        .await
        .expect(200);
    assert_eq!(
        demo.get("/agents/a-1").await.expect(200)["agent"]["status"],
        "offline"
    );
    demo.post("/agents/logout", json!({}))
        .await
        .assert_error(400);
    let login = public
        .post(
            "/agents/login",
            json!({"email": "a-1@demo-app.local", "password": "agent-password"}),
        )
        .await
        .expect(200);
    assert_eq!(login["agent"]["status"], "online");
    assert!(login["session"]["token"].is_string());
    public
        .post(
            "/agents/login",
            json!({"email": "a-1@demo-app.local", "password": "bad"}),
        )
        .await
        .assert_error(401);
    public
        .post("/agents/login", json!({}))
        .await
        .assert_error(400);
}

#[tokio::test]
async fn settings_full_and_reduced_views() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let full = demo.get("/settings").await.expect(200);
    assert_eq!(full["settings"]["queue"]["active"], false);
    assert!(full["settings"]["allowedFileTypes"].is_array());
    for cred in [Cred::AppIdOnly, Cred::Key(DEMO_KEY.into())] {
        let reduced = demo.with(cred).get("/settings").await.expect(200);
        let keys: Vec<&String> = reduced["settings"]
            .as_object()
            .expect("obj")
            .keys()
            .collect();
        assert_eq!(keys, ["languages", "queue"]);
    }
    demo.with(Cred::Key("bad".into()))
        .get("/settings")
        .await
        .assert_error(401);
    let queue = mock.queue_app().get("/settings").await.expect(200);
    assert_eq!(queue["settings"]["queue"]["active"], true);
    let updated = demo
        .put(
            "/settings",
            json!({"queue": {"active": true}, "assignAlgorithm": "random"}),
        )
        .await
        .expect(200);
    assert_eq!(updated["settings"]["queue"]["active"], true);
    assert_eq!(updated["settings"]["assignAlgorithm"], "random");
    demo.put("/settings", json!({"queue": {"active": "yes"}}))
        .await
        .assert_error(400);
    demo.put("/settings", json!({"assignAlgorithm": "coin"}))
        .await
        .assert_error(400);
    demo.with(Cred::Key(DEMO_KEY.into()))
        .put("/settings", json!({}))
        .await
        .assert_error(403);
}

#[tokio::test]
async fn users_routes() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let public = demo.with(Cred::AppIdOnly);
    let created = public
        .post(
            "/users",
            json!({"name": "Bob", "externalId": "ext-1", "contact": "bob@example.com",
                               "extraInfo": {"plan": "gold"}}),
        )
        .await
        .expect(201);
    let user = &created["user"];
    let id = user["id"].as_str().expect("id").to_owned();
    let token = created["session"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(user["chats"], json!([]));
    assert!(user["createdAt"].is_u64());
    assert!(user.get("providerId").is_none());
    let dup = public
        .post("/users", json!({"name": "Bob", "externalId": "ext-1"}))
        .await;
    dup.assert_error(409);
    assert_eq!(dup.body["error"]["message"], "User already exists");
    public
        .post("/users", json!({"name": ""}))
        .await
        .assert_error(400);
    public
        .post("/users", json!({"name": 5}))
        .await
        .assert_error(400);

    let found = demo.get("/users?externalId=ext-1").await.expect(200);
    assert_eq!(found["users"][0]["id"], id.as_str());
    assert_eq!(
        demo.get("/users?externalId=none").await.expect(200),
        json!({"users": []})
    );
    demo.get("/users?limit=x").await.assert_error(400);

    assert_eq!(
        demo.get(&format!("/users/{id}")).await.expect(200)["user"]["name"],
        "Bob"
    );
    let own = demo
        .with(Cred::Token(token.clone()))
        .get(&format!("/users/{id}"))
        .await;
    assert_eq!(own.expect(200)["user"]["id"], id.as_str());
    let (other, _) = demo.create_user("Eve").await;
    demo.with(Cred::Token(token.clone()))
        .get(&format!("/users/{other}"))
        .await
        .assert_error(403);
    demo.with(Cred::Token("forged".into()))
        .get(&format!("/users/{id}"))
        .await
        .assert_error(401);
    demo.get("/users/u-999").await.assert_error(404);

    let updated = demo
        .put(
            &format!("/users/{id}"),
            json!({"name": "Robert", "externalId": "ext-1"}),
        )
        .await
        .expect(200);
    assert_eq!(updated["user"]["name"], "Robert");
    demo.post("/users", json!({"name": "C", "externalId": "ext-2"}))
        .await
        .expect(201);
    demo.put(&format!("/users/{id}"), json!({"externalId": "ext-2"}))
        .await
        .assert_error(409);

    let chat = demo.create_chat(&id, 1).await;
    let chat_id = chat["id"].as_str().expect("chat id");
    let activity = format!("/users/{id}/activity");
    demo.post(&activity, json!({"chatId": chat_id, "type": "writing"}))
        .await
        .expect(200);
    demo.post(&activity, json!({"chatId": chat_id, "type": "dancing"}))
        .await
        .assert_error(400);
    demo.post(&activity, json!({"type": "writing"}))
        .await
        .assert_error(400);
    demo.post(&activity, json!({"chatId": "c-404", "type": "writing"}))
        .await
        .assert_error(404);
    demo.post(
        "/users/u-999/activity",
        json!({"chatId": chat_id, "type": "writing"}),
    )
    .await
    .assert_error(404);
    let events = mock.admin_get("/events?trigger=users:activity").await;
    assert_eq!(events["events"][0]["data"]["type"], "writing");
}

/// Field names the routes read, each given wrong-typed and edge values.
const FIELDS: &[&str] = &[
    "name",
    "externalId",
    "contact",
    "extraInfo",
    "creator",
    "room",
    "roomId",
    "roomIds",
    "source",
    "lang",
    "langs",
    "history",
    "chatId",
    "userId",
    "sender",
    "message",
    "type",
    "status",
    "rooms",
    "capacity",
    "events",
    "target",
    "email",
    "password",
    "agentId",
    "queue",
    "assignAlgorithm",
    "languages",
    "allowedFileTypes",
    "limit",
    "offset",
    "format",
    "algorithm",
    "sourceType",
    "sourceId",
    "nickname",
    "region",
    "id",
    "queueMode",
    "inactivityTimeout",
];

#[tokio::test]
async fn odd_bodies_never_produce_a_server_error() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let (user, token) = demo.create_user("fuzz").await;
    let chat = demo.create_chat(&user, 1).await;
    let chat_id = chat["id"].as_str().expect("id").to_owned();
    let odd_values = [
        json!(null),
        json!(-1),
        json!(1.5),
        json!(u64::MAX),
        json!("1"),
        json!(""),
        json!("\u{0}\u{ffff}%%"),
        json!([]),
        json!([[1], {"a": 1}]),
        json!({"active": "x"}),
        json!(true),
    ];
    let mut bodies = vec![json!(null), json!([]), json!("text"), json!(7)];
    for value in &odd_values {
        let body: serde_json::Map<String, serde_json::Value> = FIELDS
            .iter()
            .map(|f| ((*f).to_owned(), value.clone()))
            .collect();
        bodies.push(serde_json::Value::Object(body));
    }
    let clients = [demo.clone(), demo.with(Cred::Token(token))];
    for op in Operation::ALL {
        let path = path_of(op).replace("nope-1", &chat_id);
        for client in &clients {
            for body in &bodies {
                let reply = client.send(method_of(op), &path, Some(body.clone())).await;
                assert!(
                    reply.status.as_u16() < 500,
                    "{} {body} → {}: {}",
                    op.id(),
                    reply.status,
                    reply.body
                );
            }
            let query = format!("{path}?limit=-1&offset=x&roomIds=1,,x&userId=%FF&format=csv");
            let reply = client.send(method_of(op), &query, None).await;
            assert!(
                reply.status.as_u16() < 500,
                "{} query → {}",
                op.id(),
                reply.status
            );
        }
    }
}

/// Each message names what was wrong: a `u32` past its range is told the
/// range, a credential header that is not ASCII text is told so (not
/// "missing"), and a multipart text field that is not UTF-8 is told so (not
/// "required"). See: audit 2 of the mock, finding 8.
#[tokio::test]
async fn bad_values_are_told_what_is_wrong_with_them() {
    use reqwest::header::HeaderValue;
    let mock = start_mock().await;
    let demo = mock.demo();
    let message = |reply: &chatload_mock::testing::Reply| {
        reply.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    for path in [
        "/users?offset=4294967296",
        "/users?limit=10&offset=99999999999",
    ] {
        let reply = demo.get(path).await;
        reply.assert_error(400);
        assert!(
            message(&reply).contains("0..=4294967295"),
            "{path}: {reply:?}"
        );
    }
    let bare = mock.client("demo-app", Cred::Nothing);
    let not_ascii = HeaderValue::from_bytes(b"demo-\xffapp").expect("obs-text value");
    for (header, others) in [
        ("x-hyper-appId", vec![]),
        ("x-hyper-secret", vec![("x-hyper-appId", "demo-app")]),
        ("x-hyper-token", vec![("x-hyper-appId", "demo-app")]),
        ("x-hyper-key", vec![("x-hyper-appId", "demo-app")]),
    ] {
        let mut req = bare
            .request(Method::GET, "/settings")
            .header(header, not_ascii.clone());
        for (name, value) in others {
            req = req.header(name, value);
        }
        let reply = bare.exec(req).await;
        reply.assert_error(401);
        assert_eq!(
            message(&reply),
            format!("{header} is not valid ASCII text"),
            "{header}"
        );
    }
    let (user, _) = demo.create_user("uploader").await;
    let chat = demo.create_chat(&user, 1).await;
    let chat_id = chat["id"].as_str().expect("chat id").to_owned();
    for field in ["chatId", "senderId"] {
        let value = |name: &str, good: &str| {
            if name == field {
                reqwest::multipart::Part::bytes(&b"\xff\xfe"[..])
            } else {
                reqwest::multipart::Part::text(good.to_owned())
            }
        };
        let form = reqwest::multipart::Form::new()
            .part("chatId", value("chatId", &chat_id))
            .part("senderId", value("senderId", &user))
            .part(
                "media",
                reqwest::multipart::Part::bytes(&b"x"[..]).file_name("a.png"),
            );
        let reply = demo
            .exec(demo.request(Method::POST, "/media").multipart(form))
            .await;
        reply.assert_error(400);
        assert_eq!(
            message(&reply),
            format!("`{field}` is not valid UTF-8"),
            "{field}"
        );
    }
}

/// A browser client (Inbenta's JS SDK) pointed at the mock: the pre-flight
/// is answered 204 with the methods and the credential headers allowed, and
/// the real request, its errors included (a 401), carry
/// `Access-Control-Allow-Origin`; a request without `Origin` gets no CORS
/// header. See: audit 2 of the mock, finding 12 (pre-flights got 405).
#[tokio::test]
async fn browser_clients_get_cors_preflights_and_allow_origin() {
    let mock = start_mock().await;
    let public = mock.client("demo-app", Cred::AppIdOnly);
    let origin = "https://shop.example";
    let preflight = public
        .exec(
            public
                .request(Method::OPTIONS, "/settings")
                .header("origin", origin)
                .header("access-control-request-method", "GET")
                .header(
                    "access-control-request-headers",
                    "x-hyper-appid, x-hyper-token",
                ),
        )
        .await;
    assert_eq!(preflight.status, 204, "{:?}", preflight.body);
    let h = |reply: &chatload_mock::testing::Reply, name: &str| {
        reply
            .headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII").to_owned())
    };
    assert_eq!(
        h(&preflight, "access-control-allow-origin").as_deref(),
        Some(origin)
    );
    let methods = h(&preflight, "access-control-allow-methods").expect("methods");
    assert!(
        ["GET", "POST", "PUT", "DELETE"]
            .iter()
            .all(|m| methods.contains(m)),
        "{methods}"
    );
    let allowed = h(&preflight, "access-control-allow-headers").expect("headers");
    for name in [
        "x-hyper-appid",
        "x-hyper-secret",
        "x-hyper-token",
        "x-hyper-key",
        "content-type",
        "authorization",
    ] {
        assert!(allowed.contains(name), "{name}: {allowed}");
    }
    let real = public
        .exec(
            public
                .request(Method::GET, "/settings")
                .header("origin", origin),
        )
        .await;
    assert_eq!(real.status, 200);
    assert_eq!(
        h(&real, "access-control-allow-origin").as_deref(),
        Some(origin)
    );
    assert_eq!(h(&real, "vary").as_deref(), Some("origin"));
    let nobody = mock.client("demo-app", Cred::Nothing);
    let refused = nobody
        .exec(
            nobody
                .request(Method::GET, "/webhooks")
                .header("origin", origin),
        )
        .await;
    refused.assert_error(401);
    assert_eq!(
        h(&refused, "access-control-allow-origin").as_deref(),
        Some(origin)
    );
    let plain = public.get("/settings").await;
    assert_eq!(plain.status, 200);
    assert!(h(&plain, "access-control-allow-origin").is_none());
    // An OPTIONS that is not a pre-flight is still a wrong method.
    let options = public
        .exec(public.request(Method::OPTIONS, "/settings"))
        .await;
    options.assert_error(405);
}
