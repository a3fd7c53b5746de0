//! The HTML report's per-step and per-route statistics tables: count, errors, rate, latency
//! percentiles, and (when any row needs them) the corrected p99, body bytes and status codes.
//! Every string from the report is escaped.

use std::fmt::Write as _;

use super::{ITERATION_COLOR, PALETTE, RunReport, StatsReport, status_text_color};
use crate::report::format::{
    corrected_differs, escape_html, format_bytes, format_percent_adaptive, format_rate_grouped,
    format_us, group_thousands, shows_flow_column,
};

/// The optional columns of a stats table.
#[derive(Clone, Copy)]
struct Columns {
    flow: bool,
    /// The p99 from the intended start, shown when any row's differs from the raw one.
    corrected: bool,
    /// Body bytes sent and received, shown when any row moved any.
    bytes: bool,
    statuses: bool,
}

/// A per-step or per-route statistics table; `color` gives each row's swatch (the chart colour).
pub(super) fn stats_table(
    out: &mut String,
    first: &str,
    rows: &[(&StatsReport, Option<&str>, Option<&str>)],
    show_flow: bool,
    show_statuses: bool,
) {
    let columns = Columns {
        flow: show_flow,
        corrected: rows
            .iter()
            .any(|(s, _, _)| corrected_differs(&s.latency, &s.corrected)),
        // Routes only: the steps table has iteration rows, which count no
        // bytes (the CSV and JSON carry the steps' bytes).
        bytes: first == "route"
            && rows
                .iter()
                .any(|(s, _, _)| s.bytes_sent + s.bytes_received > 0),
        statuses: show_statuses,
    };
    out.push_str("<div class=\"scroll\"><table>\n<thead><tr>");
    columns.head(out, first);
    out.push_str("</tr></thead>\n<tbody>\n");
    for (s, color, flow) in rows {
        columns.row(out, s, *color, *flow);
    }
    out.push_str("</tbody>\n</table></div>\n");
}

impl Columns {
    /// The header cells.
    fn head(self, out: &mut String, first: &str) {
        w!(out, "<th>{first}</th>");
        if self.flow {
            out.push_str("<th>flow</th>");
        }
        out.push_str(
            "<th class=\"num\">count</th><th class=\"num\">errors</th><th class=\"num\">req/s</th>\
             <th class=\"num\">p50</th><th class=\"num\">p90</th><th class=\"num\">p99</th>\
             <th class=\"num\">p99.9</th><th class=\"num\">max</th>",
        );
        if self.corrected {
            out.push_str(
                "<th class=\"num\" title=\"p99 from the intended start (coordinated omission \
                 corrected)\">p99 corrected</th>",
            );
        }
        if self.bytes {
            out.push_str(
                "<th class=\"num\" title=\"request body bytes\">sent</th>\
                 <th class=\"num\" title=\"response body bytes\">received</th>",
            );
        }
        if self.statuses {
            out.push_str("<th>statuses</th>");
        }
    }

    /// One row: the name with its swatch, then the figures of `s`.
    fn row(self, out: &mut String, s: &StatsReport, color: Option<&str>, flow: Option<&str>) {
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
        if self.flow {
            w!(out, "<td>{}</td>", escape_html(flow.unwrap_or("")));
        }
        let l = &s.latency;
        w!(
            out,
            "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td>",
            group_thousands(s.count),
            errors_cell(s),
            format_rate_grouped(s.rps),
            lat(s.timed(), l.p50_us),
            lat(s.timed(), l.p90_us),
            lat(s.timed(), l.p99_us),
            lat(s.timed(), l.p99_9_us),
            lat(s.timed(), l.max_us),
        );
        if self.corrected {
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
        if self.bytes {
            w!(
                out,
                "<td class=\"num\">{}</td><td class=\"num\">{}</td>",
                format_bytes(s.bytes_sent),
                format_bytes(s.bytes_received)
            );
        }
        if self.statuses {
            w!(out, "<td>{}</td>", statuses_cell(s));
        }
        out.push_str("</tr>\n");
    }
}

/// The error count and rate, the failure kinds on hover; a plain `0` without errors.
fn errors_cell(s: &StatsReport) -> String {
    if s.errors == 0 {
        return "0".to_owned();
    }
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
}

/// Each status code with its count, coloured by class.
fn statuses_cell(s: &StatsReport) -> String {
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
    codes.join(", ")
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
