//! Checks the `webhooks:` section into a [`WebhookSpec`] and each
//! `wait_event` step into a [`WaitEventSpec`].

use std::collections::HashSet;
use std::net::SocketAddr;

use serde_saphyr::{Location, Spanned};

use super::Validator;
use crate::api::events;
use crate::scenario::matcher::BodyCheck;
use crate::scenario::raw::{DurationText, RawStep, RawWaitEvent, RawWebhooks};
use crate::scenario::webhook::{
    DEFAULT_BIND, DEFAULT_EVENTS, DEFAULT_LATE_AFTER, DEFAULT_SETTLE, EVENT_NAMES, OnTimeout,
    URL_VARIABLE, WaitEventSpec, WebhookSpec,
};
use crate::scenario::{Secret, StepAction};

/// Validates `webhooks:`; `None` without the section (or when it is invalid).
pub(super) fn validate_webhooks(
    v: &mut Validator<'_>,
    raw: Option<&Option<Spanned<RawWebhooks>>>,
) -> Option<WebhookSpec> {
    let default = RawWebhooks::default();
    let (w, at) = match raw? {
        Some(s) => (&s.value, s.referenced),
        None => (&default, Location::UNKNOWN),
    };
    let before = v.problems.len();
    let (bind_text, bind_at) = w
        .bind
        .as_ref()
        .map_or((DEFAULT_BIND, at), |b| (b.value.as_str(), b.referenced));
    let bind = bind_address(v, bind_text, &bind_at);
    let public_url = public_url(v, w);
    let register = w.register.as_ref().is_none_or(|r| r.value);
    let verify = w.verify.unwrap_or(true);
    let secret = webhook_secret(v, w, &at, register, verify);
    let events = subscribed_events(v, w.events.as_deref(), &at);
    let mut duration = |field: &Option<Spanned<DurationText>>, name: &str, default| {
        field
            .as_ref()
            .and_then(|d| v.duration(&d.value, &d.referenced, &format!("webhooks.{name}")))
            .unwrap_or(default)
    };
    let late_after = duration(&w.late_after, "late_after", DEFAULT_LATE_AFTER);
    let settle = duration(&w.settle, "settle", DEFAULT_SETTLE);
    let queue_sampling = w
        .queue_sampling
        .unwrap_or_else(|| events.iter().any(|e| e == events::QUEUES_UPDATE));
    if v.problems.len() > before {
        return None;
    }
    // The URL the webhook is registered with, for steps that register one
    // themselves; the engine sets the real value when the receiver is bound.
    v.vars.intern(
        URL_VARIABLE,
        Some(serde_json::Value::String(format!(
            "http://{bind_text}/hooks"
        ))),
    );
    Some(WebhookSpec {
        bind: bind?,
        public_url,
        register,
        secret,
        verify,
        events,
        late_after,
        settle,
        queue_sampling,
    })
}

/// `bind`: the receiver's IP:PORT.
fn bind_address(v: &mut Validator<'_>, bind_text: &str, at: &Location) -> Option<SocketAddr> {
    let bind = bind_text.parse::<SocketAddr>().ok();
    if bind.is_none() {
        v.problem(
            at,
            "webhooks.bind",
            format!("`{bind_text}` is not an address: expected IP:PORT such as 127.0.0.1:0 or 0.0.0.0:8080"),
        );
    }
    bind
}

/// `public_url` with `${VAR}`s expanded; it must be an http(s) URL.
fn public_url(v: &mut Validator<'_>, w: &RawWebhooks) -> Option<String> {
    let raw = w.public_url.as_ref()?;
    let at = &raw.referenced;
    let public_url = v.expanded(&raw.value, at, "webhooks.public_url");
    if let Some(url) = &public_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        v.problem(
            at,
            "webhooks.public_url",
            format!("`{url}` is not an http(s) URL"),
        );
    }
    public_url
}

/// `secret` with `${VAR}`s expanded (empty: none); required to verify a
/// webhook the run does not register itself (that problem is placed at
/// `secret` when given, else at `register`).
fn webhook_secret(
    v: &mut Validator<'_>,
    w: &RawWebhooks,
    at: &Location,
    register: bool,
    verify: bool,
) -> Option<Secret> {
    let before = v.problems.len();
    let secret = w
        .secret
        .as_ref()
        .map(|s| v.expand_env(&s.value, &s.referenced, "webhooks.secret"))
        .filter(|s| !s.is_empty())
        .map(Secret::new);
    // An unset `${VAR}` in `secret` is already reported, at `secret`.
    let unset = v.problems.len() > before;
    if !register && verify && secret.is_none() && !unset {
        let at = (w.secret.as_ref().map(|s| s.referenced))
            .or_else(|| w.register.as_ref().map(|r| r.referenced))
            .unwrap_or(*at);
        v.problem(
            &at,
            "webhooks.secret",
            "with `register: false` the run cannot learn the webhook's secret: give `secret` (e.g. ${HOOK_SECRET}) or set `verify: false`",
        );
    }
    secret
}

/// `events`: known names, each once; [`DEFAULT_EVENTS`] when not given.
fn subscribed_events(
    v: &mut Validator<'_>,
    list: Option<&[Spanned<String>]>,
    at: &Location,
) -> Vec<String> {
    let Some(list) = list else {
        return DEFAULT_EVENTS.iter().map(|e| (*e).to_owned()).collect();
    };
    if list.is_empty() {
        v.problem(
            at,
            "webhooks.events",
            "`events` is empty: leave it out to subscribe to every event",
        );
    }
    let mut events = Vec::new();
    for (i, e) in list.iter().enumerate() {
        if !EVENT_NAMES.contains(&e.value.as_str()) {
            v.problem(
                &e.referenced,
                &format!("webhooks.events[{i}]"),
                format!(
                    "unknown event `{}`: expected one of {}",
                    e.value,
                    EVENT_NAMES.join(", ")
                ),
            );
        } else if !events.contains(&e.value) {
            events.push(e.value.clone());
        }
    }
    events
}

/// The action of a step whose type is `wait_event` (`raw` is the whole step).
pub(super) fn wait_event_action(
    v: &mut Validator<'_>,
    raw: &RawStep,
    wait: &RawWaitEvent,
    at: &Location,
    path: &str,
    defined: &mut HashSet<String>,
) -> Option<StepAction> {
    if raw.expect.is_some() || !raw.capture.is_empty() {
        v.problem(
            at,
            path,
            "put `where` and `capture` inside wait_event, not beside it",
        );
    }
    let hooks = v.webhooks.clone();
    let has_section = v.has_webhooks;
    validate_wait_event(v, wait, at, path, hooks.as_ref(), has_section, defined)
        .map(|w| StepAction::WaitEvent(Box::new(w)))
}

/// Validates a `wait_event` step. `hooks` is the validated `webhooks:` section;
/// `defined` the variables set before this step (captures are added to it).
pub(super) fn validate_wait_event(
    v: &mut Validator<'_>,
    raw: &RawWaitEvent,
    at: &Location,
    path: &str,
    hooks: Option<&WebhookSpec>,
    has_section: bool,
    defined: &mut HashSet<String>,
) -> Option<WaitEventSpec> {
    let before = v.problems.len();
    if !has_section {
        v.problem(
            at,
            &format!("{path}.wait_event"),
            "wait_event needs a `webhooks:` section (the run must receive the API's events)",
        );
    }
    check_awaited_event(v, &raw.event, path, hooks);
    let timeout = v.positive_duration(
        &raw.timeout.value,
        &raw.timeout.referenced,
        &format!("{path}.wait_event.timeout"),
    );
    let on_timeout = on_timeout(v, raw.on_timeout.as_deref(), at, path);
    let chat = raw
        .chat
        .as_deref()
        .and_then(|text| v.step_template(text, at, &format!("{path}.wait_event.chat"), defined));
    let filter = event_filter(v, raw, at, path, defined);
    let captures = v.captures(&raw.capture, at, &format!("{path}.wait_event.capture"));
    for c in &captures {
        let name = v.vars.name(c.var).to_owned();
        v.note_capture(&name, path);
        defined.insert(name);
    }
    if v.problems.len() > before {
        return None;
    }
    Some(WaitEventSpec {
        event: raw.event.value.clone(),
        timeout: timeout?,
        chat,
        filter,
        captures,
        on_timeout,
    })
}

/// The awaited event must be a known name the run subscribes to.
fn check_awaited_event(
    v: &mut Validator<'_>,
    event: &Spanned<String>,
    path: &str,
    hooks: Option<&WebhookSpec>,
) {
    let name = event.value.as_str();
    if !EVENT_NAMES.contains(&name) {
        v.problem(
            &event.referenced,
            &format!("{path}.wait_event.event"),
            format!(
                "unknown event `{name}`: expected one of {}",
                EVENT_NAMES.join(", ")
            ),
        );
    } else if let Some(h) = hooks
        && !h.subscribes(name)
    {
        v.problem(
            &event.referenced,
            &format!("{path}.wait_event.event"),
            format!(
                "`{name}` is not in webhooks.events ({}): it would never arrive",
                h.events.join(", ")
            ),
        );
    }
}

/// `on_timeout`: `fail` (the default) or `abandon`.
fn on_timeout(v: &mut Validator<'_>, text: Option<&str>, at: &Location, path: &str) -> OnTimeout {
    match text {
        None | Some("fail") => OnTimeout::Fail,
        Some("abandon") => OnTimeout::Abandon,
        Some(other) => {
            v.problem(
                at,
                &format!("{path}.wait_event.on_timeout"),
                format!("unknown on_timeout `{other}`: expected fail or abandon"),
            );
            OnTimeout::Fail
        }
    }
}

/// `where`: the checks over the event's envelope, each placed at its own
/// line when known (else at the step's).
fn event_filter(
    v: &mut Validator<'_>,
    raw: &RawWaitEvent,
    at: &Location,
    path: &str,
    defined: &HashSet<String>,
) -> Vec<BodyCheck> {
    let where_path = format!("{path}.wait_event.where");
    raw.filter
        .iter()
        .filter_map(|(p, spec)| {
            let at = if spec.referenced == Location::UNKNOWN {
                *at
            } else {
                spec.referenced
            };
            v.body_check(p, &spec.value, &at, &where_path, defined)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::scenario::{StepAction, load_str};

    fn load(yaml: &str) -> Result<crate::scenario::Scenario, Vec<String>> {
        load_str(yaml, "s.yaml", Path::new("."))
            .map_err(|e| e.problems().iter().map(ToString::to_string).collect())
    }

    const BASE: &str = "name: s\nload: {vus: 1, iterations: 1}\n";

    /// Asserts that `yaml` is invalid and its problems mention each of `needles`.
    fn assert_problems(yaml: &str, needles: &[&str]) {
        let all = load(yaml).expect_err("invalid").join("\n");
        for needle in needles {
            assert!(all.contains(needle), "missing `{needle}` in\n{all}");
        }
    }

    #[test]
    fn a_bare_section_takes_every_default_and_wait_event_validates() {
        let yaml = format!(
            "{BASE}webhooks:\nsteps:\n  - create_user:\n  - create_chat:\n  - wait_event:\n      event: users:join\n      timeout: 30s\n      where: {{data.userId: {{exists: true}}}}\n      capture: {{agent: data.userId}}\n      on_timeout: abandon\n    name: wait_join\n  - send_message: {{sender: \"{{{{ agent }}}}\"}}\n"
        );
        let s = load(&yaml).expect("valid");
        let hooks = s.webhooks.as_ref().expect("section");
        assert_eq!(hooks.bind.to_string(), "127.0.0.1:0");
        assert!(hooks.register && hooks.verify && hooks.queue_sampling);
        assert_eq!(hooks.events.len(), DEFAULT_EVENTS.len());
        assert!(!hooks.subscribes("chats:assign"));
        assert!(hooks.subscribes("users:join"), "alias of chats:join");
        assert_eq!(hooks.late_after, DEFAULT_LATE_AFTER);
        let step = &s.flows[0].steps[2];
        assert_eq!(step.name, "wait_join");
        let StepAction::WaitEvent(wait) = &step.action else {
            panic!("not a wait_event: {:?}", step.action)
        };
        assert_eq!(wait.event, "users:join");
        assert_eq!(wait.timeout, Duration::from_secs(30));
        assert_eq!(wait.on_timeout, OnTimeout::Abandon);
        assert!(wait.chat.is_none());
        assert_eq!(wait.filter[0].pointer, "/data/userId");
        assert_eq!(wait.captures[0].pointer, "/data/userId");
    }

    #[test]
    fn every_problem_is_located_and_says_what_was_expected() {
        let yaml = format!(
            "{BASE}webhooks:\n  bind: nowhere\n  register: false\n  events: [chats:create, chats:explode]\n  late_after: soon\n  colour: red\nsteps:\n  - wait_event: {{event: chats:join, timeout: 1s}}\n"
        );
        assert_problems(&yaml, &["unknown field `colour`"]);
        // Unknown fields stop the parse; the rest is checked once they are gone.
        let yaml = yaml.replace("  colour: red\n", "");
        assert_problems(
            &yaml,
            &[
                "webhooks.bind: `nowhere` is not an address",
                "webhooks.secret: with `register: false`",
                "webhooks.events[1]: unknown event `chats:explode`",
                "webhooks.late_after: `soon` is not a duration",
                "s.yaml:",
            ],
        );
    }

    #[test]
    fn wait_event_needs_the_section_a_subscribed_event_and_its_keys() {
        let without = format!("{BASE}steps:\n  - wait_event: {{event: chats:join, timeout: 1s}}\n");
        assert_problems(&without, &["wait_event needs a `webhooks:` section"]);

        let narrow = format!(
            "{BASE}webhooks: {{events: [chats:create]}}\nsteps:\n  - wait_event: {{event: chats:close, timeout: 1s}}\n  - wait_event: {{event: chats:nope, timeout: 1s}}\n  - wait_event: {{event: chats:create, timeout: later, on_timeout: cry}}\n"
        );
        assert_problems(
            &narrow,
            &[
                "`chats:close` is not in webhooks.events",
                "unknown event `chats:nope`",
                "`later` is not a duration",
                "unknown on_timeout `cry`",
            ],
        );
        let no_timeout =
            format!("{BASE}webhooks:\nsteps:\n  - wait_event: {{event: chats:create}}\n");
        assert_problems(
            &no_timeout,
            &["steps[0].wait_event: `timeout` is required here"],
        );
        let unset = format!(
            "{BASE}webhooks:\nsteps:\n  - wait_event: {{event: chats:join, timeout: 1s, chat: \"{{{{ later }}}}\"}}\n"
        );
        assert_problems(&unset, &["unknown variable `later`"]);
    }

    #[test]
    fn secret_with_register_false_comes_from_the_environment_and_stays_hidden() {
        let yaml = format!(
            "{BASE}webhooks:\n  register: false\n  secret: ${{CHATLOAD_TEST_HOOK_SECRET:-s3cr3t}}\n  public_url: https://hooks.example.com/in\nsteps:\n  - get_settings:\n"
        );
        let s = load(&yaml).expect("valid");
        let hooks = s.webhooks.expect("section");
        assert_eq!(hooks.secret.as_ref().map(Secret::expose), Some("s3cr3t"));
        assert!(!format!("{hooks:?}").contains("s3cr3t"));
        assert_eq!(
            hooks.public_url.as_deref(),
            Some("https://hooks.example.com/in")
        );
    }
}

#[cfg(test)]
mod threshold_tests {
    use std::path::Path;

    use crate::scenario::load_str;

    #[test]
    fn webhook_thresholds_need_the_section_and_a_subscribed_event() {
        let base = "name: s\nload: {vus: 1, iterations: 1}\nsteps:\n  - get_settings:\n";
        let with = |extra: &str| {
            load_str(&format!("{base}{extra}"), "s.yaml", Path::new("."))
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let err = with("thresholds: [time_to_assign.p95 < 5s]\n").expect_err("no section");
        assert!(err.contains("add a `webhooks:` section"), "{err}");
        with("webhooks:\nthresholds: [time_to_assign.p95 < 5s, events.missing == 0, event(chats:join).p99 < 500ms]\n")
            .expect("valid");
        let err = with(
            "webhooks: {events: [chats:create]}\nthresholds: [\"event(chats:join).p99 < 1s\"]\n",
        )
        .expect_err("not subscribed");
        assert!(err.contains("not in webhooks.events"), "{err}");
    }
}
