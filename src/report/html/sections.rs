//! The HTML report's text sections: header and badges, the thresholds, schema
//! violations, clean-up and run metadata (the summary cards live in `cards`, the
//! step and route tables in `stats_table`). Every string from the report is escaped.

use std::fmt::Write as _;

use serde_json::Value;

use super::{
    RunReport, ThresholdResult, ThresholdStatus, Verdict, base_url, describe_load, pretty_time,
};
use crate::report::RunMeta;
use crate::report::format::{
    describe_seed, escape_html, format_http_versions, format_secs_rounded, group_thousands,
};

pub(super) fn header(out: &mut String, report: &RunReport, verdict: Option<&Verdict>) {
    out.push_str("<header>\n");
    title(out, &report.meta, verdict);
    meta_list(out, &report.meta);
    out.push_str("</header>\n");
    warnings(out, report, verdict);
}

/// The scenario's name with its badges: interrupted, the verdict, failed thresholds, the
/// shard, how many reports were merged.
fn title(out: &mut String, meta: &RunMeta, verdict: Option<&Verdict>) {
    out.push_str("<div class=\"title\">\n");
    w!(
        out,
        "<h1><span class=\"muted\">chatload report</span> {}</h1>\n",
        escape_html(&meta.scenario)
    );
    if meta.interrupted {
        w!(
            out,
            "<span class=\"badge bad\" title=\"The run was stopped early; results are partial\">{}</span>\n",
            if meta.stopped_by_signal {
                "INTERRUPTED"
            } else {
                "STOPPED EARLY"
            }
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
    out.push_str("</div>\n");
}

/// Target, times, load, seed and provenance as a definition list.
fn meta_list(out: &mut String, meta: &RunMeta) {
    out.push_str("<dl class=\"meta\">\n");
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
    if let Some(apart) = super::super::format::describe_apart(meta) {
        item("not side by side", escape_html(&apart));
    }
    item("load", escape_html(&describe_load(&meta.load)));
    item("seed", describe_seed(meta.seed, &meta.seeds));
    match super::super::format::describe_versions(meta) {
        Some(versions) => item("chatload", escape_html(&versions)),
        None => item("chatload", escape_html(&meta.chatload_version)),
    }
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
    if meta.targets_differ() {
        let each: Vec<String> = meta
            .merged_runs
            .iter()
            .map(|r| {
                let unreachable = if r.target_unreachable {
                    ", unreachable"
                } else {
                    ""
                };
                escape_html(&format!(
                    "{}: {} ({}{unreachable})",
                    r.name(),
                    r.target,
                    r.target_kind
                ))
            })
            .collect();
        item("targets (differ)", each.join("<br>"));
    }
    out.push_str("</dl>\n");
}

/// Below the header: an interrupted run, clamped samples, and why a failed run failed.
fn warnings(out: &mut String, report: &RunReport, verdict: Option<&Verdict>) {
    let saturated: u64 = report
        .steps
        .iter()
        .chain(&report.routes)
        .map(|s| s.saturated)
        .sum();
    if let Some(cause) = report.stop_cause() {
        w!(
            out,
            "<p class=\"warn\">This run {}: the figures cover only the part that ran.</p>\n",
            cause.sentence()
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
            (ThresholdStatus::Deferred, _) => "<span class=\"pill\">on merge</span>",
        };
        w!(
            out,
            "<tr class=\"{}\"><td>{verdict}</td><td><code>{}</code></td><td class=\"num\">{measured}</td>\
             <td class=\"num\">{required}</td></tr>\n",
            match t.status {
                ThresholdStatus::Deferred => "deferred",
                _ if t.passed => "ok",
                _ => "failed",
            },
            escape_html(&t.threshold)
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
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
    out.push_str("<section class=\"card\">\n<h2>Run metadata</h2>\n<dl class=\"kv\">\n");
    let mut row = |k: &str, v: String| w!(out, "<dt>{k}</dt><dd>{v}</dd>\n");
    what_ran_rows(&mut row, &report.meta);
    provenance_and_load_rows(&mut row, report);
    out.push_str("</dl>\n</section>\n");
}

/// The scenario, the target and the protocol spoken, when the run started and ended, the
/// seed and whether it was interrupted.
fn what_ran_rows(row: &mut impl FnMut(&str, String), meta: &RunMeta) {
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
    row("seed", describe_seed(meta.seed, &meta.seeds));
    row(
        "interrupted",
        if meta.interrupted { "yes" } else { "no" }.to_owned(),
    );
}

/// The shard and merged reports, the versions, the load profile, in-flight aborts and the
/// agents' figures.
fn provenance_and_load_rows(row: &mut impl FnMut(&str, String), report: &RunReport) {
    let meta = &report.meta;
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
