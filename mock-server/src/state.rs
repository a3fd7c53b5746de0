//! `AppState`: what every handler shares — the app registry, faults,
//! request counters, the webhook hub and the shutdown token — and the one
//! place where a store rule's deferred work (simulated-agent timers,
//! `chats:assign` decisions) is handed over after the lock is released.
//!
//! The configured apps live in an immutable map (no lock to find an app);
//! apps created at run time through `POST /apps` go into a separate map
//! consulted only on a miss. Each app's store has its own mutex
//! (`store::AppHandle`), so there is no global lock on the request path.

use crate::config::MockConfig;
use crate::error::ApiError;
use crate::event::EventHook;
use crate::fault::Faults;
use crate::limit::{RateLimitConfig, RateLimits};
use crate::sim;
use crate::stats::RouteStats;
use crate::store::{AppHandle, AppStore, AssignDecision, SWEEP_BATCH, Timer};
use crate::webhook::WebhookHub;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How often the inactivity sweep looks for idle chats: a chat is closed
/// within about a second of its `inactivityTimeout`.
const SWEEP_TICK: Duration = Duration::from_secs(1);

/// Shared state of one mock server.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: MockConfig,
    /// Looked up on every request (foldhash: cheaper than SipHash).
    apps: HashMap<String, Arc<AppHandle>, foldhash::fast::RandomState>,
    app_order: Vec<String>,
    created_apps: RwLock<Vec<Arc<AppHandle>>>,
    faults: Faults,
    /// The rate limit's switch and setting (buckets are per app).
    limits: RateLimits,
    stats: RouteStats,
    seq: Arc<AtomicU64>,
    hook: Option<Arc<dyn EventHook>>,
    webhooks: WebhookHub,
    /// Cancelled at shutdown: simulated-agent timers and webhook workers
    /// stop with the server.
    cancel: CancellationToken,
}

impl AppState {
    /// Builds the state from a (validated) config.
    pub fn new(config: MockConfig) -> AppState {
        AppState::with_hook(config, None, CancellationToken::new())
    }

    /// Builds the state with an event hook and a shutdown token.
    pub fn with_hook(
        config: MockConfig,
        hook: Option<Arc<dyn EventHook>>,
        cancel: CancellationToken,
    ) -> AppState {
        let seq = Arc::new(AtomicU64::new(1));
        let webhooks = WebhookHub::new(&config.webhooks, cancel.clone());
        let apps: HashMap<String, Arc<AppHandle>, foldhash::fast::RandomState> = config
            .apps
            .iter()
            .enumerate()
            .map(|(i, app)| {
                let handle = AppHandle::new(
                    app,
                    &config,
                    i as u64,
                    Arc::clone(&seq),
                    hook.clone(),
                    &webhooks,
                );
                (app.id.clone(), Arc::new(handle))
            })
            .collect();
        let app_order = config.apps.iter().map(|a| a.id.clone()).collect();
        AppState {
            inner: Arc::new(Shared {
                faults: Faults::new(config.faults.clone(), config.seed),
                limits: RateLimits::new(config.rate_limit),
                config,
                apps,
                app_order,
                created_apps: RwLock::new(Vec::new()),
                stats: RouteStats::default(),
                seq,
                hook,
                webhooks,
                cancel,
            }),
        }
    }

    /// The configuration the server started with.
    pub fn config(&self) -> &MockConfig {
        &self.inner.config
    }

    /// Looks an app up by id.
    pub fn app(&self, id: &str) -> Option<Arc<AppHandle>> {
        if let Some(app) = self.inner.apps.get(id) {
            return Some(Arc::clone(app));
        }
        self.inner
            .created_apps
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|a| &*a.id == id)
            .cloned()
    }

    /// Every app, configured ones first.
    pub fn apps(&self) -> Vec<Arc<AppHandle>> {
        let mut out: Vec<Arc<AppHandle>> = self
            .inner
            .app_order
            .iter()
            .filter_map(|id| self.inner.apps.get(id).cloned())
            .collect();
        out.extend(
            self.inner
                .created_apps
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .cloned(),
        );
        out
    }

    /// Registers a new app (`POST /apps`) built from `app`, administered
    /// by the app `owner` whose secret created it.
    ///
    /// # Errors
    ///
    /// 409 when the id is taken.
    pub fn add_app(
        &self,
        app: &crate::config::AppConfig,
        owner: &Arc<str>,
    ) -> Result<Arc<AppHandle>, ApiError> {
        let mut created = self
            .inner
            .created_apps
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if self.inner.apps.contains_key(&app.id) || created.iter().any(|a| *a.id == *app.id) {
            return Err(ApiError::conflict("App already exists"));
        }
        let index = (self.inner.apps.len() + created.len()) as u64;
        let mut handle = AppHandle::new(
            app,
            &self.inner.config,
            index,
            Arc::clone(&self.inner.seq),
            self.inner.hook.clone(),
            &self.inner.webhooks,
        );
        handle.owner = Some(Arc::clone(owner));
        let handle = Arc::new(handle);
        handle.limiter.set(self.inner.limits.get());
        created.push(Arc::clone(&handle));
        Ok(handle)
    }

    /// The rate limit's switch, setting and refusal count.
    pub fn rate_limits(&self) -> &RateLimits {
        &self.inner.limits
    }

    /// Sets (or with `None` lifts) the rate limit of every app: each gets
    /// its own full bucket of `config`.
    pub fn set_rate_limit(&self, config: Option<RateLimitConfig>) {
        for app in self.apps() {
            app.limiter.set(config);
        }
        self.inner.limits.set(config);
    }

    /// Fault injection state.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// Request counters.
    pub fn stats(&self) -> &RouteStats {
        &self.inner.stats
    }

    /// The shutdown token.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.inner.cancel
    }

    /// Outgoing webhooks: handshake, deliveries, decisions, counters.
    pub fn webhooks(&self) -> &WebhookHub {
        &self.inner.webhooks
    }

    /// Runs one store rule under `app`'s lock, then, after unlocking,
    /// schedules the timers it created and starts its `chats:assign`
    /// decisions.
    ///
    /// # Errors
    ///
    /// Whatever the rule returns.
    pub fn with_store<R>(
        &self,
        app: &Arc<AppHandle>,
        rule: impl FnOnce(&mut AppStore) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let (result, timers, decisions) = {
            let mut store = app.lock();
            let result = rule(&mut store);
            (result, store.take_timers(), store.take_decisions())
        };
        self.hand_over(app, timers, decisions);
        result
    }

    /// Schedules timers and spawns decisions taken from `app`'s store.
    /// Must be called inside a tokio runtime, with the lock released.
    pub(crate) fn hand_over(
        &self,
        app: &Arc<AppHandle>,
        timers: Vec<Timer>,
        decisions: Vec<AssignDecision>,
    ) {
        if !timers.is_empty() {
            let state = self.clone();
            let follow_up = move |app: &Arc<AppHandle>, timers, decisions| {
                state.hand_over(app, timers, decisions);
            };
            sim::schedule(self.cancel_token(), app, timers, follow_up);
        }
        for decision in decisions {
            tokio::spawn(self.clone().decide(Arc::clone(app), decision));
        }
    }

    /// Starts the one task that closes idle chats (`inactivityTimeout`) of
    /// every app, once per [`SWEEP_TICK`], until the server shuts down.
    /// Must be called inside a tokio runtime.
    pub(crate) fn spawn_inactivity_sweep(&self) {
        let state = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SWEEP_TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = state.cancel_token().cancelled() => return,
                }
                state.sweep_inactive(crate::store::now_ms());
            }
        });
    }

    /// Closes, in every app, the chats idle for the app's
    /// `inactivityTimeout` at `now_ms` (Unix ms); returns how many. Each
    /// app's lock is taken once per batch of [`SWEEP_BATCH`] entries, and
    /// an app with nothing due costs one look at its index.
    pub fn sweep_inactive(&self, now_ms: u64) -> usize {
        let mut total = 0;
        for app in self.apps() {
            loop {
                let (closed, more) = self
                    .with_store(&app, |s| Ok(s.close_inactive(now_ms, SWEEP_BATCH)))
                    .unwrap_or((0, false));
                total += closed;
                if !more {
                    break;
                }
            }
        }
        total
    }

    /// Asks the decision's webhook (store unlocked), applies the answer
    /// (store locked), counts it and wakes requests waiting for it.
    async fn decide(self, app: Arc<AppHandle>, decision: AssignDecision) {
        let answer = self
            .inner
            .webhooks
            .ask_assign(&decision.endpoint, decision.body.clone())
            .await;
        let (honoured, timers, decisions) = {
            let mut store = app.lock();
            let honoured = store.resolve_decision(&decision, answer.as_deref());
            (honoured, store.take_timers(), store.take_decisions())
        };
        self.inner
            .webhooks
            .count_assign(&decision.endpoint, honoured);
        self.hand_over(&app, timers, decisions);
        app.decided().notify_waiters();
    }

    /// Waits (unlocked) until `chat_id` no longer waits for a `chats:assign`
    /// decision, at most the decision limit plus a second.
    pub async fn wait_decided(&self, app: &AppHandle, chat_id: &str) {
        let limit = Duration::from_millis(self.inner.config.webhooks.assign_timeout_ms);
        let deadline = Instant::now() + limit + Duration::from_secs(1);
        loop {
            let notified = app.decided().notified();
            tokio::pin!(notified);
            // Registered before the check, so a wake-up in between is kept.
            notified.as_mut().enable();
            if !app.lock().is_deciding(chat_id) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, notified).await.is_err() {
                return;
            }
        }
    }
}
