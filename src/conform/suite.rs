//! The conformance tour (a deliberate catalogue, hence its length): every operation in an order that makes each call
//! meaningful, plus the negative cases (no credentials, a domain key on a
//! secret-only route, unknown ids, invalid bodies, a message to a closed
//! chat, a second open chat for one user).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Call, Checker, ConformReport, Creds};
use crate::api::{Operation, events};

fn s(v: Option<&Value>, pointer: &str) -> Option<String> {
    v.and_then(|b| b.pointer(pointer))
        .and_then(Value::as_str)
        .map(str::to_owned)
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
    c.call(Call::new("validate app", Operation::ValidateApp, &[&app]))
        .await;
    c.call(
        Call::new(
            "validate unknown app → 404",
            Operation::ValidateApp,
            &["no-such-app-0"],
        )
        .expect(&[404]),
    )
    .await;
    c.call(Call::new("list apps", Operation::ListApps, &[]))
        .await;
    c.call(Call::new("get app", Operation::GetApp, &[&app]))
        .await;
    let new_app = c
        .call(
            Call::new("create app", Operation::CreateApp, &[])
                .body(json!({"name": format!("conform {tag}"), "region": "eu"})),
        )
        .await;
    if let Some(id) = s(new_app.as_ref(), "/app/id") {
        c.call(
            Call::new("update app", Operation::UpdateApp, &[&id])
                .body(json!({"name": "conform renamed"})),
        )
        .await;
    }

    // Settings and agents.
    c.call(Call::new(
        "settings, public view",
        Operation::GetSettings,
        &[],
    ))
    .await;
    c.call(
        Call::new("settings without App ID → 401", Operation::GetSettings, &[])
            .expect(&[401])
            .creds(Creds::Nothing),
    )
    .await;
    c.call(
        Call::new("update settings", Operation::UpdateSettings, &[])
            .body(json!({"assignAlgorithm": "most-free-slots"})),
    )
    .await;
    c.call(
        Call::new("agents available", Operation::GetAgentsAvailable, &[])
            .query("roomIds", room.to_string()),
    )
    .await;
    c.call(
        Call::new(
            "agents available without roomIds → 400",
            Operation::GetAgentsAvailable,
            &[],
        )
        .expect(&[400]),
    )
    .await;
    c.call(
        Call::new("agents online", Operation::GetAgentsOnline, &[])
            .query("roomId", room.to_string()),
    )
    .await;
    let agents = c
        .call(Call::new("list agents", Operation::ListAgents, &[]))
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
    c.call(Call::new("get agent", Operation::GetAgent, &[&agent(0)]))
        .await;
    c.call(
        Call::new(
            "get unknown agent → 404",
            Operation::GetAgent,
            &["no-such-agent-0"],
        )
        .expect(&[404]),
    )
    .await;
    let agent_body = json!({
        "name": "Conformance Agent",
        "email": format!("conform-{tag}@example.com"),
        "rooms": [room],
        "capacity": 1
    });
    let created = c
        .call(Call::new("create agent", Operation::CreateAgent, &[]).body(agent_body))
        .await;
    let new_agent = s(created.as_ref(), "/agent/id").unwrap_or_else(|| agent(0));
    c.call(
        Call::new("update agent", Operation::UpdateAgent, &[&new_agent])
            .body(json!({"capacity": 1})),
    )
    .await;
    c.call(
        Call::new("agent login", Operation::AgentLogin, &[]).body(json!({"agentId": new_agent})),
    )
    .await;
    c.call(
        Call::new("agent logout", Operation::AgentLogout, &[]).body(json!({"agentId": new_agent})),
    )
    .await;

    // Users.
    let external = format!("conform-{tag}");
    let signup = c
        .call(
            Call::new("create user", Operation::CreateUser, &[]).body(json!({
                "name": "Conformance User", "externalId": external, "contact": "conform@example.com"
            })),
        )
        .await;
    let user = s(signup.as_ref(), "/user/id").unwrap_or_default();
    let token = s(signup.as_ref(), "/session/token").unwrap_or_default();
    crate::redact::register(&token);
    c.call(
        Call::new("duplicate externalId → 409", Operation::CreateUser, &[])
            .expect(&[409])
            .body(json!({"name": "Again", "externalId": external})),
    )
    .await;
    c.call(
        Call::new("user without name → 400", Operation::CreateUser, &[])
            .expect(&[400])
            .body(json!({"contact": "x"})),
    )
    .await;
    c.call(
        Call::new("find user by externalId", Operation::ListUsers, &[])
            .query("externalId", external.clone()),
    )
    .await;
    c.call(Call::new("get user", Operation::GetUser, &[&user]))
        .await;
    c.call(
        Call::new("get own user with token", Operation::GetUser, &[&user])
            .creds(Creds::Token(&token)),
    )
    .await;
    c.call(
        Call::new(
            "get unknown user → 404",
            Operation::GetUser,
            &["no-such-user-0"],
        )
        .expect(&[404]),
    )
    .await;
    c.call(
        Call::new("update user", Operation::UpdateUser, &[&user])
            .body(json!({"contact": "conform2@example.com"})),
    )
    .await;

    // Chats.
    let chat_body = json!({"room": room, "creator": user, "source": 3, "lang": "en"});
    let opened = c
        .call(Call::new("create chat", Operation::CreateChat, &[]).body(chat_body.clone()))
        .await;
    let chat = s(opened.as_ref(), "/chat/id").unwrap_or_else(|| "no-chat".to_owned());
    if opened.is_some() {
        open_chats.push(chat.clone());
    }
    c.call(
        Call::new(
            "second open chat for one user → 409",
            Operation::CreateChat,
            &[],
        )
        .expect(&[409])
        .body(chat_body),
    )
    .await;
    c.call(
        Call::new("chat without creator → 400", Operation::CreateChat, &[])
            .expect(&[400])
            .body(json!({"room": room})),
    )
    .await;
    c.call(
        Call::new(
            "get chat without credentials → 401",
            Operation::GetChat,
            &[&chat],
        )
        .expect(&[401])
        .creds(Creds::Nothing),
    )
    .await;
    if has_domain_key {
        c.call(
            Call::new(
                "domain key on a secret-only route → 403",
                Operation::ListChats,
                &[],
            )
            .expect(&[403])
            .creds(Creds::DomainKey),
        )
        .await;
    }
    c.call(
        Call::new(
            "get unknown chat → 404",
            Operation::GetChat,
            &["no-such-chat-0"],
        )
        .expect(&[404]),
    )
    .await;
    c.call(
        Call::new("user activity", Operation::PostUserActivity, &[&user])
            .body(json!({"chatId": chat, "type": "writing"})),
    )
    .await;
    c.call(Call::new("list chats", Operation::ListChats, &[]).query("creator", user.clone()))
        .await;
    c.call(Call::new("get chat", Operation::GetChat, &[&chat]))
        .await;
    c.call(Call::new("update chat", Operation::UpdateChat, &[&chat]).body(json!({"lang": "en"})))
        .await;
    let assigned = c
        .call(Call::new("assign", Operation::AssignChat, &[&chat]))
        .await;
    let invited = s(assigned.as_ref(), "/agent/id");
    if let Some(agent_id) = &invited {
        c.call(
            Call::new("accept invitation", Operation::AcceptInvitation, &[])
                .or(409)
                .body(json!({"chatId": chat, "userId": agent_id})),
        )
        .await;
        wait_active(&mut c, &chat).await;
    }
    let sent = c
        .call(
            Call::new("send message", Operation::SendChatMessage, &[&chat]).body(json!({
                "chatId": chat, "sender": user, "message": "conformance check"
            })),
        )
        .await;
    let message = s(sent.as_ref(), "/message/id").unwrap_or_else(|| "no-message".to_owned());
    c.call(
        Call::new(
            "message without text → 400",
            Operation::SendChatMessage,
            &[&chat],
        )
        .expect(&[400])
        .body(json!({"chatId": chat, "sender": user})),
    )
    .await;
    c.call(Call::new(
        "list messages",
        Operation::ListChatMessages,
        &[&chat],
    ))
    .await;
    c.call(
        Call::new(
            "list messages with the participant's token",
            Operation::ListChatMessages,
            &[&chat],
        )
        .creds(Creds::Token(&token)),
    )
    .await;
    c.call(
        Call::new("mark message read", Operation::MarkMessageRead, &[&message])
            .body(json!({"userId": user})),
    )
    .await;
    c.call(
        Call::new("export history", Operation::GetChatHistory, &[&chat]).query("format", "json"),
    )
    .await;
    c.call(
        Call::new("import history", Operation::ImportChatHistory, &[&chat]).body(json!({
            "history": [{"sender": user, "message": "imported turn", "created": 1_700_000_000}]
        })),
    )
    .await;
    c.call(Call::new("chat users", Operation::ListChatUsers, &[&chat]))
        .await;
    let other = agent(1);
    c.call(Call::new("join chat", Operation::JoinChat, &[&chat]).body(json!({"userId": other})))
        .await;
    c.call(Call::new("leave chat", Operation::LeaveChat, &[&chat]).body(json!({"userId": other})))
        .await;
    let third = agent(2);
    c.call(
        Call::new("invite agent", Operation::CreateInvitation, &[])
            .body(json!({"chatId": chat, "userId": third})),
    )
    .await;
    c.call(
        Call::new("reject invitation", Operation::RejectInvitation, &[])
            .body(json!({"chatId": chat, "userId": third})),
    )
    .await;
    c.call(
        Call::new(
            "reject with no pending invitation → 409",
            Operation::RejectInvitation,
            &[],
        )
        .expect(&[409])
        .body(json!({"chatId": chat, "userId": third})),
    )
    .await;
    c.call(Call::new(
        "back to the inbox",
        Operation::ChatToInbox,
        &[&chat],
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
            None,
        )
        .await;
    c.upload(
        "upload a forbidden file type → 403",
        &fields,
        ("conform.exe", "application/x-msdownload", vec![0x4d, 0x5a]),
        Some(&[403]),
    )
    .await;
    c.call(Call::new("list media", Operation::ListMedia, &[]))
        .await;
    let media_id = s(media.as_ref(), "/media/id").unwrap_or_else(|| "no-media".to_owned());
    c.call(Call::new(
        "download media",
        Operation::GetMedia,
        &[&media_id],
    ))
    .await;
    c.call(
        Call::new(
            "download unknown media → 404",
            Operation::GetMedia,
            &["no-such-media-0"],
        )
        .expect(&[404]),
    )
    .await;

    // Queues, ids, webhooks, surveys.
    c.call(Call::new("queues status", Operation::GetQueuesStatus, &[]))
        .await;
    c.call(Call::new(
        "queue update",
        Operation::GetQueueUpdate,
        &[&chat],
    ))
    .await;
    c.call(Call::new("new id", Operation::GetId, &[])).await;
    let hook = c
        .call(
            Call::new("register webhook", Operation::CreateWebhook, &[])
                .body(json!({"events": [events::CHATS_CLOSE], "target": hook_url})),
        )
        .await;
    let hook_id = s(hook.as_ref(), "/webhook/id").unwrap_or_else(|| "no-webhook".to_owned());
    c.call(Call::new("list webhooks", Operation::ListWebhooks, &[]))
        .await;
    c.call(Call::new("get webhook", Operation::GetWebhook, &[&hook_id]))
        .await;
    c.call(
        Call::new("update webhook", Operation::UpdateWebhook, &[&hook_id])
            .body(json!({"events": [events::CHATS_CLOSE, events::MESSAGES_NEW]})),
    )
    .await;
    let deleted = c
        .call(Call::new(
            "delete webhook",
            Operation::DeleteWebhook,
            &[&hook_id],
        ))
        .await;
    cleanup.insert("webhooks_deleted".to_owned(), u64::from(deleted.is_some()));
    c.call(
        Call::new("survey", Operation::GetSurvey, &["5"])
            .query("sourceType", "ticket")
            .query("sourceId", "T1"),
    )
    .await;
    c.call(
        Call::new(
            "unknown survey → 404",
            Operation::GetSurvey,
            &["not-a-survey"],
        )
        .expect(&[404]),
    )
    .await;

    // Closing.
    let closed = c
        .call(Call::new("close chat", Operation::CloseChat, &[&chat]).body(json!({"userId": user})))
        .await;
    if closed.is_some() {
        open_chats.retain(|id| id != &chat);
    }
    c.call(
        Call::new(
            "message to a closed chat → 409",
            Operation::SendChatMessage,
            &[&chat],
        )
        .expect(&[409])
        .body(json!({
            "chatId": chat, "sender": user, "message": "too late"
        })),
    )
    .await;
    c.call(Call::new("close a closed chat → 409", Operation::CloseChat, &[&chat]).expect(&[409]))
        .await;

    let mut closed_count = 0;
    for id in open_chats {
        let r = c
            .call(Call::new("clean-up: close chat", Operation::CloseChat, &[&id]).or(409))
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
            .call(Call::new("wait for the agent", Operation::GetChat, &[chat]))
            .await;
        c.results.truncate(before);
        if s(body.as_ref(), "/chat/status").as_deref() == Some("active") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
