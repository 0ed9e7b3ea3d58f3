//! The initial snapshot: every captured row as an `op: "r"` event, without a global lock, handed
//! over to the binlog stream with nothing lost and nothing applied twice.
//!
//! Consistency argument. On MariaDB the snapshot connection runs
//! `START TRANSACTION WITH CONSISTENT SNAPSHOT` and then reads `binlog_snapshot_file` /
//! `binlog_snapshot_position` (`SHOW STATUS`): the server guarantees that this binlog position
//! is exactly the point the transaction's read view corresponds to (binlog group commit orders
//! commits in the binlog and in InnoDB identically). So every transaction committed before
//! position P is visible to the snapshot's SELECTs, and every transaction after P is not. The
//! stream then starts at P: each committed change is reflected exactly once — in a snapshot row
//! if it committed before P, as a change event if after. No table or global lock is taken; other
//! sessions keep writing, and `FLUSH TABLES` does not wait for the snapshot.
//!
//! On MySQL (no `binlog_snapshot_*` status) the position is read under the shortest possible
//! `FLUSH TABLES WITH READ LOCK`: lock, start the consistent-snapshot transaction, read
//! `SHOW MASTER STATUS`, unlock — the same argument then holds.
//!
//! Resuming. Tables are read in name order, each in primary key order. Offsets during the
//! snapshot carry `"snapshot": true`, the snapshot position P, and the progress of the last
//! durably delivered row (`snapshot_table`, `snapshot_key`). After a crash the snapshot resumes:
//! a new consistent transaction (at some later position P2) reads only the rows after that key,
//! and then streaming starts at the *first* position P, not P2. Every row was therefore read at
//! P or later, and every change committed after P is streamed: a row changed or deleted between
//! P and P2 gets its change replayed after its snapshot image, so consumers that apply events in
//! order end in exactly the source's state (some rows may be delivered twice, never lost). The
//! last batch commits P with `snapshot` false and streaming continues from there. Tables without
//! a primary key cannot be resumed inside: they are read again from their first row.
//!
//! `source.snapshot` follows Debezium: `first` for the first row of the snapshot,
//! `first_in_data_collection` for the first row of every later table, `last_in_data_collection`
//! for the last row of every table but the final one, `last` for the final row, `true` otherwise.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value as My};
use sluice_core::decimal::Decimal;
use sluice_core::{BinlogPosition, ChangeEvent, Position, SnapshotProgress, SourceHealth, Value};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::config::MySqlConfig;
use crate::decode::{self, days_from_civil, zoned_timestamp};
use crate::envelope::{EventBuilder, Op, Snapshot, SourceInfo};
use crate::error::MySqlError;
use crate::mapping::{Conv, TableSchemas};
use crate::preflight::{self, ServerInfo};
use crate::source::SourceMessage;

/// Opens the snapshot transaction and returns the binlog position it is consistent with.
pub async fn begin(
    cfg: &MySqlConfig,
    info: &ServerInfo,
) -> Result<(Conn, BinlogPosition), MySqlError> {
    let mut conn = preflight::connect(cfg).await?;
    let q = MySqlError::query;
    conn.query_drop("SET SESSION time_zone = '+00:00'")
        .await
        .map_err(q)?;
    conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .await
        .map_err(q)?;
    let (file, pos) = if info.mariadb {
        conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            .await
            .map_err(q)?;
        let rows: Vec<(String, String)> = conn
            .query("SHOW STATUS LIKE 'binlog_snapshot_%'")
            .await
            .map_err(q)?;
        let get = |k: &str| {
            rows.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        match (get("binlog_snapshot_file"), get("binlog_snapshot_position")) {
            (Some(f), Some(p)) if !f.is_empty() => (
                f,
                p.parse::<u64>()
                    .map_err(|e| MySqlError::Query(e.to_string()))?,
            ),
            _ => {
                return Err(MySqlError::Preflight(
                    "the server reports no binlog_snapshot_file/position".into(),
                ))
            }
        }
    } else {
        warn!("MySQL has no lock-free snapshot position: taking FLUSH TABLES WITH READ LOCK for the moment it takes to read the binlog position");
        conn.query_drop("FLUSH TABLES WITH READ LOCK")
            .await
            .map_err(q)?;
        let started = conn
            .query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            .await;
        let status = preflight::current_position(&mut conn).await;
        conn.query_drop("UNLOCK TABLES").await.map_err(q)?;
        started.map_err(q)?;
        status?
    };
    info!(file = %file, pos, "snapshot transaction open; consistent with this binlog position");
    Ok((
        conn,
        BinlogPosition {
            file: file.into(),
            pos,
            server_id: info.server_id,
            snapshot: true,
            ..Default::default()
        },
    ))
}

fn quote(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

/// One event held back until the next one shows whether it is the last of its table/snapshot.
struct Pending {
    event: ChangeEvent,
    progress: Option<SnapshotProgress>,
    first_overall: bool,
    first_in_table: bool,
    /// Set when its table ended after it.
    last_in_table: bool,
}

/// Reads every captured table inside the snapshot transaction and hands the rows over.
/// `at` is the snapshot position P (of the first attempt when resuming) and its progress says
/// where to resume. Ends by handing over P with `snapshot` false: where streaming must start.
pub async fn read_all(
    mut conn: Conn,
    tables: Vec<Arc<TableSchemas>>,
    builder: &EventBuilder,
    tx: &mpsc::Sender<SourceMessage>,
    max_batch: usize,
    at: BinlogPosition,
    health: &SourceHealth,
) -> Result<u64, MySqlError> {
    let ts_sec = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0);
    let file: Arc<str> = Arc::clone(&at.file);
    let resume = at.snapshot_progress.clone();
    // tables are read in capture order; a resumed snapshot skips the ones already delivered
    let resume_at = resume.as_ref().and_then(|r| {
        let i = tables.iter().position(|t| t.def.id.to_string() == r.table.as_ref());
        if i.is_none() {
            warn!(table = %r.table, "the table the snapshot stopped in is gone; reading every table again");
        }
        i.map(|i| (i, r.key.clone()))
    });
    if let Some(r) = &resume {
        info!(table = %r.table, "resuming the snapshot after the last delivered row");
    }
    let mut batch: Vec<ChangeEvent> = Vec::with_capacity(max_batch);
    let mut pending: Option<Pending> = None;
    let mut total = 0u64;
    let mut progress_log = Progress::new(&mut conn, &tables, health).await;
    let send = |batch: Vec<ChangeEvent>, progress: Option<SnapshotProgress>| {
        let mut position = at.clone();
        position.snapshot_progress = progress;
        async move {
            tx.send(SourceMessage::Batch {
                events: batch,
                position: Position::Binlog(position),
            })
            .await
            .map_err(|_| MySqlError::ConsumerGone)
        }
    };
    for (i, t) in tables.iter().enumerate() {
        let name = t.def.id.to_string();
        let after_key = match &resume_at {
            Some((at_table, _)) if i < *at_table => continue, // delivered before the crash
            Some((at_table, key)) if i == *at_table && t.key.is_some() => Some(key.clone()),
            _ => None,
        };
        if t.key.is_none() {
            warn!(table = %t.def.id, "table has no primary key: snapshot read in one pass, events have a null key");
        }
        let sql = select_sql(t, after_key.as_deref());
        let started = std::time::Instant::now();
        let mut rows = 0u64;
        let mut result = conn.exec_iter(sql, ()).await.map_err(MySqlError::query)?;
        let mut first_in_table = true;
        while let Some(row) = result.next().await.map_err(MySqlError::query)? {
            let values = row.unwrap();
            let progress = t.key.as_ref().map(|_| SnapshotProgress {
                table: Arc::from(name.as_str()),
                key: t
                    .key_fields
                    .iter()
                    .map(|&i| values[i].as_sql(false))
                    .collect::<Vec<_>>()
                    .into(),
            });
            let mut after = Vec::with_capacity(values.len());
            for (v, plan) in values.into_iter().zip(&t.columns) {
                let col = &t.def.columns[plan.table_index];
                after.push(convert(v, &plan.conv, col.nullable).map_err(|m| {
                    MySqlError::Decode {
                        file: format!("snapshot of {}", t.def.id),
                        pos: 0,
                        message: format!("column `{}`: {m}", col.name),
                    }
                })?);
            }
            let mut out = Vec::with_capacity(1);
            let info = SourceInfo {
                ts_sec,
                server_id: at.server_id,
                gtid: None,
                file: &file,
                pos: at.pos,
                row: 0,
                thread: None,
                query: None,
                snapshot: Snapshot::True,
            };
            builder.row_change(
                t,
                Op::Read,
                None,
                Some(after),
                &info,
                Position::Binlog(at.clone()),
                &mut out,
            );
            let Some(event) = out.pop() else { continue };
            if let Some(p) = pending.take() {
                let progress = p.progress.clone();
                batch.push(mark(p, false));
                if batch.len() >= max_batch {
                    send(
                        std::mem::replace(&mut batch, Vec::with_capacity(max_batch)),
                        progress,
                    )
                    .await?;
                }
            }
            pending = Some(Pending {
                event,
                progress,
                first_overall: total == 0,
                first_in_table,
                last_in_table: false,
            });
            first_in_table = false;
            rows += 1;
            total += 1;
            progress_log.tick(&t.def.id, rows, total);
        }
        drop(result);
        if rows > 0 {
            // the held row ends this table; whether it also ends the snapshot is known only
            // when a later table yields a row or none does
            if let Some(p) = pending.as_mut() {
                p.last_in_table = true;
            }
        }
        info!(table = %t.def.id, rows, seconds = started.elapsed().as_secs_f64(), "table snapshotted");
    }
    if let Some(p) = pending.take() {
        batch.push(mark(p, true));
    }
    conn.query_drop("COMMIT").await.map_err(MySqlError::query)?;
    let mut done = at.clone();
    done.snapshot = false;
    done.snapshot_progress = None;
    tx.send(SourceMessage::Batch {
        events: batch,
        position: Position::Binlog(done),
    })
    .await
    .map_err(|_| MySqlError::ConsumerGone)?;
    health.snapshot_done(total);
    info!(
        rows = total,
        "snapshot complete; streaming from the snapshot position"
    );
    Ok(total)
}

/// Snapshot progress for the operator: rows done against the server's row estimates
/// (`information_schema.TABLES.TABLE_ROWS`, approximate for InnoDB), rows/s and ETA, logged at
/// most every [`Progress::EVERY`].
struct Progress<'h> {
    health: &'h SourceHealth,
    estimate: u64,
    started: std::time::Instant,
    last: std::time::Instant,
}

impl<'h> Progress<'h> {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(10);

    async fn new(
        conn: &mut Conn,
        tables: &[Arc<TableSchemas>],
        health: &'h SourceHealth,
    ) -> Progress<'h> {
        let mut estimate = 0u64;
        for t in tables {
            let n: Option<u64> = conn
                .exec_first(
                    "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                    (t.def.id.db.as_str(), t.def.id.table.as_str()),
                )
                .await
                .unwrap_or(None);
            estimate += n.unwrap_or(0);
        }
        info!(
            tables = tables.len(),
            estimated_rows = estimate,
            "snapshot starting"
        );
        health.snapshot_started(estimate);
        let now = std::time::Instant::now();
        Progress {
            health,
            estimate,
            started: now,
            last: now,
        }
    }

    fn tick(&mut self, table: &crate::table::TableId, table_rows: u64, total: u64) {
        if !total.is_multiple_of(4096) {
            return;
        }
        self.health.snapshot_rows(total);
        if self.last.elapsed() < Self::EVERY {
            return;
        }
        self.last = std::time::Instant::now();
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = total as f64 / secs;
        let left = self.estimate.saturating_sub(total) as f64;
        info!(
            table = %table, table_rows, rows = total, estimated_rows = self.estimate,
            percent = (100.0 * total as f64 / self.estimate.max(1) as f64).min(100.0).round(),
            rows_per_sec = rate.round(), eta_secs = (left / rate.max(1.0)).round(),
            "snapshot progress"
        );
    }
}

/// `SELECT <captured columns> FROM t [WHERE key > after] ORDER BY key` — keyset order, so a
/// resumed read starts right after the last delivered key (expanded row comparison for
/// composite keys: `(a > x) OR (a = x AND b > y) …`).
pub(crate) fn select_sql(t: &TableSchemas, after: Option<&[String]>) -> String {
    let columns: Vec<String> = t
        .columns
        .iter()
        .map(|c| quote(&t.def.columns[c.table_index].name))
        .collect();
    let keys: Vec<String> = t.def.primary_key.iter().map(|k| quote(k)).collect();
    let mut sql = format!(
        "SELECT {} FROM {}.{}",
        columns.join(", "),
        quote(&t.def.id.db),
        quote(&t.def.id.table)
    );
    if let Some(after) = after.filter(|a| a.len() == keys.len()) {
        let mut ors = Vec::new();
        for i in 0..keys.len() {
            let mut ands: Vec<String> = (0..i)
                .map(|j| format!("{} = {}", keys[j], after[j]))
                .collect();
            ands.push(format!("{} > {}", keys[i], after[i]));
            ors.push(format!("({})", ands.join(" AND ")));
        }
        sql.push_str(&format!(" WHERE {}", ors.join(" OR ")));
    }
    if !keys.is_empty() {
        sql.push_str(&format!(" ORDER BY {}", keys.join(", ")));
    }
    sql
}

/// Sets `source.snapshot` of a held event now that its neighbours are known (`last` wins over
/// `first` for a single-row snapshot, so consumers always see the snapshot end).
fn mark(p: Pending, last_overall: bool) -> ChangeEvent {
    let marker = if last_overall {
        "last"
    } else if p.first_overall {
        "first"
    } else if p.first_in_table {
        "first_in_data_collection"
    } else if p.last_in_table {
        "last_in_data_collection"
    } else {
        "true"
    };
    let mut ev = p.event;
    if let Some(Value::Struct(env)) = ev.value.as_mut().map(|d| &mut d.value) {
        if let Some(Value::Struct(src)) = env.get_mut(2) {
            if let Some(slot) = src.get_mut(4) {
                *slot = Value::String(Arc::from(marker));
            }
        }
    }
    ev
}

/// A value read with the binary protocol → the Connect value of its field (same result as the
/// binlog decoder gives for the same column).
pub(crate) fn convert(v: My, conv: &Conv, nullable: bool) -> Result<Value, String> {
    Ok(match v {
        My::NULL => Value::Null,
        My::Int(i) => decode::int_value(i128::from(i), Some(conv)),
        My::UInt(u) => decode::int_value(i128::from(u), Some(conv)),
        My::Float(f) => match conv {
            Conv::Float64 => Value::Float64(f64::from(f)),
            _ => Value::Float32(f),
        },
        My::Double(d) => match conv {
            Conv::Float32 => Value::Float32(d as f32),
            _ => Value::Float64(d),
        },
        My::Date(y, mo, d, h, mi, s, us) => {
            if y == 0 || mo == 0 || d == 0 {
                return Ok(decode::zero_temporal(nullable, Some(conv)));
            }
            let days = days_from_civil(i64::from(y), u32::from(mo), u32::from(d));
            let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
            match conv {
                Conv::Date => Value::Int32(days as i32),
                Conv::ZonedTimestamp { fsp } => Value::String(Arc::from(
                    zoned_timestamp(secs, i64::from(us), *fsp).as_str(),
                )),
                Conv::DateTimeMillis => {
                    Value::Int64((secs * 1_000_000 + i64::from(us)).div_euclid(1000))
                }
                _ => Value::Int64(secs * 1_000_000 + i64::from(us)),
            }
        }
        My::Time(neg, days, h, mi, s, us) => {
            let secs =
                i64::from(days) * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
            let micros = secs * 1_000_000 + i64::from(us);
            decode::time_value(if neg { -micros } else { micros }, Some(conv))
        }
        My::Bytes(b) => bytes(b, conv)?,
    })
}

fn bytes(b: Vec<u8>, conv: &Conv) -> Result<Value, String> {
    let text = || std::str::from_utf8(&b).map_err(|e| e.to_string());
    Ok(match conv {
        Conv::DecimalPrecise
        | Conv::DecimalDouble
        | Conv::DecimalString
        | Conv::UnsignedPrecise => {
            let d = Decimal::parse(text()?.trim()).ok_or("not a decimal")?;
            match conv {
                Conv::DecimalDouble => Value::Float64(d.to_f64()),
                Conv::DecimalString => Value::String(Arc::from(d.to_plain_string().as_str())),
                _ => Value::Decimal(d),
            }
        }
        Conv::Int16 | Conv::Int32 | Conv::Int64 | Conv::UnsignedLong | Conv::Year => {
            let t = text()?.trim().to_string();
            let v: i128 = t.parse().map_err(|_| format!("not an integer: {t:?}"))?;
            decode::int_value(v, Some(conv))
        }
        Conv::Float32 => Value::Float32(text()?.trim().parse().map_err(|_| "not a float")?),
        Conv::Float64 => Value::Float64(text()?.trim().parse().map_err(|_| "not a double")?),
        Conv::Bool => Value::Boolean(b.iter().any(|x| *x != 0)),
        Conv::Bits { bits } => {
            let mut le: Vec<u8> = b.iter().rev().copied().collect();
            le.resize(bits.div_ceil(8) as usize, 0);
            Value::Bytes(le)
        }
        Conv::Binary { pad_to, mode } => {
            let mut v = b;
            if let Some(n) = pad_to {
                v.resize((*n as usize).max(v.len()), 0);
            }
            decode::binary_value(v, *mode)
        }
        Conv::Geometry => {
            if b.len() < 4 {
                return Err("geometry value shorter than its SRID".into());
            }
            let srid = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i32;
            Value::Struct(vec![Value::Bytes(b[4..].to_vec()), Value::Int32(srid)])
        }
        Conv::Text { latin1: true } => Value::String(Arc::from(
            b.iter()
                .map(|&c| char::from(c))
                .collect::<String>()
                .as_str(),
        )),
        _ => Value::String(match std::str::from_utf8(&b) {
            Ok(s) => Arc::from(s),
            Err(_) => Arc::from(String::from_utf8_lossy(&b).as_ref()),
        }),
    })
}
