//! Why no (usable) response arrived, in words that say why: [`ClientError`]
//! and its parts, [`ConnectCause`] (refused, timed out, TLS, no HTTP/2 by
//! ALPN, ...) and [`Malformed`] (bytes that are not an HTTP response), and
//! the sorting of hyper's, reqwest's and the OS's errors into them.
//!
//! Every type here is `Copy` and small: a failure is carried by value from
//! the client to the metrics and the failure samples.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// Why no response arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("could not connect to the target: {0}")]
    Connect(ConnectCause),
    #[error("the request timed out")]
    Timeout,
    /// Connected, but the connection closed or was reset before the response head.
    #[error("the connection closed or was reset before the response arrived")]
    Dropped,
    /// Bytes came back, but not an HTTP response head.
    #[error("the response was not valid HTTP: {0}")]
    Malformed(Malformed),
    /// The response head (this status) arrived, then the connection ended
    /// before the whole body did.
    #[error("the {0} response was cut off: the connection ended before its whole body arrived")]
    BodyCut(u16),
    /// The body of the response (this status) passed the limit on the bytes
    /// one response may hold; reading stopped there and the connection was
    /// let go.
    #[error(
        "the {status} response's body passed the {} limit (target.max_body): reading stopped after {received} bytes",
        Size(*limit)
    )]
    BodyTooLarge {
        status: u16,
        /// The limit, in bytes.
        limit: u64,
        /// Body bytes received before reading stopped.
        received: u64,
    },
    /// The request could not be built (an invalid URI or header value).
    #[error("the request could not be built")]
    Other,
}

impl ClientError {
    /// The failure kind a request that got no (whole) response counts under:
    /// one mapping for the virtual users' and the agent actors' requests.
    pub fn failure_kind(&self) -> crate::metrics::FailureKind {
        use crate::metrics::FailureKind;
        match self {
            ClientError::Connect(_) => FailureKind::Connect,
            ClientError::Timeout => FailureKind::Timeout,
            ClientError::Dropped
            | ClientError::Malformed(_)
            | ClientError::BodyCut(_)
            | ClientError::BodyTooLarge { .. }
            | ClientError::Other => FailureKind::Other,
        }
    }

    /// Body bytes that arrived although the request failed (a body over the
    /// limit), for the received-bytes figures.
    pub fn bytes_received(self) -> u64 {
        match self {
            ClientError::BodyTooLarge { received, .. } => received,
            _ => 0,
        }
    }
}

/// Why no connection could be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectCause {
    /// The target refused the TCP connection (nothing listens there).
    Refused,
    /// The TCP connection (and the TLS handshake) were not up within this
    /// time: the request timeout.
    TimedOut(Duration),
    /// The host name did not resolve.
    Resolve,
    /// The TLS handshake failed (described once, see `ApiClient::tls_failure`).
    Tls,
    /// HTTP/2 was asked for (`http: 2`, the `http2` policy) and the server
    /// did not choose `h2` by ALPN.
    NoHttp2,
    /// The connection closed before a request could be sent on it.
    Closed,
    /// The load machine ran out of file descriptors (EMFILE, ENFILE): its own limit, not the
    /// target's doing.
    TooManyFiles(super::fd_limit::FilesLimit),
    /// Another error of the operating system's (e.g. host unreachable).
    Io(std::io::ErrorKind),
}

impl fmt::Display for ConnectCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectCause::Refused => f.write_str("connection refused"),
            ConnectCause::TimedOut(after) => write!(
                f,
                "connect timed out after {} (the request timeout)",
                humantime::format_duration(*after)
            ),
            ConnectCause::Resolve => f.write_str("the host name did not resolve"),
            ConnectCause::Tls => f.write_str("TLS handshake failed"),
            ConnectCause::NoHttp2 => f.write_str(NO_HTTP2),
            ConnectCause::Closed => {
                f.write_str("the connection closed before the request could be sent")
            }
            ConnectCause::TooManyFiles(limit) => write!(f, "{limit}"),
            ConnectCause::Io(kind) => write!(f, "{kind}"),
        }
    }
}

/// Why a connection that asked for HTTP/2 alone was given up.
pub(super) const NO_HTTP2: &str = "the server did not agree to HTTP/2 by ALPN (it chose no protocol, so it speaks HTTP/1.1 only); HTTP/2 was asked for (--http 2 / target.http: 2, or the http2 connection policy): use --http auto to let the server choose";

impl ConnectCause {
    /// The cause behind an OS error (`after`: the connect timeout).
    pub(super) fn of_io(error: &std::io::Error, after: Duration) -> ConnectCause {
        if let Some(limit) = super::fd_limit::out_of_files(error) {
            super::fd_limit::warn_once(limit);
            return ConnectCause::TooManyFiles(limit);
        }
        match error.kind() {
            std::io::ErrorKind::ConnectionRefused => ConnectCause::Refused,
            std::io::ErrorKind::TimedOut => ConnectCause::TimedOut(after),
            kind => ConnectCause::Io(kind),
        }
    }

    /// The cause behind a connect error of a pool (hyper's or reqwest's):
    /// the OS error in its chain, else a TLS failure when `tls` says so.
    pub fn of_error(error: &(dyn StdError + 'static), tls: bool, after: Duration) -> ConnectCause {
        if tls {
            return ConnectCause::Tls;
        }
        if chain(error).any(|e| e.to_string().contains("dns error")) {
            return ConnectCause::Resolve;
        }
        // The deepest OS error: outer ones wrap it (kind `Other`).
        chain(error)
            .filter_map(|e| e.downcast_ref::<std::io::Error>())
            .last()
            .map_or(ConnectCause::Closed, |io| ConnectCause::of_io(io, after))
    }
}

/// What was wrong with a response that is not valid HTTP, as hyper's
/// parser saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// The status line's code or reason phrase.
    Status,
    /// It does not start with an HTTP version: not HTTP at all.
    Version,
    /// A header line.
    Header,
    /// The head is larger than the parser accepts.
    TooLarge,
    /// Anything else the parser refused.
    Other,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Malformed::Status => "invalid status code or reason phrase in the status line",
            Malformed::Version => "it does not start with an HTTP version (not an HTTP response)",
            Malformed::Header => "invalid header",
            Malformed::TooLarge => "its head is too large",
            Malformed::Other => "the parser refused its head",
        })
    }
}

impl Malformed {
    /// The parse problem of `error` (hyper's, anywhere in its chain), if
    /// that is what it is.
    pub fn of_error(error: &(dyn StdError + 'static)) -> Option<Malformed> {
        let hyper = chain(error).find_map(|e| e.downcast_ref::<hyper::Error>())?;
        Malformed::of_hyper(hyper)
    }

    /// The parse problem of a hyper error, if that is what it is.
    pub(super) fn of_hyper(error: &hyper::Error) -> Option<Malformed> {
        if !error.is_parse() {
            return None;
        }
        if error.is_parse_status() {
            return Some(Malformed::Status);
        }
        if error.is_parse_too_large() {
            return Some(Malformed::TooLarge);
        }
        // hyper tells the rest apart only in its message.
        let text = error.to_string();
        Some(if text.contains("version") {
            Malformed::Version
        } else if text.contains("header") {
            Malformed::Header
        } else {
            Malformed::Other
        })
    }
}

/// `error` and its sources. An `io::Error`'s `source()` skips the error it
/// wraps (it returns that error's source), so the walk steps into it instead.
fn chain<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e: &&'a (dyn StdError + 'static)| {
        match e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        }
    })
}

/// A byte count as a limit is written: `16 MiB`, `512 KiB`, `1000 bytes`.
#[derive(Debug, Clone, Copy)]
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KIB: u64 = 1024;
        match self.0 {
            n if n >= KIB * KIB * KIB && n % (KIB * KIB * KIB) == 0 => {
                write!(f, "{} GiB", n / (KIB * KIB * KIB))
            }
            n if n >= KIB * KIB && n % (KIB * KIB) == 0 => write!(f, "{} MiB", n / (KIB * KIB)),
            n if n >= KIB && n % KIB == 0 => write!(f, "{} KiB", n / KIB),
            n => write!(f, "{n} bytes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{ClientError, ConnectCause, Size};

    #[test]
    fn a_connect_failure_says_why() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let after = Duration::from_secs(30);
        let says = |c: ConnectCause| ClientError::Connect(c).to_string();
        assert_eq!(
            says(ConnectCause::of_io(&refused, after)),
            "could not connect to the target: connection refused"
        );
        let timed_out = std::io::Error::from(std::io::ErrorKind::TimedOut);
        assert!(
            says(ConnectCause::of_io(&timed_out, after)).contains("connect timed out after 30s"),
        );
        let wrapped =
            std::io::Error::other(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(
            ConnectCause::of_error(&wrapped, false, after),
            ConnectCause::Refused
        );
        // See: outside audit 10, F6 — EMFILE, wrapped by a pool, read "uncategorized error".
        let emfile = std::io::Error::other(std::io::Error::from_raw_os_error(24));
        let said = says(ConnectCause::of_error(&emfile, false, after));
        assert!(
            said.starts_with(
                "could not connect to the target: too many open files on this machine (its \
                 limit, ulimit -n, is "
            ),
            "{said}"
        );
    }

    #[test]
    fn a_body_over_the_limit_names_the_limit_and_counts_its_bytes() {
        let e = ClientError::BodyTooLarge {
            status: 200,
            limit: 16 * 1024 * 1024,
            received: 16_842_752,
        };
        assert_eq!(
            e.to_string(),
            "the 200 response's body passed the 16 MiB limit (target.max_body): reading stopped after 16842752 bytes"
        );
        assert_eq!(e.bytes_received(), 16_842_752);
        assert_eq!(ClientError::Timeout.bytes_received(), 0);
        assert_eq!(Size(1000).to_string(), "1000 bytes");
        assert_eq!(Size(512 * 1024).to_string(), "512 KiB");
        assert_eq!(Size(1 << 30).to_string(), "1 GiB");
    }
}
