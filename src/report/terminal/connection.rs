//! The "Connections" block of the terminal summary: per route, new
//! connections against reused ones, TLS sessions resumed, and the medians
//! and 99th percentiles of TCP connect, TLS handshake and time to first
//! byte. Absent when no route has connection figures.

use std::fmt::Write as _;

use super::super::connection::{ConnectionReport, Phase};
use super::{Paint, RunReport};

/// `p50 / p99` of a phase, `-` without samples.
fn phase(p: Option<&Phase>) -> String {
    Phase::p50_p99(p, "-")
}

fn cells(route: &str, c: &ConnectionReport) -> [String; 7] {
    [
        route.to_owned(),
        c.new_connections.to_string(),
        c.reused.to_string(),
        c.resumed.to_string(),
        phase(c.connect.as_ref()),
        phase(c.tls_handshake.as_ref()),
        phase(c.first_byte.as_ref()),
    ]
}

/// Appends the block to `out`.
pub(super) fn render(out: &mut String, report: &RunReport, paint: Paint) {
    let rows: Vec<[String; 7]> = report
        .routes
        .iter()
        .filter_map(|r| r.connection.as_ref().map(|c| cells(&r.name, c)))
        .collect();
    if rows.is_empty() {
        return;
    }
    let policy =
        report
            .meta
            .connection
            .as_ref()
            .map_or(String::new(), |c| match c.vus_per_connection {
                Some(n) => format!(" (policy {}, {n} VUs per connection)", c.policy),
                None => format!(" (policy {})", c.policy),
            });
    out.push('\n');
    let _ = writeln!(out, "{}{policy}", paint.bold("Connections"));
    let head = [
        "route",
        "new",
        "reused",
        "resumed",
        "connect p50 / p99",
        "TLS p50 / p99",
        "first byte p50 / p99",
    ]
    .map(str::to_owned);
    let mut widths = head.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&head).chain(&rows) {
        let mut line = String::from(" ");
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i == 0 {
                let _ = write!(line, " {cell:<w$}");
            } else {
                let _ = write!(line, "  {cell:>w$}");
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(
        out,
        "  (connect and TLS: only requests that opened a connection; first byte: every request)"
    );
}
