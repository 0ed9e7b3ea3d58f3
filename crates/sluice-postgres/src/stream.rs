//! The replication loop: pgoutput messages → events, in commit order, with restart positions.
//!
//! Positions. After a transaction commits, the position is `lsn` = the commit's end LSN: a
//! restart there gets only later transactions. Inside a transaction (a batch may end there), the
//! position keeps `lsn` at the end of the previous transaction, with `lsn_commit` = this
//! transaction's commit LSN and `event` = how many of its changes were handed over; the server
//! resends the whole transaction after a restart and the first `event` changes are skipped.
//!
//! Confirmation. The slot is told an LSN is flushed only when the offset store committed a
//! position with that `lsn` ([`crate::confirm`]), so WAL is never freed for undelivered events.
//!
//! `source.sequence`. Debezium writes `["<last commit>", "<lsn>"]`, the first element being the
//! end LSN of the transaction the stream committed before this event's (pgoutput's commit
//! `end_lsn`, equal to where the next transaction's WAL starts), `null` until the stream
//! committed one after a snapshot or a new slot. Observed from Debezium 3.6.1: the value
//! survives a restart (Debezium's stream re-reads the last transaction from the slot and takes
//! its commit), so sluice keeps it in the position (`lsn_last_commit`): a change's position has
//! the previous transaction's end, a commit's position its own.
//!
//! Idle. With `heartbeat.interval.ms`, a heartbeat record is emitted between transactions on a
//! server keepalive, carrying the keepalive's WAL position: once delivered, the offset (and the
//! slot) move on although no captured table changed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use pgwire_replication::{Lsn, ReplicationClient, ReplicationEvent};
use sluice_core::{ChangeEvent, Position, SourceHealth, SourceMessage};

use crate::position::PgPosition;
use sqlx::postgres::PgConnection;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::catalog::{self, Table, Types};
use crate::config::PgConfig;
use crate::confirm::Confirmed;
use crate::envelope::{Cell, EventBuilder, SourceInfo, TableSchemas};
use crate::error::PgError;
use crate::incremental::Signals;
use crate::infinity::Origin;
use crate::pgoutput::{self, Message, RelColumn};
use crate::types::Column;
use sluice_cdc::{Heartbeat, Marker, Op};

/// µs between 1970-01-01 and PostgreSQL's epoch 2000-01-01.
const PG_EPOCH_US: i64 = 946_684_800_000_000;

/// Prefix of the WAL message `--exit-when-caught-up` writes and waits for.
pub const CAUGHT_UP: &str = "sluice.caught-up";

/// How long a partly filled batch waits for more transactions.
const LINGER: Duration = Duration::from_millis(5);

/// What the loop needs besides the stream itself.
pub struct Streamer<'a> {
    pub cfg: &'a PgConfig,
    pub builder: &'a EventBuilder,
    pub sql: PgConnection,
    pub types: Types,
    pub confirmed: Confirmed,
    pub max_batch: usize,
    /// Stop once the stream reached this LSN, between transactions (`--exit-when-caught-up`:
    /// the LSN of a [`CAUGHT_UP`] message written at the start).
    pub exit_at: Option<u64>,
    pub health: Arc<SourceHealth>,
    /// Incremental snapshot state (set from the start position by [`Streamer::run`]).
    pub signals: Signals,
}

struct Txn {
    final_lsn: u64,
    xid: u32,
    commit_us: i64,
    changes: u64,
    skip: u64,
}

impl Streamer<'_> {
    /// Streams from `start` until the stream or the pipeline ends.
    pub async fn run(
        mut self,
        mut client: ReplicationClient,
        start: PgPosition,
        tx: &mpsc::Sender<SourceMessage>,
    ) -> Result<(), PgError> {
        let mut relations: HashMap<u32, Option<Arc<TableSchemas>>> = HashMap::new();
        let mut complete = PgPosition {
            snapshot: false,
            snapshot_progress: None,
            event: 0,
            ..start.clone()
        };
        let mut txn: Option<Txn> = None;
        let mut last_commit: Option<u64> = start.last_commit;
        let mut batch: Vec<ChangeEvent> = Vec::new();
        let mut batch_position: Option<Position> = None;
        let mut sent_mid_txn = false;
        let mut reported = 0u64;
        let mut heartbeat = Heartbeat::new(
            self.cfg.heartbeat_interval,
            &self.cfg.heartbeat_topic,
            &self.cfg.topic_prefix,
        );
        let mut last_seen = 0u64;
        let mut idle_advanced = std::time::Instant::now();
        info!(connector = %self.cfg.name, lsn = %Lsn(start.lsn), "streaming from the replication slot");
        self.signals = Signals::from_offset(start.incremental.as_deref());
        if self.signals.inc.active() {
            if self.cfg.signal_table.is_some() {
                // the chunk handed over before the stop is read again
                self.open_chunk().await?;
            } else {
                warn!(connector = %self.cfg.name, "an incremental snapshot is in the offsets but signal.data.collection is not set; it waits");
            }
        }
        loop {
            let durable = self.confirmed.get();
            if durable > reported {
                client.update_applied_lsn(Lsn(durable));
                reported = durable;
            }
            if let Some(target) = self.exit_at {
                if txn.is_none() && last_seen >= target {
                    if let Some(p) = batch_position.take() {
                        send(tx, std::mem::take(&mut batch), p).await?;
                    }
                    info!(connector = %self.cfg.name, "caught up; stopping");
                    return Ok(());
                }
            }
            let wait = if !batch.is_empty() && txn.is_none() {
                LINGER
            } else {
                Duration::from_millis(500)
            };
            let next = match tokio::time::timeout(wait, client.recv()).await {
                Ok(r) => r.map_err(|e| PgError::Replication(e.to_string()))?,
                Err(_) => {
                    if txn.is_none() {
                        if let Some(p) = batch_position.take() {
                            send(tx, std::mem::take(&mut batch), p).await?;
                        }
                    }
                    continue;
                }
            };
            let Some(event) = next else {
                if let Some(p) = batch_position.take() {
                    send(tx, std::mem::take(&mut batch), p).await?;
                }
                return Ok(());
            };
            match event {
                ReplicationEvent::Begin {
                    final_lsn,
                    xid,
                    commit_time_micros,
                } => {
                    let skip = if final_lsn.0 == start.lsn_commit && start.event > 0 {
                        start.event
                    } else {
                        0
                    };
                    txn = Some(Txn {
                        final_lsn: final_lsn.0,
                        xid,
                        commit_us: commit_time_micros + PG_EPOCH_US,
                        changes: 0,
                        skip,
                    });
                }
                ReplicationEvent::XLogData {
                    wal_start, data, ..
                } => {
                    let msg = pgoutput::decode(&data).map_err(PgError::Replication)?;
                    if let Message::Relation {
                        id,
                        namespace,
                        name,
                        replica_identity,
                        columns,
                    } = msg
                    {
                        let t = self
                            .relation(id, &namespace, &name, replica_identity, &columns)
                            .await?;
                        relations.insert(id, t);
                        continue;
                    }
                    let Some(t) = txn.as_mut() else {
                        warn!("change outside a transaction ignored");
                        continue;
                    };
                    if matches!(msg, Message::Other(_)) {
                        continue;
                    }
                    t.changes += 1;
                    if t.changes <= t.skip {
                        continue; // delivered before the restart
                    }
                    let position = PgPosition {
                        lsn: complete.lsn,
                        lsn_proc: wal_start.0,
                        lsn_commit: t.final_lsn,
                        event: t.changes,
                        last_commit,
                        tx_id: Some(u64::from(t.xid)),
                        ts_usec: t.commit_us,
                        snapshot: false,
                        snapshot_progress: None,
                        incremental: self.signals.offset.clone(),
                    };
                    let info = SourceInfo {
                        ts_us: t.commit_us,
                        snapshot: Marker::False,
                        tx_id: Some(u64::from(t.xid)),
                        lsn: wal_start.0,
                        last_commit,
                    };
                    let signal = match &msg {
                        Message::Insert { rel, new } => self.signals.signal(*rel, new),
                        _ => None,
                    };
                    let position = match signal {
                        Some(signal) => {
                            // signal and watermark rows steer the incremental snapshot; they
                            // are not change events
                            let after =
                                self.on_signal(&signal, position, &info, &mut batch).await?;
                            Position::from_source(after)
                        }
                        None => {
                            let position = Position::from_source(position);
                            self.change(msg, &relations, &info, &position, &mut batch);
                            position
                        }
                    };
                    batch_position = Some(position);
                    if batch.len() >= self.max_batch {
                        if let Some(p) = batch_position.take() {
                            send(tx, std::mem::take(&mut batch), p).await?;
                            sent_mid_txn = true;
                        }
                    }
                }
                ReplicationEvent::Commit { lsn, end_lsn, .. } => {
                    let t = txn.take();
                    complete = PgPosition {
                        lsn: end_lsn.0,
                        lsn_proc: end_lsn.0,
                        lsn_commit: lsn.0,
                        event: 0,
                        last_commit: Some(end_lsn.0),
                        tx_id: t.as_ref().map(|t| u64::from(t.xid)),
                        ts_usec: t.as_ref().map_or(complete.ts_usec, |t| t.commit_us),
                        snapshot: false,
                        snapshot_progress: None,
                        incremental: self.signals.offset.clone(),
                    };
                    last_commit = Some(end_lsn.0);
                    last_seen = last_seen.max(end_lsn.0);
                    if !batch.is_empty() || sent_mid_txn {
                        batch_position = Some(Position::from_source(complete.clone()));
                    }
                    sent_mid_txn = false;
                    if batch.len() >= self.max_batch {
                        if let Some(p) = batch_position.take() {
                            send(tx, std::mem::take(&mut batch), p).await?;
                        }
                    }
                }
                ReplicationEvent::KeepAlive {
                    wal_end,
                    reply_requested,
                    ..
                } => {
                    last_seen = last_seen.max(wal_end.0);
                    if txn.is_some() || !batch.is_empty() || batch_position.is_some() {
                        continue;
                    }
                    if let Some(hb) = heartbeat.as_mut() {
                        if hb.due() && wal_end.0 > complete.lsn {
                            complete.lsn = wal_end.0;
                            complete.lsn_proc = wal_end.0;
                            let p = Position::from_source(complete.clone());
                            let ev = hb.emit(p.clone());
                            send(tx, vec![ev], p).await?;
                            if let Some(q) = &self.cfg.heartbeat_action_query {
                                if let Err(e) = sqlx::raw_sql(q).execute(&mut self.sql).await {
                                    warn!(error = %e, "heartbeat.action.query failed");
                                }
                            }
                            continue;
                        }
                    }
                    // Idle: no transaction open, nothing handed over since the last one, so
                    // everything the server sent up to wal_end is accounted for. The position
                    // moves there through the pipeline (an empty batch: committed once the
                    // batches before it are durable), and the slot's flush LSN follows. Without
                    // this, a server shutting down waits for ever: its walsender exits only once
                    // the flush LSN reaches the last record it decoded (a shutdown checkpoint,
                    // an aborted or unpublished transaction), as PostgreSQL's own apply worker
                    // and pg_recvlogical report it. At most once a second unless asked.
                    if wal_end.0 > complete.lsn
                        && (reply_requested || idle_advanced.elapsed() >= Duration::from_secs(1))
                    {
                        complete.lsn = wal_end.0;
                        complete.lsn_proc = wal_end.0;
                        idle_advanced = std::time::Instant::now();
                        send(tx, Vec::new(), Position::from_source(complete.clone())).await?;
                    }
                }
                ReplicationEvent::Message { prefix, lsn, .. } => {
                    if prefix == CAUGHT_UP {
                        last_seen = last_seen.max(lsn.0);
                    }
                }
                ReplicationEvent::StoppedAt { .. } => return Ok(()),
            }
        }
    }

    /// The schemas of a relation the server announced (`None`: not captured).
    async fn relation(
        &mut self,
        id: u32,
        namespace: &str,
        name: &str,
        replica_identity: u8,
        columns: &[RelColumn],
    ) -> Result<Option<Arc<TableSchemas>>, PgError> {
        if self.cfg.is_signal(namespace, name) {
            self.signals.signal_relation(id, columns);
            return Ok(None);
        }
        if !self.cfg.filters.table(namespace, name) {
            return Ok(None);
        }
        if columns.iter().any(|c| self.types.get(c.type_oid).is_none()) {
            self.types = Types::load(&mut self.sql).await?; // a type created after the start
        }
        let current = catalog::table(&mut self.sql, id, &self.types).await.ok();
        let mut cols = Vec::new();
        for c in columns {
            let known = current
                .as_ref()
                .and_then(|t| t.columns.iter().find(|k| k.name == c.name));
            let ty = self.types.get(c.type_oid).cloned().ok_or_else(|| {
                PgError::Fatal(format!(
                    "type OID {} of {namespace}.{name}.{} is unknown",
                    c.type_oid, c.name
                ))
            })?;
            cols.push(Column {
                name: c.name.clone(),
                ty,
                typmod: c.typmod,
                not_null: known.is_some_and(|k| k.not_null),
                default: known.and_then(|k| k.default.clone()),
            });
        }
        let primary_key = match current.as_ref().map(|t| t.primary_key.clone()) {
            Some(pk) if !pk.is_empty() => pk,
            _ if replica_identity == b'i' => columns
                .iter()
                .filter(|c| c.key)
                .map(|c| c.name.clone())
                .collect(),
            _ => Vec::new(),
        };
        let table = Table {
            oid: id,
            schema: namespace.to_string(),
            name: name.to_string(),
            columns: cols,
            primary_key,
            replica_full: replica_identity == b'f',
        };
        debug!(table = %table.full_name(), "relation");
        let t = Arc::new(TableSchemas::build(
            table,
            self.cfg,
            &self.builder.source_schema,
        )?);
        self.signals.relation_changed(&t);
        Ok(Some(t))
    }

    fn change(
        &mut self,
        msg: Message,
        relations: &HashMap<u32, Option<Arc<TableSchemas>>>,
        info: &SourceInfo,
        position: &Position,
        out: &mut Vec<ChangeEvent>,
    ) {
        let cfg = self.cfg;
        let ph = &self.builder.placeholder;
        let table = |rel: u32| relations.get(&rel).and_then(|t| t.as_ref());
        match msg {
            Message::Insert { rel, new } => {
                if let Some(t) = table(rel).filter(|_| !cfg.skip_creates) {
                    let after = t.row(new, ph, Origin::Stream);
                    self.signals.evict(t, &after);
                    self.builder
                        .row_change(t, Op::Create, None, Some(after), info, position, out);
                }
            }
            Message::Update { rel, old, mut new } => {
                if let Some(t) = table(rel).filter(|_| !cfg.skip_updates) {
                    if let Some((b'O', old_cells)) = &old {
                        // REPLICA IDENTITY FULL: an unchanged TOASTed value is in the old row
                        for (n, o) in new.iter_mut().zip(old_cells) {
                            if *n == Cell::Unchanged {
                                *n = o.clone();
                            }
                        }
                    }
                    let before = old.map(|(_, cells)| t.row(cells, ph, Origin::Stream));
                    let after = t.row(new, ph, Origin::Stream);
                    for image in before.iter().chain([&after]) {
                        self.signals.evict(t, image);
                    }
                    self.builder.row_change(
                        t,
                        Op::Update,
                        before,
                        Some(after),
                        info,
                        position,
                        out,
                    );
                }
            }
            Message::Delete { rel, old } => {
                if let Some(t) = table(rel).filter(|_| !cfg.skip_deletes) {
                    let before = t.row(old.1, ph, Origin::Stream);
                    self.signals.evict(t, &before);
                    self.builder
                        .row_change(t, Op::Delete, Some(before), None, info, position, out);
                }
            }
            Message::Truncate { rels } => {
                for rel in rels {
                    if let Some(t) = table(rel) {
                        self.signals.inc.on_truncate(&t.table.full_name());
                        if !cfg.skip_truncate {
                            out.push(self.builder.truncate(t, info, position));
                        }
                    }
                }
            }
            Message::Relation { .. } | Message::Other(_) => {}
        }
    }
}

/// Hands a batch and its restart position to the pipeline.
pub(crate) async fn send(
    tx: &mpsc::Sender<SourceMessage>,
    events: Vec<ChangeEvent>,
    position: Position,
) -> Result<(), PgError> {
    tx.send(SourceMessage::Batch { events, position })
        .await
        .map_err(|_| PgError::Fatal("the pipeline stopped".into()))
}
