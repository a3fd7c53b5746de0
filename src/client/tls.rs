//! Trust and protocol settings for `https://` targets: an extra CA to trust
//! (`--ca-cert`, `target.ca_cert`, the bundled mock's generated CA),
//! certificate verification switched off (`--insecure`, only when asked),
//! the HTTP version (`--http`, `target.http`), and the words that explain a
//! failed handshake.
//!
//! Applies to the rustls configuration of the VUs' own connections
//! ([`TlsOptions::rustls_config`]) and to every reqwest client the harness
//! builds for the target (the shared pool, conform's checker, the agents'
//! mock switch), so they all trust the same certificates. Knows nothing of
//! scenarios or the CLI: the app turns those into a [`TlsOptions`].

use std::error::Error as StdError;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::ConnPolicy;

/// Which HTTP version requests to an `https://` target use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HttpVersion {
    /// ALPN offers `h2` and `http/1.1`; the server picks.
    #[default]
    Auto,
    /// HTTP/1.1 only (ALPN `http/1.1`).
    Http1,
    /// HTTP/2 only (ALPN `h2`; a server without it fails the handshake).
    Http2,
}

impl HttpVersion {
    /// Parses `auto`, `1.1` (or `1`) and `2`.
    ///
    /// # Errors
    /// Anything else, with the accepted values.
    pub fn parse(text: &str) -> Result<HttpVersion, String> {
        match text.trim() {
            "auto" => Ok(HttpVersion::Auto),
            "1" | "1.1" => Ok(HttpVersion::Http1),
            "2" => Ok(HttpVersion::Http2),
            other => Err(format!(
                "`{other}` is not an HTTP version: use 1.1, 2 or auto"
            )),
        }
    }

    /// How it is written in scenarios and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpVersion::Auto => "auto",
            HttpVersion::Http1 => "1.1",
            HttpVersion::Http2 => "2",
        }
    }
}

/// A CA certificate (or bundle) to trust besides the built-in web roots.
#[derive(Clone)]
pub struct CaCert {
    /// Where it came from, for messages (a path, or "the bundled mock").
    pub origin: String,
    certs: Vec<reqwest::Certificate>,
    /// The same certificates for rustls.
    der: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for CaCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaCert")
            .field("origin", &self.origin)
            .field("certificates", &self.certs.len())
            .finish()
    }
}

impl CaCert {
    /// Reads a PEM file of one or more CA certificates.
    ///
    /// # Errors
    /// The file cannot be read or holds no PEM certificate.
    pub fn read(path: &Path) -> Result<CaCert, String> {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read the CA certificate {}: {e}", path.display()))?;
        CaCert::from_pem(&path.display().to_string(), &pem)
    }

    /// CA certificates from PEM text.
    ///
    /// # Errors
    /// The text holds no PEM certificate.
    pub fn from_pem(origin: &str, pem: &[u8]) -> Result<CaCert, String> {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                format!("{origin} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
            })?;
        let der = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{origin}: {e}"))?;
        Ok(CaCert {
            origin: origin.to_owned(),
            certs,
            der,
        })
    }
}

/// How the harness's clients talk TLS to the target.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Trusted besides the built-in web roots.
    pub extra_ca: Option<CaCert>,
    /// Accept any certificate: no verification at all. Only when the user
    /// asked for it (`--insecure`, `target.insecure: true`); the app warns.
    pub insecure: bool,
    /// The HTTP version to use.
    pub http: HttpVersion,
}

impl TlsOptions {
    /// `builder` with these settings (rustls, the extra CA, verification, ALPN).
    pub fn configure(&self, mut builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        builder = builder.use_rustls_tls();
        for cert in self.extra_ca.iter().flat_map(|ca| &ca.certs) {
            builder = builder.add_root_certificate(cert.clone());
        }
        if self.insecure {
            builder = builder.danger_accept_invalid_certs(true);
        }
        match self.http {
            HttpVersion::Auto => builder,
            HttpVersion::Http1 => builder.http1_only(),
            // Over TLS this offers only `h2` by ALPN (no cleartext prior knowledge:
            // the app refuses `http: 2` for http:// targets).
            HttpVersion::Http2 => builder.http2_prior_knowledge(),
        }
    }

    /// The rustls configuration of the VUs' connections under `policy`:
    /// the web roots and the extra CA (or, when asked, no verification),
    /// ALPN as `http` says (`h2` only for the `http2` policy), and rustls's
    /// default in-memory session cache, which the `http2` policy's shared
    /// connections use; each VU's own connections use a copy with a cache of
    /// its own (`TlsTarget::with_own_sessions`).
    ///
    /// # Errors
    /// The extra CA is not a usable trust anchor.
    pub fn rustls_config(&self, policy: ConnPolicy) -> Result<rustls::ClientConfig, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()?;
        let mut config = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
                .with_no_client_auth()
        } else {
            let mut roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            for cert in self.extra_ca.iter().flat_map(|ca| &ca.der) {
                roots.add(cert.clone())?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        let http2_only = matches!(policy, ConnPolicy::Http2 { .. });
        config.alpn_protocols = match self.http {
            _ if http2_only => vec![b"h2".to_vec()],
            HttpVersion::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            HttpVersion::Http1 => vec![b"http/1.1".to_vec()],
            HttpVersion::Http2 => vec![b"h2".to_vec()],
        };
        Ok(config)
    }

    /// What to do about a failed handshake, for the message that names it.
    fn hint(&self, problem: &rustls::Error) -> &'static str {
        use rustls::CertificateError as C;
        match problem {
            rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature)
                if self.extra_ca.is_some() =>
            {
                "the target's certificate is not signed by the CA given with --ca-cert / target.ca_cert"
            }
            rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => {
                "the target's certificate is not signed by a trusted CA: give its CA with --ca-cert FILE (or target.ca_cert)"
            }
            rustls::Error::InvalidCertificate(
                C::NotValidForName | C::NotValidForNameContext { .. },
            ) => "the certificate does not name the host of the target URL",
            rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
                "the target's certificate has expired"
            }
            rustls::Error::NoApplicationProtocol => {
                "the server does not speak the HTTP version asked for (ALPN): try --http auto"
            }
            _ => "",
        }
    }

    /// A sentence naming the TLS problem behind `error`, when there is one
    /// (e.g. `TLS handshake failed: invalid peer certificate: UnknownIssuer
    /// (the target's certificate is not signed by a trusted CA: ...)`).
    pub fn describe_failure(&self, error: &(dyn StdError + 'static)) -> Option<String> {
        let problem = rustls_error(error)?;
        let hint = self.hint(problem);
        Some(if hint.is_empty() {
            format!("TLS handshake failed: {problem}")
        } else {
            format!("TLS handshake failed: {problem} ({hint})")
        })
    }
}

/// Accepts any server certificate (`insecure`, only when the user asked);
/// the handshake's signatures are still checked, so the session is still
/// with whoever holds the certificate's key.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The rustls error in `error`'s chain. An `io::Error`'s `source()` skips
/// the error it wraps (it returns that error's source), so the walk steps
/// into the wrapped error instead.
fn rustls_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut link = Some(error);
    while let Some(e) = link {
        if let Some(found) = e.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        link = match e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner),
            None => e.source(),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{CaCert, HttpVersion, TlsOptions};

    #[test]
    fn http_versions_parse_and_print_back() {
        for v in [HttpVersion::Auto, HttpVersion::Http1, HttpVersion::Http2] {
            assert_eq!(HttpVersion::parse(v.as_str()), Ok(v));
        }
        assert_eq!(HttpVersion::parse("1"), Ok(HttpVersion::Http1));
        assert!(
            HttpVersion::parse("3")
                .unwrap_err()
                .contains("1.1, 2 or auto")
        );
    }

    #[test]
    fn a_file_without_a_certificate_is_refused_by_name() {
        let err = CaCert::from_pem("ca.pem", b"not a certificate").unwrap_err();
        assert!(err.contains("ca.pem holds no PEM certificate"), "{err}");
    }

    #[test]
    fn a_rustls_error_wrapped_in_io_errors_is_found_and_explained() {
        let bad = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let wrapped =
            std::io::Error::other(std::io::Error::new(std::io::ErrorKind::InvalidData, bad));
        let text = TlsOptions::default().describe_failure(&wrapped).unwrap();
        assert!(
            text.contains("UnknownIssuer") && text.contains("--ca-cert"),
            "{text}"
        );
        let plain = std::io::Error::other("connection refused");
        assert_eq!(TlsOptions::default().describe_failure(&plain), None);
    }
}
