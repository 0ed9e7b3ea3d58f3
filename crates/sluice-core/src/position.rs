//! Typed positions and their Kafka Connect offset encoding.
//!
//! A position attached to an event means "to continue *after* this event, restart here". Each
//! source defines its own position type (the binlog's in `sluice-mysql`, the WAL's in
//! `sluice-postgres`, a query source's in `sluice-jdbc`) and implements [`SourceOffset`] for it:
//! its offset JSON is exactly the map Debezium (or Confluent's JDBC source) stores, under the key
//! `["<connector name>", {"server": "<topic.prefix>"}]` ([`OffsetKey`]), so offsets move between
//! the tools. Core carries such a position ([`Position::Source`]) without knowing which source
//! made it; the source reads its own type back with [`Position::source_as`].
//!
//! Sink connectors read Kafka, so their positions ([`KafkaPosition`]) are known here.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use serde_json::{json, Map, Value as Json};

/// Where a connector is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// A source connector's position, of the source's own type.
    Source(SourcePosition),
    /// A record read from Kafka (sink connectors): committed to the consumer group, not to an
    /// offset store.
    Kafka(KafkaPosition),
    /// Where a sink connector's consumer is: per topic partition, the next offset to read
    /// (committed to the consumer group once everything before it is durable).
    KafkaGroup(Arc<[KafkaPosition]>),
    /// A record made up in-process (tests, transforms that create records) with no position.
    Unknown,
}

/// A Kafka record's coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaPosition {
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
}

/// What a source's position type tells the runtime.
pub trait SourceOffset: fmt::Debug + PartialEq + Send + Sync + 'static {
    /// The offset map Connect stores for this position.
    fn to_offset_json(&self) -> Json;

    /// A number that never decreases along the source's stream, for versioning writes in a
    /// destination (an Elasticsearch external version); `None` when the source has none.
    fn version(&self) -> Option<u64> {
        None
    }

    /// The Connect source partition (JSON text) when the source keeps one offset per table
    /// (Connect's JDBC source); `None` for the connector's single `{"server": …}` partition.
    fn partition(&self) -> Option<&str> {
        None
    }

    /// When the last event handled was committed in the source database (seconds since the
    /// epoch), for the lag metrics; `None` when unknown.
    fn event_time_sec(&self) -> Option<u64> {
        None
    }
}

/// The object-safe face of [`SourceOffset`], comparison and downcasting included.
trait DynOffset: fmt::Debug + Send + Sync {
    fn to_offset_json(&self) -> Json;
    fn version(&self) -> Option<u64>;
    fn partition(&self) -> Option<&str>;
    fn event_time_sec(&self) -> Option<u64>;
    fn as_any(&self) -> &dyn Any;
    fn same(&self, other: &dyn DynOffset) -> bool;
}

impl<T: SourceOffset> DynOffset for T {
    fn to_offset_json(&self) -> Json {
        SourceOffset::to_offset_json(self)
    }
    fn version(&self) -> Option<u64> {
        SourceOffset::version(self)
    }
    fn partition(&self) -> Option<&str> {
        SourceOffset::partition(self)
    }
    fn event_time_sec(&self) -> Option<u64> {
        SourceOffset::event_time_sec(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn same(&self, other: &dyn DynOffset) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
}

/// A source's position, shared (not copied) by the events and batches that carry it.
#[derive(Debug, Clone)]
pub struct SourcePosition(Arc<dyn DynOffset>);

impl SourcePosition {
    pub fn new<T: SourceOffset>(position: T) -> SourcePosition {
        SourcePosition(Arc::new(position))
    }

    /// The position as the source's own type, if it is one.
    pub fn downcast_ref<T: SourceOffset>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref()
    }

    pub fn to_offset_json(&self) -> Json {
        self.0.to_offset_json()
    }

    pub fn version(&self) -> Option<u64> {
        self.0.version()
    }

    pub fn partition(&self) -> Option<&str> {
        self.0.partition()
    }

    pub fn event_time_sec(&self) -> Option<u64> {
        self.0.event_time_sec()
    }
}

impl PartialEq for SourcePosition {
    fn eq(&self, other: &SourcePosition) -> bool {
        self.0.same(other.0.as_ref())
    }
}

impl Eq for SourcePosition {}

/// Snapshot progress: every row of the tables before `table` (in capture order), and of `table`
/// up to and including primary key `key`, has been delivered durably. `key` holds SQL literals
/// of the key columns, in key order. Log sources store it as sluice's extension fields of the offset map
/// (`snapshot_table`, `snapshot_key`); Debezium ignores them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotProgress {
    pub table: Arc<str>,
    pub key: Arc<[String]>,
}

impl SnapshotProgress {
    /// Writes the `snapshot_table` / `snapshot_key` fields into an offset map.
    pub fn write_to(&self, m: &mut Map<String, Json>) {
        m.insert("snapshot_table".into(), json!(self.table.as_ref()));
        m.insert("snapshot_key".into(), json!(self.key.as_ref()));
    }

    /// The `snapshot_table` / `snapshot_key` fields of an offset map, if present.
    pub fn from_offset_map(o: &Map<String, Json>) -> Result<Option<SnapshotProgress>, String> {
        match (
            o.get("snapshot_table").and_then(Json::as_str),
            o.get("snapshot_key"),
        ) {
            (Some(t), Some(Json::Array(k))) => Ok(Some(SnapshotProgress {
                table: Arc::from(t),
                key: k
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or("snapshot_key must hold strings")
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .into(),
            })),
            _ => Ok(None),
        }
    }
}

/// Reading an offset map a connector stored. Numbers and flags may also be strings (offsets
/// edited by hand, or written by tools that quote them).
#[derive(Debug, Clone, Copy)]
pub struct OffsetMap<'a>(pub &'a Map<String, Json>);

impl<'a> OffsetMap<'a> {
    /// The map of `v`; `what` names the offset in the error ("binlog offset").
    pub fn of(v: &'a Json, what: &str) -> Result<OffsetMap<'a>, String> {
        v.as_object()
            .map(OffsetMap)
            .ok_or_else(|| format!("{what} must be a JSON object"))
    }

    /// A non-negative integer field; `None` when absent or null.
    pub fn number(&self, k: &str) -> Result<Option<u64>, String> {
        match self.0.get(k) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("offset field \"{k}\" is not a non-negative integer")),
            Some(Json::String(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| format!("offset field \"{k}\" is not an integer: {s:?}")),
            Some(_) => Err(format!("offset field \"{k}\" is not an integer")),
        }
    }

    /// A boolean field (`true` or `"true"`); false when absent.
    pub fn flag(&self, k: &str) -> bool {
        match self.0.get(k) {
            Some(Json::Bool(b)) => *b,
            Some(Json::String(s)) => s == "true",
            _ => false,
        }
    }

    /// A string field, when present.
    pub fn text(&self, k: &str) -> Option<&'a str> {
        self.0.get(k).and_then(Json::as_str)
    }

    /// `snapshot_table` / `snapshot_key` ([`SnapshotProgress`]), when present.
    pub fn snapshot_progress(&self) -> Result<Option<SnapshotProgress>, String> {
        SnapshotProgress::from_offset_map(self.0)
    }

    /// `incremental_snapshot`: a source's incremental-snapshot state, kept as it is.
    pub fn incremental(&self) -> Option<Arc<Json>> {
        self.0
            .get("incremental_snapshot")
            .filter(|v| v.is_object())
            .map(|v| Arc::new(v.clone()))
    }
}

impl Position {
    /// A source's position.
    pub fn from_source<T: SourceOffset>(position: T) -> Position {
        Position::Source(SourcePosition::new(position))
    }

    /// The source position, if this is one.
    pub fn as_source(&self) -> Option<&SourcePosition> {
        match self {
            Position::Source(s) => Some(s),
            _ => None,
        }
    }

    /// The source position as the source's own type, if it is one.
    pub fn source_as<T: SourceOffset>(&self) -> Option<&T> {
        self.as_source()?.downcast_ref()
    }

    /// A number that never decreases along a connector's input, for versioning writes in a
    /// destination (an Elasticsearch external version): the Kafka offset, or what the source's
    /// position says ([`SourceOffset::version`]). `None` when there is none.
    pub fn version(&self) -> Option<u64> {
        match self {
            Position::Source(s) => s.version(),
            Position::Kafka(k) => u64::try_from(k.offset).ok(),
            Position::KafkaGroup(_) | Position::Unknown => None,
        }
    }

    pub fn to_offset_json(&self) -> Json {
        match self {
            Position::Source(s) => s.to_offset_json(),
            Position::Kafka(k) => {
                json!({"topic": k.topic.as_ref(), "partition": k.partition, "offset": k.offset})
            }
            Position::KafkaGroup(g) => Json::Array(
                g.iter()
                    .map(|k| json!({"topic": k.topic.as_ref(), "partition": k.partition, "offset": k.offset}))
                    .collect(),
            ),
            Position::Unknown => Json::Null,
        }
    }
}

/// The Connect source partition a connector's offset lives under.
///
/// Debezium's connectors use `{"server": "<topic.prefix>"}`; a source with one partition per
/// table (the JDBC source: `{"protocol": "1", "table": "<table>"}`) sets `partition`, the
/// partition's JSON text, instead.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OffsetKey {
    pub connector: String,
    pub server: String,
    pub partition: Option<String>,
}

impl OffsetKey {
    /// `["<connector>",{"server":"<prefix>"}]` (or the partition), as Connect writes the key.
    pub fn to_json(&self) -> Json {
        match self.partition.as_deref().map(serde_json::from_str::<Json>) {
            Some(Ok(p)) => json!([self.connector, p]),
            _ => json!([self.connector, {"server": self.server}]),
        }
    }

    pub fn from_json(v: &Json) -> Option<OffsetKey> {
        let a = v.as_array()?;
        let connector = a.first()?.as_str()?.to_string();
        let p = a.get(1)?;
        Some(match p.get("server").and_then(Json::as_str) {
            Some(server) => OffsetKey {
                connector,
                server: server.to_string(),
                partition: None,
            },
            None => OffsetKey {
                connector,
                server: String::new(),
                partition: Some(p.as_object().map(|_| p.to_string())?),
            },
        })
    }

    /// The key a position is committed under: its own partition when it names one (a JDBC
    /// source's table), else this connector's key.
    pub fn for_position(&self, p: &Position) -> OffsetKey {
        match p.as_source().and_then(SourcePosition::partition) {
            Some(partition) => self.with_partition(partition),
            None => self.clone(),
        }
    }

    /// This connector's key for another source partition (JSON text).
    pub fn with_partition(&self, partition: &str) -> OffsetKey {
        OffsetKey {
            connector: self.connector.clone(),
            server: String::new(),
            partition: Some(partition.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Table {
        partition: String,
        n: u64,
    }

    impl SourceOffset for Table {
        fn to_offset_json(&self) -> Json {
            json!({ "n": self.n })
        }
        fn partition(&self) -> Option<&str> {
            Some(&self.partition)
        }
    }

    #[derive(Debug, PartialEq)]
    struct Other(u64);

    impl SourceOffset for Other {
        fn to_offset_json(&self) -> Json {
            json!(self.0)
        }
    }

    #[test]
    fn a_source_position_keeps_its_type_its_json_and_its_equality() {
        let table = |n| Table {
            partition: r#"{"table":"t"}"#.into(),
            n,
        };
        let p = Position::from_source(table(7));
        assert_eq!(p.to_offset_json(), json!({"n": 7}));
        assert_eq!(p.source_as::<Table>(), Some(&table(7)));
        assert_eq!(p.source_as::<Other>(), None);
        assert_eq!(p, Position::from_source(table(7)));
        assert_ne!(p, Position::from_source(table(8)));
        assert_ne!(p, Position::from_source(Other(7)));
        assert_eq!(p.version(), None);
    }

    #[test]
    fn a_position_with_its_own_partition_is_committed_under_it() {
        let key = OffsetKey {
            connector: "c".into(),
            server: "s".into(),
            partition: None,
        };
        let own = Position::from_source(Table {
            partition: r#"{"table":"t"}"#.into(),
            n: 1,
        });
        assert_eq!(
            key.for_position(&own).to_json().to_string(),
            r#"["c",{"table":"t"}]"#
        );
        assert_eq!(key.for_position(&Position::from_source(Other(1))), key);
    }

    #[test]
    fn key_is_connect_partition_json() {
        let k = OffsetKey {
            connector: "inventory".into(),
            server: "dbserver1".into(),
            partition: None,
        };
        assert_eq!(
            k.to_json().to_string(),
            r#"["inventory",{"server":"dbserver1"}]"#
        );
        assert_eq!(OffsetKey::from_json(&k.to_json()), Some(k));
        let t = OffsetKey {
            connector: "jdbc".into(),
            server: String::new(),
            partition: Some(r#"{"protocol":"1","table":"orders"}"#.into()),
        };
        assert_eq!(
            t.to_json().to_string(),
            r#"["jdbc",{"protocol":"1","table":"orders"}]"#
        );
        assert_eq!(OffsetKey::from_json(&t.to_json()), Some(t));
    }
}
