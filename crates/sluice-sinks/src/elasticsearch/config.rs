//! The properties of Confluent's Elasticsearch sink connector that sluice honours, with
//! Confluent's defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use sluice_core::props::{choice, flag, number};

/// `write.method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMethod {
    /// `index` actions: the document is replaced.
    Insert,
    /// `update` with `doc_as_upsert`: fields are merged into the document.
    Upsert,
}

/// `behavior.on.null.values`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullValues {
    Ignore,
    Delete,
    Fail,
}

/// `behavior.on.malformed.documents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    Ignore,
    Warn,
    Fail,
}

/// One Elasticsearch sink connector's settings.
#[derive(Debug, Clone)]
pub struct ElasticsearchConfig {
    pub name: String,
    pub urls: Vec<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub key_ignore: bool,
    pub schema_ignore: bool,
    pub write_method: WriteMethod,
    pub null_values: NullValues,
    pub malformed: Malformed,
    pub batch_size: usize,
    pub max_in_flight: usize,
    pub max_buffered: usize,
    pub max_retries: u32,
    pub retry_backoff: Duration,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
}

/// Every property this sink reads.
pub const KNOWN_PROPERTIES: &[&str] = &[
    "connection.url",
    "connection.username",
    "connection.password",
    "key.ignore",
    "schema.ignore",
    "write.method",
    "behavior.on.null.values",
    "behavior.on.malformed.documents",
    "batch.size",
    "max.in.flight.requests",
    "max.buffered.records",
    "linger.ms",
    "flush.timeout.ms",
    "max.retries",
    "retry.backoff.ms",
    "connection.timeout.ms",
    "read.timeout.ms",
    "type.name",
    "compact.map.entries",
    "drop.invalid.message",
];

impl ElasticsearchConfig {
    pub fn from_properties(name: &str, props: &BTreeMap<String, String>) -> Result<Self, String> {
        let urls: Vec<String> = props
            .get("connection.url")
            .map(|u| {
                u.split(',')
                    .map(|s| s.trim().trim_end_matches('/').to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if urls.is_empty() {
            return Err("connection.url is required (e.g. http://localhost:9200)".into());
        }
        for u in &urls {
            if u.starts_with("https://") {
                return Err(format!(
                    "connection.url {u}: TLS is not supported by this build; use http:// (a TLS-terminating proxy in front of the cluster)"
                ));
            }
            if !u.starts_with("http://") {
                return Err(format!("connection.url {u} must start with http://"));
            }
        }
        if props.get("type.name").is_some_and(|t| !t.trim().is_empty()) {
            tracing::warn!(
                connector = name,
                "type.name is ignored: mapping types were removed in Elasticsearch 7"
            );
        }
        let ms = |k: &str, d: u64| number(props, k, d).map(Duration::from_millis);
        Ok(ElasticsearchConfig {
            name: name.to_string(),
            urls,
            username: props.get("connection.username").cloned(),
            password: props.get("connection.password").cloned(),
            key_ignore: flag(props, "key.ignore", false)?,
            schema_ignore: flag(props, "schema.ignore", false)?,
            write_method: choice(
                props,
                "write.method",
                WriteMethod::Insert,
                &[
                    ("insert", WriteMethod::Insert),
                    ("upsert", WriteMethod::Upsert),
                ],
            )?,
            null_values: choice(
                props,
                "behavior.on.null.values",
                NullValues::Fail,
                &[
                    ("ignore", NullValues::Ignore),
                    ("delete", NullValues::Delete),
                    ("fail", NullValues::Fail),
                ],
            )?,
            malformed: choice(
                props,
                "behavior.on.malformed.documents",
                Malformed::Fail,
                &[
                    ("ignore", Malformed::Ignore),
                    ("warn", Malformed::Warn),
                    ("fail", Malformed::Fail),
                ],
            )?,
            batch_size: number(props, "batch.size", 2000usize)?.max(1),
            max_in_flight: number(props, "max.in.flight.requests", 5usize)?.clamp(1, 64),
            max_buffered: number(props, "max.buffered.records", 20_000usize)?.max(1),
            max_retries: number(props, "max.retries", 5u32)?,
            retry_backoff: ms("retry.backoff.ms", 100)?,
            connect_timeout: ms("connection.timeout.ms", 1000)?,
            read_timeout: ms("read.timeout.ms", 3000)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use sluice_core::props::from_pairs as props;

    #[test]
    fn defaults_are_confluents() {
        let c = ElasticsearchConfig::from_properties(
            "es",
            &props(&[("connection.url", "http://a:9200/, http://b:9200")]),
        )
        .unwrap();
        assert_eq!(c.urls, ["http://a:9200", "http://b:9200"]);
        assert!(!c.key_ignore && !c.schema_ignore);
        assert_eq!(
            (c.write_method, c.null_values),
            (WriteMethod::Insert, NullValues::Fail)
        );
        assert_eq!((c.batch_size, c.max_in_flight, c.max_retries), (2000, 5, 5));
    }

    #[test]
    fn mistakes_are_named() {
        let e = ElasticsearchConfig::from_properties("es", &props(&[])).unwrap_err();
        assert!(e.contains("connection.url"), "{e}");
        let e = ElasticsearchConfig::from_properties(
            "es",
            &props(&[
                ("connection.url", "http://a"),
                ("behavior.on.null.values", "explode"),
            ]),
        )
        .unwrap_err();
        assert!(
            e.contains("behavior.on.null.values") && e.contains("delete"),
            "{e}"
        );
    }
}
