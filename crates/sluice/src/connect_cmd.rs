//! `sluice connect worker.properties [connector.json …]`: a Kafka Connect-compatible worker.
//! Source connectors write to the worker's Kafka, sink connectors read from it; connectors are
//! managed through Connect's REST API. `--standalone`: offsets in files, connectors from the
//! command line (and the REST API, in memory); otherwise distributed: configs, statuses and
//! offsets in Kafka, connectors shared by the workers of `group.id`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use async_trait::async_trait;
use serde_json::{json, Value as Json};
use sluice_core::{OffsetKey, Retryable};
use sluice_runtime::worker::{self, Change, ConnectorRunner, RunError, WorkerConfig};
use sluice_runtime::{ConnectorConfig, Metrics, PipelineError};
use tokio::sync::watch;

use crate::plugins::{self, Plugin, PLUGINS};
use crate::prepare::prepare_config;
use crate::{kafka_fed, offsets_cmd, run_cmd, sinks};

/// The connector plugins of this binary, as the worker runs them.
pub struct Plugins {
    pub worker: WorkerConfig,
    pub standalone: bool,
    pub data_dir: PathBuf,
    pub metrics: Arc<Metrics>,
}

impl Plugins {
    /// The connector's config as it runs here (the worker's settings under its own), and its
    /// plugin.
    fn effective(
        &self,
        name: &str,
        props: &BTreeMap<String, String>,
    ) -> Result<(ConnectorConfig, Plugin)> {
        let mut all = self.worker.connector_props(props, self.standalone);
        all.insert("name".into(), name.to_string());
        let doc = json!({"name": name, "config": all});
        let mut config = ConnectorConfig::from_json_text(&doc.to_string(), "the REST API")?
            .resolved(&self.worker.providers)?;
        let plugin = plugins::lookup(&config)?;
        if !self.standalone && matches!(plugin, Plugin::Source(_)) {
            // another worker may run it next: its schema history must live in Kafka
            if !config
                .props
                .contains_key("schema.history.internal.kafka.topic")
            {
                config.props.insert(
                    "schema.history.internal.kafka.topic".into(),
                    format!("schema-history.{name}"),
                );
            }
        }
        Ok((config, plugin))
    }

    fn source(&self, config: ConnectorConfig) -> Result<crate::Prepared> {
        prepare_config(config, &self.data_dir, Some(Some(&self.worker.bootstrap)))
    }
}

fn run_error(e: anyhow::Error) -> RunError {
    let retryable = e
        .chain()
        .find_map(|c| c.downcast_ref::<PipelineError>())
        .is_some_and(|p| p.is_retryable());
    RunError {
        message: format!("{e:#}"),
        retryable,
    }
}

/// A source connector's offset as Connect's REST API shows it.
fn source_entry(server: &str, offset: Option<Json>) -> Vec<Json> {
    offset
        .map(|o| vec![json!({"partition": {"server": server}, "offset": o})])
        .unwrap_or_default()
}

#[async_trait]
impl ConnectorRunner for Plugins {
    fn validate(
        &self,
        name: &str,
        props: &BTreeMap<String, String>,
    ) -> Result<&'static str, String> {
        let (config, plugin) = self.effective(name, props).map_err(|e| format!("{e:#}"))?;
        match plugin {
            Plugin::Source(_) => self
                .source(config)
                .map(|_| "source")
                .map_err(|e| format!("{e:#}")),
            Plugin::Sink(_) => sinks::check(&config)
                .map(|_| "sink")
                .map_err(|e| format!("{e:#}")),
        }
    }

    async fn run(
        &self,
        name: &str,
        props: BTreeMap<String, String>,
        stop: watch::Receiver<bool>,
    ) -> Result<(), RunError> {
        let (config, plugin) = self.effective(name, &props).map_err(run_error)?;
        match plugin {
            Plugin::Source(_) => {
                let p = self.source(config).map_err(run_error)?;
                run_cmd::run_source(p, None, stop, false, &self.data_dir, &self.metrics)
                    .await
                    .map(|_| ())
                    .map_err(run_error)
            }
            Plugin::Sink(_) => kafka_fed::run_one(
                config,
                &self.worker.bootstrap,
                &self.worker.props,
                stop,
                &self.data_dir,
                &self.metrics,
            )
            .await
            .map_err(run_error),
        }
    }

    async fn offsets(
        &self,
        name: &str,
        props: &BTreeMap<String, String>,
    ) -> Result<Vec<Json>, String> {
        let (config, plugin) = self.effective(name, props).map_err(|e| format!("{e:#}"))?;
        match plugin {
            Plugin::Source(_) => {
                let p = self.source(config).map_err(|e| format!("{e:#}"))?;
                let key = OffsetKey {
                    connector: name.to_string(),
                    server: p.topic_prefix.clone(),
                    partition: None,
                };
                let mut store = offsets_cmd::open_store(&p)
                    .await
                    .map_err(|e| format!("{e:#}"))?;
                let current = store.store().load(&key).map_err(|e| e.to_string())?;
                Ok(source_entry(&key.server, current))
            }
            Plugin::Sink(_) => kafka_fed::group_offsets(&config, &self.worker.bootstrap)
                .await
                .map_err(|e| format!("{e:#}")),
        }
    }

    async fn alter_offsets(
        &self,
        name: &str,
        props: &BTreeMap<String, String>,
        entries: &[Json],
    ) -> Result<(), String> {
        let (config, plugin) = self.effective(name, props).map_err(|e| format!("{e:#}"))?;
        match plugin {
            Plugin::Source(_) => {
                alter_source(self.source(config).map_err(|e| format!("{e:#}"))?, entries)
                    .await
                    .map_err(|e| format!("{e:#}"))
            }
            Plugin::Sink(_) => {
                kafka_fed::alter_group_offsets(&config, &self.worker.bootstrap, entries)
                    .await
                    .map_err(|e| format!("{e:#}"))
            }
        }
    }

    async fn reset_offsets(
        &self,
        name: &str,
        props: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        let (config, plugin) = self.effective(name, props).map_err(|e| format!("{e:#}"))?;
        match plugin {
            Plugin::Source(_) => {
                let p = self.source(config).map_err(|e| format!("{e:#}"))?;
                let key = OffsetKey {
                    connector: name.to_string(),
                    server: p.topic_prefix.clone(),
                    partition: None,
                };
                let mut store = offsets_cmd::open_store(&p)
                    .await
                    .map_err(|e| format!("{e:#}"))?;
                offsets_cmd::forget(&p, &mut store, &key)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{e:#}"))
            }
            Plugin::Sink(_) => kafka_fed::reset_group_offsets(&config, &self.worker.bootstrap)
                .await
                .map_err(|e| format!("{e:#}")),
        }
    }

    fn topics(&self, name: &str) -> Vec<String> {
        self.metrics.topics(name)
    }

    fn plugins(&self) -> Vec<(String, &'static str, String)> {
        let version = env!("CARGO_PKG_VERSION").to_string();
        PLUGINS
            .iter()
            .flat_map(|p| {
                p.classes()
                    .iter()
                    .filter(|c| c.contains('.'))
                    .map(|c| (c.to_string(), p.kind(), version.clone()))
            })
            .collect()
    }
}

/// KIP-875 for a source: `{"partition": {"server": <topic.prefix>}, "offset": …}` entries, each
/// offset checked by the source's plugin; a null offset removes it.
async fn alter_source(p: crate::Prepared, entries: &[Json]) -> Result<()> {
    let key = OffsetKey {
        connector: p.config.name.clone(),
        server: p.topic_prefix.clone(),
        partition: None,
    };
    let mut store = offsets_cmd::open_store(&p).await?;
    for e in entries {
        let server = e["partition"]["server"].as_str().unwrap_or_default();
        if server != key.server {
            bail!(
                "the partition {} is not this connector's (it captures {{\"server\": \"{}\"}})",
                e["partition"],
                key.server
            );
        }
        let offset = &e["offset"];
        if offset.is_null() {
            store.remove(&key)?;
            continue;
        }
        let position = p.source.alter_offset(&p.config.name, offset).await?;
        store.store().commit(&key, &position)?;
    }
    Ok(())
}

/// `sluice connect`.
pub async fn run(
    worker_file: &Path,
    connectors: &[PathBuf],
    standalone: bool,
    data_dir: &Path,
) -> Result<()> {
    let config = WorkerConfig::from_file(worker_file, standalone).map_err(|e| anyhow!(e))?;
    let metrics = Arc::new(Metrics::default());
    let plugins = Arc::new(Plugins {
        worker: config.clone(),
        standalone,
        data_dir: data_dir.to_path_buf(),
        metrics: Arc::clone(&metrics),
    });
    let w = worker::Worker::new(&config.worker_id, standalone, plugins);
    let cluster = if standalone {
        worker::cluster::standalone(&w);
        None
    } else {
        Some(
            worker::cluster::distributed(&w, &config)
                .await
                .map_err(|e| anyhow!("joining the Connect cluster: {e}"))?,
        )
    };
    for path in connectors {
        let c = ConnectorConfig::from_file(path)?;
        if w.connector(&c.name).is_some() {
            continue;
        }
        w.runner()
            .validate(&c.name, &c.props)
            .map_err(|e| anyhow!("connector {}: {e}", c.name))?;
        w.record(Change::Config {
            name: c.name.clone(),
            props: Some(c.props.clone()),
        })
        .await
        .map_err(|e| anyhow!(e))?;
    }
    let server =
        sluice_runtime::rest::bind(config.listen, Arc::clone(&w), config.basic_auth.clone())
            .await
            .with_context(|| format!("cannot serve the REST API on {}", config.listen))?;
    tracing::info!(worker = %config.worker_id, standalone, "worker started");
    tokio::select! {
        r = server => r.context("REST server")?,
        _ = run_cmd::wait_for_signal() => tracing::info!("shutdown requested"),
    }
    if let Some(c) = cluster {
        c.leave().await;
    }
    w.shutdown().await;
    Ok(())
}
