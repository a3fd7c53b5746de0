//! The OpenAPI document as a test oracle: maps a request to its operationId,
//! validates each response against the schema declared for its
//! (operationId, status), and records which operations the tests exercised.
//!
//! Validators are compiled once per test binary (`SpecValidator::get()`),
//! by `chatload-api`'s one spec loader and schema compiler (the harness's
//! runtime checks use the same); requests map to operations with its one
//! matcher.

use chatload_api::{Method as ApiMethod, Operation, schema, spec};
use jsonschema::Validator;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// What one declared response of one operation accepts.
struct Declared {
    /// Media types of the response's `content` (empty: no body declared).
    media: Vec<String>,
    /// Compiled schema of the `application/json` content, if any.
    json: Option<Validator>,
}

/// One operation's declared responses.
struct Op {
    id: &'static str,
    responses: BTreeMap<u16, Declared>,
}

/// Every operation of the spec with compiled response validators.
pub struct SpecValidator {
    ops: Vec<Op>,
}

impl std::fmt::Debug for SpecValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SpecValidator({} operations)", self.ops.len())
    }
}

impl SpecValidator {
    /// Compiles a validator per (operationId, status), with the one
    /// loader and compiler of `chatload-api`.
    pub fn load() -> SpecValidator {
        let ops = Operation::ALL
            .into_iter()
            .map(|op| {
                let responses = spec::responses(op)
                    .into_iter()
                    .map(|r| {
                        let json = r.json_schema.as_deref().map(|pointer| {
                            schema::compile(pointer)
                                .unwrap_or_else(|e| panic!("compile {op} {}: {e}", r.status))
                        });
                        (
                            r.status,
                            Declared {
                                media: r.media,
                                json,
                            },
                        )
                    })
                    .collect();
                Op {
                    id: op.id(),
                    responses,
                }
            })
            .collect();
        SpecValidator { ops }
    }

    /// The validator shared by every test of this binary.
    pub fn get() -> &'static SpecValidator {
        static SPEC: OnceLock<SpecValidator> = OnceLock::new();
        SPEC.get_or_init(SpecValidator::load)
    }

    /// Every operationId of the spec.
    pub fn operation_ids(&self) -> BTreeSet<String> {
        self.ops.iter().map(|op| op.id.to_owned()).collect()
    }

    /// `(operationId, METHOD, path template with `{}` parameters)` of every
    /// operation, e.g. `("sendChatMessage", "POST", "/chats/{}/messages")`.
    pub fn templates(&self) -> Vec<(String, String, String)> {
        Operation::ALL
            .into_iter()
            .map(|op| {
                let path: Vec<&str> = op
                    .path()
                    .split('/')
                    .map(|s| if s.starts_with('{') { "{}" } else { s })
                    .collect();
                (
                    op.id().to_owned(),
                    op.method().as_str().to_owned(),
                    path.join("/"),
                )
            })
            .collect()
    }

    /// The operationId for `method` and a path relative to `/v1`:
    /// `chatload-api`'s one matcher (the path picks its route first, then
    /// the method, so `GET /agents/login` is no operation, a 405).
    pub fn operation_for(&self, method: &str, path: &str) -> Option<&'static str> {
        Operation::from_route(ApiMethod::parse(method)?, path).map(Operation::id)
    }

    /// Checks a response of `op_id`: the status must be declared; a JSON
    /// body must match the declared schema; a non-JSON body must have a
    /// declared media type.
    pub fn validate_response(
        &self,
        op_id: &str,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), Vec<String>> {
        let op = self
            .ops
            .iter()
            .find(|op| op.id == op_id)
            .ok_or_else(|| vec![format!("no operation {op_id} in the spec")])?;
        let declared = op.responses.get(&status).ok_or_else(|| {
            vec![format!(
                "{op_id} answered {status}, which the spec does not declare (declared: {:?})",
                op.responses.keys().collect::<Vec<_>>()
            )]
        })?;
        let media = content_type
            .and_then(|ct| ct.split(';').next())
            .map(|ct| ct.trim().to_ascii_lowercase());
        let is_json = media.as_deref() == Some("application/json");
        if is_json || declared.media.is_empty() {
            if body.is_empty() && declared.media.is_empty() {
                return Ok(());
            }
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| vec![format!("{op_id} {status}: body is not JSON: {e}")])?;
            return self.validate(op_id, status, &value);
        }
        let media = media.unwrap_or_default();
        let ok = declared.media.iter().any(|m| {
            m == &media
                || m == "*/*"
                || m.strip_suffix("/*")
                    .is_some_and(|prefix| media.starts_with(&format!("{prefix}/")))
        });
        if ok {
            Ok(())
        } else {
            Err(vec![format!(
                "{op_id} {status}: content type {media:?} not among {:?}",
                declared.media
            )])
        }
    }

    /// Validates a JSON body against the schema of (`op_id`, `status`).
    pub fn validate(&self, op_id: &str, status: u16, body: &Value) -> Result<(), Vec<String>> {
        let op = self
            .ops
            .iter()
            .find(|op| op.id == op_id)
            .ok_or_else(|| vec![format!("no operation {op_id} in the spec")])?;
        let declared = op
            .responses
            .get(&status)
            .ok_or_else(|| vec![format!("{op_id} does not declare {status}")])?;
        let Some(validator) = &declared.json else {
            return Err(vec![format!("{op_id} {status} declares no JSON body")]);
        };
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{op_id} {status} at {}: {e}", e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

thread_local! {
    /// operationIds that got a response checked against the spec on this
    /// thread, with the statuses seen. Each test runs on a thread of its
    /// own (a current-thread runtime), so what one test records is its own:
    /// the whole binary's tests cannot cover for a gap in the tour.
    static EXERCISED: RefCell<BTreeMap<String, BTreeSet<u16>>> = const { RefCell::new(BTreeMap::new()) };
}

/// Records that `op_id` answered `status`.
pub fn record(op_id: &str, status: u16) {
    EXERCISED.with_borrow_mut(|seen| {
        seen.entry(op_id.to_owned()).or_default().insert(status);
    });
}

/// Everything recorded so far by this test (this thread).
pub fn exercised() -> BTreeMap<String, BTreeSet<u16>> {
    EXERCISED.with_borrow(Clone::clone)
}

/// Validates one response of `method path` (path relative to `/v1`) and
/// records its operation; panics with every violation. Paths that are no
/// operation of the spec (unknown routes, wrong methods) are not checked
/// here: the caller asserts their 404/405 envelope.
pub fn check(method: &str, path: &str, status: u16, content_type: Option<&str>, body: &[u8]) {
    let spec = SpecValidator::get();
    let Some(op_id) = spec.operation_for(method, path) else {
        return;
    };
    record(op_id, status);
    if let Err(errors) = spec.validate_response(op_id, status, content_type, body) {
        panic!(
            "{method} {path} → {status} breaks the spec:\n  {}\nbody: {}",
            errors.join("\n  "),
            String::from_utf8_lossy(&body[..body.len().min(2000)])
        );
    }
}

/// Compiled request-body validators of the spec's `webhooks` section, by
/// event name (`chats:create`, …, `chats:assign`).
pub struct WebhookValidators {
    by_trigger: BTreeMap<String, Validator>,
}

impl WebhookValidators {
    /// The validators shared by every test of this binary.
    pub fn get() -> &'static WebhookValidators {
        static HOOKS: OnceLock<WebhookValidators> = OnceLock::new();
        HOOKS.get_or_init(|| {
            let by_trigger = chatload_api::events::ALL
                .iter()
                .map(|trigger| {
                    let pointer = spec::webhook_body_schema(trigger)
                        .unwrap_or_else(|| panic!("no body schema for webhook {trigger}"));
                    let validator = schema::compile(&pointer)
                        .unwrap_or_else(|e| panic!("compile webhook {trigger}: {e}"));
                    ((*trigger).to_owned(), validator)
                })
                .collect();
            WebhookValidators { by_trigger }
        })
    }

    /// Event names the spec describes.
    pub fn triggers(&self) -> BTreeSet<String> {
        self.by_trigger.keys().cloned().collect()
    }

    /// Checks one webhook POST body against its trigger's schema.
    pub fn validate(&self, trigger: &str, body: &Value) -> Result<(), Vec<String>> {
        let validator = self
            .by_trigger
            .get(trigger)
            .ok_or_else(|| vec![format!("no webhook {trigger:?} in the spec")])?;
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{trigger} at {}: {e}", e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}
