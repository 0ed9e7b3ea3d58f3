//! The Debezium MySQL connector properties sluice understands, parsed into a typed struct.
//!
//! Defaults are Debezium's. A value sluice cannot honour is an error naming the property; a
//! property sluice does not know is reported by the runtime (warn once), never silently used.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub use sluice_core::modes::{BinaryMode, DecimalMode, TimePrecision as TimePrecisionMode};

use crate::error::MySqlError;
use crate::filters::{self, Filters};
use crate::tls::TlsSettings;

/// `bigint.unsigned.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BigintUnsignedMode {
    Long,
    Precise,
}

/// `snapshot.mode` values the foundation supports (the snapshot itself is a separate module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Snapshot the captured tables, then stream (Debezium's default).
    Initial,
    /// Snapshot, then stop.
    InitialOnly,
    /// No data snapshot: capture the schema and stream from the current binlog position.
    NoData,
    /// Stream from the oldest binlog still on the server.
    Never,
    /// Snapshot only when no offset exists or the offset's binlog is gone.
    WhenNeeded,
    /// Rebuild a lost or corrupt schema history from the live database at the stored offset
    /// (no data snapshot), then stream. Debezium's `recovery` (formerly `schema_only_recovery`).
    Recovery,
}

/// Connection and mapping settings of one MySQL connector.
#[derive(Debug, Clone)]
pub struct MySqlConfig {
    pub name: String,
    pub hostname: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// `database.ssl.*`.
    pub tls: TlsSettings,
    /// `source.connector` and the source schema's name: "mariadb" for Debezium's
    /// MariaDbConnector class, else "mysql".
    pub connector: &'static str,
    pub server_id: u32,
    pub topic_prefix: String,
    pub filters: Filters,
    pub snapshot_mode: SnapshotMode,
    pub time_precision: TimePrecisionMode,
    pub decimal_mode: DecimalMode,
    pub bigint_unsigned: BigintUnsignedMode,
    pub binary_mode: BinaryMode,
    pub tombstones_on_delete: bool,
    pub include_query: bool,
    pub connect_timeout: Duration,
    pub history_file: Option<PathBuf>,
    /// Seconds between server heartbeats on an idle replication connection.
    pub heartbeat_period: Duration,
    /// `heartbeat.interval.ms` (0 = off): how often a heartbeat record carries the current
    /// position, so the offset advances while captured tables are idle.
    pub heartbeat_interval: Option<Duration>,
    /// `<heartbeat.topics.prefix>.<topic.prefix>` (Debezium's default `__debezium-heartbeat`).
    pub heartbeat_topic: String,
    /// `signal.data.collection`: the Debezium signal table (`db.table`), if any.
    pub signal_table: Option<crate::table::TableId>,
    /// `incremental.snapshot.chunk.size`: rows per incremental snapshot chunk.
    pub incremental_chunk_size: usize,
    /// `snapshot.max.threads`: connections reading the initial snapshot in parallel.
    pub snapshot_threads: usize,
    /// `snapshot.chunk.size` (sluice): rows per primary-key chunk of a parallel snapshot.
    pub snapshot_chunk_size: usize,
}

/// Every property this module reads (the runtime warns about properties nobody reads).
pub const KNOWN_PROPERTIES: &[&str] = &[
    // the CDC kit's retry policy (sluice_cdc::retry)
    "errors.max.retries",
    "errors.retry.delay.initial.ms",
    "database.hostname",
    "database.port",
    "database.user",
    "database.password",
    "database.server.id",
    "topic.prefix",
    "database.include.list",
    "database.exclude.list",
    "table.include.list",
    "table.exclude.list",
    "column.include.list",
    "column.exclude.list",
    "snapshot.mode",
    "time.precision.mode",
    "decimal.handling.mode",
    "bigint.unsigned.handling.mode",
    "binary.handling.mode",
    "tombstones.on.delete",
    "include.query",
    "include.schema.changes",
    "connect.timeout.ms",
    "heartbeat.interval.ms",
    "heartbeat.topics.prefix",
    "schema.history.internal",
    "schema.history.internal.file.filename",
    "database.ssl.mode",
    "database.ssl.truststore",
    "database.ssl.truststore.password",
    "database.ssl.truststore.type",
    "database.ssl.keystore",
    "database.ssl.keystore.password",
    "database.ssl.keystore.type",
    "signal.data.collection",
    "signal.enabled.channels",
    "incremental.snapshot.chunk.size",
    "snapshot.max.threads",
    "snapshot.chunk.size",
    "snapshot.fetch.size",
];

/// Snapshot readers unless `snapshot.max.threads` says otherwise (measured in
/// docs/benchmarks.md).
pub const DEFAULT_SNAPSHOT_THREADS: usize = 1;

fn choice<T: Copy>(
    props: &BTreeMap<String, String>,
    key: &str,
    default: T,
    options: &[(&str, T)],
) -> Result<T, MySqlError> {
    sluice_core::props::choice(props, key, default, options).map_err(MySqlError::Config)
}

fn boolean(props: &BTreeMap<String, String>, key: &str, default: bool) -> Result<bool, MySqlError> {
    sluice_core::props::flag(props, key, default).map_err(MySqlError::Config)
}

fn number<T: std::str::FromStr>(
    props: &BTreeMap<String, String>,
    key: &str,
    default: Option<T>,
) -> Result<T, MySqlError> {
    match props.get(key) {
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| MySqlError::Config(format!("{key}={v:?} is not a valid number"))),
        None => default.ok_or_else(|| MySqlError::Config(format!("{key} is required"))),
    }
}

fn required(props: &BTreeMap<String, String>, key: &str) -> Result<String, MySqlError> {
    match props.get(key) {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        _ => Err(MySqlError::Config(format!("{key} is required"))),
    }
}

impl MySqlConfig {
    /// Parses the connector's `config` map. `name` is the connector name.
    pub fn from_properties(
        name: &str,
        props: &BTreeMap<String, String>,
    ) -> Result<Self, MySqlError> {
        use SnapshotMode as S;
        let snapshot_mode = choice(
            props,
            "snapshot.mode",
            S::Initial,
            &[
                ("initial", S::Initial),
                ("initial_only", S::InitialOnly),
                ("no_data", S::NoData),
                ("schema_only", S::NoData),
                ("never", S::Never),
                ("when_needed", S::WhenNeeded),
                ("recovery", S::Recovery),
                ("schema_only_recovery", S::Recovery),
            ],
        )?;
        let tls = TlsSettings::from_props(props)?;
        let topic_prefix = required(props, "topic.prefix")?;
        if !topic_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(MySqlError::Config(format!(
                "topic.prefix={topic_prefix:?} may only contain letters, digits, '.', '_' and '-'"
            )));
        }
        let heartbeat_interval = match number(props, "heartbeat.interval.ms", Some(0u64))? {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        };
        let heartbeat_topic = format!(
            "{}.{topic_prefix}",
            props
                .get("heartbeat.topics.prefix")
                .map_or("__debezium-heartbeat", |s| s.trim())
        );
        Ok(MySqlConfig {
            name: name.to_string(),
            hostname: required(props, "database.hostname")?,
            port: number(props, "database.port", Some(3306))?,
            user: required(props, "database.user")?,
            password: props.get("database.password").cloned().unwrap_or_default(),
            tls,
            connector: if props
                .get("connector.class")
                .is_some_and(|c| c.trim().ends_with("MariaDbConnector"))
            {
                "mariadb"
            } else {
                "mysql"
            },
            server_id: number(props, "database.server.id", None::<u32>)?,
            topic_prefix,
            filters: Filters::from_props(props, filters::NAMESPACE).map_err(MySqlError::Config)?,
            snapshot_mode,
            time_precision: TimePrecisionMode::from_props(
                props,
                TimePrecisionMode::AdaptiveTimeMicroseconds,
            )
            .map_err(MySqlError::Config)?,
            decimal_mode: DecimalMode::from_props(props).map_err(MySqlError::Config)?,
            bigint_unsigned: choice(
                props,
                "bigint.unsigned.handling.mode",
                BigintUnsignedMode::Long,
                &[
                    ("long", BigintUnsignedMode::Long),
                    ("precise", BigintUnsignedMode::Precise),
                ],
            )?,
            binary_mode: BinaryMode::from_props(props).map_err(MySqlError::Config)?,
            tombstones_on_delete: boolean(props, "tombstones.on.delete", true)?,
            include_query: boolean(props, "include.query", false)?,
            connect_timeout: Duration::from_millis(number(
                props,
                "connect.timeout.ms",
                Some(30_000u64),
            )?),
            history_file: props
                .get("schema.history.internal.file.filename")
                .map(PathBuf::from),
            heartbeat_period: heartbeat_interval.map_or(Duration::from_secs(5), |h| {
                h.clamp(Duration::from_millis(100), Duration::from_secs(5))
            }),
            heartbeat_interval,
            heartbeat_topic,
            signal_table: match props.get("signal.data.collection").map(|s| s.trim()) {
                None | Some("") => None,
                Some(s) => {
                    let (db, table) = s.split_once('.').ok_or_else(|| {
                        MySqlError::Config(format!(
                            "signal.data.collection={s:?} must be <database>.<table>"
                        ))
                    })?;
                    Some(crate::table::TableId::new(db, table))
                }
            },
            incremental_chunk_size: number(
                props,
                "incremental.snapshot.chunk.size",
                Some(1024usize),
            )?
            .max(1),
            snapshot_threads: match number(
                props,
                "snapshot.max.threads",
                Some(DEFAULT_SNAPSHOT_THREADS),
            )? {
                0 => {
                    return Err(MySqlError::Config(
                        "snapshot.max.threads must be at least 1".into(),
                    ))
                }
                n => n.min(64),
            },
            snapshot_chunk_size: number(props, "snapshot.chunk.size", Some(20_000usize))?.max(1),
        })
    }

    /// `host:port`, for messages.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.hostname, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use sluice_core::props::from_pairs as props;

    fn minimal() -> Vec<(&'static str, &'static str)> {
        vec![
            ("database.hostname", "127.0.0.1"),
            ("database.user", "cdc"),
            ("database.server.id", "5400"),
            ("topic.prefix", "dbserver1"),
        ]
    }

    #[test]
    fn defaults_are_debeziums() {
        let c = MySqlConfig::from_properties("inv", &props(&minimal())).unwrap();
        assert_eq!(c.port, 3306);
        assert_eq!(c.snapshot_mode, SnapshotMode::Initial);
        assert_eq!(
            c.time_precision,
            TimePrecisionMode::AdaptiveTimeMicroseconds
        );
        assert_eq!(c.decimal_mode, DecimalMode::Precise);
        assert_eq!(c.bigint_unsigned, BigintUnsignedMode::Long);
        assert_eq!(c.binary_mode, BinaryMode::Bytes);
        assert!(c.tombstones_on_delete);
    }

    #[test]
    fn debeziums_mariadb_connector_class_names_the_source_mariadb() {
        let c = MySqlConfig::from_properties("inv", &props(&minimal())).unwrap();
        assert_eq!(c.connector, "mysql");
        let mut p = minimal();
        p.push((
            "connector.class",
            "io.debezium.connector.mariadb.MariaDbConnector",
        ));
        let c = MySqlConfig::from_properties("inv", &props(&p)).unwrap();
        assert_eq!(c.connector, "mariadb");
        assert_eq!(
            crate::mapping::source_schema(c.connector).name.as_deref(),
            Some("io.debezium.connector.mariadb.Source")
        );
    }

    #[test]
    fn errors_name_the_property() {
        let mut p = minimal();
        p.retain(|(k, _)| *k != "topic.prefix");
        let e = MySqlConfig::from_properties("inv", &props(&p))
            .unwrap_err()
            .to_string();
        assert!(e.contains("topic.prefix is required"), "{e}");

        let mut p = minimal();
        p.push(("decimal.handling.mode", "fancy"));
        let e = MySqlConfig::from_properties("inv", &props(&p))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("decimal.handling.mode") && e.contains("precise"),
            "{e}"
        );

        let mut p = minimal();
        p.push(("database.port", "abc"));
        let e = MySqlConfig::from_properties("inv", &props(&p))
            .unwrap_err()
            .to_string();
        assert!(e.contains("database.port"), "{e}");
    }

    #[test]
    fn schema_only_is_an_alias_of_no_data() {
        let mut p = minimal();
        p.push(("snapshot.mode", "schema_only"));
        let c = MySqlConfig::from_properties("inv", &props(&p)).unwrap();
        assert_eq!(c.snapshot_mode, SnapshotMode::NoData);
    }
}
