//! `sluice offsets show | set | reset`: see and move a stopped connector's offsets, wherever
//! they live (the offsets file, or Connect's offsets topic in Kafka: pass the `--sink` the
//! connector runs with, which decides that the same way `run` does).

use anyhow::{bail, Context, Result};
use serde_json::json;
use sluice_core::{BinlogPosition, OffsetKey, OffsetStore, Position, SnapshotProgress};
use sluice_kafka::KafkaOffsetStore;
use sluice_runtime::FileOffsetStore;

use crate::prepare::SourceConfig;
use crate::state::{HistoryAt, OffsetsAt};
use crate::{pg_offsets, Prepared};

/// The connector's offset storage.
pub(crate) enum Store {
    File(FileOffsetStore),
    Kafka(KafkaOffsetStore),
}

impl Store {
    pub(crate) fn store(&mut self) -> &mut dyn OffsetStore {
        match self {
            Store::File(s) => s,
            Store::Kafka(s) => s,
        }
    }

    fn describe(&self) -> String {
        match self {
            Store::File(s) => s.path().display().to_string(),
            Store::Kafka(s) => format!("kafka topic {}", s.topic()),
        }
    }

    /// Removes the offset; `true` if there was one.
    pub(crate) fn remove(&mut self, key: &OffsetKey) -> Result<bool> {
        Ok(match self {
            Store::File(s) => s.remove(key)?,
            Store::Kafka(s) => {
                let had = s.load(key)?.is_some();
                if had {
                    s.put(key, None)?;
                }
                had
            }
        })
    }
}

/// What to do with the offsets.
pub enum Action {
    Show { json: bool },
    SetBinlog { file: String, pos: u64 },
    SetTimestamp { ts: u32 },
    SetGtid { gtids: String },
    SetLsn { lsn: u64 },
    Reset,
}

/// Parses a PostgreSQL LSN (`16/B374D848`).
pub fn parse_lsn(spec: &str) -> Result<u64> {
    sluice_postgres::admin::Lsn::parse(spec.trim())
        .map(|l| l.0)
        .map_err(|e| {
            anyhow::anyhow!("--lsn {spec:?}: {e}; expected X/Y as pg_current_wal_lsn() prints it")
        })
}

/// Parses `FILE:POS`.
pub fn parse_binlog(spec: &str) -> Result<(String, u64)> {
    let (file, pos) = spec.rsplit_once(':').with_context(|| {
        format!("--binlog {spec:?}: expected FILE:POS, e.g. mysql-bin.000003:1234")
    })?;
    let pos: u64 = pos
        .parse()
        .with_context(|| format!("--binlog {spec:?}: {pos:?} is not a position"))?;
    if file.is_empty() || pos < 4 {
        bail!("--binlog {spec:?}: expected FILE:POS with POS >= 4");
    }
    Ok((file.to_string(), pos))
}

/// Parses `--timestamp`: RFC 3339 (`2026-11-21T10:00:00+09:00`, `…Z`) or epoch seconds.
pub fn parse_time(spec: &str) -> Result<u32> {
    let secs = match spec.trim().parse::<i64>() {
        Ok(n) => n,
        Err(_) => chrono::DateTime::parse_from_rfc3339(spec.trim())
            .with_context(|| {
                format!("--timestamp {spec:?}: expected RFC 3339 like 2026-11-21T10:00:00+09:00, or seconds since the epoch")
            })?
            .timestamp(),
    };
    u32::try_from(secs)
        .with_context(|| format!("--timestamp {spec:?} is outside the binlog's time range"))
}

/// The offset storage of a prepared source connector.
pub(crate) async fn open_store(p: &Prepared) -> Result<Store> {
    Ok(match &p.state.offsets {
        OffsetsAt::File => Store::File(FileOffsetStore::open(&p.offsets)?),
        OffsetsAt::Kafka {
            topic,
            partitions,
            replication_factor,
        } => {
            let kafka = p.state.kafka.as_ref().context("Kafka settings missing")?;
            let producer = sluice_kafka::KafkaProducer::plain(kafka)?;
            Store::Kafka(
                KafkaOffsetStore::open(kafka, topic, *partitions, *replication_factor, producer)
                    .await?,
            )
        }
    })
}

/// Removes the offset and the schema history: (offset removed, history removed).
pub(crate) async fn forget(
    p: &Prepared,
    store: &mut Store,
    key: &OffsetKey,
) -> Result<(bool, bool)> {
    let removed = store.remove(key)?;
    let history = match &p.state.history {
        HistoryAt::File => {
            let exists = p.history.exists();
            if exists {
                std::fs::remove_file(&p.history)
                    .with_context(|| format!("cannot remove {}", p.history.display()))?;
            }
            exists
        }
        HistoryAt::Kafka { topic } => {
            let kafka = p.state.kafka.as_ref().context("Kafka settings missing")?;
            sluice_kafka::delete_topic(kafka, topic).await?
        }
    };
    Ok((removed, history))
}

/// `file:pos` validated on the server, as the position to resume from (with the GTID set of
/// everything before it when known).
pub(crate) async fn validated(
    p: &Prepared,
    file: &str,
    pos: u64,
    gtids: Option<&str>,
) -> Result<Position> {
    let server_id = sluice_mysql::admin::validate(p.mysql()?, file, pos)
        .await
        .with_context(|| format!("connector {}: cannot move to {file}:{pos}", p.config.name))?;
    Ok(Position::Binlog(BinlogPosition {
        file: file.into(),
        pos,
        server_id,
        gtids: gtids.map(Into::into),
        ..Default::default()
    }))
}

/// The first transaction after a MariaDB GTID position, as a position to resume from.
pub(crate) async fn after_gtids(p: &Prepared, gtids: &str) -> Result<Position> {
    let gtids = gtids.trim();
    let at = sluice_mysql::seek::position_after_gtids(p.mysql()?, gtids)
        .await
        .with_context(|| format!("connector {}", p.config.name))?;
    validated(p, &at.file, at.pos, Some(gtids)).await
}

pub async fn run(p: Prepared, action: Action) -> Result<()> {
    let key = OffsetKey {
        connector: p.config.name.clone(),
        server: p.topic_prefix.clone(),
        partition: None,
    };
    let mut store = open_store(&p).await?;
    let current = store.store().load(&key)?;
    if let Action::Show { json } = action {
        if let SourceConfig::Postgres(pg) = &p.source {
            return pg_offsets::show(pg, &key, current, json, &store.describe()).await;
        }
        return show(&p, &key, current, json, &store.describe()).await;
    }
    let _lock = FileOffsetStore::try_lock(&p.offsets)?.with_context(|| {
        format!(
            "connector {} is running (it holds {}); stop it before changing its offsets",
            p.config.name,
            p.offsets.with_extension("lock").display()
        )
    })?;
    match action {
        Action::Show { .. } => Ok(()),
        Action::SetTimestamp { ts } => {
            let at = sluice_mysql::seek::position_at(p.mysql()?, ts)
                .await
                .with_context(|| {
                    format!(
                        "connector {}: cannot find a position for {ts}",
                        p.config.name
                    )
                })?;
            match at.event_ts {
                Some(t) => println!(
                    "{}: the first transaction at or after {ts} started at {t} (epoch s), at {}:{}",
                    p.config.name, at.file, at.pos
                ),
                None => println!(
                    "{}: no transaction at or after {ts}; moving to the binlog end {}:{}",
                    p.config.name, at.file, at.pos
                ),
            }
            move_to(&p, &key, &mut store, current, at.file, at.pos, None).await
        }
        Action::SetGtid { gtids } => {
            let gtids = gtids.trim().to_string();
            let at = sluice_mysql::seek::position_after_gtids(p.mysql()?, &gtids)
                .await
                .with_context(|| format!("connector {}", p.config.name))?;
            println!(
                "{}: the first transaction after {gtids} is at {}:{}",
                p.config.name, at.file, at.pos
            );
            move_to(&p, &key, &mut store, current, at.file, at.pos, Some(gtids)).await
        }
        Action::SetBinlog { file, pos } => {
            move_to(&p, &key, &mut store, current, file, pos, None).await
        }
        Action::SetLsn { lsn } => {
            let SourceConfig::Postgres(pg) = &p.source else {
                bail!(
                    "--lsn is for PostgreSQL connectors; {} is not one (use --binlog, --gtid or --timestamp)",
                    p.config.name
                );
            };
            pg_offsets::set(pg, &key, store.store(), current, lsn).await
        }
        Action::Reset => {
            let (removed, history) = forget(&p, &mut store, &key).await?;
            println!(
                "{}: {}; schema history {}. On its next start the connector begins again per snapshot.mode.",
                p.config.name,
                if removed { "offset removed" } else { "no offset was stored" },
                if history { "removed" } else { "was absent" }
            );
            Ok(())
        }
    }
}

/// Validates (`file`, `pos`) on the server and stores it as the connector's offset, with the
/// GTID set of everything before it when known.
async fn move_to(
    p: &Prepared,
    key: &OffsetKey,
    store: &mut Store,
    current: Option<serde_json::Value>,
    file: String,
    pos: u64,
    gtids: Option<String>,
) -> Result<()> {
    let new = validated(p, &file, pos, gtids.as_deref()).await?;
    store.store().commit(key, &new)?;
    println!(
        "{}: offset moved\n  from {}\n  to   {}\nThe connector resumes at {file}:{pos} on its next start.",
        p.config.name,
        current.map_or_else(|| "(none)".to_string(), |c| c.to_string()),
        new.to_offset_json()
    );
    Ok(())
}

async fn show(
    p: &Prepared,
    key: &OffsetKey,
    current: Option<serde_json::Value>,
    as_json: bool,
    location: &str,
) -> Result<()> {
    let Some(raw) = current else {
        if as_json {
            println!("{}", json!({"connector": key.connector, "offset": null}));
        } else {
            println!(
                "{}: no offset stored in {location}; the next start follows snapshot.mode",
                key.connector,
            );
        }
        return Ok(());
    };
    let at = BinlogPosition::from_offset_json(&raw)
        .map_err(|e| anyhow::anyhow!("stored offset is unusable: {e}"))?;
    let lag = sluice_mysql::admin::lag(p.mysql()?, &at).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let seconds_behind = if lag.bytes_behind == 0 || at.ts_sec == 0 {
        0
    } else {
        now.saturating_sub(at.ts_sec)
    };
    if as_json {
        println!(
            "{}",
            json!({
                "connector": key.connector, "server": key.server, "offsets": location,
                "offset": raw, "server_position": {"file": lag.server_file, "pos": lag.server_pos},
                "file_exists": lag.file_exists, "bytes_behind": lag.bytes_behind, "seconds_behind": seconds_behind,
            })
        );
        return Ok(());
    }
    println!(
        "connector:   {} (topic.prefix {})",
        key.connector, key.server
    );
    println!("offsets:     {location}");
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

/// The `snapshot:` line of `offsets show`, while an initial snapshot is in progress.
pub(crate) fn print_snapshot(in_progress: bool, progress: Option<&SnapshotProgress>) {
    match (in_progress, progress) {
        (false, _) => {}
        (true, Some(sp)) => println!(
            "snapshot:    in progress (table {}, after key {:?})",
            sp.table, sp.key
        ),
        (true, None) => println!("snapshot:    in progress"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_as_rfc3339_with_an_offset_or_epoch_seconds() {
        assert_eq!(
            parse_time("2026-11-21T10:00:00+09:00").unwrap(),
            1_795_222_800
        );
        assert_eq!(parse_time("2026-11-21T01:00:00Z").unwrap(), 1_795_222_800);
        assert_eq!(parse_time("1795222800").unwrap(), 1_795_222_800);
        assert!(parse_time("yesterday").is_err());
    }
}
