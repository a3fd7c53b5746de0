//! The [`Checker`]: sends the suite's requests (built from an
//! [`Operation`]), judges each answer (the body whole, its headers, status,
//! declared content type, schema), records the checks (the coverages are
//! counted from them, [`super::coverage`]), and notes which operations were
//! probed.
//!
//! It knows nothing of the probes themselves: [`super::probes`] drives a
//! checker, and the tour's calls that run them first ([`Checker::call`],
//! [`Checker::upload`]) are in `calls.rs`, above both.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::watch::Watch;
use super::wire;
use super::{
    Call, CheckResult, Cleaned, ConformOptions, ConformReport, ConformTarget, Creds, Kind, Skipped,
};
use crate::api::{Operation, headers};
use crate::client::{
    BodyError, ClientError, ConnectCause, DEFAULT_MAX_BODY, HttpVersion, Malformed, Size,
    read_reqwest, server_agrees_to_http2,
};
use crate::schema::SchemaRegistry;
use chatload_api::spec::{self, DeclaredResponse};

/// How long one request may take, body included.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// An App ID no target knows, a secret and a token no one was given: the
/// suite's invalid credentials (not secrets).
const UNKNOWN_APP: &str = "conform-no-such-app";
const WRONG_SECRET: &str = "conform-wrong-secret";
const WRONG_TOKEN: &str = "conform-wrong-token";

/// What a request carries as its body.
#[derive(Debug)]
pub(super) enum Payload<'b> {
    None,
    Json(&'b Value),
    /// Bytes with this `Content-Type` (`None`: no header at all).
    Raw(Vec<u8>, Option<&'static str>),
    Form(reqwest::multipart::Form),
}

/// What came back.
#[derive(Debug)]
pub(super) struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub allow: Option<String>,
    pub body: Option<Value>,
    /// The body as it came (a download is compared byte for byte).
    pub bytes: bytes::Bytes,
    /// Why the body did not arrive whole (the connection ended before its
    /// `Content-Length`, or the time ran out), when it did not: the check fails.
    pub cut: Option<String>,
    /// The time ran out before the whole body arrived (headers, then a stall
    /// or a drip): for giving up, no response at all ([`Watch`]).
    pub stalled: bool,
    /// What is wrong with the response's headers themselves, whatever its
    /// status ([`wire::header_problem`]): the check fails.
    pub bad_headers: Option<String>,
}

/// Runs calls, checks them, and keeps the tally (its `Debug` shows no
/// secret: [`ConformTarget`]'s leaves the credentials out).
#[derive(Debug)]
pub struct Checker {
    http: reqwest::Client,
    /// Each request's time limit, body included ([`REQUEST_TIMEOUT`]).
    pub(super) timeout: Duration,
    target: ConformTarget,
    registry: SchemaRegistry,
    pub(super) options: ConformOptions,
    /// This run's own tag (hex nanoseconds since the epoch, after
    /// `conform-`): the tour's names and generated unique values carry it,
    /// so a rerun against the same instance meets nothing a run left.
    pub(super) tag: String,
    declared: Vec<Vec<DeclaredResponse>>,
    pub results: Vec<CheckResult>,
    /// Checks not made, with the reason.
    pub skipped: Vec<Skipped>,
    probed: BTreeSet<Operation>,
    /// Path parameters of a happy call per path template (for the method checks).
    pub(super) paths: BTreeMap<&'static str, Vec<String>>,
    /// The counts others watch, and whether the suite gave up.
    watch: Arc<Watch>,
    /// What the suite created on the target and has not removed yet, kept
    /// as it goes so a suite stopped early can still clean up.
    pub(super) created: Created,
}

/// Resources the suite created and has not removed yet.
#[derive(Debug, Default, Clone)]
pub(super) struct Created {
    /// Chats it opened and has not closed.
    pub chats: Vec<String>,
    /// The webhook it registered and has not deleted.
    pub webhook: Option<String>,
}

impl Checker {
    /// A checker for `target` with every operation's schemas compiled.
    ///
    /// # Errors
    /// The embedded spec does not compile, or the HTTP client cannot be built.
    pub fn new(target: ConformTarget, options: ConformOptions) -> anyhow::Result<Checker> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Masked in every output from here on, even when the target echoes them (src/redact.rs).
        crate::redact::register(&target.secret);
        if let Some(key) = &target.domain_key {
            crate::redact::register(key);
        }
        Ok(Checker {
            http: target.tls.configure(reqwest::Client::builder()).build()?,
            timeout: REQUEST_TIMEOUT,
            target,
            registry: SchemaRegistry::load(None)?,
            options,
            tag: format!(
                "conform-{:x}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
            ),
            declared: Operation::ALL.into_iter().map(spec::responses).collect(),
            results: Vec::new(),
            skipped: Vec::new(),
            probed: BTreeSet::new(),
            paths: BTreeMap::new(),
            watch: Arc::default(),
            created: Created::default(),
        })
    }

    /// The suite's progress and whether it gave up, for a watcher in another task.
    pub fn watch(&self) -> Arc<Watch> {
        self.watch.clone()
    }

    /// The target's settings.
    pub fn target(&self) -> &ConformTarget {
        &self.target
    }

    /// Records a check of `op` that is not made, and why.
    pub(super) fn skip(&mut self, op: Operation, name: String, reason: String) {
        self.skipped.push(Skipped {
            name,
            operation: op.id().to_owned(),
            reason,
        });
    }

    /// Masks a user's session token in every output from now on.
    pub fn mask_token(&self, token: &str) {
        crate::redact::register(token);
    }

    /// The statuses `op` declares.
    pub(super) fn declared(&self, op: Operation) -> impl Iterator<Item = u16> + '_ {
        self.declared[op.index()].iter().map(|d| d.status)
    }

    /// A request to `path` (relative to the base URL) with `creds` and `payload`.
    pub(super) fn build(
        &self,
        method: reqwest::Method,
        path: &str,
        creds: Creds<'_>,
        payload: Payload<'_>,
    ) -> reqwest::RequestBuilder {
        let url = format!("{}{path}", self.target.base_url.trim_end_matches('/'));
        let mut b = self.http.request(method, url).timeout(self.timeout);
        b = match creds {
            Creds::Nothing => b,
            Creds::UnknownApp => b.header(headers::APP_ID, UNKNOWN_APP),
            _ => b.header(headers::APP_ID, &self.target.app_id),
        };
        b = match creds {
            Creds::Secret | Creds::UnknownApp => b.header(headers::SECRET, &self.target.secret),
            Creds::WrongSecret => b.header(headers::SECRET, WRONG_SECRET),
            Creds::DomainKey => b.header(
                headers::DOMAIN_KEY,
                self.target.domain_key.as_deref().unwrap_or(""),
            ),
            Creds::Token(t) => b.header(headers::USER_TOKEN, t),
            Creds::WrongToken => b.header(headers::USER_TOKEN, WRONG_TOKEN),
            Creds::AppOnly | Creds::Nothing => b,
        };
        match payload {
            Payload::None => b,
            Payload::Json(body) => b.json(body),
            Payload::Raw(bytes, Some(ct)) => {
                b.header(reqwest::header::CONTENT_TYPE, ct).body(bytes)
            }
            Payload::Raw(bytes, None) => b.body(bytes),
            Payload::Form(form) => b.multipart(form),
        }
    }

    /// `c` as a request, with other credentials and body than its own.
    pub(super) fn build_call(
        &self,
        c: &Call<'_>,
        creds: Creds<'_>,
        payload: Payload<'_>,
    ) -> reqwest::RequestBuilder {
        let method = crate::client::http_method(c.op.method());
        let b = self.build(method, &c.op.path_with(&c.param_refs()), creds, payload);
        if c.query.is_empty() {
            b
        } else {
            b.query(&c.query)
        }
    }

    /// Sends a request; `Err` says why nothing came back. Once the suite gave
    /// up on the target ([`Watch`]) nothing is sent and this never resolves:
    /// whoever drives the suite stops it.
    pub(super) async fn exchange(&self, b: reqwest::RequestBuilder) -> Result<Answer, String> {
        if self.watch.stopped() {
            std::future::pending::<()>().await;
        }
        let answer = self.send(b).await;
        self.watch.exchanged(match &answer {
            // Headers and then a body that never completes answer nothing.
            Ok(a) if a.stalled => Err(a.cut.as_deref().unwrap_or("timed out")),
            Ok(_) => Ok(()),
            Err(why) => Err(why),
        });
        answer
    }

    /// Sends a request whether or not the suite gave up (the clean-up's
    /// requests); `Err` says why nothing came back.
    pub(super) async fn send(&self, b: reqwest::RequestBuilder) -> Result<Answer, String> {
        match b.send().await {
            Ok(resp) => {
                let header = |name| {
                    resp.headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let content_type = header(reqwest::header::CONTENT_TYPE);
                let allow = header(reqwest::header::ALLOW);
                let bad_headers = wire::header_problem(resp.headers());
                let status = resp.status().as_u16();
                let (bytes, cut, stalled) = match read_reqwest(resp, DEFAULT_MAX_BODY).await {
                    Ok(bytes) => (bytes, None, false),
                    Err(e) => {
                        let stalled = matches!(e, BodyError::TimedOut);
                        let why = body_cut(status, e, self.timeout);
                        (Default::default(), Some(why), stalled)
                    }
                };
                Ok(Answer {
                    status,
                    content_type,
                    allow,
                    body: serde_json::from_slice(&bytes).ok(),
                    bytes,
                    cut,
                    stalled,
                    bad_headers,
                })
            }
            Err(e) => Err(self.no_answer(e).await),
        }
    }

    /// Why a request got no answer, in words a failed check carries. With
    /// `--http 2`, a failure after the connection was made may be a server
    /// that did not choose `h2` by ALPN (reqwest speaks HTTP/2 to it all the
    /// same): one connection the virtual users' way tells, and it is said as
    /// `run` says it.
    async fn no_answer(&self, e: reqwest::Error) -> String {
        if e.is_connect() {
            return match self.target.tls.describe_failure(&e) {
                Some(tls) => format!("cannot connect: {tls}"),
                None => format!(
                    "cannot connect: {}",
                    ConnectCause::of_error(&e, false, self.timeout)
                ),
            };
        }
        if self.target.tls.http == HttpVersion::Http2
            && server_agrees_to_http2(&self.target.base_url, &self.target.tls, self.timeout).await
                == Some(false)
        {
            return format!("cannot connect: {}", ConnectCause::NoHttp2);
        }
        if e.is_timeout() {
            return format!(
                "timed out after {} waiting for the response head",
                limit(self.timeout)
            );
        }
        match Malformed::of_error(&e) {
            Some(m) => ClientError::Malformed(m).to_string(),
            None => wire::no_response_head(&e),
        }
    }

    /// Marks `op` as probed; `true` the first time (its probes are then due).
    pub(super) fn mark_probed(&mut self, op: Operation) -> bool {
        self.probed.insert(op)
    }

    /// Judges one answer to `op`, records the check, and returns the body
    /// when it passed.
    pub(super) fn judge(
        &mut self,
        name: &str,
        op: Operation,
        kind: Kind,
        expect: &[u16],
        answer: Result<Answer, String>,
    ) -> Option<Value> {
        let a = match answer {
            Ok(a) => a,
            Err(why) => {
                self.record(name, op.id(), kind, expect, None, why);
                return None;
            }
        };
        let problem = self.problem(op, expect, &a);
        let passed = problem.is_none();
        self.record(
            name,
            op.id(),
            kind,
            expect,
            Some(a.status),
            problem.unwrap_or_default(),
        );
        passed.then_some(a.body.unwrap_or(Value::Null))
    }

    /// What is wrong with an answer to `op`: status, headers, content type, schema.
    pub(super) fn problem(&self, op: Operation, expect: &[u16], a: &Answer) -> Option<String> {
        if let Some(cut) = &a.cut {
            return Some(cut.clone());
        }
        if !expect.contains(&a.status) {
            let detail = a
                .body
                .as_ref()
                .and_then(|b| b.pointer("/error/message"))
                .and_then(Value::as_str)
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            return Some(format!(
                "expected status {expect:?}, got {}{detail}",
                a.status
            ));
        }
        if let Some(why) = &a.bad_headers {
            return Some(why.clone());
        }
        if let Some(why) = self.content_type_problem(op, a) {
            return Some(why);
        }
        let v = self
            .registry
            .operation(op.id())
            .and_then(|s| s.check(a.status, a.body.as_ref()))?;
        let at = if v.path.is_empty() {
            "(body)".to_owned()
        } else {
            v.path
        };
        Some(format!("schema violation at {at}: {}", v.reason))
    }

    /// A response whose declared status has content must carry one of the
    /// declared media types (`*/*` and `type/*` match as ranges).
    fn content_type_problem(&self, op: Operation, a: &Answer) -> Option<String> {
        let declared = self.declared[op.index()]
            .iter()
            .find(|d| d.status == a.status)?;
        if declared.media.is_empty() {
            return None;
        }
        let got = a.content_type.as_deref().unwrap_or("");
        let essence = got
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let fits = |m: &String| {
            m == "*/*"
                || *m == essence
                || m.strip_suffix("/*")
                    .is_some_and(|t| essence.split('/').next() == Some(t))
        };
        if declared.media.iter().any(fits) {
            return None;
        }
        let got = if got.is_empty() { "none" } else { got };
        Some(format!(
            "content type {got} is not declared for status {} (declared: {})",
            a.status,
            declared.media.join(", ")
        ))
    }

    /// Records one check; `message` empty means it passed.
    pub(super) fn record(
        &mut self,
        name: &str,
        operation: &str,
        kind: Kind,
        expect: &[u16],
        status: Option<u16>,
        message: String,
    ) {
        let passed = message.is_empty() && status.is_some();
        self.watch.checked(format!("{operation} {name}"), passed);
        self.results.push(CheckResult {
            name: name.to_owned(),
            operation: operation.to_owned(),
            kind,
            expected: expect.to_vec(),
            status,
            passed,
            message,
        });
    }

    /// When the last check recorded got `status`, an answer someone else's
    /// action can cause (another agent accepted the invitation first), and
    /// that answer met the spec (the status among the check's expected
    /// ones, its content type and body the spec's for it), it observed
    /// nothing of what it checks: it becomes a skipped check with `reason`,
    /// neither a pass nor a failure, and counts for no coverage. An answer
    /// with that status that breaks the spec stays a failure, saying so.
    pub(super) fn skip_last_if(&mut self, status: u16, reason: &str) {
        let Some(last) = self.results.last_mut() else {
            return;
        };
        if last.status != Some(status) {
            return;
        }
        if !last.passed {
            last.message = format!("the {status} answer breaks the spec: {}", last.message);
            return;
        }
        let last = self.results.pop().expect("a last check");
        self.watch.unchecked(!last.passed);
        self.skipped.push(Skipped {
            name: last.name,
            operation: last.operation,
            reason: reason.to_owned(),
        });
    }

    /// Adds `note` to the reason of the last check when it failed with `status`.
    pub(super) fn note_last_if(&mut self, status: u16, note: &str) {
        if let Some(last) = self
            .results
            .last_mut()
            .filter(|l| !l.passed && l.status == Some(status))
        {
            last.message = format!("{}; {note}", last.message);
        }
    }

    /// Fails check `index` with `why` (what went wrong in a set-up request
    /// it served), or adds `why` to its reason when it failed already.
    pub(super) fn blame(&mut self, index: usize, why: &str) {
        let Some(check) = self.results.get_mut(index) else {
            return;
        };
        if check.passed {
            check.passed = false;
            check.message = why.to_owned();
            self.watch.failed_later();
        } else {
            check.message = format!("{}; also {why}", check.message);
        }
    }

    /// Fails the last check recorded, which passed, with `message`.
    pub(super) fn fail_last(&mut self, message: String) {
        if let Some(last) = self.results.last_mut().filter(|l| l.passed) {
            last.passed = false;
            last.message = message;
            self.watch.failed_later();
        }
    }

    /// The final report.
    pub fn into_report(self, cleaned: Cleaned) -> ConformReport {
        let all = Operation::ALL;
        let covered =
            super::coverage::Coverage::of(&self.results, |op| self.declared(op).collect());
        let exercised = all.len() - covered.not_exercised.len();
        let mut report = ConformReport {
            target: self.target.base_url.clone(),
            seed: self.options.seed,
            cases: self.options.cases,
            checks: self.results,
            skipped: self.skipped,
            operations_in_spec: all.len(),
            operations_exercised: exercised,
            coverage: exercised as f64 / all.len().max(1) as f64,
            not_exercised: covered.not_exercised,
            statuses_declared: covered.statuses.iter().map(|s| s.declared.len()).sum(),
            statuses_observed: covered.statuses.iter().map(|s| s.observed.len()).sum(),
            status_coverage: covered.statuses,
            cleanup: cleaned.counts,
            left_behind: cleaned.left_behind,
            interrupted: false,
            stopped: self.watch.gave_up_reason(),
        };
        report.mask_texts();
        report
    }
}

/// Why the body of a `status` response did not arrive whole (the load
/// client's wording for a connection that ended early or a body over the
/// limit, which conform shares with it).
fn body_cut(status: u16, e: BodyError, timeout: Duration) -> String {
    match e {
        BodyError::TimedOut => format!(
            "the {status} response timed out before its whole body arrived ({} for the whole \
             exchange)",
            limit(timeout)
        ),
        BodyError::Cut => ClientError::BodyCut(status).to_string(),
        // Conform has no scenario, so no `target.max_body`: the default holds.
        BodyError::TooLarge { received } => format!(
            "the {status} response's body passed the {} limit on one response: reading stopped after {received} bytes",
            Size(DEFAULT_MAX_BODY)
        ),
    }
}

/// A request's time limit as messages say it: `15 s`, or `200 ms` below a second.
fn limit(timeout: Duration) -> String {
    if timeout.subsec_millis() == 0 {
        format!("{} s", timeout.as_secs())
    } else {
        format!("{} ms", timeout.as_millis())
    }
}

/// A checker of `base_url` with test credentials, for unit tests.
#[cfg(test)]
pub(super) fn test_checker(base_url: String) -> Checker {
    let target = ConformTarget {
        base_url,
        app_id: "conform-test-app".to_owned(),
        secret: "conform-test-secret".to_owned(),
        domain_key: None,
        room: 1,
        hook_url: "http://127.0.0.1:9/hooks".to_owned(),
        tls: crate::client::TlsOptions::default(),
        quiet_agents: false,
    };
    Checker::new(target, ConformOptions::default()).expect("a checker")
}

#[cfg(test)]
mod tests;
