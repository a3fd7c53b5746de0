//! [`ApiClient::send`]: requests outside any virtual user (clean-up,
//! webhook registration, agents, conform) over a shared connection pool.
//!
//! Plain `http://` goes through hyper's pooled HTTP/1.1 client directly;
//! `https://` through reqwest, whose pool these few requests share. The
//! load's own requests never come here: they go over each VU's
//! [`super::ConnSlot`].

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use reqwest::header::{CONTENT_TYPE, HeaderMap};

use super::body::{BodyError, read_hyper, read_reqwest};
use super::request::{content_type, http_method, join_url};
use super::{ApiClient, ApiRequest, ApiResponse, ClientError, ConnUse, ConnectCause, Malformed};

/// How requests outside the VUs' slots travel.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per run, never moved on the hot path
pub(super) enum Transport {
    Plain(HyperClient<HttpConnector, Full<Bytes>>),
    Tls(reqwest::Client),
}

impl ApiClient {
    /// Sends one request over the shared pool and reads the whole body.
    ///
    /// # Errors
    /// No response: connection refused, timeout, or a transport failure.
    pub async fn send(&self, req: ApiRequest<'_>) -> Result<ApiResponse, ClientError> {
        match &self.http {
            Transport::Plain(client) => self.send_plain(client, req).await,
            Transport::Tls(client) => self.send_tls(client, req).await,
        }
    }

    /// Sorts a reqwest failure into a kind; a TLS failure is a connect
    /// failure whose description is kept for [`ApiClient::tls_failure`].
    fn classify(&self, e: reqwest::Error) -> ClientError {
        if e.is_timeout() {
            return ClientError::Timeout;
        }
        if !e.is_connect() {
            return Malformed::of_error(&e).map_or(ClientError::Dropped, ClientError::Malformed);
        }
        self.note_tls_failure(&e);
        let tls = self.tls.describe_failure(&e).is_some();
        ClientError::Connect(ConnectCause::of_error(&e, tls, self.timeout))
    }

    /// A pool's body error as the request's failure.
    fn body_failure(&self, status: u16, e: BodyError) -> ClientError {
        match e {
            BodyError::TooLarge { received } => ClientError::BodyTooLarge {
                status,
                limit: self.max_body,
                received,
            },
            BodyError::TimedOut => ClientError::Timeout,
            BodyError::Cut => ClientError::BodyCut(status),
        }
    }

    async fn send_plain(
        &self,
        client: &HyperClient<HttpConnector, Full<Bytes>>,
        req: ApiRequest<'_>,
    ) -> Result<ApiResponse, ClientError> {
        let url = join_url(&self.base_url, &req);
        let request = self.hyper_request(url, None, req)?;
        let exchange = async {
            let response = client.request(request).await.map_err(|e| {
                if e.is_connect() {
                    ClientError::Connect(ConnectCause::of_error(&e, false, self.timeout))
                } else {
                    Malformed::of_error(&e).map_or(ClientError::Dropped, ClientError::Malformed)
                }
            })?;
            let head = self.head(response.version(), response.status(), response.headers());
            let status = response.status().as_u16();
            let body = read_hyper(&mut response.into_body(), self.max_body)
                .await
                .map_err(|e| self.body_failure(status, e))?;
            Ok(head.with(body, ConnUse::default()))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout),
        }
    }

    async fn send_tls(
        &self,
        http: &reqwest::Client,
        req: ApiRequest<'_>,
    ) -> Result<ApiResponse, ClientError> {
        let mut url = String::with_capacity(self.base_url.len() + req.path.len());
        url.push_str(&self.base_url);
        url.push_str(req.path);
        let method = http_method(req.method);
        let mut builder = http.request(method, url);
        if !self.extra.is_empty() {
            builder = builder.headers(self.extra.clone());
        }
        if !req.query.is_empty() {
            builder = builder.query(req.query);
        }
        let mut auth = HeaderMap::with_capacity(2);
        self.auth_headers(req.auth, |n, v| {
            auth.insert(n, v);
        });
        builder = builder.headers(auth);
        for (name, value) in req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = req.body {
            builder = builder
                .header(CONTENT_TYPE, content_type(req.content_type)?)
                .body(body);
        }
        let response = match builder.send().await {
            Ok(response) => response,
            Err(e) => return Err(self.or_no_http2(self.classify(e)).await),
        };
        let head = self.head(response.version(), response.status(), response.headers());
        let status = response.status().as_u16();
        let body = read_reqwest(response, self.max_body)
            .await
            .map_err(|e| self.body_failure(status, e))?;
        Ok(head.with(body, ConnUse::default()))
    }
}
