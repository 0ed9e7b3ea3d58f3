//! Debezium change events from decoded rows, for every source.
//!
//! The value is the Debezium envelope (`before`, `after`, `source`, `transaction`, `op`,
//! `ts_ms`, `ts_us`, `ts_ns`); the key is the primary-key struct (none for a table without a
//! key). The source crate supplies what differs: the table's schemas ([`EventTable`]) and the
//! `source` block of each event.
//!
//! Debezium's rules, applied here once:
//! * a delete is followed by a tombstone (same key, no value) when `tombstones.on.delete`;
//! * an update that changes the primary key becomes a delete of the old key (and its tombstone)
//!   carrying header `__debezium.newkey`, then a create of the new key carrying
//!   `__debezium.oldkey`; the header value is the key as Connect's default header converter
//!   (`SimpleHeaderConverter`) writes a struct: schemaless JSON;
//! * a truncate is an event with no key and neither `before` nor `after`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use sluice_connect::transforms::headers::header_bytes;
use sluice_core::schema::logical;
use sluice_core::{ChangeEvent, Data, Position, Schema, SchemaBuilder, Value};

/// Header of the delete half of a primary-key change: the row's new key.
pub const NEW_KEY_HEADER: &str = "__debezium.newkey";
/// Header of the create half of a primary-key change: the row's old key.
pub const OLD_KEY_HEADER: &str = "__debezium.oldkey";

/// Row operation, as `op` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
    Read,
    Truncate,
}

impl Op {
    pub fn code(self) -> &'static str {
        match self {
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Read => "r",
            Op::Truncate => "t",
        }
    }
}

/// What an event needs to know about its table. Row values are given per value field, in the
/// value schema's order.
pub trait EventTable {
    fn topic(&self) -> &Arc<str>;
    /// The key struct's schema; `None` for a table without a primary key.
    fn key_schema(&self) -> Option<&Arc<Schema>>;
    /// For each key field, its index among the value fields.
    fn key_fields(&self) -> &[usize];
    fn envelope_schema(&self) -> &Arc<Schema>;
}

/// The first fields every Debezium `source` block has, in Debezium's order: `version`,
/// `connector`, `name`, `ts_ms`, `snapshot` (an enum of the [`Marker`](crate::Marker) strings,
/// default `false`), `db`, `sequence`, `ts_us`, `ts_ns`. The source adds its own fields after.
pub fn source_schema_head(name: &str) -> SchemaBuilder {
    let s = || SchemaBuilder::string().build();
    let oi64 = || SchemaBuilder::int64().optional().build();
    let markers: Vec<&str> = crate::Marker::ALL.iter().map(|m| m.as_str()).collect();
    SchemaBuilder::structure()
        .name(name)
        .version(1)
        .field("version", s())
        .field("connector", s())
        .field("name", s())
        .field("ts_ms", SchemaBuilder::int64().build())
        .field(
            "snapshot",
            SchemaBuilder::string()
                .optional()
                .name(logical::ENUM)
                .version(1)
                .parameter("allowed", markers.join(","))
                .default_value(Value::String(Arc::from("false")))
                .build(),
        )
        .field("db", s())
        .field("sequence", SchemaBuilder::string().optional().build())
        .field("ts_us", oi64())
        .field("ts_ns", oi64())
}

/// The envelope schema `<base>.Envelope` (version 2) of a table whose value schema is `value`.
pub fn envelope_schema(base: &str, value: &Arc<Schema>, source: &Arc<Schema>) -> Arc<Schema> {
    let ts = || SchemaBuilder::int64().optional().build();
    SchemaBuilder::structure()
        .name(format!("{base}.Envelope"))
        .version(2)
        .field("before", Arc::clone(value))
        .field("after", Arc::clone(value))
        .field("source", Arc::clone(source))
        .field("transaction", transaction_schema())
        .field("op", SchemaBuilder::string().build())
        .field("ts_ms", ts())
        .field("ts_us", ts())
        .field("ts_ns", ts())
        .build()
}

/// Debezium's transaction metadata block (`event.block`).
fn transaction_schema() -> Arc<Schema> {
    SchemaBuilder::structure()
        .optional()
        .name("event.block")
        .version(1)
        .field("id", SchemaBuilder::string().build())
        .field("total_order", SchemaBuilder::int64().build())
        .field("data_collection_order", SchemaBuilder::int64().build())
        .build()
}

/// Implements [`EventTable`] for a table type whose fields are named `topic: Arc<str>`,
/// `key: Option<Arc<Schema>>`, `key_fields: Vec<usize>` and `envelope: Arc<Schema>` (what every
/// source's per-table schemas hold).
#[macro_export]
macro_rules! event_table {
    ($t:ty) => {
        impl $crate::envelope::EventTable for $t {
            fn topic(&self) -> &::std::sync::Arc<str> {
                &self.topic
            }
            fn key_schema(&self) -> Option<&::std::sync::Arc<::sluice_core::Schema>> {
                self.key.as_ref()
            }
            fn key_fields(&self) -> &[usize] {
                &self.key_fields
            }
            fn envelope_schema(&self) -> &::std::sync::Arc<::sluice_core::Schema> {
                &self.envelope
            }
        }
    };
}

/// Builds the events of one connector. The strings every event repeats are allocated once.
#[derive(Debug, Clone)]
pub struct Events {
    tombstones_on_delete: bool,
    ops: [Arc<str>; 5],
}

impl Events {
    pub fn new(tombstones_on_delete: bool) -> Events {
        Events {
            tombstones_on_delete,
            ops: [Op::Create, Op::Update, Op::Delete, Op::Read, Op::Truncate]
                .map(|o| Arc::from(o.code())),
        }
    }

    fn key(&self, t: &impl EventTable, row: &[Value]) -> Option<Data> {
        t.key_schema().map(|schema| {
            Data::new(
                Arc::clone(schema),
                Value::Struct(t.key_fields().iter().map(|&i| row[i].clone()).collect()),
            )
        })
    }

    fn envelope(
        &self,
        t: &impl EventTable,
        op: Op,
        before: Value,
        after: Value,
        source: Value,
    ) -> Data {
        let ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as i64;
        Data::new(
            Arc::clone(t.envelope_schema()),
            Value::Struct(vec![
                before,
                after,
                source,
                Value::Null,
                Value::String(Arc::clone(&self.ops[op as usize])),
                Value::Int64(ns / 1_000_000),
                Value::Int64(ns / 1_000),
                Value::Int64(ns),
            ]),
        )
    }

    /// Appends the events of one row change: `before` / `after` are the row's value fields,
    /// `source()` builds the event's `source` block.
    #[allow(clippy::too_many_arguments)]
    pub fn row_change(
        &self,
        t: &impl EventTable,
        op: Op,
        before: Option<Vec<Value>>,
        after: Option<Vec<Value>>,
        source: impl Fn() -> Value,
        position: &Position,
        out: &mut Vec<ChangeEvent>,
    ) {
        if op == Op::Update {
            if let (Some(b), Some(a)) = (&before, &after) {
                if t.key_schema().is_some() && t.key_fields().iter().any(|&i| b[i] != a[i]) {
                    let (old_key, new_key) = (self.key(t, b), self.key(t, a));
                    let header = |name: &str, key: &Option<Data>| match key {
                        Some(k) => vec![(
                            name.to_string(),
                            header_bytes(k.schema.as_deref(), &k.value),
                        )],
                        None => Vec::new(),
                    };
                    let delete = self.envelope(
                        t,
                        Op::Delete,
                        Value::Struct(before.unwrap_or_default()),
                        Value::Null,
                        source(),
                    );
                    let create = self.envelope(
                        t,
                        Op::Create,
                        Value::Null,
                        Value::Struct(after.unwrap_or_default()),
                        source(),
                    );
                    self.push(
                        t,
                        old_key.clone(),
                        Some(delete),
                        header(NEW_KEY_HEADER, &new_key),
                        position,
                        out,
                    );
                    if self.tombstones_on_delete {
                        self.push(
                            t,
                            old_key.clone(),
                            None,
                            header(NEW_KEY_HEADER, &new_key),
                            position,
                            out,
                        );
                    }
                    self.push(
                        t,
                        new_key,
                        Some(create),
                        header(OLD_KEY_HEADER, &old_key),
                        position,
                        out,
                    );
                    return;
                }
            }
        }
        let key_row = after.as_deref().or(before.as_deref()).unwrap_or(&[]);
        let key = self.key(t, key_row);
        let value = self.envelope(
            t,
            op,
            before.map_or(Value::Null, Value::Struct),
            after.map_or(Value::Null, Value::Struct),
            source(),
        );
        if op == Op::Delete && self.tombstones_on_delete {
            self.push(t, key.clone(), Some(value), Vec::new(), position, out);
            self.push(t, key, None, Vec::new(), position, out);
        } else {
            self.push(t, key, Some(value), Vec::new(), position, out);
        }
    }

    /// A truncate event (`op: "t"`: no key, no `before` / `after`).
    pub fn truncate(&self, t: &impl EventTable, source: Value, position: &Position) -> ChangeEvent {
        ChangeEvent {
            topic: Arc::clone(t.topic()),
            key: None,
            value: Some(self.envelope(t, Op::Truncate, Value::Null, Value::Null, source)),
            headers: Vec::new(),
            position: position.clone(),
            timestamp: None,
        }
    }

    fn push(
        &self,
        t: &impl EventTable,
        key: Option<Data>,
        value: Option<Data>,
        headers: Vec<(String, Vec<u8>)>,
        position: &Position,
        out: &mut Vec<ChangeEvent>,
    ) {
        out.push(ChangeEvent {
            topic: Arc::clone(t.topic()),
            key,
            value,
            headers,
            position: position.clone(),
            timestamp: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::SchemaBuilder;

    struct Table {
        topic: Arc<str>,
        key: Option<Arc<Schema>>,
        envelope: Arc<Schema>,
    }

    impl EventTable for Table {
        fn topic(&self) -> &Arc<str> {
            &self.topic
        }
        fn key_schema(&self) -> Option<&Arc<Schema>> {
            self.key.as_ref()
        }
        fn key_fields(&self) -> &[usize] {
            &[0]
        }
        fn envelope_schema(&self) -> &Arc<Schema> {
            &self.envelope
        }
    }

    fn table() -> Table {
        let value = SchemaBuilder::structure()
            .optional()
            .name("p.db.t.Value")
            .field("id", SchemaBuilder::int32().build())
            .field("v", SchemaBuilder::string().optional().build())
            .build();
        Table {
            topic: Arc::from("p.db.t"),
            key: Some(
                SchemaBuilder::structure()
                    .name("p.db.t.Key")
                    .field("id", SchemaBuilder::int32().build())
                    .build(),
            ),
            envelope: SchemaBuilder::structure()
                .name("p.db.t.Envelope")
                .field("before", Arc::clone(&value))
                .field("after", value)
                .build(),
        }
    }

    fn row(id: i32, v: &str) -> Option<Vec<Value>> {
        Some(vec![Value::Int32(id), Value::String(Arc::from(v))])
    }

    fn build(
        tombstones: bool,
        op: Op,
        before: Option<Vec<Value>>,
        after: Option<Vec<Value>>,
    ) -> Vec<ChangeEvent> {
        let mut out = Vec::new();
        Events::new(tombstones).row_change(
            &table(),
            op,
            before,
            after,
            || Value::Null,
            &Position::Unknown,
            &mut out,
        );
        out
    }

    fn op(ev: &ChangeEvent) -> Option<String> {
        match &ev.value.as_ref()?.value {
            Value::Struct(f) => f[4].as_str().map(str::to_string),
            _ => None,
        }
    }

    #[test]
    fn a_delete_is_followed_by_a_tombstone_when_asked() {
        let with = build(true, Op::Delete, row(1, "a"), None);
        assert_eq!(with.len(), 2);
        assert_eq!(op(&with[0]).as_deref(), Some("d"));
        assert!(with[1].is_tombstone());
        assert_eq!(with[1].key, with[0].key);
        assert_eq!(build(false, Op::Delete, row(1, "a"), None).len(), 1);
    }

    #[test]
    fn a_primary_key_change_is_a_delete_and_a_create_that_name_each_others_key() {
        let evs = build(true, Op::Update, row(1, "a"), row(2, "a"));
        let ops: Vec<_> = evs.iter().map(op).collect();
        assert_eq!(ops, vec![Some("d".into()), None, Some("c".into())]);
        let key = |e: &ChangeEvent| e.key.as_ref().map(|k| k.value.clone());
        assert_eq!(key(&evs[0]), Some(Value::Struct(vec![Value::Int32(1)])));
        assert_eq!(key(&evs[2]), Some(Value::Struct(vec![Value::Int32(2)])));
        assert_eq!(evs[0].header(NEW_KEY_HEADER), Some(&br#"{"id":2}"#[..]));
        assert_eq!(evs[1].header(NEW_KEY_HEADER), Some(&br#"{"id":2}"#[..]));
        assert_eq!(evs[2].header(OLD_KEY_HEADER), Some(&br#"{"id":1}"#[..]));
    }

    #[test]
    fn an_update_that_keeps_the_key_is_one_event_without_headers() {
        let evs = build(true, Op::Update, row(1, "a"), row(1, "b"));
        assert_eq!(evs.len(), 1);
        assert_eq!(op(&evs[0]).as_deref(), Some("u"));
        assert!(evs[0].headers.is_empty());
    }
}
