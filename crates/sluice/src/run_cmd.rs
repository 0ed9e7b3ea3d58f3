//! `sluice run`: source connectors into Kafka, stdout, a file or nowhere — or, when sink
//! connectors are given too, straight into those sinks in-process (embedded mode).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use sluice_cdc::RetryPolicy;
use sluice_connect::JsonConverterConfig;
use sluice_core::{OffsetKey, Sink, SourceHealth};
use sluice_kafka::{KafkaProducer, KafkaSink};
use sluice_runtime::stage::{FanOut, TransformSink};
use sluice_runtime::{ConnectorConfig, FileOffsetStore, Metrics, PipelineSettings};
use sluice_sinks::{FileSink, LineFormat, NullSink, StdoutSink};
use tokio::sync::{watch, Mutex};

use crate::plugins::{self, Plugin, SourceRun};
use crate::prepare::{kafka_sink, prepare_config};
use crate::{sinks, state};

fn converters(c: &ConnectorConfig) -> (JsonConverterConfig, JsonConverterConfig) {
    let flag = |k: &str| c.get(k).map(|v| v.eq_ignore_ascii_case("true"));
    let common = flag("converter.schemas.enable").unwrap_or(true);
    let key = JsonConverterConfig {
        schemas_enable: flag("key.converter.schemas.enable").unwrap_or(common),
        ..Default::default()
    };
    let value = JsonConverterConfig {
        schemas_enable: flag("value.converter.schemas.enable").unwrap_or(common),
        ..Default::default()
    };
    (key, value)
}

fn open_sink(spec: &str, c: &ConnectorConfig) -> Result<Box<dyn Sink>> {
    let (k, v) = converters(c);
    let format = LineFormat::new(k, v);
    Ok(match spec {
        "stdout" => Box::new(StdoutSink::new(format)),
        "null" => Box::new(NullSink::new(format)),
        s if s.starts_with("file:") => {
            let path = &s["file:".len()..];
            if path.is_empty() {
                bail!("--sink file: needs a path, e.g. --sink file:events.jsonl");
            }
            Box::new(
                FileSink::open(Path::new(path), format)
                    .with_context(|| format!("cannot open sink file {path}"))?,
            )
        }
        other => {
            bail!("unknown --sink {other:?}: use kafka[:BOOTSTRAP], stdout, file:PATH or null")
        }
    })
}

/// A sink shared by several pipelines (each locks it while it writes or flushes).
struct Shared(Arc<Mutex<Box<dyn Sink>>>);

#[async_trait::async_trait]
impl Sink for Shared {
    async fn write(
        &mut self,
        events: &[sluice_core::ChangeEvent],
    ) -> Result<(), sluice_core::SinkError> {
        self.0.lock().await.write(events).await
    }

    async fn flush(&mut self) -> Result<(), sluice_core::SinkError> {
        self.0.lock().await.flush().await
    }
}

/// What `sluice run` was asked.
pub struct RunArgs {
    pub paths: Vec<PathBuf>,
    pub sink: Option<String>,
    pub exit_when_caught_up: bool,
    pub kafka: Option<String>,
    pub data_dir: PathBuf,
    pub http: Option<std::net::SocketAddr>,
}

pub(crate) async fn serve_http(
    http: Option<std::net::SocketAddr>,
    metrics: &Arc<Metrics>,
) -> Result<()> {
    if let Some(addr) = http {
        let server = sluice_runtime::http::bind(addr, Arc::clone(metrics))
            .await
            .with_context(|| format!("cannot serve HTTP on {addr} (--http)"))?;
        tokio::spawn(server);
    }
    Ok(())
}

pub(crate) fn stop_on_signal() -> watch::Receiver<bool> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested");
        let _ = stop_tx.send(true);
    });
    stop_rx
}

pub async fn run(args: RunArgs) -> Result<()> {
    let RunArgs {
        paths,
        sink,
        exit_when_caught_up,
        kafka,
        data_dir,
        http,
    } = args;
    let data_dir = data_dir.as_path();
    let sink = sink.as_deref();
    let configs = paths
        .iter()
        .map(|p| {
            ConnectorConfig::from_file(p)
                .and_then(ConnectorConfig::with_own_providers)
                .map_err(anyhow::Error::from)
        })
        .collect::<Result<Vec<_>>>()?;
    let (mut sink_configs, mut source_configs) = (Vec::new(), Vec::new());
    for c in configs {
        match plugins::lookup(&c)? {
            Plugin::Sink(_) => sink_configs.push(c),
            Plugin::Source(_) => source_configs.push(c),
        }
    }
    if source_configs.is_empty() {
        if sink.is_some() {
            bail!("--sink is for source connectors; sink connectors alone read Kafka (--kafka BOOTSTRAP or their bootstrap.servers)");
        }
        return crate::kafka_fed::run(
            sink_configs,
            kafka.as_deref(),
            exit_when_caught_up,
            data_dir,
            http,
        )
        .await;
    }
    if !sink_configs.is_empty() && sink.is_some() {
        bail!("--sink and sink connectors exclude each other: with sink connectors the events go to them");
    }
    let sink = sink.unwrap_or("stdout");
    let to_kafka = if sink_configs.is_empty() {
        kafka_sink(sink)
    } else {
        None
    };
    let prepared = source_configs
        .into_iter()
        .map(|c| prepare_config(c, data_dir, to_kafka))
        .collect::<Result<Vec<_>>>()?;
    let mut seen = std::collections::HashSet::new();
    for p in &prepared {
        if !seen.insert(p.offsets.clone()) {
            bail!(
                "two connectors use the offset file {}; give each its own offset.storage.file.filename",
                p.offsets.display()
            );
        }
    }
    // sink connectors, or stdout/file/null: one destination shared by every source connector;
    // Kafka: a producer per source connector
    let shared_sink: Option<Arc<Mutex<Box<dyn Sink>>>> = if !sink_configs.is_empty() {
        let mut built = Vec::new();
        for c in &sink_configs {
            built.push(sinks::build(c, data_dir).await?);
        }
        Some(Arc::new(Mutex::new(Box::new(FanOut::new(built)))))
    } else {
        match to_kafka {
            Some(_) => None,
            None => Some(Arc::new(Mutex::new(open_sink(sink, &prepared[0].config)?))),
        }
    };
    let metrics = Arc::new(Metrics::default());
    serve_http(http, &metrics).await?;
    let stop_rx = stop_on_signal();
    let mut tasks = Vec::new();
    for p in prepared {
        let shared = shared_sink.clone();
        let stop = stop_rx.clone();
        let metrics = Arc::clone(&metrics);
        let data_dir = data_dir.to_path_buf();
        tasks.push(tokio::spawn(async move {
            run_source(p, shared, stop, exit_when_caught_up, &data_dir, &metrics).await
        }));
    }
    let result = join_all(tasks).await;
    if let Some(s) = shared_sink {
        s.lock().await.flush().await?;
    }
    result
}

/// Waits for every connector task; the first error, if any.
pub(crate) async fn join_all(
    tasks: Vec<tokio::task::JoinHandle<Result<sluice_runtime::PipelineStats>>>,
) -> Result<()> {
    let mut first_error = None;
    for t in tasks {
        match t.await {
            Ok(Ok(stats)) => tracing::info!(events = stats.events, "connector stopped"),
            Ok(Err(e)) => {
                if first_error.is_none() {
                    first_error = Some(e);
                }
            }
            Err(e) => {
                if first_error.is_none() {
                    first_error = Some(anyhow::anyhow!("connector task panicked: {e}"));
                }
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Runs one source connector until it ends, fails, or `stop` turns true: into `shared` (sink
/// connectors or a line sink) or, without it, into Kafka.
pub(crate) async fn run_source(
    p: crate::Prepared,
    shared: Option<Arc<Mutex<Box<dyn Sink>>>>,
    mut stop: watch::Receiver<bool>,
    exit_when_caught_up: bool,
    data_dir: &Path,
    metrics: &Arc<Metrics>,
) -> Result<sluice_runtime::PipelineStats> {
    let health = Arc::new(SourceHealth::default());
    let connector_metrics = metrics.connector(&p.config.name, Arc::clone(&health));
    let name = p.config.name.clone();
    let _lock = FileOffsetStore::try_lock(&p.offsets)?.with_context(|| {
        format!(
            "connector {name} is already running (it holds {})",
            p.offsets.with_extension("lock").display()
        )
    })?;
    let key = OffsetKey {
        connector: name.clone(),
        server: p.topic_prefix.clone(),
        partition: None,
    };
    let errors = sinks::error_handler(&p.config, p.state.kafka.as_ref(), data_dir).await?;
    let (inner, txn_producer): (Box<dyn Sink>, _) = match shared {
        Some(s) => (Box::new(Shared(s)), None),
        None => {
            let kafka = p.state.kafka.clone().context("Kafka settings missing")?;
            let producer =
                KafkaProducer::new(&kafka).with_context(|| format!("connector {name}"))?;
            let txn = producer.is_transactional().then(|| Arc::clone(&producer));
            let no_worker = Default::default();
            let k = sluice_connect::converter::for_connector(&p.config.props, &no_worker, true)
                .with_context(|| format!("connector {name}: key.converter"))?;
            let v = sluice_connect::converter::for_connector(&p.config.props, &no_worker, false)
                .with_context(|| format!("connector {name}: value.converter"))?;
            let mut sink = KafkaSink::new(kafka, producer, k, v, errors.clone());
            if let Some(connector) = p.source.debezium_name() {
                sink = sink.with_context_headers(sluice_kafka::debezium_context_headers(
                    &p.topic_prefix,
                    connector,
                ));
            }
            (Box::new(sink), txn)
        }
    };
    let sink: Box<dyn Sink> = Box::new(TransformSink::new(sinks::chain(&p.config)?, errors, inner));
    let sink = Arc::new(Mutex::new(sink));
    let store = state::open_offsets(&p.state, &p.offsets, &key, txn_producer)
        .await
        .with_context(|| format!("connector {name}: offsets"))?;
    let offset = store.load(&key)?;
    let shutdown = Box::pin(async move {
        let _ = stop.wait_for(|s| *s).await;
    });
    // a log source that fails with a transient error is started again (errors.max.retries)
    let policy = RetryPolicy::from_props(&p.config.props)
        .map_err(|e| anyhow::anyhow!("connector {name}: {e}"))?;
    let run = SourceRun {
        name: name.clone(),
        key,
        store,
        offset,
        sink,
        settings: PipelineSettings {
            queue_batches: p.queue_batches,
            commit_every: p.commit_every,
            metrics: connector_metrics,
        },
        shutdown,
        policy,
        health,
        exit_when_caught_up,
        max_batch: p.max_batch,
        state: p.state,
        history: p.history,
    };
    let result = p.source.run(run).await;
    result.with_context(|| format!("connector {name}"))
}
pub(crate) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
