//! Checks the `rate_limit:` section into a [`RateLimitPolicy`].

use serde_saphyr::Spanned;

use super::Validator;
use crate::scenario::rate_limit::{RateLimitMode, RateLimitPolicy};
use crate::scenario::raw::RawRateLimit;

/// Most re-sends of one request a scenario may ask for.
const MAX_RETRIES_LIMIT: u64 = 100;

/// Checks the section; absent, or without `policy`, means `fail`.
pub(super) fn validate_rate_limit(
    v: &mut Validator<'_>,
    raw: Option<&Spanned<RawRateLimit>>,
) -> RateLimitPolicy {
    let mut policy = RateLimitPolicy::default();
    let Some(raw) = raw else {
        return policy;
    };
    let raw = &raw.value;
    let named = raw.policy.as_ref();
    let Some(mode) = policy_mode(v, named) else {
        return policy;
    };
    policy.mode = mode;
    let misplaced = |v: &mut Validator<'_>, at, key: &str, modes: &str| {
        let default = if named.is_none() {
            ", the default without `policy`,"
        } else {
            ""
        };
        let message = format!(
            "`{key}` does not apply to policy `{}`{default} (only to {modes})",
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

/// `policy`: `fail` when left out; `None` (a problem) when unknown.
fn policy_mode(v: &mut Validator<'_>, named: Option<&Spanned<String>>) -> Option<RateLimitMode> {
    let Some(named) = named else {
        return Some(RateLimitMode::Fail);
    };
    match named.value.as_str() {
        "fail" => Some(RateLimitMode::Fail),
        "respect" => Some(RateLimitMode::Respect),
        "retry" => Some(RateLimitMode::Retry),
        other => {
            let message = format!("unknown policy `{other}`: expected fail, respect or retry");
            v.problem(&named.referenced, "rate_limit.policy", message);
            None
        }
    }
}
