//! Media upload, listing and download (reference §4.8).

use super::{Reply, created, list};
use crate::auth::{SecretApi, UserApi};
use crate::error::ApiError;
use crate::extract::{Form, Params, PathId};
use crate::store::view::{MediaView, Wrap};
use axum::extract::multipart::MultipartError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;

/// Room for multipart framing and the text fields around the file.
pub(super) const MULTIPART_OVERHEAD: usize = 64 * 1024;

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
                let text = field.text().await.map_err(|e| multipart_error(&e))?;
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
    let page = params.page()?;
    let store = api.app.lock();
    let media = store.list_media(chat_id.as_deref());
    Ok(list("media", media, page, MediaView::from))
}

/// Returns the stored bytes with their content type (not JSON).
pub(super) async fn media_get(
    UserApi(api, who): UserApi,
    PathId(id): PathId,
    _params: Params,
) -> Reply {
    let (content_type, bytes) = {
        let store = api.app.lock();
        let media = store.media(&id)?;
        who.check(|me| store.is_participant(&media.chat_id, me))?;
        (media.content_type.clone(), media.bytes.clone())
    };
    let content_type = HeaderValue::from_str(&content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
}
