//! `sluice run sink.json …` with no source connector: each sink connector reads its topics
//! from Kafka in consumer group `connect-<name>` and commits offsets to the group only after
//! its sink is durable (see `sluice_kafka::consumer`).

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value as Json};
use sluice_core::{OffsetKey, SourceHealth};
use sluice_kafka::{GroupOffsets, KafkaConfig, KafkaFeed, Subscription};
use sluice_runtime::stage::Topics;
use sluice_runtime::{run_pipeline, ConnectorConfig, Metrics, PipelineSettings};
use tokio::sync::Mutex;

use crate::run_cmd::{join_all, serve_http, stop_on_signal};
use crate::sinks;

/// Kafka settings of a sink connector reading Kafka.
pub fn kafka_config(config: &ConnectorConfig, bootstrap: Option<&str>) -> Result<KafkaConfig> {
    KafkaConfig::from_properties(&config.name, &config.props, bootstrap)
        .with_context(|| format!("connector {}", config.name))
}

/// Builds one Kafka-fed sink connector's input, sink and group offsets.
pub async fn build(
    config: &ConnectorConfig,
    kafka: &KafkaConfig,
    worker: &std::collections::BTreeMap<String, String>,
    exit_at_end: bool,
    data_dir: &Path,
) -> Result<(KafkaFeed, Box<dyn sluice_core::Sink>, GroupOffsets)> {
    let name = &config.name;
    let (topics, sink) = sinks::build(config, data_dir).await?;
    let consumer = sluice_kafka::consumer::consumer(kafka, &config.props)
        .with_context(|| format!("connector {name}"))?;
    let errors = sinks::error_handler(config, Some(kafka), data_dir).await?;
    let conv = |is_key| {
        sluice_connect::converter::for_connector(&config.props, worker, is_key)
            .map_err(|e| anyhow!("connector {name}: {e}"))
    };
    let feed = KafkaFeed {
        consumer: Arc::clone(&consumer),
        subscription: match topics {
            Topics::List(l) => Subscription::Topics(l),
            Topics::Regex(r) => Subscription::Regex(
                r.as_str()
                    .trim_start_matches("^(?:")
                    .trim_end_matches(")$")
                    .to_string(),
            ),
        },
        key: conv(true)?,
        value: conv(false)?,
        errors,
        max_batch: 2048,
        exit_at_end,
    };
    Ok((feed, sink, GroupOffsets { consumer }))
}

pub async fn run(
    configs: Vec<ConnectorConfig>,
    bootstrap: Option<&str>,
    exit_at_end: bool,
    data_dir: &Path,
    http: Option<std::net::SocketAddr>,
) -> Result<()> {
    let metrics = Arc::new(Metrics::default());
    serve_http(http, &metrics).await?;
    let stop_rx = stop_on_signal();
    let mut tasks = Vec::new();
    for config in configs {
        let kafka = kafka_config(&config, bootstrap)?;
        let built = build(&config, &kafka, &Default::default(), exit_at_end, data_dir).await?;
        tasks.push(tokio::spawn(drive(
            config,
            built,
            stop_rx.clone(),
            Arc::clone(&metrics),
        )));
    }
    join_all(tasks).await
}

/// Runs one Kafka-fed sink connector until `stop` turns true or it fails (the worker).
pub async fn run_one(
    config: ConnectorConfig,
    bootstrap: &str,
    worker: &std::collections::BTreeMap<String, String>,
    stop: tokio::sync::watch::Receiver<bool>,
    data_dir: &Path,
    metrics: &Arc<Metrics>,
) -> Result<()> {
    let kafka = kafka_config(&config, Some(bootstrap))?;
    let built = build(&config, &kafka, worker, false, data_dir).await?;
    drive(config, built, stop, Arc::clone(metrics))
        .await
        .map(|_| ())
}

/// The pipeline of one built sink connector: the feed into the sink, group offsets committed
/// after the sink is durable, until `stop` turns true or it fails.
async fn drive(
    config: ConnectorConfig,
    (feed, sink, mut store): (KafkaFeed, Box<dyn sluice_core::Sink>, GroupOffsets),
    mut stop: tokio::sync::watch::Receiver<bool>,
    metrics: Arc<Metrics>,
) -> Result<sluice_runtime::PipelineStats> {
    let connector_metrics = metrics.connector(&config.name, Arc::new(SourceHealth::default()));
    let key = OffsetKey {
        connector: config.name.clone(),
        server: String::new(),
        partition: None,
    };
    run_pipeline(
        move |tx| feed.run(tx),
        PipelineSettings {
            queue_batches: 4,
            commit_every: std::time::Duration::from_secs(1),
            metrics: connector_metrics,
        },
        Arc::new(Mutex::new(sink)),
        &mut store,
        &key,
        async move {
            let _ = stop.wait_for(|s| *s).await;
        },
    )
    .await
    .with_context(|| format!("connector {}", config.name))
}

/// A consumer in a sink connector's group (not subscribed), the group's name, and the topic
/// partitions the connector reads.
struct GroupClient {
    consumer: rdkafka::consumer::BaseConsumer,
    group: String,
    partitions: Vec<(String, i32)>,
}

/// A consumer in the connector's group, not subscribed: for reading and changing its offsets
/// while the connector is stopped.
fn group_client(config: &ConnectorConfig, bootstrap: &str) -> Result<GroupClient> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let kafka = kafka_config(config, Some(bootstrap))?;
    let group = config
        .get("consumer.override.group.id")
        .map(str::to_string)
        .unwrap_or_else(|| format!("connect-{}", config.name));
    let mut c = rdkafka::ClientConfig::new();
    for (k, v) in &kafka.consumer {
        c.set(k, v);
    }
    c.set("group.id", &group).set("enable.auto.commit", "false");
    let consumer: BaseConsumer = c.create().context("Kafka consumer")?;
    let topics = Topics::from_properties(&config.props).map_err(|e| anyhow!("{e}"))?;
    let md = consumer
        .fetch_metadata(None, std::time::Duration::from_secs(10))
        .context("Kafka metadata")?;
    let mut parts = Vec::new();
    for t in md.topics() {
        if topics.matches(t.name()) {
            for p in t.partitions() {
                parts.push((t.name().to_string(), p.id()));
            }
        }
    }
    Ok(GroupClient {
        consumer,
        group,
        partitions: parts,
    })
}

/// The committed offsets of a sink connector's group, as Connect's REST API shows them.
pub async fn group_offsets(config: &ConnectorConfig, bootstrap: &str) -> Result<Vec<Json>> {
    use rdkafka::consumer::Consumer;
    let GroupClient {
        consumer,
        partitions: parts,
        ..
    } = group_client(config, bootstrap)?;
    let mut tpl = rdkafka::TopicPartitionList::new();
    for (t, p) in &parts {
        tpl.add_partition(t, *p);
    }
    let committed = consumer
        .committed_offsets(tpl, std::time::Duration::from_secs(10))
        .context("reading committed offsets")?;
    Ok(committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            rdkafka::Offset::Offset(o) => Some(json!({
                "partition": {"kafka_topic": e.topic(), "kafka_partition": e.partition()},
                "offset": {"kafka_offset": o},
            })),
            _ => None,
        })
        .collect())
}

/// Sets a stopped sink connector's group offsets (`{"kafka_offset": n}`); a null offset
/// removes every offset of the group (Kafka cannot delete one partition's alone here).
pub async fn alter_group_offsets(
    config: &ConnectorConfig,
    bootstrap: &str,
    entries: &[Json],
) -> Result<()> {
    use rdkafka::consumer::{CommitMode, Consumer};
    if entries.iter().any(|e| e["offset"].is_null()) {
        return reset_group_offsets(config, bootstrap).await;
    }
    let consumer = group_client(config, bootstrap)?.consumer;
    let mut tpl = rdkafka::TopicPartitionList::new();
    for e in entries {
        let topic = e["partition"]["kafka_topic"].as_str().ok_or_else(|| {
            anyhow!("a sink offset partition needs \"kafka_topic\" and \"kafka_partition\"")
        })?;
        let partition = e["partition"]["kafka_partition"]
            .as_i64()
            .ok_or_else(|| anyhow!("a sink offset partition needs \"kafka_partition\""))?;
        let offset = e["offset"]["kafka_offset"]
            .as_i64()
            .ok_or_else(|| anyhow!("a sink offset needs \"kafka_offset\""))?;
        tpl.add_partition_offset(topic, partition as i32, rdkafka::Offset::Offset(offset))
            .map_err(|e| anyhow!("{e}"))?;
    }
    consumer
        .commit(&tpl, CommitMode::Sync)
        .context("committing the offsets")
}

/// Removes every offset of a stopped sink connector's group: it starts again per
/// `auto.offset.reset` (earliest).
pub async fn reset_group_offsets(config: &ConnectorConfig, bootstrap: &str) -> Result<()> {
    use rdkafka::admin::{AdminClient, AdminOptions};
    let group = group_client(config, bootstrap)?.group;
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .context("Kafka admin client")?;
    let r = admin
        .delete_groups(&[&group], &AdminOptions::new())
        .await
        .context("deleting the consumer group")?;
    for g in r {
        if let Err((name, code)) = g {
            if code != rdkafka::types::RDKafkaErrorCode::GroupIdNotFound {
                bail!("cannot delete consumer group {name}: {code}");
            }
        }
    }
    Ok(())
}
