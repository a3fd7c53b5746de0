use super::*;

#[test]
fn every_secret_and_its_escaped_forms_are_masked_in_one_pass() {
    let r = Redactor::new(["s3cr3t-value", "tok\"&<en>", "ab"]);
    let text = "a s3cr3t-value, json tok\\\"&<en>, html tok&quot;&amp;&lt;en&gt;, \
                csv tok\"\"&<en>, raw tok\"&<en>; short ab stays";
    let out = r.redact_str(text);
    assert!(!out.contains("s3cr3t"), "{out}");
    assert!(!out.contains("tok"), "{out}");
    assert_eq!(out.matches(MASK).count(), 5, "{out}");
    assert!(out.ends_with("short ab stays"), "{out}");
}

#[test]
fn text_without_a_secret_is_borrowed_unchanged() {
    let r = Redactor::new(["s3cr3t-value"]);
    assert!(matches!(r.redact(b"nothing here"), Cow::Borrowed(_)));
    assert!(matches!(
        Redactor::default().redact(b"s3cr3t-value"),
        Cow::Borrowed(_)
    ));
}

#[test]
fn registered_secrets_are_masked_by_every_output_from_then_on() {
    let secret = "registered-in-a-unit-test-9f2c";
    assert_eq!(
        redact_str(&format!("x {secret} y")),
        format!("x {secret} y")
    );
    register(secret);
    register(secret);
    assert_eq!(redact_str(&format!("x {secret} y")), format!("x {MASK} y"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.txt");
    let mut out = Output::file(std::fs::File::create(&path).unwrap());
    // A secret split across two writes is still found.
    out.write_all(&secret.as_bytes()[..5]).unwrap();
    out.write_all(&secret.as_bytes()[5..]).unwrap();
    drop(out);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), MASK);
}

/// The guard that keeps the redactor the one way out: no code in `src/`
/// other than this module prints, opens a file for writing or draws a
/// progress bar on the terminal directly (test modules, inline or in a
/// `tests.rs`, may write fixtures), and `main` routes panic messages through it.
#[test]
fn no_output_bypasses_the_redactor() {
    const FORBIDDEN: &[&str] = &[
        "println!",
        "print!(",
        "eprint!(",
        "eprintln!",
        "fs::write(",
        "stdout().write",
        "stderr().write",
        ".write_all(",
        // indicatif's own terminal targets (and the constructors that pick
        // one) write past the redactor; a bar draws on a `RedactedTerm`.
        "ProgressDrawTarget::std",
        "ProgressDrawTarget::term(",
        "ProgressBar::new(",
        "ProgressBar::new_spinner(",
        "ProgressBar::no_length(",
        "MultiProgress::new(",
        "Term::std",
        "Term::buffered_std",
        "Term::read_write_pair",
        "panic::set_hook",
    ];
    let main = include_str!("../main.rs");
    assert!(
        main.contains("redact::install_panic_hook()"),
        "main.rs must install the redacting panic hook"
    );
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    for path in guarded_sources(root) {
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in code.lines().enumerate() {
            let line = line.trim_start();
            if line.starts_with("//") {
                continue;
            }
            if let Some(bad) = FORBIDDEN.iter().find(|f| line.contains(*f)) {
                offenders.push(format!("{}:{}: {bad}", path.display(), n + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "output that bypasses src/redact.rs (use outln!/errln!/redact::write_file):\n{}",
        offenders.join("\n")
    );
}

/// The `.rs` files under `root` the guard reads: all but the redactor's own and test modules.
fn guarded_sources(root: std::path::PathBuf) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("redact") {
                    stack.push(path);
                }
                continue;
            }
            // A `tests.rs` file is a test module (`#[cfg(test)] mod tests;`).
            if path.extension().is_none_or(|e| e != "rs")
                || path.ends_with("redact.rs")
                || path.ends_with("tests.rs")
            {
                continue;
            }
            files.push(path);
        }
    }
    files
}
