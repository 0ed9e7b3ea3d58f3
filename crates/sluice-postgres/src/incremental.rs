//! The PostgreSQL side of incremental snapshots: watermark rows and chunk reads. The signal
//! handling and the window bookkeeping are [`sluice_core::incremental`]'s (its module doc has
//! the algorithm).
//!
//! A chunk is `COPY (SELECT … WHERE (pk) > (last) ORDER BY pk LIMIT n) TO STDOUT` in autocommit
//! on the connector's query connection, between two watermark inserts into the signal table.
//! Logical replication sends transactions in commit order, so every change committed between
//! the two watermark commits reaches the stream between the two watermark inserts. The last
//! key is kept as the server's text of each key column and compared as a row of literals,
//! which the server types from the key columns.

use std::collections::HashMap;
use std::sync::Arc;

use sluice_cdc::incremental::{Incremental, Next, Signal};
use sluice_core::{ChangeEvent, Position, Value};

use crate::position::PgPosition;
use sqlx::postgres::PgConnection;
use tracing::warn;

use crate::catalog::{self, quote};
use crate::config::PgConfig;
use crate::envelope::{Cell, SourceInfo, TableSchemas};
use crate::error::{sql, PgError};
use crate::infinity::Origin;
use crate::pgoutput::RelColumn;
use crate::snapshot::{copy_cells, copy_out};
use crate::stream::Streamer;
use sluice_cdc::{Marker, Op};

/// An SQL string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The chunk query of table `t` after key `after` (text of each key column).
pub fn chunk_sql(
    t: &TableSchemas,
    after: Option<&[String]>,
    condition: Option<&str>,
    limit: usize,
) -> String {
    let cols: Vec<String> = t.table.columns.iter().map(|c| quote(&c.name)).collect();
    let keys: Vec<String> = t.table.primary_key.iter().map(|k| quote(k)).collect();
    let mut conds = Vec::new();
    if let Some(after) = after {
        let lits: Vec<String> = after.iter().map(|v| literal(v)).collect();
        conds.push(format!("({}) > ({})", keys.join(", "), lits.join(", ")));
    }
    if let Some(c) = condition {
        conds.push(format!("({c})"));
    }
    let mut q = format!("SELECT {} FROM {}", cols.join(", "), t.table.quoted());
    if !conds.is_empty() {
        q.push_str(&format!(" WHERE {}", conds.join(" AND ")));
    }
    q.push_str(&format!(" ORDER BY {} LIMIT {limit}", keys.join(", ")));
    q
}

/// Writes the low watermark, reads the next chunk of the current table, writes the high
/// watermark. Tables that are not captured or lack a primary key are skipped with a warning.
pub async fn open_chunk(
    inc: &mut Incremental,
    conn: &mut PgConnection,
    signal_table: &str,
    chunk: usize,
    tables: &HashMap<String, Arc<TableSchemas>>,
    placeholder: &str,
) -> Result<(), PgError> {
    while let Some(next) = inc.current() {
        let name = next.table;
        let Some(t) = tables
            .get(name)
            .filter(|t| !t.table.primary_key.is_empty())
            .cloned()
        else {
            warn!(table = %name, "incremental snapshot needs a captured table with a primary key; skipped");
            inc.skip_current();
            continue;
        };
        let q = chunk_sql(&t, next.after, next.condition, chunk);
        let name = name.to_string();
        let id = inc.next_window_id();
        let watermark = |suffix: &str, kind: &str| {
            format!(
                "INSERT INTO {signal_table} (id, type, data) VALUES ('{id}-{suffix}', '{kind}', {})",
                literal(&serde_json::json!({ "table": name }).to_string())
            )
        };
        let write = |e| {
            sql(
                &format!("incremental snapshot watermark in {signal_table} (the connector user needs INSERT on the signal table)"),
                e,
            )
        };
        sqlx::raw_sql(&watermark("open", "snapshot-window-open"))
            .execute(&mut *conn)
            .await
            .map_err(write)?;
        let text = copy_out(conn, &q).await?;
        let key_columns: Vec<usize> = t
            .table
            .primary_key
            .iter()
            .filter_map(|k| t.table.columns.iter().position(|c| &c.name == k))
            .collect();
        let mut rows = Vec::new();
        let mut last_key = None;
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let cells: Vec<Cell> = copy_cells(line).collect();
            last_key = Some(
                key_columns
                    .iter()
                    .map(|&i| match &cells[i] {
                        Cell::Text(s) => s.clone(),
                        _ => String::new(),
                    })
                    .collect::<Vec<_>>(),
            );
            let row = t.row(cells, placeholder, Origin::Snapshot);
            let key: Vec<Value> = t.key_fields.iter().map(|&i| row[i].clone()).collect();
            rows.push((key, row));
        }
        let full = rows.len() >= chunk;
        sqlx::raw_sql(&watermark("close", "snapshot-window-close"))
            .execute(&mut *conn)
            .await
            .map_err(write)?;
        inc.open_window(id, rows, last_key, full);
        return Ok(());
    }
    Ok(())
}

/// Inserts a Debezium signal row (`execute-snapshot`, `stop-snapshot`, `pause-snapshot`,
/// `resume-snapshot`) into the connector's `signal.data.collection`; the running connector
/// acts on it when it reads it from the slot. Returns the signal id.
pub async fn send_signal(cfg: &PgConfig, kind: &str, tables: &[String]) -> Result<String, PgError> {
    let Some(signal) = cfg.signal_table_sql() else {
        return Err(PgError::Config(
            "signal.data.collection is not set: create a signal table (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data text) and name it in the connector config".into(),
        ));
    };
    let mut conn = crate::source::connect(cfg).await?;
    let s = Signal::from_cli(kind, tables);
    sqlx::query(&format!(
        "INSERT INTO {signal} (id, type, data) VALUES ($1, $2, $3)"
    ))
    .bind(&s.id)
    .bind(&s.kind)
    .bind(&s.data)
    .execute(&mut conn)
    .await
    .map_err(|e| {
        sql(
            &format!(
                "writing to the signal table {signal} (the connector user needs INSERT on it)"
            ),
            e,
        )
    })?;
    Ok(s.id)
}

/// The stream's incremental snapshot state.
#[derive(Debug, Default)]
pub struct Signals {
    pub(crate) inc: Incremental,
    /// `incremental_snapshot` of the offsets, refreshed after each signal.
    pub(crate) offset: Option<Arc<serde_json::Value>>,
    /// The signal table's relation id and the positions of its `id`, `type` and `data` columns.
    relation: Option<(u32, [usize; 3])>,
    /// Captured tables by `schema.table`, for chunk reads.
    tables: HashMap<String, Arc<TableSchemas>>,
}

impl Signals {
    pub fn from_offset(v: Option<&serde_json::Value>) -> Signals {
        let inc = Incremental::from_offset(v);
        Signals {
            offset: inc.to_offset(),
            inc,
            ..Default::default()
        }
    }

    /// The server announced the signal table as relation `id`.
    pub fn signal_relation(&mut self, id: u32, columns: &[RelColumn]) {
        let at = |n: &str| columns.iter().position(|c| c.name == n);
        match (at("id"), at("type"), at("data")) {
            (Some(i), Some(t), Some(d)) => self.relation = Some((id, [i, t, d])),
            _ => {
                warn!("the signal table needs columns id, type, data; signals ignored");
                self.relation = None;
            }
        }
    }

    /// The signal an inserted row of relation `rel` is, if `rel` is the signal table.
    pub fn signal(&self, rel: u32, new: &[Cell]) -> Option<Signal> {
        let (r, [i, t, d]) = self.relation?;
        if r != rel {
            return None;
        }
        let text = |k: usize| match new.get(k) {
            Some(Cell::Text(s)) => s.clone(),
            _ => String::new(),
        };
        Some(Signal {
            id: text(i),
            kind: text(t),
            data: text(d),
        })
    }

    /// A streamed row image of `t` evicts its key from an open chunk.
    pub fn evict(&mut self, t: &TableSchemas, row: &[Value]) {
        if self.inc.window_open() {
            let key: Vec<Value> = t.key_fields.iter().map(|&i| row[i].clone()).collect();
            self.inc.on_change(&t.table.full_name(), &key);
        }
    }

    /// A streamed schema of a captured table replaces the one chunks are read with.
    pub fn relation_changed(&mut self, t: &Arc<TableSchemas>) {
        self.tables.insert(t.table.full_name(), Arc::clone(t));
    }
}

impl Streamer<'_> {
    /// The captured tables' names in capture order; their schemas join the chunk cache (a
    /// schema the stream announced stays).
    async fn load_tables(&mut self) -> Result<Vec<String>, PgError> {
        let mut names = Vec::new();
        for t in catalog::captured_tables(&mut self.sql, self.cfg, &self.types).await? {
            let name = t.full_name();
            if !self.signals.tables.contains_key(&name) {
                let built = TableSchemas::build(t, self.cfg, &self.builder.source_schema)?;
                self.signals.tables.insert(name.clone(), Arc::new(built));
            }
            names.push(name);
        }
        Ok(names)
    }

    /// Reads the next chunk, if an incremental snapshot is to go on.
    pub(crate) async fn open_chunk(&mut self) -> Result<(), PgError> {
        let Some(signal_table) = self.cfg.signal_table_sql() else {
            return Ok(());
        };
        if !self.signals.inc.active() {
            return Ok(());
        }
        let missing = self
            .signals
            .inc
            .current()
            .is_some_and(|n| !self.signals.tables.contains_key(n.table));
        if missing {
            self.load_tables().await?;
        }
        open_chunk(
            &mut self.signals.inc,
            &mut self.sql,
            &signal_table,
            self.cfg.incremental_chunk_size,
            &self.signals.tables,
            &self.builder.placeholder,
        )
        .await?;
        self.signals.offset = self.signals.inc.to_offset();
        Ok(())
    }

    /// Acts on a signal row read at `position`; chunk rows due at a high watermark go to `out`.
    /// Returns the position to continue after the signal (with the new progress).
    pub(crate) async fn on_signal(
        &mut self,
        signal: &Signal,
        mut position: PgPosition,
        info: &SourceInfo,
        out: &mut Vec<ChangeEvent>,
    ) -> Result<PgPosition, PgError> {
        let captured = if signal.kind == "execute-snapshot" {
            self.load_tables().await?
        } else {
            Vec::new()
        };
        match self.signals.inc.on_signal(signal, &captured) {
            Next::Nothing => {}
            Next::OpenChunk => self.open_chunk().await?,
            Next::Emit { table, rows } => {
                position.incremental = self.signals.inc.to_offset();
                if let Some(t) = self.signals.tables.get(&table).cloned() {
                    let info = SourceInfo {
                        snapshot: Marker::Incremental,
                        ..info.clone()
                    };
                    let at = Position::from_source(position.clone());
                    for row in rows {
                        self.builder
                            .row_change(&t, Op::Read, None, Some(row), &info, &at, out);
                    }
                }
                self.open_chunk().await?;
            }
        }
        self.signals.offset = self.signals.inc.to_offset();
        position.incremental = self.signals.offset.clone();
        Ok(position)
    }
}
