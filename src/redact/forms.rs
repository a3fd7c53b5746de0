//! The forms a secret can take in output, each masked like the secret
//! itself: what a server may send back (the secret raw; JSON-escaped, as in
//! a JSON dump of the request's headers inside an error message;
//! URL-encoded; base64), each of the first two as the renderers escape it
//! again (JSON, HTML/XML, CSV). A server's JSON-escaped copy written to a
//! JSON or JUnit file is escaped twice, so that twice-escaped form is here
//! too.
//!
//! URL encoders differ in what they leave alone (`/` for Python's `quote`,
//! `!*'()` for JavaScript's `encodeURIComponent`, `*` for HTML forms), in
//! a space (`%20` or `+`) and in the case of their hex digits: each
//! variant is a form. Base64 is standard and URL-safe, with and without
//! padding; for a secret of at least [`MIN_CORE_BYTES`] bytes also the
//! characters that only its own bytes decide at each of the three
//! alignments, so the secret is found inside a longer base64 text too (a
//! `Basic` header's `user:secret` echoed encoded).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

use super::MIN_SECRET_LEN;

/// A secret this long or longer is also looked for inside longer base64
/// text: its core at each alignment has at least 8 characters, so a match
/// by chance is negligible.
pub(super) const MIN_CORE_BYTES: usize = 7;

/// Characters URL encoders leave alone besides RFC 3986's unreserved ones.
const URL_KEPT: [&str; 4] = ["", "/", "*", "!*'()"];

/// `secret` and every form it is masked in (empty when it is shorter than
/// [`MIN_SECRET_LEN`]), without duplicates.
pub(super) fn forms(secret: &str) -> Vec<String> {
    some_forms(secret, true)
}

/// [`forms`] but the base64 ones: what the token book keeps of a token long
/// enough to be found by decoding base64 text instead (`tokens.rs`).
pub(super) fn text_forms(secret: &str) -> Vec<String> {
    some_forms(secret, false)
}

fn some_forms(secret: &str, base64: bool) -> Vec<String> {
    if secret.len() < MIN_SECRET_LEN {
        return Vec::new();
    }
    // A session token is hex or base64url: no escape or encoder changes its
    // characters, so those forms are the token itself (and a lifecycle
    // captures one per iteration: on the request path, this skips two dozen
    // strings built only to be dropped as duplicates).
    let escaped = !secret.bytes().all(unchanged_everywhere);
    forms_escaped_or_not(secret, escaped, base64)
}

/// `secret`'s forms, with the escaped and URL-encoded copies built only
/// when `escaped` (they can differ from `secret`), the base64 ones when
/// `base64`.
fn forms_escaped_or_not(secret: &str, escaped: bool, base64: bool) -> Vec<String> {
    let mut out = vec![secret.to_owned()];
    if escaped {
        let json = json_escaped(secret);
        for sent in [secret, json.as_str()] {
            out.extend(rendered(sent));
        }
        out.extend(url_encoded(secret));
    }
    if base64 {
        out.extend(base64_forms(secret));
    }
    out.retain(|f| f.len() >= MIN_SECRET_LEN);
    out.sort_unstable();
    out.dedup();
    out
}

/// A byte every escape and URL encoder here leaves as it is (RFC 3986's
/// unreserved characters).
fn unchanged_everywhere(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

/// `text` and the renderers' escapes of it: JSON string escaping,
/// HTML/XML entities (`&#39;` and `&apos;`), CSV's doubled quotes.
fn rendered(text: &str) -> Vec<String> {
    let html = crate::text::escape_html(text);
    vec![
        text.to_owned(),
        json_escaped(text),
        html.replace("&#39;", "&apos;"),
        html,
        text.replace('"', "\"\""),
    ]
}

/// `text` as the inside of a JSON string.
fn json_escaped(text: &str) -> String {
    let json = serde_json::to_string(text).unwrap_or_default();
    json.get(1..json.len().saturating_sub(1))
        .unwrap_or_default()
        .to_owned()
}

/// `secret` percent-encoded as common encoders do it.
fn url_encoded(secret: &str) -> Vec<String> {
    let mut out = Vec::new();
    for kept in URL_KEPT {
        for plus_for_space in [false, true] {
            for lower_hex in [false, true] {
                out.push(percent_encode(secret, kept, plus_for_space, lower_hex));
            }
        }
    }
    out
}

fn percent_encode(secret: &str, kept: &str, plus_for_space: bool, lower_hex: bool) -> String {
    let mut out = String::with_capacity(secret.len() * 3);
    for b in secret.bytes() {
        if unchanged_everywhere(b) || kept.as_bytes().contains(&b) {
            out.push(char::from(b));
        } else if b == b' ' && plus_for_space {
            out.push('+');
        } else if lower_hex {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `secret` in base64, standard and URL-safe, padded and not, and its
/// cores at the three alignments when it is long enough.
fn base64_forms(secret: &str) -> Vec<String> {
    let bytes = secret.as_bytes();
    let mut out: Vec<String> = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .map(|engine| engine.encode(bytes))
        .collect();
    if bytes.len() >= MIN_CORE_BYTES {
        for shift in 0..3 {
            let core = base64_core(bytes, shift);
            out.push(core.replace('+', "-").replace('/', "_"));
            out.push(core);
        }
    }
    out
}

/// The base64 characters (standard alphabet) that only `bytes` decide when
/// they follow `shift` other bytes in the encoded text: character `i`
/// covers bits `6i..6i+6`, the secret bits `8 shift..8 (shift + len)`.
fn base64_core(bytes: &[u8], shift: usize) -> String {
    let mut shifted = vec![0u8; shift];
    shifted.extend_from_slice(bytes);
    let encoded = STANDARD_NO_PAD.encode(&shifted);
    let first = (8 * shift).div_ceil(6);
    let last = (8 * (shift + bytes.len())) / 6;
    encoded.get(first..last).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECIAL: &str = "Zq9+Sec/ret=Leak&Can \"ary\"<77>";

    #[test]
    fn url_forms_cover_the_common_encoders() {
        let forms = forms(SPECIAL);
        for form in [
            // Python's quote (keeps `/`), quote_plus, encodeURIComponent, lower-case hex.
            "Zq9%2BSec/ret%3DLeak%26Can%20%22ary%22%3C77%3E",
            "Zq9%2BSec%2Fret%3DLeak%26Can+%22ary%22%3C77%3E",
            "Zq9%2BSec%2Fret%3DLeak%26Can%20%22ary%22%3C77%3E",
            "Zq9%2bSec%2fret%3dLeak%26Can+%22ary%22%3c77%3e",
        ] {
            assert!(forms.iter().any(|f| f == form), "{form} not in {forms:?}");
        }
    }

    #[test]
    fn base64_forms_cover_both_alphabets_padding_and_alignments() {
        let forms = forms(SPECIAL);
        let inside_basic = STANDARD.encode(format!("user:{SPECIAL}"));
        for form in [
            STANDARD.encode(SPECIAL),
            URL_SAFE_NO_PAD.encode(SPECIAL),
            STANDARD.encode(format!("x{SPECIAL}")),
        ] {
            let found = forms.iter().any(|f| f == &form)
                || forms
                    .iter()
                    .any(|f| f.len() >= 8 && form.contains(f.as_str()));
            assert!(found, "{form} not covered by {forms:?}");
        }
        let core_found = forms
            .iter()
            .any(|f| f.len() >= 8 && inside_basic.contains(f.as_str()));
        assert!(core_found, "{inside_basic} not covered");
    }

    #[test]
    fn a_json_escaped_copy_escaped_again_by_a_renderer_is_a_form() {
        let forms = forms(SPECIAL);
        let once = json_escaped(SPECIAL);
        for form in [
            json_escaped(&once),
            crate::text::escape_html(&once),
            once.replace('"', "\"\""),
        ] {
            assert!(forms.contains(&form), "{form} not in {forms:?}");
        }
    }

    /// The shortcut for tokens of unreserved characters gives exactly the
    /// forms the whole way does.
    #[test]
    fn an_unreserved_token_has_the_same_forms_the_long_way() {
        for token in ["0123abcdef4567", "tok_3c1d-9.~Z", "demo-secret", "a1b2"] {
            assert_eq!(
                forms(token),
                forms_escaped_or_not(token, true, true),
                "{token}"
            );
            assert_eq!(
                text_forms(token),
                forms_escaped_or_not(token, true, false),
                "{token}"
            );
        }
    }

    #[test]
    fn a_short_secret_gets_no_core_and_a_too_short_one_no_form() {
        assert!(forms("abc").is_empty());
        // "demo": its full base64 forms, no 4-character core.
        let forms = forms("demo");
        assert!(forms.contains(&"ZGVtbw==".to_owned()), "{forms:?}");
        assert!(forms.iter().all(|f| f.len() >= 4), "{forms:?}");
        assert!(!forms.contains(&"ZGVt".to_owned()), "{forms:?}");
    }
}
