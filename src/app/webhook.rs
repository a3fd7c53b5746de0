//! The run's webhook stage (`webhooks:` in the scenario) as the pipeline
//! sees it: [`start`] the [`WebhookRun`] (`crate::lifecycle`), hand the
//! engine its [`EventHub`], and at the end turn the [`WebhookOutcome`] into
//! the report's `webhooks` input. `run.rs` calls [`start`] and [`finish`]
//! once each.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{AppError, run_failed};
use crate::client::ApiClient;
use crate::engine::EventHub;
use crate::lifecycle::WebhookOutcome;
pub(super) use crate::lifecycle::WebhookRun;
use crate::report::webhook::{LittleInput, ReceiverCounts, WebhookInput};
use crate::scenario::Scenario;
use crate::scenario::webhook::WebhookSpec;

/// Starts the webhook side of the run.
///
/// # Errors
/// The address cannot be bound, or the API refuses the registration.
pub(super) async fn start(spec: &WebhookSpec, client: &ApiClient) -> Result<WebhookRun, AppError> {
    WebhookRun::start(spec, client).await.map_err(run_failed)
}

/// The engine's side: routing to VU inboxes and lifecycle tracking.
pub(super) fn event_hub(run: &WebhookRun, scenario: &Scenario) -> Arc<EventHub> {
    Arc::new(EventHub::new(
        scenario,
        Arc::clone(run.router()),
        Arc::clone(run.tracker()),
        run.url(),
    ))
}

/// How the webhook side finished.
pub(super) struct Finished {
    /// What the report needs.
    pub(super) input: WebhookInput,
    /// Set when the deletion failed.
    pub(super) warning: Option<String>,
    /// A signal ended the settle wait before its time.
    pub(super) settle_stopped: bool,
}

/// Finishes the webhook side and returns what the report needs, with a
/// warning when the deletion failed. `run_secs` is the load's duration;
/// `settle_stop` ends the settle wait (a signal), `None` skips it (hard abort).
pub(super) async fn finish(
    run: WebhookRun,
    client: &ApiClient,
    run_secs: f64,
    settle_stop: Option<&CancellationToken>,
) -> Finished {
    let WebhookOutcome {
        spec,
        stats,
        summary,
        schemas,
        samples,
        settle_stopped,
    } = run.finish(client, settle_stop).await;
    let input = WebhookInput {
        registered: stats.registered,
        events: spec.events,
        late_after: spec.late_after,
        settle: spec.settle,
        verify: spec.verify,
        receiver: ReceiverCounts {
            handshakes: stats.receiver.handshakes,
            events: stats.receiver.events,
            parked: stats.parked,
            stray: stats.receiver.stray,
        },
        invalid_signatures: stats.receiver.invalid_signatures,
        malformed: stats.receiver.malformed,
        summary,
        schemas,
        little: samples.map(|s| LittleInput {
            samples: s.count,
            mean_queue_size: s.mean(),
            run_secs,
        }),
    };
    Finished {
        input,
        warning: stats.delete_warning,
        settle_stopped,
    }
}
