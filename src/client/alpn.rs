//! Whether a server asked for HTTP/2 alone (`--http 2`) agreed to it by
//! ALPN, for the reqwest pools, which do not check: the shared one (the
//! clean-up's, the webhook registration's and the agent actors' requests)
//! and `conform`'s. Given `h2` by prior knowledge, reqwest speaks HTTP/2 to
//! a server that chose no protocol all the same, and fails in its own words
//! (a dropped connection, a protocol error). One connection opened the
//! virtual users' way, which checks ALPN ([`Connector::open`]), tells; every
//! path then says the same sentence, [`ConnectCause::NoHttp2`]'s.

use std::time::Duration;

use super::connect::{ConnectFailure, Connector, TlsTarget};
use super::failure::NO_HTTP2;
use super::{ApiClient, ClientError, ConnPolicy, ConnectCause, HttpVersion, Target, TlsOptions};

impl Connector {
    /// Opens one connection and lets it go: `Some(false)` when the server,
    /// offered `h2` alone, did not choose it; `Some(true)` when it did (or
    /// `h2` was not asked for alone); `None` when no connection could be
    /// made for another reason (refused, a TLS failure, ...).
    pub(super) async fn agrees_to_http2(&self) -> Option<bool> {
        match self.open(None).await {
            Ok(_) => Some(true),
            Err(ConnectFailure::NoHttp2) => Some(false),
            Err(_) => None,
        }
    }
}

/// Whether the server at `base_url` (an `https://` URL), offered `h2` alone
/// with `tls`'s trust settings, chose it, within `timeout`: as
/// [`Connector::agrees_to_http2`] says (`None`: no connection at all).
pub async fn server_agrees_to_http2(
    base_url: &str,
    tls: &TlsOptions,
    timeout: Duration,
) -> Option<bool> {
    let target = Target::parse(base_url).ok().filter(|t| t.tls)?;
    let h2_alone = TlsOptions {
        http: HttpVersion::Http2,
        ..tls.clone()
    };
    let config = h2_alone.rustls_config(ConnPolicy::KeepAlive).ok()?;
    let connector = Connector {
        authority: target.authority,
        connect_timeout: timeout,
        tls: Some(TlsTarget::new(config, &target.hostname)?),
    };
    connector.agrees_to_http2().await
}

impl ApiClient {
    /// `error`, a request of the shared pool's, unless `--http 2` met a
    /// server that did not choose `h2` by ALPN: then the failure the virtual
    /// users' requests have there (kind `connect`, the same sentence, kept
    /// for [`ApiClient::tls_failure`]). Asked only of a failure after the
    /// connection was made and before any response came over HTTP/2.
    pub(super) async fn or_no_http2(&self, error: ClientError) -> ClientError {
        if self.tls.http != HttpVersion::Http2
            || matches!(error, ClientError::Connect(_))
            || self.http_used().http2
        {
            return error;
        }
        let known = self.tls_failure() == Some(NO_HTTP2);
        if known || self.connector.agrees_to_http2().await == Some(false) {
            let _ = self.tls_failure.set(NO_HTTP2.to_owned());
            return ClientError::Connect(ConnectCause::NoHttp2);
        }
        error
    }
}
