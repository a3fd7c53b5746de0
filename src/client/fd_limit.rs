//! Running out of file descriptors on the load machine itself: a connect that failed with
//! EMFILE (this process's limit, `ulimit -n`) or ENFILE (the whole system's) is the load
//! generator's own limit, not the target refusing. [`out_of_files`] recognises it, the
//! failure says the limit, and [`warn_once`] says it on stderr the first time.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// EMFILE: this process has as many files open as `ulimit -n` lets it.
const EMFILE: i32 = 24;
/// ENFILE: the whole system has as many files open as it allows.
const ENFILE: i32 = 23;

/// Which limit an OS error says was hit, if it is one of too many open files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilesLimit {
    /// This process's (`ulimit -n`), when it could be read.
    Process(Option<u64>),
    /// The whole system's; this process's limit alongside, when it could be read.
    System(Option<u64>),
}

/// The limit `error` says this machine hit, if it is EMFILE or ENFILE.
pub(super) fn out_of_files(error: &std::io::Error) -> Option<FilesLimit> {
    match error.raw_os_error()? {
        EMFILE => Some(FilesLimit::Process(soft_limit())),
        ENFILE => Some(FilesLimit::System(soft_limit())),
        _ => None,
    }
}

/// Reads the limit while a file can still be opened, for [`out_of_files`] to say later.
pub(super) fn read_limit_now() {
    let _ = soft_limit();
}

/// This process's soft limit on open files (`ulimit -n`), read once from
/// `/proc/self/limits`; `None` where that file is not (not Linux) or says nothing.
fn soft_limit() -> Option<u64> {
    static LIMIT: OnceLock<Option<u64>> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/self/limits").ok()?;
        parse_soft_limit(&text)
    })
}

/// The soft limit of the `Max open files` line of a `/proc/self/limits` text.
fn parse_soft_limit(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl std::fmt::Display for FilesLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |n: &Option<u64>| n.map_or_else(|| "unknown".to_owned(), |n| n.to_string());
        match self {
            FilesLimit::Process(n) => write!(
                f,
                "too many open files on this machine (its limit, ulimit -n, is {})",
                shown(n)
            ),
            FilesLimit::System(n) => write!(
                f,
                "too many open files on this machine (the whole system's limit was reached; \
                 this process's, ulimit -n, is {})",
                shown(n)
            ),
        }
    }
}

/// Says once per process, on stderr, that the load generator hit its own limit: its connect
/// failures are not the target's doing.
pub(super) fn warn_once(limit: FilesLimit) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        crate::errln!(
            "warning: the load generator hit its own limit on open files: {limit}; the \
             connections it could not open count as `connect` failures, though the target \
             never saw them. Raise the limit (ulimit -n) above the VUs' connections, or run \
             fewer VUs per machine (--shard)"
        );
    }
}

/// Open files a run needs besides its virtual users' connections: the shared pool's (the
/// clean-up, webhooks, agents), the webhook receiver's, the runtime's and the outputs'.
const SPARE_FILES: u64 = 64;

/// The warning to give before a run whose virtual users may hold `connections` at once when
/// this process may open only `limit` files (`ulimit -n`); `None` when they fit (or the
/// limit is not known).
pub fn too_few_files(limit: Option<u64>, connections: u64) -> Option<String> {
    let limit = limit?;
    let needed = connections + SPARE_FILES;
    (needed > limit).then(|| {
        format!(
            "this machine lets chatload open {limit} files (ulimit -n) and the run's virtual \
             users may hold {connections} connections at once, plus about {SPARE_FILES} other \
             files: connections past the limit will fail as `connect` failures the target \
             never saw. Raise the limit (ulimit -n {}) or run fewer VUs per machine (--shard)",
            needed.next_power_of_two().max(1024)
        )
    })
}

/// This process's limit on open files (`ulimit -n`), where it can be read.
pub fn files_limit() -> Option<u64> {
    soft_limit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_needing_more_files_than_the_limit_is_warned_of_before_it_starts() {
        let warning = too_few_files(Some(256), 1000).expect("1,064 files past a limit of 256");
        assert!(warning.contains("open 256 files"), "{warning}");
        assert!(warning.contains("1000 connections"), "{warning}");
        assert!(warning.contains("ulimit -n 2048"), "{warning}");
        assert_eq!(too_few_files(Some(1024), 900), None);
        assert!(too_few_files(Some(1024), 961).is_some());
        assert_eq!(too_few_files(None, 1_000_000), None);
    }

    // See: outside audit 10, F6 — EMFILE under `ulimit -n 256` read "uncategorized error".
    #[test]
    fn too_many_open_files_is_recognised_and_says_the_limit() {
        let emfile = std::io::Error::from_raw_os_error(EMFILE);
        assert!(matches!(
            out_of_files(&emfile),
            Some(FilesLimit::Process(_))
        ));
        let enfile = std::io::Error::from_raw_os_error(ENFILE);
        assert!(matches!(out_of_files(&enfile), Some(FilesLimit::System(_))));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(out_of_files(&refused), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            256                  1048576              files     \n";
        assert_eq!(parse_soft_limit(limits), Some(256));
        assert_eq!(
            FilesLimit::Process(Some(256)).to_string(),
            "too many open files on this machine (its limit, ulimit -n, is 256)"
        );
    }
}
