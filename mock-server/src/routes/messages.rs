//! Messages and history (reference §4.5 messages/history, §4.6).

use super::{Reply, created, list, ok};
use crate::auth::{SecretApi, UserApi, Who};
use crate::error::ApiError;
use crate::extract::{Params, PathId};
use crate::store::view::{MessageView, UserView, Wrap};
use crate::store::{AppStore, Chat};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Message types a client may send.
const MESSAGE_TYPES: &[&str] = &["text", "object", "system"];

/// The chat `id`, if the caller may read it: 404 unknown, 403 for a user
/// token whose user is not in it.
fn readable_chat<'s>(store: &'s AppStore, who: &Who, id: &str) -> Result<&'s Chat, ApiError> {
    let chat = store.chat(id)?;
    who.check(|me| store.is_participant(id, me))?;
    Ok(chat)
}

pub(super) async fn messages_list(
    UserApi(api, who): UserApi,
    PathId(id): PathId,
    params: Params,
) -> Reply {
    let page = params.page()?;
    let store = api.app.lock();
    let chat = readable_chat(&store, &who, &id)?;
    Ok(list("messages", &chat.messages, page, MessageView::from))
}

pub(super) async fn messages_send(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Reply {
    let sender = params.required_str("sender")?;
    let kind = params.str("type")?.unwrap_or_else(|| "text".to_owned());
    if !MESSAGE_TYPES.contains(&kind.as_str()) {
        return Err(ApiError::bad_request(
            "`type` must be text, object or system",
        ));
    }
    // The body's `chatId` (the PHP client sends it) is checked for its
    // type only: the path names the chat (the reference is silent).
    params.str("chatId")?;
    let message = match params.value("message") {
        Some(Value::String(s)) if !s.is_empty() => Value::String(s.clone()),
        Some(v @ Value::Object(_)) if kind != "text" => v.clone(),
        _ => match params.str("message")? {
            Some(s) => Value::String(s),
            None => return Err(ApiError::bad_request("`message` is required")),
        },
    };
    api.with_store(|s| {
        let message = s.send_message(&id, &sender, &kind, message)?;
        Ok(created(&Wrap("message", MessageView::from(message))))
    })
}

pub(super) async fn history_get(
    UserApi(api, who): UserApi,
    PathId(id): PathId,
    params: Params,
) -> Reply {
    let format = params.str("format")?.unwrap_or_else(|| "json".to_owned());
    let entries = {
        let store = api.app.lock();
        readable_chat(&store, &who, &id)?;
        store.history(&id)?
    };
    match format.as_str() {
        "json" => Ok(ok(&Wrap("history", entries))),
        "csv" => Ok(csv_response(&entries)),
        _ => Err(ApiError::bad_request("`format` must be json or csv")),
    }
}

fn csv_field(value: Option<&Value>) -> String {
    let text = match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn csv_response(entries: &[Value]) -> Response {
    let mut out = String::from("created,sender,type,message\n");
    for e in entries {
        let fields = ["created", "sender", "type", "message"].map(|k| csv_field(e.get(k)));
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response()
}

/// History entry types the spec's `HistoryEntry` allows.
const HISTORY_TYPES: &[&str] = &["text", "object", "media", "system"];

/// Checks imported history entries against the spec's `HistoryEntry`
/// (`POST /chats` and `POST /chats/{chatId}/history`), so that nothing the
/// export would echo breaks the response schema: a non-empty string
/// `sender`, a string or object `message`, an integer `created` >= 0, and a
/// `type` (if any) of [`HISTORY_TYPES`].
///
/// # Errors
/// 400 naming the first bad entry.
pub(super) fn check_history(entries: &[Value]) -> Result<(), ApiError> {
    let valid = |e: &Value| {
        let sender = e.get("sender").and_then(Value::as_str);
        let message = e.get("message");
        let created = e.get("created").filter(|c| non_negative_integer(c));
        let kind = e.get("type");
        sender.is_some_and(|s| !s.is_empty())
            && message.is_some_and(|m| m.as_str().is_some_and(|s| !s.is_empty()) || is_media_ref(m))
            && created.is_some()
            && kind.is_none_or(|k| k.as_str().is_some_and(|k| HISTORY_TYPES.contains(&k)))
    };
    match entries.iter().position(|e| !valid(e)) {
        None => Ok(()),
        Some(i) => Err(ApiError::bad_request(format!(
            "`history[{i}]` needs a non-empty string `sender`, a `message`, an integer `created` >= 0 and a `type` of text, object, media or system"
        ))),
    }
}

/// A MediaRef: an object with string `url` and `type`, and if present a
/// string `name` and an integer `size` >= 0.
fn is_media_ref(m: &Value) -> bool {
    m.is_object()
        && m.get("url").is_some_and(Value::is_string)
        && m.get("type").is_some_and(Value::is_string)
        && m.get("name").is_none_or(Value::is_string)
        && m.get("size").is_none_or(non_negative_integer)
}

/// An integer from 0 to the spec's maximum (i64::MAX), `7.0` included
/// (JSON Schema's `integer`).
fn non_negative_integer(v: &Value) -> bool {
    // `i64::MAX as f64` rounds up to 2^63, so a float must stay below it.
    v.as_u64().is_some_and(|n| i64::try_from(n).is_ok())
        || (v.is_f64()
            && v.as_f64()
                .is_some_and(|f| f >= 0.0 && f.fract() == 0.0 && f < i64::MAX as f64))
}

pub(super) async fn history_import(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Reply {
    let entries = params
        .array("history")?
        .ok_or_else(|| ApiError::bad_request("`history` is required"))?;
    check_history(&entries)?;
    api.with_store(|s| {
        s.import_history(&id, entries)?;
        Ok(ok(&Wrap("history", s.history(&id)?)))
    })
}

pub(super) async fn messages_read(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Reply {
    let user = params.required_str("userId")?;
    api.with_store(|s| {
        let (chat_id, index) = s.mark_read(&id, &user)?;
        let message = &s.chat(&chat_id)?.messages[index];
        Ok(ok(&json!({
            "user": UserView::from(s.user(&user)?),
            "message": MessageView::from(message),
        })))
    })
}
