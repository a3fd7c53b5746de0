//! Media upload, listing and download (reference §4.8).

use super::{Reply, created, list};
use crate::auth::{SecretApi, UserApi};
use crate::error::ApiError;
use crate::extract::{Form, Params, PathId};
use crate::store::view::{MediaView, Wrap};
use axum::extract::multipart::MultipartError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;

fn multipart_error(err: &MultipartError) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge("File is too large".into())
    } else {
        ApiError::bad_request("Malformed multipart body")
    }
}

/// The fields of an upload.
#[derive(Default)]
struct Upload {
    chat_id: Option<String>,
    sender_id: Option<String>,
    file: Option<(String, String, bytes::Bytes)>,
}

async fn read_upload(Form(mut form): Form) -> Result<Upload, ApiError> {
    let mut upload = Upload::default();
    while let Some(field) = form.next_field().await.map_err(|e| multipart_error(&e))? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "chatId" | "senderId" => {
                // The raw bytes, not `Field::text`: that one sniffs a BOM
                // (`\xff\xfe` reads as an empty UTF-16 string) and replaces
                // invalid sequences, so a bad value passed for a missing one.
                let bytes = field.bytes().await.map_err(|e| multipart_error(&e))?;
                let text = String::from_utf8(bytes.to_vec())
                    .map_err(|_| ApiError::bad_request(format!("`{name}` is not valid UTF-8")))?;
                if name == "chatId" {
                    upload.chat_id = Some(text);
                } else {
                    upload.sender_id = Some(text);
                }
            }
            "media" => {
                let file_name = field.file_name().unwrap_or("file").to_owned();
                let content_type = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                let bytes = field.bytes().await.map_err(|e| multipart_error(&e))?;
                upload.file = Some((file_name, content_type, bytes));
            }
            _ => {}
        }
    }
    Ok(upload)
}

pub(super) async fn media_upload(UserApi(api, who): UserApi, form: Form) -> Reply {
    let upload = read_upload(form).await?;
    let chat_id = upload
        .chat_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request("`chatId` is required"))?;
    let sender_id = upload
        .sender_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request("`senderId` is required"))?;
    let (name, content_type, bytes) = upload
        .file
        .ok_or_else(|| ApiError::bad_request("`media` file is required"))?;
    api.with_store(|s| {
        s.chat(&chat_id)?;
        who.check(|me| me == sender_id && s.is_participant(&chat_id, me))?;
        let media = s.upload_media(&chat_id, &sender_id, name, content_type, bytes)?;
        Ok(created(&Wrap("media", MediaView::from(media))))
    })
}

pub(super) async fn media_list(SecretApi(api): SecretApi, params: Params) -> Reply {
    let chat_id = params.str("chatId")?;
    let sender_id = params.str("senderId")?;
    let page = params.page()?;
    let store = api.app.lock();
    let mut media = store.list_media(chat_id.as_deref());
    if let Some(sender) = &sender_id {
        media.retain(|m| m.sender_id == *sender);
    }
    Ok(list("media", media, page, MediaView::from))
}

/// Returns the stored bytes (not JSON) with a safe content type (see
/// [`safe_content_type`]), `X-Content-Type-Options: nosniff` and
/// `Content-Disposition: attachment`, so a browser neither sniffs nor
/// renders an upload as a page.
pub(super) async fn media_get(
    UserApi(api, who): UserApi,
    PathId(id): PathId,
    _params: Params,
) -> Reply {
    let (content_type, bytes) = {
        let store = api.app.lock();
        let media = store.media(&id)?;
        who.check(|me| store.is_participant(&media.chat_id, me))?;
        (safe_content_type(&media.content_type), media.bytes.clone())
    };
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        ),
    ];
    Ok((headers, bytes).into_response())
}

/// Types served as stored: none of them is rendered as an active document
/// (no HTML, SVG, XML or script).
const SAFE_TYPES: [&str; 18] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "audio/mpeg",
    "audio/aac",
    "audio/wav",
    "audio/ogg",
    "audio/mp4",
    "audio/x-ms-wma",
    "video/mp4",
    "video/x-msvideo",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
];

/// The uploader's content type when it is one of [`SAFE_TYPES`] (its
/// parameters dropped; compared without case), else
/// `application/octet-stream`: an upload declared `text/html` (or
/// `image/svg+xml`) is never served as such.
fn safe_content_type(stored: &str) -> &'static str {
    let essence = stored.split(';').next().unwrap_or_default().trim();
    SAFE_TYPES
        .iter()
        .find(|safe| safe.eq_ignore_ascii_case(essence))
        .copied()
        .unwrap_or("application/octet-stream")
}

#[cfg(test)]
mod tests {
    use super::safe_content_type;

    #[test]
    fn only_passive_types_are_served_as_uploaded() {
        assert_eq!(safe_content_type("image/PNG"), "image/png");
        assert_eq!(safe_content_type("text/plain; charset=utf-8"), "text/plain");
        for active in [
            "text/html",
            "image/svg+xml",
            "application/xhtml+xml",
            "text/javascript",
            "",
        ] {
            assert_eq!(
                safe_content_type(active),
                "application/octet-stream",
                "{active}"
            );
        }
    }
}
