//! The sane bounds a scenario (and the command line) must stay within, and
//! the checks that say so in plain words. A value outside them is almost
//! always a typo (`vus: 1000000`, `duration: 30d`), so it is refused rather
//! than run.

use std::time::Duration;

use crate::text::group_thousands;

/// Most virtual users (`vus`, `max_vus`, a closed-model stage target).
pub const MAX_VUS: u64 = 100_000;
/// Highest arrival rate, iterations per second (open model).
pub const MAX_RATE: f64 = 1_000_000.0;
/// Most iterations of a run (`iterations`).
pub const MAX_ITERATIONS: u64 = 1_000_000_000;
/// Most arrivals waiting for a free VU (`backlog`).
pub const MAX_BACKLOG: u64 = 10_000_000;
/// Most repetitions of one step (`repeat`).
pub const MAX_REPEAT: u64 = 1_000_000;
/// Highest flow weight.
pub const MAX_WEIGHT: u64 = 1_000_000;
/// Longest duration anywhere (run length, timeouts, think times): 7 days.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parses a duration (`250ms`, `2s`, `1m30s`, `1h`) within `0..=7 days`.
///
/// # Errors
/// Negative, too long, or not a duration; the message says what is allowed.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(format!(
            "`{text}` is negative: a duration is 0 or more, like 250ms, 2s or 1m30s"
        ));
    }
    let d = humantime::parse_duration(trimmed).map_err(|_| {
        format!(
            "`{text}` is not a duration: expected a number and a unit, like 250ms, 2s, 1m30s or 1h"
        )
    })?;
    if d > MAX_DURATION {
        return Err(format!(
            "`{text}` is longer than the 7-day limit on any duration"
        ));
    }
    Ok(d)
}

/// Parses a duration that must be more than zero.
///
/// # Errors
/// As [`parse_duration`], and zero.
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err(format!(
            "`{text}` is zero: it must be more than 0, like 30s"
        ));
    }
    Ok(d)
}

/// Checks a whole number written for `what` lies in `min..=max`.
///
/// # Errors
/// Not whole, or out of range; says the allowed range.
pub fn whole(value: f64, what: &str, min: u64, max: u64) -> Result<u64, String> {
    let shown = format_number(value);
    if !value.is_finite() || value.fract() != 0.0 {
        return Err(format!("{what} must be a whole number, not {shown}"));
    }
    if value < min as f64 || value > max as f64 {
        return Err(format!(
            "{what} must be from {min} to {}, not {shown}",
            group_thousands(max)
        ));
    }
    Ok(value as u64)
}

/// Checks a rate (iterations per second) lies in `0..=MAX_RATE`.
///
/// # Errors
/// Negative, not finite or too high.
pub fn rate(value: f64, what: &str) -> Result<f64, String> {
    if !value.is_finite() || !(0.0..=MAX_RATE).contains(&value) {
        return Err(format!(
            "{what} must be from 0 to 1,000,000 iterations per second, not {}",
            format_number(value)
        ));
    }
    Ok(value)
}

fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_say_what_is_allowed() {
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert!(
            parse_duration("-3s")
                .unwrap_err()
                .contains("`-3s` is negative")
        );
        assert!(parse_duration("8d").unwrap_err().contains("7-day limit"));
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(
            parse_positive_duration("0s")
                .unwrap_err()
                .contains("more than 0")
        );
    }

    #[test]
    fn counts_say_their_range() {
        assert_eq!(whole(3.0, "vus", 1, MAX_VUS), Ok(3));
        assert_eq!(
            whole(-3.0, "vus", 1, MAX_VUS).unwrap_err(),
            "vus must be from 1 to 100,000, not -3"
        );
        assert_eq!(
            whole(1.5, "repeat", 1, MAX_REPEAT).unwrap_err(),
            "repeat must be a whole number, not 1.5"
        );
        assert!(rate(2e6, "arrival_rate").unwrap_err().contains("1,000,000"));
    }
}
