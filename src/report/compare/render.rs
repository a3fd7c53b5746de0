//! The comparison as a terminal table and as a self-contained HTML page, both
//! ending with the same summary: the regressions, the rules that could not be
//! judged, what the runs' own verdicts say, and the outcome.

use std::fmt::Write as _;

use super::{CompareRow, Comparison, ErrorRow, rate};
use crate::report::format::{escape_html, format_signed_percent, format_signed_us, format_us};
use crate::text::format_percent_adaptive;

/// An error-rate cell: "100% (20/20)".
fn rate_cell(pair @ [errors, count]: [u64; 2]) -> String {
    format!("{} ({errors}/{count})", format_percent_adaptive(rate(pair)))
}

/// The growth of an error rate in percentage points: "+100.0 pp".
fn points_delta(r: &ErrorRow) -> String {
    let [b, n] = r.rates();
    format!("{:+.1} pp", (n - b) * 100.0)
}

/// One error-rate regression in words: "step create_chat errors: 0% (0/20) → 100% (20/20)
/// (+100.0 pp), breaks `errors > +1%`".
fn error_regression_line(r: &ErrorRow) -> String {
    format!(
        "{} {} errors: {} → {} ({}), breaks {}",
        r.scope.as_str(),
        r.name,
        rate_cell(r.base),
        rate_cell(r.new),
        points_delta(r),
        quoted(&r.broken)
    )
}

/// "`a`, `b`".
fn quoted(rules: &[String]) -> String {
    rules
        .iter()
        .map(|b| format!("`{b}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A latency row of which every sample of one run failed: why no rule judged it.
fn failed_only_mark(r: &CompareRow) -> String {
    r.failed_only
        .map(|run| format!("  not judged: every sample failed ({run})"))
        .unwrap_or_default()
}

/// The marker after a row that breaks a rule (`broken`).
fn regression_mark(broken: &[String]) -> &'static str {
    if broken.is_empty() {
        ""
    } else {
        "  REGRESSION"
    }
}

/// One regression in words: "step create_chat p99: 100 ms → 130 ms (+30.0%), breaks `p99 > +10%`".
fn regression_line(r: &CompareRow) -> String {
    format!(
        "{} {} {}: {} → {} ({}), breaks {}",
        r.scope.as_str(),
        r.name,
        r.metric,
        format_us(r.base_us),
        format_us(r.new_us),
        format_signed_percent(r.delta_pct),
        quoted(&r.broken)
    )
}

/// The summary lines: regressions, unjudged rules, and the outcome (the last line).
pub fn summary_lines(c: &Comparison) -> Vec<String> {
    let mut lines = Vec::new();
    let regressions = c.regression_count();
    if regressions > 0 {
        lines.push(format!("{regressions} regression(s):"));
        lines.extend(c.regressions().map(|r| format!("  {}", regression_line(r))));
        lines.extend(
            c.error_regressions()
                .map(|r| format!("  {}", error_regression_line(r))),
        );
    }
    if !c.unjudged.is_empty() {
        lines.push(format!("{} rule(s) could not be judged:", c.unjudged.len()));
        lines.extend(c.unjudged.iter().map(|u| format!("  {u}")));
    }
    // Without rules nothing is judged: what the verdicts say is only told.
    let prefix = if c.rules.is_empty() { "note: " } else { "" };
    lines.extend(c.run_failures.iter().map(|f| format!("{prefix}{f}")));
    lines.extend(c.run_warnings.iter().map(|w| format!("warning: {w}")));
    let outcome = if c.rules.is_empty() {
        "no rule given (--fail-if): nothing judged, 0 regression(s)".to_owned()
    } else if c.failed() {
        let runs = match c.run_failures.len() {
            0 => String::new(),
            n => format!(", {n} run verdict failure(s) (above)"),
        };
        format!(
            "FAILED: {regressions} regression(s), {} rule(s) not judged{runs}, against {} rule(s)",
            c.unjudged.len(),
            c.rules.len()
        )
    } else {
        format!("PASSED: 0 regression(s) against {} rule(s)", c.rules.len())
    };
    lines.push(outcome);
    lines
}

/// The comparison as a terminal table.
pub fn render_terminal(c: &Comparison) -> String {
    let mut out = String::new();
    for w in &c.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let _ = writeln!(
        out,
        "base {}  vs  new {}  (noise floor {})\n",
        c.base,
        c.new,
        format_us(c.noise_floor_us)
    );
    let width = (c.rows.iter().map(|r| r.name.len()))
        .chain(c.errors.iter().map(|r| r.name.len()))
        .max()
        .unwrap_or(4)
        .max(4);
    // `p99.9_corrected` when the corrected percentiles are shown.
    let mw = (c.rows.iter().map(|r| r.metric.len()))
        .max()
        .unwrap_or(6)
        .max(6);
    let _ = writeln!(
        out,
        "  {:<9} {:<width$} {:>mw$} {:>10} {:>10} {:>11} {:>8}",
        "scope", "name", "metric", "base", "new", "delta", "delta%"
    );
    for r in &c.rows {
        let (scope, name, metric) = (r.scope.as_str(), &r.name, r.metric);
        let (base, new) = (format_us(r.base_us), format_us(r.new_us));
        let (delta, pct) = (
            format_signed_us(r.delta_us),
            format_signed_percent(r.delta_pct),
        );
        let (mark, failed) = (regression_mark(&r.broken), failed_only_mark(r));
        let _ = writeln!(
            out,
            "  {scope:<9} {name:<width$} {metric:>mw$} {base:>10} {new:>10} {delta:>11} {pct:>8}{mark}{failed}"
        );
    }
    if !c.errors.is_empty() {
        let _ = writeln!(
            out,
            "\n  {:<9} {:<width$} {:>mw$} {:>16} {:>16} {:>11}",
            "scope", "name", "", "base errors", "new errors", "delta"
        );
    }
    for r in &c.errors {
        let (scope, name) = (r.scope.as_str(), &r.name);
        let (base, new, delta) = (rate_cell(r.base), rate_cell(r.new), points_delta(r));
        let mark = regression_mark(&r.broken);
        let _ = writeln!(
            out,
            "  {scope:<9} {name:<width$} {:>mw$} {base:>16} {new:>16} {delta:>11}{mark}",
            "errors"
        );
    }
    for u in &c.unmatched {
        let _ = writeln!(out, "  note: {u}");
    }
    out.push('\n');
    for line in summary_lines(c) {
        let _ = writeln!(out, "{line}");
    }
    out
}

/// The comparison as a self-contained HTML page (no external resources).
pub fn render_html(c: &Comparison) -> String {
    let mut rows = String::new();
    for r in &c.rows {
        let class = if !r.broken.is_empty() {
            "bad"
        } else if r.delta_us < 0 && r.delta_us.unsigned_abs() > c.noise_floor_us {
            "good"
        } else {
            ""
        };
        let _ = write!(
            rows,
            "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.scope.as_str(),
            escape_html(&r.name),
            r.metric,
            format_us(r.base_us),
            format_us(r.new_us),
            format_signed_us(r.delta_us),
            format_signed_percent(r.delta_pct),
            escape_html(&r.broken.join(", "))
        );
    }
    let mut errors = String::new();
    for r in &c.errors {
        let class = if r.broken.is_empty() { "" } else { "bad" };
        let _ = write!(
            errors,
            "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.scope.as_str(),
            escape_html(&r.name),
            rate_cell(r.base),
            rate_cell(r.new),
            points_delta(r),
            escape_html(&r.broken.join(", "))
        );
    }
    let paragraphs = |items: &[String], class: &str| -> String {
        items
            .iter()
            .map(|w| format!("<p class=\"{class}\">{}</p>", escape_html(w)))
            .collect()
    };
    let warnings: Vec<String> = c.warnings.iter().map(|w| format!("warning: {w}")).collect();
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>chatload comparison</title><style>\
body{{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2933}}\
table{{border-collapse:collapse;font-size:14px}}td,th{{padding:4px 10px;border-bottom:1px solid #e4e7eb;text-align:right}}\
td:nth-child(-n+3),th:nth-child(-n+3){{text-align:left}}tr.bad{{background:#fde8e8}}tr.good{{background:#e3f9e5}}\
p.warn{{background:#fff4d6;padding:6px 10px}}p.summary{{margin:2px 0;white-space:pre-wrap}}\
</style></head><body><h1>chatload comparison</h1>{}<p>Base run started {}; new run started {}; noise floor {}; {} regression(s).</p>\
<table><thead><tr><th>scope</th><th>name</th><th>metric</th><th>base</th><th>new</th><th>delta</th><th>delta %</th><th>broken rule</th></tr></thead><tbody>{rows}</tbody></table>\
<p>{}</p><h2>Error rates</h2>\
<table><thead><tr><th>scope</th><th>name</th><th>base errors</th><th>new errors</th><th>delta</th><th>broken rule</th></tr></thead><tbody>{errors}</tbody></table>\
<h2>Summary</h2>{}</body></html>",
        paragraphs(&warnings, "warn"),
        escape_html(&c.base),
        escape_html(&c.new),
        format_us(c.noise_floor_us),
        c.regression_count(),
        escape_html(&c.unmatched.join("; ")),
        paragraphs(&summary_lines(c), "summary"),
    )
}

#[cfg(test)]
mod tests {
    use super::render_html;
    use crate::report::compare::tests::compare;

    /// The comparison page had its own escaper, which left `'` as it was.
    #[test]
    fn the_comparison_page_escapes_single_quotes() {
        let mut report = crate::report::build_sample_report();
        report.steps[0].name = "it's <b>".to_owned();
        let html = render_html(&compare(&report, &report, &[], 1_000));
        assert!(html.contains("it&#39;s &lt;b&gt;"), "{html}");
        assert!(!html.contains("it's"), "{html}");
    }
}
