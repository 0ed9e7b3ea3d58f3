//! The binlog position: Debezium's MySQL/MariaDB offset.
//!
//! To continue *after* an event, restart at the binlog coordinates of the start of its
//! transaction (`file`, `pos`), skipping the events of that transaction already handled
//! (`event`) and the rows of the next rows event already handled (`row`). `gtids` is the GTID set
//! executed *before* that transaction. The JSON form is exactly the map Debezium's MySQL and
//! MariaDB connectors store (`file, pos, event, row, server_id, gtids, ts_sec`), so offsets move
//! between the two tools.

use std::sync::Arc;

use serde_json::{json, Map, Value as Json};
use sluice_core::{OffsetMap, SnapshotProgress, SourceOffset};

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
            p.write_to(&mut m);
        }
        if let Some(i) = &self.incremental {
            m.insert("incremental_snapshot".into(), i.as_ref().clone());
        }
        Json::Object(m)
    }

    /// Reads Debezium's offset map. Numbers may be JSON numbers or strings (hand-edited offsets).
    pub fn from_offset_json(v: &Json) -> Result<BinlogPosition, String> {
        let o = OffsetMap::of(v, "binlog offset")?;
        let file = o.text("file").ok_or("binlog offset has no \"file\"")?;
        let pos = o.number("pos")?.ok_or("binlog offset has no \"pos\"")?;
        let num = |k: &str| o.number(k).map(Option::unwrap_or_default);
        Ok(BinlogPosition {
            file: file.into(),
            pos,
            event: num("event")?,
            row: num("row")?,
            server_id: u32::try_from(num("server_id")?)
                .map_err(|_| "offset field \"server_id\" is out of range".to_string())?,
            gtids: o.text("gtids").filter(|s| !s.is_empty()).map(Arc::from),
            ts_sec: num("ts_sec")?,
            snapshot: o.flag("snapshot"),
            snapshot_progress: o.snapshot_progress()?,
            incremental: o.incremental(),
        })
    }
}

impl SourceOffset for BinlogPosition {
    fn to_offset_json(&self) -> Json {
        BinlogPosition::to_offset_json(self)
    }

    /// The file's sequence number × 2³² + the position of the event's transaction (binlog files
    /// stay below 4 GiB): equal for the events of one transaction, growing along the stream.
    fn version(&self) -> Option<u64> {
        let seq: u64 = self.file.rsplit_once('.')?.1.parse().ok()?;
        Some((seq << 32) | self.pos.min(u64::from(u32::MAX)))
    }

    fn event_time_sec(&self) -> Option<u64> {
        (self.ts_sec > 0).then_some(self.ts_sec)
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
    fn versions_grow_along_files_and_transactions() {
        let at = |file: &str, pos| BinlogPosition {
            file: file.into(),
            pos,
            ..Default::default()
        };
        let v = |p: BinlogPosition| SourceOffset::version(&p).unwrap();
        assert!(v(at("b.000001", 900)) < v(at("b.000002", 4)));
        assert!(v(at("b.000002", 4)) < v(at("b.000002", 5)));
    }
}
