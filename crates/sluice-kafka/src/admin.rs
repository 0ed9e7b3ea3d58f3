//! Topic creation through the admin API.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use tracing::info;

use crate::{KafkaConfig, KafkaError};

/// A topic to create if it does not exist.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    pub name: String,
    /// `-1`: the broker's default.
    pub partitions: i32,
    /// `-1`: the broker's default.
    pub replication_factor: i32,
    pub configs: BTreeMap<String, String>,
}

/// Creates `spec` unless it exists already.
pub async fn ensure_topic(cfg: &KafkaConfig, spec: &TopicSpec) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = cfg
        .admin_config()
        .create()
        .map_err(|e| KafkaError::Client(e.to_string()))?;
    let mut topic = NewTopic::new(
        &spec.name,
        spec.partitions,
        TopicReplication::Fixed(spec.replication_factor),
    );
    for (k, v) in &spec.configs {
        topic = topic.set(k, v);
    }
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics([&topic], &opts)
        .await
        .map_err(|e| KafkaError::Topic {
            topic: spec.name.clone(),
            message: format!("cannot create it: {e}"),
        })?;
    for r in results {
        match r {
            Ok(name) => {
                info!(topic = %name, partitions = spec.partitions, "topic created")
            }
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(KafkaError::Topic {
                    topic: name,
                    message: format!("cannot create it: {code} (create it by hand, or fix topic.creation.* / *.replication.factor)"),
                })
            }
        }
    }
    Ok(())
}

/// Deletes `topic`; `false` if it did not exist.
pub async fn delete_topic(cfg: &KafkaConfig, topic: &str) -> Result<bool, KafkaError> {
    let admin: AdminClient<DefaultClientContext> = cfg
        .admin_config()
        .create()
        .map_err(|e| KafkaError::Client(e.to_string()))?;
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .delete_topics(&[topic], &opts)
        .await
        .map_err(|e| KafkaError::Topic {
            topic: topic.to_string(),
            message: format!("cannot delete it: {e}"),
        })?;
    match results.into_iter().next() {
        Some(Ok(_)) => Ok(true),
        Some(Err((_, RDKafkaErrorCode::UnknownTopicOrPartition))) | None => Ok(false),
        Some(Err((name, code))) => Err(KafkaError::Topic {
            topic: name,
            message: format!("cannot delete it: {code}"),
        }),
    }
}
