//! A change event: one Connect record plus the position it came from.

use std::sync::Arc;

use crate::position::Position;
use crate::schema::Schema;
use crate::value::Value;

/// A value together with its schema. `schema` is `None` for schemaless data (what Connect's
/// `JsonConverter` gives with `schemas.enable=false`): maps, arrays and primitives only.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    pub schema: Option<Arc<Schema>>,
    pub value: Value,
}

impl Data {
    /// A value of `schema`.
    pub fn new(schema: Arc<Schema>, value: Value) -> Data {
        Data {
            schema: Some(schema),
            value,
        }
    }

    /// A schemaless value.
    pub fn schemaless(value: Value) -> Data {
        Data {
            schema: None,
            value,
        }
    }

    /// The value of field `name`: of a struct (by its schema) or of a schemaless map (by key).
    pub fn field(&self, name: &str) -> Option<&Value> {
        match (&self.schema, &self.value) {
            (Some(s), Value::Struct(fields)) => s.field_index(name).and_then(|i| fields.get(i)),
            (_, Value::Map(entries)) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(name))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// One record as a Kafka Connect source task would return it (or a sink task receive it).
///
/// `value: None` is a tombstone (Debezium emits one after each delete so compaction can drop the
/// key). `position` is where a restart must resume to get the event *after* this one; for a
/// record read from Kafka it is the record's topic, partition and offset.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    pub topic: Arc<str>,
    pub key: Option<Data>,
    pub value: Option<Data>,
    /// Record headers (name, raw bytes), in order.
    pub headers: Vec<(String, Vec<u8>)>,
    pub position: Position,
    /// The record timestamp (ms since the epoch), if it has one.
    pub timestamp: Option<i64>,
}

impl ChangeEvent {
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }

    /// The value of header `name` (the last one with that name, as Connect's `lastWithName`).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}
