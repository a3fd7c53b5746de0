//! The conformance tour (a deliberate catalogue, hence its length): every operation in an order that makes each call
//! meaningful, plus the negative cases (no credentials, a domain key on a
//! secret-only route, unknown ids, invalid bodies, a message to a closed
//! chat, a second open chat for one user).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use super::{Call, Checker, ConformReport, Creds};

fn s(v: Option<&Value>, pointer: &str) -> Option<String> {
    v.and_then(|b| b.pointer(pointer))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn call<'a>(
    name: &'a str,
    op: &'static str,
    method: Method,
    path: String,
    expect: &'a [u16],
) -> Call<'a> {
    Call {
        name,
        op,
        method,
        path,
        query: Vec::new(),
        body: None,
        creds: Creds::Secret,
        expect,
    }
}

impl<'a> Call<'a> {
    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    fn query(mut self, k: &'a str, v: impl Into<String>) -> Self {
        self.query.push((k, v.into()));
        self
    }
    fn creds(mut self, creds: Creds<'a>) -> Self {
        self.creds = creds;
        self
    }
}

/// Runs the whole tour and cleans up.
pub async fn run_suite(mut c: Checker) -> ConformReport {
    let app = c.target().app_id.clone();
    let room = c.target().room;
    let has_domain_key = c.target().domain_key.is_some();
    let hook_url = c.target().hook_url.clone();
    let tag = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let mut open_chats: Vec<String> = Vec::new();
    let mut cleanup = BTreeMap::new();

    // Apps.
    c.call(
        call(
            "validate app",
            "validateApp",
            Method::GET,
            format!("/apps/{app}/validate"),
            &[200],
        )
        .creds(Creds::AppOnly),
    )
    .await;
    c.call(
        call(
            "validate unknown app → 404",
            "validateApp",
            Method::GET,
            "/apps/no-such-app-0/validate".into(),
            &[404],
        )
        .creds(Creds::AppOnly),
    )
    .await;
    c.call(call(
        "list apps",
        "listApps",
        Method::GET,
        "/apps".into(),
        &[200],
    ))
    .await;
    c.call(call(
        "get app",
        "getApp",
        Method::GET,
        format!("/apps/{app}"),
        &[200],
    ))
    .await;
    let new_app = c
        .call(
            call(
                "create app",
                "createApp",
                Method::POST,
                "/apps".into(),
                &[200, 201],
            )
            .body(json!({"name": format!("conform {tag}"), "region": "eu"})),
        )
        .await;
    if let Some(id) = s(new_app.as_ref(), "/app/id") {
        c.call(
            call(
                "update app",
                "updateApp",
                Method::PUT,
                format!("/apps/{id}"),
                &[200],
            )
            .body(json!({"name": "conform renamed"})),
        )
        .await;
    }

    // Settings and agents.
    c.call(
        call(
            "settings, public view",
            "getSettings",
            Method::GET,
            "/settings".into(),
            &[200],
        )
        .creds(Creds::AppOnly),
    )
    .await;
    c.call(
        call(
            "settings without App ID → 401",
            "getSettings",
            Method::GET,
            "/settings".into(),
            &[401],
        )
        .creds(Creds::Nothing),
    )
    .await;
    c.call(
        call(
            "update settings",
            "updateSettings",
            Method::PUT,
            "/settings".into(),
            &[200],
        )
        .body(json!({"assignAlgorithm": "most-free-slots"})),
    )
    .await;
    c.call(
        call(
            "agents available",
            "getAgentsAvailable",
            Method::GET,
            "/agents/available".into(),
            &[200],
        )
        .creds(Creds::AppOnly)
        .query("roomIds", room.to_string()),
    )
    .await;
    c.call(
        call(
            "agents available without roomIds → 400",
            "getAgentsAvailable",
            Method::GET,
            "/agents/available".into(),
            &[400],
        )
        .creds(Creds::AppOnly),
    )
    .await;
    c.call(
        call(
            "agents online",
            "getAgentsOnline",
            Method::GET,
            "/agents/online".into(),
            &[200],
        )
        .creds(Creds::AppOnly)
        .query("roomId", room.to_string()),
    )
    .await;
    let agents = c
        .call(call(
            "list agents",
            "listAgents",
            Method::GET,
            "/agents".into(),
            &[200],
        ))
        .await;
    let agent_ids: Vec<String> = agents
        .as_ref()
        .and_then(|a| a.get("agents"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|a| a.get("id").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let agent = |i: usize| {
        agent_ids
            .get(i)
            .cloned()
            .unwrap_or_else(|| "a-1".to_owned())
    };
    c.call(call(
        "get agent",
        "getAgent",
        Method::GET,
        format!("/agents/{}", agent(0)),
        &[200],
    ))
    .await;
    c.call(call(
        "get unknown agent → 404",
        "getAgent",
        Method::GET,
        "/agents/no-such-agent-0".into(),
        &[404],
    ))
    .await;
    let created = c.call(call("create agent", "createAgent", Method::POST, "/agents".into(), &[200, 201]).body(json!({
        "name": "Conformance Agent", "email": format!("conform-{tag}@example.com"), "rooms": [room], "capacity": 1
    }))).await;
    let new_agent = s(created.as_ref(), "/agent/id").unwrap_or_else(|| agent(0));
    c.call(
        call(
            "update agent",
            "updateAgent",
            Method::PUT,
            format!("/agents/{new_agent}"),
            &[200],
        )
        .body(json!({"capacity": 1})),
    )
    .await;
    c.call(
        call(
            "agent login",
            "agentLogin",
            Method::POST,
            "/agents/login".into(),
            &[200],
        )
        .creds(Creds::AppOnly)
        .body(json!({"agentId": new_agent})),
    )
    .await;
    c.call(
        call(
            "agent logout",
            "agentLogout",
            Method::POST,
            "/agents/logout".into(),
            &[200],
        )
        .body(json!({"agentId": new_agent})),
    )
    .await;

    // Users.
    let external = format!("conform-{tag}");
    let signup = c
        .call(
            call(
                "create user",
                "createUser",
                Method::POST,
                "/users".into(),
                &[200, 201],
            )
            .creds(Creds::AppOnly)
            .body(json!({
                "name": "Conformance User", "externalId": external, "contact": "conform@example.com"
            })),
        )
        .await;
    let user = s(signup.as_ref(), "/user/id").unwrap_or_default();
    let token = s(signup.as_ref(), "/session/token").unwrap_or_default();
    crate::redact::register(&token);
    c.call(
        call(
            "duplicate externalId → 409",
            "createUser",
            Method::POST,
            "/users".into(),
            &[409],
        )
        .creds(Creds::AppOnly)
        .body(json!({"name": "Again", "externalId": external})),
    )
    .await;
    c.call(
        call(
            "user without name → 400",
            "createUser",
            Method::POST,
            "/users".into(),
            &[400],
        )
        .creds(Creds::AppOnly)
        .body(json!({"contact": "x"})),
    )
    .await;
    c.call(
        call(
            "find user by externalId",
            "listUsers",
            Method::GET,
            "/users".into(),
            &[200],
        )
        .query("externalId", external.clone()),
    )
    .await;
    c.call(call(
        "get user",
        "getUser",
        Method::GET,
        format!("/users/{user}"),
        &[200],
    ))
    .await;
    c.call(
        call(
            "get own user with token",
            "getUser",
            Method::GET,
            format!("/users/{user}"),
            &[200],
        )
        .creds(Creds::Token(&token)),
    )
    .await;
    c.call(call(
        "get unknown user → 404",
        "getUser",
        Method::GET,
        "/users/no-such-user-0".into(),
        &[404],
    ))
    .await;
    c.call(
        call(
            "update user",
            "updateUser",
            Method::PUT,
            format!("/users/{user}"),
            &[200],
        )
        .body(json!({"contact": "conform2@example.com"})),
    )
    .await;

    // Chats.
    let chat_body = json!({"room": room, "creator": user, "source": 3, "lang": "en"});
    let opened = c
        .call(
            call(
                "create chat",
                "createChat",
                Method::POST,
                "/chats".into(),
                &[200, 201],
            )
            .body(chat_body.clone()),
        )
        .await;
    let chat = s(opened.as_ref(), "/chat/id").unwrap_or_else(|| "no-chat".to_owned());
    if opened.is_some() {
        open_chats.push(chat.clone());
    }
    c.call(
        call(
            "second open chat for one user → 409",
            "createChat",
            Method::POST,
            "/chats".into(),
            &[409],
        )
        .body(chat_body),
    )
    .await;
    c.call(
        call(
            "chat without creator → 400",
            "createChat",
            Method::POST,
            "/chats".into(),
            &[400],
        )
        .body(json!({"room": room})),
    )
    .await;
    c.call(
        call(
            "get chat without credentials → 401",
            "getChat",
            Method::GET,
            format!("/chats/{chat}"),
            &[401],
        )
        .creds(Creds::Nothing),
    )
    .await;
    if has_domain_key {
        c.call(
            call(
                "domain key on a secret-only route → 403",
                "listChats",
                Method::GET,
                "/chats".into(),
                &[403],
            )
            .creds(Creds::DomainKey),
        )
        .await;
    }
    c.call(call(
        "get unknown chat → 404",
        "getChat",
        Method::GET,
        "/chats/no-such-chat-0".into(),
        &[404],
    ))
    .await;
    c.call(
        call(
            "user activity",
            "postUserActivity",
            Method::POST,
            format!("/users/{user}/activity"),
            &[200],
        )
        .body(json!({"chatId": chat, "type": "writing"})),
    )
    .await;
    c.call(
        call(
            "list chats",
            "listChats",
            Method::GET,
            "/chats".into(),
            &[200],
        )
        .query("creator", user.clone()),
    )
    .await;
    c.call(call(
        "get chat",
        "getChat",
        Method::GET,
        format!("/chats/{chat}"),
        &[200],
    ))
    .await;
    c.call(
        call(
            "update chat",
            "updateChat",
            Method::PUT,
            format!("/chats/{chat}"),
            &[200],
        )
        .body(json!({"lang": "en"})),
    )
    .await;
    let assigned = c
        .call(call(
            "assign",
            "assignChat",
            Method::GET,
            format!("/chats/{chat}/assign"),
            &[200],
        ))
        .await;
    let invited = s(assigned.as_ref(), "/agent/id");
    if let Some(agent_id) = &invited {
        c.call(
            call(
                "accept invitation",
                "acceptInvitation",
                Method::POST,
                "/invitations/accept".into(),
                &[200, 409],
            )
            .body(json!({"chatId": chat, "userId": agent_id})),
        )
        .await;
        wait_active(&mut c, &chat).await;
    }
    let sent = c
        .call(
            call(
                "send message",
                "sendChatMessage",
                Method::POST,
                format!("/chats/{chat}/messages"),
                &[200, 201],
            )
            .body(json!({
                "chatId": chat, "sender": user, "message": "conformance check"
            })),
        )
        .await;
    let message = s(sent.as_ref(), "/message/id").unwrap_or_else(|| "no-message".to_owned());
    c.call(
        call(
            "message without text → 400",
            "sendChatMessage",
            Method::POST,
            format!("/chats/{chat}/messages"),
            &[400],
        )
        .body(json!({"chatId": chat, "sender": user})),
    )
    .await;
    c.call(call(
        "list messages",
        "listChatMessages",
        Method::GET,
        format!("/chats/{chat}/messages"),
        &[200],
    ))
    .await;
    c.call(
        call(
            "list messages with the participant's token",
            "listChatMessages",
            Method::GET,
            format!("/chats/{chat}/messages"),
            &[200],
        )
        .creds(Creds::Token(&token)),
    )
    .await;
    c.call(
        call(
            "mark message read",
            "markMessageRead",
            Method::PUT,
            format!("/messages/{message}/read"),
            &[200],
        )
        .body(json!({"userId": user})),
    )
    .await;
    c.call(
        call(
            "export history",
            "getChatHistory",
            Method::GET,
            format!("/chats/{chat}/history"),
            &[200],
        )
        .query("format", "json"),
    )
    .await;
    c.call(
        call(
            "import history",
            "importChatHistory",
            Method::POST,
            format!("/chats/{chat}/history"),
            &[200],
        )
        .body(json!({
            "history": [{"sender": user, "message": "imported turn", "created": 1_700_000_000}]
        })),
    )
    .await;
    c.call(call(
        "chat users",
        "listChatUsers",
        Method::GET,
        format!("/chats/{chat}/users"),
        &[200],
    ))
    .await;
    let other = agent(1);
    c.call(
        call(
            "join chat",
            "joinChat",
            Method::POST,
            format!("/chats/{chat}/join"),
            &[200],
        )
        .body(json!({"userId": other})),
    )
    .await;
    c.call(
        call(
            "leave chat",
            "leaveChat",
            Method::PUT,
            format!("/chats/{chat}/leave"),
            &[200],
        )
        .body(json!({"userId": other})),
    )
    .await;
    let third = agent(2);
    c.call(
        call(
            "invite agent",
            "createInvitation",
            Method::POST,
            "/invitations".into(),
            &[200, 201],
        )
        .body(json!({"chatId": chat, "userId": third})),
    )
    .await;
    c.call(
        call(
            "reject invitation",
            "rejectInvitation",
            Method::POST,
            "/invitations/reject".into(),
            &[200],
        )
        .body(json!({"chatId": chat, "userId": third})),
    )
    .await;
    c.call(
        call(
            "reject with no pending invitation → 409",
            "rejectInvitation",
            Method::POST,
            "/invitations/reject".into(),
            &[409],
        )
        .body(json!({"chatId": chat, "userId": third})),
    )
    .await;
    c.call(call(
        "back to the inbox",
        "chatToInbox",
        Method::POST,
        format!("/chats/{chat}/toinbox"),
        &[200],
    ))
    .await;

    // Media.
    let png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0];
    let fields = [("chatId", chat.clone()), ("senderId", user.clone())];
    let media = c
        .upload(
            "upload media",
            &fields,
            ("conform.png", "image/png", png),
            &[200, 201],
        )
        .await;
    c.upload(
        "upload a forbidden file type → 403",
        &fields,
        ("conform.exe", "application/x-msdownload", vec![0x4d, 0x5a]),
        &[403],
    )
    .await;
    c.call(call(
        "list media",
        "listMedia",
        Method::GET,
        "/media".into(),
        &[200],
    ))
    .await;
    let media_id = s(media.as_ref(), "/media/id").unwrap_or_else(|| "no-media".to_owned());
    c.call(call(
        "download media",
        "getMedia",
        Method::GET,
        format!("/media/{media_id}"),
        &[200],
    ))
    .await;
    c.call(call(
        "download unknown media → 404",
        "getMedia",
        Method::GET,
        "/media/no-such-media-0".into(),
        &[404],
    ))
    .await;

    // Queues, ids, webhooks, surveys.
    c.call(call(
        "queues status",
        "getQueuesStatus",
        Method::GET,
        "/queues/status".into(),
        &[200],
    ))
    .await;
    c.call(call(
        "queue update",
        "getQueueUpdate",
        Method::GET,
        format!("/queues/update/{chat}"),
        &[200],
    ))
    .await;
    c.call(call("new id", "getId", Method::GET, "/id".into(), &[200]))
        .await;
    let hook = c
        .call(
            call(
                "register webhook",
                "createWebhook",
                Method::POST,
                "/webhooks".into(),
                &[200, 201],
            )
            .body(json!({"events": ["chats:close"], "target": hook_url})),
        )
        .await;
    let hook_id = s(hook.as_ref(), "/webhook/id").unwrap_or_else(|| "no-webhook".to_owned());
    c.call(call(
        "list webhooks",
        "listWebhooks",
        Method::GET,
        "/webhooks".into(),
        &[200],
    ))
    .await;
    c.call(call(
        "get webhook",
        "getWebhook",
        Method::GET,
        format!("/webhooks/{hook_id}"),
        &[200],
    ))
    .await;
    c.call(
        call(
            "update webhook",
            "updateWebhook",
            Method::PUT,
            format!("/webhooks/{hook_id}"),
            &[200],
        )
        .body(json!({"events": ["chats:close", "messages:new"]})),
    )
    .await;
    let deleted = c
        .call(call(
            "delete webhook",
            "deleteWebhook",
            Method::DELETE,
            format!("/webhooks/{hook_id}"),
            &[200],
        ))
        .await;
    cleanup.insert("webhooks_deleted".to_owned(), u64::from(deleted.is_some()));
    c.call(
        call(
            "survey",
            "getSurvey",
            Method::GET,
            "/surveys/5".into(),
            &[200],
        )
        .query("sourceType", "ticket")
        .query("sourceId", "T1"),
    )
    .await;
    c.call(call(
        "unknown survey → 404",
        "getSurvey",
        Method::GET,
        "/surveys/not-a-survey".into(),
        &[404],
    ))
    .await;

    // Closing.
    let closed = c
        .call(
            call(
                "close chat",
                "closeChat",
                Method::DELETE,
                format!("/chats/{chat}"),
                &[200],
            )
            .body(json!({"userId": user})),
        )
        .await;
    if closed.is_some() {
        open_chats.retain(|id| id != &chat);
    }
    c.call(
        call(
            "message to a closed chat → 409",
            "sendChatMessage",
            Method::POST,
            format!("/chats/{chat}/messages"),
            &[409],
        )
        .body(json!({
            "chatId": chat, "sender": user, "message": "too late"
        })),
    )
    .await;
    c.call(call(
        "close a closed chat → 409",
        "closeChat",
        Method::DELETE,
        format!("/chats/{chat}"),
        &[409],
    ))
    .await;

    let mut closed_count = 0;
    for id in open_chats {
        let r = c
            .call(call(
                "clean-up: close chat",
                "closeChat",
                Method::DELETE,
                format!("/chats/{id}"),
                &[200, 409],
            ))
            .await;
        closed_count += u64::from(r.is_some());
    }
    cleanup.insert("chats_closed".to_owned(), closed_count);
    c.into_report(cleanup)
}

/// Polls the chat until an agent has taken it (at most 5 s); not a check.
async fn wait_active(c: &mut Checker, chat: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let before = c.results.len();
        let body = c
            .call(call(
                "wait for the agent",
                "getChat",
                Method::GET,
                format!("/chats/{chat}"),
                &[200],
            ))
            .await;
        c.results.truncate(before);
        if s(body.as_ref(), "/chat/status").as_deref() == Some("active") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
