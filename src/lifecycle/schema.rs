//! Webhook events checked like responses: each received event's `data`
//! against the schema the spec's `webhooks:` section declares for its name
//! (`events.schema_violations`).
//!
//! The validators are compiled once, before the run, by `chatload-api`'s one
//! compiler (the one `crate::schema` uses for responses). [`EventSchemas`] is
//! an observer on the webhook router: for a valid event it costs a lookup by
//! name, one boolean schema check that allocates nothing and one relaxed
//! atomic add; only a violation takes a lock and formats its reason.
//! An event name the spec does not declare is a violation too.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chatload_api::{events, schema, spec};
use serde::Serialize;
use serde_json::Value;

use crate::schema::{RouteViolations, ViolationLog};
use crate::webhook::{EventObserver, WebhookEvent};

/// The key under which events of a name the spec does not declare are counted.
pub const UNDECLARED: &str = "(undeclared event)";

/// One problem with one event's `data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventViolation {
    /// JSON pointer into `data` (`/message/id`), empty for the whole object.
    pub path: String,
    /// What was wrong (instance values masked: no token reaches a report).
    pub reason: String,
}

/// What the checker saw, at the end of the run.
#[derive(Debug, Clone, Default)]
pub struct EventSchemaSummary {
    /// Events checked (every verified event).
    pub checked: u64,
    /// Violations per event name.
    pub violations: BTreeMap<String, RouteViolations<EventViolation>>,
}

/// The compiled `data` schemas of every webhook event, and what they found.
#[derive(Debug)]
pub struct EventSchemas {
    validators: Vec<(&'static str, jsonschema::Validator)>,
    checked: AtomicU64,
    log: ViolationLog<EventViolation>,
}

/// JSON pointer of the `data` schema of webhook `event`: the body schema's
/// `$ref` followed, then the `allOf` member that declares `data`.
fn data_schema_pointer(event: &str) -> Option<String> {
    let body = spec::webhook_body_schema(event)?;
    let document = spec::document();
    let target = document.pointer(&body)?["$ref"]
        .as_str()?
        .strip_prefix('#')?;
    let members = document.pointer(target)?["allOf"].as_array()?;
    let index = members
        .iter()
        .position(|m| m.pointer("/properties/data").is_some())?;
    Some(format!("{target}/allOf/{index}/properties/data"))
}

impl EventSchemas {
    /// Compiles the `data` schema of every event the spec declares.
    ///
    /// # Errors
    /// An event without a `data` schema, or a schema that does not compile.
    pub fn load() -> Result<Arc<EventSchemas>, String> {
        let mut validators = Vec::with_capacity(events::ALL.len());
        for &event in events::ALL {
            let pointer = data_schema_pointer(event)
                .ok_or_else(|| format!("the spec declares no `data` schema for {event}"))?;
            let validator = schema::compile(&pointer).map_err(|e| format!("{event}: {e}"))?;
            validators.push((event, validator));
        }
        Ok(Arc::new(EventSchemas {
            validators,
            checked: AtomicU64::new(0),
            log: ViolationLog::default(),
        }))
    }

    /// Checks one event's `data`; a violation is recorded under its name.
    pub fn check(&self, trigger: &str, data: &Value) {
        self.checked.fetch_add(1, Ordering::Relaxed);
        let Some((name, validator)) = self.validators.iter().find(|(n, _)| *n == trigger) else {
            let mut shown: String = trigger.chars().take(64).collect();
            if shown.len() < trigger.len() {
                shown.push('…');
            }
            let reason = format!("`{shown}` is no webhook event of the spec");
            let path = String::new();
            self.log.record(UNDECLARED, EventViolation { path, reason });
            return;
        };
        if validator.is_valid(data) {
            return;
        }
        if let Some(e) = validator.iter_errors(data).next() {
            let violation = EventViolation {
                path: e.instance_path().to_string(),
                reason: e.masked().to_string(),
            };
            self.log.record(name, violation);
        }
    }

    /// Everything checked and found.
    pub fn summary(&self) -> EventSchemaSummary {
        EventSchemaSummary {
            checked: self.checked.load(Ordering::Relaxed),
            violations: self.log.snapshot(),
        }
    }
}

impl EventObserver for EventSchemas {
    fn on_event(&self, event: &Arc<WebhookEvent>) {
        self.check(&event.trigger, &event.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_event_of_the_spec_has_a_data_schema() {
        let schemas = EventSchemas::load().expect("compiles");
        assert_eq!(schemas.validators.len(), events::ALL.len());
    }

    #[test]
    fn violations_are_counted_per_event_with_masked_samples() {
        let schemas = EventSchemas::load().expect("compiles");
        let good = json!({"chatId": "c-1", "creator": "u-1", "room": 1});
        let broken = json!({"chatId": "c-1", "creator": 0, "room": 1});
        schemas.check(events::CHATS_CREATE, &good);
        for _ in 0..3 {
            schemas.check(events::CHATS_CREATE, &broken);
        }
        schemas.check(events::CHATS_CLOSE, &json!({"chatId": "c-1"}));
        schemas.check("chats:nope", &good);
        let s = schemas.summary();
        assert_eq!(s.checked, 6);
        let create = &s.violations[events::CHATS_CREATE];
        assert_eq!(create.count, 3);
        assert_eq!(create.samples.len(), 1, "identical samples kept once");
        assert_eq!(create.samples[0].path, "/creator");
        assert_eq!(s.violations[events::CHATS_CLOSE].count, 1);
        assert!(
            s.violations[UNDECLARED].samples[0]
                .reason
                .contains("chats:nope")
        );
        assert_eq!(s.violations.len(), 3);
    }
}
