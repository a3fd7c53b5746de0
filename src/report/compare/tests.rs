//! Unit tests of `compare`: rows, rules, unmatched entries and the summary.

use super::*;

/// [`super::compare`] with each run's own verdict judged as `chatload
/// compare` judges it.
pub(crate) fn compare(
    base: &RunReport,
    new: &RunReport,
    rules: &[Rule],
    noise_floor_us: u64,
) -> Comparison {
    let runs = (
        crate::verdict::run_outcome(base),
        crate::verdict::run_outcome(new),
    );
    super::compare(base, new, runs, rules, noise_floor_us)
}

fn report_with_p99(step_p99: u64) -> RunReport {
    let mut r: RunReport = serde_json::from_slice(
        &crate::report::json::render(&crate::report::build_sample_report()).unwrap(),
    )
    .unwrap();
    for s in &mut r.steps {
        s.latency.p99_us = step_p99;
    }
    // The sample run fails its own verdict (failed steps, a dropped arrival);
    // these tests compare runs that pass theirs.
    for s in (r.steps.iter_mut())
        .chain(&mut r.routes)
        .chain(&mut r.flow_iterations)
        .chain([&mut r.iteration])
    {
        s.errors = 0;
        s.error_rate = 0.0;
    }
    r.totals.errors = 0;
    r.totals.iteration_errors = 0;
    r.totals.dropped_iterations = 0;
    assert_eq!(
        crate::verdict::run_outcome(&r).state,
        RunState::Passed,
        "{:?}",
        crate::verdict::run_outcome(&r)
    );
    r
}

#[test]
fn flags_a_synthetic_regression_and_passes_an_identical_run() {
    let rules = [Rule::parse("p99 > +10%").unwrap()];
    let base = report_with_p99(100_000);
    let same = compare(&base, &base, &rules, 1_000);
    assert_eq!(same.regressions().count(), 0);
    let slower = compare(&base, &report_with_p99(130_000), &rules, 1_000);
    let regressed: Vec<&CompareRow> = slower.regressions().collect();
    assert_eq!(regressed.len(), base.steps.len());
    assert!(
        regressed
            .iter()
            .all(|r| r.metric == "p99" && r.delta_us == 30_000)
    );
    assert!(render_terminal(&slower).contains("REGRESSION"));
    let html = render_html(&slower);
    assert!(html.contains("class=\"bad\"") && !html.contains("http"));
}

#[test]
fn the_noise_floor_hides_tiny_changes() {
    let rules = [Rule::parse("p99 > +10%").unwrap()];
    let c = compare(&report_with_p99(40), &report_with_p99(60), &rules, 1_000);
    assert_eq!(c.regressions().count(), 0, "20 µs is below a 1 ms floor");
    let abs = [Rule::parse("p99 > +5ms").unwrap()];
    assert_eq!(
        compare(
            &report_with_p99(10_000),
            &report_with_p99(14_000),
            &abs,
            100
        )
        .regressions()
        .count(),
        0
    );
    assert!(
        compare(
            &report_with_p99(10_000),
            &report_with_p99(16_000),
            &abs,
            100
        )
        .regressions()
        .count()
            > 0
    );
}

/// The rows `c` found regressed: scope, name and metric.
fn regressed(c: &Comparison) -> Vec<(RowScope, &str, &str)> {
    c.regressions()
        .map(|r| (r.scope, r.name.as_str(), r.metric))
        .collect()
}

/// The sample report with one step slower at p99 and every other row unchanged.
fn with_slower_step(step: usize, p99_us: u64) -> RunReport {
    let mut r = report_with_p99(100_000);
    r.steps[step].latency.p99_us = p99_us;
    r
}

#[test]
fn a_scoped_rule_judges_only_its_step_route_or_iteration() {
    let base = report_with_p99(100_000);
    let new = with_slower_step(1, 150_000);
    let (slow, other) = (new.steps[1].name.clone(), new.steps[0].name.clone());
    let rules = [
        Rule::parse(&format!("{other}.p99 > +20%")).unwrap(),
        Rule::parse("iteration.p99 > +20%").unwrap(),
    ];
    check_rules(&rules, &base, &new).unwrap();
    let c = compare(&base, &new, &rules, 1_000);
    assert_eq!(
        c.regressions().count(),
        0,
        "the slower step is not in scope"
    );
    assert!(!c.failed());

    let rules = [Rule::parse(&format!("{slow}.p99 > +20%")).unwrap()];
    let c = compare(&base, &new, &rules, 1_000);
    assert_eq!(regressed(&c), [(RowScope::Step, slow.as_str(), "p99")]);

    let route = base.routes[0].name.clone();
    let quoted = Rule::parse(&format!("\"{route}\".p99 > +20%")).unwrap();
    let mut slower_route = base.clone();
    slower_route.routes[0].latency.p99_us *= 2;
    let c = compare(&base, &slower_route, &[quoted], 1_000);
    assert_eq!(regressed(&c), [(RowScope::Route, route.as_str(), "p99")]);
}

#[test]
fn a_flow_rule_judges_only_that_flows_iterations() {
    let base = report_with_p99(100_000);
    assert_eq!(base.flow_iterations.len(), 2, "the sample has two flows");
    let mut new = base.clone();
    new.flow_iterations[1].latency.p99_us *= 3;
    let slow = new.flow_iterations[1].name.clone();
    let fast = new.flow_iterations[0].name.clone();
    let rules = [
        Rule::parse(&format!("iteration[{fast}].p99 > +20%")).unwrap(),
        Rule::parse("iteration.p99 > +20%").unwrap(),
    ];
    check_rules(&rules, &base, &new).unwrap();
    assert!(!compare(&base, &new, &rules, 1_000).failed());
    let rules = [Rule::parse(&format!("iteration[{slow}].p99 > +20%")).unwrap()];
    let c = compare(&base, &new, &rules, 1_000);
    assert_eq!(regressed(&c), [(RowScope::Flow, slow.as_str(), "p99")]);
}

#[test]
fn a_rule_naming_nothing_is_refused_and_one_with_no_data_fails() {
    let base = report_with_p99(100_000);
    let err = check_rules(
        &[Rule::parse("creat_chat.p99 > +10%").unwrap()],
        &base,
        &base,
    )
    .unwrap_err();
    assert!(
        err.contains("creat_chat") && err.contains("steps:"),
        "{err}"
    );
    // Both reports have the same steps: each is listed once, not once per report.
    let first = base.steps[0].name.as_str();
    assert_eq!(
        err.matches(&format!("{first},")).count() + err.matches(&format!("{first};")).count(),
        1,
        "{err}"
    );
    assert!(
        check_rules(
            &[Rule::parse("iteration[chat].p99 > +10%").unwrap()],
            &base,
            &base
        )
        .is_err()
    );

    // The step exists but the new run never ran it: nothing to judge, which fails.
    let mut new = base.clone();
    let step = new.steps[0].name.clone();
    new.steps[0].count = 0;
    let rule = Rule::parse(&format!("{step}.p99 > +10%")).unwrap();
    check_rules(std::slice::from_ref(&rule), &base, &new).unwrap();
    let c = compare(&base, &new, &[rule], 1_000);
    assert!(c.failed());
    assert_eq!(c.unjudged.len(), 1);
    assert!(
        c.unmatched
            .iter()
            .any(|u| u.contains("no samples in the new run"))
    );
    assert!(render_terminal(&c).contains("1 rule(s) could not be judged"));
}

/// A rule that judged nothing says which run had no data of its scope.
#[test]
fn an_unjudged_rule_names_the_run_without_data() {
    let base = report_with_p99(100_000);
    let mut new = base.clone();
    let step = new.steps[0].name.clone();
    new.steps[0].count = 0;
    let rule = Rule::parse(&format!("{step}.p99 > +10%")).unwrap();
    let c = compare(&base, &new, std::slice::from_ref(&rule), 1_000);
    assert!(
        c.unjudged[0].contains(&format!(
            "only the base run measured `{step}`; the new run has no data of it"
        )),
        "{}",
        c.unjudged[0]
    );
    // And the other way round: the message says which run had no data.
    let reverse = compare(&new, &base, std::slice::from_ref(&rule), 1_000);
    assert!(
        reverse.unjudged[0].contains("only the new run measured")
            && reverse.unjudged[0].contains("the base run has no data of it"),
        "{}",
        reverse.unjudged[0]
    );
    let mut none = new.clone();
    none.steps[0].count = 0;
    let neither = compare(&new, &none, std::slice::from_ref(&rule), 1_000);
    assert!(
        neither.unjudged[0].contains("neither run measured anything of"),
        "{}",
        neither.unjudged[0]
    );
}

#[test]
fn the_summary_lists_each_regression_and_the_outcome() {
    let rules = [Rule::parse("p99 > +10%").unwrap()];
    let base = report_with_p99(100_000);
    let c = compare(&base, &with_slower_step(0, 130_000), &rules, 1_000);
    let text = render_terminal(&c);
    let tail: Vec<&str> = text.lines().rev().take(3).collect();
    assert!(tail[0].starts_with("FAILED: 1 regression(s)"), "{text}");
    assert!(
        tail[1].contains(&format!(
            "step {} p99: 100 ms → 130 ms (+30.0%), breaks `p99 > +10%`",
            base.steps[0].name
        )),
        "{text}"
    );
    assert!(tail[2].starts_with("1 regression(s):"), "{text}");
    assert!(render_html(&c).contains("FAILED: 1 regression(s)"));
    let same = render_terminal(&compare(&base, &base, &rules, 1_000));
    assert!(
        same.trim_end()
            .ends_with("PASSED: 0 regression(s) against 1 rule(s)"),
        "{same}"
    );
}

#[test]
fn runs_of_different_scenarios_or_loads_are_flagged() {
    let base = report_with_p99(100_000);
    assert!(compare(&base, &base, &[], 1_000).warnings.is_empty());
    let mut other = base.clone();
    other.meta.scenario = "another".into();
    other.meta.load = crate::report::LoadProfile {
        model: crate::report::LoadModel::Open,
        arrival_rate: Some(5.0),
        ..crate::report::LoadProfile::default()
    };
    let c = compare(&base, &other, &[], 1_000);
    assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    let text = render_terminal(&c);
    assert!(
        text.starts_with("warning: the reports are of different scenarios"),
        "{text}"
    );
    assert!(
        text.contains("warning: the reports ran different load profiles"),
        "{text}"
    );
    assert!(render_html(&c).contains("different scenarios"));
}

/// A step that counted samples but sent no request (all `untimed`) measured
/// nothing: a scoped rule on it says neither run measured it (not "under
/// different kinds of entry"), and a rule over every row fails when the base
/// run measured a step the new run never sent, naming it.
#[test]
fn a_step_the_new_run_never_sent_fails_every_rule_that_would_judge_it() {
    let base = report_with_p99(100_000);
    let step = base.steps[0].name.clone();
    let mut new = base.clone();
    new.steps[0].untimed = new.steps[0].count;
    let scoped = Rule::parse(&format!("{step}.p99 > +10%")).unwrap();
    let both_unsent = compare(&new, &new, std::slice::from_ref(&scoped), 1_000);
    assert!(
        both_unsent.unjudged[0].contains("neither run measured anything of"),
        "{}",
        both_unsent.unjudged[0]
    );
    let every = Rule::parse("p99 > +10%").unwrap();
    let c = compare(&base, &new, std::slice::from_ref(&every), 1_000);
    assert!(c.failed());
    assert_eq!(c.unjudged.len(), 1, "{:?}", c.unjudged);
    assert!(
        c.unjudged[0].contains(&format!(
            "measured in the base run and not in the new one: step `{step}`"
        )),
        "{}",
        c.unjudged[0]
    );
    // The other way round is an improvement, and the same run twice is no change.
    assert!(!compare(&new, &base, std::slice::from_ref(&every), 1_000).failed());
    assert!(!compare(&new, &new, std::slice::from_ref(&every), 1_000).failed());
}

/// The sample run with every sample of step `step` failed, and with it every iteration.
fn with_failed_step(step: usize) -> RunReport {
    let mut r = report_with_p99(100_000);
    let s = &mut r.steps[step];
    (s.errors, s.error_rate) = (s.count, 1.0);
    r.iteration.errors = r.iteration.count;
    r.iteration.error_rate = 1.0;
    r.totals.iteration_errors = r.totals.iterations;
    r
}

/// Outside audit 4, F2: the new run failed every request of a step and
/// every iteration (its own verdict FAILED), and a comparison whose rules
/// saw only latencies passed it. With rules given, a new run that failed its
/// own verdict fails the comparison, naming why; without rules it is told.
#[test]
fn a_new_run_that_failed_its_own_verdict_fails_the_comparison() {
    let base = report_with_p99(100_000);
    let new = with_failed_step(0);
    let (step, count) = (&new.steps[0].name, new.steps[0].count);
    let other = format!("{}.p99 > +1000%", new.steps[1].name);
    let rules = [Rule::parse(&other).unwrap()];
    let c = compare(&base, &new, &rules, 1_000);
    assert!(c.failed());
    let text = render_terminal(&c);
    assert!(
        text.contains(&format!(
            "the new run FAILED its own verdict: step `{step}`: {count} of {count} failed"
        )),
        "{text}"
    );
    assert!(text.trim_end().ends_with("against 1 rule(s)") && text.contains("\nFAILED: "));
    // Without a rule nothing is judged, but the verdict is still told.
    let c = compare(&base, &new, &[], 1_000);
    assert!(!c.failed());
    assert!(
        render_terminal(&c).contains("note: the new run FAILED its own verdict"),
        "{}",
        render_terminal(&c)
    );
    // Both failed: said of both, and failed.
    let c = compare(&new, &new, &rules, 1_000);
    assert!(c.failed());
    assert!(
        render_terminal(&c).contains("; the base run FAILED its own verdict too: step"),
        "{}",
        render_terminal(&c)
    );
    // A failing baseline and a passing new run: a warning, not a failure.
    let c = compare(&new, &base, &rules, 1_000);
    assert!(!c.failed(), "{}", render_terminal(&c));
    assert!(
        render_terminal(&c).contains("warning: the base run FAILED its own verdict"),
        "{}",
        render_terminal(&c)
    );
}

/// A latency of which every sample failed is that of failures (a refused
/// request is fast): no rule judges it, and each rule in whose scope it is
/// cannot be judged.
#[test]
fn a_latency_of_which_every_sample_failed_is_not_judged() {
    let base = report_with_p99(100_000);
    let new = with_failed_step(0);
    let step = &new.steps[0].name;
    for rule in [format!("{step}.p99 > +10%"), "p99 > +10%".to_owned()] {
        let c = compare(&base, &new, &[Rule::parse(&rule).unwrap()], 1_000);
        assert!(
            c.unjudged.iter().any(|u| u.contains(&format!(
                "step `{step}` (every sample failed in the new run)"
            ))),
            "{rule}: {:?}",
            c.unjudged
        );
    }
}

/// Outside audit 4, F2: two runs that never connected passed a comparison
/// of their connection-refused latencies.
#[test]
fn a_run_that_measured_nothing_fails_the_comparison() {
    let mut dead = report_with_p99(100_000);
    let requests = dead.totals.requests;
    dead.request_errors_by_kind
        .insert("connect".to_owned(), requests);
    let c = compare(&dead, &dead, &[Rule::parse("p99 > +10%").unwrap()], 1_000);
    assert!(c.failed());
    let text = render_terminal(&c);
    assert!(
        text.contains("the new run measured nothing (the target was unreachable")
            && text.contains("the base run measured nothing"),
        "{text}"
    );
}

/// `errors > +N%` judges an error rate's growth in percentage points; an
/// error rate that rose with no such rule is a warning.
#[test]
fn an_errors_rule_judges_the_error_rate_in_points() {
    let mut base = report_with_p99(100_000);
    // A threshold decides the runs' own verdicts, so the failed samples do not fail them.
    base.thresholds.push(crate::report::ThresholdDef {
        threshold: "iterations.error_rate <= 100%".to_owned(),
        ..crate::report::ThresholdDef::default()
    });
    let mut new = base.clone();
    let s = &mut new.steps[0];
    let name = s.name.clone();
    // 2 failed of 100: +2 points.
    (s.count, s.errors) = (100, 2);
    let mut base_100 = base.clone();
    base_100.steps[0].count = 100;
    let judge = |rule: &str| compare(&base_100, &new, &[Rule::parse(rule).unwrap()], 1_000);
    let c = judge("errors > +1%");
    assert!(c.failed(), "{}", render_terminal(&c));
    assert!(
        render_terminal(&c).contains(&format!(
            "step {name} errors: 0% (0/100) → 2.00% (2/100) (+2.0 pp), breaks `errors > +1%`"
        )),
        "{}",
        render_terminal(&c)
    );
    let c = judge("errors > +2%");
    assert!(!c.failed(), "{}", render_terminal(&c));
    assert!(judge(&format!("{name}.errors > +1%")).failed());
    // A latency rule says the error rate rose, which no rule judged.
    let text = render_terminal(&judge("p99 > +10%"));
    assert!(
        text.contains(&format!(
            "warning: the error rate rose, judged by no `errors` rule: step `{name}` 0% → 2.00% (2 of 100)"
        )),
        "{text}"
    );
    for bad in [
        "errors > +5ms",
        "errors >= +1%",
        "event(chats:join).errors > +1%",
    ] {
        assert!(Rule::parse(bad).is_err(), "{bad}");
    }
}

/// Outside audit 4, F12.2: the summary said "(see the notes)" when no note
/// was printed.
#[test]
fn an_unjudged_rule_promises_no_note_that_is_not_printed() {
    let mut none = report_with_p99(100_000);
    let step = none.steps[0].name.clone();
    none.steps[0].count = 0;
    let c = compare(
        &none,
        &none,
        &[Rule::parse(&format!("{step}.p99 > +10%")).unwrap()],
        1_000,
    );
    let text = render_terminal(&c);
    assert!(text.contains("neither run measured anything of"), "{text}");
    assert!(
        !text.contains("see the notes") || text.contains("note:"),
        "{text}"
    );
}

fn closed(vus: u32, iterations: u64) -> crate::report::LoadProfile {
    crate::report::LoadProfile {
        vus: Some(vus),
        iterations: Some(iterations),
        graceful_stop_secs: 10.0,
        ..crate::report::LoadProfile::default()
    }
}

/// The load warning of two runs of the sample with these loads and sources.
fn load_warning(base: crate::report::LoadProfile, new: crate::report::LoadProfile) -> String {
    let mut b = report_with_p99(100_000);
    let mut n = b.clone();
    (b.meta.load, n.meta.load) = (base, new);
    let c = compare(&b, &n, &[], 1_000);
    let w = c
        .warnings
        .iter()
        .find(|w| w.contains("load profiles"))
        .cloned();
    w.unwrap_or_default()
}

/// Outside audit 4, F12.3: the warning printed two raw JSON objects; it
/// says in words what differs.
#[test]
fn a_load_difference_is_said_in_words() {
    let w = load_warning(closed(4, 40), closed(8, 40));
    assert!(w.contains("(vus 4 vs 8)") && !w.contains('{'), "{w}");
    let mut shard = closed(4, 40);
    shard.shard = Some("1/3".into());
    shard.shard_share = Some(crate::report::ShardShare {
        vus: Some(2),
        iterations: Some(14),
        ..crate::report::ShardShare::default()
    });
    let w = load_warning(closed(4, 40), shard);
    assert!(
        w.contains("(new is shard 1/3 of the run: 2 of 4 VUs, 14 of 40 iterations)"),
        "{w}"
    );
}

/// A report merged from runs side by side states one run's profile and
/// carried several runs' load: the warning says so. A merge of one run's
/// shards carried the profile's load itself: no warning (the re-audit's R1:
/// "new is merged from 3 reports ... or 3 times it" against its own
/// unsharded run).
#[test]
fn runs_side_by_side_are_named_in_the_load_warning_and_shards_are_not() {
    let base = report_with_p99(100_000);
    let mut merged = base.clone();
    merged.meta.merged_from = vec!["a.json".into(), "b.json".into()];
    merged.meta.load.runs_side_by_side = Some(2);
    let c = compare(&base, &merged, &[], 1_000);
    assert!(
        c.warnings.iter().any(|w| w.contains(
            "new is 2 runs side by side (a.json, b.json), which together carried 2 times"
        )),
        "{:?}",
        c.warnings
    );
    // Its start is a.json's, maybe the base's own: the header says merged.
    assert_eq!(
        c.new,
        format!("{} (merged from 2 reports)", base.meta.started_at)
    );
    assert_eq!(c.base, base.meta.started_at);
    merged.meta.load.runs_side_by_side = None;
    merged.meta.merged_from = vec!["s1.json".into(), "s2.json".into(), "s3.json".into()];
    let shards = compare(&base, &merged, &[], 1_000);
    assert!(shards.warnings.is_empty(), "{:?}", shards.warnings);
}

// See: outside audit 10, F5 — an open-model stall moved the corrected p99 from 4 ms to 1.9 s;
// `compare` showed a 2 ms raw change and refused `p99_corrected > +10%` as an unknown metric.
#[test]
fn corrected_percentiles_are_shown_and_judged_when_both_runs_are_open() {
    let mut base = report_with_p99(1_500);
    for s in (base.steps.iter_mut()).chain(&mut base.routes) {
        s.corrected = s.latency;
        s.corrected.p99_us = 4_000;
    }
    let mut new = base.clone();
    for s in (new.steps.iter_mut()).chain(&mut new.routes) {
        s.latency.p99_us = 3_500;
        s.corrected.p99_us = 1_900_000;
    }
    let rule = Rule::parse("p99_corrected > +10%").expect("a corrected metric is a rule's");
    assert_eq!(
        Rule::parse("create_chat.p99.9_corrected > +5%")
            .unwrap()
            .metric,
        "p99.9_corrected"
    );
    let c = compare(&base, &new, std::slice::from_ref(&rule), 1_000);
    assert!(c.failed(), "{}", render_terminal(&c));
    let hit: Vec<&CompareRow> = c.regressions().collect();
    assert!(!hit.is_empty() && hit.iter().all(|r| r.metric == "p99_corrected"));
    let table = render_terminal(&c);
    assert!(
        table.contains("create_user           p99_corrected    4.00 ms     1.90 s     +1.90 s"),
        "{table}"
    );
    // The raw rule sees only the 2 ms change: within the noise floor of 5 ms.
    let raw = compare(&base, &new, &[Rule::parse("p99 > +10%").unwrap()], 5_000);
    assert!(!raw.failed(), "{}", render_terminal(&raw));

    // A closed-model run has no corrected latency of its own: shown, not judged, and failing.
    let mut closed = base.clone();
    closed.meta.load.model = crate::report::LoadModel::Closed;
    let c = compare(&closed, &new, std::slice::from_ref(&rule), 1_000);
    assert_eq!(c.regressions().count(), 0);
    assert!(c.failed());
    assert!(
        c.unjudged.iter().any(|u| u.starts_with(
            "`p99_corrected > +10%`: the base run is not of the open model, so it has no \
             corrected latency of its own"
        )),
        "{:?}",
        c.unjudged
    );
    assert!(render_terminal(&c).contains("p99_corrected"));
    // Two closed runs show no corrected rows.
    let c = compare(&closed, &closed, &[], 1_000);
    assert!(c.rows.iter().all(|r| !r.metric.ends_with("_corrected")));
}
