//! Confluent's Elasticsearch sink (`sluice-sinks`), for Elasticsearch and OpenSearch.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use async_trait::async_trait;
use sluice_core::Sink;
use sluice_runtime::errors::ErrorHandler;
use sluice_sinks::{ElasticsearchConfig, ElasticsearchSink};

use super::SinkPlugin;

pub(crate) struct Elasticsearch;

#[async_trait]
impl SinkPlugin for Elasticsearch {
    fn classes(&self) -> &'static [&'static str] {
        &[
            "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
            "ElasticsearchSinkConnector",
            "elasticsearch",
        ]
    }

    fn known_properties(&self) -> &'static [&'static str] {
        sluice_sinks::elasticsearch::config::KNOWN_PROPERTIES
    }

    fn check(&self, name: &str, props: &BTreeMap<String, String>) -> Result<(), String> {
        ElasticsearchConfig::from_properties(name, props).map(|_| ())
    }

    async fn build(
        &self,
        name: &str,
        props: &BTreeMap<String, String>,
        errors: Arc<ErrorHandler>,
    ) -> Result<Box<dyn Sink>> {
        let cfg = ElasticsearchConfig::from_properties(name, props)
            .map_err(|e| anyhow!("connector {name}: {e}"))?;
        Ok(Box::new(
            ElasticsearchSink::new(cfg, errors).with_context(|| format!("connector {name}"))?,
        ))
    }
}
