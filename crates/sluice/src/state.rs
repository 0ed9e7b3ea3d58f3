//! Where a connector keeps its state (offsets, schema history) and where its events go, from
//! the Connect/Debezium property names:
//!
//! * `offset.storage`: `org.apache.kafka.connect.storage.KafkaOffsetBackingStore` (or `kafka`)
//!   → the `offset.storage.topic` topic (default `connect-offsets`, `offset.storage.partitions`
//!   default 25, `offset.storage.replication.factor` default -1 = the broker's);
//!   `…FileOffsetBackingStore` (or `file`) → `offset.storage.file.filename`. Unset: Kafka when
//!   events go to Kafka (as in a Connect worker), else the file.
//! * `schema.history.internal`: `io.debezium.storage.kafka.history.KafkaSchemaHistory` → the
//!   `schema.history.internal.kafka.topic` topic; `io.debezium.storage.file.history.
//!   FileSchemaHistory` → `schema.history.internal.file.filename`. Unset: Kafka when a history
//!   topic is named, else the file.
//!
//! Moving a connector from file offsets to Kafka offsets keeps its position: when the offsets
//! topic has nothing for the connector but its offsets file does, that offset is copied into
//! the topic at start (and said so in the log).

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use sluice_core::{FileHistoryStore, OffsetKey, OffsetStore, SchemaHistoryStore};
use sluice_kafka::{KafkaConfig, KafkaHistoryStore, KafkaOffsetStore, KafkaProducer};
use sluice_runtime::{ConnectorConfig, FileOffsetStore};

const KAFKA_OFFSETS: &[&str] = &[
    "org.apache.kafka.connect.storage.KafkaOffsetBackingStore",
    "kafka",
];
const FILE_OFFSETS: &[&str] = &[
    "org.apache.kafka.connect.storage.FileOffsetBackingStore",
    "file",
];
const KAFKA_HISTORY: &[&str] = &[
    "io.debezium.storage.kafka.history.KafkaSchemaHistory",
    "kafka",
];
const FILE_HISTORY: &[&str] = &["io.debezium.storage.file.history.FileSchemaHistory", "file"];

/// Where offsets live.
#[derive(Debug, Clone)]
pub enum OffsetsAt {
    File,
    Kafka {
        topic: String,
        partitions: i32,
        replication_factor: i32,
    },
}

/// Where the schema history lives.
#[derive(Debug, Clone)]
pub enum HistoryAt {
    File,
    Kafka { topic: String },
}

/// The resolved state and Kafka settings of one connector.
#[derive(Clone)]
pub struct State {
    pub offsets: OffsetsAt,
    pub history: HistoryAt,
    /// Set when anything of this connector talks to Kafka.
    pub kafka: Option<KafkaConfig>,
}

/// `sink_bootstrap`: `Some(servers)` when events go to Kafka (`None` inside: from the config).
pub fn resolve(config: &ConnectorConfig, sink_bootstrap: Option<Option<&str>>) -> Result<State> {
    let name = &config.name;
    let to_kafka = sink_bootstrap.is_some();
    let offsets = match config.get("offset.storage").map(str::trim) {
        None if to_kafka => kafka_offsets(config)?,
        None => OffsetsAt::File,
        Some(c) if KAFKA_OFFSETS.contains(&c) => kafka_offsets(config)?,
        Some(c) if FILE_OFFSETS.contains(&c) => OffsetsAt::File,
        Some(c) => bail!(
            "connector {name}: offset.storage={c:?} is not supported; use {} or {}",
            KAFKA_OFFSETS[0],
            FILE_OFFSETS[0]
        ),
    };
    let topic = config
        .get("schema.history.internal.kafka.topic")
        .map(str::to_string);
    let history = match (config.get("schema.history.internal").map(str::trim), topic) {
        (None, None) => HistoryAt::File,
        (None, Some(topic)) => HistoryAt::Kafka { topic },
        (Some(c), Some(topic)) if KAFKA_HISTORY.contains(&c) => HistoryAt::Kafka { topic },
        (Some(c), None) if KAFKA_HISTORY.contains(&c) => {
            bail!("connector {name}: schema.history.internal={c} needs schema.history.internal.kafka.topic")
        }
        (Some(c), _) if FILE_HISTORY.contains(&c) => HistoryAt::File,
        (Some(c), _) => bail!(
            "connector {name}: schema.history.internal={c:?} is not supported; use {} or {}",
            KAFKA_HISTORY[0],
            FILE_HISTORY[0]
        ),
    };
    let needs_kafka = to_kafka
        || matches!(offsets, OffsetsAt::Kafka { .. })
        || matches!(history, HistoryAt::Kafka { .. });
    let kafka = if needs_kafka {
        let mut props = config.props.clone();
        if let (Some(h), false) = (
            config.get("schema.history.internal.kafka.bootstrap.servers"),
            props.contains_key("bootstrap.servers"),
        ) {
            props.insert("bootstrap.servers".into(), h.to_string());
        }
        Some(
            KafkaConfig::from_properties(name, &props, sink_bootstrap.flatten())
                .with_context(|| format!("connector {name}"))?,
        )
    } else {
        None
    };
    if kafka.as_ref().is_some_and(|k| k.transactional_id.is_some())
        && !(to_kafka && matches!(offsets, OffsetsAt::Kafka { .. }))
    {
        bail!("connector {name}: exactly-once delivery needs events and offsets in Kafka (--sink kafka, offset.storage Kafka)");
    }
    Ok(State {
        offsets,
        history,
        kafka,
    })
}

fn kafka_offsets(config: &ConnectorConfig) -> Result<OffsetsAt> {
    let number = |k: &str, default: i32| -> Result<i32> {
        config.get(k).map_or(Ok(default), |v| {
            v.trim()
                .parse()
                .with_context(|| format!("connector {}: {k}={v:?} is not a number", config.name))
        })
    };
    Ok(OffsetsAt::Kafka {
        topic: config
            .get("offset.storage.topic")
            .unwrap_or("connect-offsets")
            .to_string(),
        partitions: number("offset.storage.partitions", 25)?,
        replication_factor: number("offset.storage.replication.factor", -1)?,
    })
}

/// Opens the offset store. `producer`: the sink's, shared in exactly-once mode.
pub async fn open_offsets(
    state: &State,
    file: &Path,
    key: &OffsetKey,
    producer: Option<Arc<KafkaProducer>>,
) -> Result<Box<dyn OffsetStore>> {
    let OffsetsAt::Kafka {
        topic,
        partitions,
        replication_factor,
    } = &state.offsets
    else {
        return Ok(Box::new(FileOffsetStore::open(file)?));
    };
    let kafka = state.kafka.as_ref().context("Kafka settings missing")?;
    let producer = match producer {
        Some(p) => p,
        None => KafkaProducer::plain(kafka)?,
    };
    let mut store =
        KafkaOffsetStore::open(kafka, topic, *partitions, *replication_factor, producer).await?;
    if store.load(key)?.is_none() && file.exists() {
        if let Some(offset) = FileOffsetStore::open(file)?.load(key)? {
            store.put(key, Some(&offset))?;
            tracing::warn!(
                connector = %key.connector, topic = %topic, file = %file.display(),
                "offset storage moved to Kafka: the offset stored in the file was copied into the offsets topic"
            );
        }
    }
    Ok(Box::new(store))
}

/// Opens the schema history store.
pub async fn open_history(state: &State, file: &Path) -> Result<Box<dyn SchemaHistoryStore>> {
    match &state.history {
        HistoryAt::File => Ok(Box::new(FileHistoryStore::new(file))),
        HistoryAt::Kafka { topic } => {
            let kafka = state.kafka.as_ref().context("Kafka settings missing")?;
            Ok(Box::new(KafkaHistoryStore::open(kafka, topic).await?))
        }
    }
}
