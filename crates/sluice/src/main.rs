//! The `sluice` command line. It only orchestrates: parse arguments, build the configured
//! source, sink and offset store from the runtime crates, run, and report errors plainly.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Parser, Subcommand, ValueEnum};

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
        /// Kafka Connect connector JSON files ({"name":…,"config":{…}}): source connectors,
        /// and optionally sink connectors fed by them in-process; or only sink connectors,
        /// which then read their topics from Kafka.
        #[arg(required = true)]
        connectors: Vec<PathBuf>,
        /// Destination: kafka[:BOOTSTRAP] (one topic per table; bootstrap.servers from the
        /// config if not given), stdout (the default), file:PATH (fsynced JSON lines) or null
        /// (serialize and discard). Not with sink connectors among the files: the events then
        /// go to those.
        #[arg(long)]
        sink: Option<String>,
        /// Stop once everything up to the binlog end seen at start is delivered (sink
        /// connectors reading Kafka: once every assigned partition is read to its end).
        #[arg(long)]
        exit_when_caught_up: bool,
        /// Kafka bootstrap servers of sink connectors reading Kafka (default: their
        /// bootstrap.servers).
        #[arg(long, value_name = "BOOTSTRAP")]
        kafka: Option<String>,
        /// Where offsets and schema history live unless the connector config says otherwise.
        #[arg(long, env = "SLUICE_DATA_DIR", default_value = ".sluice")]
        data_dir: PathBuf,
        /// Serve /metrics (Prometheus) and /health on this address, e.g. 127.0.0.1:8083.
        #[arg(long, value_name = "ADDR")]
        http: Option<std::net::SocketAddr>,
    },
    /// A Kafka Connect-compatible worker: connectors managed through Connect's REST API.
    Connect {
        /// Worker settings (Connect's worker.properties, or JSON).
        worker: PathBuf,
        /// Connector JSON files to create at start (if not already known to the cluster).
        connectors: Vec<PathBuf>,
        /// Offsets in local files and connectors in memory, instead of Kafka's config, status
        /// and offsets topics shared by the workers of group.id.
        #[arg(long)]
        standalone: bool,
        #[arg(long, env = "SLUICE_DATA_DIR", default_value = ".sluice")]
        data_dir: PathBuf,
    },
    /// See or move a connector's stored offsets (the connector must be stopped to change them).
    Offsets {
        #[command(subcommand)]
        action: OffsetsCommand,
    },
    /// Signal a running connector: incremental snapshot of tables, or stop/pause/resume it.
    Snapshot {
        connector: PathBuf,
        /// Tables to snapshot (or to stop), `db.table` (PostgreSQL: `schema.table`), comma-separated.
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
    /// Move the connector to a binlog position or a PostgreSQL LSN (validated on the server).
    Set {
        connector: PathBuf,
        #[arg(long, env = "SLUICE_DATA_DIR", default_value = ".sluice")]
        data_dir: PathBuf,
        /// FILE:POS, the start of an event (see SHOW BINLOG EVENTS).
        #[arg(
            long,
            value_name = "FILE:POS",
            required_unless_present_any = ["timestamp", "gtid", "lsn"],
            conflicts_with_all = ["timestamp", "gtid", "lsn"]
        )]
        binlog: Option<String>,
        /// PostgreSQL: resume streaming at this WAL position (X/Y, as pg_current_wal_insert_lsn()
        /// prints it), not before the slot's confirmed_flush_lsn.
        #[arg(long, value_name = "LSN", conflicts_with_all = ["timestamp", "gtid"])]
        lsn: Option<String>,
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

mod connect_cmd;
mod kafka_fed;
mod offsets_cmd;
mod plugins;
mod prepare;
mod run_cmd;
mod state;

use plugins::MoveTo;
use prepare::{kafka_sink, prepare, prepare_for, Prepared};

mod sinks;

fn main() {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    // crash points for tests, off unless FAILPOINTS names them (sluice_core::failpoint)
    let _failpoints = sluice_core::failpoint::setup();
    sluice_mysql::tls::install_crypto_provider();
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
                kafka,
                data_dir,
                http,
            } => {
                run_cmd::run(run_cmd::RunArgs {
                    paths: connectors,
                    sink,
                    exit_when_caught_up,
                    kafka,
                    data_dir,
                    http,
                })
                .await
            }
            Command::Connect {
                worker,
                connectors,
                standalone,
                data_dir,
            } => connect_cmd::run(&worker, &connectors, standalone, &data_dir).await,
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
                let id = p.source.signal(&p.config.name, kind, &tables).await?;
                println!("{}: {kind} signal {id} written; the running connector acts on it as it reads its change stream", p.config.name);
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
                        lsn,
                        sink,
                    } => {
                        let to = match (binlog, timestamp, gtid, lsn) {
                            (_, _, _, Some(l)) => MoveTo::Lsn(offsets_cmd::parse_lsn(&l)?),
                            (Some(b), _, _, None) => {
                                let (file, pos) = offsets_cmd::parse_binlog(&b)?;
                                MoveTo::Binlog { file, pos }
                            }
                            (None, Some(t), _, None) => {
                                MoveTo::Timestamp(offsets_cmd::parse_time(&t)?)
                            }
                            (None, None, Some(g), None) => MoveTo::Gtid(g),
                            (None, None, None, None) => {
                                bail!("give --binlog FILE:POS, --timestamp TIME, --gtid GTIDS or (PostgreSQL) --lsn LSN")
                            }
                        };
                        (connector, data_dir, sink, offsets_cmd::Action::Set(to))
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
