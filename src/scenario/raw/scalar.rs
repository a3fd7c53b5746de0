//! One visitor for the scenario types written either as a scalar or as a
//! mapping (`think: 2s` or `think: {dist: …}`, a threshold as text or as a
//! mapping, a form part as text or as a file): each type says only which
//! scalars it takes and what they become.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Unexpected, Visitor};

/// A scalar as the YAML reader gave it.
#[derive(Clone, Copy, Debug)]
pub enum Scalar<'a> {
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Str(&'a str),
}

/// What a type made of a scalar.
#[derive(Debug)]
pub enum Read<T> {
    Value(T),
    /// Refused, in the type's own words.
    Problem(String),
    /// A kind of scalar the type does not take: serde's "invalid type: …,
    /// expected …".
    WrongKind,
}

/// Deserializes `T` from a scalar through `scalar`, or from a mapping read
/// as `M` and turned into `T` by `map` (no `map`: a mapping is a wrong kind).
///
/// # Errors
/// A scalar `scalar` refuses, or any other input, each described against
/// `expecting`.
pub fn scalar_or_map<'de, D, T, M>(
    d: D,
    expecting: &'static str,
    scalar: fn(Scalar<'_>) -> Read<T>,
    map: Option<fn(M) -> T>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    M: Deserialize<'de>,
{
    d.deserialize_any(Reader {
        expecting,
        scalar,
        map,
        m: PhantomData,
    })
}

struct Reader<T, M> {
    expecting: &'static str,
    scalar: fn(Scalar<'_>) -> Read<T>,
    map: Option<fn(M) -> T>,
    m: PhantomData<M>,
}

impl<T, M> Reader<T, M> {
    fn read<E: de::Error>(&self, s: Scalar<'_>) -> Result<T, E> {
        match (self.scalar)(s) {
            Read::Value(value) => Ok(value),
            Read::Problem(message) => Err(E::custom(message)),
            Read::WrongKind => {
                let found = match s {
                    Scalar::Bool(v) => Unexpected::Bool(v),
                    Scalar::Unsigned(v) => Unexpected::Unsigned(v),
                    Scalar::Signed(v) => Unexpected::Signed(v),
                    Scalar::Float(v) => Unexpected::Float(v),
                    Scalar::Str(v) => Unexpected::Str(v),
                };
                Err(E::invalid_type(found, &self.expecting))
            }
        }
    }
}

impl<'de, T, M: Deserialize<'de>> Visitor<'de> for Reader<T, M> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        self.read(Scalar::Bool(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        self.read(Scalar::Unsigned(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        self.read(Scalar::Signed(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        self.read(Scalar::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        self.read(Scalar::Str(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<T, A::Error> {
        match self.map {
            Some(into) => M::deserialize(de::value::MapAccessDeserializer::new(access)).map(into),
            None => Err(de::Error::invalid_type(Unexpected::Map, &self.expecting)),
        }
    }
}

impl<T> Read<T> {
    /// The value, if any, turned into a `U`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Read<U> {
        match self {
            Read::Value(value) => Read::Value(f(value)),
            Read::Problem(message) => Read::Problem(message),
            Read::WrongKind => Read::WrongKind,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    use serde::de::DeserializeOwned;

    use crate::scenario::raw::{DurationText, RawNumber, RawOnOff, RawThink};

    fn err<T: DeserializeOwned + Debug>(yaml: &str) -> String {
        serde_saphyr::from_str::<T>(yaml)
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn each_type_reads_its_scalars_and_describes_the_rest_against_its_expected_text() {
        let read = |yaml| serde_saphyr::from_str::<DurationText>(yaml).expect("a duration");
        assert_eq!(read("1.5"), DurationText("1500ms".into()));
        assert_eq!(read("2"), DurationText("2s".into()));
        assert_eq!(read("250ms"), DurationText("250ms".into()));
        assert!(
            err::<RawNumber>("true").contains("invalid type: boolean `true`, expected a number"),
            "{}",
            err::<RawNumber>("true")
        );
        assert!(err::<RawNumber>("many").contains("expected a number, found `many`"));
        assert!(err::<RawThink>("-2").contains("invalid type: integer `-2`, expected a duration"));
        assert!(err::<RawThink>("[1]").contains("invalid type: sequence, expected a duration"));
        assert!(err::<RawOnOff>("maybe").contains("`maybe`: expected on or off"));
        assert!(err::<RawOnOff>("{a: 1}").contains("invalid type: map, expected on or off"));
    }
}
