//! The per-step and per-route stats tables of the terminal summary: one row per
//! [`StatsReport`], columns aligned by character count, colour applied after padding so it
//! never breaks alignment.

use std::fmt::Write as _;

use super::{BOLD, Paint, RED, RESET, YELLOW};
use crate::report::StatsReport;
use crate::report::format::{corrected_differs, format_bytes, format_rate, format_us};

/// A cell's text and whether it is highlighted (applied after padding).
struct Cell {
    text: String,
    style: Option<&'static str>,
}

/// Rows of a stats table; `None` is a separator line.
pub(super) struct Table {
    headers: Vec<&'static str>,
    show_flow: bool,
    show_corrected: bool,
    /// Body bytes sent and received (routes).
    show_bytes: bool,
    rows: Vec<Option<Vec<Cell>>>,
}

impl Table {
    pub(super) fn new(first: &'static str, show_flow: bool, show_corrected: bool) -> Self {
        let mut headers = vec![first];
        if show_flow {
            headers.push("flow");
        }
        headers.extend([
            "count", "errors", "req/s", "p50", "p90", "p99", "p99.9", "max",
        ]);
        if show_corrected {
            headers.push("p99 (corr.)");
        }
        Self {
            headers,
            show_flow,
            show_corrected,
            show_bytes: false,
            rows: Vec::new(),
        }
    }

    /// Adds the `sent` and `received` body-byte columns (call before any row).
    pub(super) fn show_bytes(&mut self) {
        self.show_bytes = true;
        self.headers.extend(["sent", "received"]);
    }

    pub(super) fn row(&mut self, stats: &StatsReport, flow: Option<&str>) {
        let plain = |text: String| Cell { text, style: None };
        let mut cells = vec![plain(stats.name.clone())];
        if self.show_flow {
            cells.push(plain(flow.unwrap_or("").to_owned()));
        }
        cells.push(plain(stats.count.to_string()));
        cells.push(Cell {
            text: stats.errors.to_string(),
            style: (stats.errors > 0).then_some(RED),
        });
        cells.push(plain(format_rate(stats.rps)));
        let latency = &stats.latency;
        for us in [
            latency.p50_us,
            latency.p90_us,
            latency.p99_us,
            latency.p99_9_us,
            latency.max_us,
        ] {
            cells.push(plain(if stats.timed() == 0 {
                "-".to_owned()
            } else {
                format_us(us)
            }));
        }
        if self.show_corrected {
            let differs = corrected_differs(latency, &stats.corrected);
            cells.push(Cell {
                text: if stats.timed() == 0 {
                    "-".to_owned()
                } else {
                    format_us(stats.corrected.p99_us)
                },
                style: differs.then_some(YELLOW),
            });
        }
        if self.show_bytes {
            cells.push(plain(format_bytes(stats.bytes_sent)));
            cells.push(plain(format_bytes(stats.bytes_received)));
        }
        self.rows.push(Some(cells));
    }

    pub(super) fn separator(&mut self) {
        self.rows.push(None);
    }

    pub(super) fn render(&self, out: &mut String, paint: Paint) {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for cells in self.rows.iter().flatten() {
            for (width, cell) in widths.iter_mut().zip(cells) {
                *width = (*width).max(cell.text.chars().count());
            }
        }
        // The first column (and the flow column) is text: left-aligned; numbers right-aligned.
        let text_columns = if self.show_flow { 2 } else { 1 };
        let line = |cells: Vec<(String, Option<&'static str>)>| {
            let mut text = String::from(" ");
            for (index, ((cell, style), width)) in cells.into_iter().zip(&widths).enumerate() {
                let padded = if index < text_columns {
                    format!(" {cell:<width$}")
                } else {
                    format!("  {cell:>width$}")
                };
                match style {
                    Some(code) if paint.color => text.push_str(&format!("{code}{padded}{RESET}")),
                    _ => text.push_str(&padded),
                }
            }
            text.trim_end().to_owned()
        };
        let header = line(
            self.headers
                .iter()
                .map(|h| ((*h).to_owned(), Some(BOLD)))
                .collect(),
        );
        let _ = writeln!(out, "{header}");
        // Same width as a row: one leading space, then " " or "  " before each column.
        let row_width = widths.iter().sum::<usize>() + 2 * widths.len() - text_columns + 1;
        for row in &self.rows {
            match row {
                Some(cells) => {
                    let row = line(cells.iter().map(|c| (c.text.clone(), c.style)).collect());
                    let _ = writeln!(out, "{row}");
                }
                None => {
                    let _ = writeln!(out, "  {}", "─".repeat(row_width.saturating_sub(2)));
                }
            }
        }
    }
}
