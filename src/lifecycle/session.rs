//! The webhook side of one run (`webhooks:` in the scenario), the one object
//! the app starts and finishes: a [`WebhookSession`] (receiver, registration,
//! deletion) with the lifecycle [`EventTracker`] as its observer and, when
//! enabled, the [`QueueSampler`] for the Little's law check. What it measured
//! comes back as a [`WebhookOutcome`]; the app turns that into the report's
//! `webhooks` section.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{
    EventSchemaSummary, EventSchemas, EventSummary, EventTracker, QueueSampler, QueueSamples,
};
use crate::client::ApiClient;
use crate::scenario::webhook::WebhookSpec;
use crate::webhook::{
    EventObserver, EventRouter, SessionConfig, SessionStats, WebhookReceiver, WebhookSession,
};

/// The webhook side of one run: the session (receiver + registration), the
/// lifecycle tracker and the queue sampler, started and finished once.
#[derive(Debug)]
pub struct WebhookRun {
    spec: WebhookSpec,
    session: WebhookSession,
    tracker: Arc<EventTracker>,
    schemas: Arc<EventSchemas>,
    sampler: Option<QueueSampler>,
}

/// What a finished [`WebhookRun`] measured.
#[derive(Debug)]
pub struct WebhookOutcome {
    /// The `webhooks:` settings it ran with.
    pub spec: WebhookSpec,
    /// The session's counts (registration, receiver, parked events, and a
    /// warning when the deletion failed).
    pub stats: SessionStats,
    /// The lifecycle tracker's summary.
    pub summary: EventSummary,
    /// What the event schema checker found.
    pub schemas: EventSchemaSummary,
    /// The queue sizes sampled, when sampling was on.
    pub samples: Option<QueueSamples>,
    /// A signal ended the settle wait before its time.
    pub settle_stopped: bool,
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

impl WebhookRun {
    /// Starts the session (receiver, registration unless `register: false`)
    /// with a lifecycle tracker and the event schema checker observing every
    /// event.
    ///
    /// # Errors
    /// The spec's event schemas do not compile, the address cannot be bound,
    /// or the API refuses the registration.
    pub async fn start(spec: &WebhookSpec, client: &ApiClient) -> anyhow::Result<WebhookRun> {
        let tracker = EventTracker::new(&spec.events, spec.late_after);
        let schemas = EventSchemas::load().map_err(anyhow::Error::msg)?;
        let observers: Vec<Arc<dyn EventObserver>> = vec![tracker.clone(), schemas.clone()];
        let session = WebhookSession::start(&session_config(spec), client, observers).await?;
        Ok(WebhookRun {
            spec: spec.clone(),
            session,
            tracker,
            schemas,
            sampler: None,
        })
    }

    /// The router events go through (virtual users and agent actors
    /// subscribe to it).
    pub fn router(&self) -> &Arc<EventRouter> {
        self.session.router()
    }

    /// The lifecycle tracker (the engine tells it what it sends).
    pub fn tracker(&self) -> &Arc<EventTracker> {
        &self.tracker
    }

    /// The receiver's URL (`{{ webhook_url }}`).
    pub fn url(&self) -> &str {
        self.session.url()
    }

    /// How long the end of the run waits for the last events (`webhooks.settle`).
    pub fn settle(&self) -> Duration {
        self.spec.settle
    }

    /// The receiver (agent actors answer `chats:assign` through it).
    pub fn receiver(&self) -> &WebhookReceiver {
        self.session.receiver()
    }

    /// Starts sampling `GET /queues/status` once a second (when enabled).
    pub fn start_sampling(&mut self, client: Arc<ApiClient>) {
        if self.spec.queue_sampling {
            self.sampler = Some(QueueSampler::start(client));
        }
    }

    /// Stops sampling and finishes the session: waits for stragglers (see
    /// [`settle_wait`]; not at all when `stop` is `None`, after a
    /// hard abort) and deletes the webhook this run registered.
    pub async fn finish(
        self,
        client: &ApiClient,
        stop: Option<&CancellationToken>,
    ) -> WebhookOutcome {
        let samples = match self.sampler {
            Some(sampler) => sampler.stop().await,
            None => None,
        };
        let settle_stopped = match stop {
            Some(stop) => settle_wait(&self.tracker, self.spec.settle, stop).await,
            None => false,
        };
        let stats = self.session.finish(client, Duration::ZERO).await;
        WebhookOutcome {
            spec: self.spec,
            stats,
            summary: self.tracker.finish(),
            schemas: self.schemas.summary(),
            samples,
            settle_stopped,
        }
    }
}

/// The end-of-run wait for stragglers (`webhooks.settle`): it ends at
/// `settle`, or as soon as every event the run expects has arrived (nothing
/// would be counted `missing`), or at once when `stop` is cancelled (a
/// Ctrl-C/SIGTERM during the wait). Returns whether `stop` ended it.
pub async fn settle_wait(
    tracker: &EventTracker,
    settle: Duration,
    stop: &CancellationToken,
) -> bool {
    if settle.is_zero() {
        return false;
    }
    tokio::select! {
        () = tokio::time::sleep(settle) => false,
        () = tracker.all_arrived() => false,
        () = stop.cancelled() => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn tracker() -> Arc<EventTracker> {
        let events = ["chats:create".to_owned(), "chats:close".to_owned()];
        EventTracker::new(&events, Duration::from_secs(2))
    }

    #[tokio::test]
    async fn a_stop_ends_the_settle_wait_at_once() {
        let tracker = tracker();
        tracker.chat_created("c-1", "u-1", false, Instant::now());
        let stop = CancellationToken::new();
        let canceller = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            canceller.cancel();
        });
        let started = Instant::now();
        let stopped = settle_wait(&tracker, Duration::from_secs(60), &stop).await;
        assert!(stopped);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn the_settle_wait_ends_when_every_expected_event_arrived() {
        let tracker = tracker();
        let now = Instant::now();
        tracker.chat_created("c-1", "u-1", false, now);
        assert_eq!(tracker.outstanding(), 1, "its chats:create");
        let observer = Arc::clone(&tracker);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let body = br#"{"trigger":"chats:create","appId":"a","data":{"chatId":"c-1","userId":"u-1"},"created_at":1}"#;
            let event =
                crate::webhook::WebhookEvent::parse(body, Instant::now()).expect("envelope");
            crate::webhook::EventObserver::on_event(&*observer, &Arc::new(event));
        });
        let started = Instant::now();
        let stopped =
            settle_wait(&tracker, Duration::from_secs(60), &CancellationToken::new()).await;
        assert!(!stopped);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(tracker.outstanding(), 0);
    }
}
