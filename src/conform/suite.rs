//! The conformance tour: every operation in an order that makes each call
//! meaningful, plus the negative cases (unknown ids, invalid bodies,
//! conflicts such as a second open chat for one user) and the uses of a
//! closed chat and a deleted webhook. The per-operation probes
//! (credentials, content type, generated bodies, methods) come from
//! [`super::probes`], driven by the calls here.

use serde_json::{Value, json};

use super::calls::{got, missing};
use super::{Call, Checker, Cleaned, Creds, Kind, probes, setup};
use crate::api::{Operation, events};

fn s(v: Option<&Value>, pointer: &str) -> Option<String> {
    v.and_then(|b| b.pointer(pointer))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// What the tour learned and later steps need. An id it did not get is a
/// [`missing`] stand-in: the calls that would send it are skipped, with
/// which id they lacked, never sent with a made-up one.
#[derive(Debug, Default)]
struct Tour {
    room: u64,
    tag: String,
    user: String,
    token: String,
    chat: String,
    agents: Vec<String>,
    webhooks_deleted: u64,
}

impl Tour {
    fn agent(&self, i: usize) -> String {
        self.agents.get(i).cloned().unwrap_or_else(|| {
            missing(&format!(
                "an agent id (#{}), which list agents did not return",
                i + 1
            ))
        })
    }
}

/// Runs the whole tour on `c` and cleans up; returns what the clean-up did
/// (for [`Checker::into_report`]). Dropped before its end (a signal, or
/// the checker gave up on the target), the checks made so far stay in `c`,
/// and so does what it created and did not remove yet ([`Checker::leftovers`]).
pub async fn run_suite(c: &mut Checker) -> Cleaned {
    let mut t = Tour {
        room: c.target().room,
        tag: c.tag.clone(),
        ..Tour::default()
    };
    apps_and_settings(c, &t).await;
    agents(c, &mut t).await;
    users(c, &mut t).await;
    chats(c, &mut t).await;
    chat_members(c, &t).await;
    media(c, &t).await;
    webhooks(c, &mut t).await;
    unknown_ids(c).await;
    close_and_after(c, &mut t).await;
    probes::methods(c).await;
    let mut closed_count = 0;
    for id in c.created.chats.clone() {
        let r = c
            .call(Call::new("clean-up: close chat", Operation::CloseChat, &[&id]).or(409))
            .await;
        if r.is_some() {
            closed_count += 1;
            c.created.chats.retain(|open| open != &id);
        }
    }
    let mut left = c.leftovers();
    left.chats_closed = closed_count;
    left.webhooks_deleted = t.webhooks_deleted;
    left.finish("its removal failed (see its check)")
}

/// A reference to an id that does not exist answers 404.
async fn unknown_ids(c: &mut Checker) {
    let cases = [
        (
            "validate unknown app → 404",
            Operation::ValidateApp,
            "no-such-app-0",
        ),
        (
            "get unknown agent → 404",
            Operation::GetAgent,
            "no-such-agent-0",
        ),
        (
            "get unknown user → 404",
            Operation::GetUser,
            "no-such-user-0",
        ),
        (
            "get unknown chat → 404",
            Operation::GetChat,
            "no-such-chat-0",
        ),
        (
            "download unknown media → 404",
            Operation::GetMedia,
            "no-such-media-0",
        ),
        ("unknown survey → 404", Operation::GetSurvey, "not-a-survey"),
    ];
    for (name, op, id) in cases {
        c.call(Call::new(name, op, &[id]).expect(&[404])).await;
    }
}

async fn apps_and_settings(c: &mut Checker, t: &Tour) {
    let app = c.target().app_id.clone();
    c.call(Call::new("validate app", Operation::ValidateApp, &[&app]))
        .await;
    c.call(Call::new("list apps", Operation::ListApps, &[]))
        .await;
    c.call(Call::new("get app", Operation::GetApp, &[&app]))
        .await;
    let body = json!({"name": t.tag.clone(), "region": "eu"});
    let new_app = c
        .call(Call::new("create app", Operation::CreateApp, &[]).body(body))
        .await;
    if let Some(id) = s(new_app.as_ref(), "/app/id") {
        let body = json!({"name": "conform renamed"});
        repeatable(c, "update app", Operation::UpdateApp, &[&id], body).await;
    }
    c.call(Call::new(
        "settings, public view",
        Operation::GetSettings,
        &[],
    ))
    .await;
    let body = json!({"assignAlgorithm": "most-free-slots"});
    c.call(Call::new("update settings", Operation::UpdateSettings, &[]).body(body))
        .await;
}

async fn agents(c: &mut Checker, t: &mut Tour) {
    let room = t.room.to_string();
    c.call(
        Call::new("agents available", Operation::GetAgentsAvailable, &[])
            .query("roomIds", room.clone()),
    )
    .await;
    let no_rooms = Call::new(
        "agents available without roomIds → 400",
        Operation::GetAgentsAvailable,
        &[],
    );
    c.call(no_rooms.expect(&[400])).await;
    c.call(Call::new("agents online", Operation::GetAgentsOnline, &[]).query("roomId", room))
        .await;
    let agents = c
        .call(Call::new("list agents", Operation::ListAgents, &[]))
        .await;
    t.agents = agents
        .as_ref()
        .and_then(|a| a.get("agents"))
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|a| s(Some(a), "/id")).collect())
        .unwrap_or_default();
    c.call(Call::new("get agent", Operation::GetAgent, &[&t.agent(0)]))
        .await;
    let body = json!({
        "name": "Conformance Agent",
        "email": format!("{}@example.com", t.tag),
        "rooms": [t.room],
        "capacity": 1
    });
    let created = c
        .call(Call::new("create agent", Operation::CreateAgent, &[]).body(body))
        .await;
    let new_agent = s(created.as_ref(), "/agent/id").unwrap_or_else(|| t.agent(0));
    let capacity = json!({"capacity": 1});
    repeatable(
        c,
        "update agent",
        Operation::UpdateAgent,
        &[&new_agent],
        capacity,
    )
    .await;
    let body = json!({"agentId": new_agent});
    c.call(Call::new("agent login", Operation::AgentLogin, &[]).body(body.clone()))
        .await;
    repeatable(c, "agent logout", Operation::AgentLogout, &[], body).await;
}

async fn users(c: &mut Checker, t: &mut Tour) {
    let external = t.tag.clone();
    let body = json!({"name": "Conformance User", "externalId": external, "contact": "conform@example.com"});
    let signup = c
        .call(Call::new("create user", Operation::CreateUser, &[]).body(body))
        .await;
    t.user = s(signup.as_ref(), "/user/id")
        .unwrap_or_else(|| missing("the user's id, which create user did not return"));
    t.token = s(signup.as_ref(), "/session/token")
        .unwrap_or_else(|| missing("the user's token, which create user did not return"));
    if got(&t.token) {
        c.mask_token(&t.token);
    }
    let again = json!({"name": "Again", "externalId": external});
    c.call(
        Call::new("duplicate externalId → 409", Operation::CreateUser, &[])
            .expect(&[409])
            .body(again),
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
            .query("externalId", external),
    )
    .await;
    let user = t.user.clone();
    c.call(Call::new("get user", Operation::GetUser, &[&user]))
        .await;
    let own = Call::new("get own user with token", Operation::GetUser, &[&user]);
    c.call(own.creds(Creds::Token(&t.token))).await;
    let body = json!({"contact": "conform2@example.com"});
    repeatable(c, "update user", Operation::UpdateUser, &[&user], body).await;
}

/// The chat's life before it closes: opened (and the conflicts of opening), active, assigned
/// and accepted, messages, history.
async fn chats(c: &mut Checker, t: &mut Tour) {
    open_chat(c, t).await;
    let (chat, user) = (t.chat.clone(), t.user.clone());
    let activity = json!({"chatId": chat, "type": "writing"});
    repeatable(
        c,
        "user activity",
        Operation::PostUserActivity,
        &[&user],
        activity,
    )
    .await;
    c.call(Call::new("list chats", Operation::ListChats, &[]).query("creator", user.clone()))
        .await;
    c.call(Call::new("get chat", Operation::GetChat, &[&chat]))
        .await;
    repeatable(
        c,
        "update chat",
        Operation::UpdateChat,
        &[&chat],
        json!({"lang": "en"}),
    )
    .await;
    assign(c, &chat).await;
    messages(c, t).await;
    history(c, &chat, &user).await;
    c.call(Call::new("chat users", Operation::ListChatUsers, &[&chat]))
        .await;
}

/// Opens the tour's chat, then a second open chat for the same user (409) and one without
/// a creator (400).
async fn open_chat(c: &mut Checker, t: &mut Tour) {
    let (room, user) = (t.room, t.user.clone());
    let chat_body = json!({"room": room, "creator": user, "source": 3, "lang": "en"});
    let opened = c
        .call(Call::new("create chat", Operation::CreateChat, &[]).body(chat_body.clone()))
        .await;
    t.chat = s(opened.as_ref(), "/chat/id")
        .unwrap_or_else(|| missing("the chat's id, which create chat did not return"));
    if let Some(id) = s(opened.as_ref(), "/chat/id") {
        c.created.chats.push(id);
    }
    let second = Call::new(
        "second open chat for one user → 409",
        Operation::CreateChat,
        &[],
    );
    c.call(second.expect(&[409]).body(chat_body)).await;
    let no_creator = Call::new("chat without creator → 400", Operation::CreateChat, &[]);
    c.call(no_creator.expect(&[400]).body(json!({"room": room})))
        .await;
}

/// Assigns the chat; the agent it went to accepts, and the tour waits until the chat is
/// active (a check of its own, [`setup::wait_active`]).
async fn assign(c: &mut Checker, chat: &str) {
    let assigned = c
        .call(Call::new("assign", Operation::AssignChat, &[chat]))
        .await;
    if let Some(agent_id) = s(assigned.as_ref(), "/agent/id") {
        let body = json!({"chatId": chat, "userId": agent_id});
        let accept = Call::new("accept invitation", Operation::AcceptInvitation, &[]).body(body);
        if c.target().quiet_agents {
            // No one but the suite can accept it: a 409 is a failure.
            c.call(accept).await;
            c.note_last_if(
                409,
                "the suite switched the target's simulated agents' answers off, so no other \
                 agent could accept the invitation first",
            );
        } else {
            // The target's own agents may take the chat first (a real
            // instance, or a mock whose simulated answers could not be
            // switched off): a 409 that meets the spec is then a skipped
            // check, no pass and no failure, and no coverage.
            c.call(accept.or(409)).await;
            c.skip_last_if(
                409,
                "the invitation was no longer pending (409): another agent of the target \
                 accepted it first, so acceptInvitation's success was not observed",
            );
        }
        setup::wait_active(c, chat).await;
    }
}

/// Sends a message (and one without text, 400), reads the messages and the queue update,
/// lists the messages as the participant and marks the message read.
async fn messages(c: &mut Checker, t: &Tour) {
    let (chat, user) = (t.chat.clone(), t.user.clone());
    let body = json!({"chatId": chat, "sender": user, "message": "conformance check"});
    let sent = repeatable(
        c,
        "send message",
        Operation::SendChatMessage,
        &[&chat],
        body,
    )
    .await;
    let message = s(sent.as_ref(), "/message/id")
        .unwrap_or_else(|| missing("the message's id, which send message did not return"));
    let no_text = Call::new(
        "message without text → 400",
        Operation::SendChatMessage,
        &[&chat],
    );
    c.call(
        no_text
            .expect(&[400])
            .body(json!({"chatId": chat, "sender": user})),
    )
    .await;
    let reads = [
        ("list messages", Operation::ListChatMessages),
        ("queue update", Operation::GetQueueUpdate),
    ];
    for (name, op) in reads {
        c.call(Call::new(name, op, &[&chat])).await;
    }
    let as_participant = Call::new(
        "list messages with the participant's token",
        Operation::ListChatMessages,
        &[&chat],
    );
    c.call(as_participant.creds(Creds::Token(&t.token))).await;
    let read = Call::new("mark message read", Operation::MarkMessageRead, &[&message]);
    c.call(read.body(json!({"userId": user}))).await;
}

/// Exports the chat's history and imports a turn into it.
async fn history(c: &mut Checker, chat: &str, user: &str) {
    c.call(Call::new("export history", Operation::GetChatHistory, &[chat]).query("format", "json"))
        .await;
    let history = json!({"history": [{"sender": user, "message": "imported turn", "created": 1_700_000_000}]});
    repeatable(
        c,
        "import history",
        Operation::ImportChatHistory,
        &[chat],
        history,
    )
    .await;
}

async fn chat_members(c: &mut Checker, t: &Tour) {
    let chat = t.chat.clone();
    let other = json!({"userId": t.agent(1)});
    c.call(Call::new("join chat", Operation::JoinChat, &[&chat]).body(other.clone()))
        .await;
    c.call(Call::new("leave chat", Operation::LeaveChat, &[&chat]).body(other))
        .await;
    // A user, not an agent: the bundled mock's simulated agents answer their
    // invitations within tens of ms, a race with the reject and its probes.
    let invitee =
        json!({"name": "Conformance Invitee", "externalId": format!("{}-invitee", t.tag)});
    let invitee = Call::new("invitee", Operation::CreateUser, &[]).body(invitee);
    let invitee = c.set_up(&invitee, "creating the user to invite").await;
    let third = s(invitee.body.as_ref(), "/user/id").unwrap_or_else(|| t.agent(2));
    let third = json!({"chatId": chat, "userId": third});
    c.call(Call::new("invite agent", Operation::CreateInvitation, &[]).body(third.clone()))
        .await;
    if let Some(why) = &invitee.problem {
        c.blame(c.results.len() - 1, why);
    }
    c.call(Call::new("reject invitation", Operation::RejectInvitation, &[]).body(third.clone()))
        .await;
    let none = Call::new(
        "reject with no pending invitation → 409",
        Operation::RejectInvitation,
        &[],
    );
    c.call(none.expect(&[409]).body(third)).await;
    c.call(Call::new(
        "back to the inbox",
        Operation::ChatToInbox,
        &[&chat],
    ))
    .await;
    c.call(Call::new("queues status", Operation::GetQueuesStatus, &[]))
        .await;
    c.call(Call::new("new id", Operation::GetId, &[])).await;
    let survey = Call::new("survey", Operation::GetSurvey, &["5"]);
    c.call(survey.query("sourceType", "ticket").query("sourceId", "T1"))
        .await;
}

async fn media(c: &mut Checker, t: &Tour) {
    let png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0];
    let fields = [("chatId", t.chat.clone()), ("senderId", t.user.clone())];
    let media = c
        .upload(
            "upload media",
            &fields,
            ("conform.png", "image/png", png.clone()),
            None,
        )
        .await;
    let exe = ("conform.exe", "application/x-msdownload", vec![0x4d, 0x5a]);
    c.upload(
        "upload a forbidden file type → 403",
        &fields,
        exe,
        Some(&[403]),
    )
    .await;
    c.call(Call::new("list media", Operation::ListMedia, &[]))
        .await;
    let media_id = s(media.as_ref(), "/media/id")
        .unwrap_or_else(|| missing("the media's id, which upload media did not return"));
    let stored = s(media.as_ref(), "/media/type").unwrap_or_else(|| "image/png".to_owned());
    let download = Call::new("download media", Operation::GetMedia, &[&media_id]);
    c.download(download, (&png, &stored)).await;
}

/// Registers, reads, updates and deletes a webhook, then uses the deleted one.
async fn webhooks(c: &mut Checker, t: &mut Tour) {
    let body = json!({"events": [events::CHATS_CLOSE], "target": c.target().hook_url});
    let hook = c
        .call(Call::new("register webhook", Operation::CreateWebhook, &[]).body(body))
        .await;
    let hook_id = s(hook.as_ref(), "/webhook/id");
    c.created.webhook.clone_from(&hook_id);
    let hook_id = hook_id
        .unwrap_or_else(|| missing("the webhook's id, which register webhook did not return"));
    c.call(Call::new("list webhooks", Operation::ListWebhooks, &[]))
        .await;
    c.call(Call::new("get webhook", Operation::GetWebhook, &[&hook_id]))
        .await;
    let events = json!({"events": [events::CHATS_CLOSE, events::MESSAGES_NEW]});
    c.call(Call::new("update webhook", Operation::UpdateWebhook, &[&hook_id]).body(events.clone()))
        .await;
    let deleted = c
        .call(Call::new(
            "delete webhook",
            Operation::DeleteWebhook,
            &[&hook_id],
        ))
        .await;
    if deleted.is_some() {
        c.created.webhook = None;
        t.webhooks_deleted = 1;
    }
    let after = [
        Call::new(
            "get a deleted webhook → 404",
            Operation::GetWebhook,
            &[&hook_id],
        ),
        Call::new(
            "update a deleted webhook → 404",
            Operation::UpdateWebhook,
            &[&hook_id],
        )
        .body(events),
        Call::new(
            "delete a deleted webhook → 404",
            Operation::DeleteWebhook,
            &[&hook_id],
        ),
    ];
    for call in after {
        c.call(call.expect(&[404]).kind(Kind::AfterClose)).await;
    }
}

/// Closes the chat, then uses it: every operation that declares 409 for a
/// closed chat answers 409, reads still answer, and the creator may open a
/// new chat (which is closed again).
async fn close_and_after(c: &mut Checker, t: &mut Tour) {
    let (chat, user) = (t.chat.clone(), t.user.clone());
    let by_user = json!({"userId": user});
    let closed = c
        .call(Call::new("close chat", Operation::CloseChat, &[&chat]).body(by_user))
        .await;
    if closed.is_some() {
        c.created.chats.retain(|id| id != &chat);
    }
    closed_chat_conflicts(c, &chat, &user, &t.agent(2)).await;
    closed_chat_reads(c, &chat).await;
    let again = json!({"room": t.room, "creator": user});
    let new_chat = Call::new(
        "a new chat once the old one is closed",
        Operation::CreateChat,
        &[],
    );
    let opened = c.call(new_chat.body(again).kind(Kind::AfterClose)).await;
    if let Some(id) = s(opened.as_ref(), "/chat/id") {
        c.created.chats.push(id);
    }
}

/// Every change to the closed chat answers 409: a message, closing it again, assigning it,
/// sending it to the inbox, joining, inviting, uploading to it.
async fn closed_chat_conflicts(c: &mut Checker, chat: &str, user: &str, agent: &str) {
    let conflicts = [
        Call::new(
            "message to a closed chat → 409",
            Operation::SendChatMessage,
            &[chat],
        )
        .body(json!({"chatId": chat, "sender": user, "message": "too late"})),
        Call::new("close a closed chat → 409", Operation::CloseChat, &[chat]),
        Call::new("assign a closed chat → 409", Operation::AssignChat, &[chat]),
        Call::new(
            "a closed chat back to the inbox → 409",
            Operation::ChatToInbox,
            &[chat],
        ),
        Call::new("join a closed chat → 409", Operation::JoinChat, &[chat])
            .body(json!({"userId": agent})),
        Call::new(
            "invite to a closed chat → 409",
            Operation::CreateInvitation,
            &[],
        )
        .body(json!({"chatId": chat, "userId": agent})),
    ];
    for call in conflicts {
        c.call(call.expect(&[409]).kind(Kind::AfterClose)).await;
    }
    let png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    let fields = [("chatId", chat.to_owned()), ("senderId", user.to_owned())];
    let late = ("late.png", "image/png", png);
    c.upload("upload to a closed chat → 409", &fields, late, Some(&[409]))
        .await;
    if let Some(last) = c.results.last_mut() {
        last.kind = Kind::AfterClose;
    }
}

/// The closed chat is still read, with the status `closed`, and its messages still listed.
async fn closed_chat_reads(c: &mut Checker, chat: &str) {
    let read = Call::new(
        "a closed chat is still read, as closed",
        Operation::GetChat,
        &[chat],
    );
    let body = c.call(read.kind(Kind::AfterClose)).await;
    let not_closed = s(body.as_ref(), "/chat/status").as_deref() != Some("closed");
    if body.is_some() && not_closed {
        c.fail_last("the chat's status is not `closed` after closing it".to_owned());
    }
    let messages = Call::new(
        "a closed chat's messages are still listed",
        Operation::ListChatMessages,
        &[chat],
    );
    c.call(messages.kind(Kind::AfterClose)).await;
}

/// A happy call whose body can be sent again without changing what the
/// tour needs: boundary-valid generated bodies follow it.
async fn repeatable(
    c: &mut Checker,
    name: &str,
    op: Operation,
    params: &[&str],
    body: Value,
) -> Option<Value> {
    c.call(Call::new(name, op, params).body(body).vary()).await
}
