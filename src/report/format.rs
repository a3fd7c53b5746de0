//! The one place numbers become text for people: latencies, durations, rates and percentages.
//!
//! Shared by every renderer (terminal, HTML, compare), by the live progress line and by the
//! verdict's messages, so a figure reads the same everywhere. Pure functions, no I/O.

/// Formats microseconds with 3 significant digits in µs, ms or s ("850 µs", "12.3 ms", "1.23 s").
pub fn format_us(us: u64) -> String {
    if us < 1_000 {
        format!("{us} µs")
    } else if us < 999_500 {
        format!("{} ms", three_digits(us as f64 / 1_000.0))
    } else {
        format!("{} s", three_digits(us as f64 / 1_000_000.0))
    }
}

/// Formats a value with 3 significant digits (no exponent; values ≥ 1000 keep their integer part).
fn three_digits(value: f64) -> String {
    // Round first, so 9.996 becomes "10.0" rather than "10.00".
    let decimals = |v: f64| {
        if v < 10.0 {
            2
        } else if v < 100.0 {
            1
        } else {
            0
        }
    };
    let rounded = format!("{value:.prec$}", prec = decimals(value));
    let reparsed: f64 = rounded.parse().unwrap_or(value);
    format!("{reparsed:.prec$}", prec = decimals(reparsed))
}

/// Formats a duration in seconds ("12.3 s", "2m 05s (125.0 s)").
pub fn format_secs(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        let whole = secs.round() as u64;
        format!("{}m {:02}s ({secs:.1} s)", whole / 60, whole % 60)
    }
}

/// Formats a per-second rate (no decimals from 100 up, one below).
pub fn format_rate(rate: f64) -> String {
    if rate >= 100.0 {
        format!("{rate:.0}")
    } else {
        format!("{rate:.1}")
    }
}

/// Formats a fraction as a percentage with two decimals ("1.25%").
pub fn format_percent(rate: f64) -> String {
    format!("{:.2}%", rate * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_us_uses_three_significant_digits_and_human_units() {
        assert_eq!(format_us(0), "0 µs");
        assert_eq!(format_us(850), "850 µs");
        assert_eq!(format_us(1_234), "1.23 ms");
        assert_eq!(format_us(12_345), "12.3 ms");
        assert_eq!(format_us(123_456), "123 ms");
        assert_eq!(format_us(999_999), "1.00 s");
        assert_eq!(format_us(999_400), "999 ms");
        assert_eq!(format_us(9_996), "10.0 ms");
        assert_eq!(format_us(1_500_000), "1.50 s");
        assert_eq!(format_us(3_600_000_000), "3600 s");
    }
}
