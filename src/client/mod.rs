//! HTTP client for the Agent Chat API: one shared connection pool, the
//! credential headers, per-request timeouts, and failures sorted into kinds.
//!
//! Knows nothing of scenarios, sessions or templates: the engine hands it a
//! fully rendered [`ApiRequest`]. Credential header values are marked
//! sensitive and never formatted into errors.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Body as _;
use hyper::client::conn::http1::SendRequest;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use reqwest::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue, USER_AGENT};

use crate::api::{Method, Operation, headers};

pub mod retry_after;
mod tls;
pub use tls::{CaCert, HttpVersion, TlsOptions};

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

/// A request built once by [`ApiClient::prepare`], sent many times with
/// [`ApiClient::send_prepared`]; cloning its parts costs a few reference
/// counts instead of URL parsing and a header map built from scratch.
#[derive(Debug)]
pub struct PreparedRequest {
    method: hyper::Method,
    uri: hyper::Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl PreparedRequest {
    /// Bytes of its body.
    pub fn body_len(&self) -> usize {
        self.body.len()
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
    #[error("HTTP/2 is chosen by TLS (ALPN): `http: 2` needs an https:// target, not `{0}`")]
    Http2NeedsTls(String),
}

/// A virtual user's own keep-alive connection, for [`ApiClient::send_on`].
///
/// In the closed model a virtual user is one client with one connection, as
/// in oha or wrk: owning it skips the shared pool's lock, its hashing of the
/// origin and its checkout futures on every request. Empty until the first
/// request; reconnects when the server closed it.
#[derive(Debug, Default)]
pub struct ConnSlot {
    sender: Option<SendRequest<Full<Bytes>>>,
    /// The request timeout's timer, kept from request to request (see
    /// [`ConnSlot::within`]).
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl ConnSlot {
    /// Runs `fut` until `deadline`; `Err(Timeout)` if it is not done by then.
    ///
    /// A `tokio::time::timeout` per request registers a timer entry in the
    /// runtime's wheel and removes it again (a lock each time, a clock read,
    /// a handle clone) although on a healthy target it never fires. Instead
    /// the slot keeps one timer armed at an earlier request's deadline. The
    /// deadlines of one slot never decrease (send time + the same timeout),
    /// so that timer can only fire early: it is then re-armed at the current
    /// deadline, which happens once per timeout period, not per request.
    async fn within<T>(
        timer: &mut Option<Pin<Box<tokio::time::Sleep>>>,
        deadline: Instant,
        mut fut: Pin<&mut impl Future<Output = Result<T, ClientError>>>,
    ) -> Result<T, ClientError> {
        let deadline = tokio::time::Instant::from_std(deadline);
        let timer = match timer {
            Some(t) if t.deadline() <= deadline => t,
            slot => slot.insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        std::future::poll_fn(|cx| {
            if let Poll::Ready(out) = fut.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            while timer.as_mut().poll(cx).is_ready() {
                if tokio::time::Instant::now() >= deadline {
                    return Poll::Ready(Err(ClientError::Timeout));
                }
                timer.as_mut().reset(deadline);
            }
            Poll::Pending
        })
        .await
    }
}

/// The shared client. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct ApiClient {
    http: Transport,
    base_url: String,
    timeout: Duration,
    connect_timeout: Duration,
    /// `host:port` of a plain-HTTP base URL, what [`ConnSlot`]s connect to.
    authority: String,
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

/// How requests travel.
///
/// Plain `http://` targets (the bundled mock, local test environments) go
/// through hyper's pooled HTTP/1.1 client directly: per request that skips
/// reqwest's URL parsing and IDNA host processing, its proxy matching and the
/// clones of its connector and client, which together cost about as much
/// CPU as the HTTP exchange itself on loopback. `https://` targets keep
/// reqwest for TLS.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per run, never moved on the hot path
enum Transport {
    Plain(HyperClient<HttpConnector, Full<Bytes>>),
    Tls(reqwest::Client),
}

const USER_AGENT_VALUE: HeaderValue =
    HeaderValue::from_static(concat!("chatload/", env!("CARGO_PKG_VERSION")));
const JSON: HeaderValue = HeaderValue::from_static("application/json");

const APP_ID: HeaderName = HeaderName::from_static(headers::lower::APP_ID);
const SECRET: HeaderName = HeaderName::from_static(headers::lower::SECRET);
const DOMAIN_KEY: HeaderName = HeaderName::from_static(headers::lower::DOMAIN_KEY);
const TOKEN: HeaderName = HeaderName::from_static(headers::lower::USER_TOKEN);

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
    /// Builds the client and its connection pool, with the default TLS
    /// settings (web roots, ALPN choosing the HTTP version).
    ///
    /// # Errors
    /// A malformed base URL or header.
    pub fn new(config: &ClientConfig) -> Result<ApiClient, ClientBuildError> {
        ApiClient::with_tls(config, TlsOptions::default())
    }

    /// Builds the client and its connection pool; `tls` sets the trusted CA,
    /// verification and HTTP version of an `https://` target.
    ///
    /// # Errors
    /// A malformed base URL or header, or `http: 2` with a plain-HTTP target.
    pub fn with_tls(config: &ClientConfig, tls: TlsOptions) -> Result<ApiClient, ClientBuildError> {
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
        let connect_timeout = config.timeout.min(Duration::from_secs(10));
        let parsed =
            reqwest::Url::parse(&base).map_err(|_| ClientBuildError::BaseUrl(base.clone()))?;
        let authority = match (parsed.host_str(), parsed.port_or_known_default()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            _ => return Err(ClientBuildError::BaseUrl(base)),
        };
        let host = HeaderValue::from_str(&match parsed.port() {
            Some(p) => format!("{}:{p}", parsed.host_str().unwrap_or_default()),
            None => parsed.host_str().unwrap_or_default().to_owned(),
        })
        .ok();
        let path_prefix = parsed.path().trim_end_matches('/').to_owned();
        let http = if base.starts_with("http://") {
            if tls.http == HttpVersion::Http2 {
                return Err(ClientBuildError::Http2NeedsTls(base));
            }
            let mut connector = HttpConnector::new();
            connector.set_nodelay(true);
            connector.set_connect_timeout(Some(connect_timeout));
            Transport::Plain(
                HyperClient::builder(TokioExecutor::new())
                    .pool_timer(TokioTimer::new())
                    .pool_max_idle_per_host(config.pool_size.max(1))
                    .build(connector),
            )
        } else {
            Transport::Tls(
                tls.configure(reqwest::Client::builder())
                    .timeout(config.timeout)
                    .connect_timeout(connect_timeout)
                    .pool_max_idle_per_host(config.pool_size.max(1))
                    .tcp_nodelay(true)
                    .user_agent(concat!("chatload/", env!("CARGO_PKG_VERSION")))
                    .build()?,
            )
        };
        // Known from here on, so every output masks them (src/redact.rs).
        let secrets = [&config.credentials.secret, &config.credentials.domain_key];
        secrets
            .into_iter()
            .flatten()
            .for_each(|s| crate::redact::register(s));
        config
            .extra_headers
            .iter()
            .filter(|(name, _)| crate::redact::is_sensitive_name(name))
            .for_each(|(_, value)| crate::redact::register(value));
        Ok(ApiClient {
            http,
            base_url: base,
            timeout: config.timeout,
            connect_timeout,
            authority,
            host,
            path_prefix,
            app_id: sensitive(&config.credentials.app_id, headers::APP_ID)?,
            secret: sensitive(&config.credentials.secret, headers::SECRET)?,
            domain_key: sensitive(&config.credentials.domain_key, headers::DOMAIN_KEY)?,
            extra,
            tls,
            tls_failure: std::sync::OnceLock::new(),
            versions: AtomicU8::new(0),
        })
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

    /// Sorts a reqwest failure into a kind; a TLS failure is a connect
    /// failure whose description is kept for [`ApiClient::tls_failure`].
    fn classify(&self, e: reqwest::Error) -> ClientError {
        if e.is_timeout() {
            return ClientError::Timeout;
        }
        if !e.is_connect() {
            return ClientError::Other;
        }
        if self.tls_failure.get().is_none()
            && let Some(text) = self.tls.describe_failure(&e)
        {
            let _ = self.tls_failure.set(text);
        }
        ClientError::Connect
    }

    /// Sends one request and reads the whole body.
    ///
    /// # Errors
    /// No response: connection refused, timeout, or a transport failure.
    pub async fn send(&self, req: ApiRequest<'_>) -> Result<ApiResponse, ClientError> {
        match &self.http {
            Transport::Plain(client) => self.send_plain(client, req).await,
            Transport::Tls(client) => self.send_tls(client, req).await,
        }
    }

    /// The credential headers `auth` asks for, in order.
    fn auth_headers(&self, auth: AuthHeaders<'_>, mut put: impl FnMut(HeaderName, HeaderValue)) {
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

    async fn send_plain(
        &self,
        client: &HyperClient<HttpConnector, Full<Bytes>>,
        req: ApiRequest<'_>,
    ) -> Result<ApiResponse, ClientError> {
        let url = join_url(&self.base_url, &req);
        let request = self.hyper_request(url, None, req)?;
        let exchange = async {
            let response = client.request(request).await.map_err(|e| {
                if e.is_connect() {
                    ClientError::Connect
                } else {
                    ClientError::Other
                }
            })?;
            self.note_version(response.version());
            let status = response.status().as_u16();
            let content_type = response.headers().get(CONTENT_TYPE).cloned();
            let retry_after = retry_after::from_headers(status, response.headers());
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|_| ClientError::Other)?
                .to_bytes();
            Ok(ApiResponse {
                status,
                body,
                content_type,
                retry_after,
            })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout),
        }
    }

    /// A hyper request for `url` (absolute for the pool, origin-form for a
    /// [`ConnSlot`], which then needs `host`).
    fn hyper_request(
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

    /// Whether plain-HTTP requests go over [`ConnSlot`]s, and so whether
    /// [`ApiClient::prepare`] builds anything.
    pub fn uses_slots(&self) -> bool {
        matches!(self.http, Transport::Plain(_)) && self.host.is_some()
    }

    /// The origin-form hyper request a [`ConnSlot`] sends for `req`.
    fn slot_request(
        &self,
        host: &HeaderValue,
        req: ApiRequest<'_>,
    ) -> Result<hyper::Request<Full<Bytes>>, ClientError> {
        let url = join_url(&self.path_prefix, &req);
        self.hyper_request(url, Some(host), req)
    }

    /// Builds once what [`ApiClient::send_on`] would build for `req` on every
    /// call, for a request whose every part is fixed (no template). `None`
    /// when requests do not go over [`ConnSlot`]s, or when `req` cannot be
    /// built (then `send_on` reports the error).
    ///
    /// Each virtual user prepares its own copy: its header values and URI are
    /// then reference-counted in memory no other thread touches.
    pub fn prepare(&self, req: ApiRequest<'_>) -> Option<PreparedRequest> {
        let host = self.host.as_ref().filter(|_| self.uses_slots())?;
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

    /// Sends a [`PreparedRequest`] on `slot`, as [`ApiClient::send_on`] would
    /// have sent the request it was prepared from.
    ///
    /// # Errors
    /// No response: connection refused, timeout, or a transport failure.
    pub async fn send_prepared(
        &self,
        slot: &mut ConnSlot,
        prepared: &PreparedRequest,
        sent: Instant,
    ) -> Result<ApiResponse, ClientError> {
        let mut request = hyper::Request::new(Full::new(prepared.body.clone()));
        *request.method_mut() = prepared.method.clone();
        *request.uri_mut() = prepared.uri.clone();
        *request.headers_mut() = prepared.headers.clone();
        self.send_request_on(slot, request, sent).await
    }

    /// Sends one request on the virtual user's own connection `slot`
    /// (plain-HTTP targets; `https://` goes through the shared pool) and
    /// reads the whole body.
    ///
    /// # Errors
    /// No response: connection refused, timeout, or a transport failure.
    pub async fn send_on(
        &self,
        slot: &mut ConnSlot,
        req: ApiRequest<'_>,
        sent: Instant,
    ) -> Result<ApiResponse, ClientError> {
        let (Transport::Plain(_), Some(host)) = (&self.http, &self.host) else {
            // Boxed: the pool's and reqwest's futures are several KB, and
            // inline they would make every slot request's future that large,
            // copied each time it is created.
            return Box::pin(self.send(req)).await;
        };
        let request = self.slot_request(host, req)?;
        self.send_request_on(slot, request, sent).await
    }

    /// The exchange on `slot`, within the timeout from `sent`. A request that
    /// found the kept-alive connection closed before it was sent is retried
    /// once on a new connection, as the pool does.
    async fn send_request_on(
        &self,
        slot: &mut ConnSlot,
        mut request: hyper::Request<Full<Bytes>>,
        sent: Instant,
    ) -> Result<ApiResponse, ClientError> {
        let ConnSlot {
            sender: conn,
            timer,
        } = slot;
        let exchange = pin!(async {
            let mut retried = false;
            loop {
                let reused = match conn {
                    Some(s) if !s.is_closed() => true,
                    _ => {
                        // Boxed: once per connection, and it would make every
                        // request's future larger.
                        *conn = Some(Box::pin(self.connect()).await?);
                        false
                    }
                };
                let Some(sender) = conn.as_mut() else {
                    return Err(ClientError::Other);
                };
                if sender.ready().await.is_err() {
                    *conn = None;
                    if reused && !retried {
                        retried = true;
                        continue;
                    }
                    return Err(ClientError::Connect);
                }
                match sender.try_send_request(request).await {
                    Ok(response) => {
                        self.note_version(response.version());
                        let status = response.status().as_u16();
                        let content_type = response.headers().get(CONTENT_TYPE).cloned();
                        let retry_after = retry_after::from_headers(status, response.headers());
                        let body = read_body(response.into_body()).await?;
                        return Ok(ApiResponse {
                            status,
                            body,
                            content_type,
                            retry_after,
                        });
                    }
                    Err(mut e) => {
                        *conn = None;
                        match e.take_message() {
                            Some(unsent) if reused && !retried => {
                                retried = true;
                                request = unsent;
                            }
                            _ => return Err(ClientError::Other),
                        }
                    }
                }
            }
        });
        match sent.checked_add(self.timeout) {
            Some(deadline) => ConnSlot::within(timer, deadline, exchange).await,
            None => exchange.await, // a timeout beyond what Instant can express
        }
    }

    /// A new HTTP/1.1 connection to the plain-HTTP target, its driver spawned.
    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, ClientError> {
        let stream = tokio::time::timeout(
            self.connect_timeout,
            tokio::net::TcpStream::connect(self.authority.as_str()),
        )
        .await
        .map_err(|_| ClientError::Connect)?
        .map_err(|_| ClientError::Connect)?;
        let _ = stream.set_nodelay(true);
        // One write(2) of one buffer: head and a small JSON body are copied
        // together, instead of hyper's queue of buffers sent with writev(2),
        // whose bookkeeping costs more than the copy at these sizes.
        let (sender, connection) = hyper::client::conn::http1::Builder::new()
            .writev(false)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|_| ClientError::Connect)?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    async fn send_tls(
        &self,
        http: &reqwest::Client,
        req: ApiRequest<'_>,
    ) -> Result<ApiResponse, ClientError> {
        let mut url = String::with_capacity(self.base_url.len() + req.path.len());
        url.push_str(&self.base_url);
        url.push_str(req.path);
        let method = http_method(req.method);
        let mut builder = http.request(method, url);
        if !self.extra.is_empty() {
            builder = builder.headers(self.extra.clone());
        }
        if !req.query.is_empty() {
            builder = builder.query(req.query);
        }
        let mut auth = HeaderMap::with_capacity(2);
        self.auth_headers(req.auth, |n, v| {
            auth.insert(n, v);
        });
        builder = builder.headers(auth);
        for (name, value) in req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = req.body {
            builder = builder
                .header(CONTENT_TYPE, content_type(req.content_type)?)
                .body(body);
        }
        let response = builder.send().await.map_err(|e| self.classify(e))?;
        self.note_version(response.version());
        let status = response.status().as_u16();
        let content_type = response.headers().get(CONTENT_TYPE).cloned();
        let retry_after = retry_after::from_headers(status, response.headers());
        let body = response.bytes().await.map_err(|e| self.classify(e))?;
        Ok(ApiResponse {
            status,
            body,
            content_type,
            retry_after,
        })
    }
}

/// The `Content-Type` of a request body: JSON, or the given value (taken
/// over without a copy: `Bytes` is shared, only checked).
fn content_type(given: Option<Bytes>) -> Result<HeaderValue, ClientError> {
    match given {
        None => Ok(JSON),
        Some(value) => HeaderValue::from_maybe_shared(value).map_err(|_| ClientError::Other),
    }
}

/// The whole body of a response. Stops as soon as the body says it is
/// complete (its `Content-Length` reached), without waiting for one more
/// empty frame; a body in one frame (the usual case) is returned without a
/// copy or a buffer list.
async fn read_body(mut body: hyper::body::Incoming) -> Result<Bytes, ClientError> {
    let mut first: Option<Bytes> = None;
    let mut joined: Vec<u8> = Vec::new();
    while !body.is_end_stream() {
        let Some(frame) = body.frame().await else {
            break;
        };
        let Ok(data) = frame.map_err(|_| ClientError::Other)?.into_data() else {
            continue; // trailers
        };
        match &first {
            None => first = Some(data),
            Some(head) => {
                if joined.is_empty() {
                    joined.extend_from_slice(head);
                }
                joined.extend_from_slice(&data);
            }
        }
    }
    Ok(if joined.is_empty() {
        first.unwrap_or_default()
    } else {
        Bytes::from(joined)
    })
}

/// `prefix` (a base URL or a path prefix), then the request's path and its query, encoded: one
/// allocation, sized for the common case.
fn join_url(prefix: &str, req: &ApiRequest<'_>) -> String {
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

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::{
        ApiClient, ApiRequest, AuthHeaders, ClientConfig, ClientError, ConnSlot, Credentials,
    };
    use crate::api::Method;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn client(base_url: &str) -> ApiClient {
        ApiClient::new(&ClientConfig {
            base_url: base_url.to_owned(),
            credentials: Credentials {
                app_id: Some("app".to_owned()),
                secret: Some("s3cret".to_owned()),
                domain_key: None,
            },
            extra_headers: vec![("x-run".to_owned(), "r1".to_owned())],
            timeout: Duration::from_secs(5),
            pool_size: 1,
        })
        .unwrap()
    }

    #[test]
    fn a_prepared_request_is_the_request_send_on_builds() {
        let client = client("http://127.0.0.1:9/v1");
        assert!(client.uses_slots());
        let query = [("page".to_owned(), "2 3".to_owned())];
        let headers = [("x-extra".to_owned(), "v".to_owned())];
        let request = || ApiRequest {
            method: Method::Post,
            path: "/chats/c-1/messages",
            query: &query,
            headers: &headers,
            body: Some(bytes::Bytes::from_static(br#"{"a":1}"#)),
            content_type: None,
            auth: AuthHeaders::Secret,
        };
        let host = client.host.clone().unwrap();
        let (built, _) = client.slot_request(&host, request()).unwrap().into_parts();
        let prepared = client.prepare(request()).unwrap();
        assert_eq!(prepared.method, built.method);
        assert_eq!(prepared.uri, built.uri);
        assert_eq!(prepared.uri, "/v1/chats/c-1/messages?page=2+3");
        assert_eq!(prepared.headers, built.headers);
        for (name, value) in &built.headers {
            assert_eq!(
                prepared.headers[name].is_sensitive(),
                value.is_sensitive(),
                "{name}"
            );
        }
        assert!(prepared.headers["x-hyper-secret"].is_sensitive());
        assert_eq!(prepared.body, r#"{"a":1}"#);
        let tls = ApiClient::new(&ClientConfig {
            base_url: "https://example.invalid/v1".to_owned(),
            credentials: Credentials::default(),
            extra_headers: Vec::new(),
            timeout: Duration::from_secs(1),
            pool_size: 1,
        })
        .unwrap();
        assert!(!tls.uses_slots() && tls.prepare(request()).is_none());
    }

    #[test]
    fn a_body_in_several_chunks_is_read_whole_and_the_connection_kept() {
        rt().block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                for reply in [
                    &b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n"[..],
                    b"6\r\n world\r\n0\r\n\r\n",
                    b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}",
                ] {
                    if reply.starts_with(b"HTTP") {
                        let _ = socket.read(&mut buf).await.unwrap();
                    }
                    socket.write_all(reply).await.unwrap();
                    socket.flush().await.unwrap();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
            let client = client(&format!("http://{addr}/v1"));
            let mut slot = ConnSlot::default();
            let request = || ApiRequest {
                method: Method::Get,
                path: "/settings",
                query: &[],
                headers: &[],
                body: None,
                content_type: None,
                auth: AuthHeaders::AppId,
            };
            let first = client
                .send_on(&mut slot, request(), Instant::now())
                .await
                .unwrap();
            assert_eq!((first.status, &first.body[..]), (200, &b"hello world"[..]));
            // Same connection: the server accepts only one.
            let second = client
                .send_on(&mut slot, request(), Instant::now())
                .await
                .unwrap();
            assert_eq!((second.status, &second.body[..]), (201, &b"{}"[..]));
        });
    }

    #[test]
    fn the_kept_timer_times_out_at_each_requests_own_deadline() {
        rt().block_on(async {
            let mut timer = None;
            let ms = Duration::from_millis;
            // Done in time: the value comes back; the timer stays armed.
            let start = Instant::now();
            let out = ConnSlot::within(&mut timer, start + ms(40), pin!(async { Ok(1) })).await;
            assert_eq!(out, Ok(1));
            // Let that first deadline pass: the armed timer fires early for the
            // next request, which must still get its whole time.
            tokio::time::sleep(ms(60)).await;
            let start = Instant::now();
            let out = ConnSlot::within(
                &mut timer,
                start + ms(80),
                pin!(async {
                    tokio::time::sleep(ms(30)).await;
                    Ok(2)
                }),
            )
            .await;
            assert_eq!(out, Ok(2));
            // Too slow: a timeout, not before the deadline.
            let start = Instant::now();
            let out: Result<(), ClientError> =
                ConnSlot::within(&mut timer, start + ms(50), pin!(std::future::pending())).await;
            assert_eq!(out, Err(ClientError::Timeout));
            let waited = start.elapsed();
            assert!(waited >= ms(50), "timed out after {waited:?}");
            assert!(waited < ms(1000), "timed out after {waited:?}");
        });
    }
}
