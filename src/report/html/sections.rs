//! The HTML report's text sections: header and badges, summary cards, the
//! thresholds, step and route tables, schema violations, clean-up and run
//! metadata. Every string from the report is escaped.

use std::fmt::Write as _;

use serde_json::Value;

use super::{
    ITERATION_COLOR, PALETTE, RunReport, StatsReport, ThresholdResult, ThresholdStatus, Verdict,
    base_url, describe_load, pretty_time, status_text_color,
};
use crate::report::format::{
    corrected_differs, escape_html, format_bytes, format_http_versions, format_percent_adaptive,
    format_rate_grouped, format_secs_rounded, format_us, group_thousands, shows_flow_column,
};

pub(super) fn header(out: &mut String, report: &RunReport, verdict: Option<&Verdict>) {
    let meta = &report.meta;
    out.push_str("<header>\n<div class=\"title\">\n");
    w!(
        out,
        "<h1><span class=\"muted\">chatload report</span> {}</h1>\n",
        escape_html(&meta.scenario)
    );
    if meta.interrupted {
        out.push_str(
            "<span class=\"badge bad\" title=\"The run was stopped early; results are partial\">\
             INTERRUPTED</span>\n",
        );
    }
    if let Some(v) = verdict {
        if v.passed {
            out.push_str("<span class=\"badge good verdict\">PASSED</span>\n");
        } else {
            out.push_str("<span class=\"badge bad verdict\">FAILED</span>\n");
        }
        let failed = v.thresholds.iter().filter(|t| !t.passed).count();
        if failed > 0 {
            w!(
                out,
                "<span class=\"badge bad\">{failed} THRESHOLD{} FAILED</span>\n",
                if failed == 1 { "" } else { "S" }
            );
        }
    }
    if let Some(shard) = &meta.shard {
        w!(
            out,
            "<span class=\"badge\">shard {}</span>\n",
            escape_html(shard)
        );
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
            escape_html(&base_url(&meta.target)),
            escape_html(&meta.target_kind)
        ),
    );
    item("started", escape_html(&pretty_time(&meta.started_at)));
    item("ended", escape_html(&pretty_time(&meta.ended_at)));
    item(
        "duration",
        escape_html(&format_secs_rounded(meta.duration_secs)),
    );
    item("load", escape_html(&describe_load(&meta.load)));
    item("seed", meta.seed.to_string());
    item("chatload", escape_html(&meta.chatload_version));
    if let Some(file) = &meta.scenario_file {
        item("scenario file", escape_html(file));
    }
    if let Some(shard) = &meta.shard {
        item("shard", escape_html(shard));
    }
    if !meta.merged_from.is_empty() {
        let names: Vec<String> = meta.merged_from.iter().map(|m| escape_html(m)).collect();
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
    if let Some(v) = verdict.filter(|v| !v.passed) {
        out.push_str("<div class=\"warn verdict-reasons\"><p>The run failed:</p>\n<ul>\n");
        for reason in &v.reasons {
            w!(out, "<li>{}</li>\n", escape_html(reason));
        }
        out.push_str("</ul></div>\n");
    }
}

pub(super) fn cards(out: &mut String, report: &RunReport, verdict: Option<&Verdict>) {
    let t = &report.totals;
    let passed: u64 = report
        .steps
        .iter()
        .map(|s| s.count - s.errors.min(s.count))
        .sum();
    let failed: u64 = report.steps.iter().map(|s| s.errors).sum();
    let clean_steps = report.steps.iter().filter(|s| s.errors == 0).count();
    let violations = report.schema.as_ref().map(|s| s.violations);
    let mode = report.schema.as_ref().map_or("", |s| s.mode.as_str());

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
    card(
        out,
        "checks",
        &group_thousands(passed),
        &format!(
            "passed · {} failed · {clean_steps}/{} steps clean",
            group_thousands(failed),
            report.steps.len()
        ),
        Tone::bad_if(failed > 0),
    );
    match violations {
        Some(n) => card(
            out,
            "schema violations",
            &group_thousands(n),
            &format!("mode: {}", escape_html(mode)),
            Tone::bad_if(n > 0),
        ),
        None => card(out, "schema violations", "–", "not checked", Tone::Plain),
    }
    match verdict
        .map(|v| v.thresholds.as_slice())
        .filter(|t| !t.is_empty())
    {
        Some(results) => {
            let count = |s: ThresholdStatus| results.iter().filter(|t| t.status == s).count();
            let bad = results.iter().filter(|t| !t.passed).count();
            card(
                out,
                "thresholds",
                &format!("{} / {}", count(ThresholdStatus::Pass), results.len()),
                &format!(
                    "passed; {} failed; {} no data",
                    count(ThresholdStatus::Fail),
                    count(ThresholdStatus::NoData)
                ),
                Tone::bad_if(bad > 0),
            );
        }
        None => card(out, "thresholds", "–", "none defined", Tone::Plain),
    }
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

pub(super) fn thresholds_table(out: &mut String, results: &[ThresholdResult]) {
    out.push_str("<section class=\"card\">\n<h2>Thresholds</h2>\n<table>\n<thead><tr>");
    out.push_str("<th>result</th><th>threshold</th><th>measured</th><th>required</th>");
    out.push_str("</tr></thead>\n<tbody>\n");
    for t in results {
        let (measured, required) = match t
            .message
            .strip_prefix("measured ")
            .and_then(|m| m.split_once(", required "))
        {
            Some((measured, required)) => (escape_html(measured), escape_html(required)),
            None => (escape_html(&t.message), "–".to_owned()),
        };
        let verdict = match (t.status, t.passed) {
            (ThresholdStatus::Pass, _) => "<span class=\"pill good\">passed</span>",
            (ThresholdStatus::Fail, _) => "<span class=\"pill bad\">FAILED</span>",
            (ThresholdStatus::NoData, true) => {
                "<span class=\"pill nodata\">no data (allowed)</span>"
            }
            (ThresholdStatus::NoData, false) => "<span class=\"pill bad nodata\">NO DATA</span>",
        };
        w!(
            out,
            "<tr class=\"{}\"><td>{verdict}</td><td><code>{}</code></td><td class=\"num\">{measured}</td>\
             <td class=\"num\">{required}</td></tr>\n",
            if t.passed { "ok" } else { "failed" },
            escape_html(&t.threshold)
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// A per-step or per-route statistics table; `color` gives each row's swatch (the chart colour).
pub(super) fn stats_table(
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
    let show_bytes = rows
        .iter()
        .any(|(s, _, _)| s.bytes_sent + s.bytes_received > 0);
    if show_bytes {
        out.push_str(
            "<th class=\"num\" title=\"request body bytes\">sent</th>\
             <th class=\"num\" title=\"response body bytes\">received</th>",
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
        w!(
            out,
            "<tr{row_class}><td>{swatch}{}</td>",
            escape_html(&s.name)
        );
        if show_flow {
            w!(out, "<td>{}</td>", escape_html(flow.unwrap_or("")));
        }
        let errors = if s.errors > 0 {
            let kinds: Vec<String> = s
                .failures
                .iter()
                .map(|(k, n)| format!("{} × {n}", escape_html(k)))
                .collect();
            format!(
                "<span class=\"badtext\" title=\"{}\">{} ({})</span>",
                kinds.join(", "),
                group_thousands(s.errors),
                format_percent_adaptive(s.error_rate)
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
            group_thousands(s.count),
            format_rate_grouped(s.rps),
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
        if show_bytes {
            w!(
                out,
                "<td class=\"num\">{}</td><td class=\"num\">{}</td>",
                format_bytes(s.bytes_sent),
                format_bytes(s.bytes_received)
            );
        }
        if show_statuses {
            let codes: Vec<String> = s
                .statuses
                .iter()
                .map(|(code, n)| {
                    format!(
                        "<span style=\"color:{}\">{}</span>&nbsp;×&nbsp;{}",
                        status_text_color(code),
                        escape_html(code),
                        group_thousands(*n)
                    )
                })
                .collect();
            w!(out, "<td>{}</td>", codes.join(", "));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n");
}

pub(super) fn lat(count: u64, us: u64) -> String {
    if count == 0 {
        "–".to_owned()
    } else {
        format_us(us)
    }
}

/// Each flow's iterations as `iteration[FLOW]` rows, when there are two flows or more (one flow's
/// iterations are the whole iteration).
pub(super) fn flow_iteration_rows(report: &RunReport) -> Vec<StatsReport> {
    if report.flow_iterations.len() < 2 {
        return Vec::new();
    }
    report
        .flow_iterations
        .iter()
        .map(|f| StatsReport {
            name: format!("iteration[{}]", f.name),
            ..f.clone()
        })
        .collect()
}

pub(super) fn steps_table(out: &mut String, report: &RunReport) {
    out.push_str("<section class=\"card\">\n<h2>Steps</h2>\n");
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
    let per_flow = flow_iteration_rows(report);
    for (i, s) in per_flow.iter().enumerate() {
        let color = PALETTE[(report.steps.len() + i) % PALETTE.len()];
        rows.push((s, Some(color), s.flow.as_deref()));
    }
    stats_table(out, "step", &rows, shows_flow_column(report), false);
    out.push_str(
        "<p class=\"hint\">Latency is measured from the actual send. Errors: hover for the \
         failure kinds.</p>\n</section>\n",
    );
}

pub(super) fn routes_table(out: &mut String, report: &RunReport) {
    if report.routes.is_empty() {
        return;
    }
    out.push_str("<section class=\"card\">\n<h2>Routes</h2>\n");
    let rows: Vec<(&StatsReport, Option<&str>, Option<&str>)> =
        report.routes.iter().map(|r| (r, None, None)).collect();
    stats_table(out, "route", &rows, false, true);
    out.push_str("</section>\n");
}

pub(super) fn schema_section(out: &mut String, report: &RunReport) {
    let Some(schema) = &report.schema else {
        return;
    };
    let mode = if schema.mode.is_empty() {
        "?"
    } else {
        schema.mode.as_str()
    };
    out.push_str("<section class=\"card\">\n<h2>Schema violations</h2>\n");
    if schema.routes.is_empty() {
        w!(
            out,
            "<p class=\"goodtext\">No response broke the OpenAPI schema \
             (checked: <code>{}</code>).</p>\n",
            escape_html(mode)
        );
        out.push_str("</section>\n");
        return;
    }
    w!(
        out,
        "<p>{} responses broke the OpenAPI schema (checked: <code>{}</code>). Samples:</p>\n",
        group_thousands(schema.violations),
        escape_html(mode)
    );
    out.push_str(
        "<div class=\"scroll\"><table>\n<thead><tr><th>route</th>\
         <th class=\"num\">violations</th><th class=\"num\">status</th><th>path</th>\
         <th>reason</th></tr></thead>\n<tbody>\n",
    );
    for (route, entry) in &schema.routes {
        let span = entry.samples.len().max(1);
        w!(
            out,
            "<tr><td rowspan=\"{span}\"><code>{}</code></td>\
             <td class=\"num badtext\" rowspan=\"{span}\">{}</td>",
            escape_html(route),
            group_thousands(entry.count)
        );
        if entry.samples.is_empty() {
            out.push_str("<td></td><td></td><td></td></tr>\n");
        }
        for (i, sample) in entry.samples.iter().enumerate() {
            if i > 0 {
                out.push_str("<tr>");
            }
            w!(
                out,
                "<td class=\"num\">{}</td><td><code>{}</code></td><td>{}</td></tr>\n",
                sample.status,
                escape_html(&sample.path),
                escape_html(&sample.reason)
            );
        }
    }
    out.push_str("</tbody>\n</table></div>\n</section>\n");
}

pub(super) fn cleanup_section(out: &mut String, report: &RunReport) {
    let Some(cleanup) = &report.cleanup else {
        return;
    };
    out.push_str("<section class=\"card\">\n<h2>Clean-up</h2>\n");
    out.push_str(
        "<p class=\"hint\">Chats that iterations left open, closed after the load \
         (outside the metrics), or all left open and listed when the clean-up was off \
         (<code>stopped: disabled</code>).</p>\n",
    );
    key_values(out, &serde_json::to_value(cleanup).unwrap_or_default());
    out.push_str("</section>\n");
}

pub(super) fn metadata_section(out: &mut String, report: &RunReport) {
    let meta = &report.meta;
    out.push_str("<section class=\"card\">\n<h2>Run metadata</h2>\n<dl class=\"kv\">\n");
    let mut row = |k: &str, v: String| w!(out, "<dt>{k}</dt><dd>{v}</dd>\n");
    row("scenario", escape_html(&meta.scenario));
    if let Some(file) = &meta.scenario_file {
        row(
            "scenario file",
            format!("<code>{}</code>", escape_html(file)),
        );
    }
    row(
        "target",
        format!("<code>{}</code>", escape_html(&base_url(&meta.target))),
    );
    row("target kind", escape_html(&meta.target_kind));
    if let Some(versions) = format_http_versions(&meta.http_versions) {
        row("protocol", escape_html(&versions));
    }
    row("started at", escape_html(&meta.started_at));
    row("ended at", escape_html(&meta.ended_at));
    row(
        "duration",
        format!(
            "{} ({:.3} s)",
            escape_html(&format_secs_rounded(meta.duration_secs)),
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
            .map(escape_html)
            .unwrap_or_else(|| "–".to_owned()),
    );
    if !meta.merged_from.is_empty() {
        let items: Vec<String> = meta
            .merged_from
            .iter()
            .map(|m| format!("<li><code>{}</code></li>", escape_html(m)))
            .collect();
        row("merged from", format!("<ul>{}</ul>", items.join("")));
    }
    row("chatload version", escape_html(&meta.chatload_version));
    row("report schema", report.schema_version.to_string());
    row(
        "load profile",
        format!(
            "{}<pre>{}</pre>",
            escape_html(&describe_load(&meta.load)),
            escape_html(&serde_json::to_string_pretty(&meta.load).unwrap_or_default())
        ),
    );
    row(
        "aborted in flight",
        if report.aborted_in_flight {
            "yes"
        } else {
            "no"
        }
        .to_owned(),
    );
    if let Some(agents) = &report.agents {
        row(
            "agents",
            format!(
                "<pre>{}</pre>",
                escape_html(&serde_json::to_string_pretty(agents).unwrap_or_default())
            ),
        );
    }
    out.push_str("</dl>\n</section>\n");
}

pub(super) fn key_values(out: &mut String, value: &Value) {
    match value.as_object() {
        Some(map) => {
            out.push_str("<dl class=\"kv\">\n");
            for (k, v) in map {
                let shown = match v {
                    Value::String(s) => escape_html(s),
                    other => escape_html(&other.to_string()),
                };
                w!(
                    out,
                    "<dt>{}</dt><dd>{shown}</dd>\n",
                    escape_html(&k.replace('_', " "))
                );
            }
            out.push_str("</dl>\n");
        }
        None => w!(
            out,
            "<pre>{}</pre>\n",
            escape_html(&serde_json::to_string_pretty(value).unwrap_or_default())
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Charts
