//! Live progress.
