//! HTML renderer: one self-contained page a person reads offline before a launch.
//!
//! Everything is inline: CSS in a `<style>` element, charts as SVG generated here, no script
//! that runs (tooltips are SVG `<title>` elements, which browsers show on hover without JS), no
//! font, image or stylesheet fetched from anywhere. The page reads fully with JS disabled.
//!
//! Contents, top to bottom: header (scenario, target, times, load profile, badges), summary
//! cards, thresholds, the latency percentile distribution per step on HdrHistogram's log "nines"
//! axis (computed from the decoded histograms, not from the rounded percentile fields), p50/p99
//! latency over time, requests and errors per second, status codes and errors by kind, the
//! per-step and per-route tables, schema violations, clean-up and the run metadata.
//!
//! The plotted numbers are embedded as JSON in `<script type="application/json"
//! id="chatload-data">` (per-series percentile points, the timeline, status codes), so tests and
//! tools can check what the charts show without parsing SVG.
//!
//! Every string that comes from the report is HTML-escaped. Returns bytes; does no I/O.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use super::terminal::format_us;
use super::{Percentiles, ReportError, RunReport, StatsReport, ThresholdResult, decode_histogram};

/// `let _ = write!(...)`: writing into a `String` cannot fail.
macro_rules! w {
    ($($arg:tt)*) => {{
        let _ = write!($($arg)*);
    }};
}

/// Series colours (Tableau 10): distinguishable, colour-blind friendlier than primaries.
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7",
    "#e15759", "#bab0ac",
];
/// The whole-iteration line: dark and dashed, so it stands apart from the steps.
const ITERATION_COLOR: &str = "#333333";
const BLUE: &str = "#4e79a7";
const ORANGE: &str = "#f28e2b";
const RED: &str = "#e15759";
const GREEN: &str = "#59a14f";
const TEAL: &str = "#76b7b2";
const GREY: &str = "#9d9d9d";

/// Points per decade of the nines axis.
const POINTS_PER_DECADE: u32 = 20;
/// The nines axis never goes beyond 99.999% (1 in 100 000).
const MAX_DECADES: u32 = 5;
/// ... and never stops before 99%.
const MIN_DECADES: u32 = 2;
/// Labelled levels of the nines axis: (log10 of 1/(1-q), label).
const NINES: [(f64, &str); 7] = [
    (0.0, "0%"),
    (std::f64::consts::LOG10_2, "50%"),
    (1.0, "90%"),
    (2.0, "99%"),
    (3.0, "99.9%"),
    (4.0, "99.99%"),
    (5.0, "99.999%"),
];
/// Marked points on each percentile line: (quantile, label).
const MARKED: [(f64, &str); 6] = [
    (0.5, "p50"),
    (0.9, "p90"),
    (0.99, "p99"),
    (0.999, "p99.9"),
    (0.9999, "p99.99"),
    (0.99999, "p99.999"),
];

/// Same rule as the terminal summary: corrected p99 is shown when it exceeds raw p99 by 10% and
/// 100 µs.
const CORRECTED_MIN_RATIO: f64 = 1.10;
const CORRECTED_MIN_GAP_US: u64 = 100;

/// Timelines longer than this get no per-second hover areas (they would only bloat the file).
const MAX_HOVER_SECONDS: usize = 900;

/// Renders `report` as one self-contained HTML page (UTF-8).
///
/// # Errors
///
/// [`ReportError::HistogramBase64`] or [`ReportError::HistogramDecode`] if a step's or the
/// iteration's histogram cannot be decoded, and [`ReportError::Serialize`] if the embedded chart
/// data cannot be serialized.
pub fn render(report: &RunReport) -> Result<Vec<u8>, ReportError> {
    let series = percentile_series(report)?;
    let decades = axis_decades(&series);
    let thresholds = thresholds(report);

    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    w!(
        out,
        "<title>chatload report: {}</title>\n",
        esc(&report.meta.scenario)
    );
    out.push_str("<style>");
    out.push_str(CSS);
    out.push_str("</style>\n</head>\n<body>\n<main>\n");

    header(&mut out, report, thresholds.as_deref());
    cards(&mut out, report, thresholds.as_deref());
    if let Some(results) = thresholds.as_deref().filter(|t| !t.is_empty()) {
        thresholds_table(&mut out, results);
    }

    out.push_str("<section class=\"card\">\n<h2>Latency percentile distribution</h2>\n");
    out.push_str(
        "<p class=\"hint\">Latency at each percentile, per step and for the whole iteration, \
         as HdrHistogram plots it: the x axis is 1/(1&minus;percentile) on a log scale, so every \
         extra nine gets the same width. A line ends where its samples run out \
         (1&nbsp;in&nbsp;count).</p>\n",
    );
    percentile_chart(&mut out, &series, decades);
    out.push_str("</section>\n");

    out.push_str("<div class=\"grid2\">\n");
    out.push_str("<section class=\"card\">\n<h2>Latency over time</h2>\n");
    latency_timeline_chart(&mut out, report);
    out.push_str("</section>\n<section class=\"card\">\n<h2>Throughput and errors</h2>\n");
    throughput_chart(&mut out, report);
    out.push_str("</section>\n</div>\n");

    out.push_str("<div class=\"grid2\">\n");
    out.push_str("<section class=\"card\">\n<h2>HTTP status codes</h2>\n");
    let statuses: Vec<(String, u64, &str)> = report
        .status_codes
        .iter()
        .map(|(code, n)| (code.clone(), *n, status_color(code)))
        .collect();
    bar_chart(
        &mut out,
        &statuses,
        "responses",
        "No responses were received.",
    );
    out.push_str("</section>\n<section class=\"card\">\n<h2>Errors by kind</h2>\n");
    let kinds: Vec<(String, u64, &str)> = report
        .errors_by_kind
        .iter()
        .map(|(kind, n)| (kind.clone(), *n, RED))
        .collect();
    bar_chart(&mut out, &kinds, "failed requests", "No request failed.");
    out.push_str("</section>\n</div>\n");

    steps_table(&mut out, report);
    routes_table(&mut out, report);
    schema_section(&mut out, report);
    cleanup_section(&mut out, report);
    metadata_section(&mut out, report);

    w!(
        out,
        "<footer>Written by chatload {} from the JSON report. This page loads nothing from the \
         network; hover a chart for exact values. Plotted data: \
         <code>#chatload-data</code>.</footer>\n</main>\n",
        esc(&report.meta.chatload_version)
    );
    out.push_str("<script type=\"application/json\" id=\"chatload-data\">");
    out.push_str(&script_json(&chart_data(report, &series, decades))?);
    out.push_str("</script>\n</body>\n</html>\n");
    Ok(out.into_bytes())
}

// ---------------------------------------------------------------------------------------------
// Data

/// One line of the percentile chart.
struct Series {
    name: String,
    kind: &'static str,
    flow: Option<String>,
    count: u64,
    color: &'static str,
    dashed: bool,
    /// (quantile, log10(1/(1-quantile)), latency µs), in increasing quantile order.
    points: Vec<(f64, f64, u64)>,
    /// (label, log10 x, µs) at the marked percentiles the samples reach, then the max.
    marks: Vec<(String, f64, u64)>,
    latency: Percentiles,
}

fn percentile_series(report: &RunReport) -> Result<Vec<Series>, ReportError> {
    let mut series = Vec::with_capacity(report.steps.len() + 1);
    for (index, step) in report.steps.iter().enumerate() {
        let histogram = decode_histogram(&step.histogram)?;
        series.push(one_series(
            step,
            "step",
            PALETTE[index % PALETTE.len()],
            index >= PALETTE.len(),
            &histogram,
        ));
    }
    let histogram = decode_histogram(&report.iteration.histogram)?;
    let mut whole = one_series(
        &report.iteration,
        "iteration",
        ITERATION_COLOR,
        true,
        &histogram,
    );
    whole.name = "whole iteration".to_owned();
    series.push(whole);
    Ok(series)
}

fn one_series(
    stats: &StatsReport,
    kind: &'static str,
    color: &'static str,
    dashed: bool,
    histogram: &Histogram<u64>,
) -> Series {
    let count = histogram.len();
    let mut points = Vec::new();
    let mut marks = Vec::new();
    if count > 0 {
        let limit = (count as f64).min(10f64.powi(MAX_DECADES as i32));
        for k in 0..=POINTS_PER_DECADE * MAX_DECADES {
            let x_log = f64::from(k) / f64::from(POINTS_PER_DECADE);
            let x = 10f64.powf(x_log);
            if x > limit * (1.0 + 1e-9) {
                break;
            }
            let q = 1.0 - 1.0 / x;
            points.push((q, x_log, histogram.value_at_quantile(q)));
        }
        for (q, label) in MARKED {
            let x = 1.0 / (1.0 - q);
            if x <= count as f64 * (1.0 + 1e-9) {
                marks.push((label.to_owned(), x.log10(), histogram.value_at_quantile(q)));
            }
        }
        // The largest sample is the "1 in count" point, where HdrHistogram's plot ends.
        let end = (count as f64).log10();
        if count as f64 <= 10f64.powi(MAX_DECADES as i32) {
            if points.last().is_none_or(|p| p.1 < end - 1e-9) {
                points.push((1.0 - 1.0 / count as f64, end, histogram.max()));
            } else if let Some(last) = points.last_mut() {
                last.2 = histogram.max();
            }
            marks.push(("max".to_owned(), end, histogram.max()));
        }
    }
    Series {
        name: stats.name.clone(),
        kind,
        flow: stats.flow.clone(),
        count,
        color,
        dashed,
        points,
        marks,
        latency: stats.latency,
    }
}

/// Decades shown on the nines axis: enough for the largest sample count, 2 to 5.
fn axis_decades(series: &[Series]) -> u32 {
    let most = series.iter().map(|s| s.count).max().unwrap_or(0).max(1) as f64;
    (most.log10().ceil() as u32).clamp(MIN_DECADES, MAX_DECADES)
}

fn thresholds(report: &RunReport) -> Option<Vec<ThresholdResult>> {
    report
        .extra
        .get("thresholds")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

fn chart_data(report: &RunReport, series: &[Series], decades: u32) -> Value {
    let round = |v: f64| (v * 1e6).round() / 1e6;
    let series: Vec<Value> = series
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "kind": s.kind,
                "flow": s.flow,
                "count": s.count,
                "color": s.color,
                "points": s.points.iter().map(|(q, x_log, us)| json!({
                    "percentile": round(q * 100.0),
                    "x": round(10f64.powf(*x_log)),
                    "latency_us": us,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "schema_version": report.schema_version,
        "scenario": report.meta.scenario,
        "percentile_distribution": {
            "x_axis": "1/(1-percentile/100), log10",
            "x_max_percentile": round(100.0 - 100.0 / 10f64.powi(decades as i32)),
            "series": series,
        },
        "timeline": report.timeline.iter().map(|t| json!({
            "second": t.second,
            "requests": t.requests,
            "errors": t.errors,
            "p50_us": t.p50_us,
            "p90_us": t.p90_us,
            "p99_us": t.p99_us,
            "max_us": t.max_us,
        })).collect::<Vec<_>>(),
        "status_codes": report.status_codes,
        "errors_by_kind": report.errors_by_kind,
    })
}

/// JSON safe inside `<script>`: `<`, `>` and `&` only occur inside JSON strings, where their
/// `\u` escapes mean the same, so `</script>` in a step name cannot end the element.
fn script_json(value: &Value) -> Result<String, ReportError> {
    let text = serde_json::to_string(value).map_err(|source| ReportError::Serialize { source })?;
    Ok(text
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026"))
}

// ---------------------------------------------------------------------------------------------
// Header, cards, tables

fn header(out: &mut String, report: &RunReport, thresholds: Option<&[ThresholdResult]>) {
    let meta = &report.meta;
    out.push_str("<header>\n<div class=\"title\">\n");
    w!(
        out,
        "<h1><span class=\"muted\">chatload report</span> {}</h1>\n",
        esc(&meta.scenario)
    );
    if meta.interrupted {
        out.push_str(
            "<span class=\"badge bad\" title=\"The run was stopped early; results are partial\">\
             INTERRUPTED</span>\n",
        );
    }
    if let Some(results) = thresholds.filter(|t| !t.is_empty()) {
        let failed = results.iter().filter(|t| !t.passed).count();
        if failed > 0 {
            w!(
                out,
                "<span class=\"badge bad\">{failed} THRESHOLD{} FAILED</span>\n",
                if failed == 1 { "" } else { "S" }
            );
        } else {
            out.push_str("<span class=\"badge good\">THRESHOLDS PASSED</span>\n");
        }
    }
    if let Some(shard) = &meta.shard {
        w!(out, "<span class=\"badge\">shard {}</span>\n", esc(shard));
    }
    if !meta.merged_from.is_empty() {
        w!(
            out,
            "<span class=\"badge\">merged from {} reports</span>\n",
            meta.merged_from.len()
        );
    }
    out.push_str("</div>\n<dl class=\"meta\">\n");
    let mut item = |key: &str, value: String| {
        w!(out, "<div><dt>{key}</dt><dd>{value}</dd></div>\n");
    };
    item(
        "target",
        format!(
            "{} <span class=\"muted\">({})</span>",
            esc(&base_url(&meta.target)),
            esc(&meta.target_kind)
        ),
    );
    item("started", esc(&pretty_time(&meta.started_at)));
    item("ended", esc(&pretty_time(&meta.ended_at)));
    item("duration", esc(&format_secs(meta.duration_secs)));
    item("load", esc(&describe_load(&meta.load)));
    item("seed", meta.seed.to_string());
    item("chatload", esc(&meta.chatload_version));
    if let Some(file) = &meta.scenario_file {
        item("scenario file", esc(file));
    }
    if let Some(shard) = &meta.shard {
        item("shard", esc(shard));
    }
    if !meta.merged_from.is_empty() {
        let names: Vec<String> = meta.merged_from.iter().map(|m| esc(m)).collect();
        item("merged from", names.join(", "));
    }
    out.push_str("</dl>\n</header>\n");

    let saturated: u64 = report
        .steps
        .iter()
        .chain(&report.routes)
        .map(|s| s.saturated)
        .sum();
    if meta.interrupted {
        out.push_str(
            "<p class=\"warn\">This run was interrupted (Ctrl-C or SIGTERM): the figures cover \
             only the part that ran.</p>\n",
        );
    }
    if saturated > 0 {
        w!(
            out,
            "<p class=\"warn\">{saturated} samples above 1 h were clamped to 1 h.</p>\n"
        );
    }
}

fn cards(out: &mut String, report: &RunReport, thresholds: Option<&[ThresholdResult]>) {
    let t = &report.totals;
    let passed: u64 = report
        .steps
        .iter()
        .map(|s| s.count - s.errors.min(s.count))
        .sum();
    let failed: u64 = report.steps.iter().map(|s| s.errors).sum();
    let clean_steps = report.steps.iter().filter(|s| s.errors == 0).count();
    let schema = report.extra.get("schema");
    let violations = schema
        .and_then(|s| s.get("violations"))
        .and_then(Value::as_u64);
    let mode = schema
        .and_then(|s| s.get("mode"))
        .and_then(Value::as_str)
        .unwrap_or("");

    out.push_str("<section class=\"cards\">\n");
    card(out, "requests", &group(t.requests), "sent", Tone::Plain);
    card(
        out,
        "throughput",
        &format_rate(t.requests_per_sec),
        "requests / s",
        Tone::Plain,
    );
    card(
        out,
        "errors",
        &group(t.errors),
        &format!("{} of requests", format_percent(t.error_rate)),
        Tone::bad_if(t.errors > 0),
    );
    card(
        out,
        "iterations",
        &group(t.iterations),
        &format!("{} failed", group(t.iteration_errors)),
        Tone::bad_if(t.iteration_errors > 0),
    );
    card(
        out,
        "dropped",
        &group(t.dropped_iterations),
        "arrivals without a free VU",
        if t.dropped_iterations > 0 {
            Tone::Warn
        } else {
            Tone::Plain
        },
    );
    card(
        out,
        "checks",
        &group(passed),
        &format!(
            "passed · {} failed · {clean_steps}/{} steps clean",
            group(failed),
            report.steps.len()
        ),
        Tone::bad_if(failed > 0),
    );
    match violations {
        Some(n) => card(
            out,
            "schema violations",
            &group(n),
            &format!("mode: {}", esc(mode)),
            Tone::bad_if(n > 0),
        ),
        None => card(out, "schema violations", "–", "not checked", Tone::Plain),
    }
    match thresholds.filter(|t| !t.is_empty()) {
        Some(results) => {
            let ok = results.iter().filter(|t| t.passed).count();
            let bad = results.len() - ok;
            card(
                out,
                "thresholds",
                &format!("{ok} / {}", results.len()),
                &format!("passed; {bad} failed"),
                Tone::bad_if(bad > 0),
            );
        }
        None => card(out, "thresholds", "–", "none defined", Tone::Plain),
    }
    out.push_str("</section>\n");
}

#[derive(Clone, Copy)]
enum Tone {
    Plain,
    Good,
    Warn,
    Bad,
}

impl Tone {
    fn bad_if(bad: bool) -> Tone {
        if bad { Tone::Bad } else { Tone::Good }
    }

    fn class(self) -> &'static str {
        match self {
            Tone::Plain => "",
            Tone::Good => " good",
            Tone::Warn => " warn-card",
            Tone::Bad => " bad",
        }
    }
}

/// `value` and `sub` are already HTML.
fn card(out: &mut String, label: &str, value: &str, sub: &str, tone: Tone) {
    w!(
        out,
        "<div class=\"stat{}\"><div class=\"label\">{label}</div>\
         <div class=\"value\">{value}</div><div class=\"sub\">{sub}</div></div>\n",
        tone.class()
    );
}

fn thresholds_table(out: &mut String, results: &[ThresholdResult]) {
    out.push_str("<section class=\"card\">\n<h2>Thresholds</h2>\n<table>\n<thead><tr>");
    out.push_str("<th>result</th><th>threshold</th><th>measured</th><th>required</th>");
    out.push_str("</tr></thead>\n<tbody>\n");
    for t in results {
        let (measured, required) = match t
            .message
            .strip_prefix("measured ")
            .and_then(|m| m.split_once(", required "))
        {
            Some((measured, required)) => (esc(measured), esc(required)),
            None => (esc(&t.message), "–".to_owned()),
        };
        let verdict = if t.passed {
            "<span class=\"pill good\">passed</span>"
        } else {
            "<span class=\"pill bad\">FAILED</span>"
        };
        w!(
            out,
            "<tr class=\"{}\"><td>{verdict}</td><td><code>{}</code></td><td class=\"num\">{measured}</td>\
             <td class=\"num\">{required}</td></tr>\n",
            if t.passed { "ok" } else { "failed" },
            esc(&t.threshold)
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

fn corrected_differs(raw: &Percentiles, corrected: &Percentiles) -> bool {
    corrected.p99_us as f64 > raw.p99_us as f64 * CORRECTED_MIN_RATIO
        && corrected.p99_us.saturating_sub(raw.p99_us) > CORRECTED_MIN_GAP_US
}

/// A per-step or per-route statistics table; `color` gives each row's swatch (the chart colour).
fn stats_table(
    out: &mut String,
    first: &str,
    rows: &[(&StatsReport, Option<&str>, Option<&str>)],
    show_flow: bool,
    show_statuses: bool,
) {
    let show_corrected = rows
        .iter()
        .any(|(s, _, _)| corrected_differs(&s.latency, &s.corrected));
    out.push_str("<div class=\"scroll\"><table>\n<thead><tr>");
    w!(out, "<th>{first}</th>");
    if show_flow {
        out.push_str("<th>flow</th>");
    }
    out.push_str(
        "<th class=\"num\">count</th><th class=\"num\">errors</th><th class=\"num\">req/s</th>\
         <th class=\"num\">p50</th><th class=\"num\">p90</th><th class=\"num\">p99</th>\
         <th class=\"num\">p99.9</th><th class=\"num\">max</th>",
    );
    if show_corrected {
        out.push_str(
            "<th class=\"num\" title=\"p99 from the intended start (coordinated omission \
             corrected)\">p99 corrected</th>",
        );
    }
    if show_statuses {
        out.push_str("<th>statuses</th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (s, color, flow) in rows {
        let swatch = color
            .map(|c| format!("<span class=\"swatch\" style=\"background:{c}\"></span>"))
            .unwrap_or_default();
        let row_class = if s.name == "whole iteration" {
            " class=\"total\""
        } else {
            ""
        };
        w!(out, "<tr{row_class}><td>{swatch}{}</td>", esc(&s.name));
        if show_flow {
            w!(out, "<td>{}</td>", esc(flow.unwrap_or("")));
        }
        let errors = if s.errors > 0 {
            let kinds: Vec<String> = s
                .failures
                .iter()
                .map(|(k, n)| format!("{} × {n}", esc(k)))
                .collect();
            format!(
                "<span class=\"badtext\" title=\"{}\">{} ({})</span>",
                kinds.join(", "),
                group(s.errors),
                format_percent(s.error_rate)
            )
        } else {
            "0".to_owned()
        };
        let l = &s.latency;
        w!(
            out,
            "<td class=\"num\">{}</td><td class=\"num\">{errors}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td>",
            group(s.count),
            format_rate(s.rps),
            lat(s.count, l.p50_us),
            lat(s.count, l.p90_us),
            lat(s.count, l.p99_us),
            lat(s.count, l.p99_9_us),
            lat(s.count, l.max_us),
        );
        if show_corrected {
            if corrected_differs(&s.latency, &s.corrected) {
                w!(
                    out,
                    "<td class=\"num warntext\">{}</td>",
                    format_us(s.corrected.p99_us)
                );
            } else {
                out.push_str("<td class=\"num muted\">same</td>");
            }
        }
        if show_statuses {
            let codes: Vec<String> = s
                .statuses
                .iter()
                .map(|(code, n)| {
                    format!(
                        "<span style=\"color:{}\">{}</span>&nbsp;×&nbsp;{}",
                        status_text_color(code),
                        esc(code),
                        group(*n)
                    )
                })
                .collect();
            w!(out, "<td>{}</td>", codes.join(", "));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n");
}

fn lat(count: u64, us: u64) -> String {
    if count == 0 {
        "–".to_owned()
    } else {
        format_us(us)
    }
}

fn steps_table(out: &mut String, report: &RunReport) {
    out.push_str("<section class=\"card\">\n<h2>Steps</h2>\n");
    let mut flows: Vec<&str> = report
        .steps
        .iter()
        .filter_map(|s| s.flow.as_deref())
        .collect();
    flows.dedup();
    let whole = StatsReport {
        name: "whole iteration".to_owned(),
        ..report.iteration.clone()
    };
    let mut rows: Vec<(&StatsReport, Option<&str>, Option<&str>)> = report
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s, Some(PALETTE[i % PALETTE.len()]), s.flow.as_deref()))
        .collect();
    rows.push((&whole, Some(ITERATION_COLOR), None));
    stats_table(out, "step", &rows, flows.len() > 1, false);
    out.push_str(
        "<p class=\"hint\">Latency is measured from the actual send. Errors: hover for the \
         failure kinds.</p>\n</section>\n",
    );
}

fn routes_table(out: &mut String, report: &RunReport) {
    if report.routes.is_empty() {
        return;
    }
    out.push_str("<section class=\"card\">\n<h2>Routes</h2>\n");
    let rows: Vec<(&StatsReport, Option<&str>, Option<&str>)> =
        report.routes.iter().map(|r| (r, None, None)).collect();
    stats_table(out, "route", &rows, false, true);
    out.push_str("</section>\n");
}

fn schema_section(out: &mut String, report: &RunReport) {
    let Some(schema) = report.extra.get("schema") else {
        return;
    };
    let total = schema
        .get("violations")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let mode = schema.get("mode").and_then(Value::as_str).unwrap_or("?");
    out.push_str("<section class=\"card\">\n<h2>Schema violations</h2>\n");
    let routes = schema.get("routes").and_then(Value::as_object);
    match routes.filter(|r| !r.is_empty()) {
        None => w!(
            out,
            "<p class=\"goodtext\">No response broke the OpenAPI schema \
             (checked: <code>{}</code>).</p>\n",
            esc(mode)
        ),
        Some(routes) => {
            w!(
                out,
                "<p>{} responses broke the OpenAPI schema (checked: <code>{}</code>). Samples:</p>\n",
                group(total),
                esc(mode)
            );
            out.push_str(
                "<div class=\"scroll\"><table>\n<thead><tr><th>route</th>\
                 <th class=\"num\">violations</th><th class=\"num\">status</th><th>path</th>\
                 <th>reason</th></tr></thead>\n<tbody>\n",
            );
            for (route, entry) in routes {
                let count = entry.get("count").and_then(Value::as_u64).unwrap_or(0);
                let samples: Vec<&Value> = entry
                    .get("samples")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().collect())
                    .unwrap_or_default();
                let span = samples.len().max(1);
                w!(
                    out,
                    "<tr><td rowspan=\"{span}\"><code>{}</code></td>\
                     <td class=\"num badtext\" rowspan=\"{span}\">{}</td>",
                    esc(route),
                    group(count)
                );
                if samples.is_empty() {
                    out.push_str("<td></td><td></td><td></td></tr>\n");
                }
                for (i, sample) in samples.iter().enumerate() {
                    if i > 0 {
                        out.push_str("<tr>");
                    }
                    let status = sample
                        .get("status")
                        .map(|s| s.to_string())
                        .unwrap_or_default();
                    let text =
                        |k: &str| esc(sample.get(k).and_then(Value::as_str).unwrap_or_default());
                    w!(
                        out,
                        "<td class=\"num\">{}</td><td><code>{}</code></td><td>{}</td></tr>\n",
                        esc(&status),
                        text("path"),
                        text("reason")
                    );
                }
            }
            out.push_str("</tbody>\n</table></div>\n");
        }
    }
    out.push_str("</section>\n");
}

fn cleanup_section(out: &mut String, report: &RunReport) {
    let Some(cleanup) = report.extra.get("cleanup") else {
        return;
    };
    out.push_str("<section class=\"card\">\n<h2>Clean-up</h2>\n");
    out.push_str(
        "<p class=\"hint\">Chats that iterations left open, closed after the load \
         (outside the metrics).</p>\n",
    );
    key_values(out, cleanup);
    out.push_str("</section>\n");
}

fn metadata_section(out: &mut String, report: &RunReport) {
    let meta = &report.meta;
    out.push_str("<section class=\"card\">\n<h2>Run metadata</h2>\n<dl class=\"kv\">\n");
    let mut row = |k: &str, v: String| w!(out, "<dt>{k}</dt><dd>{v}</dd>\n");
    row("scenario", esc(&meta.scenario));
    if let Some(file) = &meta.scenario_file {
        row("scenario file", format!("<code>{}</code>", esc(file)));
    }
    row(
        "target",
        format!("<code>{}</code>", esc(&base_url(&meta.target))),
    );
    row("target kind", esc(&meta.target_kind));
    row("started at", esc(&meta.started_at));
    row("ended at", esc(&meta.ended_at));
    row(
        "duration",
        format!(
            "{} ({:.3} s)",
            esc(&format_secs(meta.duration_secs)),
            meta.duration_secs
        ),
    );
    row("seed", meta.seed.to_string());
    row(
        "interrupted",
        if meta.interrupted { "yes" } else { "no" }.to_owned(),
    );
    row(
        "shard",
        meta.shard
            .as_deref()
            .map(esc)
            .unwrap_or_else(|| "–".to_owned()),
    );
    if !meta.merged_from.is_empty() {
        let items: Vec<String> = meta
            .merged_from
            .iter()
            .map(|m| format!("<li><code>{}</code></li>", esc(m)))
            .collect();
        row("merged from", format!("<ul>{}</ul>", items.join("")));
    }
    row("chatload version", esc(&meta.chatload_version));
    row("report schema", report.schema_version.to_string());
    row(
        "load profile",
        format!(
            "{}<pre>{}</pre>",
            esc(&describe_load(&meta.load)),
            esc(&serde_json::to_string_pretty(&meta.load).unwrap_or_default())
        ),
    );
    for (key, value) in &report.extra {
        if matches!(key.as_str(), "thresholds" | "schema" | "cleanup") {
            continue;
        }
        let shown = match value {
            Value::String(s) => esc(s),
            Value::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
            Value::Number(n) => n.to_string(),
            other => format!(
                "<pre>{}</pre>",
                esc(&serde_json::to_string_pretty(other).unwrap_or_default())
            ),
        };
        row(&esc(&key.replace('_', " ")), shown);
    }
    out.push_str("</dl>\n</section>\n");
}

fn key_values(out: &mut String, value: &Value) {
    match value.as_object() {
        Some(map) => {
            out.push_str("<dl class=\"kv\">\n");
            for (k, v) in map {
                let shown = match v {
                    Value::String(s) => esc(s),
                    other => esc(&other.to_string()),
                };
                w!(
                    out,
                    "<dt>{}</dt><dd>{shown}</dd>\n",
                    esc(&k.replace('_', " "))
                );
            }
            out.push_str("</dl>\n");
        }
        None => w!(
            out,
            "<pre>{}</pre>\n",
            esc(&serde_json::to_string_pretty(value).unwrap_or_default())
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Charts

/// Plot geometry in SVG user units; the SVG scales to its container through `viewBox`.
#[derive(Clone, Copy)]
struct Frame {
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Frame {
    fn x(&self, frac: f64) -> f64 {
        self.left + frac * (self.width - self.left - self.right)
    }

    fn y(&self, frac: f64) -> f64 {
        self.height - self.bottom - frac * (self.height - self.top - self.bottom)
    }

    fn open(&self, out: &mut String, label: &str) {
        w!(
            out,
            "<div class=\"chartbox\"><svg class=\"chart\" viewBox=\"0 0 {} {}\" role=\"img\" \
             aria-label=\"{}\">\n",
            self.width,
            self.height,
            esc(label)
        );
    }

    /// Vertical gridlines and labels at `(fraction, label)`, the x axis line and its title.
    fn x_axis(&self, out: &mut String, ticks: &[(f64, String)], title: &str) {
        for (frac, label) in ticks {
            let x = self.x(*frac);
            w!(
                out,
                "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
                 <text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
                self.y(0.0),
                self.y(1.0),
                self.y(0.0) + 16.0,
                esc(label)
            );
        }
        w!(
            out,
            "<line class=\"axis\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>\n\
             <text class=\"title\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            self.x(0.0),
            self.y(0.0),
            self.x(1.0),
            self.y(0.0),
            self.x(0.5),
            self.height - 6.0,
            esc(title)
        );
    }

    /// Horizontal gridlines and labels, the y axis line and its (rotated) title.
    fn y_axis(&self, out: &mut String, axis: &ValueAxis, title: &str) {
        for &value in &axis.ticks {
            let y = self.y(axis.frac(value));
            w!(
                out,
                "<line class=\"grid\" x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
                 <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
                self.x(0.0),
                self.x(1.0),
                self.x(0.0) - 6.0,
                y + 4.0,
                tick_label(value)
            );
        }
        let mid = self.y(0.5);
        w!(
            out,
            "<line class=\"axis\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>\n\
             <text class=\"title\" transform=\"translate(14 {mid:.1}) rotate(-90)\" \
             text-anchor=\"middle\">{}</text>\n",
            self.x(0.0),
            self.y(0.0),
            self.x(0.0),
            self.y(1.0),
            esc(title)
        );
    }
}

/// A value axis, linear from zero or logarithmic, with its tick values.
struct ValueAxis {
    lo: f64,
    hi: f64,
    log: bool,
    ticks: Vec<f64>,
}

impl ValueAxis {
    /// Linear from 0 to a round number at or above `max`, about 5 ticks.
    fn linear(max: f64) -> ValueAxis {
        let max = if max > 0.0 && max.is_finite() {
            max
        } else {
            1.0
        };
        let step = nice_step(max / 5.0);
        let hi = (max / step - 1e-9).ceil().max(1.0) * step;
        let ticks = (0..)
            .map(|i| f64::from(i) * step)
            .take_while(|v| *v <= hi * (1.0 + 1e-9))
            .collect();
        ValueAxis {
            lo: 0.0,
            hi,
            log: false,
            ticks,
        }
    }

    /// Log scale between 1-2-5 round numbers around `[min, max]`; linear when the spread is
    /// small (a log axis would exaggerate it).
    fn auto(min: f64, max: f64) -> ValueAxis {
        if min.is_nan() || min <= 0.0 || max / min < 20.0 {
            return ValueAxis::linear(max);
        }
        let lo = round_125(min, false);
        let hi = round_125(max, true);
        let decades = (hi / lo).log10();
        let mantissas: &[f64] = if decades > 4.0 {
            &[1.0]
        } else {
            &[1.0, 2.0, 5.0]
        };
        let mut ticks = Vec::new();
        let mut exp = lo.log10().floor() as i32;
        while 10f64.powi(exp) <= hi * (1.0 + 1e-9) {
            for m in mantissas {
                let v = m * 10f64.powi(exp);
                if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                    ticks.push(v);
                }
            }
            exp += 1;
        }
        ValueAxis {
            lo,
            hi,
            log: true,
            ticks,
        }
    }

    fn frac(&self, value: f64) -> f64 {
        let f = if self.log {
            (value.max(self.lo).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (value - self.lo) / (self.hi - self.lo)
        };
        f.clamp(0.0, 1.0)
    }
}

/// 1, 2 or 5 times a power of ten, at or above `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw.is_nan() || raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let m = if norm <= 1.0 + 1e-9 {
        1.0
    } else if norm <= 2.0 + 1e-9 {
        2.0
    } else if norm <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// The 1-2-5 round number just below (`up == false`) or above `value`.
fn round_125(value: f64, up: bool) -> f64 {
    let mag = 10f64.powf(value.log10().floor());
    let candidates = [1.0, 2.0, 5.0, 10.0].map(|m| m * mag);
    if up {
        candidates
            .into_iter()
            .find(|c| *c >= value * (1.0 - 1e-9))
            .unwrap_or(10.0 * mag)
    } else {
        candidates
            .into_iter()
            .rev()
            .find(|c| *c <= value * (1.0 + 1e-9))
            .unwrap_or(mag)
    }
}

/// Shortest exact-looking label: "0", "0.2", "1.5", "20", "1000".
fn tick_label(value: f64) -> String {
    if value == 0.0 {
        return "0".to_owned();
    }
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_owned()
}

/// Latency axis unit: milliseconds, or seconds once values reach 10 s.
fn latency_unit(max_us: f64) -> (f64, &'static str) {
    if max_us >= 10_000_000.0 {
        (1_000_000.0, "s")
    } else {
        (1_000.0, "ms")
    }
}

fn path_of(points: impl IntoIterator<Item = (f64, f64)>) -> String {
    let mut d = String::new();
    for (i, (x, y)) in points.into_iter().enumerate() {
        w!(d, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { " L" });
    }
    d
}

fn no_data(out: &mut String, text: &str) {
    w!(out, "<p class=\"nodata\">{text}</p>\n");
}

fn percentile_chart(out: &mut String, series: &[Series], decades: u32) {
    let drawn: Vec<&Series> = series.iter().filter(|s| !s.points.is_empty()).collect();
    if drawn.is_empty() {
        no_data(out, "No latency was recorded.");
        return;
    }
    let values = drawn
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.2 as f64));
    let min_us = values.clone().fold(f64::INFINITY, f64::min).max(1.0);
    let max_us = values.fold(0.0, f64::max).max(1.0);
    let (div, unit) = latency_unit(max_us);
    let axis = ValueAxis::auto(min_us / div, max_us / div);
    let frame = Frame {
        width: 1000.0,
        height: 440.0,
        left: 70.0,
        right: 24.0,
        top: 14.0,
        bottom: 52.0,
    };
    let d = f64::from(decades);
    frame.open(out, "Latency percentile distribution per step");
    let ticks: Vec<(f64, String)> = NINES
        .iter()
        .filter(|(x, _)| *x <= d + 1e-9)
        .map(|(x, label)| (x / d, (*label).to_owned()))
        .collect();
    frame.x_axis(out, &ticks, "percentile (log scale of 1/(1 − percentile))");
    let scale = if axis.log { ", log scale" } else { "" };
    frame.y_axis(out, &axis, &format!("latency ({unit}{scale})"));

    // The whole iteration first, underneath the steps.
    let mut order: Vec<&&Series> = drawn.iter().filter(|s| s.kind == "iteration").collect();
    order.extend(drawn.iter().filter(|s| s.kind != "iteration"));
    for s in order {
        let xy = |x_log: f64, us: u64| {
            (
                frame.x((x_log / d).min(1.0)),
                frame.y(axis.frac(us as f64 / div)),
            )
        };
        let d_attr = path_of(s.points.iter().map(|p| xy(p.1, p.2)));
        let dash = if s.dashed {
            " stroke-dasharray=\"7 4\""
        } else {
            ""
        };
        let width = if s.kind == "iteration" { 2.5 } else { 2.0 };
        w!(
            out,
            "<g class=\"series\"><path d=\"{d_attr}\" fill=\"none\" stroke=\"{}\" \
             stroke-width=\"{width}\" stroke-linejoin=\"round\"{dash}/>\
             <path class=\"hit\" d=\"{d_attr}\"><title>{}</title></path>\n",
            s.color,
            esc(&s.name)
        );
        for (label, x_log, us) in &s.marks {
            if *x_log > d + 1e-9 {
                continue;
            }
            let (x, y) = xy(*x_log, *us);
            w!(
                out,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.2\" fill=\"{}\"><title>{}: {label} {}\
                 </title></circle>\n",
                s.color,
                esc(&s.name),
                format_us(*us)
            );
        }
        out.push_str("</g>\n");
    }
    out.push_str("</svg></div>\n<ul class=\"legend\">\n");
    for s in series {
        let swatch = if s.dashed {
            format!(
                "<span class=\"swatch dashed\" style=\"border-color:{}\"></span>",
                s.color
            )
        } else {
            format!(
                "<span class=\"swatch\" style=\"background:{}\"></span>",
                s.color
            )
        };
        let detail = if s.count == 0 {
            "no samples".to_owned()
        } else {
            format!(
                "p50 {} · p99 {} · n={}",
                format_us(s.latency.p50_us),
                format_us(s.latency.p99_us),
                group(s.count)
            )
        };
        w!(
            out,
            "<li>{swatch}<b>{}</b> <span class=\"muted\">{detail}</span></li>\n",
            esc(&s.name)
        );
    }
    out.push_str("</ul>\n");
}

/// Ticks of a time axis in seconds: round steps (1, 2, 5, 10, 15, 30 s, minutes, hours).
fn time_ticks(last: f64) -> (Vec<(f64, String)>, &'static str) {
    const STEPS: [u64; 18] = [
        1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
    ];
    let last = last.max(1.0);
    let step = STEPS
        .into_iter()
        .find(|s| last / *s as f64 <= 8.0)
        .unwrap_or(86400);
    let minutes = last >= 180.0;
    let ticks = (0..)
        .map(|i| i * step)
        .take_while(|t| *t as f64 <= last + 1e-9)
        .map(|t| {
            let label = if minutes {
                format!("{}:{:02}", t / 60, t % 60)
            } else {
                t.to_string()
            };
            (t as f64 / last, label)
        })
        .collect();
    (
        ticks,
        if minutes {
            "time since start (min:s)"
        } else {
            "time since start (s)"
        },
    )
}

fn timeline_frame() -> Frame {
    Frame {
        width: 620.0,
        height: 330.0,
        left: 62.0,
        right: 16.0,
        top: 12.0,
        bottom: 50.0,
    }
}

fn latency_timeline_chart(out: &mut String, report: &RunReport) {
    let timeline = &report.timeline;
    if timeline.iter().all(|t| t.requests == 0) {
        no_data(out, "No request finished during the run.");
        return;
    }
    let last = timeline.iter().map(|t| t.second).max().unwrap_or(1) as f64;
    let max_us = timeline.iter().map(|t| t.p99_us).max().unwrap_or(1).max(1) as f64;
    let (div, unit) = latency_unit(max_us);
    let axis = ValueAxis::linear(max_us / div);
    let frame = timeline_frame();
    frame.open(out, "p50 and p99 latency over time");
    let (ticks, title) = time_ticks(last);
    frame.x_axis(out, &ticks, title);
    frame.y_axis(out, &axis, &format!("latency ({unit})"));
    let x_of = |second: u64| frame.x(((second as f64 - 0.5) / last).clamp(0.0, 1.0));
    for (color, pick) in [
        (BLUE, (|t| t.p50_us) as fn(&super::TimelineReport) -> u64),
        (ORANGE, |t| t.p99_us),
    ] {
        // Break the line over seconds without requests rather than drawing a false zero.
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for t in timeline {
            if t.requests == 0 {
                if runs.last().is_some_and(|r| !r.is_empty()) {
                    runs.push(Vec::new());
                }
                continue;
            }
            let y = frame.y(axis.frac(pick(t) as f64 / div));
            if let Some(run) = runs.last_mut() {
                run.push((x_of(t.second), y));
            }
        }
        for run in runs.iter().filter(|r| !r.is_empty()) {
            w!(
                out,
                "<path d=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" \
                 stroke-linejoin=\"round\"/>\n",
                path_of(run.iter().copied())
            );
            if timeline.len() <= 120 {
                for (x, y) in run {
                    w!(
                        out,
                        "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.5\" fill=\"{color}\"/>\n"
                    );
                }
            }
        }
    }
    hover_bands(out, &frame, last, report, |t| {
        format!(
            "second {}: p50 {}, p90 {}, p99 {}, max {} ({} requests)",
            t.second,
            format_us(t.p50_us),
            format_us(t.p90_us),
            format_us(t.p99_us),
            format_us(t.max_us),
            t.requests
        )
    });
    out.push_str("</svg></div>\n");
    legend(out, &[(BLUE, "p50 (median)"), (ORANGE, "p99")]);
}

fn throughput_chart(out: &mut String, report: &RunReport) {
    let timeline = &report.timeline;
    if timeline.is_empty() {
        no_data(out, "The run recorded no timeline.");
        return;
    }
    let last = timeline.iter().map(|t| t.second).max().unwrap_or(1) as f64;
    let max = timeline.iter().map(|t| t.requests).max().unwrap_or(0) as f64;
    let axis = ValueAxis::linear(max);
    let frame = timeline_frame();
    frame.open(out, "Requests and errors per second");
    let (ticks, title) = time_ticks(last);
    frame.x_axis(out, &ticks, title);
    frame.y_axis(out, &axis, "per second");
    // Each second is a step of the staircase from second-1 to second: bars without gaps.
    let stairs = |pick: fn(&super::TimelineReport) -> u64| {
        let base = frame.y(0.0);
        let mut points = vec![(frame.x(0.0), base)];
        for t in timeline {
            let x0 = frame.x(((t.second.saturating_sub(1)) as f64 / last).clamp(0.0, 1.0));
            let x1 = frame.x((t.second as f64 / last).clamp(0.0, 1.0));
            let y = frame.y(axis.frac(pick(t) as f64));
            points.push((x0, y));
            points.push((x1, y));
        }
        points.push((frame.x(1.0), base));
        let mut d = path_of(points);
        d.push_str(" Z");
        d
    };
    w!(
        out,
        "<path d=\"{}\" fill=\"{BLUE}\" fill-opacity=\"0.35\" stroke=\"{BLUE}\" \
         stroke-width=\"1.5\"/>\n",
        stairs(|t| t.requests)
    );
    if timeline.iter().any(|t| t.errors > 0) {
        w!(
            out,
            "<path d=\"{}\" fill=\"{RED}\" fill-opacity=\"0.75\" stroke=\"{RED}\" \
             stroke-width=\"1.5\"/>\n",
            stairs(|t| t.errors)
        );
    }
    hover_bands(out, &frame, last, report, |t| {
        format!(
            "second {}: {} requests, {} errors",
            t.second, t.requests, t.errors
        )
    });
    out.push_str("</svg></div>\n");
    let total_errors: u64 = timeline.iter().map(|t| t.errors).sum();
    let errors_label = if total_errors == 0 {
        "errors / s (none)".to_owned()
    } else {
        "errors / s".to_owned()
    };
    legend(out, &[(BLUE, "requests / s"), (RED, &errors_label)]);
}

/// Transparent per-second columns whose `<title>` shows that second's figures on hover.
fn hover_bands(
    out: &mut String,
    frame: &Frame,
    last: f64,
    report: &RunReport,
    text: impl Fn(&super::TimelineReport) -> String,
) {
    if report.timeline.len() > MAX_HOVER_SECONDS {
        return;
    }
    for t in &report.timeline {
        let x0 = frame.x((t.second.saturating_sub(1) as f64 / last).clamp(0.0, 1.0));
        let x1 = frame.x((t.second as f64 / last).clamp(0.0, 1.0));
        w!(
            out,
            "<rect class=\"hover\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\">\
             <title>{}</title></rect>\n",
            frame.y(1.0),
            (x1 - x0).max(0.5),
            frame.y(0.0) - frame.y(1.0),
            esc(&text(t))
        );
    }
}

fn legend(out: &mut String, items: &[(&str, &str)]) {
    out.push_str("<ul class=\"legend\">\n");
    for (color, label) in items {
        w!(
            out,
            "<li><span class=\"swatch\" style=\"background:{color}\"></span>{}</li>\n",
            esc(label)
        );
    }
    out.push_str("</ul>\n");
}

/// Horizontal bars with the label on the left and count and share on the right.
fn bar_chart(out: &mut String, bars: &[(String, u64, &str)], what: &str, empty: &str) {
    let total: u64 = bars.iter().map(|b| b.1).sum();
    if bars.is_empty() || total == 0 {
        w!(out, "<p class=\"nodata goodtext\">{}</p>\n", esc(empty));
        return;
    }
    let max = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
    let row = 30.0;
    let label_w = bars
        .iter()
        .map(|b| b.0.chars().count())
        .max()
        .unwrap_or(3)
        .clamp(3, 28) as f64
        * 7.5
        + 16.0;
    let frame = Frame {
        width: 620.0,
        height: row * bars.len() as f64 + 24.0,
        left: label_w,
        right: 130.0,
        top: 12.0,
        bottom: 12.0,
    };
    frame.open(out, &format!("{what} by category"));
    for (i, (label, n, color)) in bars.iter().enumerate() {
        let y = frame.top + i as f64 * row;
        let width = (frame.x(*n as f64 / max) - frame.x(0.0)).max(2.0);
        let share = *n as f64 / total as f64;
        w!(
            out,
            "<g><text class=\"cat\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"{:.1}\" rx=\"3\" \
             fill=\"{color}\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\">{} ({})</text>\
             <title>{}: {} {what} ({})</title></g>\n",
            frame.x(0.0) - 8.0,
            y + row / 2.0 + 4.0,
            esc(label),
            frame.x(0.0),
            y + 5.0,
            row - 10.0,
            frame.x(0.0) + width + 6.0,
            y + row / 2.0 + 4.0,
            group(*n),
            format_percent(share),
            esc(label),
            group(*n),
            format_percent(share)
        );
    }
    out.push_str("</svg></div>\n");
}

fn status_color(code: &str) -> &'static str {
    match code.chars().next() {
        Some('2') => GREEN,
        Some('3') => TEAL,
        Some('4') => ORANGE,
        Some('5') => RED,
        _ => GREY,
    }
}

fn status_text_color(code: &str) -> &'static str {
    match code.chars().next() {
        Some('2') | Some('3') => "inherit",
        Some('4') => "#b35c00",
        _ => "#c0392b",
    }
}

// ---------------------------------------------------------------------------------------------
// Text

/// Escapes text for HTML element content and quoted attribute values.
fn esc(text: &str) -> String {
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

/// The target without credentials, query or fragment (`https://host:port/path`).
fn base_url(target: &str) -> String {
    let (scheme, rest) = match target.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), target),
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = authority.rsplit('@').next().unwrap_or(authority);
    format!("{scheme}{host}{path}")
}

/// `2026-11-24T18:40:07.412Z` as `2026-11-24 18:40:07.412 UTC`; other text unchanged.
fn pretty_time(rfc3339: &str) -> String {
    match rfc3339.strip_suffix('Z') {
        Some(t) if t.contains('T') => format!("{} UTC", t.replacen('T', " ", 1)),
        _ => rfc3339.to_owned(),
    }
}

/// "8.63 s", "2 min 05 s", "1 h 02 min".
fn format_secs(secs: f64) -> String {
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

fn format_rate(rate: f64) -> String {
    if rate >= 100.0 {
        group(rate.round() as u64)
    } else if rate >= 10.0 {
        format!("{rate:.1}")
    } else {
        format!("{rate:.2}")
    }
}

fn format_percent(fraction: f64) -> String {
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

/// Thousands separated by commas: 1,276.
fn group(n: u64) -> String {
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

/// One line describing `meta.load` ("closed model · 10 VUs · 8 s · graceful stop 5 s"); keys it
/// does not know are shown as `key=value`.
fn describe_load(load: &Value) -> String {
    let Some(map) = load.as_object() else {
        return load.to_string();
    };
    let num = |k: &str| map.get(k).and_then(Value::as_f64);
    let trim = |v: f64| tick_label(v);
    let mut parts = Vec::new();
    let model = map.get("model").and_then(Value::as_str);
    if let Some(model) = model {
        parts.push(format!("{model} model"));
    }
    if let Some(v) = num("vus") {
        parts.push(format!("{} VUs", trim(v)));
    }
    if let Some(v) = num("arrival_rate") {
        parts.push(format!("{} arrivals/s", trim(v)));
    }
    if let Some(v) = num("max_vus") {
        parts.push(format!("max {} VUs", trim(v)));
    }
    if let Some(v) = num("iterations") {
        parts.push(format!("{} iterations", trim(v)));
    }
    if let Some(v) = num("duration_secs") {
        parts.push(format!("for {}", format_secs(v)));
    }
    if let Some(stages) = map.get("stages").and_then(Value::as_array)
        && !stages.is_empty()
    {
        let target_unit = if model == Some("open") { "/s" } else { " VUs" };
        let list: Vec<String> = stages
            .iter()
            .map(|s| {
                let d = s
                    .get("duration_secs")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0);
                let t = s.get("target").and_then(Value::as_f64).unwrap_or(0.0);
                format!("{} → {}{target_unit}", format_secs(d), trim(t))
            })
            .collect();
        parts.push(format!("stages: {}", list.join(", ")));
    }
    if let Some(v) = num("backlog") {
        parts.push(format!("backlog {}", trim(v)));
    }
    if let Some(v) = num("graceful_stop_secs") {
        parts.push(format!("graceful stop {}", format_secs(v)));
    }
    const KNOWN: [&str; 10] = [
        "model",
        "vus",
        "arrival_rate",
        "max_vus",
        "iterations",
        "duration_secs",
        "stages",
        "backlog",
        "graceful_stop_secs",
        "shard",
    ];
    for (k, v) in map {
        if KNOWN.contains(&k.as_str()) || v.is_null() {
            continue;
        }
        let shown = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        parts.push(format!("{k}={shown}"));
    }
    if let Some(shard) = map.get("shard").and_then(Value::as_str) {
        parts.push(format!("shard {shard}"));
    }
    if parts.is_empty() {
        "–".to_owned()
    } else {
        parts.join(" · ")
    }
}

const CSS: &str = r#"
:root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--card:#fff;--good:#1a7f37;--bad:#c0392b;--warn:#9a6700}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","Noto Sans","Liberation Sans",Arial,sans-serif}
main{max-width:1320px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:24px;margin:0}
h2{font-size:16px;margin:0 0 10px}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono","DejaVu Sans Mono",monospace;font-size:12.5px}
pre{margin:4px 0 0;white-space:pre-wrap;word-break:break-word;background:var(--bg);padding:6px 8px;border-radius:4px}
header .title{display:flex;flex-wrap:wrap;align-items:center;gap:10px}
.muted{color:var(--muted);font-weight:normal}
.badge{display:inline-block;padding:3px 9px;border-radius:12px;font-size:12px;font-weight:700;letter-spacing:.03em;background:#ddf4ff;color:#0969da}
.badge.bad{background:#ffebe9;color:var(--bad);border:1px solid var(--bad)}
.badge.good{background:#dafbe1;color:var(--good)}
dl.meta{display:flex;flex-wrap:wrap;gap:4px 22px;margin:10px 0 0}
dl.meta div{display:flex;gap:6px}
dl.meta dt{color:var(--muted)}
dl.meta dd{margin:0;font-weight:600}
.warn{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:8px 12px;margin:12px 0 0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(138px,1fr));gap:12px;margin:18px 0}
.stat{background:var(--card);border:1px solid var(--line);border-top:4px solid var(--line);border-radius:6px;padding:10px 12px}
.stat.good{border-top-color:var(--good)}
.stat.bad{border-top-color:var(--bad)}
.stat.bad .value{color:var(--bad)}
.stat.warn-card{border-top-color:#d4a72c}
.stat .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.05em}
.stat .value{font-size:24px;font-weight:700;font-variant-numeric:tabular-nums;white-space:nowrap}
.stat .sub{color:var(--muted);font-size:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:14px 16px;margin:0 0 16px;min-width:0}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(460px,100%),1fr));gap:16px}
.hint{color:var(--muted);font-size:12.5px;margin:0 0 8px}
.card .hint:last-child{margin:8px 0 0}
.chartbox{overflow-x:auto}
svg.chart{display:block;width:100%;min-width:540px;height:auto}
svg.chart text{font-family:inherit;fill:#444}
svg.chart .tick{font-size:12px}
svg.chart .cat{font-size:13px;font-weight:600;fill:#1f2328}
svg.chart .title{font-size:13px;fill:#1f2328}
svg.chart .grid{stroke:#e5e8eb;stroke-width:1}
svg.chart .axis{stroke:#8c959f;stroke-width:1}
svg.chart .hit{fill:none;stroke:transparent;stroke-width:10}
svg.chart .hover{fill:transparent}
svg.chart .hover:hover{fill:rgba(0,0,0,.06)}
svg.chart .series:hover path:first-child{stroke-width:3.5}
.legend{list-style:none;display:flex;flex-wrap:wrap;gap:6px 18px;padding:0;margin:10px 0 0;font-size:13px}
.legend li{display:flex;align-items:center;gap:6px}
.swatch{display:inline-block;width:14px;height:10px;border-radius:2px;margin-right:6px;vertical-align:middle;flex:none}
.legend .swatch{margin-right:0}
.swatch.dashed{height:0;border-top:3px dashed;border-radius:0}
.nodata{color:var(--muted);padding:30px 0;text-align:center}
.goodtext{color:var(--good)}
.badtext{color:var(--bad);font-weight:600}
.warntext{color:var(--warn);font-weight:600}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em;white-space:nowrap}
td.num,th.num{text-align:right;white-space:nowrap}
tr.total td{font-weight:700;border-top:2px solid var(--line)}
tr.failed td{background:#fff5f4}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:700}
.pill.good{background:#dafbe1;color:var(--good)}
.pill.bad{background:var(--bad);color:#fff}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:0}
dl.kv dt{color:var(--muted)}
dl.kv dd{margin:0}
dl.kv ul{margin:0;padding-left:18px}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:24px}
@media print{body{background:#fff}.card,.stat{break-inside:avoid}}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::new_latency_histogram;
    use crate::report::build::sample_report;
    use crate::report::encode_histogram;

    const NASTY: &str = "<img src=x onerror=\"alert(1)\">&'step'</script>";

    fn html_of(report: &RunReport) -> String {
        String::from_utf8(render(report).expect("renders")).expect("UTF-8")
    }

    /// The sample report with the sections later features add, and a step name full of HTML.
    fn full_report() -> RunReport {
        let mut report = sample_report();
        report.steps[2].name = NASTY.to_owned();
        report.extra.insert(
            "thresholds".to_owned(),
            json!([
                {"threshold": "step:create_user p99 < 5s", "passed": true,
                 "actual": 2800.0, "message": "measured 2.80 ms, required < 5.00 s"},
                {"threshold": "run:error_rate < 0.1%", "passed": false,
                 "actual": 0.0062, "message": "measured 0.620%, required < 0.100%"},
            ]),
        );
        report.extra.insert(
            "schema".to_owned(),
            json!({"mode": "all", "violations": 3, "routes": {
                "POST /chats": {"count": 3, "samples": [
                    {"status": 201, "path": "/chatId", "reason": "\"chatId\" is a required property"},
                ]},
            }}),
        );
        report.extra.insert(
            "cleanup".to_owned(),
            json!({"attempted": 4, "closed": 3, "failed": 1}),
        );
        report
    }

    /// Content of the `<script type="application/json" id="chatload-data">` element.
    fn data_of(html: &str) -> Value {
        let open = "<script type=\"application/json\" id=\"chatload-data\">";
        let start = html.find(open).expect("data script") + open.len();
        let end = start + html[start..].find("</script>").expect("closed");
        serde_json::from_str(&html[start..end]).expect("data is JSON")
    }

    /// A strict-enough HTML check for what this renderer writes: every non-void element is
    /// closed in order, `<script>` and `<style>` contents are skipped.
    fn assert_balanced(html: &str) {
        const VOID: [&str; 6] = ["meta", "br", "hr", "img", "input", "link"];
        let mut stack: Vec<String> = Vec::new();
        let mut rest = html;
        while let Some(at) = rest.find('<') {
            rest = &rest[at..];
            let end = rest.find('>').expect("tag closed by >");
            let tag = &rest[1..end];
            rest = &rest[end + 1..];
            if tag.starts_with('!') {
                continue;
            }
            if let Some(name) = tag.strip_prefix('/') {
                let open = stack
                    .pop()
                    .unwrap_or_else(|| panic!("</{name}> closes nothing"));
                assert_eq!(open, name.trim(), "</{name}> closes <{open}>");
                continue;
            }
            let name = tag
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .expect("name")
                .to_ascii_lowercase();
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric()) && !name.is_empty(),
                "bad tag <{tag}>"
            );
            if name == "script" || name == "style" {
                let close = format!("</{name}>");
                let skip = rest.find(&close).expect("raw text element closed");
                rest = &rest[skip + close.len()..];
                continue;
            }
            if tag.ends_with('/') || VOID.contains(&name.as_str()) {
                continue;
            }
            stack.push(name);
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
    }

    #[test]
    fn page_is_one_well_formed_html_document() {
        let html = html_of(&full_report());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert_eq!(html.matches("<html").count(), 1);
        assert_eq!(html.matches("</html>").count(), 1);
        assert_eq!(html.matches("<body").count(), 1);
        let svgs = html.matches("<svg").count();
        assert_eq!(svgs, html.matches("</svg>").count());
        assert!(
            svgs >= 5,
            "percentile, 2 timelines, status codes, errors: {svgs}"
        );
        assert_balanced(&html);
    }

    #[test]
    fn page_loads_nothing_from_anywhere() {
        let report = full_report();
        let html = html_of(&report);
        for needle in [
            "src=\"",
            "src='",
            "href=\"",
            "href='",
            "url(",
            "@import",
            "<link",
            "<img",
            "<iframe",
            "<object",
            "<embed",
            "<base",
            "@font-face",
        ] {
            assert!(!html.contains(needle), "found {needle:?}");
        }
        // The only script is inert data.
        assert_eq!(html.matches("<script").count(), 1);
        assert!(html.contains("<script type=\"application/json\""));
        // The only URL on the page is the target, shown as text.
        let without_target = html.replace(&esc(&report.meta.target), "");
        assert!(!without_target.contains("http://"));
        assert!(!without_target.contains("https://"));
    }

    #[test]
    fn every_step_is_plotted_in_the_embedded_data_and_listed_in_the_tables() {
        let report = full_report();
        let html = html_of(&report);
        let data = data_of(&html);
        let series = data["percentile_distribution"]["series"]
            .as_array()
            .expect("series");
        let names: Vec<&str> = series.iter().filter_map(|s| s["name"].as_str()).collect();
        let mut expected: Vec<&str> = report.steps.iter().map(|s| s.name.as_str()).collect();
        expected.push("whole iteration");
        assert_eq!(names, expected);
        for (step, plotted) in report.steps.iter().zip(series) {
            let histogram = decode_histogram(&step.histogram).expect("decodes");
            let points = plotted["points"].as_array().expect("points");
            assert!(points.len() > 20, "{}: {} points", step.name, points.len());
            assert_eq!(points[0]["percentile"], 0.0);
            assert_eq!(points[0]["latency_us"], histogram.value_at_quantile(0.0));
            let last = points.last().expect("a point");
            assert_eq!(last["latency_us"], histogram.max());
            assert_eq!(last["x"].as_f64(), Some(step.count as f64));
            let values: Vec<u64> = points
                .iter()
                .filter_map(|p| p["latency_us"].as_u64())
                .collect();
            assert!(values.windows(2).all(|w| w[0] <= w[1]), "{}", step.name);
            let p90 = points
                .iter()
                .find(|p| p["percentile"] == 90.0)
                .expect("a 90% point");
            assert_eq!(p90["latency_us"], histogram.value_at_quantile(0.9));
            assert_eq!(p90["x"], 10.0);
            // Listed in the steps table, escaped.
            assert!(html.contains(&format!("</span>{}</td>", esc(&step.name))));
        }
        for route in &report.routes {
            assert!(html.contains(&format!("<td>{}</td>", esc(&route.name))));
        }
        assert_eq!(
            data["timeline"].as_array().map(Vec::len),
            Some(report.timeline.len())
        );
        assert_eq!(data["percentile_distribution"]["x_max_percentile"], 99.9);
        assert_eq!(data["status_codes"]["503"], 5);
    }

    #[test]
    fn failing_threshold_is_shown_failed() {
        let html = html_of(&full_report());
        let row = html
            .split("<tr")
            .find(|row| row.contains("run:error_rate &lt; 0.1%"))
            .expect("threshold row");
        assert!(row.starts_with(" class=\"failed\""), "{row}");
        assert!(row.contains("FAILED"), "{row}");
        assert!(
            row.contains("0.620%") && row.contains("&lt; 0.100%"),
            "{row}"
        );
        let passed = html
            .split("<tr")
            .find(|row| row.contains("step:create_user p99"))
            .expect("threshold row");
        assert!(passed.contains(">passed<"), "{passed}");
        assert!(html.contains("1 THRESHOLD FAILED"));
        assert!(html.contains("<div class=\"value\">1 / 2</div>"));
    }

    #[test]
    fn report_text_is_escaped_everywhere() {
        let html = html_of(&full_report());
        assert!(!html.contains(NASTY));
        assert!(!html.contains("<img"));
        assert!(html.contains("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;step&#39;"));
        // In the data block the name is JSON-escaped but round-trips exactly.
        let data = data_of(&html);
        assert_eq!(data["percentile_distribution"]["series"][2]["name"], NASTY);
        assert_eq!(html.matches("</script>").count(), 1);
        assert_balanced(&html);
    }

    #[test]
    fn schema_violations_cleanup_and_corrected_latency_are_shown() {
        let html = html_of(&full_report());
        assert!(html.contains("<code>POST /chats</code>"));
        assert!(html.contains("<code>/chatId</code>"));
        assert!(html.contains("&quot;chatId&quot; is a required property"));
        assert!(html.contains("<dt>closed</dt><dd>3</dd>"));
        // The sample report's open-model stalls make corrected p99 differ.
        assert!(html.contains("p99 corrected"));
        assert!(html.contains("class=\"num warntext\""));
    }

    #[test]
    fn interrupted_shard_and_merged_runs_are_flagged() {
        let mut report = sample_report();
        report.meta.interrupted = true;
        report.meta.shard = Some("2/3".to_owned());
        report.meta.merged_from = vec!["a.json".to_owned(), "b.json".to_owned()];
        report.meta.target = "https://user:secret@api.example.com/v1?key=abc".to_owned();
        let html = html_of(&report);
        assert!(html.contains(">INTERRUPTED</span>"));
        assert!(html.contains("shard 2/3"));
        assert!(html.contains("merged from 2 reports"));
        assert!(html.contains("https://api.example.com/v1"));
        assert!(!html.contains("secret") && !html.contains("key=abc"));
        assert!(!sample_report().meta.interrupted);
        assert!(!html_of(&sample_report()).contains(">INTERRUPTED<"));
    }

    #[test]
    fn a_run_without_samples_still_renders() {
        let mut report = sample_report();
        let empty = encode_histogram(&new_latency_histogram());
        for stats in report
            .steps
            .iter_mut()
            .chain(report.routes.iter_mut())
            .chain(std::iter::once(&mut report.iteration))
        {
            stats.count = 0;
            stats.errors = 0;
            stats.histogram = empty.clone();
            stats.corrected_histogram = empty.clone();
            stats.latency = Percentiles::default();
            stats.corrected = Percentiles::default();
        }
        report.timeline.clear();
        report.status_codes.clear();
        report.errors_by_kind.clear();
        let html = html_of(&report);
        assert_balanced(&html);
        assert!(html.contains("No latency was recorded."));
        let data = data_of(&html);
        assert_eq!(
            data["percentile_distribution"]["series"][0]["points"],
            json!([])
        );
    }

    #[test]
    fn a_corrupt_histogram_is_an_error() {
        let mut report = sample_report();
        report.steps[0].histogram = "***".to_owned();
        assert!(matches!(
            render(&report),
            Err(ReportError::HistogramBase64 { .. })
        ));
    }

    #[test]
    fn axes_use_round_numbers() {
        let log = ValueAxis::auto(0.41, 950.0);
        assert!(log.log);
        assert_eq!((log.lo, log.hi), (0.2, 1000.0));
        assert_eq!(log.ticks.first(), Some(&0.2));
        assert_eq!(log.ticks.last(), Some(&1000.0));
        let linear = ValueAxis::auto(1.0, 11.3);
        assert!(!linear.log);
        assert_eq!(linear.hi, 15.0);
        assert_eq!(linear.ticks, vec![0.0, 5.0, 10.0, 15.0]);
        assert_eq!(tick_label(0.2), "0.2");
        assert_eq!(tick_label(1000.0), "1000");
        let (ticks, title) = time_ticks(600.0);
        assert_eq!(title, "time since start (min:s)");
        assert_eq!(ticks[1].1, "2:00");
    }

    #[test]
    fn text_helpers() {
        assert_eq!(group(1_276), "1,276");
        assert_eq!(group(999), "999");
        assert_eq!(group(1_000_000), "1,000,000");
        assert_eq!(format_secs(8.629), "8.63 s");
        assert_eq!(format_secs(125.0), "2 min 05 s");
        assert_eq!(
            pretty_time("2026-11-24T18:40:07.412Z"),
            "2026-11-24 18:40:07.412 UTC"
        );
        assert_eq!(
            base_url("http://127.0.0.1:45461/v1"),
            "http://127.0.0.1:45461/v1"
        );
        assert_eq!(
            describe_load(&json!({"model": "closed", "vus": 10, "duration_secs": 8.0,
                "iterations": null, "stages": [], "graceful_stop_secs": 5.0})),
            "closed model · 10 VUs · for 8 s · graceful stop 5 s"
        );
        assert_eq!(
            describe_load(&json!({"model": "open", "arrival_rate": 50, "max_vus": 100,
                "stages": [{"duration_secs": 30.0, "target": 100}]})),
            "open model · 50 arrivals/s · max 100 VUs · stages: 30 s → 100/s"
        );
    }
}
