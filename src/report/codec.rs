//! Histogram codec for reports: HdrHistogram V2 with deflate compression, in standard base64.
//!
//! This is the interchange format of HdrHistogram's own tools (Java, Go, the `hdrhistogram`
//! crate), so a report's histograms can be inspected or merged with them as well as by chatload.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};

use super::ReportError;

/// Encodes `histogram` as V2 deflate-compressed bytes in standard base64.
pub fn encode_histogram(histogram: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(histogram, &mut bytes)
        // Writing into a Vec cannot fail with I/O; the remaining errors need counts above
        // i64::MAX or a histogram larger than usize, neither of which a run can produce.
        .expect("serializing a histogram into memory succeeds");
    STANDARD.encode(bytes)
}

/// Decodes a histogram written by [`encode_histogram`] (or any V2 / V2-deflate encoder).
///
/// # Errors
///
/// [`ReportError::HistogramBase64`] if `encoded` is not standard base64, and
/// [`ReportError::HistogramDecode`] if the bytes are not a V2 histogram.
pub fn decode_histogram(encoded: &str) -> Result<Histogram<u64>, ReportError> {
    let bytes = STANDARD
        .decode(encoded.trim())
        .map_err(|cause| ReportError::HistogramBase64 { cause })?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|cause| ReportError::HistogramDecode { cause })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{histogram_of, new_latency_histogram};

    #[test]
    fn round_trip_keeps_every_percentile_and_count() {
        let mut histogram = histogram_of((1..=10_000u64).map(|value| value * value % 250_000 + 1));
        histogram.saturating_record(3_000_000_000);
        let decoded = decode_histogram(&encode_histogram(&histogram)).expect("decodes");
        assert_eq!(decoded.len(), histogram.len());
        assert_eq!(decoded.min(), histogram.min());
        assert_eq!(decoded.max(), histogram.max());
        for quantile in [0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0] {
            assert_eq!(
                decoded.value_at_quantile(quantile),
                histogram.value_at_quantile(quantile),
                "quantile {quantile}"
            );
        }
        assert_eq!(decoded, histogram);
    }

    #[test]
    fn empty_histogram_round_trips_and_is_short() {
        let encoded = encode_histogram(&new_latency_histogram());
        assert!(encoded.len() < 100, "{} chars", encoded.len());
        assert!(decode_histogram(&encoded).expect("decodes").is_empty());
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let not_base64 = decode_histogram("***").expect_err("not base64");
        assert!(not_base64.to_string().contains("base64"), "{not_base64}");
        let not_histogram = decode_histogram(&STANDARD.encode(b"hello world")).expect_err("junk");
        assert!(
            not_histogram.to_string().contains("histogram"),
            "{not_histogram}"
        );
    }
}
