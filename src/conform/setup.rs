//! Set-up requests: what the tour sends to get somewhere rather than to
//! check something: the polls waiting for an accepted chat to become
//! active, the invitee it creates, the happy body sent again after the
//! boundary bodies, the requests that shrink a failing generated body.
//!
//! Each answer is judged against the spec like a check's (the body whole,
//! one `Content-Type` and no unasked `Content-Encoding`, the status the
//! request expects, a content type declared for it, its schema), but is no
//! check of its own: what is wrong with it fails the check it serves, with
//! a reason naming the request ([`Checker::blame`]). The polls serve one
//! check of their own, "the accepted chat becomes active" ([`wait_active`]),
//! so a poll that breaks the spec and a wait that runs out both fail it.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::checker::{Answer, Checker, Payload};
use super::{Call, Kind};
use crate::api::Operation;

/// How long the tour waits for an accepted chat to become active.
pub(super) const WAIT_ACTIVE: Duration = Duration::from_secs(5);
/// The pause between two polls.
const POLL_EVERY: Duration = Duration::from_millis(50);
/// The check the polls serve.
pub(super) const BECOMES_ACTIVE: &str = "the accepted chat becomes active";

/// A set-up request's outcome.
#[derive(Debug)]
pub(super) struct SetUp {
    /// The status it got (`None`: no response).
    pub status: Option<u16>,
    /// Its body, when the answer met the spec and the expected status.
    pub body: Option<Value>,
    /// What was wrong with it, naming the request.
    pub problem: Option<String>,
}

impl Checker {
    /// Sends set-up request `c` (its own body, credentials and expected
    /// statuses); `what` says what it is for, in the reason of a problem.
    pub(super) async fn set_up(&self, c: &Call<'_>, what: &str) -> SetUp {
        let payload = c.body.as_ref().map_or(Payload::None, Payload::Json);
        let answer = self.exchange(self.build_call(c, c.creds, payload)).await;
        let problem = self.set_up_problem(c, what, &c.expect, &answer);
        let status = answer.as_ref().ok().map(|a| a.status);
        let body = match answer {
            Ok(a) if problem.is_none() => Some(a.body.unwrap_or(Value::Null)),
            _ => None,
        };
        SetUp {
            status,
            body,
            problem,
        }
    }

    /// What is wrong with `answer` to set-up request `c`, expected to be
    /// one of `expect`: `what (METHOD /path, operationId): why`.
    pub(super) fn set_up_problem(
        &self,
        c: &Call<'_>,
        what: &str,
        expect: &[u16],
        answer: &Result<Answer, String>,
    ) -> Option<String> {
        let why = match answer {
            Err(why) => format!("got no response: {why}"),
            Ok(a) => self.problem(c.op, expect, a)?,
        };
        let path = c.op.path_with(&c.param_refs());
        Some(format!(
            "{what} ({} {path}, {}): {why}",
            c.op.method().as_str(),
            c.op.id()
        ))
    }
}

/// Polls the chat until an agent has taken it (at most [`WAIT_ACTIVE`]),
/// recorded as one check of `getChat`, [`BECOMES_ACTIVE`]: it fails on the
/// first poll that breaks the spec, or when the time runs out, saying how
/// many polls were sent and what the last one said.
pub(super) async fn wait_active(c: &mut Checker, chat: &str) {
    let deadline = Instant::now() + WAIT_ACTIVE;
    let poll = Call::new(BECOMES_ACTIVE, Operation::GetChat, &[chat]);
    let mut polls = 0;
    let (status, message) = loop {
        polls += 1;
        let what = format!("poll {polls} waiting for the chat to become active");
        let answer = c.set_up(&poll, &what).await;
        if let Some(why) = answer.problem {
            break (answer.status, why);
        }
        let state = answer
            .body
            .as_ref()
            .and_then(|b| b.pointer("/chat/status"))
            .and_then(Value::as_str)
            .unwrap_or("(none)")
            .to_owned();
        if state == "active" {
            break (answer.status, String::new());
        }
        if Instant::now() >= deadline {
            let secs = WAIT_ACTIVE.as_secs();
            let why = format!(
                "the chat was not active {secs} s after the invitation was accepted: {polls} \
                 polls of GET /chats/{chat}, the last said status `{state}`"
            );
            break (answer.status, why);
        }
        tokio::time::sleep(POLL_EVERY).await;
    };
    let op = Operation::GetChat;
    let expect = [op.success_status()];
    c.record(
        BECOMES_ACTIVE,
        op.id(),
        Kind::Happy,
        &expect,
        status,
        message,
    );
}
