//! Building sink connectors (and the error handling of any connector) from their configs.

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use sluice_connect::transforms::Chain;
use sluice_core::Sink;
use sluice_kafka::KafkaConfig;
use sluice_runtime::errors::{ErrorHandler, ErrorPolicy};
use sluice_runtime::stage::{Topics, TransformSink};
use sluice_runtime::ConnectorConfig;

use crate::plugins::{self, Plugin, SinkPlugin};

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
    sink_plugin(config)?
        .check(name, &config.props)
        .map_err(|e| anyhow!("connector {name}: {e}"))
}

/// A sink connector: its topics, and the sink behind its transforms.
pub async fn build(config: &ConnectorConfig, data_dir: &Path) -> Result<(Topics, Box<dyn Sink>)> {
    let name = &config.name;
    let plugin = sink_plugin(config)?;
    let topics =
        Topics::from_properties(&config.props).map_err(|e| anyhow!("connector {name}: {e}"))?;
    let kafka = kafka_of(config)?;
    let errors = error_handler(config, kafka.as_ref(), data_dir).await?;
    config.warn_unknown(plugin.known_properties());
    let inner = plugin
        .build(name, &config.props, Arc::clone(&errors))
        .await?;
    Ok((
        topics,
        Box::new(TransformSink::new(chain(config)?, errors, inner)),
    ))
}

/// The sink plugin of a sink connector.
fn sink_plugin(config: &ConnectorConfig) -> Result<&'static dyn SinkPlugin> {
    match plugins::lookup(config)? {
        Plugin::Sink(p) => Ok(p),
        Plugin::Source(_) => anyhow::bail!(
            "connector {} is a source connector ({}), not a sink connector",
            config.name,
            config.class
        ),
    }
}
