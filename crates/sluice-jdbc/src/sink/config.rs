//! Settings of the JDBC sink, under Confluent's names (`io.confluent.connect.jdbc.JdbcSinkConnector`)
//! and Debezium's (`io.debezium.connector.jdbc.JdbcSinkConnector`), which differ in places:
//!
//! | meaning | Confluent | Debezium |
//! |---|---|---|
//! | user | `connection.user` | `connection.username` |
//! | key columns | `pk.mode`, `pk.fields` | `primary.key.mode`, `primary.key.fields` |
//! | create / alter tables | `auto.create`, `auto.evolve` | `schema.evolution=basic` |
//! | table name | `table.name.format` | `table.name.format` / `collection.name.format` |
//!
//! Both: `connection.url`, `connection.password`, `insert.mode` (insert | upsert | update),
//! `delete.enabled`, `batch.size`, `max.retries`, `retry.backoff.ms`.

use std::collections::BTreeMap;
use std::time::Duration;

use sluice_core::props::{flag, number};

use crate::url::{self, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertMode {
    Insert,
    Upsert,
    Update,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkMode {
    None,
    Kafka,
    RecordKey,
    RecordValue,
}

#[derive(Debug, Clone)]
pub struct JdbcSinkConfig {
    pub name: String,
    pub target: Target,
    pub insert_mode: InsertMode,
    pub pk_mode: PkMode,
    pub pk_fields: Vec<String>,
    pub delete_enabled: bool,
    pub truncate_enabled: bool,
    pub auto_create: bool,
    pub auto_evolve: bool,
    pub table_format: String,
    pub batch_size: usize,
    pub max_retries: u32,
    pub retry_backoff: Duration,
}

pub const KNOWN_PROPERTIES: &[&str] = &[
    "connection.url",
    "connection.user",
    "connection.username",
    "connection.password",
    "insert.mode",
    "pk.mode",
    "pk.fields",
    "primary.key.mode",
    "primary.key.fields",
    "delete.enabled",
    "truncate.enabled",
    "auto.create",
    "auto.evolve",
    "schema.evolution",
    "table.name.format",
    "collection.name.format",
    "batch.size",
    "max.retries",
    "retry.backoff.ms",
    "quote.sql.identifiers",
    "quote.identifiers",
    "db.timezone",
    "database.time_zone",
    "dialect.name",
];

fn get<'a>(props: &'a BTreeMap<String, String>, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| props.get(*k)).map(|v| v.trim())
}

impl JdbcSinkConfig {
    pub fn from_properties(name: &str, props: &BTreeMap<String, String>) -> Result<Self, String> {
        let url = get(props, &["connection.url"])
            .ok_or("connection.url is required (e.g. jdbc:postgresql://host:5432/db)")?;
        let target = url::parse(
            url,
            get(props, &["connection.user", "connection.username"]),
            get(props, &["connection.password"]),
        )?;
        let insert_mode = match get(props, &["insert.mode"])
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("insert") => InsertMode::Insert,
            Some("upsert") => InsertMode::Upsert,
            Some("update") => InsertMode::Update,
            Some(v) => return Err(format!("insert.mode={v:?}: use insert, upsert or update")),
        };
        let pk_mode = match get(props, &["pk.mode", "primary.key.mode"])
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("none") => PkMode::None,
            Some("kafka") => PkMode::Kafka,
            Some("record_key") => PkMode::RecordKey,
            Some("record_value") => PkMode::RecordValue,
            Some(v) => {
                return Err(format!(
                    "pk.mode={v:?}: use none, kafka, record_key or record_value"
                ))
            }
        };
        let pk_fields: Vec<String> = get(props, &["pk.fields", "primary.key.fields"])
            .map(|f| {
                f.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let delete_enabled = flag(props, "delete.enabled", false)?;
        if delete_enabled && pk_mode != PkMode::RecordKey {
            return Err("delete.enabled=true needs pk.mode=record_key (deletes are found by the record key)".into());
        }
        if insert_mode != InsertMode::Insert && pk_mode == PkMode::None {
            return Err(format!("insert.mode={insert_mode:?} needs a primary key: set pk.mode (record_key, record_value or kafka)").to_lowercase());
        }
        if pk_mode == PkMode::RecordValue && pk_fields.is_empty() {
            return Err("pk.mode=record_value needs pk.fields".into());
        }
        let evolution = match get(props, &["schema.evolution"])
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("none") => false,
            Some("basic") => true,
            Some(v) => return Err(format!("schema.evolution={v:?}: use none or basic")),
        };
        Ok(JdbcSinkConfig {
            name: name.to_string(),
            target,
            insert_mode,
            pk_mode,
            pk_fields,
            delete_enabled,
            truncate_enabled: flag(props, "truncate.enabled", false)?,
            auto_create: flag(props, "auto.create", evolution)?,
            auto_evolve: flag(props, "auto.evolve", evolution)?,
            table_format: get(props, &["table.name.format", "collection.name.format"])
                .unwrap_or("${topic}")
                .to_string(),
            batch_size: number(props, "batch.size", 3000usize)?.max(1),
            max_retries: number(props, "max.retries", 10u32)?,
            retry_backoff: Duration::from_millis(number(props, "retry.backoff.ms", 3000u64)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use sluice_core::props::from_pairs as props;

    #[test]
    fn debezium_and_confluent_names_mean_the_same() {
        let c = JdbcSinkConfig::from_properties(
            "s",
            &props(&[
                ("connection.url", "jdbc:postgresql://db:5432/app"),
                ("connection.username", "u"),
                ("insert.mode", "upsert"),
                ("primary.key.mode", "record_key"),
                ("delete.enabled", "true"),
                ("schema.evolution", "basic"),
            ]),
        )
        .unwrap();
        assert_eq!(
            (c.insert_mode, c.pk_mode),
            (InsertMode::Upsert, PkMode::RecordKey)
        );
        assert!(c.delete_enabled && c.auto_create && c.auto_evolve);
        assert_eq!(c.target.url, "postgres://u@db:5432/app");
    }

    #[test]
    fn inconsistent_settings_are_refused() {
        let e = JdbcSinkConfig::from_properties(
            "s",
            &props(&[
                ("connection.url", "jdbc:sqlite:/tmp/x"),
                ("delete.enabled", "true"),
            ]),
        )
        .unwrap_err();
        assert!(e.contains("record_key"), "{e}");
        let e = JdbcSinkConfig::from_properties(
            "s",
            &props(&[
                ("connection.url", "jdbc:sqlite:/tmp/x"),
                ("insert.mode", "upsert"),
            ]),
        )
        .unwrap_err();
        assert!(e.contains("pk.mode"), "{e}");
    }
}
