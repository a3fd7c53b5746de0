//! Users: sign-up, lookup, update and activity (reference §4.4).

use super::{Reply, created, list, ok, success};
use crate::auth::{PublicApi, SecretApi, UserApi};
use crate::error::ApiError;
use crate::extract::{Params, PathId};
use crate::store::view::{UserView, Wrap};

/// `POST /users` answer: `{"user": {...}, "session": {"token": "..."}}`.
#[derive(serde::Serialize)]
struct Created<'a> {
    user: UserView<'a>,
    session: Wrap<&'a String>,
}

/// Activity types accepted by `POST /users/{userId}/activity`.
const ACTIVITY_TYPES: &[&str] = &["writing", "not-writing", "stop-writing", "away"];

pub(super) async fn users_create(PublicApi(api): PublicApi, params: Params) -> Reply {
    let name = params.required_str("name")?;
    let external_id = params.str("externalId")?;
    let contact = params.str("contact")?;
    let extra_info = params.object("extraInfo")?;
    api.with_store(|s| {
        let (id, token) = s.create_user(&name, external_id, contact, extra_info)?;
        // Serialized straight from the view: no intermediate `Value` tree.
        Ok(created(&Created {
            user: UserView::from(s.user(&id)?),
            session: Wrap("token", &token),
        }))
    })
}

pub(super) async fn users_list(SecretApi(api): SecretApi, params: Params) -> Reply {
    let external_id = params.str("externalId")?;
    let page = params.page()?;
    let store = api.app.lock();
    let users = store.list_users(external_id.as_deref());
    Ok(list("users", users, page, UserView::from))
}

pub(super) async fn users_get(
    UserApi(api, who): UserApi,
    PathId(id): PathId,
    _params: Params,
) -> Reply {
    let store = api.app.lock();
    let user = store.user(&id)?;
    who.check(|me| me == id)?;
    Ok(ok(&Wrap("user", UserView::from(user))))
}

pub(super) async fn users_update(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Reply {
    let name = params.str("name")?.filter(|n| !n.trim().is_empty());
    let external_id = params.str("externalId")?;
    let contact = params.str("contact")?;
    let extra_info = params.object("extraInfo")?;
    api.with_store(|s| {
        s.update_user(&id, name, external_id, contact, extra_info)?;
        Ok(ok(&Wrap("user", UserView::from(s.user(&id)?))))
    })
}

pub(super) async fn users_activity(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Reply {
    let kind = params.required_str("type")?;
    if !ACTIVITY_TYPES.contains(&kind.as_str()) {
        return Err(ApiError::bad_request(
            "`type` must be writing, not-writing, stop-writing or away",
        ));
    }
    let chat_id = params.required_str("chatId")?;
    api.with_store(|s| s.user_activity(&id, Some(&chat_id), &kind))?;
    Ok(success())
}
