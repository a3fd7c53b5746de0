//! The store's memory caps per app (`closed_chat_cap`, `max_users`,
//! `max_media`, `max_stored_media_bytes` in [`MockConfig`]): their
//! validation and their command-line flags, shared by `chatload-mock` and
//! `chatload mock`. What is evicted, and in which order, is in
//! `store::evict`; a request for an evicted object answers 404 JSON.

use crate::config::MockConfig;

/// The cap flags of `chatload-mock` and `chatload mock` (flattened into
/// both); each overrides the configuration file's key of the same name.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CapArgs {
    /// Closed chats kept per app (with their messages and media).
    #[arg(long, value_name = "N")]
    pub closed_chat_cap: Option<usize>,
    /// End users kept per app; the oldest with no open chat go first.
    #[arg(long, value_name = "N")]
    pub max_users: Option<usize>,
    /// Stored media files kept per app; closed chats' files go first.
    #[arg(long, value_name = "N")]
    pub max_media: Option<usize>,
    /// Bytes of stored media kept per app (at least the per-file upload
    /// limit, the config key max_media_bytes; there is no flag for it).
    #[arg(long, value_name = "BYTES")]
    pub max_stored_media_bytes: Option<usize>,
}

impl CapArgs {
    /// Puts the flags into `config`; flags win. Validate afterwards.
    pub fn apply(&self, config: &mut MockConfig) {
        let set = |flag: Option<usize>, key: &mut usize| {
            if let Some(value) = flag {
                *key = value;
            }
        };
        set(self.closed_chat_cap, &mut config.closed_chat_cap);
        set(self.max_users, &mut config.max_users);
        set(self.max_media, &mut config.max_media);
        set(
            self.max_stored_media_bytes,
            &mut config.max_stored_media_bytes,
        );
    }
}

impl MockConfig {
    /// The caps are usable: at least one user and one file, and room for
    /// the largest accepted upload.
    ///
    /// # Errors
    /// A cap of 0, or `max_stored_media_bytes` below `max_media_bytes`.
    pub fn validate_caps(&self) -> Result<(), String> {
        if self.max_users == 0 {
            return Err("max_users must be at least 1".to_owned());
        }
        if self.max_media == 0 {
            return Err("max_media must be at least 1".to_owned());
        }
        if self.max_stored_media_bytes < self.max_media_bytes {
            return Err(format!(
                "max_stored_media_bytes ({}) must be at least max_media_bytes ({}), the largest upload",
                self.max_stored_media_bytes, self.max_media_bytes
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_absurd_caps_are_rejected() {
        let mut config = MockConfig::default();
        let flags = CapArgs {
            max_users: Some(5),
            max_media: Some(2),
            ..CapArgs::default()
        };
        flags.apply(&mut config);
        assert_eq!((config.max_users, config.max_media), (5, 2));
        assert_eq!(
            config.closed_chat_cap,
            MockConfig::default().closed_chat_cap
        );
        assert!(config.validate().is_ok());
        config.max_stored_media_bytes = config.max_media_bytes - 1;
        let err = config.validate().expect_err("smaller than one upload");
        assert!(err.contains("max_stored_media_bytes"), "{err}");
        let err = MockConfig::from_yaml_str("max_users: 0\n", "t.yaml").expect_err("zero");
        assert!(
            err.to_string().contains("max_users must be at least 1"),
            "{err}"
        );
    }
}
