//! `sluice offsets show | set | reset`: see and move a stopped connector's offsets, wherever
//! they live (the offsets file, or Connect's offsets topic in Kafka: pass the `--sink` the
//! connector runs with, which decides that the same way `run` does).

use anyhow::{bail, Context, Result};
use sluice_core::{OffsetKey, OffsetStore};
use sluice_kafka::KafkaOffsetStore;
use sluice_runtime::FileOffsetStore;

use crate::plugins::{MoveTo, OffsetView};
use crate::state::{HistoryAt, OffsetsAt};
use crate::Prepared;

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

    pub(crate) fn describe(&self) -> String {
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
    Set(MoveTo),
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

pub async fn run(p: Prepared, action: Action) -> Result<()> {
    let key = OffsetKey {
        connector: p.config.name.clone(),
        server: p.topic_prefix.clone(),
        partition: None,
    };
    let mut store = open_store(&p).await?;
    let current = store.store().load(&key)?;
    if let Action::Show { json } = action {
        let location = store.describe();
        let view = OffsetView {
            key: &key,
            current: current.as_ref(),
            json,
            location: &location,
        };
        return p.source.show_offsets(&view).await;
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
        Action::Set(to) => {
            let moved = p.source.move_offset(&p.config.name, &to).await?;
            store.store().commit(&key, &moved.position)?;
            println!(
                "{}: offset moved\n  from {}\n  to   {}\n{}",
                p.config.name,
                current.map_or_else(|| "(none)".to_string(), |c| c.to_string()),
                moved.position.to_offset_json(),
                moved.resumes
            );
            Ok(())
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
