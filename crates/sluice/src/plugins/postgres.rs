//! Debezium's PostgreSQL connector (`sluice-postgres`): pgoutput logical replication through a
//! slot confirmed up to the committed offset, offsets movable by LSN, incremental-snapshot
//! signals.

use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use async_trait::async_trait;
use serde_json::json;
use sluice_core::{Position, SourceError};
use sluice_postgres::admin::{self, Lsn};
use sluice_postgres::{Confirmed, ConfirmingStore, PgConfig, PgPosition, PostgresSource};
use sluice_runtime::{ConnectorConfig, PipelineStats};

use super::{print_snapshot, MoveTo, Moved, OffsetView, Source, SourcePlugin, SourceRun};

pub(crate) struct Postgres;

impl SourcePlugin for Postgres {
    fn classes(&self) -> &'static [&'static str] {
        &[
            "io.debezium.connector.postgresql.PostgresConnector",
            "PostgresConnector",
            "postgres",
            "postgresql",
        ]
    }

    fn known_properties(&self) -> &'static [&'static str] {
        sluice_postgres::config::KNOWN_PROPERTIES
    }

    fn configure(&self, config: &ConnectorConfig) -> Result<Box<dyn Source>> {
        let cfg = PgConfig::from_properties(&config.name, &config.props)
            .with_context(|| format!("connector {}", config.name))?;
        Ok(Box::new(Settings(cfg)))
    }
}

struct Settings(PgConfig);

#[async_trait]
impl Source for Settings {
    fn topic_prefix(&self) -> &str {
        &self.0.topic_prefix
    }

    fn debezium_name(&self) -> Option<&'static str> {
        Some("postgresql")
    }

    async fn run(self: Box<Self>, run: SourceRun) -> Result<PipelineStats> {
        // the slot is confirmed up to what the store has committed
        let confirmed = Confirmed::default();
        let run = run.map_store(|s| Box::new(ConfirmingStore::new(s, confirmed.clone())));
        let (health, exit, max_batch) = (
            Arc::clone(&run.health),
            run.exit_when_caught_up,
            run.max_batch,
        );
        let cfg = self.0;
        let attempt = move |offset, tx| {
            let source = PostgresSource::new(cfg.clone(), offset, confirmed.clone()).map(|s| {
                s.health(Arc::clone(&health))
                    .exit_when_caught_up(exit)
                    .max_batch(max_batch)
            });
            async move { source.map_err(SourceError::from)?.run(tx).await }
        };
        run.drive(attempt).await
    }

    /// Where the connector is, where its slot is, and how far behind the server.
    async fn show_offsets(&self, view: &OffsetView<'_>) -> Result<()> {
        let cfg = &self.0;
        let at = view
            .current
            .map(PgPosition::from_offset_json)
            .transpose()
            .map_err(|e| anyhow!("stored offset is unusable: {e}"))?;
        let slot = admin::slot_state(cfg).await?;
        let behind = at.as_ref().map(|a| slot.server.saturating_sub(a.lsn));
        let text = |l: Option<u64>| l.map(|l| Lsn(l).to_string());
        if view.json {
            println!(
                "{}",
                json!({
                    "connector": view.key.connector, "server": view.key.server, "offsets": view.location,
                    "offset": view.current,
                    "slot": {"name": cfg.slot_name, "exists": slot.confirmed_flush.is_some(),
                             "confirmed_flush_lsn": text(slot.confirmed_flush), "restart_lsn": text(slot.restart),
                             "active": slot.active},
                    "server_lsn": Lsn(slot.server).to_string(), "bytes_behind": behind,
                })
            );
            return Ok(());
        }
        view.print_head();
        match &at {
            None => println!("position:    none stored; the next start follows snapshot.mode"),
            Some(a) => {
                println!(
                    "position:    {} (last commit {}, {} events of it delivered)",
                    Lsn(a.lsn),
                    Lsn(a.lsn_commit),
                    a.event
                );
                if let Some(t) = a.tx_id {
                    println!("txId:        {t}");
                }
                print_snapshot(a.snapshot, a.snapshot_progress.as_ref());
                if let Some(i) = &a.incremental {
                    println!("incremental: {i}");
                }
            }
        }
        match slot.confirmed_flush {
            Some(c) => println!(
                "slot:        {} confirmed {}, restart {}, {}",
                cfg.slot_name,
                Lsn(c),
                text(slot.restart).unwrap_or_default(),
                if slot.active { "in use" } else { "idle" }
            ),
            None => println!(
                "slot:        {} does not exist (created on the next start)",
                cfg.slot_name
            ),
        }
        println!("server:      {}", Lsn(slot.server));
        if let Some(b) = behind {
            println!("behind:      {b} bytes of WAL");
        }
        Ok(())
    }

    /// Checks the LSN against the slot and the server.
    async fn move_offset(&self, name: &str, to: &MoveTo) -> Result<Moved> {
        let MoveTo::Lsn(lsn) = *to else {
            anyhow::bail!(
                "connector {name} is a PostgreSQL connector: it moves to an LSN (--lsn), not to {}",
                to.describe()
            );
        };
        admin::validate_lsn(&self.0, lsn)
            .await
            .with_context(|| format!("connector {name}"))?;
        Ok(Moved {
            position: Position::from_source(PgPosition {
                lsn,
                lsn_proc: lsn,
                lsn_commit: lsn,
                ..Default::default()
            }),
            resumes: format!(
                "The connector resumes at {} on its next start; transactions committed before it are skipped.",
                Lsn(lsn)
            ),
        })
    }

    async fn signal(&self, _name: &str, kind: &str, tables: &[String]) -> Result<String> {
        Ok(sluice_postgres::incremental::send_signal(&self.0, kind, tables).await?)
    }
}
