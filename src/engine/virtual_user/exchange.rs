//! One request of a virtual user: sent on its own connection (rendered
//! from the session, or built once when it has no template), what came
//! back ([`Exchange`]), the back-off after connection errors, sent again
//! while the target throttles it (the policy is in `throttle`), and the
//! request's record in the metrics (with how its connection was set up).

use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use reqwest::header::HeaderValue;
use serde_json::Value;

use std::sync::atomic::Ordering::Relaxed;

use super::render::render;
use super::{GIVE_UP_AFTER, Runner, connect_backoff, micros};
use crate::client::{ApiResponse, ClientError, ConnUse};
use crate::engine::explain::Response;
use crate::engine::session::Session;
use crate::engine::throttle::is_throttled;
use crate::metrics::{ConnSample, FailureKind, RequestSample, RouteId, StepId};
use crate::scenario::RequestSpec;
use crate::schema::Violation;

/// How a request ended at the transport level, for the back-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Answered,
    /// No connection could be made.
    NoConnection,
    /// Connected, but the connection ended before an answer.
    Dropped,
    TimedOut,
}

/// One request's outcome, before step bookkeeping.
pub(in crate::engine) struct Exchange {
    pub(in crate::engine) failure: Option<FailureKind>,
    /// The response broke its schema (counted after status and checks).
    pub(in crate::engine) schema_failed: bool,
    /// The response was sampled for the schema check (`--schema`), whether
    /// it was checked anew or matched a body that passed before.
    pub(in crate::engine) schema_checked: bool,
    pub(in crate::engine) status: Option<u16>,
    pub(in crate::engine) body: Option<Value>,
    pub(in crate::engine) latency: Duration,
    /// Request-level times read the wall clock the client measures with;
    /// iteration and step times read tokio's (pausable in tests).
    pub(in crate::engine) sent: std::time::Instant,
    /// When the send ended (the answer, or why none came, was in), on
    /// tokio's clock: chatload's handling of it runs from here, and is
    /// taken out of the step's and the iteration's time.
    pub(in crate::engine) arrived: tokio::time::Instant,
    /// The response body as received (moved, not copied), to explain a failure.
    pub(in crate::engine) raw: Bytes,
    /// The response's `Content-Type`, for a download's checks.
    pub(in crate::engine) content_type: Option<HeaderValue>,
    /// The `Content-Type` is not one the spec declares for the operation
    /// and status (checked on every response, whatever `--schema` says).
    pub(in crate::engine) wrong_type: bool,
    /// Request body bytes sent.
    pub(in crate::engine) sent_bytes: u64,
    /// The rendered path (empty for a prepared, template-free request).
    pub(in crate::engine) path: String,
    /// The schema violation, kept only when there is one (boxed: a rare
    /// failure's text should not make every exchange moved around larger).
    pub(in crate::engine) violation: Option<Box<Violation>>,
    /// The target throttled the request (429, or 503 with `Retry-After`).
    pub(in crate::engine) throttled: bool,
    /// The throttled response's `Retry-After`, as a wait.
    pub(in crate::engine) retry_after: Option<Duration>,
    /// How the request's connection was set up (default when it never
    /// connected, or did not go over the VU's own connection).
    pub(in crate::engine) conn: ConnUse,
    /// Why no response arrived, when none did.
    pub(in crate::engine) cause: Option<ClientError>,
}

/// What is known of a request once it was sent and its exchange ended.
struct Sending {
    sent: std::time::Instant,
    latency: Duration,
    arrived: tokio::time::Instant,
    sent_bytes: u64,
    /// The rendered path (empty for a prepared request).
    path: String,
}

impl Exchange {
    /// A request that got no response; `conn` is how its connection was set
    /// up when it had one (it timed out, or its connection ended, after it
    /// connected).
    fn no_response(e: ClientError, sending: Sending, conn: Option<ConnUse>) -> Exchange {
        Exchange {
            failure: Some(e.failure_kind()),
            cause: Some(e),
            latency: sending.latency,
            sent: sending.sent,
            arrived: sending.arrived,
            sent_bytes: sending.sent_bytes,
            path: sending.path,
            conn: conn.unwrap_or_default(),
            ..Exchange::unsent()
        }
    }

    /// A request that was never sent (a template read an unset variable).
    pub(super) fn unsent() -> Exchange {
        Exchange {
            failure: Some(FailureKind::Capture),
            schema_failed: false,
            schema_checked: false,
            status: None,
            body: None,
            latency: Duration::ZERO,
            sent: std::time::Instant::now(),
            arrived: tokio::time::Instant::now(),
            raw: Bytes::new(),
            content_type: None,
            wrong_type: false,
            sent_bytes: 0,
            path: String::new(),
            violation: None,
            throttled: false,
            retry_after: None,
            conn: ConnUse::default(),
            cause: None,
        }
    }

    /// Whether the request went out: one whose template read an unset
    /// variable never did, and has neither a latency nor a response.
    pub(in crate::engine) fn was_sent(&self) -> bool {
        self.status.is_some() || self.failure != Some(FailureKind::Capture)
    }

    /// What came back, for explaining a failure.
    pub(in crate::engine) fn response(&self) -> Response<'_> {
        Response {
            status: self.status,
            body: self.body.as_ref(),
            raw: &self.raw,
            content_type: self.content_type.as_ref().and_then(|t| t.to_str().ok()),
            violation: self.violation.as_deref(),
            declared_type: None,
            cause: self.cause,
        }
    }
}

impl Runner {
    /// What came back, for explaining a failure: [`Exchange::response`]
    /// with the types the spec declares when the response had another.
    pub(in crate::engine) fn response<'a>(
        &'a self,
        spec: &RequestSpec,
        ex: &'a Exchange,
    ) -> Response<'a> {
        let declared_type = ex
            .wrong_type
            .then(|| self.types.get(spec.route as usize)?.declared(ex.status?))
            .flatten();
        Response {
            declared_type,
            ..ex.response()
        }
    }

    pub(super) fn record_request(
        &self,
        step: u32,
        spec: &RequestSpec,
        ex: &Exchange,
        failure: Option<FailureKind>,
        lag: Duration,
    ) {
        if !ex.was_sent() {
            return;
        }
        let latency_us = micros(ex.latency);
        self.hub.record_request(&RequestSample {
            route: RouteId(spec.route),
            step: Some(StepId(step)),
            status: ex.status,
            failure,
            latency_us,
            corrected_us: latency_us + micros(lag),
            bytes_sent: ex.sent_bytes,
            // A body over the limit failed its request, but its bytes came.
            bytes_received: ex.raw.len() as u64 + ex.cause.map_or(0, ClientError::bytes_received),
            throttled: ex.throttled,
            schema_checked: ex.schema_checked,
            connection: conn_sample(&ex.conn),
        });
    }

    /// Sends the request of step `step` (rendered from the session, or built
    /// once per VU when it has no template) and checks what comes back,
    /// under the scenario's `rate_limit` policy: while the target throttles
    /// it, the throttled answer is recorded, waited out and the request sent
    /// again ([`Runner::after_throttle`]). The exchange returned is recorded
    /// by the caller.
    ///
    /// One `async fn` with the throttle loop inside, not a loop around
    /// another: each layer's future is moved into place (its whole size
    /// copied) on every request, and polled through once more.
    pub(super) async fn exchange(
        &self,
        step: u32,
        spec: &RequestSpec,
        session: &mut Session,
        needs_body: bool,
        lag: Duration,
    ) -> Exchange {
        let mut attempt = 0;
        loop {
            // The exchange is settled in this block, before any throttle
            // wait: held across that sleep, it would sit beside the send's
            // future in every virtual user's task.
            let wait = {
                if session.connect_errors > 0 {
                    // Before the request, and kept out of the step's and the
                    // iteration's latency: chatload's wait, not the target's.
                    let from = tokio::time::Instant::now();
                    tokio::time::sleep(connect_backoff(session.connect_errors)).await;
                    session.own_time += from.elapsed();
                }
                // Building the request is chatload's time too.
                let building = tokio::time::Instant::now();
                let (sent, sent_bytes);
                let mut path = String::new();
                self.prepare(step, spec, session);
                let response = if let Some(prepared) =
                    session.prepared.get(step as usize).and_then(Option::as_ref)
                {
                    sent_bytes = prepared.body_len() as u64;
                    session.own_time += building.elapsed();
                    sent = std::time::Instant::now();
                    self.in_flight.begin(&session.in_flight, sent);
                    self.client
                        .send_prepared(&mut session.conn, prepared, sent)
                        .await
                } else {
                    let Ok(mut rendered) = render(spec, session) else {
                        session.own_time += building.elapsed();
                        return Exchange::unsent();
                    };
                    session.own_time += building.elapsed();
                    sent = std::time::Instant::now();
                    if let Some(hooks) = &self.hooks {
                        hooks.on_send(spec.route, &rendered.path, session, sent);
                    }
                    // Read off `rendered`, not the request: a borrowed local
                    // keeps its place in this future's state across the send.
                    sent_bytes = rendered.body.as_ref().map_or(0, |b| b.len() as u64);
                    let request = rendered.request(spec);
                    self.in_flight.begin(&session.in_flight, sent);
                    let response = self.client.send_on(&mut session.conn, request, sent).await;
                    path = std::mem::take(&mut rendered.path);
                    response
                };
                let latency = sent.elapsed();
                let sending = Sending {
                    sent,
                    latency,
                    arrived: tokio::time::Instant::now(),
                    sent_bytes,
                    path,
                };
                let mut ex = self.answered(spec, session, needs_body, response, sending);
                match self.after_throttle(step, spec, session, &mut ex, attempt, lag) {
                    None => return ex,
                    Some(wait) => {
                        // Handled and recorded: the throttled answer is done with.
                        handled(session, ex);
                        wait
                    }
                }
            };
            self.wait_out_throttle(spec, wait).await;
            attempt += 1;
        }
    }

    /// The exchange of a request that was sent: the VU's connection
    /// bookkeeping, then what came back (or why nothing did).
    fn answered(
        &self,
        spec: &RequestSpec,
        session: &mut Session,
        needs_body: bool,
        response: Result<ApiResponse, ClientError>,
        sending: Sending,
    ) -> Exchange {
        session.in_flight.clear();
        let outcome = match &response {
            Ok(_) => Transport::Answered,
            Err(ClientError::Connect(_)) => Transport::NoConnection,
            Err(
                ClientError::Dropped
                | ClientError::Malformed(_)
                | ClientError::BodyCut(_)
                | ClientError::BodyTooLarge { .. }
                | ClientError::Other,
            ) => Transport::Dropped,
            Err(ClientError::Timeout) => Transport::TimedOut,
        };
        self.note_connection(session, outcome);
        match response {
            Ok(resp) => self.received(spec, session, needs_body, resp, sending),
            // Sent after it connected, it used a connection all the same.
            Err(e) => Exchange::no_response(e, sending, session.conn.take_unanswered()),
        }
    }

    /// A response that arrived, its body parsed when something reads it and
    /// checked against its schema when this one is sampled.
    fn received(
        &self,
        spec: &RequestSpec,
        session: &mut Session,
        needs_body: bool,
        resp: ApiResponse,
        sending: Sending,
    ) -> Exchange {
        let schema = self
            .schemas
            .get(spec.route as usize)
            .and_then(Option::as_ref)
            .filter(|_| {
                self.schema_ratio >= 1.0
                    || (self.schema_ratio > 0.0 && session.rng.random_bool(self.schema_ratio))
            });
        let schema_checked = schema.is_some();
        // A body byte-identical to the last one that passed on this
        // route and status passes again (see ValidBodyMemo).
        let schema = schema.filter(|_| {
            !session
                .valid_body
                .holds(spec.route, resp.status, &resp.body)
        });
        let body: Option<Value> = if (needs_body || schema.is_some()) && !resp.body.is_empty() {
            serde_json::from_slice(&resp.body).ok()
        } else {
            None
        };
        let types = self.types.get(spec.route as usize);
        let wrong_type = types.is_some_and(|t| !t.admits(resp.status, resp.content_type.as_ref()));
        let violation = schema.and_then(|s| s.check(resp.status, body.as_ref()));
        if schema.is_some() && violation.is_none() && !wrong_type {
            session
                .valid_body
                .remember(spec.route, resp.status, &resp.body);
        }
        // A checked response whose type the spec does not declare breaks the
        // spec as a body would: `schema_violations` counts it too.
        let violation = violation.or_else(|| {
            (schema_checked && wrong_type).then(|| {
                let declared = types.and_then(|t| t.declared(resp.status)).unwrap_or("");
                wrong_type_violation(resp.status, resp.content_type.as_ref(), declared)
            })
        });
        // Cloned only when the response broke its schema (a failure).
        let kept = violation.clone().map(Box::new);
        let schema_failed = violation.is_some_and(|v| {
            self.violations
                .record(&self.scenario.routes[spec.route as usize].key, v);
            true
        });
        Exchange {
            failure: None,
            schema_failed,
            schema_checked,
            status: Some(resp.status),
            body,
            latency: sending.latency,
            sent: sending.sent,
            arrived: sending.arrived,
            raw: resp.body,
            content_type: resp.content_type,
            wrong_type,
            sent_bytes: sending.sent_bytes,
            path: sending.path,
            violation: kept,
            throttled: is_throttled(resp.status, resp.retry_after),
            retry_after: resp.retry_after,
            conn: resp.conn,
            cause: None,
        }
    }

    /// Keeps the VU's run of transport errors for its back-off (reset by an
    /// answer or a timeout, which waited already), and flags the target
    /// unreachable when nothing ever connected and this VU gave up. A
    /// connection dropped before the answer (a target that accepts and
    /// closes) backs off too, but counts as connected.
    fn note_connection(&self, session: &mut Session, outcome: Transport) {
        if outcome != Transport::NoConnection {
            session.connect_errors = if outcome == Transport::Dropped {
                session.connect_errors.saturating_add(1)
            } else {
                0
            };
            if !self.ever_connected.load(Relaxed) {
                self.ever_connected.store(true, Relaxed);
            }
            return;
        }
        session.connect_errors = session.connect_errors.saturating_add(1);
        if session.connect_errors >= GIVE_UP_AFTER && !self.ever_connected.load(Relaxed) {
            self.unreachable.store(true, Relaxed);
        }
    }

    /// Builds the request of a template-free step on this VU's first use of
    /// it, into `session.prepared`. Nothing for a step with templates, or a
    /// request that cannot be prepared (it then goes the rendered way, which
    /// reports the error).
    pub(super) fn prepare(&self, step: u32, spec: &RequestSpec, session: &mut Session) {
        let id = step as usize;
        if !self.fixed_requests.get(id).copied().unwrap_or(false)
            || session.prepared.get(id).is_some_and(Option::is_some)
            // Lifecycle requests are reported to the webhook tracker with
            // their rendered path, so they always take the rendered way.
            || self.hooks.as_ref().is_some_and(|h| h.tracks(spec.route))
        {
            return;
        }
        if session.prepared.len() <= id {
            session.prepared.resize_with(id + 1, || None);
        }
        session.prepared[id] = render(spec, session)
            .ok()
            .and_then(|mut rendered| self.client.prepare(rendered.request(spec)));
    }
}

/// The metrics' view of how a request's connection was set up; `None` for
/// a request that did not connect over a VU's own connection.
fn conn_sample(conn: &ConnUse) -> Option<ConnSample> {
    if !conn.slot {
        return None;
    }
    Some(ConnSample {
        opened: conn.opened.is_some(),
        connect_us: conn.opened.map_or(0, |o| micros(o.connect)),
        tls_us: conn.opened.and_then(|o| o.tls).map(micros),
        resumed: conn.opened.is_some_and(|o| o.resumed),
        first_byte_us: conn.first_byte.map(micros),
        pooled: false,
    })
}

/// Done with an exchange: drops it (a large parsed body takes a while) and
/// adds the time since its answer arrived to chatload's own time.
pub(super) fn handled(session: &mut Session, ex: Exchange) {
    let arrived = ex.arrived;
    drop(ex);
    session.own_time += arrived.elapsed();
}

/// The schema violation of a response whose `Content-Type` the spec does not
/// declare for its status.
fn wrong_type_violation(
    status: u16,
    content_type: Option<&HeaderValue>,
    declared: &str,
) -> Violation {
    let got = content_type
        .and_then(|t| t.to_str().ok())
        .unwrap_or("(none)");
    Violation {
        status,
        path: String::new(),
        reason: format!(
            "Content-Type {got} is not declared for status {status} (declared: {declared})"
        ),
    }
}
