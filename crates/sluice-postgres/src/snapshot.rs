//! The initial snapshot: every captured row as an `op: "r"` event, consistent with the point
//! where streaming starts.
//!
//! Consistency. A new slot is created on the replication connection with
//! `CREATE_REPLICATION_SLOT … LOGICAL pgoutput (SNAPSHOT 'export')`: the server returns the
//! slot's consistent point P and exports the snapshot that sees exactly the transactions
//! committed before P. Every reader connection opens `REPEATABLE READ, READ ONLY` and adopts
//! that snapshot (`SET TRANSACTION SNAPSHOT`), so all chunks, read in parallel, see one state:
//! the state at P. Streaming then starts at P on the same replication session, and the slot
//! sends every transaction committed after P: nothing is missed, nothing is repeated. No lock
//! is taken (readers hold ACCESS SHARE only, like any SELECT).
//!
//! Resuming. Progress (the table and last primary key of the last durably delivered chunk) is
//! in the offset. After a crash the exported snapshot is gone, so the rest is read in a fresh
//! REPEATABLE READ transaction at some later point P2, and streaming still starts at P (the
//! slot has not been confirmed past it): rows read at P2 are then followed by the replay of
//! changes between P and P2, and consumers applying events in order converge to the source.
//!
//! Chunks. A table with a single-column integer primary key is split into key ranges of
//! `snapshot.chunk.size`; other tables are one chunk, read in key order. `snapshot.max.threads`
//! chunks are read at once (one connection each, `COPY (SELECT …) TO STDOUT`) and decoded on
//! blocking threads; events still leave in table and key order.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use futures_util::{StreamExt, TryStreamExt};
use sluice_core::{ChangeEvent, Position, SnapshotProgress, SourceMessage};

use crate::position::PgPosition;
use sqlx::postgres::PgConnection;
use sqlx::Row;
use tokio::sync::{mpsc, Mutex};
use tracing::info;

use crate::catalog::quote;
use crate::config::PgConfig;
use crate::envelope::{Cell, EventBuilder, SourceInfo, TableSchemas};
use crate::error::{sql, PgError};
use crate::infinity::Origin;
use crate::stream::send;
use sluice_cdc::{markers, Marker, Op};

/// Where the snapshot reads.
pub struct Plan {
    pub tables: Vec<Arc<TableSchemas>>,
    /// The slot's consistent point (streaming starts there).
    pub lsn: u64,
    pub tx_id: Option<u64>,
    /// Resume after this progress.
    pub resume: Option<SnapshotProgress>,
    /// Whether streaming follows (else the last event's position is still marked snapshot).
    pub max_batch: usize,
}

/// One unit of reading.
#[derive(Debug, Clone)]
struct Chunk {
    table: usize,
    /// `pk >= lo AND pk < hi` for integer keys (`None`: the whole table).
    range: Option<(i64, i64)>,
    last_of_table: bool,
}

async fn chunks_of(
    conn: &mut PgConnection,
    t: &TableSchemas,
    index: usize,
    size: usize,
    after: Option<i64>,
) -> Result<Vec<Chunk>, PgError> {
    let int_key = t.table.primary_key.len() == 1
        && t.table
            .columns
            .iter()
            .find(|c| c.name == t.table.primary_key[0])
            .is_some_and(|c| matches!(c.ty.name.as_str(), "int2" | "int4" | "int8"));
    if !int_key {
        return Ok(vec![Chunk {
            table: index,
            range: None,
            last_of_table: true,
        }]);
    }
    let pk = quote(&t.table.primary_key[0]);
    let row = sqlx::query(&format!(
        "SELECT min({pk})::int8, max({pk})::int8 FROM {}",
        t.table.quoted()
    ))
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| sql("reading key bounds", e))?;
    let (min, max): (Option<i64>, Option<i64>) = (row.get(0), row.get(1));
    let (Some(min), Some(max)) = (min, max) else {
        return Ok(vec![Chunk {
            table: index,
            range: Some((0, 0)),
            last_of_table: true,
        }]);
    };
    let mut lo = after.map_or(min, |a| a.saturating_add(1).max(min));
    let mut out = Vec::new();
    while lo <= max {
        let hi = lo.saturating_add(size as i64);
        out.push(Chunk {
            table: index,
            range: Some((lo, hi)),
            last_of_table: hi > max,
        });
        lo = hi;
    }
    if out.is_empty() {
        out.push(Chunk {
            table: index,
            range: Some((0, 0)),
            last_of_table: true,
        });
    }
    Ok(out)
}

/// Reads the snapshot into `tx`. `readers` are connections already inside the snapshot
/// transaction (one per thread). Returns when every row was handed over; the last batch's
/// position is the streaming start P with `snapshot` false.
pub async fn run(
    cfg: &PgConfig,
    plan: Plan,
    builder: &EventBuilder,
    readers: Vec<PgConnection>,
    tx: &mpsc::Sender<SourceMessage>,
) -> Result<(), PgError> {
    let started = Instant::now();
    let ts_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64);
    let pool = Arc::new(Mutex::new(readers));
    // chunk plan, honouring resume progress
    let mut chunks = Vec::new();
    {
        let mut guard = pool.lock().await;
        let conn = guard
            .first_mut()
            .ok_or(PgError::Fatal("no snapshot connection".into()))?;
        let mut skipping = plan.resume.is_some();
        for (i, t) in plan.tables.iter().enumerate() {
            let name = t.table.full_name();
            let mut after = None;
            if let Some(p) = &plan.resume {
                if skipping {
                    if p.table.as_ref() != name {
                        continue; // delivered before the crash
                    }
                    skipping = false;
                    match p.key.first() {
                        None => continue, // the whole table was delivered
                        Some(k) => after = k.parse::<i64>().ok(),
                    }
                }
            }
            chunks.extend(chunks_of(conn, t, i, cfg.snapshot_chunk_size, after).await?);
        }
    }
    info!(connector = %cfg.name, tables = plan.tables.len(), chunks = chunks.len(), lsn = plan.lsn, "snapshot started");
    let threads = cfg.snapshot_threads.max(1);
    let tables = plan.tables.clone();
    let placeholder = builder.placeholder.clone();
    let read = chunks.into_iter().map(|c| {
        let pool = Arc::clone(&pool);
        let t = Arc::clone(&tables[c.table]);
        let builder = builder.clone();
        let placeholder = placeholder.clone();
        let info = SourceInfo {
            ts_us,
            snapshot: Marker::True,
            tx_id: plan.tx_id,
            lsn: plan.lsn,
            last_commit: None,
        };
        async move {
            let mut conn = loop {
                if let Some(c) = pool.lock().await.pop() {
                    break c;
                }
                tokio::task::yield_now().await;
            };
            let raw = copy_chunk(&mut conn, &t, &c).await;
            pool.lock().await.push(conn);
            let raw = raw?;
            let events = tokio::task::spawn_blocking(move || {
                let mut out = Vec::new();
                let pos = Position::Unknown;
                for line in raw.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    let row = t.row(copy_cells(line), &placeholder, Origin::Snapshot);
                    builder.row_change(&t, Op::Read, None, Some(row), &info, &pos, &mut out);
                }
                (c, out)
            })
            .await
            .map_err(|e| PgError::Fatal(format!("snapshot decoder failed: {e}")))?;
            Ok::<_, PgError>(events)
        }
    });
    let mut stream = futures_util::stream::iter(read).buffered(threads);
    let position = |progress: Option<SnapshotProgress>| {
        Position::from_source(PgPosition {
            lsn: plan.lsn,
            lsn_proc: plan.lsn,
            lsn_commit: plan.lsn,
            tx_id: plan.tx_id,
            ts_usec: ts_us,
            snapshot: true,
            snapshot_progress: progress,
            event: 0,
            last_commit: None,
            incremental: None,
        })
    };
    // The last event is held back until the next one shows whether it ended its table (or the
    // snapshot). Progress committed with a batch covers only chunks whose every event is in it:
    // with an event held, up to the end of the chunk before the held event's chunk.
    let mut held: Option<(ChangeEvent, bool, bool)> = None; // event, first overall, first in table
    let mut held_safe: Option<SnapshotProgress> = None;
    let mut before_current: Option<SnapshotProgress> = None;
    let mut seen_table: Option<usize> = None;
    let mut first_overall = true;
    let mut rows: u64 = 0;
    let mut batch: Vec<ChangeEvent> = Vec::new();
    while let Some(next) = stream.next().await {
        let (chunk, events) = next?;
        let t = &tables[chunk.table];
        for ev in events {
            let first_in_table = seen_table != Some(chunk.table);
            seen_table = Some(chunk.table);
            if let Some((prev, f, fi)) = held.take() {
                batch.push(mark(prev, f, fi, first_in_table, false));
            }
            // Debezium's `first`: the first row of the first table, none if it is empty
            held = Some((ev, first_overall && chunk.table == 0, first_in_table));
            held_safe = before_current.clone();
            first_overall = false;
            rows += 1;
        }
        let key = match (chunk.last_of_table, chunk.range) {
            (true, _) | (_, None) => Vec::new(),
            (false, Some((_, hi))) => vec![(hi - 1).to_string()],
        };
        let end_of_chunk = SnapshotProgress {
            table: Arc::from(t.table.full_name().as_str()),
            key: key.into(),
        };
        if batch.len() >= plan.max_batch {
            let safe = if held.is_some() {
                held_safe.clone()
            } else {
                Some(end_of_chunk.clone())
            };
            let p = position(safe);
            for e in &mut batch {
                e.position = p.clone();
            }
            send(tx, std::mem::take(&mut batch), p).await?;
            sluice_core::failpoint::crash_point("snapshot-chunk");
        }
        before_current = Some(end_of_chunk);
    }
    if let Some((prev, f, fi)) = held.take() {
        batch.push(mark(prev, f, fi, true, true));
    }
    let done = Position::from_source(PgPosition {
        lsn: plan.lsn,
        lsn_proc: plan.lsn,
        lsn_commit: plan.lsn,
        tx_id: plan.tx_id,
        ts_usec: ts_us,
        snapshot: false,
        snapshot_progress: None,
        event: 0,
        last_commit: None,
        incremental: None,
    });
    for e in &mut batch {
        e.position = done.clone();
    }
    send(tx, batch, done).await?;
    let secs = started.elapsed().as_secs_f64();
    info!(connector = %cfg.name, rows, seconds = secs, rows_per_s = (rows as f64 / secs.max(1e-9)) as u64, "snapshot completed");
    Ok(())
}

/// Sets `source.snapshot` now that the event's neighbours are known.
fn mark(
    mut ev: ChangeEvent,
    first_overall: bool,
    first_in_table: bool,
    last_in_table: bool,
    last_overall: bool,
) -> ChangeEvent {
    let marker = Marker::of_row(first_overall, last_overall, first_in_table, last_in_table);
    markers::set(&mut ev, marker);
    ev
}

async fn copy_chunk(
    conn: &mut PgConnection,
    t: &TableSchemas,
    c: &Chunk,
) -> Result<Vec<u8>, PgError> {
    let cols: Vec<String> = t.table.columns.iter().map(|c| quote(&c.name)).collect();
    let mut q = format!("SELECT {} FROM {}", cols.join(", "), t.table.quoted());
    if let Some((lo, hi)) = c.range {
        let pk = quote(&t.table.primary_key[0]);
        q.push_str(&format!(" WHERE {pk} >= {lo} AND {pk} < {hi}"));
    }
    if !t.table.primary_key.is_empty() {
        let keys: Vec<String> = t.table.primary_key.iter().map(|k| quote(k)).collect();
        q.push_str(&format!(" ORDER BY {}", keys.join(", ")));
    }
    copy_out(conn, &q).await
}

/// The text `COPY (q) TO STDOUT` output of query `q`, whole.
pub(crate) async fn copy_out(conn: &mut PgConnection, q: &str) -> Result<Vec<u8>, PgError> {
    let stream = conn
        .copy_out_raw(&format!("COPY ({q}) TO STDOUT"))
        .await
        .map_err(|e| sql("snapshot COPY", e))?;
    let parts: Vec<bytes::Bytes> = stream
        .try_collect()
        .await
        .map_err(|e| sql("snapshot COPY", e))?;
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.extend_from_slice(&p);
    }
    Ok(out)
}

/// The cells of one `COPY … TO STDOUT` text line (tab-separated, `\N` for NULL, backslash
/// escapes).
pub(crate) fn copy_cells(line: &[u8]) -> impl Iterator<Item = Cell> + '_ {
    line.split(|&b| b == b'\t').map(|f| {
        if f == b"\\N" {
            return Cell::Null;
        }
        if !f.contains(&b'\\') {
            return Cell::Text(String::from_utf8_lossy(f).into_owned());
        }
        let mut out = Vec::with_capacity(f.len());
        let mut i = 0;
        while i < f.len() {
            if f[i] == b'\\' && i + 1 < f.len() {
                i += 1;
                match f[i] {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'v' => out.push(11),
                    d @ b'0'..=b'7' => {
                        let mut v = u32::from(d - b'0');
                        let mut n = 1;
                        while n < 3 && i + 1 < f.len() && (b'0'..=b'7').contains(&f[i + 1]) {
                            i += 1;
                            v = v * 8 + u32::from(f[i] - b'0');
                            n += 1;
                        }
                        out.push(v as u8);
                    }
                    other => out.push(other),
                }
            } else {
                out.push(f[i]);
            }
            i += 1;
        }
        Cell::Text(String::from_utf8_lossy(&out).into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_lines_unescape() {
        let cells: Vec<Cell> = copy_cells(b"1\t\\N\ta\\tb\\\\c\\nd\t\\\\x00").collect();
        assert_eq!(
            cells,
            vec![
                Cell::Text("1".into()),
                Cell::Null,
                Cell::Text("a\tb\\c\nd".into()),
                Cell::Text("\\x00".into()),
            ]
        );
    }
}
