//! Generates the API's vocabulary from `spec/agent-chat.openapi.yaml`, read
//! once here: the `Operation` enum and its table (id, method, path template,
//! path and query parameter names, `x-auth`, success status), the webhook
//! event names and their default subscription (`x-default-subscription`),
//! the header names (security schemes, webhook headers, the handshake
//! header) and the server URL template. A spec the generator does not
//! understand fails the build with the reason.

use serde_json::Value;
use std::fmt::Write as _;
use std::path::PathBuf;

const SPEC: &str = "../spec/agent-chat.openapi.yaml";
const METHODS: &[&str] = &["get", "post", "put", "delete"];

fn main() {
    println!("cargo:rerun-if-changed={SPEC}");
    println!("cargo:rerun-if-changed=build.rs");
    let text = std::fs::read_to_string(SPEC).unwrap_or_else(|e| panic!("read {SPEC}: {e}"));
    let spec: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("parse {SPEC}: {e}"));
    let mut out = String::new();
    operations(&spec, &mut out);
    events(&spec, &mut out);
    headers(&spec, &mut out);
    servers(&spec, &mut out);
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("vocabulary.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("write {}: {e}", dest.display()));
}

/// One operation as the generator reads it.
struct Op {
    id: String,
    method: &'static str,
    path: String,
    params: Vec<String>,
    query: Vec<String>,
    auth: &'static str,
    success: u16,
    body_required: bool,
}

fn operations(spec: &Value, out: &mut String) {
    let ops = read_operations(spec);
    let base = base_path(spec);
    out.push_str(
        "/// Every operation of the API, one variant per `operationId`, in the spec's order.\n",
    );
    out.push_str("#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]\npub enum Operation {\n");
    for op in &ops {
        let _ = writeln!(
            out,
            "    /// `{} {}` (`{}`)\n    {},",
            op.method.to_uppercase(),
            op.path,
            op.id,
            variant(&op.id)
        );
    }
    out.push_str("}\n\n");
    let _ = writeln!(
        out,
        "/// Number of operations.\npub const OPERATION_COUNT: usize = {};\n",
        ops.len()
    );
    out.push_str("impl Operation {\n    /// Every operation, in the spec's order (`ALL[op.index()] == op`).\n");
    out.push_str("    pub const ALL: [Operation; OPERATION_COUNT] = [\n");
    for op in &ops {
        let _ = writeln!(out, "        Operation::{},", variant(&op.id));
    }
    out.push_str("    ];\n}\n\n");
    out.push_str("static TABLE: [OperationInfo; OPERATION_COUNT] = [\n");
    for op in &ops {
        let method = capitalise(op.method);
        let _ = writeln!(
            out,
            "    OperationInfo {{ id: {id:?}, method: Method::{method}, path: {path:?}, full_path: {full:?}, \
             route_key: {key:?}, path_params: &{params:?}, query_params: &{query:?}, \
             auth: AuthClass::{auth}, success_status: {success}, body_required: {body} }},",
            id = op.id,
            path = op.path,
            full = format!("{base}{}", op.path),
            key = format!("{} {}", op.method.to_uppercase(), op.path),
            params = op.params,
            query = op.query,
            auth = op.auth,
            success = op.success,
            body = op.body_required,
        );
    }
    out.push_str("];\n\n");
}

fn read_operations(spec: &Value) -> Vec<Op> {
    let paths = spec["paths"].as_object().expect("spec has `paths`");
    let mut ops = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            ops.push(read_operation(spec, path, method, op));
        }
    }
    ops
}

fn read_operation(spec: &Value, path: &str, method: &'static str, op: &Value) -> Op {
    let id = op["operationId"]
        .as_str()
        .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
    let auth = match op["x-auth"].as_str() {
        Some("public") => "Public",
        Some("user") => "User",
        Some("secret") => "Secret",
        other => panic!("{id}: x-auth must be public, user or secret, found {other:?}"),
    };
    let successes: Vec<u16> = op["responses"]
        .as_object()
        .unwrap_or_else(|| panic!("{id}: no responses"))
        .keys()
        .filter_map(|s| s.parse::<u16>().ok())
        .filter(|s| (200..300).contains(s))
        .collect();
    let [success] = successes[..] else {
        panic!("{id}: expected exactly one 2xx response, found {successes:?}");
    };
    let params: Vec<String> = path
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_owned)
        .collect();
    let mut query = Vec::new();
    for param in op["parameters"].as_array().into_iter().flatten() {
        let param = resolve(spec, param);
        let name = param["name"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: parameter without a name"));
        match param["in"].as_str() {
            Some("path") => assert!(
                params.iter().any(|p| p == name),
                "{id}: path parameter {name} not in {path}"
            ),
            Some("query") => query.push(name.to_owned()),
            _ => {}
        }
    }
    let body_required = resolve(spec, &op["requestBody"])["required"]
        .as_bool()
        .unwrap_or(false);
    Op {
        id: id.to_owned(),
        method,
        path: path.to_owned(),
        params,
        query,
        auth,
        success,
        body_required,
    }
}

fn events(spec: &Value, out: &mut String) {
    let hooks = spec["webhooks"].as_object().expect("spec has `webhooks`");
    out.push_str("/// Webhook event names (the spec's `webhooks:` section).\npub mod events {\n");
    let mut all = Vec::new();
    let mut default = Vec::new();
    for (name, item) in hooks {
        let konst = screaming(name);
        let summary = item["post"]["summary"].as_str().unwrap_or(name);
        let _ = writeln!(
            out,
            "    /// {summary}\n    pub const {konst}: &str = {name:?};"
        );
        let subscribed = match item["x-default-subscription"] {
            Value::Null => true,
            Value::Bool(b) => b,
            ref other => {
                panic!("webhook {name}: x-default-subscription must be a boolean, found {other}")
            }
        };
        if subscribed {
            default.push(konst.clone());
        }
        all.push(konst);
    }
    let _ = writeln!(
        out,
        "    /// Every event name, in the spec's order.\n    pub const ALL: &[&str] = &[{}];",
        all.join(", ")
    );
    let _ = writeln!(
        out,
        "    /// Subscribed when a registration names no events: every event without \
         `x-default-subscription: false`.\n    pub const DEFAULT_SUBSCRIPTION: &[&str] = &[{}];",
        default.join(", ")
    );
    out.push_str("}\n\n");
}

fn headers(spec: &Value, out: &mut String) {
    out.push_str("/// Header names, as the spec writes them (HTTP header names are case-insensitive).\npub mod headers {\n");
    let schemes = spec["components"]["securitySchemes"]
        .as_object()
        .expect("spec has securitySchemes");
    let mut lower = String::new();
    for (scheme, item) in schemes {
        if item["in"].as_str() != Some("header") {
            continue;
        }
        let name = item["name"]
            .as_str()
            .unwrap_or_else(|| panic!("security scheme {scheme}: no name"));
        let konst = screaming(scheme);
        let _ = writeln!(
            out,
            "    /// Security scheme `{scheme}`.\n    pub const {konst}: &str = {name:?};"
        );
        let _ = writeln!(
            lower,
            "        /// Security scheme `{scheme}`.\n        pub const {konst}: &str = {:?};",
            name.to_ascii_lowercase()
        );
    }
    let mut hook_headers: Vec<String> = Vec::new();
    for item in spec["webhooks"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, v)| v)
    {
        for param in item["post"]["parameters"].as_array().into_iter().flatten() {
            let param = resolve(spec, param);
            if param["in"].as_str() == Some("header")
                && let Some(name) = param["name"].as_str()
                && !hook_headers.iter().any(|h| h == name)
            {
                hook_headers.push(name.to_owned());
            }
        }
    }
    if let Some(name) = spec["x-webhook-handshake-header"].as_str() {
        hook_headers.push(name.to_owned());
    }
    for name in hook_headers {
        let konst = screaming(name.trim_start_matches("X-").trim_start_matches("x-"));
        let _ = writeln!(
            out,
            "    /// Webhook header.\n    pub const {konst}: &str = {name:?};"
        );
        let _ = writeln!(
            lower,
            "        /// Webhook header.\n        pub const {konst}: &str = {:?};",
            name.to_ascii_lowercase()
        );
    }
    out.push_str(
        "    /// The same names in lower case, as HTTP/2 sends them and as\n    \
         /// `HeaderName::from_static` takes them.\n    pub mod lower {\n",
    );
    out.push_str(&lower);
    out.push_str("    }\n}\n\n");
}

fn servers(spec: &Value, out: &mut String) {
    let server = &spec["servers"][0];
    let url = server["url"].as_str().expect("spec has a server url");
    let regions: Vec<&str> = server["variables"]["region"]["enum"]
        .as_array()
        .expect("the first server has a `region` variable")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let default = server["variables"]["region"]["default"]
        .as_str()
        .expect("region default");
    let _ = writeln!(
        out,
        "/// The real service's URL, with a `{{region}}` variable.\npub const SERVER_URL: &str = {url:?};"
    );
    let _ = writeln!(
        out,
        "/// Regions the `{{region}}` variable takes.\npub const REGIONS: &[&str] = &{regions:?};"
    );
    let _ = writeln!(
        out,
        "/// The default region.\npub const DEFAULT_REGION: &str = {default:?};"
    );
    let _ = writeln!(
        out,
        "/// The path every operation's path is relative to.\npub const BASE_PATH: &str = {:?};",
        base_path(spec)
    );
}

/// `/v1` from `https://host:8000/v1`.
fn base_path(spec: &Value) -> String {
    let url = spec["servers"][0]["url"]
        .as_str()
        .expect("spec has a server url");
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme.find('/').map_or_else(String::new, |i| {
        after_scheme[i..].trim_end_matches('/').to_owned()
    })
}

/// Follows a local `$ref`.
fn resolve<'a>(spec: &'a Value, node: &'a Value) -> &'a Value {
    match node["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => spec
            .pointer(pointer)
            .unwrap_or_else(|| panic!("unresolved $ref #{pointer}")),
        None => node,
    }
}

/// `getChat` → `GetChat`.
fn variant(id: &str) -> String {
    capitalise(id)
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// `chats:create` → `CHATS_CREATE`, `domainKey` → `DOMAIN_KEY`, `Hook-Signature` → `HOOK_SIGNATURE`.
fn screaming(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 && !out.ends_with('_') {
            out.push('_');
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out
}
