//! `chatload conform`: a built-in suite that calls every operation of the
//! API at least once, with the negative cases the spec declares, checks each
//! answer's status, content type and schema, and reports per check
//! pass/fail plus two coverages: route coverage (operations exercised /
//! operations in the spec) and status coverage (which of each operation's
//! declared responses were observed).
//!
//! Besides the tour ([`suite`]) every operation is probed, once, in the
//! state where its happy call is about to succeed ([`probes`]): missing,
//! unknown and wrong credentials per its auth class, a JSON body with a
//! wrong or missing `Content-Type`, and seeded invalid bodies generated from
//! its request schema ([`generate`]); operations the tour marks repeatable
//! also get boundary-valid bodies after their happy call. Every path is then
//! sent the methods it does not serve (405 with `Allow`).
//!
//! It cleans up after itself (closes the chats it opened, deletes the webhook
//! it registered) so it can run against a shared real instance, also when it
//! is stopped early ([`cleanup`], within [`CLEANUP_LIMIT`]). It gives up on a target that does not answer ([`watch`]):
//! its counts and that verdict are shared with the app, which prints
//! progress and stops the suite on a signal too. It uses its
//! own small HTTP helper rather than the load client: no hot path here, and
//! it needs multipart uploads and arbitrary credential mixes. The webhook it
//! registers must pass the target's `X-Hook-Secret` handshake: the app
//! starts the run's webhook receiver (`crate::webhook`) for that.

mod calls;
mod checker;
mod cleanup;
mod coverage;
mod generate;
mod output;
mod probes;
mod query;
mod setup;
mod suite;
mod watch;
mod wire;

use std::net::{Ipv4Addr, SocketAddr};

use serde::Serialize;
use serde_json::Value;

use crate::api::{AuthClass, Operation};
use crate::webhook::{EventRouter, RunningReceiver, WebhookReceiver};

pub use checker::Checker;
pub use cleanup::{CLEANUP_LIMIT, Cleanup};
pub use output::{junit, terminal};
pub use suite::run_suite;
pub use watch::{GIVE_UP_SILENT, GIVE_UP_STOPPED, Watch};

/// The generator's seed when `--seed` is not given (the CLI's help says 42).
pub const DEFAULT_SEED: u64 = 42;
/// Generated bodies per operation and class (invalid, boundary-valid) when
/// `--cases` is not given: small, so CI stays fast (the CLI's help says 5).
pub const DEFAULT_CASES: usize = 5;

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
    /// The suite switched the target's simulated agents' answers off (the
    /// bundled mock, or a `chatload mock` that took the switch or had them
    /// off already): no one but the suite can accept its invitation, so an
    /// "accept invitation" answered 409 is a failure, not a skipped check.
    pub quiet_agents: bool,
}

impl std::fmt::Debug for ConformTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConformTarget")
            .field("base_url", &self.base_url)
            .field("room", &self.room)
            .field("hook_url", &self.hook_url)
            .field("quiet_agents", &self.quiet_agents)
            .finish_non_exhaustive()
    }
}

/// How much the generator does: its seed and the number of generated
/// bodies per operation and class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConformOptions {
    pub seed: u64,
    pub cases: usize,
}

impl Default for ConformOptions {
    fn default() -> Self {
        ConformOptions {
            seed: DEFAULT_SEED,
            cases: DEFAULT_CASES,
        }
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
    /// The App ID with a secret that is not the app's.
    WrongSecret,
    /// The App ID with a session token nobody was given.
    WrongToken,
    /// An App ID the target does not know, with the real secret.
    UnknownApp,
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

/// What a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An operation's happy path.
    Happy,
    /// A negative case of the tour (unknown id, conflict, bad input).
    Negative,
    /// Missing, unknown or wrong credentials.
    Auth,
    /// A closed chat or a deleted webhook used again.
    AfterClose,
    /// A generated body the request schema rejects.
    InvalidBody,
    /// A generated query the parameters' schemas reject.
    InvalidQuery,
    /// A generated body at the request schema's boundaries.
    BoundaryBody,
    /// A method the path does not serve.
    Method,
    /// A JSON body with a wrong or missing `Content-Type`.
    ContentType,
}

/// One check's outcome.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckResult {
    pub name: String,
    /// The operation's id, or `METHOD /path` for a method check.
    pub operation: String,
    pub kind: Kind,
    pub expected: Vec<u16>,
    pub status: Option<u16>,
    pub passed: bool,
    /// Why it failed (empty on a pass).
    pub message: String,
}

/// A check not made, and why (a boundary a unique field cannot reach).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Skipped {
    pub name: String,
    pub operation: String,
    pub reason: String,
}

/// Which of one operation's declared responses were observed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StatusCoverage {
    pub operation: String,
    pub declared: Vec<u16>,
    pub observed: Vec<u16>,
    /// Declared and never observed.
    pub missing: Vec<u16>,
}

/// What the clean-up did: its counts (the JSON `cleanup`) and what it left
/// on the target (`chat ID: why`, `webhook ID: why`; the JSON `left_behind`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cleaned {
    pub counts: CleanupCounts,
    pub left_behind: Vec<String>,
}

/// The clean-up's counts: what the suite created and removed or left.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct CleanupCounts {
    /// Chats the suite opened and closed (a 409, closed already, counts).
    pub chats_closed: u64,
    /// Chats the suite opened and left open.
    pub chats_left: u64,
    /// Webhooks the suite registered and deleted (a 404, gone already, counts).
    pub webhooks_deleted: u64,
    /// Webhooks the suite registered and left registered.
    pub webhooks_left: u64,
}

/// The whole suite's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct ConformReport {
    pub target: String,
    /// The generator's seed (`--seed`): the same seed sends the same bodies.
    pub seed: u64,
    /// Generated bodies per operation and class (`--cases`).
    pub cases: usize,
    pub checks: Vec<CheckResult>,
    /// Checks not made, each with its reason.
    pub skipped: Vec<Skipped>,
    pub operations_in_spec: usize,
    pub operations_exercised: usize,
    pub coverage: f64,
    pub not_exercised: Vec<String>,
    /// Declared (operation, status) pairs, and how many were observed.
    pub statuses_declared: usize,
    pub statuses_observed: usize,
    pub status_coverage: Vec<StatusCoverage>,
    /// What the clean-up did.
    pub cleanup: CleanupCounts,
    /// What the suite created and left on the target, each `chat ID: why`
    /// or `webhook ID: why` (empty when it removed everything).
    pub left_behind: Vec<String>,
    /// A signal (Ctrl-C, SIGTERM) stopped the suite before its end: `checks`
    /// are those made until then (what it created was still cleaned up).
    pub interrupted: bool,
    /// Why the suite stopped before its end (a signal, or a target that does
    /// not answer), `null` when it ran to its end.
    pub stopped: Option<String>,
}

impl ConformReport {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.stopped.is_none() && self.checks.iter().all(|c| c.passed)
    }

    /// Masks every known secret (src/redact.rs) in the texts a target can
    /// fill (check messages, skip reasons, what was left behind, why the
    /// suite stopped) before any renderer escapes them: the terminal, the
    /// JSON and JUnit then start from the same masked text, whatever
    /// escaping each adds (the output step masks once more on the way out).
    pub(crate) fn mask_texts(&mut self) {
        let mask = |text: &mut String| *text = crate::redact::redact_str(text);
        self.checks.iter_mut().for_each(|c| mask(&mut c.message));
        self.skipped.iter_mut().for_each(|s| mask(&mut s.reason));
        self.left_behind.iter_mut().for_each(mask);
        self.stopped.iter_mut().for_each(mask);
    }
}

/// One request of the suite: an [`Operation`] and its path parameters. The
/// method and path come from the operation, the default credentials from its
/// auth class ([`Creds::for_op`]) and the default expected status from its
/// success status; negative cases override them.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub name: &'a str,
    pub op: Operation,
    pub kind: Kind,
    pub params: Vec<String>,
    pub query: Vec<(&'a str, String)>,
    pub body: Option<Value>,
    pub creds: Creds<'a>,
    pub expect: Vec<u16>,
    /// Boundary-valid generated bodies are sent after its happy call
    /// (the call can be repeated without changing what the tour needs).
    pub vary: bool,
}

impl<'a> Call<'a> {
    /// `op` with `params` (one per path parameter, in template order), the
    /// weakest credentials its auth class accepts, expecting its success status.
    pub fn new(name: &'a str, op: Operation, params: &[&str]) -> Call<'a> {
        Call {
            name,
            op,
            kind: Kind::Happy,
            params: params.iter().map(|p| (*p).to_owned()).collect(),
            query: Vec::new(),
            body: None,
            creds: Creds::for_op(op),
            expect: vec![op.success_status()],
            vary: false,
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
        if self.kind == Kind::Happy {
            self.kind = Kind::Negative;
        }
        self
    }
    /// Also accepting `status` besides the expected ones.
    pub fn or(mut self, status: u16) -> Self {
        self.expect.push(status);
        self
    }
    /// Of another kind than the default (happy, or negative with `expect`).
    pub fn kind(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }
    /// Also sends boundary-valid generated bodies after the happy call.
    pub fn vary(mut self) -> Self {
        self.vary = true;
        self
    }
    fn param_refs(&self) -> Vec<&str> {
        self.params.iter().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// The CLI cannot name this module (same layer), so its help states the
    /// defaults in words; they must be these constants.
    #[test]
    fn the_cli_help_states_the_generator_defaults() {
        let mut cli = crate::cli::Cli::command();
        let conform = cli
            .find_subcommand_mut("conform")
            .expect("conform subcommand");
        let help = conform.render_long_help().to_string();
        assert!(
            help.contains(&format!("[default: {}]", super::DEFAULT_SEED)),
            "{help}"
        );
        assert!(
            help.contains(&format!("[default: {}]", super::DEFAULT_CASES)),
            "{help}"
        );
    }
}
