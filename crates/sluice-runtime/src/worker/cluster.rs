//! Where a worker's changes are recorded.
//!
//! * [`Standalone`]: in memory — every change is applied to the worker at once.
//! * [`Distributed`]: in Kafka Connect's topics, read back by every worker of the group —
//!   `config.storage.topic` (`connector-<name>` → `{"properties": {…}}`, a null value when
//!   deleted; `target-state-<name>` → `{"state": "STARTED|PAUSED|STOPPED"}`;
//!   `restart-connector-<name>` → `{"include-tasks": …, "only-failed": …}`; `task-<name>-0`
//!   and `commit-<name>` as Connect writes them) and `status.storage.topic`
//!   (`status-connector-<name>` / `status-task-<name>-0` → `{"state", "trace", "worker_id",
//!   "generation"}`). Which worker runs which connector is decided by Kafka's group membership:
//!   every worker joins consumer group `group.id` on a small slots topic
//!   (`<config.storage.topic>-sluice-slots`); a connector belongs to slot
//!   `fnv1a(name) mod slots`, and the worker holding that partition runs it. When a worker
//!   dies, the group coordinator gives its partitions to the others (after
//!   `session.timeout.ms`), which start its connectors from their committed offsets.

use std::sync::{Arc, Weak};

use async_trait::async_trait;

use super::{Change, ConfigLog, Worker};

/// Standalone mode: changes apply directly.
pub struct Standalone {
    pub worker: Weak<Worker>,
}

#[async_trait]
impl ConfigLog for Standalone {
    async fn record(&self, change: Change) -> Result<(), String> {
        match self.worker.upgrade() {
            Some(w) => {
                w.apply(change);
                Ok(())
            }
            None => Err("the worker stopped".into()),
        }
    }
}

/// Installs the standalone log on `worker`.
pub fn standalone(worker: &Arc<Worker>) {
    worker.set_log(Arc::new(Standalone {
        worker: Arc::downgrade(worker),
    }));
}

/// Slots connectors are spread over (partitions of the slots topic).
const SLOTS: i32 = 12;

/// The slot of a connector: FNV-1a of its name.
pub fn slot_of(name: &str) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (h % SLOTS as u32) as i32
}

/// Distributed mode: Connect's config and status topics, and the slots group.
pub struct Distributed {
    producer: Arc<sluice_kafka::KafkaProducer>,
    config_topic: String,
    status_topic: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    slots: Arc<rdkafka::consumer::StreamConsumer<SlotsContext>>,
}

fn key_value(change: &Change) -> (String, bool, Option<serde_json::Value>) {
    use serde_json::json;
    match change {
        Change::Config { name, props } => (
            format!("connector-{name}"),
            false,
            props.as_ref().map(|p| json!({"properties": p})),
        ),
        Change::Target { name, state } => (
            format!("target-state-{name}"),
            false,
            Some(
                json!({"state": if *state == super::TargetState::Stopped { "PAUSED" } else { state.name() }, "state.v2": state.name()}),
            ),
        ),
        Change::Restart { name, only_failed } => (
            format!("restart-connector-{name}"),
            false,
            Some(json!({"include-tasks": true, "only-failed": only_failed})),
        ),
        Change::Status { name, status } => (
            format!("status-connector-{name}"),
            true,
            status.as_ref().map(super::Status::to_json),
        ),
    }
}

/// A record of the config or status topic as a change (`None`: a record sluice does not use).
fn parse(key: &str, value: Option<&[u8]>) -> Option<Change> {
    let v: Option<serde_json::Value> = value.and_then(|b| serde_json::from_slice(b).ok());
    if let Some(name) = key.strip_prefix("connector-") {
        let props = match v {
            None => None,
            Some(v) => Some(
                v["properties"]
                    .as_object()?
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str().map_or_else(|| v.to_string(), str::to_string),
                        )
                    })
                    .collect(),
            ),
        };
        return Some(Change::Config {
            name: name.to_string(),
            props,
        });
    }
    if let Some(name) = key.strip_prefix("target-state-") {
        let v = v?;
        let s = v["state.v2"].as_str().or(v["state"].as_str())?;
        return Some(Change::Target {
            name: name.to_string(),
            state: super::TargetState::parse(s)?,
        });
    }
    if let Some(name) = key.strip_prefix("restart-connector-") {
        let only_failed = v
            .as_ref()
            .and_then(|v| v["only-failed"].as_bool())
            .unwrap_or(false);
        return Some(Change::Restart {
            name: name.to_string(),
            only_failed,
        });
    }
    if let Some(name) = key.strip_prefix("status-connector-") {
        return Some(Change::Status {
            name: name.to_string(),
            status: v.as_ref().and_then(super::Status::from_json),
        });
    }
    None
}

#[async_trait]
impl ConfigLog for Distributed {
    async fn record(&self, change: Change) -> Result<(), String> {
        let (key, status, value) = key_value(&change);
        let topic = if status {
            &self.status_topic
        } else {
            &self.config_topic
        };
        let bytes = value.as_ref().map(|v| v.to_string().into_bytes());
        self.producer
            .send(topic, Some(key.as_bytes()), bytes.as_deref(), &[])
            .map_err(|e| e.to_string())?;
        if let (
            Change::Config {
                name,
                props: Some(p),
            },
            false,
        ) = (&change, status)
        {
            // Connect's task config and commit records, for tools that read them
            let task = serde_json::json!({"properties": p}).to_string();
            let _ = self.producer.send(
                topic,
                Some(format!("task-{name}-0").as_bytes()),
                Some(task.as_bytes()),
                &[],
            );
            let _ = self.producer.send(
                topic,
                Some(format!("commit-{name}").as_bytes()),
                Some(br#"{"tasks":1}"#),
                &[],
            );
        }
        let producer = Arc::clone(&self.producer);
        tokio::task::spawn_blocking(move || producer.checkpoint())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }
}

/// Tracks the slots this worker holds and tells the worker which connectors it runs.
pub struct SlotsContext {
    worker: Weak<Worker>,
    held: std::sync::Mutex<std::collections::BTreeSet<i32>>,
}

impl SlotsContext {
    fn publish(&self) {
        let held = self.held.lock().map(|h| h.clone()).unwrap_or_default();
        if let Some(w) = self.worker.upgrade() {
            tracing::info!(worker = %w.id, slots = ?held, "connector slots held");
            w.set_owned(Arc::new(move |name: &str| held.contains(&slot_of(name))));
        }
    }
}

impl rdkafka::ClientContext for SlotsContext {}

impl rdkafka::consumer::ConsumerContext for SlotsContext {
    fn pre_rebalance(
        &self,
        _: &rdkafka::consumer::BaseConsumer<Self>,
        r: &rdkafka::consumer::Rebalance<'_>,
    ) {
        if let rdkafka::consumer::Rebalance::Revoke(tpl) = r {
            if let Ok(mut h) = self.held.lock() {
                for e in tpl.elements() {
                    h.remove(&e.partition());
                }
            }
            self.publish();
        }
    }

    fn post_rebalance(
        &self,
        _: &rdkafka::consumer::BaseConsumer<Self>,
        r: &rdkafka::consumer::Rebalance<'_>,
    ) {
        if let rdkafka::consumer::Rebalance::Assign(tpl) = r {
            if let Ok(mut h) = self.held.lock() {
                for e in tpl.elements() {
                    h.insert(e.partition());
                }
            }
            self.publish();
        }
    }
}

impl Distributed {
    /// Stops taking part: leaves the slots group (its connectors move to the other workers).
    pub async fn leave(self) {
        use rdkafka::consumer::Consumer;
        self.slots.unsubscribe();
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Joins the Connect cluster of `cfg.group_id`: creates the topics if needed, reads the config
/// and status topics into the worker (and keeps following them), installs the Kafka log, and
/// joins the slots group.
pub async fn distributed(
    worker: &Arc<Worker>,
    cfg: &super::WorkerConfig,
) -> Result<Distributed, String> {
    use rdkafka::consumer::Consumer;
    use sluice_kafka::{ensure_topic, KafkaConfig, KafkaProducer, TopicSpec};
    let kafka = KafkaConfig::from_properties("worker", &cfg.props, Some(&cfg.bootstrap))
        .map_err(|e| e.to_string())?;
    let compact = || -> std::collections::BTreeMap<String, String> {
        [("cleanup.policy".to_string(), "compact".to_string())].into()
    };
    let rf = |k: &str| cfg.props.get(k).and_then(|v| v.parse().ok()).unwrap_or(-1);
    for (name, partitions, rf) in [
        (
            &cfg.config_topic,
            1,
            rf("config.storage.replication.factor"),
        ),
        (
            &cfg.status_topic,
            5,
            rf("status.storage.replication.factor"),
        ),
        (
            &cfg.offset_topic,
            25,
            rf("offset.storage.replication.factor"),
        ),
    ] {
        ensure_topic(
            &kafka,
            &TopicSpec {
                name: name.clone(),
                partitions,
                replication_factor: rf,
                configs: compact(),
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    let slots_topic = format!("{}-sluice-slots", cfg.config_topic);
    ensure_topic(
        &kafka,
        &TopicSpec {
            name: slots_topic.clone(),
            partitions: SLOTS,
            replication_factor: rf("config.storage.replication.factor"),
            configs: compact(),
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    // read what the cluster knows so far, then keep following
    let mut loaded = 0;
    for topic in [&cfg.config_topic, &cfg.status_topic] {
        let records = tokio::task::block_in_place(|| sluice_kafka::read_topic(&kafka, topic))
            .map_err(|e| e.to_string())?;
        for r in records {
            let Some(key) = r.key.as_deref().and_then(|k| std::str::from_utf8(k).ok()) else {
                continue;
            };
            if let Some(change) = parse(key, r.payload.as_deref()) {
                worker.apply(change);
                loaded += 1;
            }
        }
    }
    tracing::info!(records = loaded, "Connect config and status topics read");
    let mut tasks = Vec::new();
    for topic in [cfg.config_topic.clone(), cfg.status_topic.clone()] {
        let mut c = rdkafka::ClientConfig::new();
        c.set("bootstrap.servers", &cfg.bootstrap)
            .set(
                "group.id",
                format!("{}-{}-tail", cfg.group_id, cfg.worker_id),
            )
            .set("enable.auto.commit", "false")
            .set("receive.message.max.bytes", "1000000000");
        let consumer: rdkafka::consumer::StreamConsumer = c.create().map_err(|e| e.to_string())?;
        let md = consumer
            .fetch_metadata(Some(&topic), std::time::Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        let mut tpl = rdkafka::TopicPartitionList::new();
        for t in md.topics() {
            for p in t.partitions() {
                let (_, high) = consumer
                    .fetch_watermarks(&topic, p.id(), std::time::Duration::from_secs(10))
                    .map_err(|e| e.to_string())?;
                tpl.add_partition_offset(&topic, p.id(), rdkafka::Offset::Offset(high))
                    .map_err(|e| e.to_string())?;
            }
        }
        consumer.assign(&tpl).map_err(|e| e.to_string())?;
        let w = Arc::downgrade(worker);
        tasks.push(tokio::spawn(async move {
            use rdkafka::Message;
            loop {
                match consumer.recv().await {
                    Ok(m) => {
                        let Some(w) = w.upgrade() else { return };
                        let Some(key) = m.key().and_then(|k| std::str::from_utf8(k).ok()) else {
                            continue;
                        };
                        if let Some(change) = parse(key, m.payload()) {
                            w.apply(change);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "reading the Connect state topics"),
                }
            }
        }));
    }
    let producer = KafkaProducer::plain(&kafka).map_err(|e| e.to_string())?;
    let log = Arc::new(Distributed {
        producer,
        config_topic: cfg.config_topic.clone(),
        status_topic: cfg.status_topic.clone(),
        tasks: Vec::new(),
        slots: Arc::new({
            let mut c = rdkafka::ClientConfig::new();
            c.set("bootstrap.servers", &cfg.bootstrap)
                .set("group.id", &cfg.group_id)
                .set("enable.auto.commit", "false")
                .set("session.timeout.ms", "10000")
                .set("heartbeat.interval.ms", "3000");
            c.create_with_context(SlotsContext {
                worker: Arc::downgrade(worker),
                held: Default::default(),
            })
            .map_err(|e| e.to_string())?
        }),
    });
    worker.set_log(Arc::clone(&log) as Arc<dyn ConfigLog>);
    log.slots
        .subscribe(&[&slots_topic])
        .map_err(|e| e.to_string())?;
    let slots = Arc::clone(&log.slots);
    tasks.push(tokio::spawn(async move {
        // membership lives on polling: the slots topic has no records, recv only keeps the
        // member alive and runs the rebalance callbacks
        loop {
            if let Err(e) = slots.recv().await {
                tracing::warn!(error = %e, "Connect group membership");
            }
        }
    }));
    Ok(Distributed {
        producer: Arc::clone(&log.producer),
        config_topic: log.config_topic.clone(),
        status_topic: log.status_topic.clone(),
        tasks,
        slots: Arc::clone(&log.slots),
    })
}
