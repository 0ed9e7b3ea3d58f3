//! Kafka settings of one connector, read from the Connect/Debezium property names users already
//! have in their worker and connector configs.
//!
//! * `bootstrap.servers`; client settings pass through from `producer.*`,
//!   `producer.override.*` (connector-level, wins) and, for reading state, `consumer.*`.
//!   Java-client-only names that librdkafka does not know are skipped with a warning.
//! * `topic.creation.default.partitions` / `.replication.factor` / `.cleanup.policy` (and any
//!   other `topic.creation.default.*` topic config): data topics are created with these before
//!   the first record; when unset, topics are left to the broker's auto-creation, as in Connect.
//! * Exactly-once: `exactly.once.support=required` (connector) or
//!   `exactly.once.source.support=enabled` (worker) → a transactional producer, `transactional.id`
//!   `<group.id>-<connector>-0` as Connect names it (`transactional.id` overrides).

use std::collections::BTreeMap;

use rdkafka::ClientConfig;
use tracing::warn;

use crate::KafkaError;

/// Java producer/consumer settings with no librdkafka counterpart: dropped with a warning.
const JAVA_ONLY: &[&str] = &[
    "buffer.memory",
    "max.block.ms",
    "key.serializer",
    "value.serializer",
    "key.deserializer",
    "value.deserializer",
    "interceptor.classes",
    "metric.reporters",
    "delivery.timeout.ms.config",
    "max.request.size",
    "retry.backoff.max.ms",
    "partitioner.class",
    "default.api.timeout.ms",
];

/// How data topics are created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicCreation {
    pub partitions: i32,
    /// `-1`: the broker's default.
    pub replication_factor: i32,
    /// Topic configs (`cleanup.policy`, `retention.ms`, …).
    pub configs: BTreeMap<String, String>,
}

/// Everything the Kafka side of a connector needs.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    pub connector: String,
    pub bootstrap: String,
    /// Producer client settings after defaults and pass-through.
    pub producer: BTreeMap<String, String>,
    /// Consumer client settings for reading state topics.
    pub consumer: BTreeMap<String, String>,
    pub topic_creation: Option<TopicCreation>,
    /// `Some(transactional.id)` when exactly-once delivery is on.
    pub transactional_id: Option<String>,
}

impl KafkaConfig {
    /// `bootstrap` (from the command line) wins over `bootstrap.servers` in `props`.
    pub fn from_properties(
        connector: &str,
        props: &BTreeMap<String, String>,
        bootstrap: Option<&str>,
    ) -> Result<KafkaConfig, KafkaError> {
        let bootstrap = bootstrap
            .map(str::to_string)
            .or_else(|| props.get("bootstrap.servers").cloned())
            .filter(|b| !b.trim().is_empty())
            .ok_or_else(|| {
                KafkaError::Config(
                    "bootstrap.servers is required for Kafka (set it in the connector config or use --sink kafka:HOST:PORT)".into(),
                )
            })?;
        let mut producer = BTreeMap::new();
        for (k, v) in [
            ("acks", "all"),
            ("enable.idempotence", "true"),
            // the Java client's default partitioner for keyed records: the same key lands in the
            // same partition as with Kafka Connect, so per-key order and compaction agree
            ("partitioner", "murmur2_random"),
            ("linger.ms", "5"),
            // Debezium's JSON repeats its schemas in every record: lz4 cuts the bytes the
            // broker stores and serves several-fold for little CPU (consumers decompress
            // transparently); producer.compression.type=none restores Connect's default
            ("compression.type", "lz4"),
            // bounded memory for records awaiting acknowledgement (librdkafka's default is 1 GB)
            ("queue.buffering.max.kbytes", "65536"),
        ] {
            producer.insert(k.to_string(), v.to_string());
        }
        let mut consumer = BTreeMap::new();
        pass_through(props, "producer.", &mut producer);
        pass_through(props, "producer.override.", &mut producer);
        pass_through(props, "consumer.", &mut consumer);
        producer.insert("bootstrap.servers".into(), bootstrap.clone());
        consumer.insert("bootstrap.servers".into(), bootstrap.clone());

        let topic_creation = topic_creation(props)?;
        let eos = props
            .get("exactly.once.support")
            .is_some_and(|v| v.eq_ignore_ascii_case("required"))
            || props
                .get("exactly.once.source.support")
                .is_some_and(|v| v.eq_ignore_ascii_case("enabled"));
        let transactional_id = eos.then(|| {
            props.get("transactional.id").cloned().unwrap_or_else(|| {
                let group = props
                    .get("group.id")
                    .map(String::as_str)
                    .unwrap_or("sluice");
                format!("{group}-{connector}-0")
            })
        });
        if let Some(id) = &transactional_id {
            producer.insert("transactional.id".into(), id.clone());
            producer.insert("enable.idempotence".into(), "true".into());
        }
        Ok(KafkaConfig {
            connector: connector.to_string(),
            bootstrap,
            producer,
            consumer,
            topic_creation,
            transactional_id,
        })
    }

    pub(crate) fn producer_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        for (k, v) in &self.producer {
            c.set(k, v);
        }
        c
    }

    /// A producer config without transactions (for schema history and plain offset writes).
    pub(crate) fn plain_producer_config(&self) -> ClientConfig {
        let mut c = self.producer_config();
        c.remove("transactional.id");
        c
    }

    pub(crate) fn consumer_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        for (k, v) in &self.consumer {
            c.set(k, v);
        }
        c.set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            // assign() only, no group membership; librdkafka still wants an id
            .set(
                "group.id",
                format!("sluice-{}-state-reader", self.connector),
            );
        c
    }

    pub(crate) fn admin_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap);
        for (k, v) in &self.producer {
            if k.starts_with("security.") || k.starts_with("sasl.") || k.starts_with("ssl.") {
                c.set(k, v);
            }
        }
        c
    }
}

fn pass_through(
    props: &BTreeMap<String, String>,
    prefix: &str,
    out: &mut BTreeMap<String, String>,
) {
    for (k, v) in props {
        let Some(name) = k.strip_prefix(prefix) else {
            continue;
        };
        // `producer.override.x` also starts with `producer.`: handled by its own pass
        if prefix == "producer." && name.starts_with("override.") {
            continue;
        }
        if JAVA_ONLY.contains(&name) {
            warn!(
                property = %k,
                "Java Kafka client setting has no equivalent here; ignored"
            );
            continue;
        }
        out.insert(name.to_string(), v.clone());
    }
}

fn topic_creation(props: &BTreeMap<String, String>) -> Result<Option<TopicCreation>, KafkaError> {
    let prefix = "topic.creation.default.";
    if !props.keys().any(|k| k.starts_with(prefix)) {
        return Ok(None);
    }
    let number = |k: &str| -> Result<i32, KafkaError> {
        match props.get(&format!("{prefix}{k}")) {
            None => Ok(-1),
            Some(v) => v.trim().parse().map_err(|_| {
                KafkaError::Config(format!(
                    "{prefix}{k}={v:?} is not a number (use -1 for the broker default)"
                ))
            }),
        }
    };
    let configs = props
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_string(), v.clone())))
        .filter(|(k, _)| k != "partitions" && k != "replication.factor")
        .collect();
    Ok(Some(TopicCreation {
        partitions: number("partitions")?,
        replication_factor: number("replication.factor")?,
        configs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn producer_defaults_keep_keys_in_javas_partitions_and_overrides_win() {
        let c = KafkaConfig::from_properties(
            "inv",
            &props(&[
                ("bootstrap.servers", "127.0.0.1:9092"),
                ("producer.linger.ms", "20"),
                ("producer.override.linger.ms", "50"),
                ("producer.buffer.memory", "1000"),
            ]),
            None,
        )
        .unwrap();
        assert_eq!(c.producer["partitioner"], "murmur2_random");
        assert_eq!(c.producer["enable.idempotence"], "true");
        assert_eq!(c.producer["linger.ms"], "50");
        assert!(!c.producer.contains_key("buffer.memory"));
        assert!(!c.producer.contains_key("override.linger.ms"));
        assert_eq!(c.transactional_id, None);
    }

    #[test]
    fn exactly_once_names_the_transactional_id_like_connect() {
        let c = KafkaConfig::from_properties(
            "inv",
            &props(&[
                ("exactly.once.support", "required"),
                ("group.id", "connect-cluster"),
            ]),
            Some("h:1"),
        )
        .unwrap();
        assert_eq!(c.transactional_id.as_deref(), Some("connect-cluster-inv-0"));
        assert_eq!(c.bootstrap, "h:1");
    }

    #[test]
    fn topic_creation_reads_connect_defaults() {
        let c = KafkaConfig::from_properties(
            "inv",
            &props(&[
                ("bootstrap.servers", "h:1"),
                ("topic.creation.default.partitions", "3"),
                ("topic.creation.default.cleanup.policy", "compact"),
            ]),
            None,
        )
        .unwrap();
        let t = c.topic_creation.unwrap();
        assert_eq!((t.partitions, t.replication_factor), (3, -1));
        assert_eq!(t.configs["cleanup.policy"], "compact");
        assert!(KafkaConfig::from_properties("inv", &props(&[]), None).is_err());
    }
}
