//! The "Connections" block of the terminal summary: per route, new
//! connections against reused ones (and, in a run with agent actors, their
//! requests over the shared pool), TLS sessions resumed, and the medians
//! and 99th percentiles of TCP connect, TLS handshake and time to first
//! byte. Absent when no route has connection figures.

use std::fmt::Write as _;

use super::super::connection::{ConnectionReport, Phase};
use super::{Paint, RunReport};

/// `p50 / p99` of a phase, `-` without samples.
fn phase(p: Option<&Phase>) -> String {
    Phase::p50_p99(p, "-")
}

fn cells(route: &str, c: &ConnectionReport, pooled: bool) -> Vec<String> {
    let mut row = vec![
        route.to_owned(),
        c.new_connections.to_string(),
        c.reused.to_string(),
    ];
    if pooled {
        row.push(c.pooled.to_string());
    }
    row.extend([
        c.resumed.to_string(),
        phase(c.connect.as_ref()),
        phase(c.tls_handshake.as_ref()),
        phase(c.first_byte.as_ref()),
    ]);
    row
}

/// Appends the block to `out`.
pub(super) fn render(out: &mut String, report: &RunReport, paint: Paint) {
    let connections = || {
        report
            .routes
            .iter()
            .filter_map(|r| Some((r, r.connection.as_ref()?)))
    };
    let pooled = connections().any(|(_, c)| c.pooled > 0);
    let rows: Vec<Vec<String>> = connections()
        .map(|(r, c)| cells(&r.name, c, pooled))
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
    let head: Vec<String> = [
        "route",
        "new",
        "reused",
        "agents",
        "resumed",
        "connect p50 / p99",
        "TLS p50 / p99",
        "first byte p50 / p99",
    ]
    .into_iter()
    .filter(|h| pooled || *h != "agents")
    .map(str::to_owned)
    .collect();
    let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&head).chain(&rows) {
        let mut line = String::from(" ");
        for (i, (cell, &w)) in row.iter().zip(&widths).enumerate() {
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
        "  (connect and TLS: only requests that opened a connection; first byte: every answered \
         request over a VU's own connection)"
    );
    if pooled {
        let _ = writeln!(
            out,
            "  (agents: the agent actors' requests, over a shared pool whose connections are not \
             tracked; new + reused + agents = the route's requests less its connect failures)"
        );
    }
}
