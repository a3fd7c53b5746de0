//! JSON renderer: the report as pretty-printed JSON, the format of `reports/*.json`.

use super::{ReportError, RunReport};

/// Renders `report` as pretty-printed JSON (UTF-8, trailing newline).
///
/// # Errors
///
/// [`ReportError::Serialize`] if serialization fails (non-finite floats are written as `null`
/// by serde_json, so in practice this does not happen).
pub fn render(report: &RunReport) -> Result<Vec<u8>, ReportError> {
    let mut bytes =
        serde_json::to_vec_pretty(report).map_err(|cause| ReportError::Serialize { cause })?;
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::build::sample_report;
    use crate::report::{ReportError, SCHEMA_JSON};

    fn validator() -> jsonschema::Validator {
        let schema: serde_json::Value =
            serde_json::from_str(SCHEMA_JSON).expect("report.schema.json is JSON");
        jsonschema::draft202012::new(&schema).expect("report.schema.json is a valid schema")
    }

    fn schema_errors(
        validator: &jsonschema::Validator,
        instance: &serde_json::Value,
    ) -> Vec<String> {
        validator
            .iter_errors(instance)
            .map(|error| format!("{} at {}", error, error.instance_path()))
            .collect()
    }

    #[test]
    fn rendered_report_round_trips_and_validates_against_the_schema() {
        let mut report = sample_report();
        report.thresholds = vec![crate::report::ThresholdDef {
            threshold: "errors.rate < 1%".to_owned(),
            abort_on_fail: true,
            allow_empty: false,
            stopped_run: Some(crate::report::ThresholdStop {
                at_secs: 0.1,
                measured: 0.5,
            }),
        }];
        report.verdict = Some(crate::report::Verdict::default());
        report.schema = Some(crate::report::SchemaReport::default());
        report.cleanup = Some(crate::report::CleanupReport::default());
        report.agents = Some(crate::report::AgentSummary {
            actors: vec![crate::report::ActorSummary::default()],
            ..crate::report::AgentSummary::default()
        });
        let bytes = render(&report).expect("renders");
        assert!(bytes.ends_with(b"}\n"));

        let instance: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
        let errors = schema_errors(&validator(), &instance);
        assert!(errors.is_empty(), "schema violations: {errors:#?}");

        let parsed = RunReport::from_json(&bytes).expect("reads back");
        assert_eq!(parsed, report);
    }

    // See: audit 2026-12-07 (measure.md #4): a step never sent showed 0 ms
    // for every percentile, a dashboard's best possible value.
    #[test]
    fn an_entry_with_no_timed_sample_has_null_latency_and_old_all_zero_reports_still_read() {
        let mut report = sample_report();
        let step = &mut report.steps[0];
        step.untimed = step.count;
        step.latency = crate::report::Percentiles::default();
        step.corrected = crate::report::Percentiles::default();
        let bytes = render(&report).expect("renders");
        let mut instance: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        let errors = schema_errors(&validator(), &instance);
        assert!(errors.is_empty(), "schema violations: {errors:#?}");
        assert!(
            instance["steps"][0]["latency"].is_null(),
            "{}",
            instance["steps"][0]
        );
        assert!(instance["steps"][0]["corrected"].is_null());
        assert!(instance["steps"][1]["latency"]["p99_us"].as_u64().unwrap() > 0);
        assert_eq!(RunReport::from_json(&bytes).expect("reads back"), report);
        // Written before: an all-zero object.
        let zeros = serde_json::to_value(crate::report::Percentiles::default()).unwrap();
        instance["steps"][0]["latency"] = zeros.clone();
        instance["steps"][0]["corrected"] = zeros;
        let old = serde_json::to_vec(&instance).unwrap();
        assert_eq!(RunReport::from_json(&old).expect("reads"), report);
    }

    #[test]
    fn schema_rejects_a_report_with_a_missing_or_misspelled_field() {
        let report = sample_report();
        let mut instance = serde_json::to_value(&report).expect("serializes");
        let totals = instance["totals"]
            .as_object_mut()
            .expect("totals is an object");
        let requests = totals.remove("requests").expect("has requests");
        totals.insert("request".to_owned(), requests);
        assert!(!schema_errors(&validator(), &instance).is_empty());
    }

    #[test]
    fn from_json_explains_what_is_wrong() {
        let wrong_version = br#"{ "schema_version": 7 }"#;
        let error = RunReport::from_json(wrong_version).expect_err("version 7");
        assert!(
            matches!(
                error,
                ReportError::UnsupportedSchemaVersion {
                    found: 7,
                    supported: 2
                }
            ),
            "{error}"
        );

        let error = RunReport::from_json(b"{\n  \"meta\": {} }").expect_err("no version");
        let message = error.to_string();
        assert!(message.contains("schema_version"), "{message}");

        let mut truncated = render(&sample_report()).expect("renders");
        truncated.truncate(truncated.len() / 2);
        let message = RunReport::from_json(&truncated)
            .expect_err("truncated")
            .to_string();
        assert!(message.contains("line"), "{message}");
    }

    #[test]
    fn a_report_that_is_not_an_object_or_of_another_version_says_so_in_plain_words() {
        for (json, found) in [
            ("[]", "an array"),
            (" \"x\"", "a string"),
            ("", "an empty file"),
        ] {
            let message = RunReport::from_json(json.as_bytes())
                .expect_err("not a report")
                .to_string();
            assert_eq!(
                message,
                format!(
                    "not a chatload report: expected a JSON object (with a schema_version), \
                     found {found}"
                )
            );
        }
        let message = RunReport::from_json(br#"{"schema_version": 0}"#)
            .expect_err("version 0")
            .to_string();
        assert!(message.contains("reads versions 1 and 2"), "{message}");
    }

    #[test]
    fn a_corrupt_histogram_is_refused_on_reading_naming_its_entry() {
        let report = sample_report();
        let mut instance = serde_json::to_value(&report).expect("serializes");
        let last = report.steps.len() - 1;
        instance["steps"][last]["histogram"] = "!!!notbase64".into();
        let bytes = serde_json::to_vec(&instance).expect("serializes");
        let message = RunReport::from_json(&bytes)
            .expect_err("corrupt")
            .to_string();
        let name = &report.steps[last].name;
        assert!(
            message.starts_with(&format!(
                "steps[{last}] ({name}): histogram is not valid base64: "
            )),
            "{message}"
        );
        let mut instance = serde_json::to_value(&report).expect("serializes");
        instance["timeline"][0]["histogram"] = "aGVsbG8=".into();
        let bytes = serde_json::to_vec(&instance).expect("serializes");
        let message = RunReport::from_json(&bytes)
            .expect_err("corrupt")
            .to_string();
        assert!(message.starts_with("timeline[0] (second "), "{message}");
        assert!(message.contains("cannot decode histogram"), "{message}");
        let mut instance = serde_json::to_value(&report).expect("serializes");
        instance["iteration"]["corrected_histogram"] = "".into();
        let bytes = serde_json::to_vec(&instance).expect("serializes");
        let message = RunReport::from_json(&bytes)
            .expect_err("corrupt")
            .to_string();
        assert!(
            message.starts_with("iteration: corrected_histogram: "),
            "{message}"
        );
    }

    #[test]
    fn reports_without_optional_sections_still_parse() {
        let mut instance = serde_json::to_value(sample_report()).expect("serializes");
        let object = instance.as_object_mut().expect("object");
        for key in ["thresholds", "aborted_in_flight"] {
            object.remove(key);
        }
        object["meta"]
            .as_object_mut()
            .expect("meta is an object")
            .remove("merged_from");
        let bytes = serde_json::to_vec(&instance).expect("serializes");
        let report = RunReport::from_json(&bytes).expect("parses");
        assert!(report.thresholds.is_empty());
        assert!(report.meta.merged_from.is_empty());
    }
}
