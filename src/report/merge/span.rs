//! When a merged run started and ended: its earliest part's start and its
//! latest part's end, compared as instants, not as text. A report's times
//! are RFC 3339 (`meta.started_at`), which spells one instant many ways:
//! with or without fractional seconds (`10:00:00Z` is before
//! `10:00:00.500Z`, although `.` sorts before `Z`), in UTC or at an offset
//! (`11:00:30+01:00` is `10:00:30Z`).

use std::time::{Duration, SystemTime};

/// The instant an RFC 3339 timestamp names; `None` when it is not one.
pub(super) fn instant(rfc3339: &str) -> Option<SystemTime> {
    let text = rfc3339.trim();
    if let Some(utc) = text.strip_suffix(['Z', 'z']) {
        return humantime::parse_rfc3339_weak(utc).ok();
    }
    // `±HH:MM` after the time.
    let split = text.len().checked_sub(6)?;
    let (local, offset) = (text.get(..split)?, text.get(split..)?);
    let sign = match offset.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (hours, minutes) = offset[1..].split_once(':')?;
    let (hours, minutes): (u64, u64) = (hours.parse().ok()?, minutes.parse().ok()?);
    let shift = Duration::from_secs(hours * 3600 + minutes * 60);
    let local = humantime::parse_rfc3339_weak(local).ok()?;
    // Local time = UTC + offset.
    if sign > 0 {
        local.checked_sub(shift)
    } else {
        local.checked_add(shift)
    }
}

/// The earliest of `times` as written; a time that is not RFC 3339 is only
/// taken when none is (then the least as text).
pub(super) fn earliest<'a>(times: impl Iterator<Item = &'a str>) -> String {
    pick(times, std::cmp::Ordering::Less)
}

/// The latest of `times`, as [`earliest`] picks.
pub(super) fn latest<'a>(times: impl Iterator<Item = &'a str>) -> String {
    pick(times, std::cmp::Ordering::Greater)
}

/// Whether two timestamps name the same instant (or, not RFC 3339, are the same text).
pub(super) fn same_instant(a: &str, b: &str) -> bool {
    match (instant(a), instant(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

/// The clock skew tolerated between the parts' machines.
pub(super) const SKEW: Duration = Duration::from_secs(2);

/// When the parts (each its `(started_at, ended_at)`) did not run side by side — their starts
/// lie further apart than [`SKEW`] plus a tenth of the shortest part — the seconds from the
/// earliest start to the latest end and each part's start after the earliest, in whole
/// seconds (where its timeline goes). `None` when they started together (within that
/// tolerance), or when a time is not RFC 3339 (nothing can then be said of it).
///
/// The starts decide, not the overlap: parts run one after the other on one machine start a
/// whole part apart though each starts as the one before it ends (audit 11, N1), and parts
/// that started together ran side by side whatever their lengths (a shard stopped early).
pub(super) fn apart(spans: &[(&str, &str)]) -> Option<(f64, Vec<u64>)> {
    let instants: Vec<(SystemTime, SystemTime)> = spans
        .iter()
        .map(|(start, end)| Some((instant(start)?, instant(end)?)))
        .collect::<Option<_>>()?;
    let first_start = instants.iter().map(|s| s.0).min()?;
    let last_start = instants.iter().map(|s| s.0).max()?;
    let last_end = instants.iter().map(|s| s.1).max()?;
    let shortest = instants
        .iter()
        .map(|(start, end)| end.duration_since(*start).unwrap_or_default())
        .min()?;
    let spread = last_start.duration_since(first_start).unwrap_or_default();
    if spread <= SKEW + shortest / 10 {
        return None;
    }
    let since = |t: SystemTime| t.duration_since(first_start).unwrap_or_default();
    let offsets = instants
        .iter()
        .map(|s| since(s.0).as_secs_f64().round() as u64)
        .collect();
    Some((since(last_end).as_secs_f64(), offsets))
}

fn pick<'a>(times: impl Iterator<Item = &'a str>, wanted: std::cmp::Ordering) -> String {
    let mut best: Option<(Option<SystemTime>, &str)> = None;
    for t in times {
        let candidate = (instant(t), t);
        let better = match &best {
            None => true,
            // A time that parses beats one that does not.
            Some((None, _)) if candidate.0.is_some() => true,
            Some((Some(_), _)) if candidate.0.is_none() => false,
            Some((Some(b), _)) => candidate.0.is_some_and(|c| c.cmp(b) == wanted),
            Some((None, b)) => t.cmp(b) == wanted,
        };
        if better {
            best = Some(candidate);
        }
    }
    best.map(|(_, t)| t.to_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_instant_spelled_several_ways_is_one_instant() {
        let utc = instant("2026-01-01T10:00:30Z").unwrap();
        assert_eq!(instant("2026-01-01T10:00:30.000Z"), Some(utc));
        assert_eq!(instant("2026-01-01T11:00:30+01:00"), Some(utc));
        assert_eq!(instant("2026-01-01T05:30:30-04:30"), Some(utc));
        assert!(instant("yesterday").is_none());
        assert!(same_instant(
            "2026-01-01T10:00:30Z",
            "2026-01-01T11:00:30+01:00"
        ));
    }

    #[test]
    fn a_time_that_is_not_rfc_3339_is_taken_only_when_none_is() {
        let times = ["soon", "2026-01-01T10:00:30Z", "2026-01-01T10:00:00.5Z"];
        assert_eq!(earliest(times.into_iter()), "2026-01-01T10:00:00.5Z");
        assert_eq!(latest(times.into_iter()), "2026-01-01T10:00:30Z");
        assert_eq!(earliest(["b", "a"].into_iter()), "a");
        assert_eq!(earliest(std::iter::empty()), "");
    }

    // See: outside audit 10, F3 — parts 11 minutes apart merged as if side by side; and audit
    // 11, N1 — parts run back to back (each starting as the one before ended) too.
    #[test]
    fn parts_apart_are_told_from_parts_side_by_side_with_two_seconds_of_skew() {
        let at = |s: &'static str| s;
        // Started 1.5 s apart (clock skew), one stopped early: side by side.
        let side = [
            (at("2026-01-01T10:00:00Z"), at("2026-01-01T10:00:15Z")),
            (at("2026-01-01T10:00:01.5Z"), at("2026-01-01T10:00:09Z")),
        ];
        assert_eq!(apart(&side), None);
        // Back to back: the second started 0.2 s after the first ended.
        let back_to_back = [
            (at("2026-01-01T10:00:00Z"), at("2026-01-01T10:00:05.1Z")),
            (at("2026-01-01T10:00:05.3Z"), at("2026-01-01T10:00:10.4Z")),
        ];
        assert_eq!(apart(&back_to_back), Some((10.4, vec![0, 5])));
        // 11 minutes apart: the whole span, each part's start within it.
        let far = [
            (at("2026-01-01T10:00:00Z"), at("2026-01-01T10:00:15Z")),
            (at("2026-01-01T10:11:00Z"), at("2026-01-01T10:11:15Z")),
            (
                at("2026-01-01T11:00:00.4+01:00"),
                at("2026-01-01T10:00:15Z"),
            ),
        ];
        assert_eq!(apart(&far), Some((675.0, vec![0, 660, 0])));
        // A time that is not RFC 3339 says nothing.
        assert_eq!(apart(&[far[0], (at("later"), at("later"))]), None);
    }
}
