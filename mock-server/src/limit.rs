//! A per-app request rate limit: a token bucket (requests per second and a
//! burst) that answers 429 with a JSON body and `Retry-After`, so harness
//! tests meet a real limiter and not only random injected 429s.
//!
//! The real service's limits are not published; this is an [inferred]
//! model of a common limiter, configured by the user (config
//! `rate_limit:`, `chatload-mock --rate-limit RPS[:BURST]`, and
//! `PUT /__mock/rate-limit`), off by default.
//!
//! Hot path: one relaxed load of the `active` flag when no limit is set;
//! with a limit, one compare-and-swap loop on the app's own atomic (the
//! bucket is kept as GCRA's "theoretical arrival time", which is the same
//! token bucket in one word). No lock, no allocation. The middleware calls
//! [`RateLimits::check`]; the buckets live in each app's `AppHandle`.

use crate::fault::MAX_RETRY_AFTER_S;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The largest `rps` (one request per nanosecond).
const MAX_RPS: f64 = 1e9;

/// The smallest `rps`: one request per [`MAX_RETRY_AFTER_S`] (a day), so
/// that `Retry-After` never exceeds the cap that injected faults have.
/// A slower rate is refused, not capped: a header that says less than the
/// real wait would send a client back into another 429.
pub const MIN_RPS: f64 = 1.0 / MAX_RETRY_AFTER_S as f64;

/// The `rate_limit` config section and the body of `PUT /__mock/rate-limit`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained requests per second each app may send (> 0).
    pub rps: f64,
    /// Requests an idle app may send at once (>= 1; default: 1).
    #[serde(default = "one")]
    pub burst: u32,
}

fn one() -> u32 {
    1
}

impl RateLimitConfig {
    /// Checks the values.
    ///
    /// # Errors
    /// A message naming the bad field.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.rps.is_finite() && self.rps > 0.0) {
            return Err("rate_limit.rps must be a number above 0".to_owned());
        }
        if self.rps < MIN_RPS {
            return Err(format!(
                "rate_limit.rps {:e} is too small: it must be at least 1/{MAX_RETRY_AFTER_S} \
                 (one request a day, so that Retry-After stays within {MAX_RETRY_AFTER_S} s)",
                self.rps
            ));
        }
        if self.rps > MAX_RPS {
            return Err(format!(
                "rate_limit.rps {:e} is too large: it must be above 0 and at most {MAX_RPS:e}",
                self.rps
            ));
        }
        if self.burst == 0 {
            return Err("rate_limit.burst must be at least 1".to_owned());
        }
        Ok(())
    }

    /// Parses `RPS[:BURST]` (the `--rate-limit` flag), e.g. `50` or `50:10`.
    ///
    /// # Errors
    /// What was expected.
    pub fn parse(text: &str) -> Result<RateLimitConfig, String> {
        let (rps, burst) = match text.split_once(':') {
            Some((rps, burst)) => (rps, Some(burst)),
            None => (text, None),
        };
        let expected = || format!("`{text}`: expected RPS[:BURST], e.g. 50 or 50:10");
        let rps: f64 = rps.trim().parse().map_err(|_| expected())?;
        let burst = match burst {
            Some(b) => b.trim().parse().map_err(|_| expected())?,
            None => 1,
        };
        let config = RateLimitConfig { rps, burst };
        config.validate().map_err(|e| format!("`{text}`: {e}"))?;
        Ok(config)
    }

    /// Nanoseconds between two requests at the sustained rate.
    fn interval_ns(&self) -> u64 {
        (1e9 / self.rps).round().max(1.0) as u64
    }
}

/// One app's bucket. All fields are atomics: the admin API changes the
/// rate in place while requests take tokens.
#[derive(Debug)]
pub struct TokenBucket {
    /// Nanoseconds between requests at the sustained rate; 0 = no limit.
    interval_ns: AtomicU64,
    /// How far ahead of now the theoretical arrival time may run:
    /// `(burst - 1) × interval`.
    tolerance_ns: AtomicU64,
    /// GCRA's theoretical arrival time, ns since `epoch`: when the bucket
    /// would be full again if no one asked until then.
    tat_ns: AtomicU64,
    epoch: Instant,
}

impl Default for TokenBucket {
    fn default() -> Self {
        TokenBucket::new(None)
    }
}

impl TokenBucket {
    /// A full bucket for `config` (`None`: unlimited).
    pub fn new(config: Option<RateLimitConfig>) -> TokenBucket {
        let bucket = TokenBucket {
            interval_ns: AtomicU64::new(0),
            tolerance_ns: AtomicU64::new(0),
            tat_ns: AtomicU64::new(0),
            epoch: Instant::now(),
        };
        bucket.set(config);
        bucket
    }

    /// Changes the rate (`None`: unlimited) and refills the bucket.
    pub fn set(&self, config: Option<RateLimitConfig>) {
        let interval = config.map_or(0, |c| c.interval_ns());
        let burst = config.map_or(1, |c| u64::from(c.burst));
        self.interval_ns.store(interval, Relaxed);
        self.tolerance_ns
            .store(interval.saturating_mul(burst - 1), Relaxed);
        self.tat_ns.store(0, Relaxed);
    }

    /// Takes one token now; `Err(wait)` when the bucket is empty, with the
    /// time until the next token.
    pub fn try_take(&self) -> Result<(), Duration> {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.try_take_at(now)
    }

    /// [`TokenBucket::try_take`] at `now_ns` since the bucket's epoch.
    pub fn try_take_at(&self, now_ns: u64) -> Result<(), Duration> {
        let interval = self.interval_ns.load(Relaxed);
        if interval == 0 {
            return Ok(());
        }
        let tolerance = self.tolerance_ns.load(Relaxed);
        let mut tat = self.tat_ns.load(Relaxed);
        loop {
            let start = tat.max(now_ns);
            if start - now_ns > tolerance {
                return Err(Duration::from_nanos(start - now_ns - tolerance));
            }
            match self
                .tat_ns
                .compare_exchange_weak(tat, start + interval, Relaxed, Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(current) => tat = current,
            }
        }
    }
}

/// The server-wide switch and setting; each app's bucket is in its handle.
#[derive(Debug)]
pub struct RateLimits {
    /// Fast-path switch: false → no header read, no bucket touched.
    active: AtomicBool,
    /// The setting as configured, for `GET /__mock/rate-limit` and for apps
    /// created at run time. Locked only by the admin API and `POST /apps`.
    config: Mutex<Option<RateLimitConfig>>,
    /// 429s answered since start.
    refused: AtomicU64,
}

impl RateLimits {
    /// The switch for `config` (`None`: off).
    pub fn new(config: Option<RateLimitConfig>) -> RateLimits {
        RateLimits {
            active: AtomicBool::new(config.is_some()),
            config: Mutex::new(config),
            refused: AtomicU64::new(0),
        }
    }

    /// Whether any limit is set (one relaxed load).
    pub fn is_active(&self) -> bool {
        self.active.load(Relaxed)
    }

    /// The current setting.
    pub fn get(&self) -> Option<RateLimitConfig> {
        *self.config.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a new setting; the caller applies it to every app's bucket.
    pub fn set(&self, config: Option<RateLimitConfig>) {
        *self.config.lock().unwrap_or_else(PoisonError::into_inner) = config;
        self.active.store(config.is_some(), Relaxed);
    }

    /// Takes a token from `bucket`; on refusal counts it and returns the
    /// `Retry-After` seconds to answer (the wait rounded up, at least 1:
    /// the header carries whole seconds).
    pub fn check(&self, bucket: &TokenBucket) -> Result<(), u64> {
        bucket.try_take().map_err(|wait| {
            self.refused.fetch_add(1, Relaxed);
            retry_after_secs(wait)
        })
    }

    /// 429s answered by the limiter since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Relaxed)
    }
}

/// Whole seconds to put in `Retry-After` for `wait`: rounded up, at least
/// 1, at most [`MAX_RETRY_AFTER_S`] (which [`MIN_RPS`] already ensures, but
/// for a nanosecond of float rounding at the minimum rate).
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.clamp(1, MAX_RETRY_AFTER_S)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn a_bucket_allows_its_burst_then_the_sustained_rate() {
        let bucket = TokenBucket::new(Some(RateLimitConfig { rps: 2.0, burst: 3 }));
        for _ in 0..3 {
            assert_eq!(bucket.try_take_at(10 * SEC), Ok(()));
        }
        let wait = bucket.try_take_at(10 * SEC).expect_err("burst spent");
        assert_eq!(wait, Duration::from_millis(500));
        // Half a second later one token is back, and only one.
        assert_eq!(bucket.try_take_at(10 * SEC + SEC / 2), Ok(()));
        assert!(bucket.try_take_at(10 * SEC + SEC / 2).is_err());
    }

    #[test]
    fn an_unlimited_bucket_never_refuses_and_set_changes_the_rate() {
        let bucket = TokenBucket::new(None);
        for _ in 0..1000 {
            assert_eq!(bucket.try_take_at(0), Ok(()));
        }
        bucket.set(Some(RateLimitConfig { rps: 1.0, burst: 1 }));
        assert_eq!(bucket.try_take_at(5), Ok(()));
        assert_eq!(bucket.try_take_at(5), Err(Duration::from_secs(1)));
    }

    #[test]
    fn flag_values_parse_and_bad_ones_say_what_was_expected() {
        assert_eq!(
            RateLimitConfig::parse("50:10"),
            Ok(RateLimitConfig {
                rps: 50.0,
                burst: 10
            })
        );
        assert_eq!(RateLimitConfig::parse("2.5").map(|c| c.burst), Ok(1));
        for bad in ["", "x", "0", "5:0", "5:x", "-1", "1e-9", "0.00001"] {
            let err = RateLimitConfig::parse(bad).expect_err(bad);
            assert!(
                err.contains("rate_limit") || err.contains("RPS[:BURST]"),
                "{err}"
            );
        }
    }

    /// See: audit 2 of the mock, finding 9 (`rps: 1e-9` gave
    /// `Retry-After: 1000000000`).
    #[test]
    fn a_rate_whose_wait_passes_a_day_is_refused_naming_the_minimum() {
        let err = RateLimitConfig {
            rps: 1e-9,
            burst: 1,
        }
        .validate()
        .expect_err("1e-9");
        assert!(err.contains("at least 1/86400"), "{err}");
        let slowest = RateLimitConfig {
            rps: MIN_RPS,
            burst: 1,
        };
        assert_eq!(slowest.validate(), Ok(()));
        let bucket = TokenBucket::new(Some(slowest));
        assert_eq!(bucket.try_take_at(0), Ok(()));
        let wait = bucket.try_take_at(0).expect_err("empty");
        assert!(retry_after_secs(wait) <= MAX_RETRY_AFTER_S, "{wait:?}");
        assert_eq!(retry_after_secs(Duration::from_secs(10_000_000)), 86_400);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
