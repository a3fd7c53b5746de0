//! JUnit XML for CI dashboards: one test suite per run, one test case per
//! threshold, per step and per route's schema check, the failing figure or
//! schema violation in the message. Returns bytes; does no I/O.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{ReportError, RunReport, ThresholdResult};

fn failed(message: String, description: String) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
    status.set_message(message);
    if !description.is_empty() {
        status.set_description(description);
    }
    status
}

/// Renders the run as JUnit XML.
///
/// # Errors
/// XML serialization failure.
pub fn render(report: &RunReport, thresholds: &[ThresholdResult]) -> Result<Vec<u8>, ReportError> {
    let mut suite = TestSuite::new(format!("chatload: {}", report.meta.scenario));
    suite.set_time(std::time::Duration::from_secs_f64(
        report.meta.duration_secs.max(0.0),
    ));
    for t in thresholds {
        let status = if t.passed {
            TestCaseStatus::success()
        } else {
            failed(t.message.clone(), String::new())
        };
        let mut case = TestCase::new(format!("threshold: {}", t.threshold), status);
        case.set_classname("thresholds");
        suite.add_test_case(case);
    }
    for step in &report.steps {
        let status = if step.errors == 0 {
            TestCaseStatus::success()
        } else {
            let kinds: Vec<String> = step
                .failures
                .iter()
                .map(|(k, n)| format!("{k} × {n}"))
                .collect();
            // The failure text says why: every sampled failure of this step, by kind.
            let why: Vec<String> = report
                .failure_samples
                .iter()
                .filter(|e| e.step == step.name && e.flow == step.flow)
                .map(super::failures::block)
                .collect();
            failed(
                format!(
                    "{} of {} failed ({})",
                    step.errors,
                    step.count,
                    kinds.join(", ")
                ),
                why.join("\n"),
            )
        };
        let mut case = TestCase::new(format!("step: {}", step.name), status);
        case.set_classname("steps");
        suite.add_test_case(case);
    }
    let schema = report.extra.get("schema");
    for route in &report.routes {
        let entry = schema
            .and_then(|s| s.get("routes"))
            .and_then(|r| r.get(&route.name));
        let status = match entry {
            Some(v) => {
                let count = v
                    .get("count")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0);
                let samples: Vec<String> = v
                    .get("samples")
                    .and_then(serde_json::Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|s| {
                        let path = s
                            .get("path")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or("");
                        format!(
                            "status {} at {}: {}",
                            s.get("status")
                                .and_then(serde_json::Value::as_u64)
                                .unwrap_or(0),
                            if path.is_empty() { "(body)" } else { path },
                            s.get("reason")
                                .and_then(serde_json::Value::as_str)
                                .unwrap_or("")
                        )
                    })
                    .collect();
                let first = samples.first().cloned().unwrap_or_default();
                failed(
                    format!("{count} schema violation(s) on {}: {first}", route.name),
                    samples.join("\n"),
                )
            }
            None => TestCaseStatus::success(),
        };
        let mut case = TestCase::new(format!("schema: {}", route.name), status);
        case.set_classname("schema");
        suite.add_test_case(case);
    }
    let mut junit = Report::new("chatload");
    junit.add_test_suite(suite);
    junit
        .to_string()
        .map(String::into_bytes)
        .map_err(|e| ReportError::Junit(e.to_string()))
}
