//! Regression rules of `chatload compare`: `[SCOPE.]METRIC > +LIMIT`.
//!
//! Without a scope a rule applies to every compared row (each step, route,
//! the whole iteration, each flow's iteration, the lifecycle service levels
//! and event delays). A scope narrows it, written as in thresholds:
//! `create_chat.p99 > +20%` (a step, or any row of that name),
//! `"POST /chats".p95 > +10%` (a quoted name, for names with spaces),
//! `route(POST /chats).p95`, `iteration.p99`, `iteration[chat].p99`,
//! `event(chats:join).p99`, `time_to_assign.p95`.
//!
//! The metric `errors` judges error rates instead of latencies:
//! `errors > +1%` breaks when a row's error rate (failed samples over
//! samples) grew by more than 1 percentage point, base to new (0.5% → 1.6%
//! breaks it, 0.5% → 1.4% does not). Steps, routes, the iteration and flows
//! have error rates; lifecycle levels and events do not.

use super::{CORRECTED_METRICS, CompareRow, ERRORS, METRICS, RowScope};

/// Which rows a rule judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleScope {
    /// Every compared row.
    All,
    /// A step, route, lifecycle service level or event named exactly so.
    Named(String),
    /// `route(METHOD /path)`.
    Route(String),
    /// `event(NAME)`.
    Event(String),
    /// `iteration`: the whole iteration over all flows.
    Iteration,
    /// `iteration[FLOW]`: the iterations of one flow.
    Flow(String),
}

impl RuleScope {
    /// Whether `row` is one this scope judges.
    pub fn matches(&self, row: &CompareRow) -> bool {
        self.covers(row.scope, &row.name)
    }

    /// Whether the rule applies to the entry `name` of kind `scope`.
    pub fn covers(&self, scope: RowScope, name: &str) -> bool {
        match self {
            RuleScope::All => true,
            RuleScope::Named(n) => {
                name == n
                    && matches!(
                        scope,
                        RowScope::Step | RowScope::Route | RowScope::Lifecycle | RowScope::Event
                    )
            }
            RuleScope::Route(n) => scope == RowScope::Route && name == n,
            RuleScope::Event(n) => scope == RowScope::Event && name == n,
            RuleScope::Iteration => scope == RowScope::Iteration,
            RuleScope::Flow(n) => scope == RowScope::Flow && name == n,
        }
    }

    /// The scope in words: "step, route or service level `x`", "flow `chat`".
    pub fn describe(&self) -> String {
        match self {
            RuleScope::All => "every row".to_owned(),
            RuleScope::Named(n) => format!("`{n}`"),
            RuleScope::Route(n) => format!("route `{n}`"),
            RuleScope::Event(n) => format!("event `{n}`"),
            RuleScope::Iteration => "the whole iteration".to_owned(),
            RuleScope::Flow(n) => format!("the iterations of flow `{n}`"),
        }
    }
}

/// A regression rule: `[SCOPE.]METRIC > +N%` or `[SCOPE.]METRIC > +DURATION`,
/// or `[SCOPE.]errors > +N%`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub text: String,
    pub scope: RuleScope,
    pub metric: String,
    /// Allowed relative growth of a latency (0.1 = 10%).
    pub relative: Option<f64>,
    /// Allowed absolute growth of a latency in µs.
    pub absolute_us: Option<f64>,
    /// `errors`: allowed growth of the error rate, as a fraction of the
    /// samples (0.01 = 1 percentage point).
    pub points: Option<f64>,
}

impl Rule {
    /// Why a scoped rule judged nothing, in words true of both runs: which of
    /// them had no data of its scope.
    pub(super) fn unjudged(&self, seen: &[super::Seen]) -> String {
        let [mut base, mut new] = [false; 2];
        for entry in seen {
            if self.scope.covers(entry.scope, &entry.name) {
                let [b, n] = if self.is_errors() {
                    entry.counted
                } else {
                    entry.timed
                };
                base |= b;
                new |= n;
            }
        }
        let what = self.scope.describe();
        let why = match (base, new) {
            (false, true) => {
                format!("only the new run measured {what}; the base run has no data of it")
            }
            (true, false) => {
                format!("only the base run measured {what}; the new run has no data of it")
            }
            (false, false) => format!("neither run measured anything of {what}"),
            (true, true) => format!("the two runs measured {what} under different kinds of entry"),
        };
        format!("`{}`: {why}, so there is nothing to compare", self.text)
    }

    /// Why a rule on a corrected latency (`p99_corrected > +10%`) cannot be judged, if it
    /// cannot: `corrected` says whether the base and new run have corrected latencies (runs of
    /// the open model); no data is never a pass.
    pub(super) fn uncorrected(&self, corrected: [bool; 2]) -> Option<String> {
        if !super::is_corrected(&self.metric) {
            return None;
        }
        let which = match corrected {
            [true, true] => return None,
            [false, false] => "neither run is",
            [false, true] => "the base run is not",
            [true, false] => "the new run is not",
        };
        Some(format!(
            "`{}`: {which} of the open model, so it has no corrected latency of its own (in the \
             closed model a virtual user sends when it is ready: there is no schedule to be late \
             against, and the corrected figures only restate the raw ones), so there is nothing \
             to compare; compare two open-model runs, or write the raw metric",
            self.text
        ))
    }

    /// Whether the rule judges error rates (`errors > +1%`) rather than a latency.
    pub fn is_errors(&self) -> bool {
        self.metric == ERRORS
    }

    /// Why a latency rule cannot pass, if it cannot: `failed_only` are the
    /// rows in its scope of which every sample failed in one run, whose
    /// latencies are those of failures (a refused request is fast), not of
    /// the operation.
    pub(super) fn failed_only(&self, failed_only: &[(RowScope, String, &str)]) -> Option<String> {
        let hit: Vec<String> = (failed_only.iter())
            .filter(|(scope, name, _)| !self.is_errors() && self.scope.covers(*scope, name))
            .map(|(scope, name, run)| {
                let run = match *run {
                    "both" => "in both runs".to_owned(),
                    run => format!("in the {run} run"),
                };
                format!("{} `{name}` (every sample failed {run})", scope.as_str())
            })
            .collect();
        (!hit.is_empty()).then(|| {
            format!(
                "`{}`: {}: the latencies of failures cannot be judged",
                self.text,
                hit.join(", ")
            )
        })
    }

    /// Why a rule over every row cannot pass, if it cannot: `lost` are the
    /// entries both runs have that the base run measured and the new one did
    /// not (its requests were never sent or never answered), the one
    /// regression no number shows. An entry only one run has is a changed
    /// scenario, noted apart.
    pub(super) fn lost(&self, lost: &[String]) -> Option<String> {
        (!lost.is_empty()).then(|| {
            format!(
                "`{}`: measured in the base run and not in the new one: {}, so it cannot be judged",
                self.text,
                lost.join(", ")
            )
        })
    }

    /// Parses `p99 > +10%`, `p50 > +5ms`, `max > 1s`, `create_chat.p99 > +20%`,
    /// `"POST /chats".p95 > +10%`, `iteration[chat].p99 > +20%`, `errors > +1%`.
    ///
    /// # Errors
    /// An unknown metric, an operator other than `>`, a malformed scope or limit, with what was
    /// expected.
    pub fn parse(text: &str) -> Result<Rule, String> {
        let bad = |why: &str| {
            format!(
                "invalid rule `{text}`: {why}; expected [SCOPE.]METRIC > +N% or [SCOPE.]METRIC > +DURATION, \
                 e.g. \"p99 > +10%\", \"create_chat.p99 > +20%\", \"route(POST /chats).p95 > +5ms\", \
                 \"iteration[chat].p99 > +20%\", with METRIC one of {} (add _corrected for the \
                 coordinated-omission corrected latency of open-model runs: {}), or \
                 [SCOPE.]errors > +N% (the error rate grew by more than N percentage points)",
                METRICS.join(", "),
                CORRECTED_METRICS.join(", ")
            )
        };
        let (lhs, op, limit) = split_operator(text).ok_or_else(|| bad("no `>` comparison"))?;
        if op != ">" {
            return Err(bad(&format!(
                "the operator `{op}` is not accepted: a rule is always `>` (it names the growth \
                 that fails)"
            )));
        }
        let (scope, metric) = parse_lhs(lhs.trim()).map_err(|why| bad(&why))?;
        let limit = limit.trim().trim_start_matches('+');
        if metric == ERRORS {
            if matches!(scope, RuleScope::Event(_)) {
                return Err(bad("an event has no error rate"));
            }
            let points = limit
                .strip_suffix('%')
                .and_then(|p| p.trim().parse::<f64>().ok())
                .ok_or_else(|| {
                    bad("an error rate's limit is a growth in percentage points, like +1%")
                })?;
            if !(points.is_finite() && (0.0..=100.0).contains(&points)) {
                return Err(bad("the limit is a growth of 0% to 100%"));
            }
            return Ok(Rule {
                text: text.trim().to_owned(),
                scope,
                metric: metric.to_owned(),
                relative: None,
                absolute_us: None,
                points: Some(points / 100.0),
            });
        }
        let (relative, absolute_us) = if let Some(pct) = limit.strip_suffix('%') {
            let pct: f64 = pct
                .trim()
                .parse()
                .map_err(|_| bad("the limit is not a number"))?;
            // A rule names the growth it tolerates: `> -10%` would read as
            // "fail unless it got 10% faster", which no one means.
            if !(pct.is_finite() && pct >= 0.0) {
                return Err(bad("the limit is a growth of 0% or more"));
            }
            (Some(pct / 100.0), None)
        } else {
            let d = humantime::parse_duration(limit)
                .map_err(|_| bad("the limit is neither a percentage nor a duration"))?;
            (None, Some(d.as_secs_f64() * 1e6))
        };
        Ok(Rule {
            text: text.trim().to_owned(),
            scope,
            metric: metric.to_owned(),
            relative,
            absolute_us,
            points: None,
        })
    }

    /// Whether an error rate that went from `base` to `new` (fractions) breaks this rule.
    pub fn broken_by_errors(&self, base: f64, new: f64) -> bool {
        // A rounding error must not break `errors > +0%` on equal rates.
        self.points.is_some_and(|lim| new - base > lim + 1e-12)
    }

    /// Whether a change of `delta_us` (`pct` of the base, `None` when the base is 0) breaks this
    /// rule; changes within the noise floor never do.
    pub fn broken_by(&self, delta_us: i64, pct: Option<f64>, noise_floor_us: u64) -> bool {
        if delta_us <= noise_floor_us as i64 {
            return false;
        }
        self.relative.is_some_and(|lim| pct.is_none_or(|p| p > lim))
            || self.absolute_us.is_some_and(|lim| delta_us as f64 > lim)
    }
}

/// Splits a rule at its comparison: (left side, operator, limit), the operator being the run
/// of `<>=!` characters first met (`>`, or a wrong one to name).
fn split_operator(text: &str) -> Option<(&str, &str, &str)> {
    let is_op = |c: char| matches!(c, '<' | '>' | '=' | '!');
    let start = text.find(is_op)?;
    let len = text[start..]
        .find(|c: char| !is_op(c))
        .unwrap_or(text.len() - start);
    Some((
        &text[..start],
        &text[start..start + len],
        &text[start + len..],
    ))
}

/// The metric named `name`: a latency percentile or `errors`.
fn metric_named(name: &str) -> Option<&'static str> {
    METRICS
        .iter()
        .chain(CORRECTED_METRICS)
        .chain([&ERRORS])
        .find(|m| **m == name)
        .copied()
}

/// Splits `SCOPE.METRIC` (or a bare `METRIC`).
fn parse_lhs(lhs: &str) -> Result<(RuleScope, &'static str), String> {
    if let Some(metric) = metric_named(lhs) {
        return Ok((RuleScope::All, metric));
    }
    let metric_after = |rest: &str,
                        scope: RuleScope|
     -> Result<(RuleScope, &'static str), String> {
        let metric = rest
            .strip_prefix('.')
            .ok_or_else(|| format!("expected `.METRIC` after {}", scope.describe()))?;
        let metric = metric_named(metric).ok_or_else(|| format!("unknown metric `{metric}`"))?;
        Ok((scope, metric))
    };
    for quote in ['"', '\''] {
        if let Some(rest) = lhs.strip_prefix(quote) {
            let (name, rest) = rest
                .split_once(quote)
                .ok_or_else(|| format!("unclosed {quote} in `{lhs}`"))?;
            return metric_after(rest, RuleScope::Named(name.to_owned()));
        }
    }
    for (prefix, close, make) in [
        ("route(", ')', RuleScope::Route as fn(String) -> RuleScope),
        ("event(", ')', RuleScope::Event),
        ("iteration[", ']', RuleScope::Flow),
    ] {
        if let Some(rest) = lhs.strip_prefix(prefix) {
            let (name, rest) = rest
                .split_once(close)
                .ok_or_else(|| format!("`{prefix}` without its closing `{close}`"))?;
            let name = name.trim();
            if name.is_empty() {
                return Err(format!("an empty name in `{lhs}`"));
            }
            return metric_after(rest, make(name.to_owned()));
        }
    }
    // Names may contain dots: the metric follows the first dot after which a metric stands
    // ("p99.9" itself contains one).
    let (name, metric) = lhs
        .char_indices()
        .filter(|(_, c)| *c == '.')
        .map(|(i, _)| (&lhs[..i], &lhs[i + 1..]))
        .find_map(|(name, m)| metric_named(m).map(|m| (name, m)))
        .ok_or_else(|| format!("unknown metric in `{lhs}`"))?;
    let scope = match name.trim() {
        "" => return Err(format!("an empty name in `{lhs}`")),
        "iteration" => RuleScope::Iteration,
        name => RuleScope::Named(name.to_owned()),
    };
    Ok((scope, metric))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unscoped_rules_parse_or_say_what_was_expected() {
        let r = Rule::parse("p99 > +10%").unwrap();
        assert_eq!((r.scope, r.relative), (RuleScope::All, Some(0.1)));
        assert_eq!(Rule::parse("max > 1s").unwrap().absolute_us, Some(1e6));
        assert_eq!(Rule::parse("p99.9 > +5%").unwrap().metric, "p99.9");
        assert!(Rule::parse("p98 > 10%").unwrap_err().contains("p99.9"));
        assert!(Rule::parse("p99 < 10%").is_err());
        // The `+` is optional; a negative or non-finite growth is refused.
        assert_eq!(Rule::parse("p99 > 10%").unwrap().relative, Some(0.1));
        for bad in ["p99 > -10%", "p99 > NaN%", "p99 > inf%"] {
            let e = Rule::parse(bad).unwrap_err();
            assert!(e.contains("a growth of 0% or more"), "{bad}: {e}");
        }
        assert!(Rule::parse("p99 > fast").unwrap_err().contains("neither"));
    }

    /// Outside audit 4, F12.1: `p99 >= +10%` said "the limit is not a number".
    #[test]
    fn an_operator_other_than_greater_than_is_named() {
        for (rule, op) in [
            ("p99 >= +10%", ">="),
            ("p99 < 10%", "<"),
            ("p99 == 5ms", "=="),
        ] {
            let e = Rule::parse(rule).unwrap_err();
            assert!(
                e.contains(&format!("the operator `{op}` is not accepted")),
                "{rule}: {e}"
            );
            assert!(!e.contains("not a number"), "{rule}: {e}");
        }
    }

    #[test]
    fn rules_scoped_to_a_step_route_flow_or_event() {
        let scoped = |text: &str| {
            let r = Rule::parse(text).unwrap();
            (r.scope, r.metric)
        };
        let named = |n: &str| RuleScope::Named(n.to_owned());
        for (text, scope, metric) in [
            ("create_chat.p99 > +20%", named("create_chat"), "p99"),
            ("wait.active.p99.9 > +20%", named("wait.active"), "p99.9"),
            ("\"POST /chats\".p95 > +10%", named("POST /chats"), "p95"),
            (
                "'GET /chats/{chatId}'.max > +1s",
                named("GET /chats/{chatId}"),
                "max",
            ),
            (
                "route(POST /chats).p50 > +5ms",
                RuleScope::Route("POST /chats".into()),
                "p50",
            ),
            ("iteration.p99 > +20%", RuleScope::Iteration, "p99"),
            (
                "iteration[chat].p99 > +20%",
                RuleScope::Flow("chat".into()),
                "p99",
            ),
            (
                "event(chats:join).p90 > +20%",
                RuleScope::Event("chats:join".into()),
                "p90",
            ),
            ("time_to_assign.p95 > +10%", named("time_to_assign"), "p95"),
        ] {
            assert_eq!(scoped(text), (scope, metric.into()), "{text}");
        }
        for bad in [
            "create_chat.p98 > +20%",
            "\"POST /chats.p95 > +10%",
            "iteration[chat.p99 > +20%",
            "iteration[].p99 > +20%",
            "route(POST /chats)p95 > +10%",
            ".p99 > +10%",
        ] {
            assert!(Rule::parse(bad).is_err(), "{bad}");
        }
    }
}
