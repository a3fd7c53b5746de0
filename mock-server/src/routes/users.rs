//! Users: sign-up, lookup, update and activity (reference §4.4).

use super::{json, ok, success};
use crate::auth::{PublicApi, SecretApi, UserApi};
use crate::error::ApiError;
use crate::extract::{Params, PathId};
use crate::store::view::{UserView, Wrap};
use axum::http::StatusCode;
use axum::response::Response;

/// `POST /users` answer: `{"user": {...}, "session": {"token": "..."}}`.
#[derive(serde::Serialize)]
struct Created<'a> {
    user: UserView<'a>,
    session: Wrap<&'a String>,
}

/// Activity types accepted by `POST /users/{userId}/activity`.
const ACTIVITY_TYPES: &[&str] = &["writing", "not-writing", "stop-writing", "away"];

pub(super) async fn users_create(
    PublicApi(api): PublicApi,
    params: Params,
) -> Result<Response, ApiError> {
    let name = params.required_str("name")?;
    let external_id = params.str("externalId")?;
    let contact = params.str("contact")?;
    let extra_info = params.object("extraInfo")?;
    api.state.with_store(&api.app, |s| {
        let (id, token) = s.create_user(&name, external_id, contact, extra_info)?;
        // Serialized straight from the view: no intermediate `Value` tree.
        Ok(json(
            StatusCode::CREATED,
            &Created {
                user: UserView::from(s.user(&id)?),
                session: Wrap("token", &token),
            },
        ))
    })
}

pub(super) async fn users_list(
    SecretApi(api): SecretApi,
    params: Params,
) -> Result<Response, ApiError> {
    let external_id = params.str("externalId")?;
    let page = params.page()?;
    let store = api.app.lock();
    let users: Vec<UserView<'_>> = super::page(store.list_users(external_id.as_deref()), page)
        .into_iter()
        .map(UserView::from)
        .collect();
    Ok(ok(&Wrap("users", users)))
}

pub(super) async fn users_get(
    UserApi(api, who): UserApi,
    PathId(id): PathId,
    _params: Params,
) -> Result<Response, ApiError> {
    let store = api.app.lock();
    let user = store.user(&id)?;
    who.check(|me| me == id)?;
    Ok(ok(&Wrap("user", UserView::from(user))))
}

pub(super) async fn users_update(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Result<Response, ApiError> {
    let name = params.str("name")?.filter(|n| !n.trim().is_empty());
    let external_id = params.str("externalId")?;
    let contact = params.str("contact")?;
    let extra_info = params.object("extraInfo")?;
    api.state.with_store(&api.app, |s| {
        s.update_user(&id, name, external_id, contact, extra_info)?;
        Ok(ok(&Wrap("user", UserView::from(s.user(&id)?))))
    })
}

pub(super) async fn users_activity(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Result<Response, ApiError> {
    let kind = params.required_str("type")?;
    if !ACTIVITY_TYPES.contains(&kind.as_str()) {
        return Err(ApiError::bad_request(
            "`type` must be writing, not-writing, stop-writing or away",
        ));
    }
    let chat_id = params.required_str("chatId")?;
    api.state
        .with_store(&api.app, |s| s.user_activity(&id, Some(&chat_id), &kind))?;
    Ok(success())
}
