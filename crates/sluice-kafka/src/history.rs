//! The schema history in a Kafka topic (Debezium's `KafkaSchemaHistory` layout): one partition,
//! one JSON record per schema change, never deleted (`retention.ms=-1`), replayed at start.

use std::sync::Arc;

use serde_json::Value as Json;
use sluice_core::{ErrorClass, HistoryStoreError, Retryable, SchemaHistoryStore};

use crate::{ensure_topic, read_topic, KafkaConfig, KafkaError, KafkaProducer, TopicSpec};

pub struct KafkaHistoryStore {
    cfg: KafkaConfig,
    topic: String,
    /// Not transactional: a history record must be durable before the events decoded with it,
    /// whatever happens to their transaction.
    producer: Arc<KafkaProducer>,
}

impl KafkaHistoryStore {
    /// Creates the topic if it is missing (1 partition, infinite retention).
    pub async fn open(cfg: &KafkaConfig, topic: &str) -> Result<KafkaHistoryStore, KafkaError> {
        ensure_topic(
            cfg,
            &TopicSpec {
                name: topic.to_string(),
                partitions: 1,
                replication_factor: -1,
                configs: [
                    ("cleanup.policy", "delete"),
                    ("retention.ms", "-1"),
                    ("retention.bytes", "-1"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            },
        )
        .await?;
        Ok(KafkaHistoryStore {
            cfg: cfg.clone(),
            topic: topic.to_string(),
            producer: KafkaProducer::plain(cfg)?,
        })
    }

    fn error(&self, e: impl std::fmt::Display, retryable: bool) -> HistoryStoreError {
        HistoryStoreError {
            location: self.location(),
            message: e.to_string(),
            retryable,
        }
    }
}

impl SchemaHistoryStore for KafkaHistoryStore {
    fn location(&self) -> String {
        format!("kafka topic {}", self.topic)
    }

    fn load(&mut self) -> Result<Vec<Json>, HistoryStoreError> {
        let records = read_topic(&self.cfg, &self.topic).map_err(|e| {
            let retryable = e.class() == ErrorClass::Retryable;
            self.error(e, retryable)
        })?;
        if records.iter().any(|r| r.partition != records[0].partition) {
            return Err(self.error(
                "records in more than one partition: the history topic must have exactly one partition (recreate it with one)",
                false,
            ));
        }
        records
            .iter()
            .filter_map(|r| r.payload.as_deref().map(|p| (r, p)))
            .map(|(r, p)| {
                serde_json::from_slice(p)
                    .map_err(|e| self.error(format!("record at offset {}: {e}", r.offset), false))
            })
            .collect()
    }

    fn append(&mut self, record: &Json) -> Result<(), HistoryStoreError> {
        let bytes = record.to_string();
        self.producer
            .send(&self.topic, None, Some(bytes.as_bytes()), &[])
            .and_then(|()| self.producer.checkpoint())
            .map_err(|e| self.error(e, true))
    }
}
