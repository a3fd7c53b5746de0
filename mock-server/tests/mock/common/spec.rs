//! The OpenAPI document as a test oracle: maps a request to its operationId,
//! validates each response against the schema declared for its
//! (operationId, status), and records which operations the tests exercised.
//!
//! Validators are compiled once per test binary (`SpecValidator::get()`).
//! The whole document is registered as one 2020-12 resource under
//! `urn:chatload:spec`, so each validator is just
//! `{"$ref": "urn:chatload:spec#/paths/.../schema"}` and the schemas' local
//! `#/components/...` refs resolve inside that resource.

use jsonschema::{Registry, Resource, Validator};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

const SPEC_URI: &str = "urn:chatload:spec";
const METHODS: &[&str] = &["get", "post", "put", "delete", "patch"];

/// What one declared response of one operation accepts.
struct Declared {
    /// Media types of the response's `content` (empty: no body declared).
    media: Vec<String>,
    /// Compiled schema of the `application/json` content, if any.
    json: Option<Validator>,
}

/// One operation: method, path template split in segments, responses.
struct Op {
    id: String,
    method: String,
    /// `None` for a `{param}` segment.
    segments: Vec<Option<String>>,
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

/// Escapes one JSON-pointer segment for use in a URI fragment (`{` and
/// `}` of path templates are not allowed there unencoded).
fn escape(segment: &str) -> String {
    segment
        .replace('~', "~0")
        .replace('/', "~1")
        .replace('{', "%7B")
        .replace('}', "%7D")
}

/// The spec document as JSON.
pub fn spec_document() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../spec/agent-chat.openapi.yaml"
    );
    let text = std::fs::read_to_string(path).expect("read the spec");
    serde_saphyr::from_str::<Value>(&text).expect("spec parses")
}

impl SpecValidator {
    /// Loads the spec and compiles a validator per (operationId, status).
    pub fn load() -> SpecValidator {
        let spec = spec_document();
        let registry = Registry::new()
            .add(SPEC_URI, Resource::from_contents(spec.clone()))
            .expect("register spec")
            .prepare()
            .expect("prepare registry");
        let options = jsonschema::options().with_registry(&registry);
        let mut ops = Vec::new();
        let paths = spec["paths"].as_object().expect("paths");
        for (template, item) in paths {
            for method in METHODS {
                let Some(op) = item.get(*method) else {
                    continue;
                };
                let id = op["operationId"].as_str().expect("operationId").to_owned();
                let mut responses = BTreeMap::new();
                for (status, response) in op["responses"].as_object().expect("responses") {
                    let status: u16 = status.parse().expect("numeric status");
                    // Follow a response-level `$ref` to its component.
                    let (pointer, response) = match response.get("$ref").and_then(Value::as_str) {
                        Some(r) => {
                            let p = r.trim_start_matches('#').to_owned();
                            let resolved = spec.pointer(&p).expect("response $ref resolves");
                            (p, resolved)
                        }
                        // Inline: its pointer, fragment-encoded.
                        None => (
                            format!("/paths/{}/{method}/responses/{status}", escape(template)),
                            response,
                        ),
                    };
                    let content = response.get("content").and_then(Value::as_object);
                    let media: Vec<String> = content
                        .map(|c| c.keys().cloned().collect())
                        .unwrap_or_default();
                    let json = content
                        .and_then(|c| c.get("application/json"))
                        .and_then(|j| j.get("schema"))
                        .map(|_| {
                            let target =
                                format!("{SPEC_URI}#{pointer}/content/application~1json/schema");
                            options
                                .build(&json!({ "$ref": target }))
                                .unwrap_or_else(|e| panic!("compile {id} {status}: {e}"))
                        });
                    responses.insert(status, Declared { media, json });
                }
                ops.push(Op {
                    id,
                    method: (*method).to_owned(),
                    segments: template
                        .trim_matches('/')
                        .split('/')
                        .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                        .collect(),
                    responses,
                });
            }
        }
        SpecValidator { ops }
    }

    /// The validator shared by every test of this binary.
    pub fn get() -> &'static SpecValidator {
        static SPEC: OnceLock<SpecValidator> = OnceLock::new();
        SPEC.get_or_init(SpecValidator::load)
    }

    /// Every operationId of the spec.
    pub fn operation_ids(&self) -> BTreeSet<String> {
        self.ops.iter().map(|op| op.id.clone()).collect()
    }

    /// `(method, path template)` of every operation, e.g. `("POST", "/chats/{chatId}/messages")`.
    pub fn templates(&self) -> Vec<(String, String, String)> {
        self.ops
            .iter()
            .map(|op| {
                let path: Vec<&str> = op
                    .segments
                    .iter()
                    .map(|s| s.as_deref().unwrap_or("{}"))
                    .collect();
                (
                    op.id.clone(),
                    op.method.to_uppercase(),
                    format!("/{}", path.join("/")),
                )
            })
            .collect()
    }

    /// The operationId for `method` and a path relative to `/v1` (query
    /// and trailing slash ignored). Like a router, the path picks its route
    /// first: the template(s) with the most literal segments win
    /// (`/agents/login` before `/agents/{agentId}`), and only then the
    /// method, so `GET /agents/login` is no operation (a 405), not `getAgent`.
    pub fn operation_for(&self, method: &str, path: &str) -> Option<&str> {
        let path = path.split('?').next().unwrap_or_default();
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let method = method.to_ascii_lowercase();
        let literals = |op: &Op| op.segments.iter().filter(|s| s.is_some()).count();
        let matching: Vec<&Op> = self
            .ops
            .iter()
            .filter(|op| {
                op.segments.len() == parts.len()
                    && op.segments.iter().zip(&parts).all(|(seg, part)| match seg {
                        Some(lit) => lit == part,
                        // A parameter never matches an empty segment.
                        None => !part.is_empty(),
                    })
            })
            .collect();
        let best = matching.iter().map(|op| literals(op)).max()?;
        matching
            .into_iter()
            .find(|op| literals(op) == best && op.method == method)
            .map(|op| op.id.as_str())
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
            let spec = spec_document();
            let registry = Registry::new()
                .add(SPEC_URI, Resource::from_contents(spec.clone()))
                .expect("register spec")
                .prepare()
                .expect("prepare registry");
            let options = jsonschema::options().with_registry(&registry);
            let by_trigger = spec["webhooks"]
                .as_object()
                .expect("webhooks section")
                .keys()
                .map(|trigger| {
                    let target = format!(
                        "{SPEC_URI}#/webhooks/{}/post/requestBody/content/application~1json/schema",
                        escape(trigger)
                    );
                    let validator = options
                        .build(&json!({ "$ref": target }))
                        .unwrap_or_else(|e| panic!("compile webhook {trigger}: {e}"));
                    (trigger.clone(), validator)
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
