//! Schema history: table definitions by binlog position, so a restart at an old position decodes
//! rows with the definitions that were in force there.
//!
//! The file is JSON lines, appended and fsynced in binlog order *before* the offset can move past
//! the DDL that produced a record. A `baseline` record holds every captured table (written at
//! first start, or when history had to be rebuilt); other records hold the tables one DDL
//! statement changed or dropped. A record's position is the position *after* its DDL, so
//! [`SchemaHistory::state_at`] at a restart position includes exactly the DDL already applied.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::MySqlError;
use crate::table::{TableDef, TableId};

/// One history entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    pub file: String,
    pub pos: u64,
    #[serde(default)]
    pub baseline: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ddl: Option<String>,
    #[serde(default)]
    pub tables: Vec<TableDef>,
    #[serde(default)]
    pub dropped: Vec<TableId>,
}

/// Compares binlog coordinates: by file sequence number, then position.
pub fn cmp_position(a_file: &str, a_pos: u64, b_file: &str, b_pos: u64) -> std::cmp::Ordering {
    let seq = |f: &str| f.rsplit_once('.').and_then(|(_, n)| n.parse::<u64>().ok());
    match (seq(a_file), seq(b_file)) {
        (Some(x), Some(y)) => (x, a_pos).cmp(&(y, b_pos)),
        _ => (a_file, a_pos).cmp(&(b_file, b_pos)),
    }
}

/// The history file of one connector.
#[derive(Debug)]
pub struct SchemaHistory {
    path: PathBuf,
    records: Vec<HistoryRecord>,
}

impl SchemaHistory {
    /// Opens (or starts) the history at `path`.
    pub fn open(path: &Path) -> Result<SchemaHistory, MySqlError> {
        let mut records = Vec::new();
        if path.exists() {
            let f = File::open(path)
                .map_err(|e| MySqlError::History(format!("{}: {e}", path.display())))?;
            for (n, line) in BufReader::new(f).lines().enumerate() {
                let line =
                    line.map_err(|e| MySqlError::History(format!("{}: {e}", path.display())))?;
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<HistoryRecord>(&line) {
                    Ok(r) => records.push(r),
                    // a torn last line from a crash mid-append: the DDL it described will be
                    // read from the binlog again, because the offset never passed it
                    Err(_) if n + 1 == count_lines(path) => break,
                    Err(e) => {
                        return Err(MySqlError::History(format!(
                            "{} line {}: {e}; the schema history is corrupt — restore it or delete it to rebuild from the live database",
                            path.display(),
                            n + 1
                        )))
                    }
                }
            }
        }
        Ok(SchemaHistory {
            path: path.to_path_buf(),
            records,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends and fsyncs one record.
    pub fn append(&mut self, record: HistoryRecord) -> Result<(), MySqlError> {
        let err = |e: std::io::Error| MySqlError::History(format!("{}: {e}", self.path.display()));
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut line =
            serde_json::to_vec(&record).map_err(|e| MySqlError::History(e.to_string()))?;
        line.push(b'\n');
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(err)?;
        f.write_all(&line).map_err(err)?;
        f.sync_data().map_err(err)?;
        self.records.push(record);
        Ok(())
    }

    /// Table definitions in force at binlog position (`file`, `pos`): the last baseline at or
    /// before it, plus every later record at or before it. `None` if no baseline precedes it.
    pub fn state_at(&self, file: &str, pos: u64) -> Option<BTreeMap<TableId, TableDef>> {
        let upto: Vec<&HistoryRecord> = self
            .records
            .iter()
            .filter(|r| cmp_position(&r.file, r.pos, file, pos).is_le())
            .collect();
        let start = upto.iter().rposition(|r| r.baseline)?;
        let mut state = BTreeMap::new();
        for r in &upto[start..] {
            if r.baseline {
                state.clear();
            }
            for d in &r.dropped {
                state.remove(d);
            }
            for t in &r.tables {
                state.insert(t.id.clone(), t.clone());
            }
        }
        Some(state)
    }
}

fn count_lines(path: &Path) -> usize {
    File::open(path)
        .map(|f| BufReader::new(f).lines().count())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{ColumnDef, SqlType};

    fn def(cols: &[&str]) -> TableDef {
        TableDef {
            id: TableId::new("app", "t"),
            columns: cols
                .iter()
                .map(|c| ColumnDef {
                    name: c.to_string(),
                    ty: SqlType::Int { unsigned: false },
                    nullable: true,
                    charset: None,
                })
                .collect(),
            primary_key: vec!["id".into()],
        }
    }

    #[test]
    fn state_at_an_old_position_uses_the_old_definition() {
        let dir = std::env::temp_dir().join(format!("sluice-hist-{}", std::process::id()));
        let path = dir.join("history.jsonl");
        let _ = std::fs::remove_file(&path);
        let mut h = SchemaHistory::open(&path).unwrap();
        h.append(HistoryRecord {
            file: "b.000001".into(),
            pos: 100,
            baseline: true,
            ddl: None,
            tables: vec![def(&["id", "a"])],
            dropped: vec![],
        })
        .unwrap();
        h.append(HistoryRecord {
            file: "b.000002".into(),
            pos: 500,
            baseline: false,
            ddl: Some("ALTER TABLE t ADD b INT".into()),
            tables: vec![def(&["id", "a", "b"])],
            dropped: vec![],
        })
        .unwrap();
        let reopened = SchemaHistory::open(&path).unwrap();
        let id = TableId::new("app", "t");
        assert_eq!(
            reopened.state_at("b.000002", 499).unwrap()[&id]
                .columns
                .len(),
            2
        );
        assert_eq!(
            reopened.state_at("b.000002", 500).unwrap()[&id]
                .columns
                .len(),
            3
        );
        assert_eq!(
            reopened.state_at("b.000010", 4).unwrap()[&id].columns.len(),
            3
        );
        assert!(reopened.state_at("b.000001", 50).is_none());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn binlog_positions_order_by_file_sequence() {
        assert!(cmp_position("b.000009", 900, "b.000010", 4).is_lt());
        assert!(cmp_position("b.000010", 4, "b.000010", 4).is_eq());
    }
}
