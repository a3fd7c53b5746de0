//! The mock's connections: its own accept loop (plain HTTP and TLS alike)
//! so that no client can hold it hostage.
//!
//! - **header-read timeout**: a request head (and, with TLS, the handshake
//!   before it) not complete in `header_read_timeout_ms` closes the
//!   connection; for HTTP/1.1 it also bounds the wait for the next request
//!   on a kept-alive connection (hyper arms it at every request head);
//! - **body timeout**: a request body that sends nothing for
//!   `header_read_timeout_ms` ends with an error (see [`crate::body_timeout`]):
//!   the handler answers and the connection is closed;
//! - **idle timeout**: a connection that moved no byte and had no request in
//!   progress for `idle_timeout_ms` is closed (checked every
//!   `idle_timeout_ms`, so it closes within one to two periods; HTTP/2 too);
//! - **connection limit**: past `max_connections` open connections, a new
//!   one is answered `503` with the JSON error envelope and closed (at most
//!   [`REFUSING`] of those answers at a time; beyond, the socket is closed
//!   at once); every refusal is counted ([`ConnCounts::refused`]);
//! - **graceful shutdown with a deadline**: on shutdown the listener closes,
//!   open connections are asked to finish (HTTP/1.1 after the current
//!   response, HTTP/2 with GOAWAY), and whatever is still open after
//!   `shutdown_grace_ms` — a half-sent request, a stalled handler — is
//!   dropped, so the server always stops.
//!
//! Talks to: `lib.rs` (`serve`, `MockServer`), `connections` (its
//! settings, [`ConnectionsConfig`]), `tls` (handshakes), `routes` (the
//! [`App`] served on every connection), `error` (the refusal body).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use crate::body_timeout::TimedBody;
use crate::connections::ConnectionsConfig;
use crate::routes::App;
use crate::tls::TlsStats;

/// Refusal answers (`503`) in progress at most; past it, refused sockets
/// are closed without an answer.
pub const REFUSING: usize = 64;

/// Connection counters, shared by the accept loop and the server's owner.
#[derive(Debug, Default)]
pub struct ConnStats {
    accepted: AtomicU64,
    refused: AtomicU64,
    idle_closed: AtomicU64,
}

/// A snapshot of [`ConnStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ConnCounts {
    /// Connections served (within the limit).
    pub accepted: u64,
    /// Connections refused because `max_connections` were open.
    pub refused: u64,
    /// Connections closed by the idle timeout.
    pub idle_closed: u64,
}

impl ConnStats {
    /// The counts so far.
    pub fn counts(&self) -> ConnCounts {
        ConnCounts {
            accepted: self.accepted.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            idle_closed: self.idle_closed.load(Ordering::Relaxed),
        }
    }
}

/// What every connection task needs.
#[derive(Clone)]
struct Shared {
    app: App,
    tls: Option<(TlsAcceptor, Arc<TlsStats>)>,
    config: ConnectionsConfig,
    stats: Arc<ConnStats>,
    /// Cancelled when the shutdown deadline passes: drops every connection.
    hard_stop: CancellationToken,
}

/// Serves `app` on `listener` (through TLS when `tls` is given) until
/// `shutdown` completes, then shuts down within `config.shutdown_grace_ms`.
///
/// # Errors
/// None today (accept errors are retried); `io::Result` for the callers.
pub(crate) async fn run(
    listener: TcpListener,
    app: App,
    tls: Option<(TlsAcceptor, Arc<TlsStats>)>,
    config: ConnectionsConfig,
    stats: Arc<ConnStats>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(config.max_connections));
    let refusing = Arc::new(Semaphore::new(REFUSING));
    let graceful = GracefulShutdown::new();
    let shared = Shared {
        app,
        tls,
        config,
        stats,
        hard_stop: CancellationToken::new(),
    };
    tokio::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of file descriptors and the like: back off, as axum does.
                    tracing::debug!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        if let Ok(permit) = permits.clone().try_acquire_owned() {
            shared.stats.accepted.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(serve_one(tcp, shared.clone(), graceful.watcher(), permit));
        } else {
            refuse(tcp, &shared, &refusing);
        }
    }
    drop(listener);
    let grace = shared.config.shutdown_grace();
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            "connections still open at the shutdown deadline: dropped"
        );
    }
    shared.hard_stop.cancel();
    Ok(())
}

/// Counts the refusal and answers it with a `503` when fewer than
/// [`REFUSING`] answers are in progress.
fn refuse(tcp: TcpStream, shared: &Shared, refusing: &Arc<Semaphore>) {
    let refused = shared.stats.refused.fetch_add(1, Ordering::Relaxed);
    if refused.is_power_of_two() || refused == 0 {
        tracing::warn!(
            max_connections = shared.config.max_connections,
            refused = refused + 1,
            "connection limit reached: refusing new connections"
        );
    }
    let Ok(permit) = refusing.clone().try_acquire_owned() else {
        return;
    };
    let shared = shared.clone();
    tokio::spawn(async move {
        let limit = shared.config.header_read_timeout();
        let max = shared.config.max_connections;
        let answer = async {
            let Some(io) = accept_tls(tcp, &shared).await else {
                return;
            };
            let service = hyper::service::service_fn(move |_req: Request<Incoming>| async move {
                Ok::<_, Infallible>(refusal(max))
            });
            let mut builder = builder(&shared.config);
            builder.http1().keep_alive(false);
            let _ = builder.serve_connection(TokioIo::new(io), service).await;
        };
        let _ = tokio::time::timeout(limit, answer).await;
        drop(permit);
    });
}

/// The `503` of a refused connection.
fn refusal(max: usize) -> Response {
    let mut response = crate::error::error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("connection limit reached ({max} open connections); retry later"),
    );
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    headers.insert(header::RETRY_AFTER, HeaderValue::from(1));
    response
}

/// The connection builder: HTTP/1.1 and HTTP/2, with tokio's timer (which
/// hyper's header-read timeout needs).
fn builder(config: &ConnectionsConfig) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout());
    builder.http2().timer(TokioTimer::new());
    builder
}

/// The TLS handshake (bounded by the header-read timeout) when serving
/// HTTPS; the plain stream otherwise.
async fn accept_tls(tcp: TcpStream, shared: &Shared) -> Option<Io> {
    match &shared.tls {
        None => Some(Io::Plain(tcp)),
        Some((acceptor, stats)) => {
            crate::tls::handshake(acceptor, tcp, stats, shared.config.header_read_timeout())
                .await
                .map(|tls| Io::Tls(Box::new(tls)))
        }
    }
}

/// Serves one accepted connection until it ends, idles out or the hard
/// stop; `permit` holds its place under `max_connections`.
async fn serve_one(tcp: TcpStream, shared: Shared, watcher: Watcher, permit: OwnedSemaphorePermit) {
    let activity = Arc::new(Activity::default());
    let hard_stop = shared.hard_stop.clone();
    let idle = Duration::from_millis(shared.config.idle_timeout_ms);
    let served = async {
        let Some(io) = accept_tls(tcp, &shared).await else {
            return;
        };
        let io = Tracked {
            io,
            activity: activity.clone(),
        };
        let (app, in_flight) = (shared.app.clone(), activity.clone());
        let body_timeout = shared.config.header_read_timeout();
        // The mock's App, with the request counted in progress (so a slow
        // handler is not taken for an idle connection) and its body's
        // pauses bounded (so a stalled body cannot hold the connection).
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let app = app.clone();
            let guard = InFlight::enter(in_flight.clone());
            async move {
                let req = req.map(|body| Body::new(TimedBody::new(body, body_timeout)));
                let response = app.oneshot(req).await;
                drop(guard);
                response
            }
        });
        let builder = builder(&shared.config);
        let conn = builder.serve_connection(TokioIo::new(io), service);
        if let Err(e) = watcher.watch(conn).await {
            tracing::debug!("connection ended: {e}");
        }
    };
    tokio::select! {
        () = served => {}
        () = activity.idle(idle) => {
            shared.stats.idle_closed.fetch_add(1, Ordering::Relaxed);
        }
        () = hard_stop.cancelled() => {}
    }
    drop(permit);
}

/// A connection's signs of life: bytes moved since the last check, and
/// requests in progress.
#[derive(Debug, Default)]
struct Activity {
    moved: AtomicBool,
    in_flight: AtomicUsize,
}

impl Activity {
    /// Completes once a whole `period` passed with no byte moved and no
    /// request in progress.
    async fn idle(&self, period: Duration) {
        loop {
            tokio::time::sleep(period).await;
            let moved = self.moved.swap(false, Ordering::Relaxed);
            if !moved && self.in_flight.load(Ordering::Relaxed) == 0 {
                return;
            }
        }
    }
}

/// A request in progress on a connection (see [`Activity`]).
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl InFlight {
    fn enter(activity: Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.moved.store(true, Ordering::Relaxed);
    }
}

/// The connection's byte stream, plain or TLS.
#[derive(Debug)]
enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Io::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Io::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Io::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Io::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

/// An [`Io`] that marks [`Activity::moved`] whenever bytes go through.
#[derive(Debug)]
struct Tracked {
    io: Io,
    activity: Arc<Activity>,
}

impl Tracked {
    fn mark<T>(&self, result: &Poll<std::io::Result<T>>) {
        if matches!(result, Poll::Ready(Ok(_))) {
            self.activity.moved.store(true, Ordering::Relaxed);
        }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_read(cx, buf);
        this.mark(&result);
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write(cx, buf);
        this.mark(&result);
        result
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
