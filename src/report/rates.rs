//! Shares and rates, computed one way for the report builder, the merge and
//! the throttle section: a share of nothing and a rate over no time are 0.

/// `part / whole`, or 0 when `whole` is 0.
pub(super) fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// `count / seconds`, or 0 when no time passed.
pub(super) fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::{per_second, ratio};

    #[test]
    fn a_share_of_nothing_and_a_rate_over_no_time_are_zero() {
        assert_eq!(ratio(3, 0), 0.0);
        assert_eq!(ratio(1, 4), 0.25);
        assert_eq!(per_second(10, 0.0), 0.0);
        assert_eq!(per_second(10, 4.0), 2.5);
    }
}
