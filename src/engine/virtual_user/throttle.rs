//! A request under the scenario's `rate_limit` policy: send it, and while
//! the target throttles it, count that, wait as the policy says and send
//! it again, or give up with [`FailureKind::Throttled`].
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
    /// [`Runner::exchange`] under the `rate_limit` policy. Each throttled
    /// answer that is sent again is recorded here (a throttled request, not
    /// an error); the one returned is recorded by the caller, and carries
    /// [`FailureKind::Throttled`] when the policy gave up on it. A step
    /// whose `expect` accepts the throttled status takes it as an answer.
    pub(super) async fn exchange_throttled(
        &self,
        step: u32,
        spec: &RequestSpec,
        session: &mut Session,
        needs_body: bool,
        lag: Duration,
    ) -> Exchange {
        let mut attempt = 0;
        loop {
            // The exchange is settled in this block, before any wait: held
            // across the sleep below, it would sit beside the exchange's
            // future in every virtual user's task (about 400 bytes more per
            // VU). It is looked at in place, not moved in and out of
            // `after_throttle` (a copy of the whole exchange each way).
            let wait = {
                let mut ex = self.exchange(step, spec, session, needs_body).await;
                match self.after_throttle(spec, session, &mut ex, attempt, lag) {
                    None => return ex,
                    Some(wait) => wait,
                }
            };
            // tokio's clock: the one the sleep runs on (and paused in tests).
            let slept = tokio::time::Instant::now();
            tokio::time::sleep(wait).await;
            let waited = micros(slept.elapsed());
            self.hub.record_throttle_wait(RouteId(spec.route), waited);
            attempt += 1;
        }
    }

    /// What follows exchange number `attempt + 1`: `None` when `ex` is the
    /// one to return (not throttled, accepted, or the policy gave up: then
    /// marked [`FailureKind::Throttled`]), or the wait before sending again
    /// (the throttled answer recorded).
    fn after_throttle(
        &self,
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
        self.record_request(spec, ex, None, lag);
        Some(wait)
    }
}
