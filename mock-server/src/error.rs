//! `ApiError`: every way an API request can fail, and its JSON error body.
//!
//! Every failure the mock answers, whatever produced it (a store rule, an
//! extractor, the router's 404/405, an injected fault), goes out as the
//! reference's envelope `{"error":{"code":<status>,"message":"..."}}` with
//! `code` equal to the HTTP status (reference §3.2). Messages never contain
//! credentials.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::borrow::Cow;

/// An API failure; the variant decides the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed body or query, wrong content type, body too large
    /// for a JSON route, missing or mistyped parameter.
    #[error("{0}")]
    BadRequest(Cow<'static, str>),
    /// 401: missing or invalid credentials.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403: the credential is not allowed here, or the acting user is not a
    /// participant.
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
    /// 404: unknown id or route.
    #[error("{0}")]
    NotFound(Cow<'static, str>),
    /// 405: the path exists with another method.
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// 409: the resource is in the wrong state.
    #[error("{0}")]
    Conflict(Cow<'static, str>),
    /// 413: body or file too large.
    #[error("{0}")]
    PayloadTooLarge(Cow<'static, str>),
    /// An injected fault (`/__mock/faults`) with its status and optional
    /// `Retry-After` seconds.
    #[error("Injected fault")]
    Injected {
        /// HTTP status to answer.
        status: StatusCode,
        /// `Retry-After` header value in seconds, if any.
        retry_after_s: Option<u64>,
    },
    /// 429 from the app's rate limit (`crate::limit`), with `Retry-After`
    /// seconds.
    #[error("Too many requests: rate limit exceeded, retry after {retry_after_s}s")]
    RateLimited {
        /// `Retry-After` header value in seconds.
        retry_after_s: u64,
    },
    /// 500: a bug in the mock (a caught panic). Never produced by any input
    /// on purpose.
    #[error("Internal mock error")]
    Internal,
}

impl ApiError {
    /// 400 with a message.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::BadRequest(message.into())
    }

    /// 403 with a message.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::Forbidden(message.into())
    }

    /// 404 with a message.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::NotFound(message.into())
    }

    /// 409 with a message.
    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::Conflict(message.into())
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Injected { status, .. } => *status,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Builds the envelope response for any status and message.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({
        "error": { "code": status.as_u16(), "message": message }
    });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = error_response(self.status(), &self.to_string());
        if let ApiError::Injected {
            retry_after_s: Some(seconds),
            ..
        }
        | ApiError::RateLimited {
            retry_after_s: seconds,
        } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_matches_variant() {
        assert_eq!(ApiError::conflict("x").status(), StatusCode::CONFLICT);
        assert_eq!(
            ApiError::Unauthorized("x").status(),
            StatusCode::UNAUTHORIZED
        );
    }
}
