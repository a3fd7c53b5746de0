//! Opening a connection to the target for a [`super::ConnSlot`]: the TCP
//! connect, over `https://` the rustls handshake (ALPN choosing HTTP/1.1 or
//! HTTP/2), and hyper's handshake on top, each timed with `Instant` only.
//!
//! One [`Connector`] per client holds one `rustls::ClientConfig`. Each
//! virtual user's slot connects with its own copy of it
//! ([`TlsTarget::with_own_sessions`]), so a VU's reconnect resumes that VU's
//! TLS session, as a returning browser's would, while a VU's first
//! connection is a full handshake, as a new user's is. The `http2` policy's
//! shared connections use the client's own cache.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::{TrySendError, http1, http2};
use hyper::{Request, Response, body::Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_util::either::Either;

use super::ConnectCause;

/// How one request's connection was set up: `None` in [`super::ConnUse`]
/// when it went over a connection already open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// TCP connect (from the start of the attempt to the socket connected).
    pub connect: Duration,
    /// The TLS handshake after it; `None` over plain HTTP.
    pub tls: Option<Duration>,
    /// The TLS session was resumed (an abbreviated handshake).
    pub resumed: bool,
}

/// A request sender on an open connection, of the HTTP version chosen.
#[derive(Debug)]
pub(super) enum Sender {
    Http1(http1::SendRequest<Full<Bytes>>),
    /// Cheap to clone: every clone multiplexes onto the same connection.
    Http2(http2::SendRequest<Full<Bytes>>),
}

/// What a send on a [`Sender`] gives back.
pub(super) type SendResult = Result<Response<Incoming>, TrySendError<Request<Full<Bytes>>>>;

impl Sender {
    pub(super) fn is_closed(&self) -> bool {
        match self {
            Sender::Http1(s) => s.is_closed(),
            Sender::Http2(s) => s.is_closed(),
        }
    }

    pub(super) async fn ready(&mut self) -> Result<(), hyper::Error> {
        match self {
            Sender::Http1(s) => s.ready().await,
            Sender::Http2(s) => s.ready().await,
        }
    }

    /// Sends `request`. Not an `async fn`: that would keep its own copy
    /// of the request (256 bytes) beside hyper's future, which holds it
    /// already, in every virtual user's task.
    pub(super) fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> impl Future<Output = SendResult> + use<'_> {
        match self {
            Sender::Http1(s) => Either::Left(s.try_send_request(request)),
            Sender::Http2(s) => Either::Right(s.try_send_request(request)),
        }
    }
}

/// Opens connections to one target.
#[derive(Debug)]
pub(super) struct Connector {
    /// `host:port` to connect to.
    pub(super) authority: String,
    pub(super) connect_timeout: Duration,
    /// `https://` targets only: rustls over the TCP stream.
    pub(super) tls: Option<TlsTarget>,
}

/// The TLS side of a [`Connector`].
pub(super) struct TlsTarget {
    /// Kept to give each virtual user a copy with its own session cache.
    config: Arc<rustls::ClientConfig>,
    pub(super) connector: TlsConnector,
    pub(super) server_name: ServerName<'static>,
    /// ALPN offers `h2` alone (`http: 2`, the `http2` policy): a server
    /// that does not choose it fails the connection.
    h2_only: bool,
}

impl std::fmt::Debug for TlsTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTarget")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl TlsTarget {
    /// A target named `host`, with `config` (shared: its session cache too).
    pub(super) fn new(config: rustls::ClientConfig, host: &str) -> Option<TlsTarget> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let h2_only = config.alpn_protocols == [b"h2".to_vec()];
        let config = Arc::new(config);
        Some(TlsTarget {
            h2_only,
            connector: TlsConnector::from(Arc::clone(&config)),
            config,
            server_name: ServerName::try_from(host.to_owned()).ok()?,
        })
    }

    /// A connector like the client's but with a session cache of its own,
    /// for one virtual user (once per VU, at its first connection).
    pub(super) fn with_own_sessions(&self) -> TlsConnector {
        let mut config = rustls::ClientConfig::clone(&self.config);
        config.resumption = rustls::client::Resumption::in_memory_sessions(SESSIONS_PER_VU);
        TlsConnector::from(Arc::new(config))
    }
}

/// Sessions one virtual user remembers: it talks to one server.
const SESSIONS_PER_VU: usize = 4;

/// Why no connection could be opened.
#[derive(Debug)]
pub(super) enum ConnectFailure {
    /// TCP refused or timed out, the name did not resolve, or hyper's
    /// handshake failed.
    Connect(ConnectCause),
    /// The TLS handshake failed (kept to explain it, see `ApiClient::tls_failure`).
    Tls(std::io::Error),
    /// Only HTTP/2 was offered by ALPN and the server did not choose it.
    NoHttp2,
}

impl Connector {
    /// A new connection with its driver spawned, and how long it took; over
    /// `https://` through `sessions` (a VU's own cache) or else the client's.
    pub(super) async fn open(
        &self,
        sessions: Option<&TlsConnector>,
    ) -> Result<(Sender, Opened), ConnectFailure> {
        let start = Instant::now();
        let stream = tokio::time::timeout(self.connect_timeout, self.tcp_connect())
            .await
            .map_err(|_| ConnectFailure::Connect(ConnectCause::TimedOut(self.connect_timeout)))??;
        let _ = stream.set_nodelay(true);
        let connected = Instant::now();
        let connect = connected - start;
        let Some(tls) = &self.tls else {
            let sender = http1_over(TokioIo::new(stream)).await?;
            let opened = Opened {
                connect,
                tls: None,
                resumed: false,
            };
            return Ok((sender, opened));
        };
        // Boxed: the TLS handshake's future is several KB, and inline it
        // would make every plain-HTTP connect's future (one per VU while it
        // connects) as large.
        Box::pin(self.open_tls(tls, sessions, stream, connect, connected)).await
    }

    /// The TCP connection to the target: its name resolved (a failure
    /// said as such), then each of its addresses tried in turn.
    async fn tcp_connect(&self) -> Result<TcpStream, ConnectFailure> {
        let addresses: Vec<std::net::SocketAddr> = tokio::net::lookup_host(self.authority.as_str())
            .await
            .map_err(|_| ConnectFailure::Connect(ConnectCause::Resolve))?
            .collect();
        TcpStream::connect(addresses.as_slice())
            .await
            .map_err(|e| ConnectFailure::Connect(ConnectCause::of_io(&e, self.connect_timeout)))
    }

    /// The rest of [`Connector::open`] over `https://`: the TLS handshake on
    /// `stream` (connected in `connect`, at `connected`) within what is left
    /// of the connect timeout, then HTTP/2 or HTTP/1.1 as ALPN chose.
    async fn open_tls(
        &self,
        tls: &TlsTarget,
        sessions: Option<&TlsConnector>,
        stream: TcpStream,
        connect: Duration,
        connected: Instant,
    ) -> Result<(Sender, Opened), ConnectFailure> {
        let left = self.connect_timeout.saturating_sub(connect);
        let connector = sessions.unwrap_or(&tls.connector);
        let stream = tokio::time::timeout(left, connector.connect(tls.server_name.clone(), stream))
            .await
            .map_err(|_| ConnectFailure::Connect(ConnectCause::TimedOut(self.connect_timeout)))?
            .map_err(ConnectFailure::Tls)?;
        let handshake = connected.elapsed();
        let session = stream.get_ref().1;
        let resumed = session.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        let h2 = session.alpn_protocol() == Some(b"h2");
        if tls.h2_only && !h2 {
            // The server ignored the ALPN offer (a server without HTTP/2
            // may): HTTP/2 was asked for alone, so no HTTP/1.1 instead.
            return Err(ConnectFailure::NoHttp2);
        }
        let io = TokioIo::new(stream);
        let sender = if h2 {
            http2_over(io).await?
        } else {
            http1_over(io).await?
        };
        let opened = Opened {
            connect,
            tls: Some(handshake),
            resumed,
        };
        Ok((sender, opened))
    }
}

/// HTTP/1.1 over `io`, its connection driven by a spawned task.
async fn http1_over<T>(io: TokioIo<T>) -> Result<Sender, ConnectFailure>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    // One write(2) of one buffer: head and a small JSON body are copied
    // together, instead of hyper's queue of buffers sent with writev(2),
    // whose bookkeeping costs more than the copy at these sizes.
    let (sender, connection) = http1::Builder::new()
        .writev(false)
        .handshake(io)
        .await
        .map_err(|_| ConnectFailure::Connect(ConnectCause::Closed))?;
    drive(connection);
    Ok(Sender::Http1(sender))
}

/// HTTP/2 over `io` (ALPN chose `h2`), its connection driven by a spawned task.
async fn http2_over<T>(io: TokioIo<T>) -> Result<Sender, ConnectFailure>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, connection) = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .handshake(io)
        .await
        .map_err(|_| ConnectFailure::Connect(ConnectCause::Closed))?;
    drive(connection);
    Ok(Sender::Http2(sender))
}

/// Drives a hyper connection on its own task until it ends (its outcome
/// reaches the requests through their senders).
fn drive(connection: impl Future<Output = Result<(), hyper::Error>> + Send + 'static) {
    tokio::spawn(async move {
        let _ = connection.await;
    });
}
