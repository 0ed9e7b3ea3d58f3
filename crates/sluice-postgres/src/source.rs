//! The PostgreSQL source: connects, prepares the publication and the slot, snapshots when the
//! snapshot mode says so, then streams.
//!
//! Start-up decision, given the stored offset and whether the slot exists:
//! * no offset (or a snapshot in progress) and a mode that snapshots → create the slot with an
//!   exported snapshot (or, when resuming, reuse the slot), snapshot, stream from the slot's
//!   consistent point;
//! * an offset → stream from its `lsn` (the slot never went past it, see [`crate::confirm`]);
//! * the slot is gone but an offset exists → changes since the offset may be lost: with
//!   `when_needed` a new snapshot is taken, otherwise a new slot is created and a warning says so.

use std::sync::Arc;
use std::time::Duration;

use pgwire_replication::{Lsn, ReplicationClient, ReplicationConfig};
use sluice_core::{SourceError, SourceHealth, SourceMessage};

use crate::position::PgPosition;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Row};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::catalog::{self, quote, Types};
use crate::config::{PgConfig, PublicationMode, SnapshotMode};
use crate::confirm::Confirmed;
use crate::envelope::{EventBuilder, TableSchemas};
use crate::error::{sql, PgError};
use crate::snapshot::{self, Plan};
use crate::stream::Streamer;

/// Session settings that fix the text forms [`crate::types`] parses.
const SESSION: [(&str, &str); 4] = [
    ("TimeZone", "UTC"),
    ("DateStyle", "ISO"),
    ("IntervalStyle", "iso_8601"),
    ("extra_float_digits", "3"),
];

/// A PostgreSQL connector's source task.
pub struct PostgresSource {
    cfg: PgConfig,
    offset: Option<PgPosition>,
    confirmed: Confirmed,
    max_batch: usize,
    exit_when_caught_up: bool,
    health: Arc<SourceHealth>,
}

impl PostgresSource {
    /// `offset`: the stored offset JSON, if any. `confirmed`: what the offset store has
    /// durably committed (shared with a [`crate::ConfirmingStore`]).
    pub fn new(
        cfg: PgConfig,
        offset: Option<serde_json::Value>,
        confirmed: Confirmed,
    ) -> Result<PostgresSource, PgError> {
        let offset = offset
            .map(|o| PgPosition::from_offset_json(&o))
            .transpose()
            .map_err(|e| PgError::Config(format!("stored offset: {e}")))?;
        Ok(PostgresSource {
            cfg,
            offset,
            confirmed,
            max_batch: 1024,
            exit_when_caught_up: false,
            health: Arc::default(),
        })
    }

    pub fn max_batch(mut self, n: usize) -> Self {
        self.max_batch = n.max(1);
        self
    }

    pub fn exit_when_caught_up(mut self, yes: bool) -> Self {
        self.exit_when_caught_up = yes;
        self
    }

    pub fn health(mut self, h: Arc<SourceHealth>) -> Self {
        self.health = h;
        self
    }

    pub async fn run(self, tx: mpsc::Sender<SourceMessage>) -> Result<(), SourceError> {
        self.run_inner(tx).await.map_err(SourceError::from)
    }

    async fn connect(&self) -> Result<PgConnection, PgError> {
        connect(&self.cfg).await
    }

    async fn run_inner(self, tx: mpsc::Sender<SourceMessage>) -> Result<(), PgError> {
        let cfg = &self.cfg;
        let mut conn = self.connect().await?;
        self.health.set_connected(true);
        let level: String = sqlx::query_scalar("SELECT current_setting('wal_level')")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| sql("reading wal_level", e))?;
        if level != "logical" {
            return Err(PgError::Fatal(format!(
                "wal_level is {level}; logical replication needs wal_level=logical (postgresql.conf, then restart the server)"
            )));
        }
        let types = Types::load(&mut conn).await?;
        if let Some(name) = cfg.signal_table_sql() {
            let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
                .bind(&name)
                .fetch_one(&mut conn)
                .await
                .map_err(|e| sql("looking up the signal table", e))?;
            if exists.is_none() {
                return Err(PgError::Config(format!(
                    "signal.data.collection {name} does not exist; create it: CREATE TABLE {name} (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data text)"
                )));
            }
        }
        let tables = catalog::captured_tables(&mut conn, cfg, &types).await?;
        self.publication(&mut conn, &tables).await?;
        let slot = sqlx::query(
            "SELECT plugin::text, confirmed_flush_lsn::text FROM pg_replication_slots \
             WHERE slot_name = $1 AND database = current_database()",
        )
        .bind(&cfg.slot_name)
        .fetch_optional(&mut conn)
        .await
        .map_err(|e| sql("reading pg_replication_slots", e))?;
        let slot: Option<(String, Option<String>)> = slot.map(|r| (r.get(0), r.get(1)));
        if let Some((plugin, _)) = &slot {
            if plugin != "pgoutput" {
                return Err(PgError::Fatal(format!(
                    "slot {} uses plugin {plugin}, not pgoutput; drop it or set slot.name to another slot",
                    cfg.slot_name
                )));
            }
        }
        let in_snapshot = self.offset.as_ref().is_some_and(|o| o.snapshot);
        let snapshot = match cfg.snapshot_mode {
            SnapshotMode::Always => true,
            SnapshotMode::NoData => false,
            SnapshotMode::Initial | SnapshotMode::InitialOnly => {
                self.offset.is_none() || in_snapshot
            }
            SnapshotMode::WhenNeeded => self.offset.is_none() || in_snapshot || slot.is_none(),
        };
        if slot.is_none() && self.offset.is_some() && !snapshot {
            warn!(connector = %cfg.name, slot = %cfg.slot_name, "the replication slot is gone: changes between the stored offset and now cannot be read; creating a new slot (snapshot.mode=when_needed would snapshot instead)");
        }
        // where streaming starts: the offset, else the slot's confirmed point (after creation)
        let start_lsn = match (&self.offset, snapshot) {
            (Some(o), false) => o.lsn,
            (Some(o), true) if in_snapshot && slot.is_some() => o.lsn,
            _ => 0,
        };
        let mut client = ReplicationClient::connect_gated(self.replication_config(start_lsn))
            .await
            .map_err(|e| crate::tls::connect_error(cfg.target(), &cfg.tls, e.to_string()))?;
        let mut exported = None;
        let mut start = self.offset.clone().filter(|_| !snapshot || in_snapshot);
        if slot.is_none() {
            let mode = if snapshot { "export" } else { "nothing" };
            let rows = client
                .simple_query(&format!(
                    "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput (SNAPSHOT '{mode}')",
                    quote(&cfg.slot_name)
                ))
                .await
                .map_err(|e| PgError::Fatal(format!("creating replication slot {}: {e} (the user needs the REPLICATION attribute)", cfg.slot_name)))?;
            let cell = |i: usize| {
                rows.first()
                    .and_then(|r| r.get(i))
                    .and_then(|c| c.as_ref())
                    .map(|b| String::from_utf8_lossy(b).into_owned())
            };
            let point = cell(1).and_then(|l| Lsn::parse(&l).ok()).map_or(0, |l| l.0);
            exported = cell(2).filter(|_| snapshot);
            info!(connector = %cfg.name, slot = %cfg.slot_name, lsn = %Lsn(point), "replication slot created");
            if start.is_none() || snapshot {
                start = Some(PgPosition {
                    lsn: point,
                    lsn_proc: point,
                    lsn_commit: point,
                    ..Default::default()
                });
            }
        } else if start.is_none() {
            let confirmed = slot
                .as_ref()
                .and_then(|s| s.1.as_deref())
                .and_then(|l| Lsn::parse(l).ok())
                .map_or(0, |l| l.0);
            start = Some(PgPosition {
                lsn: confirmed,
                lsn_proc: confirmed,
                lsn_commit: confirmed,
                ..Default::default()
            });
        }
        let mut start = start.unwrap_or_default();
        let builder = EventBuilder::new(cfg);
        if snapshot {
            let mut readers = Vec::new();
            let mut tx_id = None;
            for i in 0..cfg.snapshot_threads.max(1) {
                let mut r = self.connect().await?;
                sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut r)
                    .await
                    .map_err(|e| sql("starting the snapshot transaction", e))?;
                if let Some(name) = &exported {
                    sqlx::raw_sql(&format!(
                        "SET TRANSACTION SNAPSHOT '{}'",
                        name.replace('\'', "''")
                    ))
                    .execute(&mut r)
                    .await
                    .map_err(|e| sql("adopting the slot's exported snapshot", e))?;
                }
                if i == 0 {
                    let x: i64 = sqlx::query_scalar(
                        "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::int8",
                    )
                    .fetch_one(&mut r)
                    .await
                    .map_err(|e| sql("reading the snapshot's xmin", e))?;
                    tx_id = Some(x as u64);
                }
                readers.push(r);
            }
            if exported.is_none() {
                warn!(connector = %cfg.name, "snapshot reads a fresh transaction (the slot already existed); rows changed meanwhile are replayed by the stream afterwards");
            }
            let schemas = tables
                .iter()
                .cloned()
                .map(|t| TableSchemas::build(t, cfg, &builder.source_schema).map(Arc::new))
                .collect::<Result<_, _>>()?;
            let plan = Plan {
                tables: schemas,
                lsn: start.lsn,
                tx_id,
                resume: self
                    .offset
                    .as_ref()
                    .filter(|o| o.snapshot)
                    .and_then(|o| o.snapshot_progress.clone()),
                max_batch: self.max_batch,
            };
            snapshot::run(cfg, plan, &builder, readers, &tx).await?;
            start = PgPosition {
                tx_id,
                snapshot: false,
                snapshot_progress: None,
                last_commit: None, // Debezium's first sequence after a snapshot: [null, …]
                ..start
            };
            if cfg.snapshot_mode == SnapshotMode::InitialOnly {
                info!(connector = %cfg.name, "snapshot.mode=initial_only: snapshot done, not streaming");
                return Ok(());
            }
        }
        // --exit-when-caught-up: a marker in the WAL now; the stream has caught up when the
        // marker arrives (every transaction committed before it came first)
        let exit_at = if self.exit_when_caught_up {
            let marker = format!(
                "SELECT pg_logical_emit_message(false, '{}', '')::text",
                crate::stream::CAUGHT_UP
            );
            let l: String = sqlx::query_scalar(&marker)
                .fetch_one(&mut conn)
                .await
                .map_err(|e| sql("writing the caught-up marker", e))?;
            Some(Lsn::parse(&l).map(|l| l.0).unwrap_or(0))
        } else {
            None
        };
        client
            .start()
            .await
            .map_err(|e| PgError::Replication(e.to_string()))?;
        client.wait_started().await.map_err(|e| {
            crate::error::replication(
                &format!("START_REPLICATION on slot {}", cfg.slot_name),
                e.to_string(),
            )
        })?;
        let streamer = Streamer {
            cfg,
            builder: &builder,
            sql: conn,
            types,
            confirmed: self.confirmed.clone(),
            max_batch: self.max_batch,
            exit_at,
            health: Arc::clone(&self.health),
            signals: Default::default(),
        };
        let result = streamer.run(client, start, &tx).await;
        // only on a clean stop: after a failure the driver starts again from this slot
        if cfg.slot_drop_on_stop && result.is_ok() {
            if let Ok(mut c) = self.connect().await {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let r = sqlx::query("SELECT pg_drop_replication_slot($1)")
                    .bind(&cfg.slot_name)
                    .execute(&mut c)
                    .await;
                match r {
                    Ok(_) => {
                        info!(slot = %cfg.slot_name, "replication slot dropped (slot.drop.on.stop)")
                    }
                    Err(e) => {
                        warn!(slot = %cfg.slot_name, error = %e, "could not drop the replication slot")
                    }
                }
            }
        }
        result
    }

    fn replication_config(&self, start_lsn: u64) -> ReplicationConfig {
        let cfg = &self.cfg;
        let options: String = SESSION
            .iter()
            .map(|(k, v)| format!("-c {k}={v} "))
            .collect();
        ReplicationConfig::new(
            cfg.hostname.clone(),
            cfg.user.clone(),
            cfg.password.clone(),
            cfg.dbname.clone(),
            cfg.slot_name.clone(),
            cfg.publication_name.clone(),
        )
        .with_port(cfg.port)
        .with_tls(cfg.tls.replication(&cfg.hostname))
        .with_start_lsn(Lsn(start_lsn))
        .with_status_interval(cfg.status_interval.min(Duration::from_secs(1)))
        .with_options(options.trim_end().to_string())
        .with_application_name("sluice")
    }

    /// Creates or checks the publication per `publication.autocreate.mode`.
    async fn publication(
        &self,
        conn: &mut PgConnection,
        tables: &[catalog::Table],
    ) -> Result<(), PgError> {
        let cfg = &self.cfg;
        let exists: Option<bool> =
            sqlx::query_scalar("SELECT puballtables FROM pg_publication WHERE pubname = $1")
                .bind(&cfg.publication_name)
                .fetch_optional(&mut *conn)
                .await
                .map_err(|e| sql("reading pg_publication", e))?;
        let name = quote(&cfg.publication_name);
        let list = || {
            let mut names: Vec<String> = tables.iter().map(|t| t.quoted()).collect();
            names.extend(cfg.signal_table_sql());
            names.join(", ")
        };
        let stmt = match (cfg.publication_mode, exists) {
            (PublicationMode::Disabled, None) => {
                return Err(PgError::Config(format!(
                    "publication {} does not exist and publication.autocreate.mode=disabled; create it (CREATE PUBLICATION {name} FOR TABLE …) or change the mode",
                    cfg.publication_name
                )))
            }
            (PublicationMode::Disabled, Some(_)) => return Ok(()),
            (PublicationMode::AllTables, None) => format!("CREATE PUBLICATION {name} FOR ALL TABLES"),
            (PublicationMode::AllTables, Some(_)) => return Ok(()),
            (PublicationMode::Filtered, _) if tables.is_empty() => {
                return Err(PgError::Config(
                    "publication.autocreate.mode=filtered but no table matches the include/exclude lists".into(),
                ))
            }
            (PublicationMode::Filtered, None) => format!("CREATE PUBLICATION {name} FOR TABLE {}", list()),
            (PublicationMode::Filtered, Some(true)) => return Ok(()),
            (PublicationMode::Filtered, Some(false)) => format!("ALTER PUBLICATION {name} SET TABLE {}", list()),
        };
        sqlx::raw_sql(&stmt)
            .execute(&mut *conn)
            .await
            .map_err(|e| sql(&format!("{stmt} (the user must own the tables, or create the publication beforehand)"), e))?;
        info!(connector = %cfg.name, publication = %cfg.publication_name, "publication ready");
        Ok(())
    }
}

/// A query connection with sluice's session settings (UTC, ISO dates, exact floats).
pub async fn connect(cfg: &PgConfig) -> Result<PgConnection, PgError> {
    let mut o = PgConnectOptions::new()
        .host(&cfg.hostname)
        .port(cfg.port)
        .username(&cfg.user)
        .database(&cfg.dbname)
        .application_name("sluice")
        .options(SESSION);
    o = cfg.tls.query_options(o);
    if !cfg.password.is_empty() {
        o = o.password(&cfg.password);
    }
    o.connect()
        .await
        .map_err(|e| crate::tls::connect_error(cfg.target(), &cfg.tls, e.to_string()))
}
