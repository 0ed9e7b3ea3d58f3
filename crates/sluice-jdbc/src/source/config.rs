//! The Confluent JDBC source connector properties sluice understands.

use std::collections::BTreeMap;
use std::time::Duration;

use sluice_core::props;

use crate::url::{self, Target};

/// `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every poll reads everything.
    Bulk,
    /// Rows whose incrementing column is above the last seen (new rows only).
    Incrementing,
    /// Rows whose timestamp is after the last seen (new and updated rows; a row updated with
    /// the same timestamp as the last one seen is missed — use timestamp+incrementing).
    Timestamp,
    /// Timestamp, ties broken by the incrementing column.
    TimestampIncrementing,
}

/// Settings of one JDBC source connector.
#[derive(Debug, Clone)]
pub struct JdbcSourceConfig {
    pub name: String,
    pub target: Target,
    pub mode: Mode,
    pub incrementing_column: Option<String>,
    /// `timestamp.column.name`: several are COALESCEd in order.
    pub timestamp_columns: Vec<String>,
    /// `query`: a custom query instead of tables.
    pub query: Option<String>,
    pub tables: Vec<String>,
    pub topic_prefix: String,
    pub poll_interval: Duration,
    pub batch_max_rows: usize,
    /// `timestamp.delay.interval.ms`: rows are read only once they are this old, so that
    /// transactions committing late with an earlier timestamp are not skipped.
    pub delay: Duration,
    /// `timestamp.initial` (ms since the epoch; -1 = now): where timestamp modes start when
    /// there is no offset. Unset: from the beginning.
    pub timestamp_initial: Option<i64>,
}

/// Every property this module reads.
pub const KNOWN_PROPERTIES: &[&str] = &[
    "connection.url",
    "connection.user",
    "connection.username",
    "connection.password",
    "mode",
    "incrementing.column.name",
    "timestamp.column.name",
    "query",
    "table.whitelist",
    "table.include.list",
    "topic.prefix",
    "poll.interval.ms",
    "batch.max.rows",
    "timestamp.delay.interval.ms",
    "timestamp.initial",
    "validate.non.null",
    "db.timezone",
    "numeric.mapping",
];

impl JdbcSourceConfig {
    pub fn from_properties(
        name: &str,
        p: &BTreeMap<String, String>,
    ) -> Result<JdbcSourceConfig, String> {
        let get = |k: &str| {
            p.get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let url = get("connection.url").ok_or("connection.url is required")?;
        let target = url::parse(
            &url,
            get("connection.user")
                .or(get("connection.username"))
                .as_deref(),
            get("connection.password").as_deref(),
        )?;
        let mode = props::choice(
            p,
            "mode",
            Mode::Bulk,
            &[
                ("bulk", Mode::Bulk),
                ("incrementing", Mode::Incrementing),
                ("timestamp", Mode::Timestamp),
                ("timestamp+incrementing", Mode::TimestampIncrementing),
            ],
        )?;
        if get("mode").is_none() {
            return Err(
                "mode is required: bulk, incrementing, timestamp or timestamp+incrementing".into(),
            );
        }
        let incrementing_column = get("incrementing.column.name");
        let timestamp_columns: Vec<String> = get("timestamp.column.name")
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if matches!(mode, Mode::Incrementing | Mode::TimestampIncrementing)
            && incrementing_column.is_none()
        {
            return Err("mode needs incrementing.column.name".into());
        }
        if matches!(mode, Mode::Timestamp | Mode::TimestampIncrementing)
            && timestamp_columns.is_empty()
        {
            return Err("mode needs timestamp.column.name".into());
        }
        let query = get("query");
        let tables: Vec<String> = get("table.include.list")
            .or(get("table.whitelist"))
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if query.is_some() != tables.is_empty() {
            return Err(
                "give either query or table.whitelist / table.include.list (one of them)".into(),
            );
        }
        if let Some(m) = get("numeric.mapping").filter(|m| m != "none") {
            return Err(format!("numeric.mapping={m:?} is not supported yet; sluice maps NUMERIC/DECIMAL to Connect's Decimal (none)"));
        }
        Ok(JdbcSourceConfig {
            name: name.to_string(),
            target,
            mode,
            incrementing_column,
            timestamp_columns,
            query,
            tables,
            topic_prefix: get("topic.prefix").ok_or("topic.prefix is required")?,
            poll_interval: Duration::from_millis(props::number(p, "poll.interval.ms", 5000u64)?),
            batch_max_rows: props::number(p, "batch.max.rows", 100usize)?.max(1),
            delay: Duration::from_millis(props::number(p, "timestamp.delay.interval.ms", 0u64)?),
            timestamp_initial: get("timestamp.initial")
                .map(|v| {
                    v.parse()
                        .map_err(|_| format!("timestamp.initial={v:?} is not a number"))
                })
                .transpose()?,
        })
    }
}
