//! The progress bar's terminal behind the redactor: indicatif draws its bar
//! (the scenario name, the status line) through a [`RedactedTerm`], which
//! masks every registered secret in what it writes, as [`Output`](super::Output)
//! does for everything else. Cursor movement passes through unchanged.

use std::io;

use indicatif::TermLike;

/// A terminal for indicatif whose written text is redacted.
#[derive(Debug)]
pub struct RedactedTerm<T = console::Term>(T);

impl RedactedTerm {
    /// Standard error, where the progress bar goes.
    pub fn on_stderr() -> Self {
        Self(console::Term::stderr())
    }
}

impl<T: TermLike> RedactedTerm<T> {
    /// `inner`, with what is written to it redacted.
    pub fn new(inner: T) -> Self {
        Self(inner)
    }
}

impl<T: TermLike> TermLike for RedactedTerm<T> {
    fn width(&self) -> u16 {
        self.0.width()
    }

    fn height(&self) -> u16 {
        self.0.height()
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_up(n)
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_down(n)
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_right(n)
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_left(n)
    }

    fn write_line(&self, s: &str) -> io::Result<()> {
        self.0.write_line(&super::redact_str(s))
    }

    fn write_str(&self, s: &str) -> io::Result<()> {
        self.0.write_str(&super::redact_str(s))
    }

    fn clear_line(&self) -> io::Result<()> {
        self.0.clear_line()
    }

    fn flush(&self) -> io::Result<()> {
        self.0.flush()
    }
}
