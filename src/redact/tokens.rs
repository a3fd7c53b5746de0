//! Tokens the server issued during the run (session tokens captured into a
//! token variable), masked in every output of every virtual user.
//!
//! A token is entered once, when it is captured ([`issue`]): its length is
//! set in a lock-free bit set and a 64-bit hash of it goes into one of
//! [`SHARDS`] small sets, each behind its own mutex, picked by the hash, so
//! virtual users creating users at once rarely meet on the same lock, and
//! no request other than the one that hands out a token does anything here.
//! Only hashes are kept (eight bytes a token), so a long run's hundreds of
//! thousands of tokens cost a few megabytes and no automaton rebuild.
//!
//! Finding them ([`mask`]) is for the failure path and the output
//! boundary: one pass of prefix hashes over the text, then, at each
//! position and for each token length seen, the window's hash looked up in
//! its shard; a match becomes [`MASK`](super::MASK), the longest at a
//! position first. Then the same search in the text's base64 runs, decoded
//! (`decoded.rs`), so a token's base64 forms need not be built per capture.
//! A hash collision can only mask text that was not a token (2^-64 per
//! window), never let a token through.

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use super::{MASK, MIN_SECRET_LEN, decoded};

/// Independent locks the hashes are spread over.
const SHARDS: usize = 16;

/// Tokens up to this many bytes are kept here; a longer one goes to the
/// redactor's own list (`register`).
pub const MAX_TOKEN_LEN: usize = 512;

/// The polynomial hash's base (odd, so every power is invertible mod 2^64).
const BASE: u64 = 0x0100_0000_01b3;

/// One of the book's independently locked sets of hashes.
type Shard = Mutex<HashSet<u64, BuildHasherDefault<Mixed>>>;

#[derive(Default)]
struct Book {
    shards: [Shard; SHARDS],
    /// Bit `n` set: a token of `n` bytes is known.
    lengths: [AtomicU64; MAX_TOKEN_LEN / 64 + 1],
    count: AtomicUsize,
}

/// The hasher of the shards' sets: their keys are [`mix`]ed 64-bit hashes
/// already, so hashing them again (SipHash, per form of every captured
/// token, on the request path) would buy nothing.
#[derive(Default)]
struct Mixed(u64);

impl Hasher for Mixed {
    fn finish(&self) -> u64 {
        // The top bits pick the shard, so they are the same for every key
        // of one set: turned to the middle, away from the bits the set
        // takes its bucket (low) and its tag (top) from.
        self.0.rotate_left(32)
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed here; any other input still spreads.
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(BASE);
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

fn book() -> &'static Book {
    static BOOK: OnceLock<Book> = OnceLock::new();
    BOOK.get_or_init(Book::default)
}

/// A token handed out by the server: masked in every output from now on,
/// in each of the forms a secret is masked in (`forms.rs`: escaped,
/// URL-encoded, base64). Its base64 forms are not built here (on the
/// request path, once per captured token) when it is long enough to be
/// found by decoding base64 text at the output boundary instead
/// (`decoded.rs`).
pub fn issue(token: &str) {
    if token.len() < MIN_SECRET_LEN {
        return;
    }
    if token.len() > MAX_TOKEN_LEN {
        super::register(token);
        return;
    }
    let forms = if token.len() >= decoded::MIN_LEN {
        super::forms::text_forms(token)
    } else {
        super::forms(token)
    };
    forms
        .iter()
        .filter(|f| f.len() <= MAX_TOKEN_LEN)
        .for_each(|f| enter(f.as_bytes()));
}

fn enter(token: &[u8]) {
    let b = book();
    let hash = mix(poly(token));
    let len = token.len();
    b.lengths[len / 64].fetch_or(1 << (len % 64), Ordering::Relaxed);
    if lock(&b.shards[shard_of(hash)]).insert(hash) {
        b.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// `bytes` with every issued token replaced by [`MASK`] (borrowed when
/// there is none): where it stands as it was issued (or in a text form of
/// it), then inside base64 text.
pub fn mask(bytes: &[u8]) -> Cow<'_, [u8]> {
    let b = book();
    if b.count.load(Ordering::Relaxed) == 0 {
        return Cow::Borrowed(bytes);
    }
    let mut lengths = known_lengths(&b.lengths, bytes.len());
    if lengths.is_empty() {
        return Cow::Borrowed(bytes);
    }
    lengths.reverse();
    // One lock of each shard for the whole pass, not one per window: this
    // runs at the output boundary and on the failure path, never per request.
    let shards: Vec<_> = b.shards.iter().map(lock).collect();
    let known = |hash: u64| shards[shard_of(hash)].contains(&hash);
    let find = |text: &[u8]| windows(text, &lengths, &known);
    let raw = replaced(bytes, &find(bytes));
    let encoded = decoded::ranges(&raw, &find);
    if encoded.is_empty() {
        return raw;
    }
    Cow::Owned(replaced(&raw, &encoded).into_owned())
}

/// The windows of `text` whose hash is a known token's, leftmost first and
/// the longest at a position (`lengths` descending), not overlapping.
fn windows(text: &[u8], lengths: &[usize], known: &impl Fn(u64) -> bool) -> Vec<Range<usize>> {
    let prefix = prefix_hashes(text);
    let powers: Vec<u64> = lengths
        .iter()
        .map(|&l| BASE.wrapping_pow(l as u32))
        .collect();
    let found = |at: usize| {
        lengths.iter().zip(&powers).find_map(|(&len, &pow)| {
            let end = at + len;
            let window = end <= text.len()
                && known(mix(prefix[end].wrapping_sub(prefix[at].wrapping_mul(pow))));
            window.then_some(len)
        })
    };
    let mut out = Vec::new();
    let mut at = 0;
    while at < text.len() {
        match found(at) {
            Some(len) => {
                out.push(at..at + len);
                at += len;
            }
            None => at += 1,
        }
    }
    out
}

/// `bytes` with each of `ranges` (ascending, not overlapping) replaced by
/// [`MASK`].
fn replaced<'a>(bytes: &'a [u8], ranges: &[Range<usize>]) -> Cow<'a, [u8]> {
    if ranges.is_empty() {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut copied = 0;
    for range in ranges {
        out.extend_from_slice(&bytes[copied..range.start]);
        out.extend_from_slice(MASK.as_bytes());
        copied = range.end;
    }
    out.extend_from_slice(&bytes[copied..]);
    Cow::Owned(out)
}

fn lock(shard: &Shard) -> MutexGuard<'_, HashSet<u64, BuildHasherDefault<Mixed>>> {
    shard.lock().unwrap_or_else(|e| e.into_inner())
}

/// The token lengths seen, ascending, up to `max`.
fn known_lengths(bits: &[AtomicU64], max: usize) -> Vec<usize> {
    let mut out = Vec::new();
    for (word, bits) in bits.iter().enumerate() {
        let mut set = bits.load(Ordering::Relaxed);
        while set != 0 {
            let len = word * 64 + set.trailing_zeros() as usize;
            if len <= max {
                out.push(len);
            }
            set &= set - 1;
        }
    }
    out
}

/// `h[i]`: the polynomial hash of `bytes[..i]`, so the hash of
/// `bytes[i..j]` is `h[j] - h[i] * BASE^(j-i)`.
fn prefix_hashes(bytes: &[u8]) -> Vec<u64> {
    let mut out = Vec::with_capacity(bytes.len() + 1);
    let mut h = 0u64;
    out.push(h);
    for &b in bytes {
        h = h.wrapping_mul(BASE).wrapping_add(u64::from(b) + 1);
        out.push(h);
    }
    out
}

fn poly(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |h, &b| {
        h.wrapping_mul(BASE).wrapping_add(u64::from(b) + 1)
    })
}

/// Spreads the polynomial hash's bits (its low bits alone are weak).
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

fn shard_of(hash: u64) -> usize {
    (hash >> 60) as usize % SHARDS
}
