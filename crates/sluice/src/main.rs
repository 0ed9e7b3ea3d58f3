//! The `sluice` command line. It only orchestrates: parse arguments, build the configured
//! source, sink and offset store from the runtime crates, run, and report errors plainly.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use sluice_connect::{JsonConverter, JsonConverterConfig};
use sluice_core::{OffsetKey, Sink, SourceHealth};
use sluice_kafka::{KafkaProducer, KafkaSink};
use sluice_mysql::{MySqlConfig, MySqlSource};
use sluice_runtime::{
    run_pipeline, ConnectorConfig, FileOffsetStore, Metrics, PipelineSettings, SourceKind,
};
use sluice_sinks::{FileSink, LineFormat, NullSink, StdoutSink};
use tokio::sync::{watch, Mutex};

/// mimalloc: events are allocated on the source thread and freed on the sink side; glibc malloc
/// handles that cross-thread pattern poorly (measured in docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "sluice",
    version,
    about = "Change data capture, Debezium-compatible, in one binary"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run connectors: events go to Kafka, stdout, a file or nowhere.
    Run {
        /// Kafka Connect connector JSON files ({"name":…,"config":{…}}).
        #[arg(required = true)]
        connectors: Vec<PathBuf>,
        /// Destination: kafka[:BOOTSTRAP] (one topic per table; bootstrap.servers from the
        /// config if not given), stdout, file:PATH (fsynced JSON lines) or null (serialize and
        /// discard).
        #[arg(long, default_value = "stdout")]
        sink: String,
        /// Stop once everything up to the binlog end seen at start is delivered.
        #[arg(long)]
        exit_when_caught_up: bool,
        /// Where offsets and schema history live unless the connector config says otherwise.
        #[arg(long, env = "SLUICE_DATA_DIR", default_value = ".sluice")]
        data_dir: PathBuf,
        /// Serve /metrics (Prometheus) and /health on this address, e.g. 127.0.0.1:8083.
        #[arg(long, value_name = "ADDR")]
        http: Option<std::net::SocketAddr>,
    },
    /// See or move a connector's stored offsets (the connector must be stopped to change them).
    Offsets {
        #[command(subcommand)]
        action: OffsetsCommand,
    },
    /// Signal a running connector: incremental snapshot of tables, or stop/pause/resume it.
    Snapshot {
        connector: PathBuf,
        /// Tables to snapshot (or to stop), `db.table`, comma-separated.
        #[arg(long, value_delimiter = ',')]
        tables: Vec<String>,
        /// Stop the listed tables' (or every) incremental snapshot instead.
        #[arg(long, conflicts_with_all = ["pause", "resume"])]
        stop: bool,
        #[arg(long, conflicts_with = "resume")]
        pause: bool,
        #[arg(long)]
        resume: bool,
        #[arg(long, env = "SLUICE_DATA_DIR", default_value = ".sluice")]
        data_dir: PathBuf,
    },
    /// Print the version.
    Version,
}

#[derive(Subcommand)]
enum OffsetsCommand {
    /// Where the connector is, and how far behind the server.
    Show {
        connector: PathBuf,
        #[arg(long, env = "SLUICE_DATA_DIR", default_value = ".sluice")]
        data_dir: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// The --sink the connector runs with: with kafka[:BOOTSTRAP] its offsets (and schema
        /// history) live in Kafka unless the config says otherwise.
        #[arg(long, default_value = "stdout")]
        sink: String,
    },
    /// Move the connector to a binlog position (validated on the server).
    Set {
        connector: PathBuf,
        #[arg(long, env = "SLUICE_DATA_DIR", default_value = ".sluice")]
        data_dir: PathBuf,
        /// FILE:POS, the start of an event (see SHOW BINLOG EVENTS).
        #[arg(
            long,
            value_name = "FILE:POS",
            required_unless_present_any = ["timestamp", "gtid"],
            conflicts_with_all = ["timestamp", "gtid"]
        )]
        binlog: Option<String>,
        /// Resume after these transactions: a MariaDB GTID position (domain-server-seq,…).
        #[arg(long, value_name = "GTIDS", conflicts_with = "timestamp")]
        gtid: Option<String>,
        /// Replay from the first transaction that started at or after this time: RFC 3339
        /// (2026-11-21T10:00:00+09:00) or seconds since the epoch.
        #[arg(long, value_name = "TIME")]
        timestamp: Option<String>,
        /// The --sink the connector runs with: with kafka[:BOOTSTRAP] its offsets (and schema
        /// history) live in Kafka unless the config says otherwise.
        #[arg(long, default_value = "stdout")]
        sink: String,
    },
    /// Forget the offset and schema history: the next start begins again per snapshot.mode.
    Reset {
        connector: PathBuf,
        #[arg(long, env = "SLUICE_DATA_DIR", default_value = ".sluice")]
        data_dir: PathBuf,
        /// The --sink the connector runs with: with kafka[:BOOTSTRAP] its offsets (and schema
        /// history) live in Kafka unless the config says otherwise.
        #[arg(long, default_value = "stdout")]
        sink: String,
    },
}

mod offsets_cmd;
mod state;

fn main() {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Version => {
                println!("sluice {}", env!("CARGO_PKG_VERSION"));
                Ok(())
            }
            Command::Run {
                connectors,
                sink,
                exit_when_caught_up,
                data_dir,
                http,
            } => run(connectors, &sink, exit_when_caught_up, &data_dir, http).await,
            Command::Snapshot {
                connector,
                tables,
                stop,
                pause,
                resume,
                data_dir,
            } => {
                let p = prepare(&connector, &data_dir)?;
                let kind = match (stop, pause, resume) {
                    (true, _, _) => "stop-snapshot",
                    (_, true, _) => "pause-snapshot",
                    (_, _, true) => "resume-snapshot",
                    _ if tables.is_empty() => bail!("--tables db.table[,db.table…] is required to start a snapshot"),
                    _ => "execute-snapshot",
                };
                let id = sluice_mysql::admin::send_signal(&p.mysql, kind, &tables).await?;
                println!("{}: {kind} signal {id} written; the running connector acts on it as it reads the binlog", p.config.name);
                Ok(())
            }
            Command::Offsets { action } => {
                let (path, data_dir, sink, action) = match action {
                    OffsetsCommand::Show {
                        connector,
                        data_dir,
                        json,
                        sink,
                    } => (connector, data_dir, sink, offsets_cmd::Action::Show { json }),
                    OffsetsCommand::Set {
                        connector,
                        data_dir,
                        binlog,
                        timestamp,
                        gtid,
                        sink,
                    } => {
                        let action = match (binlog, timestamp, gtid) {
                            (Some(b), _, _) => {
                                let (file, pos) = offsets_cmd::parse_binlog(&b)?;
                                offsets_cmd::Action::SetBinlog { file, pos }
                            }
                            (None, Some(t), _) => offsets_cmd::Action::SetTimestamp {
                                ts: offsets_cmd::parse_time(&t)?,
                            },
                            (None, None, Some(g)) => offsets_cmd::Action::SetGtid { gtids: g },
                            (None, None, None) => {
                                bail!("give --binlog FILE:POS, --timestamp TIME or --gtid GTIDS")
                            }
                        };
                        (connector, data_dir, sink, action)
                    }
                    OffsetsCommand::Reset {
                        connector,
                        data_dir,
                        sink,
                    } => (connector, data_dir, sink, offsets_cmd::Action::Reset),
                };
                offsets_cmd::run(prepare_for(&path, &data_dir, kafka_sink(&sink))?, action).await
            }
        }
    });
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLUICE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// A connector ready to run.
pub(crate) struct Prepared {
    config: ConnectorConfig,
    /// `max.batch.size`: events per batch handed from source to sink (sluice default 1024).
    max_batch: usize,
    /// `max.queue.size` / `max.batch.size`: batches in flight (sluice default 4096 events).
    queue_batches: usize,
    /// `offset.flush.interval.ms` for sinks that acknowledge asynchronously (sluice default
    /// 1000; Connect's 60 s dates from heavier offset writes).
    commit_every: std::time::Duration,
    mysql: MySqlConfig,
    /// The offsets file (also the lock of a running connector, whatever the offset storage).
    offsets: PathBuf,
    history: PathBuf,
    state: state::State,
}

/// `--sink kafka[:BOOTSTRAP]` → `Some(bootstrap)`; other sinks → `None`.
fn kafka_sink(spec: &str) -> Option<Option<&str>> {
    match spec {
        "kafka" => Some(None),
        s => s.strip_prefix("kafka:").map(Some),
    }
}

fn prepare(path: &Path, data_dir: &Path) -> Result<Prepared> {
    prepare_for(path, data_dir, None)
}

fn prepare_for(path: &Path, data_dir: &Path, sink: Option<Option<&str>>) -> Result<Prepared> {
    let config = ConnectorConfig::from_file(path)?;
    match config.kind {
        SourceKind::MySql => {}
    }
    config.warn_unknown(sluice_mysql::config::KNOWN_PROPERTIES);
    let mysql = MySqlConfig::from_properties(&config.name, &config.props)
        .with_context(|| format!("connector {}", config.name))?;
    if config.get("include.schema.changes").unwrap_or("true") == "true" {
        tracing::warn!(connector = %config.name, "schema change events (include.schema.changes) are not emitted by this build; DDL is tracked in the schema history only");
    }
    let offsets = config
        .get("offset.storage.file.filename")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            data_dir
                .join("offsets")
                .join(format!("{}.json", config.name))
        });
    let history = mysql.history_file.clone().unwrap_or_else(|| {
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
        mysql,
        offsets,
        history,
    })
}

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

async fn run(
    paths: Vec<PathBuf>,
    sink: &str,
    exit_when_caught_up: bool,
    data_dir: &Path,
    http: Option<std::net::SocketAddr>,
) -> Result<()> {
    let to_kafka = kafka_sink(sink);
    let prepared = paths
        .iter()
        .map(|p| prepare_for(p, data_dir, to_kafka))
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
    // stdout/file/null: one sink shared by every connector; Kafka: a producer per connector
    let shared_sink = match to_kafka {
        Some(_) => None,
        None => Some(Arc::new(Mutex::new(open_sink(sink, &prepared[0].config)?))),
    };
    let metrics = Arc::new(Metrics::default());
    if let Some(addr) = http {
        let server = sluice_runtime::http::bind(addr, Arc::clone(&metrics))
            .await
            .with_context(|| format!("cannot serve HTTP on {addr} (--http)"))?;
        tokio::spawn(server);
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested");
        let _ = stop_tx.send(true);
    });
    let mut tasks = Vec::new();
    for p in prepared {
        let shared = shared_sink.clone();
        let mut stop = stop_rx.clone();
        let health = Arc::new(SourceHealth::default());
        let connector_metrics = metrics.connector(&p.config.name, Arc::clone(&health));
        tasks.push(tokio::spawn(async move {
            let name = p.config.name.clone();
            let _lock = FileOffsetStore::try_lock(&p.offsets)?.with_context(|| {
                format!(
                    "connector {name} is already running (it holds {})",
                    p.offsets.with_extension("lock").display()
                )
            })?;
            let key = OffsetKey {
                connector: name.clone(),
                server: p.mysql.topic_prefix.clone(),
            };
            let (sink, txn_producer) = match shared {
                Some(s) => (s, None),
                None => {
                    let kafka = p.state.kafka.clone().context("Kafka settings missing")?;
                    let producer =
                        KafkaProducer::new(&kafka).with_context(|| format!("connector {name}"))?;
                    let (k, v) = converters(&p.config);
                    let txn = producer.is_transactional().then(|| Arc::clone(&producer));
                    let sink: Box<dyn Sink> = Box::new(KafkaSink::new(
                        kafka,
                        producer,
                        JsonConverter::new(k),
                        JsonConverter::new(v),
                    ));
                    (Arc::new(Mutex::new(sink)), txn)
                }
            };
            let mut store = state::open_offsets(&p.state, &p.offsets, &key, txn_producer)
                .await
                .with_context(|| format!("connector {name}: offsets"))?;
            let history = state::open_history(&p.state, &p.history)
                .await
                .with_context(|| format!("connector {name}: schema history"))?;
            let offset = store.load(&key)?;
            let source = MySqlSource::new(p.mysql, offset, history)
                .health(health)
                .exit_when_caught_up(exit_when_caught_up)
                .max_batch(p.max_batch);
            let shutdown = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            run_pipeline(
                move |tx| source.run(tx),
                PipelineSettings {
                    queue_batches: p.queue_batches,
                    commit_every: p.commit_every,
                    metrics: connector_metrics,
                },
                sink,
                store.as_mut(),
                &key,
                shutdown,
            )
            .await
            .with_context(|| format!("connector {name}"))
        }));
    }
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
    if let Some(s) = shared_sink {
        s.lock().await.flush().await?;
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

async fn wait_for_signal() {
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
