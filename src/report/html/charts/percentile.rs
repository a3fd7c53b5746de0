//! The latency percentile distribution chart: one line per series against a log scale of
//! 1/(1 − percentile), marks at the named percentiles, and a legend with each series' p50,
//! p99 and count.

use std::fmt::Write as _;

use super::{Frame, ValueAxis, latency_unit, no_data, path_of};
use crate::report::format::{escape_html, format_us, group_thousands};
use crate::report::html::{NINES, Series};

/// The percentile chart of `series` over `decades` nines; "no data" when none has points.
pub(in crate::report::html) fn percentile_chart(out: &mut String, series: &[Series], decades: u32) {
    let drawn: Vec<&Series> = series.iter().filter(|s| !s.points.is_empty()).collect();
    if drawn.is_empty() {
        no_data(out, "No latency was recorded.");
        return;
    }
    let plot = Plot::open(out, &drawn, decades);
    // The whole iteration first, underneath the steps.
    let mut order: Vec<&&Series> = drawn.iter().filter(|s| s.kind == "iteration").collect();
    order.extend(drawn.iter().filter(|s| s.kind != "iteration"));
    for s in order {
        plot.line(out, s);
    }
    out.push_str("</svg></div>\n<ul class=\"legend\">\n");
    for s in series {
        legend_item(out, s);
    }
    out.push_str("</ul>\n");
}

/// The chart's frame and axes: x is the percentile's nines over `decades`, y the latency in
/// `unit`s of `div` µs.
struct Plot {
    frame: Frame,
    axis: ValueAxis,
    div: f64,
    decades: f64,
}

impl Plot {
    /// Opens the SVG and draws both axes, scaled to the latencies of `drawn`.
    fn open(out: &mut String, drawn: &[&Series], decades: u32) -> Self {
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
        Self {
            frame,
            axis,
            div,
            decades: d,
        }
    }

    /// The point of a latency `us` at `x_log` nines.
    fn xy(&self, x_log: f64, us: u64) -> (f64, f64) {
        (
            self.frame.x((x_log / self.decades).min(1.0)),
            self.frame.y(self.axis.frac(us as f64 / self.div)),
        )
    }

    /// One series: its line (dashed or bold as its kind asks), a wider invisible line that
    /// shows its name on hover, and a mark at each named percentile within the axis.
    fn line(&self, out: &mut String, s: &Series) {
        let d_attr = path_of(s.points.iter().map(|p| self.xy(p.1, p.2)));
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
            if *x_log > self.decades + 1e-9 {
                continue;
            }
            let (x, y) = self.xy(*x_log, *us);
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
}

/// A legend entry: the series' swatch (dashed like its line), name, p50, p99 and count.
fn legend_item(out: &mut String, s: &Series) {
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
