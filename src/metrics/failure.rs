//! Classification of failed requests and steps.
//!
//! Per-request failures are data, not errors (architecture §8.2): the engine records a
//! [`FailureKind`] with each sample and the run goes on. The enum is `Copy` and indexes a fixed
//! array of counters, so classifying a failure never allocates or formats a string.

/// Why a request, step or iteration failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureKind {
    /// The connection could not be established (refused, DNS, TLS handshake).
    Connect,
    /// The request or a `wait_until` step ran past its timeout.
    Timeout,
    /// The response carried an unexpected HTTP status.
    Status,
    /// An `expect` on the status or a body field did not hold.
    Expectation,
    /// The response body could not be read or parsed.
    Decode,
    /// A `capture` found nothing to capture; the rest of the iteration is skipped.
    Capture,
    /// The response did not match the route's JSON Schema.
    Schema,
    /// The target throttled the request (429, or 503 with `Retry-After`)
    /// and the scenario's `rate_limit` policy gave up on it (`fail`, or its
    /// re-sends were spent).
    Throttled,
    /// Anything else (a bug or an unclassified transport error).
    Other,
}

impl FailureKind {
    /// Every kind, in index order.
    pub const ALL: [FailureKind; 9] = [
        FailureKind::Connect,
        FailureKind::Timeout,
        FailureKind::Status,
        FailureKind::Expectation,
        FailureKind::Decode,
        FailureKind::Capture,
        FailureKind::Schema,
        FailureKind::Throttled,
        FailureKind::Other,
    ];

    /// Number of kinds; the length of per-kind counter arrays.
    pub const COUNT: usize = Self::ALL.len();

    /// The snake_case name used in reports and on the terminal.
    pub const fn as_str(self) -> &'static str {
        match self {
            FailureKind::Connect => "connect",
            FailureKind::Timeout => "timeout",
            FailureKind::Status => "status",
            FailureKind::Expectation => "expectation",
            FailureKind::Decode => "decode",
            FailureKind::Capture => "capture",
            FailureKind::Schema => "schema",
            FailureKind::Throttled => "throttled",
            FailureKind::Other => "other",
        }
    }

    /// Position of this kind in [`FailureKind::ALL`] and in per-kind counter arrays.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The kind named `name` (the inverse of [`FailureKind::as_str`]), if any.
    pub fn from_name(name: &str) -> Option<FailureKind> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_matches_position_in_all_and_names_round_trip() {
        for (position, kind) in FailureKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), position);
            assert_eq!(FailureKind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(FailureKind::COUNT, 9);
        assert_eq!(FailureKind::from_name("nope"), None);
        assert_eq!(FailureKind::Expectation.to_string(), "expectation");
    }
}
