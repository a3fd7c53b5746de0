//! chatload: load testing and conformance checking for the Inbenta Agent Chat API.
//!
//! The crate is built in layers: a module names (`crate::…`) only modules of
//! lower layers, never one of its own layer or above, so there is no import
//! circle (the unit test in `src/tests.rs` checks this against the code):
//!
//! ```text
//! 7  app                                   the pipeline: CLI → exit code
//! 6  agents      progress      verdict
//! 5  engine      report        config
//! 4  plan        lifecycle     cli       conform
//! 3  scenario    webhook
//! 2  client      schema        media_type
//! 1  redact
//! 0  api         metrics       text
//! ```
//!
//! - Layer 0, leaves:
//!   - [`api`]: the operations, events and headers of the API, generated from
//!     the spec by the `chatload-api` crate (shared with the mock).
//!   - [`metrics`]: HDR latency histograms per step, route and iteration,
//!     recorded through a sharded [`metrics::MetricsHub`] (no lock shared by
//!     all workers).
//!   - [`text`]: figures as text for people (latencies, rates, counts) and the
//!     HTML escaper; every renderer, message and progress line uses it.
//! - Layer 1: [`redact`], the one way out: every byte printed or written
//!   passes its [`redact::Redactor`], which masks every known secret (the
//!   client, the webhook receiver, the engine and conform register them).
//! - Layer 2: [`client`], one shared HTTP client with the API's credential
//!   headers, requests built from an operation; [`schema`], response checks
//!   against the embedded OpenAPI document; [`media_type`], the response
//!   `Content-Type`s it declares, checked on every response.
//! - Layer 3: [`scenario`], YAML scenario files → a validated model with
//!   located errors (every request resolved to an operation);
//!   [`webhook`], webhook transport only (receiver, signature, router,
//!   the session that registers and deletes).
//! - Layer 4: [`plan`], load plans as arithmetic (VUs over time, arrival
//!   times, shards); [`lifecycle`], service levels measured from webhook
//!   events, and the run's webhook side ([`lifecycle::WebhookRun`]);
//!   [`cli`], the command line's types; [`conform`], the built-in
//!   conformance suite over every operation, on the run's webhook receiver.
//! - Layer 5: [`engine`], virtual users running a plan (closed and open
//!   models), shutdown and clean-up; [`report`], the [`report::RunReport`]
//!   wire model and its renderers (no I/O); [`config`], `chatload run`'s
//!   command line applied to a scenario.
//! - Layer 6: [`agents`], agent actors driven by webhook events;
//!   [`progress`], live progress fed once per second; [`verdict`],
//!   thresholds evaluated on a report, and the pass/fail rule.
//! - Layer 7: [`app`], the pipeline (config → plan → target → run → clean-up
//!   → report → verdict); only it touches the terminal, the environment and
//!   exit codes.
//!
//! Data flow: engine ─► `MetricsHub::record_*` ─► `tick` ─► `progress`;
//! `MetricsHub::finish` ─► `report::build` ─► `report::{json, terminal}::render`.

pub mod agents;
pub mod api;
pub mod app;
pub mod cli;
pub mod client;
pub mod config;
pub mod conform;
pub mod engine;
pub mod lifecycle;
pub mod media_type;
pub mod metrics;
pub mod plan;
pub mod progress;
pub mod redact;
pub mod report;
pub mod scenario;
pub mod schema;
pub mod text;
pub mod verdict;
pub mod webhook;

#[cfg(test)]
mod tests;
