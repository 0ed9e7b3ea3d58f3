//! MySQL's part of a Debezium change event: the `source` block
//! (`io.debezium.connector.mysql.Source`). The envelope, key, primary-key-change split and
//! tombstones are the CDC kit's ([`sluice_cdc::envelope`]).

use std::sync::Arc;

use sluice_cdc::{Events, Marker, Op};
use sluice_core::{ChangeEvent, Position, Schema, Value};

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
    pub snapshot: Marker,
}

sluice_cdc::event_table!(TableSchemas);

/// Builds events for one connector. Strings that repeat on every event are allocated once here
/// and shared by every event (`Value::String` holds an `Arc<str>`).
#[derive(Debug, Clone)]
pub struct EventBuilder {
    source_schema: Arc<Schema>,
    events: Events,
    version: Arc<str>,
    connector: Arc<str>,
    server_name: Arc<str>,
    markers: [Arc<str>; 7],
}

fn opt_str(s: Option<&Arc<str>>) -> Value {
    s.map_or(Value::Null, |s| Value::String(Arc::clone(s)))
}

impl EventBuilder {
    /// `connector`: `source.connector` ("mysql" or "mariadb").
    pub fn new(
        source_schema: Arc<Schema>,
        connector: &str,
        server_name: &str,
        tombstones_on_delete: bool,
    ) -> Self {
        EventBuilder {
            source_schema,
            events: Events::new(tombstones_on_delete),
            version: Arc::from(VERSION),
            connector: Arc::from(connector),
            server_name: Arc::from(server_name),
            markers: Marker::strings(),
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
            Value::String(Arc::clone(&self.markers[s.snapshot as usize])),
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
        self.events.row_change(
            t,
            op,
            before,
            after,
            || self.source(t, info),
            &position,
            out,
        );
    }
}
