//! Reads a whole state topic (offsets, schema history) from the beginning to its current end.
//!
//! All partitions are assigned (no consumer group) from the beginning with `read_committed`,
//! and reading stops when every partition has reported end-of-partition. Under `read_committed`
//! the end is the last stable offset: records of a transaction still open are not read, and
//! aborted ones never are.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};

use crate::{KafkaConfig, KafkaError};

/// How long reading a state topic may take.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// One record of a state topic.
#[derive(Debug, Clone)]
pub struct StateRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
}

/// A consumer context for which reaching a partition's end is news, not an error to log.
pub struct EndIsNews;

impl ClientContext for EndIsNews {
    fn error(&self, error: RdError, reason: &str) {
        if !matches!(
            error,
            RdError::PartitionEOF(_) | RdError::Global(RDKafkaErrorCode::PartitionEOF)
        ) {
            tracing::error!(error = %error, reason, "Kafka client error");
        }
    }
}

impl ConsumerContext for EndIsNews {}

/// Every record of `topic`, in partition then offset order. A topic that does not exist reads
/// as empty.
pub fn read_topic(cfg: &KafkaConfig, topic: &str) -> Result<Vec<StateRecord>, KafkaError> {
    let err = |message: String| KafkaError::Read {
        topic: topic.to_string(),
        message,
    };
    let consumer: BaseConsumer<EndIsNews> = cfg
        .consumer_config()
        .create_with_context(EndIsNews)
        .map_err(|e| KafkaError::Client(e.to_string()))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .map_err(|e| err(format!("metadata: {e}")))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Ok(Vec::new());
    }
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        tpl.add_partition_offset(topic, *p, Offset::Beginning)
            .map_err(|e| err(e.to_string()))?;
    }
    consumer.assign(&tpl).map_err(|e| err(e.to_string()))?;
    let mut at_end: HashSet<i32> = HashSet::new();
    let mut records = Vec::new();
    let started = Instant::now();
    while at_end.len() < partitions.len() {
        if started.elapsed() > READ_TIMEOUT {
            return Err(err(format!(
                "did not reach the end of {} partition(s) within {READ_TIMEOUT:?}",
                partitions.len() - at_end.len()
            )));
        }
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Ok(m)) => {
                at_end.remove(&m.partition());
                records.push(StateRecord {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    payload: m.payload().map(<[u8]>::to_vec),
                })
            }
            Some(Err(RdError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(e)) => return Err(err(e.to_string())),
        }
    }
    records.sort_by_key(|r| (r.partition, r.offset));
    Ok(records)
}
