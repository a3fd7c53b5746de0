//! HTTP client for the Agent Chat API: one shared connection pool, the
//! credential headers, per-request timeouts, and failures sorted into kinds.
//!
//! Knows nothing of scenarios, sessions or templates: the engine hands it a
//! fully rendered [`ApiRequest`]. Credential header values are marked
//! sensitive and never formatted into errors.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use crate::api::Method;

/// Credentials for one app. Values are only ever put into headers.
#[derive(Clone, Default)]
pub struct Credentials {
    pub app_id: Option<String>,
    pub secret: Option<String>,
    pub domain_key: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("app_id", &self.app_id.as_ref().map(|_| "***"))
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field("domain_key", &self.domain_key.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Which credential headers a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthHeaders<'a> {
    /// `x-hyper-appId` + `x-hyper-secret`.
    Secret,
    /// `x-hyper-appId` only.
    AppId,
    /// `x-hyper-appId` + `x-hyper-key`.
    DomainKey,
    /// `x-hyper-appId` + `x-hyper-token`.
    Token(&'a str),
    /// Nothing.
    None,
}

/// A request with every part already rendered.
#[derive(Debug)]
pub struct ApiRequest<'a> {
    pub method: Method,
    /// Path relative to the base URL, starting with `/`.
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub headers: &'a [(String, String)],
    /// JSON body bytes.
    pub body: Option<Vec<u8>>,
    pub auth: AuthHeaders<'a>,
}

/// What came back.
#[derive(Debug)]
pub struct ApiResponse {
    pub status: u16,
    pub body: Bytes,
}

/// Why no response arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("could not connect to the target")]
    Connect,
    #[error("the request timed out")]
    Timeout,
    #[error("the request failed before a response arrived")]
    Other,
}

/// Settings for [`ApiClient::new`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL including the version, e.g. `http://127.0.0.1:8000/v1`.
    pub base_url: String,
    pub credentials: Credentials,
    pub extra_headers: Vec<(String, String)>,
    pub timeout: Duration,
    /// Expected concurrency: idle connections kept per host.
    pub pool_size: usize,
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    #[error("invalid header `{0}` (names are tokens; values are visible ASCII)")]
    Header(String),
    #[error("invalid base URL `{0}`: expected http(s)://host[:port]/version")]
    BaseUrl(String),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// The shared client. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct ApiClient {
    http: reqwest::Client,
    base_url: String,
    app_id: Option<HeaderValue>,
    secret: Option<HeaderValue>,
    domain_key: Option<HeaderValue>,
    extra: HeaderMap,
}

const APP_ID: HeaderName = HeaderName::from_static("x-hyper-appid");
const SECRET: HeaderName = HeaderName::from_static("x-hyper-secret");
const DOMAIN_KEY: HeaderName = HeaderName::from_static("x-hyper-key");
const TOKEN: HeaderName = HeaderName::from_static("x-hyper-token");

fn sensitive(value: &Option<String>, name: &str) -> Result<Option<HeaderValue>, ClientBuildError> {
    value
        .as_deref()
        .map(|v| {
            let mut h =
                HeaderValue::from_str(v).map_err(|_| ClientBuildError::Header(name.to_owned()))?;
            h.set_sensitive(true);
            Ok(h)
        })
        .transpose()
}

impl ApiClient {
    /// Builds the client and its connection pool.
    ///
    /// # Errors
    /// A malformed base URL or header.
    pub fn new(config: &ClientConfig) -> Result<ApiClient, ClientBuildError> {
        // reqwest's rustls needs a process-wide crypto provider; installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let base = config.base_url.trim_end_matches('/').to_owned();
        if reqwest::Url::parse(&base)
            .map(|u| !matches!(u.scheme(), "http" | "https"))
            .unwrap_or(true)
        {
            return Err(ClientBuildError::BaseUrl(base));
        }
        let mut extra = HeaderMap::new();
        for (name, value) in &config.extra_headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ClientBuildError::Header(name.clone()))?;
            let v =
                HeaderValue::from_str(value).map_err(|_| ClientBuildError::Header(name.clone()))?;
            extra.insert(n, v);
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(config.pool_size.max(1))
            .tcp_nodelay(true)
            .user_agent(concat!("chatload/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(ApiClient {
            http,
            base_url: base,
            app_id: sensitive(&config.credentials.app_id, "x-hyper-appId")?,
            secret: sensitive(&config.credentials.secret, "x-hyper-secret")?,
            domain_key: sensitive(&config.credentials.domain_key, "x-hyper-key")?,
            extra,
        })
    }

    /// The base URL requests are sent to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends one request and reads the whole body.
    ///
    /// # Errors
    /// No response: connection refused, timeout, or a transport failure.
    pub async fn send(&self, req: ApiRequest<'_>) -> Result<ApiResponse, ClientError> {
        let mut url = String::with_capacity(self.base_url.len() + req.path.len());
        url.push_str(&self.base_url);
        url.push_str(req.path);
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self.http.request(method, url).headers(self.extra.clone());
        if !req.query.is_empty() {
            builder = builder.query(req.query);
        }
        if let Some(app_id) = &self.app_id
            && req.auth != AuthHeaders::None
        {
            builder = builder.header(APP_ID, app_id.clone());
        }
        builder = match req.auth {
            AuthHeaders::Secret => match &self.secret {
                Some(s) => builder.header(SECRET, s.clone()),
                None => builder,
            },
            AuthHeaders::DomainKey => match &self.domain_key {
                Some(k) => builder.header(DOMAIN_KEY, k.clone()),
                None => builder,
            },
            AuthHeaders::Token(token) => match HeaderValue::from_str(token) {
                Ok(mut v) => {
                    v.set_sensitive(true);
                    builder.header(TOKEN, v)
                }
                Err(_) => builder,
            },
            AuthHeaders::AppId | AuthHeaders::None => builder,
        };
        for (name, value) in req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = req.body {
            builder = builder.header(CONTENT_TYPE, "application/json").body(body);
        }
        let response = builder.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(classify)?;
        Ok(ApiResponse { status, body })
    }
}

fn classify(e: reqwest::Error) -> ClientError {
    if e.is_timeout() {
        ClientError::Timeout
    } else if e.is_connect() {
        ClientError::Connect
    } else {
        ClientError::Other
    }
}
