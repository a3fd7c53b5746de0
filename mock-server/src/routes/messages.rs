//! Messages and history (reference §4.5 messages/history, §4.6).

use super::{json, ok};
use crate::auth::{SecretApi, UserApi};
use crate::error::ApiError;
use crate::extract::{Params, PathId};
use crate::store::view::{MessageView, UserView, Wrap};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Message types a client may send.
const MESSAGE_TYPES: &[&str] = &["text", "object", "system"];

pub(super) async fn messages_list(
    UserApi(api, who): UserApi,
    PathId(id): PathId,
    params: Params,
) -> Result<Response, ApiError> {
    let page = params.page()?;
    let store = api.app.lock();
    let chat = store.chat(&id)?;
    who.check(|me| store.is_participant(&id, me))?;
    let messages: Vec<MessageView<'_>> = super::page(&chat.messages, page)
        .into_iter()
        .map(MessageView::from)
        .collect();
    Ok(ok(&Wrap("messages", messages)))
}

pub(super) async fn messages_send(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Result<Response, ApiError> {
    let sender = params.required_str("sender")?;
    let kind = params.str("type")?.unwrap_or_else(|| "text".to_owned());
    if !MESSAGE_TYPES.contains(&kind.as_str()) {
        return Err(ApiError::bad_request(
            "`type` must be text, object or system",
        ));
    }
    if let Some(chat_id) = params.str("chatId")?
        && chat_id != id
    {
        return Err(ApiError::bad_request("`chatId` does not match the path"));
    }
    let message = match params.value("message") {
        Some(Value::String(s)) if !s.trim().is_empty() => Value::String(s.clone()),
        Some(v @ Value::Object(_)) if kind != "text" => v.clone(),
        _ => match params.str("message")? {
            Some(s) if !s.trim().is_empty() => Value::String(s),
            _ => return Err(ApiError::bad_request("`message` is required")),
        },
    };
    api.state.with_store(&api.app, |s| {
        let message = s.send_message(&id, &sender, &kind, message)?;
        Ok(json(
            StatusCode::CREATED,
            &Wrap("message", MessageView::from(message)),
        ))
    })
}

pub(super) async fn history_get(
    UserApi(api, who): UserApi,
    PathId(id): PathId,
    params: Params,
) -> Result<Response, ApiError> {
    let format = params.str("format")?.unwrap_or_else(|| "json".to_owned());
    let entries = {
        let store = api.app.lock();
        store.chat(&id)?;
        who.check(|me| store.is_participant(&id, me))?;
        store.history(&id)?
    };
    match format.as_str() {
        "json" => Ok(ok(&json!({ "history": entries }))),
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

pub(super) async fn history_import(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Result<Response, ApiError> {
    let entries = params
        .array("history")?
        .ok_or_else(|| ApiError::bad_request("`history` is required"))?;
    let valid = entries.iter().all(|e| {
        e.get("sender").is_some_and(Value::is_string)
            && e.get("message")
                .is_some_and(|m| m.is_string() || m.is_object())
    });
    if !valid {
        return Err(ApiError::bad_request(
            "`history` entries need a string `sender` and a `message`",
        ));
    }
    api.state.with_store(&api.app, |s| {
        s.import_history(&id, entries)?;
        Ok(ok(&json!({ "history": s.history(&id)? })))
    })
}

pub(super) async fn messages_read(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Result<Response, ApiError> {
    let user = params.required_str("userId")?;
    api.state.with_store(&api.app, |s| {
        let (chat_id, index) = s.mark_read(&id, &user)?;
        let message = &s.chat(&chat_id)?.messages[index];
        Ok(ok(&json!({
            "user": UserView::from(s.user(&user)?),
            "message": MessageView::from(message),
        })))
    })
}
