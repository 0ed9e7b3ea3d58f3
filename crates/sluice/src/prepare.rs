//! Reading a source connector into what its commands need: the parsed config, batch and queue
//! sizes, the source's settings (from its plugin), and where its offsets and schema history
//! live.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sluice_runtime::ConnectorConfig;

use crate::plugins::{self, Plugin, Source};
use crate::state;

/// A connector ready to run.
pub(crate) struct Prepared {
    pub(crate) config: ConnectorConfig,
    /// `max.batch.size`: events per batch handed from source to sink (sluice default 1024).
    pub(crate) max_batch: usize,
    /// `max.queue.size` / `max.batch.size`: batches in flight (sluice default 4096 events).
    pub(crate) queue_batches: usize,
    /// `offset.flush.interval.ms` for sinks that acknowledge asynchronously (sluice default
    /// 1000; Connect's 60 s dates from heavier offset writes).
    pub(crate) commit_every: std::time::Duration,
    pub(crate) source: Box<dyn Source>,
    /// `topic.prefix`: the Connect source partition is `{"server": <topic.prefix>}`.
    pub(crate) topic_prefix: String,
    /// The offsets file (also the lock of a running connector, whatever the offset storage).
    pub(crate) offsets: PathBuf,
    pub(crate) history: PathBuf,
    pub(crate) state: state::State,
}

/// `--sink kafka[:BOOTSTRAP]` → `Some(bootstrap)`; other sinks → `None`.
pub(crate) fn kafka_sink(spec: &str) -> Option<Option<&str>> {
    match spec {
        "kafka" => Some(None),
        s => s.strip_prefix("kafka:").map(Some),
    }
}

pub(crate) fn prepare(path: &Path, data_dir: &Path) -> Result<Prepared> {
    prepare_for(path, data_dir, None)
}

pub(crate) fn prepare_for(
    path: &Path,
    data_dir: &Path,
    sink: Option<Option<&str>>,
) -> Result<Prepared> {
    let config = ConnectorConfig::from_file(path)?.with_own_providers()?;
    prepare_config(config, data_dir, sink)
}

/// [`prepare_for`] of an already parsed source connector.
pub(crate) fn prepare_config(
    config: ConnectorConfig,
    data_dir: &Path,
    sink: Option<Option<&str>>,
) -> Result<Prepared> {
    let plugin = match plugins::lookup(&config)? {
        Plugin::Source(p) => p,
        Plugin::Sink(_) => bail!(
            "connector {} is a sink connector ({}); this command works on source connectors",
            config.name,
            config.class
        ),
    };
    config.warn_unknown(plugin.known_properties());
    let source = plugin.configure(&config)?;
    let topic_prefix = source.topic_prefix().to_string();
    let history_file = source.history_file();
    let offsets = config
        .get("offset.storage.file.filename")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            data_dir
                .join("offsets")
                .join(format!("{}.json", config.name))
        });
    let history = history_file.unwrap_or_else(|| {
        data_dir
            .join("history")
            .join(format!("{}.jsonl", config.name))
    });
    let number = |k: &str, default: usize| -> Result<usize> {
        match config.get(k) {
            Some(v) => v
                .trim()
                .parse()
                .with_context(|| format!("connector {}: {k}={v:?} is not a number", config.name)),
            None => Ok(default),
        }
    };
    // Half of Debezium's 2048/8192: same throughput here, half the memory (docs/benchmarks.md).
    let max_batch = number("max.batch.size", 1024)?.max(1);
    let max_queue = number("max.queue.size", 4096)?;
    if max_queue < max_batch {
        bail!("connector {}: max.queue.size ({max_queue}) must be at least max.batch.size ({max_batch})", config.name);
    }
    let state = state::resolve(&config, sink)?;
    let commit_every =
        std::time::Duration::from_millis(number("offset.flush.interval.ms", 1000)? as u64);
    Ok(Prepared {
        commit_every,
        state,
        max_batch,
        queue_batches: (max_queue / max_batch).max(1),
        config,
        source,
        topic_prefix,
        offsets,
        history,
    })
}
