//! `--verbose`: each failing exchange logged as it happens, through a sink the app layer supplies
//! (the progress display's `println`, so lines never tear the bar).
//!
//! One entry per failure: the step, the failure kind and its explanation, then the request's
//! method and path, the status, the request headers (credential headers [`MASKED`]) and an excerpt
//! of the response body (secrets masked). Built only for failures, and only with `--verbose`.

use std::fmt::Write as _;
use std::sync::Arc;

use rand::rngs::SmallRng;
use serde_json::Value;

use super::mask::{MASKED, Masker};
use super::session::Session;
use crate::api::Method;
use crate::api::headers::lower;
use crate::metrics::{FailureKind, FailureSample};
use crate::scenario::template::{RenderContext, Template, VarId};
use crate::scenario::{Auth, RequestSpec, Scenario};

/// Where `--verbose` failure entries go (one call per entry, possibly several lines).
#[derive(Clone)]
pub struct FailureLog(Arc<dyn Fn(&str) + Send + Sync>);

impl FailureLog {
    /// A log that hands each entry to `write`.
    pub fn new(write: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Self(Arc::new(write))
    }

    /// Writes one entry.
    pub fn write(&self, entry: &str) {
        (self.0)(entry);
    }
}

impl std::fmt::Debug for FailureLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FailureLog")
    }
}

/// The exchange behind a failure, already masked.
#[derive(Debug)]
pub(super) struct ExchangeLog {
    pub method: Method,
    /// The path as sent (relative to the base URL).
    pub path: String,
    pub status: Option<u16>,
    /// `(name, value)`, credentials masked.
    pub headers: Vec<(String, String)>,
    /// Masked, cut response body.
    pub body: String,
}

/// The log entry of one failure.
pub(super) fn failure_text(
    step: &str,
    kind: FailureKind,
    sample: &FailureSample,
    exchange: Option<&ExchangeLog>,
) -> String {
    let mut out = format!(
        "failed: step {step} ({kind}) vu {} iteration {}: {}",
        sample.vu, sample.iteration, sample.check
    );
    if let Some(path) = &sample.path {
        let _ = write!(out, " at {path}");
    }
    if let Some(expected) = &sample.expected {
        let _ = write!(out, "; expected {expected}");
    }
    if let Some(actual) = &sample.actual {
        let _ = write!(out, ", actual {actual}");
    }
    if let Some(message) = &sample.api_message {
        let _ = write!(out, "; API: {message:?}");
    }
    if let Some(ex) = exchange {
        let status = ex
            .status
            .map_or_else(|| "no response".to_owned(), |s| s.to_string());
        let _ = write!(out, "\n  {} {} -> {status}", ex.method.as_str(), ex.path);
        let headers: Vec<String> = ex
            .headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}"))
            .collect();
        let _ = write!(out, "\n  request headers: {}", headers.join(", "));
        let _ = write!(out, "\n  response body: {}", ex.body);
    }
    out
}

/// The headers a request carried: credential headers by name with [`MASKED`] values, the
/// target's extra headers and the step's own (masked where they look like credentials).
pub(super) fn request_headers(
    spec: &RequestSpec,
    scenario: &Scenario,
    masker: &Masker,
    session: &Session,
) -> Vec<(String, String)> {
    let credentials: &[&str] = match spec.auth {
        Auth::Secret => &[lower::APP_ID, lower::SECRET],
        Auth::AppId => &[lower::APP_ID],
        Auth::DomainKey => &[lower::APP_ID, lower::DOMAIN_KEY],
        Auth::Token(_) => &[lower::APP_ID, lower::USER_TOKEN],
        Auth::None => &[],
    };
    let mut headers: Vec<(String, String)> = credentials
        .iter()
        .map(|name| ((*name).to_owned(), MASKED.to_owned()))
        .collect();
    let own = spec
        .headers
        .iter()
        .map(|(name, template)| (name, peek_render(template, session)));
    for (name, value) in scenario
        .target
        .headers
        .iter()
        .map(|(n, v)| (n, v.clone()))
        .chain(own)
    {
        let value = masker.value(Some(session), Some(name), &value);
        headers.push((name.clone(), value));
    }
    headers
}

/// Renders `template` from `session` without advancing its random numbers (a log must not change
/// what the run does next). Unset variables render as `{{?}}`.
pub(super) fn peek_render(template: &Template, session: &Session) -> String {
    let mut peek = Peek::new(session);
    template
        .render(&mut peek)
        .unwrap_or_else(|_| "{{?}}".to_owned())
}

/// A [`RenderContext`] over a session that leaves the session's random numbers untouched.
pub(super) struct Peek<'a> {
    session: &'a Session,
    rng: SmallRng,
}

impl<'a> Peek<'a> {
    pub(super) fn new(session: &'a Session) -> Self {
        Self {
            session,
            rng: session.rng.clone(),
        }
    }
}

impl RenderContext for Peek<'_> {
    fn var(&self, id: VarId) -> Option<&Value> {
        self.session.var(id)
    }
    fn vu(&self) -> u64 {
        self.session.vu
    }
    fn iteration(&self) -> u64 {
        self.session.iteration
    }
    fn rng(&mut self) -> &mut SmallRng {
        &mut self.rng
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_names_the_check_the_exchange_and_masks_nothing_itself() {
        let sample = FailureSample {
            iteration: 4,
            vu: 2,
            ..FailureSample::create_chat_status(200, 409, "User already has a chat")
        };
        let exchange = ExchangeLog {
            method: Method::Post,
            path: "/chats".to_owned(),
            status: Some(409),
            headers: vec![("x-hyper-secret".to_owned(), MASKED.to_owned())],
            body: "{\"error\":{}}".to_owned(),
        };
        let text = failure_text("create_chat", FailureKind::Status, &sample, Some(&exchange));
        assert_eq!(
            text,
            "failed: step create_chat (status) vu 2 iteration 4: status in [200]; expected 200, \
             actual 409; API: \"User already has a chat\"\n  POST /chats -> 409\n  request \
             headers: x-hyper-secret: MASKED\n  response body: {\"error\":{}}"
        );
    }
}
