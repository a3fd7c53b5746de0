//! Paths into JSON responses and the conditions `expect`, `until` and
//! `capture` apply to them.
//!
//! A path is a JSON pointer (`/chat/status`) or a dotted path (`chat.status`,
//! `agents.1`), normalised to a pointer when the scenario is validated.
//!
//! An operand may hold `{{ }}` templates (`{ne: "{{ user_id }}"}`): it is then
//! rendered from the session at each evaluation. Literal operands keep the
//! allocation-free path.

use serde_json::Value;

use super::template::{
    RenderContext, TemplateError, ValueTemplate, VarId, any_string_contains, push_value,
};

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
    /// The operand when it holds a template: rendered at each evaluation and
    /// used in place of the matcher's own operand (then only its operator
    /// counts). `None` for a literal operand.
    pub operand: Option<ValueTemplate>,
}

impl BodyCheck {
    /// A check with a literal operand.
    pub fn literal(pointer: String, path: String, matcher: Matcher) -> BodyCheck {
        BodyCheck {
            pointer,
            path,
            matcher,
            operand: None,
        }
    }

    /// Whether the condition holds on `body`; a templated operand is rendered
    /// from `cx` (a variable not set yet makes the check fail).
    pub fn holds(&self, body: &Value, cx: &mut dyn RenderContext) -> bool {
        let actual = pointer(body, &self.pointer);
        match &self.operand {
            None => self.matcher.holds(actual),
            Some(t) => t
                .render(cx)
                .is_ok_and(|operand| self.matcher.holds_rendered(&operand, actual)),
        }
    }

    /// Whether the condition holds on `body` with `operand` already rendered
    /// (for checks evaluated many times against one rendering). A literal
    /// check ignores `operand`.
    pub fn holds_with(&self, body: &Value, operand: Option<&Value>) -> bool {
        let actual = pointer(body, &self.pointer);
        match (&self.operand, operand) {
            (Some(_), Some(operand)) => self.matcher.holds_rendered(operand, actual),
            (Some(_), None) => false,
            (None, _) => self.matcher.holds(actual),
        }
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
    /// Parses `{gte: 1}`-style operators, or a bare value meaning equality,
    /// whose operand may hold `{{ }}` templates resolved with `resolve`.
    /// Returns the matcher and, for a templated operand, its template.
    /// With `rendered`, the operand's strings are text rendered before (from
    /// `${VAR}`) and are taken as a rendered template's: compared with a
    /// number by their text, read as a number by `gt`, `lte`, ….
    ///
    /// # Errors
    /// An unknown operator, a wrongly typed operand or a template error.
    pub fn parse_templated(
        spec: &Value,
        rendered: bool,
        resolve: &mut dyn FnMut(&str) -> Option<VarId>,
    ) -> Result<(Matcher, Option<ValueTemplate>), MatcherError> {
        let (op, arg) = match spec {
            Value::Object(map) if map.len() == 1 => {
                let (op, arg) = map.iter().next().expect("map has exactly one entry");
                (op.as_str(), arg)
            }
            Value::Object(_) => {
                return Matcher::parse(spec)
                    .map(|m| (m, None))
                    .map_err(MatcherError::Shape);
            }
            other => ("eq", other),
        };
        if op == "exists" || !(rendered || any_string_contains(arg, "{{")) {
            return Matcher::parse(spec)
                .map(|m| (m, None))
                .map_err(MatcherError::Shape);
        }
        let template =
            ValueTemplate::parse(arg, resolve).map_err(|(_, e)| MatcherError::Template(e))?;
        let string_only = |what: &str| match arg {
            Value::String(_) => Ok(()),
            _ => Err(MatcherError::Shape(format!("`{op}` expects {what}"))),
        };
        let matcher = match op {
            "eq" => Matcher::Eq(arg.clone()),
            "ne" => Matcher::Ne(arg.clone()),
            "gt" | "gte" | "lt" | "lte" => {
                string_only("a number")?;
                match op {
                    "gt" => Matcher::Gt(f64::NAN),
                    "gte" => Matcher::Gte(f64::NAN),
                    "lt" => Matcher::Lt(f64::NAN),
                    _ => Matcher::Lte(f64::NAN),
                }
            }
            "in" => Matcher::OneOf(
                arg.as_array()
                    .cloned()
                    .ok_or_else(|| MatcherError::Shape("`in` expects a list".to_owned()))?,
            ),
            "contains" => {
                string_only("a string")?;
                Matcher::Contains(arg.as_str().unwrap_or_default().to_owned())
            }
            _ => {
                return Matcher::parse(spec)
                    .map(|m| (m, None))
                    .map_err(MatcherError::Shape);
            }
        };
        Ok((matcher, Some(template)))
    }

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

impl Matcher {
    /// The condition with `operand` (a rendered template) in place of the
    /// matcher's own operand. A rendered string compares with a number or a
    /// boolean of the response by its text (`"3"` equals `3`), since feed
    /// columns and mixed templates always render text.
    pub fn holds_rendered(&self, operand: &Value, value: Option<&Value>) -> bool {
        let number = || match operand {
            Value::String(s) => s.trim().parse::<f64>().ok(),
            other => other.as_f64(),
        };
        let compare = |want: fn(f64, f64) -> bool| {
            number().is_some_and(|n| value.and_then(Value::as_f64).is_some_and(|x| want(x, n)))
        };
        match (self, value) {
            (Matcher::Exists(want), v) => v.is_some_and(|v| !v.is_null()) == *want,
            (Matcher::Ne(_), None) => true,
            (_, None) => false,
            (Matcher::Eq(_), Some(v)) => rendered_equal(operand, v),
            (Matcher::Ne(_), Some(v)) => !rendered_equal(operand, v),
            (Matcher::Gt(_), _) => compare(|x, n| x > n),
            (Matcher::Gte(_), _) => compare(|x, n| x >= n),
            (Matcher::Lt(_), _) => compare(|x, n| x < n),
            (Matcher::Lte(_), _) => compare(|x, n| x <= n),
            (Matcher::OneOf(_), Some(v)) => operand
                .as_array()
                .is_some_and(|list| list.iter().any(|w| rendered_equal(w, v))),
            (Matcher::Contains(_), Some(v)) => {
                let mut text = String::new();
                push_value(&mut text, operand);
                Matcher::Contains(text).holds(Some(v))
            }
        }
    }
}

/// Why an operand could not be parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum MatcherError {
    /// Unknown operator or wrongly typed operand.
    Shape(String),
    /// A template in the operand.
    Template(TemplateError),
}

impl std::fmt::Display for MatcherError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MatcherError::Shape(msg) => f.write_str(msg),
            MatcherError::Template(e) => write!(f, "{e}"),
        }
    }
}

/// Equality of a rendered operand: as [`loosely_equal`], and a string equals
/// a number or boolean whose text it is.
fn rendered_equal(operand: &Value, actual: &Value) -> bool {
    if loosely_equal(operand, actual) {
        return true;
    }
    match (operand, actual) {
        (Value::String(s), Value::Number(_) | Value::Bool(_))
        | (Value::Number(_) | Value::Bool(_), Value::String(s)) => {
            let other = if matches!(operand, Value::String(_)) {
                actual
            } else {
                operand
            };
            match (other, s.trim().parse::<f64>()) {
                (Value::Number(n), Ok(x)) => n.as_f64() == Some(x),
                (Value::Bool(b), _) => s.trim() == if *b { "true" } else { "false" },
                _ => false,
            }
        }
        _ => false,
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
            BodyCheck::literal(
                to_pointer(path).unwrap(),
                path.to_owned(),
                Matcher::parse(&spec).unwrap(),
            )
            .holds_with(&body, None)
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

    struct Cx(Vec<Option<Value>>, rand::rngs::SmallRng);

    impl RenderContext for Cx {
        fn var(&self, id: VarId) -> Option<&Value> {
            self.0.get(id.0 as usize).and_then(Option::as_ref)
        }
        fn vu(&self) -> u64 {
            4
        }
        fn iteration(&self) -> u64 {
            0
        }
        fn rng(&mut self) -> &mut rand::rngs::SmallRng {
            &mut self.1
        }
    }

    fn templated(path: &str, spec: Value) -> BodyCheck {
        let mut resolve = |n: &str| match n {
            "user_id" => Some(VarId(0)),
            "count" => Some(VarId(1)),
            "unset" => Some(VarId(2)),
            _ => None,
        };
        let (matcher, operand) = Matcher::parse_templated(&spec, false, &mut resolve).unwrap();
        BodyCheck {
            pointer: to_pointer(path).unwrap(),
            path: path.to_owned(),
            matcher,
            operand,
        }
    }

    #[test]
    fn templated_operands_compare_with_the_captured_value() {
        use rand::SeedableRng;
        let mut cx = Cx(
            vec![Some(json!("u-1")), Some(json!(3)), None],
            rand::rngs::SmallRng::seed_from_u64(0),
        );
        let body = json!({"user": {"id": "u-1", "n": 3, "s": "3", "tag": "vu-4"}, "list": ["u-1"]});
        let mut holds = |path: &str, spec: Value| templated(path, spec).holds(&body, &mut cx);
        assert!(holds("user.id", json!("{{ user_id }}")));
        assert!(holds("user.id", json!({"eq": "{{ user_id }}"})));
        assert!(!holds("user.id", json!({"ne": "{{ user_id }}"})));
        assert!(
            holds("user.n", json!({"eq": "{{ count }}"})),
            "a number stays a number"
        );
        assert!(
            holds("user.s", json!({"eq": "{{ count }}"})),
            "text and number by text"
        );
        assert!(holds("user.n", json!({"gte": "{{ count }}"})));
        assert!(!holds("user.n", json!({"gt": "{{ count }}"})));
        assert!(holds("user.tag", json!({"eq": "vu-{{ vu }}"})));
        assert!(holds("user.tag", json!({"contains": "{{ vu }}"})));
        assert!(holds("user.id", json!({"in": ["x", "{{ user_id }}"]})));
        assert!(holds("list", json!({"contains": "{{ user_id }}"})));
        assert!(
            !holds("user.id", json!({"eq": "{{ unset }}"})),
            "unset fails"
        );
        assert!(holds("user.missing", json!({"ne": "{{ user_id }}"})));
    }

    #[test]
    fn templated_operands_are_checked_when_parsed() {
        let mut none = |_: &str| None;
        let err = Matcher::parse_templated(&json!({"ne": "{{ user_id }}"}), false, &mut none);
        assert!(
            matches!(err, Err(MatcherError::Template(TemplateError::UnknownVariable(n))) if n == "user_id")
        );
        let mut one = |_: &str| Some(VarId(0));
        let err =
            Matcher::parse_templated(&json!({"gt": ["{{ x }}"]}), false, &mut one).unwrap_err();
        assert_eq!(err.to_string(), "`gt` expects a number");
        let (m, op) = Matcher::parse_templated(&json!({"gt": 2}), false, &mut one).unwrap();
        assert_eq!(
            (m, op),
            (Matcher::Gt(2.0), None),
            "literal operands stay literal"
        );
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
