//! The ONE loader of the OpenAPI document: embedded at compile time, parsed
//! once (the first time it is asked for), with the few walks over it that
//! more than one user needs (an operation's declared responses, a webhook
//! event's body schema).

use crate::Operation;
use serde_json::Value;
use std::sync::LazyLock;

/// The embedded `spec/agent-chat.openapi.yaml`.
pub const SPEC_YAML: &str = include_str!("../../spec/agent-chat.openapi.yaml");

static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    // build.rs parsed these very bytes, or the crate would not have built.
    serde_saphyr::from_str(SPEC_YAML).expect("the embedded spec parses (build.rs read it)")
});

/// The spec as JSON, parsed once per process.
pub fn document() -> &'static Value {
    &DOCUMENT
}

/// One response an operation declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredResponse {
    /// The HTTP status.
    pub status: u16,
    /// Media types of its `content` (empty: no body declared).
    pub media: Vec<String>,
    /// JSON pointer (into [`document`]) of its `application/json` schema.
    pub json_schema: Option<String>,
}

/// The spec's node of an operation (`paths./chats/{chatId}.get`).
pub fn operation(op: Operation) -> &'static Value {
    &document()["paths"][op.path()][op.method().as_str().to_ascii_lowercase()]
}

/// The responses `op` declares with a numeric status, in the spec's order,
/// `$ref`s to `#/components/responses/…` followed.
pub fn responses(op: Operation) -> Vec<DeclaredResponse> {
    let method = op.method().as_str().to_ascii_lowercase();
    let base = format!("/paths/{}/{method}/responses", escape(op.path()));
    let mut out = Vec::new();
    for (status, response) in operation(op)["responses"].as_object().into_iter().flatten() {
        let Ok(code) = status.parse::<u16>() else {
            continue;
        };
        let (pointer, node) = match response["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
            Some(p) => match document().pointer(p) {
                Some(node) => (p.to_owned(), node),
                None => continue,
            },
            None => (format!("{base}/{status}"), response),
        };
        let content = node["content"].as_object();
        out.push(DeclaredResponse {
            status: code,
            media: content
                .map(|c| c.keys().cloned().collect())
                .unwrap_or_default(),
            json_schema: content
                .and_then(|c| c.get("application/json"))
                .filter(|j| j.get("schema").is_some())
                .map(|_| format!("{pointer}/content/application~1json/schema")),
        });
    }
    out
}

/// One query parameter an operation declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryParameter {
    /// Its name (`roomIds`).
    pub name: &'static str,
    /// The spec marks it `required`.
    pub required: bool,
    /// JSON pointer (into [`document`]) of its schema.
    pub schema: String,
}

/// The query parameters `op` declares, in the spec's order, `$ref`s to
/// `#/components/parameters/…` followed.
pub fn query_parameters(op: Operation) -> Vec<QueryParameter> {
    let method = op.method().as_str().to_ascii_lowercase();
    let base = format!("/paths/{}/{method}/parameters", escape(op.path()));
    let mut out = Vec::new();
    for (i, parameter) in operation(op)["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let (pointer, node) = match parameter["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
            Some(p) => match document().pointer(p) {
                Some(node) => (p.to_owned(), node),
                None => continue,
            },
            None => (format!("{base}/{i}"), parameter),
        };
        if node["in"] != "query" || node.get("schema").is_none() {
            continue;
        }
        let Some(name) = node["name"].as_str() else {
            continue;
        };
        out.push(QueryParameter {
            name,
            required: node["required"] == true,
            schema: format!("{pointer}/schema"),
        });
    }
    out
}

/// JSON pointer of the request body schema of webhook `event`
/// (`chats:create`), when the spec describes it.
pub fn webhook_body_schema(event: &str) -> Option<String> {
    let pointer = format!(
        "/webhooks/{}/post/requestBody/content/application~1json/schema",
        escape(event)
    );
    document().pointer(&pointer).map(|_| pointer)
}

/// Escapes one JSON-pointer segment (`~` → `~0`, `/` → `~1`).
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}
