//! chatload: load testing and conformance checking for the Inbenta Agent Chat API.
//!
//! The crate reads one way, each module depending only on those before it:
//!
//! ```text
//! api ─► scenario ─► plan ─► engine (virtual users) ─► client ─► metrics ─► report
//! ```
//!
//! - [`api`]: the operations, events and headers of the API, generated from
//!   the spec by the `chatload-api` crate (shared with the mock).
//! - [`scenario`]: YAML scenario files → a validated model with located errors.
//! - [`plan`]: load plans as arithmetic: VUs over time, arrival times, shards.
//! - [`engine`]: virtual users running a plan (closed and open models), shutdown.
//! - [`client`]: one shared HTTP client with the API's credential headers.
//! - [`metrics`]: HDR latency histograms per step, route and iteration, recorded
//!   through a sharded [`metrics::MetricsHub`] (no lock shared by all workers).
//! - [`schema`]: response checks against the embedded OpenAPI document.
//! - [`report`]: the [`report::RunReport`] wire model and its renderers (no I/O).
//! - [`progress`]: live progress fed once per second by [`metrics::TickSnapshot`].
//! - [`conform`]: the built-in conformance suite over every operation.
//! - [`verdict`]: thresholds evaluated on a report, and the pass/fail rule.
//! - [`webhook`]: webhook transport: the receiver, its signature check, the
//!   router that hands events to virtual users and agent actors, and the
//!   session (register, handshake, delete) a run starts and finishes.
//! - [`lifecycle`]: service levels measured from those events (delay per
//!   event, missing, late, out of order; time to assign, queue, duration).
//! - [`agents`]: agent actors (a scenario's `agents:` population) working
//!   chats through the API's agent-side routes, driven by webhook events.
//! - [`config`]: `chatload run`'s command line applied to a scenario (load
//!   overrides, thresholds, shard, seed, schema mode).
//! - [`redact`]: the one way out: every byte printed or written passes its
//!   [`redact::Redactor`], which masks every known secret.
//! - [`cli`] and [`app`]: the command line and the pipeline that ties it together;
//!   only these touch the terminal, the environment and exit codes.
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
