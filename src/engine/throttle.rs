//! The `rate_limit` policy as arithmetic: how long a virtual user waits
//! before sending a throttled request again, or that it gives up.
//!
//! No I/O and no clock: the virtual user (`virtual_user/throttle.rs`)
//! sleeps what this returns. Jitter comes from the VU's seeded RNG, so a
//! run with the same seed waits the same.

use std::time::Duration;

use rand::Rng;

use crate::scenario::rate_limit::{RateLimitMode, RateLimitPolicy};

/// Whether a response with `status` (and a parsed `Retry-After` or not)
/// is a throttled one: 429 always, 503 only with `Retry-After`.
pub const fn is_throttled(status: u16, retry_after: Option<Duration>) -> bool {
    status == 429 || (status == 503 && retry_after.is_some())
}

/// The wait before re-send number `attempt + 1` of a request the target
/// throttled (telling it to wait `retry_after`, if it did); `None` when the
/// policy gives up instead (`fail`, or `max_retries` re-sends done).
///
/// - `respect`: `Retry-After` capped at `max_wait`; without one, the
///   backoff's ceiling for this attempt (no jitter: a server that does not
///   say how long gets the full, predictable wait).
/// - `retry`: full jitter, a uniform draw in `0..=min(max_backoff,
///   backoff × 2^attempt)`; `Retry-After` is not consulted.
pub fn next_wait(
    policy: &RateLimitPolicy,
    attempt: u32,
    retry_after: Option<Duration>,
    rng: &mut impl Rng,
) -> Option<Duration> {
    if policy.mode == RateLimitMode::Fail || attempt >= policy.max_retries {
        return None;
    }
    let ceiling = backoff_ceiling(policy, attempt);
    Some(match policy.mode {
        RateLimitMode::Respect => retry_after.unwrap_or(ceiling).min(policy.max_wait),
        _ => {
            let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
            Duration::from_nanos(rng.random_range(0..=nanos))
        }
    })
}

/// `min(max_backoff, backoff × 2^attempt)`.
fn backoff_ceiling(policy: &RateLimitPolicy, attempt: u32) -> Duration {
    let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
    policy
        .backoff
        .checked_mul(factor)
        .unwrap_or(Duration::MAX)
        .min(policy.max_backoff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn policy(mode: RateLimitMode) -> RateLimitPolicy {
        RateLimitPolicy {
            mode,
            max_retries: 3,
            max_wait: Duration::from_secs(5),
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
        }
    }

    #[test]
    fn throttled_means_429_or_503_with_retry_after() {
        assert!(is_throttled(429, None));
        assert!(is_throttled(503, Some(Duration::ZERO)));
        assert!(!is_throttled(503, None));
        assert!(!is_throttled(200, Some(Duration::from_secs(1))));
    }

    #[test]
    fn fail_never_waits_and_every_policy_stops_after_its_budget() {
        let mut rng = SmallRng::seed_from_u64(1);
        let fail = policy(RateLimitMode::Fail);
        assert_eq!(
            next_wait(&fail, 0, Some(Duration::from_secs(1)), &mut rng),
            None
        );
        for mode in [RateLimitMode::Respect, RateLimitMode::Retry] {
            let p = policy(mode);
            assert!(next_wait(&p, 2, None, &mut rng).is_some());
            assert_eq!(next_wait(&p, 3, None, &mut rng), None);
        }
    }

    #[test]
    fn respect_waits_retry_after_capped_or_the_backoff_without_one() {
        let mut rng = SmallRng::seed_from_u64(1);
        let p = policy(RateLimitMode::Respect);
        let wait = |after, attempt, rng: &mut SmallRng| next_wait(&p, attempt, after, rng);
        assert_eq!(
            wait(Some(Duration::from_secs(2)), 0, &mut rng),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            wait(Some(Duration::from_secs(60)), 0, &mut rng),
            Some(Duration::from_secs(5))
        );
        assert_eq!(wait(None, 0, &mut rng), Some(Duration::from_millis(100)));
        assert_eq!(wait(None, 1, &mut rng), Some(Duration::from_millis(200)));
        assert_eq!(wait(None, 2, &mut rng), Some(Duration::from_millis(300)));
    }

    #[test]
    fn retry_draws_full_jitter_under_a_doubling_capped_ceiling_and_repeats_with_the_seed() {
        let p = RateLimitPolicy {
            max_retries: 40,
            ..policy(RateLimitMode::Retry)
        };
        let draws = |seed| {
            let mut rng = SmallRng::seed_from_u64(seed);
            (0..40)
                .map(|attempt| next_wait(&p, attempt % 40, None, &mut rng).expect("in budget"))
                .collect::<Vec<_>>()
        };
        let first = draws(7);
        assert_eq!(first, draws(7), "same seed, same waits");
        assert_ne!(first, draws(8));
        for (attempt, wait) in first.iter().enumerate() {
            let ceiling = Duration::from_millis(100 << attempt.min(2)).min(p.max_backoff);
            assert!(
                *wait <= ceiling,
                "attempt {attempt}: {wait:?} > {ceiling:?}"
            );
        }
        // Full jitter: the draws spread over the range, not all at its top.
        assert!(first.iter().any(|w| *w < Duration::from_millis(150)));
        // Retry-After does not change a retry's wait.
        let mut a = SmallRng::seed_from_u64(3);
        let mut b = SmallRng::seed_from_u64(3);
        assert_eq!(
            next_wait(&p, 1, Some(Duration::from_secs(30)), &mut a),
            next_wait(&p, 1, None, &mut b)
        );
    }
}
