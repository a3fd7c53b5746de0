//! Generated request bodies: from an operation's JSON request schema in the
//! spec and a body known to work (the tour's happy body), one-field
//! mutations that break the schema (a required field missing, a wrong
//! type, a number out of range, a string too short or too long, a value
//! outside an enum, too few items, a field where `additionalProperties` is
//! false) and ones that stay at its boundaries
//! (each enum value, a number at its minimum and maximum, a string at its
//! minimum length, an empty array).
//!
//! Every candidate is classified by the spec's own validator (the same
//! `jsonschema` compilation the response checks use): a "break" the schema
//! still accepts is dropped, and so is a "boundary" it rejects, so an
//! invalid case is invalid and a valid case valid by the spec, not by this
//! file's guess. Boundary cases change only what cannot name another
//! resource: fields the happy body leaves out, and numbers, booleans and
//! enum values; `anyOf` fields (room and source ids) get only breaks (a
//! number out of every branch's range), never boundaries. A
//! string the spec marks `x-unique: true` (unique per app, e.g. a user's
//! `externalId`) gets the run's tag, padded to the boundary length, so a
//! rerun against the same instance meets no value an earlier run left; a
//! boundary shorter than the tag cannot hold a unique value and is skipped
//! with its reason ([`Cases::skipped`]).
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

/// A boundary that is not sent, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Skip {
    /// What it would have changed (`` `externalId` is 1 chars (minLength) ``).
    pub what: String,
    pub reason: String,
}

/// The generated bodies of one operation.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Cases {
    pub invalid: Vec<Case>,
    pub valid: Vec<Case>,
    /// Boundaries of unique fields too short for a unique value: not sent.
    pub skipped: Vec<Skip>,
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
    /// Not sent, for this reason.
    skip: Option<String>,
}

/// What the candidates are generated with: the run's tag, the value unique
/// fields start with.
struct Gen<'t> {
    tag: &'t str,
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
/// `options.cases` of each, picked by `options.seed`; unique fields get
/// values starting with `tag` (the run's own, so reruns do not collide).
pub(super) fn cases(op: Operation, base: &Value, options: ConformOptions, tag: &str) -> Cases {
    let Some(pointer) = request_schema(op) else {
        return Cases::default();
    };
    let mut found = vec![Candidate {
        kind: "type",
        what: "the body is an array".to_owned(),
        at: Vec::new(),
        value: Some(json!([])),
        valid: false,
        skip: None,
    }];
    if let Some(object) = base.as_object() {
        Gen { tag }.object_candidates(
            resolve(&json!({ "$ref": format!("#{pointer}") })),
            object,
            &[],
            &mut found,
        );
    }
    let mut invalid = Vec::new();
    let mut valid = Vec::new();
    let mut skipped = Vec::new();
    for c in found {
        if let Some(reason) = c.skip {
            skipped.push(Skip {
                what: c.what,
                reason,
            });
            continue;
        }
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
    Cases {
        invalid: pick(invalid, options.cases, seed),
        valid: pick(valid, options.cases, seed.rotate_left(17)),
        skipped,
    }
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

impl Gen<'_> {
    /// The candidates for an object at `at` whose current value is `base`.
    fn object_candidates(
        &self,
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
                    skip: None,
                });
            }
        }
        if schema["additionalProperties"] == json!(false) {
            let name = field("conformUnknown");
            out.push(Candidate {
                kind: "unknown",
                what: format!("`{}` is a field the schema does not allow", name.join(".")),
                at: name,
                value: Some(json!(1)),
                valid: false,
                skip: None,
            });
        }
        for (name, property) in schema["properties"].as_object().into_iter().flatten() {
            self.value_candidates(resolve(property), base.get(name), &field(name), out);
        }
    }

    /// The candidates for one value at `at` (`current`: its value in the happy body).
    fn value_candidates(
        &self,
        schema: &Value,
        current: Option<&Value>,
        at: &[String],
        out: &mut Vec<Candidate>,
    ) {
        let name = at.join(".");
        let mut push = |kind, what: String, value: Result<Value, String>, valid: bool| {
            let what = format!("`{name}` {what}");
            let (value, skip) = match value {
                Ok(v) => (Some(v), None),
                Err(reason) => (None, Some(reason)),
            };
            out.push(Candidate {
                kind,
                what,
                at: at.to_vec(),
                value,
                valid,
                skip,
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
            push("type", format!("is {}", short(&wrong)), Ok(wrong), false);
        }
        if let Some(branches) = schema["anyOf"].as_array() {
            any_of_breaks(branches, &mut push);
            return;
        }
        let free = current.is_none();
        if let Some(values) = schema["enum"].as_array() {
            let outside = Ok(json!("conform-not-in-enum"));
            push("enum", "is not one of the enum".to_owned(), outside, false);
            for v in values {
                push("enum", format!("= {v}"), Ok(v.clone()), true);
            }
            return;
        }
        match schema["type"].as_str() {
            Some("integer" | "number") => number_candidates(schema, &mut push),
            Some("string") => self.string_candidates(schema, free, &mut push),
            Some("boolean") => {
                for b in [true, false] {
                    push("boolean", format!("= {b}"), Ok(json!(b)), true);
                }
            }
            Some("array") => self.array_candidates(schema, current, at, free, out),
            Some("object") => {
                if let Some(object) = current.and_then(Value::as_object) {
                    self.object_candidates(schema, object, at, out);
                }
            }
            _ => {}
        }
    }

    /// The candidates for a string: one char too short and too long; at each bound too when
    /// the happy body leaves the value `free`. A unique string (`x-unique`) at a bound is the
    /// run's tag padded to that length, or skipped when the bound is shorter than the tag.
    fn string_candidates(&self, schema: &Value, free: bool, push: &mut Push<'_>) {
        let unique = schema["x-unique"].as_bool() == Some(true);
        let at_bound = |n: u64| -> Result<Value, String> {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if !unique {
                return Ok(json!("x".repeat(n)));
            }
            if n < self.tag.len() {
                return Err(format!(
                    "unique per app (x-unique): a {n}-char value cannot be unique against shared \
                     state (a run's unique value has {} chars)",
                    self.tag.len()
                ));
            }
            Ok(json!(format!(
                "{}{}",
                self.tag,
                "x".repeat(n - self.tag.len())
            )))
        };
        if let Some(min) = schema["minLength"].as_u64().filter(|m| *m > 0) {
            let short = "x".repeat(usize::try_from(min - 1).unwrap_or(0));
            let what = format!("is {} chars (minLength {min})", min - 1);
            push("length", what, Ok(json!(short)), false);
            if free {
                push(
                    "length",
                    format!("is {min} chars (minLength)"),
                    at_bound(min),
                    true,
                );
            }
        }
        if let Some(max) = schema["maxLength"].as_u64().filter(|m| *m < 1 << 20) {
            let n = usize::try_from(max).unwrap_or(0);
            let what = format!("is {} chars (maxLength {max})", max + 1);
            push("length", what, Ok(json!("x".repeat(n + 1))), false);
            if free {
                push(
                    "length",
                    format!("is {max} chars (maxLength)"),
                    at_bound(max),
                    true,
                );
            }
        }
    }

    /// The candidates for an array: too few items, an empty one (when free),
    /// and its first item's candidates.
    fn array_candidates(
        &self,
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
                skip: None,
            });
        }
        if let Some(first) = current.and_then(Value::as_array).and_then(|a| a.first()) {
            let mut item = at.to_vec();
            item.push("0".to_owned());
            self.value_candidates(resolve(&schema["items"]), Some(first), &item, out);
        }
    }
}

/// Takes a candidate's kind, what it does, its value (or why it is skipped) and whether it
/// is meant to stay valid.
type Push<'p> = dyn FnMut(&'static str, String, Result<Value, String>, bool) + 'p;

/// The candidates for a number: just below the minimum and at it, just above the maximum
/// and at it.
fn number_candidates(schema: &Value, push: &mut Push<'_>) {
    if let Some(min) = schema["minimum"].as_i64() {
        let below = format!("= {} (below minimum)", min - 1);
        push("range", below, Ok(json!(min - 1)), false);
        push("range", format!("= {min} (minimum)"), Ok(json!(min)), true);
    }
    if let Some(max) = schema["maximum"].as_u64() {
        if let Some(above) = max.checked_add(1) {
            let what = format!("= {above} (above maximum)");
            push("range", what, Ok(json!(above)), false);
        }
        push("range", format!("= {max} (maximum)"), Ok(json!(max)), true);
    }
}

/// The breaks of an `anyOf` field (room and source ids): each numeric branch's
/// out-of-range values, never its boundaries (the field may name a resource). A value
/// another branch accepts is dropped by the validator like every other candidate.
fn any_of_breaks(branches: &[Value], push: &mut Push<'_>) {
    for branch in branches {
        if matches!(branch["type"].as_str(), Some("integer" | "number")) {
            number_candidates(branch, &mut |kind, what, value, valid| {
                if !valid {
                    push(kind, what, value, false);
                }
            });
        }
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

    const TAG: &str = "conform-18f2a3b4c5d6e7f8";

    fn options(seed: u64, cases: usize) -> ConformOptions {
        ConformOptions { seed, cases }
    }

    #[test]
    fn invalid_cases_break_the_schema_and_boundary_cases_keep_it() {
        let base = json!({"chatId": "c-1", "sender": "u-1", "message": "hi"});
        let Cases { invalid, valid, .. } =
            cases(Operation::SendChatMessage, &base, options(7, 100), TAG);
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
        let Cases { invalid, valid, .. } =
            cases(Operation::ImportChatHistory, &base, options(1, 100), TAG);
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
    fn an_any_of_id_gets_out_of_range_breaks_and_no_boundaries() {
        let base = json!({"creator": "u-1", "room": 1, "source": 3});
        let Cases { invalid, valid, .. } =
            cases(Operation::CreateChat, &base, options(1, 100), TAG);
        for field in ["room", "source"] {
            for out in [json!(-1), json!(4_294_967_296_u64)] {
                assert!(
                    invalid.iter().any(|c| c.body[field] == out),
                    "{field} = {out}: {invalid:?}"
                );
            }
            assert!(
                valid.iter().all(|c| c.body[field] == base[field]),
                "{field} boundary: {valid:?}"
            );
        }
    }

    #[test]
    fn a_closed_object_gets_an_unknown_field() {
        let base = json!({"lang": "en"});
        let Cases { invalid, .. } = cases(Operation::UpdateChat, &base, options(1, 100), TAG);
        assert!(
            invalid
                .iter()
                .any(|c| c.body["conformUnknown"] == json!(1) && c.body["lang"] == "en"),
            "{invalid:?}"
        );
    }

    #[test]
    fn the_seed_picks_the_cases_and_the_count_bounds_them() {
        let base = json!({"name": "n", "email": "e@x", "rooms": [1], "capacity": 1});
        let a = cases(Operation::CreateAgent, &base, options(3, 5), TAG);
        assert_eq!(a, cases(Operation::CreateAgent, &base, options(3, 5), TAG));
        assert_eq!(a.invalid.len(), 5);
        let other = cases(Operation::CreateAgent, &base, options(4, 5), TAG);
        assert_ne!(a.invalid, other.invalid);
        let kinds: std::collections::BTreeSet<&str> = a
            .invalid
            .iter()
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
            let generated = cases(op, &json!({}), options(1, 5), TAG);
            assert!(!generated.invalid.is_empty(), "{op}");
        }
    }

    #[test]
    fn an_operation_without_a_json_body_gets_no_cases() {
        assert_eq!(
            cases(Operation::GetChat, &json!({}), options(1, 5), TAG),
            Cases::default()
        );
    }

    /// A unique field's boundary is the run's tag at that length, never a
    /// fixed value a rerun would collide with; one shorter than the tag is
    /// skipped with its reason.
    #[test]
    fn a_unique_field_gets_the_runs_tag_or_is_skipped_with_a_reason() {
        let base = json!({"contact": "c@example.com"});
        let generated = cases(Operation::UpdateUser, &base, options(1, 100), TAG);
        let sent: Vec<&Value> = generated
            .valid
            .iter()
            .filter_map(|c| c.body.get("externalId"))
            .collect();
        assert!(sent.is_empty(), "no 1-char externalId is sent: {sent:?}");
        let skip = generated
            .skipped
            .iter()
            .find(|s| s.what.contains("`externalId` is 1 chars"))
            .unwrap_or_else(|| panic!("{:?}", generated.skipped));
        assert!(skip.reason.contains("unique"), "{skip:?}");
        assert!(
            generated.valid.iter().any(|c| c.body["name"] == "x"),
            "a field that need not be unique keeps its boundary: {:?}",
            generated.valid
        );
        let schema = json!({"type": "string", "minLength": 30, "x-unique": true});
        let mut found = Vec::new();
        Gen { tag: TAG }.value_candidates(&schema, None, &["id".to_owned()], &mut found);
        let at_min = found
            .iter()
            .find(|c| c.valid)
            .and_then(|c| c.value.as_ref())
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert_eq!(at_min.len(), 30, "{at_min}");
        assert!(at_min.starts_with(TAG), "{at_min}");
    }
}
