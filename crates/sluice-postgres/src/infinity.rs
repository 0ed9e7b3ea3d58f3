//! PostgreSQL's `infinity` and `-infinity` dates and timestamps, as Debezium emits them.
//!
//! PostgreSQL has two special values for `date`, `timestamp` and `timestamptz`, written
//! `infinity` and `-infinity` in the text form sluice reads. Debezium keeps them, but not as
//! one value per type: what it emits depends on the path the value took through its code (the
//! JDBC driver's sentinels in the snapshot, its own parser of pgoutput's text in the stream,
//! its default-value parser for column defaults, the array converter for array items), and on
//! how each of those overflows Java's date arithmetic. The numbers below are therefore not
//! derived from a rule: each was observed from Debezium 3.6.1's PostgreSQL connector (Kafka
//! Connect, JsonConverter) on PostgreSQL 15, in `time.precision.mode` `adaptive` and
//! `connect`, and sluice reproduces them so that a consumer testing for them keeps working.
//!
//! | conversion | snapshot, array item | stream | column default |
//! |---|---|---|---|
//! | `date` (`io.debezium.time.Date`, Connect `Date`) | -622191234 / -625821272 | -2147472692 / -2147472691 | 169560311 / -170999002 |
//! | `timestamp` as µs (`MicroTimestamp`) | 9223372036825200000 / -9223372036832400000 | same | -9223372036853775810 / -9223372036854775808 |
//! | `timestamp` as ms (`Timestamp`, Connect `Timestamp`) | 9223372036825200 / -9223372036832400 | same | none |
//! | `timestamptz` (`ZonedTimestamp`) | `infinity` / `-infinity`; as array item `infinity` / `+292269055-12-02T23:00:00[.f]Z` | `infinity` / `-infinity` | none |
//!
//! (`+` / `-` infinity in each cell; the incremental snapshot reads by query, so it is taken
//! to convert as the initial snapshot does.) Debezium 3.6.1 logs "Cannot parse column default
//! value" for the defaults it gives none.

use std::sync::Arc;

use sluice_core::Value;

use crate::types::Conv;

/// Where a value's text was read, which decides how Debezium converts an infinite value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The initial or an incremental snapshot (`COPY` / `SELECT`).
    Snapshot,
    /// The replication stream (pgoutput, text mode).
    Stream,
    /// An item of an array value, wherever the array was read.
    ArrayItem,
    /// A column default (`pg_attrdef`), for the schema's `default`.
    Default,
}

/// `Some(positive)` when `text` is PostgreSQL's `infinity` (`true`) or `-infinity` (`false`).
fn infinite(text: &str) -> Option<bool> {
    match text {
        "infinity" => Some(true),
        "-infinity" => Some(false),
        _ => None,
    }
}

/// Debezium's value for an infinite `text` of a column converted by `conv`, read from `origin`:
/// `None` when `text` is not infinite or `conv` has no infinite values; `Some(None)` when
/// Debezium gives no value (a default it cannot parse).
pub fn value(conv: &Conv, text: &str, origin: Origin) -> Option<Option<Value>> {
    fn either<T>(positive: bool, pos: T, neg: T) -> T {
        if positive {
            pos
        } else {
            neg
        }
    }
    let positive = infinite(text)?;
    let i32s = |pos, neg| Value::Int32(either(positive, pos, neg));
    let i64s = |pos, neg| Value::Int64(either(positive, pos, neg));
    Some(match (conv, origin) {
        (Conv::Date, Origin::Snapshot | Origin::ArrayItem) => {
            Some(i32s(-622_191_234, -625_821_272))
        }
        (Conv::Date, Origin::Stream) => Some(i32s(-2_147_472_692, -2_147_472_691)),
        (Conv::Date, Origin::Default) => Some(i32s(169_560_311, -170_999_002)),
        (Conv::TimestampMicros, Origin::Default) => {
            Some(i64s(-9_223_372_036_853_775_810, i64::MIN))
        }
        (Conv::TimestampMicros, _) => {
            Some(i64s(9_223_372_036_825_200_000, -9_223_372_036_832_400_000))
        }
        (Conv::TimestampMillis, Origin::Default) => None,
        (Conv::TimestampMillis, _) => Some(i64s(9_223_372_036_825_200, -9_223_372_036_832_400)),
        (Conv::TimestampTz(_), Origin::Default) => None,
        (Conv::TimestampTz(digits), Origin::ArrayItem) if !positive => {
            let mut s = String::from("+292269055-12-02T23:00:00");
            if *digits > 0 {
                s.push('.');
                s.push_str(&"0".repeat(*digits as usize));
            }
            s.push('Z');
            Some(Value::String(Arc::from(s)))
        }
        (Conv::TimestampTz(_), _) => Some(Value::String(Arc::from(text))),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(conv: &Conv, text: &str, origin: Origin) -> Option<Value> {
        value(conv, text, origin).expect("an infinite value")
    }

    #[test]
    fn finite_text_and_types_without_infinity_are_left_to_the_decoder() {
        assert_eq!(value(&Conv::Date, "2024-01-01", Origin::Stream), None);
        assert_eq!(value(&Conv::Str, "infinity", Origin::Stream), None);
        assert_eq!(value(&Conv::F64, "-infinity", Origin::Snapshot), None);
    }

    #[test]
    fn dates_differ_between_snapshot_stream_and_default_as_in_debezium_3_6_1() {
        let d = |t, o| v(&Conv::Date, t, o);
        assert_eq!(
            d("infinity", Origin::Snapshot),
            Some(Value::Int32(-622191234))
        );
        assert_eq!(
            d("-infinity", Origin::Snapshot),
            Some(Value::Int32(-625821272))
        );
        assert_eq!(
            d("infinity", Origin::ArrayItem),
            Some(Value::Int32(-622191234))
        );
        assert_eq!(
            d("infinity", Origin::Stream),
            Some(Value::Int32(-2147472692))
        );
        assert_eq!(
            d("-infinity", Origin::Stream),
            Some(Value::Int32(-2147472691))
        );
        assert_eq!(
            d("infinity", Origin::Default),
            Some(Value::Int32(169560311))
        );
        assert_eq!(
            d("-infinity", Origin::Default),
            Some(Value::Int32(-170999002))
        );
    }

    #[test]
    fn timestamps_keep_the_jdbc_sentinels_in_their_unit() {
        for o in [Origin::Snapshot, Origin::Stream, Origin::ArrayItem] {
            assert_eq!(
                v(&Conv::TimestampMicros, "infinity", o),
                Some(Value::Int64(9223372036825200000))
            );
            assert_eq!(
                v(&Conv::TimestampMicros, "-infinity", o),
                Some(Value::Int64(-9223372036832400000))
            );
            assert_eq!(
                v(&Conv::TimestampMillis, "infinity", o),
                Some(Value::Int64(9223372036825200))
            );
            assert_eq!(
                v(&Conv::TimestampMillis, "-infinity", o),
                Some(Value::Int64(-9223372036832400))
            );
        }
        assert_eq!(
            v(&Conv::TimestampMicros, "infinity", Origin::Default),
            Some(Value::Int64(-9223372036853775810))
        );
        assert_eq!(
            v(&Conv::TimestampMicros, "-infinity", Origin::Default),
            Some(Value::Int64(i64::MIN))
        );
        assert_eq!(v(&Conv::TimestampMillis, "infinity", Origin::Default), None);
    }

    #[test]
    fn zoned_timestamps_are_the_words_except_minus_infinity_in_an_array() {
        let s = |x: &str| Some(Value::String(Arc::from(x)));
        for o in [Origin::Snapshot, Origin::Stream] {
            assert_eq!(v(&Conv::TimestampTz(6), "infinity", o), s("infinity"));
            assert_eq!(v(&Conv::TimestampTz(0), "-infinity", o), s("-infinity"));
        }
        assert_eq!(
            v(&Conv::TimestampTz(6), "infinity", Origin::ArrayItem),
            s("infinity")
        );
        assert_eq!(
            v(&Conv::TimestampTz(6), "-infinity", Origin::ArrayItem),
            s("+292269055-12-02T23:00:00.000000Z")
        );
        assert_eq!(
            v(&Conv::TimestampTz(0), "-infinity", Origin::ArrayItem),
            s("+292269055-12-02T23:00:00Z")
        );
        assert_eq!(v(&Conv::TimestampTz(6), "infinity", Origin::Default), None);
    }
}
