//! A query-based source's position in one table: Connect's JDBC source offset.

use std::sync::Arc;

use serde_json::{json, Map, Value as Json};
use sluice_core::SourceOffset;

/// A query-based (JDBC) source's position in one table: Connect's JDBC source offset
/// (`timestamp` ms, `timestamp_nanos` within the second, `incrementing`) under the table's
/// partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JdbcPosition {
    /// The partition's JSON text, e.g. `{"protocol":"1","table":"orders"}`.
    pub partition: Arc<str>,
    /// The last row's timestamp, µs since the epoch (timestamp modes).
    pub timestamp_us: Option<i64>,
    /// The last row's incrementing column (incrementing modes).
    pub incrementing: Option<i64>,
}

impl JdbcPosition {
    pub fn to_offset_json(&self) -> Json {
        let mut m = Map::new();
        if let Some(us) = self.timestamp_us {
            m.insert("timestamp".into(), json!(us.div_euclid(1000)));
            m.insert(
                "timestamp_nanos".into(),
                json!(us.rem_euclid(1_000_000) * 1000),
            );
        }
        if let Some(i) = self.incrementing {
            m.insert("incrementing".into(), json!(i));
        }
        Json::Object(m)
    }

    /// Reads Connect's JDBC source offset.
    pub fn from_offset_json(partition: &str, v: &Json) -> JdbcPosition {
        let ms = v.get("timestamp").and_then(Json::as_i64);
        let nanos = v.get("timestamp_nanos").and_then(Json::as_i64).unwrap_or(0);
        JdbcPosition {
            partition: Arc::from(partition),
            timestamp_us: ms.map(|ms| ms.div_euclid(1000) * 1_000_000 + nanos / 1000),
            incrementing: v.get("incrementing").and_then(Json::as_i64),
        }
    }
}

impl SourceOffset for JdbcPosition {
    fn to_offset_json(&self) -> Json {
        JdbcPosition::to_offset_json(self)
    }

    fn partition(&self) -> Option<&str> {
        Some(&self.partition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jdbc_offsets_are_connects() {
        let p = JdbcPosition {
            partition: r#"{"protocol":"1","table":"t"}"#.into(),
            timestamp_us: Some(1_700_000_000_123_456),
            incrementing: Some(42),
        };
        assert_eq!(
            p.to_offset_json().to_string(),
            r#"{"timestamp":1700000000123,"timestamp_nanos":123456000,"incrementing":42}"#
        );
        assert_eq!(
            JdbcPosition::from_offset_json(&p.partition, &p.to_offset_json()),
            p
        );
    }
}
