//! The connector plugins of this binary, and the one registry that names them.
//!
//! A connector document names its implementation with `connector.class`; [`lookup`] finds the
//! plugin that lists that class (or one of its short aliases) in [`PLUGINS`]. A source plugin
//! reads its settings into a [`Source`], which runs the connector and offers what its offsets
//! allow (show, move, KIP-875 alter, signals) or says it does not. A sink plugin checks and
//! builds its sink. No command matches on connector kinds: they ask the plugin.
//!
//! Adding a connector: a crate (or module) for the protocol, a module here implementing
//! [`SourcePlugin`] or [`SinkPlugin`], and one line in [`PLUGINS`] (CONTRIBUTING.md).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Result};
use async_trait::async_trait;
use serde_json::{json, Value as Json};
use sluice_core::{OffsetKey, Position, Sink, SnapshotProgress};
use sluice_runtime::errors::ErrorHandler;
use sluice_runtime::{ConnectorConfig, ConnectorError, PipelineStats};

mod elasticsearch;
mod jdbc;
mod mysql;
mod postgres;
mod run;

pub(crate) use run::SourceRun;

/// Every connector plugin of this binary: one line each.
pub(crate) const PLUGINS: &[Plugin] = &[
    Plugin::Source(&mysql::MySql),
    Plugin::Source(&postgres::Postgres),
    Plugin::Source(&jdbc::JdbcSource),
    Plugin::Sink(&elasticsearch::Elasticsearch),
    Plugin::Sink(&jdbc::JdbcSink),
];

/// A connector implementation.
#[derive(Clone, Copy)]
pub(crate) enum Plugin {
    Source(&'static dyn SourcePlugin),
    Sink(&'static dyn SinkPlugin),
}

impl Plugin {
    /// The `connector.class` values it answers to: full class names (with dots) and short
    /// aliases.
    pub(crate) fn classes(&self) -> &'static [&'static str] {
        match self {
            Plugin::Source(p) => p.classes(),
            Plugin::Sink(p) => p.classes(),
        }
    }

    /// "source" or "sink", as Connect's REST API says it.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Plugin::Source(_) => "source",
            Plugin::Sink(_) => "sink",
        }
    }
}

/// The plugin of a connector's `connector.class` (case-insensitive).
pub(crate) fn lookup(config: &ConnectorConfig) -> Result<Plugin, ConnectorError> {
    let class = config.class.trim();
    PLUGINS
        .iter()
        .find(|p| p.classes().iter().any(|c| c.eq_ignore_ascii_case(class)))
        .copied()
        .ok_or_else(|| ConnectorError::UnknownClass {
            name: config.name.clone(),
            class: config.class.clone(),
            known: PLUGINS
                .iter()
                .flat_map(|p| p.classes().iter().filter(|c| c.contains('.')))
                .copied()
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// A source connector implementation.
pub(crate) trait SourcePlugin: Sync {
    /// The `connector.class` values it answers to: full class names and short aliases.
    fn classes(&self) -> &'static [&'static str];

    /// The connector properties it reads (the runtime's own are known elsewhere); others are
    /// warned about.
    fn known_properties(&self) -> &'static [&'static str];

    /// Reads and checks the connector's settings, without connecting anywhere.
    fn configure(&self, config: &ConnectorConfig) -> Result<Box<dyn Source>>;
}

/// A source connector's settings, ready to run or to administer.
#[async_trait]
pub(crate) trait Source: Send + Sync {
    /// `topic.prefix`: the Connect source partition is `{"server": <topic.prefix>}`.
    fn topic_prefix(&self) -> &str;

    /// The connector's name in Debezium's record headers
    /// (`__debezium.context.connectorName`: mysql, mariadb, postgresql); `None` for a source
    /// Debezium has no counterpart of, whose records carry no context headers.
    fn debezium_name(&self) -> Option<&'static str> {
        None
    }

    /// Where the schema history file is when the connector names one.
    fn history_file(&self) -> Option<PathBuf> {
        None
    }

    /// Runs the connector until it ends, fails or is stopped.
    async fn run(self: Box<Self>, run: SourceRun) -> Result<PipelineStats>;

    /// `sluice offsets show`: the stored offset, read as this source reads it, with where the
    /// database is.
    async fn show_offsets(&self, at: &OffsetView<'_>) -> Result<()> {
        at.print_raw();
        Ok(())
    }

    /// `sluice offsets set`: where to resume, checked against the database.
    async fn move_offset(&self, name: &str, to: &MoveTo) -> Result<Moved> {
        bail!(
            "connector {name}: moving to {} is not supported by this connector class",
            to.describe()
        )
    }

    /// KIP-875 `PATCH /connectors/{name}/offsets`: one entry's offset (Debezium's offset map
    /// for this source), checked against the database.
    async fn alter_offset(&self, name: &str, offset: &Json) -> Result<Position> {
        let _ = offset;
        bail!("connector {name}: altering offsets is not supported by this connector class")
    }

    /// Writes an incremental-snapshot signal (`execute-snapshot`, `stop-snapshot`, …) for the
    /// running connector; returns the signal's id.
    async fn signal(&self, name: &str, kind: &str, tables: &[String]) -> Result<String> {
        let _ = tables;
        bail!("connector {name}: {kind} signals are not supported by this connector class")
    }
}

/// A sink connector implementation.
#[async_trait]
pub(crate) trait SinkPlugin: Sync {
    /// The `connector.class` values it answers to: full class names and short aliases.
    fn classes(&self) -> &'static [&'static str];

    /// The connector properties it reads; others are warned about.
    fn known_properties(&self) -> &'static [&'static str];

    /// Checks the sink's own settings without connecting anywhere.
    fn check(&self, name: &str, props: &BTreeMap<String, String>) -> Result<(), String>;

    /// Builds the sink (records that fail go to `errors`).
    async fn build(
        &self,
        name: &str,
        props: &BTreeMap<String, String>,
        errors: Arc<ErrorHandler>,
    ) -> Result<Box<dyn Sink>>;
}

/// Where `sluice offsets set` moves a connector.
pub(crate) enum MoveTo {
    Binlog { file: String, pos: u64 },
    Timestamp(u32),
    Gtid(String),
    Lsn(u64),
}

impl MoveTo {
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            MoveTo::Binlog { .. } => "a binlog position (--binlog)",
            MoveTo::Timestamp(_) => "a time (--timestamp)",
            MoveTo::Gtid(_) => "a GTID position (--gtid)",
            MoveTo::Lsn(_) => "a PostgreSQL LSN (--lsn)",
        }
    }
}

/// A checked new position, and the sentence telling the operator where the connector resumes.
pub(crate) struct Moved {
    pub(crate) position: Position,
    pub(crate) resumes: String,
}

/// A stored offset, for `sluice offsets show`.
pub(crate) struct OffsetView<'a> {
    pub(crate) key: &'a OffsetKey,
    pub(crate) current: Option<&'a Json>,
    pub(crate) json: bool,
    /// Where offsets are kept (a file, a topic).
    pub(crate) location: &'a str,
}

impl OffsetView<'_> {
    /// The offset as stored, for sources with nothing to add.
    pub(crate) fn print_raw(&self) {
        if self.json {
            println!(
                "{}",
                json!({"connector": self.key.connector, "server": self.key.server,
                       "offsets": self.location, "offset": self.current})
            );
            return;
        }
        self.print_head();
        match self.current {
            Some(o) => println!("offset:      {o}"),
            None => println!("position:    none stored; the next start follows snapshot.mode"),
        }
    }

    /// The `connector:` and `offsets:` lines.
    pub(crate) fn print_head(&self) {
        println!(
            "connector:   {} (topic.prefix {})",
            self.key.connector, self.key.server
        );
        println!("offsets:     {}", self.location);
    }
}

/// The `snapshot:` line of `offsets show`, while an initial snapshot is in progress.
pub(crate) fn print_snapshot(in_progress: bool, progress: Option<&SnapshotProgress>) {
    match (in_progress, progress) {
        (false, _) => {}
        (true, Some(sp)) => println!(
            "snapshot:    in progress (table {}, after key {:?})",
            sp.table, sp.key
        ),
        (true, None) => println!("snapshot:    in progress"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(class: &str) -> ConnectorConfig {
        ConnectorConfig::from_json_text(
            &json!({"name": "c", "config": {"connector.class": class}}).to_string(),
            "test",
        )
        .unwrap()
    }

    #[test]
    fn every_class_and_alias_names_exactly_one_plugin() {
        let mut seen = std::collections::HashSet::new();
        for p in PLUGINS {
            for c in p.classes() {
                assert!(seen.insert(c.to_ascii_lowercase()), "{c} is listed twice");
            }
        }
    }

    #[test]
    fn classes_are_found_case_insensitively_and_unknown_ones_list_what_exists() {
        let p = lookup(&config("io.debezium.connector.mariadb.MariaDbConnector")).unwrap();
        assert_eq!(p.kind(), "source");
        assert_eq!(lookup(&config("ELASTICSEARCH")).unwrap().kind(), "sink");
        let e = lookup(&config("com.example.Nope"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("com.example.Nope"), "{e}");
        assert!(
            e.contains("io.debezium.connector.postgresql.PostgresConnector"),
            "{e}"
        );
    }
}
