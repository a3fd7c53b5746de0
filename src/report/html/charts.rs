//! SVG building blocks of the HTML report: frames, axes, ticks, legends and
//! bar charts; the percentile distribution is in `percentile`, latency and
//! throughput over time in `timeline`. Pure string building; every label is
//! escaped.

use std::fmt::Write as _;

use super::{GREEN, GREY, ORANGE, RED, TEAL};
use crate::report::format::{escape_html, format_percent_adaptive, group_thousands};

mod percentile;
mod timeline;

pub(super) use percentile::percentile_chart;
#[cfg(test)]
pub(super) use timeline::time_ticks;
pub(super) use timeline::{latency_timeline_chart, throughput_chart};

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
