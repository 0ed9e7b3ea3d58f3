//! `io.confluent.connect.avro.AvroConverter`: Connect data ↔ Confluent's Avro wire format
//! (magic byte `0`, the schema id as 4 big-endian bytes, the Avro binary datum), with the
//! schemas in a Confluent-compatible Schema Registry.
//!
//! Serializing. The record's Connect schema becomes Avro schema text exactly as Confluent's
//! `AvroData` writes it ([`schema`]), is registered under the subject the naming strategy gives
//! (`<topic>-key` / `<topic>-value` by default) and the id is cached per topic and schema, so
//! the registry is called once per table schema version, not per record. With
//! `auto.register.schemas=false` the id is looked up instead (or, with `use.latest.version`,
//! the subject's latest version is used when it is the same schema). A schema the registry
//! refuses — typically an incompatible change under the subject's compatibility level — is a
//! data error naming the subject, the level and the fix: the record goes to the connector's
//! error handling (task failed with that message, or the dead letter queue), it is never
//! retried in a loop. A registry that does not answer is a retryable error.
//!
//! Deserializing. The id selects the writer schema (fetched once, cached); the datum is decoded
//! with `apache-avro` and mapped onto the Connect schema of that text ([`schema::to_connect`]).
//!
//! Settings (after the `key.converter.` / `value.converter.` prefix): `schema.registry.url`
//! (several, comma-separated), `basic.auth.credentials.source` (`URL` | `USER_INFO`),
//! `basic.auth.user.info`, `key.subject.name.strategy` / `value.subject.name.strategy`
//! (`TopicNameStrategy`, `RecordNameStrategy`, `TopicRecordNameStrategy`),
//! `auto.register.schemas`, `use.latest.version`, `enhanced.avro.schema.support`,
//! `connect.meta.data`, `schemas.cache.config`.

pub mod binary;
pub mod registry;
pub mod schema;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use sluice_core::schema::Schema;
use sluice_core::Data;

use crate::{ConvertError, Converter};
use registry::{Registry, RegistryError};
use schema::Options;

/// How the subject of a record's schema is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `<topic>-key` / `<topic>-value`.
    TopicName,
    /// The record's full name.
    RecordName,
    /// `<topic>-<record full name>`.
    TopicRecordName,
}

/// An `AvroConverter`'s settings.
#[derive(Debug, Clone)]
pub struct AvroConfig {
    pub urls: Vec<String>,
    pub user_info: Option<String>,
    pub strategy: Strategy,
    pub auto_register: bool,
    pub use_latest: bool,
    pub options: Options,
    pub cache_size: usize,
}

fn flag(props: &BTreeMap<String, String>, k: &str, default: bool) -> Result<bool, ConvertError> {
    sluice_core::props::flag(props, k, default).map_err(ConvertError::Config)
}

impl AvroConfig {
    pub fn from_properties(
        props: &BTreeMap<String, String>,
        is_key: bool,
    ) -> Result<AvroConfig, ConvertError> {
        let raw = props
            .get("schema.registry.url")
            .map(|u| u.trim())
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                ConvertError::Config(format!(
                    "AvroConverter needs {}.converter.schema.registry.url (e.g. http://registry:8081)",
                    if is_key { "key" } else { "value" }
                ))
            })?;
        let mut urls = Vec::new();
        let mut url_user = None;
        for u in raw.split(',').map(str::trim).filter(|u| !u.is_empty()) {
            let (scheme, rest) = u.split_once("://").ok_or_else(|| {
                ConvertError::Config(format!("schema.registry.url {u:?} needs http://"))
            })?;
            if scheme != "http" {
                return Err(ConvertError::Config(format!(
                    "schema.registry.url {u:?}: only http:// registries are supported"
                )));
            }
            match rest.split_once('@') {
                Some((user, host)) if !user.contains('/') => {
                    url_user = Some(user.to_string());
                    urls.push(format!("{scheme}://{host}"));
                }
                _ => urls.push(u.to_string()),
            }
        }
        let source = props
            .get("basic.auth.credentials.source")
            .map(|s| s.trim().to_ascii_uppercase())
            .unwrap_or_else(|| "URL".into());
        let user_info = match source.as_str() {
            "URL" => url_user,
            "USER_INFO" => Some(
                props
                    .get("basic.auth.user.info")
                    .or(props.get("schema.registry.basic.auth.user.info"))
                    .cloned()
                    .ok_or_else(|| {
                        ConvertError::Config(
                            "basic.auth.credentials.source=USER_INFO needs basic.auth.user.info=user:password".into(),
                        )
                    })?,
            ),
            other => {
                return Err(ConvertError::Config(format!(
                    "basic.auth.credentials.source={other:?} is not supported; use URL or USER_INFO"
                )))
            }
        };
        let strategy_key = if is_key {
            "key.subject.name.strategy"
        } else {
            "value.subject.name.strategy"
        };
        let strategy = match props
            .get(strategy_key)
            .map(|s| s.trim().rsplit('.').next().unwrap_or("").to_string())
            .as_deref()
        {
            None | Some("TopicNameStrategy") => Strategy::TopicName,
            Some("RecordNameStrategy") => Strategy::RecordName,
            Some("TopicRecordNameStrategy") => Strategy::TopicRecordName,
            Some(other) => {
                return Err(ConvertError::Config(format!(
                    "{strategy_key}={other:?}: use io.confluent.kafka.serializers.subject.TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy"
                )))
            }
        };
        Ok(AvroConfig {
            urls,
            user_info,
            strategy,
            auto_register: flag(props, "auto.register.schemas", true)?,
            use_latest: flag(props, "use.latest.version", false)?,
            options: Options {
                connect_meta_data: flag(props, "connect.meta.data", true)?,
                enhanced: flag(props, "enhanced.avro.schema.support", false)?,
            },
            cache_size: props
                .get("schemas.cache.config")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(1000),
        })
    }
}

/// A writer schema read from the registry.
struct WriterSchema {
    avro: apache_avro::Schema,
    connect: Arc<Schema>,
}

/// The Avro converter of one connector's keys or values.
pub struct AvroConverter {
    cfg: AvroConfig,
    is_key: bool,
    registry: Registry,
    /// topic → (schema pointer → (the schema, kept alive so the pointer stays unique; id)).
    ids: HashMap<String, HashMap<usize, (Arc<Schema>, u32)>>,
    cached: usize,
    /// (subject, schema text) → id: a schema rebuilt equal (a restart of a table's mapping)
    /// needs no registry call.
    by_text: HashMap<(String, String), u32>,
    writers: HashMap<u32, Arc<WriterSchema>>,
}

impl AvroConverter {
    pub fn new(cfg: AvroConfig, is_key: bool) -> AvroConverter {
        let registry = Registry::new(cfg.urls.clone(), cfg.user_info.clone());
        AvroConverter {
            cfg,
            is_key,
            registry,
            ids: HashMap::new(),
            cached: 0,
            by_text: HashMap::new(),
            writers: HashMap::new(),
        }
    }

    fn subject(&self, topic: &str, schema: &Schema) -> String {
        let part = if self.is_key { "key" } else { "value" };
        match self.cfg.strategy {
            Strategy::TopicName => format!("{topic}-{part}"),
            Strategy::RecordName => schema::record_full_name(schema),
            Strategy::TopicRecordName => format!("{topic}-{}", schema::record_full_name(schema)),
        }
    }

    fn id_for(&mut self, topic: &str, s: &Arc<Schema>) -> Result<u32, ConvertError> {
        let ptr = Arc::as_ptr(s) as usize;
        if let Some((_, id)) = self.ids.get(topic).and_then(|m| m.get(&ptr)) {
            return Ok(*id);
        }
        let text = schema::to_avro(s, self.cfg.options)?;
        let subject = self.subject(topic, s);
        let key = (subject, text);
        let id = match self.by_text.get(&key) {
            Some(id) => *id,
            None => {
                let id = self.resolve(&key.0, &key.1)?;
                self.by_text.insert(key, id);
                id
            }
        };
        if self.cached >= self.cfg.cache_size.max(1) {
            self.ids.clear();
            self.cached = 0;
        }
        self.ids
            .entry(topic.to_string())
            .or_default()
            .insert(ptr, (Arc::clone(s), id));
        self.cached += 1;
        Ok(id)
    }

    /// The registry id of `text` under `subject`, per `auto.register.schemas` and
    /// `use.latest.version`.
    fn resolve(&self, subject: &str, text: &str) -> Result<u32, ConvertError> {
        if self.cfg.auto_register {
            return self.registry.register(subject, text).map_err(|e| match e {
                RegistryError::Refused {
                    status: 409,
                    message,
                    ..
                } => ConvertError::Data(format!(
                    "the schema registry refused the new schema of subject {subject} as incompatible with its earlier versions \
                     (compatibility {}): {message}. Consumers of the older versions could not read it: make the change compatible \
                     (e.g. add columns as nullable or with a default), or change the subject's compatibility \
                     (PUT /config/{subject}), then restart the connector",
                    self.registry.compatibility(subject).unwrap_or_else(|| "unknown".into())
                )),
                other => other.into_convert(&format!("the schema of subject {subject}")),
            });
        }
        if self.cfg.use_latest {
            let (id, latest) = self
                .registry
                .latest(subject)
                .map_err(|e| e.into_convert(&format!("the latest version of subject {subject}")))?;
            let same = latest == text
                || matches!(
                    (apache_avro::Schema::parse_str(&latest), apache_avro::Schema::parse_str(text)),
                    (Ok(a), Ok(b)) if a.canonical_form() == b.canonical_form()
                );
            if same {
                return Ok(id);
            }
            return Err(ConvertError::Data(format!(
                "use.latest.version=true: the latest schema of subject {subject} (id {id}) is not the record's schema; \
                 sluice writes records with their own schema: register it, or set auto.register.schemas=true"
            )));
        }
        self.registry.lookup(subject, text).map_err(|e| {
            if e.is_not_found() {
                ConvertError::Data(format!(
                    "auto.register.schemas=false and the record's schema is not registered under subject {subject}: \
                     register it (POST /subjects/{subject}/versions) or set auto.register.schemas=true"
                ))
            } else {
                e.into_convert(&format!("the lookup in subject {subject}"))
            }
        })
    }

    fn writer(&mut self, id: u32) -> Result<Arc<WriterSchema>, ConvertError> {
        if let Some(w) = self.writers.get(&id) {
            return Ok(Arc::clone(w));
        }
        let text = self
            .registry
            .schema(id)
            .map_err(|e| e.into_convert(&format!("schema id {id}")))?;
        let avro = apache_avro::Schema::parse_str(&text).map_err(|e| {
            ConvertError::Data(format!("schema id {id} is not a valid Avro schema: {e}"))
        })?;
        let connect = schema::to_connect(&text, self.cfg.options)?;
        let w = Arc::new(WriterSchema { avro, connect });
        if self.writers.len() >= self.cfg.cache_size.max(1) {
            self.writers.clear();
        }
        self.writers.insert(id, Arc::clone(&w));
        Ok(w)
    }
}

impl Converter for AvroConverter {
    fn serialize(
        &mut self,
        topic: &str,
        data: Option<&Data>,
        out: &mut Vec<u8>,
    ) -> Result<bool, ConvertError> {
        let Some(d) = data else { return Ok(false) };
        if d.value.is_null() {
            return Ok(false);
        }
        let s = d.schema.as_ref().ok_or_else(|| {
            ConvertError::Data(
                "AvroConverter needs records with a schema; this one has none (schemaless data): use JsonConverter with schemas.enable=false for it".into(),
            )
        })?;
        let id = self.id_for(topic, s)?;
        out.push(0);
        out.extend_from_slice(&id.to_be_bytes());
        binary::encode(s, &d.value, out)?;
        Ok(true)
    }

    fn deserialize(
        &mut self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<Option<Data>, ConvertError> {
        let Some(b) = bytes else { return Ok(None) };
        let (id, datum) = binary::split_frame(b)?;
        let w = self.writer(id)?;
        let value = binary::decode(&w.avro, &w.connect, id, datum)?;
        Ok(Some(Data::new(Arc::clone(&w.connect), value)))
    }
}
