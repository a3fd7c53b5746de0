//! Generated query-parameter breaks: from the query parameters an operation
//! declares in the spec and the happy call's query, one-parameter changes
//! that break a parameter's schema (a required one missing, an integer
//! below its minimum, above its maximum or not an integer, an empty string
//! where `minLength` is 1, a value outside an `enum`, a list with an empty
//! element against a `pattern`).
//!
//! As with generated bodies ([`super::generate`]), every candidate is
//! classified by the spec's own validator (a query value is read as the
//! integer it spells when the schema is numeric, else as a string): a
//! candidate the schema accepts is dropped. The credentials an operation
//! takes in its query (`appId`, `secret` on `getMedia`) are the auth
//! probes' business and are left alone, and so is a parameter the happy
//! call sends in its JSON body instead (`closeChat`'s `userId` may come in
//! either; the body's is the one read).

use chatload_api::{schema, spec};
use serde_json::{Value, json};

use crate::api::Operation;

/// Query parameters that carry credentials.
const CREDENTIALS: &[&str] = &["appId", "secret"];

/// One generated query: what it breaks and the whole query to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct QueryCase {
    /// `` `limit` = 0 (below minimum) ``.
    pub what: String,
    pub query: Vec<(&'static str, String)>,
}

/// The breaks of `op`'s query parameters, each a change of `happy` (the
/// happy call's query) in one parameter, in the spec's parameter order;
/// none for a parameter `body` (the happy call's JSON body) carries.
pub(super) fn breaks(
    op: Operation,
    happy: &[(&str, String)],
    body: Option<&Value>,
) -> Vec<QueryCase> {
    let base: Vec<(&'static str, String)> = spec::query_parameters(op)
        .iter()
        .filter_map(|p| {
            let value = happy.iter().find(|(name, _)| *name == p.name)?;
            Some((p.name, value.1.clone()))
        })
        .collect();
    let mut out = Vec::new();
    for parameter in spec::query_parameters(op) {
        let in_body = body.and_then(|b| b.get(parameter.name)).is_some();
        if in_body || CREDENTIALS.contains(&parameter.name) {
            continue;
        }
        let current = base.iter().find(|(n, _)| *n == parameter.name);
        if parameter.required && current.is_some() {
            out.push(QueryCase {
                what: format!("`{}` missing", parameter.name),
                query: with(&base, parameter.name, None),
            });
        }
        let Some(node) = spec::document().pointer(&parameter.schema) else {
            continue;
        };
        let Ok(validator) = schema::compile(&parameter.schema) else {
            continue;
        };
        for (value, why) in candidates(node, current.map(|(_, v)| v.as_str())) {
            if validator.is_valid(&as_json(node, &value)) {
                continue;
            }
            out.push(QueryCase {
                what: format!("`{}` = {value:?} ({why})", parameter.name),
                query: with(&base, parameter.name, Some(value)),
            });
        }
    }
    out
}

/// The values that may break `schema`, each with what it tries.
fn candidates(schema: &Value, current: Option<&str>) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    if matches!(schema["type"].as_str(), Some("integer" | "number")) {
        if let Some(min) = schema["minimum"].as_i64() {
            out.push(((min - 1).to_string(), "below minimum"));
        }
        if let Some(max) = schema["maximum"].as_u64() {
            out.push((max.saturating_add(1).to_string(), "above maximum"));
        }
        out.push(("conform".to_owned(), "not an integer"));
        return out;
    }
    if schema["enum"].is_array() {
        out.push(("conform-not-in-enum".to_owned(), "not one of the enum"));
    }
    if schema["minLength"].as_u64().is_some_and(|n| n > 0) {
        out.push((String::new(), "empty"));
    }
    if schema["pattern"].is_string() {
        let list = format!("{},", current.unwrap_or("1"));
        out.push((list, "an empty element, against the pattern"));
    }
    out
}

/// A query value as the JSON its schema judges: the integer it spells when
/// the schema is numeric, else the string.
fn as_json(schema: &Value, value: &str) -> Value {
    let numeric = matches!(schema["type"].as_str(), Some("integer" | "number"));
    match value.parse::<i128>() {
        Ok(n) if numeric => serde_json::from_str(&n.to_string()).unwrap_or(json!(value)),
        _ => json!(value),
    }
}

/// `base` with parameter `name` set to `value` (added when absent) or,
/// for `None`, removed.
fn with(
    base: &[(&'static str, String)],
    name: &'static str,
    value: Option<String>,
) -> Vec<(&'static str, String)> {
    let mut query: Vec<(&'static str, String)> =
        base.iter().filter(|(n, _)| *n != name).cloned().collect();
    if let Some(value) = value {
        query.push((name, value));
    }
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whats(cases: &[QueryCase]) -> Vec<&str> {
        cases.iter().map(|c| c.what.as_str()).collect()
    }

    #[test]
    fn a_required_list_gets_missing_empty_and_an_empty_element() {
        let happy = [("roomIds", "1".to_owned())];
        let cases = breaks(Operation::GetAgentsAvailable, &happy, None);
        let rooms: Vec<&QueryCase> = cases
            .iter()
            .filter(|c| c.what.starts_with("`roomIds`"))
            .collect();
        assert_eq!(rooms[0].query, Vec::<(&str, String)>::new());
        assert!(
            rooms
                .iter()
                .any(|c| c.query == [("roomIds", String::new())])
        );
        assert!(
            rooms
                .iter()
                .any(|c| c.query == [("roomIds", "1,".to_owned())])
        );
        // `langs` is optional and absent: its break keeps the happy roomIds.
        let langs = cases
            .iter()
            .find(|c| c.what.starts_with("`langs`"))
            .unwrap();
        assert_eq!(
            langs.query,
            [("roomIds", "1".to_owned()), ("langs", String::new())]
        );
    }

    #[test]
    fn integers_break_their_range_and_type_and_enums_their_values() {
        let cases = breaks(Operation::ListChats, &[], None);
        let all = whats(&cases);
        for expected in [
            "`limit` = \"0\" (below minimum)",
            "`limit` = \"501\" (above maximum)",
            "`offset` = \"-1\" (below minimum)",
            "`offset` = \"4294967296\" (above maximum)",
            "`room` = \"conform\" (not an integer)",
            "`status` = \"conform-not-in-enum\" (not one of the enum)",
            "`creator` = \"\" (empty)",
        ] {
            assert!(all.contains(&expected), "{expected}: {all:?}");
        }
        assert!(cases.iter().all(|c| c.query.len() == 1), "{cases:?}");
    }

    #[test]
    fn credentials_and_parameters_the_body_carries_are_left_alone() {
        assert!(breaks(Operation::GetMedia, &[], None).is_empty());
        assert!(!breaks(Operation::CloseChat, &[], None).is_empty());
        let body = json!({"userId": "u-1"});
        assert!(breaks(Operation::CloseChat, &[], Some(&body)).is_empty());
    }
}
