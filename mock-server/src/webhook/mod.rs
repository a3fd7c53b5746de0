//! Outgoing webhooks (reference §5): the handshake at registration, the
//! asynchronous delivery of events, the synchronous `chats:assign` decision,
//! seeded delivery faults and their counters.
//!
//! [`WebhookHub`] is shared by every app of a server. Store rules never do
//! I/O: under the app lock they only build a [`Delivery`] and hand it to
//! [`WebhookHub::enqueue`], which never waits: it counts the delivery
//! against one bound shared by all apps (`queue_capacity`; a full queue
//! drops and counts) and sends it to the worker that owns its chat. A small
//! pool of tokio workers, started on first use, each drains its own shard
//! with one shared HTTP client (`deliver`): the events of one chat go out
//! in order, different chats in parallel. The handshake and `chats:assign` calls (`call`) run in the
//! request's or a spawned task, always with the store unlocked.
//!
//! Registrations themselves (ids, events, targets, secrets) live in the
//! store (`store::webhook`); each holds an [`Endpoint`], the part that
//! deliveries need after the lock is released.

mod call;
pub mod config;
mod deliver;
pub mod sign;
pub mod stats;

pub use config::{WebhookFaultsConfig, WebhooksConfig};

use crate::event::MockEvent;
use rand::Rng;
use rand::rngs::StdRng;
use serde_json::{Value, json};
use sign::Secret;
use stats::{Counter, HandshakeCounts, HookCounters};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Where one registration's deliveries go: shared by the store's
/// registration, queued deliveries and the workers.
#[derive(Debug)]
pub struct Endpoint {
    /// App the webhook belongs to.
    pub app_id: Arc<str>,
    /// Webhook id, e.g. `w-1`.
    pub webhook_id: String,
    /// Target URL.
    pub target: String,
    /// Signs every event (never shown by `Debug`).
    secret: Secret,
    /// This webhook's counters (they outlive target changes and deletion).
    pub counters: Arc<HookCounters>,
}

impl Endpoint {
    /// The HMAC secret (returned only by `POST /webhooks`).
    pub fn secret(&self) -> &str {
        self.secret.expose()
    }
}

/// The faults drawn for one delivery, at enqueue time, from the webhook's
/// own seeded RNG (so the outcome depends only on that webhook's sequence
/// of events, not on worker scheduling).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaultPlan {
    /// Not sent at all.
    pub drop: bool,
    /// Sent twice.
    pub duplicate: bool,
    /// Sent this much later.
    pub delay: Option<Duration>,
    /// Held until the next delivery of the same chat to the same webhook
    /// has been sent.
    pub reorder: bool,
    /// Sent with a `data` that breaks the event's schema (`break_schema`;
    /// not drawn: set per event name).
    pub break_schema: bool,
}

impl FaultPlan {
    /// Draws one plan. Always draws the four probabilities in the same
    /// order, so one delivery's outcome never shifts the next one's draws.
    pub fn draw(faults: &WebhookFaultsConfig, rng: &mut StdRng) -> FaultPlan {
        let hit = |rng: &mut StdRng, p: f64| rng.random::<f64>() < p;
        let drop = hit(rng, faults.drop);
        let duplicate = hit(rng, faults.duplicate);
        let delayed = hit(rng, faults.delay);
        let reorder = hit(rng, faults.reorder);
        let delay = delayed.then(|| faults.delay_dist.sample(rng));
        FaultPlan {
            drop,
            duplicate: duplicate && !drop,
            delay: delay.filter(|_| !drop),
            // A delayed delivery is already out of order; one fault at a time.
            reorder: reorder && !drop && delay.is_none(),
            break_schema: false,
        }
    }
}

/// One event for one webhook.
#[derive(Debug)]
pub struct Delivery {
    /// Where it goes.
    pub endpoint: Arc<Endpoint>,
    /// The event (shared by every webhook it goes to).
    pub event: Arc<MockEvent>,
    /// The envelope's trigger: the event's, or `users:join` for the alias.
    pub trigger: &'static str,
    /// Injected faults.
    pub plan: FaultPlan,
}

/// A live registration as the admin stats show it.
#[derive(Debug, Clone)]
pub struct WebhookSummary {
    /// Webhook id.
    pub id: String,
    /// Target URL.
    pub target: String,
    /// Subscribed events.
    pub events: Vec<String>,
}

/// Handshake counts and per-webhook counters of one app.
#[derive(Debug, Default)]
struct AppHooks {
    handshakes: HandshakeCounts,
    /// `(webhook id, counters)` in registration order.
    webhooks: Vec<(String, Arc<HookCounters>)>,
}

/// The webhook machinery of one server (cheap to clone).
#[derive(Debug, Clone)]
pub struct WebhookHub {
    inner: Arc<HubInner>,
}

#[derive(Debug)]
struct HubInner {
    config: WebhooksConfig,
    /// Current faults; swapped whole by `PUT /__mock/webhooks/faults`.
    faults: RwLock<Arc<WebhookFaultsConfig>>,
    /// Fast-path switch: false → no fault table read, no RNG draw.
    faults_active: AtomicBool,
    /// One shard per worker; a chat's deliveries always go to the same one.
    shards: Vec<mpsc::UnboundedSender<deliver::Queued>>,
    /// Taken by the first `enqueue` inside a runtime, which starts the workers.
    receivers: Mutex<Vec<mpsc::UnboundedReceiver<deliver::Queued>>>,
    /// Deliveries accepted and not yet started (bounded by `queue_capacity`).
    queued: AtomicUsize,
    /// Hashes chat ids into lanes (fixed: a chat's shard never changes).
    lanes: foldhash::fast::FixedState,
    started: AtomicBool,
    /// Built on first use (after installing the TLS provider reqwest needs).
    client: OnceLock<Option<reqwest::Client>>,
    /// Cancelled at server shutdown: workers, retries and timers stop.
    cancel: CancellationToken,
    registry: Mutex<Vec<(Arc<str>, AppHooks)>>,
}

impl WebhookHub {
    /// A hub for `config`; no task starts until the first delivery.
    pub fn new(config: &WebhooksConfig, cancel: CancellationToken) -> WebhookHub {
        let (shards, receivers) = (0..config.workers.max(1))
            .map(|_| mpsc::unbounded_channel())
            .unzip();
        WebhookHub {
            inner: Arc::new(HubInner {
                faults_active: AtomicBool::new(config.faults.is_active()),
                faults: RwLock::new(Arc::new(config.faults.clone())),
                config: config.clone(),
                shards,
                receivers: Mutex::new(receivers),
                queued: AtomicUsize::new(0),
                lanes: foldhash::fast::FixedState::with_seed(0),
                started: AtomicBool::new(false),
                client: OnceLock::new(),
                cancel,
                registry: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The configuration the server started with (faults: see [`Self::faults`]).
    pub fn config(&self) -> &WebhooksConfig {
        &self.inner.config
    }

    /// The current delivery faults.
    pub fn faults(&self) -> Arc<WebhookFaultsConfig> {
        Arc::clone(
            &self
                .inner
                .faults
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// The current faults when any is active (one atomic load otherwise).
    pub fn active_faults(&self) -> Option<Arc<WebhookFaultsConfig>> {
        self.inner
            .faults_active
            .load(Ordering::Relaxed)
            .then(|| self.faults())
    }

    /// Replaces the delivery faults; `faults` must be valid.
    pub fn set_faults(&self, faults: WebhookFaultsConfig) {
        let active = faults.is_active();
        *self
            .inner
            .faults
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(faults);
        self.inner.faults_active.store(active, Ordering::Relaxed);
    }

    /// The endpoint of a (new or re-targeted) registration; its counters
    /// are kept per (app, webhook id) across target changes.
    pub fn endpoint(
        &self,
        app_id: &Arc<str>,
        webhook_id: &str,
        target: &str,
        secret: &str,
    ) -> Arc<Endpoint> {
        let counters = {
            let mut registry = self.registry();
            let app = app_entry(&mut registry, app_id);
            match app.webhooks.iter().find(|(id, _)| id == webhook_id) {
                Some((_, counters)) => Arc::clone(counters),
                None => {
                    let counters = Arc::new(HookCounters::default());
                    app.webhooks
                        .push((webhook_id.to_owned(), Arc::clone(&counters)));
                    counters
                }
            }
        };
        Arc::new(Endpoint {
            app_id: Arc::clone(app_id),
            webhook_id: webhook_id.to_owned(),
            target: target.to_owned(),
            secret: Secret::new(secret),
            counters,
        })
    }

    /// Queues a delivery without waiting: a full queue drops it and counts
    /// it. Its chat (or, for an event about no chat, its app) picks the
    /// worker, so one chat's deliveries keep their order. Safe to call with
    /// an app's store locked.
    pub fn enqueue(&self, delivery: Delivery) {
        self.ensure_workers();
        let inner = &*self.inner;
        let counters = &delivery.endpoint.counters;
        if inner.queued.fetch_add(1, Ordering::Relaxed) >= inner.config.queue_capacity {
            inner.queued.fetch_sub(1, Ordering::Relaxed);
            counters.bump(Counter::DroppedQueueFull);
            return;
        }
        counters.bump(Counter::Enqueued);
        let key = delivery
            .event
            .data
            .chat_id()
            .unwrap_or(&delivery.event.app_id);
        let lane = inner.lanes.hash_one(key);
        let shard = &inner.shards[(lane % inner.shards.len() as u64) as usize];
        if shard.send(deliver::Queued { delivery, lane }).is_err() {
            // Only after shutdown (the worker is gone): nothing is waiting.
            inner.queued.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Deliveries waiting in the queue (not yet started by a worker).
    pub fn queued(&self) -> usize {
        self.inner.queued.load(Ordering::Relaxed)
    }

    /// A worker started a delivery: it no longer counts against the queue.
    fn dequeued(&self) {
        self.inner.queued.fetch_sub(1, Ordering::Relaxed);
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Vec<(Arc<str>, AppHooks)>> {
        self.inner
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn count_handshake(&self, app_id: &str, ok: bool) {
        let mut registry = self.registry();
        let app = app_entry(&mut registry, &Arc::from(app_id));
        if ok {
            app.handshakes.ok += 1;
        } else {
            app.handshakes.failed += 1;
        }
    }

    /// The shared HTTP client, built on first use.
    fn client(&self) -> Option<&reqwest::Client> {
        self.inner
            .client
            .get_or_init(|| {
                // reqwest is built without a default TLS provider (as in the
                // harness); installing ring twice is an Err we can ignore.
                let _ = rustls::crypto::ring::default_provider().install_default();
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    // Targets are the integrator's receivers, never a proxy.
                    .no_proxy()
                    .connect_timeout(self.inner.config.timeout())
                    .pool_max_idle_per_host(64)
                    .build()
                    .map_err(|e| tracing::warn!("webhook client unavailable: {e}"))
                    .ok()
            })
            .as_ref()
    }

    /// Starts the workers once, from inside a tokio runtime (outside one,
    /// e.g. in store unit tests, deliveries just stay queued).
    fn ensure_workers(&self) {
        if self.inner.started.load(Ordering::Acquire) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let receivers = std::mem::take(
            &mut *self
                .inner
                .receivers
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if receivers.is_empty() {
            return;
        }
        self.inner.started.store(true, Ordering::Release);
        for rx in receivers {
            runtime.spawn(deliver::Worker::new(self.clone(), rx).run());
        }
    }

    /// The cancellation token of the server.
    fn cancel(&self) -> &CancellationToken {
        &self.inner.cancel
    }

    /// `GET /__mock/webhooks` body. `registered` lists, per app, the live
    /// registrations.
    pub fn stats_json(&self, registered: &[(Arc<str>, Vec<WebhookSummary>)]) -> Value {
        let totals = HookCounters::default();
        let mut handshakes = HandshakeCounts::default();
        let registry = self.registry();
        let mut apps = serde_json::Map::new();
        for (app_id, hooks) in registry.iter() {
            handshakes.ok += hooks.handshakes.ok;
            handshakes.failed += hooks.handshakes.failed;
            let live = registered
                .iter()
                .find(|(id, _)| id == app_id)
                .map(|(_, hooks)| hooks.as_slice())
                .unwrap_or_default();
            let mut webhooks = serde_json::Map::new();
            for (id, counters) in &hooks.webhooks {
                totals.add(counters);
                let mut entry = counters.to_json();
                let registration = live.iter().find(|hook| hook.id == *id);
                entry["registered"] = registration.is_some().into();
                if let Some(hook) = registration {
                    entry["target"] = hook.target.as_str().into();
                    entry["events"] = json!(hook.events);
                }
                webhooks.insert(id.clone(), entry);
            }
            apps.insert(
                app_id.to_string(),
                json!({"handshakes": hooks.handshakes.to_json(), "webhooks": webhooks}),
            );
        }
        let mut total = totals.to_json();
        total["handshakes"] = handshakes.to_json();
        json!({
            "config": self.inner.config,
            "faults": *self.faults(),
            "queued": self.queued(),
            "totals": total,
            "apps": apps,
        })
    }
}

fn app_entry<'a>(
    registry: &'a mut Vec<(Arc<str>, AppHooks)>,
    app_id: &Arc<str>,
) -> &'a mut AppHooks {
    let index = match registry.iter().position(|(id, _)| id == app_id) {
        Some(index) => index,
        None => {
            registry.push((Arc::clone(app_id), AppHooks::default()));
            registry.len() - 1
        }
    };
    &mut registry[index].1
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn fault_plans_replay_with_the_same_seed() {
        let faults = WebhookFaultsConfig {
            drop: 0.2,
            duplicate: 0.2,
            reorder: 0.2,
            ..WebhookFaultsConfig::default()
        };
        let plans = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..50)
                .map(|_| FaultPlan::draw(&faults, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(plans(7), plans(7));
        assert_ne!(plans(7), plans(8));
        assert!(plans(7).iter().any(|p| p.drop));
        assert!(
            plans(7)
                .iter()
                .all(|p| !(p.drop && (p.duplicate || p.reorder)))
        );
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let config = WebhooksConfig {
            queue_capacity: 1,
            ..WebhooksConfig::default()
        };
        // No runtime: the workers never start, so the queue stays full.
        let hub = WebhookHub::new(&config, CancellationToken::new());
        let endpoint = hub.endpoint(&Arc::from("app"), "w-1", "http://127.0.0.1:9/", "s");
        for seq in 0..3 {
            hub.enqueue(Delivery {
                endpoint: Arc::clone(&endpoint),
                event: Arc::new(MockEvent {
                    seq,
                    trigger: "chats:create",
                    app_id: Arc::from("app"),
                    data: crate::event::EventData::Json(Value::Null),
                    at: 0,
                }),
                trigger: "chats:create",
                plan: FaultPlan::default(),
            });
        }
        assert_eq!(endpoint.counters.get(Counter::Enqueued), 1);
        assert_eq!(endpoint.counters.get(Counter::DroppedQueueFull), 2);
        assert_eq!(hub.queued(), 1);
    }
}
