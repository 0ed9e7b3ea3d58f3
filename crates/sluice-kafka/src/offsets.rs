//! Connector offsets in a Kafka topic, in Kafka Connect's format, so a Connect cluster running
//! Debezium and sluice can take over from each other.
//!
//! Record key: `["<connector>",{"server":"<prefix>"}]` (compact JSON, as Connect's internal
//! JSON converter writes it); value: the Debezium offset JSON; a null value deletes the offset.
//! The topic is compacted, so the latest record of a key is the offset. Keys are partitioned
//! by murmur2 like Connect, so both write a connector's offsets to the same partition.
//!
//! At open the topic is read to its end (`read_committed`) and the last value of each key kept.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value as Json;
use sluice_core::traits::OffsetStoreError;
use sluice_core::{OffsetKey, OffsetStore, Position};

use crate::{ensure_topic, read_topic, KafkaConfig, KafkaError, KafkaProducer, TopicSpec};

/// The offsets topic of a connector (shared with others: keys tell them apart).
pub struct KafkaOffsetStore {
    topic: String,
    producer: Arc<KafkaProducer>,
    /// Compact key JSON → offset.
    entries: HashMap<String, Json>,
}

impl KafkaOffsetStore {
    /// Creates the topic if needed (compacted, `partitions` / `replication_factor`, `-1` for the
    /// broker default) and reads it. `producer` is the sink's in exactly-once mode, so offset
    /// records join the events' transaction.
    pub async fn open(
        cfg: &KafkaConfig,
        topic: &str,
        partitions: i32,
        replication_factor: i32,
        producer: Arc<KafkaProducer>,
    ) -> Result<KafkaOffsetStore, KafkaError> {
        ensure_topic(
            cfg,
            &TopicSpec {
                name: topic.to_string(),
                partitions,
                replication_factor,
                configs: [("cleanup.policy".to_string(), "compact".to_string())].into(),
            },
        )
        .await?;
        let mut entries = HashMap::new();
        for r in read_topic(cfg, topic)? {
            let Some(key) = r.key.as_deref() else {
                continue;
            };
            let corrupt = |message: String| KafkaError::Corrupt {
                topic: topic.to_string(),
                partition: r.partition,
                offset: r.offset,
                message,
            };
            let key: Json = serde_json::from_slice(key).map_err(|e| corrupt(e.to_string()))?;
            let key = key.to_string();
            match r.payload.as_deref() {
                None => {
                    entries.remove(&key);
                }
                Some(v) => {
                    let v: Json = serde_json::from_slice(v).map_err(|e| corrupt(e.to_string()))?;
                    entries.insert(key, v);
                }
            }
        }
        Ok(KafkaOffsetStore {
            topic: topic.to_string(),
            producer,
            entries,
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Writes `value` (or a tombstone) for `key` and waits until it is durable.
    pub fn put(&mut self, key: &OffsetKey, value: Option<&Json>) -> Result<(), KafkaError> {
        let k = key.to_json().to_string();
        let v = value.map(Json::to_string);
        self.producer.send(
            &self.topic,
            Some(k.as_bytes()),
            v.as_deref().map(str::as_bytes),
            &[],
        )?;
        self.producer.checkpoint()?;
        match value {
            Some(v) => self.entries.insert(k, v.clone()),
            None => self.entries.remove(&k),
        };
        Ok(())
    }
}

fn store_error(topic: &str, e: KafkaError) -> OffsetStoreError {
    OffsetStoreError::Io {
        path: format!("kafka topic {topic}"),
        source: std::io::Error::other(e.to_string()),
    }
}

impl OffsetStore for KafkaOffsetStore {
    fn load(&self, key: &OffsetKey) -> Result<Option<Json>, OffsetStoreError> {
        Ok(self.entries.get(&key.to_json().to_string()).cloned())
    }

    /// In exactly-once mode this commits the transaction holding the events before `position`.
    fn commit(&mut self, key: &OffsetKey, position: &Position) -> Result<(), OffsetStoreError> {
        let topic = self.topic.clone();
        self.put(key, Some(&position.to_offset_json()))
            .map_err(|e| store_error(&topic, e))
    }
}
