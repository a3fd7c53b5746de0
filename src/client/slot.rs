//! A virtual user's own connection ([`ConnSlot`]) and the requests sent on
//! it: the load's hot path, for `http://` and `https://` alike.
//!
//! In the closed model a virtual user is one client with one connection, as
//! in oha or wrk: owning it skips a shared pool's lock, its hashing of the
//! origin and its checkout futures on every request. Each request also
//! learns how its connection was set up ([`ConnUse`]): opened for it (TCP
//! connect and TLS handshake times) or reused, and its time to first byte;
//! a request that got no response after it connected (timed out, its
//! connection dropped, its body cut) leaves that on the slot
//! ([`ConnSlot::take_unanswered`]).

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;

use tokio_rustls::TlsConnector;
use tokio_util::either::Either;

use super::body::{BodyError, read_hyper};
use super::connect::{ConnectFailure, Opened, Sender};
use super::failure::NO_HTTP2;
use super::request::PreparedRequest;
use super::{ApiClient, ApiRequest, ApiResponse, ClientError, ConnectCause, Malformed};

/// How a response's connection was set up, measured with `Instant` only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnUse {
    /// The request opened a new connection (`None`: it reused one).
    pub opened: Option<Opened>,
    /// From the send until the response head arrived; `None` where it is not
    /// measured (requests outside a VU's slot).
    pub first_byte: Option<Duration>,
    /// It went over a VU's slot (the fast path), not the shared pool.
    pub slot: bool,
}

/// A virtual user's own connection, for [`ApiClient::send_on`].
///
/// Empty until the first request; reconnects when the server closed it.
/// Under the `http2` policy it holds a handle on the HTTP/2 connection its
/// group of VUs shares.
#[derive(Debug, Default)]
pub struct ConnSlot {
    sender: Option<Sender>,
    /// The request timeout's timer, kept from request to request (see
    /// [`ConnSlot::within`]).
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    owner: Owner,
    /// The connection the last request went out on, once it had one:
    /// `Some(None)` reused, `Some(Some(_))` opened for it. Kept here, not in
    /// the error (copied with every result), for a request that got no
    /// response; `None` when it never connected.
    used: Option<Option<Opened>>,
}

/// Whom a slot's connections are for.
#[derive(Default)]
struct Owner {
    /// The VU (from 1), which picks its shared HTTP/2 connection.
    vu: u64,
    /// Over `https://`, the VU's own TLS session cache (made at its first
    /// connection): its reconnects resume its session, never another VU's.
    sessions: Option<TlsConnector>,
}

impl std::fmt::Debug for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Owner")
            .field("vu", &self.vu)
            .field("sessions", &self.sessions.is_some())
            .finish()
    }
}

impl ConnSlot {
    /// VU `vu`'s slot, empty.
    pub fn new(vu: u64) -> ConnSlot {
        ConnSlot {
            owner: Owner { vu, sessions: None },
            ..ConnSlot::default()
        }
    }

    /// Lets go of the connection: the next request opens a new one (the
    /// `new_per_iteration` policy). Over HTTP/1.1 the connection closes.
    pub fn drop_connection(&mut self) {
        self.sender = None;
    }

    /// How the last request's connection was set up, when that request got
    /// no response although it connected: it timed out, its connection was
    /// dropped or its body cut off. It still opened or reused a connection,
    /// and counts in the connection figures like one that was answered
    /// (with no time to first byte). `None` after a request that never
    /// connected (a connect failure) or one that was answered (its
    /// [`ApiResponse::conn`] says it), and once taken.
    pub fn take_unanswered(&mut self) -> Option<ConnUse> {
        self.used.take().map(|opened| ConnUse {
            opened,
            first_byte: None,
            slot: true,
        })
    }

    /// Runs `fut` until `deadline`; `Err(Timeout)` if it is not done by then.
    ///
    /// A `tokio::time::timeout` per request registers a timer entry in the
    /// runtime's wheel and removes it again (a lock each time, a clock read,
    /// a handle clone) although on a healthy target it never fires. Instead
    /// the slot keeps one timer armed at an earlier request's deadline. The
    /// deadlines of one slot never decrease (send time + the same timeout),
    /// so that timer can only fire early: it is then re-armed at the current
    /// deadline, which happens once per timeout period, not per request.
    pub(super) async fn within<T>(
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

impl ApiClient {
    /// Whether VU requests go over [`ConnSlot`]s (every valid target), and
    /// so whether [`ApiClient::prepare`] builds anything.
    pub fn uses_slots(&self) -> bool {
        self.host.is_some()
    }

    /// Sends a [`PreparedRequest`] on `slot`, as [`ApiClient::send_on`] would
    /// have sent the request it was prepared from.
    ///
    /// # Errors
    /// No response: connection refused, timeout, or a transport failure.
    pub fn send_prepared<'a>(
        &'a self,
        slot: &'a mut ConnSlot,
        prepared: &PreparedRequest,
        sent: Instant,
    ) -> impl Future<Output = Result<ApiResponse, ClientError>> + 'a {
        self.send_request_on(slot, Ok(prepared.request()), sent)
    }

    /// Sends one request on the virtual user's own connection `slot` and
    /// reads the whole body.
    ///
    /// The hyper request is built before the future is: an `async fn` would
    /// keep `req` in its state for as long as the request runs.
    ///
    /// # Errors
    /// No response: connection refused, timeout, or a transport failure.
    pub fn send_on<'a>(
        &'a self,
        slot: &'a mut ConnSlot,
        req: ApiRequest<'a>,
        sent: Instant,
    ) -> impl Future<Output = Result<ApiResponse, ClientError>> + 'a {
        let Some(host) = &self.host else {
            // Boxed: the pool's and reqwest's futures are several KB, and
            // inline they would make every slot request's future that large,
            // copied each time it is created.
            return Either::Left(Box::pin(self.send(req)));
        };
        Either::Right(self.send_request_on(slot, self.slot_request(host, req), sent))
    }

    /// A new connection for the slot of `owner`: its own (through its own
    /// TLS sessions), or under the `http2` policy its group's (then `None`
    /// when it was open already).
    async fn connection(&self, owner: &mut Owner) -> Result<(Sender, Option<Opened>), ClientError> {
        if let Some(shared) = &self.shared {
            return shared.get(owner.vu, self).await;
        }
        let sessions = match (&self.connector.tls, &mut owner.sessions) {
            (Some(tls), sessions) => {
                Some(&*sessions.get_or_insert_with(|| tls.with_own_sessions()))
            }
            (None, _) => None,
        };
        self.open(sessions).await.map(|(s, o)| (s, Some(o)))
    }

    /// Opens a connection, over `https://` through `sessions` (else the
    /// client's own cache); a failed TLS handshake is described once.
    pub(super) async fn open(
        &self,
        sessions: Option<&TlsConnector>,
    ) -> Result<(Sender, Opened), ClientError> {
        self.connector
            .open(sessions)
            .await
            .map_err(|failure| ClientError::Connect(self.connect_cause(failure)))
    }

    /// Why a connection could not be opened; a failed TLS handshake (or a
    /// server that would not speak HTTP/2 when only HTTP/2 was asked for)
    /// is described once, for [`ApiClient::tls_failure`].
    fn connect_cause(&self, failure: ConnectFailure) -> ConnectCause {
        match failure {
            ConnectFailure::Connect(cause) => cause,
            ConnectFailure::Tls(e) => {
                self.note_tls_failure(&e);
                ConnectCause::Tls
            }
            ConnectFailure::NoHttp2 => {
                let _ = self.tls_failure.set(NO_HTTP2.to_owned());
                ConnectCause::NoHttp2
            }
        }
    }

    /// The exchange on `slot`, within the timeout from `sent`, of `request`
    /// (or at once its error, when it could not be built). A request that
    /// found the kept-alive connection closed before it was sent is retried
    /// once on a new connection, as a pool does.
    ///
    /// The request is kept here, once, and lent to [`ApiClient::exchange_on`]:
    /// moved by value through `async fn`s, each one's future would hold its
    /// own copy (256 bytes) for as long as the request runs, and every
    /// virtual user's task would be that much larger.
    fn send_request_on<'a>(
        &'a self,
        slot: &'a mut ConnSlot,
        request: Result<hyper::Request<Full<Bytes>>, ClientError>,
        sent: Instant,
    ) -> impl Future<Output = Result<ApiResponse, ClientError>> + 'a {
        let (mut request, unbuilt) = match request {
            Ok(request) => (Some(request), None),
            Err(e) => (None, Some(e)),
        };
        async move {
            let ConnSlot {
                sender: conn,
                timer,
                owner,
                used,
            } = slot;
            // Set by the exchange once the connection is up.
            *used = None;
            if let Some(e) = unbuilt {
                return Err(e);
            }
            let result = {
                let exchange = pin!(self.exchange_on(conn, owner, &mut request, sent, used));
                match sent.checked_add(self.timeout) {
                    Some(deadline) => ConnSlot::within(timer, deadline, exchange).await,
                    None => exchange.await, // a timeout beyond what Instant can express
                }
            };
            match result {
                // Out of time before a connection was up (no SYN answer, a
                // TLS handshake never finished): the target was not reached.
                Err(ClientError::Timeout) if used.is_none() => {
                    Err(ClientError::Connect(ConnectCause::TimedOut(self.timeout)))
                }
                Err(e) => Err(e),
                Ok(response) => {
                    // Its response carries it.
                    *used = None;
                    Ok(response)
                }
            }
        }
    }

    /// Sends `request` on the slot's connection `conn` (opened for `owner`
    /// when there is none) and reads the response; retried once on a new
    /// connection when a reused one turns out closed before the request left
    /// (hyper hands it back into `request`). Once connected, how is in
    /// `used` (see [`ConnSlot::take_unanswered`]).
    async fn exchange_on(
        &self,
        conn: &mut Option<Sender>,
        owner: &mut Owner,
        request: &mut Option<hyper::Request<Full<Bytes>>>,
        sent: Instant,
        used: &mut Option<Option<Opened>>,
    ) -> Result<ApiResponse, ClientError> {
        let mut retried = false;
        loop {
            let (reused, opened) = self.ensure_connection(conn, owner).await?;
            *used = Some(opened);
            let Some(sender) = conn.as_mut() else {
                return Err(ClientError::Other);
            };
            if sender.ready().await.is_err() {
                *conn = None;
                if reused && !retried {
                    retried = true;
                    continue;
                }
                // Closed before the request could go out: a connect failure.
                *used = None;
                return Err(ClientError::Connect(ConnectCause::Closed));
            }
            // Always there: sent only below, and put back before a retry.
            let Some(outgoing) = request.take() else {
                return Err(ClientError::Other);
            };
            // Moved, never borrowed, here: a local borrowed in an `async fn`
            // keeps its place in the future's state across later awaits.
            let outgoing = match sender {
                Sender::Http2(_) => self.absolute_uri(outgoing),
                Sender::Http1(_) => outgoing,
            };
            let response = match sender.send(outgoing).await {
                Ok(response) => response,
                Err(mut e) => {
                    *conn = None;
                    match e.take_message() {
                        Some(unsent) if reused && !retried => {
                            retried = true;
                            *request = Some(unsent);
                            continue;
                        }
                        _ => {
                            return Err(Malformed::of_hyper(e.error())
                                .map_or(ClientError::Dropped, ClientError::Malformed));
                        }
                    }
                }
            };
            let first_byte = sent.elapsed();
            let conn_use = super::ConnUse {
                opened,
                first_byte: Some(first_byte),
                slot: true,
            };
            let result = self.response(response, conn_use).await;
            if let Err(ClientError::BodyTooLarge { .. }) = result
                && matches!(conn, Some(Sender::Http1(_)))
            {
                // The rest of the body is never read: the connection goes
                // (HTTP/2 resets the stream alone when the body is dropped).
                *conn = None;
            }
            return result;
        }
    }

    /// Keeps the slot's open connection or puts a new one in `conn`: whether
    /// the connection was in use before (a kept-alive or shared one), and
    /// how it was opened when this call opened it.
    async fn ensure_connection(
        &self,
        conn: &mut Option<Sender>,
        owner: &mut Owner,
    ) -> Result<(bool, Option<Opened>), ClientError> {
        if conn.as_ref().is_some_and(|s| !s.is_closed()) {
            return Ok((true, None));
        }
        // Boxed: once per connection, and it would make every request's
        // future larger.
        let (sender, opened) = Box::pin(self.connection(owner)).await?;
        *conn = Some(sender);
        Ok((opened.is_none(), opened))
    }

    /// HTTP/2 names the target in the request (`:scheme`, `:authority`):
    /// an origin-form URI gets the base URL's scheme and authority, shared
    /// parts (reference counts, no copy).
    fn absolute_uri(
        &self,
        mut request: hyper::Request<Full<Bytes>>,
    ) -> hyper::Request<Full<Bytes>> {
        if request.uri().authority().is_some() {
            return request;
        }
        let mut parts = std::mem::take(request.uri_mut()).into_parts();
        parts.scheme = Some(hyper::http::uri::Scheme::HTTPS);
        parts.authority = self.uri_authority.clone();
        if let Ok(uri) = hyper::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
        request
    }

    /// What came back, its body read whole. The head is read before the
    /// future is made, which then holds the body alone: an `async fn` would
    /// keep the whole response in its state beside the body being read.
    fn response(
        &self,
        response: hyper::Response<hyper::body::Incoming>,
        conn: super::ConnUse,
    ) -> impl Future<Output = Result<ApiResponse, ClientError>> {
        let (parts, mut body) = response.into_parts();
        let head = self.head(parts.version, parts.status, &parts.headers);
        let status = parts.status.as_u16();
        let limit = self.max_body;
        async move {
            let body = read_hyper(&mut body, limit).await.map_err(|e| match e {
                BodyError::TooLarge { received } => ClientError::BodyTooLarge {
                    status,
                    limit,
                    received,
                },
                BodyError::Cut | BodyError::TimedOut => ClientError::BodyCut(status),
            })?;
            Ok(head.with(body, conn))
        }
    }
}
