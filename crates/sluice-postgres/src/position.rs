//! The PostgreSQL position: Debezium's Postgres offset.

use std::sync::Arc;

use serde_json::{json, Map, Value as Json};
use sluice_core::{OffsetMap, SnapshotProgress, SourceOffset};

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
/// * `lsn_last_commit` (sluice's) — the end LSN of the last transaction the replication stream
///   committed before the next event: the first element of the next events' `source.sequence`
///   (what Debezium puts there, see [`crate::stream`]), kept so that it survives a restart.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PgPosition {
    pub lsn: u64,
    pub lsn_proc: u64,
    pub lsn_commit: u64,
    pub event: u64,
    /// `lsn_last_commit`: absent until the stream saw a commit (after a snapshot, a new slot).
    pub last_commit: Option<u64>,
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
        if let Some(l) = self.last_commit {
            m.insert("lsn_last_commit".into(), json!(l));
        }
        if self.snapshot {
            m.insert("snapshot".into(), json!(true));
            m.insert("last_snapshot_record".into(), json!(false));
        }
        if let Some(p) = &self.snapshot_progress {
            p.write_to(&mut m);
        }
        if let Some(i) = &self.incremental {
            m.insert("incremental_snapshot".into(), i.as_ref().clone());
        }
        Json::Object(m)
    }

    /// Reads Debezium's Postgres offset map (numbers may be strings, for hand-edited offsets).
    pub fn from_offset_json(v: &Json) -> Result<PgPosition, String> {
        let o = OffsetMap::of(v, "PostgreSQL offset")?;
        let lsn = o.number("lsn")?.ok_or("PostgreSQL offset has no \"lsn\"")?;
        Ok(PgPosition {
            lsn,
            lsn_proc: o.number("lsn_proc")?.unwrap_or(lsn),
            lsn_commit: o.number("lsn_commit")?.unwrap_or(lsn),
            event: o.number("event")?.unwrap_or(0),
            last_commit: o.number("lsn_last_commit")?,
            tx_id: o.number("txId")?,
            ts_usec: o.number("ts_usec")?.unwrap_or(0) as i64,
            snapshot: o.flag("snapshot"),
            snapshot_progress: o.snapshot_progress()?,
            incremental: o.incremental(),
        })
    }
}

impl SourceOffset for PgPosition {
    fn to_offset_json(&self) -> Json {
        PgPosition::to_offset_json(self)
    }

    /// The commit LSN of the event's transaction.
    fn version(&self) -> Option<u64> {
        Some(self.lsn_commit)
    }

    fn event_time_sec(&self) -> Option<u64> {
        u64::try_from(self.ts_usec / 1_000_000)
            .ok()
            .filter(|s| *s > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_json_round_trips_with_debezium_keys() {
        let p = PgPosition {
            lsn: 100,
            lsn_proc: 90,
            lsn_commit: 95,
            event: 2,
            last_commit: Some(80),
            tx_id: Some(7),
            ts_usec: 1_700_000_000_000_000,
            ..Default::default()
        };
        let j = p.to_offset_json();
        assert_eq!(
            j.to_string(),
            r#"{"lsn":100,"txId":7,"ts_usec":1700000000000000,"lsn_proc":90,"lsn_commit":95,"event":2,"lsn_last_commit":80}"#
        );
        assert_eq!(PgPosition::from_offset_json(&j).unwrap(), p);
    }
}
