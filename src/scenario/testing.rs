//! Test support for scenario validation: a file's problems as `chatload validate` prints them,
//! and the table of cases in `problem_cases.yaml` that say what they must be.
//!
//! A pattern is the start of a problem, then `…`-separated parts the rest of it holds in that
//! order: `"s.yaml:4:…craete_user…create_user"` matches a problem at line 4 that names the
//! misspelt step type and then the right one.

use std::path::Path;

use serde::Deserialize;

use super::load_str;

/// The problems of the scenario file `yaml` (named `s.yaml`), as printed; empty when it is valid.
pub(crate) fn problems(yaml: &str) -> Vec<String> {
    match load_str(yaml, "s.yaml", Path::new(".")) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems().iter().map(ToString::to_string).collect(),
    }
}

/// Whether `problem` matches `pattern` (see the module comment).
fn matches(problem: &str, pattern: &str) -> bool {
    let mut parts = pattern.split('…');
    let Some(rest) = parts.next().and_then(|start| problem.strip_prefix(start)) else {
        return false;
    };
    parts
        .try_fold(rest, |rest, part| {
            rest.find(part).map(|at| &rest[at + part.len()..])
        })
        .is_some()
}

/// One entry of `problem_cases.yaml`: a scenario file and what its problems must be.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    case: String,
    scenario: String,
    #[serde(default)]
    exactly: Vec<String>,
    #[serde(default)]
    first: Vec<String>,
    #[serde(default)]
    has: Vec<String>,
    count: Option<usize>,
    #[serde(default)]
    never: Vec<String>,
}

impl Case {
    /// What does not hold of `problems`, one line each.
    fn misses(&self, problems: &[String]) -> Vec<String> {
        let mut misses = Vec::new();
        let ordered = if self.exactly.is_empty() {
            &self.first
        } else {
            &self.exactly
        };
        let count = self
            .count
            .or((!self.exactly.is_empty()).then_some(self.exactly.len()));
        if let Some(count) = count.filter(|&n| n != problems.len()) {
            misses.push(format!(
                "{count} problems expected, {} found",
                problems.len()
            ));
        }
        for (i, pattern) in ordered.iter().enumerate() {
            if !problems.get(i).is_some_and(|p| matches(p, pattern)) {
                misses.push(format!("problem {i} does not match `{pattern}`"));
            }
        }
        for pattern in &self.has {
            if !problems.iter().any(|p| matches(p, pattern)) {
                misses.push(format!("no problem matches `{pattern}`"));
            }
        }
        for text in &self.never {
            if problems.iter().any(|p| p.contains(text.as_str())) {
                misses.push(format!("a problem holds `{text}`"));
            }
        }
        misses
    }
}

#[test]
fn every_problem_case_holds() {
    let cases: Vec<Case> =
        serde_saphyr::from_str(include_str!("problem_cases.yaml")).expect("the cases parse");
    let failed: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let found = problems(&case.scenario);
            let misses = case.misses(&found);
            (!misses.is_empty()).then(|| {
                format!(
                    "{}:\n  {}\n  found: {found:#?}",
                    case.case,
                    misses.join("\n  ")
                )
            })
        })
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

#[test]
fn a_case_says_each_thing_that_does_not_hold() {
    let case = Case {
        case: "c".into(),
        scenario: String::new(),
        exactly: vec!["a…1".into(), "b".into()],
        first: Vec::new(),
        has: vec!["c".into()],
        count: None,
        never: vec!["2".into()],
    };
    let found = ["a 1 2".to_owned()];
    assert_eq!(
        case.misses(&found),
        [
            "2 problems expected, 1 found",
            "problem 1 does not match `b`",
            "no problem matches `c`",
            "a problem holds `2`"
        ]
    );
    assert!(case.misses(&["a 1".to_owned(), "b".to_owned()]).len() == 1);
}

#[test]
fn patterns_match_a_start_then_parts_in_order() {
    let p = "s.yaml:4:5: steps[0]: unknown field `craete_user`, expected `create_user`";
    assert!(matches(p, "s.yaml:4:"));
    assert!(matches(p, "s.yaml:4:…craete_user…create_user"));
    assert!(!matches(p, "s.yaml:4:…create_user…craete_user"));
    assert!(!matches(p, "steps[0]"));
    assert!(!matches(p, "s.yaml:4:…missing"));
}
