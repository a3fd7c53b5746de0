//! The run's webhook side (`webhooks:` in the scenario): start the receiver,
//! register the webhook with the scenario's credentials (and delete it when
//! the run ends, interrupted or not), sample the queue for the Little's law
//! check, wait for stragglers, and hand the tracker's figures to the report.
//!
//! Secrets (the webhook's and the app's) go into headers and the receiver
//! only; errors name the status and the API's message, never a secret.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{AppError, run_failed};
use crate::api::Method;
use crate::client::{ApiClient, ApiRequest, AuthHeaders};
use crate::engine::EngineHooks;
use crate::report::webhook::{LittleInput, WebhookInput};
use crate::scenario::Scenario;
use crate::scenario::webhook::WebhookSpec;
use crate::webhook::{EventRouter, EventTracker, RunningReceiver, WebhookReceiver};

/// How long registration and deletion may take.
const API_DEADLINE: Duration = Duration::from_secs(10);

/// The webhook side of one run.
#[derive(Debug)]
pub(super) struct RunHooks {
    spec: WebhookSpec,
    running: RunningReceiver,
    router: Arc<EventRouter>,
    tracker: Arc<EventTracker>,
    /// The id of the webhook this run registered (deleted at the end).
    registered: Option<String>,
    sampler: Option<(CancellationToken, JoinHandle<QueueSamples>)>,
}

/// `GET /queues/status` samples: total queue size over rooms, once a second.
#[derive(Debug, Default, Clone, Copy)]
struct QueueSamples {
    count: u64,
    sum: f64,
}

impl RunHooks {
    /// Starts the receiver and registers the webhook (unless `register: false`).
    ///
    /// # Errors
    /// The address cannot be bound, or the API refuses the registration.
    pub(super) async fn start(
        spec: &WebhookSpec,
        client: &ApiClient,
    ) -> Result<RunHooks, AppError> {
        let router = EventRouter::new();
        let tracker = EventTracker::new(&spec.events, spec.late_after);
        router.add_observer(tracker.clone());
        let receiver = WebhookReceiver::new(Arc::clone(&router), spec.verify);
        if let Some(secret) = &spec.secret {
            receiver.add_secret(secret.expose());
        }
        let running = receiver.start(spec.bind).await.map_err(|e| {
            run_failed(anyhow!(
                "cannot start the webhook receiver on {}: {e}",
                spec.bind
            ))
        })?;
        let mut hooks = RunHooks {
            spec: spec.clone(),
            running,
            router,
            tracker,
            registered: None,
            sampler: None,
        };
        if spec.register {
            let target = spec
                .public_url
                .clone()
                .unwrap_or_else(|| hooks.running.local_url());
            let (id, secret) = register(client, &spec.events, &target).await?;
            hooks.running.receiver.add_secret(&secret);
            hooks.registered = Some(id);
        }
        Ok(hooks)
    }

    /// The router events go through (agent actors subscribe to it).
    pub(super) fn router(&self) -> &Arc<EventRouter> {
        &self.router
    }

    /// How long the end of the run waits for the last events (`webhooks.settle`).
    pub(super) fn settle(&self) -> Duration {
        self.spec.settle
    }

    /// The receiver (agent actors answer `chats:assign` through it).
    pub(super) fn receiver(&self) -> &WebhookReceiver {
        &self.running.receiver
    }

    /// The engine's side: routing to VU inboxes and lifecycle tracking.
    pub(super) fn engine_hooks(&self, scenario: &Scenario) -> Arc<EngineHooks> {
        let url = self
            .spec
            .public_url
            .clone()
            .unwrap_or_else(|| self.running.local_url());
        Arc::new(EngineHooks::new(
            scenario,
            Arc::clone(&self.router),
            Arc::clone(&self.tracker),
            &url,
        ))
    }

    /// Starts sampling `GET /queues/status` once a second (when enabled).
    pub(super) fn start_sampling(&mut self, client: Arc<ApiClient>) {
        if !self.spec.queue_sampling {
            return;
        }
        let stop = CancellationToken::new();
        let task = tokio::spawn(sample_queues(client, stop.clone()));
        self.sampler = Some((stop, task));
    }

    /// Stops sampling, waits `settle` for stragglers (not after a hard
    /// abort), deletes the webhook this run registered, stops the receiver
    /// and returns what the report needs. `run_secs` is the load's duration.
    pub(super) async fn finish(
        self,
        client: &ApiClient,
        run_secs: f64,
        hard_abort: bool,
    ) -> (WebhookInput, Option<String>) {
        let samples = match self.sampler {
            Some((stop, task)) => {
                stop.cancel();
                task.await.ok()
            }
            None => None,
        };
        if !hard_abort {
            tokio::time::sleep(self.spec.settle).await;
        }
        let mut warning = None;
        if let Some(id) = &self.registered
            && let Err(e) = delete(client, id).await
        {
            warning = Some(format!("could not delete webhook {id}: {e}"));
        }
        let receiver = self.running.receiver.counters();
        let parked = self.router.unrouted();
        self.running.stop().await;
        let summary = self.tracker.finish();
        let little = samples.map(|s| LittleInput {
            samples: s.count,
            mean_queue_size: if s.count == 0 {
                0.0
            } else {
                s.sum / s.count as f64
            },
            run_secs,
        });
        let input = WebhookInput {
            registered: self.registered.is_some(),
            events: self.spec.events.clone(),
            late_after: self.spec.late_after,
            settle: self.spec.settle,
            verify: self.spec.verify,
            receiver,
            parked,
            summary,
            little,
        };
        (input, warning)
    }
}

/// `POST /webhooks {events, target}` → (id, secret).
async fn register(
    client: &ApiClient,
    events: &[String],
    target: &str,
) -> Result<(String, String), AppError> {
    let body = json!({"events": events, "target": target}).to_string();
    let request = ApiRequest {
        method: Method::Post,
        path: "/webhooks",
        query: &[],
        headers: &[],
        body: Some(body.into_bytes()),
        auth: AuthHeaders::Secret,
    };
    let response = tokio::time::timeout(API_DEADLINE, client.send(request))
        .await
        .map_err(|_| run_failed(anyhow!("registering the webhook timed out")))?
        .map_err(|e| run_failed(anyhow!("registering the webhook failed: {e}")))?;
    let parsed: Option<Value> = serde_json::from_slice(&response.body).ok();
    if !(200..300).contains(&response.status) {
        let message = parsed
            .as_ref()
            .and_then(|b| b.pointer("/error/message"))
            .and_then(Value::as_str)
            .unwrap_or("no error message");
        return Err(run_failed(anyhow!(
            "registering the webhook for {target} failed with status {}: {message}",
            response.status
        )));
    }
    let text = |p: &str| {
        parsed
            .as_ref()
            .and_then(|b| b.pointer(p))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match (text("/webhook/id"), text("/webhook/secret")) {
        (Some(id), Some(secret)) => Ok((id, secret)),
        _ => Err(run_failed(anyhow!(
            "the webhook registration answer has no webhook.id and webhook.secret"
        ))),
    }
}

/// `DELETE /webhooks/{id}`.
async fn delete(client: &ApiClient, id: &str) -> Result<(), String> {
    let path = format!("/webhooks/{id}");
    let request = ApiRequest {
        method: Method::Delete,
        path: &path,
        query: &[],
        headers: &[],
        body: None,
        auth: AuthHeaders::Secret,
    };
    match tokio::time::timeout(API_DEADLINE, client.send(request)).await {
        Ok(Ok(r)) if (200..300).contains(&r.status) || r.status == 404 => Ok(()),
        Ok(Ok(r)) => Err(format!("status {}", r.status)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".to_owned()),
    }
}

/// Samples the total queue size (sum over rooms) once a second until stopped.
async fn sample_queues(client: Arc<ApiClient>, stop: CancellationToken) -> QueueSamples {
    let mut samples = QueueSamples::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return samples,
        }
        let started = Instant::now();
        let request = ApiRequest {
            method: Method::Get,
            path: "/queues/status",
            query: &[],
            headers: &[],
            body: None,
            auth: AuthHeaders::Secret,
        };
        let answer = tokio::select! {
            r = client.send(request) => r,
            () = stop.cancelled() => return samples,
        };
        let Ok(response) = answer else { continue };
        let Ok(body) = serde_json::from_slice::<Value>(&response.body) else {
            continue;
        };
        let size: f64 = body
            .get("queues")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|q| q.get("size").and_then(Value::as_f64))
            .sum();
        if response.status == 200 && started.elapsed() < Duration::from_secs(1) {
            samples.count += 1;
            samples.sum += size;
        }
    }
}
