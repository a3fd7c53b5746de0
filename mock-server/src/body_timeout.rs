//! A request body whose pauses are bounded: when the client sends nothing
//! of its body for `connections.header_read_timeout_ms`, the body ends with
//! [`BodyStalled`], so the handler reading it answers (400) and the
//! connection is closed (hyper stops reading a body left unfinished and
//! does not keep that connection alive).
//!
//! Without it, a request that declares a large `Content-Length` and then
//! stalls holds its connection (and a `max_connections` slot) for ever: the
//! head arrived, so the header-read timeout is over, and the request is in
//! progress, so the idle timeout does not apply.
//!
//! Hot path: no allocation; the timer is created only when a read has to
//! wait (a small body already buffered with its head never arms one).
//!
//! Talks to: `server` (wraps every request's body), `extract` (maps
//! [`BodyStalled`] to its message).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::Sleep;

/// The error a stalled body ends with.
#[derive(Debug, thiserror::Error)]
#[error("no byte of the request body arrived for {} ms", .0.as_millis())]
pub struct BodyStalled(pub Duration);

pin_project! {
    /// `inner`, ending with [`BodyStalled`] when a read waits longer than
    /// `timeout`.
    pub(crate) struct TimedBody<B> {
        #[pin]
        inner: B,
        timeout: Duration,
        // Armed while a read waits; disarmed when a frame arrives.
        #[pin]
        sleep: Option<Sleep>,
    }
}

impl<B> TimedBody<B> {
    pub(crate) fn new(inner: B, timeout: Duration) -> TimedBody<B> {
        TimedBody {
            inner,
            timeout,
            sleep: None,
        }
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let mut this = self.project();
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            if this.sleep.is_some() {
                this.sleep.set(None);
            }
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if this.sleep.is_none() {
            this.sleep.set(Some(tokio::time::sleep(*this.timeout)));
        }
        match this.sleep.as_pin_mut().map(|sleep| sleep.poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Some(Err(Box::new(BodyStalled(*this.timeout))))),
            _ => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
