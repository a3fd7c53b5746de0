//! The files a command writes. Before any work they are checked: each path
//! writable (changing no file), and no two of them, nor one of them and an
//! input, the same file however spelled ([`refuse_same_file`]). At the end
//! ([`Outputs::deliver`]) every output that can be written is, each one that
//! cannot is named with its path and why, and the JSON report, the one that
//! holds the data, is saved to a fallback path (said where) rather than lost.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, anyhow};

use super::{AppError, Exit, run_failed, usage};

/// What an output file is, for the flag that names it and for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Json,
    Junit,
    Html,
    Csv,
}

impl Kind {
    /// The flag that names it.
    pub(super) fn flag(self) -> &'static str {
        match self {
            Kind::Json => "--out",
            Kind::Junit => "--junit",
            Kind::Html => "--html",
            Kind::Csv => "--csv",
        }
    }

    /// What it is, in a sentence.
    fn what(self) -> &'static str {
        match self {
            Kind::Json => "the JSON report",
            Kind::Junit => "the JUnit report",
            Kind::Html => "the HTML report",
            Kind::Csv => "the CSV statistics",
        }
    }
}

/// Where the JSON report goes.
struct ReportPath {
    /// `--out`, or the default name.
    asked: PathBuf,
    /// A default name: created new (`-2`, `-3`, ... when taken), never overwritten.
    fresh: bool,
    /// Where it goes instead when `asked` cannot be written (created new).
    fallbacks: Vec<PathBuf>,
}

/// The files a command writes: checked before any work, created only when
/// there is something to write in them, so a usage error or a failed run
/// never leaves an existing file emptied (nor an empty new one behind).
pub(super) struct Outputs {
    report: Option<ReportPath>,
    /// The other outputs, in the order they are written.
    extra: Vec<(Kind, PathBuf)>,
}

/// Checks the outputs of `run` and `conform`: the JSON report (`explicit`,
/// else a fresh `default` name) and `extra` (JUnit, HTML, CSV), none of
/// them the same file as another, each writable, changing no file. Either
/// is a usage error (exit 2).
pub(super) fn check_outputs(
    explicit: Option<&Path>,
    default: PathBuf,
    extra: &[(Kind, Option<&Path>)],
) -> Result<Outputs, AppError> {
    let extra = given(extra);
    let named: Vec<(&str, &Path)> = explicit
        .map(|p| (Kind::Json.flag(), p))
        .into_iter()
        .chain(extra.iter().map(|(kind, p)| (kind.flag(), p.as_path())))
        .collect();
    refuse_same_file(&named, &[])?;
    let asked = explicit.map_or_else(|| default.clone(), Path::to_owned);
    check_writable_paths(std::iter::once(asked.as_path()).chain(named.iter().map(|n| n.1)))?;
    let spare = std::env::temp_dir().join(format!(
        "chatload-{}",
        default.file_name().unwrap_or_default().to_string_lossy()
    ));
    let fallbacks = match explicit {
        Some(_) => vec![default, spare],
        None => vec![spare],
    };
    Ok(Outputs {
        report: Some(ReportPath {
            asked,
            fresh: explicit.is_none(),
            fallbacks,
        }),
        extra,
    })
}

/// Checks outputs that are renderings only (`report --html/--csv`), none of
/// them `input` (the report read) or another, each writable.
pub(super) fn check_renderings(
    input: (&str, &Path),
    extra: &[(Kind, Option<&Path>)],
) -> Result<Outputs, AppError> {
    let extra = given(extra);
    let named: Vec<(&str, &Path)> = extra.iter().map(|(k, p)| (k.flag(), p.as_path())).collect();
    refuse_same_file(&named, &[input])?;
    check_writable_paths(named.iter().map(|n| n.1))?;
    Ok(Outputs {
        report: None,
        extra,
    })
}

/// The outputs given, each with its kind.
fn given(extra: &[(Kind, Option<&Path>)]) -> Vec<(Kind, PathBuf)> {
    extra
        .iter()
        .filter_map(|&(kind, path)| Some((kind, path?.to_owned())))
        .collect()
}

/// Refuses (a usage error, before any work) two `outputs` that are the same
/// file, or an output that is one of `inputs`, however spelled
/// ([`file_identity`]): one would overwrite the other. Each is a flag (or
/// what an input is) and its path; the message names both as given.
pub(super) fn refuse_same_file(
    outputs: &[(&str, &Path)],
    inputs: &[(&str, &Path)],
) -> Result<(), AppError> {
    let identities: Vec<PathBuf> = outputs.iter().map(|(_, p)| file_identity(p)).collect();
    for (i, (flag, path)) in outputs.iter().enumerate() {
        let earlier = outputs[..i]
            .iter()
            .zip(&identities)
            .find(|(_, id)| **id == identities[i]);
        if let Some(((other, other_path), _)) = earlier {
            return Err(usage(anyhow!(
                "{other} {} and {flag} {} are the same file: one output would overwrite the \
                 other; give each its own path",
                other_path.display(),
                path.display()
            )));
        }
        if let Some((what, input)) = inputs
            .iter()
            .find(|(_, input)| file_identity(input) == identities[i])
        {
            return Err(usage(anyhow!(
                "{flag} {} is {}, {what}: writing there would replace it; write it to another \
                 file",
                path.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

/// What a path names, for telling whether two paths are one file however
/// spelled (`./out/x.json`, `out/x.json`, `out/../out/x.json`, through a
/// symbolic link): its canonical path, also when the file or its directory
/// does not exist yet (the part that exists resolved, the rest appended).
pub(super) fn file_identity(path: &Path) -> PathBuf {
    identity_within(path, LINKS_FOLLOWED)
}

/// How many dangling symbolic links [`file_identity`] follows (a loop ends).
const LINKS_FOLLOWED: u8 = 16;

fn identity_within(path: &Path, links: u8) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    // Resolved one part at a time: the path so far is canonical (no link in
    // it), so a `..` after it is its parent, also where the rest is not there.
    let mut identity = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                identity.pop();
            }
            other => {
                identity.push(other);
                if let Ok(canonical) = std::fs::canonicalize(&identity) {
                    identity = canonical;
                } else if let (Some(next), Ok(target)) =
                    (links.checked_sub(1), std::fs::read_link(&identity))
                {
                    // A link to what does not exist yet names its target.
                    identity.pop();
                    identity = identity_within(&identity.join(target), next);
                }
            }
        }
    }
    identity
}

/// [`check_writable`] for every path, as a usage error naming the first one
/// that cannot be written.
pub(super) fn check_writable_paths<'a>(
    paths: impl IntoIterator<Item = &'a Path>,
) -> Result<(), AppError> {
    for path in paths {
        check_writable(path).map_err(usage)?;
    }
    Ok(())
}

/// What [`Outputs::deliver`] wrote, and what it could not.
pub(super) struct Delivered {
    /// Where the JSON report is: its own path, or the fallback it went to.
    pub(super) report: Option<PathBuf>,
    /// The other outputs written.
    pub(super) written: Vec<(Kind, PathBuf)>,
    /// One line per output not written where asked: which, where, why (and
    /// where the JSON report was saved instead).
    pub(super) failures: Vec<String>,
}

impl Outputs {
    /// Writes every output, the JSON report first, each from `render`; one
    /// that cannot be rendered or written does not keep the others from
    /// being written. The JSON report that cannot go to its path goes to the
    /// first fallback that takes it.
    pub(super) fn deliver(&self, render: impl Fn(Kind) -> anyhow::Result<Vec<u8>>) -> Delivered {
        let mut delivered = Delivered {
            report: None,
            written: Vec::new(),
            failures: Vec::new(),
        };
        if let Some(report) = &self.report {
            let (path, failure) = report.write(|| render(Kind::Json));
            delivered.report = path;
            delivered.failures.extend(failure);
        }
        for (kind, path) in &self.extra {
            match render(*kind).and_then(|bytes| write_to(path, &bytes)) {
                Ok(()) => delivered.written.push((*kind, path.clone())),
                Err(e) => delivered.failures.push(format!(
                    "cannot write {} to {}: {e:#}",
                    kind.what(),
                    path.display()
                )),
            }
        }
        delivered
    }
}

impl ReportPath {
    /// Writes the JSON report where asked, else to a fallback; returns where
    /// it went, and the failure to name when that is not where asked.
    fn write(
        &self,
        render: impl FnOnce() -> anyhow::Result<Vec<u8>>,
    ) -> (Option<PathBuf>, Option<String>) {
        let what = Kind::Json.what();
        let asked = self.asked.display();
        let bytes = match render() {
            Ok(bytes) => bytes,
            Err(e) => return (None, Some(format!("cannot write {what} to {asked}: {e:#}"))),
        };
        let first = if self.fresh {
            write_new(self.asked.clone(), &bytes)
        } else {
            write_to(&self.asked, &bytes).map(|()| self.asked.clone())
        };
        let error = match first {
            Ok(path) => return (Some(path), None),
            Err(e) => e,
        };
        let mut failure = format!("cannot write {what} to {asked}: {error:#}");
        for fallback in &self.fallbacks {
            match write_new(fallback.clone(), &bytes) {
                Ok(path) => {
                    failure.push_str(&format!("; it was saved to {} instead", path.display()));
                    return (Some(path), Some(failure));
                }
                Err(e) => failure.push_str(&format!("; nor to {} ({e:#})", fallback.display())),
            }
        }
        failure.push_str("; it could be saved nowhere: only the summary above is left");
        (None, Some(failure))
    }
}

impl Delivered {
    /// The `html: PATH` and `csv: PATH` lines of the renderings written.
    pub(super) fn print_renderings(&self) {
        for (kind, path) in &self.written {
            match kind {
                Kind::Html => crate::outln!("html: {}", path.display()),
                Kind::Csv => crate::outln!("csv: {}", path.display()),
                Kind::Json | Kind::Junit => {}
            }
        }
    }

    /// The `report: PATH` line, when the JSON report was written somewhere.
    pub(super) fn print_report(&self) {
        if let Some(path) = &self.report {
            crate::outln!("report: {}", path.display());
        }
    }

    /// `exit` when every output was written where asked; else each failure
    /// on stderr and a run failure (exit 3) saying the results are printed.
    pub(super) fn exit(self, exit: Exit) -> Result<Exit, AppError> {
        if self.failures.is_empty() {
            return Ok(exit);
        }
        for failure in &self.failures {
            crate::errln!("error: {failure}");
        }
        Err(run_failed(anyhow!(
            "{} output(s) could not be written where asked (above); the work itself is done \
             and its summary printed",
            self.failures.len()
        )))
    }
}

/// Writes `bytes` to `path` (replacing it), an output whose path was checked
/// before the work: failing now (a full disk, a directory removed
/// meanwhile) is a failure of the command, not a usage error.
fn write_to(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_bytes(create_report_file(path)?, bytes)
}

/// Writes `bytes` to a new file at `path` (or `-2`, `-3`, ...); returns where.
fn write_new(path: PathBuf, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    let (path, file) = create_new_report_file(path)?;
    write_bytes(file, bytes)?;
    Ok(path)
}

/// Writes the one output of a command (`what`, e.g. "the merged report"),
/// naming it and its path when that fails (exit 3).
pub(super) fn write_file(what: &str, path: &Path, bytes: &[u8]) -> Result<(), AppError> {
    write_to(path, bytes)
        .with_context(|| format!("cannot write {what} to {}", path.display()))
        .map_err(run_failed)
}

/// Creates `path`, or `<stem>-2.json`, `<stem>-3.json`, ... when it exists:
/// a default report name never overwrites a file.
pub(super) fn create_new_report_file(path: PathBuf) -> anyhow::Result<(PathBuf, std::fs::File)> {
    create_parent(&path)?;
    let stem = path.with_extension("");
    for n in 1..1000 {
        let candidate = if n == 1 {
            path.clone()
        } else {
            PathBuf::from(format!("{}-{n}.json", stem.display()))
        };
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(file) => return Ok((candidate, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(anyhow::Error::new(e))
                    .with_context(|| format!("cannot create {}", candidate.display()));
            }
        }
    }
    Err(anyhow!(
        "cannot create {}: too many files of that name",
        path.display()
    ))
}

/// Checks that `path` can be written without changing what is there: an
/// existing file is opened for writing but not truncated, a new one is
/// created and removed again.
pub(super) fn check_writable(path: &Path) -> anyhow::Result<()> {
    create_parent(path).with_context(|| format!("cannot write to {}", path.display()))?;
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("cannot write to {}", path.display()))?;
    if !existed {
        // Best effort: an empty file left behind would lose nothing either.
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Creates the directories an output file goes in. A part of the way that
/// is a file is named as such (the OS would say "File exists" or "Not a
/// directory" of the whole path).
fn create_parent(path: &Path) -> anyhow::Result<()> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if let Some(file) = dir
        .ancestors()
        .find(|a| !a.as_os_str().is_empty() && a.exists() && !a.is_dir())
    {
        anyhow::bail!("{} is a file, not a directory", file.display());
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the directory {}", dir.display()))
}

/// Creates (or empties) an output file, once there is something to write in it.
pub(super) fn create_report_file(path: &Path) -> anyhow::Result<std::fs::File> {
    create_parent(path)?;
    Ok(std::fs::File::create(path)?)
}

/// Writes an output file through the one redaction step ([`crate::redact`]).
fn write_bytes(file: std::fs::File, bytes: &[u8]) -> anyhow::Result<()> {
    Ok(crate::redact::write_file(file, bytes)?)
}

#[cfg(test)]
mod tests;
