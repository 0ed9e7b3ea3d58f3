//! A change event: one Connect record plus the position it came from.

use std::sync::Arc;

use crate::position::Position;
use crate::schema::Schema;
use crate::value::Value;

/// A value together with its schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    pub schema: Arc<Schema>,
    pub value: Value,
}

/// One record as a Kafka Connect source task would return it.
///
/// `value: None` is a tombstone (Debezium emits one after each delete so compaction can drop the
/// key). `position` is where a restart must resume to get the event *after* this one.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    pub topic: Arc<str>,
    pub key: Option<Data>,
    pub value: Option<Data>,
    /// Record headers (name, raw bytes), in order.
    pub headers: Vec<(String, Vec<u8>)>,
    pub position: Position,
}

impl ChangeEvent {
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }
}
