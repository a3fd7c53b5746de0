//! A step's request rendered from the session: path, query, headers, body
//! and token, and whether a step renders the same every time (then each VU
//! builds it once).

use bytes::Bytes;

use crate::client::{ApiRequest, AuthHeaders};
use crate::engine::session::Session;
use crate::scenario::media::MultipartSpec;
use crate::scenario::template::{UnsetVariable, ValueTemplate};
use crate::scenario::{Auth, RequestSpec};

/// True when no part of the request depends on the session: it renders the
/// same every time.
pub(super) fn is_fixed(spec: &RequestSpec) -> bool {
    spec.path.is_literal()
        && spec.query.iter().all(|(_, t)| t.is_literal())
        && spec.headers.iter().all(|(_, t)| t.is_literal())
        && spec.body.as_ref().is_none_or(ValueTemplate::is_literal)
        && spec
            .multipart
            .as_ref()
            .is_none_or(MultipartSpec::is_literal)
        && match &spec.auth {
            Auth::Token(t) => t.is_literal(),
            _ => true,
        }
}

pub(super) struct Rendered {
    pub(super) path: String,
    pub(super) query: Vec<(String, String)>,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Option<Bytes>,
    /// The rendered token of `Auth::Token`.
    pub(super) token: String,
}

impl Rendered {
    /// The request to send (moves the body out).
    pub(super) fn request(&mut self, spec: &RequestSpec) -> ApiRequest<'_> {
        ApiRequest {
            method: spec.op.method(),
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: self.body.take(),
            content_type: spec.multipart.as_ref().map(|m| m.content_type.clone()),
            auth: match &spec.auth {
                Auth::Secret => AuthHeaders::Secret,
                Auth::AppId => AuthHeaders::AppId,
                Auth::DomainKey => AuthHeaders::DomainKey,
                Auth::None => AuthHeaders::None,
                Auth::Token(_) => AuthHeaders::Token(&self.token),
            },
        }
    }
}

pub(super) fn render(spec: &RequestSpec, session: &mut Session) -> Result<Rendered, UnsetVariable> {
    let raw_path = spec.path.render(session)?;
    let path = encode_path(&raw_path);
    let mut query = Vec::with_capacity(spec.query.len());
    for (k, t) in &spec.query {
        query.push((k.clone(), t.render(session)?));
    }
    let mut headers = Vec::with_capacity(spec.headers.len());
    for (k, t) in &spec.headers {
        headers.push((k.clone(), t.render(session)?));
    }
    let body = match (&spec.multipart, &spec.body) {
        (Some(form), _) => Some(form.render(session)?),
        (None, Some(b)) => Some(Bytes::from(
            serde_json::to_vec(&b.render(session)?).unwrap_or_default(),
        )),
        (None, None) => None,
    };
    // A token that cannot be rendered is sent empty (and is refused).
    let token = match &spec.auth {
        Auth::Token(t) => t.render(session).unwrap_or_default(),
        _ => String::new(),
    };
    Ok(Rendered {
        path,
        query,
        headers,
        body,
        token,
    })
}

/// Percent-encodes characters that cannot appear in a path segment, keeping `/`.
fn encode_path(path: &str) -> String {
    if path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-._~:@!$&'()*+,;=%".contains(&b))
    {
        return path.to_owned();
    }
    crate::client::percent_encode(path, b"/-._~:@!$&'()*+,;=")
}

#[cfg(test)]
mod tests {
    use super::encode_path;

    #[test]
    fn paths_are_encoded_only_where_needed() {
        assert_eq!(encode_path("/chats/c-1/messages"), "/chats/c-1/messages");
        assert_eq!(encode_path("/users/a b?"), "/users/a%20b%3F");
    }
}
