//! Checks a scenario's media: a `multipart:` form's fields and files (read
//! or generated once, here) into a [`MultipartSpec`], and sizes.

use std::collections::HashSet;
use std::path::Path;

use bytes::Bytes;
use serde_json::Value;
use serde_saphyr::Location;

use super::Validator;
use crate::scenario::media::{FilePart, MAX_FILE_BYTES, MultipartSpec, layout};
use crate::scenario::raw::{RawFile, RawMultipart, RawPart};

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
pub(super) fn parse_size(value: &Value) -> Result<u64, String> {
    let bytes = size_bytes(value)?;
    if bytes > MAX_FILE_BYTES {
        return Err(format!(
            "`{}` is more than the 100 MiB a form may carry",
            text_of(value)
        ));
    }
    Ok(bytes)
}

/// `10KiB`, `1.5MB`, `2GiB`, `512`, `512B` → bytes (KB/MB/GB are
/// 1000-based, KiB/MiB/GiB 1024-based), with no upper bound.
///
/// # Errors
/// Not a size, or negative.
pub(super) fn size_bytes(value: &Value) -> Result<u64, String> {
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
                "GB" => Some(1e9),
                "GiB" => Some(1024.0 * 1024.0 * 1024.0),
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
    .filter(|b| *b < u64::MAX as f64)
    .ok_or_else(|| format!("`{}`: {expected}", text_of(value)))?;
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{generate, parse_size};

    #[test]
    fn sizes_read_with_decimal_and_binary_units() {
        for (text, bytes) in [
            (json!(512), 512),
            (json!("512B"), 512),
            (json!("10KB"), 10_000),
            (json!("10KiB"), 10_240),
            (json!("1.5MB"), 1_500_000),
            (json!("2MiB"), 2 * 1024 * 1024),
        ] {
            assert_eq!(parse_size(&text), Ok(bytes), "{text}");
        }
        let bad = parse_size(&json!("ten KiB")).unwrap_err();
        assert!(bad.contains("expected a size such as"), "{bad}");
        let big = parse_size(&json!("101MiB")).unwrap_err();
        assert!(big.contains("100 MiB"), "{big}");
        assert!(parse_size(&json!(-1)).is_err());
    }

    #[test]
    fn generated_bytes_have_the_size_and_magic_of_their_type() {
        let png = generate(10_240, "image/png");
        assert_eq!(png.len(), 10_240);
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(generate(3, "image/png").len(), 3);
        assert!(
            generate(100, "text/plain")
                .iter()
                .all(u8::is_ascii_lowercase)
        );
    }
}
