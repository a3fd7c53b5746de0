//! Generated request bodies: from an operation's JSON request schema in the
//! spec and a body known to work (the tour's happy body), one-field
//! mutations that break the schema (a required field missing, a wrong
//! type, a number out of range, a string too short or too long, a value
//! outside an enum, too few items) and ones that stay at its boundaries
//! (each enum value, a number at its minimum and maximum, a string at its
//! minimum length, an empty array).
//!
//! Every candidate is classified by the spec's own validator (the same
//! `jsonschema` compilation the response checks use): a "break" the schema
//! still accepts is dropped, and so is a "boundary" it rejects, so an
//! invalid case is invalid and a valid case valid by the spec, not by this
//! file's guess. Boundary cases change only what cannot name another
//! resource: fields the happy body leaves out, and numbers, booleans and
//! enum values; `anyOf` fields (room and source ids) are left alone.
//!
//! A seeded shuffle picks at most `cases` of each class per operation,
//! interleaving the kinds, so the same seed sends the same bodies.
//! Hand-written over `serde_json::Value`: the generator crates found
//! (`json-schema-fuzz`, behind `jsoncompat`; proptest has no schema input)
//! draw whole values from a schema, which would replace the ids the happy
//! body needs (a valid message needs a real chat and sender); the checks
//! need one-field mutations of a working body, classified by the validator
//! the harness already has.

use std::collections::{BTreeMap, HashMap};
use std::sync::{LazyLock, Mutex};

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use serde_json::{Map, Value, json};

use super::ConformOptions;
use crate::api::Operation;
use chatload_api::spec;

/// One generated body.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Case {
    /// What was changed (`` `creator` missing ``).
    pub what: String,
    pub body: Value,
    /// Whether the schema accepts it.
    pub valid: bool,
    /// The top-level field it changed (kept while shrinking).
    pub field: Option<String>,
}

/// One mutation before classification.
struct Candidate {
    kind: &'static str,
    what: String,
    at: Vec<String>,
    /// `None`: remove the field.
    value: Option<Value>,
    /// Meant to stay valid.
    valid: bool,
}

/// JSON pointer of `op`'s JSON request body schema.
fn request_schema(op: Operation) -> Option<String> {
    let pointer = format!(
        "/paths/{}/{}/requestBody/content/application~1json/schema",
        spec::escape(op.path()),
        op.method().as_str().to_ascii_lowercase()
    );
    spec::document().pointer(&pointer).map(|_| pointer)
}

type Validators = HashMap<Operation, Option<jsonschema::Validator>>;
static VALIDATORS: LazyLock<Mutex<Validators>> = LazyLock::new(Mutex::default);

/// Whether the spec's request schema of `op` accepts `body` (`None`: the
/// operation has no JSON request schema, or it does not compile).
pub(super) fn is_valid(op: Operation, body: &Value) -> Option<bool> {
    let mut validators = VALIDATORS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let validator = validators
        .entry(op)
        .or_insert_with(|| request_schema(op).and_then(|p| chatload_api::schema::compile(&p).ok()));
    validator.as_ref().map(|v| v.is_valid(body))
}

/// The invalid and the boundary-valid cases for `op` around `base`, at most
/// `options.cases` of each, picked by `options.seed`.
pub(super) fn cases(
    op: Operation,
    base: &Value,
    options: ConformOptions,
) -> (Vec<Case>, Vec<Case>) {
    let Some(pointer) = request_schema(op) else {
        return (Vec::new(), Vec::new());
    };
    let mut found = vec![Candidate {
        kind: "type",
        what: "the body is an array".to_owned(),
        at: Vec::new(),
        value: Some(json!([])),
        valid: false,
    }];
    if let Some(object) = base.as_object() {
        object_candidates(
            resolve(&json!({ "$ref": format!("#{pointer}") })),
            object,
            &[],
            &mut found,
        );
    }
    let mut invalid = Vec::new();
    let mut valid = Vec::new();
    for c in found {
        let Some(body) = apply(base, &c.at, c.value.clone()) else {
            continue;
        };
        if is_valid(op, &body) != Some(c.valid) {
            continue;
        }
        let case = Case {
            what: c.what,
            body,
            valid: c.valid,
            field: c.at.first().cloned(),
        };
        let list = if c.valid { &mut valid } else { &mut invalid };
        if !list
            .iter()
            .any(|(_, known): &(&str, Case)| known.body == case.body)
        {
            list.push((c.kind, case));
        }
    }
    let seed = options.seed ^ (op.index() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (
        pick(invalid, options.cases, seed),
        pick(valid, options.cases, seed.rotate_left(17)),
    )
}

/// A seeded shuffle, then the kinds interleaved (each kind's first case,
/// then each kind's second, ...), then the first `n`.
fn pick(mut cases: Vec<(&'static str, Case)>, n: usize, seed: u64) -> Vec<Case> {
    cases.shuffle(&mut SmallRng::seed_from_u64(seed));
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut ranked: Vec<(usize, usize, Case)> = cases
        .into_iter()
        .enumerate()
        .map(|(i, (kind, case))| {
            let rank = seen.entry(kind).or_default();
            *rank += 1;
            (*rank, i, case)
        })
        .collect();
    ranked.sort_by_key(|(rank, i, _)| (*rank, *i));
    ranked.into_iter().take(n).map(|(_, _, c)| c).collect()
}

/// Follows `$ref`s into the spec.
fn resolve(node: &Value) -> &Value {
    let mut node = node;
    for _ in 0..16 {
        let Some(target) = node
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        else {
            break;
        };
        match spec::document().pointer(target) {
            Some(next) => node = next,
            None => break,
        }
    }
    node
}

/// The candidates for an object at `at` whose current value is `base`.
fn object_candidates(
    schema: &Value,
    base: &Map<String, Value>,
    at: &[String],
    out: &mut Vec<Candidate>,
) {
    let field = |name: &str| -> Vec<String> {
        let mut path = at.to_vec();
        path.push(name.to_owned());
        path
    };
    for name in schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if base.contains_key(name) {
            let what = format!("`{}` missing", field(name).join("."));
            out.push(Candidate {
                kind: "missing",
                what,
                at: field(name),
                value: None,
                valid: false,
            });
        }
    }
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        value_candidates(resolve(property), base.get(name), &field(name), out);
    }
}

/// The candidates for one value at `at` (`current`: its value in the happy body).
fn value_candidates(
    schema: &Value,
    current: Option<&Value>,
    at: &[String],
    out: &mut Vec<Candidate>,
) {
    let name = at.join(".");
    let mut push = |kind, what: String, value: Value, valid: bool| {
        let what = format!("`{name}` {what}");
        out.push(Candidate {
            kind,
            what,
            at: at.to_vec(),
            value: Some(value),
            valid,
        });
    };
    for wrong in [
        json!(true),
        json!(12345),
        json!("conform"),
        json!([]),
        json!({}),
        Value::Null,
    ] {
        push("type", format!("is {}", short(&wrong)), wrong, false);
    }
    if schema.get("anyOf").is_some() {
        return;
    }
    let free = current.is_none();
    if let Some(values) = schema["enum"].as_array() {
        push(
            "enum",
            "is not one of the enum".to_owned(),
            json!("conform-not-in-enum"),
            false,
        );
        for v in values {
            push("enum", format!("= {v}"), v.clone(), true);
        }
        return;
    }
    match schema["type"].as_str() {
        Some("integer" | "number") => number_candidates(schema, &mut push),
        Some("string") => string_candidates(schema, free, &mut push),
        Some("boolean") => {
            for b in [true, false] {
                push("boolean", format!("= {b}"), json!(b), true);
            }
        }
        Some("array") => array_candidates(schema, current, at, free, out),
        Some("object") => {
            if let Some(object) = current.and_then(Value::as_object) {
                object_candidates(schema, object, at, out);
            }
        }
        _ => {}
    }
}

/// The candidates for a number: just below the minimum and at it, just above the maximum
/// and at it. `push` takes a candidate's kind, what it does, its value and whether it is
/// meant to stay valid.
fn number_candidates(schema: &Value, push: &mut impl FnMut(&'static str, String, Value, bool)) {
    if let Some(min) = schema["minimum"].as_i64() {
        push(
            "range",
            format!("= {} (below minimum)", min - 1),
            json!(min - 1),
            false,
        );
        push("range", format!("= {min} (minimum)"), json!(min), true);
    }
    if let Some(max) = schema["maximum"].as_u64() {
        if let Some(above) = max.checked_add(1) {
            push(
                "range",
                format!("= {above} (above maximum)"),
                json!(above),
                false,
            );
        }
        push("range", format!("= {max} (maximum)"), json!(max), true);
    }
}

/// The candidates for a string: one char too short and too long; at each bound too when the
/// happy body leaves the value `free`.
fn string_candidates(
    schema: &Value,
    free: bool,
    push: &mut impl FnMut(&'static str, String, Value, bool),
) {
    if let Some(min) = schema["minLength"].as_u64().filter(|m| *m > 0) {
        let short = "x".repeat(usize::try_from(min - 1).unwrap_or(0));
        push(
            "length",
            format!("is {} chars (minLength {min})", min - 1),
            json!(short),
            false,
        );
        if free {
            push(
                "length",
                format!("is {min} chars (minLength)"),
                json!("x".repeat(usize::try_from(min).unwrap_or(1))),
                true,
            );
        }
    }
    if let Some(max) = schema["maxLength"].as_u64().filter(|m| *m < 1 << 20) {
        let n = usize::try_from(max).unwrap_or(0);
        push(
            "length",
            format!("is {} chars (maxLength {max})", max + 1),
            json!("x".repeat(n + 1)),
            false,
        );
        if free {
            push(
                "length",
                format!("is {max} chars (maxLength)"),
                json!("x".repeat(n)),
                true,
            );
        }
    }
}

/// The candidates for an array: too few items, an empty one (when free),
/// and its first item's candidates.
fn array_candidates(
    schema: &Value,
    current: Option<&Value>,
    at: &[String],
    free: bool,
    out: &mut Vec<Candidate>,
) {
    let name = at.join(".");
    let min = schema["minItems"].as_u64().unwrap_or(0);
    // Too few items, or (when the happy body leaves it out) an empty list.
    if min > 0 || free {
        let what = match min {
            0 => format!("`{name}` is empty"),
            _ => format!("`{name}` is empty (minItems {min})"),
        };
        let (at, value, valid) = (at.to_vec(), Some(json!([])), min == 0);
        out.push(Candidate {
            kind: "items",
            what,
            at,
            value,
            valid,
        });
    }
    if let Some(first) = current.and_then(Value::as_array).and_then(|a| a.first()) {
        let mut item = at.to_vec();
        item.push("0".to_owned());
        value_candidates(resolve(&schema["items"]), Some(first), &item, out);
    }
}

/// `base` with the value at `at` replaced (or removed when `value` is
/// `None`); `None` when `at` does not lead through objects and arrays.
fn apply(base: &Value, at: &[String], value: Option<Value>) -> Option<Value> {
    let Some((last, parents)) = at.split_last() else {
        return value;
    };
    let mut body = base.clone();
    let mut node = &mut body;
    for key in parents {
        node = match node {
            Value::Object(o) => o.get_mut(key)?,
            Value::Array(a) => a.get_mut(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    match (node, value) {
        (Value::Object(o), Some(v)) => {
            o.insert(last.clone(), v);
        }
        (Value::Object(o), None) => {
            o.remove(last);
        }
        (Value::Array(a), Some(v)) => *a.get_mut(last.parse::<usize>().ok()?)? = v,
        _ => return None,
    }
    Some(body)
}

/// A short description of a wrong-typed value.
fn short(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(seed: u64, cases: usize) -> ConformOptions {
        ConformOptions { seed, cases }
    }

    #[test]
    fn invalid_cases_break_the_schema_and_boundary_cases_keep_it() {
        let base = json!({"chatId": "c-1", "sender": "u-1", "message": "hi"});
        let (invalid, valid) = cases(Operation::SendChatMessage, &base, options(7, 100));
        assert!(
            invalid.iter().any(|c| c.what == "`sender` missing"),
            "{invalid:?}"
        );
        assert!(
            invalid
                .iter()
                .any(|c| c.what.contains("`type` is not one of the enum"))
        );
        assert!(
            invalid
                .iter()
                .any(|c| c.what.contains("`message` is 0 chars"))
        );
        assert!(
            valid.iter().any(|c| c.body["type"] == "system"),
            "{valid:?}"
        );
        for c in &invalid {
            assert_eq!(
                is_valid(Operation::SendChatMessage, &c.body),
                Some(false),
                "{c:?}"
            );
        }
        for c in &valid {
            assert_eq!(
                is_valid(Operation::SendChatMessage, &c.body),
                Some(true),
                "{c:?}"
            );
            assert_eq!(
                c.body["sender"], "u-1",
                "ids of the happy body are kept: {c:?}"
            );
        }
    }

    #[test]
    fn nested_items_and_ranges_are_generated() {
        let base = json!({"history": [{"sender": "u-1", "message": "hi", "created": 5}]});
        let (invalid, valid) = cases(Operation::ImportChatHistory, &base, options(1, 100));
        assert!(
            invalid
                .iter()
                .any(|c| c.body["history"][0]["created"] == json!(-1)),
            "{invalid:?}"
        );
        assert!(
            valid
                .iter()
                .any(|c| c.body["history"][0]["created"] == json!(i64::MAX)),
            "{valid:?}"
        );
    }

    #[test]
    fn the_seed_picks_the_cases_and_the_count_bounds_them() {
        let base = json!({"name": "n", "email": "e@x", "rooms": [1], "capacity": 1});
        let a = cases(Operation::CreateAgent, &base, options(3, 5));
        assert_eq!(a, cases(Operation::CreateAgent, &base, options(3, 5)));
        assert_eq!(a.0.len(), 5);
        assert_ne!(a.0, cases(Operation::CreateAgent, &base, options(4, 5)).0);
        let kinds: std::collections::BTreeSet<&str> =
            a.0.iter()
                .map(|c| c.what.split(' ').nth(1).unwrap_or(""))
                .collect();
        assert!(kinds.len() > 1, "kinds interleaved: {a:?}");
    }

    /// No operation's cases are lost to a schema that does not compile: each
    /// JSON request schema gets a validator, and at least one invalid case.
    #[test]
    fn every_json_request_schema_compiles_and_yields_cases() {
        for op in Operation::ALL {
            if request_schema(op).is_none() {
                continue;
            }
            assert!(is_valid(op, &json!({})).is_some(), "{op}");
            assert!(!cases(op, &json!({}), options(1, 5)).0.is_empty(), "{op}");
        }
    }

    #[test]
    fn an_operation_without_a_json_body_gets_no_cases() {
        assert_eq!(
            cases(Operation::GetChat, &json!({}), options(1, 5)),
            (Vec::new(), Vec::new())
        );
    }
}
