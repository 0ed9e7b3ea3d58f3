//! Debezium change events from decoded rows.
//!
//! The value is the Debezium envelope (`before`, `after`, `source`, `transaction`, `op`, `ts_ms`,
//! `ts_us`, `ts_ns`), the key is the primary key struct. A delete is followed by a tombstone
//! (`tombstones.on.delete`), and an update that changes the primary key becomes a delete of the
//! old key (plus tombstone) and a create of the new one, as Debezium does.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use sluice_core::{ChangeEvent, Data, Position, Schema, Value};

use crate::mapping::TableSchemas;

/// `source.version` sluice reports.
pub const VERSION: &str = concat!("sluice-", env!("CARGO_PKG_VERSION"));

/// The parts of the `source` block that vary per event.
#[derive(Debug, Clone)]
pub struct SourceInfo<'a> {
    pub ts_sec: u32,
    pub server_id: u32,
    pub gtid: Option<&'a Arc<str>>,
    pub file: &'a Arc<str>,
    pub pos: u64,
    pub row: i32,
    pub thread: Option<u32>,
    pub query: Option<&'a Arc<str>>,
    /// `source.snapshot`.
    pub snapshot: Snapshot,
}

/// Values of `source.snapshot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Snapshot {
    False,
    True,
    First,
    Last,
    Incremental,
}

/// Builds events for one connector. Strings that repeat on every event are allocated once here
/// and shared by every event (`Value::String` holds an `Arc<str>`).
#[derive(Debug, Clone)]
pub struct EventBuilder {
    source_schema: Arc<Schema>,
    tombstones_on_delete: bool,
    version: Arc<str>,
    connector: Arc<str>,
    server_name: Arc<str>,
    ops: [Arc<str>; 4],
    snapshot: [Arc<str>; 5],
}

/// Row operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
    Read,
}

fn opt_str(s: Option<&Arc<str>>) -> Value {
    s.map_or(Value::Null, |s| Value::String(Arc::clone(s)))
}

impl EventBuilder {
    pub fn new(source_schema: Arc<Schema>, server_name: &str, tombstones_on_delete: bool) -> Self {
        EventBuilder {
            source_schema,
            tombstones_on_delete,
            version: Arc::from(VERSION),
            connector: Arc::from("mysql"),
            server_name: Arc::from(server_name),
            ops: ["c", "u", "d", "r"].map(Arc::from),
            snapshot: ["false", "true", "first", "last", "incremental"].map(Arc::from),
        }
    }

    pub fn source_schema(&self) -> &Arc<Schema> {
        &self.source_schema
    }

    fn source(&self, t: &TableSchemas, s: &SourceInfo<'_>) -> Value {
        let ts_ms = i64::from(s.ts_sec) * 1000;
        Value::Struct(vec![
            Value::String(Arc::clone(&self.version)),
            Value::String(Arc::clone(&self.connector)),
            Value::String(Arc::clone(&self.server_name)),
            Value::Int64(ts_ms),
            Value::String(Arc::clone(&self.snapshot[s.snapshot as usize])),
            Value::String(Arc::clone(&t.db)),
            Value::Null,
            Value::Int64(ts_ms * 1000),
            Value::Int64(ts_ms * 1_000_000),
            Value::String(Arc::clone(&t.table)),
            Value::Int64(i64::from(s.server_id)),
            opt_str(s.gtid),
            Value::String(Arc::clone(s.file)),
            Value::Int64(s.pos as i64),
            Value::Int32(s.row),
            s.thread.map_or(Value::Null, |t| Value::Int64(i64::from(t))),
            opt_str(s.query),
        ])
    }

    fn key(&self, t: &TableSchemas, row: &[Value]) -> Option<Data> {
        t.key.as_ref().map(|schema| {
            Data::new(
                Arc::clone(schema),
                Value::Struct(t.key_fields.iter().map(|&i| row[i].clone()).collect()),
            )
        })
    }

    fn envelope(
        &self,
        t: &TableSchemas,
        op: Op,
        before: Value,
        after: Value,
        source: Value,
    ) -> Data {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let ns = now.as_nanos() as i64;
        Data {
            schema: Some(Arc::clone(&t.envelope)),
            value: Value::Struct(vec![
                before,
                after,
                source,
                Value::Null,
                Value::String(Arc::clone(&self.ops[op as usize])),
                Value::Int64(ns / 1_000_000),
                Value::Int64(ns / 1_000),
                Value::Int64(ns),
            ]),
        }
    }

    /// Appends the events for one row change. `before`/`after` are captured-column values.
    #[allow(clippy::too_many_arguments)]
    pub fn row_change(
        &self,
        t: &TableSchemas,
        op: Op,
        before: Option<Vec<Value>>,
        after: Option<Vec<Value>>,
        info: &SourceInfo<'_>,
        position: Position,
        out: &mut Vec<ChangeEvent>,
    ) {
        if op == Op::Update {
            if let (Some(b), Some(a)) = (&before, &after) {
                if t.key.is_some() && t.key_fields.iter().any(|&i| b[i] != a[i]) {
                    self.row_change(
                        t,
                        Op::Delete,
                        before.clone(),
                        None,
                        info,
                        position.clone(),
                        out,
                    );
                    self.row_change(t, Op::Create, None, after, info, position, out);
                    return;
                }
            }
        }
        let key_row = after.as_deref().or(before.as_deref()).unwrap_or(&[]);
        let key = self.key(t, key_row);
        let source = self.source(t, info);
        let value = self.envelope(
            t,
            op,
            before.map_or(Value::Null, Value::Struct),
            after.map_or(Value::Null, Value::Struct),
            source,
        );
        if op == Op::Delete && self.tombstones_on_delete {
            out.push(ChangeEvent {
                topic: Arc::clone(&t.topic),
                key: key.clone(),
                value: Some(value),
                headers: Vec::new(),
                position: position.clone(),
                timestamp: None,
            });
            out.push(ChangeEvent {
                topic: Arc::clone(&t.topic),
                key,
                value: None,
                headers: Vec::new(),
                position,
                timestamp: None,
            });
        } else {
            out.push(ChangeEvent {
                topic: Arc::clone(&t.topic),
                key,
                value: Some(value),
                headers: Vec::new(),
                position,
                timestamp: None,
            });
        }
    }
}
