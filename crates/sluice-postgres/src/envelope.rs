//! PostgreSQL's part of Debezium change events: per-table schemas (key, value, envelope) and
//! the `source` block (`io.debezium.connector.postgresql.Source`). The envelope, key,
//! primary-key-change split and tombstones are the CDC kit's ([`sluice_cdc::envelope`]).
//!
//! `before` is only known with `REPLICA IDENTITY FULL` (else updates have a null `before` and
//! deletes carry the key columns only, other required columns filled with their type's zero
//! value, as Debezium does).

use std::sync::Arc;

use sluice_cdc::{Events, Marker, Op};
use sluice_core::{ChangeEvent, Position, Schema, SchemaBuilder, Value};
use tracing::warn;

use crate::catalog::Table;
use crate::config::PgConfig;
use crate::error::PgError;
use crate::infinity::Origin;
use crate::types::{self, Conv};

/// `source.version` sluice reports.
pub const VERSION: &str = concat!("sluice-", env!("CARGO_PKG_VERSION"));

/// Everything needed to turn rows of one table into events.
#[derive(Debug, Clone)]
pub struct TableSchemas {
    pub table: Table,
    pub schema_name: Arc<str>,
    pub table_name: Arc<str>,
    pub topic: Arc<str>,
    pub key: Option<Arc<Schema>>,
    pub value: Arc<Schema>,
    pub envelope: Arc<Schema>,
    /// Per table column: its conversion, or `None` when the column is not emitted (unknown type).
    pub convs: Vec<Option<Conv>>,
    /// Per value field: whether it is required (a missing value gets the type's zero).
    pub required: Vec<bool>,
    /// For each key field, its index among the value fields.
    pub key_fields: Vec<usize>,
}

impl TableSchemas {
    /// Fails when a primary-key column has no mapping: a key without it could give distinct
    /// rows one key (compaction and upserting sinks would then lose rows).
    pub fn build(
        table: Table,
        cfg: &PgConfig,
        source: &Arc<Schema>,
    ) -> Result<TableSchemas, PgError> {
        let base = format!("{}.{}.{}", cfg.topic_prefix, table.schema, table.name);
        let mut value = SchemaBuilder::structure()
            .optional()
            .name(format!("{base}.Value"));
        let mut convs = Vec::new();
        let mut fields = Vec::new();
        let mut required = Vec::new();
        for col in &table.columns {
            let is_key = table.primary_key.contains(&col.name);
            if !is_key && !cfg.filters.column(&table.schema, &table.name, &col.name) {
                convs.push(None); // column.include.list / column.exclude.list
                continue;
            }
            match types::column_schema(col, cfg) {
                Some((schema, conv)) => {
                    value = value.field(col.name.clone(), Arc::clone(&schema));
                    required.push(!schema.optional);
                    fields.push((col.name.clone(), schema));
                    convs.push(Some(conv));
                }
                None => {
                    warn!(table = %table.full_name(), column = %col.name, r#type = %col.ty.name, "column of an unknown type is not captured (include.unknown.datatypes=true emits its text as bytes)");
                    convs.push(None);
                }
            }
        }
        let value = value.build();
        let mut key_fields = Vec::new();
        let key = if table.primary_key.is_empty() {
            None
        } else {
            let mut k = SchemaBuilder::structure().name(format!("{base}.Key"));
            for pk in &table.primary_key {
                let Some(i) = fields.iter().position(|(n, _)| n == pk) else {
                    return Err(PgError::Config(format!(
                        "primary-key column {}.{pk} has a type sluice cannot map, so the table's key cannot be built; set include.unknown.datatypes=true (the column is emitted as its text in bytes), or exclude the table",
                        table.full_name()
                    )));
                };
                k = k.field(fields[i].0.clone(), Arc::clone(&fields[i].1));
                key_fields.push(i);
            }
            Some(k.build())
        };
        let envelope = sluice_cdc::envelope::envelope_schema(&base, &value, source);
        Ok(TableSchemas {
            schema_name: Arc::from(table.schema.as_str()),
            table_name: Arc::from(table.name.as_str()),
            topic: Arc::from(base.as_str()),
            table,
            key,
            value,
            envelope,
            convs,
            required,
            key_fields,
        })
    }

    /// Converts one row given as text per table column (`None`: SQL NULL), read from
    /// `origin`; columns of unknown types are dropped.
    pub fn row(
        &self,
        cells: impl IntoIterator<Item = Cell>,
        placeholder: &str,
        origin: Origin,
    ) -> Vec<Value> {
        let mut out = Vec::with_capacity(self.required.len());
        for (conv, cell) in self.convs.iter().zip(cells) {
            let Some(conv) = conv else { continue };
            let v = match cell {
                Cell::Null => Value::Null,
                Cell::Unchanged => types::unavailable(conv, placeholder),
                Cell::Text(t) => match types::decode(conv, &t, origin) {
                    Ok(v) => v,
                    Err(e) => {
                        warn!(table = %self.table.full_name(), error = %e, "value not representable; emitted as null");
                        Value::Null
                    }
                },
            };
            let v = if v.is_null() && self.required[out.len()] {
                types::zero(conv)
            } else {
                v
            };
            out.push(v);
        }
        out
    }
}

/// One value of a row as the server sent it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    /// pgoutput's `u`: an unchanged TOASTed value the server did not send.
    Unchanged,
    Text(String),
}

/// `io.debezium.connector.postgresql.Source`, as Debezium 3.6 writes it.
pub fn source_schema() -> Arc<Schema> {
    let s = || SchemaBuilder::string().build();
    let os = || SchemaBuilder::string().optional().build();
    let oi64 = || SchemaBuilder::int64().optional().build();
    sluice_cdc::envelope::source_schema_head("io.debezium.connector.postgresql.Source")
        .field("schema", s())
        .field("table", s())
        .field("txId", oi64())
        .field("lsn", oi64())
        .field("xmin", oi64())
        .field("origin", os())
        .field("origin_lsn", oi64())
        .build()
}

/// The parts of `source` that vary per event.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    /// Commit time (streaming) or read time (snapshot), µs since the epoch.
    pub ts_us: i64,
    pub snapshot: Marker,
    pub tx_id: Option<u64>,
    pub lsn: u64,
    /// End LSN of the transaction the stream committed before this one (`sequence[0]`; `None`:
    /// none since the snapshot or the slot's creation).
    pub last_commit: Option<u64>,
}

/// Builds events for one connector.
#[derive(Debug, Clone)]
pub struct EventBuilder {
    pub source_schema: Arc<Schema>,
    events: Events,
    version: Arc<str>,
    connector: Arc<str>,
    server_name: Arc<str>,
    db: Arc<str>,
    pub placeholder: String,
}

impl EventBuilder {
    pub fn new(cfg: &PgConfig) -> EventBuilder {
        EventBuilder {
            source_schema: source_schema(),
            events: Events::new(cfg.tombstones_on_delete),
            version: Arc::from(VERSION),
            connector: Arc::from("postgresql"),
            server_name: Arc::from(cfg.topic_prefix.as_str()),
            db: Arc::from(cfg.dbname.as_str()),
            placeholder: cfg.unavailable_placeholder.clone(),
        }
    }

    fn source(&self, t: &TableSchemas, s: &SourceInfo) -> Value {
        let sequence = format!(
            "[{},\"{}\"]",
            s.last_commit
                .map_or_else(|| "null".to_string(), |l| format!("\"{l}\"")),
            s.lsn
        );
        Value::Struct(vec![
            Value::String(Arc::clone(&self.version)),
            Value::String(Arc::clone(&self.connector)),
            Value::String(Arc::clone(&self.server_name)),
            Value::Int64(s.ts_us / 1000),
            Value::String(Arc::from(s.snapshot.as_str())),
            Value::String(Arc::clone(&self.db)),
            Value::String(Arc::from(sequence)),
            Value::Int64(s.ts_us),
            Value::Int64(s.ts_us.saturating_mul(1000)),
            Value::String(Arc::clone(&t.schema_name)),
            Value::String(Arc::clone(&t.table_name)),
            s.tx_id.map_or(Value::Null, |x| Value::Int64(x as i64)),
            Value::Int64(s.lsn as i64),
            Value::Null,
            Value::Null,
            Value::Null,
        ])
    }

    /// Appends the events of one row change.
    #[allow(clippy::too_many_arguments)]
    pub fn row_change(
        &self,
        t: &TableSchemas,
        op: Op,
        before: Option<Vec<Value>>,
        after: Option<Vec<Value>>,
        info: &SourceInfo,
        position: &Position,
        out: &mut Vec<ChangeEvent>,
    ) {
        self.events
            .row_change(t, op, before, after, || self.source(t, info), position, out);
    }

    /// A truncate event (`op: "t"`, no key, no before/after), when `skipped.operations` lets
    /// truncates through.
    pub fn truncate(
        &self,
        t: &TableSchemas,
        info: &SourceInfo,
        position: &Position,
    ) -> ChangeEvent {
        self.events.truncate(t, self.source(t, info), position)
    }
}

sluice_cdc::event_table!(TableSchemas);
