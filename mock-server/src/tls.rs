//! HTTPS for the mock: the `tls:` settings, the server certificate (read
//! from PEM files, or a CA and a certificate for `localhost` generated at
//! start), and [`handshake`], which `server` runs on each accepted
//! connection (in the connection's own task, so a slow or failing one never
//! holds up the accept loop; bounded by the header-read timeout).
//!
//! ALPN offers `h2` and `http/1.1`; the connection builder then speaks
//! whichever the client picked. The plain-HTTP path does not go through this
//! module at all.
//!
//! Talks to: `config` (holds [`TlsConfig`]), `lib.rs` (`serve`,
//! `MockServer`), `server` (the accept loop).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Names the generated certificate is valid for.
pub const GENERATED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The `tls:` section of the mock's configuration (`--tls` and its flags on
/// the command line). Present means HTTPS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain (PEM, the server's certificate first). With
    /// `key`; without both, a CA and a certificate for `localhost`,
    /// `127.0.0.1` and `::1` are generated at start.
    pub cert: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// Where to write the generated CA certificate (PEM), the file a client
    /// trusts (`chatload run --ca-cert FILE`). Only with a generated certificate.
    pub ca_out: Option<PathBuf>,
    /// Where each path was given (`file:line:column` of its value in the
    /// configuration file, or the flag), for the errors of [`Self::load`].
    #[serde(skip)]
    pub at: TlsAt,
}

/// Where `cert`, `key` and `ca_out` were given (`None`: unknown).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsAt {
    pub cert: Option<String>,
    pub key: Option<String>,
    pub ca_out: Option<String>,
}

impl TlsConfig {
    /// Checks that `cert` and `key` come together and `ca_out` only without them.
    ///
    /// # Errors
    /// The message names the offending keys.
    pub fn validate(&self) -> Result<(), String> {
        match (&self.cert, &self.key) {
            (Some(_), None) | (None, Some(_)) => {
                Err("tls: cert and key go together (give both, or neither to generate a certificate for localhost)".to_owned())
            }
            (Some(_), Some(_)) if self.ca_out.is_some() => Err(
                "tls.ca_out writes a generated CA; with your own cert and key, trust the CA that signed it instead"
                    .to_owned(),
            ),
            _ => Ok(()),
        }
    }

    /// Makes relative paths relative to `dir` (the configuration file's directory).
    pub fn resolve_paths(&mut self, dir: &Path) {
        for path in [&mut self.cert, &mut self.key, &mut self.ca_out]
            .into_iter()
            .flatten()
        {
            if path.is_relative() {
                *path = dir.join(&*path);
            }
        }
    }

    /// The server's TLS settings: the given certificate, or a generated one
    /// (its CA written to `ca_out` when set).
    ///
    /// # Errors
    /// Unreadable or malformed PEM, a key that does not match, an unwritable `ca_out`.
    pub fn load(&self) -> Result<TlsIdentity, TlsError> {
        let at = |place: &Option<String>, error: TlsError| match place {
            Some(at) => TlsError::At {
                at: at.clone(),
                inner: Box::new(error),
            },
            None => error,
        };
        let (chain, key, ca_pem) = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => (
                read_chain(cert).map_err(|e| at(&self.at.cert, e))?,
                read_key(key).map_err(|e| at(&self.at.key, e))?,
                None,
            ),
            _ => {
                let generated = generate_for_localhost()?;
                if let Some(path) = &self.ca_out {
                    std::fs::write(path, &generated.ca_pem).map_err(|cause| {
                        let error = TlsError::WriteCa {
                            path: path.clone(),
                            cause,
                        };
                        at(&self.at.ca_out, error)
                    })?;
                }
                (generated.chain, generated.key, Some(generated.ca_pem))
            }
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsIdentity {
            server: Arc::new(server),
            ca_pem,
        })
    }
}

/// The TLS flags of `chatload-mock` and `chatload mock` (flattened into both).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// Serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN). Without --tls-cert and
    /// --tls-key, a CA and a certificate for localhost, 127.0.0.1 and ::1
    /// are generated at start (see --tls-ca-out).
    #[arg(long)]
    pub tls: bool,
    /// The certificate chain to serve (PEM); implies --tls.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Write the generated CA certificate (PEM) to FILE, for
    /// `chatload run --ca-cert FILE`; implies --tls.
    #[arg(long, value_name = "FILE", conflicts_with = "tls_cert")]
    pub tls_ca_out: Option<PathBuf>,
}

impl TlsArgs {
    /// Puts the flags into `tls` (the configuration file's `tls:`); flags win.
    pub fn apply(&self, tls: &mut Option<TlsConfig>) {
        if !(self.tls || self.tls_cert.is_some() || self.tls_ca_out.is_some()) {
            return;
        }
        let config = tls.get_or_insert_with(TlsConfig::default);
        if self.tls_cert.is_some() {
            config.cert.clone_from(&self.tls_cert);
            config.key.clone_from(&self.tls_key);
            config.ca_out = None;
            config.at.cert = Some("--tls-cert".to_owned());
            config.at.key = Some("--tls-key".to_owned());
        }
        if self.tls_ca_out.is_some() {
            config.ca_out.clone_from(&self.tls_ca_out);
            config.at.ca_out = Some("--tls-ca-out".to_owned());
        }
    }
}

/// Why the mock's TLS settings could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read. (The OS error is in
    /// the message, not chained as a source, so a chain prints it once.)
    #[error("tls: cannot read {path}: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// A file holds no usable PEM item of the expected kind.
    #[error("tls: {path} holds no PEM {what}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// `certificate` or `private key`.
        what: &'static str,
    },
    /// Generating the CA or certificate failed.
    #[error("tls: cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the certificate or key (e.g. they do not match).
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
    /// The generated CA could not be written to `ca_out`.
    #[error("tls: cannot write the CA certificate to {path}: {cause}")]
    WriteCa {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// One of the above, with where the path was given (`file:line:column`
    /// in the configuration file, or the flag).
    #[error("{at}: {inner}")]
    At {
        /// `file:line:column` or `--tls-cert` and the like.
        at: String,
        /// What went wrong.
        inner: Box<TlsError>,
    },
}

/// The server side of TLS, ready to accept connections.
#[derive(Debug, Clone)]
pub struct TlsIdentity {
    server: Arc<rustls::ServerConfig>,
    /// The generated CA certificate (PEM); `None` for a given certificate.
    ca_pem: Option<String>,
}

impl TlsIdentity {
    /// The acceptor that runs handshakes with this identity.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.server.clone())
    }

    /// The generated CA certificate (PEM) clients must trust; `None` when
    /// the certificate was read from files.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }
}

/// A CA, and a certificate for [`GENERATED_NAMES`] signed by it.
#[derive(Debug)]
pub struct GeneratedCert {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// The server's chain: its certificate, then the CA's.
    pub chain: Vec<CertificateDer<'static>>,
    /// The server certificate's private key.
    pub key: PrivateKeyDer<'static>,
}

/// Generates a CA and a server certificate for `localhost`, `127.0.0.1` and
/// `::1` signed by it (a CA apart from the server certificate, as a real
/// deployment has: clients trust the CA, the server presents its own).
///
/// # Errors
/// Key generation or signing failed.
pub fn generate_for_localhost() -> Result<GeneratedCert, rcgen::Error> {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "chatload-mock local CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate()?)?;
    let names: Vec<String> = GENERATED_NAMES.iter().map(|n| (*n).to_owned()).collect();
    let mut params = rcgen::CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let key = rcgen::KeyPair::generate()?;
    let cert = params.signed_by(&key, &ca)?;
    Ok(GeneratedCert {
        ca_pem: ca.pem(),
        chain: vec![cert.der().clone(), ca.der().clone()],
        key: PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    })
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let chain: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_owned(),
            what: "certificate",
        });
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(&read(path)?).map_err(|_| TlsError::Pem {
        path: path.to_owned(),
        what: "private key",
    })
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|cause| TlsError::Read {
        path: path.to_owned(),
        cause,
    })
}

/// Handshakes by outcome: which protocol ALPN picked, or failed. Counted per
/// connection, never per request.
#[derive(Debug, Default)]
pub struct TlsStats {
    h2: AtomicU64,
    http1: AtomicU64,
    failed: AtomicU64,
}

/// A snapshot of [`TlsStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TlsCounts {
    /// Connections that negotiated HTTP/2.
    pub h2: u64,
    /// Connections that negotiated `http/1.1` or offered no ALPN (HTTP/1.1).
    pub http1: u64,
    /// Handshakes that failed or timed out (e.g. the client rejected the certificate).
    pub failed: u64,
}

impl TlsStats {
    /// The counts so far.
    pub fn counts(&self) -> TlsCounts {
        TlsCounts {
            h2: self.h2.load(Ordering::Relaxed),
            http1: self.http1.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    fn count(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The TLS handshake of one accepted connection, bounded by `timeout`,
/// counted in `stats` by negotiated protocol (or as failed); `None` when it
/// failed or timed out.
pub(crate) async fn handshake(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    stats: &TlsStats,
    timeout: Duration,
) -> Option<TlsStream<TcpStream>> {
    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => {
            let counter = match tls.get_ref().1.alpn_protocol() {
                Some(b"h2") => &stats.h2,
                _ => &stats.http1,
            };
            stats.count(counter);
            Some(tls)
        }
        Ok(Err(e)) => {
            stats.count(&stats.failed);
            tracing::debug!("TLS handshake failed: {e}");
            None
        }
        Err(_) => {
            stats.count(&stats.failed);
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::ServerCertVerifier as _;
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

    use super::{TlsConfig, generate_for_localhost};

    /// Verifies the generated chain for `name` as a client trusting only the generated CA would.
    fn verify(name: &str) -> Result<(), rustls::Error> {
        let generated = generate_for_localhost().expect("generates");
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(generated.ca_pem.as_bytes()).expect("CA PEM"))
            .expect("CA accepted as a root");
        let verifier = WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .expect("verifier");
        let server_name = ServerName::try_from(name.to_owned()).expect("a server name");
        verifier
            .verify_server_cert(
                &generated.chain[0],
                &generated.chain[1..],
                &server_name,
                &[],
                UnixTime::now(),
            )
            .map(|_| ())
    }

    #[test]
    fn the_generated_certificate_covers_localhost_and_127_0_0_1() {
        for name in ["localhost", "127.0.0.1", "::1"] {
            verify(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let other = verify("example.com").expect_err("another name is refused");
        assert!(other.to_string().contains("certificate"), "{other}");
    }

    #[test]
    fn cert_and_key_go_together_and_ca_out_only_with_a_generated_one() {
        let only_cert = TlsConfig {
            cert: Some("c.pem".into()),
            ..TlsConfig::default()
        };
        assert!(only_cert.validate().unwrap_err().contains("go together"));
        let both_and_out = TlsConfig {
            cert: Some("c.pem".into()),
            key: Some("k.pem".into()),
            ca_out: Some("ca.pem".into()),
            ..TlsConfig::default()
        };
        assert!(both_and_out.validate().unwrap_err().contains("ca_out"));
        assert_eq!(TlsConfig::default().validate(), Ok(()));
    }

    #[test]
    fn a_config_files_cert_and_key_are_loaded_relative_to_the_file() {
        let dir = std::env::temp_dir().join(format!("chatload-mock-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        std::fs::write(dir.join("cert.pem"), pair.cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), pair.signing_key.serialize_pem()).unwrap();
        let file = dir.join("mock.yaml");
        std::fs::write(&file, "tls:\n  cert: cert.pem\n  key: key.pem\n").unwrap();
        let config = crate::MockConfig::from_yaml_file(&file)
            .expect("valid config")
            .tls
            .expect("tls: present");
        assert_eq!(config.cert.as_deref(), Some(dir.join("cert.pem").as_path()));
        let identity = config.load().expect("loads");
        assert!(identity.ca_pem().is_none());
        let missing = TlsConfig {
            cert: Some(dir.join("nope.pem")),
            key: Some(dir.join("key.pem")),
            ..TlsConfig::default()
        };
        let err = missing.load().unwrap_err().to_string();
        assert!(err.contains("nope.pem"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
