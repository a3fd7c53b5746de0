//! The `rate_limit:` section: what a virtual user does when the target
//! throttles it (429, or 503 with `Retry-After`).
//!
//! `fail` (the default) counts the throttled response as a failure of its
//! step; `respect` waits the response's `Retry-After` (capped by
//! `max_wait`) and sends the request again; `retry` sends it again after an
//! exponential backoff with full jitter. Both re-send at most `max_retries`
//! times; then the throttled response fails the step. Whatever the policy,
//! every throttled response is counted as `throttled` in the report.
//! The engine applies the policy (`engine::throttle`); this module only
//! reads and checks it.

use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::raw::{DurationText, RawNumber};
use super::validate::Validator;

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

/// `rate_limit: {policy: respect, max_wait: 30s, max_retries: 3, ...}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    pub policy: Spanned<String>,
    pub max_retries: Option<Spanned<RawNumber>>,
    pub max_wait: Option<Spanned<DurationText>>,
    pub backoff: Option<Spanned<DurationText>>,
    pub max_backoff: Option<Spanned<DurationText>>,
}

/// Most re-sends of one request a scenario may ask for.
const MAX_RETRIES_LIMIT: u64 = 100;

/// Checks the section; absent means `fail`.
pub(super) fn validate_rate_limit(
    v: &mut Validator<'_>,
    raw: Option<&Spanned<RawRateLimit>>,
) -> RateLimitPolicy {
    let mut policy = RateLimitPolicy::default();
    let Some(raw) = raw else {
        return policy;
    };
    let raw = &raw.value;
    policy.mode = match raw.policy.value.as_str() {
        "fail" => RateLimitMode::Fail,
        "respect" => RateLimitMode::Respect,
        "retry" => RateLimitMode::Retry,
        other => {
            let message = format!("unknown policy `{other}`: expected fail, respect or retry");
            v.problem(&raw.policy.referenced, "rate_limit.policy", message);
            return policy;
        }
    };
    let misplaced = |v: &mut Validator<'_>, at, key: &str, modes: &str| {
        let message = format!(
            "`{key}` does not apply to policy `{}` (only to {modes})",
            policy.mode.as_str()
        );
        v.problem(at, &format!("rate_limit.{key}"), message);
    };
    if let Some(n) = &raw.max_retries {
        if policy.mode == RateLimitMode::Fail {
            misplaced(v, &n.referenced, "max_retries", "respect and retry");
        } else if let Some(n) = v.whole(Some(n), "rate_limit.max_retries", 0, MAX_RETRIES_LIMIT) {
            policy.max_retries = n as u32;
        }
    }
    if let Some(d) = &raw.max_wait {
        if policy.mode == RateLimitMode::Respect {
            let max_wait = v.positive_duration(&d.value, &d.referenced, "rate_limit.max_wait");
            policy.max_wait = max_wait.unwrap_or(policy.max_wait);
        } else {
            misplaced(v, &d.referenced, "max_wait", "respect");
        }
    }
    for (key, value, slot) in [
        ("backoff", &raw.backoff, &mut policy.backoff),
        ("max_backoff", &raw.max_backoff, &mut policy.max_backoff),
    ] {
        let Some(d) = value else { continue };
        if policy.mode == RateLimitMode::Fail {
            misplaced(v, &d.referenced, key, "respect and retry");
        } else if let Some(parsed) =
            v.positive_duration(&d.value, &d.referenced, &format!("rate_limit.{key}"))
        {
            *slot = parsed;
        }
    }
    if policy.backoff > policy.max_backoff
        && let Some(d) = &raw.backoff
    {
        let message = "`backoff` must not exceed `max_backoff`";
        v.problem(&d.referenced, "rate_limit.backoff", message);
    }
    policy
}
