//! How virtual users hold their connections ([`ConnPolicy`]), and the
//! HTTP/2 connections VUs share under the `http2` policy ([`SharedH2`]).

use tokio::sync::Mutex;

use super::connect::{Opened, Sender};
use super::{ApiClient, ClientError};

/// How virtual users hold their connections to the target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ConnPolicy {
    /// Each VU keeps its own connection open from request to request (and
    /// iteration to iteration): an app that stays connected.
    #[default]
    KeepAlive,
    /// Each VU drops its connection at the start of every iteration and
    /// opens a new one: a browser user who comes back (over TLS the session
    /// is resumed, as a browser's would be).
    NewPerIteration,
    /// One HTTP/2 connection carries the requests of up to
    /// `vus_per_connection` VUs at once, multiplexed (`https://` only).
    Http2 { vus_per_connection: u32 },
}

impl ConnPolicy {
    /// VUs per shared HTTP/2 connection when the scenario does not say.
    pub const DEFAULT_VUS_PER_CONNECTION: u32 = 100;

    /// Parses `keep_alive`, `new_per_iteration` or `http2` (with
    /// `vus_per_connection`, default [`Self::DEFAULT_VUS_PER_CONNECTION`]).
    ///
    /// # Errors
    /// Another word, with the accepted ones.
    pub fn parse(text: &str, vus_per_connection: Option<u32>) -> Result<ConnPolicy, String> {
        match text.trim() {
            "keep_alive" => Ok(ConnPolicy::KeepAlive),
            "new_per_iteration" => Ok(ConnPolicy::NewPerIteration),
            "http2" => Ok(ConnPolicy::Http2 {
                vus_per_connection: vus_per_connection
                    .unwrap_or(Self::DEFAULT_VUS_PER_CONNECTION)
                    .max(1),
            }),
            other => Err(format!(
                "`{other}` is not a connection policy: use keep_alive, new_per_iteration or http2"
            )),
        }
    }

    /// As written in scenarios, on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            ConnPolicy::KeepAlive => "keep_alive",
            ConnPolicy::NewPerIteration => "new_per_iteration",
            ConnPolicy::Http2 { .. } => "http2",
        }
    }

    /// VUs per shared connection (`http2` only).
    pub fn vus_per_connection(self) -> Option<u32> {
        match self {
            ConnPolicy::Http2 { vus_per_connection } => Some(vus_per_connection),
            _ => None,
        }
    }

    /// The connections `vus` virtual users hold at once under this policy:
    /// one each, or one per group of `vus_per_connection`.
    pub fn connections_for(self, vus: u64) -> u64 {
        match self.vus_per_connection() {
            Some(per) => vus.div_ceil(u64::from(per.max(1))),
            None => vus,
        }
    }
}

/// The HTTP/2 connections of the `http2` policy: VU `n` uses group
/// `n % groups`. Locked only when a VU has no open connection (its first
/// request, or after the connection closed), never per request.
#[derive(Debug)]
pub(super) struct SharedH2 {
    groups: Box<[Mutex<Option<Sender>>]>,
}

impl SharedH2 {
    /// Enough groups for `vus` VUs at `per` VUs each.
    pub(super) fn new(vus: usize, per: u32) -> SharedH2 {
        let count = vus.div_ceil(per.max(1) as usize).max(1);
        SharedH2 {
            groups: (0..count).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// A sender on VU `vu`'s group's connection, opened by `client` when
    /// there is none or it closed; `Some` how it was opened when this call
    /// opened it.
    pub(super) async fn get(
        &self,
        vu: u64,
        client: &ApiClient,
    ) -> Result<(Sender, Option<Opened>), ClientError> {
        let index = (vu % self.groups.len() as u64) as usize;
        let mut group = self.groups[index].lock().await;
        if let Some(Sender::Http2(open)) = group.as_ref()
            && !open.is_closed()
        {
            return Ok((Sender::Http2(open.clone()), None));
        }
        let (sender, opened) = client.open(None).await?;
        *group = match &sender {
            Sender::Http2(s) => Some(Sender::Http2(s.clone())),
            // The server did not choose HTTP/2: nothing to share.
            Sender::Http1(_) => None,
        };
        Ok((sender, Some(opened)))
    }
}
