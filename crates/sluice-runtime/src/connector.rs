//! Connector documents as Kafka Connect's REST API and Debezium users write them.
//!
//! Accepted shapes: `{"name": "...", "config": {...}}` (the REST API body) or a flat
//! `{"name": "...", "connector.class": ..., ...}` (Connect standalone properties as JSON).
//! Config values may be strings, numbers or booleans; they are kept as strings like Connect does.

use std::collections::BTreeMap;
use std::path::Path;

use sluice_core::{ErrorClass, Retryable};
use tracing::warn;

use crate::config_providers::ConfigProviders;

/// Connector problems found before anything runs.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("cannot read connector file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("connector file {path} is not valid JSON: {message}")]
    Json { path: String, message: String },
    #[error("connector {name}: {message}")]
    Invalid { name: String, message: String },
    #[error("connector {name}: unknown connector.class {class:?}; sluice provides: {known}")]
    UnknownClass {
        name: String,
        class: String,
        known: String,
    },
}

impl Retryable for ConnectorError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Fatal
    }
}

/// Properties the runtime itself reads or knowingly ignores (Connect/Debezium engine settings).
const RUNTIME_PROPERTIES: &[&str] = &[
    "name",
    "connector.class",
    "tasks.max",
    "offset.storage",
    "offset.storage.file.filename",
    "offset.flush.interval.ms",
    "offset.flush.timeout.ms",
    "key.converter",
    "value.converter",
    "key.converter.schemas.enable",
    "value.converter.schemas.enable",
    "converter.schemas.enable",
    "max.batch.size",
    "max.queue.size",
    "database.server.name",
    // Kafka (sluice-kafka)
    "bootstrap.servers",
    "group.id",
    "offset.storage.topic",
    "offset.storage.partitions",
    "offset.storage.replication.factor",
    "exactly.once.support",
    "exactly.once.source.support",
    "transactional.id",
    "schema.history.internal.kafka.topic",
    "schema.history.internal.kafka.bootstrap.servers",
    // transforms, predicates, sink subscriptions (sluice-connect, stage)
    "transforms",
    "predicates",
    "topics",
    "topics.regex",
    // error handling (errors.rs)
    "errors.tolerance",
    "errors.retry.timeout",
    "errors.retry.delay.max.ms",
    "errors.log.enable",
    "errors.log.include.messages",
    "errors.deadletterqueue.topic.name",
    "errors.deadletterqueue.topic.replication.factor",
    "errors.deadletterqueue.context.headers.enable",
];

/// Property prefixes passed through to a client or a topic (`producer.linger.ms`, …).
const RUNTIME_PREFIXES: &[&str] = &[
    "key.converter.",
    "value.converter.",
    "producer.",
    "consumer.",
    "topic.creation.",
    "transforms.",
    "predicates.",
    "config.providers",
];

/// A parsed connector document.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    pub name: String,
    /// `connector.class`: which plugin runs it is the binary's choice (its plugin registry).
    pub class: String,
    pub props: BTreeMap<String, String>,
}

impl ConnectorConfig {
    pub fn from_file(path: &Path) -> Result<ConnectorConfig, ConnectorError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConnectorError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json_text(&text, &path.display().to_string())
    }

    pub fn from_json_text(text: &str, origin: &str) -> Result<ConnectorConfig, ConnectorError> {
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ConnectorError::Json {
                path: origin.to_string(),
                message: e.to_string(),
            })?;
        let top = doc.as_object().ok_or_else(|| ConnectorError::Json {
            path: origin.to_string(),
            message: "expected a JSON object like {\"name\": ..., \"config\": {...}}".into(),
        })?;
        let (name, config) = match top.get("config") {
            Some(serde_json::Value::Object(c)) => (
                top.get("name").and_then(|n| n.as_str()).map(str::to_string),
                c,
            ),
            Some(_) => {
                return Err(ConnectorError::Json {
                    path: origin.to_string(),
                    message: "\"config\" must be a JSON object".into(),
                })
            }
            None => (
                top.get("name").and_then(|n| n.as_str()).map(str::to_string),
                top,
            ),
        };
        let mut props = BTreeMap::new();
        for (k, v) in config {
            let s = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Null => continue,
                other => {
                    return Err(ConnectorError::Invalid {
                        name: name.clone().unwrap_or_default(),
                        message: format!(
                            "property {k} must be a string, number or boolean, got {other}"
                        ),
                    })
                }
            };
            props.insert(k.clone(), s);
        }
        let name = name
            .or_else(|| props.get("name").cloned())
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| ConnectorError::Invalid {
                name: origin.to_string(),
                message: "the connector has no \"name\"".into(),
            })?;
        let class =
            props
                .get("connector.class")
                .cloned()
                .ok_or_else(|| {
                    ConnectorError::Invalid {
                name: name.clone(),
                message:
                    "connector.class is required (e.g. io.debezium.connector.mysql.MySqlConnector)"
                        .into(),
            }
                })?;
        Ok(ConnectorConfig { name, class, props })
    }

    /// Warns once per property that nothing in sluice reads, so a typo or an unsupported
    /// feature is visible instead of silently ignored. Returns the properties warned about.
    pub fn warn_unknown(&self, known_by_source: &[&str]) -> Vec<String> {
        let unknown: Vec<String> = self
            .props
            .keys()
            .filter(|k| {
                !RUNTIME_PROPERTIES.contains(&k.as_str())
                    && !known_by_source.contains(&k.as_str())
                    && !RUNTIME_PREFIXES.iter().any(|p| k.starts_with(p))
            })
            .cloned()
            .collect();
        for k in &unknown {
            warn!(connector = %self.name, property = %k, "property is not supported by sluice and is ignored");
        }
        unknown
    }

    /// This config with the placeholders of `providers` replaced by their values (see
    /// [`crate::config_providers`]); the result is for running the connector, never for storing
    /// or showing.
    pub fn resolved(&self, providers: &ConfigProviders) -> Result<ConnectorConfig, ConnectorError> {
        let props = providers
            .resolve(&self.props)
            .map_err(|e| ConnectorError::Invalid {
                name: self.name.clone(),
                message: e.to_string(),
            })?;
        Ok(ConnectorConfig {
            props,
            ..self.clone()
        })
    }

    /// [`ConnectorConfig::resolved`] with the providers declared in the document itself
    /// (`sluice run` has no worker properties to declare them in).
    pub fn with_own_providers(self) -> Result<ConnectorConfig, ConnectorError> {
        let providers =
            ConfigProviders::from_props(&self.props).map_err(|e| ConnectorError::Invalid {
                name: self.name.clone(),
                message: e.to_string(),
            })?;
        if providers.is_empty() {
            return Ok(self);
        }
        self.resolved(&providers)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.props.get(key).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_rest_api_body_with_typed_values() {
        let c = ConnectorConfig::from_json_text(
            r#"{"name":"inventory","config":{"connector.class":"io.debezium.connector.mysql.MySqlConnector","database.port":3306,"tombstones.on.delete":false}}"#,
            "t",
        )
        .unwrap();
        assert_eq!(c.name, "inventory");
        assert_eq!(c.class, "io.debezium.connector.mysql.MySqlConnector");
        assert_eq!(c.get("database.port"), Some("3306"));
        assert_eq!(c.get("tombstones.on.delete"), Some("false"));
    }

    #[test]
    fn clear_errors_for_bad_documents() {
        let e = ConnectorConfig::from_json_text("{\"name\": \"x\", ", "c.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("c.json") && e.contains("not valid JSON"), "{e}");
        let e = ConnectorConfig::from_json_text(r#"{"name":"x","config":{}}"#, "c.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("connector.class is required"), "{e}");
        let e = ConnectorConfig::from_json_text(r#"{"config":{}}"#, "c.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no \"name\""), "{e}");
    }

    #[test]
    fn unknown_properties_are_reported() {
        let c = ConnectorConfig::from_json_text(
            r#"{"name":"x","config":{"connector.class":"mysql","database.hostnme":"typo","topic.prefix":"p"}}"#,
            "t",
        )
        .unwrap();
        assert_eq!(
            c.warn_unknown(&["topic.prefix"]),
            vec!["database.hostnme".to_string()]
        );
    }
}
