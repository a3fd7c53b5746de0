//! Authentication extractors for the three route classes of reference §2.3.
//!
//! * [`PublicApi`]: App ID alone, or with a valid domain key, token or
//!   secret (the six public routes).
//! * [`UserApi`]: the secret, or a user's token (`Who::User`); the handler
//!   then checks the user may see the resource (403 otherwise).
//! * [`SecretApi`]: the secret only. None sent → 401; a domain key or token
//!   sent instead → 403.
//!
//! For every class: missing/unknown `x-hyper-appId` → 401, and any invalid
//! credential that was sent (wrong secret, domain key or token) → 401.
//! Header names are case-insensitive (`HeaderMap`). `GET /media/{mediaId}`
//! also takes `?appId=&secret=`. Credentials never appear in messages.

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{AppHandle, AppStore};
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderName, Method};
use chatload_api::headers;
use std::collections::HashMap;
use std::sync::Arc;

// Header names as `HeaderName`s: a lookup by `&str` parses and validates
// the name on every request.
pub(crate) const APP_ID: HeaderName = HeaderName::from_static(headers::lower::APP_ID);
const SECRET: HeaderName = HeaderName::from_static(headers::lower::SECRET);
const TOKEN: HeaderName = HeaderName::from_static(headers::lower::USER_TOKEN);
const KEY: HeaderName = HeaderName::from_static(headers::lower::DOMAIN_KEY);

/// The credential a request presented (already checked, except tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// App ID only.
    AppIdOnly,
    /// The correct secret.
    Secret,
    /// The correct domain key.
    DomainKey,
    /// A user token (not yet resolved).
    Token(String),
}

/// A request's app and credential.
#[derive(Debug, Clone)]
pub struct Api {
    /// Shared server state.
    pub state: AppState,
    /// The app named by `x-hyper-appId`.
    pub app: Arc<AppHandle>,
    /// What it presented.
    pub credential: Credential,
}

impl Api {
    /// Runs one store rule under the app's lock, then hands its deferred
    /// work over unlocked ([`AppState::with_store`]).
    ///
    /// # Errors
    ///
    /// The rule's.
    pub fn with_store<R>(
        &self,
        rule: impl FnOnce(&mut AppStore) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        self.state.with_store(&self.app, rule)
    }
}

/// A credential header's value (trimmed; empty counts as absent). A value
/// that is present but not visible ASCII is a 401 saying so (`invalid`),
/// not taken for a missing header.
fn header<'a>(
    parts: &'a Parts,
    name: &HeaderName,
    invalid: &'static str,
) -> Result<Option<&'a str>, ApiError> {
    let Some(value) = parts.headers.get(name) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized(invalid))?
        .trim();
    Ok((!text.is_empty()).then_some(text))
}

impl FromRequestParts<AppState> for Api {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Only the media download takes credentials in the query string.
        let query: HashMap<String, String> =
            if parts.method == Method::GET && parts.uri.path().starts_with("/v1/media/") {
                Query::try_from_uri(&parts.uri).map_or_else(|_| HashMap::new(), |q| q.0)
            } else {
                HashMap::new()
            };
        let app_id = header(parts, &APP_ID, "x-hyper-appId is not valid ASCII text")?
            .or_else(|| query.get("appId").map(String::as_str))
            .ok_or(ApiError::Unauthorized("Missing x-hyper-appId"))?;
        let app = state
            .app(app_id)
            .ok_or(ApiError::Unauthorized("Unknown app id"))?;
        let secret = header(parts, &SECRET, "x-hyper-secret is not valid ASCII text")?
            .or_else(|| query.get("secret").map(String::as_str));
        let credential = if let Some(secret) = secret {
            if secret != app.secret {
                return Err(ApiError::Unauthorized("Invalid secret"));
            }
            Credential::Secret
        } else if let Some(token) = header(parts, &TOKEN, "x-hyper-token is not valid ASCII text")?
        {
            Credential::Token(token.to_owned())
        } else if let Some(key) = header(parts, &KEY, "x-hyper-key is not valid ASCII text")? {
            if app.domain_key.as_deref() != Some(key) {
                return Err(ApiError::Unauthorized("Invalid domain key"));
            }
            Credential::DomainKey
        } else {
            Credential::AppIdOnly
        };
        Ok(Api {
            state: state.clone(),
            app,
            credential,
        })
    }
}

/// Secret-only routes.
#[derive(Debug, Clone)]
pub struct SecretApi(pub Api);

impl FromRequestParts<AppState> for SecretApi {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let api = Api::from_request_parts(parts, state).await?;
        match api.credential {
            Credential::Secret => Ok(SecretApi(api)),
            Credential::AppIdOnly => Err(ApiError::Unauthorized("Missing x-hyper-secret")),
            Credential::DomainKey | Credential::Token(_) => {
                Err(ApiError::forbidden("This route requires the app secret"))
            }
        }
    }
}

/// Public routes.
#[derive(Debug, Clone)]
pub struct PublicApi(pub Api);

impl FromRequestParts<AppState> for PublicApi {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let api = Api::from_request_parts(parts, state).await?;
        if let Credential::Token(token) = &api.credential {
            api.app.lock().user_of_token(token)?;
        }
        Ok(PublicApi(api))
    }
}

/// Who is acting on a user-scoped route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// The app secret: may see everything.
    Secret,
    /// The user owning the token.
    User(String),
}

impl Who {
    /// 403 unless the secret was given or `allowed(user_id)` holds.
    ///
    /// # Errors
    ///
    /// 403 when the token's user may not see the resource.
    pub fn check(&self, allowed: impl FnOnce(&str) -> bool) -> Result<(), ApiError> {
        match self {
            Who::Secret => Ok(()),
            Who::User(id) if allowed(id) => Ok(()),
            Who::User(_) => Err(ApiError::forbidden("Not allowed for this user")),
        }
    }
}

/// User-token routes.
#[derive(Debug, Clone)]
pub struct UserApi(pub Api, pub Who);

impl FromRequestParts<AppState> for UserApi {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let api = Api::from_request_parts(parts, state).await?;
        let who = match &api.credential {
            Credential::Secret => Who::Secret,
            Credential::Token(token) => Who::User(api.app.lock().user_of_token(token)?.to_owned()),
            Credential::AppIdOnly => {
                return Err(ApiError::Unauthorized(
                    "Missing x-hyper-secret or x-hyper-token",
                ));
            }
            Credential::DomainKey => {
                return Err(ApiError::forbidden(
                    "This route requires the app secret or a user token",
                ));
            }
        };
        Ok(UserApi(api, who))
    }
}
