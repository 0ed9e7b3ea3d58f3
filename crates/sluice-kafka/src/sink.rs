//! Change events into Kafka topics.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use sluice_connect::Converter;
use sluice_core::{ChangeEvent, ErrantReporter, ErrorClass, Retryable, Sink, SinkError, Stage};

use crate::{ensure_topic, KafkaConfig, KafkaError, KafkaProducer, TopicSpec};

/// Writes each event as one Kafka record: topic = the event's topic, key and value through the
/// converters (a tombstone has a null value), headers as they are. A record a converter cannot
/// serialize goes to the connector's error handling (`errors.tolerance`, dead letter queue).
pub struct KafkaSink {
    cfg: KafkaConfig,
    producer: Arc<KafkaProducer>,
    key: Box<dyn Converter>,
    value: Box<dyn Converter>,
    errors: Arc<dyn ErrantReporter>,
    kbuf: Vec<u8>,
    vbuf: Vec<u8>,
    /// Topics already created (or known to exist) when `topic.creation.default.*` is set.
    ensured: HashSet<Arc<str>>,
    /// Headers on every record after the event's own ([`KafkaSink::with_context_headers`]).
    context: Vec<(String, Vec<u8>)>,
}

/// Debezium 3's context headers for one run of a source connector:
/// `__debezium.context.{connectorLogicalName, taskId, connectorName, runId}` = the topic prefix,
/// `0` (one task), the connector's kind (mysql, mariadb, postgresql) and a fresh UUID per run.
pub fn debezium_context_headers(topic_prefix: &str, connector: &str) -> Vec<(String, Vec<u8>)> {
    let run_id = uuid::Uuid::new_v4().to_string();
    [
        ("connectorLogicalName", topic_prefix),
        ("taskId", "0"),
        ("connectorName", connector),
        ("runId", run_id.as_str()),
    ]
    .iter()
    .map(|(k, v)| (format!("__debezium.context.{k}"), v.as_bytes().to_vec()))
    .collect()
}

impl KafkaSink {
    pub fn new(
        cfg: KafkaConfig,
        producer: Arc<KafkaProducer>,
        key: Box<dyn Converter>,
        value: Box<dyn Converter>,
        errors: Arc<dyn ErrantReporter>,
    ) -> KafkaSink {
        KafkaSink {
            cfg,
            producer,
            key,
            value,
            errors,
            kbuf: Vec::with_capacity(256),
            vbuf: Vec::with_capacity(4096),
            ensured: HashSet::new(),
            context: Vec::new(),
        }
    }

    /// Adds `headers` to every record, after the event's own. They are added as the record is
    /// produced, after the transforms: an SMT does not see them.
    pub fn with_context_headers(mut self, headers: Vec<(String, Vec<u8>)>) -> KafkaSink {
        self.context = headers;
        self
    }

    async fn ensure(&mut self, topic: &Arc<str>) -> Result<(), KafkaError> {
        let Some(tc) = &self.cfg.topic_creation else {
            return Ok(());
        };
        if self.ensured.contains(topic) {
            return Ok(());
        }
        ensure_topic(
            &self.cfg,
            &TopicSpec {
                name: topic.to_string(),
                partitions: tc.partitions,
                replication_factor: tc.replication_factor,
                configs: tc.configs.clone(),
            },
        )
        .await?;
        self.ensured.insert(Arc::clone(topic));
        Ok(())
    }
}

fn sink_error(e: KafkaError) -> SinkError {
    match e {
        KafkaError::Delivery(m) | KafkaError::Transaction(m) => SinkError::Unavailable(m),
        other => SinkError::Rejected(other.to_string()),
    }
}

#[async_trait]
impl Sink for KafkaSink {
    async fn write(&mut self, events: &[ChangeEvent]) -> Result<(), SinkError> {
        let batch = self.producer.begin_batch(events.len());
        for ev in events {
            self.ensure(&ev.topic).await.map_err(sink_error)?;
            self.kbuf.clear();
            self.vbuf.clear();
            let converted = self
                .key
                .serialize(&ev.topic, ev.key.as_ref(), &mut self.kbuf)
                .map_err(|e| (Stage::KeyConverter, e))
                .and_then(|k| {
                    self.value
                        .serialize(&ev.topic, ev.value.as_ref(), &mut self.vbuf)
                        .map(|v| (k, v))
                        .map_err(|e| (Stage::ValueConverter, e))
                });
            let (has_key, has_value) = match converted {
                Ok(kv) => kv,
                // a schema registry that does not answer: retried, never set aside
                Err((_, e)) if e.class() == ErrorClass::Retryable => {
                    return Err(SinkError::Unavailable(e.to_string()))
                }
                Err((stage, e)) => {
                    self.errors.report(ev, None, e.failure(stage))?;
                    continue;
                }
            };
            self.producer
                .send_in_batch(
                    batch,
                    &ev.topic,
                    has_key.then_some(&self.kbuf[..]),
                    has_value.then_some(&self.vbuf[..]),
                    &ev.headers,
                    &self.context,
                )
                .map_err(sink_error)?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        self.producer.flush().map_err(sink_error)
    }

    /// At-least-once: batches are durable as their delivery reports arrive. Exactly-once:
    /// every batch written counts at once, since the offset commit covering it commits the
    /// transaction its records are in (and fails, committing nothing, if they cannot be).
    fn acks_async(&self) -> bool {
        true
    }

    fn durable_batches(&mut self) -> Result<u64, SinkError> {
        self.producer.durable_batches().map_err(sink_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debeziums_context_headers_name_the_connector_and_the_run() {
        let h = debezium_context_headers("inventory", "mariadb");
        let text = |name: &str| {
            h.iter()
                .find(|(k, _)| k == &format!("__debezium.context.{name}"))
                .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
                .unwrap()
        };
        assert_eq!(h.len(), 4);
        assert_eq!(text("connectorLogicalName"), "inventory");
        assert_eq!(text("taskId"), "0");
        assert_eq!(text("connectorName"), "mariadb");
        let run = text("runId");
        assert_eq!(uuid::Uuid::parse_str(&run).unwrap().get_version_num(), 4);
        let again = debezium_context_headers("inventory", "mariadb");
        assert_ne!(again[3].1, h[3].1, "a run id per run");
    }
}
