//! Parallel chunked reads for the initial snapshot.
//!
//! A table with a primary key is cut into chunks of about `snapshot.chunk.size` rows by its key:
//! chunk *i* holds the keys in `(b(i-1), b(i)]`, the first chunk starts at the table's first key
//! (or after the key a resumed snapshot stopped at) and the last one is unbounded above. The
//! boundaries come from `SELECT key … WHERE key > b ORDER BY key LIMIT 1 OFFSET n-1` on a
//! connection of their own: an index walk, no rows shipped. Boundaries need no consistency —
//! the chunks cover the whole key space whatever the boundaries are — so that connection is a
//! plain autocommit one.
//!
//! Several reader connections (`snapshot.max.threads`) each hold a consistent-snapshot
//! transaction ([`crate::snapshot::begin`]) and take chunks from one queue, first come first
//! served. Each chunk's rows flow through a small bounded channel of their own, and the
//! snapshot consumes the channels **in chunk order**: events leave in table order and key order
//! exactly as with one reader, so progress (the last delivered key) and resume work unchanged.
//! Rows travel in small batches ([`ROWS_PER_MESSAGE`]), so the hand-over costs next to nothing
//! per row. A reader ahead of the consumer blocks on its full channel (and the server on its
//! socket): memory stays at `readers + 1` channels of [`MESSAGES_IN_FLIGHT`] batches, whatever
//! the table size.
//!
//! Tables without a primary key are one unbounded chunk (one reader, read in one pass).

use std::collections::VecDeque;
use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use tokio::sync::{mpsc, Mutex};
use tracing::debug;

use crate::error::MySqlError;
use crate::mapping::TableSchemas;

/// Rows handed from a reader to the consumer at once.
const ROWS_PER_MESSAGE: usize = 256;
/// Messages a chunk's channel holds before its reader waits for the consumer.
const MESSAGES_IN_FLIGHT: usize = 4;

type Rows = mpsc::Receiver<Result<Vec<Row>, MySqlError>>;

/// One range of one table to read.
struct Job {
    sql: String,
    rows: mpsc::Sender<Result<Vec<Row>, MySqlError>>,
}

/// Key literals bounding a chunk: rows with `after < key <= upto` (either side open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bounds {
    pub after: Option<Vec<String>>,
    pub upto: Option<Vec<String>>,
}

/// Readers working through a queue of chunks, delivering rows in queue order.
pub(crate) struct ChunkReader {
    jobs: mpsc::Sender<Job>,
    /// Row channels of queued chunks, oldest first.
    queued: VecDeque<Rows>,
    /// Rows of the oldest chunk received and not yet taken, in reverse order.
    ready: Vec<Row>,
    readers: usize,
}

impl ChunkReader {
    /// Starts one reader task per connection (each already inside its snapshot transaction).
    pub(crate) fn start(conns: Vec<Conn>) -> ChunkReader {
        let readers = conns.len().max(1);
        let (jobs, rx) = mpsc::channel::<Job>(readers);
        let rx = Arc::new(Mutex::new(rx));
        for (n, conn) in conns.into_iter().enumerate() {
            tokio::spawn(reader(n, conn, Arc::clone(&rx)));
        }
        ChunkReader {
            jobs,
            queued: VecDeque::new(),
            ready: Vec::new(),
            readers,
        }
    }

    /// Chunks to keep queued so every reader has work and the next chunk is ready.
    pub(crate) fn depth(&self) -> usize {
        self.readers + 1
    }

    pub(crate) fn queued(&self) -> usize {
        self.queued.len()
    }

    /// Queues the query of one chunk; its rows come out of [`ChunkReader::next_row`] after
    /// every row of the chunks queued before it.
    pub(crate) async fn push(&mut self, sql: String) -> Result<(), MySqlError> {
        let (tx, rx) = mpsc::channel(MESSAGES_IN_FLIGHT);
        self.jobs
            .send(Job { sql, rows: tx })
            .await
            .map_err(|_| MySqlError::Query("every snapshot reader stopped".into()))?;
        self.queued.push_back(rx);
        Ok(())
    }

    /// The next row of the oldest queued chunk; `Ok(None)` when that chunk is complete (it is
    /// then dropped from the queue). Must not be called with nothing queued.
    pub(crate) async fn next_row(&mut self) -> Result<Option<Row>, MySqlError> {
        loop {
            if let Some(row) = self.ready.pop() {
                return Ok(Some(row));
            }
            let Some(rx) = self.queued.front_mut() else {
                return Ok(None);
            };
            match rx.recv().await {
                Some(Ok(mut rows)) => {
                    rows.reverse();
                    self.ready = rows;
                }
                Some(Err(e)) => return Err(e),
                None => {
                    self.queued.pop_front();
                    return Ok(None);
                }
            }
        }
    }

    /// Ends every reader's snapshot transaction.
    pub(crate) fn close(self) {
        drop(self.jobs); // readers see the closed queue, commit and disconnect
    }
}

async fn reader(n: usize, mut conn: Conn, jobs: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let job = { jobs.lock().await.recv().await };
        let Some(job) = job else { break };
        debug!(reader = n, sql = %job.sql, "snapshot chunk");
        if let Err(e) = read_chunk(&mut conn, &job).await {
            let _ = job.rows.send(Err(e)).await;
            return;
        }
    }
    let _ = conn.query_drop("COMMIT").await;
    let _ = conn.disconnect().await;
}

async fn read_chunk(conn: &mut Conn, job: &Job) -> Result<(), MySqlError> {
    let mut result = conn
        .exec_iter(job.sql.as_str(), ())
        .await
        .map_err(MySqlError::query)?;
    let mut rows = Vec::with_capacity(ROWS_PER_MESSAGE);
    while let Some(row) = result.next().await.map_err(MySqlError::query)? {
        rows.push(row);
        if rows.len() == ROWS_PER_MESSAGE {
            let full = std::mem::replace(&mut rows, Vec::with_capacity(ROWS_PER_MESSAGE));
            if job.rows.send(Ok(full)).await.is_err() {
                return Ok(()); // the snapshot stopped
            }
        }
    }
    drop(result);
    if !rows.is_empty() {
        let _ = job.rows.send(Ok(rows)).await;
    }
    Ok(())
}

/// Finds chunk boundaries of one table, one chunk ahead of the readers.
pub(crate) struct Planner {
    table: Arc<TableSchemas>,
    size: usize,
    next_after: Option<Vec<String>>,
    done: bool,
}

impl Planner {
    /// Chunks of `table` after `after` (a resumed snapshot's last key), `size` rows each; a
    /// table without a primary key, or `size` 0, is a single chunk.
    pub(crate) fn new(table: Arc<TableSchemas>, after: Option<Vec<String>>, size: usize) -> Self {
        Planner {
            table,
            size,
            next_after: after,
            done: false,
        }
    }

    /// The next chunk's bounds, `None` once the unbounded last chunk was returned.
    pub(crate) async fn next(&mut self, conn: &mut Conn) -> Result<Option<Bounds>, MySqlError> {
        if self.done {
            return Ok(None);
        }
        let after = self.next_after.take();
        if self.table.def.primary_key.is_empty() || self.size == 0 {
            self.done = true;
            return Ok(Some(Bounds { after, upto: None }));
        }
        let upto = boundary(conn, &self.table, after.as_deref(), self.size).await?;
        match upto {
            Some(b) => {
                self.next_after = Some(b.clone());
                Ok(Some(Bounds {
                    after,
                    upto: Some(b),
                }))
            }
            None => {
                self.done = true;
                Ok(Some(Bounds { after, upto: None }))
            }
        }
    }
}

/// The key of the `size`-th row after `after`, as SQL literals; `None` when fewer rows follow.
async fn boundary(
    conn: &mut Conn,
    t: &TableSchemas,
    after: Option<&[String]>,
    size: usize,
) -> Result<Option<Vec<String>>, MySqlError> {
    let keys: Vec<String> = t.def.primary_key.iter().map(|k| quote(k)).collect();
    let mut sql = format!(
        "SELECT {} FROM {}.{}",
        keys.join(", "),
        quote(&t.def.id.db),
        quote(&t.def.id.table)
    );
    if let Some(after) = after {
        sql.push_str(&format!(" WHERE {}", after_condition(&keys, after)));
    }
    sql.push_str(&format!(
        " ORDER BY {} LIMIT 1 OFFSET {}",
        keys.join(", "),
        size - 1
    ));
    let row: Option<Row> = conn.exec_first(sql, ()).await.map_err(MySqlError::query)?;
    Ok(row.map(|r| r.unwrap().iter().map(|v| v.as_sql(false)).collect()))
}

pub(crate) fn quote(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

/// `key > after`, lexicographic over composite keys: `(a > x) OR (a = x AND b > y) …`.
pub(crate) fn after_condition(keys: &[String], after: &[String]) -> String {
    let mut ors = Vec::new();
    for i in 0..keys.len().min(after.len()) {
        let mut ands: Vec<String> = (0..i)
            .map(|j| format!("{} = {}", keys[j], after[j]))
            .collect();
        ands.push(format!("{} > {}", keys[i], after[i]));
        ors.push(format!("({})", ands.join(" AND ")));
    }
    format!("({})", ors.join(" OR "))
}

/// `key <= upto`, lexicographic: `NOT (key > upto)`.
pub(crate) fn upto_condition(keys: &[String], upto: &[String]) -> String {
    format!("NOT {}", after_condition(keys, upto))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_key_conditions_are_lexicographic() {
        let keys = ["`a`".to_string(), "`b`".to_string()];
        let at = ["1".to_string(), "'x'".to_string()];
        assert_eq!(
            after_condition(&keys, &at),
            "((`a` > 1) OR (`a` = 1 AND `b` > 'x'))"
        );
        assert_eq!(
            upto_condition(&keys, &at),
            "NOT ((`a` > 1) OR (`a` = 1 AND `b` > 'x'))"
        );
    }
}
