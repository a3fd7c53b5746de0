//! Run reports: the [`RunReport`] wire model, built from [`crate::metrics::RunMetrics`] by
//! [`build`], and its renderers ([`json`], [`terminal`]).
//!
//! Renderers do no I/O: they return bytes or a string and the caller (the app layer) decides
//! where they go. Reports are read back with [`RunReport::from_json`] by later features (merge,
//! compare, HTML), which is why every histogram travels exactly encoded
//! ([`encode_histogram`] / [`decode_histogram`]). The published JSON Schema of the report is
//! [`SCHEMA_JSON`] (`src/report/report.schema.json`).

mod build;
pub mod close_note;
mod codec;
pub mod compare;
pub mod connection;
pub mod csv_export;
pub mod failures;
pub mod format;
pub mod html;
pub mod json;
pub mod junit;
pub mod merge;
mod model;
mod rates;
pub mod sections;
pub mod terminal;
pub mod throttle;
mod upgrade;
pub mod webhook;

/// Failure samples go into the report as recorded.
pub use crate::metrics::FailureSample;
pub use build::{build, percentiles};
#[cfg(test)]
pub(crate) use build::{sample_meta as build_sample_meta, sample_report as build_sample_report};
pub use codec::{decode_histogram, encode_histogram};
pub use model::{
    FailureSamples, HttpProtocol, MergedRun, Percentiles, RunMeta, RunReport, SCHEMA_VERSION,
    StatsReport, StopCause, TimelineReport, Totals,
};
pub use sections::MAX_LEFT_OPEN_IDS;
pub use sections::{
    ActorSummary, AgentCounts, AgentSummary, CleanupReport, CleanupStopReason, DecidedBy,
    LoadModel, LoadProfile, RouteViolations, SchemaReport, ShardShare, StageReport, ThresholdDef,
    ThresholdResult, ThresholdStatus, ThresholdStop, Verdict, ViolationSample,
};

/// JSON Schema (draft 2020-12) of the report [`json::render`] writes.
pub const SCHEMA_JSON: &str = include_str!("report.schema.json");

/// Why a report could not be rendered, read or decoded. Each message
/// carries its cause's text itself (the causes are not error sources), so a
/// context chain printed with `{:#}` says it once.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// CSV encoding failed.
    #[error("cannot write CSV: {0}")]
    Csv(String),
    /// Reports that cannot be merged.
    #[error("{0}")]
    Merge(String),
    /// Serializing the JUnit XML failed.
    #[error("cannot write JUnit XML: {0}")]
    Junit(String),
    /// Serializing the report to JSON failed.
    #[error("cannot serialize the report to JSON: {cause}")]
    Serialize {
        /// The underlying serde error.
        cause: serde_json::Error,
    },
    /// The input is JSON, but not an object.
    #[error("not a chatload report: expected a JSON object (with a schema_version), found {found}")]
    NotAnObject {
        /// What the JSON is instead: `an array`, `a string`, ...
        found: &'static str,
    },
    /// The input is not a chatload JSON report.
    #[error("not a chatload JSON report: {cause}")]
    Parse {
        /// The underlying serde error (carries line and column).
        cause: serde_json::Error,
    },
    /// The report was written in a format version this build does not read.
    #[error(
        "report has schema_version {found}, this chatload reads versions 1 and {supported}; \
         use a chatload release that matches the report"
    )]
    UnsupportedSchemaVersion {
        /// Version found in the report.
        found: u32,
        /// Version this build reads and writes.
        supported: u32,
    },
    /// A histogram of a report read back does not decode; `at` names the
    /// entry (`steps[2] (get_user)`) and the field when it is not `histogram`.
    #[error("{at}: {cause}")]
    Histogram {
        /// The entry, and the field.
        at: String,
        /// Why it does not decode.
        cause: Box<ReportError>,
    },
    /// A histogram field is not valid base64.
    #[error("histogram is not valid base64: {cause}")]
    HistogramBase64 {
        /// The underlying base64 error.
        cause: base64::DecodeError,
    },
    /// A histogram field does not hold an HdrHistogram V2 histogram.
    #[error("cannot decode histogram (expected HdrHistogram V2, deflate-compressed): {cause}")]
    HistogramDecode {
        /// The underlying decoder error.
        cause: hdrhistogram::serialization::DeserializeError,
    },
}
