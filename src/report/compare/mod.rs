//! Comparing two runs: per step, route, whole iteration and each flow's
//! iteration, base vs new latency percentiles with absolute and relative
//! deltas, and rules such as `p99 > +10%` or `create_chat.p99 > +20%` that
//! mark a regression. Changes smaller than a noise floor never count, so a
//! 40 µs → 60 µs "50% regression" does not fail a build.
//!
//! The comparison also says when the two runs are not alike (different
//! scenarios or load profiles), which rows only one run measured, and which
//! scoped rules found nothing to judge (those fail: no data is never a pass).

mod render;
mod rule;

use serde::Serialize;

pub use render::{render_html, render_terminal};
pub use rule::{Rule, RuleScope};

use super::webhook::WebhookReport;
use super::{Percentiles, RunReport, StatsReport};

/// Percentiles compared (and usable in rules).
pub const METRICS: &[&str] = &["p50", "p90", "p95", "p99", "p99.9", "max"];

/// What a compared row measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowScope {
    Step,
    Route,
    /// The whole iteration, all flows together.
    Iteration,
    /// The iterations of one flow.
    Flow,
    /// A chat lifecycle service level (webhooks).
    Lifecycle,
    /// One webhook event's delay.
    Event,
}

impl RowScope {
    /// The scope as shown in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            RowScope::Step => "step",
            RowScope::Route => "route",
            RowScope::Iteration => "iteration",
            RowScope::Flow => "flow",
            RowScope::Lifecycle => "lifecycle",
            RowScope::Event => "event",
        }
    }
}

/// One compared figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareRow {
    pub scope: RowScope,
    pub name: String,
    pub metric: &'static str,
    pub base_us: u64,
    pub new_us: u64,
    pub delta_us: i64,
    /// `None` when the base is 0.
    pub delta_pct: Option<f64>,
    /// Rules this row breaks.
    pub broken: Vec<String>,
}

/// The comparison of two runs.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub base: String,
    pub new: String,
    pub noise_floor_us: u64,
    /// The runs are not alike: different scenarios or load profiles.
    pub warnings: Vec<String>,
    pub rows: Vec<CompareRow>,
    /// Rows measured by only one run (or by neither), which nothing is compared on.
    pub unmatched: Vec<String>,
    /// Rules given.
    pub rules: Vec<String>,
    /// Scoped rules that matched no row both runs measured, with why; each fails the comparison.
    pub unjudged: Vec<String>,
}

impl Comparison {
    /// Rows that break a rule.
    pub fn regressions(&self) -> impl Iterator<Item = &CompareRow> {
        self.rows.iter().filter(|r| !r.broken.is_empty())
    }

    /// Whether the comparison fails: a regression, or a rule that could not be judged.
    pub fn failed(&self) -> bool {
        self.regressions().next().is_some() || !self.unjudged.is_empty()
    }
}

fn value(p: &Percentiles, metric: &str) -> u64 {
    match metric {
        "p50" => p.p50_us,
        "p90" => p.p90_us,
        "p95" => p.p95_us,
        "p99" => p.p99_us,
        "p99.9" => p.p99_9_us,
        _ => p.max_us,
    }
}

/// Every (scope, name) a report measured or names, for checking rule scopes.
fn names_of(report: &RunReport) -> Vec<(RowScope, String)> {
    let mut names: Vec<(RowScope, String)> = Vec::new();
    names.extend(
        report
            .steps
            .iter()
            .map(|s| (RowScope::Step, s.name.clone())),
    );
    names.extend(
        report
            .routes
            .iter()
            .map(|s| (RowScope::Route, s.name.clone())),
    );
    names.push((RowScope::Iteration, "iteration".to_owned()));
    names.extend(flow_iterations(report).map(|s| (RowScope::Flow, s.name.clone())));
    if let Some(w) = &report.webhooks {
        names.extend(lifecycle_levels(w).map(|(n, _)| (RowScope::Lifecycle, n.to_owned())));
        names.extend(w.events.iter().map(|e| (RowScope::Event, e.event.clone())));
    }
    names
}

/// The per-flow iteration entries of a report (none in reports without them).
fn flow_iterations(report: &RunReport) -> impl Iterator<Item = &StatsReport> {
    report.flow_iterations.iter()
}

/// Checks that every scoped rule names something one of the reports knows.
///
/// # Errors
/// A rule whose step, route, flow or event is in neither report, with the names there are.
pub fn check_rules(rules: &[Rule], base: &RunReport, new: &RunReport) -> Result<(), String> {
    let mut known = names_of(base);
    known.extend(names_of(new));
    for rule in rules.iter().filter(|r| r.scope != RuleScope::All) {
        let hits = known.iter().any(|(scope, name)| {
            rule.scope.matches(&CompareRow {
                scope: *scope,
                name: name.clone(),
                metric: "p50",
                base_us: 0,
                new_us: 0,
                delta_us: 0,
                delta_pct: None,
                broken: Vec::new(),
            })
        });
        if !hits {
            let list = |scope: RowScope| {
                // Each name once, in first-seen order (both reports usually share them).
                let mut names: Vec<&str> = Vec::new();
                for (_, name) in known.iter().filter(|(s, _)| *s == scope) {
                    if !names.contains(&name.as_str()) {
                        names.push(name);
                    }
                }
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            };
            return Err(format!(
                "rule `{}`: neither report has {}; steps: {}; routes: {}; flows: {}",
                rule.text,
                rule.scope.describe(),
                list(RowScope::Step),
                list(RowScope::Route),
                list(RowScope::Flow),
            ));
        }
    }
    Ok(())
}

/// Warnings when the two runs are not alike.
fn warnings(base: &RunReport, new: &RunReport) -> Vec<String> {
    let mut out = Vec::new();
    if base.meta.scenario != new.meta.scenario {
        out.push(format!(
            "the reports are of different scenarios (base `{}`, new `{}`): a step or route of the \
             same name may not measure the same thing",
            base.meta.scenario, new.meta.scenario
        ));
    }
    if base.meta.load != new.meta.load {
        out.push(format!(
            "the reports ran different load profiles (base {}, new {}): latencies under \
             different loads are not like for like",
            json_of(&base.meta.load),
            json_of(&new.meta.load)
        ));
    }
    out.extend(super::throttle::compare_warning(base, new));
    out
}

/// A load profile as compact JSON, for messages.
fn json_of(load: &super::LoadProfile) -> String {
    serde_json::to_string(load).unwrap_or_default()
}

/// Builds rows and applies the rules.
struct Rows<'a> {
    rules: &'a [Rule],
    noise_floor_us: u64,
    rows: Vec<CompareRow>,
    unmatched: Vec<String>,
}

impl Rows<'_> {
    fn pair(&mut self, scope: RowScope, name: &str, b: &Percentiles, n: &Percentiles) {
        for metric in METRICS {
            let (base_us, new_us) = (value(b, metric), value(n, metric));
            let delta = new_us as i64 - base_us as i64;
            let pct = (base_us > 0).then(|| delta as f64 / base_us as f64);
            let mut row = CompareRow {
                scope,
                name: name.to_owned(),
                metric,
                base_us,
                new_us,
                delta_us: delta,
                delta_pct: pct,
                broken: Vec::new(),
            };
            row.broken = self
                .rules
                .iter()
                .filter(|r| r.metric == *metric && r.scope.matches(&row))
                .filter(|r| r.broken_by(delta, pct, self.noise_floor_us))
                .map(|r| r.text.clone())
                .collect();
            self.rows.push(row);
        }
    }

    /// Pairs stats entries by name; an entry one run lacks, or that has no samples in one run,
    /// is noted rather than compared against zeros.
    fn pair_lists(&mut self, scope: RowScope, base: &[&StatsReport], new: &[&StatsReport]) {
        let what = scope.as_str();
        for n in new {
            match base.iter().find(|b| b.name == n.name) {
                Some(b) if b.timed() > 0 && n.timed() > 0 => {
                    self.pair(scope, &n.name, &b.latency, &n.latency);
                }
                Some(b) => {
                    let run = if b.timed() == 0 { "base" } else { "new" };
                    if b.timed() > 0 || n.timed() > 0 {
                        self.unmatched.push(format!(
                            "{what} `{}` has no samples in the {run} run",
                            n.name
                        ));
                    }
                }
                None => self
                    .unmatched
                    .push(format!("{what} `{}` only in the new run", n.name)),
            }
        }
        for b in base
            .iter()
            .filter(|b| !new.iter().any(|n| n.name == b.name))
        {
            self.unmatched
                .push(format!("{what} `{}` only in the base run", b.name));
        }
    }
}

/// Compares `new` against `base`.
pub fn compare(
    base: &RunReport,
    new: &RunReport,
    rules: &[Rule],
    noise_floor_us: u64,
) -> Comparison {
    let mut rows = Rows {
        rules,
        noise_floor_us,
        rows: Vec::new(),
        unmatched: Vec::new(),
    };
    let (b_steps, n_steps): (Vec<_>, Vec<_>) =
        (base.steps.iter().collect(), new.steps.iter().collect());
    rows.pair_lists(RowScope::Step, &b_steps, &n_steps);
    let (b_routes, n_routes): (Vec<_>, Vec<_>) =
        (base.routes.iter().collect(), new.routes.iter().collect());
    rows.pair_lists(RowScope::Route, &b_routes, &n_routes);
    rows.pair_lists(RowScope::Iteration, &[&base.iteration], &[&new.iteration]);
    let (b_flows, n_flows): (Vec<_>, Vec<_>) = (
        flow_iterations(base).collect(),
        flow_iterations(new).collect(),
    );
    // One flow's iterations are the whole iteration: compared only with two flows or more, or
    // when a rule asks for a flow.
    let flow_rule = rules.iter().any(|r| matches!(r.scope, RuleScope::Flow(_)));
    if flow_rule || b_flows.len() > 1 || n_flows.len() > 1 {
        rows.pair_lists(RowScope::Flow, &b_flows, &n_flows);
    }
    if let (Some(bw), Some(nw)) = (&base.webhooks, &new.webhooks) {
        compare_webhooks(bw, nw, &mut rows);
    }
    let unjudged = rules
        .iter()
        .filter(|r| r.scope != RuleScope::All)
        .filter(|r| !rows.rows.iter().any(|row| r.scope.matches(row)))
        .map(|r| {
            format!(
                "`{}`: both runs together measured nothing of {} (see the notes)",
                r.text,
                r.scope.describe()
            )
        })
        .collect();
    Comparison {
        base: base.meta.started_at.clone(),
        new: new.meta.started_at.clone(),
        noise_floor_us,
        warnings: warnings(base, new),
        rows: rows.rows,
        unmatched: rows.unmatched,
        rules: rules.iter().map(|r| r.text.clone()).collect(),
        unjudged,
    }
}

fn lifecycle_levels(
    w: &WebhookReport,
) -> impl Iterator<Item = (&'static str, &super::webhook::LatencySummary)> {
    [
        ("time_to_assign", &w.lifecycle.time_to_assign),
        ("time_in_queue", &w.queue.time_in_queue),
        (
            "time_to_first_agent_reply",
            &w.lifecycle.time_to_first_agent_reply,
        ),
        ("chat_duration", &w.lifecycle.chat_duration),
    ]
    .into_iter()
}

/// The lifecycle service levels and each event's delay, where both runs measured them.
fn compare_webhooks(base: &WebhookReport, new: &WebhookReport, rows: &mut Rows<'_>) {
    for ((name, b), (_, n)) in lifecycle_levels(base).zip(lifecycle_levels(new)) {
        if b.count > 0 && n.count > 0 {
            rows.pair(RowScope::Lifecycle, name, &b.latency, &n.latency);
        }
    }
    for n in &new.events {
        match base.events.iter().find(|b| b.event == n.event) {
            Some(b) if b.delay.count > 0 && n.delay.count > 0 => {
                rows.pair(
                    RowScope::Event,
                    &n.event,
                    &b.delay.latency,
                    &n.delay.latency,
                );
            }
            Some(_) => {}
            None => rows
                .unmatched
                .push(format!("event `{}` only in the new run", n.event)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report_with_p99(step_p99: u64) -> RunReport {
        let mut r: RunReport = serde_json::from_slice(
            &crate::report::json::render(&crate::report::build_sample_report()).unwrap(),
        )
        .unwrap();
        for s in &mut r.steps {
            s.latency.p99_us = step_p99;
        }
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
}
