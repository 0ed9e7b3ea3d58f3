//! Schema history: table definitions by binlog position, so a restart at an old position decodes
//! rows with the definitions that were in force there.
//!
//! Records (Debezium's history record format, see `history_codec`) go to a
//! [`SchemaHistoryStore`] (a file or a Kafka topic), appended durably in binlog order *before*
//! the offset can move past the DDL that produced a record. A `baseline` record holds every captured table (written at
//! first start, or when history had to be rebuilt); other records hold the tables one DDL
//! statement changed or dropped. A record's position is the position *after* its DDL, so
//! [`SchemaHistory::state_at`] at a restart position includes exactly the DDL already applied.
//!
//! Database default character sets (what a later CREATE TABLE without one resolves to) follow
//! the same rule: a baseline record carries them all, and each CREATE/ALTER/DROP DATABASE that
//! changes one is a record of its own (its statement, no tables), replayed by
//! [`SchemaHistory::charsets_at`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sluice_core::SchemaHistoryStore;

use crate::charset::Defaults;
use crate::error::MySqlError;
use crate::history_codec;
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
    /// The statement's default database (Debezium's `databaseName`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<String>,
    /// On a baseline: every database's default character set and the server's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charsets: Option<Defaults>,
}

/// What [`SchemaHistory::charsets_at`] finds: the baseline's database defaults, and the
/// database statements after it as (default database, statement).
pub type CharsetsAt<'a> = (Option<&'a Defaults>, Vec<(&'a str, &'a str)>);

/// Compares binlog coordinates: by file sequence number, then position.
pub fn cmp_position(a_file: &str, a_pos: u64, b_file: &str, b_pos: u64) -> std::cmp::Ordering {
    let seq = |f: &str| f.rsplit_once('.').and_then(|(_, n)| n.parse::<u64>().ok());
    match (seq(a_file), seq(b_file)) {
        (Some(x), Some(y)) => (x, a_pos).cmp(&(y, b_pos)),
        _ => (a_file, a_pos).cmp(&(b_file, b_pos)),
    }
}

/// The schema history of one connector, over a store (file or Kafka topic).
pub struct SchemaHistory {
    store: Box<dyn SchemaHistoryStore>,
    server: String,
    server_id: u32,
    records: Vec<HistoryRecord>,
}

impl std::fmt::Debug for SchemaHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaHistory")
            .field("store", &self.store.location())
            .field("records", &self.records.len())
            .finish()
    }
}

impl SchemaHistory {
    /// Reads the history in `store`; `server` is the topic prefix written into new records.
    pub fn open(
        mut store: Box<dyn SchemaHistoryStore>,
        server: &str,
    ) -> Result<SchemaHistory, MySqlError> {
        let location = store.location();
        let mut records = Vec::new();
        for (n, doc) in store
            .load()
            .map_err(|e| MySqlError::History(e.to_string()))?
            .iter()
            .enumerate()
        {
            let r = history_codec::decode(doc).map_err(|e| {
                MySqlError::History(format!(
                    "{location} record {}: {e}; restore the history, or remove it and restart with snapshot.mode=recovery",
                    n + 1
                ))
            })?;
            records.push(r);
        }
        // a history written by Debezium has no baseline flag: replay it from the start
        if !records.iter().any(|r| r.baseline) {
            if let Some(first) = records.first_mut() {
                first.baseline = true;
            }
        }
        Ok(SchemaHistory {
            store,
            server: server.to_string(),
            server_id: 0,
            records,
        })
    }

    /// The source server's id, written into new records' positions.
    pub fn set_server_id(&mut self, id: u32) {
        self.server_id = id;
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn location(&self) -> String {
        self.store.location()
    }

    /// Durably appends one record.
    pub fn append(&mut self, record: HistoryRecord) -> Result<(), MySqlError> {
        let ts_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let doc = history_codec::encode(&record, &self.server, self.server_id, ts_ms);
        self.store
            .append(&doc)
            .map_err(|e| MySqlError::History(e.to_string()))?;
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

    /// The database default character sets recorded at the last baseline at or before
    /// (`file`, `pos`) (`None` for a baseline written before sluice kept them), and the database
    /// statements recorded after it up to that position, as (default database, statement), in
    /// order. `None` if no baseline precedes the position.
    pub fn charsets_at(&self, file: &str, pos: u64) -> Option<CharsetsAt<'_>> {
        let upto: Vec<&HistoryRecord> = self
            .records
            .iter()
            .filter(|r| cmp_position(&r.file, r.pos, file, pos).is_le())
            .collect();
        let start = upto.iter().rposition(|r| r.baseline)?;
        let statements = upto[start + 1..]
            .iter()
            .filter(|r| r.tables.is_empty() && r.dropped.is_empty())
            .filter_map(|r| Some((r.db.as_deref().unwrap_or(""), r.ddl.as_deref()?)))
            .collect();
        Some((upto[start].charsets.as_ref(), statements))
    }
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
            default_charset: None,
        }
    }

    #[test]
    fn state_at_an_old_position_uses_the_old_definition() {
        let dir = std::env::temp_dir().join(format!("sluice-hist-{}", std::process::id()));
        let path = dir.join("history.jsonl");
        let _ = std::fs::remove_file(&path);
        let open = || {
            SchemaHistory::open(Box::new(sluice_core::FileHistoryStore::new(&path)), "app").unwrap()
        };
        let mut h = open();
        h.append(HistoryRecord {
            file: "b.000001".into(),
            pos: 100,
            baseline: true,
            ddl: None,
            tables: vec![def(&["id", "a"])],
            dropped: vec![],
            db: None,
            charsets: Some(Defaults::default()),
        })
        .unwrap();
        h.append(HistoryRecord {
            file: "b.000002".into(),
            pos: 500,
            baseline: false,
            ddl: Some("ALTER TABLE t ADD b INT".into()),
            tables: vec![def(&["id", "a", "b"])],
            dropped: vec![],
            db: Some("app".into()),
            charsets: None,
        })
        .unwrap();
        let reopened = open();
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
    fn database_charsets_replay_from_the_baseline_and_database_statements() {
        let dir = std::env::temp_dir().join(format!("sluice-hist-cs-{}", std::process::id()));
        let path = dir.join("history.jsonl");
        let _ = std::fs::remove_file(&path);
        let open = || {
            SchemaHistory::open(Box::new(sluice_core::FileHistoryStore::new(&path)), "app").unwrap()
        };
        let mut baseline = Defaults::default();
        baseline.set_database("app", Some("latin2".into()));
        let record = |pos, ddl: &str, tables| HistoryRecord {
            file: "b.000001".into(),
            pos,
            baseline: false,
            ddl: Some(ddl.into()),
            tables,
            dropped: vec![],
            db: Some("app".into()),
            charsets: None,
        };
        let mut h = open();
        h.append(HistoryRecord {
            baseline: true,
            ddl: None,
            charsets: Some(baseline.clone()),
            ..record(100, "", vec![def(&["id"])])
        })
        .unwrap();
        h.append(record(200, "ALTER DATABASE CHARACTER SET koi8r", vec![]))
            .unwrap();
        h.append(record(300, "CREATE TABLE u (id INT)", vec![def(&["id"])]))
            .unwrap();
        let reopened = open();
        let (base, statements) = reopened.charsets_at("b.000001", 150).unwrap();
        assert_eq!((base, statements), (Some(&baseline), vec![]));
        let (_, statements) = reopened.charsets_at("b.000001", 900).unwrap();
        assert_eq!(statements, [("app", "ALTER DATABASE CHARACTER SET koi8r")]);
        assert!(reopened.charsets_at("b.000001", 50).is_none());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn binlog_positions_order_by_file_sequence() {
        assert!(cmp_position("b.000009", 900, "b.000010", 4).is_lt());
        assert!(cmp_position("b.000010", 4, "b.000010", 4).is_eq());
    }
}
