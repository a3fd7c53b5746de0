//! Per-step, per-route, whole-iteration and per-flow iteration statistics as CSV, for
//! spreadsheets. Latencies in milliseconds with microsecond precision; body bytes sent and
//! received (an iteration's and a flow's: its steps' sums); routes' connection set-up after them (new and reused
//! connections, TLS sessions resumed, p50 and p99 of TCP connect, TLS handshake and time to
//! first byte, and `pooled_requests`, the agent actors' requests over the shared pool, so that
//! new + reused + pooled is the route's count less its connect failures; empty where there are
//! none). An entry with no timed sample (a route never
//! requested, a step whose request was never sent) has empty latency cells, not 0 ms; one with
//! no sample at all (count 0: never ran, never requested) an empty `error_rate` too, not 0.

use super::connection::{ConnectionReport, Phase};
use super::{ReportError, RunReport, StatsReport};

/// The header row: one column per figure of a row.
const HEADER: [&str; 32] = [
    "kind",
    "name",
    "flow",
    "count",
    "errors",
    "error_rate",
    "rps",
    "min_ms",
    "mean_ms",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "p99_9_ms",
    "p99_99_ms",
    "max_ms",
    "p99_corrected_ms",
    "throttled",
    "throttle_retries",
    "throttle_wait_ms",
    "bytes_sent",
    "bytes_received",
    "new_connections",
    "reused_connections",
    "resumed_tls",
    "connect_p50_ms",
    "connect_p99_ms",
    "tls_p50_ms",
    "tls_p99_ms",
    "first_byte_p50_ms",
    "first_byte_p99_ms",
    "pooled_requests",
];

/// Renders the CSV (header row first).
///
/// # Errors
/// CSV encoding failure.
pub fn render(report: &RunReport) -> Result<Vec<u8>, ReportError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| ReportError::Csv(e.to_string());
    w.write_record(HEADER).map_err(csv_err)?;
    let mut row = |kind: &str, s: &StatsReport| w.write_record(record(kind, s));
    for s in &report.steps {
        row("step", s).map_err(csv_err)?;
    }
    row("iteration", &report.iteration).map_err(csv_err)?;
    // Each flow's iterations (kind `flow_iteration`, name and flow the flow's name).
    for s in &report.flow_iterations {
        row("flow_iteration", s).map_err(csv_err)?;
    }
    for s in &report.routes {
        row("route", s).map_err(csv_err)?;
    }
    w.into_inner().map_err(|e| ReportError::Csv(e.to_string()))
}

/// Microseconds as milliseconds with three decimals.
fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

/// One row, in [`HEADER`] order: the stats, then the connection set-up.
fn record(kind: &str, s: &StatsReport) -> Vec<String> {
    let p = &s.latency;
    let mut cells = vec![
        kind.to_owned(),
        s.name.clone(),
        s.flow.clone().unwrap_or_default(),
        s.count.to_string(),
        s.errors.to_string(),
        // Nothing recorded (a step that never ran): no rate, not 0.
        if s.count == 0 {
            String::new()
        } else {
            format!("{:.6}", s.error_rate)
        },
        format!("{:.3}", s.rps),
    ];
    // No timed sample (a route never requested, a step never sent): empty, not 0 ms.
    if s.timed() == 0 {
        cells.extend(std::iter::repeat_n(String::new(), 10));
    } else {
        cells.extend([
            ms(p.min_us),
            format!("{:.3}", p.mean_us / 1000.0),
            ms(p.p50_us),
            ms(p.p90_us),
            ms(p.p95_us),
            ms(p.p99_us),
            ms(p.p99_9_us),
            ms(p.p99_99_us),
            ms(p.max_us),
            ms(s.corrected.p99_us),
        ]);
    }
    cells.extend([
        s.throttle.throttled.to_string(),
        s.throttle.retries.to_string(),
        ms(s.throttle.wait_us),
    ]);
    cells.extend([s.bytes_sent.to_string(), s.bytes_received.to_string()]);
    cells.extend(connection_cells(s.connection.as_ref()));
    cells
}

/// New, reused and resumed connections, then p50 and p99 of connect, TLS handshake and first
/// byte, then the agent actors' requests over the shared pool (last, so that the columns
/// before keep their places); empty cells without connection figures (or without that phase).
fn connection_cells(conn: Option<&ConnectionReport>) -> [String; 10] {
    let count =
        |f: fn(&ConnectionReport) -> u64| conn.map(f).map_or(String::new(), |n| n.to_string());
    let phase = |f: fn(&ConnectionReport) -> Option<&Phase>, p99: bool| {
        conn.and_then(f).map_or(String::new(), |ph| {
            ms(if p99 {
                ph.latency.p99_us
            } else {
                ph.latency.p50_us
            })
        })
    };
    [
        count(|c| c.new_connections),
        count(|c| c.reused),
        count(|c| c.resumed),
        phase(|c| c.connect.as_ref(), false),
        phase(|c| c.connect.as_ref(), true),
        phase(|c| c.tls_handshake.as_ref(), false),
        phase(|c| c.tls_handshake.as_ref(), true),
        phase(|c| c.first_byte.as_ref(), false),
        phase(|c| c.first_byte.as_ref(), true),
        count(|c| c.pooled),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_row_per_step_route_the_iteration_and_each_flow() {
        let report = crate::report::build_sample_report();
        let bytes = super::render(&report).unwrap();
        let mut r = csv::Reader::from_reader(bytes.as_slice());
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        let flows = report.flow_iterations.len();
        assert_eq!(flows, 2);
        assert_eq!(
            rows.len(),
            report.steps.len() + report.routes.len() + 1 + flows
        );
        for f in &report.flow_iterations {
            assert!(rows.iter().any(|r| &r[0] == "flow_iteration"
                && &r[1] == f.name.as_str()
                && r[3] == f.count.to_string()));
        }
        assert_eq!(&rows[0][1], report.steps[0].name.as_str());
        let p99: f64 = rows[0][12].parse().unwrap();
        assert!((p99 - report.steps[0].latency.p99_us as f64 / 1000.0).abs() < 0.001);
        assert!(rows.iter().any(|r| &r[0] == "iteration"));
    }

    // See: audit 2026-12-07 (measure.md #4).
    #[test]
    fn a_step_never_sent_has_empty_latency_cells_not_zero_ms() {
        let mut report = crate::report::build_sample_report();
        let step = &mut report.steps[0];
        step.untimed = step.count;
        step.rps = 0.0;
        step.latency = crate::report::Percentiles::default();
        step.corrected = crate::report::Percentiles::default();
        let bytes = super::render(&report).unwrap();
        let mut r = csv::Reader::from_reader(bytes.as_slice());
        let header = r.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        let at = |name: &str| header.iter().position(|h| h == name).unwrap();
        assert_eq!(rows[0].len(), header.len());
        for column in [
            "min_ms",
            "mean_ms",
            "p50_ms",
            "p99_ms",
            "max_ms",
            "p99_corrected_ms",
        ] {
            assert_eq!(&rows[0][at(column)], "", "{column}");
            assert_ne!(&rows[1][at(column)], "", "{column} of a step that ran");
        }
        assert_eq!(&rows[0][at("rps")], "0.000");
        assert_eq!(
            &rows[0][at("count")],
            report.steps[0].count.to_string().as_str()
        );
    }

    #[test]
    fn routes_carry_their_throttling_before_the_body_byte_columns() {
        let mut report = crate::report::build::sample_report();
        crate::report::throttle::throttle_sample(&mut report, "respect", 3);
        let bytes = super::render(&report).unwrap();
        let mut r = csv::Reader::from_reader(bytes.as_slice());
        let header = r.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        let at = |name: &str| header.iter().position(|h| h == name).unwrap();
        let route = rows
            .iter()
            .find(|row| &row[0] == "route" && &row[1] == report.routes[0].name.as_str())
            .unwrap();
        assert_eq!(&route[at("throttled")], "3");
        assert_eq!(&route[at("throttle_retries")], "2");
        assert_eq!(&route[at("throttle_wait_ms")], "2000.000");
        let step = rows.iter().find(|row| &row[0] == "step").unwrap();
        assert_eq!(&step[at("throttled")], "0");
    }

    #[test]
    fn routes_carry_their_connection_set_up_and_steps_leave_it_empty() {
        let mut report = crate::report::build::sample_report();
        report.routes[0].connection = Some(crate::report::connection::sample());
        let bytes = super::render(&report).unwrap();
        let mut r = csv::Reader::from_reader(bytes.as_slice());
        let header = r.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        let at = |name: &str| header.iter().position(|h| h == name).unwrap();
        let route = rows.iter().find(|row| &row[0] == "route").unwrap();
        assert_eq!(&route[at("new_connections")], "1");
        assert_eq!(&route[at("resumed_tls")], "1");
        assert_eq!(&route[at("connect_p99_ms")], "0.250");
        assert_eq!(&route[at("tls_p50_ms")], "1.500");
        let step = rows.iter().find(|row| &row[0] == "step").unwrap();
        assert_eq!(&step[at("new_connections")], "");
    }
}
