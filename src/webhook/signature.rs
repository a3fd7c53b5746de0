//! `X-Hook-Signature`: HMAC-SHA256 of the raw body keyed with the webhook's
//! secret, lower-case hex (reference §5.3; the encoding is [inferred] there,
//! so it lives in these two functions only).

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The signature the API puts on `body` for a webhook with `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Whether `signature` (hex, either case) is `body`'s HMAC under `secret`.
/// The comparison is constant-time, so a forger learns nothing from timing.
pub fn verify(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Some(expected) = decode_hex(signature.trim()) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_4231_test_vector() {
        // RFC 4231, test case 2.
        let sig = sign(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(verify(b"Jefe", b"what do ya want for nothing?", &sig));
        assert!(verify(
            b"Jefe",
            b"what do ya want for nothing?",
            &sig.to_uppercase()
        ));
    }

    #[test]
    fn rejects_forged_or_malformed_signatures() {
        let body = br#"{"trigger":"chats:join"}"#;
        let sig = sign(b"secret", body);
        assert!(!verify(b"other", body, &sig));
        assert!(!verify(b"secret", b"tampered", &sig));
        assert!(!verify(b"secret", body, "zz"));
        assert!(!verify(b"secret", body, &sig[..63]));
        assert!(!verify(b"secret", body, ""));
    }
}
