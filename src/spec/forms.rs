//! The shorthand forms a YAML file may use for spec fields, and their conversion to the canonical
//! types. Only deserialization uses these; specs always serialize in canonical form.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

crate::sentence_error!(
    /// A duration that is not a number of seconds or a `30s`/`5m`/`1h` text.
    InvalidDuration
);

/// One value or a list of them.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// A single value.
    One(T),
    /// A list.
    Many(Vec<T>),
}

impl<T> From<OneOrMany<T>> for Vec<T> {
    fn from(v: OneOrMany<T>) -> Self {
        match v {
            OneOrMany::One(x) => vec![x],
            OneOrMany::Many(xs) => xs,
        }
    }
}

/// Deserializes a `T` or a list of `T` into a list.
///
/// Unlike an untagged enum (whose only error is "data did not match any variant"), a failure
/// inside the value keeps its own message and key path (`phases.concurrency: invalid type...`).
pub fn one_or_many<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
    use serde::de::{IntoDeserializer, MapAccess, SeqAccess, Visitor};
    use std::marker::PhantomData;

    struct OneOrManyVisitor<T>(PhantomData<T>);

    macro_rules! one_scalar {
        ($($method:ident: $ty:ty),*) => {$(
            fn $method<E: serde::de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(|x| vec![x])
            }
        )*};
    }

    impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a value or a list of values")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Vec::<T>::deserialize(SeqAccessDeserializer::new(seq))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            T::deserialize(MapAccessDeserializer::new(map)).map(|x| vec![x])
        }
        one_scalar!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_string: String);
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            T::deserialize(v.into_deserializer()).map(|x| vec![x])
        }
    }

    d.deserialize_any(OneOrManyVisitor(PhantomData))
}

/// A duration: seconds as a number, or a string with a unit (`"90s"`, `"5m"`, `"2h"`, `"250ms"`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum DurationForm {
    /// Seconds.
    Seconds(f64),
    /// A number with a unit suffix: ms, s, m or h.
    Text(String),
}

/// Parses a duration text into seconds.
pub fn parse_duration(text: &str) -> Result<f64, InvalidDuration> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration like 30, \"90s\", \"5m\" or \"2h\""))?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "m" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(
                format!("unknown duration unit '{other}' in '{text}' (use ms, s, m or h)").into(),
            );
        }
    };
    Ok(value * scale)
}

/// Deserializes an optional duration in seconds from a number or a unit string.
pub fn opt_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match Option::<DurationForm>::deserialize(d)? {
        None => Ok(None),
        Some(DurationForm::Seconds(s)) => Ok(Some(s)),
        Some(DurationForm::Text(t)) => parse_duration(&t)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// Deserializes a duration in seconds from a number or a unit string.
pub fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    match DurationForm::deserialize(d)? {
        DurationForm::Seconds(s) => Ok(s),
        DurationForm::Text(t) => parse_duration(&t).map_err(serde::de::Error::custom),
    }
}

/// How a ramp rises (AIPerf's strategies; only `linear` is implemented).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RampStrategy {
    /// Even steps from the start value to the target.
    Linear,
}

/// A ramp as written: its duration, or `{duration, strategy}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RampForm {
    /// The ramp's duration (seconds, or "30s", "2m").
    Duration(DurationForm),
    /// The duration with the way it rises.
    Full {
        /// The ramp's duration (seconds, or "30s", "2m").
        duration: DurationForm,
        /// How it rises (`linear`, the default and the only one).
        #[serde(default)]
        strategy: Option<RampStrategy>,
    },
}

/// Deserializes an optional ramp into its duration in seconds.
pub fn opt_ramp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let form = match Option::<RampForm>::deserialize(d)? {
        None => return Ok(None),
        Some(RampForm::Duration(form)) | Some(RampForm::Full { duration: form, .. }) => form,
    };
    match form {
        DurationForm::Seconds(s) => Ok(Some(s)),
        DurationForm::Text(t) => parse_duration(&t)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations() {
        assert_eq!(super::parse_duration("90"), Ok(90.0));
        assert_eq!(super::parse_duration("5m"), Ok(300.0));
        assert_eq!(super::parse_duration("2h"), Ok(7200.0));
        assert_eq!(super::parse_duration(" 250ms "), Ok(0.25));
        assert!(super::parse_duration("5 days").is_err());
    }
}
