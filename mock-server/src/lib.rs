//! chatload-mock: a stateful mock of the Inbenta Agent Chat API.
//!
//! It serves the 50 routes of `shared/api/agent-chat-api.md` under `/v1`
//! with real state (apps, agents, users, chats, queues, invitations,
//! messages, media, webhook registrations), simulated agents, outgoing
//! webhooks (handshake, signed deliveries, `chats:assign` decisions), the
//! reference's auth rules and error envelope, plus an admin API under
//! `/__mock` for request counts, fault injection and state inspection.
//!
//! Layout:
//!
//! ```text
//! config     MockConfig (YAML, Default = documented demo world)
//! connections ConnectionsConfig: the server's timeouts, limit and deadline
//! caps       the store's memory caps: validation and flags (eviction: store/evict)
//! operation  the 50 operations: operationId, method, path
//! routes/    one file per resource + admin; app() / router() assemble them
//! body_timeout a request body's pauses bounded (stalled body → error)
//! auth       PublicApi / UserApi / SecretApi extractors (reference §2.3)
//! extract    Params (query, then JSON body), PathId, Form — JSON rejections
//! middleware trailing-slash normalisation, counting, faults, JSON errors
//! state      AppState: app registry, faults, stats, shutdown token
//! store/     AppStore per app (one mutex each) with the lifecycle rules
//! sim        simulated agents' timers (tokio tasks; the follow-up is the
//!            caller's: no dependency on AppState)
//! event      internal events ring buffer + hook point
//! webhook/   outgoing webhooks: queue, workers, handshake, chats:assign
//! testing    (feature `testing`) start on port 0, app and admin clients,
//!            demo credentials, event envelopes, polling: the mock's and
//!            the harness's tests share it
//! fault      fault config/table and the schema-breaking rewrite
//! limit      per-app token-bucket rate limit (429 + Retry-After)
//! stats      lock-free per-operation counters
//! server     accept loop: header-read/idle timeouts, connection limit,
//!            graceful shutdown with a deadline (plain HTTP and TLS)
//! tls        HTTPS: certificate (given or generated), rustls handshake
//! dist       delay distributions
//! error      ApiError → {"error":{"code","message"}}
//! ```
//!
//! Request flow: `normalize_path` → axum routing → `ApiLayer` (count,
//! rate limit, faults) → auth extractor → `Params` → handler → `AppState::with_store`
//! (lock one app, run one rule — events go to the webhook queue with a
//! `try_send` — unlock) → timers and `chats:assign` decisions handed over
//! → JSON response.

pub mod auth;
pub mod body_timeout;
pub mod caps;
pub mod config;
pub mod connections;
pub mod dist;
pub mod error;
pub mod event;
pub mod extract;
pub mod fault;
pub mod limit;
pub mod middleware;
pub mod operation;
pub mod routes;
pub mod server;
pub mod sim;
pub mod state;
pub mod stats;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;
pub mod webhook;

pub use config::{AgentConfig, AppConfig, ConfigError, MockConfig, SimulationConfig};
pub use connections::ConnectionsConfig;
pub use error::ApiError;
pub use event::{EventData, EventHook, MockEvent, NewMessage};
pub use fault::{FaultsConfig, RouteFault};
pub use limit::RateLimitConfig;
pub use operation::Operation;
pub use routes::{App, app, router};
pub use server::ConnCounts;
pub use state::AppState;
pub use tls::{TlsConfig, TlsCounts};
pub use webhook::{WebhookFaultsConfig, WebhooksConfig};

use server::ConnStats;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tls::{TlsIdentity, TlsStats};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How much longer than `connections.shutdown_grace_ms`
/// [`MockServer::shutdown`] waits for the server task before aborting it.
const SHUTDOWN_MARGIN: Duration = Duration::from_secs(1);

/// Serves the mock on `listener` until `shutdown` completes, then drains
/// in-flight requests (graceful shutdown, at most
/// `connections.shutdown_grace_ms`) and stops simulated agents. With
/// `config.tls` it serves HTTPS (the certificate is loaded or generated
/// first, and its CA written to `tls.ca_out`). Connections are bounded by
/// `config.connections` (see [`server`]).
///
/// # Errors
///
/// An invalid config or TLS setting (`InvalidInput`) or an I/O error of the server.
pub async fn serve(
    listener: TcpListener,
    config: MockConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    config.validate().map_err(invalid_input)?;
    let tls = load_tls(&config).map_err(invalid_input)?;
    serve_with_tls(listener, config, tls, shutdown).await
}

/// [`serve`] with the TLS side already loaded ([`load_tls`]), so a command
/// line reports bad TLS material before it binds and announces its address.
///
/// # Errors
///
/// An invalid config (`InvalidInput`) or an I/O error of the server.
pub async fn serve_with_tls(
    listener: TcpListener,
    config: MockConfig,
    tls: Option<MockTls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    config.validate().map_err(invalid_input)?;
    let cancel = CancellationToken::new();
    let state = AppState::with_hook(config, None, cancel.clone());
    let conns = Arc::<ConnStats>::default();
    let result = serve_state(listener, state, tls.as_ref(), conns.clone(), shutdown).await;
    if let Some(tls) = &tls {
        let counts = tls.stats.counts();
        tracing::info!(
            h2 = counts.h2,
            http1 = counts.http1,
            failed = counts.failed,
            "TLS handshakes"
        );
    }
    let counts = conns.counts();
    tracing::info!(
        accepted = counts.accepted,
        refused = counts.refused,
        idle_closed = counts.idle_closed,
        "connections"
    );
    cancel.cancel();
    result
}

fn invalid_input(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
}

/// The server's TLS side, when `config.tls` asks for HTTPS.
#[derive(Debug)]
pub struct MockTls {
    identity: TlsIdentity,
    /// Handshakes per negotiated protocol, shared with the accept loop.
    stats: Arc<TlsStats>,
}

/// Loads (or generates) the certificate `config.tls` asks for, writing the
/// generated CA to `tls.ca_out`; `None` for plain HTTP.
///
/// # Errors
///
/// Unreadable or malformed PEM, a key that does not match, an unwritable
/// `ca_out`: each with where the path was given when known
/// (`file:line:column`, or the flag).
pub fn load_tls(config: &MockConfig) -> Result<Option<MockTls>, tls::TlsError> {
    let Some(tls) = &config.tls else {
        return Ok(None);
    };
    Ok(Some(MockTls {
        identity: tls.load()?,
        stats: Arc::default(),
    }))
}

fn serve_state(
    listener: TcpListener,
    state: AppState,
    tls: Option<&MockTls>,
    conns: Arc<ConnStats>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = std::io::Result<()>> + Send + 'static {
    let tls = tls.map(|t| (t.identity.acceptor(), t.stats.clone()));
    let limits = state.config().connections.clone();
    state.spawn_inactivity_sweep();
    server::run(listener, app(state), tls, limits, conns, shutdown)
}

/// A mock running in the background of this process. Dropping it shuts
/// the server down.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    state: AppState,
    /// Cancelling it stops the server (graceful) and every simulated-agent
    /// timer.
    cancel: CancellationToken,
    task: Option<JoinHandle<std::io::Result<()>>>,
    /// Connections accepted, refused, closed idle.
    conns: Arc<ConnStats>,
    /// Set when serving HTTPS.
    tls: Option<MockTls>,
}

/// Starts the mock on `config.bind` (default `127.0.0.1:0`, any free port).
///
/// # Errors
///
/// An invalid config (`InvalidInput`) or a bind error.
pub async fn spawn(config: MockConfig) -> std::io::Result<MockServer> {
    spawn_inner(config, None).await
}

/// Like [`spawn`], with an [`EventHook`] that receives every internal
/// event in process (webhooks registered through the API are delivered
/// either way). The hook is called with an app's store locked: it must only
/// enqueue.
///
/// # Errors
///
/// An invalid config (`InvalidInput`) or a bind error.
pub async fn spawn_with_hook(
    config: MockConfig,
    hook: std::sync::Arc<dyn EventHook>,
) -> std::io::Result<MockServer> {
    spawn_inner(config, Some(hook)).await
}

/// Like [`spawn`], serving on a listener the caller bound (e.g. inside
/// another network namespace); `config.bind` is then ignored.
///
/// # Errors
///
/// An invalid config (`InvalidInput`) or the listener's address unreadable.
pub async fn spawn_on(listener: TcpListener, config: MockConfig) -> std::io::Result<MockServer> {
    start(listener, config, None)
}

async fn spawn_inner(
    config: MockConfig,
    hook: Option<std::sync::Arc<dyn EventHook>>,
) -> std::io::Result<MockServer> {
    let bind = config
        .bind
        .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    start(TcpListener::bind(bind).await?, config, hook)
}

fn start(
    listener: TcpListener,
    config: MockConfig,
    hook: Option<std::sync::Arc<dyn EventHook>>,
) -> std::io::Result<MockServer> {
    config.validate().map_err(invalid_input)?;
    let tls = load_tls(&config).map_err(invalid_input)?;
    let addr = listener.local_addr()?;
    let cancel = CancellationToken::new();
    let state = AppState::with_hook(config, hook, cancel.clone());
    let stop = cancel.clone();
    let stopped = async move {
        stop.cancelled().await;
    };
    let conns = Arc::<ConnStats>::default();
    let served = serve_state(
        listener,
        state.clone(),
        tls.as_ref(),
        conns.clone(),
        stopped,
    );
    let task = tokio::spawn(served);
    Ok(MockServer {
        addr,
        state,
        cancel,
        task: Some(task),
        conns,
        tls,
    })
}

/// Counts each connection the HTTP server is handed into `counter`.
impl MockServer {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/v1` (`https://` when serving TLS).
    pub fn base_url(&self) -> String {
        format!("{}://{}/v1", self.scheme(), self.addr)
    }

    /// `http://127.0.0.1:PORT/__mock` (`https://` when serving TLS).
    pub fn admin_url(&self) -> String {
        format!("{}://{}/__mock", self.scheme(), self.addr)
    }

    fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// The generated CA certificate (PEM) a client must trust; `None` for
    /// plain HTTP or a certificate read from files.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().and_then(|t| t.identity.ca_pem())
    }

    /// TLS handshakes so far, by negotiated protocol; `None` for plain HTTP.
    pub fn tls_counts(&self) -> Option<TlsCounts> {
        self.tls.as_ref().map(|t| t.stats.counts())
    }

    /// Connections so far: accepted, refused past the limit, closed idle.
    pub fn conn_counts(&self) -> ConnCounts {
        self.conns.counts()
    }

    /// Connections accepted so far (within the connection limit): how a
    /// test sees whether clients reuse keep-alive connections.
    pub fn connections(&self) -> u64 {
        self.conns.counts().accepted
    }

    /// The server's shared state (for in-process inspection).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting, waits up to `connections.shutdown_grace_ms` for
    /// in-flight requests, then stops.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        let limit = self.state.config().connections.shutdown_grace() + SHUTDOWN_MARGIN;
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(limit, &mut task).await.is_err()
        {
            task.abort();
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
