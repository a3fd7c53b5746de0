//! JUnit XML for CI dashboards, derived from the run's [`Verdict`] so it
//! always agrees with the exit code: the suite has failures exactly when the
//! run failed.
//!
//! One test case for the verdict itself (failing with every reason), one per
//! threshold (a threshold with no data fails unless `allow_empty`; a shard's
//! threshold judged on the merged run is skipped, saying so), one per
//! step, one per route's schema check and one per webhook event name's
//! schema check. When thresholds decide, failing
//! steps and schema violations are informational: their test cases pass and
//! carry the figures in `<system-out>`; without thresholds they are failures.
//! A shard's suite is named with its shard (`chatload: NAME (shard 2/3)`) and
//! has a `shard` property. Returns bytes; does no I/O.

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::close_note::OutsideCloses;
use super::{DecidedBy, ReportError, RunReport, StatsReport, ThresholdStatus, Verdict};

fn failed(message: String, description: String) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
    status.set_message(message);
    if !description.is_empty() {
        status.set_description(description);
    }
    status
}

/// A test case that fails with `problem` when `fails`, else passes and
/// reports `problem` (if any) as information.
fn case(name: String, class: &str, problem: Option<(String, String)>, fails: bool) -> TestCase {
    let (status, info) = match problem {
        Some((message, description)) if fails => (failed(message, description), None),
        Some((message, description)) => (
            TestCaseStatus::success(),
            Some(format!(
                "informational (thresholds decide): {message}\n{description}"
            )),
        ),
        None => (TestCaseStatus::success(), None),
    };
    let mut case = TestCase::new(name, status);
    case.set_classname(class);
    if let Some(info) = info {
        case.set_system_out(info.trim_end().to_owned());
    }
    case
}

/// Every started iteration's end (completed, failed, cut off), cut-off
/// requests, dropped and unstarted iterations, and throttling (policy,
/// throttled, given up, re-sends, time waited), as suite properties.
fn add_accounting(suite: &mut TestSuite, report: &RunReport) {
    let t = &report.totals;
    add_counts(
        suite,
        &[
            ("iterations_started", t.started()),
            ("iterations_completed", t.completed()),
            ("iterations_failed", t.iteration_errors),
            ("cut_off_iterations", t.cut_off_iterations),
            ("cut_off_requests", t.cut_off_requests),
            ("dropped_iterations", t.dropped_iterations),
            ("unstarted_iterations", t.unstarted_iterations),
        ],
    );
    if let Some(th) = &report.throttle {
        suite.add_property(Property::new("rate_limit_policy", th.policy.as_str()));
        add_counts(
            suite,
            &[
                ("throttled", th.throttled),
                ("throttled_given_up", th.gave_up),
                ("throttle_retries", th.retries),
                ("throttle_wait_us", th.wait_us),
            ],
        );
    }
}

/// Each `(name, count)` as a suite property.
fn add_counts(suite: &mut TestSuite, counts: &[(&str, u64)]) {
    for &(name, count) in counts {
        suite.add_property(Property::new(name, count.to_string()));
    }
}

/// The clean-up's counts as suite properties, and a test case carrying its
/// summary and the ids left open. It passes: the clean-up runs after the
/// load and never decides the verdict (so JUnit agrees with the exit code).
fn add_cleanup(suite: &mut TestSuite, report: &RunReport) {
    let Some(c) = &report.cleanup else { return };
    add_counts(
        suite,
        &[
            ("cleanup_attempted", c.attempted),
            ("cleanup_closed", c.closed),
            ("cleanup_failed", c.failed),
            ("cleanup_left_open", c.left_open),
        ],
    );
    let mut case = TestCase::new("clean-up", TestCaseStatus::success());
    case.set_classname("run");
    case.set_system_out(c.summary());
    suite.add_test_case(case);
}

/// Renders the run as JUnit XML.
///
/// # Errors
/// XML serialization failure.
pub fn render(report: &RunReport, verdict: &Verdict) -> Result<Vec<u8>, ReportError> {
    // Each shard's suite is its own: N shard jobs publish N suites, not one name N times.
    let mut suite = match &report.meta.shard {
        Some(shard) => {
            let mut suite = TestSuite::new(format!(
                "chatload: {} (shard {shard})",
                report.meta.scenario
            ));
            suite.add_property(Property::new("shard", shard.as_str()));
            suite
        }
        None => TestSuite::new(format!("chatload: {}", report.meta.scenario)),
    };
    suite.set_time(std::time::Duration::from_secs_f64(
        report.meta.duration_secs.max(0.0),
    ));
    let problem = (!verdict.passed).then(|| {
        (
            format!("the run failed: {}", verdict.reasons.join("; ")),
            verdict.reasons.join("\n"),
        )
    });
    suite.add_test_case(case("verdict".to_owned(), "run", problem, true));
    add_accounting(&mut suite, report);
    add_cleanup(&mut suite, report);
    add_thresholds(&mut suite, verdict);
    let steps_decide = verdict.decided_by == DecidedBy::Steps;
    for step in &report.steps {
        let name = format!("step: {}", step.name);
        suite.add_test_case(if step.count == 0 {
            // A step that never ran passed nothing: skipped, saying so.
            skipped(
                name,
                "steps",
                "never ran: an earlier step failed, or its flow was never picked",
            )
        } else {
            case(name, "steps", step_problem(report, step), steps_decide)
        });
    }
    add_route_schemas(&mut suite, report, steps_decide);
    add_event_schemas(&mut suite, report, steps_decide);
    let mut junit = Report::new("chatload");
    junit.add_test_suite(suite);
    junit
        .to_string()
        .map(String::into_bytes)
        .map_err(|e| ReportError::Junit(e.to_string()))
}

/// One case per threshold; a threshold without data that is allowed to pass says so in its
/// output; a shard's threshold judged on the merged run is skipped, saying so.
fn add_thresholds(suite: &mut TestSuite, verdict: &Verdict) {
    for t in &verdict.thresholds {
        let name = format!("threshold: {}", t.threshold);
        if t.status == ThresholdStatus::Deferred {
            suite.add_test_case(skipped(name, "thresholds", &t.message));
            continue;
        }
        let mut c = case(
            name,
            "thresholds",
            (!t.passed).then(|| (t.message.clone(), String::new())),
            true,
        );
        // A pass says what it measured (and, on a sample, how much was checked).
        if t.passed {
            c.set_system_out(t.message.clone());
        }
        suite.add_test_case(c);
    }
}

/// A case that did not run, with why.
fn skipped(name: String, class: &str, why: &str) -> TestCase {
    let mut status = TestCaseStatus::skipped();
    status.set_message(why.to_owned());
    let mut c = TestCase::new(name, status);
    c.set_classname(class.to_owned());
    c
}

/// One case per route's schema check; skipped, saying why, when no response
/// of the route was checked (`--schema off`, never called, missed by
/// sampling): a check that never ran is no pass.
fn add_route_schemas(suite: &mut TestSuite, report: &RunReport, steps_decide: bool) {
    let outside = OutsideCloses::of(report);
    for route in &report.routes {
        let name = format!("schema: {}", route.name);
        let unchecked = report
            .schema
            .as_ref()
            .and_then(|s| s.route_not_checked(route, &outside));
        let c = match &unchecked {
            Some(why) => skipped(name, "schema", why),
            None => {
                let mut c = case(
                    name,
                    "schema",
                    route_schema_problem(report, &route.name),
                    steps_decide,
                );
                if let Some(note) = route_sampled_note(report, route) {
                    c.set_system_out(note);
                }
                c
            }
        };
        suite.add_test_case(c);
    }
}

/// How many of `route`'s responses a sampled schema check checked.
fn route_sampled_note(report: &RunReport, route: &StatsReport) -> Option<String> {
    let schema = report.schema.as_ref()?;
    let checked = schema
        .checked_by_route
        .as_ref()?
        .get(&route.name)
        .copied()?;
    schema.sampled_note(checked, route.statuses.values().sum())
}

/// The failure of a route's schema case: how many responses broke the schema, the first
/// sample in the message and every sample in the text; `None` without violations.
fn route_schema_problem(report: &RunReport, route: &str) -> Option<(String, String)> {
    let v = report.schema.as_ref()?.routes.get(route)?;
    let samples: Vec<String> = v
        .samples
        .iter()
        .map(|s| {
            let path = if s.path.is_empty() { "(body)" } else { &s.path };
            format!("status {} at {path}: {}", s.status, s.reason)
        })
        .collect();
    let first = samples.first().cloned().unwrap_or_default();
    Some((
        format!("{} schema violation(s) on {route}: {first}", v.count),
        samples.join("\n"),
    ))
}

/// One case per webhook event name received or in violation: its `data`
/// checked against the spec's `webhooks` schema.
fn add_event_schemas(suite: &mut TestSuite, report: &RunReport, steps_decide: bool) {
    let Some(w) = &report.webhooks else { return };
    let mut names: Vec<&str> = w.events.iter().map(|e| e.event.as_str()).collect();
    for name in w.schema_violations.keys() {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    for name in names {
        let problem = w.schema_violations.get(name).map(|v| {
            let samples: Vec<String> = v
                .samples
                .iter()
                .map(|s| {
                    let path = if s.path.is_empty() { "(data)" } else { &s.path };
                    format!("at {path}: {}", s.reason)
                })
                .collect();
            let first = samples.first().cloned().unwrap_or_default();
            (
                format!("{} schema violation(s) in {name} events: {first}", v.count),
                samples.join("\n"),
            )
        });
        suite.add_test_case(case(
            format!("event schema: {name}"),
            "events",
            problem,
            steps_decide,
        ));
    }
}

fn step_problem(report: &RunReport, step: &StatsReport) -> Option<(String, String)> {
    (step.errors > 0).then(|| {
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
        (
            format!(
                "{} of {} failed ({})",
                step.errors,
                step.count,
                kinds.join(", ")
            ),
            why.join("\n"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::build_sample_report;
    use crate::scenario::threshold;

    fn xml(thresholds: &[&str]) -> String {
        let report = build_sample_report();
        let parsed: Vec<_> = thresholds
            .iter()
            .map(|t| threshold::parse(t, &["create_chat"], false).expect("valid threshold"))
            .collect();
        xml_of(&report, &parsed)
    }

    /// `report`'s JUnit XML, judged by `thresholds`.
    fn xml_of(report: &RunReport, thresholds: &[threshold::Threshold]) -> String {
        let verdict = crate::verdict::judge(thresholds, report);
        String::from_utf8(render(report, &verdict).expect("renders")).expect("UTF-8")
    }

    /// Asserts that the test case named `name` says `text`.
    fn case_says(xml: &str, name: &str, text: &str) {
        let case = case_of(xml, name);
        assert!(case.contains(text), "{case}");
    }

    /// The XML of the test case named `name`.
    fn case_of<'a>(xml: &'a str, name: &str) -> &'a str {
        let start = xml
            .find(&format!("name=\"{name}\""))
            .unwrap_or_else(|| panic!("no case {name}: {xml}"));
        let end = xml[start..].find("</testcase>").expect("closed") + start;
        &xml[start..end]
    }

    #[test]
    fn route_schema_cases_are_skipped_when_no_response_was_checked() {
        let mut report = build_sample_report();
        report.schema = Some(crate::report::SchemaReport {
            mode: "off".to_owned(),
            ..crate::report::SchemaReport::default()
        });
        let xml = xml_of(&report, &[]);
        let case = case_of(&xml, "schema: POST /chats");
        assert!(case.contains("<skipped"), "{case}");
        assert!(case.contains("--schema off"), "{case}");
        // Checked responses make the same case a plain one again.
        report.schema.as_mut().expect("schema").mode = "all".to_owned();
        let xml = xml_of(&report, &[]);
        assert!(xml.contains("name=\"schema: POST /chats\""), "{xml}");
        assert!(!xml.contains("<skipped"), "{xml}");
    }

    // See: outside audit 5, F2 — a route none of whose responses was
    // checked (never called, or missed by sampling) had a passing case.
    #[test]
    fn a_route_none_of_whose_responses_was_checked_is_a_skipped_case() {
        let mut report = build_sample_report();
        report.routes[2].count = 0;
        let by_route = [
            ("POST /users", 40),
            ("POST /chats", 0),
            ("GET /chats/{chatId}", 0),
        ];
        report.schema = Some(crate::report::SchemaReport {
            mode: "sample=0.05".to_owned(),
            checked: Some(40),
            checked_by_route: Some(by_route.map(|(r, n)| (r.to_owned(), n)).into()),
            ..crate::report::SchemaReport::default()
        });
        let xml = xml_of(&report, &[]);
        // A pass on a sample says so (audit 7, finding 12: it did not).
        let users = case_of(&xml, "schema: POST /users");
        assert!(
            !users.contains("<failure") && !users.contains("<skipped"),
            "{users}"
        );
        assert!(
            users.contains("sampled: 40 of the ") && users.contains("(--schema sample=0.05)"),
            "{users}"
        );
        let unchecked = "<skipped message=\"no response of this route was checked: ";
        case_says(
            &xml,
            "schema: POST /chats",
            &format!("{unchecked}sampling checked none"),
        );
        case_says(
            &xml,
            "schema: GET /chats/{chatId}",
            &format!("{unchecked}never called"),
        );
        // A report written before per-route counts: a route never called
        // is still known unchecked, the others cannot be told apart.
        report.schema.as_mut().expect("schema").checked_by_route = None;
        let xml = xml_of(&report, &[]);
        // Without per-route counts there is no sampled note: a bare passing case.
        assert!(
            xml.contains("name=\"schema: POST /chats\" classname=\"schema\"/>"),
            "{xml}"
        );
        assert!(case_of(&xml, "schema: GET /chats/{chatId}").contains("never called"));
    }

    /// See: audit 7, finding 13 (the close route read "never called" when
    /// the clean-up had closed a dozen chats on it).
    #[test]
    fn the_close_route_no_step_called_says_the_clean_up_is_not_checked() {
        let mut report = build_sample_report();
        report.routes[2].name = "DELETE /chats/{chatId}".to_owned();
        report.routes[2].count = 0;
        report.schema = Some(crate::report::SchemaReport {
            mode: "all".to_owned(),
            checked: Some(40),
            checked_by_route: Some([("POST /users".to_owned(), 40)].into()),
            ..crate::report::SchemaReport::default()
        });
        report.totals.iteration_errors = 0;
        report.cleanup = Some(crate::report::CleanupReport {
            attempted: 12,
            closed: 12,
            ..crate::report::CleanupReport::default()
        });
        let xml = xml_of(&report, &[]);
        case_says(
            &xml,
            "schema: DELETE /chats/{chatId}",
            "never called by a step; the clean-up sent 12 close request(s) there (12 closed), \
             which are not counted here nor schema-checked",
        );
        // See: audit 9, the A7-13 low note: nothing reached it, and it says so.
        report.cleanup = Some(crate::report::CleanupReport::default());
        let xml = xml_of(&report, &[]);
        case_says(
            &xml,
            "schema: DELETE /chats/{chatId}",
            "never called: no step and no clean-up reached it",
        );
    }

    #[test]
    fn a_passing_schema_threshold_on_a_sample_says_how_much_was_checked() {
        let mut report = build_sample_report();
        report.schema = Some(crate::report::SchemaReport {
            mode: "sample=0.05".to_owned(),
            checked: Some(7),
            ..crate::report::SchemaReport::default()
        });
        let t = threshold::parse("schema_violations == 0", &[], false).expect("valid");
        let xml = xml_of(&report, &[t]);
        case_says(
            &xml,
            "threshold: schema_violations == 0",
            "sampled: 7 of the ",
        );
    }

    #[test]
    fn throttling_is_a_suite_property_and_its_threshold_a_test_case() {
        let xml = xml(&["throttled.count == 0"]);
        // build_sample_report comes from metrics: a throttle section, nothing throttled.
        for property in [
            "name=\"rate_limit_policy\" value=\"fail\"",
            "name=\"throttled\" value=\"0\"",
            "name=\"throttle_wait_us\" value=\"0\"",
        ] {
            assert!(xml.contains(property), "missing {property}: {xml}");
        }
        assert!(!case_of(&xml, "threshold: throttled.count == 0").contains("<failure"));
    }

    #[test]
    fn a_step_that_never_ran_is_skipped_saying_so_not_passed() {
        let mut report = build_sample_report();
        let mut idle = report.steps[0].clone();
        idle.name = "never".to_owned();
        idle.count = 0;
        idle.errors = 0;
        report.steps.push(idle);
        let xml = xml_of(&report, &[]);
        let case = case_of(&xml, "step: never");
        assert!(
            case.contains("<skipped") && case.contains("never ran"),
            "{case}"
        );
        assert!(!case_of(&xml, "step: create_chat").contains("<skipped"));
    }

    #[test]
    fn a_failing_step_says_why_in_its_failure_or_in_system_out_when_thresholds_decide() {
        let steps_decide = xml(&[]);
        let case = case_of(&steps_decide, "step: create_chat");
        assert!(case.contains("<failure"), "{case}");
        assert!(
            case.contains("create_chat (lifecycle) · status × 5"),
            "{case}"
        );
        assert!(
            case.contains("POST /chats → 503: status in [201]"),
            "{case}"
        );
        assert!(case.contains("Service &lt;unavailable&gt;"), "{case}");

        let thresholds_decide = xml(&["iteration.p99 < 100s"]);
        let case = case_of(&thresholds_decide, "step: create_chat");
        assert!(!case.contains("<failure"), "{case}");
        assert!(case.contains("<system-out>"), "{case}");
        assert!(
            case.contains("POST /chats → 503: status in [201]"),
            "{case}"
        );
    }

    #[test]
    fn each_event_name_is_a_schema_case_failing_with_its_violations() {
        let mut report = build_sample_report();
        report.webhooks = Some(crate::report::webhook::build(
            &crate::report::webhook::tests::sample_input(2),
        ));
        let t = threshold::parse("events.schema_violations == 0", &[], false).expect("valid");
        let xml = xml_of(&report, &[t]);
        let create = case_of(&xml, "event schema: chats:create");
        // Thresholds decide: the case informs, the threshold's case fails.
        assert!(!create.contains("<failure"), "{create}");
        assert!(
            create.contains("2 schema violation(s) in chats:create events"),
            "{create}"
        );
        assert!(xml.contains("name=\"event schema: chats:join\""), "{xml}");
        let threshold = case_of(&xml, "threshold: events.schema_violations == 0");
        assert!(threshold.contains("<failure"), "{threshold}");
        assert!(threshold.contains("measured 2"), "{threshold}");
    }

    // See: outside audit 4, F6 — every shard published `chatload: NAME` with the
    // whole run's count thresholds failing, N identical red suites.
    #[test]
    fn a_shards_suite_names_its_shard_and_skips_what_the_merged_run_judges() {
        let mut report = build_sample_report();
        report.meta.shard = Some("2/3".to_owned());
        let t = threshold::parse("iterations.count >= 100000", &[], false).expect("valid");
        let xml = xml_of(&report, &[t]);
        let name = format!(
            "<testsuite name=\"chatload: {} (shard 2/3)\"",
            report.meta.scenario
        );
        assert!(xml.contains(&name), "{xml}");
        assert!(
            xml.contains("<property name=\"shard\" value=\"2/3\"/>"),
            "{xml}"
        );
        let deferred = "threshold: iterations.count &gt;= 100000";
        case_says(
            &xml,
            deferred,
            "<skipped message=\"judged on the merged run (chatload merge)",
        );
        let case = case_of(&xml, deferred);
        assert!(!case.contains("<failure"), "{case}");
    }
}
