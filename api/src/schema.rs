//! The ONE JSON Schema compiler over the spec (feature `schema`): used by
//! the harness's runtime checks and by the mock's tests.
//!
//! The whole document is registered once as a 2020-12 resource under
//! [`SPEC_URI`], so a validator is just `{"$ref": "urn:chatload:spec#<pointer>"}`
//! and the schemas' local `#/components/...` references resolve inside it.

use crate::spec;
use jsonschema::{Registry, Resource, Validator};
use std::sync::LazyLock;

/// The URI the spec is registered under.
pub const SPEC_URI: &str = "urn:chatload:spec";

static REGISTRY: LazyLock<Result<Registry<'static>, String>> = LazyLock::new(|| {
    Registry::new()
        .add(SPEC_URI, Resource::from_contents(spec::document().clone()))
        .and_then(|builder| builder.prepare())
        .map_err(|e| e.to_string())
});

/// Compiles the schema at JSON `pointer` in the spec (as
/// [`spec::DeclaredResponse::json_schema`] and [`spec::webhook_body_schema`]
/// give it). Formats are annotations only, as 2020-12 says by default.
///
/// # Errors
/// A pointer that names no schema, or a schema that does not compile.
pub fn compile(pointer: &str) -> Result<Validator, String> {
    let registry = REGISTRY.as_ref().map_err(Clone::clone)?;
    if spec::document().pointer(pointer).is_none() {
        return Err(format!("the spec has nothing at {pointer}"));
    }
    let target = format!("{SPEC_URI}#{}", fragment(pointer));
    jsonschema::options()
        .should_validate_formats(false)
        .with_registry(registry)
        .build(&serde_json::json!({ "$ref": target }))
        .map_err(|e| e.to_string())
}

/// A JSON pointer as a URI fragment (`{` and `}` of path templates are not
/// allowed there unencoded).
fn fragment(pointer: &str) -> String {
    pointer.replace('{', "%7B").replace('}', "%7D")
}
