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

/// How long to wait for a topic's metadata to name a leader for every partition.
const METADATA_PATIENCE: Duration = Duration::from_secs(10);

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
/// as empty; a topic whose metadata the cluster cannot give yet (no leader, a broker
/// restarting) is an error, never "empty": reading a state topic as empty would start every
/// connector over from nothing.
pub fn read_topic(cfg: &KafkaConfig, topic: &str) -> Result<Vec<StateRecord>, KafkaError> {
    let err = |message: String| KafkaError::Read {
        topic: topic.to_string(),
        message,
    };
    let consumer: BaseConsumer<EndIsNews> = cfg
        .consumer_config()
        .create_with_context(EndIsNews)
        .map_err(|e| KafkaError::Client(e.to_string()))?;
    let partitions = partitions(&consumer, topic)?;
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

/// What the cluster's metadata says of a topic.
#[derive(Debug, PartialEq)]
enum Layout {
    /// The topic does not exist.
    Missing,
    /// The topic exists and every partition has a leader.
    Ready(Vec<i32>),
    /// The metadata is not usable yet (why).
    NotYet(String),
}

/// Reads one metadata answer: the topic's error code and each partition's (id, error code).
fn layout(
    topic_error: Option<RDKafkaErrorCode>,
    partitions: &[(i32, Option<RDKafkaErrorCode>)],
) -> Layout {
    match topic_error {
        Some(RDKafkaErrorCode::UnknownTopicOrPartition) => Layout::Missing,
        Some(e) => Layout::NotYet(format!("topic metadata: {e}")),
        None if partitions.is_empty() => Layout::NotYet("the topic has no partitions yet".into()),
        None => match partitions.iter().find_map(|(p, e)| e.map(|e| (p, e))) {
            Some((p, e)) => Layout::NotYet(format!("partition {p}: {e}")),
            None => Layout::Ready(partitions.iter().map(|(p, _)| *p).collect()),
        },
    }
}

/// The partitions of `topic` (empty when it does not exist), waiting up to
/// [`METADATA_PATIENCE`] for a usable answer.
fn partitions<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
) -> Result<Vec<i32>, KafkaError> {
    let started = Instant::now();
    loop {
        let why = match consumer.fetch_metadata(Some(topic), Duration::from_secs(30)) {
            Err(e) => format!("metadata: {e}"),
            Ok(metadata) => {
                let Some(t) = metadata.topics().iter().find(|t| t.name() == topic) else {
                    return Ok(Vec::new());
                };
                let parts: Vec<(i32, Option<RDKafkaErrorCode>)> = t
                    .partitions()
                    .iter()
                    .map(|p| (p.id(), p.error().map(RDKafkaErrorCode::from)))
                    .collect();
                match layout(t.error().map(RDKafkaErrorCode::from), &parts) {
                    Layout::Missing => return Ok(Vec::new()),
                    Layout::Ready(ids) => return Ok(ids),
                    Layout::NotYet(why) => why,
                }
            }
        };
        if started.elapsed() >= METADATA_PATIENCE {
            return Err(KafkaError::Read {
                topic: topic.to_string(),
                message: format!(
                    "{why} (still so after {METADATA_PATIENCE:?}; is every broker up?)"
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RDKafkaErrorCode::*;

    #[test]
    fn an_unknown_topic_reads_as_missing() {
        assert_eq!(layout(Some(UnknownTopicOrPartition), &[]), Layout::Missing);
    }

    #[test]
    fn a_topic_with_a_leader_for_every_partition_is_ready() {
        assert_eq!(
            layout(None, &[(0, None), (1, None)]),
            Layout::Ready(vec![0, 1])
        );
    }

    #[test]
    fn a_partition_without_a_leader_is_not_yet_readable_rather_than_empty() {
        let l = layout(None, &[(0, None), (1, Some(LeaderNotAvailable))]);
        assert!(
            matches!(l, Layout::NotYet(ref why) if why.starts_with("partition 1")),
            "{l:?}"
        );
    }

    #[test]
    fn any_other_topic_error_is_not_yet_readable_rather_than_empty() {
        assert!(matches!(
            layout(Some(LeaderNotAvailable), &[]),
            Layout::NotYet(_)
        ));
        assert!(matches!(
            layout(Some(BrokerTransportFailure), &[(0, None)]),
            Layout::NotYet(_)
        ));
    }

    #[test]
    fn a_topic_listed_without_partitions_is_not_yet_readable() {
        assert!(matches!(layout(None, &[]), Layout::NotYet(_)));
    }
}
