//! Run reports: the [`RunReport`] wire model, built from [`crate::metrics::RunMetrics`], and its
//! renderers.
