//! The mock's tests: one binary, each module a feature, every test on its
//! own mock started on port 0 (`chatload_mock::testing`), most of them over
//! real HTTP with every response checked against the OpenAPI document.
//!
//! - `common`: the spec-checking start, the OpenAPI oracle (`spec`), a
//!   recording webhook receiver (`receiver`).
//! - `routes`, `chat_routes`: every route's happy path, auth failures and bad input.
//! - `schemathesis`: Schemathesis against the mock, every phase and check, 0 failures.
//! - `spec_agreement`: request validation as the spec says (bounds, floats, null, bodies).
//! - `state_rules`: inactivity close, queue bound, `forever:alone` on a queued chat,
//!   app isolation, partial updates.
//! - `flows`: the seed's two flows, assignment, FIFO queue, many concurrent lifecycles.
//! - `faults`: latency, error rate, stall, `break_schema`, stats, config, shutdown, hooks.
//! - `caps`: users and media evicted by their caps (404 JSON afterwards).
//! - `rate_limit`: the per-app token bucket (429 + `Retry-After`) and its admin API.
//! - `conformance`: the spec checker itself, and every spec operation exercised.
//! - `fuzz_routes`: property test, arbitrary requests at every route.
//! - `hostage`: connection limit, header-read, body and idle timeouts, an
//!   oversized declared body refused at once, SIGTERM
//!   with a half-sent request (the binary).
//! - `admin_input`: admin bodies that are not objects, rates too large, multipart without a boundary.
//! - `tls_config`: the `tls:` section's errors, located in the file.
//! - `webhooks`, `webhook_faults`, `webhook_order`, `assign_webhook`: outgoing
//!   webhooks, their faults and order, and the `chats:assign` question.

mod admin_input;
mod assign_webhook;
mod caps;
mod chat_routes;
mod common;
mod conformance;
mod faults;
mod flows;
mod fuzz_routes;
mod hostage;
mod rate_limit;
mod routes;
mod schemathesis;
mod spec_agreement;
mod state_rules;
mod tls_config;
mod webhook_faults;
mod webhook_order;
mod webhooks;
