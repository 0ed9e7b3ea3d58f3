//! Building sink connectors (and the error handling of any connector) from their configs.

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use sluice_connect::transforms::Chain;
use sluice_core::Sink;
use sluice_kafka::KafkaConfig;
use sluice_runtime::errors::{ErrorHandler, ErrorPolicy};
use sluice_runtime::stage::{Topics, TransformSink};
use sluice_runtime::{ConnectorConfig, Kind, SinkKind};
use sluice_sinks::{ElasticsearchConfig, ElasticsearchSink};

/// A connector's error handling (`errors.*`), with its dead letter queue in Kafka when the
/// connector has Kafka settings, else in `<data_dir>/dlq/`.
pub async fn error_handler(
    config: &ConnectorConfig,
    kafka: Option<&KafkaConfig>,
    data_dir: &Path,
) -> Result<Arc<ErrorHandler>> {
    let policy = ErrorPolicy::from_properties(&config.props)
        .map_err(|e| anyhow!("connector {}: {e}", config.name))?;
    ErrorHandler::new(&config.name, policy, kafka, data_dir)
        .await
        .map_err(|e| anyhow!("connector {}: {e}", config.name))
}

/// A connector's transform chain (`transforms`, `predicates`).
pub fn chain(config: &ConnectorConfig) -> Result<Chain> {
    Chain::from_config(&config.props).with_context(|| format!("connector {}", config.name))
}

/// Kafka settings of a connector that names `bootstrap.servers` (for its dead letter queue).
pub fn kafka_of(config: &ConnectorConfig) -> Result<Option<KafkaConfig>> {
    if !config.props.contains_key("bootstrap.servers") {
        return Ok(None);
    }
    KafkaConfig::from_properties(&config.name, &config.props, None)
        .map(Some)
        .with_context(|| format!("connector {}", config.name))
}

/// Checks a sink connector's config without connecting anywhere.
pub fn check(config: &ConnectorConfig) -> Result<()> {
    let name = &config.name;
    Topics::from_properties(&config.props).map_err(|e| anyhow!("connector {name}: {e}"))?;
    ErrorPolicy::from_properties(&config.props).map_err(|e| anyhow!("connector {name}: {e}"))?;
    chain(config)?;
    match config.kind {
        Kind::Sink(SinkKind::Elasticsearch) => {
            ElasticsearchConfig::from_properties(name, &config.props).map(|_| ())
        }
        Kind::Sink(SinkKind::Jdbc) => {
            sluice_jdbc::JdbcSinkConfig::from_properties(name, &config.props).map(|_| ())
        }
        Kind::Source(_) => Err("not a sink connector".into()),
    }
    .map_err(|e| anyhow!("connector {name}: {e}"))
}

/// A sink connector: its topics, and the sink behind its transforms.
pub async fn build(config: &ConnectorConfig, data_dir: &Path) -> Result<(Topics, Box<dyn Sink>)> {
    let name = &config.name;
    let Kind::Sink(kind) = config.kind else {
        anyhow::bail!("connector {name} is not a sink connector");
    };
    let topics =
        Topics::from_properties(&config.props).map_err(|e| anyhow!("connector {name}: {e}"))?;
    let kafka = kafka_of(config)?;
    let errors = error_handler(config, kafka.as_ref(), data_dir).await?;
    let inner: Box<dyn Sink> = match kind {
        SinkKind::Elasticsearch => {
            config.warn_unknown(sluice_sinks::elasticsearch::config::KNOWN_PROPERTIES);
            let cfg = ElasticsearchConfig::from_properties(name, &config.props)
                .map_err(|e| anyhow!("connector {name}: {e}"))?;
            Box::new(
                ElasticsearchSink::new(cfg, errors.clone())
                    .with_context(|| format!("connector {name}"))?,
            )
        }
        SinkKind::Jdbc => {
            config.warn_unknown(sluice_jdbc::sink::config::KNOWN_PROPERTIES);
            let cfg = sluice_jdbc::JdbcSinkConfig::from_properties(name, &config.props)
                .map_err(|e| anyhow!("connector {name}: {e}"))?;
            Box::new(
                sluice_jdbc::JdbcSink::connect(cfg, errors.clone())
                    .await
                    .with_context(|| format!("connector {name}"))?,
            )
        }
    };
    Ok((
        topics,
        Box::new(TransformSink::new(chain(config)?, errors, inner)),
    ))
}
