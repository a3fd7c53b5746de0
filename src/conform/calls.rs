//! The tour's checked requests, [`Checker::call`], [`Checker::download`]
//! and [`Checker::upload`]: an operation's first happy call is preceded by
//! its probes (credentials, content type, generated invalid bodies) and,
//! for a call marked [`Call::vary`], followed by boundary-valid bodies
//! ([`super::probes`]).
//!
//! A call that would send an id the tour never got ([`missing`]: the call
//! that creates it failed) is not sent: it is a skipped check saying which
//! id it lacked, never a pass on a made-up id, and its operation is neither
//! exercised nor its status observed by it.
//!
//! Above both the checker and the probes (the probes use the checker's
//! sending and judging; the checker does not know the probes), so the
//! dependency goes one way.

use serde_json::Value;

use super::checker::{Checker, Payload};
use super::{Call, Creds, Kind, probes};
use crate::api::Operation;

/// What starts a stand-in for an id the tour did not get.
const MISSING: &str = "conform-missing: ";

/// A stand-in for an id the tour did not get, saying which (`what`: "the
/// chat's id, which create chat did not return"): a call that would send
/// it is skipped with that reason instead.
pub fn missing(what: &str) -> String {
    format!("{MISSING}{what}")
}

/// Whether `id` is a real id (not a [`missing`] stand-in).
pub fn got(id: &str) -> bool {
    !id.starts_with(MISSING)
}

/// The reason a call sending `values` cannot be made: the first stand-in
/// for a missing id among them.
fn lacking<'v>(mut values: impl Iterator<Item = &'v str>) -> Option<String> {
    values
        .find_map(|v| v.find(MISSING).map(|at| &v[at + MISSING.len()..]))
        .map(|what| format!("not sent: it needs {what}"))
}

/// Every string `c` sends: path parameters, query values, the token, the
/// body's strings.
fn sent_strings<'c>(c: &'c Call<'_>) -> Vec<&'c str> {
    let mut out: Vec<&str> = c.params.iter().map(String::as_str).collect();
    out.extend(c.query.iter().map(|(_, v)| v.as_str()));
    if let Creds::Token(t) = c.creds {
        out.push(t);
    }
    let mut stack: Vec<&Value> = c.body.iter().collect();
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => out.push(s),
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    out
}

/// A passed check's body as it came and its `Content-Type`.
type Received = (bytes::Bytes, Option<String>);

impl Checker {
    /// Sends a JSON call, checks status and schema, records the result, and
    /// returns the body when the status was one of the expected ones. An
    /// operation's first happy call is preceded by its probes (credentials,
    /// content type, generated invalid bodies) and, when the call is marked
    /// [`Call::vary`], followed by boundary-valid bodies: a set-up request
    /// of theirs that breaks the spec fails the happy call's check; when
    /// the happy call failed they are not sent but listed as skipped.
    pub async fn call(&mut self, c: Call<'_>) -> Option<Value> {
        self.call_received(c).await.map(|(body, _)| body)
    }

    /// A happy download of media the tour uploaded: passes only when the
    /// body is `want`'s bytes and its `Content-Type` the type the upload
    /// stored (`want.1`), otherwise fails saying what differed.
    pub async fn download(&mut self, c: Call<'_>, want: (&[u8], &str)) {
        let Some((_, (bytes, content_type))) = self.call_received(c).await else {
            return;
        };
        if let Some(why) = media_difference((&bytes, content_type.as_deref()), want) {
            self.fail_last(why);
        }
    }

    /// [`Checker::call`], also returning what came back when it passed
    /// (`None` too when it was skipped for a missing id).
    async fn call_received(&mut self, c: Call<'_>) -> Option<(Value, Received)> {
        if let Some(why) = lacking(sent_strings(&c).into_iter()) {
            self.skip(c.op, c.name.to_owned(), why);
            return None;
        }
        let first = c.kind == Kind::Happy && self.mark_probed(c.op);
        if first {
            probes::before(self, &c).await;
        }
        let payload = c.body.as_ref().map_or(Payload::None, Payload::Json);
        let answer = self.exchange(self.build_call(&c, c.creds, payload)).await;
        let received = answer
            .as_ref()
            .ok()
            .map(|a| (a.bytes.clone(), a.content_type.clone()));
        let at = self.results.len();
        let out = self.judge(c.name, c.op, c.kind, &c.expect, answer);
        if out.is_some() && c.kind == Kind::Happy {
            self.paths
                .entry(c.op.path())
                .or_insert_with(|| c.params.clone());
        }
        if first && c.vary {
            if out.is_none() {
                probes::boundary_not_sent(self, &c);
            } else if let Some(why) = probes::boundary(self, &c).await {
                self.blame(at, &why);
            }
        }
        out.zip(received)
    }

    /// Sends a multipart upload (`uploadMedia`); `expect` as for [`Call`]
    /// (`None`: its success status, after the operation's probes).
    pub async fn upload(
        &mut self,
        name: &str,
        fields: &[(&str, String)],
        file: (&str, &str, Vec<u8>),
        expect: Option<&[u16]>,
    ) -> Option<Value> {
        let op = Operation::UploadMedia;
        if let Some(why) = lacking(fields.iter().map(|(_, v)| v.as_str())) {
            self.skip(op, name.to_owned(), why);
            return None;
        }
        let success = [op.success_status()];
        let form = || {
            let mut form = reqwest::multipart::Form::new();
            for (k, v) in fields {
                form = form.text((*k).to_owned(), v.clone());
            }
            let part = reqwest::multipart::Part::bytes(file.2.clone())
                .file_name(file.0.to_owned())
                .mime_str(file.1)
                .ok()?;
            Some(form.part("media", part))
        };
        if expect.is_none() && self.mark_probed(op) {
            probes::upload(self, &form).await;
        }
        let b = self.build_call(
            &Call::new(name, op, &[]),
            Creds::for_op(op),
            Payload::Form(form()?),
        );
        let answer = self.exchange(b).await;
        let kind = if expect.is_some() {
            Kind::Negative
        } else {
            Kind::Happy
        };
        self.judge(name, op, kind, expect.unwrap_or(&success), answer)
    }
}

/// What differs between a download (`got`: its body and `Content-Type`)
/// and the media uploaded (`want`: its bytes and stored type), if anything.
fn media_difference(got: (&[u8], Option<&str>), want: (&[u8], &str)) -> Option<String> {
    let head = |b: &[u8]| {
        let hex: Vec<String> = b.iter().take(8).map(|x| format!("{x:02x}")).collect();
        hex.join(" ")
    };
    if got.0 != want.0 {
        return Some(format!(
            "the download is not the uploaded media: {} bytes starting {} where the upload \
             sent {} bytes starting {}",
            got.0.len(),
            head(got.0),
            want.0.len(),
            head(want.0)
        ));
    }
    let essence = got
        .1
        .and_then(|t| t.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase());
    if essence.as_deref() != Some(&want.1.to_ascii_lowercase()) {
        return Some(format!(
            "the download's Content-Type is {}, the upload stored {}",
            got.1.unwrap_or("none"),
            want.1
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_passes_only_as_the_uploaded_bytes_and_type() {
        let png: &[u8] = &[0x89, b'P', b'N', b'G'];
        assert_eq!(
            media_difference((png, Some("image/png")), (png, "image/png")),
            None
        );
        assert_eq!(
            media_difference((png, Some("Image/PNG; x=1")), (png, "image/png")),
            None
        );
        let html = b"<html>Welcome to nginx!</html>";
        assert_eq!(
            media_difference((html, Some("text/html")), (png, "image/png")).as_deref(),
            Some(
                "the download is not the uploaded media: 30 bytes starting 3c 68 74 6d 6c 3e \
                 57 65 where the upload sent 4 bytes starting 89 50 4e 47"
            )
        );
        assert_eq!(
            media_difference((png, Some("text/html")), (png, "image/png")).as_deref(),
            Some("the download's Content-Type is text/html, the upload stored image/png")
        );
    }

    #[test]
    fn a_call_sending_a_missing_id_names_it() {
        let chat = missing("the chat's id, which create chat did not return");
        assert!(!got(&chat) && got("c-1"));
        let c = Call::new("get chat", Operation::GetChat, &["c-1"])
            .body(serde_json::json!({"x": [{"chatId": chat}]}));
        assert_eq!(
            lacking(sent_strings(&c).into_iter()).as_deref(),
            Some("not sent: it needs the chat's id, which create chat did not return")
        );
        let fine = Call::new("get chat", Operation::GetChat, &["c-1"]);
        assert_eq!(lacking(sent_strings(&fine).into_iter()), None);
    }
}
