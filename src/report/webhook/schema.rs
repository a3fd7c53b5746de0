//! The `webhooks.schema_violations` part of the report: per event name, the
//! events whose `data` broke the spec's schema, with a few samples
//! (`crate::lifecycle::EventSchemas` checks them). Merged across shards by
//! adding counts and keeping the first distinct samples.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::lifecycle::EventSchemaSummary;
use crate::lifecycle::schema::EventViolation;
use crate::schema::RouteViolations;

/// Samples kept per event name (as for responses).
const SAMPLES: usize = 5;

/// One event name's schema violations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventViolations {
    /// Events of this name whose `data` broke its schema.
    pub count: u64,
    /// The first few, as examples.
    pub samples: Vec<EventViolationSample>,
}

/// One problem with one event's `data`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventViolationSample {
    /// JSON pointer into `data`, empty for the whole object.
    pub path: String,
    /// What was wrong (instance values masked).
    pub reason: String,
}

/// The report's map from the checker's summary.
pub fn build(summary: &EventSchemaSummary) -> BTreeMap<String, EventViolations> {
    summary
        .violations
        .iter()
        .map(|(name, v)| (name.clone(), EventViolations::from(v)))
        .collect()
}

impl From<&RouteViolations<EventViolation>> for EventViolations {
    fn from(v: &RouteViolations<EventViolation>) -> Self {
        EventViolations {
            count: v.count,
            samples: v
                .samples
                .iter()
                .map(|s| EventViolationSample {
                    path: s.path.clone(),
                    reason: s.reason.clone(),
                })
                .collect(),
        }
    }
}

/// Shards' maps merged: counts added, distinct samples kept up to the cap.
pub fn merge<'a>(
    parts: impl Iterator<Item = &'a BTreeMap<String, EventViolations>>,
) -> BTreeMap<String, EventViolations> {
    let mut out: BTreeMap<String, EventViolations> = BTreeMap::new();
    for (name, v) in parts.flatten() {
        let entry = out.entry(name.clone()).or_default();
        entry.count += v.count;
        for sample in &v.samples {
            if entry.samples.len() < SAMPLES && !entry.samples.contains(sample) {
                entry.samples.push(sample.clone());
            }
        }
    }
    out
}
