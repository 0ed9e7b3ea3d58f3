//! Incremental snapshots (DBLog, Netflix 2020), triggered through Debezium's signal table while
//! the change stream (binlog, logical replication) keeps flowing: the state machine every
//! log-based source shares. Reading a chunk and writing watermarks is the source's part.
//!
//! Signals are rows inserted into `signal.data.collection` (`id`, `type`, `data`), read from the
//! stream like any change: `execute-snapshot` (`{"data-collections": ["db.t", …]}`),
//! `stop-snapshot`, `pause-snapshot`, `resume-snapshot`. `additional-conditions`
//! (`[{"data-collection": "db.t", "filter": "…"}]`) restrict a table's chunks to the rows that
//! meet an SQL condition; the condition travels with the progress, so a restart keeps it.
//!
//! Algorithm, one chunk at a time, per table in primary key order (the source's part):
//! 1. insert a low watermark row (`snapshot-window-open`, id `<window>-open`) into the signal
//!    table;
//! 2. `SELECT … WHERE key > last ORDER BY key LIMIT chunk` (autocommit: the committed state now);
//! 3. insert a high watermark row (`snapshot-window-close`, id `<window>-close`), then hand the
//!    rows over with [`Incremental::open_window`].
//!
//! The stream then delivers, between the two watermarks, exactly the changes committed while the
//! SELECT may have run. Every such change to a key of the chunk evicts that key from the chunk
//! ([`Incremental::on_change`]: the streamed event carries a state at least as new). At the high
//! watermark the remaining chunk rows are emitted as `op: "r"` with `source.snapshot =
//! "incremental"`: each is the latest state of its row at that point of the stream, so
//! interleaving them with the stream never moves a consumer back to an older value. Watermarks
//! are found by their ids, so other signal rows and other tables pass through untouched.
//!
//! Progress (tables left, last key delivered) travels in every offset (`incremental_snapshot`);
//! a restart continues with the next chunk. The chunk whose watermarks were written but not
//! closed before a crash is simply read again.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use sluice_core::Value;

/// Durable part of the state (stored in offsets).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Tables still to read, the current one first (`db.table`).
    pub tables: VecDeque<String>,
    /// SQL literals of the last key delivered from the current table.
    #[serde(default)]
    pub key: Option<Vec<String>>,
    #[serde(default)]
    pub paused: bool,
    /// `additional-conditions` of the signals: per table, an SQL condition rows must meet.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub conditions: BTreeMap<String, String>,
}

/// A chunk between its watermarks.
#[derive(Debug)]
struct Window {
    id: String,
    open_seen: bool,
    /// (key values, row values) still to emit.
    rows: Vec<(Vec<Value>, Vec<Value>)>,
    /// Key literals of the last row the SELECT returned (progress once the chunk is emitted).
    last_key: Option<Vec<String>>,
    full: bool,
}

/// The incremental snapshot of one connector.
#[derive(Debug, Default)]
pub struct Incremental {
    pub progress: Progress,
    window: Option<Window>,
    counter: u64,
}

/// What the next chunk reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NextChunk<'a> {
    /// The table, as named in `data-collections`.
    pub table: &'a str,
    /// SQL literals of the last key delivered (`None`: from the start).
    pub after: Option<&'a [String]>,
    /// The table's `additional-conditions` filter.
    pub condition: Option<&'a str>,
}

/// A signal row.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub id: String,
    pub kind: String,
    pub data: String,
}

impl Signal {
    /// A signal written by `sluice snapshot`: id `sluice-cli-<µs>`, `data` naming `tables`.
    pub fn from_cli(kind: &str, tables: &[String]) -> Signal {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        Signal {
            id: format!("sluice-cli-{micros}"),
            kind: kind.to_string(),
            data: serde_json::json!({"data-collections": tables, "type": "incremental"})
                .to_string(),
        }
    }
}

/// The `additional-conditions` of an `execute-snapshot` signal: `[{"data-collection": "db.t",
/// "filter": "color = 'blue'"}]` (Debezium 2.x and later), or the older single
/// `"additional-condition": "…"` that applies to every listed table.
fn additional_conditions(data: &serde_json::Value) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    if let Some(list) = data.get("additional-conditions") {
        let list = list
            .as_array()
            .ok_or("additional-conditions must be a JSON array")?;
        for c in list {
            let table = c["data-collection"]
                .as_str()
                .ok_or("each additional-conditions entry needs \"data-collection\"")?;
            let filter = c["filter"]
                .as_str()
                .ok_or("each additional-conditions entry needs \"filter\"")?;
            out.push((table.to_string(), filter.to_string()));
        }
    }
    if let Some(f) = data.get("additional-condition").and_then(|v| v.as_str()) {
        for t in data["data-collections"].as_array().into_iter().flatten() {
            if let Some(t) = t.as_str() {
                out.push((t.to_string(), f.to_string()));
            }
        }
    }
    Ok(out)
}

/// What the stream must do after a signal or a watermark.
#[derive(Debug, PartialEq)]
pub enum Next {
    Nothing,
    /// Open the next chunk (write watermarks, select).
    OpenChunk,
    /// Emit these rows of `table` as incremental snapshot reads, then open the next chunk.
    Emit {
        table: String,
        rows: Vec<Vec<Value>>,
    },
}

impl Incremental {
    pub fn from_offset(v: Option<&serde_json::Value>) -> Incremental {
        let progress = v
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        Incremental {
            progress,
            window: None,
            counter: 0,
        }
    }

    /// The offset form, `None` when no incremental snapshot is in progress.
    pub fn to_offset(&self) -> Option<Arc<serde_json::Value>> {
        (!self.progress.tables.is_empty())
            .then(|| serde_json::to_value(&self.progress).ok().map(Arc::new))
            .flatten()
    }

    pub fn active(&self) -> bool {
        !self.progress.tables.is_empty() && !self.progress.paused
    }

    pub fn window_open(&self) -> bool {
        self.window.is_some()
    }

    /// Handles one inserted signal row. `captured` lists the tables that may be snapshotted
    /// (`db.table`, capture order); `data-collections` entries are anchored regular expressions
    /// over those names, as in Debezium.
    pub fn on_signal(&mut self, s: &Signal, captured: &[String]) -> Next {
        let data: serde_json::Value =
            serde_json::from_str(&s.data).unwrap_or(serde_json::Value::Null);
        let collections: Vec<String> = data["data-collections"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        match s.kind.as_str() {
            "execute-snapshot" => {
                let kind = data["type"]
                    .as_str()
                    .unwrap_or("incremental")
                    .to_ascii_lowercase();
                if kind != "incremental" {
                    warn!(signal = %s.id, kind = %kind, "only incremental snapshots can be signalled; ignored");
                    return Next::Nothing;
                }
                let conditions = match additional_conditions(&data) {
                    Ok(c) => c,
                    Err(e) => {
                        warn!(signal = %s.id, error = %e, "signal ignored");
                        return Next::Nothing;
                    }
                };
                let mut added = 0;
                for pattern in collections {
                    let re = match regex::Regex::new(&format!("^(?:{pattern})$")) {
                        Ok(re) => re,
                        Err(e) => {
                            warn!(signal = %s.id, pattern = %pattern, error = %e, "not a valid data-collections pattern; skipped");
                            continue;
                        }
                    };
                    let matching: Vec<&String> =
                        captured.iter().filter(|t| re.is_match(t)).collect();
                    if matching.is_empty() {
                        warn!(signal = %s.id, pattern = %pattern, "matches no captured table; skipped");
                    }
                    for t in matching {
                        if !self.progress.tables.contains(t) {
                            self.progress.tables.push_back(t.clone());
                            added += 1;
                        }
                        match conditions.iter().find(|(c, _)| c.eq_ignore_ascii_case(t)) {
                            Some((_, filter)) => {
                                self.progress.conditions.insert(t.clone(), filter.clone());
                            }
                            None => {
                                self.progress.conditions.remove(t);
                            }
                        }
                    }
                }
                info!(signal = %s.id, tables = added, "incremental snapshot requested");
                if added > 0 && self.window.is_none() && !self.progress.paused {
                    Next::OpenChunk
                } else {
                    Next::Nothing
                }
            }
            "stop-snapshot" => {
                let current = self.progress.tables.front().cloned();
                if collections.is_empty() {
                    self.progress.tables.clear();
                } else {
                    self.progress.tables.retain(|t| !collections.contains(t));
                }
                if self.progress.tables.front() != current.as_ref() {
                    self.progress.key = None;
                    self.window = None;
                }
                info!(signal = %s.id, left = self.progress.tables.len(), "incremental snapshot stopped");
                if self.window.is_none() && self.active() {
                    Next::OpenChunk
                } else {
                    Next::Nothing
                }
            }
            "pause-snapshot" => {
                self.progress.paused = true;
                info!(signal = %s.id, "incremental snapshot paused");
                Next::Nothing
            }
            "resume-snapshot" => {
                self.progress.paused = false;
                info!(signal = %s.id, "incremental snapshot resumed");
                if self.window.is_none() && self.active() {
                    Next::OpenChunk
                } else {
                    Next::Nothing
                }
            }
            "snapshot-window-open" => {
                if let Some(w) = self
                    .window
                    .as_mut()
                    .filter(|w| w.id == s.id.trim_end_matches("-open"))
                {
                    w.open_seen = true;
                }
                Next::Nothing
            }
            "snapshot-window-close" => {
                let Some(w) = self
                    .window
                    .take_if(|w| w.id == s.id.trim_end_matches("-close"))
                else {
                    return Next::Nothing;
                };
                let table = self.progress.tables.front().cloned().unwrap_or_default();
                if w.full {
                    self.progress.key = w.last_key;
                } else {
                    self.progress.tables.pop_front();
                    self.progress.key = None;
                    self.progress.conditions.remove(&table);
                    info!(table = %table, "incremental snapshot of table complete");
                }
                Next::Emit {
                    table,
                    rows: w.rows.into_iter().map(|(_, r)| r).collect(),
                }
            }
            _ => Next::Nothing,
        }
    }

    /// A streamed change of `table` with primary key `key`: evicts the key from an open chunk.
    pub fn on_change(&mut self, table: &str, key: &[Value]) {
        if let Some(w) = self.window.as_mut().filter(|w| w.open_seen) {
            if self.progress.tables.front().is_some_and(|t| t == table) {
                w.rows.retain(|(k, _)| k.as_slice() != key);
            }
        }
    }

    /// `table` was truncated: rows of an open chunk of it are gone too.
    pub fn on_truncate(&mut self, table: &str) {
        if let Some(w) = self.window.as_mut().filter(|w| w.open_seen) {
            if self.progress.tables.front().is_some_and(|t| t == table) {
                w.rows.clear();
            }
        }
    }

    /// The table whose next chunk is to be read, `None` when nothing is to be read.
    pub fn current(&self) -> Option<NextChunk<'_>> {
        let table = self.progress.tables.front()?;
        Some(NextChunk {
            table: table.as_str(),
            after: self.progress.key.as_deref(),
            condition: self.progress.conditions.get(table).map(String::as_str),
        })
    }

    /// Drops the current table (vanished, or without a primary key).
    pub fn skip_current(&mut self) {
        if let Some(t) = self.progress.tables.pop_front() {
            self.progress.conditions.remove(&t);
        }
        self.progress.key = None;
    }

    /// A fresh window id; the watermark rows are `<id>-open` and `<id>-close`.
    pub fn next_window_id(&mut self) -> String {
        self.counter += 1;
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        format!("sluice-{micros}-{}", self.counter)
    }

    /// Hands over a chunk read between the watermarks of window `id`: `rows` are (key values,
    /// row values) in key order, `last_key` the SQL literals of the last row's key, `full`
    /// whether the chunk had as many rows as asked (more may follow).
    pub fn open_window(
        &mut self,
        id: String,
        rows: Vec<(Vec<Value>, Vec<Value>)>,
        last_key: Option<Vec<String>>,
        full: bool,
    ) {
        self.window = Some(Window {
            id,
            open_seen: false,
            rows,
            last_key,
            full,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(id: &str, kind: &str, data: &str) -> Signal {
        Signal {
            id: id.into(),
            kind: kind.into(),
            data: data.into(),
        }
    }

    #[test]
    fn signals_queue_stop_pause_and_resume() {
        let mut inc = Incremental::default();
        let all = vec!["a.t".to_string(), "a.u".to_string(), "b.t".to_string()];
        // patterns are anchored regular expressions over captured table names
        let next = inc.on_signal(
            &signal(
                "1",
                "execute-snapshot",
                r#"{"data-collections":["a\\..*"]}"#,
            ),
            &all,
        );
        assert_eq!(next, Next::OpenChunk);
        assert_eq!(inc.progress.tables, ["a.t", "a.u"]);
        inc.on_signal(&signal("2", "pause-snapshot", "{}"), &all);
        assert!(!inc.active());
        assert_eq!(
            inc.on_signal(&signal("3", "resume-snapshot", "{}"), &all),
            Next::OpenChunk
        );
        inc.on_signal(
            &signal("4", "stop-snapshot", r#"{"data-collections":["a.t"]}"#),
            &all,
        );
        assert_eq!(inc.progress.tables, ["a.u"]);
        let none: Vec<String> = Vec::new();
        let mut other = Incremental::default();
        assert_eq!(
            other.on_signal(
                &signal("5", "execute-snapshot", r#"{"data-collections":["x.y"]}"#),
                &none
            ),
            Next::Nothing
        );
        let restored = Incremental::from_offset(inc.to_offset().as_deref());
        assert_eq!(restored.progress, inc.progress);
    }

    #[test]
    fn streamed_changes_evict_chunk_rows_between_watermarks_only() {
        let mut inc = Incremental::default();
        inc.progress.tables.push_back("a.t".into());
        let row = |k: i32| (vec![Value::Int32(k)], vec![Value::Int32(k)]);
        inc.window = Some(Window {
            id: "w".into(),
            open_seen: false,
            rows: vec![row(1), row(2), row(3)],
            last_key: Some(vec!["3".into()]),
            full: true,
        });
        inc.on_change("a.t", &[Value::Int32(1)]); // before the low watermark: kept
        inc.on_signal(&signal("w-open", "snapshot-window-open", ""), &[]);
        inc.on_change("a.t", &[Value::Int32(2)]);
        inc.on_change("a.u", &[Value::Int32(3)]); // another table: kept
        let next = inc.on_signal(&signal("w-close", "snapshot-window-close", ""), &[]);
        assert_eq!(
            next,
            Next::Emit {
                table: "a.t".into(),
                rows: vec![vec![Value::Int32(1)], vec![Value::Int32(3)]]
            }
        );
        assert_eq!(
            inc.progress.key,
            Some(vec!["3".to_string()]),
            "progress is the chunk's last selected key"
        );
    }
}
