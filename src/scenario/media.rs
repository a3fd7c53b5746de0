//! Media in scenarios: the `multipart:` form of a `request` step, the typed
//! `upload_media` and `download_media` steps, and the checks of a download.
//!
//! A form becomes a [`MultipartSpec`] at validation: files are read (paths
//! relative to the scenario file) or generated once, and everything that does
//! not depend on the session is laid out as shared bytes, so a request copies
//! each file at most once into its body and a form without templates is not
//! copied at all. Nothing here does HTTP; the engine renders and sends.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_saphyr::{Location, Spanned};

use super::raw::{Read, Scalar, scalar_or_map};
use super::template::{RenderContext, Template, UnsetVariable, VarId};
use super::validate::Validator;

/// Largest file a form may carry (read or generated): 100 MiB.
pub const MAX_FILE_BYTES: u64 = 100 * 1024 * 1024;

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

/// A `multipart/form-data` body: fixed bytes (part headers, files) and text
/// fields rendered per request, in order.
#[derive(Debug)]
pub struct MultipartSpec {
    /// `multipart/form-data; boundary=…`, the body's `Content-Type`.
    pub content_type: Bytes,
    pieces: Vec<Piece>,
    /// Bytes of the fixed pieces together (the body's size before fields).
    fixed_len: usize,
}

#[derive(Debug)]
enum Piece {
    Fixed(Bytes),
    Field(Template),
}

impl MultipartSpec {
    /// Whether the body is the same on every request (no template in it).
    pub fn is_literal(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Fixed(_)))
    }

    /// The variables its text fields read.
    pub fn vars(&self) -> impl Iterator<Item = VarId> + '_ {
        self.pieces.iter().flat_map(|p| match p {
            Piece::Field(t) => t.vars().collect(),
            Piece::Fixed(_) => Vec::new(),
        })
    }

    /// The body for one request: the shared bytes themselves when nothing is
    /// templated, else one buffer of the exact size (files copied once).
    ///
    /// # Errors
    /// A field reads a variable no step has set yet.
    pub fn render(&self, cx: &mut dyn RenderContext) -> Result<Bytes, UnsetVariable> {
        if let [Piece::Fixed(all)] = self.pieces.as_slice() {
            return Ok(all.clone());
        }
        let mut fields = String::new();
        let mut ends = Vec::with_capacity(self.pieces.len());
        for piece in &self.pieces {
            if let Piece::Field(t) = piece {
                t.render_into(cx, &mut fields)?;
                ends.push(fields.len());
            }
        }
        let mut body = Vec::with_capacity(self.fixed_len + fields.len());
        let (mut start, mut ends) = (0, ends.into_iter());
        for piece in &self.pieces {
            match piece {
                Piece::Fixed(bytes) => body.extend_from_slice(bytes),
                Piece::Field(_) => {
                    let end = ends.next().unwrap_or(start);
                    body.extend_from_slice(&fields.as_bytes()[start..end]);
                    start = end;
                }
            }
        }
        Ok(Bytes::from(body))
    }
}

/// A file part, loaded.
struct FilePart {
    name: String,
    content_type: String,
    bytes: Bytes,
}

/// A form's parts checked and laid out; `None` after reporting problems.
///
/// `place` names a field in messages (`steps[2].request.multipart.chatId`);
/// problems point at the field's own line when the file gives one, else at `at`.
pub(super) fn multipart_spec(
    v: &mut Validator<'_>,
    raw: &RawMultipart,
    at: &Location,
    path: &str,
    place: &dyn Fn(&str) -> String,
    defined: &HashSet<String>,
) -> Option<MultipartSpec> {
    let before = v.problems.len();
    if raw.0.is_empty() {
        v.problem(
            at,
            path,
            "the form is empty: give at least one field or file",
        );
    }
    let mut parts = Vec::with_capacity(raw.0.len());
    for (name, part) in &raw.0 {
        let place = place(name);
        let at = &if part.referenced == Location::UNKNOWN {
            *at
        } else {
            part.referenced
        };
        let part = &part.value;
        if name.is_empty() || name.contains(['"', '\r', '\n']) {
            v.problem(
                at,
                &place,
                "a field name must be non-empty, without quotes or line breaks",
            );
            continue;
        }
        match part {
            RawPart::Text(text) => {
                let text = v.expand_env(text, at, &place);
                if !text.contains("{{") {
                    parts.push((name.as_str(), Err(text)));
                } else if let Some(t) = v.step_template(&text, at, &place, defined) {
                    parts.push((name.as_str(), Ok(Ok(t))));
                }
            }
            RawPart::File(file) => {
                if let Some(f) = file_part(v, file, at, &place) {
                    parts.push((name.as_str(), Ok(Err(f))));
                }
            }
        }
    }
    if v.problems.len() > before {
        return None;
    }
    Some(layout(&parts))
}

/// A text field is `Err(literal)` or `Ok(Ok(template))`; a file `Ok(Err(file))`.
type LaidPart = Result<Result<Template, FilePart>, String>;

fn layout(parts: &[(&str, LaidPart)]) -> MultipartSpec {
    let boundary = boundary_for(parts);
    let mut pieces = Vec::new();
    let mut fixed: Vec<u8> = Vec::new();
    for (name, part) in parts {
        fixed.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let disposition = format!("Content-Disposition: form-data; name=\"{name}\"");
        fixed.extend_from_slice(disposition.as_bytes());
        match part {
            Err(text) => {
                fixed.extend_from_slice(b"\r\n\r\n");
                fixed.extend_from_slice(text.as_bytes());
            }
            Ok(Ok(template)) => {
                fixed.extend_from_slice(b"\r\n\r\n");
                pieces.push(Piece::Fixed(Bytes::from(std::mem::take(&mut fixed))));
                pieces.push(Piece::Field(template.clone()));
            }
            Ok(Err(file)) => {
                let head = format!(
                    "; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                    file.name, file.content_type
                );
                fixed.extend_from_slice(head.as_bytes());
                fixed.extend_from_slice(&file.bytes);
            }
        }
        fixed.extend_from_slice(b"\r\n");
    }
    fixed.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    pieces.push(Piece::Fixed(Bytes::from(fixed)));
    let fixed_len = pieces
        .iter()
        .map(|p| match p {
            Piece::Fixed(b) => b.len(),
            Piece::Field(_) => 0,
        })
        .sum();
    MultipartSpec {
        content_type: Bytes::from(format!("multipart/form-data; boundary={boundary}")),
        pieces,
        fixed_len,
    }
}

/// A boundary that occurs in no file of the form.
fn boundary_for(parts: &[(&str, LaidPart)]) -> String {
    let files: Vec<&[u8]> = parts
        .iter()
        .filter_map(|(_, p)| match p {
            Ok(Err(f)) => Some(&f.bytes[..]),
            _ => None,
        })
        .collect();
    (0u32..)
        .map(|n| format!("chatload-form-7f3a9c1e5b{n}"))
        .find(|b| {
            files
                .iter()
                .all(|f| !f.windows(b.len()).any(|w| w == b.as_bytes()))
        })
        .unwrap_or_default()
}

fn file_part(v: &mut Validator<'_>, raw: &RawFile, at: &Location, path: &str) -> Option<FilePart> {
    let (bytes, name, guessed) = match (&raw.file, &raw.generate) {
        (Some(file), None) => {
            let expanded = v.expand_env(file, at, &format!("{path}.file"));
            let full = v.base_dir.join(&expanded);
            let bytes = match read_file(&full) {
                Ok(b) => b,
                Err(e) => {
                    v.problem(at, &format!("{path}.file"), e);
                    return None;
                }
            };
            let name = Path::new(&expanded)
                .file_name()
                .map_or_else(|| "file".to_owned(), |n| n.to_string_lossy().into_owned());
            let guessed = type_of_name(&name).to_owned();
            (bytes, name, guessed)
        }
        (None, Some(g)) => {
            let place = format!("{path}.generate");
            let size = match parse_size(&g.size) {
                Ok(s) => s,
                Err(e) => {
                    v.problem(at, &format!("{place}.size"), e);
                    return None;
                }
            };
            let content_type = g
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".to_owned());
            let name = format!("generated.{}", extension_of_type(&content_type));
            (generate(size, &content_type), name, content_type)
        }
        _ => {
            v.problem(
                at,
                path,
                "a file part needs exactly one of `file` (a path) or `generate` (size and type)",
            );
            return None;
        }
    };
    let content_type = raw.content_type.clone().unwrap_or(guessed);
    let name = raw.name.clone().unwrap_or(name);
    if content_type.contains(['\r', '\n']) || name.contains(['"', '\r', '\n']) {
        v.problem(
            at,
            path,
            "`type` and `name` must be one line (and `name` without quotes)",
        );
        return None;
    }
    Some(FilePart {
        name,
        content_type,
        bytes,
    })
}

fn read_file(path: &Path) -> Result<Bytes, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read file {}: {e}", path.display()))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "file {} has {} bytes, more than the 100 MiB a form may carry",
            path.display(),
            meta.len()
        ));
    }
    std::fs::read(path)
        .map(Bytes::from)
        .map_err(|e| format!("cannot read file {}: {e}", path.display()))
}

/// `10KiB`, `1.5MB`, `512`, `512B` → bytes (KB/MB are 1000-based, KiB/MiB 1024-based).
///
/// # Errors
/// Not a size, negative, or above [`MAX_FILE_BYTES`].
pub fn parse_size(value: &Value) -> Result<u64, String> {
    let expected = "expected a size such as 512, 512B, 10KB, 10KiB, 1MB or 1MiB";
    let bytes = match value {
        Value::Number(n) => n.as_u64().map(|n| n as f64),
        Value::String(s) => {
            let s = s.trim();
            let split = s
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(s.len());
            let (number, unit) = s.split_at(split);
            let factor = match unit.trim() {
                "" | "B" => Some(1.0),
                "KB" | "kB" => Some(1e3),
                "KiB" => Some(1024.0),
                "MB" => Some(1e6),
                "MiB" => Some(1024.0 * 1024.0),
                _ => None,
            };
            number
                .parse::<f64>()
                .ok()
                .zip(factor)
                .map(|(n, f)| (n * f).round())
        }
        _ => None,
    }
    .ok_or_else(|| format!("`{}`: {expected}", text_of(value)))?;
    if bytes > MAX_FILE_BYTES as f64 {
        return Err(format!(
            "`{}` is more than the 100 MiB a form may carry",
            text_of(value)
        ));
    }
    Ok(bytes as u64)
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `size` bytes of `content_type`: its magic number (PNG, JPEG, GIF, PDF)
/// when it has one, then a repeating pattern of letters (so no multipart
/// boundary can occur in it).
fn generate(size: u64, content_type: &str) -> Bytes {
    let magic: &[u8] = match content_type {
        "image/png" => b"\x89PNG\r\n\x1a\n",
        "image/jpeg" => b"\xff\xd8\xff\xe0",
        "image/gif" => b"GIF89a",
        "application/pdf" => b"%PDF-1.4\n",
        _ => b"",
    };
    let size = size as usize;
    let mut bytes = Vec::with_capacity(size);
    bytes.extend_from_slice(&magic[..magic.len().min(size)]);
    bytes.extend((bytes.len()..size).map(|i| b'a' + (i % 26) as u8));
    Bytes::from(bytes)
}

/// File extensions and their types, for names and guesses.
const TYPES: &[(&str, &str)] = &[
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("pdf", "application/pdf"),
    ("txt", "text/plain"),
    ("csv", "text/csv"),
    ("json", "application/json"),
    ("mp3", "audio/mpeg"),
    ("wav", "audio/wav"),
    ("ogg", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("aac", "audio/aac"),
    ("m4a", "audio/mp4"),
    ("wma", "audio/x-ms-wma"),
    ("mp4", "video/mp4"),
    ("avi", "video/x-msvideo"),
    ("doc", "application/msword"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("xls", "application/vnd.ms-excel"),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ("exe", "application/x-msdownload"),
];

/// The type a file name suggests (`application/octet-stream` when unknown).
fn type_of_name(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    TYPES
        .iter()
        .find(|(e, _)| *e == ext)
        .map_or("application/octet-stream", |(_, t)| t)
}

/// The extension a generated file of `content_type` is named with (`bin` when unknown).
fn extension_of_type(content_type: &str) -> &'static str {
    TYPES
        .iter()
        .find(|(_, t)| *t == content_type)
        .map_or("bin", |(e, _)| e)
}

/// What a `download_media` step checks beyond the status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaCheck {
    /// The body's exact size in bytes.
    pub size: Option<u64>,
    /// The `Content-Type` (its media type, parameters ignored).
    pub content_type: Option<String>,
}

impl MediaCheck {
    /// Why a download of `size` bytes and `content_type` fails the check, or `None`.
    pub fn mismatch(&self, size: usize, content_type: Option<&str>) -> Option<MediaMismatch> {
        if let Some(want) = self.size
            && want != size as u64
        {
            return Some(MediaMismatch::Size);
        }
        let got = content_type.map(|t| t.split(';').next().unwrap_or("").trim());
        match &self.content_type {
            Some(want) if !got.is_some_and(|g| g.eq_ignore_ascii_case(want)) => {
                Some(MediaMismatch::Type)
            }
            _ => None,
        }
    }
}

/// Which part of a [`MediaCheck`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaMismatch {
    Size,
    Type,
}

#[cfg(test)]
mod tests;
