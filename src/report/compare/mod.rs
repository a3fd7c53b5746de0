//! Comparing two runs: per step, route, whole iteration and each flow's
//! iteration, base vs new latency percentiles with absolute and relative
//! deltas, and rules such as `p99 > +10%` or `create_chat.p99 > +20%` that
//! mark a regression. Changes smaller than a noise floor never count, so a
//! 40 µs → 60 µs "50% regression" does not fail a build.
//!
//! Each step, route, iteration and flow also has its error rate compared,
//! and `errors > +1%` marks an error rate that grew by more than 1
//! percentage point. Each run's own verdict is judged again ([`runs`]): with
//! rules given, a new run that failed its own verdict, or a run that measured
//! nothing, fails the comparison; a latency of which every sample failed is
//! not judged (it is the latency of failures); an error rate that rose with
//! no `errors` rule judging it is a warning in the summary.
//!
//! When either run is of the open model, the corrected percentiles are compared too
//! (`p99_corrected`, [`metric`]); rules on them judge only two open-model runs.
//!
//! The comparison also says when the two runs are not alike (different
//! scenarios or load profiles), which rows only one run measured, and which
//! scoped rules found nothing to judge (those fail: no data is never a pass).

mod load;
mod metric;
mod render;
mod rule;
mod runs;
mod webhooks;

use serde::Serialize;

pub use metric::{CORRECTED_METRICS, ERRORS, METRICS, is_corrected};
pub use render::{render_html, render_terminal};
pub use rule::{Rule, RuleScope};
pub use runs::{RunOutcome, RunState};

use metric::{has_corrected, value};
use webhooks::{compare_webhooks, lifecycle_levels};

use super::{Percentiles, RunReport, StatsReport};

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
    /// Every sample failed in this run ("base", "new" or "both"): its latencies are those of
    /// failures, which no rule judges.
    pub failed_only: Option<&'static str>,
}

/// One entry's error rate in both runs (steps, routes, the iteration, flows).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorRow {
    pub scope: RowScope,
    pub name: String,
    /// Failed samples and samples, base run.
    pub base: [u64; 2],
    /// Failed samples and samples, new run.
    pub new: [u64; 2],
    /// `errors` rules this row breaks.
    pub broken: Vec<String>,
    /// Whether an `errors` rule judged it.
    pub judged: bool,
}

impl ErrorRow {
    /// The base and new error rates (fractions).
    pub fn rates(&self) -> [f64; 2] {
        [self.base, self.new].map(rate)
    }

    /// Whether the error rate rose, base to new.
    pub fn rose(&self) -> bool {
        let [b, n] = self.rates();
        n > b
    }
}

/// Failed samples over samples (0 when there are none).
fn rate([errors, count]: [u64; 2]) -> f64 {
    errors as f64 / count.max(1) as f64
}

/// An entry either run has, with whether each run timed samples of it (latency) and counted
/// any (error rate): what a rule that judged nothing is told.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    scope: RowScope,
    name: String,
    timed: [bool; 2],
    counted: [bool; 2],
}

/// The comparison of two runs.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The base run's start (and, merged, how many reports it holds).
    pub base: String,
    /// The new run's, likewise.
    pub new: String,
    pub noise_floor_us: u64,
    /// The runs are not alike: different scenarios or load profiles.
    pub warnings: Vec<String>,
    pub rows: Vec<CompareRow>,
    /// Each entry's error rate in both runs.
    pub errors: Vec<ErrorRow>,
    /// Rows measured by only one run (or by neither), which nothing is compared on.
    pub unmatched: Vec<String>,
    /// Rules given.
    pub rules: Vec<String>,
    /// Scoped rules that matched no row both runs measured, with why; each fails the comparison.
    pub unjudged: Vec<String>,
    /// Each run's own verdict, judged again.
    pub base_run: RunOutcome,
    pub new_run: RunOutcome,
    /// What the runs' own verdicts say against the new run (it failed its verdict, a run
    /// measured nothing); with rules given, each fails the comparison.
    pub run_failures: Vec<String>,
    /// What the summary warns of without failing: a failing baseline, an unknown verdict, an
    /// error rate that rose with no `errors` rule judging it.
    pub run_warnings: Vec<String>,
}

impl Comparison {
    /// Latency rows that break a rule.
    pub fn regressions(&self) -> impl Iterator<Item = &CompareRow> {
        self.rows.iter().filter(|r| !r.broken.is_empty())
    }

    /// Error rows that break an `errors` rule.
    pub fn error_regressions(&self) -> impl Iterator<Item = &ErrorRow> {
        self.errors.iter().filter(|r| !r.broken.is_empty())
    }

    /// Regressions of either kind.
    pub fn regression_count(&self) -> usize {
        self.regressions().count() + self.error_regressions().count()
    }

    /// Whether the comparison fails: a regression, a rule that could not be judged, or (with
    /// rules given) a new run that failed its own verdict or a run that measured nothing.
    pub fn failed(&self) -> bool {
        self.regression_count() > 0
            || !self.unjudged.is_empty()
            || (!self.rules.is_empty() && !self.run_failures.is_empty())
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
        let has_rate = |scope: &RowScope| !matches!(scope, RowScope::Lifecycle | RowScope::Event);
        if hits
            && rule.is_errors()
            && !(known.iter()).any(|(s, name)| has_rate(s) && rule.scope.covers(*s, name))
        {
            return Err(format!(
                "rule `{}`: {} has no error rate: steps, routes, the iteration and flows have one",
                rule.text,
                rule.scope.describe()
            ));
        }
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
    out.extend(load::load_warning(&base.meta, &new.meta));
    out.extend(super::throttle::compare_warning(base, new));
    out
}

/// Builds rows and applies the rules.
struct Rows<'a> {
    rules: &'a [Rule],
    noise_floor_us: u64,
    rows: Vec<CompareRow>,
    errors: Vec<ErrorRow>,
    unmatched: Vec<String>,
    /// Every entry seen, paired or not: what a rule that judged nothing is told.
    seen: Vec<Seen>,
    /// Entries both runs have, timed in the base run and not in the new.
    lost: Vec<String>,
    /// Entries both runs have, counted in the base run and not in the new.
    lost_counted: Vec<String>,
    /// Entries of which every sample failed in a run (scope, name, "base"/"new"/"both").
    failed_only: Vec<(RowScope, String, &'static str)>,
    /// Whether each run (base, new) has corrected latencies ([`has_corrected`]): shown when
    /// either has, judged only when both have.
    corrected: [bool; 2],
}

/// Which run had only failed samples of an entry, if any.
fn failed_only(b: &StatsReport, n: &StatsReport) -> Option<&'static str> {
    let all_failed = |s: &StatsReport| s.count > 0 && s.errors >= s.count;
    match (all_failed(b), all_failed(n)) {
        (true, true) => Some("both"),
        (true, false) => Some("base"),
        (false, true) => Some("new"),
        (false, false) => None,
    }
}

impl Rows<'_> {
    /// One entry's error rate, judged by the `errors` rules in its scope.
    fn pair_errors(&mut self, scope: RowScope, b: &StatsReport, n: &StatsReport) {
        let mut row = ErrorRow {
            scope,
            name: n.name.clone(),
            base: [b.errors, b.count],
            new: [n.errors, n.count],
            broken: Vec::new(),
            judged: false,
        };
        let [base, new] = row.rates();
        let judging =
            || (self.rules.iter()).filter(|r| r.is_errors() && r.scope.covers(scope, &n.name));
        row.judged = judging().next().is_some();
        row.broken = judging()
            .filter(|r| r.broken_by_errors(base, new))
            .map(|r| r.text.clone())
            .collect();
        self.errors.push(row);
    }

    /// The latency rows of an entry; when every sample of one run failed, they are shown and
    /// judged by no rule.
    fn pair_stats(&mut self, scope: RowScope, b: &StatsReport, n: &StatsReport) {
        let failed = failed_only(b, n);
        if let Some(run) = failed {
            self.failed_only.push((scope, n.name.clone(), run));
        }
        let first = self.rows.len();
        self.pair(scope, &n.name, &b.latency, &n.latency);
        if self.corrected.contains(&true) {
            let judged = self.corrected == [true, true];
            self.pair_metrics(
                CORRECTED_METRICS,
                judged,
                scope,
                &n.name,
                [&b.corrected, &n.corrected],
            );
        }
        for row in &mut self.rows[first..] {
            row.failed_only = failed;
            if failed.is_some() {
                row.broken.clear();
            }
        }
    }

    fn pair(&mut self, scope: RowScope, name: &str, b: &Percentiles, n: &Percentiles) {
        self.pair_metrics(METRICS, true, scope, name, [b, n]);
    }

    /// A row per metric of `metrics`, judged by the rules on it when `judged`.
    fn pair_metrics(
        &mut self,
        metrics: &[&'static str],
        judged: bool,
        scope: RowScope,
        name: &str,
        [b, n]: [&Percentiles; 2],
    ) {
        for metric in metrics {
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
                failed_only: None,
            };
            row.broken = self
                .rules
                .iter()
                .filter(|r| judged && r.metric == *metric && r.scope.matches(&row))
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
            let b = base.iter().find(|b| b.name == n.name);
            let (b_timed, b_count) = b.map_or((0, 0), |b| (b.timed(), b.count));
            self.seen.push(Seen {
                scope,
                name: n.name.clone(),
                timed: [b_timed > 0, n.timed() > 0],
                counted: [b_count > 0, n.count > 0],
            });
        }
        for b in base
            .iter()
            .filter(|b| !new.iter().any(|n| n.name == b.name))
        {
            self.seen.push(Seen {
                scope,
                name: b.name.clone(),
                timed: [b.timed() > 0, false],
                counted: [b.count > 0, false],
            });
        }
        for n in new {
            let b = base.iter().find(|b| b.name == n.name);
            if let Some(b) = b {
                if b.count > 0 && n.count > 0 {
                    self.pair_errors(scope, b, n);
                } else if b.count > 0 {
                    self.lost_counted.push(format!("{what} `{}`", n.name));
                }
            }
            match b {
                Some(b) if b.timed() > 0 && n.timed() > 0 => self.pair_stats(scope, b, n),
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

/// A run's name in the header: its start, and for a merged report how many
/// it was merged from (its start is its first report's, which may be the
/// other run's own).
fn run_label(meta: &crate::report::RunMeta) -> String {
    match meta.merged_from.len() {
        0 => meta.started_at.clone(),
        n => format!("{} (merged from {n} reports)", meta.started_at),
    }
}

/// Compares `new` against `base`; `runs` are their own verdicts, judged
/// again by the caller (`verdict::run_outcome`), base first.
pub fn compare(
    base: &RunReport,
    new: &RunReport,
    runs: (RunOutcome, RunOutcome),
    rules: &[Rule],
    noise_floor_us: u64,
) -> Comparison {
    let mut rows = Rows {
        rules,
        noise_floor_us,
        rows: Vec::new(),
        errors: Vec::new(),
        unmatched: Vec::new(),
        seen: Vec::new(),
        lost: Vec::new(),
        lost_counted: Vec::new(),
        failed_only: Vec::new(),
        corrected: [has_corrected(base), has_corrected(new)],
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
    let judged_any = |r: &Rule| {
        if r.is_errors() {
            (rows.errors.iter()).any(|e| r.scope.covers(e.scope, &e.name))
        } else {
            (rows.rows.iter()).any(|row| r.metric == row.metric && r.scope.matches(row))
        }
    };
    // Corrected rules on a run without corrected latencies: not judged, and said why.
    let uncorrected: Vec<String> = rules
        .iter()
        .filter_map(|r| r.uncorrected(rows.corrected))
        .collect();
    let judgeable = |r: &&Rule| !is_corrected(&r.metric) || rows.corrected == [true, true];
    let scoped = rules
        .iter()
        .filter(judgeable)
        .filter(|r| r.scope != RuleScope::All)
        .filter(|r| !judged_any(r))
        .map(|r| r.unjudged(&rows.seen));
    let unscoped = rules
        .iter()
        .filter(judgeable)
        .filter(|r| r.scope == RuleScope::All)
        .filter_map(|r| {
            r.lost(if r.is_errors() {
                &rows.lost_counted
            } else {
                &rows.lost
            })
        });
    let failed_only = rules
        .iter()
        .filter_map(|r| r.failed_only(&rows.failed_only));
    let unjudged = uncorrected
        .into_iter()
        .chain(scoped)
        .chain(unscoped)
        .chain(failed_only)
        .collect();
    let (base_run, new_run) = runs;
    let (run_failures, mut run_warnings) = runs::judge_runs(&base_run, &new_run);
    run_warnings.extend(unjudged_rises(&rows.errors));
    Comparison {
        base: run_label(&base.meta),
        new: run_label(&new.meta),
        noise_floor_us,
        warnings: warnings(base, new),
        rows: rows.rows,
        errors: rows.errors,
        unmatched: rows.unmatched,
        rules: rules.iter().map(|r| r.text.clone()).collect(),
        unjudged,
        base_run,
        new_run,
        run_failures,
        run_warnings,
    }
}

/// The error rates that rose with no `errors` rule judging them, in one warning.
fn unjudged_rises(errors: &[ErrorRow]) -> Option<String> {
    let rises: Vec<String> = (errors.iter())
        .filter(|e| e.rose() && !e.judged)
        .map(|e| {
            let [b, n] = e.rates();
            format!(
                "{} `{}` {} → {} ({} of {})",
                e.scope.as_str(),
                e.name,
                crate::text::format_percent_adaptive(b),
                crate::text::format_percent_adaptive(n),
                e.new[0],
                e.new[1]
            )
        })
        .collect();
    (!rises.is_empty()).then(|| {
        format!(
            "the error rate rose, judged by no `errors` rule: {}",
            rises.join(", ")
        )
    })
}

#[cfg(test)]
pub(crate) mod tests;
