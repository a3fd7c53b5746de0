//! chatload's end-to-end tests: one binary (ripgrep's layout), each module a
//! feature. Every test starts its own bundled mock on 127.0.0.1:0 and runs the
//! harness over real HTTP; loads are tiny and bounded.
//!
//! - `abort_on_fail`: a run its threshold stopped fails, saying so everywhere.
//! - `accounting`: every started iteration counted; cut-off, dropped and
//!   short-of-plan loads fail the run; signals and exit codes.
//! - `connections`: connection policies (`keep_alive`, `new_per_iteration`,
//!   `http2`) and connect/TLS/first-byte figures per route, over the fast
//!   per-VU path for https:// and http://.
//! - `common`: helpers (start a mock, write a scenario, run the CLI in process).
//! - `run`: counts, captures, shipped scenarios, latency and coordinated omission.
//! - `reports`: shards, merge, compare, CSV.
//! - `media`: multipart uploads, downloads checked for size and type, the
//!   API's refusals, body bytes per route, `smoke.yaml` covering 50/50.
//! - `failures`: why steps failed (samples in every output, bounded, secrets masked).
//! - `cleanup`: the end-of-run clean-up against a target that never closes
//!   a chat: its time limit, a second signal, the chats left open by id.
//! - `hostile`: a server reflecting credentials; no secret in any output
//!   of `run` or `conform`; `hostile_forms`: one echoing them escaped,
//!   URL-encoded and in base64.
//! - `cli`: the binary itself: validation messages, exit codes, SIGINT.
//! - `docs_examples`: every YAML example of the scenario and webhook docs
//!   validates.
//! - `conform`: `chatload conform` against a server that breaks one rule
//!   of each kind of check; each kind fails with its reason. Against a
//!   server that never answers or refuses connections it gives up (exit 3);
//!   Ctrl-C still writes the checks made so far (exit 130).
//!   `conform_dependencies`: a check needing an id the tour never got is
//!   skipped, never passed on a made-up id; a download must be the upload.
//! - `agents`: agent actors against the mock with its simulated agents off;
//!   `agents_e2e`: the same over the mock's real webhooks.
//! - `module_graph`: no file-level import circles in any crate of the
//!   workspace (a scan of the sources, not a run).
//! - `outputs`: files kept intact by usage errors, corrupt or foreign
//!   reports refused by name, unwritable paths found before any work,
//!   `--quiet`, the clean-up's result when nothing was left open.
//! - `verdict`: no data, allow_empty, one verdict for run, report and merge,
//!   JUnit agreeing with the exit code, version-1 reports.
//! - `network`: a real network (root only): the mock in a network
//!   namespace behind a veth pair, delayed by `tc netem` or a relay;
//!   latency, keep-alive reuse (also over TLS), coordinated omission, timeouts.
//! - `unmeasured`: what was not measured (a route never schema-checked, a
//!   step never run, a stop with no signal, agents' requests) shown as such.
//! - `rate_limit`: the mock's token bucket against the `rate_limit`
//!   policies (`fail`, `respect`, `retry`); throttled counts and waits.
//! - `tls`: HTTPS end to end: the TLS mock, `--ca-cert`, HTTP/1.1 and
//!   HTTP/2, a wrong CA, `--insecure`, `--mock-tls`.
//! - `webhooks`: the receiver, `wait_event`, event tracking (a relay in the
//!   test delivers the mock's events).

mod abort_on_fail;
mod accounting;
mod agents;
mod agents_e2e;
mod cleanup;
mod cli;
mod common;
mod conform;
mod conform_dependencies;
mod conform_setup;
mod connections;
mod docs_examples;
mod failures;
mod hostile;
mod hostile_forms;
mod media;
mod module_graph;
mod network;
mod outputs;
mod rate_limit;
mod reports;
mod run;
mod templates;
mod tls;
mod transport;
mod unmeasured;
mod validation;
mod verdict;
mod webhook_order;
mod webhooks;
