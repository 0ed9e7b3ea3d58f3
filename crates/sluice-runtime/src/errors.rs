//! Kafka Connect's error handling for one connector: `errors.tolerance`, `errors.retry.*`,
//! `errors.log.*` and the dead letter queue (`errors.deadletterqueue.*`), for sink *and* source
//! connectors (Connect has a dead letter queue for sinks only).
//!
//! With `errors.tolerance=none` (the default) the first bad record stops the task with its
//! error. With `all` it is logged (`errors.log.enable`) and written to the dead letter queue,
//! and the pipeline goes on. The queue is a Kafka topic when the connector has Kafka settings
//! (`bootstrap.servers`), else a JSON-lines file `<data-dir>/dlq/<topic>.jsonl` (one
//! `{"key","value","headers"}` object per record, fsynced on flush). Records keep the bytes they
//! arrived with (sink connectors reading Kafka) or are serialized with `JsonConverter`; with
//! `errors.deadletterqueue.context.headers.enable=true` they carry Connect's
//! `__connect.errors.*` headers (topic, partition, offset, connector name, task id, stage,
//! class name, exception class, message, stack trace).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sluice_connect::{Converter, JsonConverter, JsonConverterConfig};
use sluice_core::{ChangeEvent, ErrantReporter, Failure, Position, RawRecord, SinkError};
use sluice_kafka::{KafkaConfig, KafkaProducer, TopicSpec};
use tracing::{error, warn};

/// The `errors.*` settings of a connector.
#[derive(Debug, Clone)]
pub struct ErrorPolicy {
    pub tolerate_all: bool,
    /// `errors.retry.timeout` (`None` = retry forever, zero = no retries).
    pub retry_timeout: Option<Duration>,
    pub retry_delay_max: Duration,
    pub log: bool,
    pub log_messages: bool,
    pub dlq_topic: Option<String>,
    pub dlq_replication_factor: i32,
    pub context_headers: bool,
}

fn bad(key: &str, v: &str, want: &str) -> String {
    format!("{key}={v:?} is not valid: {want}")
}

impl ErrorPolicy {
    pub fn from_properties(props: &BTreeMap<String, String>) -> Result<ErrorPolicy, String> {
        let get = |k: &str| props.get(k).map(|v| v.trim());
        let flag = |k: &str, default: bool| -> Result<bool, String> {
            match get(k).map(str::to_ascii_lowercase) {
                None => Ok(default),
                Some(v) if v == "true" => Ok(true),
                Some(v) if v == "false" => Ok(false),
                Some(v) => Err(bad(k, &v, "true or false")),
            }
        };
        let ms = |k: &str, default: i64| -> Result<i64, String> {
            match get(k) {
                None => Ok(default),
                Some(v) => v.parse().map_err(|_| bad(k, v, "a number of milliseconds")),
            }
        };
        let tolerate_all = match get("errors.tolerance").map(str::to_ascii_lowercase) {
            None => false,
            Some(v) if v == "none" => false,
            Some(v) if v == "all" => true,
            Some(v) => return Err(bad("errors.tolerance", &v, "none or all")),
        };
        let retry = ms("errors.retry.timeout", 0)?;
        Ok(ErrorPolicy {
            tolerate_all,
            retry_timeout: (retry >= 0).then(|| Duration::from_millis(retry as u64)),
            retry_delay_max: Duration::from_millis(
                ms("errors.retry.delay.max.ms", 60_000)?.max(1) as u64
            ),
            log: flag("errors.log.enable", false)?,
            log_messages: flag("errors.log.include.messages", false)?,
            dlq_topic: get("errors.deadletterqueue.topic.name")
                .filter(|t| !t.is_empty())
                .map(str::to_string),
            dlq_replication_factor: match get("errors.deadletterqueue.topic.replication.factor") {
                None => -1,
                Some(v) => v.parse().map_err(|_| {
                    bad(
                        "errors.deadletterqueue.topic.replication.factor",
                        v,
                        "a number",
                    )
                })?,
            },
            context_headers: flag("errors.deadletterqueue.context.headers.enable", false)?,
        })
    }

    /// How long to wait before retry `attempt` (1, 2, …) of a retryable failure: doubling from
    /// 300 ms up to `errors.retry.delay.max.ms`, or `None` once `errors.retry.timeout` is spent.
    pub fn retry_delay(&self, attempt: u32, spent: Duration) -> Option<Duration> {
        if self.retry_timeout.is_some_and(|t| spent >= t) {
            return None;
        }
        let d = Duration::from_millis(300u64.saturating_mul(1 << attempt.min(16)));
        Some(d.min(self.retry_delay_max))
    }
}

/// Properties the error handling reads (the runtime does not warn about them).
pub const ERROR_PROPERTIES: &[&str] = &[
    "errors.tolerance",
    "errors.retry.timeout",
    "errors.retry.delay.max.ms",
    "errors.log.enable",
    "errors.log.include.messages",
    "errors.deadletterqueue.topic.name",
    "errors.deadletterqueue.topic.replication.factor",
    "errors.deadletterqueue.context.headers.enable",
];

/// Where set-aside records go.
enum Dlq {
    Kafka {
        producer: Arc<KafkaProducer>,
        topic: String,
    },
    File {
        path: PathBuf,
        file: Option<std::fs::File>,
    },
}

/// One connector's [`ErrantReporter`].
pub struct ErrorHandler {
    connector: String,
    policy: ErrorPolicy,
    dlq: Option<Mutex<Dlq>>,
    /// JsonConverters with and without schemas.
    json: Mutex<(JsonConverter, JsonConverter)>,
    errors: AtomicU64,
    set_aside: AtomicU64,
}

impl ErrorHandler {
    /// `kafka`: the connector's Kafka settings, if it has any (the dead letter queue is then a
    /// topic); `data_dir`: where the file queue goes otherwise.
    pub async fn new(
        connector: &str,
        policy: ErrorPolicy,
        kafka: Option<&KafkaConfig>,
        data_dir: &Path,
    ) -> Result<Arc<ErrorHandler>, String> {
        let dlq = match (&policy.dlq_topic, kafka) {
            (None, _) => None,
            (Some(_), _) if !policy.tolerate_all => {
                warn!(connector, "errors.deadletterqueue.topic.name is set but errors.tolerance=none: the first bad record stops the task and nothing reaches the dead letter queue");
                None
            }
            (Some(topic), Some(k)) => {
                sluice_kafka::ensure_topic(
                    k,
                    &TopicSpec {
                        name: topic.clone(),
                        partitions: 1,
                        replication_factor: policy.dlq_replication_factor,
                        configs: BTreeMap::new(),
                    },
                )
                .await
                .map_err(|e| format!("dead letter queue topic {topic}: {e}"))?;
                Some(Dlq::Kafka {
                    producer: KafkaProducer::plain(k).map_err(|e| e.to_string())?,
                    topic: topic.clone(),
                })
            }
            (Some(topic), None) => Some(Dlq::File {
                path: data_dir.join("dlq").join(format!("{topic}.jsonl")),
                file: None,
            }),
        };
        let json = |schemas| {
            JsonConverter::new(JsonConverterConfig {
                schemas_enable: schemas,
                ..Default::default()
            })
        };
        Ok(Arc::new(ErrorHandler {
            connector: connector.to_string(),
            policy,
            dlq: dlq.map(Mutex::new),
            json: Mutex::new((json(true), json(false))),
            errors: AtomicU64::new(0),
            set_aside: AtomicU64::new(0),
        }))
    }

    pub fn policy(&self) -> &ErrorPolicy {
        &self.policy
    }

    /// Records that failed, and how many of them were set aside.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.errors.load(Ordering::Relaxed),
            self.set_aside.load(Ordering::Relaxed),
        )
    }

    fn context_headers(&self, record: &ChangeEvent, failure: &Failure) -> Vec<(String, Vec<u8>)> {
        let mut h: Vec<(String, Vec<u8>)> = Vec::new();
        let mut put =
            |k: &str, v: String| h.push((format!("__connect.errors.{k}"), v.into_bytes()));
        match &record.position {
            Position::Kafka(k) => {
                put("topic", k.topic.to_string());
                put("partition", k.partition.to_string());
                put("offset", k.offset.to_string());
            }
            _ => put("topic", record.topic.to_string()),
        }
        put("connector.name", self.connector.clone());
        put("task.id", "0".into());
        put("stage", failure.stage.name().into());
        put("class.name", failure.class.clone());
        put("exception.class.name", failure.exception.clone());
        put("exception.message", failure.message.clone());
        put(
            "exception.stacktrace",
            format!(
                "{}: {}\n\tat {} ({} stage)",
                failure.exception,
                failure.message,
                failure.class,
                failure.stage.name()
            ),
        );
        h
    }

    /// The record's key and value bytes: as they arrived, or through `JsonConverter`.
    fn bytes(&self, record: &ChangeEvent, raw: Option<&RawRecord>) -> RawRecord {
        if let Some(r) = raw {
            return r.clone();
        }
        // records with schemas as JsonConverter writes them with schemas.enable=true; schemaless
        // ones (a sink's refused row) as plain JSON
        let mut conv = self.json.lock().unwrap_or_else(|p| p.into_inner());
        let (with, without) = &mut *conv;
        let mut part = |d: Option<&sluice_core::Data>| {
            let mut out = Vec::new();
            let c = match d.and_then(|d| d.schema.as_ref()) {
                Some(_) => &mut *with,
                None => &mut *without,
            };
            c.serialize(&record.topic, d, &mut out)
                .unwrap_or(false)
                .then_some(out)
        };
        let key = part(record.key.as_ref());
        let value = part(record.value.as_ref());
        RawRecord {
            key,
            value,
            headers: record.headers.clone(),
        }
    }
}

impl ErrantReporter for ErrorHandler {
    fn report(
        &self,
        record: &ChangeEvent,
        raw: Option<&RawRecord>,
        failure: Failure,
    ) -> Result<(), SinkError> {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if self.policy.log || !self.policy.tolerate_all {
            let RawRecord { key, value, .. } = if self.policy.log_messages {
                self.bytes(record, raw)
            } else {
                RawRecord::default()
            };
            let text = |b: Option<Vec<u8>>| b.map(|b| String::from_utf8_lossy(&b).into_owned());
            error!(
                connector = %self.connector, topic = %record.topic, stage = failure.stage.name(),
                class = %failure.class, exception = %failure.exception, error = %failure.message,
                key = text(key).as_deref(), value = text(value).as_deref(),
                "error processing a record"
            );
        }
        if !self.policy.tolerate_all {
            return Err(SinkError::Rejected(format!(
                "{} failed in stage {} ({}): {}. Set errors.tolerance=all (and errors.deadletterqueue.topic.name) to set such records aside",
                failure.class, failure.stage.name(), failure.exception, failure.message
            )));
        }
        self.set_aside.fetch_add(1, Ordering::Relaxed);
        let Some(dlq) = &self.dlq else {
            return Ok(());
        };
        let RawRecord {
            key,
            value,
            mut headers,
        } = self.bytes(record, raw);
        if self.policy.context_headers {
            headers.extend(self.context_headers(record, &failure));
        }
        let mut dlq = dlq.lock().unwrap_or_else(|p| p.into_inner());
        match &mut *dlq {
            Dlq::Kafka { producer, topic } => producer
                .send(topic, key.as_deref(), value.as_deref(), &headers)
                .map_err(|e| SinkError::Unavailable(format!("dead letter queue: {e}"))),
            Dlq::File { path, file } => {
                if file.is_none() {
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir)?;
                    }
                    *file = Some(
                        std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&*path)?,
                    );
                }
                let text = |b: &Option<Vec<u8>>| {
                    b.as_ref()
                        .map(|b| match serde_json::from_slice::<serde_json::Value>(b) {
                            Ok(j) => j,
                            Err(_) => {
                                serde_json::Value::String(String::from_utf8_lossy(b).into_owned())
                            }
                        })
                };
                let line = serde_json::json!({
                    "topic": record.topic.as_ref(),
                    "key": text(&key),
                    "value": text(&value),
                    "headers": headers.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(String::from_utf8_lossy(v).into_owned()))).collect::<serde_json::Map<_, _>>(),
                });
                let f = file
                    .as_mut()
                    .ok_or_else(|| SinkError::Unavailable("dead letter file not open".into()))?;
                writeln!(f, "{line}")?;
                Ok(())
            }
        }
    }

    fn flush(&self) -> Result<(), SinkError> {
        let Some(dlq) = &self.dlq else {
            return Ok(());
        };
        let dlq = dlq.lock().unwrap_or_else(|p| p.into_inner());
        match &*dlq {
            Dlq::Kafka { producer, .. } => producer
                .checkpoint()
                .map_err(|e| SinkError::Unavailable(format!("dead letter queue: {e}"))),
            Dlq::File { file: Some(f), .. } => f.sync_data().map_err(SinkError::Io),
            Dlq::File { file: None, .. } => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use sluice_core::props::from_pairs as props;

    #[test]
    fn defaults_are_connects_and_mistakes_are_named() {
        let p = ErrorPolicy::from_properties(&props(&[])).unwrap();
        assert!(!p.tolerate_all && !p.log && p.dlq_topic.is_none());
        assert_eq!(p.retry_timeout, Some(Duration::ZERO));
        let p = ErrorPolicy::from_properties(&props(&[("errors.retry.timeout", "-1")])).unwrap();
        assert_eq!(p.retry_timeout, None);
        let e = ErrorPolicy::from_properties(&props(&[("errors.tolerance", "some")])).unwrap_err();
        assert!(
            e.contains("errors.tolerance") && e.contains("none or all"),
            "{e}"
        );
    }

    #[test]
    fn retries_back_off_until_the_timeout() {
        let p = ErrorPolicy::from_properties(&props(&[
            ("errors.retry.timeout", "5000"),
            ("errors.retry.delay.max.ms", "1000"),
        ]))
        .unwrap();
        assert_eq!(
            p.retry_delay(1, Duration::ZERO),
            Some(Duration::from_millis(600))
        );
        assert_eq!(
            p.retry_delay(5, Duration::ZERO),
            Some(Duration::from_millis(1000))
        );
        assert_eq!(p.retry_delay(2, Duration::from_secs(6)), None);
    }
}
