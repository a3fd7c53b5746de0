//! One way to read every string a step holds: `${VAR}` expanded from the
//! environment (as in `target:`), then `{{ }}` parsed against the variables
//! set before that point of the flow. Used for request parts, typed step
//! parameters, `expect`/`until` operands and `wait_event` filters alike, so
//! they share one set of rules and messages.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;
use serde_saphyr::Location;

use super::Validator;
use crate::scenario::matcher::{BodyCheck, Matcher, MatcherError, to_pointer};
use crate::scenario::template::{
    Template, TemplateError, ValueTemplate, VarId, any_string_contains,
};
use crate::scenario::{Capture, VarTable};

/// Resolves a variable name to its slot, but only when `defined` holds it:
/// set before this point of the flow.
fn defined_vars<'a>(
    vars: &'a VarTable,
    defined: &'a HashSet<String>,
) -> impl FnMut(&str) -> Option<VarId> + 'a {
    move |name| defined.contains(name).then(|| vars.get(name)).flatten()
}

impl Validator<'_> {
    /// Expands `${VAR}` and parses `{{ }}` in `text`; `defined` holds the
    /// variables set at this point. Reports a problem and returns `None` on error.
    pub(in crate::scenario) fn step_template(
        &mut self,
        text: &str,
        at: &Location,
        path: &str,
        defined: &HashSet<String>,
    ) -> Option<Template> {
        let text = self.expand_env(text, at, path);
        let parsed = Template::parse(&text, &mut defined_vars(&self.vars, defined));
        parsed.map_err(|e| self.template_problem(at, path, &e)).ok()
    }

    /// As [`Self::step_template`], over every string inside a JSON value.
    pub(in crate::scenario) fn step_value_template(
        &mut self,
        value: &Value,
        at: &Location,
        path: &str,
        defined: &HashSet<String>,
    ) -> Option<ValueTemplate> {
        let value = self.expand_env_value(value, at, path);
        let parsed = ValueTemplate::parse(&value, &mut defined_vars(&self.vars, defined));
        parsed
            .map_err(|(inner, e)| self.template_problem(at, &format!("{path}{inner}"), &e))
            .ok()
    }

    /// A `capture:` map (variable → path into the response body or event), each name and path
    /// checked; `path` is where the map sits (`steps[2].capture`).
    pub(in crate::scenario) fn captures(
        &mut self,
        map: &BTreeMap<String, String>,
        at: &Location,
        path: &str,
    ) -> Vec<Capture> {
        map.iter()
            .filter_map(|(var, field)| {
                let here = format!("{path}.{var}");
                if !super::is_identifier(var) {
                    self.problem(at, &here, "capture names are letters, digits and `_`");
                    return None;
                }
                match to_pointer(field) {
                    Ok(pointer) => Some(Capture {
                        var: self.vars.intern(var, None),
                        pointer,
                        optional: false,
                    }),
                    Err(msg) => {
                        self.problem(at, &here, msg);
                        None
                    }
                }
            })
            .collect()
    }

    /// A body check (`expect.body`, `until.body`, `wait_event.where`) whose
    /// operand may hold templates and `${VAR}`.
    pub(in crate::scenario) fn body_check(
        &mut self,
        key: &str,
        spec: &Value,
        at: &Location,
        path: &str,
        defined: &HashSet<String>,
    ) -> Option<BodyCheck> {
        let place = format!("{path}.{key}");
        let pointer = match to_pointer(key) {
            Ok(p) => p,
            Err(msg) => {
                self.problem(at, path, msg);
                return None;
            }
        };
        // An operand from `${VAR}` is text rendered now: it follows the rule
        // of a `{{ }}` operand's rendered text (`"1"` equals 1).
        let rendered = any_string_contains(spec, "${");
        let expanded = self.expand_env_value(spec, at, &place);
        if rendered && let Some(msg) = not_a_number(spec, &expanded) {
            self.problem(at, &place, msg);
            return None;
        }
        let parsed =
            Matcher::parse_templated(&expanded, rendered, &mut defined_vars(&self.vars, defined));
        match parsed {
            Ok((matcher, operand)) => Some(BodyCheck {
                pointer,
                path: key.to_owned(),
                matcher,
                operand,
            }),
            Err(MatcherError::Shape(msg)) => {
                self.problem(at, &place, msg);
                None
            }
            Err(MatcherError::Template(e)) => {
                self.template_problem(at, &place, &e);
                None
            }
        }
    }

    /// Reports a template error; an unknown variable is remembered so the
    /// flow can say later whether a step captures it after this point.
    pub(in crate::scenario) fn template_problem(
        &mut self,
        at: &Location,
        path: &str,
        e: &TemplateError,
    ) {
        if let TemplateError::UnknownVariable(name) = e {
            self.unknown_vars.push((self.problems.len(), name.clone()));
        }
        self.problem(at, path, e.to_string());
    }

    /// Records that the step at `place` captures `name` (for messages about
    /// variables used before they are captured).
    pub(in crate::scenario) fn note_capture(&mut self, name: &str, place: &str) {
        let place = place.split(".wait_until").next().unwrap_or(place);
        if !self.captured_at.iter().any(|(n, _)| n == name) {
            self.captured_at.push((name.to_owned(), place.to_owned()));
        }
    }

    /// Rewrites "unknown variable" problems raised in this flow (from problem
    /// `since` on) whose variable a step of the flow captures: the variable
    /// exists, it is only used too early. Clears the flow's records.
    pub(in crate::scenario) fn explain_early_uses(&mut self, flow: &str) {
        for (index, name) in std::mem::take(&mut self.unknown_vars) {
            let Some((_, place)) = self.captured_at.iter().find(|(n, _)| *n == name) else {
                continue;
            };
            let problem = &mut self.problems[index];
            let same_step = problem.path.starts_with(&format!("{place}."));
            problem.message = if same_step {
                format!(
                    "`{name}` is used before it is captured: this step captures it, but a step's own captures are stored only after its request is sent and its `expect` checked; use it in a later step of flow `{flow}`"
                )
            } else {
                format!(
                    "`{name}` is used before it is captured: {place} captures it, later in flow `{flow}`; move the use after that step"
                )
            };
        }
        self.captured_at.clear();
    }

    /// `${VAR}` expanded in every string of `value`.
    fn expand_env_value(&mut self, value: &Value, at: &Location, path: &str) -> Value {
        if !any_string_contains(value, "${") {
            return value.clone();
        }
        match value {
            Value::String(s) => Value::String(self.expand_env(s, at, path)),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.expand_env_value(item, at, &format!("{path}[{i}]")))
                    .collect(),
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            self.expand_env_value(v, at, &format!("{path}.{k}")),
                        )
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// For `{gt: "${MAX}"}` (and `gte`, `lt`, `lte`) whose `${VAR}` gave text
/// that is no number: what the operator expects, and what it found.
fn not_a_number(written: &Value, expanded: &Value) -> Option<String> {
    let (Value::Object(w), Value::Object(e)) = (written, expanded) else {
        return None;
    };
    let (op, text) = e.iter().next().filter(|_| e.len() == 1)?;
    let text = text.as_str()?;
    let numeric = matches!(op.as_str(), "gt" | "gte" | "lt" | "lte");
    let templated = text.contains("{{");
    (numeric && !templated && text.trim().parse::<f64>().is_err()).then(|| {
        let from = w.get(op).and_then(Value::as_str).unwrap_or_default();
        format!("`{op}` expects a number, found `{text}` (from `{from}`)")
    })
}
