//! Keeps secrets out of failure samples and `--verbose` logs.
//!
//! A value is masked when it sits at a path or key named like a credential (token, secret, key,
//! password, authorization, cookie, credential), or when it contains a known secret: the
//! configured secret, domain key and webhook secret, or the current value of a variable that holds
//! a token (a variable named like a credential, one captured from a credential-like path such as
//! `session.token`, or one a request sends as its token).
//! Besides, every text is passed through the output redactor ([`crate::redact`]) before it is
//! cut, so secrets only the redactor knows (secret-like `target.headers` values and their
//! credentials, tokens other virtual users captured) are masked whole, never cut in half.
//! Used on the failure path only, with one exception: [`Masker::captured`], called when a step
//! captures a variable, enters a token variable's new value into the redactor's token book
//! (once per token, not per request), so it is masked in every virtual user's output from then on.

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
    /// Variables whose values are tokens, sorted by index (for [`Masker::captured`]).
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

    /// A step captured `value` into `id`: a token variable's value is issued to the redactor's
    /// token book, so it is masked in every virtual user's output, not only after a failure in
    /// its own session. A binary search of the (few, sorted) token variables for any other.
    pub fn captured(&self, id: VarId, value: &Value) {
        if self.token_vars.binary_search_by_key(&id.0, |v| v.0).is_ok()
            && let Some(token) = value.as_str()
        {
            crate::redact::issue(token);
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
                    // on (src/redact.rs), wherever else it turns up (a value set otherwise
                    // than by a capture, a feed's, say).
                    .inspect(|token| crate::redact::issue(token))
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
    /// or `text` reveals a secret, otherwise with every secret the output redactor knows masked,
    /// then cut to [`MAX_TEXT_CHARS`].
    pub fn value(&self, session: Option<&Session>, name: Option<&str>, text: &str) -> String {
        if name.is_some_and(is_sensitive_name) || self.reveals(session, text) {
            MASKED.to_owned()
        } else {
            truncate(&crate::redact::redact_str(text))
        }
    }

    /// A response body excerpt for a log line: JSON values under credential-like keys or holding
    /// a secret become [`MASKED`]; a non-JSON body has every secret replaced; then every secret
    /// the output redactor knows is masked, and only then the text is cut to [`MAX_TEXT_CHARS`].
    pub fn body(&self, session: Option<&Session>, raw: &[u8]) -> String {
        if raw.is_empty() {
            return "(empty)".to_owned();
        }
        match serde_json::from_slice::<Value>(raw) {
            Ok(mut value) => {
                self.scrub(session, &mut value);
                truncate(&crate::redact::redact_str(&value.to_string()))
            }
            Err(_) => {
                let mut text = String::from_utf8_lossy(raw).into_owned();
                for secret in self.known(session) {
                    if !secret.is_empty() {
                        text = text.replace(secret, MASKED);
                    }
                }
                truncate(&crate::redact::redact_str(&text))
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

/// `text` (already masked) cut to [`MAX_TEXT_CHARS`] characters, with `…` when it was longer.
/// A cut that would fall inside a [`MASKED`] marker is moved before it, so no `MASK…` half-word
/// is left to read as something else.
pub fn truncate(text: &str) -> String {
    let Some((mut end, _)) = text.char_indices().nth(MAX_TEXT_CHARS) else {
        return text.to_owned();
    };
    if let Some(start) = text
        .match_indices(MASKED)
        .map(|(start, _)| start)
        .take_while(|&start| start < end)
        .find(|&start| start + MASKED.len() > end)
    {
        end = start;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn masker() -> Masker {
        Masker {
            secrets: vec!["s3cr3t-value".to_owned(), "dk".to_owned()],
            ..Masker::default()
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
    fn a_cut_never_splits_the_marker() {
        for pad in MAX_TEXT_CHARS - 8..=MAX_TEXT_CHARS + 1 {
            let text = format!("{}{MASKED} end", "x".repeat(pad));
            let cut = truncate(&text);
            let kept = cut.trim_end_matches('…').trim_start_matches('x');
            assert!(
                kept.is_empty() || kept == MASKED || kept.starts_with(&format!("{MASKED} ")),
                "pad {pad}: {cut}"
            );
            assert!(cut.chars().count() <= MAX_TEXT_CHARS + 1, "{cut}");
        }
    }

    #[test]
    fn a_secret_only_the_redactor_knows_is_masked_before_the_cut() {
        let credential = "unit-cut-bearer-4d1f";
        crate::redact::register_header(&format!("Bearer {credential}"));
        let m = masker();
        for pad in 0..MAX_TEXT_CHARS + 10 {
            let message = format!("{}Bearer {credential} end", "x".repeat(pad));
            let body = serde_json::json!({"error": {"message": message}}).to_string();
            let outputs = [
                m.value(None, None, &message),
                m.body(None, body.as_bytes()),
                m.body(None, message.as_bytes()),
            ];
            for out in outputs {
                // No part of the credential, not even its first characters, survives a cut.
                assert!(!out.contains(&credential[..4]), "pad {pad}: {out}");
                for half in 1..MASKED.len() {
                    assert!(!out.contains(&format!("{}…", &MASKED[..half])), "{out}");
                }
            }
        }
    }

    #[test]
    fn a_captured_token_is_masked_in_every_sessions_output() {
        let yaml =
            "name: t\nload: {vus: 2, iterations: 1}\nsteps:\n  - create_user:\n  - get_user:\n";
        let scenario =
            crate::scenario::load_str(yaml, "t.yaml", std::path::Path::new(".")).expect("valid");
        let id = |name: &str| {
            let index = scenario.vars.names.iter().position(|n| n == name);
            VarId(index.expect("known variable") as u32)
        };
        let m = Masker::new(Vec::new(), &scenario);
        let token = "unit-captured-token-77c2-zz";
        let text = format!("session conflict with {token}");
        assert!(m.value(None, None, &text).contains(token), "not known yet");
        // Another variable's value is not a secret.
        m.captured(
            id("user_id"),
            &Value::String("unit-user-id-5a5a".to_owned()),
        );
        m.captured(id("user_token"), &Value::String(token.to_owned()));
        // No session (another VU's failure): masked all the same.
        assert_eq!(m.value(None, None, &text), "session conflict with MASKED");
        let body = serde_json::json!({"error": {"message": text}}).to_string();
        assert!(!m.body(None, body.as_bytes()).contains(token));
        assert_eq!(
            crate::redact::redact_str("unit-user-id-5a5a"),
            "unit-user-id-5a5a"
        );
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
