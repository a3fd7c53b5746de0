//! The suite's outputs besides the JSON report: the terminal listing (one
//! line per check and per skipped check, then route and status coverage)
//! and JUnit (one test case per check, its failure message the reason; a
//! skipped check as a skipped case with its reason; status coverage as one test
//! case per operation that records which declared statuses were observed).
//! A suite stopped before its end says why in both; the listing ends with
//! what the clean-up closed, deleted and left behind.

use std::fmt::Write as _;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::ConformReport;

/// The terminal listing.
pub fn terminal(report: &ConformReport) -> String {
    let mut out = String::new();
    for check in &report.checks {
        let mark = if check.passed { "ok  " } else { "FAIL" };
        let status = check
            .status
            .map_or_else(|| "---".to_owned(), |s| s.to_string());
        let detail = if check.message.is_empty() {
            String::new()
        } else {
            format!("  {}", check.message)
        };
        let _ = writeln!(
            out,
            "{mark} {status} {:<22} {}{detail}",
            check.operation, check.name
        );
    }
    for skip in &report.skipped {
        let _ = writeln!(
            out,
            "skip --- {:<22} {}  {}",
            skip.operation, skip.name, skip.reason
        );
    }
    let failed = report.checks.iter().filter(|c| !c.passed).count();
    let not_exercised = match report.not_exercised.as_slice() {
        [] => String::new(),
        ops => format!("; not exercised: {}", ops.join(", ")),
    };
    let (done, all) = (report.operations_exercised, report.operations_in_spec);
    let checks = report.checks.len();
    let route = format!(
        "coverage {done}/{all} operations ({:.0}%)",
        report.coverage * 100.0
    );
    let skipped = match report.skipped.len() {
        0 => String::new(),
        n => format!(", {n} skipped"),
    };
    let _ = writeln!(
        out,
        "\n{checks} checks, {failed} failed{skipped}; {route}{not_exercised}"
    );
    let _ = writeln!(
        out,
        "status coverage {}/{} declared responses observed ({:.0}%); generated bodies: seed {}, {} per operation and class",
        report.statuses_observed,
        report.statuses_declared,
        percent(report.statuses_observed, report.statuses_declared),
        report.seed,
        report.cases,
    );
    for s in report
        .status_coverage
        .iter()
        .filter(|s| !s.missing.is_empty())
    {
        let _ = writeln!(
            out,
            "  {:<22} not observed: {}",
            s.operation,
            join(&s.missing)
        );
    }
    if let Some(why) = &report.stopped {
        let _ = writeln!(out, "stopped before the end after {checks} checks: {why}");
    }
    let _ = writeln!(out, "{}", cleanup_line(report));
    out
}

/// `clean-up: N chats closed, M webhooks deleted; left behind: nothing`
/// (or each chat and webhook left, with why).
fn cleanup_line(report: &ConformReport) -> String {
    let left = if report.left_behind.is_empty() {
        "nothing".to_owned()
    } else {
        report.left_behind.join("; ")
    };
    format!("{}; left behind: {left}", cleanup_counts(report))
}

/// `clean-up: N chats closed, M webhooks deleted`.
fn cleanup_counts(report: &ConformReport) -> String {
    format!(
        "clean-up: {} chats closed, {} webhooks deleted",
        report.cleanup.chats_closed, report.cleanup.webhooks_deleted
    )
}

fn percent(part: usize, whole: usize) -> f64 {
    part as f64 * 100.0 / whole.max(1) as f64
}

fn join(statuses: &[u16]) -> String {
    let list: Vec<String> = statuses.iter().map(u16::to_string).collect();
    list.join(", ")
}

/// Renders the suite as JUnit XML: one test case per check (the failure
/// message says why), the route coverage as one case, and the status
/// coverage as one case per operation (passing: a response not observed is
/// not a failure of the target; its system-out lists what was and was not).
/// A suite stopped before its end has the property `interrupted` (true for
/// a signal) and a failing case "the suite ran to its end" saying why. The
/// clean-up is one case, failing with what it left on the target.
///
/// # Errors
/// XML serialization failure.
pub fn junit(report: &ConformReport) -> anyhow::Result<Vec<u8>> {
    let mut suite = TestSuite::new("chatload conform");
    suite.add_property(Property::new("seed", report.seed.to_string()));
    suite.add_property(Property::new("cases", report.cases.to_string()));
    suite.add_property(Property::new(
        "status_coverage",
        format!("{}/{}", report.statuses_observed, report.statuses_declared),
    ));
    suite.add_property(Property::new("interrupted", report.interrupted.to_string()));
    for c in &report.checks {
        let status = if c.passed {
            TestCaseStatus::success()
        } else {
            failure(c.message.clone())
        };
        let mut case = TestCase::new(c.name.clone(), status);
        case.set_classname(c.operation.clone());
        suite.add_test_case(case);
    }
    for skip in &report.skipped {
        let mut status = TestCaseStatus::skipped();
        status.set_message(skip.reason.clone());
        let mut case = TestCase::new(skip.name.clone(), status);
        case.set_classname(skip.operation.clone());
        suite.add_test_case(case);
    }
    coverage_cases(report, &mut suite);
    let mut junit = Report::new("chatload");
    junit.add_test_suite(suite);
    Ok(junit.to_string()?.into_bytes())
}

/// "clean-up: nothing left on the target": passing with the counts as its
/// output, or failing with each chat and webhook left behind and why.
fn cleanup_case(report: &ConformReport) -> TestCase {
    let status = if report.left_behind.is_empty() {
        TestCaseStatus::success()
    } else {
        failure(format!("left behind: {}", report.left_behind.join("; ")))
    };
    let mut case = TestCase::new("clean-up: nothing left on the target", status);
    case.set_classname("clean-up");
    case.set_system_out(cleanup_counts(report));
    case
}

fn failure(message: String) -> TestCaseStatus {
    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
    s.set_message(message);
    s
}

/// The route coverage case, the suite's end (when it stopped before it),
/// and one status coverage case per operation.
fn coverage_cases(report: &ConformReport, suite: &mut TestSuite) {
    let coverage_status = if report.not_exercised.is_empty() {
        TestCaseStatus::success()
    } else {
        failure(format!(
            "not exercised: {}",
            report.not_exercised.join(", ")
        ))
    };
    let mut case = TestCase::new("coverage: every operation of the spec", coverage_status);
    case.set_classname("coverage");
    suite.add_test_case(case);
    if let Some(why) = &report.stopped {
        let mut case = TestCase::new("the suite ran to its end", failure(why.clone()));
        case.set_classname("coverage");
        suite.add_test_case(case);
    }
    suite.add_test_case(cleanup_case(report));
    for s in &report.status_coverage {
        let mut case = TestCase::new(
            format!("status coverage: {}", s.operation),
            TestCaseStatus::success(),
        );
        case.set_classname("status coverage");
        case.set_system_out(format!(
            "observed {} of declared {}; not observed: {}",
            join(&s.observed),
            join(&s.declared),
            if s.missing.is_empty() {
                "none".to_owned()
            } else {
                join(&s.missing)
            }
        ));
        suite.add_test_case(case);
    }
}
