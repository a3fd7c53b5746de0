//! The scenario's `rate_limit` policy, for the send loop of
//! [`Runner::exchange`]: while the target throttles a request, count that,
//! wait as the policy says and send it again, or give up with
//! [`FailureKind::Throttled`].
//!
//! Only throttled responses take any path here beyond one comparison, so
//! the request loop's success path is unchanged (no allocation).

use std::time::Duration;

use super::{Exchange, Runner, micros};
use crate::engine::session::Session;
use crate::engine::throttle::next_wait;
use crate::metrics::{FailureKind, RouteId};
use crate::scenario::RequestSpec;

impl Runner {
    /// Waits `wait` before a throttled request is sent again, and records
    /// how long that took (on tokio's clock: the one the sleep runs on, and
    /// paused in tests).
    pub(super) async fn wait_out_throttle(&self, spec: &RequestSpec, wait: Duration) {
        let slept = tokio::time::Instant::now();
        tokio::time::sleep(wait).await;
        let waited = micros(slept.elapsed());
        self.hub.record_throttle_wait(RouteId(spec.route), waited);
    }

    /// What follows exchange number `attempt + 1`: `None` when `ex` is the
    /// one to return (not throttled, accepted, or the policy gave up: then
    /// marked [`FailureKind::Throttled`]), or the wait before sending again
    /// (the throttled answer recorded).
    pub(super) fn after_throttle(
        &self,
        step: u32,
        spec: &RequestSpec,
        session: &mut Session,
        ex: &mut Exchange,
        attempt: u32,
        lag: Duration,
    ) -> Option<Duration> {
        let status = ex.status.filter(|_| ex.throttled)?;
        session.throttled = true;
        if spec.expect.status_ok(status) {
            return None;
        }
        let policy = &self.scenario.rate_limit;
        let Some(wait) = next_wait(policy, attempt, ex.retry_after, &mut session.rng) else {
            ex.failure = ex.failure.or(Some(FailureKind::Throttled));
            return None;
        };
        self.record_request(step, spec, ex, None, lag);
        Some(wait)
    }
}
