//! The tour's checked requests, [`Checker::call`] and [`Checker::upload`]:
//! an operation's first happy call is preceded by its probes (credentials,
//! content type, generated invalid bodies) and, for a call marked
//! [`Call::vary`], followed by boundary-valid bodies ([`super::probes`]).
//!
//! Above both the checker and the probes (the probes use the checker's
//! sending and judging; the checker does not know the probes), so the
//! dependency goes one way.

use serde_json::Value;

use super::checker::{Checker, Payload};
use super::{Call, Creds, Kind, probes};
use crate::api::Operation;

impl Checker {
    /// Sends a JSON call, checks status and schema, records the result, and
    /// returns the body when the status was one of the expected ones. An
    /// operation's first happy call is preceded by its probes (credentials,
    /// content type, generated invalid bodies) and, when the call is marked
    /// [`Call::vary`], followed by boundary-valid bodies: a set-up request
    /// of theirs that breaks the spec fails the happy call's check; when
    /// the happy call failed they are not sent but listed as skipped.
    pub async fn call(&mut self, c: Call<'_>) -> Option<Value> {
        let first = c.kind == Kind::Happy && self.mark_probed(c.op);
        if first {
            probes::before(self, &c).await;
        }
        let payload = c.body.as_ref().map_or(Payload::None, Payload::Json);
        let answer = self.exchange(self.build_call(&c, c.creds, payload)).await;
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
        out
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
