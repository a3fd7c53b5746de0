//! SVG building blocks of the HTML report: frames, axes, ticks and the
//! charts themselves (percentile distribution, latency and throughput over
//! time, bar charts). Pure string building; every label is escaped.

use std::fmt::Write as _;

use super::{BLUE, GREEN, GREY, MAX_HOVER_SECONDS, NINES, ORANGE, RED, RunReport, Series, TEAL};
use crate::report::format::{escape_html, format_percent_adaptive, format_us, group_thousands};

/// Plot geometry in SVG user units; the SVG scales to its container through `viewBox`.
#[derive(Clone, Copy)]
pub(super) struct Frame {
    pub(super) width: f64,
    pub(super) height: f64,
    pub(super) left: f64,
    pub(super) right: f64,
    pub(super) top: f64,
    pub(super) bottom: f64,
}

impl Frame {
    pub(super) fn x(&self, frac: f64) -> f64 {
        self.left + frac * (self.width - self.left - self.right)
    }

    pub(super) fn y(&self, frac: f64) -> f64 {
        self.height - self.bottom - frac * (self.height - self.top - self.bottom)
    }

    pub(super) fn open(&self, out: &mut String, label: &str) {
        w!(
            out,
            "<div class=\"chartbox\"><svg class=\"chart\" viewBox=\"0 0 {} {}\" role=\"img\" \
             aria-label=\"{}\">\n",
            self.width,
            self.height,
            escape_html(label)
        );
    }

    /// Vertical gridlines and labels at `(fraction, label)`, the x axis line and its title.
    pub(super) fn x_axis(&self, out: &mut String, ticks: &[(f64, String)], title: &str) {
        for (frac, label) in ticks {
            let x = self.x(*frac);
            w!(
                out,
                "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
                 <text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
                self.y(0.0),
                self.y(1.0),
                self.y(0.0) + 16.0,
                escape_html(label)
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
            escape_html(title)
        );
    }

    /// Horizontal gridlines and labels, the y axis line and its (rotated) title.
    pub(super) fn y_axis(&self, out: &mut String, axis: &ValueAxis, title: &str) {
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
            escape_html(title)
        );
    }
}

/// A value axis, linear from zero or logarithmic, with its tick values.
pub(super) struct ValueAxis {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) log: bool,
    pub(super) ticks: Vec<f64>,
}

impl ValueAxis {
    /// Linear from 0 to a round number at or above `max`, about 5 ticks.
    pub(super) fn linear(max: f64) -> ValueAxis {
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
    pub(super) fn auto(min: f64, max: f64) -> ValueAxis {
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

    pub(super) fn frac(&self, value: f64) -> f64 {
        let f = if self.log {
            (value.max(self.lo).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (value - self.lo) / (self.hi - self.lo)
        };
        f.clamp(0.0, 1.0)
    }
}

/// 1, 2 or 5 times a power of ten, at or above `raw`.
pub(super) fn nice_step(raw: f64) -> f64 {
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
pub(super) fn round_125(value: f64, up: bool) -> f64 {
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

/// Shortest exact-looking label: "0", "0.2", "1.5", "20", "1000", "0.0001". Only zero is
/// labelled "0": a small tick of a log axis keeps its significant digits (a fixed three decimals
/// printed 1 µs on a seconds axis as "0").
pub(super) fn tick_label(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return "0".to_owned();
    }
    // Two significant digits below 1 (ticks are 1-2-5 or 0.05 steps), three decimals above.
    let decimals = if value.abs() >= 1.0 {
        3
    } else {
        (2 - value.abs().log10().floor() as i32).clamp(3, 15) as usize
    };
    let text = format!("{value:.decimals$}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_owned()
}

/// Latency axis unit: milliseconds, or seconds once values reach 10 s.
pub(super) fn latency_unit(max_us: f64) -> (f64, &'static str) {
    if max_us >= 10_000_000.0 {
        (1_000_000.0, "s")
    } else {
        (1_000.0, "ms")
    }
}

pub(super) fn path_of(points: impl IntoIterator<Item = (f64, f64)>) -> String {
    let mut d = String::new();
    for (i, (x, y)) in points.into_iter().enumerate() {
        w!(d, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { " L" });
    }
    d
}

pub(super) fn no_data(out: &mut String, text: &str) {
    w!(out, "<p class=\"nodata\">{text}</p>\n");
}

pub(super) fn percentile_chart(out: &mut String, series: &[Series], decades: u32) {
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
            escape_html(&s.name)
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
                escape_html(&s.name),
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
                group_thousands(s.count)
            )
        };
        w!(
            out,
            "<li>{swatch}<b>{}</b> <span class=\"muted\">{detail}</span></li>\n",
            escape_html(&s.name)
        );
    }
    out.push_str("</ul>\n");
}

/// Ticks of a time axis in seconds: round steps (1, 2, 5, 10, 15, 30 s, minutes, hours).
pub(super) fn time_ticks(last: f64) -> (Vec<(f64, String)>, &'static str) {
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

pub(super) fn timeline_frame() -> Frame {
    Frame {
        width: 620.0,
        height: 330.0,
        left: 62.0,
        right: 16.0,
        top: 12.0,
        bottom: 50.0,
    }
}

pub(super) fn latency_timeline_chart(out: &mut String, report: &RunReport) {
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
        (
            BLUE,
            (|t| t.p50_us) as fn(&crate::report::TimelineReport) -> u64,
        ),
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

pub(super) fn throughput_chart(out: &mut String, report: &RunReport) {
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
    let stairs = |pick: fn(&crate::report::TimelineReport) -> u64| {
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
pub(super) fn hover_bands(
    out: &mut String,
    frame: &Frame,
    last: f64,
    report: &RunReport,
    text: impl Fn(&crate::report::TimelineReport) -> String,
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

pub(super) fn legend(out: &mut String, items: &[(&str, &str)]) {
    out.push_str("<ul class=\"legend\">\n");
    for (color, label) in items {
        w!(
            out,
            "<li><span class=\"swatch\" style=\"background:{color}\"></span>{}</li>\n",
            escape_html(label)
        );
    }
    out.push_str("</ul>\n");
}

/// One bar: label, count, colour and the count it is a share of, with that count's noun.
pub(super) struct Bar {
    pub(super) label: String,
    pub(super) n: u64,
    pub(super) color: &'static str,
    /// `None`: no honest denominator is known, the bar shows the count alone.
    pub(super) of: Option<(u64, &'static str)>,
}

/// Horizontal bars with the label on the left and count and share of the bars' total on the
/// right (the bars partition `what`: status codes of responses, kinds of failures).
pub(super) fn bar_chart(
    out: &mut String,
    bars: &[(String, u64, &'static str)],
    what: &str,
    empty: &str,
) {
    let total: u64 = bars.iter().map(|b| b.1).sum();
    let bars: Vec<Bar> = bars
        .iter()
        .map(|(label, n, color)| Bar {
            label: label.clone(),
            n: *n,
            color,
            of: None,
        })
        .collect();
    bars_of(out, &bars, what, empty, Some(total));
}

/// Horizontal bars whose share is each bar's own denominator (`Bar::of`), for counters that do
/// not partition one whole (webhook anomalies: missing of expected, duplicate of deliveries…).
pub(super) fn ratio_bar_chart(out: &mut String, bars: &[Bar], what: &str, empty: &str) {
    bars_of(out, bars, what, empty, None);
}

/// The share text of one bar: "2.00% of 150" against its own denominator, "40.0%" against the
/// chart's total, or nothing when the denominator is unknown or zero.
fn share_text(bar: &Bar, total: Option<u64>) -> (String, String) {
    match (bar.of, total) {
        (Some((of, noun)), _) if of > 0 => {
            let pct = format_percent_adaptive(bar.n as f64 / of as f64);
            (
                format!(" ({pct} of {})", group_thousands(of)),
                format!(" of {} {noun} ({pct})", group_thousands(of)),
            )
        }
        (None, Some(total)) if total > 0 => {
            let pct = format_percent_adaptive(bar.n as f64 / total as f64);
            (format!(" ({pct})"), format!(" ({pct})"))
        }
        _ => (String::new(), String::new()),
    }
}

fn bars_of(out: &mut String, bars: &[Bar], what: &str, empty: &str, total: Option<u64>) {
    if bars.iter().all(|b| b.n == 0) {
        w!(
            out,
            "<p class=\"nodata goodtext\">{}</p>\n",
            escape_html(empty)
        );
        return;
    }
    let max = bars.iter().map(|b| b.n).max().unwrap_or(1).max(1) as f64;
    let row = 30.0;
    let label_w = bars
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(3)
        .clamp(3, 28) as f64
        * 7.5
        + 16.0;
    let frame = Frame {
        width: 620.0,
        height: row * bars.len() as f64 + 24.0,
        left: label_w,
        right: 150.0,
        top: 12.0,
        bottom: 12.0,
    };
    frame.open(out, &format!("{what} by category"));
    for (i, bar) in bars.iter().enumerate() {
        let y = frame.top + i as f64 * row;
        let width = (frame.x(bar.n as f64 / max) - frame.x(0.0)).max(2.0);
        let (text, title) = share_text(bar, total);
        w!(
            out,
            "<g><text class=\"cat\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"{:.1}\" rx=\"3\" \
             fill=\"{}\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\">{}{text}</text>\
             <title>{}: {} {what}{title}</title></g>\n",
            frame.x(0.0) - 8.0,
            y + row / 2.0 + 4.0,
            escape_html(&bar.label),
            frame.x(0.0),
            y + 5.0,
            row - 10.0,
            bar.color,
            frame.x(0.0) + width + 6.0,
            y + row / 2.0 + 4.0,
            group_thousands(bar.n),
            escape_html(&bar.label),
            group_thousands(bar.n),
        );
    }
    out.push_str("</svg></div>\n");
}

pub(super) fn status_color(code: &str) -> &'static str {
    match code.chars().next() {
        Some('2') => GREEN,
        Some('3') => TEAL,
        Some('4') => ORANGE,
        Some('5') => RED,
        _ => GREY,
    }
}

pub(super) fn status_text_color(code: &str) -> &'static str {
    match code.chars().next() {
        Some('2') | Some('3') => "inherit",
        Some('4') => "#b35c00",
        _ => "#c0392b",
    }
}
