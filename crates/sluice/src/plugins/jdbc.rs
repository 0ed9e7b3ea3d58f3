//! Confluent's JDBC connectors (`sluice-jdbc`): the query-based source (one offset per table)
//! and the JDBC sink (Confluent's and Debezium's class names).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use async_trait::async_trait;
use sluice_core::Sink;
use sluice_jdbc::{JdbcSinkConfig, JdbcSourceConfig};
use sluice_runtime::errors::ErrorHandler;
use sluice_runtime::{ConnectorConfig, PipelineStats};

use super::{SinkPlugin, Source, SourcePlugin, SourceRun};

pub(crate) struct JdbcSource;

impl SourcePlugin for JdbcSource {
    fn classes(&self) -> &'static [&'static str] {
        &[
            "io.confluent.connect.jdbc.JdbcSourceConnector",
            "JdbcSourceConnector",
            "jdbc-source",
        ]
    }

    fn known_properties(&self) -> &'static [&'static str] {
        sluice_jdbc::source::config::KNOWN_PROPERTIES
    }

    fn configure(&self, config: &ConnectorConfig) -> Result<Box<dyn Source>> {
        let cfg = JdbcSourceConfig::from_properties(&config.name, &config.props)
            .map_err(|e| anyhow!("connector {}: {e}", config.name))?;
        Ok(Box::new(Settings(cfg)))
    }
}

struct Settings(JdbcSourceConfig);

#[async_trait]
impl Source for Settings {
    fn topic_prefix(&self) -> &str {
        &self.0.topic_prefix
    }

    /// Connect's JDBC source keeps one partition (and offset) per table.
    async fn run(self: Box<Self>, run: SourceRun) -> Result<PipelineStats> {
        let mut offsets = BTreeMap::new();
        for partition in sluice_jdbc::JdbcSource::partitions(&self.0) {
            if let Some(o) = run.store.load(&run.key.with_partition(&partition))? {
                offsets.insert(partition, o);
            }
        }
        let source = sluice_jdbc::JdbcSource::new(self.0, offsets)
            .exit_when_caught_up(run.exit_when_caught_up);
        run.pipeline(move |tx| source.run(tx)).await
    }
}

pub(crate) struct JdbcSink;

#[async_trait]
impl SinkPlugin for JdbcSink {
    fn classes(&self) -> &'static [&'static str] {
        &[
            "io.confluent.connect.jdbc.JdbcSinkConnector",
            "io.debezium.connector.jdbc.JdbcSinkConnector",
            "JdbcSinkConnector",
            "jdbc-sink",
        ]
    }

    fn known_properties(&self) -> &'static [&'static str] {
        sluice_jdbc::sink::config::KNOWN_PROPERTIES
    }

    fn check(&self, name: &str, props: &BTreeMap<String, String>) -> Result<(), String> {
        JdbcSinkConfig::from_properties(name, props).map(|_| ())
    }

    async fn build(
        &self,
        name: &str,
        props: &BTreeMap<String, String>,
        errors: Arc<ErrorHandler>,
    ) -> Result<Box<dyn Sink>> {
        let cfg = JdbcSinkConfig::from_properties(name, props)
            .map_err(|e| anyhow!("connector {name}: {e}"))?;
        Ok(Box::new(
            sluice_jdbc::JdbcSink::connect(cfg, errors)
                .await
                .with_context(|| format!("connector {name}"))?,
        ))
    }
}
