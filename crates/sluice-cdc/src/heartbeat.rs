//! Debezium heartbeats (`heartbeat.interval.ms`): a record on `__debezium-heartbeat.<prefix>`
//! at most once per interval, carrying the stream's current position.
//!
//! Why: when the captured tables are idle but the server writes log for others (binlog, WAL),
//! no change event moves the offset; after a restart the connector would re-read all that log,
//! and the server may purge it meanwhile (or, on PostgreSQL, the slot holds WAL back). A heartbeat is an event like any other, so its position is
//! committed once it is delivered. It is emitted only between transactions, so its position is
//! always a clean restart point. The schemas are built once per connector.
//!
//! Record, as Debezium writes it: key `io.debezium.connector.common.ServerNameKey`
//! `{serverName: <topic.prefix>}`, value `io.debezium.connector.common.Heartbeat`
//! `{ts_ms: <now>}`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_core::{ChangeEvent, Data, Position, Schema, SchemaBuilder, Value};

/// The heartbeat of one connector.
pub struct Heartbeat {
    interval: Duration,
    last: Instant,
    topic: Arc<str>,
    server: Value,
    key: Arc<Schema>,
    value: Arc<Schema>,
}

impl Heartbeat {
    /// `None` when heartbeats are off.
    pub fn new(interval: Option<Duration>, topic: &str, server: &str) -> Option<Heartbeat> {
        Some(Heartbeat {
            interval: interval?,
            last: Instant::now(),
            topic: Arc::from(topic),
            server: Value::String(Arc::from(server)),
            key: SchemaBuilder::structure()
                .name("io.debezium.connector.common.ServerNameKey")
                .field("serverName", SchemaBuilder::string().build())
                .build(),
            value: SchemaBuilder::structure()
                .name("io.debezium.connector.common.Heartbeat")
                .field("ts_ms", SchemaBuilder::int64().build())
                .build(),
        })
    }

    /// Whether the interval has passed since the last heartbeat.
    pub fn due(&self) -> bool {
        self.last.elapsed() >= self.interval
    }

    /// A heartbeat record at `position` if the interval has passed since the last one.
    pub fn poll(&mut self, position: impl FnOnce() -> Position) -> Option<ChangeEvent> {
        self.due().then(|| self.emit(position()))
    }

    /// A heartbeat record at `position`, now.
    pub fn emit(&mut self, position: Position) -> ChangeEvent {
        self.last = Instant::now();
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        ChangeEvent {
            topic: Arc::clone(&self.topic),
            key: Some(Data::new(
                Arc::clone(&self.key),
                Value::Struct(vec![self.server.clone()]),
            )),
            value: Some(Data::new(
                Arc::clone(&self.value),
                Value::Struct(vec![Value::Int64(now_ms)]),
            )),
            headers: Vec::new(),
            position,
            timestamp: Some(now_ms),
        }
    }
}
