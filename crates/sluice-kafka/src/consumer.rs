//! Sink connectors reading Kafka: a consumer in group `connect-<name>` (Connect's naming)
//! subscribed to `topics` / `topics.regex`, records turned back into Connect data by the
//! connector's converters.
//!
//! Delivery. [`KafkaFeed::run`] hands batches to the runtime like a source does; each batch's
//! position is the next offset of *every* partition read so far ([`Position::KafkaGroup`]),
//! so committing the position of the newest durable batch covers all before it.
//! [`GroupOffsets`] is the offset store: it commits those offsets to the consumer group
//! (synchronously) — only after the sink has flushed, as for any source. Auto-commit is off.
//! After a crash or a rebalance the group resumes from the last commit: records after it are
//! delivered again (at-least-once), which idempotent sinks (upserts by key, versioned
//! documents) absorb. Partitions revoked in a rebalance are dropped from later positions.
//!
//! A record a converter cannot read goes to the connector's error handling with the bytes it
//! had ([`RawRecord`]), as Connect's dead letter queue stores them.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaError as RdError;
use rdkafka::message::{Headers, Message};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use sluice_connect::Converter;
use sluice_core::traits::OffsetStoreError;
use sluice_core::{
    ChangeEvent, ErrantReporter, ErrorClass, KafkaPosition, OffsetKey, OffsetStore, Position,
    RawRecord, Retryable, SourceMessage, Stage,
};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::{KafkaConfig, KafkaError};

/// What a sink connector subscribes to.
#[derive(Debug, Clone)]
pub enum Subscription {
    Topics(Vec<String>),
    /// A regular expression (Java syntax is close enough for the usual patterns).
    Regex(String),
}

/// Notes revoked partitions, so positions stop naming them.
#[derive(Default)]
pub struct FeedContext {
    revoked: Mutex<Vec<(String, i32)>>,
    assigned: Mutex<HashSet<(String, i32)>>,
}

impl ClientContext for FeedContext {
    fn error(&self, error: RdError, reason: &str) {
        if !matches!(
            error,
            RdError::PartitionEOF(_) | RdError::Global(RDKafkaErrorCode::PartitionEOF)
        ) {
            tracing::error!(error = %error, reason, "Kafka client error");
        }
    }
}

impl ConsumerContext for FeedContext {
    fn pre_rebalance(&self, _: &rdkafka::consumer::BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let mut r = self.revoked.lock().unwrap_or_else(|p| p.into_inner());
            let mut a = self.assigned.lock().unwrap_or_else(|p| p.into_inner());
            for e in tpl.elements() {
                r.push((e.topic().to_string(), e.partition()));
                a.remove(&(e.topic().to_string(), e.partition()));
            }
            info!(partitions = tpl.count(), "partitions revoked");
        }
    }

    fn post_rebalance(&self, _: &rdkafka::consumer::BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let mut a = self.assigned.lock().unwrap_or_else(|p| p.into_inner());
            for e in tpl.elements() {
                a.insert((e.topic().to_string(), e.partition()));
            }
            info!(partitions = tpl.count(), "partitions assigned");
        }
    }
}

type Feed = StreamConsumer<FeedContext>;

/// Creates the consumer of sink connector `name` (group `connect-<name>` unless
/// `consumer.group.id` / `consumer.override.group.id` says otherwise).
pub fn consumer(
    cfg: &KafkaConfig,
    props: &BTreeMap<String, String>,
) -> Result<Arc<Feed>, KafkaError> {
    let mut c = ClientConfig::new();
    // a member that died (kill -9) is noticed within seconds (heartbeats run on their
    // own thread), so its partitions move on quickly
    c.set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "3000")
        // a sink often starts before its source created the topics: see them within seconds
        .set("topic.metadata.refresh.interval.ms", "5000");
    for (k, v) in &cfg.consumer {
        c.set(k, v);
    }
    for (k, v) in props {
        if let Some(name) = k.strip_prefix("consumer.override.") {
            c.set(name, v);
        }
    }
    let group = c
        .get("group.id")
        .map(str::to_string)
        .unwrap_or_else(|| format!("connect-{}", cfg.connector));
    c.set("group.id", &group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed");
    if c.get("auto.offset.reset").is_none() {
        c.set("auto.offset.reset", "earliest");
    }
    let consumer: Feed = c
        .create_with_context(FeedContext::default())
        .map_err(|e| KafkaError::Client(e.to_string()))?;
    info!(connector = %cfg.connector, group = %group, "Kafka consumer created");
    Ok(Arc::new(consumer))
}

/// A sink connector's input: records from Kafka as batches for the runtime.
pub struct KafkaFeed {
    pub consumer: Arc<Feed>,
    pub subscription: Subscription,
    pub key: Box<dyn Converter>,
    pub value: Box<dyn Converter>,
    pub errors: Arc<dyn ErrantReporter>,
    pub max_batch: usize,
    /// Stop once every assigned partition reached its end (tests, one-shot loads).
    pub exit_at_end: bool,
}

impl KafkaFeed {
    fn convert(
        &mut self,
        m: &rdkafka::message::BorrowedMessage<'_>,
    ) -> Result<Option<ChangeEvent>, KafkaError> {
        let topic: Arc<str> = Arc::from(m.topic());
        let position = Position::Kafka(KafkaPosition {
            topic: Arc::clone(&topic),
            partition: m.partition(),
            offset: m.offset(),
        });
        let headers: Vec<(String, Vec<u8>)> = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        (
                            h.key.to_string(),
                            h.value.map(<[u8]>::to_vec).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let timestamp = m.timestamp().to_millis();
        let key = self
            .key
            .deserialize(&topic, m.key())
            .map_err(|e| (Stage::KeyConverter, e));
        let value = key.and_then(|k| {
            self.value
                .deserialize(&topic, m.payload())
                .map(|v| (k, v))
                .map_err(|e| (Stage::ValueConverter, e))
        });
        match value {
            Ok((key, value)) => Ok(Some(ChangeEvent {
                topic,
                key,
                value,
                headers,
                position,
                timestamp,
            })),
            Err((_, e)) if e.class() == ErrorClass::Retryable => {
                // a schema registry that does not answer: not the record's fault — the task
                // fails retryably and is restarted, the record read again
                Err(KafkaError::Read {
                    topic: m.topic().to_string(),
                    message: e.to_string(),
                })
            }
            Err((stage, e)) => {
                let bare = ChangeEvent {
                    topic,
                    key: None,
                    value: None,
                    headers: headers.clone(),
                    position,
                    timestamp,
                };
                let raw = RawRecord {
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec),
                    headers,
                };
                self.errors
                    .report(&bare, Some(&raw), e.failure(stage))
                    .map_err(|e| KafkaError::Read {
                        topic: m.topic().to_string(),
                        message: e.to_string(),
                    })?;
                Ok(None)
            }
        }
    }

    /// Consumes until the runtime stops it (or, with `exit_at_end`, every partition is read).
    pub async fn run(mut self, tx: mpsc::Sender<SourceMessage>) -> Result<(), KafkaError> {
        match &self.subscription {
            Subscription::Topics(t) => {
                let t: Vec<&str> = t.iter().map(String::as_str).collect();
                self.consumer.subscribe(&t)
            }
            Subscription::Regex(r) => self.consumer.subscribe(&[&format!("^{r}")]),
        }
        .map_err(|e| KafkaError::Client(format!("subscribe: {e}")))?;
        let consumer = Arc::clone(&self.consumer);
        let mut next: BTreeMap<(Arc<str>, i32), i64> = BTreeMap::new();
        let mut batch = Vec::with_capacity(self.max_batch);
        let mut dirty = false;
        loop {
            let msg = match consumer.recv().now_or_never() {
                Some(m) => Some(m),
                None => {
                    if dirty {
                        self.hand_over(&tx, &mut batch, &mut next).await?;
                        dirty = false;
                    }
                    if self.exit_at_end && self.finished(&next) {
                        return Ok(());
                    }
                    tokio::time::timeout(Duration::from_millis(200), consumer.recv())
                        .await
                        .ok()
                }
            };
            match msg {
                None => {}
                Some(Ok(m)) => {
                    next.insert((Arc::from(m.topic()), m.partition()), m.offset() + 1);
                    dirty = true;
                    if let Some(ev) = self.convert(&m)? {
                        batch.push(ev);
                    }
                    if batch.len() >= self.max_batch {
                        self.hand_over(&tx, &mut batch, &mut next).await?;
                        dirty = false;
                    }
                }
                Some(Err(RdError::PartitionEOF(_))) => {}
                Some(Err(e)) => {
                    warn!(error = %e, "Kafka consumer error");
                }
            }
        }
    }

    /// Every assigned partition read to its high watermark.
    fn finished(&self, next: &BTreeMap<(Arc<str>, i32), i64>) -> bool {
        let assigned = self
            .consumer
            .context()
            .assigned
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default();
        if assigned.is_empty() {
            return false;
        }
        let positions = self.consumer.position().ok();
        assigned.iter().all(|(t, p)| {
            let Ok((low, high)) = self
                .consumer
                .fetch_watermarks(t, *p, Duration::from_secs(5))
            else {
                return false;
            };
            let at = next.get(&(Arc::from(t.as_str()), *p)).copied().or_else(|| {
                match positions.as_ref()?.find_partition(t, *p)?.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                }
            });
            high <= low || at.is_some_and(|o| o >= high)
        })
    }

    async fn hand_over(
        &mut self,
        tx: &mpsc::Sender<SourceMessage>,
        batch: &mut Vec<ChangeEvent>,
        next: &mut BTreeMap<(Arc<str>, i32), i64>,
    ) -> Result<(), KafkaError> {
        let revoked: Vec<(String, i32)> = self
            .consumer
            .context()
            .revoked
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default();
        for (t, p) in revoked {
            next.remove(&(Arc::from(t.as_str()), p));
        }
        let position = Position::KafkaGroup(
            next.iter()
                .map(|((t, p), o)| KafkaPosition {
                    topic: Arc::clone(t),
                    partition: *p,
                    offset: *o,
                })
                .collect(),
        );
        let events = std::mem::replace(batch, Vec::with_capacity(self.max_batch));
        tx.send(SourceMessage::Batch { events, position })
            .await
            .map_err(|_| KafkaError::Client("the sink pipeline stopped".into()))
    }
}

impl From<KafkaError> for sluice_core::SourceError {
    fn from(e: KafkaError) -> Self {
        sluice_core::SourceError::of(e)
    }
}

/// The consumer group as an offset store: commits the next offsets of a
/// [`Position::KafkaGroup`].
pub struct GroupOffsets {
    pub consumer: Arc<Feed>,
}

impl OffsetStore for GroupOffsets {
    fn load(&self, _key: &OffsetKey) -> Result<Option<serde_json::Value>, OffsetStoreError> {
        Ok(None) // the group remembers where it is
    }

    fn commit(&mut self, _key: &OffsetKey, position: &Position) -> Result<(), OffsetStoreError> {
        let Position::KafkaGroup(parts) = position else {
            return Ok(());
        };
        if parts.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for k in parts.iter() {
            let _ = tpl.add_partition_offset(&k.topic, k.partition, Offset::Offset(k.offset));
        }
        match self.consumer.commit(&tpl, CommitMode::Sync) {
            Ok(()) => Ok(()),
            // this member lost its partitions (a rebalance, a poll interval exceeded): the
            // commit is refused, their new owner resumes from the last accepted one and
            // delivers the records since again — never fewer
            Err(RdError::ConsumerCommit(code))
                if matches!(
                    code,
                    RDKafkaErrorCode::UnknownMemberId
                        | RDKafkaErrorCode::IllegalGeneration
                        | RDKafkaErrorCode::RebalanceInProgress
                        | RDKafkaErrorCode::Fenced
                ) =>
            {
                warn!(error = %code, "offset commit refused after a rebalance; the records since the last commit will be delivered again");
                Ok(())
            }
            Err(e) => Err(OffsetStoreError::Io {
                path: "Kafka consumer group".into(),
                source: std::io::Error::other(e.to_string()),
            }),
        }
    }
}
