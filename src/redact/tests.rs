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
            // A `tests/` folder holds a test module's children (`client/tests/hostile.rs`).
            if path.is_dir() {
                if !path.ends_with("redact") && !path.ends_with("tests") {
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

#[test]
fn an_auth_scheme_credential_is_masked_without_its_scheme() {
    assert_eq!(credential_parts("Bearer tok-3c1d"), ["tok-3c1d"]);
    assert_eq!(credential_parts("Token  tok-3c1d "), ["tok-3c1d"]);
    assert!(credential_parts("single-word-value").is_empty());
    // "admin:pw-basic-91" in base64.
    let basic = credential_parts("Basic YWRtaW46cHctYmFzaWMtOTE=");
    assert_eq!(
        basic,
        [
            "YWRtaW46cHctYmFzaWMtOTE=",
            "pw-basic-91",
            "admin:pw-basic-91"
        ]
    );
    assert!(has_auth_scheme("bearer x") && has_auth_scheme("Basic x"));
    assert!(!has_auth_scheme("Bearer") && !has_auth_scheme("text with spaces"));

    register_header("Bearer unit-bearer-cred-61d0");
    register_header("Basic dXNlcjp1bml0LWJhc2ljLXB3LTcz");
    let out = redact_str(
        "invalid bearer token unit-bearer-cred-61d0; basic user:unit-basic-pw-73, pw unit-basic-pw-73",
    );
    assert_eq!(
        out, "invalid bearer token MASKED; basic MASKED, pw MASKED",
        "{out}"
    );
}

#[test]
fn an_issued_token_is_masked_in_every_output_and_escaped_form() {
    let token = "issued-unit-token-0a7e-zz";
    let text = format!("session conflict with {token}.");
    assert_eq!(redact_str(&text), text);
    issue(token);
    issue(token);
    assert_eq!(redact_str(&text), "session conflict with MASKED.");
    // At the very start and end, twice, and next to other text.
    let out = redact_str(&format!("{token}x{token}"));
    assert_eq!(out, "MASKEDxMASKED");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.txt");
    let mut out = Output::file(std::fs::File::create(&path).unwrap());
    out.write_all(format!("[\"{token}\"]").as_bytes()).unwrap();
    drop(out);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "[\"MASKED\"]");
    // A token the reports escape is found in its escaped forms too.
    let odd = "odd<unit>\"token\"-5e";
    issue(odd);
    let json = serde_json::to_string(odd).unwrap();
    let html = crate::text::escape_html(odd);
    let out = redact_str(&format!("{odd} {json} {html}"));
    assert_eq!(out, "MASKED \"MASKED\" MASKED", "{out}");
    // Too short to mask inside text.
    issue("ab");
    assert_eq!(redact_str("ab cab"), "ab cab");
}

/// Audit 8, finding 1: a secret a server echoed JSON-escaped (a JSON dump of
/// the request's headers in its error message) reached the JSON and JUnit
/// files escaped a second time, and its URL-encoded and base64 forms were
/// not masked anywhere.
#[test]
fn a_secret_echoed_escaped_encoded_or_in_base64_is_masked_in_every_rendering() {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let secret = "Zq9+Sec/ret=Leak&Can \"ary\"<77>";
    let r = Redactor::new([secret]);
    let dump = serde_json::json!({"x-hyper-secret": secret}).to_string();
    let message = format!(
        "raw {secret} all={dump} url {} form {} b64 {} b64url {} basic {}",
        "Zq9%2BSec/ret%3DLeak%26Can%20%22ary%22%3C77%3E",
        "Zq9%2BSec%2Fret%3DLeak%26Can+%22ary%22%3C77%3E",
        STANDARD.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
        STANDARD.encode(format!("user:{secret}")),
    );
    let json = serde_json::to_string(&message).unwrap();
    let xml = crate::text::escape_html(&message);
    for (what, text) in [("terminal", &message), ("json", &json), ("xml", &xml)] {
        let out = r.redact_str(text);
        for leak in ["Leak", "TGVha", "ary"] {
            assert!(!out.contains(leak), "{what}: {leak} in {out}");
        }
        assert!(out.matches(MASK).count() >= 7, "{what}: {out}");
    }
}

/// A captured token's base64 forms are no longer built when it is issued
/// (on the request path): the output boundary decodes base64 text and finds
/// the token there, at any alignment, inside a longer encoded text, in
/// either alphabet, padded or not.
#[test]
fn an_issued_token_is_masked_inside_base64_text_found_by_decoding() {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let token = "b64tok_9f8e7d6c5b4a-Qz";
    issue(token);
    let unrelated = STANDARD.encode("user:someone-else-entirely");
    assert_eq!(redact_str(&unrelated), unrelated);
    for prefix in ["", "x", "us", "user:"] {
        let plain = format!("{prefix}{token}");
        for encoded in [
            STANDARD.encode(&plain),
            STANDARD_NO_PAD.encode(&plain),
            URL_SAFE_NO_PAD.encode(&plain),
        ] {
            // Alone, after `Basic `, and glued to other base64 characters.
            for text in [
                encoded.clone(),
                format!("Basic {encoded}."),
                format!("QUJD{encoded}"),
                format!("Ab{encoded}"),
            ] {
                let out = redact_str(&text);
                assert!(out.contains(MASK), "{text} -> {out}");
                for window in token_only_chars(&encoded, prefix.len(), token.len()) {
                    assert!(!out.contains(&window), "{window} left in {out} ({text})");
                }
            }
        }
    }
}

/// The 6-character windows of `encoded` whose bits all belong to the
/// `len` bytes after the first `prefix` bytes.
fn token_only_chars(encoded: &str, prefix: usize, len: usize) -> Vec<String> {
    let first = (8 * prefix).div_ceil(6);
    let last = 8 * (prefix + len) / 6;
    let core = &encoded[first..last];
    (0..=core.len() - 6)
        .map(|i| core[i..i + 6].to_owned())
        .collect()
}

/// A token too short for the decoded search keeps its base64 forms.
#[test]
fn a_short_issued_token_is_masked_in_base64_by_its_forms() {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    let token = "Sh0rt";
    issue(token);
    let encoded = STANDARD.encode(token);
    assert_eq!(redact_str(&format!("b64 {encoded}")), "b64 MASKED");
}
