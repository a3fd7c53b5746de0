//! The `rate_limit:` section: what a virtual user does when the target
//! throttles it (429, or 503 with `Retry-After`).
//!
//! `fail` (the default) counts the throttled response as a failure of its
//! step; `respect` waits the response's `Retry-After` (capped by
//! `max_wait`) and sends the request again; `retry` sends it again after an
//! exponential backoff with full jitter. Both re-send at most `max_retries`
//! times; then the throttled response fails the step. Whatever the policy,
//! every throttled response is counted as `throttled` in the report.
//! The engine applies the policy (`engine::throttle`); the file's section is
//! read by `raw` and checked by `validate::rate_limit`.

use std::time::Duration;

/// How throttled responses are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RateLimitMode {
    /// Count a throttled response as a failure (nothing is hidden).
    #[default]
    Fail,
    /// Wait `Retry-After` (capped), then send again.
    Respect,
    /// Send again after exponential backoff with full jitter.
    Retry,
}

impl RateLimitMode {
    /// The name in scenarios and reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            RateLimitMode::Fail => "fail",
            RateLimitMode::Respect => "respect",
            RateLimitMode::Retry => "retry",
        }
    }
}

/// The validated `rate_limit:` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitPolicy {
    pub mode: RateLimitMode,
    /// Re-sends of one request after throttled answers (`respect`, `retry`).
    pub max_retries: u32,
    /// Longest wait for one `Retry-After` (`respect`).
    pub max_wait: Duration,
    /// First backoff (`retry`; also `respect` when a 429 has no
    /// `Retry-After`); doubles with each re-send.
    pub backoff: Duration,
    /// Largest backoff before jitter.
    pub max_backoff: Duration,
}

/// Default `max_retries`.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// Default `max_wait`.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(60);
/// Default `backoff`.
pub const DEFAULT_BACKOFF: Duration = Duration::from_millis(100);
/// Default `max_backoff`.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(10);

impl Default for RateLimitPolicy {
    fn default() -> Self {
        RateLimitPolicy {
            mode: RateLimitMode::Fail,
            max_retries: DEFAULT_MAX_RETRIES,
            max_wait: DEFAULT_MAX_WAIT,
            backoff: DEFAULT_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
        }
    }
}
