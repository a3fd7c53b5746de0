//! chatload: load testing and conformance checking for the Inbenta Agent Chat API.
//!
//! The crate reads one way, each module depending only on those before it:
//!
//! ```text
//! api ─► scenario ─► plan ─► engine (virtual users) ─► client ─► metrics ─► report
//! ```
//!
//! - [`api`]: the catalogue of operations (method, path, credential class).
//! - [`scenario`]: YAML scenario files → a validated model with located errors.
pub mod api;
pub mod scenario;
