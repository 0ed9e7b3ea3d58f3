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
        }
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
