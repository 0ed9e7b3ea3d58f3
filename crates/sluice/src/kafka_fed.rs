//! `sluice run sink.json …` with no source connector: each sink connector reads its topics
//! from Kafka in consumer group `connect-<name>` and commits offsets to the group only after
//! its sink is durable (see `sluice_kafka::consumer`).

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
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
        let (feed, sink, mut store) =
            build(&config, &kafka, &Default::default(), exit_at_end, data_dir).await?;
        let connector_metrics = metrics.connector(&config.name, Arc::new(SourceHealth::default()));
        let mut stop = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let key = OffsetKey {
                connector: config.name.clone(),
                server: String::new(),
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
        }));
    }
    join_all(tasks).await
}
