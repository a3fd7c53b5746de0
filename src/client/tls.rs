//! Trust and protocol settings for `https://` targets: an extra CA to trust
//! (`--ca-cert`, `target.ca_cert`, the bundled mock's generated CA),
//! certificate verification switched off (`--insecure`, only when asked),
//! the HTTP version (`--http`, `target.http`), and the words that explain a
//! failed handshake.
//!
//! Applies to every reqwest client the harness builds for the target (the
//! load client, conform's checker, the agents' mock switch), so they all
//! trust the same certificates. Knows nothing of scenarios or the CLI: the
//! app turns those into a [`TlsOptions`].

use std::error::Error as StdError;
use std::path::Path;

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
        Ok(CaCert {
            origin: origin.to_owned(),
            certs,
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
