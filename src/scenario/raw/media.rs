//! The media forms of a scenario file as written: `multipart:` and the typed
//! `upload_media` / `download_media` steps.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_saphyr::Spanned;

use super::{Read, Scalar, scalar_or_map};

/// `multipart:` a form's parts in the order written: a string is a text
/// field, a mapping with `file` or `generate` a file.
#[derive(Debug, Default)]
pub struct RawMultipart(pub Vec<(String, Spanned<RawPart>)>);

/// One part of a form as written.
#[derive(Debug)]
pub enum RawPart {
    Text(String),
    File(RawFile),
}

/// A file part: read from `file` or `generate`d; `type` and `name` override
/// what the file name suggests.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub file: Option<String>,
    pub generate: Option<RawGenerate>,
    #[serde(rename = "type")]
    pub content_type: Option<String>,
    pub name: Option<String>,
}

/// `generate: {size: 10KiB, type: image/png}`: bytes made up at load time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGenerate {
    pub size: Value,
    #[serde(rename = "type")]
    pub content_type: Option<String>,
}

/// `upload_media:` (`POST /media`): a file into the VU's chat.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUploadMedia {
    pub chat: Option<String>,
    pub sender: Option<String>,
    pub file: Option<String>,
    pub generate: Option<RawGenerate>,
    #[serde(rename = "type")]
    pub content_type: Option<String>,
    pub name: Option<String>,
}

/// `download_media:` (`GET /media/{mediaId}`), optionally checking what comes back.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDownloadMedia {
    pub media: Option<String>,
    pub size: Option<Value>,
    #[serde(rename = "type")]
    pub content_type: Option<String>,
}

impl<'de> Deserialize<'de> for RawPart {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = |s: Scalar<'_>| {
            Read::Value(RawPart::Text(match s {
                Scalar::Str(v) => v.to_owned(),
                Scalar::Unsigned(v) => v.to_string(),
                Scalar::Signed(v) => v.to_string(),
                Scalar::Float(v) => v.to_string(),
                Scalar::Bool(v) => v.to_string(),
            }))
        };
        scalar_or_map(
            d,
            "a text value, or a file such as {file: cat.png} or {generate: {size: 10KiB, type: image/png}}",
            text,
            Some(RawPart::File as fn(RawFile) -> RawPart),
        )
    }
}

impl<'de> Deserialize<'de> for RawMultipart {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawMultipart;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of form field names to text values or files")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawMultipart, A::Error> {
                let mut parts = Vec::new();
                while let Some((name, part)) = map.next_entry::<String, Spanned<RawPart>>()? {
                    parts.push((name, part));
                }
                Ok(RawMultipart(parts))
            }
        }
        d.deserialize_map(V)
    }
}
