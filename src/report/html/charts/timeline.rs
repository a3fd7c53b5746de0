//! The charts over the run's time: p50 and p99 latency per second, requests and errors per
//! second, on a shared time axis with a hover band per second.

use std::fmt::Write as _;

use super::{Frame, ValueAxis, latency_unit, legend, no_data, path_of};
use crate::report::format::{escape_html, format_us};
use crate::report::html::{BLUE, MAX_HOVER_SECONDS, ORANGE, RED};
use crate::report::{RunReport, TimelineReport};

/// Ticks of a time axis in seconds: round steps (1, 2, 5, 10, 15, 30 s, minutes, hours).
pub(in crate::report::html) fn time_ticks(last: f64) -> (Vec<(f64, String)>, &'static str) {
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

pub(in crate::report::html) fn timeline_frame() -> Frame {
    Frame {
        width: 620.0,
        height: 330.0,
        left: 62.0,
        right: 16.0,
        top: 12.0,
        bottom: 50.0,
    }
}

pub(in crate::report::html) fn latency_timeline_chart(out: &mut String, report: &RunReport) {
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
        (BLUE, (|t| t.p50_us) as fn(&TimelineReport) -> u64),
        (ORANGE, |t| t.p99_us),
    ] {
        let runs = runs_with_requests(timeline, |t| {
            (x_of(t.second), frame.y(axis.frac(pick(t) as f64 / div)))
        });
        for run in &runs {
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

pub(in crate::report::html) fn throughput_chart(out: &mut String, report: &RunReport) {
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
    let stairs = |pick: fn(&TimelineReport) -> u64| {
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

/// The points of the seconds with requests, in runs broken at each second without any: a
/// line over such a second would draw a false zero.
fn runs_with_requests(
    timeline: &[TimelineReport],
    point: impl Fn(&TimelineReport) -> (f64, f64),
) -> Vec<Vec<(f64, f64)>> {
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for t in timeline {
        if t.requests == 0 {
            if runs.last().is_some_and(|r| !r.is_empty()) {
                runs.push(Vec::new());
            }
            continue;
        }
        if let Some(run) = runs.last_mut() {
            run.push(point(t));
        }
    }
    runs.retain(|r| !r.is_empty());
    runs
}

/// Transparent per-second columns whose `<title>` shows that second's figures on hover.
pub(in crate::report::html) fn hover_bands(
    out: &mut String,
    frame: &Frame,
    last: f64,
    report: &RunReport,
    text: impl Fn(&TimelineReport) -> String,
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
            escape_html(&text(t))
        );
    }
}
