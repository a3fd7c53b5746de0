//! Paths into JSON responses and the conditions `expect`, `until` and
//! `capture` apply to them.
//!
//! A path is a JSON pointer (`/chat/status`) or a dotted path (`chat.status`,
//! `agents.1`), normalised to a pointer when the scenario is validated.

use serde_json::Value;

/// A condition on one value of the response body.
#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    Eq(Value),
    Ne(Value),
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
    Exists(bool),
    OneOf(Vec<Value>),
    Contains(String),
}

/// A condition bound to a path.
#[derive(Debug, Clone, PartialEq)]
pub struct BodyCheck {
    /// JSON pointer.
    pub pointer: String,
    /// The path as the user wrote it, for messages.
    pub path: String,
    pub matcher: Matcher,
}

impl BodyCheck {
    /// Whether the condition holds on `body`.
    pub fn holds(&self, body: &Value) -> bool {
        self.matcher.holds(pointer(body, &self.pointer))
    }
}

/// `value.pointer(path)`, without allocating: serde_json's own version
/// builds two `String`s per token (to unescape `~1` and `~0`), which on the
/// captures and checks of every response was a sizeable share of the
/// engine's time. A pointer with an escape goes to serde_json.
pub fn pointer<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    if path.contains('~') {
        return value.pointer(path);
    }
    if path.is_empty() {
        return Some(value);
    }
    let rest = path.strip_prefix('/')?;
    rest.split('/')
        .try_fold(value, |target, token| match target {
            Value::Object(map) => map.get(token),
            Value::Array(list) => {
                // As serde_json: no sign, no leading zero.
                if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
                    None
                } else {
                    token.parse::<usize>().ok().and_then(|i| list.get(i))
                }
            }
            _ => None,
        })
}

impl Matcher {
    /// Parses `{gte: 1}`-style operators, or a bare value meaning equality.
    ///
    /// # Errors
    /// An unknown operator or a wrongly typed operand, naming what was expected.
    pub fn parse(spec: &Value) -> Result<Matcher, String> {
        let Value::Object(map) = spec else {
            return Ok(Matcher::Eq(spec.clone()));
        };
        if map.len() != 1 {
            return Err(
                "expected one operator: eq, ne, gt, gte, lt, lte, exists, in or contains"
                    .to_owned(),
            );
        }
        let (op, arg) = map.iter().next().expect("map has exactly one entry");
        let number = || {
            arg.as_f64()
                .ok_or_else(|| format!("`{op}` expects a number"))
        };
        Ok(match op.as_str() {
            "eq" => Matcher::Eq(arg.clone()),
            "ne" => Matcher::Ne(arg.clone()),
            "gt" => Matcher::Gt(number()?),
            "gte" => Matcher::Gte(number()?),
            "lt" => Matcher::Lt(number()?),
            "lte" => Matcher::Lte(number()?),
            "exists" => Matcher::Exists(arg.as_bool().ok_or("`exists` expects true or false")?),
            "in" => Matcher::OneOf(arg.as_array().cloned().ok_or("`in` expects a list")?),
            "contains" => Matcher::Contains(
                arg.as_str()
                    .map(str::to_owned)
                    .ok_or("`contains` expects a string")?,
            ),
            other => {
                return Err(format!(
                    "unknown operator `{other}`: expected eq, ne, gt, gte, lt, lte, exists, in or contains"
                ));
            }
        })
    }

    /// Whether the condition holds on a value (`None` when the path is absent).
    pub fn holds(&self, value: Option<&Value>) -> bool {
        match (self, value) {
            (Matcher::Exists(want), v) => v.is_some_and(|v| !v.is_null()) == *want,
            (_, None) => matches!(self, Matcher::Ne(_)),
            (Matcher::Eq(want), Some(v)) => loosely_equal(want, v),
            (Matcher::Ne(want), Some(v)) => !loosely_equal(want, v),
            (Matcher::Gt(n), Some(v)) => v.as_f64().is_some_and(|x| x > *n),
            (Matcher::Gte(n), Some(v)) => v.as_f64().is_some_and(|x| x >= *n),
            (Matcher::Lt(n), Some(v)) => v.as_f64().is_some_and(|x| x < *n),
            (Matcher::Lte(n), Some(v)) => v.as_f64().is_some_and(|x| x <= *n),
            (Matcher::OneOf(list), Some(v)) => list.iter().any(|w| loosely_equal(w, v)),
            (Matcher::Contains(s), Some(v)) => match v {
                Value::String(text) => text.contains(s.as_str()),
                Value::Array(items) => items.iter().any(|i| i.as_str() == Some(s.as_str())),
                _ => false,
            },
        }
    }
}

/// Numbers compare by value (`1` equals `1.0`); everything else exactly.
fn loosely_equal(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Turns a user-written path into a JSON pointer.
///
/// # Errors
/// An empty path.
pub fn to_pointer(path: &str) -> Result<String, String> {
    let path = path.trim();
    if path.is_empty() {
        return Err(
            "empty path: expected a JSON pointer like /chat/id or a dotted path like chat.id"
                .to_owned(),
        );
    }
    if path.starts_with('/') {
        return Ok(path.to_owned());
    }
    let mut out = String::with_capacity(path.len() + 1);
    for part in path.split('.') {
        out.push('/');
        out.push_str(&part.replace('~', "~0").replace('/', "~1"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_resolve_as_serde_json_resolves_them() {
        let body = json!({"chat": {"id": "c-1", "users": ["u-1", "u-2"], "a/b": 1, "m~n": 2},
            "": {"": 3}, "list": [[0, 1], {"0": "zero"}]});
        for path in [
            "",
            "/",
            "//",
            "/chat",
            "/chat/id",
            "/chat/users",
            "/chat/users/1",
            "/chat/users/2",
            "/chat/users/01",
            "/chat/users/+1",
            "/chat/users/-1",
            "/chat/users/x",
            "/chat/id/x",
            "/chat/a~1b",
            "/chat/m~0n",
            "/chat/a/b",
            "chat",
            "/nope",
            "/list/0/1",
            "/list/1/0",
            "/list/01",
            "/chat/users/18446744073709551616",
        ] {
            assert_eq!(pointer(&body, path), body.pointer(path), "{path}");
        }
    }

    #[test]
    fn dotted_paths_become_pointers() {
        assert_eq!(to_pointer("chat.status").unwrap(), "/chat/status");
        assert_eq!(to_pointer("/agents/1").unwrap(), "/agents/1");
        assert_eq!(to_pointer("agents.1").unwrap(), "/agents/1");
        assert!(to_pointer(" ").is_err());
    }

    #[test]
    fn matchers_evaluate_against_bodies() {
        let body = json!({"chat": {"status": "active", "inQueue": false}, "agents": {"1": 3}});
        let check = |path: &str, spec: Value| {
            BodyCheck {
                pointer: to_pointer(path).unwrap(),
                path: path.to_owned(),
                matcher: Matcher::parse(&spec).unwrap(),
            }
            .holds(&body)
        };
        assert!(check("chat.status", json!("active")));
        assert!(!check("chat.status", json!("closed")));
        assert!(check("agents.1", json!({"gte": 1})));
        assert!(!check("agents.1", json!({"gt": 3})));
        assert!(check("agents.1", json!(3.0)));
        assert!(check("chat.agent", json!({"exists": false})));
        assert!(check("chat.status", json!({"in": ["waiting", "active"]})));
        assert!(check("chat.missing", json!({"ne": "x"})));
        assert!(!check("chat.missing", json!({"gte": 0})));
    }

    #[test]
    fn unknown_operators_name_the_valid_ones() {
        let err = Matcher::parse(&json!({"greater": 1})).unwrap_err();
        assert!(
            err.contains("unknown operator `greater`") && err.contains("gte"),
            "{err}"
        );
        assert!(Matcher::parse(&json!({"gt": "x"})).is_err());
    }
}
