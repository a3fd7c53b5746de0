//! Comparing two runs: per step, route and whole iteration, base vs new
//! latency percentiles with absolute and relative deltas, and rules such as
//! `p99 > +10%` that mark a regression. Changes smaller than a noise floor
//! never count, so a 40 µs → 60 µs "50% regression" does not fail a build.

use std::fmt::Write as _;

use serde::Serialize;

use super::webhooks::WebhookReport;
use super::{Percentiles, RunReport, StatsReport, terminal::format_us};

/// Percentiles compared (and usable in rules).
pub const METRICS: &[&str] = &["p50", "p90", "p95", "p99", "p99.9", "max"];

/// A regression rule: `METRIC > +N%` or `METRIC > +Nms`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub text: String,
    pub metric: String,
    /// Allowed relative growth (0.1 = 10%).
    pub relative: Option<f64>,
    /// Allowed absolute growth in µs.
    pub absolute_us: Option<f64>,
}

impl Rule {
    /// Parses `p99 > +10%`, `p50 > +5ms`, `max > 1s`.
    ///
    /// # Errors
    /// An unknown metric or a malformed limit, with what was expected.
    pub fn parse(text: &str) -> Result<Rule, String> {
        let bad = || {
            format!(
                "invalid rule `{text}`: expected METRIC > +N% or METRIC > +DURATION, e.g. \"p99 > +10%\", with METRIC one of {}",
                METRICS.join(", ")
            )
        };
        let (metric, limit) = text.split_once('>').ok_or_else(bad)?;
        let metric = metric.trim();
        if !METRICS.contains(&metric) {
            return Err(bad());
        }
        let limit = limit.trim().trim_start_matches('+');
        let (relative, absolute_us) = if let Some(pct) = limit.strip_suffix('%') {
            (
                Some(pct.trim().parse::<f64>().map_err(|_| bad())? / 100.0),
                None,
            )
        } else {
            let d = humantime::parse_duration(limit).map_err(|_| bad())?;
            (None, Some(d.as_secs_f64() * 1e6))
        };
        Ok(Rule {
            text: text.trim().to_owned(),
            metric: metric.to_owned(),
            relative,
            absolute_us,
        })
    }
}

/// One compared figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareRow {
    /// `step`, `route`, `iteration`, or with webhooks `lifecycle` and `event`.
    pub scope: &'static str,
    pub name: String,
    pub metric: &'static str,
    pub base_us: u64,
    pub new_us: u64,
    pub delta_us: i64,
    /// `None` when the base is 0.
    pub delta_pct: Option<f64>,
    /// Rules this row breaks.
    pub broken: Vec<String>,
}

/// The comparison of two runs.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub base: String,
    pub new: String,
    pub noise_floor_us: u64,
    pub rows: Vec<CompareRow>,
    /// Steps or routes present in only one of the runs.
    pub unmatched: Vec<String>,
}

impl Comparison {
    /// Rows that break a rule.
    pub fn regressions(&self) -> impl Iterator<Item = &CompareRow> {
        self.rows.iter().filter(|r| !r.broken.is_empty())
    }
}

fn value(p: &Percentiles, metric: &str) -> u64 {
    match metric {
        "p50" => p.p50_us,
        "p90" => p.p90_us,
        "p95" => p.p95_us,
        "p99" => p.p99_us,
        "p99.9" => p.p99_9_us,
        _ => p.max_us,
    }
}

/// Compares `new` against `base`.
pub fn compare(
    base: &RunReport,
    new: &RunReport,
    rules: &[Rule],
    noise_floor_us: u64,
) -> Comparison {
    let mut rows = Vec::new();
    let mut unmatched = Vec::new();
    let mut pair_latency = |scope: &'static str, name: &str, b: &Percentiles, n: &Percentiles| {
        for metric in METRICS {
            let (base_us, new_us) = (value(b, metric), value(n, metric));
            let delta = new_us as i64 - base_us as i64;
            let pct = (base_us > 0).then(|| delta as f64 / base_us as f64);
            let broken = rules
                .iter()
                .filter(|r| r.metric == *metric && delta > noise_floor_us as i64)
                .filter(|r| {
                    r.relative.is_some_and(|lim| pct.is_none_or(|p| p > lim))
                        || r.absolute_us.is_some_and(|lim| delta as f64 > lim)
                })
                .map(|r| r.text.clone())
                .collect();
            rows.push(CompareRow {
                scope,
                name: name.to_owned(),
                metric,
                base_us,
                new_us,
                delta_us: delta,
                delta_pct: pct,
                broken,
            });
        }
    };
    let mut pair = |scope: &'static str, b: &StatsReport, n: &StatsReport| {
        pair_latency(scope, &n.name, &b.latency, &n.latency);
    };
    for (scope, bl, nl) in [
        ("step", &base.steps, &new.steps),
        ("route", &base.routes, &new.routes),
    ] {
        for n in nl {
            match bl.iter().find(|b| b.name == n.name) {
                Some(b) => pair(scope, b, n),
                None => unmatched.push(format!("{scope} `{}` only in the new run", n.name)),
            }
        }
        for b in bl.iter().filter(|b| !nl.iter().any(|n| n.name == b.name)) {
            unmatched.push(format!("{scope} `{}` only in the base run", b.name));
        }
    }
    pair("iteration", &base.iteration, &new.iteration);
    if let (Some(bw), Some(nw)) = (&base.webhooks, &new.webhooks) {
        compare_webhooks(bw, nw, &mut pair_latency, &mut unmatched);
    }
    Comparison {
        base: base.meta.started_at.clone(),
        new: new.meta.started_at.clone(),
        noise_floor_us,
        rows,
        unmatched,
    }
}

/// The lifecycle service levels and each event's delay, where both runs measured them.
fn compare_webhooks(
    base: &WebhookReport,
    new: &WebhookReport,
    pair: &mut impl FnMut(&'static str, &str, &Percentiles, &Percentiles),
    unmatched: &mut Vec<String>,
) {
    let levels = |w: &WebhookReport| {
        [
            ("time_to_assign", w.lifecycle.time_to_assign.clone()),
            ("time_in_queue", w.queue.time_in_queue.clone()),
            (
                "time_to_first_agent_reply",
                w.lifecycle.time_to_first_agent_reply.clone(),
            ),
            ("chat_duration", w.lifecycle.chat_duration.clone()),
        ]
    };
    for ((name, b), (_, n)) in levels(base).into_iter().zip(levels(new)) {
        if b.count > 0 && n.count > 0 {
            pair("lifecycle", name, &b.latency, &n.latency);
        }
    }
    for n in &new.events {
        match base.events.iter().find(|b| b.event == n.event) {
            Some(b) if b.delay.count > 0 && n.delay.count > 0 => {
                pair("event", &n.event, &b.delay.latency, &n.delay.latency);
            }
            Some(_) => {}
            None => unmatched.push(format!("event `{}` only in the new run", n.event)),
        }
    }
}

fn pct(p: Option<f64>) -> String {
    p.map_or_else(|| "n/a".to_owned(), |p| format!("{:+.1}%", p * 100.0))
}

fn signed_us(d: i64) -> String {
    let sign = if d < 0 { "-" } else { "+" };
    format!("{sign}{}", format_us(d.unsigned_abs()))
}

/// The comparison as a terminal table.
pub fn render_terminal(c: &Comparison) -> String {
    let mut out = format!(
        "base {}  vs  new {}  (noise floor {})\n\n",
        c.base,
        c.new,
        format_us(c.noise_floor_us)
    );
    let width = c
        .rows
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "  {:<9} {:<width$} {:>6} {:>10} {:>10} {:>11} {:>8}",
        "scope", "name", "metric", "base", "new", "delta", "delta%"
    );
    for r in &c.rows {
        let mark = if r.broken.is_empty() {
            ""
        } else {
            "  REGRESSION"
        };
        let _ = writeln!(
            out,
            "  {:<9} {:<width$} {:>6} {:>10} {:>10} {:>11} {:>8}{mark}",
            r.scope,
            r.name,
            r.metric,
            format_us(r.base_us),
            format_us(r.new_us),
            signed_us(r.delta_us),
            pct(r.delta_pct)
        );
    }
    for u in &c.unmatched {
        let _ = writeln!(out, "  note: {u}");
    }
    let n = c.regressions().count();
    let _ = writeln!(out, "\n{n} regression(s)");
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
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
            r.scope,
            escape(&r.name),
            r.metric,
            format_us(r.base_us),
            format_us(r.new_us),
            signed_us(r.delta_us),
            pct(r.delta_pct),
            escape(&r.broken.join(", "))
        );
    }
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>chatload comparison</title><style>\
body{{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2933}}\
table{{border-collapse:collapse;font-size:14px}}td,th{{padding:4px 10px;border-bottom:1px solid #e4e7eb;text-align:right}}\
td:nth-child(-n+3),th:nth-child(-n+3){{text-align:left}}tr.bad{{background:#fde8e8}}tr.good{{background:#e3f9e5}}\
</style></head><body><h1>chatload comparison</h1><p>Base run started {}; new run started {}; noise floor {}; {} regression(s).</p>\
<table><thead><tr><th>scope</th><th>name</th><th>metric</th><th>base</th><th>new</th><th>delta</th><th>delta %</th><th>broken rule</th></tr></thead><tbody>{rows}</tbody></table>\
<p>{}</p></body></html>",
        escape(&c.base),
        escape(&c.new),
        format_us(c.noise_floor_us),
        c.regressions().count(),
        escape(&c.unmatched.join("; "))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report_with_p99(step_p99: u64) -> RunReport {
        let mut r: RunReport = serde_json::from_slice(
            &crate::report::json::render(&crate::report::build_sample_report()).unwrap(),
        )
        .unwrap();
        for s in &mut r.steps {
            s.latency.p99_us = step_p99;
        }
        r
    }

    #[test]
    fn flags_a_synthetic_regression_and_passes_an_identical_run() {
        let rules = [Rule::parse("p99 > +10%").unwrap()];
        let base = report_with_p99(100_000);
        let same = compare(&base, &base, &rules, 1_000);
        assert_eq!(same.regressions().count(), 0);
        let slower = compare(&base, &report_with_p99(130_000), &rules, 1_000);
        let regressed: Vec<&CompareRow> = slower.regressions().collect();
        assert_eq!(regressed.len(), base.steps.len());
        assert!(
            regressed
                .iter()
                .all(|r| r.metric == "p99" && r.delta_us == 30_000)
        );
        assert!(render_terminal(&slower).contains("REGRESSION"));
        let html = render_html(&slower);
        assert!(html.contains("class=\"bad\"") && !html.contains("http"));
    }

    #[test]
    fn the_noise_floor_hides_tiny_changes() {
        let rules = [Rule::parse("p99 > +10%").unwrap()];
        let c = compare(&report_with_p99(40), &report_with_p99(60), &rules, 1_000);
        assert_eq!(c.regressions().count(), 0, "20 µs is below a 1 ms floor");
        let abs = [Rule::parse("p99 > +5ms").unwrap()];
        assert_eq!(
            compare(
                &report_with_p99(10_000),
                &report_with_p99(14_000),
                &abs,
                100
            )
            .regressions()
            .count(),
            0
        );
        assert!(
            compare(
                &report_with_p99(10_000),
                &report_with_p99(16_000),
                &abs,
                100
            )
            .regressions()
            .count()
                > 0
        );
    }

    #[test]
    fn rules_parse_or_say_what_was_expected() {
        assert_eq!(Rule::parse("p99 > +10%").unwrap().relative, Some(0.1));
        assert_eq!(Rule::parse("max > 1s").unwrap().absolute_us, Some(1e6));
        assert!(Rule::parse("p98 > 10%").unwrap_err().contains("p99.9"));
        assert!(Rule::parse("p99 < 10%").is_err());
    }
}
