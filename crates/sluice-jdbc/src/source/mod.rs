//! The query-based source (`io.confluent.connect.jdbc.JdbcSourceConnector`): polls tables (or a
//! custom query) and emits each new or changed row as a Connect record, as Confluent's JDBC
//! source does — for databases where the binlog or WAL cannot be read.
//!
//! Each poll runs, per table, one query selected by `mode` (`C` = the COALESCE of the
//! timestamp columns, `I` = the incrementing column, `end` = the database's current time minus
//! `timestamp.delay.interval.ms`):
//! * `incrementing`: `WHERE I > last ORDER BY I`
//! * `timestamp`: `WHERE C > last AND C < end ORDER BY C`
//! * `timestamp+incrementing`: `WHERE C < end AND ((C = last AND I > last_i) OR C > last)
//!   ORDER BY C, I` — rows sharing a timestamp are told apart by I, so none is skipped or
//!   repeated.
//! * `bulk`: the whole table every poll.
//!
//! Offsets are Connect's: partition `{"protocol": "1", "table": "<table>"}` (or `{"query":
//! "query"}`), offset `{"timestamp", "timestamp_nanos", "incrementing"}`, committed once the
//! batch is durable; a restart continues after the last committed row. **Deletes are
//! invisible** in this mode (a deleted row is simply no longer selected): use the log-based
//! MySQL or PostgreSQL sources when deletes matter.

pub mod config;
pub mod position;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use sluice_core::civil;
use sluice_core::decimal::Decimal;
use sluice_core::schema::logical;
use sluice_core::{ChangeEvent, Data, Schema, SchemaBuilder, SourceError, SourceMessage, Value};
use tokio::sync::mpsc;
use tracing::{info, warn};

pub use config::{JdbcSourceConfig, Mode};
pub use position::JdbcPosition;

use crate::db::{Cell, Pool};
use crate::url::Dialect;
use crate::JdbcError;

/// How a result column becomes a Connect value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Bool,
    I8,
    I16,
    I32,
    I64,
    F32,
    F64,
    Decimal(u32),
    Str,
    Bytes,
    Date,
    Time,
    Timestamp,
}

fn kind_of(dialect: Dialect, type_name: &str, scale: Option<u32>) -> Kind {
    let t = type_name.to_ascii_uppercase();
    let t = t.as_str();
    match t {
        "BOOL" | "BOOLEAN" => Kind::Bool,
        "TINYINT" => Kind::I8,
        "INT2" | "SMALLINT" | "TINYINT UNSIGNED" => Kind::I16,
        "INT4" | "INT" | "MEDIUMINT" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" => Kind::I32,
        "INTEGER" if dialect == Dialect::Sqlite => Kind::I64,
        "INTEGER" => Kind::I32,
        "INT8" | "BIGINT" | "INT UNSIGNED" | "BIGINT UNSIGNED" => Kind::I64,
        "FLOAT4" | "FLOAT" => Kind::F32,
        "REAL" if dialect == Dialect::Postgres => Kind::F32,
        "FLOAT8" | "DOUBLE" | "REAL" => Kind::F64,
        "NUMERIC" | "DECIMAL" if dialect == Dialect::Sqlite => Kind::F64,
        "NUMERIC" | "DECIMAL" => Kind::Decimal(scale.unwrap_or(0)),
        "DATE" => Kind::Date,
        "TIME" => Kind::Time,
        "TIMESTAMP" | "TIMESTAMPTZ" | "DATETIME" => Kind::Timestamp,
        _ if crate::db::is_binary_type(t) => Kind::Bytes,
        _ => Kind::Str,
    }
}

fn schema_of(kind: Kind) -> SchemaBuilder {
    match kind {
        Kind::Bool => SchemaBuilder::boolean(),
        Kind::I8 => SchemaBuilder::int8(),
        Kind::I16 => SchemaBuilder::int16(),
        Kind::I32 => SchemaBuilder::int32(),
        Kind::I64 => SchemaBuilder::int64(),
        Kind::F32 => SchemaBuilder::float32(),
        Kind::F64 => SchemaBuilder::float64(),
        Kind::Decimal(s) => SchemaBuilder::bytes()
            .name(logical::DECIMAL)
            .version(1)
            .parameter("scale", s.to_string()),
        Kind::Str => SchemaBuilder::string(),
        Kind::Bytes => SchemaBuilder::bytes(),
        Kind::Date => SchemaBuilder::int32()
            .name(logical::CONNECT_DATE)
            .version(1),
        Kind::Time => SchemaBuilder::int32()
            .name(logical::CONNECT_TIME)
            .version(1),
        Kind::Timestamp => SchemaBuilder::int64()
            .name(logical::CONNECT_TIMESTAMP)
            .version(1),
    }
}

fn value_of(kind: Kind, cell: &Cell) -> Result<Value, String> {
    let text = match cell {
        Cell::Null => return Ok(Value::Null),
        Cell::Bytes(b) => return Ok(Value::Bytes(b.clone())),
        Cell::Text(t) => t.as_str(),
    };
    let bad = || {
        format!(
            "cannot read {kind:?} from {:?}",
            text.chars().take(40).collect::<String>()
        )
    };
    Ok(match kind {
        Kind::Bool => Value::Boolean(matches!(text, "t" | "true" | "1" | "TRUE")),
        Kind::I8 => Value::Int8(text.parse().map_err(|_| bad())?),
        Kind::I16 => Value::Int16(text.parse().map_err(|_| bad())?),
        Kind::I32 => Value::Int32(text.parse().map_err(|_| bad())?),
        Kind::I64 => Value::Int64(text.parse().map_err(|_| bad())?),
        Kind::F32 => Value::Float32(text.parse().map_err(|_| bad())?),
        Kind::F64 => Value::Float64(text.parse().map_err(|_| bad())?),
        Kind::Decimal(scale) => {
            Value::Decimal(Decimal::parse(text).ok_or_else(bad)?.with_scale(scale))
        }
        Kind::Str => Value::String(Arc::from(text)),
        Kind::Bytes => Value::Bytes(text.as_bytes().to_vec()),
        Kind::Date => Value::Int32(civil::date(text).ok_or_else(bad)?.0 as i32),
        Kind::Time => Value::Int32((civil::time(text).ok_or_else(bad)? / 1000) as i32),
        Kind::Timestamp => Value::Int64(civil::timestamp(text).ok_or_else(bad)?.div_euclid(1000)),
    })
}

/// One table (or the custom query) being polled.
struct Querier {
    /// The table name, or `None` for `query` mode.
    table: Option<String>,
    topic: Arc<str>,
    partition: Arc<str>,
    last_ts: Option<i64>,
    last_inc: Option<i64>,
    /// Column name → (nullable, numeric scale), from the catalog (tables only).
    meta: HashMap<String, (bool, Option<u32>)>,
    shape: Option<Shape>,
}

/// The result columns of a querier and the schema built for them.
struct Shape {
    columns: Vec<(String, String)>,
    schema: Arc<Schema>,
    kinds: Vec<Kind>,
}

/// The JDBC source task.
pub struct JdbcSource {
    cfg: JdbcSourceConfig,
    /// Committed offsets by partition JSON text.
    offsets: BTreeMap<String, serde_json::Value>,
    exit_when_caught_up: bool,
}

impl JdbcSource {
    pub fn new(cfg: JdbcSourceConfig, offsets: BTreeMap<String, serde_json::Value>) -> JdbcSource {
        JdbcSource {
            cfg,
            offsets,
            exit_when_caught_up: false,
        }
    }

    pub fn exit_when_caught_up(mut self, yes: bool) -> Self {
        self.exit_when_caught_up = yes;
        self
    }

    /// The Connect source partitions of this connector, as JSON text (offsets are loaded for
    /// these before the task starts).
    pub fn partitions(cfg: &JdbcSourceConfig) -> Vec<String> {
        match &cfg.query {
            Some(q) => vec![serde_json::json!({"query": q}).to_string()],
            None => cfg
                .tables
                .iter()
                .map(|t| serde_json::json!({"protocol": "1", "table": t}).to_string())
                .collect(),
        }
    }

    pub async fn run(self, tx: mpsc::Sender<SourceMessage>) -> Result<(), SourceError> {
        self.run_inner(tx).await.map_err(SourceError::of)
    }

    async fn run_inner(self, tx: mpsc::Sender<SourceMessage>) -> Result<(), JdbcError> {
        let cfg = &self.cfg;
        let pool = Pool::connect(&cfg.target, 1).await?;
        let dialect = pool.dialect();
        let now_us = now_micros(&pool).await?;
        let initial = cfg
            .timestamp_initial
            .map(|ms| if ms < 0 { now_us } else { ms * 1000 });
        let mut queriers = Vec::new();
        let names: Vec<Option<String>> = match &cfg.query {
            Some(_) => vec![None],
            None => cfg.tables.iter().cloned().map(Some).collect(),
        };
        for (name, partition) in names.into_iter().zip(Self::partitions(cfg)) {
            let stored = self
                .offsets
                .get(&partition)
                .map(|o| JdbcPosition::from_offset_json(&partition, o));
            let meta = match &name {
                Some(t) => column_meta(&pool, t).await?,
                None => HashMap::new(),
            };
            queriers.push(Querier {
                topic: Arc::from(
                    format!("{}{}", cfg.topic_prefix, name.as_deref().unwrap_or("")).as_str(),
                ),
                table: name,
                last_ts: stored.as_ref().and_then(|s| s.timestamp_us).or(initial),
                last_inc: stored.as_ref().and_then(|s| s.incrementing),
                partition: Arc::from(partition.as_str()),
                meta,
                shape: None,
            });
        }
        info!(connector = %cfg.name, queries = queriers.len(), mode = ?cfg.mode, "JDBC source polling");
        loop {
            let mut rows_this_round = 0usize;
            for q in &mut queriers {
                loop {
                    let end = now_micros(&pool).await? - cfg.delay.as_micros() as i64;
                    let sql = self.statement(dialect, q, end);
                    let (columns, rows) = pool.query_text(&sql).await?;
                    if rows.is_empty() {
                        break;
                    }
                    let n = rows.len();
                    rows_this_round += n;
                    self.emit(dialect, q, columns, rows, &tx).await?;
                    // bulk and timestamp-only read everything in one query; the others page
                    if n < cfg.batch_max_rows || matches!(cfg.mode, Mode::Bulk | Mode::Timestamp) {
                        break;
                    }
                }
            }
            if self.exit_when_caught_up && (rows_this_round == 0 || cfg.mode == Mode::Bulk) {
                info!(connector = %cfg.name, "caught up; stopping");
                return Ok(());
            }
            if tx.is_closed() {
                return Ok(());
            }
            tokio::time::sleep(cfg.poll_interval).await;
        }
    }

    /// The poll query of `q` for its mode.
    fn statement(&self, dialect: Dialect, q: &Querier, end_us: i64) -> String {
        let cfg = &self.cfg;
        let quote = |s: &str| match dialect {
            Dialect::MySql => format!("`{}`", s.replace('`', "``")),
            _ => format!("\"{}\"", s.replace('"', "\"\"")),
        };
        let base = match (&q.table, &cfg.query) {
            (Some(t), _) => format!(
                "SELECT * FROM {}",
                t.split('.').map(quote).collect::<Vec<_>>().join(".")
            ),
            (None, Some(query)) => query.clone(),
            (None, None) => unreachable!("a querier has a table or the query"),
        };
        let lit = |us: i64| {
            let t = civil::format_timestamp(us);
            match dialect {
                Dialect::Sqlite => format!("'{}'", &t[..23]), // strftime's %f: milliseconds
                _ => format!("'{t}'"),
            }
        };
        let coalesce = {
            let cols: Vec<String> = cfg.timestamp_columns.iter().map(|c| quote(c)).collect();
            let c = if cols.len() == 1 {
                cols[0].clone()
            } else {
                format!("COALESCE({})", cols.join(", "))
            };
            match dialect {
                Dialect::Sqlite => format!("strftime('%Y-%m-%d %H:%M:%f', {c})"),
                _ => c,
            }
        };
        let inc = cfg
            .incrementing_column
            .as_deref()
            .map(quote)
            .unwrap_or_default();
        let last_ts = q.last_ts.unwrap_or(0);
        let last_inc = q.last_inc.unwrap_or(-1);
        let limit = format!(" LIMIT {}", cfg.batch_max_rows);
        let (cond, order, limit) = match cfg.mode {
            Mode::Bulk => return base,
            Mode::Incrementing => (format!("{inc} > {last_inc}"), inc.clone(), limit),
            Mode::Timestamp => (
                format!("{coalesce} > {} AND {coalesce} < {}", lit(last_ts), lit(end_us)),
                coalesce.clone(),
                String::new(),
            ),
            Mode::TimestampIncrementing => (
                format!(
                    "{coalesce} < {end} AND (({coalesce} = {last} AND {inc} > {last_inc}) OR {coalesce} > {last})",
                    end = lit(end_us),
                    last = lit(last_ts)
                ),
                format!("{coalesce}, {inc}"),
                limit,
            ),
        };
        let joiner = if base.to_ascii_uppercase().contains(" WHERE ") {
            " AND "
        } else {
            " WHERE "
        };
        format!("{base}{joiner}{cond} ORDER BY {order}{limit}")
    }

    async fn emit(
        &self,
        dialect: Dialect,
        q: &mut Querier,
        columns: Vec<(String, String)>,
        rows: Vec<Vec<Cell>>,
        tx: &mpsc::Sender<SourceMessage>,
    ) -> Result<(), JdbcError> {
        let cfg = &self.cfg;
        if q.shape.as_ref().is_none_or(|s| s.columns != columns) {
            let mut b = SchemaBuilder::structure();
            if let Some(t) = &q.table {
                b = b.name(t.clone());
            }
            let mut kinds = Vec::new();
            for (name, ty) in &columns {
                let (nullable, scale) = q.meta.get(name).copied().unwrap_or((true, None));
                let scale =
                    scale.or_else(|| first_scale(&rows, columns.iter().position(|c| &c.0 == name)));
                let kind = kind_of(dialect, ty, scale);
                kinds.push(kind);
                b = b.field(name.clone(), schema_of(kind).optional_if(nullable).build());
            }
            q.shape = Some(Shape {
                columns: columns.clone(),
                schema: b.build(),
                kinds,
            });
        }
        let Some(Shape { schema, kinds, .. }) = &q.shape else {
            return Ok(());
        };
        let ts_idx: Vec<usize> = cfg
            .timestamp_columns
            .iter()
            .filter_map(|c| columns.iter().position(|(n, _)| n == c))
            .collect();
        let inc_idx = cfg
            .incrementing_column
            .as_ref()
            .and_then(|c| columns.iter().position(|(n, _)| n == c));
        let mut batch = Vec::with_capacity(rows.len().min(cfg.batch_max_rows));
        let mut position = None;
        for row in rows {
            let mut fields = Vec::with_capacity(row.len());
            for (kind, cell) in kinds.iter().zip(&row) {
                fields.push(value_of(*kind, cell).unwrap_or_else(|e| {
                    warn!(topic = %q.topic, error = %e, "value not representable; emitted as null");
                    Value::Null
                }));
            }
            if !ts_idx.is_empty() {
                q.last_ts = ts_idx
                    .iter()
                    .find_map(|&i| match &row[i] {
                        Cell::Text(t) => civil::timestamp(t),
                        _ => None,
                    })
                    .or(q.last_ts);
            }
            if let Some(i) = inc_idx {
                if let Cell::Text(t) = &row[i] {
                    q.last_inc = t.parse().ok().or(q.last_inc);
                }
            }
            let p = sluice_core::Position::from_source(JdbcPosition {
                partition: Arc::clone(&q.partition),
                timestamp_us: q.last_ts.filter(|_| !ts_idx.is_empty()),
                incrementing: q.last_inc.filter(|_| inc_idx.is_some()),
            });
            batch.push(ChangeEvent {
                topic: Arc::clone(&q.topic),
                key: None,
                value: Some(Data::new(Arc::clone(schema), Value::Struct(fields))),
                headers: Vec::new(),
                position: p.clone(),
                timestamp: None,
            });
            position = Some(p);
            if batch.len() >= cfg.batch_max_rows {
                send(tx, std::mem::take(&mut batch), position.clone()).await?;
            }
        }
        if !batch.is_empty() {
            send(tx, batch, position).await?;
        }
        Ok(())
    }
}

/// The scale of the first non-null decimal value of a column (custom queries have no catalog).
fn first_scale(rows: &[Vec<Cell>], col: Option<usize>) -> Option<u32> {
    let col = col?;
    rows.iter().find_map(|r| match r.get(col)? {
        Cell::Text(t) => Some(t.split_once('.').map_or(0, |(_, f)| f.len() as u32)),
        _ => None,
    })
}

async fn send(
    tx: &mpsc::Sender<SourceMessage>,
    events: Vec<ChangeEvent>,
    position: Option<sluice_core::Position>,
) -> Result<(), JdbcError> {
    let position = position.unwrap_or(sluice_core::Position::Unknown);
    tx.send(SourceMessage::Batch { events, position })
        .await
        .map_err(|_| JdbcError::Db("the pipeline stopped".into()))
}

/// The database's current time (UTC), µs since the epoch.
async fn now_micros(pool: &Pool) -> Result<i64, JdbcError> {
    let sql = match pool.dialect() {
        Dialect::Postgres => "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
        Dialect::MySql => "SELECT DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%d %H:%i:%s.%f')",
        Dialect::Sqlite => "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')",
    };
    let (_, rows) = pool.query_text(sql).await?;
    match rows.first().and_then(|r| r.first()) {
        Some(Cell::Text(t)) => civil::timestamp(t)
            .ok_or_else(|| JdbcError::Db(format!("cannot read the database time {t:?}"))),
        _ => Err(JdbcError::Db("the database returned no time".into())),
    }
}

/// `column → (nullable, numeric scale)` of a table, from the catalog.
async fn column_meta(
    pool: &Pool,
    table: &str,
) -> Result<HashMap<String, (bool, Option<u32>)>, JdbcError> {
    let esc = |s: &str| s.replace('\'', "''");
    let (schema, name) = match table.rsplit_once('.') {
        Some((s, n)) => (Some(s), n),
        None => (None, table),
    };
    let sql = match pool.dialect() {
        Dialect::Sqlite => format!("SELECT name, CASE WHEN \"notnull\" = 1 THEN 'NO' ELSE 'YES' END, NULL FROM pragma_table_info('{}')", esc(name)),
        d => {
            let scope = match (schema, d) {
                (Some(s), _) => format!("'{}'", esc(s)),
                (None, Dialect::Postgres) => "current_schema()".to_string(),
                (None, _) => "DATABASE()".to_string(),
            };
            format!(
                "SELECT column_name, is_nullable, numeric_scale FROM information_schema.columns WHERE table_schema = {scope} AND table_name = '{}'",
                esc(name)
            )
        }
    };
    let (_, rows) = pool.query_text(&sql).await?;
    if rows.is_empty() {
        return Err(JdbcError::Schema(format!(
            "table {table} not found (table.whitelist / table.include.list names tables as the database spells them)"
        )));
    }
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let text = |c: &Cell| match c {
                Cell::Text(t) => Some(t.clone()),
                _ => None,
            };
            let name = text(r.first()?)?;
            let nullable = text(r.get(1)?).is_none_or(|v| v == "YES");
            let scale = r.get(2).and_then(text).and_then(|s| s.parse().ok());
            Some((name, (nullable, scale)))
        })
        .collect())
}
