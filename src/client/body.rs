//! Reading a response body whole, up to the limit on the bytes one response
//! may hold (`target.max_body`, [`super::DEFAULT_MAX_BODY`]): a body that
//! says (`Content-Length`) or turns out to be larger stops the reading there,
//! so an endless or huge body costs at most the limit in memory, never the
//! process.
//!
//! Used by the VUs' slots and the shared pool (hyper bodies) and by reqwest
//! responses (the TLS pool, `conform`). A body in one frame, the usual case,
//! is returned without a copy.

use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::Body as _;

/// Why a body was not read whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// The connection ended, or the body's framing broke, before its end.
    Cut,
    /// It timed out before its end (reqwest's own timeout).
    TimedOut,
    /// It is larger than the limit: `received` bytes had arrived when the
    /// reading stopped (0 when its `Content-Length` said so at once).
    TooLarge { received: u64 },
}

/// The frames of one body joined, within a limit.
struct Collected {
    first: Option<Bytes>,
    joined: Vec<u8>,
    received: u64,
    limit: u64,
}

impl Collected {
    fn new(limit: u64, declared: Option<u64>) -> Result<Collected, BodyError> {
        if declared.is_some_and(|len| len > limit) {
            return Err(BodyError::TooLarge { received: 0 });
        }
        Ok(Collected {
            first: None,
            joined: Vec::new(),
            received: 0,
            limit,
        })
    }

    /// Adds a frame's bytes; `TooLarge` once the body passed the limit.
    fn push(&mut self, data: Bytes) -> Result<(), BodyError> {
        self.received += data.len() as u64;
        if self.received > self.limit {
            return Err(BodyError::TooLarge {
                received: self.received,
            });
        }
        match &self.first {
            None => self.first = Some(data),
            Some(head) => {
                if self.joined.is_empty() {
                    self.joined.extend_from_slice(head);
                }
                self.joined.extend_from_slice(&data);
            }
        }
        Ok(())
    }

    fn finish(self) -> Bytes {
        if self.joined.is_empty() {
            self.first.unwrap_or_default()
        } else {
            Bytes::from(self.joined)
        }
    }
}

/// The whole body of a hyper response, at most `limit` bytes. Stops as soon
/// as the body says it is complete (its `Content-Length` reached), without
/// waiting for one more empty frame.
///
/// # Errors
/// [`BodyError::Cut`] or [`BodyError::TooLarge`]; the caller drops the
/// body, which ends the exchange on its connection.
pub(super) async fn read_hyper(
    body: &mut hyper::body::Incoming,
    limit: u64,
) -> Result<Bytes, BodyError> {
    let mut collected = Collected::new(limit, body.size_hint().exact())?;
    while !body.is_end_stream() {
        let Some(frame) = body.frame().await else {
            break;
        };
        let Ok(data) = frame.map_err(|_| BodyError::Cut)?.into_data() else {
            continue; // trailers
        };
        collected.push(data)?;
    }
    Ok(collected.finish())
}

/// The whole body of a reqwest response, at most `limit` bytes.
///
/// # Errors
/// [`BodyError`]; the response is dropped, which closes its connection
/// when the body was not read to its end.
pub async fn read_reqwest(mut response: reqwest::Response, limit: u64) -> Result<Bytes, BodyError> {
    let mut collected = Collected::new(limit, response.content_length())?;
    loop {
        match response.chunk().await {
            Ok(Some(data)) => collected.push(data)?,
            Ok(None) => return Ok(collected.finish()),
            Err(e) if e.is_timeout() => return Err(BodyError::TimedOut),
            Err(_) => return Err(BodyError::Cut),
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::{BodyError, Collected};

    #[test]
    fn frames_are_joined_up_to_the_limit_and_no_further() {
        let mut c = Collected::new(10, None).unwrap();
        c.push(Bytes::from_static(b"12345")).unwrap();
        c.push(Bytes::from_static(b"67890")).unwrap();
        assert_eq!(c.finish(), "1234567890");
        let mut c = Collected::new(10, None).unwrap();
        c.push(Bytes::from_static(b"123456")).unwrap();
        assert_eq!(
            c.push(Bytes::from_static(b"789012")),
            Err(BodyError::TooLarge { received: 12 })
        );
        assert_eq!(
            Collected::new(10, Some(11)).err(),
            Some(BodyError::TooLarge { received: 0 })
        );
    }

    #[test]
    fn a_body_in_one_frame_is_not_copied() {
        let data = Bytes::from(vec![7u8; 64]);
        let mut c = Collected::new(64, Some(64)).unwrap();
        c.push(data.clone()).unwrap();
        assert_eq!(c.finish().as_ptr(), data.as_ptr());
    }
}
