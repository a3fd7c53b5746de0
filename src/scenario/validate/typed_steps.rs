//! The typed Agent Chat steps (`create_chat`, `send_message`, …): each one
//! resolved to its operation with the defaults, parameters and automatic
//! captures the scenario guide documents.

use serde_json::{Map, Value, json};

use crate::api::Operation;
use crate::scenario::ChatEffect;
use crate::scenario::raw::RawStep;
use crate::scenario::raw::{RawDownloadMedia, RawFile, RawGenerate, RawMultipart, RawPart};
use serde_saphyr::{Location, Spanned};

/// A typed step resolved to an operation and its parts (still as JSON with
/// template strings), before template parsing.
pub(super) struct Draft<'a> {
    pub(super) op: Operation,
    pub(super) path: String,
    pub(super) query: Vec<(String, Value)>,
    pub(super) body: Option<Value>,
    /// (variable, JSON pointer, optional)
    pub(super) auto_captures: Vec<(&'static str, &'static str, bool)>,
    pub(super) chat_effect: ChatEffect,
    /// A form body (`upload_media`) instead of JSON.
    pub(super) multipart: Option<RawMultipart>,
    /// What a download must bring back (`download_media`).
    pub(super) download: Option<&'a RawDownloadMedia>,
}

impl Draft<'_> {
    /// `op` at its path with `params` (in the template's order).
    pub(super) fn new<'a>(op: Operation, params: &[&str]) -> Draft<'a> {
        Draft {
            op,
            path: op.path_with(params),
            query: Vec::new(),
            body: None,
            auto_captures: Vec::new(),
            chat_effect: ChatEffect::None,
            multipart: None,
            download: None,
        }
    }
}

/// `upload_media`: the API's form (`chatId`, `senderId`, `media`), by default
/// from the VU's chat and user with 1 KiB of generated PNG.
fn upload_draft<'a>(raw: &RawStep) -> Option<Draft<'a>> {
    let p = raw.upload_media.as_ref()?.as_ref();
    let unplaced = |part| Spanned::new(part, Location::UNKNOWN, Location::UNKNOWN);
    let text = |v: Option<&String>, default: &str| {
        unplaced(RawPart::Text(
            v.cloned().unwrap_or_else(|| default.to_owned()),
        ))
    };
    let generate = match p {
        Some(p) if p.file.is_some() || p.generate.is_some() => p.generate.clone(),
        _ => Some(RawGenerate {
            size: json!("1KiB"),
            content_type: Some("image/png".to_owned()),
        }),
    };
    let file = RawFile {
        file: p.and_then(|p| p.file.clone()),
        generate,
        content_type: p.and_then(|p| p.content_type.clone()),
        name: p.and_then(|p| p.name.clone()),
    };
    let mut d = Draft::new(Operation::UploadMedia, &[]);
    d.multipart = Some(RawMultipart(vec![
        (
            "chatId".to_owned(),
            text(p.and_then(|p| p.chat.as_ref()), "{{ chat_id }}"),
        ),
        (
            "senderId".to_owned(),
            text(p.and_then(|p| p.sender.as_ref()), "{{ user_id }}"),
        ),
        ("media".to_owned(), unplaced(RawPart::File(file))),
    ]));
    // Optional, like `message_id`: an upload the scenario expects to be
    // refused (403, 413) has no id to capture.
    d.auto_captures = vec![("media_id", "/media/id", true)];
    Some(d)
}

/// `download_media`: `GET /media/{{ media_id }}` unless another is named.
fn download_draft(raw: &RawStep) -> Option<Draft<'_>> {
    let p = raw.download_media.as_ref()?.as_ref();
    let media = p
        .and_then(|p| p.media.as_deref())
        .unwrap_or("{{ media_id }}");
    let mut d = Draft::new(Operation::GetMedia, &[media]);
    d.download = p;
    Some(d)
}

fn opt_json(value: Option<&String>, default: &str) -> Value {
    Value::String(value.cloned().unwrap_or_else(|| default.to_owned()))
}

/// The chat a step names, or the captured `{{ chat_id }}`.
fn chat_of(chat: Option<&String>) -> &str {
    chat.map_or("{{ chat_id }}", String::as_str)
}

/// The typed step `kind` of `raw` resolved to its operation, defaults and
/// automatic captures; `None` when `raw` has no such step.
pub(super) fn typed_draft<'a>(raw: &'a RawStep, kind: &str) -> Option<Draft<'a>> {
    let mut d = match kind {
        "upload_media" => upload_draft(raw)?,
        "download_media" => download_draft(raw)?,
        "get_settings" => Draft::new(Operation::GetSettings, &[]),
        "queue_status" => Draft::new(Operation::GetQueuesStatus, &[]),
        "check_agents" | "agents_online" => agents_draft(raw, kind)?,
        "create_user" => create_user_draft(raw)?,
        "get_user" => {
            let user = raw.get_user.as_ref()?.as_ref().and_then(|p| p.user.clone());
            Draft::new(
                Operation::GetUser,
                &[user.as_deref().unwrap_or("{{ user_id }}")],
            )
        }
        "create_chat" => create_chat_draft(raw)?,
        "get_chat" => Draft::new(
            Operation::GetChat,
            &[chat_of(
                raw.get_chat
                    .as_ref()?
                    .as_ref()
                    .and_then(|p| p.chat.as_ref()),
            )],
        ),
        "get_messages" => Draft::new(
            Operation::ListChatMessages,
            &[chat_of(
                raw.get_messages
                    .as_ref()?
                    .as_ref()
                    .and_then(|p| p.chat.as_ref()),
            )],
        ),
        "queue_position" => {
            let chat = raw
                .queue_position
                .as_ref()?
                .as_ref()
                .and_then(|p| p.chat.clone());
            Draft::new(
                Operation::GetQueueUpdate,
                &[chat.as_deref().unwrap_or("{{ chat_id }}")],
            )
        }
        "assign" => assign_draft(raw)?,
        "send_message" => send_message_draft(raw)?,
        "close_chat" => close_chat_draft(raw)?,
        "mark_read" => mark_read_draft(raw)?,
        _ => return None,
    };
    d.path = d.path.replace("{{chat_id}}", "{{ chat_id }}");
    Some(d)
}

/// `check_agents` / `agents_online`: the room (by default `{{ room }}`) and
/// optional language as query parameters, under each operation's own names.
fn agents_draft<'a>(raw: &RawStep, kind: &str) -> Option<Draft<'a>> {
    let q = raw
        .check_agents
        .as_ref()
        .or(raw.agents_online.as_ref())?
        .as_ref();
    let room = q
        .and_then(|q| q.room.clone())
        .unwrap_or(json!("{{ room }}"));
    let (op, room_key, lang_key) = if kind == "check_agents" {
        (Operation::GetAgentsAvailable, "roomIds", "langs")
    } else {
        (Operation::GetAgentsOnline, "roomId", "lang")
    };
    let mut d = Draft::new(op, &[]);
    d.query.push((room_key.to_owned(), room));
    if let Some(lang) = q.and_then(|q| q.lang.clone()) {
        d.query.push((lang_key.to_owned(), Value::String(lang)));
    }
    Some(d)
}

/// `create_user`: a fake name unless given; captures the user's id and
/// (when the server issues one) its session token.
fn create_user_draft<'a>(raw: &RawStep) -> Option<Draft<'a>> {
    let p = raw.create_user.as_ref()?.as_ref();
    let mut body = Map::new();
    body.insert(
        "name".into(),
        opt_json(p.and_then(|p| p.name.as_ref()), "{{ fake.name }}"),
    );
    put(
        &mut body,
        "externalId",
        p.and_then(|p| p.external_id.clone()),
    );
    put(&mut body, "contact", p.and_then(|p| p.contact.clone()));
    put(&mut body, "extraInfo", p.and_then(|p| p.extra_info.clone()));
    let mut d = Draft::new(Operation::CreateUser, &[]);
    d.body = Some(Value::Object(body));
    d.auto_captures = vec![
        ("user_id", "/user/id", false),
        ("user_token", "/session/token", true),
    ];
    Some(d)
}

/// `create_chat`: in `{{ room }}` by `{{ user_id }}` from source 3 unless
/// given; captures the chat's id and opens it.
fn create_chat_draft<'a>(raw: &RawStep) -> Option<Draft<'a>> {
    let p = raw.create_chat.as_ref()?.as_ref();
    let mut body = Map::new();
    body.insert(
        "room".into(),
        p.and_then(|p| p.room.clone())
            .unwrap_or(json!("{{ room }}")),
    );
    body.insert(
        "creator".into(),
        opt_json(p.and_then(|p| p.creator.as_ref()), "{{ user_id }}"),
    );
    body.insert(
        "source".into(),
        p.and_then(|p| p.source.clone()).unwrap_or(json!(3)),
    );
    put(&mut body, "lang", p.and_then(|p| p.lang.clone()));
    put(
        &mut body,
        "externalId",
        p.and_then(|p| p.external_id.clone()),
    );
    put(&mut body, "history", p.and_then(|p| p.history.clone()));
    let mut d = Draft::new(Operation::CreateChat, &[]);
    d.body = Some(Value::Object(body));
    d.auto_captures = vec![("chat_id", "/chat/id", false)];
    d.chat_effect = ChatEffect::Opens;
    Some(d)
}

/// `assign`: the chat with an optional `algorithm`; captures the agent's id
/// when one was assigned.
fn assign_draft<'a>(raw: &RawStep) -> Option<Draft<'a>> {
    let p = raw.assign.as_ref()?.as_ref();
    let mut d = Draft::new(
        Operation::AssignChat,
        &[chat_of(p.and_then(|p| p.chat.as_ref()))],
    );
    if let Some(alg) = p.and_then(|p| p.algorithm.clone()) {
        d.query.push(("algorithm".into(), Value::String(alg)));
    }
    d.auto_captures = vec![("agent_id", "/agent/id", true)];
    Some(d)
}

/// `send_message`: a greeting naming the VU and iteration, from
/// `{{ user_id }}` unless given; captures the message's id.
fn send_message_draft<'a>(raw: &RawStep) -> Option<Draft<'a>> {
    let p = raw.send_message.as_ref()?.as_ref();
    let chat = chat_of(p.and_then(|p| p.chat.as_ref()));
    let mut d = Draft::new(Operation::SendChatMessage, &[chat]);
    d.body = Some(json!({
        "chatId": chat,
        "sender": opt_json(p.and_then(|p| p.sender.as_ref()), "{{ user_id }}"),
        "message": opt_json(p.and_then(|p| p.message.as_ref()), "Hello from chatload (VU {{ vu }}, iteration {{ iteration }})"),
    }));
    d.auto_captures = vec![("message_id", "/message/id", true)];
    Some(d)
}

/// `close_chat`: closed by `{{ user_id }}` unless another user (or `null`,
/// no body) is given; closes the chat.
fn close_chat_draft<'a>(raw: &RawStep) -> Option<Draft<'a>> {
    let p = raw.close_chat.as_ref()?.as_ref();
    let mut d = Draft::new(
        Operation::CloseChat,
        &[chat_of(p.and_then(|p| p.chat.as_ref()))],
    );
    match p.and_then(|p| p.user.clone()) {
        Some(None) => {}
        Some(Some(user)) => d.body = Some(json!({ "userId": user })),
        None => d.body = Some(json!({ "userId": "{{ user_id }}" })),
    }
    d.chat_effect = ChatEffect::Closes;
    Some(d)
}

/// `mark_read`: `{{ message_id }}` read by `{{ user_id }}` unless given.
fn mark_read_draft<'a>(raw: &RawStep) -> Option<Draft<'a>> {
    let p = raw.mark_read.as_ref()?.as_ref();
    let message = p
        .and_then(|p| p.message.clone())
        .unwrap_or_else(|| "{{ message_id }}".to_owned());
    let mut d = Draft::new(Operation::MarkMessageRead, &[&message]);
    d.body = Some(json!({ "userId": opt_json(p.and_then(|p| p.user.as_ref()), "{{ user_id }}") }));
    Some(d)
}

/// Adds `key` to a request body when the step gave a value for it.
fn put(body: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(value) = value {
        body.insert(key.into(), value.into());
    }
}
