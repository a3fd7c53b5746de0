//! The one redaction step between chatload and the outside world.
//!
//! Every byte chatload prints or writes (the terminal summary, messages and
//! errors, tracing logs, the JSON, HTML, CSV and JUnit reports, `conform`'s
//! outputs) leaves through this module: [`outln!`](crate::outln) and
//! [`errln!`](crate::errln) for the terminal, [`write_file`] for files,
//! [`LogWriter`] for `tracing`, [`RedactedTerm`] for the progress bar,
//! [`install_panic_hook`] for panic messages. On the way out, every known secret is
//! replaced by [`MASK`] wherever it appears, including inside text a
//! server sent back (an error message echoing `x-hyper-secret`, say).
//!
//! Known secrets are [`register`]ed once, where chatload learns them: the
//! configured secret and domain key when a client is built, secret-like
//! `target.headers` values with the credential of an auth scheme alone
//! ([`register_header`]), webhook secrets when a webhook is registered, and
//! tokens when `conform` or an agent actor logs in. Each is also registered
//! in the forms a server may echo it in (JSON-escaped, URL-encoded, base64)
//! and the renderers escape it to (JSON, HTML/XML, CSV), twice-escaped
//! included (`forms.rs`), so no such copy can slip through. Tokens the
//! virtual users capture are [`issue`]d into a sharded book of hashes
//! instead (`tokens.rs`), once per capture, so one user's token is masked
//! in every other user's output too; their base64 forms are found by
//! decoding the output's base64 text (`decoded.rs`), not built per capture.
//!
//! The matching is one Aho-Corasick pass over the output for all registered
//! secrets at once, built lazily after a registration, then one pass for the
//! issued tokens; nothing here runs per request.
//! A source-scanning test (`tests::no_output_bypasses_the_redactor`) fails
//! when code outside this module prints, creates a file or draws a progress
//! bar directly, or when `main` does not install the panic hook.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::{self, Write};
use std::sync::{Arc, OnceLock, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};

/// Name fragments that mark a key, path segment, header or variable as a credential.
const SENSITIVE_NAMES: &[&str] = &[
    "token",
    "secret",
    "key",
    "password",
    "passwd",
    "authorization",
    "cookie",
    "credential",
];

/// True when `name` (a JSON key, pointer, header or variable name) looks like it holds a
/// credential.
pub fn is_sensitive_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SENSITIVE_NAMES.iter().any(|s| lower.contains(s))
}

/// What replaces a secret in output (the same word as the failure-path masker's).
pub const MASK: &str = "MASKED";

/// Secrets shorter than this are not masked inside other text: a 2-character
/// "secret" would otherwise garble every line (the failure-path masker still
/// masks a value equal to one).
pub const MIN_SECRET_LEN: usize = 4;

/// At most this many secrets are registered: past the cap new ones are not
/// added, so memory and the automaton's rebuild (after each new secret, at
/// the next output) stay bounded. Virtual users' captured tokens, the many
/// secrets of a long run, are not registered here but [`issue`]d to the
/// token book, which has no cap.
const MAX_SECRETS: usize = 4096;

/// A set of secrets and the automaton that finds them all in one pass.
#[derive(Debug, Default)]
pub struct Redactor {
    automaton: Option<AhoCorasick>,
}

impl Redactor {
    /// A redactor for `secrets` and their escaped forms (each at least
    /// [`MIN_SECRET_LEN`] bytes long; shorter ones are skipped).
    pub fn new<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Self {
        let mut needles: Vec<String> = secrets
            .into_iter()
            .flat_map(|s| forms(s.as_ref()))
            .collect();
        needles.sort_unstable();
        needles.dedup();
        Self::from_needles(&needles)
    }

    fn from_needles(needles: &[String]) -> Self {
        if needles.is_empty() {
            return Self::default();
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(needles)
            .ok();
        Self { automaton }
    }

    /// `bytes` with every secret replaced by [`MASK`] (borrowed when there is none).
    pub fn redact<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        match &self.automaton {
            Some(ac) if ac.is_match(bytes) => {
                let mut out = Vec::with_capacity(bytes.len());
                ac.replace_all_with_bytes(bytes, &mut out, |_, _, dst| {
                    dst.extend_from_slice(MASK.as_bytes());
                    true
                });
                Cow::Owned(out)
            }
            _ => Cow::Borrowed(bytes),
        }
    }

    /// `text` with every secret replaced by [`MASK`].
    pub fn redact_str<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.redact(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }
}

/// The process-wide set of known secrets.
#[derive(Default)]
struct Registry {
    known: HashSet<String>,
    needles: Vec<String>,
    /// Rebuilt lazily after a registration.
    current: Option<Arc<Redactor>>,
}

fn registry() -> &'static RwLock<Registry> {
    static REGISTRY: OnceLock<RwLock<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(RwLock::default)
}

/// Adds `secret` to the secrets masked in every output from now on. Cheap
/// when it is known already; ignored when shorter than [`MIN_SECRET_LEN`].
pub fn register(secret: &str) {
    if secret.len() < MIN_SECRET_LEN {
        return;
    }
    let known = |r: &Registry| r.known.contains(secret) || r.known.len() >= MAX_SECRETS;
    if registry().read().map(|r| known(&r)).unwrap_or(false) {
        return;
    }
    let mut r = registry().write().unwrap_or_else(|e| e.into_inner());
    if !known(&r) {
        r.known.insert(secret.to_owned());
        r.needles.extend(forms(secret));
        r.current = None;
    }
}

/// Registers a secret-like header value (`Authorization: Bearer x`, say)
/// and the parts of it a server may echo alone: the credential after its
/// auth scheme and, for `Basic`, the decoded `user:password` and the
/// password ([`credential_parts`]).
pub fn register_header(value: &str) {
    register(value);
    credential_parts(value).iter().for_each(|p| register(p));
}

/// Auth schemes whose values are credentials whatever the header's name.
const AUTH_SCHEMES: &[&str] = &["bearer", "basic", "token", "digest", "negotiate", "apikey"];

/// True when `value` is `<scheme> <credential>` with a well-known auth
/// scheme (`Bearer`, `Basic`, `Token`, `Digest`, `Negotiate`, `ApiKey`).
pub fn has_auth_scheme(value: &str) -> bool {
    value
        .trim_start()
        .split_once(' ')
        .is_some_and(|(scheme, _)| AUTH_SCHEMES.iter().any(|s| scheme.eq_ignore_ascii_case(s)))
}

/// The credential of a `<scheme> <credential>` value (any scheme name of
/// letters, digits, `-` and `_`), and for `Basic` its base64-decoded
/// `user:password` and the password alone; empty for any other value.
pub fn credential_parts(value: &str) -> Vec<String> {
    use base64::Engine as _;
    let Some((scheme, rest)) = value.trim().split_once(' ') else {
        return Vec::new();
    };
    let credential = rest.trim();
    let is_scheme = scheme.len() <= 32
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !is_scheme || credential.is_empty() {
        return Vec::new();
    }
    let mut parts = vec![credential.to_owned()];
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credential)
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        if let Some(decoded) = decoded {
            if let Some((_, password)) = decoded.split_once(':') {
                parts.push(password.to_owned());
            }
            parts.push(decoded);
        }
    }
    parts
}

/// The redactor for every secret registered so far.
pub fn current() -> Arc<Redactor> {
    if let Some(current) = registry()
        .read()
        .ok()
        .and_then(|r| r.current.as_ref().map(Arc::clone))
    {
        return current;
    }
    let mut r = registry().write().unwrap_or_else(|e| e.into_inner());
    if r.current.is_none() {
        r.needles.sort_unstable();
        r.needles.dedup();
        r.current = Some(Arc::new(Redactor::from_needles(&r.needles)));
    }
    r.current.as_ref().map(Arc::clone).unwrap_or_default()
}

/// `bytes` with every registered secret and every issued token masked.
fn redact_all<'a>(redactor: &Redactor, bytes: &'a [u8]) -> Cow<'a, [u8]> {
    match redactor.redact(bytes) {
        Cow::Borrowed(bytes) => tokens::mask(bytes),
        Cow::Owned(masked) => {
            let again = match tokens::mask(&masked) {
                Cow::Owned(again) => Some(again),
                Cow::Borrowed(_) => None,
            };
            Cow::Owned(again.unwrap_or(masked))
        }
    }
}

/// `text` with every registered secret and every issued token masked.
pub fn redact_str(text: &str) -> String {
    match redact_all(&current(), text.as_bytes()) {
        Cow::Borrowed(_) => text.to_owned(),
        Cow::Owned(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Where an [`Output`] goes.
#[derive(Debug)]
enum Sink {
    Stdout,
    Stderr,
    File(std::fs::File),
}

/// The one writer of everything chatload prints or writes: it collects what
/// it is given and, at [`flush`](Write::flush) (or drop), writes it with
/// every registered secret masked. Collecting first means a secret split
/// across two writes is still found.
#[derive(Debug)]
pub struct Output {
    sink: Sink,
    buf: Vec<u8>,
}

impl Output {
    pub fn stdout() -> Self {
        Self::to(Sink::Stdout)
    }

    pub fn stderr() -> Self {
        Self::to(Sink::Stderr)
    }

    pub fn file(file: std::fs::File) -> Self {
        Self::to(Sink::File(file))
    }

    fn to(sink: Sink) -> Self {
        Self {
            sink,
            buf: Vec::new(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let redactor = current();
        let bytes = redact_all(&redactor, &self.buf);
        let written = match &mut self.sink {
            Sink::Stdout => write_locked(&mut io::stdout().lock(), &bytes),
            Sink::Stderr => write_locked(&mut io::stderr().lock(), &bytes),
            Sink::File(file) => write_locked(file, &bytes),
        };
        self.buf.clear();
        written
    }
}

fn write_locked(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    w.write_all(bytes)?;
    w.flush()
}

impl Drop for Output {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Writes `bytes` to `file`, every registered secret masked.
///
/// # Errors
/// The write failed.
pub fn write_file(file: std::fs::File, bytes: &[u8]) -> io::Result<()> {
    let mut out = Output::file(file);
    out.write_all(bytes)?;
    out.flush()
}

/// Prints `args` and a newline to stdout (`to_stderr`: stderr), masked.
/// Use [`outln!`](crate::outln) and [`errln!`](crate::errln).
pub fn print_line(to_stderr: bool, args: std::fmt::Arguments<'_>) {
    let mut out = if to_stderr {
        Output::stderr()
    } else {
        Output::stdout()
    };
    let _ = writeln!(out, "{args}");
}

/// Prints `text` to stdout without a newline, masked.
pub fn print(text: &str) {
    let _ = Output::stdout().write_all(text.as_bytes());
}

/// `tracing`'s writer: each log line goes to stderr masked.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = Output;

    fn make_writer(&'a self) -> Self::Writer {
        Output::stderr()
    }
}

/// `println!` through the redactor.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => { $crate::redact::print_line(false, format_args!($($arg)*)) };
}

/// `eprintln!` through the redactor.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => { $crate::redact::print_line(true, format_args!($($arg)*)) };
}

/// Panic messages through the redactor: the default hook writes to stderr
/// directly, and a panic's message can hold anything (a response body, a
/// header). Same text as the default hook; the backtrace as `RUST_BACKTRACE`
/// asks.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("<unnamed>");
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            print_line(
                true,
                format_args!("\nthread '{name}' {info}\nstack backtrace:\n{backtrace}"),
            );
        } else {
            print_line(
                true,
                format_args!(
                    "\nthread '{name}' {info}\nnote: run with `RUST_BACKTRACE=1` \
                     environment variable to display a backtrace"
                ),
            );
        }
    }));
}

mod decoded;
mod forms;
mod term;
mod tokens;
use forms::forms;
pub use term::RedactedTerm;
pub use tokens::issue;

#[cfg(test)]
mod tests;
