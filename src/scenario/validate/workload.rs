//! `load:`: the closed or open workload model, its stages and limits.

use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use super::{DEFAULT_GRACEFUL_STOP, DEFAULT_MAX_VUS, Validator};
use crate::scenario::limits::{self, MAX_BACKLOG, MAX_ITERATIONS, MAX_VUS};
use crate::scenario::raw::RawLoad;
use crate::scenario::{Stage, Workload};

/// How long a workload runs: the fields both models share.
struct Timing {
    duration: Option<Duration>,
    stages: Vec<Stage>,
    graceful_stop: Duration,
}

/// Validates `load:` as the closed or open model (`model:`, else open when
/// `arrival_rate` is given).
pub(super) fn validate_load(v: &mut Validator<'_>, raw: &Spanned<RawLoad>) -> Option<Workload> {
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
    let open = match l.model.as_deref() {
        Some("closed") => false,
        Some("open") => true,
        None => l.arrival_rate.is_some(),
        Some(other) => {
            v.problem(
                &at,
                "load.model",
                format!("unknown model `{other}`: expected closed or open"),
            );
            return None;
        }
    };
    let timing = Timing {
        duration,
        stages: validate_stages(v, l, open),
        graceful_stop,
    };
    Some(if open {
        open_workload(v, l, &at, timing)
    } else {
        closed_workload(v, l, &at, timing)
    })
}

/// The closed model: `vus` (at least 1 without stages) and `iterations`;
/// none of the open model's fields.
fn closed_workload(v: &mut Validator<'_>, l: &RawLoad, at: &Location, timing: Timing) -> Workload {
    for (field, set) in [
        ("arrival_rate", l.arrival_rate.is_some()),
        ("max_vus", l.max_vus.is_some()),
        ("backlog", l.backlog.is_some()),
    ] {
        if set {
            v.problem(
                at,
                &format!("load.{field}"),
                format!("`{field}` belongs to the open model (set `model: open`)"),
            );
        }
    }
    let has_stages = l.stages.is_some();
    if l.duration.is_none() && l.iterations.is_none() && !has_stages {
        v.problem(
            at,
            "load",
            "the closed model needs `duration`, `iterations` or `stages`",
        );
    }
    let min_vus = u64::from(!has_stages);
    let vus = v
        .whole(l.vus.as_ref(), "load.vus", min_vus, MAX_VUS)
        .unwrap_or(min_vus) as u32;
    let iterations = v.whole(l.iterations.as_ref(), "load.iterations", 1, MAX_ITERATIONS);
    Workload::Closed {
        vus,
        duration: timing.duration,
        iterations,
        stages: timing.stages,
        graceful_stop: timing.graceful_stop,
    }
}

/// The open model: `arrival_rate` (or stages), `max_vus` and `backlog`;
/// none of the closed model's fields.
fn open_workload(v: &mut Validator<'_>, l: &RawLoad, at: &Location, timing: Timing) -> Workload {
    for (field, set) in [
        ("vus", l.vus.is_some()),
        ("iterations", l.iterations.is_some()),
    ] {
        if set {
            v.problem(at, &format!("load.{field}"), format!("`{field}` belongs to the closed model; the open model uses arrival_rate and max_vus"));
        }
    }
    let has_stages = l.stages.is_some();
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
            at,
            "load.arrival_rate",
            "the open model needs arrival_rate > 0 (iterations per second) or stages",
        );
    }
    if l.duration.is_none() && !has_stages {
        v.problem(at, "load", "the open model needs `duration` or `stages`");
    }
    let max_vus = v
        .whole(l.max_vus.as_ref(), "load.max_vus", 1, MAX_VUS)
        .map_or(DEFAULT_MAX_VUS, |n| n as u32);
    let backlog = v
        .whole(l.backlog.as_ref(), "load.backlog", 0, MAX_BACKLOG)
        .map_or(max_vus, |n| n as u32);
    Workload::Open {
        rate_per_sec: rate,
        duration: timing.duration,
        stages: timing.stages,
        max_vus,
        backlog,
        graceful_stop: timing.graceful_stop,
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
