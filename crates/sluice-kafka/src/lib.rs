//! sluice on Kafka: Kafka is the log and the store of connector state.
//!
//! * [`KafkaSink`]: change events as Kafka records, one topic per table as Debezium names them,
//!   key and value through the configured converter, tombstones as null values. The producer
//!   is idempotent and partitions keys like the Java client (murmur2), so per-key order and
//!   partition placement equal Kafka Connect's.
//! * [`KafkaOffsetStore`]: Connect's offsets topic format (key
//!   `["<connector>",{"server":"<prefix>"}]`, value the Debezium offset JSON), compacted.
//! * [`KafkaHistoryStore`]: the schema history topic, one record per change, replayed at start.
//! * [`KafkaFeed`] / [`GroupOffsets`]: sink connectors reading Kafka in a consumer group,
//!   committing offsets only once the sink is durable.
//!
//! Acknowledgement. At-least-once (default): records are sent without waiting; each carries its
//! batch number, and [`KafkaProducer::durable_batches`] counts the leading batches whose every
//! record has a successful delivery report. The runtime commits the position of the newest such
//! batch (the offset record itself is produced and flushed before `commit` returns). A crash
//! repeats at most the records after the last commit, never loses one; a failed delivery stops
//! the connector before its position is committed.
//!
//! Exactly-once (`exactly.once.support=required`): sink and offset store share one
//! transactional producer ([`KafkaProducer`]). The first record after a commit begins a
//! transaction; `OffsetStore::commit` adds the offset record to the same transaction and commits
//! it, so the events written since the last commit and the offset that covers them become
//! visible together or not at all. At start `init_transactions` fences any older instance with
//! the same `transactional.id` and aborts its open transaction before the offsets are read
//! (with `read_committed`).

mod admin;
pub mod config;
pub mod consumer;
mod history;
mod offsets;
mod producer;
mod reader;
mod sink;

pub use admin::{delete_topic, ensure_topic, TopicSpec};
pub use config::KafkaConfig;
pub use consumer::{GroupOffsets, KafkaFeed, Subscription};
pub use history::KafkaHistoryStore;
pub use offsets::KafkaOffsetStore;
pub use producer::KafkaProducer;
pub use reader::{read_topic, StateRecord};
pub use sink::{debezium_context_headers, KafkaSink};

use sluice_core::{ErrorClass, Retryable};

/// Kafka problems, each naming what to check.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("Kafka configuration: {0}")]
    Config(String),
    #[error("cannot create the Kafka client: {0} (check the producer./consumer. settings)")]
    Client(String),
    #[error("Kafka topic {topic}: {message}")]
    Topic { topic: String, message: String },
    #[error("Kafka delivery failed: {0} (check the broker is up and the topic accepts writes)")]
    Delivery(String),
    #[error("Kafka transaction failed: {0}")]
    Transaction(String),
    #[error("reading Kafka topic {topic}: {message}")]
    Read { topic: String, message: String },
    #[error("Kafka topic {topic} holds an invalid record at partition {partition} offset {offset}: {message}")]
    Corrupt {
        topic: String,
        partition: i32,
        offset: i64,
        message: String,
    },
}

impl Retryable for KafkaError {
    fn class(&self) -> ErrorClass {
        match self {
            KafkaError::Delivery(_) | KafkaError::Read { .. } => ErrorClass::Retryable,
            _ => ErrorClass::Fatal,
        }
    }
}
