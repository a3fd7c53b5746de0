//! Raw YAML mirror → validated [`Scenario`], collecting every problem with its
//! file, line and column instead of stopping at the first.
//!
//! Settings: target (with `${ENV}` references), variables, feeds and the
//! workload. Steps are turned into requests in `steps.rs`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use serde_saphyr::{Location, Spanned};

use super::limits::{self, MAX_BACKLOG, MAX_ITERATIONS, MAX_VUS};
use super::load::{Problem, position};
use super::raw::{DurationText, RawLoad, RawNumber, RawScenario, RawTarget, RawThink};
use super::{
    Feed, FeedMode, HttpVersion, Scenario, Secret, Stage, TargetSpec, Think, VarTable, Workload,
};

mod step_templates;
mod steps;
mod typed_steps;

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

    pub(super) fn duration(
        &mut self,
        text: &DurationText,
        at: &Location,
        path: &str,
    ) -> Option<Duration> {
        match parse_duration(&text.0) {
            Ok(d) => Some(d),
            Err(msg) => {
                self.problem(at, path, msg);
                None
            }
        }
    }

    /// A duration that must be more than zero (timeouts, intervals, run length).
    pub(in crate::scenario) fn positive_duration(
        &mut self,
        text: &DurationText,
        at: &Location,
        path: &str,
    ) -> Option<Duration> {
        match limits::parse_positive_duration(&text.0) {
            Ok(d) => Some(d),
            Err(msg) => {
                self.problem(at, path, msg);
                None
            }
        }
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
    let target = validate_target(&mut v, raw.target.as_ref(), base_dir);
    v.webhooks = super::webhook::validate_webhooks(&mut v, raw.webhooks.as_ref());
    declare_variables(&mut v, &raw);
    let feeds = load_feeds(&mut v, &raw, base_dir);
    let load = validate_load(&mut v, &raw.load);
    if let (Some(Workload::Closed { vus, stages, .. }), false) = (&load, feeds.is_empty()) {
        let peak = stages
            .iter()
            .map(|s| s.target.ceil() as u32)
            .max()
            .unwrap_or(0)
            .max(*vus);
        for feed in feeds
            .iter()
            .filter(|f| f.mode == FeedMode::Unique && (f.rows.len() as u32) < peak)
        {
            let at = raw.feeds[&feed.name].referenced;
            let message = format!(
                "feed `{}` is `unique` but has {} rows for up to {peak} virtual users",
                feed.name,
                feed.rows.len()
            );
            v.problem(&at, &format!("feeds.{}", feed.name), message);
        }
    }
    let flows = steps::validate_flows(&mut v, &raw);
    let has_webhooks = raw.webhooks.is_some();
    let mut agents = super::agents::validate_agents(&mut v, raw.agents.as_ref(), has_webhooks);
    if let Some(a) = agents.as_mut() {
        a.register_metrics(&mut v.step_names, &mut v.routes);
    }
    let rate_limit = super::rate_limit::validate_rate_limit(&mut v, raw.rate_limit.as_ref());
    let mut thresholds = Vec::new();
    for (i, t) in raw.thresholds.iter().enumerate() {
        let parsed = super::check_threshold(
            &t.value.0.threshold,
            t.value.0.abort_on_fail,
            &v.step_names,
            &v.routes,
            v.webhooks.as_ref(),
            &flows,
        );
        match parsed {
            Ok(mut parsed) => {
                parsed.allow_empty = t.value.0.allow_empty;
                thresholds.push(parsed);
            }
            Err(msg) => v.problem(&t.referenced, &format!("thresholds[{i}]"), msg),
        }
    }
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
            agents,
            webhooks: v.webhooks.take(),
            rate_limit,
        }),
        _ => Err(v.problems),
    }
}

fn validate_target(
    v: &mut Validator<'_>,
    raw: Option<&Spanned<RawTarget>>,
    base_dir: &Path,
) -> TargetSpec {
    let default = RawTarget::default();
    let (t, at) = match raw {
        Some(s) => (&s.value, s.referenced),
        None => (&default, Location::UNKNOWN),
    };
    let field = |v: &mut Validator<'_>, value: &Option<String>, name: &str, env_name: &str| {
        let path = format!("target.{name}");
        value
            .as_deref()
            .map(|text| v.expand_env(text, &at, &path))
            .or_else(|| (v.env)(env_name))
            .filter(|s| !s.is_empty())
    };
    let base_url = field(v, &t.base_url, "base_url", "CHATLOAD_BASE_URL");
    let region = field(v, &t.region, "region", "CHATLOAD_REGION");
    let version = field(v, &t.version, "version", "CHATLOAD_API_VERSION");
    let base_url = match (base_url, region) {
        (Some(url), _) => Some(url),
        (None, Some(region)) => match region_url(&region, version.as_deref().unwrap_or("v1")) {
            Ok(url) => Some(url),
            Err(msg) => {
                v.problem(&at, "target.region", msg);
                None
            }
        },
        (None, None) => None,
    };
    let app_id = field(v, &t.app_id, "app_id", "CHATLOAD_APP_ID").map(Secret::new);
    let secret = field(v, &t.secret, "secret", "CHATLOAD_SECRET").map(Secret::new);
    let domain_key = field(v, &t.domain_key, "domain_key", "CHATLOAD_DOMAIN_KEY").map(Secret::new);
    let headers = t
        .headers
        .iter()
        .map(|(k, val)| {
            (
                k.clone(),
                v.expand_env(val, &at, &format!("target.headers.{k}")),
            )
        })
        .collect();
    let timeout = t
        .timeout
        .as_ref()
        .and_then(|s| v.positive_duration(&s.value, &s.referenced, "target.timeout"))
        .unwrap_or(DEFAULT_TIMEOUT);
    let (ca_cert, http) = validate_tls(v, t, &at, base_dir);
    TargetSpec {
        base_url,
        app_id,
        secret,
        domain_key,
        headers,
        timeout,
        ca_cert,
        insecure: t.insecure.unwrap_or(false),
        http,
    }
}

/// `target.ca_cert` (an existing file, relative to the scenario) and `target.http`.
fn validate_tls(
    v: &mut Validator<'_>,
    t: &RawTarget,
    at: &Location,
    base_dir: &Path,
) -> (Option<PathBuf>, HttpVersion) {
    let ca_cert = t.ca_cert.as_deref().and_then(|text| {
        let path = base_dir.join(v.expand_env(text, at, "target.ca_cert"));
        if path.is_file() {
            Some(path)
        } else {
            v.problem(
                at,
                "target.ca_cert",
                format!("no CA certificate file at {}", path.display()),
            );
            None
        }
    });
    let http = match &t.http {
        None => HttpVersion::Auto,
        Some(value) => {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            HttpVersion::parse(&text).unwrap_or_else(|e| {
                v.problem(at, "target.http", e);
                HttpVersion::Auto
            })
        }
    };
    (ca_cert, http)
}

/// `https://agentchat-{region}.inbenta.chat:8000/{version}`.
///
/// # Errors
/// A region other than `eu` or `us`.
pub fn region_url(region: &str, version: &str) -> Result<String, String> {
    match region {
        "eu" | "us" => Ok(format!(
            "https://agentchat-{region}.inbenta.chat:8000/{version}"
        )),
        other => Err(format!("unknown region `{other}`: expected eu or us")),
    }
}

fn declare_variables(v: &mut Validator<'_>, raw: &RawScenario) {
    let (target, at) = match &raw.target {
        Some(s) => (Some(&s.value), s.referenced),
        None => (None, Location::UNKNOWN),
    };
    let room = target
        .and_then(|t| t.room.clone())
        .unwrap_or(Value::from(1));
    v.vars.intern("room", Some(room));
    if let Some(lang) = target.and_then(|t| t.lang.clone()) {
        v.vars.intern("lang", Some(Value::String(lang)));
    }
    for (name, value) in &raw.variables {
        let value = match value {
            Value::String(s) => Value::String(v.expand_env(s, &at, &format!("variables.{name}"))),
            other => other.clone(),
        };
        if !is_identifier(name) {
            v.problem(
                &at,
                &format!("variables.{name}"),
                "variable names are letters, digits and `_`",
            );
        }
        v.vars.intern(name, Some(value));
    }
}

pub(super) fn is_identifier(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn load_feeds(v: &mut Validator<'_>, raw: &RawScenario, base_dir: &Path) -> Vec<Feed> {
    let mut feeds = Vec::new();
    for (name, spanned) in &raw.feeds {
        let path = format!("feeds.{name}");
        let at = spanned.referenced;
        let mode = spanned.value.mode.as_deref().unwrap_or("sequential");
        let Some(mode) = FeedMode::parse(mode) else {
            v.problem(
                &at,
                &path,
                format!("unknown feed mode `{mode}`: expected sequential, random or unique"),
            );
            continue;
        };
        match Feed::load(name, &base_dir.join(&spanned.value.file), mode) {
            Ok(feed) => {
                for (column, header) in feed.columns.iter().enumerate() {
                    let id = v.vars.intern(&format!("feed.{name}.{header}"), None);
                    v.vars.feed_slots.push((id, feeds.len(), column));
                }
                feeds.push(feed);
            }
            Err(msg) => v.problem(&at, &path, msg),
        }
    }
    feeds
}

fn validate_load(v: &mut Validator<'_>, raw: &Spanned<RawLoad>) -> Option<Workload> {
    let at = raw.referenced;
    let l = &raw.value;
    let duration = l
        .duration
        .as_ref()
        .and_then(|d| v.positive_duration(&d.value, &d.referenced, "load.duration"));
    let graceful_stop = l
        .graceful_stop
        .as_ref()
        .and_then(|d| v.duration(&d.value, &d.referenced, "load.graceful_stop"))
        .unwrap_or(DEFAULT_GRACEFUL_STOP);
    let model = match l.model.as_deref() {
        Some("closed") => "closed",
        Some("open") => "open",
        None if l.arrival_rate.is_some() => "open",
        None => "closed",
        Some(other) => {
            v.problem(
                &at,
                "load.model",
                format!("unknown model `{other}`: expected closed or open"),
            );
            return None;
        }
    };
    let stages = validate_stages(v, l, model == "open");
    let has_stages = l.stages.is_some();
    if model == "closed" {
        for (field, set) in [
            ("arrival_rate", l.arrival_rate.is_some()),
            ("max_vus", l.max_vus.is_some()),
            ("backlog", l.backlog.is_some()),
        ] {
            if set {
                v.problem(
                    &at,
                    &format!("load.{field}"),
                    format!("`{field}` belongs to the open model (set `model: open`)"),
                );
            }
        }
        if l.duration.is_none() && l.iterations.is_none() && !has_stages {
            v.problem(
                &at,
                "load",
                "the closed model needs `duration`, `iterations` or `stages`",
            );
        }
        let min_vus = u64::from(!has_stages);
        let vus = v
            .whole(l.vus.as_ref(), "load.vus", min_vus, MAX_VUS)
            .unwrap_or(min_vus) as u32;
        let iterations = v.whole(l.iterations.as_ref(), "load.iterations", 1, MAX_ITERATIONS);
        Some(Workload::Closed {
            vus,
            duration,
            iterations,
            stages,
            graceful_stop,
        })
    } else {
        for (field, set) in [
            ("vus", l.vus.is_some()),
            ("iterations", l.iterations.is_some()),
        ] {
            if set {
                v.problem(&at, &format!("load.{field}"), format!("`{field}` belongs to the closed model; the open model uses arrival_rate and max_vus"));
            }
        }
        let rate = match &l.arrival_rate {
            Some(r) => match limits::rate(r.value.0, "arrival_rate") {
                Ok(rate) => rate,
                Err(msg) => {
                    v.problem(&r.referenced, "load.arrival_rate", msg);
                    1.0
                }
            },
            None => 0.0,
        };
        if rate == 0.0 && !has_stages {
            v.problem(
                &at,
                "load.arrival_rate",
                "the open model needs arrival_rate > 0 (iterations per second) or stages",
            );
        }
        if l.duration.is_none() && !has_stages {
            v.problem(&at, "load", "the open model needs `duration` or `stages`");
        }
        let max_vus = v
            .whole(l.max_vus.as_ref(), "load.max_vus", 1, MAX_VUS)
            .map_or(DEFAULT_MAX_VUS, |n| n as u32);
        let backlog = v
            .whole(l.backlog.as_ref(), "load.backlog", 0, MAX_BACKLOG)
            .map_or(max_vus, |n| n as u32);
        Some(Workload::Open {
            rate_per_sec: rate,
            duration,
            stages,
            max_vus,
            backlog,
            graceful_stop,
        })
    }
}

/// Ramp stages: each target is VUs (closed) or arrivals per second (open),
/// within the same bounds as `vus` and `arrival_rate`.
fn validate_stages(v: &mut Validator<'_>, l: &RawLoad, open: bool) -> Vec<Stage> {
    let mut stages = Vec::new();
    for (i, s) in l.stages.iter().flatten().enumerate() {
        let path = format!("load.stages[{i}]");
        let Some(d) = v.duration(
            &s.value.duration,
            &s.referenced,
            &format!("{path}.duration"),
        ) else {
            continue;
        };
        let target = s.value.target;
        let checked = if open {
            limits::rate(target, "target").map(|_| ())
        } else {
            limits::whole(target, "target", 0, MAX_VUS).map(|_| ())
        };
        if let Err(msg) = checked {
            v.problem(&s.referenced, &format!("{path}.target"), msg);
        }
        stages.push(Stage {
            duration: d,
            target,
        });
    }
    stages
}

pub(super) fn validate_think(
    v: &mut Validator<'_>,
    raw: &Spanned<RawThink>,
    path: &str,
) -> Option<Think> {
    let at = raw.referenced;
    match &raw.value {
        RawThink::Fixed(d) => v.duration(d, &at, path).map(Think::Fixed),
        RawThink::Distribution(dist) => {
            let need = |v: &mut Validator<'_>, value: &Option<DurationText>, name: &str| match value
            {
                Some(d) => v.duration(d, &at, path),
                None => {
                    v.problem(
                        &at,
                        path,
                        format!("`{}` distribution needs `{name}`", dist.dist),
                    );
                    None
                }
            };
            match dist.dist.as_str() {
                "uniform" => {
                    let min = need(v, &dist.min, "min");
                    let max = need(v, &dist.max, "max");
                    let (min, max) = (min?, max?);
                    if min > max {
                        v.problem(
                            &at,
                            path,
                            format!(
                                "uniform think time has min {} > max {}: min must not exceed max",
                                humantime::format_duration(min),
                                humantime::format_duration(max)
                            ),
                        );
                        return None;
                    }
                    Some(Think::Uniform { min, max })
                }
                "normal" => Some(Think::Normal {
                    mean: need(v, &dist.mean, "mean")?,
                    stddev: need(v, &dist.stddev, "stddev")?,
                }),
                "lognormal" => {
                    let median = need(v, &dist.median, "median")?;
                    let sigma = dist.sigma.unwrap_or(0.5);
                    if !(sigma.is_finite() && (0.0..=10.0).contains(&sigma)) {
                        v.problem(
                            &at,
                            path,
                            format!("lognormal sigma must be from 0 to 10, not {sigma}"),
                        );
                        return None;
                    }
                    Some(Think::LogNormal { median, sigma })
                }
                other => {
                    v.problem(
                        &at,
                        path,
                        format!(
                            "unknown distribution `{other}`: expected uniform, normal or lognormal"
                        ),
                    );
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod step_templates_tests;
