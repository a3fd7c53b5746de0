//! Typed sections of the run report that later stages of a run add to it: the load profile as
//! run, the thresholds as written and the verdict, schema violations, the end-of-run clean-up
//! and the agent actors.
//!
//! Every section is `#[serde(default)]`-friendly: a field added later must default, so reports
//! written before it still parse. No stage writes data a renderer has to parse back by name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::StatsReport;
use super::close_note::OutsideCloses;
use crate::api::Operation;
use crate::schema::SchemaMode;

/// The load model of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadModel {
    /// A fixed number of virtual users looping over the flow.
    #[default]
    Closed,
    /// Arrivals at a rate, independent of responses.
    Open,
}

/// One stage of a ramping load.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StageReport {
    /// How long the stage lasts, in seconds.
    pub duration_secs: f64,
    /// VUs (closed model) or arrivals per second (open model) reached at the end of the stage.
    pub target: f64,
}

/// The load profile as run (after command-line overrides), without secrets.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadProfile {
    /// `closed` or `open`.
    pub model: LoadModel,
    /// Virtual users (closed model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vus: Option<u32>,
    /// Arrivals per second (open model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrival_rate: Option<f64>,
    /// Planned load duration in seconds, if bounded by time.
    pub duration_secs: Option<f64>,
    /// Planned iterations (closed model), if bounded by count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u64>,
    /// Ramping stages, in order (empty for a constant load).
    pub stages: Vec<StageReport>,
    /// How long in-flight iterations may finish after the load phase, in seconds.
    pub graceful_stop_secs: f64,
    /// Most virtual users the open model may use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_vus: Option<u32>,
    /// Arrivals the open model may queue while every VU is busy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backlog: Option<u32>,
    /// This run's shard (`"2/3"`), when the load was split across machines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// What this shard ran of the plan above (which is the whole run's), when the load was
    /// split across machines; absent for a whole run and in reports written before it existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard_share: Option<ShardShare>,
    /// The request timeout the client used, in seconds (`None` in reports older than v2).
    pub request_timeout_secs: Option<f64>,
    /// How many whole runs of this plan a merged report holds, when `chatload merge` put
    /// unsharded runs side by side (several machines each running the whole load): the
    /// plan above is each one's. Absent for one run or one run's shards.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs_side_by_side: Option<u32>,
}

/// One shard's own part of a split load plan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShardShare {
    /// Virtual users of the whole run this shard runs (closed model): every N-th, from its
    /// shard number on, with their whole-run numbers and start and stop times.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vus: Option<u64>,
    /// The most of them running at once (closed model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_vus: Option<u32>,
    /// This shard's part of the planned iterations (closed model with `iterations`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u64>,
    /// This shard's part of `max_vus` (open model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_vus: Option<u32>,
    /// This shard's part of `backlog` (open model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backlog: Option<u32>,
}

impl LoadProfile {
    /// The plan itself, without what only one shard's run says of it (which shard it was and
    /// its share) nor how many runs a merged report put side by side: the same for every
    /// shard of one run, and for runs of one plan side by side.
    pub fn plan(&self) -> LoadProfile {
        LoadProfile {
            shard: None,
            shard_share: None,
            runs_side_by_side: None,
            ..self.clone()
        }
    }

    /// How many whole runs a report holds: `runs_side_by_side`, else 1.
    pub fn runs(&self) -> u32 {
        self.runs_side_by_side.unwrap_or(1)
    }
}

/// A threshold as written in the scenario or on the command line, and whether
/// it stopped the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThresholdDef {
    /// The expression (`create_chat.p99 < 300ms`).
    pub threshold: String,
    /// Stop the run as soon as it fails.
    pub abort_on_fail: bool,
    /// Pass (rather than fail) when its metric has no data.
    pub allow_empty: bool,
    /// Set when this `abort_on_fail` threshold failed while the run went on
    /// and stopped it: it then fails the verdict whatever the end figures say
    /// (absent otherwise, and in reports written before it was recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_run: Option<ThresholdStop>,
}

impl ThresholdDef {
    /// Whether `other` is the same threshold as written (what stopped a run aside).
    pub fn same_definition(&self, other: &ThresholdDef) -> bool {
        self.threshold == other.threshold
            && self.abort_on_fail == other.abort_on_fail
            && self.allow_empty == other.allow_empty
    }
}

/// When and on what value an `abort_on_fail` threshold stopped the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ThresholdStop {
    /// Seconds from the start of the load to the check that failed.
    pub at_secs: f64,
    /// The metric's value then (a ratio for rates, as `actual`).
    pub measured: f64,
}

/// The outcome of one threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdStatus {
    /// The measured value meets the limit.
    Pass,
    /// The measured value misses the limit.
    Fail,
    /// Nothing was measured (the step never ran, a rate over zero requests, ...).
    NoData,
    /// A shard's threshold on a whole-run count or rate that its own part
    /// cannot decide: judged on the merged run (`chatload merge`), neither a
    /// pass nor a failure of the shard (`passed` is false, and the shard's
    /// verdict does not count it).
    Deferred,
}

impl ThresholdStatus {
    /// How people read it: `pass`, `FAIL`, `no data`.
    pub fn label(self) -> &'static str {
        match self {
            ThresholdStatus::Pass => "pass",
            ThresholdStatus::Fail => "FAIL",
            ThresholdStatus::NoData => "no data",
            ThresholdStatus::Deferred => "merge",
        }
    }
}

/// One threshold's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// The expression as written.
    pub threshold: String,
    /// Pass, fail or no data.
    pub status: ThresholdStatus,
    /// Whether this threshold lets the run pass: `status == pass`, or no data with
    /// `allow_empty: true`; false when deferred to the merged run (not a pass).
    pub passed: bool,
    /// The measured value in the threshold's unit (µs, fraction or plain), if any data existed.
    pub actual: Option<f64>,
    /// `"measured 412 ms, required < 300 ms"` or `"no data: ..."`.
    pub message: String,
}

/// What decided the verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// The scenario's thresholds (failing steps are informational).
    Thresholds,
    /// No thresholds: every step must pass and no iteration may fail.
    #[default]
    Steps,
}

/// The verdict of a run: computed by `verdict::judge` only, and the one source of the exit
/// code, the summary's last lines, the HTML badge and the JUnit failures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Verdict {
    /// Whether the run passed.
    pub passed: bool,
    /// Thresholds or, without any, the steps.
    pub decided_by: DecidedBy,
    /// Every threshold's outcome, in the order written.
    pub thresholds: Vec<ThresholdResult>,
    /// Why the run failed, one sentence each (empty when it passed).
    pub reasons: Vec<String>,
    /// Every request failed to connect: the target was unreachable (exit 3, not 1). In a
    /// merged run: the merged requests, or those of any one merged shard or run.
    pub target_unreachable: bool,
    /// A signal (SIGINT, SIGTERM) stopped the run (exit 130).
    pub interrupted: bool,
}

/// One response that broke its schema.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ViolationSample {
    /// HTTP status of the response.
    pub status: u16,
    /// JSON pointer into the body (`/chat/id`), empty for the whole body.
    pub path: String,
    /// What was wrong.
    pub reason: String,
}

/// One route's schema violations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteViolations {
    /// Violations counted.
    pub count: u64,
    /// The first few, as examples.
    pub samples: Vec<ViolationSample>,
}

impl From<&crate::schema::RouteViolations> for RouteViolations {
    fn from(v: &crate::schema::RouteViolations) -> Self {
        RouteViolations {
            count: v.count,
            samples: v
                .samples
                .iter()
                .map(|s| ViolationSample {
                    status: s.status,
                    path: s.path.clone(),
                    reason: s.reason.clone(),
                })
                .collect(),
        }
    }
}

/// Response-schema checking of the run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SchemaReport {
    /// `all`, `off` or `sample=RATIO`, as given with `--schema`.
    pub mode: String,
    /// Violations over all routes.
    pub violations: u64,
    /// Responses checked against the schemas (sampled ones with
    /// `sample=RATIO`); `None` in reports written before it was counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked: Option<u64>,
    /// Responses checked per route, every route of the run (0 for a route
    /// none of whose responses was checked: never called, missed by
    /// `sample=RATIO`, or no response to check); `None` in reports written
    /// before it was counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_by_route: Option<BTreeMap<String, u64>>,
    /// Violations per route (routes without any are absent).
    pub routes: BTreeMap<String, RouteViolations>,
}

impl SchemaReport {
    /// Why no response of the run was checked against the API's schemas
    /// (`--schema off` or `sample=0`, or no response sampled or received:
    /// `checked` is 0), or `None` when responses were checked. The verdict
    /// reads a `schema_violations` threshold as no data then, and JUnit
    /// skips the route schema cases, both with this reason.
    pub fn not_checked(&self) -> Option<String> {
        let unchecked = match SchemaMode::parse(&self.mode) {
            Ok(SchemaMode::Off) => true,
            Ok(SchemaMode::Sample(ratio)) => ratio <= 0.0,
            _ => false,
        };
        let reason = |detail: &str| {
            format!(
                "no response was checked against the API's schemas (--schema {}{detail})",
                self.mode
            )
        };
        if unchecked {
            Some(reason(""))
        } else if self.checked == Some(0) {
            Some(reason(": 0 responses checked"))
        } else {
            None
        }
    }

    /// With `--schema sample=R`, how much of `of` responses the sampling
    /// checked (`sampled: 7 of the 58 response(s) received were checked
    /// (--schema sample=0.05)`): a
    /// pass it earned is labelled as sampled. `None` when every response is
    /// checked (or none is).
    pub fn sampled_note(&self, checked: u64, of: u64) -> Option<String> {
        matches!(SchemaMode::parse(&self.mode), Ok(SchemaMode::Sample(r)) if r > 0.0 && r < 1.0)
            .then(|| {
                format!(
                    "sampled: {checked} of the {of} response(s) received were checked \
                     (--schema {})",
                    self.mode
                )
            })
    }

    /// Why no response of `route` was checked, or `None` when some was
    /// (or, in a report written before per-route counts, when the route
    /// was called at all in a run that checked responses). A route's schema
    /// check that checked nothing is no pass: JUnit skips its case with
    /// this reason, and the summaries list it.
    pub fn route_not_checked(
        &self,
        route: &StatsReport,
        outside: &OutsideCloses,
    ) -> Option<String> {
        if let Some(why) = self.not_checked() {
            return Some(why);
        }
        self.route_unchecked(route, outside)
            .map(|why| format!("no response of this route was checked: {why}"))
    }

    /// The routes of `routes` none of whose responses was checked, in a
    /// run that checked some, each with why (`never called`, ...): what
    /// the terminal and HTML summaries list.
    pub fn unchecked_routes<'a>(
        &self,
        routes: &'a [StatsReport],
        outside: &OutsideCloses,
    ) -> Vec<(&'a str, String)> {
        if self.not_checked().is_some() {
            return Vec::new();
        }
        routes
            .iter()
            .filter_map(|r| Some((r.name.as_str(), self.route_unchecked(r, outside)?)))
            .collect()
    }

    /// Why no response of `route` was checked, in a run that checked
    /// responses; `None` when some was, or when an older report cannot tell.
    /// The close route no step called says which closes outside the steps
    /// (`outside`) reached it.
    fn route_unchecked(&self, route: &StatsReport, outside: &OutsideCloses) -> Option<String> {
        let count = route.count;
        let checked = match &self.checked_by_route {
            Some(by_route) => by_route.get(&route.name).copied().unwrap_or(0),
            // Older report: only a route never called is known unchecked.
            None if count == 0 => 0,
            None => return None,
        };
        if checked > 0 {
            return None;
        }
        // The agent actors' requests are never checked.
        let agents = route.connection.as_ref().map_or(0, |c| c.pooled);
        let users = count.saturating_sub(agents);
        Some(
            if count == 0 && route.name == Operation::CloseChat.route_key() {
                outside.note()
            } else if count == 0 {
                "never called".to_owned()
            } else if users == 0 {
                format!("its {count} request(s) were the agent actors', which are not checked")
            } else if matches!(SchemaMode::parse(&self.mode), Ok(SchemaMode::Sample(_))) {
                format!(
                    "sampling checked none of the virtual users' {users} request(s) (--schema {})",
                    self.mode
                )
            } else if route.statuses.values().sum::<u64>() == 0 {
                format!("none of its {count} request(s) got a response")
            } else {
                "the spec gives no schema for the responses it got".to_owned()
            },
        )
    }
}

/// At most this many ids of chats left open are kept in a report (`left_open` counts all).
pub const MAX_LEFT_OPEN_IDS: usize = 1000;

/// At most this many of them are named on the summary's `clean-up` line (and the JUnit
/// case's); the JSON and HTML reports list every id kept.
pub const SHOWN_LEFT_OPEN_IDS: usize = 5;

/// Why the clean-up ended before it tried every chat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CleanupStopReason {
    /// Its time limit (`cleanup_timeout`, else `graceful_stop`) ran out.
    TimeLimit,
    /// A Ctrl-C/SIGTERM: one after the load and its drain (which leaves the
    /// figures complete and the verdict as it is), or a second one.
    Signal,
    /// The clean-up was off (`--no-cleanup`, `cleanup: false`): every chat left open.
    Disabled,
}

/// The end-of-run clean-up: chats iterations left open, and what became of them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CleanupReport {
    /// Chats left open by iterations that did not finish (all to be closed).
    pub attempted: u64,
    /// Closed (or already closed).
    pub closed: u64,
    /// Close requests that failed.
    pub failed: u64,
    /// Chats still open after the clean-up: failed, cut off, or never tried.
    pub left_open: u64,
    /// Their ids, sorted (at most [`MAX_LEFT_OPEN_IDS`]).
    pub left_open_ids: Vec<String>,
    /// Set when the clean-up ended before it tried every chat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<CleanupStopReason>,
    /// Its time limit, in seconds.
    pub limit_secs: f64,
}

impl CleanupReport {
    /// Adds `o` to these counts (ids appended, up to the cap; the first stop reason kept).
    pub fn add(&mut self, o: &CleanupReport) {
        self.attempted += o.attempted;
        self.closed += o.closed;
        self.failed += o.failed;
        self.left_open += o.left_open;
        let room = MAX_LEFT_OPEN_IDS.saturating_sub(self.left_open_ids.len());
        self.left_open_ids
            .extend(o.left_open_ids.iter().take(room).cloned());
        self.stopped = self.stopped.or(o.stopped);
        self.limit_secs = self.limit_secs.max(o.limit_secs);
    }

    /// One line for the terminal and JUnit: the counts, why it stopped, the ids left open.
    pub fn summary(&self) -> String {
        if self.attempted == 0 && self.stopped.is_none() {
            return "no chat was left open by the load: nothing to close".to_owned();
        }
        let mut line = format!(
            "{} chat(s) left open by the load: {} closed, {} failed, {} still open",
            self.attempted, self.closed, self.failed, self.left_open
        );
        match self.stopped {
            Some(CleanupStopReason::TimeLimit) => line.push_str(&format!(
                " (stopped at its {}s time limit)",
                self.limit_secs
            )),
            Some(CleanupStopReason::Signal) => line.push_str(" (stopped by a signal)"),
            Some(CleanupStopReason::Disabled) => {
                line.push_str(" (clean-up off: --no-cleanup or cleanup: false)");
            }
            None => {}
        }
        if !self.left_open_ids.is_empty() {
            line.push_str(&self.named_ids());
        }
        line
    }

    /// ": a, b, c", the first [`SHOWN_LEFT_OPEN_IDS`] ids, then how many more and where
    /// they are listed (the report keeps at most [`MAX_LEFT_OPEN_IDS`]).
    fn named_ids(&self) -> String {
        let kept = self.left_open_ids.len();
        let shown = kept.min(SHOWN_LEFT_OPEN_IDS);
        let mut text = format!(": {}", self.left_open_ids[..shown].join(", "));
        let more = self.left_open.saturating_sub(shown as u64);
        if more == 0 {
            return text;
        }
        text.push_str(&format!(" and {more} more"));
        if kept > shown && kept as u64 >= self.left_open {
            text.push_str(" (all in the JSON report: cleanup.left_open_ids)");
        } else if kept > shown {
            text.push_str(&format!(
                " (the JSON report's cleanup.left_open_ids lists the first {kept} of {})",
                self.left_open
            ));
        }
        text
    }
}

/// Counts of one agent actor, or of the whole pool.
///
/// `C` is `u64` in the report; the running actors count in relaxed `AtomicU64`s
/// (`agents::state::Counters`) and are read into numbers once, at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentCounts<C = u64> {
    /// `invitations:new` events answered (duplicates not counted).
    pub invitations: C,
    pub accepted: C,
    /// Rejections the API confirmed, whatever the reason.
    pub rejected: C,
    /// Of `rejected`: because every slot was taken.
    pub rejected_full: C,
    /// Invitations that ended without an answer because the chat ended or
    /// the invitation moved on first: during the accept delay (no call was
    /// made), or the accept/reject call answered `409` (also in `overtaken`).
    pub withdrawn: C,
    /// Invitations left unanswered: the run stopped the actor during the
    /// accept delay, or the accept/reject call failed (also in `errors`).
    /// `invitations == accepted + rejected + withdrawn + unanswered`.
    pub unanswered: C,
    pub replies: C,
    /// Chats that were active and ended (closed, or left by the agent).
    pub chats_handled: C,
    /// Chats left after `leave_after` replies.
    pub left: C,
    pub breaks: C,
    /// `chats:assign` answers naming this agent.
    pub assigned: C,
    /// Failed API calls (any action, logout included), overtaken ones aside.
    pub errors: C,
    /// Accepts, rejects, replies and leaves answered `409` because the chat
    /// closed or the invitation moved on meanwhile (not failures).
    pub overtaken: C,
    /// Slots freed because `GET /chats/{chatId}` said the chat had ended
    /// before its `chats:close` reached the actor (checked when an
    /// invitation finds every slot taken).
    pub reclaimed: C,
}

impl<C> AgentCounts<C> {
    /// Calls `f` on each counter with the same counter of `other`: with the struct, the
    /// only place that lists the counters.
    pub fn zip_each<D>(&mut self, other: &AgentCounts<D>, mut f: impl FnMut(&mut C, &D)) {
        f(&mut self.invitations, &other.invitations);
        f(&mut self.accepted, &other.accepted);
        f(&mut self.rejected, &other.rejected);
        f(&mut self.rejected_full, &other.rejected_full);
        f(&mut self.withdrawn, &other.withdrawn);
        f(&mut self.unanswered, &other.unanswered);
        f(&mut self.replies, &other.replies);
        f(&mut self.chats_handled, &other.chats_handled);
        f(&mut self.left, &other.left);
        f(&mut self.breaks, &other.breaks);
        f(&mut self.assigned, &other.assigned);
        f(&mut self.errors, &other.errors);
        f(&mut self.overtaken, &other.overtaken);
        f(&mut self.reclaimed, &other.reclaimed);
    }
}

impl AgentCounts {
    /// Adds `o` to these counts.
    pub fn add(&mut self, o: &AgentCounts) {
        self.zip_each(o, |a, b| *a += b);
    }
}

/// One agent actor at the end of the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActorSummary {
    pub agent_id: String,
    #[serde(flatten)]
    pub counts: AgentCounts,
    /// Chats accepted and not ended when the counts were taken (after the
    /// settle wait): `chats_handled + active_at_stop == accepted`.
    pub active_at_stop: u32,
    pub logged_out: bool,
}

/// What the agent actors did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentSummary {
    /// Counts over every actor (and every shard, when merged).
    pub totals: AgentCounts,
    /// Each actor.
    pub actors: Vec<ActorSummary>,
}

impl AgentSummary {
    /// Adds `o`'s totals to these and lists its actors after these.
    pub fn add(&mut self, o: &AgentSummary) {
        self.totals.add(&o.totals);
        self.actors.extend(o.actors.iter().cloned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cleanup(ids: &[&str], stopped: Option<CleanupStopReason>) -> CleanupReport {
        CleanupReport {
            attempted: ids.len() as u64 + 1,
            closed: 1,
            failed: 0,
            left_open: ids.len() as u64,
            left_open_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
            stopped,
            limit_secs: 2.0,
        }
    }

    #[test]
    fn a_clean_up_with_nothing_to_close_says_so() {
        let nothing = CleanupReport {
            limit_secs: 10.0,
            ..CleanupReport::default()
        };
        assert_eq!(
            nothing.summary(),
            "no chat was left open by the load: nothing to close"
        );
    }

    // See: issue 13 point 3 — `--no-cleanup` left chats open without naming them.
    #[test]
    fn a_clean_up_that_was_off_names_every_chat_it_left_open() {
        let off = CleanupReport {
            attempted: 2,
            closed: 0,
            ..cleanup(&["a", "b"], Some(CleanupStopReason::Disabled))
        };
        assert_eq!(
            off.summary(),
            "2 chat(s) left open by the load: 0 closed, 0 failed, 2 still open \
             (clean-up off: --no-cleanup or cleanup: false): a, b"
        );
    }

    #[test]
    fn merged_clean_ups_add_counts_and_keep_every_id_left_open() {
        let mut merged = cleanup(&["a"], None);
        merged.add(&cleanup(&["b", "c"], Some(CleanupStopReason::Signal)));
        assert_eq!(
            (merged.attempted, merged.closed, merged.left_open),
            (5, 2, 3)
        );
        assert_eq!(merged.left_open_ids, ["a", "b", "c"]);
        assert_eq!(merged.stopped, Some(CleanupStopReason::Signal));
        assert_eq!(
            merged.summary(),
            "5 chat(s) left open by the load: 2 closed, 0 failed, 3 still open \
             (stopped by a signal): a, b, c"
        );
    }

    #[test]
    fn ids_past_the_cap_are_counted_not_listed() {
        let many: Vec<String> = (0..MAX_LEFT_OPEN_IDS).map(|i| format!("c{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let mut merged = cleanup(&many, Some(CleanupStopReason::TimeLimit));
        merged.add(&cleanup(&["x", "y"], None));
        assert_eq!(merged.left_open_ids.len(), MAX_LEFT_OPEN_IDS);
        assert_eq!(merged.left_open, MAX_LEFT_OPEN_IDS as u64 + 2);
        assert!(
            merged.summary().ends_with(
                ": c0, c1, c2, c3, c4 and 997 more (the JSON report's \
                 cleanup.left_open_ids lists the first 1000 of 1002)"
            ),
            "{}",
            merged.summary()
        );
        assert!(merged.summary().contains("(stopped at its 2s time limit)"));
    }

    // See: outside audit 10, F9 — a double Ctrl-C at 2,000 VUs put 1,000 ids on the
    // summary's one `clean-up` line (9 KB); it names five and says where the rest are.
    #[test]
    fn the_summary_names_a_few_ids_and_points_at_the_json_for_the_rest() {
        let ids: Vec<String> = (0..12).map(|i| format!("c-{i:02}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let line = cleanup(&ids, Some(CleanupStopReason::Signal)).summary();
        assert!(
            line.ends_with(
                "(stopped by a signal): c-00, c-01, c-02, c-03, c-04 and 7 more \
                 (all in the JSON report: cleanup.left_open_ids)"
            ),
            "{line}"
        );
        let five = cleanup(&ids[..5], None).summary();
        assert!(five.ends_with(": c-00, c-01, c-02, c-03, c-04"), "{five}");
    }
}
