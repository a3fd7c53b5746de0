//! What the engine does when a step fails, besides counting it: keep a sample of why (while the
//! metrics hub still wants one for that step and kind) and, with `--verbose`, log the failing
//! exchange. Runs on the failure path only; a successful step never gets here.

use super::explain::Explainer;
use super::session::Session;
use super::verbose;
use super::virtual_user::{Exchange, Runner};
use crate::metrics::{FailureKind, FailureSample, StepId};
use crate::scenario::{RequestSpec, Step, WaitSpec};

impl Runner {
    pub(super) fn explainer<'a>(&'a self, session: &'a Session) -> Explainer<'a> {
        Explainer {
            scenario: &self.scenario,
            masker: &self.masker,
            session,
            timeout: self.scenario.target.timeout,
        }
    }

    /// Keeps a sample of why `step` failed with `kind` (built by `why` only while the hub still
    /// wants samples of it) and logs the failure with `--verbose`.
    pub(super) fn step_failed(
        &self,
        step: &Step,
        kind: FailureKind,
        session: &Session,
        exchange: Option<(&RequestSpec, &Exchange)>,
        why: impl Fn(&Explainer<'_>) -> FailureSample,
    ) {
        let explainer = self.explainer(session);
        self.hub
            .record_step_failure(StepId(step.id), kind, || why(&explainer));
        self.log_failure(step, kind, session, exchange, &why);
    }

    /// With `--verbose`: one log entry for a failure and its exchange, secrets masked.
    pub(super) fn log_failure(
        &self,
        step: &Step,
        kind: FailureKind,
        session: &Session,
        exchange: Option<(&RequestSpec, &Exchange)>,
        why: &dyn Fn(&Explainer<'_>) -> FailureSample,
    ) {
        let Some(log) = &self.failure_log else {
            return;
        };
        let sample = why(&self.explainer(session));
        let exchange = exchange.map(|(spec, ex)| verbose::ExchangeLog {
            method: spec.op.method(),
            path: if ex.path.is_empty() {
                verbose::peek_render(&spec.path, session)
            } else {
                ex.path.clone()
            },
            status: ex.status,
            headers: verbose::request_headers(spec, &self.scenario, &self.masker, session),
            body: self.masker.body(Some(session), &ex.raw),
        });
        log.write(&verbose::failure_text(
            &step.name,
            kind,
            &sample,
            exchange.as_ref(),
        ));
    }

    /// The request of a request step (or of a `wait_until`) failed with `kind`.
    pub(super) fn request_failed(
        &self,
        step: &Step,
        spec: &RequestSpec,
        kind: FailureKind,
        session: &Session,
        ex: &Exchange,
    ) {
        self.step_failed(step, kind, session, Some((spec, ex)), |x| {
            x.request(spec, &spec.expect, kind, self.response(spec, ex))
        });
    }

    /// A `wait_until` poll ended with `failure` (`None`: it passed its `expect` but `until` did
    /// not hold yet). At the deadline the step fails with it; before, a failing poll is only
    /// logged (it will be retried).
    pub(super) fn poll_failed(
        &self,
        step: &Step,
        wait: &WaitSpec,
        failure: Option<FailureKind>,
        at_deadline: bool,
        session: &Session,
        ex: &Exchange,
    ) {
        let spec = &wait.request;
        match failure {
            Some(kind) if at_deadline => self.request_failed(step, spec, kind, session, ex),
            Some(kind) => self.log_failure(step, kind, session, Some((spec, ex)), &|x| {
                x.request(spec, &spec.expect, kind, self.response(spec, ex))
            }),
            None if at_deadline => {
                self.step_failed(
                    step,
                    FailureKind::Expectation,
                    session,
                    Some((spec, ex)),
                    |x| x.wait_until(wait, self.response(spec, ex)),
                );
            }
            None => {}
        }
    }
}
