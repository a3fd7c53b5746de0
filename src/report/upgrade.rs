//! Reading version-1 reports: their untyped `extra` map and `meta.load` value become the typed
//! sections of version 2, so `report`, `merge` and `compare` read both.
//!
//! Version 1 stored threshold *results* only; their expressions become the definitions (without
//! `allow_empty`, which did not exist, nor `abort_on_fail`, which was not recorded). The verdict
//! is left out: readers judge the report again with today's rule.

use serde_json::{Map, Value};

use super::sections::ThresholdDef;
use super::{ReportError, RunReport, SCHEMA_VERSION};

/// Parses a version-1 report and upgrades it to the current version.
///
/// # Errors
/// [`ReportError::Parse`] when the bytes are not a version-1 report.
pub fn from_v1(bytes: &[u8]) -> Result<RunReport, ReportError> {
    let mut value: Value =
        serde_json::from_slice(bytes).map_err(|cause| ReportError::Parse { cause })?;
    if let Some(object) = value.as_object_mut() {
        upgrade_object(object);
    }
    serde_json::from_value(value).map_err(|cause| ReportError::Parse { cause })
}

fn upgrade_object(object: &mut Map<String, Value>) {
    object.insert("schema_version".to_owned(), Value::from(SCHEMA_VERSION));
    // Version 1 counted failed requests in `errors_by_kind`.
    if !object.contains_key("request_errors_by_kind")
        && let Some(requests) = object.get("errors_by_kind").cloned()
    {
        object.insert("request_errors_by_kind".to_owned(), requests);
    }
    started_iterations(object);
    let mut extra = match object.remove("extra") {
        Some(Value::Object(extra)) => extra,
        _ => Map::new(),
    };
    for key in ["schema", "cleanup", "agents"] {
        if let Some(section) = extra.remove(key).filter(Value::is_object) {
            object.insert(key.to_owned(), section);
        }
    }
    if let Some(aborted) = extra.remove("aborted_in_flight").filter(Value::is_boolean) {
        object.insert("aborted_in_flight".to_owned(), aborted);
    }
    let definitions: Vec<ThresholdDef> = extra
        .remove("thresholds")
        .and_then(|t| t.as_array().cloned())
        .into_iter()
        .flatten()
        .filter_map(|r| {
            r.get("threshold")
                .and_then(Value::as_str)
                .map(|t| ThresholdDef {
                    threshold: t.to_owned(),
                    ..ThresholdDef::default()
                })
        })
        .collect();
    object.insert(
        "thresholds".to_owned(),
        serde_json::to_value(definitions).unwrap_or_default(),
    );
    // `meta.load` had the same keys as the typed profile; anything else is dropped.
    if let Some(load) = object
        .get_mut("meta")
        .and_then(|m| m.get_mut("load"))
        .filter(|l| !l.is_object())
    {
        *load = Value::Object(Map::new());
    }
}

/// Version 1 did not count the iterations started; a missing count would
/// read as 0 next to the iterations it ran. Every iteration it counted (finished,
/// or cut off where it recorded those) had started, so that sum is the count:
/// the same figure [`super::Totals::started`] gives for any report without it.
fn started_iterations(object: &mut Map<String, Value>) {
    let Some(totals) = object.get_mut("totals").and_then(Value::as_object_mut) else {
        return;
    };
    if totals.contains_key("iterations_started") {
        return;
    }
    let count = |key: &str| totals.get(key).and_then(Value::as_u64).unwrap_or(0);
    let started = count("iterations") + count("cut_off_iterations");
    totals.insert("iterations_started".to_owned(), Value::from(started));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sections::LoadModel;

    const V1: &str = include_str!("../../tests/fixtures/report-v1-agents.json");

    #[test]
    fn a_version_1_report_reads_as_version_2_with_typed_sections() {
        let report = RunReport::from_json(V1.as_bytes()).expect("v1 reads");
        assert_eq!(report.schema_version, SCHEMA_VERSION);
        assert_eq!(report.meta.load.model, LoadModel::Closed);
        assert_eq!(report.meta.load.vus, Some(2));
        assert_eq!(report.meta.load.graceful_stop_secs, 10.0);
        assert_eq!(report.meta.load.request_timeout_secs, None);
        let names: Vec<&str> = report
            .thresholds
            .iter()
            .map(|t| t.threshold.as_str())
            .collect();
        assert_eq!(names[0], "events.missing == 0");
        assert_eq!(names.len(), 5);
        assert!(report.thresholds.iter().all(|t| !t.allow_empty));
        let agents = report.agents.as_ref().expect("agents section");
        assert_eq!(agents.actors.len(), 4);
        assert_eq!(agents.totals.invitations, 8);
        assert_eq!(report.schema.as_ref().expect("schema").mode, "all");
        assert!(report.verdict.is_none());
        assert_eq!(report.request_errors_by_kind, report.errors_by_kind);
        // Not a false 0: every iteration it counted had started.
        assert_eq!(report.totals.iterations_started, report.totals.iterations);
        assert_eq!(report.totals.iterations_started, 8);
        // And it writes back as a valid version-2 report.
        let schema: Value = serde_json::from_str(crate::report::SCHEMA_JSON).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let instance = serde_json::to_value(&report).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }
}
