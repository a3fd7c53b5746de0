//! Raw YAML mirror → validated [`Scenario`], collecting every problem with its
//! file, line and column instead of stopping at the first.
//!
//! The [`Validator`] (shared state of one pass) and [`validate`], which runs
//! the parts in order: `target`, `variables` (and feeds), `workload`,
//! `steps` (each step's `request`, its `typed_steps` and `step_templates`),
//! `think` times, `agents`, `webhook` (and `wait_event` steps), `media`
//! forms and the `rate_limit`. The model (`scenario/*.rs`) never imports
//! this module: validation depends on the model and `raw`, not the other
//! way round.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use super::limits;
use super::problem::{Problem, position};
use super::raw::{DurationText, RawNumber, RawScenario, RawThresholdEntry};
use super::threshold::Threshold;
use super::{Flow, Scenario, VarTable};

mod agents;
mod media;
mod rate_limit;
mod request;
mod step_templates;
mod steps;
mod target;
mod think;
mod typed_steps;
mod variables;
mod webhook;
mod workload;

pub use target::region_url;
pub(super) use think::validate_think;
pub(super) use variables::is_identifier;

/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time in-flight iterations get after the run stops.
pub const DEFAULT_GRACEFUL_STOP: Duration = Duration::from_secs(10);
/// Default cap on concurrent iterations in the open model.
pub const DEFAULT_MAX_VUS: u32 = 1000;

/// Shared state of one validation pass.
pub(super) struct Validator<'a> {
    origin: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    pub(super) problems: Vec<Problem>,
    pub(super) vars: VarTable,
    pub(super) routes: Vec<super::RouteInfo>,
    pub(super) step_names: Vec<(String, String)>,
    pub(super) used_names: HashSet<String>,
    /// The validated `webhooks:` section, for `wait_event` steps.
    pub(super) webhooks: Option<super::webhook::WebhookSpec>,
    /// Whether the file has a `webhooks:` section (valid or not).
    pub(super) has_webhooks: bool,
    /// Unknown-variable problems of the current flow: (problem index, name).
    pub(super) unknown_vars: Vec<(usize, String)>,
    /// Variables captured in the current flow, with the first step capturing each.
    pub(super) captured_at: Vec<(String, String)>,
    /// The scenario file's directory: relative file paths start here.
    pub(super) base_dir: std::path::PathBuf,
}

impl<'a> Validator<'a> {
    pub(super) fn new(origin: &'a str, env: &'a dyn Fn(&str) -> Option<String>) -> Validator<'a> {
        Validator {
            origin,
            env,
            problems: Vec::new(),
            vars: VarTable::default(),
            routes: Vec::new(),
            step_names: Vec::new(),
            used_names: HashSet::new(),
            webhooks: None,
            has_webhooks: false,
            unknown_vars: Vec::new(),
            captured_at: Vec::new(),
            base_dir: std::path::PathBuf::new(),
        }
    }

    pub(super) fn problem(&mut self, at: &Location, path: &str, message: impl Into<String>) {
        let (line, column) = position(at);
        self.problems.push(Problem {
            file: self.origin.to_owned(),
            line,
            column,
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// `text` with `${VAR}`s expanded; `None` (the problem reported) when a
    /// variable is unset or a `${` unclosed, so that nothing more is said of
    /// a half-expanded value.
    pub(super) fn expanded(&mut self, text: &str, at: &Location, path: &str) -> Option<String> {
        let before = self.problems.len();
        let expanded = self.expand_env(text, at, path);
        (self.problems.len() == before).then_some(expanded)
    }

    pub(super) fn duration(
        &mut self,
        text: &DurationText,
        at: &Location,
        path: &str,
    ) -> Option<Duration> {
        self.parsed_duration(text, at, path, parse_duration)
    }

    /// A duration that must be more than zero (timeouts, intervals, run length).
    pub(in crate::scenario) fn positive_duration(
        &mut self,
        text: &DurationText,
        at: &Location,
        path: &str,
    ) -> Option<Duration> {
        self.parsed_duration(text, at, path, limits::parse_positive_duration)
    }

    /// `text`, its `${VAR}`s expanded, read by `parse`; a problem at `at` when it cannot be.
    fn parsed_duration(
        &mut self,
        text: &DurationText,
        at: &Location,
        path: &str,
        parse: fn(&str) -> Result<Duration, String>,
    ) -> Option<Duration> {
        let text = self.expanded(&text.0, at, path)?;
        parse(&text).map_err(|msg| self.problem(at, path, msg)).ok()
    }

    /// A whole number in `min..=max` written at `raw` (absent: `None`).
    pub(in crate::scenario) fn whole(
        &mut self,
        raw: Option<&Spanned<RawNumber>>,
        path: &str,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let raw = raw?;
        let what = path.rsplit('.').next().unwrap_or(path);
        match limits::whole(raw.value.0, what, min, max) {
            Ok(n) => Some(n),
            Err(msg) => {
                self.problem(&raw.referenced, path, msg);
                None
            }
        }
    }

    /// Expands `${VAR}` and `${VAR:-default}` from the environment; `$${`
    /// stands for a literal `${`.
    pub(super) fn expand_env(&mut self, text: &str, at: &Location, path: &str) -> String {
        if !text.contains("${") {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            if rest[..start].ends_with('$') {
                out.push_str(&rest[..start - 1]);
                out.push_str("${");
                rest = &rest[start + 2..];
                continue;
            }
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                self.problem(
                    at,
                    path,
                    "unclosed `${`: expected `${NAME}` or `${NAME:-default}`",
                );
                return out;
            };
            let inner = &after[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            match ((self.env)(name), default) {
                (Some(value), _) if !value.is_empty() => out.push_str(&value),
                (_, Some(d)) => out.push_str(d),
                _ => self.problem(
                    at,
                    path,
                    format!("environment variable `{name}` is not set (write `${{{name}:-default}}` to give a default)"),
                ),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

pub use super::limits::parse_duration;

/// Validates a parsed file. `env` looks environment variables up.
///
/// # Errors
/// Every problem found.
pub fn validate(
    raw: RawScenario,
    origin: &str,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Scenario, Vec<Problem>> {
    let mut v = Validator::new(origin, env);
    v.base_dir = base_dir.to_owned();
    v.has_webhooks = raw.webhooks.is_some();
    let target = target::validate_target(&mut v, raw.target.as_ref(), base_dir);
    v.webhooks = webhook::validate_webhooks(&mut v, raw.webhooks.as_ref());
    variables::declare_variables(&mut v, &raw);
    let feeds = variables::load_feeds(&mut v, &raw, base_dir);
    let load = workload::validate_load(&mut v, &raw.load);
    if let Some(load) = &load {
        variables::check_unique_feeds(&mut v, &raw, &feeds, load);
    }
    let flows = steps::validate_flows(&mut v, &raw);
    let has_webhooks = raw.webhooks.is_some();
    let mut agents = agents::validate_agents(&mut v, raw.agents.as_ref(), has_webhooks);
    if let Some(a) = agents.as_mut() {
        a.register_metrics(&mut v.step_names, &mut v.routes);
    }
    let rate_limit = rate_limit::validate_rate_limit(&mut v, raw.rate_limit.as_ref());
    let thresholds = validate_thresholds(&mut v, &raw.thresholds, &flows);
    match (v.problems.is_empty(), load) {
        (true, Some(load)) => Ok(Scenario {
            name: raw.name,
            description: raw.description,
            file: None,
            seed: raw.seed,
            target,
            vars: std::mem::take(&mut v.vars),
            feeds,
            load,
            flows,
            step_names: std::mem::take(&mut v.step_names),
            routes: std::mem::take(&mut v.routes),
            cleanup: raw.cleanup.unwrap_or(true),
            cleanup_timeout: raw
                .cleanup_timeout
                .as_ref()
                .and_then(|d| v.duration(&d.value, &d.referenced, "cleanup_timeout")),
            thresholds,
            threshold_positions: (raw.thresholds.iter())
                .map(|t| super::problem::position(&t.referenced))
                .collect(),
            agents,
            webhooks: v.webhooks.take(),
            rate_limit,
        }),
        _ => Err(v.problems),
    }
}

/// `thresholds:`, checked against the scenario's steps, routes, webhooks
/// and flows (the agent actors' metrics included).
fn validate_thresholds(
    v: &mut Validator<'_>,
    raw: &[Spanned<RawThresholdEntry>],
    flows: &[Flow],
) -> Vec<Threshold> {
    let mut thresholds = Vec::new();
    let steps: Vec<&str> = v.step_names.iter().map(|(n, _)| n.as_str()).collect();
    // With a `webhooks:` section that has problems of its own, a threshold
    // measured from webhook events is not also reported: the section is
    // there, and its problems say what to fix.
    let invalid_webhooks = v.has_webhooks && v.webhooks.is_none();
    let hidden: Vec<bool> = raw
        .iter()
        .map(|t| {
            let entry = &t.value.0;
            invalid_webhooks
                && super::threshold::parse(&entry.threshold, &steps, entry.abort_on_fail)
                    .is_ok_and(|p| p.subject.needs_webhooks())
        })
        .collect();
    for (i, t) in raw.iter().enumerate() {
        if hidden[i] {
            continue;
        }
        let parsed = super::check_threshold(
            &t.value.0.threshold,
            t.value.0.abort_on_fail,
            &v.step_names,
            &v.routes,
            v.webhooks.as_ref(),
            flows,
        );
        match parsed {
            Ok(mut parsed) => {
                parsed.allow_empty = t.value.0.allow_empty;
                thresholds.push(parsed);
            }
            Err(msg) => v.problem(&t.referenced, &format!("thresholds[{i}]"), msg),
        }
    }
    thresholds
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod step_templates_tests;
