//! Latency and fault injection: the `faults` config section, its run-time
//! table (`/__mock/faults`), and the schema-breaking body rewrite.
//!
//! The table is swapped whole behind an `RwLock<Arc<_>>` and read only when
//! the `active` flag is set, so with no faults configured a request pays one
//! relaxed atomic load. Sampling uses one RNG seeded from the config seed.
//! The middleware that applies a [`FaultDecision`] lives in `middleware`.

use crate::dist::Dist;
use crate::error::ApiError;
use crate::operation::{OPERATION_COUNT, Operation};
use axum::http::StatusCode;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

/// The largest `retry_after_s` (one day).
pub const MAX_RETRY_AFTER_S: u64 = 86_400;

/// The `faults` section of the config and the body of `PUT /__mock/faults`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultsConfig {
    /// Hold every API response this many milliseconds.
    pub stall_ms: u64,
    /// Per-route faults keyed by operationId, or `"*"` for every route
    /// without its own entry.
    pub routes: BTreeMap<String, RouteFault>,
}

/// Faults for one route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteFault {
    /// Added latency before the handler runs.
    pub latency: Option<Dist>,
    /// Probability (0..1) of answering `status` instead of running the handler.
    pub error_rate: f64,
    /// Status of injected errors (400..=599; usually 503 or 429).
    pub status: u16,
    /// `Retry-After` seconds sent with an injected 429.
    pub retry_after_s: u64,
    /// Answer a 2xx body that violates the route's response schema.
    pub break_schema: bool,
}

impl Default for RouteFault {
    fn default() -> Self {
        RouteFault {
            latency: None,
            error_rate: 0.0,
            status: 503,
            retry_after_s: 1,
            break_schema: false,
        }
    }
}

impl FaultsConfig {
    /// Checks route names and values.
    ///
    /// # Errors
    ///
    /// A message naming the offending route.
    pub fn validate(&self) -> Result<(), String> {
        crate::dist::check_ms("faults.stall_ms", self.stall_ms)?;
        for (name, fault) in &self.routes {
            let at = format!("faults.routes.{name}");
            if name != "*" && Operation::from_id(name).is_none() {
                return Err(format!("{at}: unknown operationId"));
            }
            if let Some(dist) = &fault.latency {
                dist.validate().map_err(|e| format!("{at}.latency: {e}"))?;
            }
            if !(0.0..=1.0).contains(&fault.error_rate) {
                return Err(format!("{at}.error_rate must be within 0..1"));
            }
            if !(400..=599).contains(&fault.status) {
                return Err(format!("{at}.status must be within 400..=599"));
            }
            if fault.retry_after_s > MAX_RETRY_AFTER_S {
                return Err(format!(
                    "{at}.retry_after_s must be at most {MAX_RETRY_AFTER_S}"
                ));
            }
        }
        Ok(())
    }

    fn is_active(&self) -> bool {
        self.stall_ms > 0 || !self.routes.is_empty()
    }
}

/// What to do to one request.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultDecision {
    /// Sleep this long before the handler (latency + stall).
    pub delay: Duration,
    /// Answer this error instead of running the handler.
    pub error: Option<ApiError>,
    /// Rewrite a 2xx JSON body with [`break_body`].
    pub break_schema: bool,
}

#[derive(Debug)]
struct FaultTable {
    config: FaultsConfig,
    per_route: Vec<Option<RouteFault>>,
}

/// Run-time fault state shared by all requests.
#[derive(Debug)]
pub struct Faults {
    /// Fast-path switch: false → no table read at all.
    active: AtomicBool,
    table: RwLock<Arc<FaultTable>>,
    rng: Mutex<StdRng>,
}

impl Faults {
    /// Builds the run-time state; `config` must be valid.
    pub fn new(config: FaultsConfig, seed: u64) -> Faults {
        let faults = Faults {
            active: AtomicBool::new(false),
            table: RwLock::new(Arc::new(FaultTable {
                config: FaultsConfig::default(),
                per_route: vec![None; OPERATION_COUNT],
            })),
            // A distinct stream from the stores' RNGs, same seed.
            rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0xFA17_5EED)),
        };
        faults.set(config);
        faults
    }

    /// Replaces the whole fault configuration (already validated).
    pub fn set(&self, config: FaultsConfig) {
        let per_route = Operation::ALL
            .iter()
            .map(|op| {
                config
                    .routes
                    .get(op.id())
                    .or_else(|| config.routes.get("*"))
                    .cloned()
            })
            .collect();
        let active = config.is_active();
        *self.table.write().unwrap_or_else(PoisonError::into_inner) =
            Arc::new(FaultTable { config, per_route });
        self.active.store(active, Ordering::Release);
    }

    /// The current configuration.
    pub fn get(&self) -> FaultsConfig {
        self.table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .config
            .clone()
    }

    /// Decides the faults for one request of `op`; `None` = untouched.
    pub fn decide(&self, op: Operation) -> Option<FaultDecision> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        let table = Arc::clone(&self.table.read().unwrap_or_else(PoisonError::into_inner));
        let stall = Duration::from_millis(table.config.stall_ms);
        let route = table.per_route[op.index()].as_ref();
        let Some(route) = route else {
            return (!stall.is_zero()).then_some(FaultDecision {
                delay: stall,
                error: None,
                break_schema: false,
            });
        };
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        let latency = route
            .latency
            .map_or(Duration::ZERO, |dist| dist.sample(&mut *rng));
        let error = (route.error_rate > 0.0 && rng.random_bool(route.error_rate)).then(|| {
            let status =
                StatusCode::from_u16(route.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            ApiError::Injected {
                status,
                retry_after_s: (status == StatusCode::TOO_MANY_REQUESTS)
                    .then_some(route.retry_after_s),
            }
        });
        Some(FaultDecision {
            delay: latency + stall,
            error,
            break_schema: route.break_schema,
        })
    }
}

/// Rewrites a JSON body so that it violates the route's response schema.
///
/// Rule 1: the first top-level value (keys in alphabetical order) that is
/// an object with a string `id` gets `id` replaced by the number `0`.
/// Rule 2 (no such object): the first top-level key's value is replaced by
/// the number `0` if it is a string, else by the string `"broken-schema"`.
/// A body that is not a JSON object is replaced by the string
/// `"broken-schema"`. Returns `None` if the body is not JSON.
pub fn break_body(body: &[u8]) -> Option<Vec<u8>> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let broken = match value {
        serde_json::Value::Object(mut map) => {
            let with_id = map
                .iter()
                .find_map(|(key, v)| v.get("id").filter(|id| id.is_string()).map(|_| key.clone()));
            if let Some(key) = with_id {
                if let Some(obj) = map.get_mut(&key).and_then(|v| v.as_object_mut()) {
                    obj.insert("id".to_owned(), serde_json::Value::from(0));
                }
            } else if let Some((_, first)) = map.iter_mut().next() {
                *first = if first.is_string() {
                    serde_json::Value::from(0)
                } else {
                    serde_json::Value::from("broken-schema")
                };
            }
            serde_json::Value::Object(map)
        }
        _ => serde_json::Value::from("broken-schema"),
    };
    serde_json::to_vec(&broken).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn broken(v: serde_json::Value) -> serde_json::Value {
        let bytes = break_body(v.to_string().as_bytes()).expect("json");
        serde_json::from_slice(&bytes).expect("json")
    }

    #[test]
    fn wrapped_object_id_becomes_number() {
        let out = broken(json!({"chat": {"id": "c-1", "room": 1}}));
        assert_eq!(out["chat"]["id"], json!(0));
    }

    #[test]
    fn wrapper_without_id_gets_wrong_type() {
        assert_eq!(
            broken(json!({"success": true}))["success"],
            json!("broken-schema")
        );
        assert_eq!(broken(json!({"id": "x"}))["id"], json!(0));
    }

    #[test]
    fn inactive_faults_decide_nothing() {
        let faults = Faults::new(FaultsConfig::default(), 1);
        assert!(faults.decide(Operation::CreateChat).is_none());
    }

    #[test]
    fn wildcard_applies_and_specific_overrides() {
        let mut config = FaultsConfig::default();
        config.routes.insert(
            "*".to_owned(),
            RouteFault {
                error_rate: 1.0,
                ..RouteFault::default()
            },
        );
        config
            .routes
            .insert("getId".to_owned(), RouteFault::default());
        let faults = Faults::new(config, 1);
        let chat = faults.decide(Operation::CreateChat).expect("fault");
        assert_eq!(
            chat.error.map(|e| e.status()),
            Some(StatusCode::SERVICE_UNAVAILABLE)
        );
        assert!(
            faults
                .decide(Operation::GetId)
                .expect("entry")
                .error
                .is_none()
        );
    }
}
