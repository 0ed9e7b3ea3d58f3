//! JDBC sink (`io.confluent.connect.jdbc.JdbcSinkConnector`, `io.debezium.connector.jdbc.JdbcSinkConnector`)
//! into PostgreSQL, MySQL/MariaDB or SQLite.
//!
//! Delivery. `write` turns records into row operations ([`rows`]) and buffers them; `flush`
//! (and every `batch.size` operations) applies the buffer in **one transaction**: per table,
//! the last operation of each primary key wins (the buffer is in record order, so that is the
//! key's final state), deletes run as `DELETE … WHERE key IN (…)` and writes as multi-row
//! `INSERT … ON CONFLICT DO UPDATE` / `ON DUPLICATE KEY UPDATE` (upsert), plain `INSERT`
//! (insert) or `UPDATE` (update). On PostgreSQL the rows of a statement travel as one array
//! per column (`INSERT … SELECT * FROM UNNEST($1::text[]::<type>[], …)`, `DELETE … WHERE key
//! IN (SELECT * FROM UNNEST(…))`): a handful of parameters however many rows, parsed and
//! planned once. Only after `COMMIT` does `flush` return, so the offsets the
//! runtime commits then never cover a row that is not in the table. Upserts and deletes by key
//! are idempotent: after a crash the rows written again land on the same state.
//!
//! A statement the database refuses for a row's data (NOT NULL, a value the column type
//! rejects, a duplicate in insert mode) rolls the transaction back; the batch is then applied
//! row by row inside one transaction with a savepoint per row, the refused rows go to the
//! connector's error handling (dead letter queue or task failure) and the rest commit.
//! Connection failures are retried (`max.retries`, `retry.backoff.ms`). Missing tables are
//! created (`auto.create`) and missing columns added (`auto.evolve`) from the records' Connect
//! schemas ([`crate::dialect`]); otherwise such a record stops the task with the fix named.

pub mod config;
pub mod rows;
mod sql;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use sluice_core::{
    ChangeEvent, Data, ErrantReporter, Failure, Position, Retryable, Sink, SinkError, Stage, Value,
};
use tracing::{debug, info, warn};

use crate::db::{JdbcError, Pool, Tx};
use crate::dialect::{Dialect, Param, TableName};
pub use config::JdbcSinkConfig;
use rows::{Cell, RowOp};

const CLASS: &str = "io.confluent.connect.jdbc.JdbcSinkConnector";

/// One buffered operation.
struct Pending {
    /// Shared by the records of a topic (resolved once per run of records of one topic).
    table: Arc<TableName>,
    op: RowOp,
    topic: Arc<str>,
    position: Position,
}

/// Columns of a table: name → database type.
type Columns = Vec<(String, String)>;

/// A JDBC sink connector.
pub struct JdbcSink {
    cfg: JdbcSinkConfig,
    pool: Pool,
    dialect: Dialect,
    tables: HashMap<TableName, Columns>,
    pending: Vec<Pending>,
    /// The table of the topic written last: `table.name.format` applied once, not per record.
    last_table: Option<(Arc<str>, Arc<TableName>)>,
    errors: Arc<dyn ErrantReporter>,
}

fn sink_err(e: JdbcError) -> SinkError {
    if e.is_retryable() {
        SinkError::Unavailable(e.to_string())
    } else {
        SinkError::Rejected(e.to_string())
    }
}

impl JdbcSink {
    pub async fn connect(
        cfg: JdbcSinkConfig,
        errors: Arc<dyn ErrantReporter>,
    ) -> Result<JdbcSink, SinkError> {
        let pool = Pool::connect(&cfg.target, 2).await.map_err(sink_err)?;
        info!(connector = %cfg.name, target = %cfg.target.display, "JDBC sink connected");
        Ok(JdbcSink {
            dialect: pool.dialect(),
            cfg,
            pool,
            tables: HashMap::new(),
            pending: Vec::new(),
            last_table: None,
            errors,
        })
    }

    /// The table a topic's records go to (`table.name.format`).
    fn table_of(&mut self, topic: &Arc<str>) -> Arc<TableName> {
        match &self.last_table {
            Some((t, table)) if t == topic => Arc::clone(table),
            _ => {
                let table = Arc::new(TableName::from_format(&self.cfg.table_format, topic));
                self.last_table = Some((Arc::clone(topic), Arc::clone(&table)));
                table
            }
        }
    }

    fn report(
        &self,
        topic: &Arc<str>,
        position: &Position,
        cells: Option<&[Cell]>,
        message: String,
    ) -> Result<(), SinkError> {
        let value = cells.map(|cells| {
            Data::schemaless(Value::Map(
                cells
                    .iter()
                    .map(|c| (Value::String(Arc::from(c.name.as_str())), c.value.clone()))
                    .collect(),
            ))
        });
        let r = ChangeEvent {
            topic: Arc::clone(topic),
            key: None,
            value,
            headers: Vec::new(),
            position: position.clone(),
            timestamp: None,
        };
        self.errors.report(
            &r,
            None,
            Failure {
                stage: Stage::TaskPut,
                class: CLASS.into(),
                exception: "java.sql.SQLException".into(),
                message,
            },
        )
    }

    /// Makes sure `table` exists with every column the rows need: `first` is the first write
    /// (key width, cells: what a new table is made of), `needed` every column written.
    async fn ensure_table(
        &mut self,
        table: &TableName,
        first: Option<(usize, Vec<Cell>)>,
        needed: Vec<(String, Arc<sluice_core::Schema>)>,
    ) -> Result<(), JdbcError> {
        let d = self.dialect;
        let mut cols = match self.tables.get(table) {
            Some(c) => c.clone(),
            None => self.pool.columns(table).await?.unwrap_or_default(),
        };
        if cols.is_empty() {
            let Some((key, cells)) = first else {
                return Ok(()); // only deletes: nothing to delete from a table that does not exist
            };
            if !self.cfg.auto_create {
                return Err(JdbcError::Schema(format!(
                    "table {table} does not exist; create it or set auto.create=true (Debezium: schema.evolution=basic)"
                )));
            }
            let mut defs: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let k = i < key;
                    format!(
                        "{} {}{}",
                        d.quote(&c.name),
                        d.column_type(&c.schema, k),
                        if k || !c.schema.optional {
                            " NOT NULL"
                        } else {
                            ""
                        }
                    )
                })
                .collect();
            if key > 0 {
                defs.push(format!(
                    "PRIMARY KEY ({})",
                    cells[..key]
                        .iter()
                        .map(|c| d.quote(&c.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {} ({})",
                d.table(table),
                defs.join(", ")
            );
            info!(connector = %self.cfg.name, table = %table, "creating table (auto.create)");
            self.pool.execute(&sql).await?;
            cols = self.pool.columns(table).await?.unwrap_or_default();
        }
        let missing: Vec<&(String, Arc<sluice_core::Schema>)> = needed
            .iter()
            .filter(|(n, _)| !cols.iter().any(|(c, _)| c == n))
            .collect();
        if !missing.is_empty() {
            if !self.cfg.auto_evolve {
                return Err(JdbcError::Schema(format!(
                    "table {table} has no column {}; add it or set auto.evolve=true (Debezium: schema.evolution=basic)",
                    missing.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
            for (name, schema) in missing {
                info!(connector = %self.cfg.name, table = %table, column = %name, "adding column (auto.evolve)");
                self.pool
                    .execute(&format!(
                        "ALTER TABLE {} ADD COLUMN {} {}",
                        d.table(table),
                        d.quote(name),
                        d.column_type(schema, false)
                    ))
                    .await?;
            }
            cols = self.pool.columns(table).await?.unwrap_or_default();
        }
        self.tables.insert(table.clone(), cols);
        Ok(())
    }

    /// The statements of one table's operations (already reduced to the last per key).
    fn statements(&self, table: &TableName, ops: &[&Pending]) -> Vec<(String, Vec<Param>)> {
        let cols = self.tables.get(table).map(Vec::as_slice).unwrap_or(&[]);
        let ops: Vec<&RowOp> = ops.iter().map(|p| &p.op).collect();
        sql::Statements {
            dialect: self.dialect,
            table,
            columns: cols,
            mode: self.cfg.insert_mode,
            batch: self.cfg.batch_size,
        }
        .build(&ops)
    }

    /// The buffer reduced to the last operation per (table, key): indices into the buffer,
    /// per table in first-seen order.
    fn reduced(&self) -> Vec<(Arc<TableName>, Vec<usize>)> {
        let mut tables: Vec<(Arc<TableName>, Vec<usize>)> = Vec::new();
        // (table, key) → slot in that table's list
        let mut index: HashMap<(usize, Vec<Param>), usize> = HashMap::new();
        for (i, p) in self.pending.iter().enumerate() {
            let t = match tables.iter().position(|(t, _)| *t == p.table) {
                Some(t) => t,
                None => {
                    tables.push((Arc::clone(&p.table), Vec::new()));
                    tables.len() - 1
                }
            };
            let key: Vec<Param> = match &p.op {
                RowOp::Write { key, cells } => cells[..*key]
                    .iter()
                    .map(|c| self.dialect.param(&c.schema, &c.value))
                    .collect(),
                RowOp::Delete { key } => key
                    .iter()
                    .map(|c| self.dialect.param(&c.schema, &c.value))
                    .collect(),
                RowOp::Skip => continue,
            };
            if key.is_empty() {
                tables[t].1.push(i);
                continue;
            }
            match index.entry((t, key)) {
                std::collections::hash_map::Entry::Occupied(e) => tables[t].1[*e.get()] = i,
                std::collections::hash_map::Entry::Vacant(e) => {
                    tables[t].1.push(i);
                    e.insert(tables[t].1.len() - 1);
                }
            }
        }
        tables
    }

    async fn apply(&mut self) -> Result<(), JdbcError> {
        let reduced = self.reduced();
        for (table, ops) in &reduced {
            let mut first = None;
            let mut needed: Vec<(String, Arc<sluice_core::Schema>)> = Vec::new();
            for &i in ops {
                if let RowOp::Write { key, cells } = &self.pending[i].op {
                    if first.is_none() {
                        first = Some((*key, cells.clone()));
                    }
                    for c in cells {
                        if !needed.iter().any(|(n, _)| *n == c.name) {
                            needed.push((c.name.clone(), Arc::clone(&c.schema)));
                        }
                    }
                }
            }
            self.ensure_table(table, first, needed).await?;
        }
        let mut tx = self.pool.begin().await?;
        for (table, ops) in &reduced {
            let refs: Vec<&Pending> = ops.iter().map(|&i| &self.pending[i]).collect();
            for (sql, params) in self.statements(table, &refs) {
                tx.exec(&sql, &params).await?;
            }
        }
        tx.commit().await
    }

    /// Applies the buffer row by row (a savepoint each), setting refused rows aside.
    async fn apply_one_by_one(&mut self) -> Result<(), SinkError> {
        let reduced = self.reduced();
        let mut tx: Tx = self.pool.begin().await.map_err(sink_err)?;
        for (table, ops) in &reduced {
            for &i in ops {
                let p = &self.pending[i];
                let stmts = self.statements(table, &[p]);
                tx.raw("SAVEPOINT sluice_row").await.map_err(sink_err)?;
                let mut failed = None;
                for (sql, params) in &stmts {
                    if let Err(e) = tx.exec(sql, params).await {
                        failed = Some(e);
                        break;
                    }
                }
                match failed {
                    None => tx
                        .raw("RELEASE SAVEPOINT sluice_row")
                        .await
                        .map_err(sink_err)?,
                    Some(e) if !e.is_retryable() => {
                        tx.raw("ROLLBACK TO SAVEPOINT sluice_row")
                            .await
                            .map_err(sink_err)?;
                        let cells = match &p.op {
                            RowOp::Write { cells, .. } => Some(cells.as_slice()),
                            RowOp::Delete { key } => Some(key.as_slice()),
                            RowOp::Skip => None,
                        };
                        self.report(&p.topic, &p.position, cells, format!("{table}: {e}"))?;
                    }
                    Some(e) => return Err(sink_err(e)),
                }
            }
        }
        tx.commit().await.map_err(sink_err)
    }

    async fn flush_pending(&mut self) -> Result<(), SinkError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut attempt = 0;
        loop {
            match self.apply().await {
                Ok(()) => break,
                Err(JdbcError::Data(m)) => {
                    debug!(connector = %self.cfg.name, error = %m, "a batch was refused; applying it row by row");
                    self.apply_one_by_one().await?;
                    break;
                }
                Err(e) if e.is_retryable() && attempt < self.cfg.max_retries => {
                    attempt += 1;
                    warn!(connector = %self.cfg.name, attempt, error = %e, "JDBC write failed; retrying");
                    tokio::time::sleep(self.cfg.retry_backoff).await;
                }
                Err(e) => return Err(sink_err(e)),
            }
        }
        self.pending.clear();
        Ok(())
    }
}

#[async_trait]
impl Sink for JdbcSink {
    async fn write(&mut self, events: &[ChangeEvent]) -> Result<(), SinkError> {
        for r in events {
            match rows::row_op(&self.cfg, r) {
                Ok(RowOp::Skip) => {}
                Ok(op) => {
                    let table = self.table_of(&r.topic);
                    self.pending.push(Pending {
                        table,
                        op,
                        topic: Arc::clone(&r.topic),
                        position: r.position.clone(),
                    })
                }
                Err(m) => self.report(&r.topic, &r.position, None, m)?,
            }
        }
        if self.pending.len() >= self.cfg.batch_size {
            self.flush_pending().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        self.flush_pending().await?;
        self.errors.flush()
    }
}
