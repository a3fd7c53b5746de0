//! Building hyper requests from an [`ApiRequest`]: the credential headers,
//! the extra headers, the body's type, the URL; and [`PreparedRequest`],
//! a template-free request built once and sent many times.

use bytes::Bytes;
use http_body_util::Full;
use reqwest::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue, USER_AGENT};

use super::{ApiClient, ApiRequest, AuthHeaders, ClientError};
use crate::api::{Method, headers};

/// A request built once by [`ApiClient::prepare`], sent many times with
/// [`ApiClient::send_prepared`]; cloning its parts costs a few reference
/// counts instead of URL parsing and a header map built from scratch.
#[derive(Debug)]
pub struct PreparedRequest {
    pub(super) method: hyper::Method,
    pub(super) uri: hyper::Uri,
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
}

impl PreparedRequest {
    /// Bytes of its body.
    pub fn body_len(&self) -> usize {
        self.body.len()
    }

    /// A new hyper request of it (reference counts, no copy).
    pub(super) fn request(&self) -> hyper::Request<Full<Bytes>> {
        let mut request = hyper::Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

const USER_AGENT_VALUE: HeaderValue =
    HeaderValue::from_static(concat!("chatload/", env!("CARGO_PKG_VERSION")));
const JSON: HeaderValue = HeaderValue::from_static("application/json");

const APP_ID: HeaderName = HeaderName::from_static(headers::lower::APP_ID);
const SECRET: HeaderName = HeaderName::from_static(headers::lower::SECRET);
const DOMAIN_KEY: HeaderName = HeaderName::from_static(headers::lower::DOMAIN_KEY);
const TOKEN: HeaderName = HeaderName::from_static(headers::lower::USER_TOKEN);

impl ApiClient {
    /// The credential headers `auth` asks for, in order.
    pub(super) fn auth_headers(
        &self,
        auth: AuthHeaders<'_>,
        mut put: impl FnMut(HeaderName, HeaderValue),
    ) {
        if let Some(app_id) = &self.app_id
            && auth != AuthHeaders::None
        {
            put(APP_ID, app_id.clone());
        }
        match auth {
            AuthHeaders::Secret => {
                if let Some(s) = &self.secret {
                    put(SECRET, s.clone());
                }
            }
            AuthHeaders::DomainKey => {
                if let Some(k) = &self.domain_key {
                    put(DOMAIN_KEY, k.clone());
                }
            }
            AuthHeaders::Token(token) => {
                if let Ok(mut v) = HeaderValue::from_str(token) {
                    v.set_sensitive(true);
                    put(TOKEN, v);
                }
            }
            AuthHeaders::AppId | AuthHeaders::None => {}
        }
    }

    /// A hyper request for `url` (absolute for the pool, origin-form for a
    /// [`super::ConnSlot`], which then needs `host`).
    pub(super) fn hyper_request(
        &self,
        url: String,
        host: Option<&HeaderValue>,
        req: ApiRequest<'_>,
    ) -> Result<hyper::Request<Full<Bytes>>, ClientError> {
        let uri = hyper::Uri::try_from(url).map_err(|_| ClientError::Other)?;
        let method = http_method(req.method);
        let mut headers = if self.extra.is_empty() {
            HeaderMap::with_capacity(6)
        } else {
            self.extra.clone()
        };
        if let Some(host) = host {
            headers.insert(HOST, host.clone());
        }
        headers.insert(USER_AGENT, USER_AGENT_VALUE);
        self.auth_headers(req.auth, |n, v| {
            headers.insert(n, v);
        });
        for (name, value) in req.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(n, v);
            }
        }
        let body = match req.body {
            Some(body) => {
                headers.insert(CONTENT_TYPE, content_type(req.content_type)?);
                Full::new(body)
            }
            None => Full::new(Bytes::new()),
        };
        let mut request = hyper::Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        Ok(request)
    }

    /// The origin-form hyper request a [`super::ConnSlot`] sends for `req`.
    pub(super) fn slot_request(
        &self,
        host: &HeaderValue,
        req: ApiRequest<'_>,
    ) -> Result<hyper::Request<Full<Bytes>>, ClientError> {
        let url = join_url(&self.path_prefix, &req);
        self.hyper_request(url, Some(host), req)
    }

    /// Builds once what [`ApiClient::send_on`] would build for `req` on every
    /// call, for a request whose every part is fixed (no template). `None`
    /// when requests do not go over [`super::ConnSlot`]s, or when `req` cannot
    /// be built (then `send_on` reports the error).
    ///
    /// Each virtual user prepares its own copy: its header values and URI are
    /// then reference-counted in memory no other thread touches.
    pub fn prepare(&self, req: ApiRequest<'_>) -> Option<PreparedRequest> {
        let host = self.host.as_ref()?;
        let body = req.body.clone().unwrap_or_default();
        let (parts, _) = self.slot_request(host, req).ok()?.into_parts();
        // Sized to its headers (it is kept per VU), values copied.
        let mut headers = HeaderMap::with_capacity(parts.headers.len());
        for (name, value) in &parts.headers {
            let mut own = HeaderValue::from_bytes(value.as_bytes()).ok()?;
            own.set_sensitive(value.is_sensitive());
            headers.append(name.clone(), own);
        }
        Some(PreparedRequest {
            method: parts.method,
            uri: parts.uri,
            headers,
            body,
        })
    }
}

/// The `Content-Type` of a request body: JSON, or the given value (taken
/// over without a copy: `Bytes` is shared, only checked).
pub(super) fn content_type(given: Option<Bytes>) -> Result<HeaderValue, ClientError> {
    match given {
        None => Ok(JSON),
        Some(value) => HeaderValue::from_maybe_shared(value).map_err(|_| ClientError::Other),
    }
}

/// `prefix` (a base URL or a path prefix), then the request's path and its query, encoded: one
/// allocation, sized for the common case.
pub(super) fn join_url(prefix: &str, req: &ApiRequest<'_>) -> String {
    let mut url = String::with_capacity(prefix.len() + req.path.len() + 16);
    url.push_str(prefix);
    url.push_str(req.path);
    if !req.query.is_empty() {
        url.push(if req.path.contains('?') { '&' } else { '?' });
        let start = url.len();
        form_urlencoded::Serializer::for_suffix(&mut url, start).extend_pairs(req.query);
    }
    url
}

/// `text` with every byte that is not ASCII alphanumeric or in `keep`
/// percent-encoded (`%2F`).
pub fn percent_encode(text: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `http` crate's method (hyper's and reqwest's type) for an API method.
pub fn http_method(method: Method) -> hyper::Method {
    match method {
        Method::Get => hyper::Method::GET,
        Method::Post => hyper::Method::POST,
        Method::Put => hyper::Method::PUT,
        Method::Delete => hyper::Method::DELETE,
    }
}
