//! Keeps secrets out of failure samples and `--verbose` logs.
//!
//! A value is masked when it sits at a path or key named like a credential (token, secret, key,
//! password, authorization, cookie, credential), or when it contains a known secret: the
//! configured secret, domain key and webhook secret, or the current value of a variable that holds
//! a token (a variable named like a credential, one captured from a credential-like path such as
//! `session.token`, or one a request sends as its token).
//! Used on the failure path only; nothing here runs for a successful request. The captured
//! tokens it meets are also registered with [`crate::redact`], the output boundary.

use serde_json::Value;

use super::session::Session;
use crate::scenario::template::VarId;
use crate::scenario::{Auth, Capture, Scenario, StepAction};

/// What replaces a masked value.
pub const MASKED: &str = crate::redact::MASK;

/// Longest text kept in a sample or log line, in characters; longer text is cut with `…`.
pub const MAX_TEXT_CHARS: usize = 200;

/// Secrets shorter than this are only masked when a whole value equals them: a 2-character
/// "secret" would otherwise mask every text that happens to contain those characters.
const MIN_SUBSTRING_SECRET: usize = 4;

pub use crate::redact::is_sensitive_name;

/// The run's secrets and the variables that hold tokens.
#[derive(Debug, Default)]
pub struct Masker {
    /// Configured credentials (non-empty).
    secrets: Vec<String>,
    /// Variables whose values are tokens.
    token_vars: Vec<VarId>,
}

impl Masker {
    /// A masker for `secrets` (credential values) and the token variables of `scenario`.
    pub fn new(secrets: Vec<String>, scenario: &Scenario) -> Self {
        let mut token_vars: Vec<VarId> = scenario
            .vars
            .names
            .iter()
            .enumerate()
            .filter(|(_, name)| is_sensitive_name(name))
            .map(|(index, _)| VarId(index as u32))
            .collect();
        let from_secret = |c: &&Capture| is_sensitive_name(&c.pointer);
        for step in scenario.flows.iter().flat_map(|f| &f.steps) {
            let spec = match &step.action {
                StepAction::Request(spec) => spec.as_ref(),
                StepAction::WaitUntil(wait) => &wait.request,
                StepAction::WaitEvent(wait) => {
                    token_vars.extend(wait.captures.iter().filter(from_secret).map(|c| c.var));
                    continue;
                }
                StepAction::Pause => continue,
            };
            if let Auth::Token(template) = &spec.auth {
                token_vars.extend(template.vars());
            }
            token_vars.extend(spec.captures.iter().filter(from_secret).map(|c| c.var));
        }
        token_vars.sort_unstable_by_key(|v| v.0);
        token_vars.dedup();
        Self {
            secrets: secrets.into_iter().filter(|s| !s.is_empty()).collect(),
            token_vars,
        }
    }

    /// Every secret value in play for `session`: configured ones and captured tokens.
    fn known<'a>(&'a self, session: Option<&'a Session>) -> impl Iterator<Item = &'a str> + 'a {
        let captured = session.into_iter().flat_map(|session| {
            self.token_vars.iter().filter_map(|id| {
                session
                    .vars
                    .get(id.0 as usize)
                    .and_then(Option::as_ref)
                    .and_then(Value::as_str)
                    // A token seen on the failure path is masked in every output from now
                    // on (src/redact.rs), wherever else it turns up.
                    .inspect(|token| crate::redact::register(token))
            })
        });
        self.secrets.iter().map(String::as_str).chain(captured)
    }

    /// True when `text` equals or contains a secret.
    pub fn reveals(&self, session: Option<&Session>, text: &str) -> bool {
        self.known(session).any(|secret| {
            !secret.is_empty()
                && (text == secret
                    || (secret.len() >= MIN_SUBSTRING_SECRET && text.contains(secret)))
        })
    }

    /// `text` for output: [`MASKED`] when `name` (a path, key or header) looks like a credential
    /// or `text` reveals a secret, otherwise cut to [`MAX_TEXT_CHARS`].
    pub fn value(&self, session: Option<&Session>, name: Option<&str>, text: &str) -> String {
        if name.is_some_and(is_sensitive_name) || self.reveals(session, text) {
            MASKED.to_owned()
        } else {
            truncate(text)
        }
    }

    /// A response body excerpt for a log line: JSON values under credential-like keys or holding
    /// a secret become [`MASKED`]; a non-JSON body has every secret replaced. Cut to
    /// [`MAX_TEXT_CHARS`].
    pub fn body(&self, session: Option<&Session>, raw: &[u8]) -> String {
        if raw.is_empty() {
            return "(empty)".to_owned();
        }
        match serde_json::from_slice::<Value>(raw) {
            Ok(mut value) => {
                self.scrub(session, &mut value);
                truncate(&value.to_string())
            }
            Err(_) => {
                let mut text = String::from_utf8_lossy(raw).into_owned();
                for secret in self.known(session) {
                    if !secret.is_empty() {
                        text = text.replace(secret, MASKED);
                    }
                }
                truncate(&text)
            }
        }
    }

    /// Masks, in place, values under credential-like keys and values that reveal a secret.
    pub fn scrub(&self, session: Option<&Session>, value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, item) in map.iter_mut() {
                    if is_sensitive_name(key) && !item.is_null() {
                        *item = Value::String(MASKED.to_owned());
                    } else {
                        self.scrub(session, item);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.scrub(session, i)),
            Value::String(text) if self.reveals(session, text) => *text = MASKED.to_owned(),
            _ => {}
        }
    }
}

/// `text` cut to [`MAX_TEXT_CHARS`] characters, with `…` when it was longer.
pub fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn masker() -> Masker {
        Masker {
            secrets: vec!["s3cr3t-value".to_owned(), "dk".to_owned()],
            token_vars: Vec::new(),
        }
    }

    #[test]
    fn names_like_credentials_are_sensitive() {
        for name in [
            "token",
            "/session/token",
            "x-hyper-secret",
            "domainKey",
            "Authorization",
            "user_password",
            "agent_token",
        ] {
            assert!(is_sensitive_name(name), "{name}");
        }
        for name in ["/user/id", "chat.status", "message", "x-request-id"] {
            assert!(!is_sensitive_name(name), "{name}");
        }
    }

    #[test]
    fn values_at_sensitive_paths_or_containing_a_secret_are_masked() {
        let m = masker();
        assert_eq!(m.value(None, Some("/session/token"), "abc"), MASKED);
        assert_eq!(m.value(None, Some("/user/id"), "s3cr3t-value"), MASKED);
        assert_eq!(
            m.value(None, Some("/user/name"), "echo: s3cr3t-value!"),
            MASKED
        );
        // A short secret masks an equal value only.
        assert_eq!(m.value(None, None, "dk"), MASKED);
        assert_eq!(m.value(None, None, "dkx"), "dkx");
        assert_eq!(m.value(None, Some("/user/id"), "u-1"), "u-1");
    }

    #[test]
    fn long_values_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_TEXT_CHARS + 10);
        let cut = masker().value(None, None, &long);
        assert_eq!(cut.chars().count(), MAX_TEXT_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate("short"), "short");
    }

    #[test]
    fn bodies_are_scrubbed_by_key_and_by_value() {
        let m = masker();
        let raw = json!({"session": {"token": "t-1", "user": "u"}, "echo": ["s3cr3t-value"],
            "error": {"message": "bad secret s3cr3t-value"}})
        .to_string();
        let out = m.body(None, raw.as_bytes());
        assert!(
            !out.contains("s3cr3t-value") && !out.contains("t-1"),
            "{out}"
        );
        assert!(out.contains("\"user\":\"u\""), "{out}");
        let text = m.body(None, b"plain s3cr3t-value text");
        assert_eq!(text, "plain MASKED text");
        assert_eq!(m.body(None, b""), "(empty)");
    }
}
