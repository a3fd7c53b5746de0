//! The HTML report's summary cards: requests, throughput, errors, throttling, iterations,
//! drops, checks, schema violations and thresholds, each a headline number with a line of
//! context and a tone (good, warning, bad). Every string from the report is escaped.

use std::fmt::Write as _;

use super::{RunReport, StatsReport, ThresholdResult, ThresholdStatus, Verdict};
use crate::report::SchemaReport;
use crate::report::Totals;
use crate::report::format::{
    escape_html, format_percent_adaptive, format_rate_grouped, group_thousands,
};

pub(super) fn cards(out: &mut String, report: &RunReport, verdict: Option<&Verdict>) {
    let t = &report.totals;
    out.push_str("<section class=\"cards\">\n");
    card(
        out,
        "requests",
        &group_thousands(t.requests),
        "sent",
        Tone::Plain,
    );
    card(
        out,
        "throughput",
        &format_rate_grouped(t.requests_per_sec),
        "requests / s",
        Tone::Plain,
    );
    card(
        out,
        "errors",
        &group_thousands(t.errors),
        &format!("{} of requests", format_percent_adaptive(t.error_rate)),
        Tone::bad_if(t.errors > 0),
    );
    throttle_card(out, report);
    iteration_cards(out, t);
    checks_card(out, &report.steps);
    schema_card(out, report.schema.as_ref(), report);
    thresholds_card(
        out,
        verdict
            .map(|v| v.thresholds.as_slice())
            .filter(|t| !t.is_empty()),
    );
    out.push_str("</section>\n");
}

/// Throttled responses, apart from errors: how many, the policy, what it
/// waited, and per route (absent for reports written before it existed).
fn throttle_card(out: &mut String, report: &RunReport) {
    let Some(th) = &report.throttle else {
        return;
    };
    let routes = crate::report::throttle::by_route(report);
    let routes = if routes.is_empty() {
        String::new()
    } else {
        format!(" · {}", escape_html(&routes.join(", ")))
    };
    card(
        out,
        "throttled",
        &group_thousands(th.throttled),
        &format!(
            "{} of requests · policy {} · {} re-sent after {} waiting · {} given up{routes}",
            format_percent_adaptive(th.rate),
            escape_html(&th.policy),
            group_thousands(th.retries),
            crate::report::format::format_us(th.wait_us),
            group_thousands(th.gave_up),
        ),
        if th.throttled > 0 {
            Tone::Warn
        } else {
            Tone::Good
        },
    );
}

/// Iterations started, completed, failed and cut off; what an abort cut short (only when it
/// did); the arrivals dropped for want of a free VU.
fn iteration_cards(out: &mut String, t: &Totals) {
    card(
        out,
        "iterations",
        &group_thousands(t.started()),
        &format!(
            "started · {} completed · {} failed · {} cut off",
            group_thousands(t.completed()),
            group_thousands(t.iteration_errors),
            group_thousands(t.cut_off_iterations)
        ),
        Tone::bad_if(t.iteration_errors > 0 || t.cut_off_iterations > 0),
    );
    if t.cut_off_requests > 0 || t.unstarted_iterations > 0 {
        card(
            out,
            "cut short",
            &group_thousands(t.cut_off_requests),
            &format!(
                "requests unanswered at the abort · {} planned iterations never started",
                group_thousands(t.unstarted_iterations)
            ),
            Tone::Bad,
        );
    }
    card(
        out,
        "dropped",
        &group_thousands(t.dropped_iterations),
        "arrivals without a free VU",
        if t.dropped_iterations > 0 {
            Tone::Warn
        } else {
            Tone::Plain
        },
    );
}

/// Step executions that passed and failed, how many steps ran and never
/// failed, and how many never ran (no data, never "clean").
fn checks_card(out: &mut String, steps: &[StatsReport]) {
    let passed: u64 = steps.iter().map(|s| s.count - s.errors.min(s.count)).sum();
    let failed: u64 = steps.iter().map(|s| s.errors).sum();
    let clean_steps = steps
        .iter()
        .filter(|s| s.count > 0 && s.errors == 0)
        .count();
    let never_ran = steps.iter().filter(|s| s.count == 0).count();
    let mut sub = format!(
        "passed · {} failed · {clean_steps}/{} steps clean",
        group_thousands(failed),
        steps.len()
    );
    if never_ran > 0 {
        let _ = write!(sub, " · {never_ran} never ran");
    }
    let tone = if failed > 0 {
        Tone::Bad
    } else if never_ran > 0 {
        Tone::Warn
    } else {
        Tone::Good
    };
    card(out, "checks", &group_thousands(passed), &sub, tone);
}

/// Responses that broke the OpenAPI schema, or "not checked"; the routes
/// none of whose responses was checked are named (a check that never ran
/// is no pass).
fn schema_card(out: &mut String, schema: Option<&SchemaReport>, report: &RunReport) {
    match schema {
        Some(s) => {
            let mut sub = format!("mode: {}", escape_html(&s.mode));
            if let Some(checked) = s.checked {
                let _ = write!(sub, " · {} checked", group_thousands(checked));
            }
            let outside = crate::report::close_note::OutsideCloses::of(report);
            let unchecked = s.unchecked_routes(&report.routes, &outside);
            if !unchecked.is_empty() {
                let names: Vec<String> = unchecked
                    .iter()
                    .map(|(route, why)| {
                        format!("<code>{}</code> ({})", escape_html(route), escape_html(why))
                    })
                    .collect();
                let _ = write!(sub, " · none checked on {}", names.join(", "));
            }
            let tone = if s.violations > 0 {
                Tone::Bad
            } else if unchecked.is_empty() {
                Tone::Good
            } else {
                Tone::Warn
            };
            card(
                out,
                "schema violations",
                &group_thousands(s.violations),
                &sub,
                tone,
            );
        }
        None => card(out, "schema violations", "–", "not checked", Tone::Plain),
    }
}

/// Thresholds passed out of all, with the failed and no-data counts; "none defined" without.
fn thresholds_card(out: &mut String, results: Option<&[ThresholdResult]>) {
    match results {
        Some(results) => {
            let count = |s: ThresholdStatus| results.iter().filter(|t| t.status == s).count();
            let bad = results
                .iter()
                .filter(|t| !t.passed && t.status != ThresholdStatus::Deferred)
                .count();
            let deferred = match count(ThresholdStatus::Deferred) {
                0 => String::new(),
                n => format!("; {n} judged on the merged run"),
            };
            card(
                out,
                "thresholds",
                &format!("{} / {}", count(ThresholdStatus::Pass), results.len()),
                &format!(
                    "passed; {} failed; {} no data{deferred}",
                    count(ThresholdStatus::Fail),
                    count(ThresholdStatus::NoData)
                ),
                Tone::bad_if(bad > 0),
            );
        }
        None => card(out, "thresholds", "–", "none defined", Tone::Plain),
    }
}

#[derive(Clone, Copy)]
pub(super) enum Tone {
    Plain,
    Good,
    Warn,
    Bad,
}

impl Tone {
    pub(super) fn bad_if(bad: bool) -> Tone {
        if bad { Tone::Bad } else { Tone::Good }
    }

    pub(super) fn class(self) -> &'static str {
        match self {
            Tone::Plain => "",
            Tone::Good => " good",
            Tone::Warn => " warn-card",
            Tone::Bad => " bad",
        }
    }
}

/// `value` and `sub` are already HTML.
pub(super) fn card(out: &mut String, label: &str, value: &str, sub: &str, tone: Tone) {
    w!(
        out,
        "<div class=\"stat{}\"><div class=\"label\">{label}</div>\
         <div class=\"value\">{value}</div><div class=\"sub\">{sub}</div></div>\n",
        tone.class()
    );
}
