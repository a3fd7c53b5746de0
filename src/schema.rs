//! Response schema checks from `spec/agent-chat.openapi.yaml`, the project's
//! single description of the API (embedded in the binary; loaded and
//! compiled by `chatload-api`, the same loader and compiler the mock's
//! tests use).
//!
//! Validators are compiled once per (operation, status) before a run; during
//! the run a response is checked against the schema its operation declares
//! for its status, and a status the operation does not declare is a violation
//! too. Violations are counted per route; a few samples are kept with the
//! JSON path and the reason, instance values masked so no token or secret
//! from a response body can reach a report.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chatload_api::{schema, spec};
use serde::Serialize;
use serde_json::Value;

use crate::api::Operation;

/// Samples kept per route.
const SAMPLES_PER_ROUTE: usize = 5;

/// Why the spec could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("the OpenAPI document has no usable schema for {operation} {status}: {reason}")]
    Compile {
        operation: String,
        status: String,
        reason: String,
    },
}

/// How much to check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SchemaMode {
    All,
    /// Check this fraction of responses (0..=1), chosen at random.
    Sample(f64),
    Off,
}

impl SchemaMode {
    /// Parses `all`, `off` or `sample=RATIO`.
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(text: &str) -> Result<SchemaMode, String> {
        match text {
            "all" => Ok(SchemaMode::All),
            "off" => Ok(SchemaMode::Off),
            other => other
                .strip_prefix("sample=")
                .and_then(|r| r.parse::<f64>().ok())
                .filter(|r| (0.0..=1.0).contains(r))
                .map(SchemaMode::Sample)
                .ok_or_else(|| format!("invalid --schema `{other}`: expected all, off or sample=RATIO with RATIO in 0..1")),
        }
    }
}

/// What the spec says about one response.
#[derive(Debug)]
pub enum Declared {
    /// A JSON body with this schema.
    Json(Box<jsonschema::Validator>),
    /// Declared, but not JSON (a media download, CSV): nothing to check.
    Opaque,
}

/// The response schemas of one operation, by status.
#[derive(Debug, Default)]
pub struct OperationSchemas {
    statuses: Vec<(u16, Declared)>,
}

/// One problem with one response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub status: u16,
    /// JSON pointer into the body (`/chat/id`), empty for the whole body.
    pub path: String,
    pub reason: String,
}

impl OperationSchemas {
    /// Checks a response; `body` is the parsed JSON, if the body was JSON.
    pub fn check(&self, status: u16, body: Option<&Value>) -> Option<Violation> {
        let Some((_, declared)) = self.statuses.iter().find(|(s, _)| *s == status) else {
            let declared: Vec<String> = self.statuses.iter().map(|(s, _)| s.to_string()).collect();
            return Some(Violation {
                status,
                path: String::new(),
                reason: format!(
                    "status {status} is not declared for this operation (declared: {})",
                    declared.join(", ")
                ),
            });
        };
        let Declared::Json(validator) = declared else {
            return None;
        };
        let Some(body) = body else {
            return Some(Violation {
                status,
                path: String::new(),
                reason: "the body is not JSON".to_owned(),
            });
        };
        // The boolean check allocates nothing; errors (with their paths) are
        // collected only for a body that fails it.
        if validator.is_valid(body) {
            return None;
        }
        validator.iter_errors(body).next().map(|e| Violation {
            status,
            path: e.instance_path().to_string(),
            reason: e.masked().to_string(),
        })
    }

    /// Statuses the operation declares.
    pub fn statuses(&self) -> impl Iterator<Item = u16> + '_ {
        self.statuses.iter().map(|(s, _)| *s)
    }
}

/// The last response body a virtual user saw pass its route's schema check.
///
/// The check is a pure function of the route's schemas, the status and the
/// body's bytes, so a byte-identical body on the same route and status passes
/// again: it needs neither parsing nor checking. That is the common case of
/// a route whose response does not change (settings, polling). Exact byte
/// comparison, no hash, so no collision can let a different body through.
/// One entry of at most [`ValidBodyMemo::MAX_BODY`] bytes per virtual user.
#[derive(Debug, Default)]
pub struct ValidBodyMemo {
    key: Option<(u32, u16)>,
    body: Vec<u8>,
}

impl ValidBodyMemo {
    /// Larger bodies are not remembered (bounds memory per virtual user).
    pub const MAX_BODY: usize = 2048;

    /// True when `body` on `route` with `status` is the body last remembered.
    pub fn holds(&self, route: u32, status: u16, body: &[u8]) -> bool {
        self.key == Some((route, status)) && self.body == body
    }

    /// Remembers a body that passed the check.
    pub fn remember(&mut self, route: u32, status: u16, body: &[u8]) {
        if body.len() > Self::MAX_BODY {
            self.key = None;
            return;
        }
        if !self.holds(route, status, body) {
            self.body.clear();
            self.body.extend_from_slice(body);
            self.key = Some((route, status));
        }
    }
}

/// Every operation's response schemas, compiled.
#[derive(Debug)]
pub struct SchemaRegistry {
    operations: BTreeMap<String, OperationSchemas>,
}

impl SchemaRegistry {
    /// Compiles the embedded spec's response schemas (with `chatload-api`'s
    /// one loader and compiler), only for `operation_ids` (all when `None`).
    ///
    /// # Errors
    /// A schema that does not compile.
    pub fn load(operation_ids: Option<&[&str]>) -> Result<SchemaRegistry, SchemaError> {
        let mut operations = BTreeMap::new();
        for op in Operation::ALL {
            let id = op.id();
            if operation_ids.is_some_and(|ids| !ids.contains(&id)) {
                continue;
            }
            let mut schemas = OperationSchemas::default();
            for response in spec::responses(op) {
                let declared =
                    match &response.json_schema {
                        Some(pointer) => Declared::Json(Box::new(
                            schema::compile(pointer).map_err(|reason| SchemaError::Compile {
                                operation: id.to_owned(),
                                status: response.status.to_string(),
                                reason,
                            })?,
                        )),
                        None => Declared::Opaque,
                    };
                schemas.statuses.push((response.status, declared));
            }
            operations.insert(id.to_owned(), schemas);
        }
        Ok(SchemaRegistry { operations })
    }

    /// The schemas of an operation.
    pub fn operation(&self, id: &str) -> Option<&OperationSchemas> {
        self.operations.get(id)
    }

    /// Moves the schemas out, one entry per route (`None` for a route that
    /// is no operation of the API, or whose operation was not compiled).
    pub fn into_routes(
        mut self,
        route_operations: &[Option<&str>],
    ) -> Vec<Option<OperationSchemas>> {
        route_operations
            .iter()
            .map(|id| id.and_then(|id| self.operations.remove(id)))
            .collect()
    }

    /// How many operations were compiled.
    pub fn len(&self) -> usize {
        self.operations.len()
    }

    /// True when nothing was compiled.
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }
}

/// Violations seen during a run, per route (or per webhook event, with
/// [`crate::lifecycle::EventSchemas`]'s samples). Locked only when a
/// violation happens, never on the normal path.
#[derive(Debug)]
pub struct ViolationLog<V = Violation> {
    routes: Mutex<BTreeMap<String, RouteViolations<V>>>,
}

impl<V> Default for ViolationLog<V> {
    fn default() -> Self {
        ViolationLog {
            routes: Mutex::new(BTreeMap::new()),
        }
    }
}

/// One route's violations.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RouteViolations<V = Violation> {
    pub count: u64,
    pub samples: Vec<V>,
}

impl<V> Default for RouteViolations<V> {
    fn default() -> Self {
        RouteViolations {
            count: 0,
            samples: Vec::new(),
        }
    }
}

impl<V: Clone + PartialEq> ViolationLog<V> {
    /// Records a violation on `route`.
    pub fn record(&self, route: &str, violation: V) {
        let mut routes = self
            .routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = routes.entry(route.to_owned()).or_default();
        entry.count += 1;
        if entry.samples.len() < SAMPLES_PER_ROUTE && !entry.samples.contains(&violation) {
            entry.samples.push(violation);
        }
    }

    /// Everything recorded, by route.
    pub fn snapshot(&self) -> BTreeMap<String, RouteViolations<V>> {
        self.routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Total violations.
    pub fn total(&self) -> u64 {
        self.routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .map(|r| r.count)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_operation_has_schemas_with_its_success_and_a_401() {
        let registry = SchemaRegistry::load(None).unwrap();
        assert_eq!(registry.len(), Operation::ALL.len());
        for op in Operation::ALL {
            let schemas = registry
                .operation(op.id())
                .unwrap_or_else(|| panic!("{op} missing from the spec"));
            assert!(
                schemas.statuses().any(|s| s == op.success_status()),
                "{op} declares no success"
            );
            assert!(schemas.statuses().any(|s| s == 401), "{op} declares no 401");
        }
    }

    #[test]
    fn checks_catch_wrong_types_missing_fields_and_undeclared_statuses() {
        let registry = SchemaRegistry::load(Some(&["createChat", "getMedia"])).unwrap();
        assert_eq!(registry.len(), 2);
        let create = registry.operation("createChat").unwrap();
        let good = json!({"chat": {"id": "c-1", "creator": "u-1", "room": 1, "status": "waiting", "inQueue": false,
            "source": 3, "lang": null, "externalId": null, "users": ["u-1"], "agent": null, "createdAt": 1,
            "closedAt": null, "closedBy": null, "queuePosition": null}});
        assert_eq!(create.check(201, Some(&good)), None);
        let mut broken = good.clone();
        broken["chat"]["id"] = json!(0);
        let v = create.check(201, Some(&broken)).unwrap();
        assert_eq!(v.path, "/chat/id");
        assert!(v.reason.contains("string"), "{}", v.reason);
        let v = create
            .check(201, Some(&json!({"chat": {"id": "c"}})))
            .unwrap();
        assert!(
            v.reason.contains("required") || v.reason.contains("missing"),
            "{}",
            v.reason
        );
        let v = create.check(418, None).unwrap();
        assert!(v.reason.contains("not declared"), "{}", v.reason);
        let error = json!({"error": {"code": 409, "message": "User already has a chat"}});
        assert_eq!(create.check(409, Some(&error)), None);
        assert!(create.check(201, None).is_some(), "a JSON body is required");
        assert_eq!(
            registry.operation("getMedia").unwrap().check(200, None),
            None,
            "binary bodies are not checked"
        );
    }

    #[test]
    fn violation_reasons_do_not_echo_body_values() {
        let registry = SchemaRegistry::load(Some(&["createUser"])).unwrap();
        let body = json!({"user": {"id": "u-1", "name": "x", "chats": [], "createdAt": 1}, "session": {"token": 12345678}});
        let v = registry
            .operation("createUser")
            .unwrap()
            .check(201, Some(&body))
            .unwrap();
        assert!(!v.reason.contains("12345678"), "{}", v.reason);
        let log = ViolationLog::default();
        for _ in 0..10 {
            log.record("POST /users", v.clone());
        }
        assert_eq!(log.total(), 10);
        assert_eq!(
            log.snapshot()["POST /users"].samples.len(),
            1,
            "identical samples kept once"
        );
    }

    #[test]
    fn the_memo_holds_only_the_same_bytes_on_the_same_route_and_status() {
        let mut memo = ValidBodyMemo::default();
        assert!(!memo.holds(0, 200, b""), "empty memo holds nothing");
        memo.remember(3, 200, b"{\"a\":1}");
        assert!(memo.holds(3, 200, b"{\"a\":1}"));
        assert!(!memo.holds(3, 200, b"{\"a\":2}"));
        assert!(!memo.holds(3, 201, b"{\"a\":1}"));
        assert!(!memo.holds(4, 200, b"{\"a\":1}"));
        memo.remember(4, 200, b"{}");
        assert!(!memo.holds(3, 200, b"{\"a\":1}"), "one entry: the last one");
        assert!(memo.holds(4, 200, b"{}"));
        let big = vec![b' '; ValidBodyMemo::MAX_BODY + 1];
        memo.remember(4, 200, &big);
        assert!(!memo.holds(4, 200, &big) && !memo.holds(4, 200, b"{}"));
    }

    #[test]
    fn modes_parse() {
        assert_eq!(SchemaMode::parse("all"), Ok(SchemaMode::All));
        assert_eq!(
            SchemaMode::parse("sample=0.25"),
            Ok(SchemaMode::Sample(0.25))
        );
        assert!(SchemaMode::parse("sample=2").is_err() && SchemaMode::parse("some").is_err());
    }
}
