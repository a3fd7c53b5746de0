//! chatload: load-testing and conformance harness for the Inbenta Agent Chat API.
//!
//! Crate map (this tree carries the measurement and output side; the scenario, engine, client and
//! CLI modules are merged in from the lead's branch):
//!
//! - [`metrics`]: HDR latency histograms per step, per route and per whole iteration, recorded
//!   through a sharded [`metrics::MetricsHub`] and merged into [`metrics::RunMetrics`] at the end.
//! - [`report`]: the [`report::RunReport`] wire model built from `RunMetrics`, plus renderers
//!   (JSON, terminal summary) that return bytes and do no I/O.
//! - [`progress`]: live progress (indicatif bar or plain lines) fed by
//!   [`metrics::TickSnapshot`] once per second.
//!
//! Data flow: engine ─► `MetricsHub::record_*` ─► `tick` ─► `progress`;
//! `MetricsHub::finish` ─► `report::build` ─► `report::{json, terminal}::render`.

pub mod metrics;
pub mod progress;
pub mod report;
