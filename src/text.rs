//! Figures as text for people, the one set of formatters every layer uses:
//! latencies, durations, rates, percentages and counts, and the HTML
//! escaper. Two styles of the same figures: the terminal's (`format_secs`,
//! `format_rate`, `format_percent`: fixed decimals that line up in a table)
//! and the HTML page's (`format_secs_rounded`, `format_rate_grouped`,
//! `format_percent_adaptive`: rounded for reading).
//!
//! A leaf below `scenario` (its limits messages), `report` (every
//! renderer), `progress` and `verdict`, so none of them imports a renderer
//! for a number. Pure functions, no I/O.

/// Escapes text for HTML element content and quoted attribute values (either quote):
/// `& < > " '`.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

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

/// A latency change with its sign: "+12.3 ms", "-850 µs".
pub fn format_signed_us(delta_us: i64) -> String {
    let sign = if delta_us < 0 { "-" } else { "+" };
    format!("{sign}{}", format_us(delta_us.unsigned_abs()))
}

/// A relative change with its sign and one decimal ("+30.0%"), "n/a" when there is none
/// (nothing to compare against).
pub fn format_signed_percent(fraction: Option<f64>) -> String {
    fraction.map_or_else(|| "n/a".to_owned(), |p| format!("{:+.1}%", p * 100.0))
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

/// A duration for reading: "8.63 s", "2 min 05 s", "1 h 02 min"; "–" when not a duration.
pub fn format_secs_rounded(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "–".to_owned();
    }
    if secs < 60.0 {
        let text = format!("{secs:.2}");
        return format!("{} s", text.trim_end_matches('0').trim_end_matches('.'));
    }
    let whole = secs.round() as u64;
    if whole < 3600 {
        format!("{} min {:02} s", whole / 60, whole % 60)
    } else {
        format!("{} h {:02} min", whole / 3600, whole % 3600 / 60)
    }
}

/// A per-second rate for reading: grouped whole numbers from 100 up ("1,276"), one decimal
/// from 10, two below.
pub fn format_rate_grouped(rate: f64) -> String {
    if rate >= 100.0 {
        group_thousands(rate.round() as u64)
    } else if rate >= 10.0 {
        format!("{rate:.1}")
    } else {
        format!("{rate:.2}")
    }
}

/// A fraction as a percentage for reading: "0%", "<0.01%", "1.25%", "12.5%".
pub fn format_percent_adaptive(fraction: f64) -> String {
    let p = fraction * 100.0;
    if p == 0.0 {
        "0%".to_owned()
    } else if p < 0.01 {
        "<0.01%".to_owned()
    } else if p < 10.0 {
        format!("{p:.2}%")
    } else {
        format!("{p:.1}%")
    }
}

/// A byte count in binary units: "512 B", "10.0 KiB", "1.5 MiB", "2.0 GiB".
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Thousands separated by commas: "1,276".
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_us_uses_three_significant_digits_and_human_units() {
        let cases = [
            (0, "0 µs"),
            (850, "850 µs"),
            (1_234, "1.23 ms"),
            (12_345, "12.3 ms"),
            (123_456, "123 ms"),
            (999_999, "1.00 s"),
            (999_400, "999 ms"),
            (9_996, "10.0 ms"),
            (1_500_000, "1.50 s"),
            (3_600_000_000, "3600 s"),
        ];
        for (us, text) in cases {
            assert_eq!(format_us(us), text, "{us} µs");
        }
    }

    #[test]
    fn reading_style_rounds_and_groups() {
        assert_eq!(group_thousands(1_276), "1,276");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1_000_000), "1,000,000");
        assert_eq!(format_secs_rounded(8.629), "8.63 s");
        assert_eq!(format_secs_rounded(125.0), "2 min 05 s");
    }

    #[test]
    fn escape_html_escapes_both_quotes() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }
}
