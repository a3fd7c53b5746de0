//! Apps, settings, ids and surveys (reference §4.1, §4.3, §4.10, §4.12).

use super::{Reply, list, ok};
use crate::auth::{Api, Credential, PublicApi, SecretApi, UserApi};
use crate::config::{Algorithm, AppConfig};
use crate::error::ApiError;
use crate::extract::{Params, PathId};
use crate::store::view::Wrap;
use crate::store::{AppHandle, AppStore, SettingsUpdate};
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;

/// Regions an app may be in.
const REGIONS: &[&str] = &["eu", "us"];

fn region_param(params: &Params) -> Result<Option<String>, ApiError> {
    match params.str("region")? {
        Some(r) if !REGIONS.contains(&r.as_str()) => {
            Err(ApiError::bad_request("`region` must be eu or us"))
        }
        other => Ok(other),
    }
}

fn app_json(app: &AppHandle, store: &AppStore) -> Value {
    let (name, region) = store.app_info();
    json!({"id": &*app.id, "name": name, "region": region, "domains": []})
}

/// The app a path names (any app: `validate` is public).
fn app_by_id(api: &Api, id: &str) -> Result<Arc<AppHandle>, ApiError> {
    api.state
        .app(id)
        .ok_or_else(|| ApiError::not_found("App not found"))
}

/// The app a path names, if the caller's secret administers it (its own
/// app, or one it created): one tenant's secret never reads or changes
/// another's app.
///
/// # Errors
///
/// 404 unknown app, 403 another tenant's app.
fn administered_app(api: &Api, id: &str) -> Result<Arc<AppHandle>, ApiError> {
    let app = app_by_id(api, id)?;
    if !app.administered_by(&api.app.id) {
        return Err(ApiError::forbidden(
            "This secret administers only its own app and the apps it created",
        ));
    }
    Ok(app)
}

pub(super) async fn apps_validate(
    PublicApi(api): PublicApi,
    PathId(id): PathId,
    _params: Params,
) -> Reply {
    let app = app_by_id(&api, &id)?;
    let body = app_json(&app, &app.lock());
    Ok(ok(&json!({"valid": true, "app": body})))
}

pub(super) async fn apps_list(SecretApi(api): SecretApi, params: Params) -> Reply {
    let page = params.page()?;
    let caller = &api.app.id;
    let apps = api
        .state
        .apps()
        .into_iter()
        .filter(|app| app.administered_by(caller));
    Ok(list("apps", apps, page, |app| app_json(&app, &app.lock())))
}

pub(super) async fn apps_get(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    _params: Params,
) -> Reply {
    let app = administered_app(&api, &id)?;
    let body = app_json(&app, &app.lock());
    Ok(ok(&Wrap("app", body)))
}

pub(super) async fn apps_create(SecretApi(api): SecretApi, params: Params) -> Reply {
    let name = params.required_str("name")?;
    let region = region_param(&params)?.unwrap_or_else(|| "eu".to_owned());
    let queue_mode = params.bool("queueMode")?.unwrap_or(false);
    // Validated as the spec declares them (a list of strings), not stored.
    params.str_list("domains")?;
    let (id, secret, key) = api.with_store(|s| {
        Ok((
            params
                .str("id")?
                .unwrap_or_else(|| format!("app-{}", s.random_hex(4))),
            s.random_hex(16),
            s.random_hex(16),
        ))
    })?;
    let mut config = AppConfig::demo(&id, &secret, &key, queue_mode);
    config.name = Some(name);
    config.region = region;
    let app = api.state.add_app(&config, &api.app.id)?;
    let mut body = app_json(&app, &app.lock());
    body["secret"] = secret.into();
    body["domainKey"] = key.into();
    Ok(ok(&Wrap("app", body)))
}

pub(super) async fn apps_update(
    SecretApi(api): SecretApi,
    PathId(id): PathId,
    params: Params,
) -> Reply {
    let app = administered_app(&api, &id)?;
    let name = params.str("name")?;
    let region = region_param(&params)?;
    params.str_list("domains")?;
    let mut store = app.lock();
    store.update_app(name, region);
    Ok(ok(&Wrap("app", app_json(&app, &store))))
}

fn settings_json(store: &AppStore, full: bool) -> Value {
    let s = store.settings();
    if !full {
        return json!({"settings": {"queue": {"active": s.queue_active}, "languages": s.languages}});
    }
    json!({"settings": {
        "queue": {"active": s.queue_active, "maxSize": s.queue_max_size},
        "languages": s.languages,
        "allowedFileTypes": s.allowed_file_types,
        "maxFileSize": s.max_file_size,
        "assignAlgorithm": s.assign_algorithm.as_str(),
        "inactivityTimeout": s.inactivity_timeout,
    }})
}

pub(super) async fn settings_get(PublicApi(api): PublicApi, _params: Params) -> Response {
    let full = api.credential == Credential::Secret;
    ok(&settings_json(&api.app.lock(), full))
}

pub(super) async fn settings_update(SecretApi(api): SecretApi, params: Params) -> Reply {
    let (queue_active, queue_max_size) = match params.value("queue") {
        None => (None, None),
        Some(Value::Object(queue)) => {
            // `maxSize`: an integer within 0..=2^32-1, as the spec declares.
            let max = Params::from_body(queue.clone())
                .u32("maxSize")
                .map_err(|_| {
                    ApiError::bad_request("`queue.maxSize` must be an integer from 0 to 4294967295")
                })?;
            let active = match queue.get("active") {
                None => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(_) => return Err(ApiError::bad_request("`queue.active` must be a boolean")),
            };
            (active, max)
        }
        Some(_) => return Err(ApiError::bad_request("`queue` must be an object")),
    };
    let assign_algorithm = match params.str("assignAlgorithm")? {
        Some(name) => Some(
            Algorithm::parse(&name).ok_or_else(|| ApiError::bad_request("Unknown algorithm"))?,
        ),
        None => None,
    };
    let update = SettingsUpdate {
        queue_active,
        queue_max_size,
        languages: params.str_list("languages")?,
        allowed_file_types: params.str_list("allowedFileTypes")?,
        assign_algorithm,
        inactivity_timeout: params.u32("inactivityTimeout")?.map(u64::from),
    };
    api.with_store(|s| {
        s.update_settings(update);
        Ok(ok(&settings_json(s, true)))
    })
}

pub(super) async fn id_get(SecretApi(api): SecretApi, _params: Params) -> Reply {
    let id = api.with_store(|s| Ok(s.random_hex(12)))?;
    Ok(ok(&Wrap("id", id)))
}

/// Any positive integer survey id exists; its URL echoes the source. The
/// secret (PHP connectors) or any user's token of the app (the JS adapter,
/// from the browser; reference §4.12) may fetch it.
pub(super) async fn surveys_get(
    UserApi(_api, _who): UserApi,
    PathId(id): PathId,
    params: Params,
) -> Reply {
    let number: u64 = id
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::not_found("Survey not found"))?;
    let source_type = params.str("sourceType")?.unwrap_or_default();
    let source_id = params.str("sourceId")?.unwrap_or_default();
    let url = format!(
        "http://127.0.0.1/surveys/{number}?sourceType={}&sourceId={}",
        encode(&source_type),
        encode(&source_id)
    );
    Ok(ok(&json!({"survey": {"url": url}})))
}

/// Percent-encodes everything but unreserved URL characters.
fn encode(value: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
