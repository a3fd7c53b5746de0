//! Service levels measured from webhook events: each event's delay after
//! the request that caused it, the events that never came, came twice, late
//! or out of order, and the chat lifecycle's service levels (time to assign,
//! time in queue, time to the first agent reply, chat duration, queue
//! positions).
//!
//! - [`tracker`]: the [`EventTracker`], an observer on the webhook router
//!   (`crate::webhook`) that the engine feeds with the lifecycle operations
//!   it sends (`crate::engine`'s webhook hooks).
//! - [`schema`]: [`EventSchemas`], an observer that checks each event's
//!   `data` against the spec's `webhooks` schemas (`events.schema_violations`).
//! - [`queue`]: samples `GET /queues/status` for the Little's law check.
//! - [`session`]: the [`WebhookRun`], the webhook side of one run that the
//!   app starts and finishes (transport session + tracker + sampler).
//!
//! Measurement only: `crate::webhook` carries the events here, and the
//! report (`crate::report::webhook`) turns the [`EventSummary`] into the
//! run record's `webhooks` section.

pub mod queue;
pub mod schema;
pub mod session;
pub mod tracker;

pub use queue::{QueueSampler, QueueSamples};
pub use schema::{EventSchemaSummary, EventSchemas, EventViolation};
pub use session::{WebhookOutcome, WebhookRun};
pub use tracker::{EventLatency, EventSummary, EventTracker, Lifecycle};
