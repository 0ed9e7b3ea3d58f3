//! The MySQL/MariaDB connector: preflight, where to start, snapshot, then streaming with
//! reconnects. The binlog event loop itself is in [`crate::streaming`].
//!
//! Start: a stored offset resumes exactly (see [`crate::stream`] for the restart contract); an
//! offset inside an unfinished snapshot resumes that snapshot ([`crate::snapshot`]). Without an
//! offset, `snapshot.mode` decides: `initial`/`initial_only`/`when_needed` snapshot first,
//! `no_data` starts at the server's current binlog end, `never` at the oldest binlog. The GTID
//! state is read *before* the current position, so it can only lag (a GTID-based resume would
//! then re-deliver, never skip).
//!
//! Streaming: the runtime commits a batch's position only after the batch is durable
//! downstream. A dropped connection ends the run with a retryable error; the CDC kit's driver
//! ([`sluice_cdc::driver`]) starts the source again from the position after the last batch
//! handed over, so nothing is lost and nothing already handed over is produced again.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use sluice_core::Position;

use crate::position::BinlogPosition;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::config::{MySqlConfig, SnapshotMode};
use crate::envelope::EventBuilder;
use crate::error::MySqlError;
use crate::history::{cmp_position, SchemaHistory};
use crate::incremental::Incremental;
use crate::preflight::{self, ServerInfo};
use crate::registry::{Baseline, TableRegistry};
use crate::snapshot;
use crate::streaming::Run;
use sluice_core::{SchemaHistoryStore, SourceHealth};

pub use sluice_core::SourceMessage;

/// Where a run starts.
#[derive(Debug, Clone)]
pub enum Start {
    /// From a stored offset.
    Resume(BinlogPosition),
    /// Without offset and without snapshot (`no_data`, `never`).
    Fresh(BinlogPosition),
    /// With an initial snapshot; resuming an interrupted one when its position is given.
    Snapshot(Option<BinlogPosition>),
}

/// A configured MySQL source.
pub struct MySqlSource {
    pub(crate) cfg: MySqlConfig,
    offset: Option<serde_json::Value>,
    history: std::sync::Mutex<Option<Box<dyn SchemaHistoryStore>>>,
    exit_when_caught_up: bool,
    pub(crate) max_batch: usize,
    pub(crate) health: Arc<SourceHealth>,
}

impl MySqlSource {
    /// `history` is where the schema history lives (a file, a Kafka topic).
    pub fn new(
        cfg: MySqlConfig,
        offset: Option<serde_json::Value>,
        history: Box<dyn SchemaHistoryStore>,
    ) -> Self {
        MySqlSource {
            cfg,
            offset,
            history: std::sync::Mutex::new(Some(history)),
            exit_when_caught_up: false,
            max_batch: 2048,
            health: Arc::default(),
        }
    }

    /// Stop once everything up to the binlog end seen at start has been handed over.
    pub fn exit_when_caught_up(mut self, yes: bool) -> Self {
        self.exit_when_caught_up = yes;
        self
    }

    /// Where the source reports its connection state (for `/health` and `/metrics`).
    pub fn health(mut self, health: Arc<SourceHealth>) -> Self {
        self.health = health;
        self
    }

    pub fn max_batch(mut self, n: usize) -> Self {
        self.max_batch = n.max(1);
        self
    }

    /// Checks the server and decides where to start, without streaming.
    pub async fn prepare(&self) -> Result<(Conn, ServerInfo, Start), MySqlError> {
        let mut conn = preflight::connect(&self.cfg).await?;
        let info = preflight::check(&mut conn, &self.cfg).await?;
        let snapshot_modes = matches!(
            self.cfg.snapshot_mode,
            SnapshotMode::Initial | SnapshotMode::InitialOnly | SnapshotMode::WhenNeeded
        );
        let start = match &self.offset {
            Some(o) => {
                let p = BinlogPosition::from_offset_json(o)
                    .map_err(|e| MySqlError::Config(format!("stored offset is unusable: {e}")))?;
                let files = preflight::binlog_files(&mut conn).await?;
                let moved = p.server_id != 0 && p.server_id != info.server_id;
                let has_gtids = p.gtids.as_deref().is_some_and(|g| !g.trim().is_empty());
                if moved && !has_gtids {
                    return Err(MySqlError::ServerChanged {
                        addr: self.cfg.addr(),
                        was: p.server_id,
                        now: info.server_id,
                    });
                }
                if moved && !p.snapshot {
                    // another server (failover): its file names mean nothing for this offset;
                    // the stream resumes from the GTID set
                    warn!(
                        was = p.server_id,
                        now = info.server_id,
                        "different server behind database.hostname: resuming by GTID set"
                    );
                    return Ok((conn, info, Start::Resume(p)));
                }
                if p.snapshot {
                    if files.iter().any(|f| f.as_str() == p.file.as_ref()) {
                        warn!("the previous snapshot did not complete; resuming it");
                        Start::Snapshot(Some(p))
                    } else {
                        warn!(file = %p.file, "the previous snapshot did not complete and its binlog position was purged; starting it over");
                        Start::Snapshot(None)
                    }
                } else if files.iter().any(|f| f.as_str() == p.file.as_ref()) {
                    Start::Resume(p)
                } else if self.cfg.snapshot_mode == SnapshotMode::WhenNeeded {
                    warn!(file = %p.file, "the stored binlog position was purged; snapshot.mode=when_needed takes a new snapshot");
                    Start::Snapshot(None)
                } else {
                    return Err(MySqlError::PositionPurged {
                        file: p.file.to_string(),
                        pos: p.pos,
                    });
                }
            }
            None if snapshot_modes => Start::Snapshot(None),
            None => Start::Fresh(self.initial_position(&mut conn, &info).await?),
        };
        Ok((conn, info, start))
    }

    async fn initial_position(
        &self,
        conn: &mut Conn,
        info: &ServerInfo,
    ) -> Result<BinlogPosition, MySqlError> {
        let gtid_var = if info.mariadb {
            "@@gtid_binlog_pos"
        } else {
            "@@gtid_executed"
        };
        let gtids: Option<String> = conn
            .query_first(format!("SELECT {gtid_var}"))
            .await
            .unwrap_or(None);
        let gtids = gtids
            .filter(|g| !g.trim().is_empty())
            .map(|g| Arc::from(g.replace('\n', "").as_str()));
        let (file, pos) = match self.cfg.snapshot_mode {
            SnapshotMode::Never => {
                let files = preflight::binlog_files(conn).await?;
                let first = files.into_iter().next().ok_or_else(|| {
                    MySqlError::Preflight("the server lists no binary logs".into())
                })?;
                return Ok(BinlogPosition {
                    file: first.into(),
                    pos: 4,
                    server_id: info.server_id,
                    ..Default::default()
                });
            }
            _ => preflight::current_position(conn).await?,
        };
        Ok(BinlogPosition {
            file: file.into(),
            pos,
            server_id: info.server_id,
            gtids,
            ..Default::default()
        })
    }

    /// Snapshots if needed, then streams until caught up (if asked), the consumer goes away,
    /// or a fatal error.
    pub async fn run(self, tx: mpsc::Sender<SourceMessage>) -> Result<(), MySqlError> {
        let (mut conn, info, start) = self.prepare().await?;
        self.health.set_connected(true);
        if self.cfg.include_query && info.mariadb {
            warn!(
                "include.query=true has no effect on MariaDB yet: the server sends ANNOTATE_ROWS only when the dump request \
                 asks for them, which the replication client sluice uses cannot do; source.query stays null"
            );
        } else if self.cfg.include_query {
            info!("include.query: source.query carries the statement when the server logs it (binlog_rows_query_log_events=ON)");
        }
        let target = preflight::current_position(&mut conn).await?;
        let store = self
            .history
            .lock()
            .ok()
            .and_then(|mut h| h.take())
            .ok_or_else(|| MySqlError::History("the source was already run once".into()))?;
        let mut history = SchemaHistory::open(store, &self.cfg.topic_prefix)?;
        history.set_server_id(info.server_id);
        let (snapshot, start) = match start {
            Start::Snapshot(resume) => {
                let readers = snapshot::begin(&self.cfg, &info).await?;
                // resuming: read from new transactions, but stream from the first position
                let at = resume.unwrap_or_else(|| readers.at.clone());
                (Some(readers), at)
            }
            Start::Resume(p) | Start::Fresh(p) => (None, p),
        };
        let mut registry = TableRegistry::open(
            &self.cfg,
            info.mariadb,
            history,
            &mut conn,
            &start.file,
            start.pos,
            match (&snapshot, &self.offset) {
                (Some(_), _) => Baseline::Rebuild,
                (None, Some(_)) => Baseline::Resume,
                (None, None) => Baseline::Fresh,
            },
        )
        .await?;
        info!(
            connector = %self.cfg.name, server = %info.version, file = %start.file, pos = start.pos,
            event = start.event, row = start.row, snapshot = snapshot.is_some(), "starting"
        );
        let builder = EventBuilder::new(
            Arc::clone(registry.source_schema()),
            self.cfg.connector,
            &self.cfg.topic_prefix,
            self.cfg.tombstones_on_delete,
        );
        let mut start = start;
        let snapshotted = snapshot.is_some();
        if let Some(readers) = snapshot {
            snapshot::read_all(
                readers,
                &mut conn,
                registry.captured(),
                &builder,
                &tx,
                self.max_batch,
                start.clone(),
                &self.health,
            )
            .await?;
            start.snapshot = false;
            start.snapshot_progress = None;
            if self.cfg.snapshot_mode == SnapshotMode::InitialOnly {
                info!("snapshot.mode=initial_only: not streaming");
                return Ok(());
            }
        }
        let target = self.exit_when_caught_up.then_some(target);
        if self.offset.is_none() && !snapshotted {
            // Record where capture starts, so a restart before any change resumes here instead
            // of at a later "current" position (which would skip the changes in between).
            tx.send(SourceMessage::Batch {
                events: Vec::new(),
                position: Position::from_source(start.clone()),
            })
            .await
            .map_err(|_| MySqlError::ConsumerGone)?;
        }
        if let Some((f, p)) = &target {
            if start.event == 0 && cmp_position(&start.file, start.pos, f, *p).is_ge() {
                return Ok(());
            }
        }
        let mut incremental = Incremental::default();
        let mut run = Run {
            src: &self,
            info: &info,
            registry: &mut registry,
            builder: &builder,
            conn: &mut conn,
            tx: &tx,
            target,
            last_sent: start.clone(),
            incremental: &mut incremental,
        };
        let result = run.stream(&start).await;
        if result.is_err() {
            self.health.set_connected(false);
        }
        result
    }
}
