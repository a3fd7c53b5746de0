//! The "why it failed" text shared by the terminal summary, the HTML report and JUnit: one heading
//! per step and failure kind, one line per failure sample.
//!
//! Plain text only: the HTML renderer escapes it, the terminal gets control characters from
//! response values shown as escapes (a response cannot move the cursor or recolour the screen).

use std::fmt::Write as _;

use super::{FailureSample, FailureSamples};

/// `create_chat (lifecycle) · status × 12`: the step, its flow (with `show_flow`: when the
/// scenario has several) and how often it failed this way.
pub fn heading(entry: &FailureSamples, show_flow: bool) -> String {
    let flow = entry
        .flow
        .as_deref()
        .filter(|_| show_flow)
        .map(|f| format!(" ({})", printable(f)))
        .unwrap_or_default();
    format!(
        "{}{flow} · {} × {}",
        printable(&entry.step),
        entry.kind,
        entry.count
    )
}

/// One failure on one line: route and status, the check, path, expected and actual, the API's
/// message, VU and iteration.
///
/// `POST /chats → 409: status in [201]; expected 201, actual 409; API: "User already has a chat"
/// (vu 3, iteration 0)`
pub fn describe(sample: &FailureSample) -> String {
    let mut out = String::new();
    if let Some(route) = &sample.route {
        out.push_str(route);
        // No status: nothing came back (the check says why: connect, timeout, not sent).
        if let Some(status) = sample.status {
            let _ = write!(out, " → {status}");
        }
        out.push_str(": ");
    }
    out.push_str(&sample.check);
    let mut detail = Vec::new();
    if let Some(path) = &sample.path {
        detail.push(format!("at {path}"));
    }
    match (&sample.expected, &sample.actual) {
        (Some(expected), Some(actual)) => {
            detail.push(format!("expected {expected}, actual {actual}"));
        }
        (Some(expected), None) => detail.push(format!("expected {expected}")),
        (None, Some(actual)) => detail.push(format!("actual {actual}")),
        (None, None) => {}
    }
    if !detail.is_empty() {
        let _ = write!(out, "; {}", detail.join(" "));
    }
    if let Some(message) = &sample.api_message {
        let _ = write!(out, "; API: \"{message}\"");
    }
    let _ = write!(out, " (vu {}, iteration {})", sample.vu, sample.iteration);
    printable(&out)
}

/// `… and 95 more` when not every failure was sampled.
pub fn more(entry: &FailureSamples) -> Option<String> {
    (entry.more > 0).then(|| format!("… and {} more", entry.more))
}

/// The whole block as plain lines (JUnit's failure text, tests): heading, indented samples.
pub fn block(entry: &FailureSamples) -> String {
    let mut out = heading(entry, true);
    for sample in &entry.samples {
        let _ = write!(out, "\n  {}", describe(sample));
    }
    if let Some(more) = more(entry) {
        let _ = write!(out, "\n  {more}");
    }
    out
}

/// `text` with control characters shown as escapes (`\u{1b}`), newlines and tabs included.
fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> FailureSamples {
        FailureSamples {
            step: "check_user".to_owned(),
            flow: Some("main".to_owned()),
            kind: "expectation".to_owned(),
            count: 7,
            more: 6,
            samples: vec![FailureSample {
                check: "body /user/id ne \"u-1\"".to_owned(),
                path: Some("/user/id".to_owned()),
                expected: Some("ne \"u-1\"".to_owned()),
                actual: Some("\"u-1\"\u{1b}[2J".to_owned()),
                status: Some(200),
                api_message: None,
                route: Some("GET /users/{userId}".to_owned()),
                iteration: 2,
                vu: 1,
            }],
        }
    }

    #[test]
    fn a_block_names_step_kind_check_path_expected_and_actual() {
        assert_eq!(
            block(&entry()),
            "check_user (main) · expectation × 7\n  GET /users/{userId} → 200: body /user/id ne \
             \"u-1\"; at /user/id expected ne \"u-1\", actual \"u-1\"\\u{1b}[2J (vu 1, \
             iteration 2)\n  … and 6 more"
        );
    }

    #[test]
    fn a_step_without_request_shows_no_route() {
        let sample = FailureSample {
            check: "wait_event chats:join not received in 10s".to_owned(),
            api_message: Some("x".to_owned()),
            ..FailureSample::default()
        };
        assert_eq!(
            describe(&sample),
            "wait_event chats:join not received in 10s; API: \"x\" (vu 0, iteration 0)"
        );
        let unsent = FailureSample {
            check: "not sent: variable `user_id` is not set".to_owned(),
            route: Some("POST /chats".to_owned()),
            vu: 2,
            ..FailureSample::default()
        };
        assert_eq!(
            describe(&unsent),
            "POST /chats: not sent: variable `user_id` is not set (vu 2, iteration 0)"
        );
    }
}
