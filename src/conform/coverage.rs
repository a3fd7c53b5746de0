//! Route and status coverage, counted from the checks the suite recorded
//! (a check taken back as skipped counts for nothing).
//!
//! An operation is **exercised** when at least one of its happy-path checks
//! (kind `happy`: the call the tour makes as the operation is meant to be
//! used) got a response, whatever its status or verdict: probes and
//! negative cases alone do not make it exercised, nor does a request that
//! got no response (the connection closed, the time ran out). A status is
//! **observed** for an operation when any of its checks got it. Set-up
//! requests (polls, the happy body sent again) are judged but are no
//! checks, so they count for neither; method checks (`PATCH /id`) belong
//! to no operation.

use std::collections::{BTreeMap, BTreeSet};

use super::{CheckResult, Kind, StatusCoverage};
use crate::api::Operation;

/// Both coverages of one suite.
#[derive(Debug)]
pub(super) struct Coverage {
    /// Operations of the spec not exercised, in the spec's order.
    pub not_exercised: Vec<String>,
    /// Per operation of the spec, which of its declared statuses were observed.
    pub statuses: Vec<StatusCoverage>,
}

impl Coverage {
    /// The coverages of `checks`; `declared` gives an operation's declared statuses.
    pub fn of(checks: &[CheckResult], declared: impl Fn(Operation) -> Vec<u16>) -> Coverage {
        let mut exercised = BTreeSet::new();
        let mut observed: BTreeMap<Operation, BTreeSet<u16>> = BTreeMap::new();
        for check in checks {
            let (Some(status), Some(op)) = (check.status, Operation::from_id(&check.operation))
            else {
                continue;
            };
            observed.entry(op).or_default().insert(status);
            if check.kind == Kind::Happy {
                exercised.insert(op);
            }
        }
        let not_exercised = Operation::ALL
            .iter()
            .filter(|op| !exercised.contains(*op))
            .map(|op| op.id().to_owned())
            .collect();
        let statuses = Operation::ALL
            .iter()
            .map(|&op| {
                let declared = declared(op);
                let seen = observed.get(&op);
                let (observed, missing) = declared
                    .iter()
                    .partition(|s| seen.is_some_and(|seen| seen.contains(*s)));
                StatusCoverage {
                    operation: op.id().to_owned(),
                    declared,
                    observed,
                    missing,
                }
            })
            .collect();
        Coverage {
            not_exercised,
            statuses,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts acceptInvitation is not exercised; its observed statuses.
    fn unexercised_accept(not_exercised: &[String], statuses: &[StatusCoverage]) -> Vec<u16> {
        assert!(not_exercised.contains(&"acceptInvitation".to_owned()));
        let seen = statuses
            .iter()
            .find(|s| s.operation == "acceptInvitation")
            .expect("acceptInvitation's status coverage");
        seen.observed.clone()
    }

    fn check(op: Operation, kind: Kind, status: Option<u16>) -> CheckResult {
        CheckResult {
            name: "a check".to_owned(),
            operation: op.id().to_owned(),
            kind,
            expected: vec![op.success_status()],
            status,
            passed: status == Some(op.success_status()),
            message: String::new(),
        }
    }

    fn declared(op: Operation) -> Vec<u16> {
        chatload_api::spec::responses(op)
            .iter()
            .map(|d| d.status)
            .collect()
    }

    /// Audit 7, F8: an operation whose every request got no response
    /// (the connection closed each time) counted as exercised. Only a
    /// happy check with a response makes it exercised.
    #[test]
    fn an_operation_without_any_response_is_not_exercised() {
        let survey = Operation::GetSurvey;
        let checks: Vec<CheckResult> = Operation::ALL
            .iter()
            .filter(|&&op| op != survey)
            .map(|&op| check(op, Kind::Happy, Some(op.success_status())))
            .chain([
                check(survey, Kind::Auth, None),
                check(survey, Kind::Happy, None),
            ])
            .collect();
        let covered = Coverage::of(&checks, declared);
        assert_eq!(covered.not_exercised, ["getSurvey"]);
        let survey_status = covered
            .statuses
            .iter()
            .find(|s| s.operation == "getSurvey")
            .unwrap();
        assert!(survey_status.observed.is_empty());
    }

    /// Audit 7, F3: probes answered, the happy check taken back as skipped
    /// (not in the checks any more): the operation's success was never
    /// observed, so it is not exercised; the probes' 401 is observed.
    #[test]
    fn answered_probes_alone_do_not_make_an_operation_exercised() {
        let accept = Operation::AcceptInvitation;
        let checks = [
            check(accept, Kind::Auth, Some(401)),
            check(accept, Kind::InvalidBody, Some(400)),
        ];
        let covered = Coverage::of(&checks, declared);
        let observed = unexercised_accept(&covered.not_exercised, &covered.statuses);
        assert_eq!(observed, [400, 401]);
    }

    /// Audit 7, F3: a 409 to a happy check that met the spec is taken back
    /// as skipped and counts for no coverage; one that breaks the spec
    /// (not the 409 envelope) stays a failure, saying so.
    #[test]
    fn a_skipped_happy_check_counts_for_nothing_and_a_bad_409_is_no_skip() {
        use crate::conform::checker::test_checker;
        let accept = Operation::AcceptInvitation;
        let mut c = test_checker("http://127.0.0.1:9/v1".to_owned());
        c.record(
            "no credentials → 401",
            accept.id(),
            Kind::Auth,
            &[401],
            Some(401),
            String::new(),
        );
        let accepted_409 = |c: &mut crate::conform::Checker, message: String| {
            c.record(
                "accept invitation",
                accept.id(),
                Kind::Happy,
                &[200, 409],
                Some(409),
                message,
            );
            c.skip_last_if(409, "taken first");
        };
        accepted_409(&mut c, String::new());
        assert_eq!(c.skipped.len(), 1);
        let broken = "schema violation at /error: \"error\" is a required property".to_owned();
        accepted_409(&mut c, broken.clone());
        assert_eq!(c.skipped.len(), 1);
        let last = c.results.last().unwrap();
        assert!(!last.passed);
        assert_eq!(
            last.message,
            format!("the 409 answer breaks the spec: {broken}")
        );
        c.results.pop();
        let report = c.into_report(crate::conform::Cleaned::default());
        let observed = unexercised_accept(&report.not_exercised, &report.status_coverage);
        assert_eq!(observed, [401]);
    }
}
