//! HTTP client for the Agent Chat API: each virtual user's own connection
//! (the load's hot path, `http://` and `https://` alike), a shared pool for
//! everything else, the credential headers, per-request timeouts, and
//! failures sorted into kinds.
//!
//! Knows nothing of scenarios, sessions or templates: the engine hands it a
//! fully rendered [`ApiRequest`]. Credential header values are marked
//! sensitive and never formatted into errors.
//!
//! Files: `request.rs` builds requests, `slot.rs` sends them on a VU's
//! [`ConnSlot`], `connect.rs` opens connections (TCP, rustls, hyper),
//! `policy.rs` says how VUs hold them, `pool.rs` is the shared pool,
//! `tls.rs` the trust settings, `body.rs` reads bodies within the limit
//! on the bytes one response may hold, `failure.rs` says why a request got
//! no (usable) response.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use bytes::Bytes;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::api::{Method, Operation, headers};

mod alpn;
mod body;
mod connect;
mod failure;
mod fd_limit;
mod policy;
mod pool;
mod request;
pub mod retry_after;
mod slot;
#[cfg(test)]
mod tests;
mod tls;

pub use alpn::server_agrees_to_http2;
pub use body::{BodyError, read_reqwest};
pub use connect::Opened;
pub use failure::{ClientError, ConnectCause, Malformed, Size};
pub use fd_limit::{files_limit, too_few_files};
pub use policy::ConnPolicy;
pub use request::{PreparedRequest, http_method, percent_encode};
pub use slot::{ConnSlot, ConnUse};
pub use tls::{CaCert, HttpVersion, TlsOptions};

use connect::{Connector, TlsTarget};
use policy::SharedH2;
use pool::Transport;

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
    /// Body bytes: JSON unless `content_type` says otherwise.
    pub body: Option<Bytes>,
    /// The body's `Content-Type` when it is not JSON (a multipart form's,
    /// with its boundary); shared bytes, so no copy per request.
    pub content_type: Option<Bytes>,
    pub auth: AuthHeaders<'a>,
}

impl<'a> ApiRequest<'a> {
    /// A request to `op` sent with the app secret: `path` is its template
    /// filled by [`Operation::path_with`], so method and path both come from
    /// the operation; no query or extra headers.
    pub fn secret(op: Operation, path: &'a str, body: Option<Vec<u8>>) -> ApiRequest<'a> {
        ApiRequest {
            method: op.method(),
            path,
            query: &[],
            headers: &[],
            body: body.map(Bytes::from),
            content_type: None,
            auth: AuthHeaders::Secret,
        }
    }
}

/// What came back.
#[derive(Debug)]
pub struct ApiResponse {
    pub status: u16,
    pub body: Bytes,
    /// The response's `Content-Type` (a reference-counted view of the
    /// received header, no copy).
    pub content_type: Option<HeaderValue>,
    /// `Retry-After` of a 429 or 503 as a wait from receipt
    /// ([`retry_after::from_headers`]); `None` for any other status.
    pub retry_after: Option<Duration>,
    /// How its connection was set up, and its time to first byte.
    pub conn: ConnUse,
}

/// Body bytes one response may hold when the scenario does not say
/// (`target.max_body`): far above any API answer or media file, far below
/// what would exhaust memory with many VUs.
pub const DEFAULT_MAX_BODY: u64 = 16 * 1024 * 1024;

/// Settings for [`ApiClient::new`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL including the version, e.g. `http://127.0.0.1:8000/v1`.
    pub base_url: String,
    pub credentials: Credentials,
    pub extra_headers: Vec<(String, String)>,
    pub timeout: Duration,
    /// Expected concurrency: idle connections kept per host, and the VUs
    /// the `http2` policy shares connections among.
    pub pool_size: usize,
    /// How virtual users hold their connections.
    pub policy: ConnPolicy,
    /// Body bytes one response may hold ([`DEFAULT_MAX_BODY`] unless the
    /// scenario says): a larger body fails its request
    /// ([`ClientError::BodyTooLarge`]) and is not read further.
    pub max_body: u64,
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    #[error("invalid header `{0}` (names are tokens; values are visible ASCII)")]
    Header(String),
    #[error("invalid base URL `{0}`: expected http(s)://host[:port]/version")]
    BaseUrl(String),
    /// The URL is not named: it holds the password.
    #[error(
        "the target URL carries a user name or password (`user:password@host`), which chatload never sends: the Agent Chat API authenticates with the x-hyper-appId and x-hyper-secret headers, so remove them from the URL and set CHATLOAD_APP_ID and CHATLOAD_SECRET (or target.app_id and target.secret)"
    )]
    UserInfo,
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("HTTP/2 is chosen by TLS (ALPN): `http: 2` needs an https:// target, not `{0}`")]
    Http2NeedsTls(String),
    #[error(
        "the `http2` connection policy shares HTTP/2 connections, chosen by TLS (ALPN): it needs an https:// target, not `{0}`"
    )]
    Http2PolicyNeedsTls(String),
    #[error("the `http2` connection policy cannot go with `http: 1.1`")]
    Http2PolicyWithHttp1,
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

/// The shared client. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct ApiClient {
    http: Transport,
    base_url: String,
    timeout: Duration,
    /// Body bytes one response may hold.
    max_body: u64,
    /// Opens the [`ConnSlot`]s' connections.
    connector: Connector,
    /// The base URL's authority, for HTTP/2 requests' `:authority`.
    uri_authority: Option<hyper::http::uri::Authority>,
    /// The `Host` header for [`ConnSlot`] requests.
    host: Option<HeaderValue>,
    /// The base URL's path (e.g. `/v1`): origin-form requests start with it.
    path_prefix: String,
    app_id: Option<HeaderValue>,
    secret: Option<HeaderValue>,
    domain_key: Option<HeaderValue>,
    extra: HeaderMap,
    tls: TlsOptions,
    /// The first failed TLS handshake, described (set once, on failure only).
    tls_failure: std::sync::OnceLock<String>,
    /// The HTTP versions responses came over, as [`HttpUsed`] bits.
    versions: AtomicU8,
    policy: ConnPolicy,
    /// The `http2` policy's shared connections.
    shared: Option<SharedH2>,
}

/// The HTTP versions a client's responses came over (ALPN's choice over
/// TLS): what the run actually spoke, not what it asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpUsed {
    pub http1: bool,
    pub http2: bool,
}

const USED_HTTP1: u8 = 1;
const USED_HTTP2: u8 = 2;

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

/// What is kept of a response head until its body is read.
struct Head {
    status: u16,
    content_type: Option<HeaderValue>,
    retry_after: Option<Duration>,
}

impl Head {
    /// The response, with its body and how its connection was set up.
    fn with(self, body: Bytes, conn: ConnUse) -> ApiResponse {
        ApiResponse {
            status: self.status,
            body,
            content_type: self.content_type,
            retry_after: self.retry_after,
            conn,
        }
    }
}

/// A response's `Content-Type`, as `headers.get` gives it (the first
/// value), found by a scan of the names instead of a hashed look-up: a
/// response has a handful of headers, servers send this one first, and
/// the hash costs more than the few comparisons on every response.
fn content_type(headers: &HeaderMap) -> Option<HeaderValue> {
    headers
        .iter()
        .find(|(name, _)| *name == reqwest::header::CONTENT_TYPE)
        .map(|(_, value)| value.clone())
}

/// The parts of a base URL the client needs.
struct Target {
    /// `host:port` to connect to.
    authority: String,
    /// The host alone (a TLS server name).
    hostname: String,
    /// The `Host` header.
    host: Option<HeaderValue>,
    uri_authority: Option<hyper::http::uri::Authority>,
    /// The path (e.g. `/v1`), origin-form requests start with it.
    path_prefix: String,
    tls: bool,
}

/// Refuses a base URL with userinfo (`http://user:password@host/v1`): the
/// API never reads it (credentials go in `x-hyper-*` headers), so it would
/// be dropped silently and printed with the URL. Looks at the text, so a URL
/// that does not even parse is refused here before an error could quote it.
///
/// # Errors
/// [`ClientBuildError::UserInfo`], which does not quote the URL.
pub fn refuse_userinfo(base: &str) -> Result<(), ClientBuildError> {
    let rest = base.split_once("://").map_or(base, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(ClientBuildError::UserInfo);
    }
    Ok(())
}

impl Target {
    fn parse(base: &str) -> Result<Target, ClientBuildError> {
        refuse_userinfo(base)?;
        let bad = || ClientBuildError::BaseUrl(base.to_owned());
        let parsed = reqwest::Url::parse(base).map_err(|_| bad())?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad());
        }
        let (Some(hostname), Some(port)) = (parsed.host_str(), parsed.port_or_known_default())
        else {
            return Err(bad());
        };
        let host_text = match parsed.port() {
            Some(p) => format!("{hostname}:{p}"),
            None => hostname.to_owned(),
        };
        Ok(Target {
            authority: format!("{hostname}:{port}"),
            hostname: hostname.to_owned(),
            host: HeaderValue::from_str(&host_text).ok(),
            uri_authority: host_text.parse().ok(),
            path_prefix: parsed.path().trim_end_matches('/').to_owned(),
            tls: parsed.scheme() == "https",
        })
    }
}

/// The extra headers of every request.
fn extra_headers(config: &ClientConfig) -> Result<HeaderMap, ClientBuildError> {
    let mut extra = HeaderMap::new();
    for (name, value) in &config.extra_headers {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ClientBuildError::Header(name.clone()))?;
        let v = HeaderValue::from_str(value).map_err(|_| ClientBuildError::Header(name.clone()))?;
        extra.insert(n, v);
    }
    Ok(extra)
}

/// Refuses settings that cannot go together, before anything is built.
fn check_settings(
    base: &str,
    target: &Target,
    tls: &TlsOptions,
    policy: ConnPolicy,
) -> Result<(), ClientBuildError> {
    let http2_policy = matches!(policy, ConnPolicy::Http2 { .. });
    if !target.tls && tls.http == HttpVersion::Http2 {
        return Err(ClientBuildError::Http2NeedsTls(base.to_owned()));
    }
    if !target.tls && http2_policy {
        return Err(ClientBuildError::Http2PolicyNeedsTls(base.to_owned()));
    }
    if http2_policy && tls.http == HttpVersion::Http1 {
        return Err(ClientBuildError::Http2PolicyWithHttp1);
    }
    Ok(())
}

/// The pool for requests outside the VUs' slots.
fn shared_pool(
    config: &ClientConfig,
    target: &Target,
    tls: &TlsOptions,
    connect_timeout: Duration,
) -> Result<Transport, ClientBuildError> {
    if !target.tls {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(connect_timeout));
        return Ok(Transport::Plain(
            HyperClient::builder(TokioExecutor::new())
                .pool_timer(TokioTimer::new())
                .pool_max_idle_per_host(config.pool_size.max(1))
                .build(connector),
        ));
    }
    Ok(Transport::Tls(
        tls.configure(reqwest::Client::builder())
            .timeout(config.timeout)
            .connect_timeout(connect_timeout)
            .pool_max_idle_per_host(config.pool_size.max(1))
            .tcp_nodelay(true)
            .user_agent(concat!("chatload/", env!("CARGO_PKG_VERSION")))
            .build()?,
    ))
}

/// Registers the client's secrets with the output redactor: known from
/// here on, so every output masks them (src/redact.rs). An extra header is
/// secret-like by its name (`Authorization`, `X-Api-Token`) or by a value
/// with an auth scheme (`Bearer x`); its credential is registered alone
/// too, as servers echo it without the scheme (`invalid bearer token x`).
fn register_secrets(config: &ClientConfig) {
    let secrets = [&config.credentials.secret, &config.credentials.domain_key];
    secrets
        .into_iter()
        .flatten()
        .for_each(|s| crate::redact::register(s));
    config
        .extra_headers
        .iter()
        .filter(|(name, value)| {
            crate::redact::is_sensitive_name(name) || crate::redact::has_auth_scheme(value)
        })
        .for_each(|(_, value)| crate::redact::register_header(value));
}

impl ApiClient {
    /// Builds the client and its connection pool, with the default TLS
    /// settings (web roots, ALPN choosing the HTTP version).
    ///
    /// # Errors
    /// A malformed base URL or header.
    pub fn new(config: &ClientConfig) -> Result<ApiClient, ClientBuildError> {
        ApiClient::with_tls(config, TlsOptions::default())
    }

    /// Builds the client; `tls` sets the trusted CA, verification and HTTP
    /// version of an `https://` target. Over TLS one rustls configuration
    /// (and so one session cache) serves every VU connection.
    ///
    /// # Errors
    /// A malformed base URL or header, `http: 2` or the `http2` policy with
    /// a plain-HTTP target, the `http2` policy with `http: 1.1`.
    pub fn with_tls(config: &ClientConfig, tls: TlsOptions) -> Result<ApiClient, ClientBuildError> {
        // reqwest's rustls needs a process-wide crypto provider; installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Read now: once the descriptors have run out, the file that says the limit cannot
        // be opened either.
        fd_limit::read_limit_now();
        let base = config.base_url.trim_end_matches('/').to_owned();
        let target = Target::parse(&base)?;
        check_settings(&base, &target, &tls, config.policy)?;
        let extra = extra_headers(config)?;
        // A connect is bounded by the request timeout alone, as documented
        // (kind `connect`): no shorter limit of its own.
        let connect_timeout = config.timeout;
        let http = shared_pool(config, &target, &tls, connect_timeout)?;
        let tls_target = match target.tls {
            true => {
                let rustls = tls
                    .rustls_config(config.policy)
                    .map_err(|e| ClientBuildError::Tls(e.to_string()))?;
                Some(
                    TlsTarget::new(rustls, &target.hostname)
                        .ok_or_else(|| ClientBuildError::BaseUrl(base.clone()))?,
                )
            }
            false => None,
        };
        register_secrets(config);
        let shared = config
            .policy
            .vus_per_connection()
            .map(|per| SharedH2::new(config.pool_size, per));
        Ok(ApiClient {
            http,
            base_url: base,
            timeout: config.timeout,
            max_body: config.max_body,
            connector: Connector {
                authority: target.authority,
                connect_timeout,
                tls: tls_target,
            },
            uri_authority: target.uri_authority,
            host: target.host,
            path_prefix: target.path_prefix,
            app_id: sensitive(&config.credentials.app_id, headers::APP_ID)?,
            secret: sensitive(&config.credentials.secret, headers::SECRET)?,
            domain_key: sensitive(&config.credentials.domain_key, headers::DOMAIN_KEY)?,
            extra,
            tls,
            tls_failure: std::sync::OnceLock::new(),
            versions: AtomicU8::new(0),
            policy: config.policy,
            shared,
        })
    }

    /// How virtual users hold their connections.
    pub fn policy(&self) -> ConnPolicy {
        self.policy
    }

    /// The HTTP versions responses have come over so far.
    pub fn http_used(&self) -> HttpUsed {
        let bits = self.versions.load(Ordering::Relaxed);
        HttpUsed {
            http1: bits & USED_HTTP1 != 0,
            http2: bits & USED_HTTP2 != 0,
        }
    }

    /// Notes the version a response came over. A read of a shared,
    /// read-mostly byte per response; it is written once per version seen.
    fn note_version(&self, version: hyper::Version) {
        let bit = match version {
            hyper::Version::HTTP_2 => USED_HTTP2,
            hyper::Version::HTTP_11 | hyper::Version::HTTP_10 => USED_HTTP1,
            _ => return,
        };
        if self.versions.load(Ordering::Relaxed) & bit == 0 {
            self.versions.fetch_or(bit, Ordering::Relaxed);
        }
    }

    /// What every way of sending keeps of a response head, its version noted.
    fn head(
        &self,
        version: hyper::Version,
        status: hyper::StatusCode,
        headers: &HeaderMap,
    ) -> Head {
        self.note_version(version);
        let status = status.as_u16();
        Head {
            status,
            content_type: content_type(headers),
            retry_after: retry_after::from_headers(status, headers),
        }
    }

    /// Keeps the first TLS failure's description (see [`ApiClient::tls_failure`]).
    fn note_tls_failure(&self, error: &(dyn std::error::Error + 'static)) {
        if self.tls_failure.get().is_none()
            && let Some(text) = self.tls.describe_failure(error)
        {
            let _ = self.tls_failure.set(text);
        }
    }

    /// The secret and domain key this client sends, so failure reports can mask them.
    pub fn secret_values(&self) -> Vec<String> {
        [&self.secret, &self.domain_key]
            .into_iter()
            .flatten()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The base URL requests are sent to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The first failed TLS handshake with the target, described with what
    /// to do about it (e.g. an unknown CA: `--ca-cert`); `None` if none failed.
    pub fn tls_failure(&self) -> Option<&str> {
        self.tls_failure.get().map(String::as_str)
    }
}
