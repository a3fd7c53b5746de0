//! The scenario file exactly as written: a serde mirror of the YAML format
//! with no logic, no defaults and no conversions.
//!
//! Every struct denies unknown fields, because a typo in a load test silently
//! changes what is measured. Nodes that later checks must point at are wrapped
//! in [`Spanned`] so problems carry a line and column. `validate.rs` turns this
//! into the typed model.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::Value;
use serde_saphyr::Spanned;

mod media;
mod scalar;

pub use media::{RawDownloadMedia, RawFile, RawGenerate, RawMultipart, RawPart, RawUploadMedia};
pub use scalar::{Read, Scalar, scalar_or_map};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: String,
    pub description: Option<String>,
    pub seed: Option<u64>,
    pub target: Option<Spanned<RawTarget>>,
    #[serde(default)]
    pub variables: BTreeMap<String, Spanned<Value>>,
    #[serde(default)]
    pub feeds: BTreeMap<String, Spanned<RawFeed>>,
    pub load: Spanned<RawLoad>,
    pub flows: Option<Vec<Spanned<RawFlow>>>,
    /// Shorthand for a single flow.
    pub steps: Option<Vec<Spanned<RawStep>>>,
    pub cleanup: Option<bool>,
    /// Time limit of the end-of-run clean-up (default: `load.graceful_stop`).
    pub cleanup_timeout: Option<Spanned<DurationText>>,
    #[serde(default)]
    pub thresholds: Vec<Spanned<RawThresholdEntry>>,
    /// Agent actors (see `scenario/agents.rs`, checked in `validate/agents.rs`).
    pub agents: Option<Spanned<RawAgents>>,
    /// `webhooks:` (bare `webhooks:` means every default).
    #[serde(default, deserialize_with = "present")]
    pub webhooks: Option<Option<Spanned<RawWebhooks>>>,
    /// `rate_limit:` (see `scenario/rate_limit.rs`, checked in `validate/rate_limit.rs`).
    pub rate_limit: Option<Spanned<RawRateLimit>>,
}

/// The `agents:` section: a population of agent actors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgents {
    pub count: Option<Spanned<i64>>,
    pub ids: Option<Spanned<Vec<String>>>,
    pub rooms: Option<Spanned<Vec<Value>>>,
    pub capacity: Option<Spanned<i64>>,
    pub langs: Option<Spanned<Vec<String>>>,
    pub accept_delay: Option<Spanned<RawThink>>,
    pub reject_probability: Option<Spanned<f64>>,
    pub reply_think: Option<Spanned<RawThink>>,
    pub reply: Option<Spanned<String>>,
    pub leave_after: Option<Spanned<i64>>,
    pub breaks: Option<Spanned<RawBreaks>>,
    pub mock_agents: Option<Spanned<RawOnOff>>,
}

/// `breaks: {every: 60s, duration: 10s}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBreaks {
    pub every: DurationText,
    pub duration: DurationText,
}

/// `on`/`off` (also `true`/`false`): YAML 1.1 readers take a bare `off` for
/// a boolean and YAML 1.2 readers for a string, so both are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOnOff(pub bool);

impl<'de> Deserialize<'de> for RawOnOff {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let on_off = |s: Scalar<'_>| match s {
            Scalar::Bool(v) => Read::Value(RawOnOff(v)),
            Scalar::Str("on" | "true") => Read::Value(RawOnOff(true)),
            Scalar::Str("off" | "false") => Read::Value(RawOnOff(false)),
            Scalar::Str(other) => Read::Problem(format!("`{other}`: expected on or off")),
            _ => Read::WrongKind,
        };
        scalar_or_map::<_, _, ()>(d, "on or off", on_off, None)
    }
}

/// `"create_chat.p99 < 300ms"` or
/// `{threshold: "errors.rate < 1%", abort_on_fail: true, allow_empty: true}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThreshold {
    pub threshold: String,
    #[serde(default)]
    pub abort_on_fail: bool,
    /// Pass rather than fail when the metric has no data.
    #[serde(default)]
    pub allow_empty: bool,
}

/// Accepts both forms of [`RawThreshold`].
#[derive(Debug, Clone, PartialEq)]
pub struct RawThresholdEntry(pub RawThreshold);

impl<'de> Deserialize<'de> for RawThresholdEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = |s: Scalar<'_>| match s {
            Scalar::Str(v) => Read::Value(RawThresholdEntry(RawThreshold {
                threshold: v.to_owned(),
                abort_on_fail: false,
                allow_empty: false,
            })),
            _ => Read::WrongKind,
        };
        scalar_or_map(
            d,
            "a threshold such as \"create_chat.p99 < 300ms\" or {threshold: ..., abort_on_fail: true, allow_empty: true}",
            text,
            Some(RawThresholdEntry as fn(RawThreshold) -> RawThresholdEntry),
        )
    }
}

/// Where requests go and with which credentials.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub base_url: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
    pub version: Option<Spanned<String>>,
    pub app_id: Option<Spanned<String>>,
    pub secret: Option<Spanned<String>>,
    pub domain_key: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    pub timeout: Option<Spanned<DurationText>>,
    /// Body bytes one response may hold (`16MiB`, a number of bytes).
    pub max_body: Option<Spanned<Value>>,
    pub room: Option<Value>,
    pub lang: Option<String>,
    pub ca_cert: Option<Spanned<String>>,
    pub insecure: Option<bool>,
    /// `1.1`, `2` or `auto`, as a number or a string.
    pub http: Option<Spanned<Value>>,
    /// `keep_alive`, `new_per_iteration` or `http2`.
    pub connection: Option<Spanned<String>>,
    /// VUs per shared HTTP/2 connection (`connection: http2` only).
    pub vus_per_connection: Option<Spanned<u32>>,
}

/// A CSV data feed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeed {
    pub file: String,
    pub mode: Option<String>,
}

/// The workload.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoad {
    pub model: Option<String>,
    pub vus: Option<Spanned<RawNumber>>,
    pub duration: Option<Spanned<DurationText>>,
    pub iterations: Option<Spanned<RawNumber>>,
    pub stages: Option<Vec<Spanned<RawStage>>>,
    pub arrival_rate: Option<Spanned<RawNumber>>,
    pub max_vus: Option<Spanned<RawNumber>>,
    pub backlog: Option<Spanned<RawNumber>>,
    pub graceful_stop: Option<Spanned<DurationText>>,
}

/// One ramp stage: reach `target` (VUs or arrivals per second) over `duration`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    pub duration: DurationText,
    pub target: f64,
}

/// A weighted list of steps.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    pub name: Option<String>,
    pub weight: Option<Spanned<RawNumber>>,
    pub steps: Vec<Spanned<RawStep>>,
}

/// One step: exactly one step type key plus the common keys.
///
/// Step types are optional fields rather than an enum so that a misspelt type
/// is an "unknown field, expected one of …" error at its own line.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub get_settings: Option<Option<RawEmpty>>,
    #[serde(default, deserialize_with = "present")]
    pub check_agents: Option<Option<RawRoomQuery>>,
    #[serde(default, deserialize_with = "present")]
    pub agents_online: Option<Option<RawRoomQuery>>,
    #[serde(default, deserialize_with = "present")]
    pub create_user: Option<Option<RawCreateUser>>,
    #[serde(default, deserialize_with = "present")]
    pub get_user: Option<Option<RawUserRef>>,
    #[serde(default, deserialize_with = "present")]
    pub create_chat: Option<Option<RawCreateChat>>,
    #[serde(default, deserialize_with = "present")]
    pub get_chat: Option<Option<RawChatRef>>,
    #[serde(default, deserialize_with = "present")]
    pub assign: Option<Option<RawAssign>>,
    #[serde(default, deserialize_with = "present")]
    pub send_message: Option<Option<RawSendMessage>>,
    #[serde(default, deserialize_with = "present")]
    pub get_messages: Option<Option<RawChatRef>>,
    #[serde(default, deserialize_with = "present")]
    pub queue_position: Option<Option<RawChatRef>>,
    #[serde(default, deserialize_with = "present")]
    pub queue_status: Option<Option<RawEmpty>>,
    #[serde(default, deserialize_with = "present")]
    pub close_chat: Option<Option<RawCloseChat>>,
    #[serde(default, deserialize_with = "present")]
    pub mark_read: Option<Option<RawMarkRead>>,
    #[serde(default, deserialize_with = "present")]
    pub upload_media: Option<Option<RawUploadMedia>>,
    #[serde(default, deserialize_with = "present")]
    pub download_media: Option<Option<RawDownloadMedia>>,
    pub request: Option<RawRequest>,
    pub wait_until: Option<Box<RawWaitUntil>>,
    pub wait_event: Option<Box<RawWaitEvent>>,
    pub think: Option<Spanned<RawThink>>,
    pub repeat: Option<Spanned<RawNumber>>,
    pub on_error: Option<String>,
    pub expect: Option<RawExpect>,
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
}

/// A step type that takes no parameters (`get_settings:` or `get_settings: {}`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEmpty {}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoomQuery {
    pub room: Option<Value>,
    pub lang: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCreateUser {
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub contact: Option<String>,
    pub extra_info: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUserRef {
    pub user: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCreateChat {
    pub room: Option<Value>,
    pub creator: Option<String>,
    pub lang: Option<String>,
    pub source: Option<Value>,
    pub external_id: Option<String>,
    pub history: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChatRef {
    pub chat: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAssign {
    pub chat: Option<String>,
    pub algorithm: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSendMessage {
    pub chat: Option<String>,
    pub sender: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCloseChat {
    pub chat: Option<String>,
    /// The closing user; `null` closes as the system.
    #[serde(default, deserialize_with = "present")]
    pub user: Option<Option<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMarkRead {
    pub message: Option<String>,
    pub user: Option<String>,
}

/// The generic step that reaches any route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub query: BTreeMap<String, Value>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub body: Option<Value>,
    /// A `multipart/form-data` body (fields and files) instead of `body`.
    pub multipart: Option<RawMultipart>,
    pub auth: Option<String>,
}

/// Poll a step until a condition holds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWaitUntil {
    pub step: Spanned<RawStep>,
    pub until: RawExpect,
    pub timeout: Spanned<DurationText>,
    pub interval: Option<Spanned<DurationText>>,
}

/// Expected status and body fields.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    pub status: Option<RawStatus>,
    #[serde(default)]
    pub body: BTreeMap<String, Spanned<Value>>,
}

/// One status code or a list of acceptable ones.
#[derive(Debug, Clone)]
pub struct RawStatus(pub Vec<u16>);

impl<'de> Deserialize<'de> for RawStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawStatus;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an HTTP status code (e.g. 201) or a list of them")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawStatus, E> {
                status(v).map(|s| RawStatus(vec![s]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawStatus, E> {
                self.visit_u64(
                    u64::try_from(v).map_err(|_| E::custom("status codes are positive"))?,
                )
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawStatus, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<u64>()? {
                    out.push(status(v)?);
                }
                Ok(RawStatus(out))
            }
        }
        d.deserialize_any(V)
    }
}

fn status<E: de::Error>(v: u64) -> Result<u16, E> {
    match u16::try_from(v) {
        Ok(s @ 100..=599) => Ok(s),
        _ => Err(E::custom(format!(
            "{v} is not an HTTP status code (expected 100 to 599)"
        ))),
    }
}

/// A number as written (whole or not, any sign): range and wholeness are
/// checked by validation, which can then say what is allowed in plain words.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawNumber(pub f64);

impl<'de> Deserialize<'de> for RawNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let number = |s: Scalar<'_>| match s {
            Scalar::Unsigned(v) => Read::Value(RawNumber(v as f64)),
            Scalar::Signed(v) => Read::Value(RawNumber(v as f64)),
            Scalar::Float(v) => Read::Value(RawNumber(v)),
            Scalar::Str(v) => Read::Problem(format!("expected a number, found `{v}`")),
            Scalar::Bool(_) => Read::WrongKind,
        };
        scalar_or_map::<_, _, ()>(d, "a number", number, None)
    }
}

/// A duration as written: `"250ms"`, `"2s"`, `"1m30s"`, or a number of seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct DurationText(pub String);

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        scalar_or_map::<_, _, ()>(
            d,
            "a duration such as 250ms, 2s, 1m30s, or a number of seconds",
            DurationText::read,
            None,
        )
    }
}

impl DurationText {
    /// Text as written, a whole number as seconds, a fraction as milliseconds.
    fn read(s: Scalar<'_>) -> Read<DurationText> {
        match s {
            Scalar::Str(v) => Read::Value(DurationText(v.to_owned())),
            Scalar::Unsigned(v) => Read::Value(DurationText(format!("{v}s"))),
            Scalar::Signed(v) => Read::Value(DurationText(format!("{v}s"))),
            Scalar::Float(v) => Read::Value(DurationText(format!("{}ms", (v * 1000.0).round()))),
            Scalar::Bool(_) => Read::WrongKind,
        }
    }
}

/// Think time: a fixed duration, or a distribution.
#[derive(Debug, Clone, PartialEq)]
pub enum RawThink {
    Fixed(DurationText),
    Distribution(RawDistribution),
}

/// `{dist: uniform, min: 1s, max: 3s}` and friends.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDistribution {
    pub dist: String,
    pub min: Option<DurationText>,
    pub max: Option<DurationText>,
    pub mean: Option<DurationText>,
    pub stddev: Option<DurationText>,
    pub median: Option<DurationText>,
    pub sigma: Option<f64>,
}

impl<'de> Deserialize<'de> for RawThink {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A negative whole number is refused here, before it is a duration.
        let fixed = |s: Scalar<'_>| match s {
            Scalar::Signed(_) => Read::WrongKind,
            s => DurationText::read(s).map(RawThink::Fixed),
        };
        scalar_or_map(
            d,
            "a duration (e.g. 2s) or a distribution such as {dist: uniform, min: 1s, max: 3s}",
            fixed,
            Some(RawThink::Distribution as fn(RawDistribution) -> RawThink),
        )
    }
}

/// Distinguishes `key:` (present, null) from an absent key.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `webhooks:`: receive the API's webhooks during the run.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhooks {
    pub bind: Option<Spanned<String>>,
    pub public_url: Option<Spanned<String>>,
    pub register: Option<Spanned<bool>>,
    pub secret: Option<Spanned<String>>,
    pub verify: Option<bool>,
    pub events: Option<Vec<Spanned<String>>>,
    pub late_after: Option<Spanned<DurationText>>,
    pub settle: Option<Spanned<DurationText>>,
    pub queue_sampling: Option<bool>,
}

/// Wait for a webhook event about the VU's chat.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWaitEvent {
    pub event: Spanned<String>,
    pub timeout: Spanned<DurationText>,
    pub chat: Option<String>,
    #[serde(default, rename = "where")]
    pub filter: BTreeMap<String, Spanned<Value>>,
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
    pub on_timeout: Option<String>,
}

/// `rate_limit: {policy: respect, max_wait: 30s, max_retries: 3, ...}`;
/// `policy` left out is `fail`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    pub policy: Option<Spanned<String>>,
    pub max_retries: Option<Spanned<RawNumber>>,
    pub max_wait: Option<Spanned<DurationText>>,
    pub backoff: Option<Spanned<DurationText>>,
    pub max_backoff: Option<Spanned<DurationText>>,
}
