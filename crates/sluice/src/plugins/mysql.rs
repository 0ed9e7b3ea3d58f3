//! Debezium's MySQL and MariaDB connectors (`sluice-mysql`): binlog streaming with a schema
//! history, offsets movable by binlog position, GTID or time, incremental-snapshot signals.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use async_trait::async_trait;
use serde_json::{json, Value as Json};
use sluice_core::{ErrorClass, Position, SourceError};
use sluice_mysql::{BinlogPosition, MySqlConfig, MySqlSource};
use sluice_runtime::{ConnectorConfig, PipelineStats};

use super::{print_snapshot, MoveTo, Moved, OffsetView, Source, SourcePlugin, SourceRun};
use crate::state;

pub(crate) struct MySql;

impl SourcePlugin for MySql {
    fn classes(&self) -> &'static [&'static str] {
        &[
            "io.debezium.connector.mysql.MySqlConnector",
            "io.debezium.connector.mariadb.MariaDbConnector",
            "MySqlConnector",
            "MariaDbConnector",
            "mysql",
            "mariadb",
        ]
    }

    fn known_properties(&self) -> &'static [&'static str] {
        sluice_mysql::config::KNOWN_PROPERTIES
    }

    fn configure(&self, config: &ConnectorConfig) -> Result<Box<dyn Source>> {
        let cfg = MySqlConfig::from_properties(&config.name, &config.props)
            .with_context(|| format!("connector {}", config.name))?;
        if config.get("include.schema.changes").unwrap_or("true") == "true" {
            tracing::warn!(connector = %config.name, "schema change events (include.schema.changes) are not emitted by this build; DDL is tracked in the schema history only");
        }
        Ok(Box::new(Settings(cfg)))
    }
}

struct Settings(MySqlConfig);

impl Settings {
    /// `file:pos` checked on the server, as the position to resume from (with the GTID set of
    /// everything before it when known).
    async fn validated(&self, file: &str, pos: u64, gtids: Option<&str>) -> Result<Position> {
        let server_id = sluice_mysql::admin::validate(&self.0, file, pos)
            .await
            .with_context(|| format!("connector {}: cannot move to {file}:{pos}", self.0.name))?;
        Ok(Position::from_source(BinlogPosition {
            file: file.into(),
            pos,
            server_id,
            gtids: gtids.map(Into::into),
            ..Default::default()
        }))
    }

    /// The first transaction after a MariaDB GTID position.
    async fn after_gtids(&self, gtids: &str) -> Result<(String, u64)> {
        let at = sluice_mysql::seek::position_after_gtids(&self.0, gtids)
            .await
            .with_context(|| format!("connector {}", self.0.name))?;
        Ok((at.file, at.pos))
    }
}

#[async_trait]
impl Source for Settings {
    fn topic_prefix(&self) -> &str {
        &self.0.topic_prefix
    }

    fn debezium_name(&self) -> Option<&'static str> {
        Some(self.0.connector)
    }

    fn history_file(&self) -> Option<PathBuf> {
        self.0.history_file.clone()
    }

    async fn run(self: Box<Self>, run: SourceRun) -> Result<PipelineStats> {
        let history = state::open_history(&run.state, &run.history)
            .await
            .with_context(|| format!("connector {}: schema history", run.name))?;
        // the first attempt uses the history opened above (its errors are the operator's); a
        // restarted attempt opens it again, and a failure to is transient
        let mut first = Some(history);
        let (state, file) = (run.state.clone(), run.history.clone());
        let (health, exit, max_batch) = (
            Arc::clone(&run.health),
            run.exit_when_caught_up,
            run.max_batch,
        );
        let cfg = self.0;
        let attempt = move |offset, tx| {
            let first = first.take();
            let (cfg, state, file) = (cfg.clone(), state.clone(), file.clone());
            let health = Arc::clone(&health);
            async move {
                let history = match first {
                    Some(h) => h,
                    None => state::open_history(&state, &file).await.map_err(|e| {
                        SourceError::new(ErrorClass::Retryable, format!("schema history: {e:#}"))
                    })?,
                };
                MySqlSource::new(cfg, offset, history)
                    .health(health)
                    .exit_when_caught_up(exit)
                    .max_batch(max_batch)
                    .run(tx)
                    .await
                    .map_err(SourceError::from)
            }
        };
        run.drive(attempt).await
    }

    async fn show_offsets(&self, view: &OffsetView<'_>) -> Result<()> {
        let Some(raw) = view.current else {
            if view.json {
                println!(
                    "{}",
                    json!({"connector": view.key.connector, "offset": null})
                );
            } else {
                println!(
                    "{}: no offset stored in {}; the next start follows snapshot.mode",
                    view.key.connector, view.location
                );
            }
            return Ok(());
        };
        let at = BinlogPosition::from_offset_json(raw)
            .map_err(|e| anyhow!("stored offset is unusable: {e}"))?;
        let lag = sluice_mysql::admin::lag(&self.0, &at).await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let seconds_behind = if lag.bytes_behind == 0 || at.ts_sec == 0 {
            0
        } else {
            now.saturating_sub(at.ts_sec)
        };
        if view.json {
            println!(
                "{}",
                json!({
                    "connector": view.key.connector, "server": view.key.server, "offsets": view.location,
                    "offset": raw, "server_position": {"file": lag.server_file, "pos": lag.server_pos},
                    "file_exists": lag.file_exists, "bytes_behind": lag.bytes_behind, "seconds_behind": seconds_behind,
                })
            );
            return Ok(());
        }
        view.print_head();
        println!(
            "position:    {}:{} (event {}, row {})",
            at.file, at.pos, at.event, at.row
        );
        println!("gtids:       {}", at.gtids.as_deref().unwrap_or("(none)"));
        println!("event time:  ts_sec {}", at.ts_sec);
        print_snapshot(at.snapshot, at.snapshot_progress.as_ref());
        println!("server:      {}:{}", lag.server_file, lag.server_pos);
        if lag.file_exists {
            println!(
                "behind:      {} bytes, ~{} s",
                lag.bytes_behind, seconds_behind
            );
        } else {
            println!(
                "behind:      {} is no longer on the server (purged); reset the offsets or set a new position",
                at.file
            );
        }
        Ok(())
    }

    async fn move_offset(&self, name: &str, to: &MoveTo) -> Result<Moved> {
        let (file, pos, gtids) = match to {
            MoveTo::Binlog { file, pos } => (file.clone(), *pos, None),
            MoveTo::Timestamp(ts) => {
                let at = sluice_mysql::seek::position_at(&self.0, *ts)
                    .await
                    .with_context(|| format!("connector {name}: cannot find a position for {ts}"))?;
                match at.event_ts {
                    Some(t) => println!(
                        "{name}: the first transaction at or after {ts} started at {t} (epoch s), at {}:{}",
                        at.file, at.pos
                    ),
                    None => println!(
                        "{name}: no transaction at or after {ts}; moving to the binlog end {}:{}",
                        at.file, at.pos
                    ),
                }
                (at.file, at.pos, None)
            }
            MoveTo::Gtid(gtids) => {
                let gtids = gtids.trim();
                let (file, pos) = self.after_gtids(gtids).await?;
                println!("{name}: the first transaction after {gtids} is at {file}:{pos}");
                (file, pos, Some(gtids))
            }
            MoveTo::Lsn(_) => bail!(
                "--lsn is for PostgreSQL connectors; {name} is not one (use --binlog, --gtid or --timestamp)"
            ),
        };
        Ok(Moved {
            position: self.validated(&file, pos, gtids).await?,
            resumes: format!("The connector resumes at {file}:{pos} on its next start."),
        })
    }

    /// An offset with `file`/`pos` is checked on the server; one with only `gtids` (a MariaDB
    /// GTID position) resolves to the first transaction after it.
    async fn alter_offset(&self, _name: &str, offset: &Json) -> Result<Position> {
        let gtids = offset.get("gtids").and_then(Json::as_str);
        match (offset.get("file").and_then(Json::as_str), gtids) {
            (Some(_), gtids) => {
                let b = BinlogPosition::from_offset_json(offset)
                    .map_err(|e| anyhow!("invalid offset: {e}"))?;
                self.validated(&b.file, b.pos, gtids).await
            }
            (None, Some(gtids)) => {
                let gtids = gtids.trim();
                let (file, pos) = self.after_gtids(gtids).await?;
                self.validated(&file, pos, Some(gtids)).await
            }
            (None, None) => bail!("an offset needs \"file\" and \"pos\" (a binlog position) or \"gtids\" (a MariaDB GTID position)"),
        }
    }

    async fn signal(&self, _name: &str, kind: &str, tables: &[String]) -> Result<String> {
        Ok(sluice_mysql::admin::send_signal(&self.0, kind, tables).await?)
    }
}
