//! The binlog event loop of one replication connection.
//!
//! Events are decoded in order and batched; a batch is handed to the runtime whenever it is full
//! or the next read would block, with the restart position that covers it (see
//! [`crate::stream`] for the restart contract). Transactions are tracked (GTID / BEGIN … XID /
//! COMMIT / standalone DDL) so that every event carries its restart position; DDL updates the
//! table registry; signal-table rows drive the incremental snapshot ([`crate::incremental`]).
//! The loop ends when the binlog end seen at start is reached (if asked), or with an error the
//! caller retries (dropped connection) or reports (everything else).

use std::sync::Arc;

use futures_util::{FutureExt, StreamExt};
use mysql_async::{BinlogStream, Conn};
use sluice_core::{ChangeEvent, Position, Value};

use crate::position::BinlogPosition;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::decode::decode_row;
use crate::dump;
use crate::envelope::{EventBuilder, SourceInfo};
use crate::error::MySqlError;
use crate::events::{self, kind, MariaGtid, QueryEvent, RowsEvent, RowsKind};
use crate::history::cmp_position;
use crate::incremental::{Incremental, Next, Signal};
use crate::preflight::ServerInfo;
use crate::registry::{Mapped, TableRegistry};
use crate::source::{MySqlSource, SourceMessage};
use crate::stream::{GtidSet, PendingGtid, Tracker};
use sluice_cdc::Heartbeat;
use sluice_cdc::{Marker, Op};

/// One replication connection's worth of streaming.
pub(crate) struct Run<'a> {
    pub(crate) src: &'a MySqlSource,
    pub(crate) info: &'a ServerInfo,
    pub(crate) registry: &'a mut TableRegistry,
    pub(crate) builder: &'a EventBuilder,
    /// Regular connection for catalog reads.
    pub(crate) conn: &'a mut Conn,
    pub(crate) tx: &'a mpsc::Sender<SourceMessage>,
    pub(crate) target: Option<(String, u64)>,
    /// Position covering everything handed over so far.
    pub(crate) last_sent: BinlogPosition,
    pub(crate) incremental: &'a mut Incremental,
}

/// The `source` block of an event read at the rows event starting at `pos` in `t`'s file.
fn source_info<'t>(
    t: &'t Tracker,
    pos: u64,
    row: i32,
    query: Option<&'t Arc<str>>,
) -> SourceInfo<'t> {
    SourceInfo {
        ts_sec: t.ts_sec,
        server_id: t.server_id,
        gtid: t.current_gtid.as_ref(),
        file: &t.file,
        pos,
        row,
        thread: t.thread,
        query,
        snapshot: Marker::False,
    }
}

/// The before and after images of one row change (captured columns).
type RowImages = (Option<Vec<Value>>, Option<Vec<Value>>);

/// Replay state while re-reading the transaction a restart position points into.
struct Resume {
    events: u64,
    rows: u64,
}

impl Run<'_> {
    pub(crate) async fn stream(&mut self, from: &BinlogPosition) -> Result<(), MySqlError> {
        let (mut stream, by_gtid) = dump::open(&self.src.cfg, self.info.mariadb, from).await?;
        self.src.health.set_connected(true);
        let gtids = match &from.gtids {
            Some(g) => GtidSet::parse(g, self.info.mariadb).map_err(MySqlError::Config)?,
            None => GtidSet::empty(self.info.mariadb),
        };
        let mut t = Tracker::new(&from.file, from.pos, gtids);
        t.server_id = from.server_id;
        // the incremental snapshot state as of the position resumed from (a chunk handed over
        // after it was lost with the connection is read again)
        *self.incremental = Incremental::from_offset(from.incremental.as_deref());
        if self.incremental.active() && self.src.cfg.signal_table.is_some() {
            self.open_chunk().await?;
        }
        t.incremental = self.incremental.to_offset();
        let mut resume = (from.event > 0 || from.row > 0).then_some(Resume {
            events: from.event,
            rows: from.row,
        });
        // by file/position the server first replays header events before the position asked
        // for; by GTID it filters itself and positions are the new server's
        let connect_pos = if by_gtid { 0 } else { from.pos };
        let mut first_rotate = by_gtid;
        let mut batch: Vec<ChangeEvent> = Vec::with_capacity(self.src.max_batch);
        let mut pending_pos: Option<BinlogPosition> = None;
        let mut query: Option<Arc<str>> = None;
        let mut row_buf = Vec::new();
        let cfg = &self.src.cfg;
        let mut heartbeat = Heartbeat::new(
            cfg.heartbeat_interval,
            &cfg.heartbeat_topic,
            &cfg.topic_prefix,
        );
        loop {
            let next = match stream.next().now_or_never() {
                Some(n) => n,
                None => {
                    self.flush(&mut batch, &mut pending_pos).await?;
                    let idle = self.src.cfg.heartbeat_period * 4;
                    match tokio::time::timeout(idle, stream.next()).await {
                        Ok(n) => n,
                        Err(_) => {
                            return Err(MySqlError::Stream(format!(
                                "no event or heartbeat for {} s",
                                idle.as_secs()
                            )))
                        }
                    }
                }
            };
            let ev = match next {
                Some(Ok(ev)) => ev,
                Some(Err(e)) => return Err(MySqlError::Stream(e.to_string())),
                None => return Err(MySqlError::Stream("server closed the binlog stream".into())),
            };
            if let (Some(hb), false) = (heartbeat.as_mut(), t.in_txn) {
                if let Some(beat) = hb.poll(|| Position::from_source(t.boundary_position())) {
                    pending_pos = None;
                    batch.push(beat);
                }
            }
            let h = ev.header();
            let etype = h.event_type_raw();
            let body = ev.data();
            let decode_err = |t: &Tracker, m: String| MySqlError::Decode {
                file: t.file.to_string(),
                pos: t.next_pos,
                message: m,
            };
            if etype == kind::ROTATE {
                let (file, pos) = events::rotate_target(&ev).map_err(|m| decode_err(&t, m))?;
                if file.as_str() != t.file.as_ref() || std::mem::take(&mut first_rotate) {
                    t.rotate(&file, pos);
                    if !t.in_txn {
                        pending_pos = Some(t.boundary_position());
                    }
                }
                if self.caught_up(&t) {
                    return self.finish(&mut batch, &mut pending_pos).await;
                }
                continue;
            }
            if h.flags_raw() & events::LOG_EVENT_ARTIFICIAL != 0
                || h.log_pos() == 0
                || etype == kind::HEARTBEAT
            {
                continue;
            }
            let end = u64::from(h.log_pos());
            let start = end.saturating_sub(u64::from(h.event_size()));
            if start < connect_pos
                && t.file.as_ref() == from.file.as_ref()
                && !t.in_txn
                && t.next_pos == connect_pos
            {
                continue; // header events the server replays before the requested position
            }
            t.next_pos = end;
            t.server_id = h.server_id();
            t.ts_sec = h.timestamp();
            let idx = t.txn_events;
            match etype {
                kind::FORMAT_DESCRIPTION
                | kind::MARIADB_BINLOG_CHECKPOINT
                | kind::MARIADB_START_ENCRYPTION => {}
                kind::MARIADB_GTID_LIST => {
                    for g in events::parse_gtid_list(body).map_err(|m| decode_err(&t, m))? {
                        if let GtidSet::MariaDb(m) = &t.gtids {
                            if m.get(&g.domain).is_none_or(|(_, s)| *s < g.seq) {
                                t.gtids.add_mariadb(g.domain, g.server, g.seq);
                            }
                        }
                    }
                }
                kind::MARIADB_GTID => {
                    let g = MariaGtid::parse(body, h.server_id()).map_err(|m| decode_err(&t, m))?;
                    t.begin(start);
                    t.begun = !g.standalone;
                    t.pending = Some(PendingGtid::MariaDb {
                        domain: g.domain,
                        server: g.server,
                        seq: g.seq,
                    });
                    t.current_gtid = Some(Arc::from(g.to_string().as_str()));
                    query = None;
                }
                kind::MYSQL_GTID => {
                    let (uuid, gno) =
                        events::parse_mysql_gtid(body).map_err(|m| decode_err(&t, m))?;
                    t.begin(start);
                    t.current_gtid = Some(Arc::from(format!("{uuid}:{gno}").as_str()));
                    t.pending = Some(PendingGtid::MySql { uuid, gno });
                    query = None;
                }
                kind::MYSQL_ANONYMOUS_GTID => {
                    t.begin(start);
                    query = None;
                }
                kind::QUERY | kind::MARIADB_QUERY_COMPRESSED => {
                    let q = QueryEvent::parse(etype, body).map_err(|m| decode_err(&t, m))?;
                    let text = q.query.trim();
                    if text.eq_ignore_ascii_case("BEGIN") {
                        if !t.in_txn {
                            t.begin(start);
                            query = None;
                        }
                        t.begun = true;
                        t.thread = Some(q.thread_id);
                    } else if text.eq_ignore_ascii_case("COMMIT")
                        || text.eq_ignore_ascii_case("ROLLBACK")
                    {
                        self.commit(&mut t, &mut pending_pos, &mut resume);
                        if self.caught_up(&t) {
                            return self.finish(&mut batch, &mut pending_pos).await;
                        }
                        continue;
                    } else {
                        if crate::ddl::is_ddl_candidate(text) && resume.is_none() {
                            let db = q.schema.clone();
                            let file = t.file.clone();
                            // in the client's character set: ENUM labels, names, comments
                            let statement = self.registry.statement_text(&q);
                            self.registry
                                .apply_ddl(&db, statement.trim(), self.conn, (&file, end))
                                .await?;
                        }
                        if !t.begun {
                            self.commit(&mut t, &mut pending_pos, &mut resume);
                            if self.caught_up(&t) {
                                return self.finish(&mut batch, &mut pending_pos).await;
                            }
                            continue;
                        }
                    }
                }
                kind::MARIADB_ANNOTATE_ROWS if self.src.cfg.include_query => {
                    query = Some(Arc::from(String::from_utf8_lossy(body).as_ref()));
                }
                kind::ROWS_QUERY if self.src.cfg.include_query => {
                    query = Some(Arc::from(
                        String::from_utf8_lossy(body.get(1..).unwrap_or_default()).as_ref(),
                    ));
                }
                kind::TABLE_MAP if !t.in_txn => t.begin(start),
                kind::XID => {
                    self.commit(&mut t, &mut pending_pos, &mut resume);
                    if self.caught_up(&t) {
                        return self.finish(&mut batch, &mut pending_pos).await;
                    }
                    continue;
                }
                kind::PARTIAL_UPDATE_ROWS => {
                    return Err(decode_err(&t, "partial JSON updates (binlog_row_value_options=PARTIAL_JSON) are not supported; set binlog_row_value_options=''".into()));
                }
                kind::TRANSACTION_PAYLOAD => {}
                et if events::rows_kind(et).is_some() => {
                    if !t.in_txn {
                        t.begin(start);
                    }
                    let rows = RowsEvent::parse(etype, body).map_err(|m| decode_err(&t, m))?;
                    let skip_rows = match &resume {
                        Some(r) if idx < r.events => None,
                        Some(r) if idx == r.events => Some(r.rows),
                        _ => Some(0),
                    };
                    if let Some(skip) = skip_rows {
                        let signals = self
                            .rows_event(
                                &stream,
                                &t,
                                &rows,
                                start,
                                idx,
                                skip,
                                query.as_ref(),
                                &mut batch,
                                &mut row_buf,
                            )
                            .await?;
                        for signal in signals {
                            self.on_signal(&mut t, &signal, start, idx, &mut batch)
                                .await?;
                        }
                        if batch.len() >= self.src.max_batch {
                            pending_pos = None;
                            self.flush(&mut batch, &mut pending_pos).await?;
                        }
                    }
                }
                _ => {}
            }
            if t.in_txn {
                t.txn_events += 1;
                if resume.as_ref().is_some_and(|r| t.txn_events > r.events) {
                    resume = None;
                }
            } else if self.caught_up(&t) {
                // header events (FORMAT_DESCRIPTION, GTID_LIST, …) can end the range too
                pending_pos = Some(t.boundary_position());
                return self.finish(&mut batch, &mut pending_pos).await;
            }
        }
    }

    /// Writes the next chunk's watermarks and selects it (see [`crate::incremental`]).
    async fn open_chunk(&mut self) -> Result<(), MySqlError> {
        let Some(signal) = self.src.cfg.signal_table.clone() else {
            return Ok(());
        };
        let registry = &*self.registry;
        let lookup = |name: &str| registry.captured_by_name(name);
        crate::incremental::open_chunk(
            self.incremental,
            self.conn,
            &signal,
            self.src.cfg.incremental_chunk_size,
            &lookup,
        )
        .await
    }

    /// Acts on a signal row read at rows event `idx` (starting at `start`).
    async fn on_signal(
        &mut self,
        t: &mut Tracker,
        signal: &Signal,
        start: u64,
        idx: u64,
        out: &mut Vec<ChangeEvent>,
    ) -> Result<(), MySqlError> {
        let captured: Vec<String> = self
            .registry
            .captured()
            .iter()
            .map(|t| t.def.id.to_string())
            .collect();
        match self.incremental.on_signal(signal, &captured) {
            Next::Nothing => {}
            Next::OpenChunk => self.open_chunk().await?,
            Next::Emit { table, rows } => {
                t.incremental = self.incremental.to_offset();
                if let Some(schemas) = self.registry.captured_by_name(&table) {
                    let position = Position::from_source(t.in_txn_position(idx + 1, 0));
                    let mut info = source_info(t, start, 0, None);
                    info.snapshot = Marker::Incremental;
                    info.thread = None;
                    for row in rows {
                        self.builder.row_change(
                            &schemas,
                            Op::Read,
                            None,
                            Some(row),
                            &info,
                            position.clone(),
                            out,
                        );
                    }
                }
                if self.incremental.active() {
                    self.open_chunk().await?;
                }
            }
        }
        t.incremental = self.incremental.to_offset();
        Ok(())
    }

    fn commit(
        &mut self,
        t: &mut Tracker,
        pending_pos: &mut Option<BinlogPosition>,
        resume: &mut Option<Resume>,
    ) {
        t.commit();
        *resume = None;
        *pending_pos = Some(t.boundary_position());
    }

    fn caught_up(&self, t: &Tracker) -> bool {
        self.target
            .as_ref()
            .is_some_and(|(f, p)| !t.in_txn && cmp_position(&t.file, t.next_pos, f, *p).is_ge())
    }

    async fn finish(
        &mut self,
        batch: &mut Vec<ChangeEvent>,
        pos: &mut Option<BinlogPosition>,
    ) -> Result<(), MySqlError> {
        self.flush(batch, pos).await?;
        info!(file = %self.last_sent.file, pos = self.last_sent.pos, "caught up with the binlog end seen at start");
        Ok(())
    }

    /// Hands the batch over with the position covering it (the boundary after the last
    /// transaction when known, else the last event's own restart point).
    async fn flush(
        &mut self,
        batch: &mut Vec<ChangeEvent>,
        pos: &mut Option<BinlogPosition>,
    ) -> Result<(), MySqlError> {
        let position = match (pos.take(), batch.last()) {
            (Some(p), _) => p,
            (None, Some(ev)) => match ev.position.source_as::<BinlogPosition>() {
                Some(b) => b.clone(),
                None => return Ok(()), // the stream only makes binlog positions
            },
            (None, None) => return Ok(()),
        };
        if batch.is_empty() && position == self.last_sent {
            return Ok(());
        }
        let events = std::mem::replace(batch, Vec::with_capacity(self.src.max_batch));
        self.last_sent = position.clone();
        self.tx
            .send(SourceMessage::Batch {
                events,
                position: Position::from_source(position),
            })
            .await
            .map_err(|_| MySqlError::ConsumerGone)
    }

    #[allow(clippy::too_many_arguments)]
    async fn rows_event(
        &mut self,
        stream: &BinlogStream,
        t: &Tracker,
        rows: &RowsEvent<'_>,
        start: u64,
        idx: u64,
        skip: u64,
        query: Option<&Arc<str>>,
        out: &mut Vec<ChangeEvent>,
        row_buf: &mut Vec<Value>,
    ) -> Result<Vec<Signal>, MySqlError> {
        let decode_err = |m: String| MySqlError::Decode {
            file: t.file.to_string(),
            pos: start,
            message: m,
        };
        let tme = stream.get_tme(rows.table_id).ok_or_else(|| {
            decode_err(format!("rows event for unknown table id {}", rows.table_id))
        })?;
        let (id, codecs) = match self
            .registry
            .map(tme, self.conn, (&t.file, t.txn_start))
            .await?
        {
            Mapped::Ignored => return Ok(Vec::new()),
            Mapped::Captured { id, codecs } => (id, codecs),
        };
        let Some(schemas) = self.registry.schemas(&id).cloned() else {
            return Ok(Vec::new());
        };
        let mut decoded: Vec<RowImages> = Vec::new();
        let mut buf: &[u8] = &rows.rows;
        while !buf.is_empty() {
            let mut image = |present: &[bool]| -> Result<Vec<Value>, MySqlError> {
                decode_row(&mut buf, &codecs, present, &schemas, row_buf).map_err(decode_err)?;
                Ok(std::mem::take(row_buf))
            };
            decoded.push(match rows.kind {
                RowsKind::Write => (None, Some(image(&rows.present)?)),
                RowsKind::Delete => (Some(image(&rows.present)?), None),
                RowsKind::Update => {
                    let before = image(&rows.present)?;
                    (Some(before), Some(image(&rows.present_after)?))
                }
            });
        }
        if self.registry.is_signal(&id) {
            // signal rows steer the incremental snapshot; they are not change events
            let col = |name: &str| {
                schemas.columns.iter().position(|c| {
                    schemas.def.columns[c.table_index]
                        .name
                        .eq_ignore_ascii_case(name)
                })
            };
            let (Some(ci), Some(ct), Some(cd)) = (col("id"), col("type"), col("data")) else {
                warn!(table = %id, "the signal table needs columns id, type, data; signal ignored");
                return Ok(Vec::new());
            };
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            return Ok(decoded
                .into_iter()
                .skip(skip as usize)
                .filter(|_| rows.kind == RowsKind::Write)
                .filter_map(|(_, after)| after)
                .map(|a| Signal {
                    id: text(&a[ci]),
                    kind: text(&a[ct]),
                    data: text(&a[cd]),
                })
                .collect());
        }
        if self.incremental.window_open() {
            let name = id.to_string();
            for (before, after) in &decoded {
                for image in [before, after].into_iter().flatten() {
                    let key: Vec<Value> = schemas
                        .key_fields
                        .iter()
                        .map(|&i| image[i].clone())
                        .collect();
                    self.incremental.on_change(&name, &key);
                }
            }
        }
        let n = decoded.len() as u64;
        let op = match rows.kind {
            RowsKind::Write => Op::Create,
            RowsKind::Update => Op::Update,
            RowsKind::Delete => Op::Delete,
        };
        for (r, (before, after)) in decoded.into_iter().enumerate().skip(skip as usize) {
            let r = r as u64;
            let position = if r + 1 < n {
                t.in_txn_position(idx, r + 1)
            } else {
                t.in_txn_position(idx + 1, 0)
            };
            let info = source_info(t, start, r as i32, query);
            self.builder.row_change(
                &schemas,
                op,
                before,
                after,
                &info,
                Position::from_source(position),
                out,
            );
        }
        Ok(Vec::new())
    }
}
