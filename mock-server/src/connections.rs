//! `ConnectionsConfig`: the `connections:` section of the mock's
//! configuration (timeouts, connection limit, shutdown deadline).
//!
//! Pure data plus validation, below both its readers: `config` (the
//! section of [`crate::MockConfig`]) and `server` (the accept loop that
//! applies it), so that the configuration does not depend on the server.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The `connections:` section of the mock's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionsConfig {
    /// A request head (and the TLS handshake) must arrive within this (ms).
    pub header_read_timeout_ms: u64,
    /// A connection with no traffic and no request in progress for this
    /// long (ms) is closed.
    pub idle_timeout_ms: u64,
    /// Open connections at most; more are refused with `503`.
    pub max_connections: usize,
    /// After a shutdown signal, open connections get this long (ms) to
    /// finish; then they are dropped and the server stops.
    pub shutdown_grace_ms: u64,
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        ConnectionsConfig {
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            max_connections: 10_000,
            shutdown_grace_ms: 5_000,
        }
    }
}

impl ConnectionsConfig {
    /// Every value must be positive.
    ///
    /// # Errors
    /// The message names the key.
    pub fn validate(&self) -> Result<(), String> {
        for (key, value) in [
            ("header_read_timeout_ms", self.header_read_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
            ("max_connections", self.max_connections as u64),
            ("shutdown_grace_ms", self.shutdown_grace_ms),
        ] {
            if value == 0 {
                return Err(format!("connections.{key} must be at least 1"));
            }
            if key.ends_with("_ms") {
                crate::dist::check_ms(&format!("connections.{key}"), value)?;
            }
        }
        Ok(())
    }

    /// The header-read (and TLS handshake) timeout.
    pub(crate) fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }

    /// The shutdown deadline.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}
