//! `chatload conform`: a built-in suite that calls every operation of the
//! API at least once, with the negative cases the spec declares, checks each
//! answer's status and schema, and reports per check pass/fail plus route
//! coverage (operations exercised / operations in the spec).
//!
//! It cleans up after itself (closes the chats it opened, deletes the webhook
//! it registered) so it can run against a shared real instance. It uses its
//! own small HTTP helper rather than the load client: no hot path here, and
//! it needs multipart uploads and arbitrary credential mixes. The webhook it
//! registers must pass the target's `X-Hook-Secret` handshake: the app
//! starts the run's webhook receiver (`crate::webhook`) for that.

mod suite;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};

use serde::Serialize;
use serde_json::Value;

use crate::api::{AuthClass, Operation, headers};
use crate::schema::SchemaRegistry;
use crate::webhook::{EventRouter, RunningReceiver, WebhookReceiver};

pub use suite::run_suite;

/// The suite's webhook receiver on 127.0.0.1 (the run's receiver, from
/// `crate::webhook`; a remote instance needs `--hook-url` instead),
/// answering the `X-Hook-Secret` handshake the registration triggers. The
/// suite never learns the webhook's secret from the receiver's side, so
/// events are accepted unverified (and counted only).
///
/// # Errors
/// The port cannot be bound.
pub async fn start_receiver() -> std::io::Result<RunningReceiver> {
    WebhookReceiver::new(EventRouter::new(), false)
        .start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
}

/// Credentials the suite may use.
#[derive(Clone)]
pub struct ConformTarget {
    pub base_url: String,
    pub app_id: String,
    pub secret: String,
    pub domain_key: Option<String>,
    /// The room chats are opened in.
    pub room: u64,
    /// The webhook target the suite registers; it must answer the handshake.
    pub hook_url: String,
    /// Trust and HTTP version for an https:// target.
    pub tls: crate::client::TlsOptions,
}

impl std::fmt::Debug for ConformTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConformTarget")
            .field("base_url", &self.base_url)
            .field("room", &self.room)
            .field("hook_url", &self.hook_url)
            .finish_non_exhaustive()
    }
}

/// Which credentials one request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creds<'a> {
    Secret,
    AppOnly,
    DomainKey,
    Token(&'a str),
    Nothing,
}

impl Creds<'_> {
    /// The weakest credentials `op`'s auth class (`x-auth`) accepts: the
    /// App ID alone for public operations, the secret otherwise (it is
    /// accepted by every class; a user token needs a user).
    pub fn for_op(op: Operation) -> Creds<'static> {
        match op.auth() {
            AuthClass::Public => Creds::AppOnly,
            AuthClass::User | AuthClass::Secret => Creds::Secret,
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckResult {
    pub name: String,
    pub operation: String,
    pub expected: Vec<u16>,
    pub status: Option<u16>,
    pub passed: bool,
    pub message: String,
}

/// The whole suite's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct ConformReport {
    pub target: String,
    pub checks: Vec<CheckResult>,
    pub operations_in_spec: usize,
    pub operations_exercised: usize,
    pub coverage: f64,
    pub not_exercised: Vec<String>,
    pub cleanup: BTreeMap<String, u64>,
}

impl ConformReport {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

/// One request of the suite: an [`Operation`] and its path parameters. The
/// method and path come from the operation, the default credentials from its
/// auth class ([`Creds::for_op`]) and the default expected status from its
/// success status; negative cases override them.
#[derive(Debug)]
pub struct Call<'a> {
    pub name: &'a str,
    pub op: Operation,
    pub params: Vec<String>,
    pub query: Vec<(&'a str, String)>,
    pub body: Option<Value>,
    pub creds: Creds<'a>,
    pub expect: Vec<u16>,
}

impl<'a> Call<'a> {
    /// `op` with `params` (one per path parameter, in template order), the
    /// weakest credentials its auth class accepts, expecting its success status.
    pub fn new(name: &'a str, op: Operation, params: &[&str]) -> Call<'a> {
        Call {
            name,
            op,
            params: params.iter().map(|p| (*p).to_owned()).collect(),
            query: Vec::new(),
            body: None,
            creds: Creds::for_op(op),
            expect: vec![op.success_status()],
        }
    }
    /// With a JSON body.
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    /// With a query parameter.
    pub fn query(mut self, k: &'a str, v: impl Into<String>) -> Self {
        self.query.push((k, v.into()));
        self
    }
    /// With other credentials than the auth class's default.
    pub fn creds(mut self, creds: Creds<'a>) -> Self {
        self.creds = creds;
        self
    }
    /// Expecting exactly `statuses` (a negative case).
    pub fn expect(mut self, statuses: &[u16]) -> Self {
        self.expect = statuses.to_vec();
        self
    }
    /// Also accepting `status` besides the expected ones.
    pub fn or(mut self, status: u16) -> Self {
        self.expect.push(status);
        self
    }
}

/// Runs calls, checks them, and keeps the tally.
pub struct Checker {
    http: reqwest::Client,
    target: ConformTarget,
    registry: SchemaRegistry,
    pub results: Vec<CheckResult>,
    pub exercised: BTreeSet<Operation>,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker")
            .field("target", &self.target)
            .field("checks", &self.results.len())
            .finish_non_exhaustive()
    }
}

impl Checker {
    /// A checker for `target` with every operation's schemas compiled.
    ///
    /// # Errors
    /// The embedded spec does not compile, or the HTTP client cannot be built.
    pub fn new(target: ConformTarget) -> anyhow::Result<Checker> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Masked in every output from here on, even when the target echoes them (src/redact.rs).
        crate::redact::register(&target.secret);
        if let Some(key) = &target.domain_key {
            crate::redact::register(key);
        }
        Ok(Checker {
            http: target
                .tls
                .configure(reqwest::Client::builder())
                .timeout(std::time::Duration::from_secs(15))
                .build()?,
            target,
            registry: SchemaRegistry::load(None)?,
            results: Vec::new(),
            exercised: BTreeSet::new(),
        })
    }

    /// The target's settings.
    pub fn target(&self) -> &ConformTarget {
        &self.target
    }

    fn request(&self, op: Operation, params: &[&str], creds: Creds<'_>) -> reqwest::RequestBuilder {
        let url = format!(
            "{}{}",
            self.target.base_url.trim_end_matches('/'),
            op.path_with(params)
        );
        let mut b = self
            .http
            .request(crate::client::http_method(op.method()), url);
        if creds != Creds::Nothing {
            b = b.header(headers::APP_ID, &self.target.app_id);
        }
        match creds {
            Creds::Secret => b.header(headers::SECRET, &self.target.secret),
            Creds::DomainKey => b.header(
                headers::DOMAIN_KEY,
                self.target.domain_key.as_deref().unwrap_or(""),
            ),
            Creds::Token(t) => b.header(headers::USER_TOKEN, t),
            Creds::AppOnly | Creds::Nothing => b,
        }
    }

    /// Sends a JSON call, checks status and schema, records the result, and
    /// returns the body when the status was one of the expected ones.
    pub async fn call(&mut self, c: Call<'_>) -> Option<Value> {
        let params: Vec<&str> = c.params.iter().map(String::as_str).collect();
        let mut b = self.request(c.op, &params, c.creds);
        if !c.query.is_empty() {
            b = b.query(&c.query);
        }
        if let Some(body) = &c.body {
            b = b.json(body);
        }
        self.finish(c.name, c.op, &c.expect, b).await
    }

    /// Sends a multipart upload (`uploadMedia`); `expect` as for [`Call`]
    /// (`None`: its success status).
    pub async fn upload(
        &mut self,
        name: &str,
        fields: &[(&str, String)],
        file: (&str, &str, Vec<u8>),
        expect: Option<&[u16]>,
    ) -> Option<Value> {
        let op = Operation::UploadMedia;
        let success = [op.success_status()];
        let expect = expect.unwrap_or(&success);
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in fields {
            form = form.text((*k).to_owned(), v.clone());
        }
        let part = reqwest::multipart::Part::bytes(file.2)
            .file_name(file.0.to_owned())
            .mime_str(file.1)
            .ok()?;
        form = form.part("media", part);
        let b = self.request(op, &[], Creds::for_op(op)).multipart(form);
        self.finish(name, op, expect, b).await
    }

    async fn finish(
        &mut self,
        name: &str,
        op: Operation,
        expect: &[u16],
        b: reqwest::RequestBuilder,
    ) -> Option<Value> {
        self.exercised.insert(op);
        let (status, bytes) = match b.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                (Some(status), resp.bytes().await.unwrap_or_default())
            }
            Err(e) => {
                let kind = if e.is_connect() {
                    match self.target.tls.describe_failure(&e) {
                        Some(tls) => format!("cannot connect: {tls}"),
                        None => "cannot connect".to_owned(),
                    }
                } else if e.is_timeout() {
                    "timed out".to_owned()
                } else {
                    "request failed".to_owned()
                };
                self.record(name, op.id(), expect, None, false, kind);
                return None;
            }
        };
        let status_code = status.unwrap_or(0);
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        let schema = self
            .registry
            .operation(op.id())
            .and_then(|s| s.check(status_code, body.as_ref()));
        let (passed, message) = match (expect.contains(&status_code), schema) {
            (false, _) => {
                let detail = body
                    .as_ref()
                    .and_then(|b| b.pointer("/error/message"))
                    .and_then(Value::as_str)
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                (
                    false,
                    format!("expected status {expect:?}, got {status_code}{detail}"),
                )
            }
            (true, Some(v)) => {
                let at = if v.path.is_empty() {
                    "(body)".to_owned()
                } else {
                    v.path
                };
                (false, format!("schema violation at {at}: {}", v.reason))
            }
            (true, None) => (true, String::new()),
        };
        self.record(name, op.id(), expect, status, passed, message);
        passed.then_some(body.unwrap_or(Value::Null))
    }

    fn record(
        &mut self,
        name: &str,
        op: &str,
        expect: &[u16],
        status: Option<u16>,
        passed: bool,
        message: String,
    ) {
        self.results.push(CheckResult {
            name: name.to_owned(),
            operation: op.to_owned(),
            expected: expect.to_vec(),
            status,
            passed,
            message,
        });
    }

    /// The final report.
    pub fn into_report(self, cleanup: BTreeMap<String, u64>) -> ConformReport {
        let all = Operation::ALL;
        let not_exercised: Vec<String> = all
            .iter()
            .filter(|op| !self.exercised.contains(*op))
            .map(|op| op.id().to_owned())
            .collect();
        let exercised = all.len() - not_exercised.len();
        ConformReport {
            target: self.target.base_url.clone(),
            checks: self.results,
            operations_in_spec: all.len(),
            operations_exercised: exercised,
            coverage: exercised as f64 / all.len().max(1) as f64,
            not_exercised,
            cleanup,
        }
    }
}

/// Renders the suite as JUnit XML: one test case per check.
///
/// # Errors
/// XML serialization failure.
pub fn junit(report: &ConformReport) -> anyhow::Result<Vec<u8>> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new("chatload conform");
    for c in &report.checks {
        let status = if c.passed {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(c.message.clone());
            s
        };
        let mut case = TestCase::new(c.name.clone(), status);
        case.set_classname(c.operation.clone());
        suite.add_test_case(case);
    }
    let coverage_status = if report.not_exercised.is_empty() {
        TestCaseStatus::success()
    } else {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
        s.set_message(format!(
            "not exercised: {}",
            report.not_exercised.join(", ")
        ));
        s
    };
    let mut case = TestCase::new("coverage: every operation of the spec", coverage_status);
    case.set_classname("coverage");
    suite.add_test_case(case);
    let mut junit = Report::new("chatload");
    junit.add_test_suite(suite);
    Ok(junit.to_string()?.into_bytes())
}
