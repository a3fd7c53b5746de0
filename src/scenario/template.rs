//! `{{ expression }}` templates: parsed once when a scenario is validated,
//! rendered per request from a virtual user's session.
//!
//! Variables are resolved to slot indexes at validation time, so rendering is
//! a walk over pre-parsed segments with no lookups by name. Knows nothing of
//! HTTP; the engine supplies a [`RenderContext`].

use std::fmt::Write as _;

use rand::Rng;
use serde_json::Value;

/// Index of a variable in a session's slot table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VarId(pub u32);

/// A value computed at render time rather than read from the session.
#[derive(Clone, Debug, PartialEq)]
pub enum Builtin {
    /// The virtual user's number, from 1.
    Vu,
    /// The virtual user's iteration counter, from 0.
    Iteration,
    /// A random UUID v4.
    Uuid,
    /// Unix time in seconds.
    Timestamp,
    /// Unix time in milliseconds.
    TimestampMs,
    /// A random integer in `[low, high]`.
    RandomInt(i64, i64),
    /// A made-up full name.
    FakeName,
    /// A made-up first name.
    FakeFirstName,
    /// A made-up e-mail address, unique per render.
    FakeEmail,
    /// A made-up phone number.
    FakePhone,
}

/// One `{{ ... }}` expression after name resolution.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Var(VarId),
    Builtin(Builtin),
}

#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Literal(String),
    Expr(Expr),
}

/// A parsed string template.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    segments: Vec<Segment>,
}

/// Why a template could not be parsed; names what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed `{{{{` in template (expected `}}}}`)")]
    Unclosed,
    #[error("empty `{{{{ }}}}` in template (expected a variable name)")]
    Empty,
    #[error(
        "unknown variable `{0}`: no scenario variable, feed column or earlier capture has that name"
    )]
    UnknownVariable(String),
    #[error("invalid `{0}`: expected random_int(LOW, HIGH) with integers LOW <= HIGH")]
    BadRandomInt(String),
}

/// Everything a render may read besides the session slots.
pub trait RenderContext {
    /// The value of a variable slot, or `None` when nothing set it yet.
    fn var(&self, id: VarId) -> Option<&Value>;
    fn vu(&self) -> u64;
    fn iteration(&self) -> u64;
    fn rng(&mut self) -> &mut rand::rngs::SmallRng;
}

/// Why a render failed at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnsetVariable(pub VarId);

const FIRST_NAMES: &[&str] = &[
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances", "Niklaus",
    "Radia", "John", "Sophie", "Tim", "Hedy", "Linus",
];
const LAST_NAMES: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Hamilton",
    "Thompson",
    "Allen",
    "Wirth",
    "Perlman",
    "McCarthy",
    "Wilson",
    "Berners-Lee",
    "Lamarr",
    "Torvalds",
];

impl Template {
    /// Parses `text`, resolving each variable name with `resolve`.
    ///
    /// # Errors
    /// Unbalanced braces, empty expressions, unknown names, bad built-in arguments.
    pub fn parse(
        text: &str,
        resolve: &mut dyn FnMut(&str) -> Option<VarId>,
    ) -> Result<Template, TemplateError> {
        let mut segments = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                segments.push(Segment::Literal(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or(TemplateError::Unclosed)?;
            let expr = after[..end].trim();
            segments.push(Segment::Expr(parse_expr(expr, resolve)?));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Literal(rest.to_owned()));
        }
        Ok(Template { segments })
    }

    /// A template that always renders `text`.
    pub fn literal(text: &str) -> Template {
        Template {
            segments: vec![Segment::Literal(text.to_owned())],
        }
    }

    /// A template made of one variable.
    pub fn var(id: VarId) -> Template {
        Template {
            segments: vec![Segment::Expr(Expr::Var(id))],
        }
    }

    /// The variables this template reads.
    pub fn vars(&self) -> impl Iterator<Item = VarId> + '_ {
        self.segments.iter().filter_map(|s| match s {
            Segment::Expr(Expr::Var(id)) => Some(*id),
            _ => None,
        })
    }

    /// True when the template has no expression at all.
    pub fn is_literal(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Literal(_)))
    }

    /// When the whole template is one expression, its typed value (so `{{ room }}`
    /// stays a number in a JSON body).
    ///
    /// # Errors
    /// A variable that no step has set yet.
    pub fn render_value(&self, cx: &mut dyn RenderContext) -> Result<Value, UnsetVariable> {
        match self.segments.as_slice() {
            [Segment::Expr(expr)] => eval(expr, cx),
            _ => {
                let mut out = String::new();
                self.render_into(cx, &mut out)?;
                Ok(Value::String(out))
            }
        }
    }

    /// Renders into `out` (appending).
    ///
    /// # Errors
    /// A variable that no step has set yet.
    pub fn render_into(
        &self,
        cx: &mut dyn RenderContext,
        out: &mut String,
    ) -> Result<(), UnsetVariable> {
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Expr(expr) => push_value(out, &eval(expr, cx)?),
            }
        }
        Ok(())
    }

    /// Renders to a new string.
    ///
    /// # Errors
    /// A variable that no step has set yet.
    pub fn render(&self, cx: &mut dyn RenderContext) -> Result<String, UnsetVariable> {
        let mut out = String::new();
        self.render_into(cx, &mut out)?;
        Ok(out)
    }
}

fn parse_expr(
    expr: &str,
    resolve: &mut dyn FnMut(&str) -> Option<VarId>,
) -> Result<Expr, TemplateError> {
    if expr.is_empty() {
        return Err(TemplateError::Empty);
    }
    let builtin = match expr {
        "vu" => Some(Builtin::Vu),
        "iteration" => Some(Builtin::Iteration),
        "uuid" => Some(Builtin::Uuid),
        "timestamp" => Some(Builtin::Timestamp),
        "timestamp_ms" => Some(Builtin::TimestampMs),
        "fake.name" => Some(Builtin::FakeName),
        "fake.first_name" => Some(Builtin::FakeFirstName),
        "fake.email" => Some(Builtin::FakeEmail),
        "fake.phone" => Some(Builtin::FakePhone),
        _ => None,
    };
    if let Some(b) = builtin {
        return Ok(Expr::Builtin(b));
    }
    if let Some(args) = expr
        .strip_prefix("random_int(")
        .and_then(|a| a.strip_suffix(')'))
    {
        let bad = || TemplateError::BadRandomInt(expr.to_owned());
        let (low, high) = args.split_once(',').ok_or_else(bad)?;
        let low: i64 = low.trim().parse().map_err(|_| bad())?;
        let high: i64 = high.trim().parse().map_err(|_| bad())?;
        if low > high {
            return Err(bad());
        }
        return Ok(Expr::Builtin(Builtin::RandomInt(low, high)));
    }
    resolve(expr)
        .map(Expr::Var)
        .ok_or_else(|| TemplateError::UnknownVariable(expr.to_owned()))
}

fn eval(expr: &Expr, cx: &mut dyn RenderContext) -> Result<Value, UnsetVariable> {
    let value = match expr {
        Expr::Var(id) => return cx.var(*id).cloned().ok_or(UnsetVariable(*id)),
        Expr::Builtin(b) => match b {
            Builtin::Vu => Value::from(cx.vu()),
            Builtin::Iteration => Value::from(cx.iteration()),
            Builtin::Uuid => {
                let bytes: [u8; 16] = cx.rng().random();
                Value::String(
                    uuid::Builder::from_random_bytes(bytes)
                        .into_uuid()
                        .to_string(),
                )
            }
            Builtin::Timestamp => Value::from(unix_time().as_secs()),
            Builtin::TimestampMs => Value::from(unix_time().as_millis() as u64),
            Builtin::RandomInt(low, high) => Value::from(cx.rng().random_range(*low..=*high)),
            Builtin::FakeName => {
                let (first, last) = fake_names(cx.rng());
                Value::String(format!("{first} {last}"))
            }
            Builtin::FakeFirstName => Value::String(fake_names(cx.rng()).0.to_owned()),
            Builtin::FakeEmail => {
                let (first, last) = fake_names(cx.rng());
                let tag: u32 = cx.rng().random();
                Value::String(format!(
                    "{}.{}.{tag:08x}@example.com",
                    first.to_ascii_lowercase(),
                    last.to_ascii_lowercase()
                ))
            }
            Builtin::FakePhone => {
                let n: u32 = cx.rng().random_range(1_000_000..10_000_000);
                Value::String(format!("+1555{n}"))
            }
        },
    };
    Ok(value)
}

fn fake_names(rng: &mut rand::rngs::SmallRng) -> (&'static str, &'static str) {
    let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
    let last = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
    (first, last)
}

fn unix_time() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Appends a JSON value as text: strings bare, null as nothing.
pub fn push_value(out: &mut String, value: &Value) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Null => {}
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        other => out.push_str(&other.to_string()),
    }
}

/// Whether any string inside `value`, at any depth, contains `pattern`
/// (`{{` for a template, `${` for an environment variable).
pub(crate) fn any_string_contains(value: &Value, pattern: &str) -> bool {
    match value {
        Value::String(s) => s.contains(pattern),
        Value::Array(items) => items.iter().any(|v| any_string_contains(v, pattern)),
        Value::Object(map) => map.values().any(|v| any_string_contains(v, pattern)),
        _ => false,
    }
}

/// A JSON value whose strings are templates.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueTemplate {
    Literal(Value),
    Text(Template),
    Array(Vec<ValueTemplate>),
    Object(Vec<(String, ValueTemplate)>),
}

impl ValueTemplate {
    /// Parses every string inside `value` as a template.
    ///
    /// # Errors
    /// The first template error, with the JSON path where it occurred.
    pub fn parse(
        value: &Value,
        resolve: &mut dyn FnMut(&str) -> Option<VarId>,
    ) -> Result<ValueTemplate, (String, TemplateError)> {
        Ok(match value {
            Value::String(s) => {
                let t = Template::parse(s, resolve).map_err(|e| (String::new(), e))?;
                if t.is_literal() {
                    ValueTemplate::Literal(value.clone())
                } else {
                    ValueTemplate::Text(t)
                }
            }
            Value::Array(items) => ValueTemplate::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        ValueTemplate::parse(v, resolve).map_err(|(p, e)| (format!("[{i}]{p}"), e))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => ValueTemplate::Object(
                map.iter()
                    .map(|(k, v)| {
                        ValueTemplate::parse(v, resolve)
                            .map(|t| (k.clone(), t))
                            .map_err(|(p, e)| (format!(".{k}{p}"), e))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => ValueTemplate::Literal(other.clone()),
        })
    }

    /// The variables read anywhere inside.
    pub fn vars(&self) -> Vec<VarId> {
        let mut out = Vec::new();
        self.collect_vars(&mut out);
        out
    }

    fn collect_vars(&self, out: &mut Vec<VarId>) {
        match self {
            ValueTemplate::Literal(_) => {}
            ValueTemplate::Text(t) => out.extend(t.vars()),
            ValueTemplate::Array(items) => items.iter().for_each(|i| i.collect_vars(out)),
            ValueTemplate::Object(fields) => fields.iter().for_each(|(_, v)| v.collect_vars(out)),
        }
    }

    /// True when the value has no expression anywhere: it always renders the same.
    pub fn is_literal(&self) -> bool {
        match self {
            ValueTemplate::Literal(_) => true,
            ValueTemplate::Text(t) => t.is_literal(),
            ValueTemplate::Array(items) => items.iter().all(ValueTemplate::is_literal),
            ValueTemplate::Object(fields) => fields.iter().all(|(_, v)| v.is_literal()),
        }
    }

    /// Renders to a JSON value.
    ///
    /// # Errors
    /// A variable that no step has set yet.
    pub fn render(&self, cx: &mut dyn RenderContext) -> Result<Value, UnsetVariable> {
        Ok(match self {
            ValueTemplate::Literal(v) => v.clone(),
            ValueTemplate::Text(t) => t.render_value(cx)?,
            ValueTemplate::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| i.render(cx))
                    .collect::<Result<_, _>>()?,
            ),
            ValueTemplate::Object(fields) => {
                let mut map = serde_json::Map::with_capacity(fields.len());
                for (k, v) in fields {
                    map.insert(k.clone(), v.render(cx)?);
                }
                Value::Object(map)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    struct Cx {
        vars: Vec<Option<Value>>,
        rng: rand::rngs::SmallRng,
    }

    impl RenderContext for Cx {
        fn var(&self, id: VarId) -> Option<&Value> {
            self.vars.get(id.0 as usize).and_then(Option::as_ref)
        }
        fn vu(&self) -> u64 {
            7
        }
        fn iteration(&self) -> u64 {
            3
        }
        fn rng(&mut self) -> &mut rand::rngs::SmallRng {
            &mut self.rng
        }
    }

    fn resolver(name: &str) -> Option<VarId> {
        match name {
            "chat_id" => Some(VarId(0)),
            "room" => Some(VarId(1)),
            _ => None,
        }
    }

    fn cx() -> Cx {
        Cx {
            vars: vec![Some(Value::from("c-9")), Some(Value::from(2))],
            rng: rand::rngs::SmallRng::seed_from_u64(1),
        }
    }

    #[test]
    fn renders_literals_variables_and_builtins() {
        let t = Template::parse(
            "/chats/{{ chat_id }}/x{{vu}}-{{ iteration }}",
            &mut resolver,
        )
        .unwrap();
        assert_eq!(t.render(&mut cx()).unwrap(), "/chats/c-9/x7-3");
        let n = Template::parse("{{ random_int(5, 5) }}", &mut resolver).unwrap();
        assert_eq!(n.render_value(&mut cx()).unwrap(), Value::from(5));
        let email = Template::parse("{{ fake.email }}", &mut resolver)
            .unwrap()
            .render(&mut cx())
            .unwrap();
        assert!(
            email.ends_with("@example.com") && email.contains('.'),
            "{email}"
        );
        let id = Template::parse("{{ uuid }}", &mut resolver)
            .unwrap()
            .render(&mut cx())
            .unwrap();
        assert!(uuid::Uuid::parse_str(&id).is_ok());
    }

    #[test]
    fn parse_errors_say_what_was_expected() {
        assert_eq!(
            Template::parse("{{ chat_id", &mut resolver),
            Err(TemplateError::Unclosed)
        );
        assert_eq!(
            Template::parse("a {{ }}", &mut resolver),
            Err(TemplateError::Empty)
        );
        assert_eq!(
            Template::parse("{{ nope }}", &mut resolver),
            Err(TemplateError::UnknownVariable("nope".to_owned()))
        );
        assert!(matches!(
            Template::parse("{{ random_int(9, 1) }}", &mut resolver),
            Err(TemplateError::BadRandomInt(_))
        ));
    }

    #[test]
    fn a_lone_expression_keeps_its_json_type() {
        let body = serde_json::json!({"room": "{{ room }}", "label": "room {{ room }}", "n": 3});
        let t = ValueTemplate::parse(&body, &mut resolver).unwrap();
        assert_eq!(t.vars(), vec![VarId(1), VarId(1)]);
        let out = t.render(&mut cx()).unwrap();
        assert_eq!(
            out,
            serde_json::json!({"room": 2, "label": "room 2", "n": 3})
        );
    }

    #[test]
    fn unset_variable_is_reported_not_rendered_empty() {
        let t = Template::parse("{{ chat_id }}", &mut resolver).unwrap();
        let mut c = cx();
        c.vars[0] = None;
        assert_eq!(t.render(&mut c), Err(UnsetVariable(VarId(0))));
    }
}
