//! `Retry-After` on a throttled response (429, or 503 with the header):
//! delay-seconds or an HTTP date, turned into how long to wait.
//!
//! Read only when the status says the request was throttled, so a normal
//! response costs one comparison here and nothing else.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// Whether `status` may be a throttled answer (429 always is; 503 only
/// with `Retry-After`).
pub const fn may_be_throttled(status: u16) -> bool {
    status == 429 || status == 503
}

/// The `Retry-After` of a 429 or 503 response, as a wait from now; `None`
/// for other statuses, a missing header, or one that is neither form.
pub fn from_headers(status: u16, headers: &HeaderMap) -> Option<Duration> {
    if !may_be_throttled(status) {
        return None;
    }
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse(value, SystemTime::now())
}

/// Parses a `Retry-After` value (RFC 9110 §10.2.3) at `now`: whole seconds
/// (`120`), or an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`) whose
/// distance from `now` is the wait (zero when it is past).
pub fn parse(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than u64 holds is still "a very long time".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_http_dates_parse_and_garbage_does_not() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").expect("date");
        assert_eq!(parse("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse("Wed, 21 Oct 2015 07:28:05 GMT", now),
            Some(Duration::from_secs(5))
        );
        // A date in the past means "now", not a negative wait.
        assert_eq!(
            parse("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        for bad in ["", "-1", "1.5", "soon", "Wed, 99 Oct 2015"] {
            assert_eq!(parse(bad, now), None, "{bad:?}");
        }
        assert_eq!(
            parse("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn only_429_and_503_are_read() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "3".parse().expect("value"));
        assert_eq!(from_headers(429, &headers), Some(Duration::from_secs(3)));
        assert_eq!(from_headers(503, &headers), Some(Duration::from_secs(3)));
        assert_eq!(from_headers(200, &headers), None);
        assert_eq!(from_headers(429, &HeaderMap::new()), None);
    }
}
