//! The Debezium PostgreSQL connector properties sluice understands, parsed into a typed struct.
//! Defaults are Debezium's; a value sluice cannot honour is an error naming the property.

use std::collections::BTreeMap;
use std::time::Duration;

use sluice_cdc::filters::{Filters, Namespace};
use sluice_core::props;

pub use sluice_core::modes::{BinaryMode, DecimalMode, TimePrecision};

use crate::error::PgError;

/// `snapshot.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Snapshot when there is no offset, then stream (default).
    Initial,
    /// Snapshot, then stop.
    InitialOnly,
    /// Stream only, from the slot's position (`no_data`, formerly `never` / `schema_only`).
    NoData,
    /// Snapshot when there is no offset or the slot is gone.
    WhenNeeded,
    /// Snapshot at every start.
    Always,
}

/// `publication.autocreate.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicationMode {
    AllTables,
    Filtered,
    Disabled,
}

/// `interval.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalMode {
    Numeric,
    String,
}

/// Settings of one PostgreSQL connector.
#[derive(Debug, Clone)]
pub struct PgConfig {
    pub name: String,
    pub hostname: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub dbname: String,
    /// `database.sslmode` and the certificates ([`crate::tls`]).
    pub tls: crate::tls::PgTls,
    pub topic_prefix: String,
    pub slot_name: String,
    pub publication_name: String,
    pub publication_mode: PublicationMode,
    pub slot_drop_on_stop: bool,
    pub snapshot_mode: SnapshotMode,
    /// `snapshot.max.threads`: connections reading the snapshot in parallel.
    pub snapshot_threads: usize,
    /// `snapshot.chunk.size` (sluice): rows per primary-key chunk of the snapshot.
    pub snapshot_chunk_size: usize,
    pub decimal_mode: DecimalMode,
    pub time_precision: TimePrecision,
    pub interval_mode: IntervalMode,
    pub binary_mode: BinaryMode,
    pub tombstones_on_delete: bool,
    /// `skipped.operations` contains `t` (Debezium's default): no truncate events.
    pub skip_truncate: bool,
    pub skip_updates: bool,
    pub skip_deletes: bool,
    pub skip_creates: bool,
    /// `unavailable.value.placeholder`: stands for an unchanged TOASTed value.
    pub unavailable_placeholder: String,
    pub include_unknown_types: bool,
    /// `heartbeat.interval.ms` (0 = off).
    pub heartbeat_interval: Option<Duration>,
    pub heartbeat_topic: String,
    /// `heartbeat.action.query`: run on every heartbeat, so WAL is written for this database.
    pub heartbeat_action_query: Option<String>,
    /// `status.update.interval.ms`: how often the flushed LSN is reported to the server.
    pub status_interval: Duration,
    /// `signal.data.collection`: the Debezium signal table (`schema`, `table`), if any.
    pub signal_table: Option<(String, String)>,
    /// `incremental.snapshot.chunk.size`: rows per incremental snapshot chunk.
    pub incremental_chunk_size: usize,
    pub filters: Filters,
}

/// Every property this module reads.
pub const KNOWN_PROPERTIES: &[&str] = &[
    // the CDC kit's retry policy (sluice_cdc::retry)
    "errors.max.retries",
    "errors.retry.delay.initial.ms",
    "database.hostname",
    "database.port",
    "database.user",
    "database.password",
    "database.dbname",
    "database.sslmode",
    "database.sslrootcert",
    "database.sslcert",
    "database.sslkey",
    "database.sslpassword",
    "database.sslfactory",
    "topic.prefix",
    "plugin.name",
    "slot.name",
    "publication.name",
    "publication.autocreate.mode",
    "slot.drop.on.stop",
    "snapshot.mode",
    "snapshot.max.threads",
    "snapshot.chunk.size",
    "snapshot.fetch.size",
    "schema.include.list",
    "schema.exclude.list",
    "table.include.list",
    "table.exclude.list",
    "column.include.list",
    "column.exclude.list",
    "decimal.handling.mode",
    "time.precision.mode",
    "interval.handling.mode",
    "binary.handling.mode",
    "tombstones.on.delete",
    "skipped.operations",
    "unavailable.value.placeholder",
    "include.unknown.datatypes",
    "heartbeat.interval.ms",
    "heartbeat.topics.prefix",
    "heartbeat.action.query",
    "status.update.interval.ms",
    "signal.data.collection",
    "signal.enabled.channels",
    "incremental.snapshot.chunk.size",
];

/// PostgreSQL's names for Debezium's capture filters: containers are schemas
/// (`schema.include.list` / `schema.exclude.list`), and the catalogs are never captured.
pub const NAMESPACE: Namespace = Namespace {
    container: "schema",
    is_system: |schema| schema == "information_schema" || schema.starts_with("pg_"),
};

impl PgConfig {
    pub fn from_properties(
        name: &str,
        props: &BTreeMap<String, String>,
    ) -> Result<PgConfig, PgError> {
        let c = PgError::Config;
        let get = |k: &str| props.get(k).map(|v| v.trim().to_string());
        let required = |k: &str| {
            get(k)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| PgError::Config(format!("{k} is required")))
        };
        if let Some(p) = get("plugin.name").filter(|p| p != "pgoutput") {
            return Err(c(format!(
                "plugin.name={p:?}: sluice decodes pgoutput only (PostgreSQL's built-in plugin); set plugin.name=pgoutput"
            )));
        }
        let skipped = get("skipped.operations").unwrap_or_else(|| "t".into());
        let skipped: Vec<String> = skipped
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty() && s != "none")
            .collect();
        for s in &skipped {
            if !["c", "u", "d", "t"].contains(&s.as_str()) {
                return Err(c(format!(
                    "skipped.operations: unknown operation {s:?} (use c, u, d, t or none)"
                )));
            }
        }
        let heartbeat_ms: u64 = props::number(props, "heartbeat.interval.ms", 0).map_err(c)?;
        let prefix = required("topic.prefix")?;
        Ok(PgConfig {
            name: name.to_string(),
            hostname: required("database.hostname")?,
            port: props::number(props, "database.port", 5432).map_err(c)?,
            user: required("database.user")?,
            password: get("database.password").unwrap_or_default(),
            dbname: required("database.dbname")?,
            tls: crate::tls::PgTls::from_props(props)?,
            slot_name: get("slot.name").unwrap_or_else(|| "debezium".into()),
            publication_name: get("publication.name").unwrap_or_else(|| "dbz_publication".into()),
            publication_mode: props::choice(
                props,
                "publication.autocreate.mode",
                PublicationMode::AllTables,
                &[
                    ("all_tables", PublicationMode::AllTables),
                    ("filtered", PublicationMode::Filtered),
                    ("disabled", PublicationMode::Disabled),
                ],
            )
            .map_err(c)?,
            slot_drop_on_stop: props::flag(props, "slot.drop.on.stop", false).map_err(c)?,
            snapshot_mode: props::choice(
                props,
                "snapshot.mode",
                SnapshotMode::Initial,
                &[
                    ("initial", SnapshotMode::Initial),
                    ("initial_only", SnapshotMode::InitialOnly),
                    ("no_data", SnapshotMode::NoData),
                    ("schema_only", SnapshotMode::NoData),
                    ("never", SnapshotMode::NoData),
                    ("when_needed", SnapshotMode::WhenNeeded),
                    ("always", SnapshotMode::Always),
                ],
            )
            .map_err(c)?,
            snapshot_threads: props::number(props, "snapshot.max.threads", 2usize)
                .map_err(c)?
                .max(1),
            snapshot_chunk_size: props::number(props, "snapshot.chunk.size", 10_000usize)
                .map_err(c)?
                .max(1),
            decimal_mode: DecimalMode::from_props(props).map_err(c)?,
            time_precision: TimePrecision::from_props(props, TimePrecision::Adaptive).map_err(c)?,
            interval_mode: props::choice(
                props,
                "interval.handling.mode",
                IntervalMode::Numeric,
                &[
                    ("numeric", IntervalMode::Numeric),
                    ("string", IntervalMode::String),
                ],
            )
            .map_err(c)?,
            binary_mode: BinaryMode::from_props(props).map_err(c)?,
            tombstones_on_delete: props::flag(props, "tombstones.on.delete", true).map_err(c)?,
            skip_truncate: skipped.iter().any(|s| s == "t"),
            skip_updates: skipped.iter().any(|s| s == "u"),
            skip_deletes: skipped.iter().any(|s| s == "d"),
            skip_creates: skipped.iter().any(|s| s == "c"),
            unavailable_placeholder: props
                .get("unavailable.value.placeholder")
                .cloned()
                .unwrap_or_else(|| "__debezium_unavailable_value".into()),
            include_unknown_types: props::flag(props, "include.unknown.datatypes", false)
                .map_err(c)?,
            heartbeat_interval: (heartbeat_ms > 0).then(|| Duration::from_millis(heartbeat_ms)),
            heartbeat_topic: format!(
                "{}.{prefix}",
                get("heartbeat.topics.prefix").unwrap_or_else(|| "__debezium-heartbeat".into())
            ),
            heartbeat_action_query: get("heartbeat.action.query").filter(|q| !q.is_empty()),
            status_interval: Duration::from_millis(
                props::number(props, "status.update.interval.ms", 10_000u64).map_err(c)?,
            ),
            signal_table: match get("signal.data.collection").as_deref().map(str::trim) {
                None | Some("") => None,
                Some(s) => {
                    let (schema, table) = s.split_once('.').ok_or_else(|| {
                        c(format!(
                            "signal.data.collection={s:?} must be <schema>.<table>"
                        ))
                    })?;
                    Some((schema.to_string(), table.to_string()))
                }
            },
            incremental_chunk_size: props::number(
                props,
                "incremental.snapshot.chunk.size",
                1024usize,
            )
            .map_err(c)?
            .max(1),
            topic_prefix: prefix,
            filters: Filters::from_props(props, NAMESPACE).map_err(c)?,
        })
    }

    /// Whether `schema.table` is the signal table.
    pub fn is_signal(&self, schema: &str, table: &str) -> bool {
        self.signal_table
            .as_ref()
            .is_some_and(|(s, t)| s == schema && t == table)
    }

    /// The signal table as SQL (`"schema"."table"`), if any.
    pub fn signal_table_sql(&self) -> Option<String> {
        self.signal_table
            .as_ref()
            .map(|(s, t)| format!("{}.{}", crate::catalog::quote(s), crate::catalog::quote(t)))
    }

    /// `host:port/db`, for messages (never the password).
    pub fn target(&self) -> String {
        format!("{}:{}/{}", self.hostname, self.port, self.dbname)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut m: BTreeMap<String, String> = [
            ("database.hostname", "127.0.0.1"),
            ("database.user", "postgres"),
            ("database.dbname", "app"),
            ("topic.prefix", "pg"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            m.insert(k.to_string(), v.to_string());
        }
        m
    }

    #[test]
    fn defaults_are_debeziums() {
        let c = PgConfig::from_properties("c", &props(&[])).unwrap();
        assert_eq!(c.slot_name, "debezium");
        assert_eq!(c.publication_name, "dbz_publication");
        assert_eq!(c.publication_mode, PublicationMode::AllTables);
        assert_eq!(c.snapshot_mode, SnapshotMode::Initial);
        assert!(c.skip_truncate && !c.skip_updates);
        assert_eq!(c.unavailable_placeholder, "__debezium_unavailable_value");
        assert_eq!(c.heartbeat_topic, "__debezium-heartbeat.pg");
    }

    #[test]
    fn mistakes_are_named() {
        let e = PgConfig::from_properties("c", &props(&[("plugin.name", "wal2json")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("pgoutput"), "{e}");
        let e = PgConfig::from_properties("c", &props(&[("skipped.operations", "x")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("skipped.operations"), "{e}");
        let mut p = props(&[]);
        p.remove("database.dbname");
        let e = PgConfig::from_properties("c", &p).unwrap_err().to_string();
        assert!(e.contains("database.dbname"), "{e}");
    }

    #[test]
    fn filters_match_schema_and_table() {
        let c = PgConfig::from_properties("c", &props(&[("table.include.list", "public\\.t.*")]))
            .unwrap();
        assert!(c.filters.table("public", "t1"));
        assert!(!c.filters.table("public", "x"));
        assert!(!c.filters.table("pg_catalog", "t1"));
    }
}
