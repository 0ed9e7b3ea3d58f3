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
//! `FLUSH TABLES WITH READ LOCK`: lock, start the consistent-snapshot transactions, read
//! `SHOW MASTER STATUS`, unlock — the same argument then holds.
//!
//! Parallel readers (`snapshot.max.threads` > 1). Tables are cut into primary-key chunks that
//! several connections read at once ([`crate::chunks`]); events still leave in table and key
//! order. Each reader has its own consistent-snapshot transaction, and MariaDB cannot share one
//! read view between connections. So the readers' transactions are opened together and their
//! `binlog_snapshot_*` positions compared: if they are equal — no commit landed in between —
//! every reader sees exactly the state at P and the argument above holds unchanged. If a busy
//! writer keeps them apart, they are reopened together (a few times), and if they still differ,
//! streaming starts at the *earliest* position P: a row read by a later reader (at some P' > P)
//! is then followed in the stream by the changes between P and P' it already shows. Each of
//! those changes carries the row's complete after-image (binlog_row_image=FULL), and every
//! change after P' is streamed too, so a consumer applying events in order ends in exactly the
//! source's state — the same argument as for a resumed snapshot below.
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

use std::collections::VecDeque;

use futures_util::future::join_all;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value as My};
use sluice_core::{ChangeEvent, Position, SnapshotProgress, SourceHealth};

use crate::position::BinlogPosition;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::chunks::{self, quote, ChunkReader, Planner};
use crate::config::MySqlConfig;
use crate::envelope::{EventBuilder, SourceInfo};
use crate::error::MySqlError;
use crate::history::cmp_position;
use crate::mapping::TableSchemas;
use crate::preflight::{self, ServerInfo};
use crate::query_values::convert;
use crate::source::SourceMessage;
use sluice_cdc::{markers, Marker, Op};

/// The snapshot's reader connections, each inside a consistent-snapshot transaction, and the
/// binlog position streaming must start from.
pub struct Readers {
    conns: Vec<Conn>,
    /// The earliest reader's position, with `snapshot: true`.
    pub at: BinlogPosition,
    /// Every reader's transaction corresponds to `at` exactly.
    pub aligned: bool,
    /// Rows per chunk (`snapshot.chunk.size`).
    chunk_size: usize,
}

/// How often the readers' transactions are reopened to get them all at one binlog position.
const ALIGN_ATTEMPTS: usize = 20;

/// Opens `cfg.snapshot_threads` snapshot transactions and returns them with the binlog position
/// they are consistent with (see the module doc).
pub async fn begin(cfg: &MySqlConfig, info: &ServerInfo) -> Result<Readers, MySqlError> {
    let n = cfg.snapshot_threads.max(1);
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let mut c = preflight::connect(cfg).await?;
        c.query_drop("SET SESSION time_zone = '+00:00'")
            .await
            .map_err(MySqlError::query)?;
        c.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .await
            .map_err(MySqlError::query)?;
        conns.push(c);
    }
    let (positions, aligned) = if info.mariadb {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let opened = join_all(conns.iter_mut().map(consistent_snapshot)).await;
            let positions = opened.into_iter().collect::<Result<Vec<_>, _>>()?;
            let aligned = positions.windows(2).all(|w| w[0] == w[1]);
            if aligned || attempt >= ALIGN_ATTEMPTS {
                break (positions, aligned);
            }
            // a commit landed between the transactions' starts: open them all again
            for c in conns.iter_mut() {
                c.query_drop("COMMIT").await.map_err(MySqlError::query)?;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2 * attempt as u64)).await;
        }
    } else {
        // MySQL has no binlog_snapshot_* status: hold FLUSH TABLES WITH READ LOCK only while the
        // readers' transactions start and the position is read
        warn!("MySQL has no lock-free snapshot position: taking FLUSH TABLES WITH READ LOCK for the moment it takes to start the snapshot transactions");
        let mut lock = preflight::connect(cfg).await?;
        lock.query_drop("FLUSH TABLES WITH READ LOCK")
            .await
            .map_err(MySqlError::query)?;
        let mut started = Ok(());
        for c in conns.iter_mut() {
            if let Err(e) = c
                .query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                .await
            {
                started = Err(e);
                break;
            }
        }
        let status = preflight::current_position(&mut lock).await;
        lock.query_drop("UNLOCK TABLES")
            .await
            .map_err(MySqlError::query)?;
        started.map_err(MySqlError::query)?;
        (vec![status?], true)
    };
    let (file, pos) = positions
        .iter()
        .min_by(|a, b| cmp_position(&a.0, a.1, &b.0, b.1))
        .cloned()
        .ok_or_else(|| MySqlError::Preflight("no snapshot reader".into()))?;
    if aligned {
        info!(file = %file, pos, readers = n, "snapshot transactions open; consistent with this binlog position");
    } else {
        warn!(
            file = %file, pos, readers = n,
            "writes kept committing while the snapshot readers started: their views differ slightly. Streaming starts at the earliest; \
             a row read by a later reader may be followed by a change it already shows (the final state is exact)"
        );
    }
    Ok(Readers {
        conns,
        at: BinlogPosition {
            file: file.into(),
            pos,
            server_id: info.server_id,
            snapshot: true,
            ..Default::default()
        },
        aligned,
        chunk_size: cfg.snapshot_chunk_size,
    })
}

/// Starts a consistent-snapshot transaction on MariaDB and returns the binlog position its
/// view corresponds to.
async fn consistent_snapshot(conn: &mut Conn) -> Result<(String, u64), MySqlError> {
    let q = MySqlError::query;
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
        (Some(f), Some(p)) if !f.is_empty() => Ok((
            f,
            p.parse::<u64>()
                .map_err(|e| MySqlError::Query(e.to_string()))?,
        )),
        _ => Err(MySqlError::Preflight(
            "the server reports no binlog_snapshot_file/position".into(),
        )),
    }
}

/// One event held back until the next one shows whether it is the last of its table/snapshot.
struct Pending {
    event: ChangeEvent,
    /// Its table and primary key (raw values: turned into progress literals only for the row
    /// that ends a batch).
    progress: Option<(Arc<str>, Vec<My>)>,
    first_overall: bool,
    first_in_table: bool,
    /// Set when its table ended after it.
    last_in_table: bool,
}

/// What is being read: the chunk planner walking the captured tables in order.
struct Plan<'a> {
    tables: &'a [Arc<TableSchemas>],
    /// `(table index, last key delivered)` of a resumed snapshot.
    resume_at: Option<(usize, Arc<[String]>)>,
    chunk_size: usize,
    next_table: usize,
    current: Option<(usize, Planner)>,
}

/// One queued chunk: its table, and whether it is the table's last.
#[derive(Clone, Copy)]
struct Queued {
    table: usize,
    last: bool,
}

impl Plan<'_> {
    /// The next chunk to read, in table then key order.
    async fn next(&mut self, conn: &mut Conn) -> Result<Option<(Queued, String)>, MySqlError> {
        loop {
            if self.current.is_none() {
                let i = self.next_table;
                let Some(t) = self.tables.get(i) else {
                    return Ok(None);
                };
                self.next_table += 1;
                let after = match &self.resume_at {
                    Some((at, _)) if i < *at => continue, // delivered before the crash
                    Some((at, key)) if i == *at && t.key.is_some() => Some(key.to_vec()),
                    _ => None,
                };
                if t.key.is_none() {
                    warn!(table = %t.def.id, "table has no primary key: snapshot read in one pass by one reader, events have a null key");
                }
                self.current = Some((i, Planner::new(Arc::clone(t), after, self.chunk_size)));
            }
            let Some((i, planner)) = self.current.as_mut() else {
                continue;
            };
            match planner.next(conn).await? {
                Some(b) => {
                    let last = b.upto.is_none();
                    let queued = Queued { table: *i, last };
                    let sql = select_sql(
                        &self.tables[*i],
                        b.after.as_deref(),
                        b.upto.as_deref(),
                        None,
                    );
                    if last {
                        self.current = None;
                    }
                    return Ok(Some((queued, sql)));
                }
                None => self.current = None,
            }
        }
    }
}

/// Reads every captured table inside the readers' snapshot transactions and hands the rows
/// over in table and key order. `at` is the snapshot position P (of the first attempt when
/// resuming) and its progress says where to resume; `conn` is a plain connection for chunk
/// boundaries and row estimates. Ends by handing over P with `snapshot` false: where streaming
/// must start.
#[allow(clippy::too_many_arguments)]
pub async fn read_all(
    readers: Readers,
    conn: &mut Conn,
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
    let threads = readers.conns.len();
    let mut plan = Plan {
        tables: &tables,
        resume_at,
        // one reader: a table is one chunk (nothing to gain from cutting it)
        chunk_size: if threads > 1 { readers.chunk_size } else { 0 },
        next_table: 0,
        current: None,
    };
    let mut reader = ChunkReader::start(readers.conns);
    let mut queued: VecDeque<Queued> = VecDeque::new();
    let mut batch: Vec<ChangeEvent> = Vec::with_capacity(max_batch);
    let mut pending: Option<Pending> = None;
    let mut total = 0u64;
    let mut progress_log = Progress::new(conn, &tables, health).await;
    let send = |batch: Vec<ChangeEvent>, progress: Option<SnapshotProgress>| {
        let mut position = at.clone();
        position.snapshot_progress = progress;
        async move {
            tx.send(SourceMessage::Batch {
                events: batch,
                position: Position::from_source(position),
            })
            .await
            .map_err(|_| MySqlError::ConsumerGone)?;
            sluice_core::failpoint::crash_point("snapshot-chunk");
            Ok(())
        }
    };
    let mut current: Option<usize> = None;
    let mut rows = 0u64;
    let mut first_in_table = true;
    let mut started = std::time::Instant::now();
    loop {
        while reader.queued() < reader.depth() {
            match plan.next(conn).await? {
                Some((q, sql)) => {
                    reader.push(sql).await?;
                    queued.push_back(q);
                }
                None => break,
            }
        }
        let Some(chunk) = queued.pop_front() else {
            break;
        };
        let t = &tables[chunk.table];
        if current != Some(chunk.table) {
            current = Some(chunk.table);
            rows = 0;
            first_in_table = true;
            started = std::time::Instant::now();
        }
        let name: Arc<str> = Arc::from(t.def.id.to_string().as_str());
        while let Some(row) = reader.next_row().await? {
            let values = row.unwrap();
            let progress = t.key.as_ref().map(|_| {
                (
                    Arc::clone(&name),
                    t.key_fields.iter().map(|&i| values[i].clone()).collect(),
                )
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
                // Debezium's snapshot records say 0: no binlog event was read
                server_id: 0,
                gtid: None,
                file: &file,
                pos: at.pos,
                row: 0,
                thread: None,
                query: None,
                snapshot: Marker::True,
            };
            builder.row_change(
                t,
                Op::Read,
                None,
                Some(after),
                &info,
                Position::from_source(at.clone()),
                &mut out,
            );
            let Some(event) = out.pop() else { continue };
            if let Some(mut p) = pending.take() {
                let progress = p.progress.take();
                batch.push(mark(p, false));
                if batch.len() >= max_batch {
                    let progress = progress.map(|(table, key)| SnapshotProgress {
                        table,
                        key: key.iter().map(|v| v.as_sql(false)).collect(),
                    });
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
                // Debezium's `first`: the first row of the first table, none if it is empty
                first_overall: total == 0 && chunk.table == 0,
                first_in_table,
                last_in_table: false,
            });
            first_in_table = false;
            rows += 1;
            total += 1;
            progress_log.tick(&tables, chunk.table, rows, total);
        }
        if chunk.last {
            if rows > 0 {
                // the held row ends this table; whether it also ends the snapshot is known
                // only when a later table yields a row or none does
                if let Some(p) = pending.as_mut() {
                    p.last_in_table = true;
                }
            }
            info!(table = %t.def.id, rows, seconds = started.elapsed().as_secs_f64(), "table snapshotted");
        }
    }
    if let Some(p) = pending.take() {
        batch.push(mark(p, true));
    }
    reader.close();
    let mut done = at.clone();
    done.snapshot = false;
    done.snapshot_progress = None;
    tx.send(SourceMessage::Batch {
        events: batch,
        position: Position::from_source(done),
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
    /// Per table (capture order), the server's estimate.
    table_estimates: Vec<u64>,
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
        let mut table_estimates = Vec::with_capacity(tables.len());
        for t in tables {
            let n: Option<u64> = conn
                .exec_first(
                    "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                    (t.def.id.db.as_str(), t.def.id.table.as_str()),
                )
                .await
                .unwrap_or(None);
            estimate += n.unwrap_or(0);
            table_estimates.push(n.unwrap_or(0));
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
            table_estimates,
            started: now,
            last: now,
        }
    }

    /// Row `total` of the snapshot, row `table_rows` of table number `table` (capture order).
    fn tick(&mut self, tables: &[Arc<TableSchemas>], table: usize, table_rows: u64, total: u64) {
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
        let table_estimate = self.table_estimates.get(table).copied().unwrap_or(0);
        info!(
            table = %tables[table].def.id, table_rows, table_estimated_rows = table_estimate.max(table_rows),
            rows = total, estimated_rows = self.estimate,
            percent = (100.0 * total as f64 / self.estimate.max(1) as f64).min(100.0).round(),
            rows_per_sec = rate.round(), eta_secs = (left / rate.max(1.0)).round(),
            "snapshot progress"
        );
    }
}

/// `SELECT <captured columns> FROM t [WHERE key > after AND key <= upto AND (filter)] ORDER BY
/// key` — keyset order, so a resumed read starts right after the last delivered key (expanded
/// row comparisons for composite keys: `(a > x) OR (a = x AND b > y) …`).
pub(crate) fn select_sql(
    t: &TableSchemas,
    after: Option<&[String]>,
    upto: Option<&[String]>,
    filter: Option<&str>,
) -> String {
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
    let mut conditions = Vec::new();
    if let Some(after) = after.filter(|a| a.len() == keys.len()) {
        conditions.push(chunks::after_condition(&keys, after));
    }
    if let Some(upto) = upto.filter(|a| a.len() == keys.len()) {
        conditions.push(chunks::upto_condition(&keys, upto));
    }
    if let Some(f) = filter.map(str::trim).filter(|f| !f.is_empty()) {
        conditions.push(format!("({f})"));
    }
    if !conditions.is_empty() {
        sql.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
    }
    if !keys.is_empty() {
        sql.push_str(&format!(" ORDER BY {}", keys.join(", ")));
    }
    sql
}

/// Sets `source.snapshot` of a held event now that its neighbours are known.
fn mark(p: Pending, last_overall: bool) -> ChangeEvent {
    let mut ev = p.event;
    let marker = Marker::of_row(
        p.first_overall,
        last_overall,
        p.first_in_table,
        p.last_in_table,
    );
    markers::set(&mut ev, marker);
    ev
}
