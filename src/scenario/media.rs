//! Media in scenarios: the `multipart:` form of a `request` step, the typed
//! `upload_media` and `download_media` steps, and the checks of a download.
//!
//! The file's forms are read by `raw` and checked by `validate::media`. A
//! form becomes a [`MultipartSpec`] at validation: files are read (paths
//! relative to the scenario file) or generated once, and everything that does
//! not depend on the session is laid out as shared bytes, so a request copies
//! each file at most once into its body and a form without templates is not
//! copied at all. Nothing here does HTTP; the engine renders and sends.

use bytes::Bytes;

use super::template::{RenderContext, Template, UnsetVariable, VarId};

/// Largest file a form may carry (read or generated): 100 MiB.
pub const MAX_FILE_BYTES: u64 = 100 * 1024 * 1024;

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
pub(super) struct FilePart {
    pub(super) name: String,
    pub(super) content_type: String,
    pub(super) bytes: Bytes,
}

/// A text field is `Err(literal)` or `Ok(Ok(template))`; a file `Ok(Err(file))`.
pub(super) type LaidPart = Result<Result<Template, FilePart>, String>;

/// The form's bytes: fixed pieces (part heads, literal fields, files)
/// between the templated fields, under a boundary no file contains.
pub(super) fn layout(parts: &[(&str, LaidPart)]) -> MultipartSpec {
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
