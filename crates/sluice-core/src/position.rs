//! Typed source positions and their Debezium/Kafka Connect offset encoding.
//!
//! A position attached to an event means "to continue *after* this event, restart here". For the
//! binlog that is Debezium's restart position: the binlog coordinates of the start of the current
//! transaction (`file`, `pos`), how many events of that transaction were already fully handled
//! (`event`) and how many rows of the next rows event (`row`). `gtids` is the GTID set executed
//! *before* the current transaction. The JSON form is exactly the map Debezium's MySQL connector
//! stores (`file, pos, event, row, server_id, gtids, ts_sec`), under the key
//! `["<connector name>", {"server": "<topic.prefix>"}]`, so offsets move between the two tools.

use std::sync::Arc;

use serde_json::{json, Map, Value as Json};

/// Where a connector's source is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    Binlog(BinlogPosition),
    /// A PostgreSQL logical replication position ([`PgPosition`]).
    Postgres(PgPosition),
    /// A query-based source's position in one table ([`JdbcPosition`]).
    Jdbc(JdbcPosition),
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

/// A MySQL/MariaDB binlog restart position.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BinlogPosition {
    pub file: Arc<str>,
    pub pos: u64,
    /// Events of the transaction starting at `pos` already handled.
    pub event: u64,
    /// Rows of the next rows event already handled.
    pub row: u64,
    pub server_id: u32,
    /// GTID set executed before the transaction at `pos` (MariaDB `D-S-N,…` or MySQL `uuid:1-5,…`).
    pub gtids: Option<Arc<str>>,
    /// Commit time (seconds since the epoch) of the last event handled.
    pub ts_sec: u64,
    /// True while an initial snapshot is in progress.
    pub snapshot: bool,
    /// While a snapshot is in progress: how far it has durably got.
    pub snapshot_progress: Option<SnapshotProgress>,
    /// State of an incremental (signal-triggered) snapshot in progress, owned by the source
    /// (stored as `incremental_snapshot` in the offset map).
    pub incremental: Option<Arc<Json>>,
}

/// Snapshot progress: every row of the tables before `table` (in capture order), and of `table`
/// up to and including primary key `key`, has been delivered durably. `key` holds SQL literals
/// of the key columns, in key order. Stored as sluice's extension fields of the offset map
/// (`snapshot_table`, `snapshot_key`); Debezium ignores them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotProgress {
    pub table: Arc<str>,
    pub key: Arc<[String]>,
}

impl SnapshotProgress {
    /// The `snapshot_table` / `snapshot_key` fields of an offset map, if present.
    fn from_offset_map(o: &Map<String, Json>) -> Result<Option<SnapshotProgress>, String> {
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

impl BinlogPosition {
    /// Debezium's offset map (keys in the order Debezium documents them; zero `event`/`row` and
    /// absent `gtids` are omitted, as Debezium does).
    pub fn to_offset_json(&self) -> Json {
        let mut m = Map::new();
        m.insert("file".into(), json!(self.file.as_ref()));
        m.insert("pos".into(), json!(self.pos));
        if self.event != 0 {
            m.insert("event".into(), json!(self.event));
        }
        if self.row != 0 {
            m.insert("row".into(), json!(self.row));
        }
        if self.server_id != 0 {
            m.insert("server_id".into(), json!(self.server_id));
        }
        if let Some(g) = &self.gtids {
            m.insert("gtids".into(), json!(g.as_ref()));
        }
        m.insert("ts_sec".into(), json!(self.ts_sec));
        if self.snapshot {
            m.insert("snapshot".into(), json!(true));
        }
        if let Some(p) = &self.snapshot_progress {
            m.insert("snapshot_table".into(), json!(p.table.as_ref()));
            m.insert("snapshot_key".into(), json!(p.key.as_ref()));
        }
        if let Some(i) = &self.incremental {
            m.insert("incremental_snapshot".into(), i.as_ref().clone());
        }
        Json::Object(m)
    }

    /// Reads Debezium's offset map. Numbers may be JSON numbers or strings (hand-edited offsets).
    pub fn from_offset_json(v: &Json) -> Result<BinlogPosition, String> {
        let o = v
            .as_object()
            .ok_or_else(|| "binlog offset must be a JSON object".to_string())?;
        let file = o
            .get("file")
            .and_then(Json::as_str)
            .ok_or_else(|| "binlog offset has no \"file\"".to_string())?;
        let num = |k: &str| -> Result<u64, String> {
            match o.get(k) {
                None | Some(Json::Null) => Ok(0),
                Some(Json::Number(n)) => n
                    .as_u64()
                    .ok_or_else(|| format!("offset field \"{k}\" is not a non-negative integer")),
                Some(Json::String(s)) => s
                    .parse()
                    .map_err(|_| format!("offset field \"{k}\" is not an integer: {s:?}")),
                Some(_) => Err(format!("offset field \"{k}\" is not an integer")),
            }
        };
        if !o.contains_key("pos") {
            return Err("binlog offset has no \"pos\"".into());
        }
        let snapshot = match o.get("snapshot") {
            Some(Json::Bool(b)) => *b,
            Some(Json::String(s)) => s == "true",
            _ => false,
        };
        Ok(BinlogPosition {
            file: file.into(),
            pos: num("pos")?,
            event: num("event")?,
            row: num("row")?,
            server_id: u32::try_from(num("server_id")?)
                .map_err(|_| "offset field \"server_id\" is out of range".to_string())?,
            gtids: o
                .get("gtids")
                .and_then(Json::as_str)
                .filter(|s| !s.is_empty())
                .map(Arc::from),
            ts_sec: num("ts_sec")?,
            snapshot,
            snapshot_progress: SnapshotProgress::from_offset_map(o)?,
            incremental: o
                .get("incremental_snapshot")
                .filter(|v| v.is_object())
                .map(|v| Arc::new(v.clone())),
        })
    }
}

/// A PostgreSQL logical replication restart position.
///
/// The JSON form is Debezium's Postgres offset (`lsn`, `txId`, `ts_usec`, `lsn_proc`,
/// `lsn_commit`, `snapshot`, `last_snapshot_record`) plus sluice's `event` field. Meaning, as
/// sluice uses it:
/// * `lsn` — where streaming restarts and what may be confirmed to the slot as flushed: the end
///   of the last transaction every event of which is delivered (or the slot's consistent point
///   after a snapshot). Everything the server sends from there on is wanted again.
/// * `lsn_commit` — the commit LSN of the transaction the last delivered event belongs to, and
///   `event` how many change events of that transaction were delivered (0: the transaction is
///   complete). A restart skips those events of the transaction with that commit LSN.
/// * `lsn_proc` — the LSN of the last delivered change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PgPosition {
    pub lsn: u64,
    pub lsn_proc: u64,
    pub lsn_commit: u64,
    pub event: u64,
    pub tx_id: Option<u64>,
    /// Commit time of the last transaction handled (µs since the epoch).
    pub ts_usec: i64,
    /// True while an initial snapshot is in progress.
    pub snapshot: bool,
    /// While a snapshot is in progress: how far it has durably got, and the exported snapshot
    /// it reads (reused after a restart while the slot's creating session still holds it).
    pub snapshot_progress: Option<SnapshotProgress>,
    /// State of an incremental (signal-triggered) snapshot in progress, owned by the source
    /// (stored as `incremental_snapshot` in the offset map).
    pub incremental: Option<Arc<Json>>,
}

impl PgPosition {
    pub fn to_offset_json(&self) -> Json {
        let mut m = Map::new();
        m.insert("lsn".into(), json!(self.lsn));
        if let Some(t) = self.tx_id {
            m.insert("txId".into(), json!(t));
        }
        m.insert("ts_usec".into(), json!(self.ts_usec));
        m.insert("lsn_proc".into(), json!(self.lsn_proc));
        m.insert("lsn_commit".into(), json!(self.lsn_commit));
        if self.event != 0 {
            m.insert("event".into(), json!(self.event));
        }
        if self.snapshot {
            m.insert("snapshot".into(), json!(true));
            m.insert("last_snapshot_record".into(), json!(false));
        }
        if let Some(p) = &self.snapshot_progress {
            m.insert("snapshot_table".into(), json!(p.table.as_ref()));
            m.insert("snapshot_key".into(), json!(p.key.as_ref()));
        }
        if let Some(i) = &self.incremental {
            m.insert("incremental_snapshot".into(), i.as_ref().clone());
        }
        Json::Object(m)
    }

    /// Reads Debezium's Postgres offset map (numbers may be strings, for hand-edited offsets).
    pub fn from_offset_json(v: &Json) -> Result<PgPosition, String> {
        let o = v
            .as_object()
            .ok_or_else(|| "PostgreSQL offset must be a JSON object".to_string())?;
        let num = |k: &str| -> Result<Option<u64>, String> {
            match o.get(k) {
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
        };
        let lsn = num("lsn")?.ok_or("PostgreSQL offset has no \"lsn\"")?;
        let snapshot = matches!(o.get("snapshot"), Some(Json::Bool(true)))
            || o.get("snapshot").and_then(Json::as_str) == Some("true");
        Ok(PgPosition {
            lsn,
            lsn_proc: num("lsn_proc")?.unwrap_or(lsn),
            lsn_commit: num("lsn_commit")?.unwrap_or(lsn),
            event: num("event")?.unwrap_or(0),
            tx_id: num("txId")?,
            ts_usec: num("ts_usec")?.unwrap_or(0) as i64,
            snapshot,
            snapshot_progress: SnapshotProgress::from_offset_map(o)?,
            incremental: o.get("incremental_snapshot").cloned().map(Arc::new),
        })
    }
}

impl Position {
    /// A number that never decreases along a source's stream, for versioning writes in a
    /// destination (an Elasticsearch external version): the Kafka offset; for the binlog the
    /// file's sequence number × 2³² + the position of the event's transaction (binlog files stay
    /// below 4 GiB), equal for the events of one transaction; for PostgreSQL the commit LSN of
    /// the event's transaction. `None` when there is none.
    pub fn version(&self) -> Option<u64> {
        match self {
            Position::Binlog(b) => {
                let seq: u64 = b.file.rsplit_once('.')?.1.parse().ok()?;
                Some((seq << 32) | b.pos.min(u64::from(u32::MAX)))
            }
            Position::Postgres(p) => Some(p.lsn_commit),
            Position::Jdbc(_) => None,
            Position::Kafka(k) => u64::try_from(k.offset).ok(),
            Position::KafkaGroup(_) | Position::Unknown => None,
        }
    }

    pub fn to_offset_json(&self) -> Json {
        match self {
            Position::Binlog(b) => b.to_offset_json(),
            Position::Postgres(p) => p.to_offset_json(),
            Position::Jdbc(j) => j.to_offset_json(),
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
        match p {
            Position::Jdbc(j) => self.with_partition(&j.partition),
            _ => self.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_json_round_trips_and_matches_debezium_keys() {
        let p = BinlogPosition {
            file: "mysql-bin.000003".into(),
            pos: 1234,
            event: 2,
            row: 1,
            server_id: 1,
            gtids: Some("0-1-42".into()),
            ts_sec: 1_700_000_000,
            snapshot: false,
            snapshot_progress: None,
            incremental: None,
        };
        let j = p.to_offset_json();
        assert_eq!(
            j.to_string(),
            r#"{"file":"mysql-bin.000003","pos":1234,"event":2,"row":1,"server_id":1,"gtids":"0-1-42","ts_sec":1700000000}"#
        );
        assert_eq!(BinlogPosition::from_offset_json(&j).unwrap(), p);
    }

    #[test]
    fn snapshot_progress_round_trips() {
        let p = BinlogPosition {
            file: "b.000001".into(),
            pos: 4,
            snapshot: true,
            snapshot_progress: Some(SnapshotProgress {
                table: "app.t".into(),
                key: vec!["42".to_string(), "'k''x'".to_string()].into(),
            }),
            ..Default::default()
        };
        let j = p.to_offset_json();
        assert_eq!(j["snapshot_key"][1], "'k''x'");
        assert_eq!(BinlogPosition::from_offset_json(&j).unwrap(), p);
    }

    #[test]
    fn hand_written_offsets_with_strings_are_accepted() {
        let j: Json = serde_json::from_str(r#"{"file":"b.000001","pos":"4"}"#).unwrap();
        let p = BinlogPosition::from_offset_json(&j).unwrap();
        assert_eq!((p.file.as_ref(), p.pos, p.event), ("b.000001", 4, 0));
        let bad: Json = serde_json::from_str(r#"{"pos":4}"#).unwrap();
        assert!(BinlogPosition::from_offset_json(&bad).is_err());
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
