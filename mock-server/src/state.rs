//! `AppState`: what every handler shares — the app registry, faults,
//! request counters and the shutdown token.
//!
//! The configured apps live in an immutable map (no lock to find an app);
//! apps created at run time through `POST /apps` go into a separate map
//! consulted only on a miss. Each app's store has its own mutex
//! (`store::AppHandle`), so there is no global lock on the request path.

use crate::config::MockConfig;
use crate::error::ApiError;
use crate::event::EventHook;
use crate::fault::Faults;
use crate::sim;
use crate::stats::RouteStats;
use crate::store::{AppHandle, AppStore};
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, PoisonError, RwLock};
use tokio_util::sync::CancellationToken;

/// Shared state of one mock server.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: MockConfig,
    apps: HashMap<String, Arc<AppHandle>>,
    app_order: Vec<String>,
    created_apps: RwLock<Vec<Arc<AppHandle>>>,
    faults: Faults,
    stats: RouteStats,
    seq: Arc<AtomicU64>,
    hook: Option<Arc<dyn EventHook>>,
    /// Cancelled at shutdown: simulated-agent timers stop with the server.
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
        let apps: HashMap<String, Arc<AppHandle>> = config
            .apps
            .iter()
            .enumerate()
            .map(|(i, app)| {
                let handle = AppHandle::new(app, &config, i as u64, Arc::clone(&seq), hook.clone());
                (app.id.clone(), Arc::new(handle))
            })
            .collect();
        let app_order = config.apps.iter().map(|a| a.id.clone()).collect();
        AppState {
            inner: Arc::new(Shared {
                faults: Faults::new(config.faults.clone(), config.seed),
                config,
                apps,
                app_order,
                created_apps: RwLock::new(Vec::new()),
                stats: RouteStats::default(),
                seq,
                hook,
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

    /// Registers a new app (`POST /apps`) built from `app`.
    ///
    /// # Errors
    ///
    /// 409 when the id is taken.
    pub fn add_app(&self, app: &crate::config::AppConfig) -> Result<Arc<AppHandle>, ApiError> {
        let mut created = self
            .inner
            .created_apps
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if self.inner.apps.contains_key(&app.id) || created.iter().any(|a| *a.id == *app.id) {
            return Err(ApiError::conflict("App already exists"));
        }
        let index = (self.inner.apps.len() + created.len()) as u64;
        let handle = Arc::new(AppHandle::new(
            app,
            &self.inner.config,
            index,
            Arc::clone(&self.inner.seq),
            self.inner.hook.clone(),
        ));
        created.push(Arc::clone(&handle));
        Ok(handle)
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

    /// Runs one store rule under `app`'s lock, then schedules any timers it
    /// created, after unlocking.
    ///
    /// # Errors
    ///
    /// Whatever the rule returns.
    pub fn with_store<R>(
        &self,
        app: &Arc<AppHandle>,
        rule: impl FnOnce(&mut AppStore) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let (result, timers) = {
            let mut store = app.lock();
            let result = rule(&mut store);
            (result, store.take_timers())
        };
        if !timers.is_empty() {
            sim::schedule(&self.inner.cancel, app, timers);
        }
        result
    }
}
