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
        let hits = known
            .iter()
            .any(|(scope, name)| rule.scope.covers(*scope, name));
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
    /// Every entry seen, paired or not, with whether the base and the new
    /// run had samples of it: what a rule that judged nothing is told.
    seen: Vec<(RowScope, String, [bool; 2])>,
    /// Entries both runs have, measured in the base run and not in the new.
    lost: Vec<String>,
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
        // Measured = has a latency sample: a step whose requests were never
        // sent counts but measured nothing.
        for n in new {
            let b = base
                .iter()
                .find(|b| b.name == n.name)
                .map_or(0, |b| b.timed());
            self.seen
                .push((scope, n.name.clone(), [b > 0, n.timed() > 0]));
        }
        for b in base
            .iter()
            .filter(|b| !new.iter().any(|n| n.name == b.name))
        {
            self.seen
                .push((scope, b.name.clone(), [b.timed() > 0, false]));
        }
        for n in new {
            match base.iter().find(|b| b.name == n.name) {
                Some(b) if b.timed() > 0 && n.timed() > 0 => {
                    self.pair(scope, &n.name, &b.latency, &n.latency);
                }
                Some(b) => {
                    let run = if b.timed() == 0 { "base" } else { "new" };
                    if b.timed() > 0 {
                        self.lost.push(format!("{what} `{}`", n.name));
                    }
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
        seen: Vec::new(),
        lost: Vec::new(),
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
    let scoped = rules
        .iter()
        .filter(|r| r.scope != RuleScope::All)
        .filter(|r| !rows.rows.iter().any(|row| r.scope.matches(row)))
        .map(|r| r.unjudged(&rows.seen));
    let unscoped = rules
        .iter()
        .filter(|r| r.scope == RuleScope::All)
        .filter_map(|r| r.lost(&rows.lost));
    let unjudged = scoped.chain(unscoped).collect();
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
        rows.seen.push((
            RowScope::Lifecycle,
            name.to_owned(),
            [b.count > 0, n.count > 0],
        ));
        if b.count > 0 && n.count > 0 {
            rows.pair(RowScope::Lifecycle, name, &b.latency, &n.latency);
        } else if b.count > 0 {
            rows.lost.push(format!("lifecycle `{name}`"));
        }
    }
    for n in &new.events {
        let b = base.events.iter().find(|b| b.event == n.event);
        let b_count = b.map_or(0, |b| b.delay.count);
        rows.seen.push((
            RowScope::Event,
            n.event.clone(),
            [b_count > 0, n.delay.count > 0],
        ));
        match b {
            Some(b) if b.delay.count > 0 && n.delay.count > 0 => {
                rows.pair(
                    RowScope::Event,
                    &n.event,
                    &b.delay.latency,
                    &n.delay.latency,
                );
            }
            Some(b) if b.delay.count > 0 => {
                rows.lost.push(format!("event `{}`", n.event));
            }
            Some(_) => {}
            None => rows
                .unmatched
                .push(format!("event `{}` only in the new run", n.event)),
        }
    }
    for b in (base.events.iter()).filter(|b| !new.events.iter().any(|n| n.event == b.event)) {
        rows.seen
            .push((RowScope::Event, b.event.clone(), [b.delay.count > 0, false]));
    }
}

#[cfg(test)]
mod tests;
