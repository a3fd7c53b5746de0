//! Request extractors whose rejections are `ApiError`s: `Params` (query
//! first, then the JSON body, on every method), `PathId`, and `Form`
//! (multipart).
//!
//! axum's own rejections answer plain text; these wrappers make sure every
//! malformed input gets the JSON error envelope instead.

use crate::body_timeout::BodyStalled;
use crate::error::ApiError;
use crate::state::AppState;
use axum::body::{Bytes, HttpBody};
use axum::extract::{FromRequest, FromRequestParts, Multipart, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde_json::{Map, Value};

/// Parameters from the query string and an optional JSON object body.
#[derive(Debug, Default)]
pub struct Params {
    query: Vec<(String, String)>,
    body: Map<String, Value>,
}

/// One raw parameter value.
#[derive(Debug, Clone, Copy)]
enum Raw<'a> {
    Query(&'a str),
    Body(&'a Value),
}

/// What a `u32` parameter must be (its real range, so that `2^32` is not
/// told it is negative).
const U32_RANGE: &str = "an integer within 0..=4294967295";

/// Default and maximum page size of list routes.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest accepted `limit` (larger values answer 400).
pub const MAX_LIMIT: usize = 500;

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let query = match req.uri().query() {
            Some(_) => {
                Query::<Vec<(String, String)>>::try_from_uri(req.uri())
                    .map_err(|_| ApiError::bad_request("Malformed query string"))?
                    .0
            }
            None => Vec::new(),
        };
        // A request known to have no body (most GETs) is not buffered: an
        // empty body gives no parameters whatever its content type, and is
        // a 400 where the spec requires a body (after auth, which the
        // handler's extractors check first).
        if req.body().size_hint().exact() == Some(0) {
            if body_required(&req) {
                return Err(ApiError::bad_request("A request body is required"));
            }
            return Ok(Params {
                query,
                body: Map::new(),
            });
        }
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| mentions_json(v.to_str().unwrap_or("?")));
        let JsonBytes(bytes) = JsonBytes::from_request(req, state).await?;
        let body = parse_json_body(&bytes, json)?;
        Ok(Params { query, body })
    }
}

/// The largest JSON body (axum's default body limit, which every JSON
/// route keeps): larger ones answer 400 "Request body is too large".
pub const JSON_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Room for multipart framing and the text fields around an uploaded file:
/// an upload's body may be `max_media_bytes` plus this.
pub const MULTIPART_OVERHEAD: usize = 64 * 1024;

/// Whether the request's head declares (`Content-Length`) a body larger
/// than `limit`: such a request is refused at once, never waited for
/// (hyper reports the declared length as the body's size hint).
fn declares_more_than(req: &Request, limit: usize) -> bool {
    req.body().size_hint().lower() > limit as u64
}

/// Whether a body read failed because the client stopped sending it
/// ([`BodyStalled`], from the server's body timeout).
fn is_stalled(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if e.is::<BodyStalled>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// A JSON body's raw bytes, at most [`JSON_BODY_LIMIT`]: 400 "Request body
/// is too large" over it, from the declared `Content-Length` alone when
/// there is one (chunked bodies when they pass the limit), and 400 when the
/// body cannot be read (e.g. it stalled past the body timeout).
#[derive(Debug)]
pub struct JsonBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let too_large = || ApiError::bad_request("Request body is too large");
        if declares_more_than(&req, JSON_BODY_LIMIT) {
            return Err(too_large());
        }
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(JsonBytes(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(too_large())
            }
            Err(rejection) if is_stalled(&rejection) => Err(ApiError::bad_request(
                "The request body stalled: nothing arrived within the body timeout",
            )),
            Err(_) => Err(ApiError::bad_request("Could not read the request body")),
        }
    }
}

/// Whether the request's operation declares its body `required`.
fn body_required(req: &Request) -> bool {
    req.extensions()
        .get::<axum::extract::MatchedPath>()
        .and_then(|path| crate::operation::served(req.method(), path.as_str()))
        .is_some_and(chatload_api::Operation::body_required)
}

/// Whether a content type names JSON (`json` anywhere, any case).
fn mentions_json(content_type: &str) -> bool {
    content_type
        .as_bytes()
        .windows(4)
        .any(|w| w.eq_ignore_ascii_case(b"json"))
}

#[cfg(test)]
fn parse_body(bytes: &[u8], content_type: Option<&str>) -> Result<Map<String, Value>, ApiError> {
    parse_json_body(bytes, content_type.map(mentions_json))
}

/// The body's JSON object; `json` tells whether the content type names
/// JSON (`None`: no content type was sent, which is a 400 as well).
fn parse_json_body(bytes: &[u8], json: Option<bool>) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    // A JSON body needs its content type: a missing one is as wrong as a
    // wrong one (reference §3.1; the spec declares no 415, so 400).
    if json != Some(true) {
        return Err(ApiError::bad_request(
            "Content-Type must be application/json",
        ));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request("Request body must be a JSON object")),
        Err(err) => Err(ApiError::bad_request(format!("Malformed JSON body: {err}"))),
    }
}

fn type_error(name: &str, what: &str) -> ApiError {
    ApiError::bad_request(format!("`{name}` must be {what}"))
}

impl Params {
    /// Params from a JSON object (for tests and internal use).
    pub fn from_body(body: Map<String, Value>) -> Params {
        Params {
            query: Vec::new(),
            body,
        }
    }

    fn query_value(&self, name: &str) -> Option<Raw<'_>> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| Raw::Query(v))
    }

    /// A body field, `null` included: the spec declares no nullable
    /// request field, so every typed reader rejects `null` with 400.
    fn body_value(&self, name: &str) -> Option<Raw<'_>> {
        self.body.get(name).map(Raw::Body)
    }

    fn raw(&self, name: &str) -> Option<Raw<'_>> {
        self.query_value(name).or_else(|| self.body_value(name))
    }

    /// A string value; empty is a 400 (every request string of the spec
    /// has `minLength: 1`).
    fn string_of(name: &str, raw: Option<Raw<'_>>) -> Result<Option<String>, ApiError> {
        match raw {
            None => Ok(None),
            Some(Raw::Query(s)) if !s.is_empty() => Ok(Some(s.to_owned())),
            Some(Raw::Body(Value::String(s))) if !s.is_empty() => Ok(Some(s.clone())),
            Some(Raw::Query(_) | Raw::Body(Value::String(_))) => {
                Err(type_error(name, "a non-empty string"))
            }
            Some(Raw::Body(_)) => Err(type_error(name, "a string")),
        }
    }

    /// An optional string (query first, then body).
    ///
    /// # Errors
    ///
    /// 400 when the body value is not a string.
    pub fn str(&self, name: &str) -> Result<Option<String>, ApiError> {
        Self::string_of(name, self.raw(name))
    }

    /// An optional string read from the body first, then the query.
    ///
    /// # Errors
    ///
    /// 400 when the body value is not a string.
    pub fn str_body_first(&self, name: &str) -> Result<Option<String>, ApiError> {
        let raw = self.body_value(name).or_else(|| self.query_value(name));
        Self::string_of(name, raw)
    }

    /// A required non-empty string.
    ///
    /// # Errors
    ///
    /// 400 when missing, empty or not a string.
    pub fn required_str(&self, name: &str) -> Result<String, ApiError> {
        self.str(name)?
            .ok_or_else(|| ApiError::bad_request(format!("`{name}` is required")))
    }

    /// An optional non-negative integer up to `u32::MAX`, given as a number
    /// or a numeric string (e.g. room ids: `1` or `"1"`).
    ///
    /// # Errors
    ///
    /// 400 otherwise.
    pub fn u32(&self, name: &str) -> Result<Option<u32>, ApiError> {
        let Some(raw) = self.raw(name) else {
            return Ok(None);
        };
        parse_u32(raw)
            .map(Some)
            .ok_or_else(|| type_error(name, U32_RANGE))
    }

    /// A required [`Self::u32`].
    ///
    /// # Errors
    ///
    /// 400 when missing or invalid.
    pub fn required_u32(&self, name: &str) -> Result<u32, ApiError> {
        self.u32(name)?
            .ok_or_else(|| ApiError::bad_request(format!("`{name}` is required")))
    }

    /// An optional boolean (`true`/`false`, `1`/`0`).
    ///
    /// # Errors
    ///
    /// 400 otherwise.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        let parsed = match self.raw(name) {
            None => return Ok(None),
            Some(Raw::Body(Value::Bool(b))) => Some(*b),
            Some(raw @ (Raw::Query(_) | Raw::Body(Value::String(_)))) => match text(raw) {
                Some("true" | "1") => Some(true),
                Some("false" | "0") => Some(false),
                _ => None,
            },
            Some(Raw::Body(Value::Number(n))) => n.as_u64().filter(|v| *v <= 1).map(|v| v == 1),
            Some(Raw::Body(_)) => None,
        };
        parsed
            .map(Some)
            .ok_or_else(|| type_error(name, "a boolean"))
    }

    /// A list of room-like ids: comma-separated in the query, an array in
    /// the body (as the spec declares it).
    ///
    /// # Errors
    ///
    /// 400 when an element is not a non-negative integer (an empty one
    /// included), or a body value is not an array.
    pub fn u32_list(&self, name: &str) -> Result<Option<Vec<u32>>, ApiError> {
        let err = || type_error(name, "a list of integers within 0..=4294967295");
        match self.raw(name) {
            None => Ok(None),
            // Every element counts: `1,,2` breaks the spec's pattern.
            Some(raw @ Raw::Query(_)) => text(raw)
                .unwrap_or("")
                .split(',')
                .map(|p| p.trim().parse::<u32>().map_err(|_| err()))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(Raw::Body(Value::Array(items))) => items
                .iter()
                .map(|v| parse_u32(Raw::Body(v)).ok_or_else(err))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(Raw::Body(_)) => Err(err()),
        }
    }

    /// A list of strings: comma-separated in the query, an array of
    /// non-empty strings in the body (as the spec declares it).
    ///
    /// # Errors
    ///
    /// 400 when an element is not a non-empty string, or a body value is
    /// not an array.
    pub fn str_list(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            // An empty query value (`langs=`) breaks the spec's
            // `minLength: 1`, like an empty string anywhere else.
            Some(Raw::Query("")) => Err(type_error(name, "a non-empty list")),
            Some(raw @ Raw::Query(_)) => Ok(Some(
                split(text(raw).unwrap_or("")).map(str::to_owned).collect(),
            )),
            Some(Raw::Body(Value::Array(items))) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .ok_or_else(|| type_error(name, "a list of non-empty strings"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(Raw::Body(_)) => Err(type_error(name, "a list of strings")),
        }
    }

    /// An optional JSON object from the body.
    ///
    /// # Errors
    ///
    /// 400 when present and not an object.
    pub fn object(&self, name: &str) -> Result<Option<Value>, ApiError> {
        match self.body_value(name) {
            None => Ok(None),
            Some(Raw::Body(v @ Value::Object(_))) => Ok(Some(v.clone())),
            Some(_) => Err(type_error(name, "an object")),
        }
    }

    /// An optional JSON array from the body.
    ///
    /// # Errors
    ///
    /// 400 when present and not an array.
    pub fn array(&self, name: &str) -> Result<Option<Vec<Value>>, ApiError> {
        match self.body_value(name) {
            None => Ok(None),
            Some(Raw::Body(Value::Array(items))) => Ok(Some(items.clone())),
            Some(_) => Err(type_error(name, "an array")),
        }
    }

    /// 400 naming the first body field not in `known` (for request bodies
    /// the spec closes with `additionalProperties: false`).
    ///
    /// # Errors
    ///
    /// 400 for a body field not in `known`.
    pub fn only_body_fields(&self, known: &[&str]) -> Result<(), ApiError> {
        match self.body.keys().find(|k| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some(field) => Err(ApiError::bad_request(format!(
                "`{field}` is not a field of this request (it takes {})",
                known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// An optional raw body value (any JSON type, `null` included: the
    /// caller rejects what it cannot use).
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.body.get(name)
    }

    /// `(offset, limit)`: `limit` defaults to 50, `offset` to 0.
    ///
    /// # Errors
    ///
    /// 400 when `offset` is not an integer within `0..=2^32-1` or `limit`
    /// not one within `1..=500` (the spec's bounds: rejected, not clamped).
    pub fn page(&self) -> Result<(usize, usize), ApiError> {
        let offset = self.u32("offset")?.unwrap_or(0) as usize;
        let limit = match self.u32("limit")? {
            None => DEFAULT_LIMIT,
            Some(l) if (1..=MAX_LIMIT).contains(&(l as usize)) => l as usize,
            Some(_) => return Err(type_error("limit", "an integer within 1..=500")),
        };
        Ok((offset, limit))
    }
}

/// The text of a query value or a JSON string.
fn text(raw: Raw<'_>) -> Option<&str> {
    match raw {
        Raw::Query(s) => Some(s),
        Raw::Body(Value::String(s)) => Some(s),
        Raw::Body(_) => None,
    }
}

fn split(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|p| !p.is_empty())
}

fn parse_u32(raw: Raw<'_>) -> Option<u32> {
    match raw {
        Raw::Query(_) | Raw::Body(Value::String(_)) => text(raw)?.trim().parse().ok(),
        Raw::Body(Value::Number(n)) => integral(n).and_then(|v| u32::try_from(v).ok()),
        Raw::Body(_) => None,
    }
}

/// A JSON number with no fractional part (`12400` or `12400.0`, both
/// integers to JSON Schema) as an `i64`.
fn integral(n: &serde_json::Number) -> Option<i64> {
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && (i64::MIN as f64..i64::MAX as f64).contains(f))
            .map(|f| f as i64)
    })
}

/// The single path parameter of a route (e.g. `{chatId}`).
#[derive(Debug)]
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| PathId(id))
            .map_err(|_| ApiError::bad_request("Invalid path parameter"))
    }
}

/// A `multipart/form-data` body.
#[derive(Debug)]
pub struct Form(pub Multipart);

impl FromRequest<AppState> for Form {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        // The same answer as a streamed upload over the limit, given at
        // once from the head.
        if declares_more_than(&req, state.config().max_media_bytes + MULTIPART_OVERHEAD) {
            return Err(ApiError::PayloadTooLarge("File is too large".into()));
        }
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let multipart =
            content_type.split(';').next().map(str::trim) == Some("multipart/form-data");
        let boundary = content_type.split(';').any(|p| {
            p.trim()
                .strip_prefix("boundary=")
                .is_some_and(|b| !b.is_empty())
        });
        if multipart && !boundary {
            return Err(ApiError::bad_request(
                "Content-Type multipart/form-data has no boundary parameter \
                 (multipart/form-data; boundary=...)",
            ));
        }
        Multipart::from_request(req, state)
            .await
            .map(Form)
            .map_err(|_| ApiError::bad_request("Content-Type must be multipart/form-data"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(body: Value) -> Params {
        match body {
            Value::Object(map) => Params::from_body(map),
            _ => Params::default(),
        }
    }

    #[test]
    fn room_accepts_number_or_string() {
        assert_eq!(params(json!({"room": 1})).u32("room"), Ok(Some(1)));
        assert_eq!(params(json!({"room": "2"})).u32("room"), Ok(Some(2)));
        assert!(params(json!({"room": "x"})).u32("room").is_err());
        assert!(params(json!({"room": -1})).u32("room").is_err());
    }

    #[test]
    fn malformed_json_and_non_objects_are_bad_requests() {
        assert!(parse_body(b"{", None).is_err());
        assert!(parse_body(b"{}", None).is_err(), "no content type");
        assert!(parse_body(b"[1]", Some("application/json")).is_err());
        assert_eq!(
            parse_body(b"{}", Some("text/plain")).map_err(|e| e.status()),
            Err(StatusCode::BAD_REQUEST)
        );
        assert!(parse_body(b"{}", Some("Application/JSON; charset=utf-8")).is_ok());
        assert!(parse_body(b"{}", Some("application/vnd.api+Json")).is_ok());
        assert!(parse_body(b" ", Some("text/plain")).is_ok());
    }

    #[test]
    fn integral_floats_are_integers_and_null_is_no_value() {
        assert_eq!(
            params(json!({"room": 12400.0})).u32("room"),
            Ok(Some(12400))
        );
        assert!(params(json!({"room": 1.5})).u32("room").is_err());
        assert!(params(json!({"name": null})).str("name").is_err());
        assert!(params(json!({"room": null})).u32("room").is_err());
    }

    #[test]
    fn limit_outside_its_bounds_is_rejected_not_clamped() {
        let page = |limit: u64| params(json!({"limit": limit})).page();
        assert_eq!(page(500), Ok((0, 500)));
        assert!(page(501).is_err());
        assert!(page(0).is_err());
        assert_eq!(
            params(json!({"offset": 4_294_967_295_u64})).page(),
            Ok((4_294_967_295, 50))
        );
    }

    /// See: audit 2 of the mock, finding 8 (`offset=4294967296` was told
    /// it must be non-negative).
    #[test]
    fn a_u32_out_of_range_is_told_its_range() {
        let mut p = Params::default();
        p.query.push(("offset".to_owned(), "4294967296".to_owned()));
        let message = p.page().expect_err("2^32").to_string();
        assert!(message.contains("0..=4294967295"), "{message}");
        let message = params(json!({"rooms": [4_294_967_296_u64]}))
            .u32_list("rooms")
            .expect_err("2^32")
            .to_string();
        assert!(message.contains("0..=4294967295"), "{message}");
    }

    #[test]
    fn a_query_list_of_ids_refuses_an_empty_element() {
        let query = |value: &str| {
            let mut p = Params::default();
            p.query.push(("roomIds".to_owned(), value.to_owned()));
            p.u32_list("roomIds")
        };
        assert_eq!(query("1, 2"), Ok(Some(vec![1, 2])));
        for broken in ["1,,2", "1,", ""] {
            assert!(query(broken).is_err(), "{broken:?}");
        }
    }

    #[test]
    fn body_first_prefers_the_body() {
        let mut p = params(json!({"userId": "u-body"}));
        p.query.push(("userId".to_owned(), "u-query".to_owned()));
        assert_eq!(p.str_body_first("userId"), Ok(Some("u-body".to_owned())));
        assert_eq!(p.str("userId"), Ok(Some("u-query".to_owned())));
    }
}
