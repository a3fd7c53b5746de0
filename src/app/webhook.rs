//! The run's webhook stage (`webhooks:` in the scenario): one
//! [`WebhookSession`] (receiver, registration, deletion) with the lifecycle
//! tracker as its observer and, when enabled, the queue sampler for the
//! Little's law check; at the end, the figures the report's `webhooks`
//! section is built from. `run.rs` calls [`RunHooks::start`] and
//! [`RunHooks::finish`] once each.

use std::sync::Arc;
use std::time::Duration;

use super::{AppError, run_failed};
use crate::client::ApiClient;
use crate::engine::EngineHooks;
use crate::lifecycle::{EventSchemas, EventTracker, QueueSampler};
use crate::report::webhook::{LittleInput, ReceiverCounts, WebhookInput};
use crate::scenario::Scenario;
use crate::scenario::webhook::WebhookSpec;
use crate::webhook::{EventObserver, EventRouter, SessionConfig, WebhookReceiver, WebhookSession};

/// The webhook side of one run.
#[derive(Debug)]
pub(super) struct RunHooks {
    spec: WebhookSpec,
    session: WebhookSession,
    tracker: Arc<EventTracker>,
    schemas: Arc<EventSchemas>,
    sampler: Option<QueueSampler>,
}

/// The transport settings of `webhooks:`.
fn session_config(spec: &WebhookSpec) -> SessionConfig<'_> {
    SessionConfig {
        bind: spec.bind,
        public_url: spec.public_url.as_deref(),
        register: spec.register,
        secret: spec.secret.as_ref().map(|s| s.expose()),
        verify: spec.verify,
        events: &spec.events,
    }
}

impl RunHooks {
    /// Starts the session (receiver, registration unless `register: false`)
    /// with a lifecycle tracker and the event schema checker observing every
    /// event.
    ///
    /// # Errors
    /// The address cannot be bound, or the API refuses the registration.
    pub(super) async fn start(
        spec: &WebhookSpec,
        client: &ApiClient,
    ) -> Result<RunHooks, AppError> {
        let tracker = EventTracker::new(&spec.events, spec.late_after);
        let schemas = EventSchemas::load().map_err(|e| run_failed(anyhow::anyhow!(e)))?;
        let observers: Vec<Arc<dyn EventObserver>> = vec![tracker.clone(), schemas.clone()];
        let session = WebhookSession::start(&session_config(spec), client, observers)
            .await
            .map_err(run_failed)?;
        Ok(RunHooks {
            spec: spec.clone(),
            session,
            tracker,
            schemas,
            sampler: None,
        })
    }

    /// The router events go through (agent actors subscribe to it).
    pub(super) fn router(&self) -> &Arc<EventRouter> {
        self.session.router()
    }

    /// How long the end of the run waits for the last events (`webhooks.settle`).
    pub(super) fn settle(&self) -> Duration {
        self.spec.settle
    }

    /// The receiver (agent actors answer `chats:assign` through it).
    pub(super) fn receiver(&self) -> &WebhookReceiver {
        self.session.receiver()
    }

    /// The engine's side: routing to VU inboxes and lifecycle tracking.
    pub(super) fn engine_hooks(&self, scenario: &Scenario) -> Arc<EngineHooks> {
        Arc::new(EngineHooks::new(
            scenario,
            Arc::clone(self.session.router()),
            Arc::clone(&self.tracker),
            self.session.url(),
        ))
    }

    /// Starts sampling `GET /queues/status` once a second (when enabled).
    pub(super) fn start_sampling(&mut self, client: Arc<ApiClient>) {
        if self.spec.queue_sampling {
            self.sampler = Some(QueueSampler::start(client));
        }
    }

    /// Stops sampling, finishes the session (waits `settle` for stragglers,
    /// not after a hard abort; deletes the webhook this run registered) and
    /// returns what the report needs, with a warning when the deletion
    /// failed. `run_secs` is the load's duration.
    pub(super) async fn finish(
        self,
        client: &ApiClient,
        run_secs: f64,
        hard_abort: bool,
    ) -> (WebhookInput, Option<String>) {
        let samples = match self.sampler {
            Some(sampler) => sampler.stop().await,
            None => None,
        };
        let settle = if hard_abort {
            Duration::ZERO
        } else {
            self.spec.settle
        };
        let stats = self.session.finish(client, settle).await;
        let input = WebhookInput {
            registered: stats.registered,
            events: self.spec.events,
            late_after: self.spec.late_after,
            settle: self.spec.settle,
            verify: self.spec.verify,
            receiver: ReceiverCounts {
                handshakes: stats.receiver.handshakes,
                events: stats.receiver.events,
                parked: stats.parked,
            },
            invalid_signatures: stats.receiver.invalid_signatures,
            malformed: stats.receiver.malformed,
            summary: self.tracker.finish(),
            schemas: self.schemas.summary(),
            little: samples.map(|s| LittleInput {
                samples: s.count,
                mean_queue_size: s.mean(),
                run_secs,
            }),
        };
        (input, stats.delete_warning)
    }
}
