//! The `webhooks` config section: handshake switch, delivery queue and
//! workers, timeouts, retries, and the seeded delivery faults (also the body
//! of `PUT /__mock/webhooks/faults`).
//!
//! Pure data plus validation, like the rest of `config`.

use crate::dist::{Dist, check_ms};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How the mock talks to webhook targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Perform the `X-Hook-Secret` handshake before a webhook becomes
    /// active (`POST /webhooks`, and `PUT` when the target changes).
    /// `false` registers any http(s) target without contacting it.
    pub handshake: bool,
    /// Deliveries waiting for a worker; when full, new deliveries are
    /// dropped and counted (`droppedQueueFull`), never waited for.
    pub queue_capacity: usize,
    /// Tasks that POST deliveries, all sharing one HTTP client.
    pub workers: usize,
    /// Limit of one delivery attempt and of the handshake.
    pub timeout_ms: u64,
    /// Attempts per delivery (1 = no retry). `chats:assign` is never retried.
    pub max_attempts: u32,
    /// Pause before retry n (1-based); the last value repeats.
    pub retry_backoff_ms: Vec<u64>,
    /// How long a `chats:assign` decision is waited for before the built-in
    /// algorithm decides (the reference's 5 s).
    pub assign_timeout_ms: u64,
    /// Seeded delivery faults, changeable at run time.
    pub faults: WebhookFaultsConfig,
    /// Hosts a webhook may be registered to (`POST`/`PUT /webhooks`); any
    /// other target answers 400 and is never contacted. An entry is a host
    /// name or IP address as written in the target URL (compared without
    /// case; names are not resolved), `loopback` (the default: `localhost`,
    /// `*.localhost`, `127.0.0.0/8`, `::1`) or `*` (any host).
    pub allowed_hosts: Vec<String>,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            handshake: true,
            queue_capacity: 10_000,
            workers: 4,
            timeout_ms: 5_000,
            max_attempts: 3,
            retry_backoff_ms: vec![200, 1_000],
            assign_timeout_ms: 5_000,
            faults: WebhookFaultsConfig::default(),
            allowed_hosts: vec![LOOPBACK.to_owned()],
        }
    }
}

/// The `allowed_hosts` entry for every loopback destination.
pub const LOOPBACK: &str = "loopback";

impl WebhooksConfig {
    /// Checks the values; the message names the key.
    ///
    /// # Errors
    ///
    /// The first invalid value.
    pub fn validate(&self) -> Result<(), String> {
        if self.queue_capacity == 0 {
            return Err("webhooks.queue_capacity must be >= 1".to_owned());
        }
        if self.workers == 0 || self.workers > 256 {
            return Err("webhooks.workers must be within 1..=256".to_owned());
        }
        if self.timeout_ms == 0 || self.assign_timeout_ms == 0 {
            return Err("webhooks.timeout_ms and assign_timeout_ms must be > 0".to_owned());
        }
        check_ms("webhooks.timeout_ms", self.timeout_ms)?;
        check_ms("webhooks.assign_timeout_ms", self.assign_timeout_ms)?;
        for ms in &self.retry_backoff_ms {
            check_ms("webhooks.retry_backoff_ms", *ms)?;
        }
        if self.max_attempts == 0 {
            return Err("webhooks.max_attempts must be >= 1".to_owned());
        }
        if self.allowed_hosts.iter().any(|h| h.trim().is_empty()) {
            return Err("webhooks.allowed_hosts: an entry is empty".to_owned());
        }
        self.faults
            .validate()
            .map_err(|e| format!("webhooks.faults.{e}"))
    }

    /// Whether `target` (an http(s) URL) points at an allowed host.
    pub fn allows(&self, target: &str) -> bool {
        let Ok(url) = reqwest::Url::parse(target) else {
            return false;
        };
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
        self.allowed_hosts.iter().any(|entry| match entry.as_str() {
            "*" => true,
            LOOPBACK => is_loopback(&host),
            other => other.trim_matches(['[', ']']).eq_ignore_ascii_case(&host),
        })
    }

    /// Limit of one attempt.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Pause before retry `n` (1-based).
    pub fn backoff(&self, n: u32) -> Duration {
        let index = (n as usize).saturating_sub(1);
        let ms = self
            .retry_backoff_ms
            .get(index)
            .or(self.retry_backoff_ms.last())
            .copied()
            .unwrap_or(0);
        Duration::from_millis(ms)
    }
}

/// `localhost`, `*.localhost` or a loopback IP address (a URL's host,
/// lower case, without brackets).
fn is_loopback(host: &str) -> bool {
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            let name = host.trim_end_matches('.');
            name == "localhost" || name.ends_with(".localhost")
        }
    }
}

/// Seeded faults applied to event deliveries (not to the handshake nor to
/// `chats:assign`). Each probability is drawn per delivery from the
/// webhook's own RNG, seeded from the mock's seed, so a run replays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookFaultsConfig {
    /// Probability (0..1) that a delivery is silently not sent.
    pub drop: f64,
    /// Probability that it is sent twice (same body and signature).
    pub duplicate: f64,
    /// Probability that it is sent late, by a sample of `delay_dist`.
    pub delay: f64,
    /// How late a delayed delivery is sent.
    pub delay_dist: Dist,
    /// Probability that it is held until the next delivery to the same
    /// webhook has been sent, then sent (so the two arrive swapped).
    pub reorder: f64,
    /// A held delivery with no follower is sent alone after this long.
    pub reorder_max_hold_ms: u64,
    /// Events (names from the spec) always sent with a `data` that breaks
    /// their schema: every string in it becomes the number 0, except the
    /// chat's id (`chatId`, `chat`), so the event still names its chat.
    pub break_schema: Vec<String>,
}

impl Default for WebhookFaultsConfig {
    fn default() -> Self {
        WebhookFaultsConfig {
            drop: 0.0,
            duplicate: 0.0,
            delay: 0.0,
            delay_dist: Dist::Uniform {
                min_ms: 100.0,
                max_ms: 1_000.0,
            },
            reorder: 0.0,
            reorder_max_hold_ms: 1_000,
            break_schema: Vec::new(),
        }
    }
}

impl WebhookFaultsConfig {
    /// Checks the values; the message starts with the key.
    ///
    /// # Errors
    ///
    /// A probability outside 0..1 or an invalid distribution.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("drop", self.drop),
            ("duplicate", self.duplicate),
            ("delay", self.delay),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} must be within 0..1"));
            }
        }
        check_ms("reorder_max_hold_ms", self.reorder_max_hold_ms)?;
        if let Some(unknown) = self
            .break_schema
            .iter()
            .find(|e| !chatload_api::events::ALL.contains(&e.as_str()))
        {
            return Err(format!(
                "break_schema: `{unknown}` is no event of the spec (expected one of {})",
                chatload_api::events::ALL.join(", ")
            ));
        }
        self.delay_dist
            .validate()
            .map_err(|e| format!("delay_dist: {e}"))
    }

    /// Whether any fault can happen (else no RNG draw at all).
    pub fn is_active(&self) -> bool {
        self.drop > 0.0
            || self.duplicate > 0.0
            || self.delay > 0.0
            || self.reorder > 0.0
            || !self.break_schema.is_empty()
    }

    /// Whether deliveries of `trigger` are sent with a broken schema.
    pub fn breaks(&self, trigger: &str) -> bool {
        self.break_schema.iter().any(|e| e == trigger)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_repeats_the_last_value() {
        let config = WebhooksConfig::default();
        assert_eq!(config.backoff(1), Duration::from_millis(200));
        assert_eq!(config.backoff(2), Duration::from_millis(1_000));
        assert_eq!(config.backoff(5), Duration::from_millis(1_000));
    }

    #[test]
    fn only_loopback_targets_are_allowed_by_default() {
        let config = WebhooksConfig::default();
        for ok in [
            "http://127.0.0.1:9/x",
            "http://127.8.0.1/",
            "https://localhost:8443/h",
            "http://app.localhost/",
            "http://[::1]:80/",
        ] {
            assert!(config.allows(ok), "{ok}");
        }
        for refused in [
            "http://10.0.0.1/",
            "http://example.com/",
            "http://localhost.example.com/",
            "http://169.254.169.254/latest",
            "not a url",
        ] {
            assert!(!config.allows(refused), "{refused}");
        }
        let listed = WebhooksConfig {
            allowed_hosts: vec!["Hooks.Example.com".to_owned(), "[fd00::1]".to_owned()],
            ..WebhooksConfig::default()
        };
        assert!(listed.allows("https://hooks.example.com/in"));
        assert!(listed.allows("http://[fd00::1]:8080/"));
        assert!(!listed.allows("http://127.0.0.1/"));
        let any = WebhooksConfig {
            allowed_hosts: vec!["*".to_owned()],
            ..WebhooksConfig::default()
        };
        assert!(any.allows("http://example.com/"));
    }

    #[test]
    fn probability_above_one_is_invalid() {
        let mut config = WebhooksConfig::default();
        config.faults.reorder = 1.5;
        let err = config.validate().expect_err("invalid");
        assert!(err.contains("webhooks.faults.reorder"), "{err}");
    }

    #[test]
    fn break_schema_names_only_events_of_the_spec() {
        let mut config = WebhooksConfig::default();
        config.faults.break_schema = vec!["chats:create".to_owned()];
        assert!(config.validate().is_ok() && config.faults.is_active());
        assert!(config.faults.breaks("chats:create") && !config.faults.breaks("chats:close"));
        config.faults.break_schema.push("chats:nope".to_owned());
        let err = config.validate().expect_err("invalid");
        assert!(
            err.contains("webhooks.faults.break_schema: `chats:nope`"),
            "{err}"
        );
    }
}
